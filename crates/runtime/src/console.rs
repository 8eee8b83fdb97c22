//! The container's terminal, handed over as runc does it.
//!
//! When `process.terminal` is true the pty is allocated *inside* the container
//! (from its own devpts instance), the slave becomes the process's controlling
//! terminal and stdio, and the master is sent to whoever listens on the
//! `--console-socket`: one `sendmsg(2)` whose payload is the master's name and
//! whose `SCM_RIGHTS` control message carries the fd. The caller (a shim, or
//! containerd) then owns the terminal; the runtime keeps no copy.

use std::ffi::CString;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};
use rustix::pty::{OpenptFlags, openpt, ptsname, unlockpt};

/// Errors of terminal setup.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("connect to console socket {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{op}: {source}")]
    Pty {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("send pty master over console socket: {0}")]
    Send(#[source] io::Error),
    #[error("receive pty master from console socket: {0}")]
    Recv(#[source] io::Error),
    #[error("console socket message carried no file descriptor")]
    NoFd,
}

fn pty_err(op: &'static str) -> impl FnOnce(rustix::io::Errno) -> ConsoleError {
    move |e| ConsoleError::Pty {
        op,
        source: e.into(),
    }
}

/// Connects to the console socket (done by the runtime before forking, so
/// the path is resolved on the host, not inside the container).
pub fn connect(path: &Path) -> Result<OwnedFd, ConsoleError> {
    UnixStream::connect(path)
        .map(OwnedFd::from)
        .map_err(|source| ConsoleError::Connect {
            path: path.to_path_buf(),
            source,
        })
}

/// A pty made inside the container: the slave's path and fd.
pub struct Pty {
    pub slave_path: PathBuf,
    pub slave: OwnedFd,
}

/// Allocates a pty from the current `/dev/ptmx`, applies the size, sends the
/// master over `socket` and closes it here. Runs in the container process
/// after pivot_root, so `/dev/ptmx` is the container's devpts instance.
pub fn allocate_and_send(socket: OwnedFd, size: Option<(u16, u16)>) -> Result<Pty, ConsoleError> {
    let master =
        openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).map_err(pty_err("open /dev/ptmx"))?;
    unlockpt(&master).map_err(pty_err("unlock pty"))?;
    let name = ptsname(&master, Vec::new()).map_err(pty_err("get pty name"))?;
    let slave_path = PathBuf::from(name.to_string_lossy().into_owned());
    let slave = rustix::fs::open(
        &slave_path,
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(pty_err("open pty slave"))?;
    if let Some((rows, cols)) = size {
        let ws = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, ws).map_err(pty_err("set console size"))?;
    }
    send_fd(socket.as_fd(), b"/dev/ptmx", master.as_fd()).map_err(ConsoleError::Send)?;
    Ok(Pty { slave_path, slave })
}

/// Makes `slave` the controlling terminal and stdio of this process (which
/// must be a session leader, see setsid(2) and TIOCSCTTY in ioctl_tty(2)).
pub fn make_controlling(slave: &OwnedFd) -> Result<(), ConsoleError> {
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors of this process, which we
        // are replacing on purpose; `slave` stays valid for the call.
        let r = unsafe { libc::dup2(slave.as_raw_fd(), target) };
        if r < 0 {
            return Err(ConsoleError::Pty {
                op: "dup pty slave onto stdio",
                source: io::Error::last_os_error(),
            });
        }
    }
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal); fd 0 is the
    // slave just installed.
    let r = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    if r < 0 {
        return Err(ConsoleError::Pty {
            op: "set controlling terminal",
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Sends `fd` with `payload` over a connected unix socket.
pub fn send_fd(socket: BorrowedFd<'_>, payload: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = SendAncillaryBuffer::new(&mut space);
    cmsg.push(SendAncillaryMessage::ScmRights(&fds));
    sendmsg(
        socket,
        &[IoSlice::new(payload)],
        &mut cmsg,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// Receives one fd (and its payload) from a unix socket: the other side of
/// [`send_fd`], used by `run` and `exec` when they hold the terminal themselves.
pub fn recv_fd(socket: BorrowedFd<'_>) -> Result<(OwnedFd, Vec<u8>), ConsoleError> {
    let mut buf = vec![0u8; 4096];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let r = recvmsg(socket, &mut iov, &mut cmsg, RecvFlags::CMSG_CLOEXEC)
        .map_err(|e| ConsoleError::Recv(e.into()))?;
    let n = r.bytes;
    let mut got = None;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            got = fds.next();
        }
    }
    let fd = got.ok_or(ConsoleError::NoFd)?;
    buf.truncate(n);
    Ok((fd, buf))
}

/// The C string of a path, for ffi.
pub fn cstr(p: &Path) -> CString {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}
