//! OCI lifecycle hooks (`prestart`, `createRuntime`, `createContainer`,
//! `startContainer`, `poststart`, `poststop`).
//!
//! [`run`] executes one list of hooks in order. Each hook gets:
//! - `argv` = `args` as given (`args[0]` is `argv[0]`, as for `execve`), or
//!   just the path when `args` is absent or empty;
//! - exactly the environment in `env`, nothing inherited from the runtime;
//! - the container state JSON on stdin, then end-of-file;
//! - no file descriptors but stdin, stdout and stderr.
//!
//! The first hook that fails, exits non-zero or outlives its `timeout` stops
//! the list. All hooks are checked before the first one runs.
//!
//! No threads are used: the pipes and the hook's exit are multiplexed with
//! `poll(2)` on a pidfd, so `run` is usable in a forked, single-threaded init.
//! Writing to a hook that exits without reading its stdin must not kill the
//! runtime, so `SIGPIPE` has to be ignored (as Rust programs do by default).

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use oci_spec::runtime::Hook;

/// How much of a hook's stdout and stderr is kept for the error message.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// Which hook an error is about: its list, its position in it, its path.
#[derive(Debug, Clone)]
pub struct HookId {
    pub kind: String,
    pub index: usize,
    pub path: PathBuf,
}

impl std::fmt::Display for HookId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} hook #{} ({})",
            self.kind,
            self.index,
            self.path.display()
        )
    }
}

/// Errors from running hooks.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{0}: path is not absolute")]
    RelativePath(Box<HookId>),
    #[error("{hook}: env entry {entry:?} is not KEY=VALUE")]
    InvalidEnv { hook: Box<HookId>, entry: String },
    #[error("{hook}: timeout must be positive, got {timeout}")]
    InvalidTimeout { hook: Box<HookId>, timeout: i64 },
    #[error("error running {hook}: start: {source}")]
    Spawn {
        hook: Box<HookId>,
        #[source]
        source: std::io::Error,
    },
    #[error("error running {hook}: {op}: {source}{cleanup}")]
    Io {
        hook: Box<HookId>,
        op: &'static str,
        #[source]
        source: std::io::Error,
        cleanup: Cleanup,
    },
    /// runc's words: "error running hook #N: exit status 1, stdout: ..., stderr: ...".
    #[error("error running {hook}: {status}, stdout: {stdout}, stderr: {stderr}")]
    Failed {
        hook: Box<HookId>,
        status: String,
        stdout: String,
        stderr: String,
    },
    #[error("{} hook {} timed out after {seconds}s{cleanup}", .hook.kind, .hook.path.display())]
    TimedOut {
        hook: Box<HookId>,
        seconds: u64,
        cleanup: Cleanup,
    },
}

/// A failure while killing and reaping a hook after another error; shown
/// after the original error instead of replacing it.
#[derive(Debug, Default)]
pub struct Cleanup(Option<std::io::Error>);

impl std::fmt::Display for Cleanup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(e) => write!(f, " (and killing the hook failed: {e})"),
            None => Ok(()),
        }
    }
}

/// Runs `hooks` in order, each with `state_json` on its stdin. `kind` names
/// the list in errors (`"prestart"`, `"poststop"`, ...).
pub fn run(hooks: &[Hook], state_json: &[u8], kind: &str) -> Result<(), HookError> {
    let prepared = hooks
        .iter()
        .enumerate()
        .map(|(index, hook)| Prepared::new(hook, index, kind))
        .collect::<Result<Vec<_>, _>>()?;
    for hook in prepared {
        hook.run(state_json)?;
    }
    Ok(())
}

/// A hook checked and turned into a command, not yet started.
struct Prepared {
    command: Command,
    timeout: Option<Duration>,
    id: HookId,
}

