//! The stdio the shim holds for one container process (init or an exec).
//!
//! A process has either a pty master (output and input on one fd, resize)
//! or pipes: read ends of its stdout and stderr, and the write end of its
//! stdin when it has one. Every fd is non-blocking; the shim's loop polls
//! them. Input from clients is queued here (at most [`STDIN_MAX`] bytes, so
//! a process that does not read its stdin pushes back on the client) and
//! written when the fd is writable.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use berth_shim_proto::Stream;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};

/// Input bytes queued for a process at most.
pub const STDIN_MAX: usize = 64 * 1024;

/// Sets O_NONBLOCK on `fd` (fcntl(2) F_SETFL).
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
}

/// What one non-blocking read got.
pub enum ReadResult {
    Data(usize),
    /// Nothing now; poll again.
    Again,
    /// The output ended: end of file, or EIO from a pty master whose slave
    /// no process holds any more (pty(7)), or a read error.
    Closed,
}

pub fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> ReadResult {
    match nix::unistd::read(fd, buf) {
        Ok(0) => ReadResult::Closed,
        Ok(n) => ReadResult::Data(n),
        Err(Errno::EAGAIN | Errno::EINTR) => ReadResult::Again,
        Err(_) => ReadResult::Closed,
    }
}

/// Which output fd of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Tty,
    Stdout,
    Stderr,
}

impl Source {
    /// The frame stream its data goes out on: a terminal merges everything
    /// into stdout.
    pub fn stream(self) -> Stream {
        match self {
            Source::Tty | Source::Stdout => Stream::Stdout,
            Source::Stderr => Stream::Stderr,
        }
    }
}

/// One process's stdio.
#[derive(Default)]
pub struct ProcIo {
    tty: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// The pipe to the process's stdin (no terminal).
    stdin: Option<OwnedFd>,
    /// Input goes to the pty master (terminal with stdin).
    tty_input: bool,
    stdin_buf: Vec<u8>,
    /// Close stdin once the queued bytes are written.
    stdin_closing: bool,
}

impl ProcIo {
    /// Pipes; every fd is made non-blocking.
    pub fn pipes(
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
        stdin: Option<OwnedFd>,
    ) -> nix::Result<ProcIo> {
        for fd in [&stdout, &stderr, &stdin].into_iter().flatten() {
            set_nonblocking(fd.as_fd())?;
        }
        Ok(ProcIo {
            stdout,
            stderr,
            stdin,
            ..ProcIo::default()
        })
    }

    /// A pty master, taking input when `input`.
    pub fn tty(master: OwnedFd, input: bool) -> nix::Result<ProcIo> {
        set_nonblocking(master.as_fd())?;
        Ok(ProcIo {
            tty: Some(master),
            tty_input: input,
            ..ProcIo::default()
        })
    }

