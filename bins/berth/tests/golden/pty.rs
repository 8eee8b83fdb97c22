//! `berth run -it` on a pseudo-terminal: the test is the terminal.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{berth_bin, started};

/// Reads from the master until `needle` shows up; returns everything read.
fn read_until(master: &mut std::fs::File, seen: &mut Vec<u8>, needle: &str) -> String {
    let deadline = Instant::now() + testkit::HANG_GUARD;
    while !String::from_utf8_lossy(seen).contains(needle) {
        assert!(
            testkit::wait_readable(master.as_fd(), deadline),
            "no {needle:?} on the terminal; saw {:?}",
            String::from_utf8_lossy(seen)
        );
        let mut buf = [0u8; 4096];
        match master.read(&mut buf) {
            Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => panic!(
                "terminal closed before {needle:?}; saw {:?}",
                String::from_utf8_lossy(seen)
            ),
        }
    }
    String::from_utf8_lossy(seen).into_owned()
}

#[test]
fn run_it_gives_a_shell_and_restores_the_terminal() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let ws = nix::pty::Winsize {
        ws_row: 33,
        ws_col: 101,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
    let slave = std::fs::File::from(pty.slave);
    let before = nix::sys::termios::tcgetattr(slave.as_fd()).expect("tcgetattr");
    let mut cmd = Command::new(berth_bin());
    cmd.args(["run", "-it", "--rm", "busybox", "sh"])
        .env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
        .env("DOCKER_CONFIG", &d.docker_config)
        .stdin(Stdio::from(slave.try_clone().expect("dup slave")))
        .stdout(Stdio::from(slave.try_clone().expect("dup slave")))
        .stderr(Stdio::from(slave.try_clone().expect("dup slave")));
    fn make_controlling_tty() -> std::io::Result<()> {
        nix::unistd::setsid()?;
        // The child's stdin is the slave: make it the controlling terminal
        // (tty_ioctl(4), TIOCSCTTY), as a terminal emulator does.
        // SAFETY: TIOCSCTTY takes an integer argument and no pointer.
        if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    // SAFETY: the hook runs in the forked child before exec and only makes
    // async-signal-safe calls (setsid, ioctl).
    unsafe { cmd.pre_exec(make_controlling_tty) };
    let mut child = cmd.spawn().expect("spawn berth on a pty");
    let mut master = std::fs::File::from(pty.master);
    let mut seen = Vec::new();
    read_until(&mut master, &mut seen, "# ");
    // The container's terminal has the CLI's size.
    master
        .write_all(b"stty size; echo sum=$((40+2))\r")
        .expect("type");
    let text = read_until(&mut master, &mut seen, "sum=42");
    assert!(
        text.contains("33 101"),
        "stty size in the container: {text:?}"
    );
    // Raw mode: the CLI did not echo or cook the input itself (one echo, by the
    // container's terminal).
    assert_eq!(text.matches("sum=$((40+2))").count(), 1, "{text:?}");
    master.write_all(b"exit 5\r").expect("type");
    let deadline = Instant::now() + testkit::HANG_GUARD;
    let status = loop {
        // Keep draining so the CLI never blocks on a full terminal.
        if testkit::wait_readable(master.as_fd(), Instant::now() + Duration::from_millis(50)) {
            let mut buf = [0u8; 4096];
            let _ = master.read(&mut buf);
        }
        if let Some(st) = child.try_wait().expect("wait berth") {
            break st;
        }
        assert!(Instant::now() < deadline, "berth run -it did not exit");
    };
    assert_eq!(status.code(), Some(5));
    let after = nix::sys::termios::tcgetattr(slave.as_fd()).expect("tcgetattr");
    assert_eq!(
        before.local_flags, after.local_flags,
        "terminal left in raw mode"
    );
    assert_eq!(before.input_flags, after.input_flags);
}

/// A CLI running on a pseudo-terminal of its own (the test is the terminal).
pub struct OnPty {
    child: std::process::Child,
    master: std::fs::File,
    seen: Vec<u8>,
}

impl OnPty {
    fn spawn(d: &crate::harness::Daemon, prog: &str, args: &[&str]) -> OnPty {
        OnPty::spawn_env(d, prog, args, &[])
    }

    /// [`OnPty::spawn`] with `env` set over the daemon's defaults.
    pub fn spawn_env(
        d: &crate::harness::Daemon,
        prog: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> OnPty {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = std::fs::File::from(pty.slave);
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
            .env("DOCKER_CONFIG", &d.docker_config)
            .envs(env.iter().copied())
            .stdin(Stdio::from(slave.try_clone().expect("dup slave")))
            .stdout(Stdio::from(slave.try_clone().expect("dup slave")))
            .stderr(Stdio::from(slave));
        fn make_controlling_tty() -> std::io::Result<()> {
            nix::unistd::setsid()?;
            // SAFETY: TIOCSCTTY takes an integer argument and no pointer.
            if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        }
        // SAFETY: the hook runs in the forked child before exec and only makes
        // async-signal-safe calls (setsid, ioctl).
        unsafe { cmd.pre_exec(make_controlling_tty) };
        let child = cmd.spawn().expect("spawn on a pty");
        OnPty {
            child,
            master: std::fs::File::from(pty.master),
            seen: Vec::new(),
        }
    }

    pub fn expect(&mut self, needle: &str) {
        read_until(&mut self.master, &mut self.seen, needle);
    }

    /// Presses Enter until the shell's prompt shows (input typed before the CLI is
    /// attached is lost, for docker's CLI as for berth).
    fn poke_until_prompt(&mut self) {
        let deadline = Instant::now() + testkit::HANG_GUARD;
        loop {
            self.seen.clear();
            self.send(b"\r");
            let until = Instant::now() + Duration::from_millis(300);
            while Instant::now() < until {
                if testkit::wait_readable(self.master.as_fd(), until) {
                    let mut buf = [0u8; 4096];
                    if let Ok(n) = self.master.read(&mut buf) {
                        self.seen.extend_from_slice(&buf[..n]);
                    }
                }
                if String::from_utf8_lossy(&self.seen).contains("# ") {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "no prompt after attach");
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("type");
    }

    /// Waits for the CLI to end, draining the terminal; its status.
    pub fn status(mut self) -> Option<i32> {
        let deadline = Instant::now() + testkit::HANG_GUARD;
        loop {
            if testkit::wait_readable(
                self.master.as_fd(),
                Instant::now() + Duration::from_millis(50),
            ) {
                let mut buf = [0u8; 4096];
                let _ = self.master.read(&mut buf);
            }
            if let Some(st) = self.child.try_wait().expect("wait CLI") {
                return st.code();
            }
            assert!(
                Instant::now() < deadline,
                "the CLI did not end; saw {:?}",
                String::from_utf8_lossy(&self.seen)
            );
        }
    }
}

#[test]
fn detach_keys_exec_it_and_attach_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    for (prog, name) in [(berth_bin(), "bd"), (crate::harness::DOCKER, "kd")] {
        // run -it, then ctrl-p ctrl-q: the CLI ends with 0, the container runs on.
        let mut t = OnPty::spawn(&d, prog, &["run", "-it", "--name", name, "busybox", "sh"]);
        t.expect("# ");
        t.send(b"echo in=$((1+1))\r");
        t.expect("in=2");
        t.send(&[0x10, 0x11]);
        assert_eq!(t.status(), Some(0), "{prog} run -it detached");
        let state = crate::harness::ok(&d, &["inspect", "-f", "{{.State.Running}}", name]);
        assert_eq!(state, "true", "{prog}: the container goes on after detach");
        // exec -it: a shell in it, its status.
        let mut t = OnPty::spawn(&d, prog, &["exec", "-it", name, "sh"]);
        t.expect("# ");
        t.send(b"tty; exit 3\r");
        t.expect("/dev/pts/");
        assert_eq!(t.status(), Some(3), "{prog} exec -it");
        // attach, then detach keys of one's own choosing. (To a container nobody was
        // attached to: after a detach, the daemon forwards no more input to it.)
        let name = &format!("{name}2");
        crate::harness::ok(&d, &["run", "-dit", "--name", name, "busybox", "sh"]);
        let mut t = OnPty::spawn(&d, prog, &["attach", "--detach-keys", "ctrl-x,x", name]);
        t.poke_until_prompt();
        t.send(b"echo at=$((2+2))\r");
        t.expect("at=4");
        t.send(&[0x18, b'x']);
        t.expect("read escape sequence");
        assert_eq!(t.status(), Some(1), "{prog} attach detached");
        // attach, then the shell ends: the container's status.
        let mut t = OnPty::spawn(&d, prog, &["attach", name]);
        t.poke_until_prompt();
        t.send(b"exit 7\r");
        assert_eq!(t.status(), Some(7), "{prog} attach to the end");
    }
}
