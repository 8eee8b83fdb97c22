//! A private berthd per test: temp data and exec roots, its own unix
//! socket and docker CLI config, driven with the real docker CLI and with a
//! small HTTP/1.1 client over the socket.
//!
//! Teardown, in order: the daemon is killed; every process whose command
//! line names the test's temp dir (the shims) is killed; the containers
//! left in the runtime's state dir are force-deleted (that kills their
//! processes and removes their cgroups); mounts under the temp dir are
//! lazily unmounted, deepest first; the dir is removed.

#![allow(dead_code)]

use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub use crate::http::{HttpResponse, read_head, read_response, write_request};
pub use testkit::daemonnet::bridge_of;

/// The docker CLI the tests drive (v28 on these machines).
pub const DOCKER: &str = "/usr/local/bin/docker";

/// The daemon under test.
pub fn berthd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_berthd")
}

/// A running private daemon.
pub struct Berthd {
    child: Option<Child>,
    /// The daemon's arguments, for a restart.
    args: Vec<String>,
    /// Environment variables set for the daemon (a proxy, say).
    env: Vec<(String, String)>,
    dir: Option<TempDir>,
    pub root: PathBuf,
    pub sock: PathBuf,
    pub data: PathBuf,
    pub exec: PathBuf,
    pub docker_config: PathBuf,
    pub config_file: PathBuf,
    pub pidfile: PathBuf,
    pub log: PathBuf,
}

/// Where a test's daemon keeps its things; `start` uses it.
pub struct Layout {
    dir: TempDir,
}

impl Layout {
    pub fn new() -> Layout {
        // Short paths: socket paths below it (the API socket, the shims'
        // console sockets under <exec-root>/containers/<64 hex>/) must fit in
        // a sockaddr_un (108 bytes).
        let dir = tempfile::Builder::new()
            .prefix("b")
            .rand_bytes(5)
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("create temp dir: {e}"));
        Layout { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The daemon configuration file the daemon will read.
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("daemon.json")
    }

    /// The arguments `Berthd::start` passes, before the test's own.
    pub fn base_args(&self) -> Vec<String> {
        let p = self.dir.path();
        vec![
            "--data-root".into(),
            p.join("data").display().to_string(),
            // Short: the container's console socket path below it must
            // fit in a sockaddr_un (108 bytes).
            "--exec-root".into(),
            p.join("x").display().to_string(),
            "--pidfile".into(),
            p.join("berthd.pid").display().to_string(),
            "--config-file".into(),
            self.config_file().display().to_string(),
            "-H".into(),
            format!("unix://{}", p.join("d.sock").display()),
        ]
        .into_iter()
        // A default bridge of its own, on a subnet of its own, so daemons
        // of tests running at once never share one.
        .chain(testkit::daemonnet::daemon_args(p))
        .collect()
    }

    /// The daemon's default bridge (see testkit::daemonnet).
    pub fn bridge(&self) -> String {
        testkit::daemonnet::bridge_of(self.dir.path())
    }
}

impl Default for Layout {
    fn default() -> Self {
        Self::new()
    }
}

impl Berthd {
    /// Starts a daemon with no configuration file content and waits until
    /// it answers `/_ping`.
    pub fn start() -> Berthd {
        Self::start_in(Layout::new(), &[])
    }

    /// Starts a daemon in `layout` with extra flags.
    pub fn start_in(layout: Layout, extra: &[&str]) -> Berthd {
        Self::start_env(layout, extra, &[])
    }

    /// Starts a daemon in `layout` with extra flags and environment
    /// variables.
    pub fn start_env(layout: Layout, extra: &[&str], env: &[(&str, &str)]) -> Berthd {
        let root = layout.path().to_path_buf();
        if !layout.config_file().exists() {
            std::fs::write(layout.config_file(), "{}\n").expect("write daemon.json");
        }
        let log = root.join("berthd.log");
        let mut args = layout.base_args();
        args.extend(extra.iter().map(|a| a.to_string()));
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = spawn_daemon(&args, &env, &log);
        let d = Berthd {
            child: Some(child),
            args,
            env,
            sock: root.join("d.sock"),
            data: root.join("data"),
            exec: root.join("x"),
            docker_config: root.join("docker-config"),
            config_file: layout.config_file(),
            pidfile: root.join("berthd.pid"),
            log,
            root,
            dir: Some(layout.dir),
        };
        std::fs::create_dir_all(&d.docker_config).expect("create docker config dir");
        d.wait_ready();
        d
    }

