//! The daemon's side of the shim protocol, on tokio.
//!
//! Every request is one connection to `<state-dir>/shim.sock`: one JSON
//! request line out, one JSON answer line back (the wire types are
//! `berth_shim_proto`'s). `attach` and a non-detached `exec` keep the
//! connection as a stream of frames; `wait` keeps it open until init has
//! exited. The daemon holds no other connection to a shim, which is what
//! lets a restarted daemon find its containers again.

use std::path::PathBuf;

use berth_shim_proto::{
    Ack, ExecStarted, ExecState, ExitStatus, Request, ShimError, State, decode_response,
};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// The longest answer line accepted (answers are small JSON objects).
const MAX_LINE: usize = 64 * 1024;

/// The room for a path in `sockaddr_un` (unix(7)), its final NUL
/// excluded.
const SUN_PATH_MAX: usize = 107;

/// Connects to the unix socket `path`. A path too long for a socket
/// address (a deep exec root) is reached through the socket's directory
/// opened O_PATH and named by `/proc/self/fd/N`, which is short.
async fn connect(path: &std::path::Path) -> std::io::Result<UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    if path.as_os_str().as_bytes().len() <= SUN_PATH_MAX {
        return UnixStream::connect(path).await;
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return UnixStream::connect(path).await;
    };
    let dirfd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let short = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&dirfd)
    ))
    .join(name);
    // `dirfd` stays open until the connection is made.
    let conn = UnixStream::connect(&short).await;
    drop(dirfd);
    conn
}

/// A shim, by its state dir.
#[derive(Debug, Clone)]
pub struct Shim {
    state_dir: PathBuf,
}

impl Shim {
    pub fn new(state_dir: impl Into<PathBuf>) -> Shim {
        Shim {
            state_dir: state_dir.into(),
        }
    }

    fn socket(&self) -> PathBuf {
        self.state_dir.join(berth_shim_proto::SOCKET_FILE)
    }

    /// Connects, sends `req`, reads the answer line; returns the answer's
    /// body and the connection (for streaming requests).
    async fn call<T: DeserializeOwned>(&self, req: &Request) -> Result<(T, UnixStream), ShimError> {
        let op = req.op();
        let path = self.socket();
        let mut conn = connect(&path).await.map_err(|source| ShimError::Connect {
            path: path.clone(),
            source,
        })?;
        let mut line =
            serde_json::to_vec(req).map_err(|source| ShimError::Encode { op, source })?;
        line.push(b'\n');
        conn.write_all(&line)
            .await
            .map_err(|source| ShimError::Send {
                op,
                path: path.clone(),
                source,
            })?;
        // Byte by byte: what follows the answer line on a streaming
        // connection are frames, which must stay in the socket for the
        // caller.
        let mut answer = Vec::with_capacity(64);
        loop {
            let mut b = [0u8; 1];
            let n = conn
                .read(&mut b)
                .await
                .map_err(|source| ShimError::Receive {
                    op,
                    path: path.clone(),
                    source,
                })?;
            if n == 0 {
                return Err(ShimError::NoResponse { op, path });
            }
            if b[0] == b'\n' {
                break;
            }
            if answer.len() >= MAX_LINE {
                return Err(ShimError::Receive {
                    op,
                    path,
                    source: std::io::Error::other("answer line too long"),
                });
            }
            answer.push(b[0]);
        }
        Ok((decode_response(op, &answer)?, conn))
    }

    async fn simple(&self, req: Request) -> Result<(), ShimError> {
        self.call::<Ack>(&req).await.map(|_| ())
    }

    pub async fn start(&self) -> Result<(), ShimError> {
        self.simple(Request::Start).await
    }

    pub async fn state(&self) -> Result<State, ShimError> {
        Ok(self.call(&Request::State).await?.0)
    }

    pub async fn kill(&self, signal: i32, all: bool) -> Result<(), ShimError> {
        self.simple(Request::Kill { signal, all }).await
    }

    pub async fn pause(&self) -> Result<(), ShimError> {
        self.simple(Request::Pause).await
    }

    pub async fn resume(&self) -> Result<(), ShimError> {
        self.simple(Request::Resume).await
    }

    pub async fn update(&self, resources: serde_json::Value) -> Result<(), ShimError> {
        self.simple(Request::Update { resources }).await
    }

    /// Resolves when init has exited (at once if it already has).
    pub async fn wait(&self) -> Result<ExitStatus, ShimError> {
        Ok(self.call(&Request::Wait).await?.0)
    }

    pub async fn resize(&self, height: u16, width: u16) -> Result<(), ShimError> {
        self.simple(Request::Resize { height, width }).await
    }

    /// The attach stream: frames from init's output from now on; bytes
    /// written go to its stdin.
    pub async fn attach(
        &self,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<UnixStream, ShimError> {
        let (Ack {}, conn) = self
            .call(&Request::Attach {
                stdin,
                stdout,
                stderr,
            })
            .await?;
        Ok(conn)
    }

    /// Starts an exec process; the stream unless `detach`.
    pub async fn exec(
        &self,
        exec_id: &str,
        process: serde_json::Value,
        detach: bool,
    ) -> Result<(i32, Option<UnixStream>), ShimError> {
        let (started, conn): (ExecStarted, _) = self
            .call(&Request::Exec {
                exec_id: exec_id.to_string(),
                process,
                detach,
            })
            .await?;
        Ok((started.pid, (!detach).then_some(conn)))
    }

    pub async fn exec_state(&self, exec_id: &str) -> Result<ExecState, ShimError> {
        Ok(self
            .call(&Request::ExecState {
                exec_id: exec_id.to_string(),
            })
            .await?
            .0)
    }

    pub async fn exec_resize(
        &self,
        exec_id: &str,
        height: u16,
        width: u16,
    ) -> Result<(), ShimError> {
        self.simple(Request::ExecResize {
            exec_id: exec_id.to_string(),
            height,
            width,
        })
        .await
    }

    /// `runtime delete`; the shim exits afterwards.
    pub async fn delete(&self) -> Result<(), ShimError> {
        self.simple(Request::Delete).await
    }

    /// The exit recorded by a shim that is gone.
    pub fn exit_file(&self) -> Result<Option<ExitStatus>, ShimError> {
        berth_shim_proto::read_exit_file(&self.state_dir)
    }
}
