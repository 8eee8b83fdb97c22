//! A blocking client of one shim's request socket.
//!
//! Every call opens a fresh connection, writes one request line and reads
//! the answer line; the shim handles one request per connection. Calls wait
//! at most the client's timeout ([`DEFAULT_TIMEOUT`]) for the answer, except
//! [`ShimClient::wait`], which blocks until init has exited. Stream calls
//! ([`ShimClient::attach`], [`ShimClient::exec`]) return the connection with
//! no timeouts set, positioned at the first frame.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, recv};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::messages::Ack;
use crate::{ExecStarted, ExecState, ExitStatus, Request, SOCKET_FILE, ShimError, State};

/// How long a request waits for its answer by default. Runtime commands
/// (start with hooks, delete of a busy container) take the longest.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Answers longer than this are not shim answers.
const MAX_LINE: usize = 64 * 1024;

/// A client of the shim listening in one state dir.
#[derive(Debug, Clone)]
pub struct ShimClient {
    socket: PathBuf,
    timeout: Option<Duration>,
}

impl ShimClient {
    /// A client of the shim of `state_dir`, after checking that a shim
    /// accepts connections there ([`ShimError::is_shim_gone`] tells a dead
    /// shim from other failures).
    pub fn connect(state_dir: impl AsRef<Path>) -> Result<ShimClient, ShimError> {
        let socket = state_dir.as_ref().join(SOCKET_FILE);
        crate::sockpath::connect(&socket).map_err(|source| ShimError::Connect {
            path: socket.clone(),
            source,
        })?;
        Ok(ShimClient {
            socket,
            timeout: Some(DEFAULT_TIMEOUT),
        })
    }

    /// Sets how long requests wait for an answer (`None`: forever).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The shim's socket path.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// `runtime start`: the created container runs.
    pub fn start(&self) -> Result<(), ShimError> {
        self.simple(&Request::Start)
    }

    /// The container's status, pid and exit.
    pub fn state(&self) -> Result<State, ShimError> {
        self.call(&Request::State, self.timeout).map(|(s, _)| s)
    }

    /// Sends signal number `signal` to init, or to every process of the
    /// container with `all`.
    pub fn kill(&self, signal: i32, all: bool) -> Result<(), ShimError> {
        self.simple(&Request::Kill { signal, all })
    }

    /// Freezes the container.
    pub fn pause(&self) -> Result<(), ShimError> {
        self.simple(&Request::Pause)
    }

    /// Thaws the container.
    pub fn resume(&self) -> Result<(), ShimError> {
        self.simple(&Request::Resume)
    }

    /// `runtime update` with `resources`, which serializes to OCI
    /// `LinuxResources` JSON (for example `oci_spec::runtime::LinuxResources`).
    pub fn update(&self, resources: &impl Serialize) -> Result<(), ShimError> {
        let resources = serde_json::to_value(resources).map_err(|source| ShimError::Encode {
            op: "update",
            source,
        })?;
        self.simple(&Request::Update { resources })
    }

    /// Blocks until init has exited and returns how it ended.
    pub fn wait(&self) -> Result<ExitStatus, ShimError> {
        self.call(&Request::Wait, None).map(|(s, _)| s)
    }

    /// Sets init's terminal size.
    pub fn resize(&self, height: u16, width: u16) -> Result<(), ShimError> {
        self.simple(&Request::Resize { height, width })
    }

    /// Attaches to init: the returned connection carries frames of the
    /// requested output from now on, and bytes written to it go to init's
    /// stdin (when `stdin` and the shim holds one). Shutting down its write
    /// half closes init's stdin when the shim runs with `--stdin-once`. The
    /// shim closes it when init has exited and its output is flushed.
    pub fn attach(&self, stdin: bool, stdout: bool, stderr: bool) -> Result<UnixStream, ShimError> {
        let req = Request::Attach {
            stdin,
            stdout,
            stderr,
        };
        let (Ack {}, stream) = self.call(&req, self.timeout)?;
        self.clear_timeouts(&stream, "attach")?;
        Ok(stream)
    }

    /// Closes init's stdin.
    pub fn close_stdin(&self) -> Result<(), ShimError> {
        self.simple(&Request::CloseStdin)
    }

    /// Starts `process` (serializing to an OCI `Process`) in the container
    /// as exec `exec_id`; returns its pid and, unless `detach`, the stream:
    /// frames of its output, then one [`crate::Stream::Exit`] frame with an
    /// [`crate::ExecExit`]. Bytes written go to the process's stdin; shutting
    /// down the write half closes it.
    pub fn exec(
        &self,
        exec_id: &str,
        process: &impl Serialize,
        detach: bool,
    ) -> Result<(i32, Option<UnixStream>), ShimError> {
        let process = serde_json::to_value(process)
            .map_err(|source| ShimError::Encode { op: "exec", source })?;
        let req = Request::Exec {
            exec_id: exec_id.to_owned(),
            process,
            detach,
        };
        let (ExecStarted { pid }, stream) = self.call(&req, self.timeout)?;
        if detach {
            return Ok((pid, None));
        }
        self.clear_timeouts(&stream, "exec")?;
        Ok((pid, Some(stream)))
    }

    /// Whether exec `exec_id` runs, and its exit code once it exited.
    pub fn exec_state(&self, exec_id: &str) -> Result<ExecState, ShimError> {
        let req = Request::ExecState {
            exec_id: exec_id.to_owned(),
        };
        self.call(&req, self.timeout).map(|(s, _)| s)
    }

    /// Sets the terminal size of exec `exec_id`.
    pub fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> Result<(), ShimError> {
        self.simple(&Request::ExecResize {
            exec_id: exec_id.to_owned(),
            height,
            width,
        })
    }

