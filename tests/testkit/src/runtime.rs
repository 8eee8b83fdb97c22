//! Driving an OCI runtime binary through runc's command-line contract.
//!
//! A [`Runtime`] is one binary plus a private `--root` state dir in a temp
//! dir, so tests running in parallel never see each other's containers. The
//! binary is `$BERTH_TEST_RUNTIME` when set (to run the suite against the
//! reference runc), else the path the test passes.
//!
//! Every command runs with stdin from a file or /dev/null and stdout/stderr
//! to files, never pipes: a container created by `create` or `run --detach`
//! inherits the runtime's stdio, and a pipe would keep the reader blocked
//! until the container exits. The files also keep what the container prints
//! after the runtime command returned ([`Container::stdout`]).
//!
//! A [`Container`] is one unique id in a runtime. Dropping it runs
//! `delete --force`, and dropping the runtime force-deletes whatever its
//! state dir still lists, so a failing test leaves no container, cgroup or
//! mount behind.

use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::Value;
use tempfile::TempDir;

use crate::{Bundle, HANG_GUARD, unique_name, wait_readable};

/// The environment variable naming a runtime binary to test instead of the
/// default one.
pub const RUNTIME_ENV: &str = "BERTH_TEST_RUNTIME";

/// What one runtime command did.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// The arguments after the binary (including `--root`).
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code; None when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics, showing the command and its output, unless it succeeded.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.success(), "runtime command failed:\n{self}");
        self
    }

    /// Panics, showing the command and its output, if it succeeded.
    #[track_caller]
    pub fn fails(self) -> Self {
        assert!(
            !self.success(),
            "runtime command should have failed:\n{self}"
        );
        self
    }

    /// stdout parsed as JSON; panics showing the output when it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl fmt::Display for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  args: {:?}", self.args)?;
        writeln!(f, "  status: {}", self.status)?;
        writeln!(f, "  stdout: {:?}", self.stdout)?;
        write!(f, "  stderr: {:?}", self.stderr)
    }
}

/// A runtime binary with a private state dir.
pub struct Runtime {
    bin: PathBuf,
    work: TempDir,
    seq: AtomicUsize,
}

impl Runtime {
    /// The runtime at `$BERTH_TEST_RUNTIME`, or at `default_bin`.
    pub fn new(default_bin: impl AsRef<Path>) -> Self {
        let bin = std::env::var_os(RUNTIME_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| default_bin.as_ref().to_owned());
        Self::exact(bin)
    }

    /// The runtime at exactly `bin` (for a wrapper around the runtime
    /// under test; `$BERTH_TEST_RUNTIME` is not consulted).
    pub fn exact(bin: impl AsRef<Path>) -> Self {
        let bin = bin.as_ref().to_owned();
        let work = tempfile::Builder::new()
            .prefix("berth-runtime-")
            .tempdir()
            .unwrap_or_else(|e| panic!("create runtime temp dir: {e}"));
        for sub in ["root", "io"] {
            let p = work.path().join(sub);
            fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        }
        Runtime {
            bin,
            work,
            seq: AtomicUsize::new(0),
        }
    }

    /// The binary under test.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The `--root` state dir.
    pub fn root(&self) -> PathBuf {
        self.work.path().join("root")
    }

    /// A scratch dir private to this runtime (pid files, process.json...).
    pub fn scratch(&self) -> &Path {
        self.work.path()
    }