    /// The pty master, if the process has a terminal.
    pub fn tty_fd(&self) -> Option<BorrowedFd<'_>> {
        self.tty.as_ref().map(|f| f.as_fd())
    }

    /// The output fds still open.
    pub fn sources(&self) -> impl Iterator<Item = (Source, BorrowedFd<'_>)> {
        [
            (Source::Tty, &self.tty),
            (Source::Stdout, &self.stdout),
            (Source::Stderr, &self.stderr),
        ]
        .into_iter()
        .filter_map(|(s, fd)| fd.as_ref().map(|fd| (s, fd.as_fd())))
    }

    pub fn source_fd(&self, source: Source) -> Option<BorrowedFd<'_>> {
        match source {
            Source::Tty => self.tty.as_ref(),
            Source::Stdout => self.stdout.as_ref(),
            Source::Stderr => self.stderr.as_ref(),
        }
        .map(|f| f.as_fd())
    }

    /// Closes one output fd at its end. The pty master also carries input,
    /// which ends with it.
    pub fn close_source(&mut self, source: Source) {
        match source {
            Source::Tty => {
                self.tty = None;
                self.tty_input = false;
                self.stdin_buf = Vec::new();
            }
            Source::Stdout => self.stdout = None,
            Source::Stderr => self.stderr = None,
        }
    }

    /// Whether any output fd is still open.
    pub fn output_open(&self) -> bool {
        self.sources().next().is_some()
    }

    fn input_fd(&self) -> Option<BorrowedFd<'_>> {
        if self.tty_input {
            self.tty_fd()
        } else {
            self.stdin.as_ref().map(|f| f.as_fd())
        }
    }

    /// Whether the process takes input.
    pub fn stdin_open(&self) -> bool {
        self.input_fd().is_some() && !self.stdin_closing
    }

    /// How many more bytes [`ProcIo::queue_stdin`] takes now.
    pub fn stdin_room(&self) -> usize {
        STDIN_MAX.saturating_sub(self.stdin_buf.len())
    }

    /// The input fd when queued bytes wait for it to become writable.
    pub fn stdin_pending(&self) -> Option<BorrowedFd<'_>> {
        if self.stdin_buf.is_empty() {
            None
        } else {
            self.input_fd()
        }
    }

    /// Queues input and writes what the fd takes now. Input for a process
    /// whose stdin is closed is dropped.
    pub fn queue_stdin(&mut self, data: &[u8]) {
        if !self.stdin_open() {
            return;
        }
        self.stdin_buf.extend_from_slice(data);
        self.flush_stdin();
    }

    /// Writes queued input; a process that closed its stdin (EPIPE) or a
    /// broken terminal ends input for good.
    pub fn flush_stdin(&mut self) {
        let mut written = 0;
        let mut broken = false;
        if let Some(fd) = self.input_fd() {
            while written < self.stdin_buf.len() {
                match nix::unistd::write(fd, &self.stdin_buf[written..]) {
                    Ok(n) => written += n,
                    Err(Errno::EAGAIN) => break,
                    Err(Errno::EINTR) => continue,
                    Err(_) => {
                        broken = true;
                        break;
                    }
                }
            }
        } else {
            broken = true;
        }
        self.stdin_buf.drain(..written);
        if broken {
            self.stdin_buf = Vec::new();
            self.end_input();
        } else if self.stdin_buf.is_empty() {
            if self.stdin_buf.capacity() > STDIN_MAX {
                self.stdin_buf = Vec::new();
            }
            if self.stdin_closing {
                self.end_input();
            }
        }
    }

    /// Closes the process's stdin once queued input is written. On a
    /// terminal this only stops forwarding: the pty stays the process's
    /// terminal.
    pub fn close_stdin(&mut self) {
        if self.stdin_buf.is_empty() {
            self.end_input();
        } else {
            self.stdin_closing = true;
        }
    }

    fn end_input(&mut self) {
        self.stdin = None;
        self.tty_input = false;
        self.stdin_closing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_queue_flushes_and_closes_after_pending_bytes() {
        let (r, w) = pipe().unwrap();
        let mut io = ProcIo::pipes(None, None, Some(w)).unwrap();
        assert!(io.stdin_open());
        io.queue_stdin(b"abc");
        io.close_stdin();
        assert!(!io.stdin_open());
        let mut buf = [0u8; 8];
        assert_eq!(nix::unistd::read(r.as_fd(), &mut buf).unwrap(), 3);
        // The write end is gone: end of file.
        assert_eq!(nix::unistd::read(r.as_fd(), &mut buf).unwrap(), 0);
    }

    #[test]
    fn full_pipe_queues_then_reader_gone_drops_input() {
        let (r, w) = pipe().unwrap();
        let mut io = ProcIo::pipes(None, None, Some(w)).unwrap();
        let big = vec![b'x'; 200 * 1024];
        io.queue_stdin(&big);
        assert!(io.stdin_pending().is_some(), "a pipe holds 64 KiB, not 200");
        drop(r);
        io.flush_stdin();
        assert!(!io.stdin_open());
        assert!(io.stdin_pending().is_none());
    }
}