impl Prepared {
    fn new(hook: &Hook, index: usize, kind: &str) -> Result<Self, HookError> {
        let path = hook.path().as_path();
        let id = || {
            Box::new(HookId {
                kind: kind.to_owned(),
                index,
                path: path.to_owned(),
            })
        };
        // The runtime spec requires an absolute path; a relative one would be
        // looked up in PATH by Command.
        if !path.is_absolute() {
            return Err(HookError::RelativePath(id()));
        }
        let timeout = match hook.timeout() {
            None => None,
            Some(secs) if secs > 0 => Some(Duration::from_secs(secs as u64)),
            Some(timeout) => {
                return Err(HookError::InvalidTimeout {
                    hook: id(),
                    timeout,
                });
            }
        };
        let mut command = Command::new(path);
        if let Some((argv0, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
            command.arg0(argv0).args(rest);
        }
        command.env_clear();
        for entry in hook.env().iter().flatten() {
            let (key, value) = entry.split_once('=').ok_or_else(|| HookError::InvalidEnv {
                hook: id(),
                entry: entry.clone(),
            })?;
            command.env(key, value);
        }
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let open_max = open_max();
        // SAFETY: the closure runs between fork and exec and only makes
        // async-signal-safe system calls (close_range, fcntl).
        unsafe { command.pre_exec(move || cloexec_from_3(open_max)) };
        Ok(Self {
            command,
            timeout,
            id: *id(),
        })
    }

    fn run(mut self, state: &[u8]) -> Result<(), HookError> {
        let hook = || Box::new(self.id.clone());
        let mut child = self.command.spawn().map_err(|source| HookError::Spawn {
            hook: hook(),
            source,
        })?;
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let outcome = pump(&mut child, state, deadline);
        let io_error = |op, source, cleanup| HookError::Io {
            hook: hook(),
            op,
            source,
            cleanup,
        };
        let (stdout, stderr) = match outcome {
            Ok(Pumped::Exited { stdout, stderr }) => (stdout, stderr),
            Ok(Pumped::TimedOut) => {
                return Err(HookError::TimedOut {
                    hook: hook(),
                    seconds: self.timeout.unwrap_or_default().as_secs(),
                    cleanup: kill(&mut child),
                });
            }
            Err((op, source)) => return Err(io_error(op, source, kill(&mut child))),
        };
        let status = child
            .wait()
            .map_err(|source| io_error("wait", source, Cleanup::default()))?;
        if status.success() {
            return Ok(());
        }
        Err(HookError::Failed {
            hook: hook(),
            status: describe(status),
            stdout: String::from_utf8_lossy(&stdout).trim_end().to_owned(),
            stderr: String::from_utf8_lossy(&stderr).trim_end().to_owned(),
        })
    }
}

enum Pumped {
    Exited { stdout: Vec<u8>, stderr: Vec<u8> },
    TimedOut,
}

/// Feeds `state` to the hook's stdin and collects its output until it exits
/// or the deadline passes. The hook is not reaped here.
fn pump(
    child: &mut Child,
    state: &[u8],
    deadline: Option<Instant>,
) -> Result<Pumped, (&'static str, std::io::Error)> {
    let pid = rustix::process::Pid::from_raw(child.id() as i32)
        .ok_or(("pidfd_open", std::io::Error::from(ErrorKind::InvalidInput)))?;
    // The child is not reaped until we wait for it, so its pid cannot be
    // reused under the pidfd.
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| ("pidfd_open", e.into()))?;
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    for fd in [
        stdin.as_ref().map(AsFd::as_fd),
        stdout.as_ref().map(AsFd::as_fd),
        stderr.as_ref().map(AsFd::as_fd),
    ]
    .into_iter()
    .flatten()
    {
        set_nonblocking(fd).map_err(|e| ("set pipe non-blocking", e))?;
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut written = 0;
    if state.is_empty() {
        stdin = None;
    }
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Pumped::TimedOut);
                }
                // Round up so we do not wake just before the deadline.
                let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128);
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        // Where each still-open pipe sits in `fds`: stdin, stdout, stderr.
        let mut slots = [None; 3];
        let pipes = [
            (stdin.as_ref().map(AsFd::as_fd), PollFlags::POLLOUT),
            (stdout.as_ref().map(AsFd::as_fd), PollFlags::POLLIN),
            (stderr.as_ref().map(AsFd::as_fd), PollFlags::POLLIN),
        ];
        for (slot, (fd, events)) in slots.iter_mut().zip(pipes) {
            if let Some(fd) = fd {
                *slot = Some(fds.len());
                fds.push(PollFd::new(fd, events));
            }
        }
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(("poll", e.into())),
        }
        // Any event counts: POLLHUP and POLLERR are answered by the next
        // read or write, which reports end-of-file or EPIPE.
        let ready = |slot: Option<usize>| {
            slot.is_some_and(|i| fds[i].revents().is_some_and(|r| !r.is_empty()))
        };
        let [in_ready, out_ready, err_ready] = slots.map(ready);
        let exited = ready(Some(0));
        drop(fds);
        if in_ready {
            if let Some(pipe) = stdin.as_mut() {
                match pipe.write(&state[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    // The hook closed its stdin without reading everything:
                    // not an error of ours, its exit status tells.
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => written = state.len(),
                    Err(e) => return Err(("write state to stdin", e)),
                }
            }
            if written == state.len() {
                stdin = None;
            }
        }
        if out_ready {
            drain(&mut stdout, &mut out).map_err(|e| ("read stdout", e))?;
        }
        if err_ready {
            drain(&mut stderr, &mut err).map_err(|e| ("read stderr", e))?;
        }
        if exited {
            // Whatever the hook wrote before exiting is in the pipes now; a
            // process it left behind may keep them open, so do not wait for
            // end-of-file.
            drain(&mut stdout, &mut out).map_err(|e| ("read stdout", e))?;
            drain(&mut stderr, &mut err).map_err(|e| ("read stderr", e))?;
            return Ok(Pumped::Exited {
                stdout: out,
                stderr: err,
            });
        }
    }
}

