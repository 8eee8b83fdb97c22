//! The receiving end of runc's `--console-socket` protocol.
//!
//! For a `terminal: true` process the runtime connects to the AF_UNIX stream
//! socket given by `--console-socket` and sends one message whose payload is
//! the pty master's name and whose SCM_RIGHTS control message carries the
//! master fd (unix(7), cmsg(3)). [`ConsoleSocket`] binds such a socket in a
//! temp dir; [`ConsoleSocket::receive`] accepts the runtime's connection and
//! returns the master as a [`Pty`] that the test reads and writes.

use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use tempfile::TempDir;

use crate::{HANG_GUARD, wait_readable};

/// A listening console socket, removed with its temp dir on drop.
pub struct ConsoleSocket {
    _dir: TempDir,
    path: PathBuf,
    listener: UnixListener,
}

impl Default for ConsoleSocket {
    fn default() -> Self {
        Self::bind()
    }
}

impl ConsoleSocket {
    /// Binds `console.sock` in a fresh temp dir.
    pub fn bind() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-console-")
            .tempdir()
            .unwrap_or_else(|e| panic!("create console temp dir: {e}"));
        let path = dir.path().join("console.sock");
        let listener =
            UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        ConsoleSocket {
            _dir: dir,
            path,
            listener,
        }
    }

    /// The socket path, for `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts one connection and receives the pty master from it.
    ///
    /// The runtime connects during `create`/`run`/`exec`; the kernel queues
    /// the connection and the message, so this may be called after the
    /// runtime command returned. Panics when nothing arrives within
    /// [`HANG_GUARD`] or the message carries no fd.
    pub fn receive(&self) -> Pty {
        let deadline = Instant::now() + HANG_GUARD;
        assert!(
            wait_readable(self.listener.as_fd(), deadline),
            "no connection on console socket {}",
            self.path.display()
        );
        let (stream, _) = self
            .listener
            .accept()
            .unwrap_or_else(|e| panic!("accept on {}: {e}", self.path.display()));
        assert!(
            wait_readable(stream.as_fd(), deadline),
            "no message on console socket {}",
            self.path.display()
        );
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let (bytes, fds) = loop {
            match recvmsg::<()>(
                stream.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    let mut fds = Vec::new();
                    for c in msg.cmsgs().expect("console message control data truncated") {
                        if let ControlMessageOwned::ScmRights(got) = c {
                            fds.extend(got);
                        }
                    }
                    break (msg.bytes, fds);
                }
                Err(Errno::EINTR) => continue,
                Err(e) => panic!("recvmsg on {}: {e}", self.path.display()),
            }
        };
        let mut owned: Vec<OwnedFd> = fds
            .into_iter()
            // SAFETY: SCM_RIGHTS installed these fds in this process just
            // now; nothing else refers to them, so each gets one owner.
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
            .collect();
        assert_eq!(owned.len(), 1, "console message must carry exactly one fd");
        let name = String::from_utf8_lossy(&buf[..bytes]).into_owned();
        Pty {
            master: owned.remove(0),
            name,
            seen: Vec::new(),
        }
    }
}

/// A pty master received from a runtime.
pub struct Pty {
    master: OwnedFd,
    name: String,
    seen: Vec<u8>,
}

impl Pty {
    /// The name the runtime sent with the fd.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The master fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }

    /// Writes `data` to the master (the container reads it as terminal
    /// input).
    pub fn write_all(&self, data: &[u8]) {
        let mut f = std::fs::File::from(self.master.try_clone().expect("dup pty master"));
        f.write_all(data).expect("write pty master");
    }

    /// Everything read from the master so far.
    pub fn seen(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Reads until the output so far contains `needle`, and returns all of it.
    /// Panics (showing what was read) at end of output or after
    /// [`HANG_GUARD`].
    pub fn read_until(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        while !self.seen().contains(needle) {
            let open = self.read_some(deadline);
            assert!(
                open || self.seen().contains(needle),
                "pty closed before {needle:?} appeared; read {:?}",
                self.seen()
            );
        }
        self.seen()
    }

    /// Reads until the slave side is closed by every process (the kernel
    /// then reports EIO on the master), and returns all output.
    pub fn read_to_end(&mut self) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        while self.read_some(deadline) {}
        self.seen()
    }

    /// One read; false at end of output.
    fn read_some(&mut self, deadline: Instant) -> bool {
        assert!(
            wait_readable(self.master.as_fd(), deadline),
            "pty output stalled; read so far {:?}",
            self.seen()
        );
        let mut f = std::fs::File::from(self.master.try_clone().expect("dup pty master"));
        let mut buf = [0u8; 4096];
        match f.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.seen.extend_from_slice(&buf[..n]);
                true
            }
            // A pty master reads EIO once no process holds the slave open.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
            Err(e) => panic!("read pty master: {e}"),
        }
    }
}
