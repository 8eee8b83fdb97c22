//! Root tests: real mounts, real pivot_root(2).
//!
//! Each test runs its container side in a forked child that first enters a new
//! mount namespace and makes every mount in it private, so nothing it mounts
//! can propagate to the host; the namespace (and every mount in it) goes away
//! when the child exits. The child reports over a pipe; the parent asserts, and
//! checks that the host's mount table holds nothing under the test's temp dir.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::wait::WaitStatus;
use oci_spec::runtime::Spec;
use serde_json::json;

use super::mountinfo::{MountInfo, parse_mountinfo};
use super::*;

type Check = Result<(), String>;

/// Returns from the enclosing check with a message if `cond` is false.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

mod security;
mod setup;

/// Runs `body` in a forked child, in a new mount namespace (plus the
/// namespaces in `extra`) where every mount is private.
fn in_child(extra: CloneFlags, body: impl FnOnce() -> Check) -> Check {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    // SAFETY: the child runs only this test's code (glibc makes malloc usable
    // after fork(2)), never returns into the harness, and ends with _exit(2).
    match unsafe { nix::unistd::fork() }.expect("fork") {
        nix::unistd::ForkResult::Child => {
            drop(read);
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| -> Check {
                nix::sched::unshare(CloneFlags::CLONE_NEWNS | extra)
                    .map_err(|e| format!("unshare: {e}"))?;
                let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
                nix::mount::mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
                    .map_err(|e| format!("make / private: {e}"))?;
                body()
            }));
            let report = match result {
                Ok(Ok(())) => String::new(),
                Ok(Err(message)) => message,
                Err(_) => "the child panicked".to_owned(),
            };
            let mut bytes = report.as_bytes();
            while let Ok(n @ 1..) = rustix::io::write(&write, bytes) {
                bytes = &bytes[n..];
            }
            // SAFETY: ends the child without running the harness's exit
            // handlers and destructors, which belong to the parent.
            unsafe { libc::_exit(i32::from(!report.is_empty())) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(write);
            let mut report = String::new();
            fs::File::from(read).read_to_string(&mut report).unwrap();
            match nix::sys::wait::waitpid(child, None).unwrap() {
                WaitStatus::Exited(_, 0) if report.is_empty() => Ok(()),
                WaitStatus::Exited(..) => Err(report),
                other => Err(format!("child ended with {other:?}: {report}")),
            }
        }
    }
}

/// A bundle in a temp dir, with an empty `rootfs`.
struct Fixture {
    dir: tempfile::TempDir,
    rootfs: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        fs::create_dir(&rootfs).unwrap();
        Fixture { dir, rootfs }
    }

    fn bundle(&self) -> &Path {
        self.dir.path()
    }

    /// The host's mount table must hold nothing under the temp dir.
    fn assert_no_mounts_left(&self) {
        let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let dir = fs::canonicalize(self.dir.path()).unwrap();
        let leaked: Vec<MountInfo> = parse_mountinfo(&text)
            .unwrap()
            .into_iter()
            .filter(|m| m.mount_point.starts_with(&dir))
            .collect();
        assert!(leaked.is_empty(), "mounts leaked to the host: {leaked:?}");
    }
}

fn spec(value: serde_json::Value) -> Spec {
    serde_json::from_value(value).expect("spec")
}

fn setup(spec: &Spec, bundle: &Path, no_pivot: bool) -> Check {
    prepare(spec, bundle).map_err(|e| format!("prepare: {e}"))?;
    let rootfs = rootfs_path(spec, bundle).map_err(|e| format!("rootfs: {e}"))?;
    pivot(&rootfs, no_pivot).map_err(|e| format!("pivot: {e}"))?;
    finalize(spec).map_err(|e| format!("finalize: {e}"))
}

fn errno(result: std::io::Result<impl Sized>) -> Option<i32> {
    result.err().and_then(|e| e.raw_os_error())
}

/// The topmost mount at `point` in this process's mount table.
fn mount_at(point: &str) -> Result<MountInfo, String> {
    let text = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let mounts = parse_mountinfo(&text).map_err(|e| e.to_string())?;
    let found = mounts
        .into_iter()
        .rev()
        .find(|m| m.mount_point == Path::new(point));
    found.ok_or_else(|| format!("nothing mounted at {point}"))
}

fn is_mount_point(path: &Path) -> Result<bool, String> {
    let here = fs::metadata(path).map_err(|e| format!("stat {}: {e}", path.display()))?;
    let parent = path.parent().unwrap_or(path);
    let parent = fs::metadata(parent).map_err(|e| format!("stat {}: {e}", parent.display()))?;
    Ok(here.dev() != parent.dev())
}

fn fs_type(path: &str) -> Result<rustix::fs::FsWord, String> {
    rustix::fs::statfs(path)
        .map(|s| s.f_type)
        .map_err(|e| format!("statfs {path}: {e}"))
}

const TMPFS_MAGIC: rustix::fs::FsWord = 0x0102_1994;
const MQUEUE_MAGIC: rustix::fs::FsWord = 0x1980_0202;

fn runc_mounts() -> serde_json::Value {
    json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    ])
}

fn pty_spec() -> Spec {
    spec(json!({
        "root": {"path": "rootfs"},
        "mounts": [
            {"destination": "/proc", "type": "proc"},
            {"destination": "/dev", "type": "tmpfs", "options": ["mode=755"]},
            {"destination": "/dev/pts", "type": "devpts",
             "options": ["newinstance", "ptmxmode=0666", "mode=0620"]}
        ]
    }))
}

/// Opens a pty pair in the container's devpts, returns the slave's path.
fn open_pty() -> Result<(std::os::fd::OwnedFd, PathBuf), String> {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).map_err(|e| e.to_string())?;
    grantpt(&master).map_err(|e| e.to_string())?;
    unlockpt(&master).map_err(|e| e.to_string())?;
    let name = ptsname(&master, Vec::new()).map_err(|e| e.to_string())?;
    Ok((
        master,
        PathBuf::from(name.to_str().map_err(|e| e.to_string())?),
    ))
}
