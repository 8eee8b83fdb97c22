//! A private real Docker engine (Debian's docker.io: dockerd 20.10) for
//! interop tests: its own data root, exec root, pid file and unix socket,
//! no bridge, no iptables, inside its own mount namespace (`unshare
//! --mount`) so nothing it mounts outlives it. It starts its own
//! containerd under its exec root. Dropping it stops it (SIGTERM: a clean
//! shutdown that stops its containerd too) and waits for it.
//!
//! Registries on 127.0.0.1 are insecure for it by default (127.0.0.0/8),
//! so it pushes to and pulls from a registry a test started there over
//! plain HTTP.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long dockerd may take to answer its first `docker version`.
const START_GUARD: Duration = Duration::from_secs(60);

/// Whether `bin` is a file in a `PATH` directory.
pub fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

/// True when dockerd and a docker CLI are installed. Otherwise prints a
/// loud skip notice naming the test and returns false, so an interop test
/// starts with `if !testkit::dockerd::available() { return; }`.
pub fn available() -> bool {
    if on_path("dockerd") && on_path("docker") {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("test");
    eprintln!("======== skipping {test}: needs dockerd and docker (Debian's docker.io) ========");
    false
}

/// A running private dockerd.
pub struct Dockerd {
    child: Child,
    sock: PathBuf,
}

impl Dockerd {
    /// Starts dockerd with everything under `dir` (which must outlive it)
    /// and waits until it answers.
    pub fn start(dir: &Path) -> Dockerd {
        Self::start_with(dir, &[])
    }

    /// Starts dockerd with `extra` flags after the private-instance ones.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Dockerd {
        let sock = dir.join("docker.sock");
        let log = std::fs::File::create(dir.join("dockerd.log"))
            .unwrap_or_else(|e| panic!("create {}: {e}", dir.join("dockerd.log").display()));
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "dockerd"])
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn dockerd: {e}"));
        let d = Dockerd { child, sock };
        let start = Instant::now();
        while !d.docker(&["version"]).status.success() {
            assert!(
                start.elapsed() < START_GUARD,
                "dockerd did not come up; its log:\n{}",
                std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        d
    }

    /// The API socket.
    pub fn sock(&self) -> &Path {
        &self.sock
    }

    /// Runs the docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env_remove("DOCKER_CONTEXT")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run docker {args:?}: {e}"))
    }

    /// Runs the docker CLI and returns its trimmed stdout; panics with its
    /// stderr when it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?} against dockerd: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM to `unshare`, which has exec'd dockerd.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}