    /// Kills the daemon with SIGKILL (no shutdown at all), leaving its
    /// containers, shims and files as a crash would.
    pub fn kill9(&mut self) {
        let mut c = self.child.take().expect("daemon is running");
        c.kill().expect("kill berthd");
        c.wait().expect("reap berthd");
    }

    /// Starts the daemon again on the same roots and socket.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running daemon");
        self.child = Some(spawn_daemon(&self.args, &self.env, &self.log));
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + testkit::HANG_GUARD;
        loop {
            if self.sock.exists() {
                if let Ok(r) = self.try_request("GET", "/_ping", &[], None) {
                    if r.status == 200 {
                        return;
                    }
                }
            }
            if self.exited() {
                panic!("berthd exited before serving; log:\n{}", self.log_text());
            }
            if Instant::now() > deadline {
                panic!(
                    "berthd did not answer /_ping in time; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the daemon process is gone or a zombie (read through /proc,
    /// as `try_wait` needs `&mut`).
    fn exited(&self) -> bool {
        let Some(c) = self.child.as_ref() else {
            return true;
        };
        match std::fs::read_to_string(format!("/proc/{}/stat", c.id())) {
            Ok(s) => s.contains(") Z "),
            Err(_) => true,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` to the daemon.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).expect("signal berthd");
    }

    /// Waits for the daemon to exit and returns its status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + testkit::HANG_GUARD;
        let child = self.child.as_mut().expect("daemon already reaped");
        loop {
            if let Some(st) = child.try_wait().expect("wait berthd") {
                self.child = None;
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "berthd did not exit; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A docker CLI command against this daemon.
    pub fn docker_cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = Command::new(DOCKER);
        c.args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION")
            .stdin(Stdio::null());
        c
    }

    /// Runs the docker CLI to completion.
    pub fn docker<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<std::ffi::OsString> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let mut child = self
            .docker_cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {DOCKER}: {e}"));
        let out = wait_output(&mut child, testkit::HANG_GUARD, &format!("docker {args:?}"));
        Run {
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            out,
        }
    }

    /// Runs the docker CLI with `stdin` as its input.
    pub fn docker_stdin<I, S>(&self, args: I, stdin: &[u8]) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<std::ffi::OsString> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let mut child = self
            .docker_cmd(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {DOCKER}: {e}"));
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = wait_output(&mut child, testkit::HANG_GUARD, &format!("docker {args:?}"));
        let _ = writer.join();
        Run {
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            out,
        }
    }

    /// One HTTP request over the daemon's socket (the connection is closed
    /// after it).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> std::io::Result<HttpResponse> {
        let mut s = self.connect()?;
        // The daemon may answer (413, 400) and close before it read the
        // whole body; the answer is what counts.
        let written = write_request(&mut s, method, path, headers, body, true);
        match read_response(&mut BufReader::new(s), method == "HEAD") {
            Ok(r) => Ok(r),
            Err(e) => Err(written.err().unwrap_or(e)),
        }
    }

    /// A connected socket with a read timeout, for tests that speak HTTP
    /// by hand (streams, hijacks).
    pub fn connect(&self) -> std::io::Result<UnixStream> {
        let s = UnixStream::connect(&self.sock)?;
        s.set_read_timeout(Some(testkit::HANG_GUARD))?;
        Ok(s)
    }

    pub fn get_json(&self, path: &str) -> Value {
        let r = self.request("GET", path, &[], None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }
}

/// Starts berthd with `args`, its output appended to `log`.
fn spawn_daemon(args: &[String], env: &[(String, String)], log: &Path) -> Child {
    let logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open daemon log");
    Command::new(berthd_bin())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(logf.try_clone().expect("dup log"))
        .stderr(logf)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", berthd_bin()))
}

impl Drop for Berthd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- berthd log ----\n{}", self.log_text());
        }
        cleanup(&self.root);
        drop(self.dir.take());
    }
}

/// Kills what a test left behind under `root` (see the module doc).
pub fn cleanup(root: &Path) {
    let needle = root.display().to_string();
    for pid in pids_mentioning(&needle) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    }
    // The engine gives each runtime its own state dir: <exec>/runtime/<name>/<id>.
    let runtimes = root.join("x").join("runtime");
    for rt_dir in std::fs::read_dir(&runtimes).into_iter().flatten().flatten() {
        let name = rt_dir.file_name().to_string_lossy().into_owned();
        let bin = match name.as_str() {
            "berth-runc" => runtime_bin("berth-runc"),
            other => PathBuf::from(other),
        };
        for c in std::fs::read_dir(rt_dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = c.file_name().to_string_lossy().into_owned();
            let _ = Command::new(&bin)
                .arg("--root")
                .arg(rt_dir.path())
                .args(["delete", "--force", &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    // Should a runtime have failed to delete one, its cgroups (named by
    // the container id, which this test's daemon made up) go too.
    let containers = root.join("x").join("containers");
    for c in std::fs::read_dir(&containers)
        .into_iter()
        .flatten()
        .flatten()
    {
        remove_cgroups(&c.file_name().to_string_lossy());
    }
    for m in mounts_under(root) {
        let _ = nix::mount::umount2(m.as_path(), nix::mount::MntFlags::MNT_DETACH);
    }
    testkit::daemonnet::remove_leftovers(root);
}

/// Kills the processes of `/sys/fs/cgroup/<controller>/berth/<id>` and
/// removes those cgroups.
fn remove_cgroups(id: &str) {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return;
    }
    let dirs: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|c| c.path().join("berth").join(id))
        .filter(|p| p.is_dir())
        .collect();
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
    }
    for d in &dirs {
        // A frozen cgroup's processes cannot die: thaw it first.
        let _ = std::fs::write(d.join("freezer.state"), "THAWED");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::remove_dir(d).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A binary next to berthd (the workspace's target dir), else from PATH.
pub fn runtime_bin(name: &str) -> PathBuf {
    let p = Path::new(berthd_bin()).with_file_name(name);
    if p.exists() { p } else { PathBuf::from(name) }
}

fn pids_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

/// Mount points at or under `root`, deepest first (mountinfo(5) field 5,
/// with its octal escapes undone).
pub fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .map(PathBuf::from)
        .filter(|p| p.starts_with(root))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Ok(n) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A finished docker CLI run.
pub struct Run {
    pub args: Vec<String>,
    pub out: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> String {
        assert!(
            self.out.status.success(),
            "docker {:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            self.args,
            self.out.status,
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
    /// Asserts failure and returns stderr.
    pub fn fails(&self) -> String {
        assert!(
            !self.out.status.success(),
            "docker {:?} succeeded but should not have:\nstdout: {}",
            self.args,
            self.stdout()
        );
        self.stderr()
    }
}

/// Waits for a child with a hang guard; kills it at the deadline.
pub fn wait_output(child: &mut Child, limit: Duration, what: &str) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait child") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let out = t_out.join().unwrap_or_default();
            let err = t_err.join().unwrap_or_default();
            panic!(
                "{what} hung; stdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Fails the test unless the shim and the runtime were built next to
/// berthd: the daemon runs them, and a container test cannot pass without.
pub fn require_container_bins() {
    for name in ["berth-shim", "berth-runc"] {
        let p = Path::new(berthd_bin()).with_file_name(name);
        assert!(
            p.exists(),
            "{} is missing: build the workspace's binaries first (cargo build --bins)",
            p.display()
        );
    }
}

impl Berthd {
    /// A tar of the busybox rootfs (testkit's tree), made in the test's
    /// temp dir.
    pub fn busybox_tar(&self) -> PathBuf {
        let tar = self.root.join("busybox.tar");
        if tar.exists() {
            return tar;
        }
        let root = self.root.join("busybox-rootfs");
        testkit::rootfs::populate(&root);
        let st = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(st.success(), "tar the busybox rootfs");
        tar
    }

    /// Imports the busybox rootfs as `busybox:latest`; returns the image ID.
    pub fn import_busybox(&self) -> String {
        require_container_bins();
        let tar = self.busybox_tar();
        let out = self
            .docker([
                "import".as_ref(),
                tar.as_os_str(),
                "busybox:latest".as_ref(),
            ])
            .ok();
        let id = out.trim().to_string();
        assert!(id.starts_with("sha256:"), "import printed {out:?}");
        id
    }
}

/// A started daemon with the busybox test image imported.
pub fn started() -> Berthd {
    require_container_bins();
    let d = Berthd::start();
    d.import_busybox();
    d
}

/// Polls `f` until it is true (or the hang guard fires, naming `what`).
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + testkit::HANG_GUARD;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
