//! Receiving a pty master over a console socket, and sizing it.
//!
//! For a `terminal: true` process the runtime connects to the socket given
//! as `--console-socket` and sends one message whose SCM_RIGHTS control
//! data carries the pty master (unix(7), cmsg(3)). The kernel queues both
//! the connection and the message, so the shim binds the socket before the
//! runtime command and receives after it returned.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("bind console socket {path}: {source}")]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("runtime sent no pty master on console socket {path} within {seconds}s")]
    Timeout { path: PathBuf, seconds: u64 },
    #[error("accept on console socket {path}: {source}")]
    Accept {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("receive pty master on console socket {path}: {source}")]
    Receive {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("message on console socket {path} carried no fd")]
    NoFd { path: PathBuf },
}

/// A bound console socket; the socket file is removed on drop.
pub struct ConsoleSocket {
    path: PathBuf,
    /// What the runtime is told to connect to (short enough for sun_path).
    reachable: berth_shim_proto::sockpath::SocketPath,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// Binds `path`, replacing a stale socket file.
    pub fn bind(path: PathBuf) -> Result<ConsoleSocket, ConsoleError> {
        let _ = std::fs::remove_file(&path);
        let bind_err = |source| ConsoleError::Bind {
            path: path.clone(),
            source,
        };
        let reachable = berth_shim_proto::sockpath::SocketPath::new(&path).map_err(bind_err)?;
        let listener = UnixListener::bind(reachable.as_path()).map_err(bind_err)?;
        Ok(ConsoleSocket {
            path,
            reachable,
            listener,
        })
    }

    /// The path to give the runtime's `--console-socket`.
    pub fn path(&self) -> &Path {
        self.reachable.for_others()
    }

    /// Accepts the runtime's connection and receives the pty master.
    pub fn receive(&self, timeout: Duration) -> Result<OwnedFd, ConsoleError> {
        let deadline = Instant::now() + timeout;
        let timed_out = || ConsoleError::Timeout {
            path: self.path.clone(),
            seconds: timeout.as_secs(),
        };
        if !wait_readable(self.listener.as_fd(), deadline) {
            return Err(timed_out());
        }
        let (stream, _) = self
            .listener
            .accept()
            .map_err(|source| ConsoleError::Accept {
                path: self.path.clone(),
                source,
            })?;
        if !wait_readable(stream.as_fd(), deadline) {
            return Err(timed_out());
        }
        // The payload is the pty's name (under 4096 bytes); only the fd
        // matters here.
        let mut name = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let raw: Vec<RawFd> = loop {
            match recvmsg::<()>(
                stream.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    let mut fds = Vec::new();
                    for c in msg.cmsgs().map_err(|source| ConsoleError::Receive {
                        path: self.path.clone(),
                        source,
                    })? {
                        if let ControlMessageOwned::ScmRights(got) = c {
                            fds.extend(got);
                        }
                    }
                    break fds;
                }
                Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(ConsoleError::Receive {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        };
        let mut owned = raw.into_iter().map(|fd| {
            // SAFETY: SCM_RIGHTS installed these fds in this process during
            // the recvmsg above; nothing else refers to them, so each gets
            // exactly one owner (extra ones are closed on drop).
            unsafe { OwnedFd::from_raw_fd(fd) }
        });
        owned.next().ok_or_else(|| ConsoleError::NoFd {
            path: self.path.clone(),
        })
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sets the window size of the terminal `fd` (TIOCSWINSZ, ioctl_tty(2));
/// the kernel sends SIGWINCH to the terminal's foreground process group.
pub fn set_winsize(fd: BorrowedFd<'_>, height: u16, width: u16) -> nix::Result<()> {
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `struct winsize` through the pointer,
    // which points at `ws`, alive for the whole call; `fd` is open.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    Errno::result(r).map(drop)
}

/// Waits until `fd` is readable; false at `deadline`.
fn wait_readable(fd: BorrowedFd<'_>, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}
