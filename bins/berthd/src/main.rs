//! berthd: the berth daemon. It serves the Docker Engine API (v1.41) on
//! unix sockets and loopback TCP, over the berth engine.
//!
//! Lifecycle: parse flags and the configuration file, write the pid file,
//! open the engine (which reattaches to running containers), bind the
//! sockets, serve. SIGHUP reloads the configuration file; SIGTERM and
//! SIGINT stop accepting, let the engine shut down (containers are stopped
//! unless live restore is on), remove the sockets and the pid file.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

use berthd::config::{DaemonConfig, Flags};
use berthd::daemon::{self, Daemon};
use berthd::listen::{self, Host};
use berthd::{error, info, log, pidfile, server, tls, warn};

/// How long open connections get to finish after the engine shut down.
const CONNECTION_GRACE: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let flags = Flags::parse();
    let cfg = match DaemonConfig::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berthd: {e}");
            return ExitCode::FAILURE;
        }
    };
    log::set_level(cfg.log_level);
    if !nix::unistd::geteuid().is_root() {
        eprintln!("berthd: berthd needs to be started with root privileges");
        return ExitCode::FAILURE;
    }
    // Before any thread exists: it edits the environment.
    let passed = if cfg.hosts.iter().any(|h| matches!(h, Host::Fd(_))) {
        listen::take_activation_fds()
    } else {
        Vec::new()
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("berthd")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berthd: start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(flags, cfg, passed)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            eprintln!("berthd: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Pidfile(#[from] pidfile::PidfileError),
    #[error("{0}")]
    Engine(#[source] berth_engine::OpenError),
    #[error(transparent)]
    Id(#[from] daemon::IdError),
    #[error(transparent)]
    Listen(#[from] listen::ListenError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("install signal handler: {0}")]
    Signal(#[source] std::io::Error),
}

async fn run(
    flags: Flags,
    cfg: DaemonConfig,
    passed: Vec<std::os::fd::RawFd>,
) -> Result<(), StartError> {
    info!("Starting up");
    let mut sigterm = signal(SignalKind::terminate()).map_err(StartError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(StartError::Signal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(StartError::Signal)?;

    let pid = pidfile::Pidfile::create(&cfg.pidfile)?;
    // Everything that can refuse the configuration is checked before the
    // engine opens: opening it sets up the host (bridge, firewall table), and a
    // refused start must leave the host as it was.
    let tls = cfg.tls.as_ref().map(tls::acceptor).transpose()?;
    let tcp_addrs = listen::resolve_all(&cfg.hosts, tls.is_some()).await?;
    let engine = berth_engine::Engine::new(cfg.engine_config())
        .await
        .map_err(StartError::Engine)?;
    let id = daemon::engine_id(&cfg.data_root)?;
    let listeners = match listen::bind_resolved(&cfg.hosts, tcp_addrs, passed).await {
        Ok(l) => l,
        Err(e) => {
            engine.shutdown().await;
            return Err(e.into());
        }
    };
    let addrs: Vec<String> = listeners.iter().map(|l| l.describe()).collect();
    let daemon = Daemon::new(engine.clone(), flags, cfg, id, addrs.clone());
    let encrypted = tls.is_some();
    let servers = server::start(listeners, daemon.clone(), tls);
    info!("Daemon has completed initialization");
    for a in &addrs {
        info!("API listen on {}", a.trim_start_matches("unix://"));
        if a.starts_with("tcp://") && !encrypted {
            warn!("API is accessible on {a} without encryption (loopback only).");
        }
    }

    loop {
        tokio::select! {
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sighup.recv() => berthd::reload::reload(&daemon),
        }
    }
    info!("Processing signal 'terminated'");
    // A second signal during shutdown means: stop now.
    let forced = async {
        tokio::select! {
            _ = sigterm.recv() => {},
            _ = sigint.recv() => {},
        }
    };
    servers.stop_accepting();
    let graceful = async {
        engine.shutdown().await;
        servers.drain(CONNECTION_GRACE).await;
    };
    tokio::select! {
        _ = graceful => info!("Daemon shutdown complete"),
        _ = forced => warn!("Forcing shutdown"),
    }
    drop(pid);
    Ok(())
}
