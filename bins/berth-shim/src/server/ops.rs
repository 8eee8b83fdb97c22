//! The requests: one handler per `op`.
//!
//! A handler returns the connection's next step ([`Reply`]) or an
//! [`OpError`], which the client receives as `{"ok":false,"error":...}`.
//! Runtime commands run to completion inside the handler.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use berth_shim_proto::messages::Ack;
use berth_shim_proto::{ExecStarted, ExecState, Request, State, Status, encode_err, encode_ok};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{DELETE_GRACE, Exec, RuntimeDelete, Shim};
use crate::conn::Role;
use crate::console::{ConsoleError, ConsoleSocket, set_winsize};
use crate::io::{ProcIo, pipe, set_nonblocking};
use crate::runtime::{RunIo, RuntimeError, Verb};

/// The console socket of `runtime exec` with a terminal (one exec starts at
/// a time).
const EXEC_CONSOLE_FILE: &str = "exec-console.sock";
/// How long the pty master may take to arrive after the runtime returned
/// (it is queued by then).
pub const CONSOLE_TIMEOUT: Duration = Duration::from_secs(5);

/// What happens to the connection after its request.
enum Reply {
    /// Answer, then close.
    Done(Vec<u8>),
    /// Answer, then stream in this role.
    Stream(Vec<u8>, Role),
    /// Answer later.
    Park(Role),
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("invalid request: {0}")]
    BadRequest(#[source] serde_json::Error),
    #[error("container {id} is being deleted")]
    Deleting { id: String },
    #[error("container {id} is {status}, not created")]
    NotCreated { id: String, status: &'static str },
    #[error("container {id} is not running")]
    NotRunning { id: String },
    #[error("container {id} has no terminal")]
    NoTerminal { id: String },
    #[error("invalid signal {0}")]
    BadSignal(i32),
    #[error("invalid exec id {0:?}: use 1 to 128 of [A-Za-z0-9_.-]")]
    BadExecId(String),
    #[error("exec {0} already exists")]
    ExecExists(String),
    #[error("no such exec {0}")]
    NoExec(String),
    #[error("exec {0} has no terminal")]
    ExecNoTerminal(String),
    #[error("resize terminal: {0}")]
    Resize(#[source] Errno),
    #[error("write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("read pid file {path}: {reason}")]
    PidFile {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("set up exec stdio: {0}")]
    Stdio(#[source] Errno),
    #[error("open /dev/null: {0}")]
    DevNull(#[source] std::io::Error),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Console(#[from] ConsoleError),
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Created => "created",
        Status::Running => "running",
        Status::Paused => "paused",
        Status::Stopped => "stopped",
    }
}

fn ack() -> Vec<u8> {
    encode_ok(&Ack {})
}

impl Shim {
    /// Handles connection `i`'s request line.
    pub(super) fn handle_line(&mut self, i: usize, line: &[u8]) {
        let reply = match serde_json::from_slice::<Request>(line) {
            Ok(req) => self.handle(req),
            Err(e) => Err(OpError::BadRequest(e)),
        };
        let c = &mut self.conns[i];
        match reply {
            Ok(Reply::Done(answer)) => c.respond(&answer, Role::Closing),
            Ok(Reply::Stream(answer, role)) => c.respond(&answer, role),
            Ok(Reply::Park(role)) => c.role = role,
            Err(e) => c.respond(&encode_err(&e.to_string()), Role::Closing),
        }
    }

    fn handle(&mut self, req: Request) -> Result<Reply, OpError> {
        let id = || self.cfg.id.clone();
        if self.deleting.is_some() && !matches!(req, Request::State | Request::Wait) {
            return Err(OpError::Deleting { id: id() });
        }
        if !matches!(self.runtime_delete, RuntimeDelete::Pending)
            && matches!(
                req,
                Request::Kill { .. }
                    | Request::Pause
                    | Request::Resume
                    | Request::Update { .. }
                    | Request::Exec { .. }
            )
        {
            // Init is gone and the runtime has forgotten the container
            // (see `finish_init`): say so rather than relay the runtime's
            // "does not exist".
            return Err(OpError::NotRunning { id: id() });
        }
        let capture = || RunIo::Capture { input: None };
        match req {
            Request::Start => {
                if self.init.status != Status::Created {
                    return Err(OpError::NotCreated {
                        id: id(),
                        status: status_name(self.init.status),
                    });
                }
                self.rt.run(&Verb::Start, capture())?;
                if self.init.reaped.is_none() {
                    self.init.status = Status::Running;
                }
                Ok(Reply::Done(ack()))
            }
            Request::State => {
                let exit = self.init.reaped.as_ref();
                Ok(Reply::Done(encode_ok(&State {
                    status: self.init.status,
                    pid: self.init.pid,
                    exit_code: exit.map(|e| e.exit_code),
                    exited_at: exit.map(|e| e.exited_at.clone()),
                    oom_killed: exit.is_some_and(|e| e.oom_killed),
                })))
            }
            Request::Kill { signal, all } => {
                if !(1..=64).contains(&signal) {
                    return Err(OpError::BadSignal(signal));
                }
                self.rt.run(&Verb::Kill { signal, all }, capture())?;
                Ok(Reply::Done(ack()))
            }
            Request::Pause => {
                self.rt.run(&Verb::Pause, capture())?;
                if self.init.reaped.is_none() {
                    self.init.status = Status::Paused;
                }
                Ok(Reply::Done(ack()))
            }
            Request::Resume => {
                self.rt.run(&Verb::Resume, capture())?;
                if self.init.reaped.is_none() {
                    self.init.status = Status::Running;
                }
                Ok(Reply::Done(ack()))
            }
            Request::Update { resources } => {
                let input = serde_json::to_vec(&resources).expect("serialize a JSON value");
                self.rt.run(
                    &Verb::Update,
                    RunIo::Capture {
                        input: Some(&input),
                    },
                )?;
                Ok(Reply::Done(ack()))
            }
            Request::Wait => Ok(match &self.init.finished {
                Some(exit) => Reply::Done(encode_ok(exit)),
                None => Reply::Park(Role::Wait),
            }),
            Request::Resize { height, width } => {
                let fd = self
                    .init
                    .io
                    .tty_fd()
                    .ok_or_else(|| OpError::NoTerminal { id: id() })?;
                set_winsize(fd, height, width).map_err(OpError::Resize)?;
                Ok(Reply::Done(ack()))
            }
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => {
                if self.init.finished.is_some() {
                    // Nothing more will come: answer, then end of stream.
                    return Ok(Reply::Done(ack()));
                }
                let role = Role::Attach {
                    stdin: stdin && self.cfg.stdin,
                    stdout,
                    stderr,
                };
                Ok(Reply::Stream(ack(), role))
            }
            Request::CloseStdin => {
                self.init.io.close_stdin();
                Ok(Reply::Done(ack()))
            }
            Request::Exec {
                exec_id,
                process,
                detach,
            } => self.start_exec(exec_id, process, detach),
            Request::ExecState { exec_id } => {
                let e = self.exec(&exec_id)?;
                Ok(Reply::Done(encode_ok(&ExecState {
                    running: e.exit_code.is_none(),
                    pid: e.pid,
                    exit_code: e.exit_code,
                })))
            }
            Request::ExecResize {
                exec_id,
                height,
                width,
            } => {
                let e = self.exec(&exec_id)?;
                let fd =
                    e.io.tty_fd()
                        .ok_or_else(|| OpError::ExecNoTerminal(exec_id.clone()))?;
                set_winsize(fd, height, width).map_err(OpError::Resize)?;
                Ok(Reply::Done(ack()))
            }
            Request::Delete => {
                self.settle_runtime_delete();
                if !matches!(self.runtime_delete, RuntimeDelete::Done) {
                    let force = self.init.reaped.is_none();
                    match self.rt.run(&Verb::Delete { force }, capture()) {
                        Ok(()) => {}
                        // The runtime forgot the container already (an
                        // earlier delete got that far): what was asked
                        // for. containerd's runc shim reads runc's message
                        // the same way; without this such a container
                        // could never be removed.
                        Err(RuntimeError::Failed { message, .. })
                            if message.contains("does not exist") => {}
                        Err(e) => return Err(e.into()),
                    }
                    self.runtime_delete = RuntimeDelete::Done;
                }
                self.deleting = Some(Instant::now() + DELETE_GRACE);
                Ok(match self.init.finished {
                    Some(_) => Reply::Done(ack()),
                    None => Reply::Park(Role::DeleteWait),
                })
            }
        }
    }

    fn exec(&self, exec_id: &str) -> Result<&Exec, OpError> {
        self.execs
            .iter()
            .find(|e| e.id == exec_id)
            .ok_or_else(|| OpError::NoExec(exec_id.to_owned()))
    }

    fn start_exec(
        &mut self,
        exec_id: String,
        process: serde_json::Value,
        detach: bool,
    ) -> Result<Reply, OpError> {
        let id_ok = (1..=128).contains(&exec_id.len())
            && exec_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            && exec_id != "."
            && exec_id != "..";
        if !id_ok {
            return Err(OpError::BadExecId(exec_id));
        }
        if self.execs.iter().any(|e| e.id == exec_id) {
            return Err(OpError::ExecExists(exec_id));
        }
        if self.init.reaped.is_some() {
            return Err(OpError::NotRunning {
                id: self.cfg.id.clone(),
            });
        }
        let terminal = process
            .get("terminal")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let process_file = self.cfg.state_dir.join(format!("exec-{exec_id}.json"));
        let pid_file = self.cfg.state_dir.join(format!("exec-{exec_id}.pid"));
        let bytes = serde_json::to_vec(&process).expect("serialize a JSON value");
        std::fs::write(&process_file, bytes).map_err(|source| OpError::Write {
            path: process_file.clone(),
            source,
        })?;
        let _ = std::fs::remove_file(&pid_file);
        let started = self.run_exec(&process_file, &pid_file, terminal, detach);
        let _ = std::fs::remove_file(&process_file);
        let _ = std::fs::remove_file(&pid_file);
        let (pid, io) = started?;
        self.execs.push(Exec {
            id: exec_id.clone(),
            pid,
            io,
            exit_code: None,
            drain_until: None,
            finished: false,
        });
        let answer = encode_ok(&ExecStarted { pid });
        Ok(if detach {
            Reply::Done(answer)
        } else {
            Reply::Stream(answer, Role::Exec { exec_id })
        })
    }

    /// Runs `runtime exec --detach` with the exec's stdio and returns its
    /// pid and the shim's ends of that stdio.
    fn run_exec(
        &self,
        process: &Path,
        pid_file: &Path,
        terminal: bool,
        detach: bool,
    ) -> Result<(i32, ProcIo), OpError> {
        if terminal {
            let console = ConsoleSocket::bind(self.cfg.state_dir.join(EXEC_CONSOLE_FILE))?;
            let verb = Verb::Exec {
                process,
                pid_file,
                console: Some(console.path()),
            };
            self.rt.run(&verb, RunIo::Capture { input: None })?;
            let pid = read_pid(pid_file)?;
            let master = console.receive(CONSOLE_TIMEOUT).inspect_err(|_| {
                // A process without its terminal is of no use to anyone.
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            })?;
            // A detached exec's output is read and dropped, so it never
            // blocks on a full terminal.
            let io = ProcIo::tty(master, !detach).map_err(OpError::Stdio)?;
            return Ok((pid, io));
        }
        let verb = Verb::Exec {
            process,
            pid_file,
            console: None,
        };
        if detach {
            let null = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(OpError::DevNull)?;
            let io = RunIo::Inherit {
                stdin: null.as_fd(),
                stdout: null.as_fd(),
                stderr: null.as_fd(),
                stderr_reader: None,
            };
            self.rt.run(&verb, io)?;
            return Ok((read_pid(pid_file)?, ProcIo::default()));
        }
        let (in_r, in_w) = pipe().map_err(OpError::Stdio)?;
        let (out_r, out_w) = pipe().map_err(OpError::Stdio)?;
        let (err_r, err_w) = pipe().map_err(OpError::Stdio)?;
        set_nonblocking(err_r.as_fd()).map_err(OpError::Stdio)?;
        let io = RunIo::Inherit {
            stdin: in_r.as_fd(),
            stdout: out_w.as_fd(),
            stderr: err_w.as_fd(),
            stderr_reader: Some(err_r.as_fd()),
        };
        self.rt.run(&verb, io)?;
        // Only the exec process may hold these ends now: its exit must be
        // end-of-file on our ends.
        drop::<[OwnedFd; 3]>([in_r, out_w, err_w]);
        let pid = read_pid(pid_file)?;
        let io = ProcIo::pipes(Some(out_r), Some(err_r), Some(in_w)).map_err(OpError::Stdio)?;
        Ok((pid, io))
    }
}

/// The pid a runtime wrote to `--pid-file`.
pub fn read_pid(path: &Path) -> Result<i32, OpError> {
    let err = |reason: String| OpError::PidFile {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    match text.trim().parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(err(format!("not a pid: {:?}", text.trim()))),
    }
}