/// Reads what is available from a non-blocking pipe; closes it at EOF.
fn drain<R: Read>(pipe: &mut Option<R>, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let Some(reader) = pipe.as_mut() else {
        return Ok(());
    };
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => {
                *pipe = None;
                return Ok(());
            }
            Ok(n) => {
                let keep = n.min(OUTPUT_LIMIT.saturating_sub(buf.len()));
                buf.extend_from_slice(&chunk[..keep]);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn set_nonblocking(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<()> {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    let flags = fcntl_getfl(fd)?;
    fcntl_setfl(fd, flags | OFlags::NONBLOCK)?;
    Ok(())
}

/// Kills and reaps a hook after an error or a timeout (runc kills only the
/// hook process, not what it started).
fn kill(child: &mut Child) -> Cleanup {
    Cleanup(child.kill().and_then(|()| child.wait().map(drop)).err())
}

/// An exit status in the words Go's `os/exec` uses, which runc prints.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => match nix::sys::signal::Signal::try_from(sig) {
            Ok(signal) => format!("signal: {signal}"),
            Err(_) => format!("signal: {sig}"),
        },
        (None, None) => status.to_string(),
    }
}

/// `sysconf(_SC_OPEN_MAX)`, read before fork for the fallback below.
fn open_max() -> i32 {
    // SAFETY: sysconf takes a plain integer.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    i32::try_from(max).ok().filter(|&m| m > 3).unwrap_or(1024)
}

