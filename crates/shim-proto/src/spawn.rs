//! Starting a shim and reading its readiness line.
//!
//! The process [`spawn_shim`] runs forks the real shim (which calls
//! setsid(2) and outlives the caller), waits until it has run
//! `runtime create`, prints one readiness line and exits (status 0 after
//! `ok`, 1 after an error):
//! `{"ok":true,"shim_pid":N,"pid":INIT_PID}` or `{"ok":false,"error":"..."}`.
//! The daemonized shim has its stdio on /dev/null, so the caller's pipes
//! see end-of-file as soon as that first process exits.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde::{Deserialize, Serialize};

use crate::ShimError;

/// How long [`spawn_shim`] waits for the readiness line: `runtime create`
/// runs the bundle's hooks, which may be slow.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The json-file log the shim writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// The current log file; rotated files are `<path>.1`, `<path>.2`...
    pub path: PathBuf,
    /// Rotate before the file would exceed this many bytes; 0: never.
    pub max_size: u64,
    /// How many files to keep, the current one included (at least 1).
    pub max_file: u32,
}

/// Everything `berth-shim` needs to create one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimSpawn {
    /// The `berth-shim` binary.
    pub shim_binary: PathBuf,
    /// The container id the runtime knows it by.
    pub id: String,
    /// The OCI bundle (holds `config.json`); the shim's working directory.
    pub bundle: PathBuf,
    /// Where the shim keeps its socket, exit file, pid file and runtime log.
    /// It must exist.
    pub state_dir: PathBuf,
    /// The OCI runtime binary (runc's command-line contract).
    pub runtime: PathBuf,
    /// Global arguments placed before the runtime's own flags.
    pub runtime_args: Vec<String>,
    /// The runtime's `--root`.
    pub runtime_root: PathBuf,
    /// `None`: output is not logged (log driver "none").
    pub log: Option<LogConfig>,
    /// The container has a pty (the bundle's `process.terminal`).
    pub terminal: bool,
    /// The container's stdin is kept open for attach clients.
    pub stdin: bool,
    /// The first attach client's half-close closes the container's stdin.
    pub stdin_once: bool,
}

impl ShimSpawn {
    /// The shim's command line (without the binary).
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut pair = |flag: &str, value: OsString| {
            a.push(flag.into());
            a.push(value);
        };
        pair("--id", self.id.clone().into());
        pair("--bundle", self.bundle.clone().into());
        pair("--state-dir", self.state_dir.clone().into());
        pair("--runtime", self.runtime.clone().into());
        for arg in &self.runtime_args {
            pair("--runtime-arg", arg.into());
        }
        pair("--runtime-root", self.runtime_root.clone().into());
        if let Some(log) = &self.log {
            pair("--log-path", log.path.clone().into());
            pair("--log-max-size", log.max_size.to_string().into());
            pair("--log-max-file", log.max_file.to_string().into());
        }
        for (on, flag) in [
            (self.terminal, "--terminal"),
            (self.stdin, "--stdin"),
            (self.stdin_once, "--stdin-once"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        a
    }
}

/// A shim that created its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimReady {
    /// The daemonized shim.
    pub shim_pid: i32,
    /// The container's init process (created, waiting for `start`).
    pub pid: i32,
}

/// Runs the shim binary and returns once the container is created (or the
/// runtime failed: [`ShimError::CreateFailed`] carries its message).
pub fn spawn_shim(spawn: &ShimSpawn) -> Result<ShimReady, ShimError> {
    let binary = spawn.shim_binary.clone();
    let mut child = Command::new(&binary)
        .args(spawn.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ShimError::Spawn {
            binary: binary.clone(),
            source,
        })?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let line = match read_line(&mut stdout, Instant::now() + READY_TIMEOUT) {
        Ok(Some(line)) => line,
        Ok(None) => Vec::new(),
        Err(e) => {
            // Killing the first process makes the shim's readiness write
            // fail, and the shim then removes its container itself.
            let _ = child.kill();
            let _ = child.wait();
            return Err(match e {
                ReadError::Timeout => ShimError::ReadinessTimeout {
                    binary,
                    seconds: READY_TIMEOUT.as_secs(),
                },
                ReadError::Io(source) => ShimError::Readiness { binary, source },
            });
        }
    };
    let status = child.wait().map_err(|source| ShimError::Readiness {
        binary: binary.clone(),
        source,
    })?;
    if line.is_empty() {
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            // The first process has exited and the daemonized one holds no
            // copy of this pipe, so this ends.
            let _ = e.read_to_string(&mut stderr);
        }
        return Err(ShimError::NoReadiness {
            binary,
            status,
            stderr: stderr.trim().to_owned(),
        });
    }
    crate::decode_response::<ShimReady>("create", &line).map_err(|e| match e {
        ShimError::Remote { message, .. } => ShimError::CreateFailed {
            id: spawn.id.clone(),
            message,
        },
        other => other,
    })
}

enum ReadError {
    Timeout,
    Io(std::io::Error),
}

/// Reads up to and including the first newline; `None` at end of file
/// before any byte.
fn read_line(
    r: &mut std::process::ChildStdout,
    deadline: Instant,
) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Timeout);
        }
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(ReadError::Io(e.into())),
        }
        match r.read(&mut buf) {
            Ok(0) => return Ok((!line.is_empty()).then_some(line)),
            Ok(n) => {
                line.extend_from_slice(&buf[..n]);
                if let Some(pos) = line.iter().position(|&b| b == b'\n') {
                    line.truncate(pos + 1);
                    return Ok(Some(line));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ShimSpawn {
        ShimSpawn {
            shim_binary: "/bin/berth-shim".into(),
            id: "c1".into(),
            bundle: "/b".into(),
            state_dir: "/s".into(),
            runtime: "/bin/runc".into(),
            runtime_args: vec!["--systemd-cgroup".into()],
            runtime_root: "/r".into(),
            log: Some(LogConfig {
                path: "/l/c1-json.log".into(),
                max_size: 1024,
                max_file: 3,
            }),
            terminal: true,
            stdin: true,
            stdin_once: false,
        }
    }

    #[test]
    fn command_line_has_every_field() {
        let args: Vec<String> = sample()
            .args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args.join(" "),
            "--id c1 --bundle /b --state-dir /s --runtime /bin/runc \
             --runtime-arg --systemd-cgroup --runtime-root /r \
             --log-path /l/c1-json.log --log-max-size 1024 --log-max-file 3 \
             --terminal --stdin"
        );
    }

    #[test]
    fn readiness_lines_decode() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-shim");
        std::fs::write(
            &script,
            "#!/bin/sh\necho '{\"ok\":false,\"error\":\"no such bundle\"}'\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut spawn = sample();
        spawn.shim_binary = script.clone();
        let err = spawn_shim(&spawn).unwrap_err();
        assert_eq!(err.to_string(), "create container c1: no such bundle");

        std::fs::write(
            &script,
            "#!/bin/sh\necho '{\"ok\":true,\"shim_pid\":5,\"pid\":6}'\n",
        )
        .unwrap();
        let ready = spawn_shim(&spawn).unwrap();
        assert_eq!(
            ready,
            ShimReady {
                shim_pid: 5,
                pid: 6
            }
        );

        std::fs::write(&script, "#!/bin/sh\necho broken >&2\nexit 3\n").unwrap();
        match spawn_shim(&spawn).unwrap_err() {
            ShimError::NoReadiness { stderr, status, .. } => {
                assert_eq!(stderr, "broken");
                assert_eq!(status.code(), Some(3));
            }
            other => panic!("expected NoReadiness, got {other}"),
        }
    }
}