    /// Runs `<bin> --root <root> args...` with stdin from /dev/null.
    pub fn cmd<I, S>(&self, args: I) -> CmdOutput
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd_full(args, None).0
    }

    /// Like [`Runtime::cmd`], with `fds` open in the runtime process as fds
    /// 3, 4, ... (for `--preserve-fds`).
    pub fn cmd_with_fds<I, S>(&self, args: I, fds: &[BorrowedFd<'_>]) -> CmdOutput
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        match self.try_cmd_io(args, None, fds) {
            Ok(r) => r.0,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Runtime::cmd`] with `stdin` fed to the command.
    pub fn cmd_stdin<I, S>(&self, args: I, stdin: &[u8]) -> CmdOutput
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd_full(args, Some(stdin)).0
    }

    /// Runs a command; also returns the paths of its stdout and stderr files,
    /// which keep receiving whatever a container that inherited them writes.
    pub fn cmd_full<I, S>(&self, args: I, stdin: Option<&[u8]>) -> (CmdOutput, PathBuf, PathBuf)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        match self.try_cmd(args, stdin) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// The non-panicking core of [`Runtime::cmd_full`], for drop paths.
    fn try_cmd<I, S>(
        &self,
        args: I,
        stdin: Option<&[u8]>,
    ) -> Result<(CmdOutput, PathBuf, PathBuf), String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.try_cmd_io(args, stdin, &[])
    }

    fn try_cmd_io<I, S>(
        &self,
        args: I,
        stdin: Option<&[u8]>,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(CmdOutput, PathBuf, PathBuf), String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut full: Vec<OsString> = vec!["--root".into(), self.root().into()];
        full.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        let shown: Vec<String> = full
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let io = self.work.path().join("io");
        let out_path = io.join(format!("{n}.stdout"));
        let err_path = io.join(format!("{n}.stderr"));
        let create = |p: &Path| File::create(p).map_err(|e| format!("create {}: {e}", p.display()));
        let stdin = match stdin {
            Some(data) => {
                let p = io.join(format!("{n}.stdin"));
                fs::write(&p, data).map_err(|e| format!("write {}: {e}", p.display()))?;
                Stdio::from(File::open(&p).map_err(|e| format!("open {}: {e}", p.display()))?)
            }
            None => Stdio::null(),
        };
        let mut command = Command::new(&self.bin);
        command
            .args(&full)
            .stdin(stdin)
            .stdout(create(&out_path)?)
            .stderr(create(&err_path)?);
        if !fds.is_empty() {
            pass_fds(&mut command, fds);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("spawn {} {shown:?}: {e}", self.bin.display()))?;
        let pid = child.id() as i32;
        let pidfd = pidfd_open(pid).map_err(|e| format!("pidfd_open {pid}: {e}"))?;
        if !wait_readable(pidfd.as_fd(), Instant::now() + HANG_GUARD) {
            let _ = child.kill();
            // A task stuck in a frozen cgroup does not die until thawed: reap
            // it only if it goes away soon, never block on it.
            if wait_readable(
                pidfd.as_fd(),
                Instant::now() + std::time::Duration::from_secs(5),
            ) {
                let _ = child.wait();
            }
            return Err(format!(
                "runtime command hung for {HANG_GUARD:?} and was killed: {} {shown:?}; stderr: {:?}",
                self.bin.display(),
                fs::read_to_string(&err_path).unwrap_or_default()
            ));
        }
        let status = child.wait().map_err(|e| format!("wait {pid}: {e}"))?;
        let read =
            |p: &Path| fs::read_to_string(p).map_err(|e| format!("read {}: {e}", p.display()));
        let out = CmdOutput {
            args: shown,
            status,
            stdout: read(&out_path)?,
            stderr: read(&err_path)?,
        };
        Ok((out, out_path, err_path))
    }

    /// A container handle with a fresh unique id for `bundle`.
    pub fn container(&self, bundle: &Bundle) -> Container<'_> {
        self.container_with_id(bundle, &unique_name("bt"))
    }

    /// A container handle with a given id (for tests about ids).
    pub fn container_with_id(&self, bundle: &Bundle, id: &str) -> Container<'_> {
        Container {
            rt: self,
            id: id.to_owned(),
            bundle: bundle.path().to_owned(),
            pid_file: self.work.path().join(format!("{id}.pid")),
            stdio: RefCell::new(None),
            armed: true,
        }
    }

    /// `list --format json`, parsed; runc prints `null` for no containers,
    /// which is returned as an empty array.
    #[track_caller]
    pub fn list_json(&self) -> Value {
        match self.cmd(["list", "--format", "json"]).ok().json() {
            Value::Null => Value::Array(Vec::new()),
            v => v,
        }
    }

    /// Container ids the state dir currently holds (one entry per id, as
    /// runc lays it out).
    pub fn state_entries(&self) -> Vec<String> {
        let Ok(dir) = fs::read_dir(self.root()) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for id in self.state_entries() {
            if let Err(e) = self.try_cmd(["delete", "--force", id.as_str()], None) {
                eprintln!("cleanup: delete --force {id}: {e}");
            }
        }
    }
}

/// One container id in a [`Runtime`]; force-deleted on drop.
pub struct Container<'rt> {
    rt: &'rt Runtime,
    id: String,
    bundle: PathBuf,
    pid_file: PathBuf,
    /// stdout/stderr files of the command that started the container
    /// process (`create`, `run`), which the container inherited.
    stdio: RefCell<Option<(PathBuf, PathBuf)>>,
    /// Whether drop runs `delete --force`.
    armed: bool,
}

impl Container<'_> {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Skips the `delete --force` on drop: for a handle whose id belongs to
    /// another handle, or is invalid (a runtime might resolve `../x` against
    /// its state dir while deleting).
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    /// The runtime this container lives in.
    pub fn runtime(&self) -> &Runtime {
        self.rt
    }

    /// The `--pid-file` path passed to `create` and `run`.
    pub fn pid_file(&self) -> &Path {
        &self.pid_file
    }

    fn bundle_args(&self) -> Vec<OsString> {
        vec![
            "--bundle".into(),
            self.bundle.clone().into(),
            "--pid-file".into(),
            self.pid_file.clone().into(),
        ]
    }

    fn launch(&self, verb: &str, extra: &[&str]) -> CmdOutput {
        let mut args: Vec<OsString> = vec![verb.into()];
        args.extend(self.bundle_args());
        args.extend(extra.iter().map(OsString::from));
        args.push(self.id.clone().into());
        let (out, o, e) = self.rt.cmd_full(args, None);
        *self.stdio.borrow_mut() = Some((o, e));
        out
    }

    /// `create --bundle B --pid-file P [extra...] ID`.
    pub fn create_with(&self, extra: &[&str]) -> CmdOutput {
        self.launch("create", extra)
    }

    /// `create --bundle B --pid-file P ID`.
    pub fn create(&self) -> CmdOutput {
        self.create_with(&[])
    }

    /// `run --bundle B --pid-file P [extra...] ID`.
    pub fn run_with(&self, extra: &[&str]) -> CmdOutput {
        self.launch("run", extra)
    }

    /// `run` in the foreground: returns when the container exited.
    pub fn run(&self) -> CmdOutput {
        self.run_with(&[])
    }

    /// `run --detach`.
    pub fn run_detached(&self) -> CmdOutput {
        self.run_with(&["--detach"])
    }

    /// Runs `verb [opts...] ID [tail...]`.
    pub fn verb(&self, verb: &str, opts: &[&str], tail: &[&str]) -> CmdOutput {
        let mut args: Vec<&str> = vec![verb];
        args.extend_from_slice(opts);
        args.push(&self.id);
        args.extend_from_slice(tail);
        self.rt.cmd(args)
    }

    /// `start ID`.
    pub fn start(&self) -> CmdOutput {
        self.verb("start", &[], &[])
    }

    /// `state ID`.
    pub fn state(&self) -> CmdOutput {
        self.verb("state", &[], &[])
    }

    /// `state ID` parsed; panics when the command fails.
    #[track_caller]
    pub fn state_json(&self) -> Value {
        self.state().ok().json()
    }

    /// The `status` field of `state`.
    #[track_caller]
    pub fn status(&self) -> String {
        self.state_json()["status"]
            .as_str()
            .expect("state has a status string")
            .to_owned()
    }

    /// The `pid` field of `state`.
    #[track_caller]
    pub fn pid(&self) -> i32 {
        let pid = self.state_json()["pid"].as_i64().expect("state has a pid");
        i32::try_from(pid).expect("pid fits i32")
    }

    /// The pid written to the pid file.
    #[track_caller]
    pub fn pid_from_file(&self) -> i32 {
        let text = fs::read_to_string(&self.pid_file)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.pid_file.display()));
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("pid file holds {text:?}: {e}"))
    }

    /// `kill ID SIGNAL`.
    pub fn kill(&self, signal: &str) -> CmdOutput {
        self.verb("kill", &[], &[signal])
    }

    /// `kill --all ID SIGNAL`.
    pub fn kill_all(&self, signal: &str) -> CmdOutput {
        self.verb("kill", &["--all"], &[signal])
    }

    /// `delete ID`.
    pub fn delete(&self) -> CmdOutput {
        self.verb("delete", &[], &[])
    }

    /// `delete --force ID`.
    pub fn delete_force(&self) -> CmdOutput {
        self.verb("delete", &["--force"], &[])
    }

    /// `pause ID`.
    pub fn pause(&self) -> CmdOutput {
        self.verb("pause", &[], &[])
    }

    /// `resume ID`.
    pub fn resume(&self) -> CmdOutput {
        self.verb("resume", &[], &[])
    }

    /// `ps --format json ID`, parsed.
    #[track_caller]
    pub fn ps_json(&self) -> Value {
        self.verb("ps", &["--format", "json"], &[]).ok().json()
    }

    /// `events --stats ID`.
    pub fn events_stats(&self) -> CmdOutput {
        self.verb("events", &["--stats"], &[])
    }

    /// `update [opts...] ID`.
    pub fn update(&self, opts: &[&str]) -> CmdOutput {
        self.verb("update", opts, &[])
    }

    /// `update --resources - ID` with `resources` on stdin.
    pub fn update_resources(&self, resources: &Value) -> CmdOutput {
        let args = ["update", "--resources", "-", self.id.as_str()];
        self.rt.cmd_stdin(args, resources.to_string().as_bytes())
    }

    /// `exec [opts...] ID cmd...`.
    pub fn exec_with(&self, opts: &[&str], cmd: &[&str]) -> CmdOutput {
        self.verb("exec", opts, cmd)
    }

    /// `exec ID cmd...`.
    pub fn exec(&self, cmd: &[&str]) -> CmdOutput {
        self.exec_with(&[], cmd)
    }

    /// What the container process wrote to its stdout so far (the stdout
    /// file of the `create` or `run` that started it).
    pub fn stdout(&self) -> String {
        self.stdio_file(0)
    }

    /// What the container process wrote to its stderr so far, after the
    /// runtime's own messages from `create`/`run`.
    pub fn stderr(&self) -> String {
        self.stdio_file(1)
    }

    /// Polls the container's stdout until it contains `needle`; returns it.
    /// Panics after [`HANG_GUARD`].
    #[track_caller]
    pub fn wait_stdout(&self, needle: &str) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let out = self.stdout();
            if out.contains(needle) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "container {} never printed {needle:?}; stdout {out:?}, stderr {:?}",
                self.id,
                self.stderr()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    fn stdio_file(&self, which: usize) -> String {
        let stdio = self.stdio.borrow();
        let (o, e) = stdio.as_ref().expect("container was not created or run");
        let p = if which == 0 { o } else { e };
        fs::read_to_string(p).unwrap_or_else(|err| panic!("read {}: {err}", p.display()))
    }

    /// Waits until the container's init process has exited, then until
    /// `state` reports "stopped". Panics after [`HANG_GUARD`].
    #[track_caller]
    pub fn wait_stopped(&self) {
        let deadline = Instant::now() + HANG_GUARD;
        let pid = self.pid();
        // A pidfd becomes readable when the process exits, zombie or not
        // (pidfd_open(2)); ESRCH means it is already gone.
        if let Ok(fd) = pidfd_open(pid) {
            assert!(
                wait_readable(fd.as_fd(), deadline),
                "container {} pid {pid} did not exit",
                self.id
            );
        }
        // The runtime may take a moment to notice (e.g. an unreaped zombie).
        loop {
            let status = self.status();
            if status == "stopped" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "container {} stays {status:?}",
                self.id
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Polls `state` until the status is `want`. Panics after [`HANG_GUARD`].
    #[track_caller]
    pub fn wait_status(&self, want: &str) {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let status = self.status();
            if status == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "container {} stays {status:?}, want {want:?}",
                self.id
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let pid = fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok());
        if let Err(e) = self
            .rt
            .try_cmd(["delete", "--force", self.id.as_str()], None)
        {
            eprintln!("cleanup: delete --force {}: {e}", self.id);
        }
        // Belt and braces for a runtime under test that fails to clean up:
        // kill what is left of the container. Only processes proven to be
        // the container's are hit: the init if still in another pid
        // namespace (a recycled pid of a host process is not), and anything
        // whose root is the bundle's rootfs.
        let mut leftovers = processes_rooted_in(&self.bundle.join("rootfs"));
        if let Some(pid) = pid.filter(|p| in_other_pid_ns(*p) && !leftovers.contains(p)) {
            leftovers.push(pid);
        }
        for pid in leftovers {
            eprintln!(
                "cleanup: container {} process {pid} survived delete; killing it",
                self.id
            );
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Makes `fds` appear as fds 3, 4, ... in the child, without O_CLOEXEC.
fn pass_fds(command: &mut Command, fds: &[BorrowedFd<'_>]) {
    let sources: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let first_free = 3 + sources.len() as RawFd;
    // Scratch space allocated here, because the child must not allocate.
    let mut parked: Vec<RawFd> = vec![-1; sources.len()];
    let hook = move || {
        // Park every source above the target range first, so a source that
        // already sits at a target number is not overwritten by an earlier
        // dup2.
        for (i, src) in sources.iter().enumerate() {
            // SAFETY: fcntl on an fd inherited from the parent; no memory.
            let fd = unsafe { libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, first_free) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            parked[i] = fd;
        }
        for (i, fd) in parked.iter().enumerate() {
            // SAFETY: dup2 between fds of this process; the copy it makes has
            // O_CLOEXEC cleared, which is the point.
            if unsafe { libc::dup2(*fd, 3 + i as RawFd) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec and only calls fcntl and
    // dup2, which are async-signal-safe, writing into memory allocated
    // before the fork.
    unsafe { command.pre_exec(hook) };
}

/// True when `pid` exists and is in a pid namespace other than ours.
pub fn in_other_pid_ns(pid: i32) -> bool {
    let theirs = fs::read_link(format!("/proc/{pid}/ns/pid"));
    let ours = fs::read_link("/proc/self/ns/pid");
    matches!((theirs, ours), (Ok(t), Ok(o)) if t != o)
}

/// Live processes whose root directory is `root`: the processes of a
/// container on that rootfs, whatever pid and mount namespace they are in.
///
/// Compared by device and inode through the `/proc/<pid>/root` magic link,
/// because the link's text is the path in the process's own mount namespace
/// (just "/" after pivot_root), not a host path.
pub fn processes_rooted_in(root: &Path) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(want) = fs::metadata(root) else {
        return Vec::new();
    };
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::metadata(format!("/proc/{pid}/root"))
                .is_ok_and(|m| m.dev() == want.dev() && m.ino() == want.ino())
        })
        .filter(|pid| pid_alive(*pid))
        .collect()
}

/// True when a process `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3, after the parenthesised comm (which may hold spaces).
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// pidfd_open(2): an fd that polls readable once `pid` exits.
pub fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
    // no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).expect("fd fits i32");
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
