//! Running the OCI runtime binary (runc's command-line contract).
//!
//! Every command is `<runtime> [runtime-args] --root R --log L --log-format
//! json <verb> ... <id>`. A command's argument vector is built as a value
//! ([`Runtime::argv`]) and unit-tested; [`Runtime::run`] executes it and
//! waits for it. The shim's loop is blocked meanwhile: runtime commands are
//! short, and serializing them keeps the container's lifecycle steps in
//! order. The one exception is the `delete` that follows init's exit
//! ([`Runtime::spawn`]): nothing else can run after it, and the loop keeps
//! answering (the daemon's `wait` above all) while it runs.
//!
//! A failed command's message is the last `"level":"error"` line it added to
//! the runtime log (runc logs every fatal error there), else what it printed,
//! else its exit status.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};

/// One runtime command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb<'a> {
    Create {
        bundle: &'a Path,
        pid_file: &'a Path,
        console: Option<&'a Path>,
    },
    Start,
    Kill {
        signal: i32,
        all: bool,
    },
    Pause,
    Resume,
    /// Resources JSON on stdin.
    Update,
    Exec {
        process: &'a Path,
        pid_file: &'a Path,
        console: Option<&'a Path>,
    },
    Delete {
        force: bool,
    },
}

impl Verb<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Verb::Create { .. } => "create",
            Verb::Start => "start",
            Verb::Kill { .. } => "kill",
            Verb::Pause => "pause",
            Verb::Resume => "resume",
            Verb::Update => "update",
            Verb::Exec { .. } => "exec",
            Verb::Delete { .. } => "delete",
        }
    }
}

/// The stdio of a runtime command.
pub enum RunIo<'a> {
    /// The runtime's stdio is handed on to the container process it starts
    /// (`create` or `exec` without a terminal). `stderr_reader` is the read
    /// end of the stderr pipe, drained for the message of a failure.
    Inherit {
        stdin: BorrowedFd<'a>,
        stdout: BorrowedFd<'a>,
        stderr: BorrowedFd<'a>,
        stderr_reader: Option<BorrowedFd<'a>>,
    },
    /// Output captured for the error message; `input` fed on stdin.
    Capture { input: Option<&'a [u8]> },
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("run {bin} {verb}: {source}")]
    Spawn {
        bin: PathBuf,
        verb: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("set up stdio of runtime {verb}: {source}")]
    Stdio {
        verb: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The runtime's own message, unchanged: the daemon wraps it the way
    /// Docker does ("OCI runtime create failed: ...").
    #[error("{message}")]
    Failed { verb: &'static str, message: String },
}

/// The runtime binary and the flags every command carries.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub bin: PathBuf,
    pub global_args: Vec<OsString>,
    pub root: PathBuf,
    pub log: PathBuf,
    pub id: String,
}

impl Runtime {
    /// The arguments (after the binary) of `verb`.
    pub fn argv(&self, verb: &Verb<'_>) -> Vec<OsString> {
        let mut a: Vec<OsString> = self.global_args.clone();
        for s in [
            OsString::from("--root"),
            self.root.clone().into(),
            "--log".into(),
            self.log.clone().into(),
            "--log-format".into(),
            "json".into(),
            verb.name().into(),
        ] {
            a.push(s);
        }
        let mut tail: Vec<OsString> = Vec::new();
        match verb {
            Verb::Create {
                bundle,
                pid_file,
                console,
            } => {
                a.extend(["--bundle".into(), bundle.as_os_str().into()]);
                a.extend(["--pid-file".into(), pid_file.as_os_str().into()]);
                if let Some(c) = console {
                    a.extend(["--console-socket".into(), c.as_os_str().into()]);
                }
            }
            Verb::Kill { signal, all } => {
                if *all {
                    a.push("--all".into());
                }
                tail.push(signal.to_string().into());
            }
            Verb::Update => a.extend(["--resources".into(), "-".into()]),
            Verb::Exec {
                process,
                pid_file,
                console,
            } => {
                a.extend(["--process".into(), process.as_os_str().into()]);
                a.extend(["--pid-file".into(), pid_file.as_os_str().into()]);
                a.push("--detach".into());
                if let Some(c) = console {
                    a.extend(["--console-socket".into(), c.as_os_str().into()]);
                }
            }
            Verb::Delete { force } => {
                if *force {
                    a.push("--force".into());
                }
            }
            Verb::Start | Verb::Pause | Verb::Resume => {}
        }
        a.push(self.id.clone().into());
        a.extend(tail);
        a
    }