/// Marks every descriptor from 3 up close-on-exec, so the hook inherits only
/// stdio. Marking instead of closing keeps std's own exec-error pipe working
/// until `execve`.
fn cloexec_from_3(open_max: i32) -> std::io::Result<()> {
    // SAFETY: close_range takes plain integers; CLOSE_RANGE_CLOEXEC only
    // sets flags, it closes nothing.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk the table.
    for fd in 3..open_max {
        // SAFETY: fcntl on a descriptor number; EBADF for unused ones is fine.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).expect("valid hook")
    }

    /// A hook running `script` under /bin/sh, with OUT=<out> in its env.
    fn sh(script: &str, out: &Path) -> Hook {
        hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", script],
            "env": [format!("OUT={}", out.display())]
        }))
    }

    const STATE: &[u8] =
        br#"{"ociVersion":"1.0.2-dev","id":"c1","status":"creating","pid":42,"bundle":"/b"}"#;

    #[test]
    fn hooks_receive_the_state_on_stdin_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        let hooks = [
            sh(r#"cat > "$OUT""#, &first),
            // Runs second: the first hook's file already exists.
            sh(r#"test -s "${OUT%second}first" && cat > "$OUT""#, &second),
        ];
        run(&hooks, STATE, "prestart").unwrap();
        assert_eq!(std::fs::read(first).unwrap(), STATE);
        assert_eq!(std::fs::read(second).unwrap(), STATE);
    }

    #[test]
    fn hooks_failure_names_the_hook_and_carries_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let hooks = [
            sh("true", dir.path()),
            sh("echo partial; echo boom >&2; exit 3", dir.path()),
        ];
        let err = run(&hooks, STATE, "createRuntime").unwrap_err();
        assert!(
            matches!(&err, HookError::Failed { hook, .. } if hook.index == 1),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "error running createRuntime hook #1 (/bin/sh): exit status 3, \
             stdout: partial, stderr: boom"
        );

        let missing = hook(serde_json::json!({ "path": "/nonexistent/berth-hook" }));
        let err = run(&[missing], STATE, "poststop").unwrap_err();
        assert!(
            matches!(&err, HookError::Spawn { source, .. }
            if source.kind() == ErrorKind::NotFound),
            "{err:?}"
        );
    }

    #[test]
    fn hooks_past_their_timeout_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let mut slow = sh(r#"echo $$ > "$OUT"; exec sleep 30"#, &pid_file);
        slow.set_timeout(Some(1));
        let started = Instant::now();
        let err = run(&[slow], STATE, "poststart").unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(err.to_string(), "poststart hook /bin/sh timed out after 1s");
        assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        // Killed and reaped: the pid is gone (not even a zombie).
        assert!(!Path::new(&format!("/proc/{}", pid.trim())).exists());
    }

    #[test]
    fn hooks_get_exactly_their_env_and_argv() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let argv = dir.path().join("argv");
        let hooks = [
            hook(serde_json::json!({
                "path": "/bin/sh",
                "args": ["sh", "-c", "/usr/bin/env > \"$OUT\""],
                "env": [format!("OUT={}", out.display()), "FOO=bar=baz"]
            })),
            hook(serde_json::json!({
                "path": "/bin/sh",
                "args": ["custom-argv0", "-c", "echo \"$0\" > \"$OUT\""],
                "env": [format!("OUT={}", argv.display())]
            })),
        ];
        run(&hooks, STATE, "createContainer").unwrap();
        let env = std::fs::read_to_string(&out).unwrap();
        // dash exports PWD on its own; everything else must come from `env`.
        let mut vars: Vec<&str> = env.lines().filter(|l| !l.starts_with("PWD=")).collect();
        vars.sort();
        assert_eq!(
            vars,
            ["FOO=bar=baz".to_owned(), format!("OUT={}", out.display())]
        );
        assert_eq!(std::fs::read_to_string(&argv).unwrap(), "custom-argv0\n");
    }

    #[test]
    fn hooks_do_not_inherit_descriptors_beyond_stdio() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("fd");
        let file = std::fs::File::open("/dev/null").unwrap();
        // A descriptor without close-on-exec, as a careless caller might leave.
        // SAFETY: F_DUPFD takes a plain integer; the new fd is owned below.
        let leaked =
            unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&file), libc::F_DUPFD, 200) };
        assert!(leaked >= 200);
        // SAFETY: `leaked` is a fresh descriptor nothing else owns.
        let _leaked =
            unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(leaked) };
        let script = format!(
            r#"if [ -e /proc/self/fd/{leaked} ]; then echo leaked; else echo clean; fi > "$OUT""#
        );
        run(&[sh(&script, &out)], STATE, "startContainer").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "clean\n");
    }

    #[test]
    fn hooks_that_ignore_stdin_do_not_hang_or_fail() {
        // More than a pipe buffer of state, and a hook that never reads it.
        let big = vec![b'x'; 4 << 20];
        run(&[sh("exit 0", Path::new("/"))], &big, "prestart").unwrap();
        let script = hook(serde_json::json!({ "path": "/bin/true" }));
        run(&[script], &big, "prestart").unwrap();
    }

    #[test]
    fn hooks_are_all_checked_before_any_runs() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let mut bad_timeout = sh("true", dir.path());
        bad_timeout.set_timeout(Some(0));
        let err = run(
            &[sh(r#"touch "$OUT""#, &marker), bad_timeout],
            STATE,
            "prestart",
        )
        .unwrap_err();
        assert!(
            matches!(&err, HookError::InvalidTimeout { hook, .. } if hook.index == 1),
            "{err:?}"
        );
        assert!(!marker.exists());

        let bad_env = hook(serde_json::json!({ "path": "/bin/true", "env": ["NOEQUALS"] }));
        let err = run(
            &[sh(r#"touch "$OUT""#, &marker), bad_env],
            STATE,
            "prestart",
        )
        .unwrap_err();
        assert!(matches!(err, HookError::InvalidEnv { .. }), "{err:?}");
        let relative = hook(serde_json::json!({ "path": "true" }));
        let err = run(&[relative], STATE, "prestart").unwrap_err();
        assert!(matches!(err, HookError::RelativePath(_)), "{err:?}");
        assert!(!marker.exists());
    }
}
