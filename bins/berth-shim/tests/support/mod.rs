//! Running berth-shim against a real OCI runtime in tests.
//!
//! A [`Setup`] is one container id with its own bundle, state dir, runtime
//! root and log dir (temp dirs). [`Setup::spawn`] starts the shim through
//! `spawn_shim`, the way the daemon does. Dropping a `Setup` deletes the
//! container through the shim if one still serves, kills a shim that is
//! left, force-deletes the container in the runtime, and removes the dirs.
//!
//! Tests run once per runtime: berth-runc from this workspace's target dir
//! and Debian's runc ([`both_runtimes!`]).

#![allow(dead_code)]

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_shim_proto::frame::{Frame, read_frame};
use berth_shim_proto::{LogConfig, ShimClient, ShimError, ShimReady, ShimSpawn};
use serde_json::Value;
use tempfile::TempDir;
use testkit::{Bundle, HANG_GUARD, SharedDir};

/// Debian's runc, the reference.
pub const RUNC: &str = "/usr/sbin/runc";

/// berth-runc from the workspace target dir (the newer of the release and
/// debug builds), else runc.
pub fn berth_runc() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let newest = ["release", "debug"]
        .iter()
        .map(|profile| target.join(profile).join("berth-runc"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max();
    if let Some((_, p)) = newest {
        return p;
    }
    eprintln!("berth-runc is not built (cargo build -p berth-runc): using {RUNC}");
    PathBuf::from(RUNC)
}

pub fn runc() -> PathBuf {
    PathBuf::from(RUNC)
}

/// A runtime in `dir` that runs `on_delete` (shell) for `delete` and
/// otherwise is `rt`; `on_delete` continues to `rt` unless it exits.
pub fn wrap_runtime(dir: &Path, rt: &Path, on_delete: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("runtime");
    let script = format!(
        "#!/bin/sh\ncase \" $* \" in *\" delete \"*) {on_delete} ;; esac\nexec {} \"$@\"\n",
        rt.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Defines each test once per runtime: `berth_runc::<name>` and
/// `runc::<name>`, both root tests. Bring it in with `#[macro_use] mod support;`.
macro_rules! both_runtimes {
    ($(fn $name:ident($rt:ident: &Path) $body:block)*) => {
        $( fn $name($rt: &std::path::Path) $body )*
        mod berth_runc {
            $( #[test] fn $name() {
                if !testkit::require_root() { return; }
                super::$name(&$crate::support::berth_runc())
            } )*
        }
        mod runc {
            $( #[test] fn $name() {
                if !testkit::require_root() { return; }
                super::$name(&$crate::support::runc())
            } )*
        }
    };
}

/// How the shim is started.
#[derive(Debug, Clone)]
pub struct Opts {
    pub terminal: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    /// `(max_size, max_file)` of the json-file log; `None`: no log.
    pub log: Option<(u64, u32)>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            terminal: false,
            stdin: false,
            stdin_once: false,
            log: Some((0, 1)),
        }
    }
}

/// One container's dirs and, once spawned, its shim.
pub struct Setup {
    pub id: String,
    pub runtime: PathBuf,
    pub bundle: Bundle,
    pub shared: SharedDir,
    pub state: TempDir,
    pub root: TempDir,
    pub logs: TempDir,
    pub ready: Option<ShimReady>,
}

