//! Messages between berthd and berth-shim, and a small blocking client.
//!
//! Vocabulary:
//! - the *shim* is one `berth-shim` process per container: the container's
//!   parent and subreaper, holder of its stdio, writer of its log. It runs
//!   the OCI runtime binary (berth-runc, runc...) for every lifecycle step.
//! - the *state dir* is the container's directory under the exec root; the
//!   shim keeps [`SOCKET_FILE`], [`EXIT_FILE`], [`PID_FILE`],
//!   [`RUNTIME_LOG_FILE`] and [`CONSOLE_SOCKET_FILE`] there.
//! - *init* is the container's first process; an *exec* is a further process
//!   started in it, named by the caller's exec id.
//!
//! Lifecycle: [`spawn_shim`] runs the shim binary, which daemonizes, runs
//! `runtime create` and reports readiness ([`ShimReady`]) or the runtime's
//! error. From then on the shim serves requests on `<state-dir>/shim.sock`,
//! one request per connection ([`Request`]; each answer is one JSON line
//! `{"ok":true,...}` or `{"ok":false,"error":"..."}`). `attach` and a
//! non-detached `exec` turn their connection into a stream of [`frame`]s.
//! When init exits the shim writes `exit.json` ([`ExitStatus`]) and answers
//! waits; it keeps serving until `delete`, after which it exits. The daemon
//! holds no connection to the shim between requests, so a restarted daemon
//! finds the shim again with [`ShimClient::connect`], and reads
//! [`read_exit_file`] when the shim is gone.
//!
//! ```no_run
//! use std::io::Write;
//! use berth_shim_proto::{frame, spawn_shim, LogConfig, ShimClient, ShimSpawn};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ready = spawn_shim(&ShimSpawn {
//!     shim_binary: "/usr/libexec/berth/berth-shim".into(),
//!     id: "c1".into(),
//!     bundle: "/run/berth/containers/c1".into(),
//!     state_dir: "/run/berth/containers/c1".into(),
//!     runtime: "/usr/bin/berth-runc".into(),
//!     runtime_args: vec![],
//!     runtime_root: "/run/berth/runtime".into(),
//!     log: Some(LogConfig {
//!         path: "/var/lib/berth/containers/c1/c1-json.log".into(),
//!         max_size: 10 << 20,
//!         max_file: 3,
//!     }),
//!     terminal: false,
//!     stdin: true,
//!     stdin_once: true,
//! })?;
//! println!("shim {} holds container init {}", ready.shim_pid, ready.pid);
//!
//! let shim = ShimClient::connect("/run/berth/containers/c1")?;
//! // Attach before start so no output is missed (the log has it anyway).
//! let mut stream = shim.attach(true, true, true)?;
//! shim.start()?;
//! stream.write_all(b"hello\n")?;
//! stream.shutdown(std::net::Shutdown::Write)?; // --stdin-once: closes the container's stdin
//! while let Some(f) = frame::read_frame(&mut stream)? {
//!     print!("{:?}: {}", f.stream, String::from_utf8_lossy(&f.payload));
//! }
//! let exit = shim.wait()?; // blocks until init has exited
//! println!("exit code {} (oom killed: {})", exit.exit_code, exit.oom_killed);
//! shim.delete()?; // runtime delete; the shim exits
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod frame;
pub mod messages;
pub mod sockpath;
pub mod spawn;

pub use client::ShimClient;
pub use frame::{Frame, FrameError, Stream};
pub use messages::{
    Ack, ExecExit, ExecStarted, ExecState, ExitStatus, Request, State, Status, decode_response,
    encode_err, encode_ok, read_exit_file,
};
pub use spawn::{LogConfig, ShimReady, ShimSpawn, spawn_shim};

use std::path::PathBuf;

/// The shim's request socket in the state dir.
pub const SOCKET_FILE: &str = "shim.sock";
/// Where the shim records init's exit ([`ExitStatus`]), written atomically.
pub const EXIT_FILE: &str = "exit.json";
/// The `--pid-file` the shim gives `runtime create`.
pub const PID_FILE: &str = "init.pid";
/// The runtime's `--log` (JSON lines; the last `"level":"error"` line is the
/// error a failed command reports).
pub const RUNTIME_LOG_FILE: &str = "runtime.log";
/// The `--console-socket` of `runtime create` for a terminal container.
pub const CONSOLE_SOCKET_FILE: &str = "console.sock";

/// What went wrong talking to, or starting, a shim.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("connect to shim at {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("send {op} request to shim at {path}: {source}")]
    Send {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("read {op} response from shim at {path}: {source}")]
    Receive {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("shim at {path} closed the connection without answering {op}")]
    NoResponse { op: &'static str, path: PathBuf },
    #[error("decode {op} response from shim: {source}")]
    Decode {
        op: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The shim answered `{"ok":false,"error":message}`; for runtime
    /// commands the message is the runtime's own error.
    #[error("shim {op}: {message}")]
    Remote { op: &'static str, message: String },
    #[error("encode {op} request: {source}")]
    Encode {
        op: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("run shim {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("read readiness of shim {binary}: {source}")]
    Readiness {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("shim {binary} did not report readiness within {seconds}s")]
    ReadinessTimeout { binary: PathBuf, seconds: u64 },
    #[error("shim {binary} exited ({status}) without reporting readiness: {stderr}")]
    NoReadiness {
        binary: PathBuf,
        status: std::process::ExitStatus,
        stderr: String,
    },
    /// The shim could not create the container; the message is the
    /// runtime's last error line (or the shim's own failure).
    #[error("create container {id}: {message}")]
    CreateFailed { id: String, message: String },
    #[error("read {path}: {source}")]
    ReadExitFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("decode {path}: {source}")]
    DecodeExitFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl ShimError {
    /// True when no shim listens on the socket any more (the socket file is
    /// gone or refuses connections): the shim exited, and `exit.json` tells
    /// how the container ended.
    pub fn is_shim_gone(&self) -> bool {
        match self {
            ShimError::Connect { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ),
            ShimError::NoResponse { .. } => true,
            _ => false,
        }
    }
}
