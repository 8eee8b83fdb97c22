//! The docker CLI on a pseudo-terminal, for `-it`: the test is the
//! terminal (it writes keys, reads the screen, changes the window size).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::harness::Berthd;

impl Berthd {
    /// Runs the docker CLI on a new pty (its controlling terminal) of
    /// `rows` x `cols`.
    pub fn docker_pty(&self, args: &[&str], rows: u16, cols: u16) -> PtyRun {
        use std::os::unix::process::CommandExt;
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
        let slave = std::fs::File::from(pty.slave);
        let mut cmd = self.docker_cmd(args);
        cmd.stdin(slave.try_clone().expect("dup pty slave"))
            .stdout(slave.try_clone().expect("dup pty slave"))
            .stderr(slave.try_clone().expect("dup pty slave"));
        let make_controlling_tty = || -> std::io::Result<()> {
            nix::unistd::setsid()?;
            // The child's stdin is the slave: make it the controlling
            // terminal (tty_ioctl(4), TIOCSCTTY), as a terminal emulator does.
            // SAFETY: TIOCSCTTY takes an integer argument and no pointer.
            if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        };
        // SAFETY: the hook runs in the forked child before exec and only
        // makes async-signal-safe calls (setsid, ioctl).
        unsafe { cmd.pre_exec(make_controlling_tty) };
        let child = cmd.spawn().expect("spawn docker on a pty");
        // Only the child holds the slave now, so its exit shows as EIO.
        drop(slave);
        PtyRun {
            child,
            master: std::fs::File::from(pty.master),
            seen: Vec::new(),
        }
    }
}

/// The docker CLI running on a pty.
pub struct PtyRun {
    child: Child,
    master: std::fs::File,
    seen: Vec<u8>,
}

impl PtyRun {
    pub fn write(&mut self, data: &[u8]) {
        self.master.write_all(data).expect("write pty master");
    }

    pub fn seen(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Reads until the output contains `needle`; returns all output.
    pub fn read_until(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + testkit::HANG_GUARD;
        while !self.seen().contains(needle) {
            assert!(
                self.read_some(deadline),
                "pty closed before {needle:?}; output: {:?}",
                self.seen()
            );
        }
        self.seen()
    }

    /// false at end of output (every slave fd closed).
    /// Reads for up to `within`; true once the output after `from` bytes
    /// contains `needle`.
    pub fn saw_within(&mut self, from: usize, needle: &str, within: Duration) -> bool {
        use std::os::fd::AsFd;
        let deadline = Instant::now() + within;
        loop {
            if String::from_utf8_lossy(&self.seen[from.min(self.seen.len())..]).contains(needle) {
                return true;
            }
            if !testkit::wait_readable(self.master.as_fd(), deadline) {
                return false;
            }
            let mut buf = [0u8; 4096];
            match self.master.read(&mut buf) {
                Ok(n) if n > 0 => self.seen.extend_from_slice(&buf[..n]),
                _ => return false,
            }
        }
    }

    /// How many bytes were read so far.
    pub fn position(&self) -> usize {
        self.seen.len()
    }

    fn read_some(&mut self, deadline: Instant) -> bool {
        use std::os::fd::AsFd;
        assert!(
            testkit::wait_readable(self.master.as_fd(), deadline),
            "pty output stalled; output: {:?}",
            self.seen()
        );
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.seen.extend_from_slice(&buf[..n]);
                true
            }
            // EIO: the other side is closed.
            Err(_) => false,
        }
    }

    /// Changes the window size (the CLI gets SIGWINCH and resizes).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        use std::os::fd::AsRawFd;
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which
        // points to a live local; the fd is the open master.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }

    /// Reads to the end and waits for the CLI; returns its exit code and
    /// all output.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + testkit::HANG_GUARD;
        while self.read_some(deadline) {}
        loop {
            if let Some(st) = self.child.try_wait().expect("wait docker") {
                return (st.code(), self.seen());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("docker on the pty did not exit; output: {:?}", self.seen());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for PtyRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