impl Setup {
    /// A setup for `bundle`, which gets the shared dir bound at `/shared`.
    pub fn new(runtime: &Path, bundle: Bundle) -> Setup {
        let shared = SharedDir::new();
        let bundle = bundle.bind(shared.path(), "/shared", &[]);
        let tmp = |prefix: &str| {
            tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .unwrap_or_else(|e| panic!("create {prefix} temp dir: {e}"))
        };
        Setup {
            id: testkit::unique_name("shim"),
            runtime: runtime.to_owned(),
            bundle,
            shared,
            state: tmp("berth-shim-state-"),
            root: tmp("berth-shim-root-"),
            logs: tmp("berth-shim-logs-"),
            ready: None,
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.logs.path().join(format!("{}-json.log", self.id))
    }

    pub fn spec(&self, opts: &Opts) -> ShimSpawn {
        ShimSpawn {
            shim_binary: env!("CARGO_BIN_EXE_berth-shim").into(),
            id: self.id.clone(),
            bundle: self.bundle.path().to_owned(),
            state_dir: self.state.path().to_owned(),
            runtime: self.runtime.clone(),
            runtime_args: Vec::new(),
            runtime_root: self.root.path().to_owned(),
            log: opts.log.map(|(max_size, max_file)| LogConfig {
                path: self.log_path(),
                max_size,
                max_file,
            }),
            terminal: opts.terminal,
            stdin: opts.stdin,
            stdin_once: opts.stdin_once,
        }
    }

    pub fn try_spawn(&mut self, opts: &Opts) -> Result<ShimReady, ShimError> {
        let ready = berth_shim_proto::spawn_shim(&self.spec(opts))?;
        self.ready = Some(ready);
        Ok(ready)
    }

    #[track_caller]
    pub fn spawn(&mut self, opts: &Opts) -> ShimReady {
        self.try_spawn(opts)
            .unwrap_or_else(|e| panic!("spawn shim with {}: {e}", self.runtime.display()))
    }

    #[track_caller]
    pub fn client(&self) -> ShimClient {
        ShimClient::connect(self.state.path())
            .unwrap_or_else(|e| panic!("connect to shim: {e}"))
            .with_timeout(Some(HANG_GUARD))
    }

    pub fn shim_pid(&self) -> i32 {
        self.ready.expect("shim spawned").shim_pid
    }

    /// Whether the runtime still knows the container (runc keeps one
    /// directory per id in its root).
    pub fn runtime_knows(&self) -> bool {
        self.root.path().join(&self.id).exists()
    }

    /// The OCI process of the bundle with `args`, for exec.
    pub fn process(&self, args: &[&str], terminal: bool) -> Value {
        let mut p = self.bundle.config()["process"].clone();
        p["args"] = serde_json::json!(args);
        p["terminal"] = Value::Bool(terminal);
        p
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let Some(ready) = self.ready else { return };
        if let Ok(c) = ShimClient::connect(self.state.path()) {
            let _ = c.with_timeout(Some(Duration::from_secs(10))).delete();
        }
        if is_shim(ready.shim_pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(ready.shim_pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if self.runtime_knows() {
            let out = Command::new(&self.runtime)
                .arg("--root")
                .arg(self.root.path())
                .args(["delete", "--force", &self.id])
                .output();
            if let Ok(out) = out
                && !out.status.success()
            {
                eprintln!(
                    "cleanup: delete --force {}: {}",
                    self.id,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// Whether `pid` is a live (not zombie) berth-shim process.
pub fn is_shim(pid: i32) -> bool {
    alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("berth-shim"))
}

/// Whether `pid` exists and is not a zombie (proc(5) stat field 3).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Polls `cond` until true; panics naming `what` after the hang guard.
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_GUARD;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Checks that `t` is an RFC 3339 UTC time (`...Z`, Go's RFC3339Nano
/// shape) of the last few minutes.
#[track_caller]
pub fn assert_recent_utc(t: &str) {
    assert!(
        t.ends_with('Z') && t.as_bytes().get(10) == Some(&b'T'),
        "time {t:?}"
    );
    let ts: jiff::Timestamp = t.parse().unwrap_or_else(|e| panic!("time {t:?}: {e}"));
    let age = jiff::Timestamp::now().duration_since(ts);
    assert!(
        age >= jiff::SignedDuration::ZERO && age < jiff::SignedDuration::from_secs(300),
        "time {t} is {age:?} old"
    );
    if let Some((_, frac)) = t.trim_end_matches('Z').split_once('.') {
        assert!(
            (1..=9).contains(&frac.len()) && !frac.ends_with('0'),
            "fraction of {t}"
        );
    }
}

/// The records of a json-file log.
pub fn log_records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?}: {e}")))
        .collect()
}

/// The concatenated `log` text of `stream`'s records.
pub fn log_text(path: &Path, stream: &str) -> String {
    log_records(path)
        .iter()
        .filter(|r| r["stream"] == stream)
        .map(|r| r["log"].as_str().unwrap().to_owned())
        .collect()
}

/// Reads frames until the shim closes the stream.
pub fn read_all_frames(stream: &mut UnixStream) -> Vec<Frame> {
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = read_frame(stream).unwrap_or_else(|e| panic!("read frame: {e}")) {
        frames.push(f);
    }
    frames
}

/// Reads frames until their stream-`stream` text contains `needle`.
pub fn read_frames_until(stream: &mut UnixStream, needle: &str) -> Vec<Frame> {
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let mut frames = Vec::new();
    loop {
        let text: String = frames
            .iter()
            .map(|f: &Frame| String::from_utf8_lossy(&f.payload).into_owned())
            .collect();
        if text.contains(needle) {
            return frames;
        }
        match read_frame(stream) {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => panic!("stream ended before {needle:?}; got {text:?}"),
            Err(e) => panic!("read frame waiting for {needle:?} (got {text:?}): {e}"),
        }
    }
}

/// The text of frames of one stream.
pub fn frame_text(frames: &[Frame], stream: berth_shim_proto::Stream) -> String {
    frames
        .iter()
        .filter(|f| f.stream == stream)
        .map(|f| String::from_utf8_lossy(&f.payload).into_owned())
        .collect()
}

/// `VmRSS`, `RssAnon` and `RssFile` of `pid` in KiB.
pub fn rss_kib(pid: i32) -> (u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("RssAnon:"), field("RssFile:"))
}

/// Drains whatever a socket holds until the peer closes it; returns the
/// byte count.
pub fn drain(stream: &mut UnixStream) -> usize {
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let mut total = 0;
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) => panic!("drain: {e}"),
        }
    }
}
