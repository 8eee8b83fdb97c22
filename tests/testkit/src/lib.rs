//! Test fixtures for berth.
//!
//! Vocabulary:
//! - a *rootfs* is a directory tree built from the host's static busybox
//!   ([`rootfs::populate`]);
//! - a *bundle* is an OCI bundle: a temp dir holding `rootfs/` and a
//!   `config.json` that builder methods edit ([`Bundle`]);
//! - a *runtime* is an OCI runtime binary with runc's command-line contract,
//!   driven with a private `--root` state dir ([`Runtime`]); a [`Container`]
//!   is one id in it, force-deleted when dropped;
//! - a *private dockerd* is a real Docker engine on its own socket and
//!   roots, for interop tests ([`dockerd::Dockerd`]);
//! - a *PKI* is a CA with a server and a client pair made by openssl(1) for TLS
//!   tests ([`pki::make`]);
//! - a *console socket* receives the pty master that the runtime sends for a
//!   `terminal: true` process ([`ConsoleSocket`], [`Pty`]).
//!
//! Fixture helpers panic with a message naming the operation and the object:
//! a fixture that cannot be set up is a failed test, and the message is what
//! the person reading the test log needs.

pub mod bundle;
pub mod cgroups;
pub mod console;
pub mod daemonnet;
pub mod dockerd;
pub mod pki;
pub mod rootfs;
pub mod runtime;
pub mod shared;

pub use bundle::Bundle;
pub use console::{ConsoleSocket, Pty};
pub use runtime::{CmdOutput, Container, Runtime};
pub use shared::{Gate, SharedDir};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a fixture waits for anything (a runtime command, a container to
/// stop, pty output) before it declares a hang. It is a guard against a test
/// blocking forever, not a performance assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// True when the process runs as root. Otherwise prints a loud skip notice
/// naming the test (libtest names each test's thread after it) and returns
/// false, so a root test starts with `if !testkit::require_root() { return; }`.
///
/// CI runs as root, so there every root test really runs.
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("test");
    eprintln!("======== skipping {test}: needs root ========");
    false
}

/// A short name unique across every test process on the machine: the process
/// id keeps concurrent test binaries apart, the counter keeps tests of one
/// binary apart. `prefix` says what the name is for (container id, cgroup).
///
/// Container ids must match runc's `^[\w+-\.]+$`; this only emits
/// `[a-z0-9-]`.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Waits until `fd` is readable (or hung up), true; false at `deadline`.
pub fn wait_readable(fd: std::os::fd::BorrowedFd<'_>, deadline: std::time::Instant) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("poll: {e}"),
        }
    }
}
