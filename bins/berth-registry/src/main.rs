//! berth-registry: an OCI distribution registry (the job of Docker's
//! registry:2) over berth's content store.
//!
//! `berth-registry [serve]` serves; `berth-registry garbage-collect`
//! removes blobs no manifest references (safe while serving).

mod auth;
mod body;
mod config;
mod errors;
mod gc;
mod handlers;
mod manifest;
mod names;
mod routes;
mod server;
mod storage;
mod uploads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::auth::htpasswd::Htpasswd;
use crate::auth::token::Tokens;
use crate::auth::{Auth, Mode, Policy};
use crate::config::{AuthMode, FileConfig};
use crate::handlers::App;
use crate::storage::Storage;
use crate::uploads::Uploads;

/// Messages on stderr, one line each.
pub mod log {
    use std::fmt::Arguments;

    fn line(level: &str, msg: Arguments<'_>) {
        eprintln!("{} {level} {msg}", jiff::Timestamp::now());
    }

    pub fn info(msg: Arguments<'_>) {
        line("info", msg);
    }

    pub fn error(msg: Arguments<'_>) {
        line("error", msg);
    }

    pub fn debug(msg: Arguments<'_>) {
        if std::env::var_os("BERTH_REGISTRY_DEBUG").is_some() {
            line("debug", msg);
        }
    }
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    fill_random(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn fill_random(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            // getrandom(2) fails only before the kernel's pool is
            // initialised (it blocks instead) or on EFAULT; neither can
            // happen with a valid buffer on a booted system.
            Err(e) => panic!("getrandom: {e}"),
        }
    }
}

/// A random (version 4) UUID, the form upload sessions are named by.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[derive(Parser, Debug)]
#[command(
    name = "berth-registry",
    version,
    about = "An OCI distribution registry"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// YAML configuration file; flags override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory [default: /var/lib/berth-registry].
    #[arg(long, global = true)]
    root: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the registry API (the default).
    Serve(ServeArgs),
    /// Remove blobs that no manifest references.
    GarbageCollect(GcArgs),
}

#[derive(Args, Debug, Default)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:5000].
    #[arg(long)]
    addr: Option<String>,
    /// Authentication: none, basic (htpasswd) or token (bearer tokens from
    /// this registry's /token endpoint).
    #[arg(long, value_enum)]
    auth: Option<AuthMode>,
    /// htpasswd file with bcrypt entries.
    #[arg(long)]
    htpasswd: Option<PathBuf>,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Token realm announced in challenges [default: <scheme>://<Host>/token].
    #[arg(long)]
    token_realm: Option<String>,
    /// Token service name [default: berth-registry].
    #[arg(long)]
    token_service: Option<String>,
    /// File with the token signing key [default: a random key per start].
    #[arg(long)]
    token_key_file: Option<PathBuf>,
    /// Token lifetime in seconds [default: 300].
    #[arg(long)]
    token_ttl: Option<u64>,
    /// Refuse deletes (405 UNSUPPORTED).
    #[arg(long)]
    disable_delete: bool,
}