    /// `runtime delete` (forced while init runs). Returns once init's exit is
    /// recorded in `exit.json`; the shim then exits.
    pub fn delete(&self) -> Result<(), ShimError> {
        self.simple(&Request::Delete)
    }

    fn simple(&self, req: &Request) -> Result<(), ShimError> {
        let (Ack {}, _) = self.call(req, self.timeout)?;
        Ok(())
    }

    /// Sends `req` on a new connection and reads the answer, leaving any
    /// bytes after the answer line unread in the returned stream.
    fn call<T: DeserializeOwned>(
        &self,
        req: &Request,
        timeout: Option<Duration>,
    ) -> Result<(T, UnixStream), ShimError> {
        let op = req.op();
        let mut stream =
            crate::sockpath::connect(&self.socket).map_err(|source| ShimError::Connect {
                path: self.socket.clone(),
                source,
            })?;
        let send_err = |source| ShimError::Send {
            op,
            path: self.socket.clone(),
            source,
        };
        stream.set_write_timeout(timeout).map_err(send_err)?;
        stream
            .set_read_timeout(timeout)
            .map_err(|source| ShimError::Receive {
                op,
                path: self.socket.clone(),
                source,
            })?;
        let mut line =
            serde_json::to_vec(req).map_err(|source| ShimError::Encode { op, source })?;
        line.push(b'\n');
        stream.write_all(&line).map_err(send_err)?;
        let answer = self.read_line(&mut stream, op)?;
        let body = crate::decode_response(op, &answer)?;
        Ok((body, stream))
    }

    /// Reads exactly one line: peeks for the newline and consumes only up
    /// to it, because frames may follow in the same segment (recv(2)
    /// MSG_PEEK).
    fn read_line(&self, stream: &mut UnixStream, op: &'static str) -> Result<Vec<u8>, ShimError> {
        let recv_err = |source| ShimError::Receive {
            op,
            path: self.socket.clone(),
            source,
        };
        let mut line = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = match recv(stream.as_raw_fd(), &mut buf, MsgFlags::MSG_PEEK) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(recv_err(std::io::Error::from(e))),
            };
            if n == 0 {
                return Err(ShimError::NoResponse {
                    op,
                    path: self.socket.clone(),
                });
            }
            let newline = buf[..n].iter().position(|&b| b == b'\n');
            let take = newline.map_or(n, |pos| pos + 1);
            stream.read_exact(&mut buf[..take]).map_err(recv_err)?;
            line.extend_from_slice(&buf[..take]);
            if newline.is_some() {
                return Ok(line);
            }
            if line.len() > MAX_LINE {
                return Err(recv_err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "answer line too long",
                )));
            }
        }
    }

    fn clear_timeouts(&self, stream: &UnixStream, op: &'static str) -> Result<(), ShimError> {
        let err = |source| ShimError::Receive {
            op,
            path: self.socket.clone(),
            source,
        };
        stream.set_read_timeout(None).map_err(err)?;
        stream.set_write_timeout(None).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Stream, encode_frame, read_frame};
    use std::os::unix::net::UnixListener;

    /// A one-connection fake shim answering `answer` and then sending
    /// `after`, returning the request line it read.
    fn fake_shim(dir: &Path, answer: Vec<u8>, after: Vec<u8>) -> std::thread::JoinHandle<Vec<u8>> {
        let listener = UnixListener::bind(dir.join(SOCKET_FILE)).unwrap();
        std::thread::spawn(move || {
            // The probe of ShimClient::connect.
            drop(listener.accept().unwrap());
            let (mut conn, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut byte = [0u8];
            while byte[0] != b'\n' {
                conn.read_exact(&mut byte).unwrap();
                req.push(byte[0]);
            }
            // Answer and frames in one write, as the shim may.
            let mut out = answer;
            out.extend_from_slice(&after);
            conn.write_all(&out).unwrap();
            req
        })
    }

    #[test]
    fn stream_after_answer_is_not_swallowed() {
        let dir = tempfile::tempdir().unwrap();
        let mut frames = Vec::new();
        encode_frame(Stream::Stdout, b"out", &mut frames);
        let shim = fake_shim(dir.path(), b"{\"ok\":true}\n".to_vec(), frames);
        let client = ShimClient::connect(dir.path()).unwrap();
        let mut stream = client.attach(false, true, false).unwrap();
        let f = read_frame(&mut stream).unwrap().unwrap();
        assert_eq!((f.stream, &f.payload[..]), (Stream::Stdout, &b"out"[..]));
        assert!(read_frame(&mut stream).unwrap().is_none());
        let req: serde_json::Value = serde_json::from_slice(&shim.join().unwrap()).unwrap();
        assert_eq!(
            req,
            serde_json::json!({"op": "attach", "stdin": false, "stdout": true, "stderr": false})
        );
    }

    #[test]
    fn remote_error_and_missing_shim() {
        let dir = tempfile::tempdir().unwrap();
        let err = ShimClient::connect(dir.path()).unwrap_err();
        assert!(err.is_shim_gone(), "{err}");
        let shim = fake_shim(dir.path(), crate::encode_err("no terminal"), Vec::new());
        let client = ShimClient::connect(dir.path()).unwrap();
        let err = client.resize(24, 80).unwrap_err();
        assert_eq!(err.to_string(), "shim resize: no terminal");
        shim.join().unwrap();
    }

    #[test]
    fn silent_shim_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join(SOCKET_FILE)).unwrap();
        let client = ShimClient::connect(dir.path())
            .unwrap()
            .with_timeout(Some(Duration::from_millis(100)));
        let err = client.state().unwrap_err();
        assert!(matches!(err, ShimError::Receive { .. }), "{err}");
        drop(listener);
    }
}
