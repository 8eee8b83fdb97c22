//! Foreground `run` and `exec`: wait for the container process, forward the
//! signals we receive to it, and (when we hold its terminal) copy bytes
//! between our stdio and the pty master.
//!
//! One poll loop over a signalfd, stdin and the master: the process is our
//! child (it was cloned with CLONE_PARENT), so SIGCHLD tells us it exited.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Signals a foreground runtime passes on to the container process, as runc does.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// Puts the terminal on `fd` in raw mode and restores it on drop.
struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: termios::Termios,
}

impl<'a> RawMode<'a> {
    fn enter(fd: BorrowedFd<'a>) -> Option<Self> {
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, termios::SetArg::TCSANOW, &self.saved);
    }
}

fn copy_winsize(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    if let Ok(ws) = rustix::termios::tcgetwinsize(from) {
        let _ = rustix::termios::tcsetwinsize(to, ws);
    }
}

/// Waits for `pid` and returns its exit code the way a shell reports it
/// (128 + signal for a killed process).
pub fn supervise(pid: i32, console: Option<OwnedFd>) -> std::io::Result<i32> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    for s in FORWARDED {
        mask.add(*s);
    }
    mask.thread_block()?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)?;
    let stdin = std::io::stdin();
    let _raw = console.as_ref().and_then(|_| RawMode::enter(stdin.as_fd()));
    if let Some(m) = &console {
        copy_winsize(stdin.as_fd(), m.as_fd());
    }
    let mut stdin_open = console.is_some();
    let mut buf = [0u8; 8192];
    let child = Pid::from_raw(pid);
    loop {
        // The child may have exited before the signal mask was in place.
        if let Some(code) = reap(child)? {
            if let Some(m) = &console {
                drain(m);
            }
            return Ok(code);
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &console {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, master_ready, stdin_ready) = (ready(0), ready(1), ready(2));
        drop(fds);
        if sig_ready {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                match sig {
                    Some(Signal::SIGCHLD) | None => {}
                    Some(Signal::SIGWINCH) => {
                        if let Some(m) = &console {
                            copy_winsize(stdin.as_fd(), m.as_fd());
                        }
                    }
                    Some(s) => {
                        let _ = nix::sys::signal::kill(child, s);
                    }
                }
            }
        }
        if let Some(m) = &console {
            if master_ready {
                match nix::unistd::read(m, &mut buf) {
                    Ok(0) | Err(_) => {}
                    Ok(n) => {
                        let mut out = std::io::stdout();
                        let _ = out.write_all(&buf[..n]);
                        let _ = out.flush();
                    }
                }
            }
            if stdin_ready {
                match std::io::stdin().read(&mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => {
                        let _ = nix::unistd::write(m, &buf[..n]);
                    }
                }
            }
        }
    }
}

/// What is left in the pty after the process exited.
fn drain(m: &OwnedFd) {
    let mut buf = [0u8; 8192];
    let _ = nix::fcntl::fcntl(
        m,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let mut out = std::io::stdout();
    while let Ok(n) = nix::unistd::read(m, &mut buf) {
        if n == 0 {
            break;
        }
        let _ = out.write_all(&buf[..n]);
    }
    let _ = out.flush();
}

fn reap(child: Pid) -> std::io::Result<Option<i32>> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == child => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == child => return Ok(Some(128 + sig as i32)),
            Ok(WaitStatus::StillAlive) => return Ok(None),
            // Another child of ours (a reparented grandchild): reap and go on.
            Ok(_) => continue,
            Err(nix::Error::ECHILD) => return Ok(Some(255)),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
