//! `exec`: a new process in a running container's namespaces and cgroup.
//!
//! Same stage-1 protocol as `create` (see `process.rs`), except that every
//! namespace is joined through the container init's `/proc/<pid>/ns/*`, and
//! the process skips the rootfs, hooks and the exec fifo: after `Ready` it
//! `execve`s at once, and its end of the channel closing (close-on-exec) is
//! the parent's proof that `execve` worked.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::Process;

use crate::cgroups::Cgroup;
use crate::channel;
use crate::container::{ContainerError, Runtime, load_saved_spec, write_pid_file};
use crate::namespaces::NamespacePlan;
use crate::process::{ProcessContext, Role};
use crate::setup::{drive_setup, spawn_stage1};
use crate::state::Status;

/// Options of `exec`.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    /// The caller waits for the process in the foreground (and may hold its
    /// terminal itself when no console socket is given).
    pub foreground: bool,
    /// Exec even into a paused container (the process starts frozen).
    pub ignore_paused: bool,
}

/// A started exec process.
#[derive(Debug)]
pub struct Execed {
    pub pid: i32,
    pub warnings: Vec<String>,
    /// The pty master, when the caller holds the terminal itself.
    pub console: Option<OwnedFd>,
}

impl Runtime {
    /// Starts `o.process` inside container `id`; returns once it has exec'd.
    pub fn exec(&self, id: &str, o: ExecOptions) -> Result<Execed, ContainerError> {
        let (dir, st) = self.open(id)?;
        match dir.status(&st) {
            Status::Stopped => return Err(ContainerError::ExecStopped),
            Status::Paused if !o.ignore_paused => return Err(ContainerError::ExecPaused),
            _ => {}
        }
        let spec = load_saved_spec(&dir)?;
        let terminal = o.process.terminal().unwrap_or(false);
        if terminal && o.console_socket.is_none() && !o.foreground {
            return Err(ContainerError::TerminalWithoutSocket);
        }
        if !terminal && o.console_socket.is_some() {
            return Err(ContainerError::SocketWithoutTerminal);
        }
        let linux = spec.linux().clone().unwrap_or_default();
        let plan = NamespacePlan::for_exec(linux.namespaces().as_deref().unwrap_or(&[]), st.pid)?;
        let joins = plan.open_joins()?;
        let cgroup = Cgroup::from_config(&st.cgroup);
        let (console_socket, console_peer) = match (&o.console_socket, terminal) {
            (Some(p), true) => (Some(crate::console::connect(p)?), None),
            (None, true) => {
                let (a, b) = std::os::unix::net::UnixStream::pair().map_err(|source| {
                    ContainerError::Io {
                        op: "create console socketpair",
                        path: PathBuf::from("-"),
                        source,
                    }
                })?;
                (Some(OwnedFd::from(a)), Some(OwnedFd::from(b)))
            }
            _ => (None, None),
        };
        let ctx = ProcessContext {
            process: &o.process,
            seccomp: linux
                .seccomp()
                .as_ref()
                .map(|s| crate::seccomp::compile_cached(s, &self.root.join("seccomp.cache")))
                .transpose()?,
            console_socket,
            preserve_fds: o.preserve_fds,
            role: Role::Exec,
        };
        let (mut chan, child) = channel::pair()?;
        let mut pids = Vec::new();
        let result = (|| -> Result<i32, ContainerError> {
            let stage1 = spawn_stage1(child, &cgroup, &plan, joins, ctx)?;
            pids.push(stage1);
            let pid = drive_setup(&mut chan, stage1, &spec, &mut pids, |_| Ok(()))?;
            // End-of-file: execve succeeded; an error message: it did not.
            chan.next("exec process", "execve")?;
            Ok(pid)
        })();
        let pid = match result {
            Ok(pid) => pid,
            Err(e) => {
                for p in pids {
                    let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(Pid::from_raw(p), None);
                }
                return Err(e);
            }
        };
        if let Some(pf) = &o.pid_file {
            write_pid_file(pf, pid)?;
        }
        let console = match console_peer {
            Some(peer) => Some(crate::console::recv_fd(peer.as_fd())?.0),
            None => None,
        };
        Ok(Execed {
            pid,
            warnings: std::mem::take(&mut chan.warnings),
            console,
        })
    }
}