    /// Runs `verb` and waits for it (waitpid on its pid only: the shim's
    /// loop reaps everything else).
    pub fn run(&self, verb: &Verb<'_>, io: RunIo<'_>) -> Result<(), RuntimeError> {
        let mut running = self.spawn(verb, io)?;
        let status = running.wait()?;
        self.finish(running, status)
    }

    /// Starts `verb` and returns without waiting: the caller reaps the
    /// child (its pid is [`Running::pid`]) and hands the status to
    /// [`Runtime::finish`].
    pub fn spawn<'a>(&self, verb: &Verb<'_>, io: RunIo<'a>) -> Result<Running<'a>, RuntimeError> {
        let name = verb.name();
        let stdio_err = |source| RuntimeError::Stdio { verb: name, source };
        let log_start = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new(&self.bin);
        cmd.args(self.argv(verb));
        // The shim blocks SIGCHLD for its signalfd, and a signal mask
        // survives fork and execve (sigprocmask(2)); std's Command does not
        // reset it, so the runtime, and the container it starts, would run
        // with SIGCHLD blocked.
        // SAFETY: the closure runs in the forked child before execve and
        // calls only sigprocmask(2), which is async-signal-safe
        // (signal-safety(7)); it allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                    .map_err(std::io::Error::from)
            });
        }
        let mut capture: Option<File> = None;
        let mut stderr_reader = None;
        match io {
            RunIo::Inherit {
                stdin,
                stdout,
                stderr,
                stderr_reader: reader,
            } => {
                let dup = |fd: BorrowedFd<'_>| fd.try_clone_to_owned().map_err(stdio_err);
                cmd.stdin(dup(stdin)?)
                    .stdout(dup(stdout)?)
                    .stderr(dup(stderr)?);
                stderr_reader = reader;
            }
            RunIo::Capture { input } => {
                let out = anon_file("runtime-output").map_err(stdio_err)?;
                cmd.stdout(out.try_clone().map_err(stdio_err)?)
                    .stderr(out.try_clone().map_err(stdio_err)?);
                match input {
                    Some(data) => {
                        let mut f = anon_file("runtime-input").map_err(stdio_err)?;
                        f.write_all(data).map_err(stdio_err)?;
                        f.seek(SeekFrom::Start(0)).map_err(stdio_err)?;
                        cmd.stdin(f);
                    }
                    None => {
                        cmd.stdin(Stdio::null());
                    }
                }
                capture = Some(out);
            }
        }
        let child = cmd.spawn().map_err(|source| RuntimeError::Spawn {
            bin: self.bin.clone(),
            verb: name,
            source,
        })?;
        // Drop the parent's copies of the child's stdio now (with `cmd`): a
        // pipe must see end-of-file when the container process closes it.
        Ok(Running {
            bin: self.bin.clone(),
            verb: name,
            child,
            log_start,
            capture,
            stderr_reader,
        })
    }

    /// The result of a command that ended with `status`.
    pub fn finish(&self, running: Running<'_>, status: ExitStatus) -> Result<(), RuntimeError> {
        if status.success() {
            return Ok(());
        }
        let name = running.verb;
        let mut printed = String::new();
        if let Some(mut f) = running.capture {
            let _ = f.seek(SeekFrom::Start(0));
            let _ = f.read_to_string(&mut printed);
        } else if let Some(fd) = running.stderr_reader {
            printed = drain_nonblocking(fd);
        }
        let message = last_log_error(&self.log, running.log_start)
            .or_else(|| {
                let t = printed.trim();
                (!t.is_empty()).then(|| t.to_owned())
            })
            .unwrap_or_else(|| format!("runtime {name} failed: {status}"));
        Err(RuntimeError::Failed {
            verb: name,
            message,
        })
    }
}

/// A runtime command that was started and has not been waited for.
pub struct Running<'a> {
    bin: PathBuf,
    verb: &'static str,
    child: Child,
    log_start: u64,
    capture: Option<File>,
    stderr_reader: Option<BorrowedFd<'a>>,
}

impl Running<'_> {
    pub fn pid(&self) -> i32 {
        // Pids fit in an i32 (pid_t); std hands them out as u32.
        self.child.id() as i32
    }

    /// Waits for the command (waitpid on its pid only). Only for a child
    /// nobody else reaped.
    pub fn wait(&mut self) -> Result<ExitStatus, RuntimeError> {
        self.child.wait().map_err(|source| RuntimeError::Spawn {
            bin: self.bin.clone(),
            verb: self.verb,
            source,
        })
    }
}