#[derive(Args, Debug)]
struct GcArgs {
    /// Keep blobs committed or linked within this many minutes [default: 60].
    #[arg(long)]
    grace_minutes: Option<u64>,
    /// Remove unfinished uploads idle this many hours [default: 168].
    #[arg(long)]
    upload_max_age_hours: Option<u64>,
    /// Report what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("open storage: {0}")]
    Storage(#[from] storage::StorageError),
    #[error(transparent)]
    Htpasswd(#[from] auth::htpasswd::HtpasswdError),
    #[error("--auth {0} needs an htpasswd file (--htpasswd or auth.htpasswd)")]
    NeedHtpasswd(&'static str),
    #[error("read token key {path}: {source}")]
    TokenKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] server::TlsError),
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("start runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Gc(#[from] gc::GcError),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-registry: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), MainError> {
    let file = match &cli.common.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let root = cli
        .common
        .root
        .clone()
        .or(file.root.clone())
        .unwrap_or_else(|| PathBuf::from("/var/lib/berth-registry"));
    match cli.command {
        Some(Command::GarbageCollect(args)) => garbage_collect(&root, &file, &args),
        Some(Command::Serve(args)) => serve(root, file, args),
        None => serve(root, file, ServeArgs::default()),
    }
}

fn garbage_collect(
    root: &std::path::Path,
    file: &FileConfig,
    args: &GcArgs,
) -> Result<(), MainError> {
    let storage = Storage::open(root)?;
    let opts = gc::GcOptions {
        grace: Duration::from_secs(60 * args.grace_minutes.or(file.gc.grace_minutes).unwrap_or(60)),
        upload_max_age: Duration::from_secs(
            3600 * args
                .upload_max_age_hours
                .or(file.gc.upload_max_age_hours)
                .unwrap_or(168),
        ),
        dry_run: args.dry_run,
    };
    let report = gc::collect(&storage, &opts)?;
    let verb = if opts.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for d in &report.removed_blobs {
        println!("{verb} blob {d}");
    }
    for u in &report.removed_uploads {
        println!("{verb} upload {u}");
    }
    for d in &report.unreadable_manifests {
        eprintln!("berth-registry: manifest {d} could not be read; kept its repository's blobs");
    }
    println!(
        "{} blobs referenced, {} blobs and {} uploads {verb}, {} bytes",
        report.marked.len(),
        report.removed_blobs.len(),
        report.removed_uploads.len(),
        report.reclaimed_bytes
    );
    Ok(())
}

fn build_auth(file: &FileConfig, args: &ServeArgs) -> Result<Auth, MainError> {
    let mode = args.auth.or(file.auth.mode).unwrap_or_default();
    let htpasswd_path = args.htpasswd.clone().or(file.auth.htpasswd.clone());
    let users = match &htpasswd_path {
        Some(p) => Some(Arc::new(Htpasswd::load(p)?)),
        None => None,
    };
    let mode = match mode {
        AuthMode::None => Mode::None,
        AuthMode::Basic => Mode::Basic {
            users: users.ok_or(MainError::NeedHtpasswd("basic"))?,
        },
        AuthMode::Token => {
            let t = &file.auth.token;
            let key = match args.token_key_file.clone().or(t.key_file.clone()) {
                Some(p) => {
                    std::fs::read(&p).map_err(|source| MainError::TokenKey { path: p, source })?
                }
                None => {
                    let mut k = vec![0u8; 32];
                    fill_random(&mut k);
                    k
                }
            };
            let service = args
                .token_service
                .clone()
                .or(t.service.clone())
                .unwrap_or_else(|| "berth-registry".into());
            let issuer = t.issuer.clone().unwrap_or_else(|| service.clone());
            let ttl = Duration::from_secs(args.token_ttl.or(t.ttl_secs).unwrap_or(300));
            Mode::Token {
                users,
                tokens: Tokens::new(key, issuer, service, ttl),
                realm: args.token_realm.clone().or(t.realm.clone()),
            }
        }
    };
    Ok(Auth {
        mode,
        policy: Policy {
            rules: file.auth.access.clone(),
        },
        basic_realm: file
            .auth
            .realm
            .clone()
            .unwrap_or_else(|| "berth-registry".into()),
    })
}

fn serve(root: PathBuf, file: FileConfig, args: ServeArgs) -> Result<(), MainError> {
    let storage = Storage::open(&root)?;
    let auth = build_auth(&file, &args)?;
    let addr = args
        .addr
        .clone()
        .or(file.addr.clone())
        .unwrap_or_else(|| "127.0.0.1:5000".into());
    let tls_files = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        _ => file.tls.as_ref().map(|t| (t.cert.clone(), t.key.clone())),
    };
    let tls = match &tls_files {
        Some((c, k)) => Some(server::tls_acceptor(c, k)?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(MainError::Runtime)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| MainError::Listen {
                addr: addr.clone(),
                source,
            })?;
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
        let app = Arc::new(App {
            uploads: Uploads::new(storage.clone()),
            storage,
            auth,
            delete_enabled: !args.disable_delete && file.delete_enabled.unwrap_or(true),
            tls: tls.is_some(),
            addr: local.clone(),
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        log::info(format_args!(
            "listening on {scheme}://{local}, data in {}",
            root.display()
        ));
        tokio::select! {
            _ = server::serve(listener, tls, app) => {}
            _ = shutdown_signal() => log::info(format_args!("stopping")),
        }
        Ok(())
    })
}

/// SIGINT or SIGTERM. Everything acknowledged is already on disk, so
/// stopping needs no flush; open uploads resume after a restart.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
