//! berthd: the berth daemon. It serves the Docker Engine API (v1.41) on
//! unix sockets and loopback TCP, over the berth engine.
//!
//! Lifecycle: parse flags and the configuration file, write the pid file,
//! open the engine (which reattaches to running containers), bind the
//! sockets, serve. SIGHUP reloads the configuration file; SIGTERM and
//! SIGINT stop accepting, let the engine shut down (containers are stopped
//! unless live restore is on), remove the sockets and the pid file.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

use berthd::config::{DaemonConfig, Flags};
use berthd::daemon::{self, Daemon};
use berthd::listen::{self, Host};
use berthd::{error, host, info, log, pidfile, server, tls, warn};

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
            _ = sighup.recv() => reload(&daemon),
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

/// SIGHUP: re-reads the configuration file with the original flags and
/// applies what can change at run time: debug and log level, labels, and
/// the live-restore and shutdown-timeout settings as `/info` reports them
/// (the engine keeps the values it started with). Settings that need a
/// restart are named in a warning; an invalid file keeps the running
/// configuration.
fn reload(daemon: &Arc<Daemon>) {
    let new = match DaemonConfig::load(&daemon.flags) {
        Ok(c) => c,
        Err(e) => {
            error!("Error reconfiguring the daemon: {e}");
            return;
        }
    };
    let old = daemon.config();
    let mut fixed = Vec::new();
    if new.data_root != old.data_root {
        fixed.push("data-root");
    }
    if new.exec_root != old.exec_root {
        fixed.push("exec-root");
    }
    if new.hosts != old.hosts {
        fixed.push("hosts");
    }
    if new.storage_driver != old.storage_driver {
        fixed.push("storage-driver");
    }
    if new.runtimes != old.runtimes || new.default_runtime != old.default_runtime {
        fixed.push("runtimes");
    }
    if new.log_driver != old.log_driver {
        fixed.push("log-driver");
    }
    if new.registry != old.registry {
        fixed.push("insecure-registries, registry-mirrors");
    }
    if new.max_concurrent_downloads != old.max_concurrent_downloads
        || new.max_concurrent_uploads != old.max_concurrent_uploads
    {
        fixed.push("max-concurrent-downloads, max-concurrent-uploads");
    }
    if !fixed.is_empty() {
        warn!(
            "Configuration reload: {} cannot change while the daemon runs; restart it to apply",
            fixed.join(", ")
        );
    }
    let mut applied = old;
    applied.debug = new.debug;
    applied.log_level = new.log_level;
    applied.labels = new.labels;
    applied.live_restore = new.live_restore;
    applied.shutdown_timeout = new.shutdown_timeout;
    log::set_level(applied.log_level);
    info!(
        "Reloaded configuration: debug={} log-level={} labels={:?} live-restore={} shutdown-timeout={}",
        applied.debug,
        applied.log_level.as_str(),
        applied.labels,
        applied.live_restore,
        applied.shutdown_timeout
    );
    // dockerd announces a reload as a daemon event with the new settings.
    let attrs = [
        ("debug", applied.debug.to_string()),
        (
            "labels",
            serde_json::to_string(&applied.labels).unwrap_or_default(),
        ),
        ("live-restore", applied.live_restore.to_string()),
        ("shutdown-timeout", applied.shutdown_timeout.to_string()),
        ("name", host::hostname()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    daemon
        .engine
        .events()
        .publish(berth_engine::events::Event::new(
            "daemon", "reload", &daemon.id, attrs,
        ));
    daemon.replace_config(applied);
}