/// The [`ExitStatus`] of a waitpid(2) result (a wait status, as the kernel
/// encodes it: the code in the second byte, or the signal number).
pub fn exit_status(code: Option<i32>, signal: Option<i32>) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (code, signal) {
        (_, Some(sig)) => ExitStatus::from_raw(sig & 0x7f),
        (Some(code), None) => ExitStatus::from_raw((code & 0xff) << 8),
        (None, None) => ExitStatus::from_raw(0),
    }
}

fn anon_file(name: &str) -> std::io::Result<File> {
    let name = std::ffi::CString::new(name).expect("memfd name has no NUL");
    let fd: OwnedFd = memfd_create(name.as_c_str(), MFdFlags::MFD_CLOEXEC)?;
    Ok(File::from(fd))
}

/// What a non-blocking pipe holds right now (at most 64 KiB).
fn drain_nonblocking(fd: BorrowedFd<'_>) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < 64 * 1024 {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `msg` of the last `"level":"error"` JSON line of `log` after byte
/// `from`.
fn last_log_error(log: &Path, from: u64) -> Option<String> {
    let mut f = File::open(log).ok()?;
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut text = Vec::new();
    f.take(4 << 20).read_to_end(&mut text).ok()?;
    last_error_line(&String::from_utf8_lossy(&text))
}

fn last_error_line(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Line {
        level: Option<String>,
        msg: Option<String>,
    }
    text.lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .filter(|l| l.level.as_deref() == Some("error"))
        .filter_map(|l| l.msg)
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> Runtime {
        Runtime {
            bin: "/usr/sbin/runc".into(),
            global_args: vec!["--debug".into()],
            root: "/run/r".into(),
            log: "/s/runtime.log".into(),
            id: "c1".into(),
        }
    }

    fn line(verb: Verb<'_>) -> String {
        rt().argv(&verb)
            .iter()
            .map(|a| a.to_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    const G: &str = "--debug --root /run/r --log /s/runtime.log --log-format json";

    #[test]
    fn argument_vectors() {
        let create = Verb::Create {
            bundle: Path::new("/b"),
            pid_file: Path::new("/s/init.pid"),
            console: Some(Path::new("/s/console.sock")),
        };
        assert_eq!(
            line(create),
            format!(
                "{G} create --bundle /b --pid-file /s/init.pid --console-socket /s/console.sock c1"
            )
        );
        assert_eq!(line(Verb::Start), format!("{G} start c1"));
        assert_eq!(
            line(Verb::Kill {
                signal: 15,
                all: true
            }),
            format!("{G} kill --all c1 15")
        );
        assert_eq!(line(Verb::Update), format!("{G} update --resources - c1"));
        let exec = Verb::Exec {
            process: Path::new("/s/p.json"),
            pid_file: Path::new("/s/p.pid"),
            console: None,
        };
        assert_eq!(
            line(exec),
            format!("{G} exec --process /s/p.json --pid-file /s/p.pid --detach c1")
        );
        assert_eq!(
            line(Verb::Delete { force: true }),
            format!("{G} delete --force c1")
        );
        assert_eq!(
            line(Verb::Delete { force: false }),
            format!("{G} delete c1")
        );
    }

    #[test]
    fn error_message_is_last_error_line() {
        let text = concat!(
            "{\"level\":\"warning\",\"msg\":\"w\",\"time\":\"t\"}\n",
            "{\"level\":\"error\",\"msg\":\"first\",\"time\":\"t\"}\n",
            "not json\n",
            "{\"level\":\"error\",\"msg\":\"exec: \\\"nope\\\": not found\",\"time\":\"t\"}\n",
            "{\"level\":\"info\",\"msg\":\"i\",\"time\":\"t\"}\n",
        );
        assert_eq!(
            last_error_line(text).as_deref(),
            Some("exec: \"nope\": not found")
        );
        assert_eq!(
            last_error_line("{\"level\":\"info\",\"msg\":\"x\"}\n"),
            None
        );
    }

    #[test]
    fn failure_reports_log_line_then_output() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runtime.log");
        std::fs::write(&log, "{\"level\":\"error\",\"msg\":\"old\"}\n").unwrap();
        let script = dir.path().join("rt");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncase \"$*\" in *start*) echo '{{\"level\":\"error\",\"msg\":\"new\"}}' >> {};; esac\n\
                 echo printed; exit 1\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut r = rt();
        r.bin = script;
        r.log = log;
        r.global_args.clear();
        let err = r
            .run(&Verb::Start, RunIo::Capture { input: None })
            .unwrap_err();
        assert_eq!(err.to_string(), "new");
        // Without a new log line the old one is not reported.
        let err = r
            .run(&Verb::Pause, RunIo::Capture { input: None })
            .unwrap_err();
        assert_eq!(err.to_string(), "printed");
    }
}
