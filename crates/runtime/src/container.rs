//! Container lifecycle, the parent side: `create`, `start`, `kill`,
//! `delete`, `pause`, `resume`, and the queries.
//!
//! State machine (runc's; invalid transitions are errors naming the state):
//! ```text
//! create ──▶ created ──start──▶ running ──(init exits)──▶ stopped ──delete──▶ (gone)
//!               │                  │  ▲
//!               │               pause resume
//!               │                  ▼  │
//!               │                 paused
//!               └──────────────delete (kills init)──────────────────────▶ (gone)
//! ```

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroups::{Cgroup, CgroupError};
use crate::channel::{self, ChannelError};
use crate::namespaces::{NamespaceError, NamespacePlan};
use crate::process::{self, InitContext, ProcessContext, Role};
use crate::setup::{drive_setup, host_root_ids, spawn_stage1};
use crate::state::{self, OciState, StateDir, StateError, StateFile, Status};

/// Errors of container operations.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Console(#[from] crate::console::ConsoleError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error("{op}: {source}")]
    Sys {
        op: String,
        #[source]
        source: nix::Error,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encode or decode the saved config.json: {0}")]
    SavedConfig(#[source] serde_json::Error),
    #[error("cannot start a container that has stopped")]
    StartStopped,
    #[error("cannot start an already running container")]
    StartRunning,
    #[error("cannot start a container in the {0} state")]
    StartState(Status),
    #[error("container not running")]
    NotRunning,
    #[error("cannot delete container {id} that is not stopped: {status}")]
    NotStopped { id: String, status: Status },
    #[error("container not paused")]
    NotPaused,
    #[error("cannot exec in a stopped container")]
    ExecStopped,
    #[error("cannot exec in a paused container (use --ignore-paused to override)")]
    ExecPaused,
    #[error("init process exited before the exec fifo was opened")]
    InitDied,
    #[error("cannot allocate tty if runc will detach without setting console socket")]
    TerminalWithoutSocket,
    #[error("cannot use console socket if runc will not detach or allocate tty")]
    SocketWithoutTerminal,
    #[error("{primary}; cleanup also failed: {cleanup}")]
    WithCleanup {
        #[source]
        primary: Box<ContainerError>,
        cleanup: String,
    },
}

fn sys(op: impl Into<String>) -> impl FnOnce(nix::Error) -> ContainerError {
    let op = op.into();
    move |source| ContainerError::Sys { op, source }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ContainerError + 'a {
    move |source| ContainerError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The runtime: a state root and global options.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
}

/// Options of `create` (and of the create half of `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// `run` in the foreground: the caller holds the terminal itself, so a
    /// terminal without a console socket is fine.
    pub foreground: bool,
}

/// A container just created.
#[derive(Debug)]
pub struct Created {
    pub pid: i32,
    pub warnings: Vec<String>,
    /// For a foreground `run` with a terminal: the pty master.
    pub console: Option<OwnedFd>,
}

/// Undo list for a failed create: everything done so far, in reverse.
struct Undo<'a> {
    dir: Option<&'a StateDir>,
    cgroup: Option<&'a Cgroup>,
    pids: Vec<i32>,
}

impl Undo<'_> {
    fn run(self, err: ContainerError) -> ContainerError {
        let mut failures = Vec::new();
        for pid in &self.pids {
            let _ = nix::sys::signal::kill(Pid::from_raw(*pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(*pid), None);
        }
        if let Some(cg) = self.cgroup {
            if let Err(e) = cg.destroy() {
                failures.push(process::error_chain(&e));
            }
        }
        if let Some(d) = self.dir {
            if let Err(e) = d.remove() {
                failures.push(process::error_chain(&e));
            }
        }
        if failures.is_empty() {
            err
        } else {
            ContainerError::WithCleanup {
                primary: Box::new(err),
                cleanup: failures.join("; "),
            }
        }
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

fn owner() -> String {
    // runc reports the user name of the runtime's uid ("root").
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>, systemd_cgroup: bool) -> Self {
        Runtime {
            root: root.into(),
            systemd_cgroup,
        }
    }

    fn dir(&self, id: &str) -> Result<StateDir, ContainerError> {
        Ok(StateDir::open(&self.root, id)?)
    }

    /// Creates a container whose init waits on the exec fifo.
    pub fn create(&self, o: &CreateOptions) -> Result<Created, ContainerError> {
        state::validate_id(&o.id)?;
        let bundle = fs::canonicalize(&o.bundle).map_err(io("open bundle", &o.bundle))?;
        let spec = crate::spec::load(&bundle)?;
        crate::spec::validate(&spec, &bundle)?;
        let process = spec
            .process()
            .as_ref()
            .ok_or(crate::spec::SpecError::NoProcess)?;
        let terminal = process.terminal().unwrap_or(false);
        if terminal && o.console_socket.is_none() && !o.foreground {
            return Err(ContainerError::TerminalWithoutSocket);
        }
        if !terminal && o.console_socket.is_some() {
            return Err(ContainerError::SocketWithoutTerminal);
        }
        let root = spec.root().as_ref().ok_or(crate::spec::SpecError::NoRoot)?;
        let rootfs = if root.path().is_absolute() {
            root.path().clone()
        } else {
            bundle.join(root.path())
        };
        let linux = spec.linux().clone().unwrap_or_default();
        let plan = NamespacePlan::for_create(linux.namespaces().as_deref().unwrap_or(&[]))?;
        let joins = plan.open_joins()?;
        let cgroup = Cgroup::new(
            linux.cgroups_path().as_ref().and_then(|p| p.to_str()),
            &o.id,
            self.systemd_cgroup,
        )?;
        // Connect before making anything, so a bad socket path changes nothing.
        let (console_socket, console_peer) = match (&o.console_socket, terminal) {
            (Some(p), true) => (Some(crate::console::connect(p)?), None),
            (None, true) => {
                let (a, b) = std::os::unix::net::UnixStream::pair()
                    .map_err(io("create console socketpair", Path::new("-")))?;
                (Some(OwnedFd::from(a)), Some(OwnedFd::from(b)))
            }
            _ => (None, None),
        };

        // Validation done: from here on every step is undone on failure.
        let dir = StateDir::create(&self.root, &o.id)?;
        let mut undo = Undo {
            dir: Some(&dir),
            cgroup: None,
            pids: Vec::new(),
        };
        let created = now_rfc3339();
        let result = (|| -> Result<(i32, Vec<String>), ContainerError> {
            let fifo_path = dir.fifo_path();
            nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
                .map_err(sys(format!("mkfifo {}", fifo_path.display())))?;
            // mkfifo(3) honours the umask; init may run as any user and must
            // be able to open the fifo for writing, so set the mode exactly,
            // and give it to the container's root (runc does the same).
            nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                &fifo_path,
                nix::sys::stat::Mode::from_bits_truncate(0o622),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(sys(format!("chmod {}", fifo_path.display())))?;
            let (ruid, rgid) = host_root_ids(&linux);
            nix::unistd::chown(&fifo_path, Some(ruid), Some(rgid))
                .map_err(sys(format!("chown {}", fifo_path.display())))?;
            let fifo = nix::fcntl::open(
                &fifo_path,
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(sys("open exec fifo"))?;
            cgroup.create()?;
            undo.cgroup = Some(&cgroup);
            // Like runc, the device cgroup always gets the default allowed
            // devices (null, zero, ptys, …) on top of the config's rules.
            let mut resources = linux.resources().clone().unwrap_or_default();
            resources.set_devices(Some(crate::cgroups::devices::runc_device_rules(
                resources.devices().as_deref().unwrap_or(&[]),
                linux.devices().as_deref().unwrap_or(&[]),
            )));
            cgroup.apply(&resources)?;
            let mut template = serde_json::json!({
                "ociVersion": state::OCI_VERSION,
                "id": o.id,
                "pid": 0,
                "status": "creating",
                "bundle": bundle,
            });
            if let Some(a) = spec.annotations() {
                template["annotations"] = serde_json::json!(a);
            }
            let ctx = ProcessContext {
                process,
                seccomp: linux
                    .seccomp()
                    .as_ref()
                    .map(|s| crate::seccomp::compile_cached(s, &self.root.join("seccomp.cache")))
                    .transpose()?,
                console_socket,
                preserve_fds: o.preserve_fds,
                role: Role::Init(InitContext {
                    spec: &spec,
                    bundle: &bundle,
                    rootfs: &rootfs,
                    fifo,
                    no_pivot: o.no_pivot,
                    no_new_keyring: o.no_new_keyring,
                    id: &o.id,
                    state_template: template.clone(),
                }),
            };
            let (mut chan, child) = channel::pair()?;
            let stage1 = spawn_stage1(child, &cgroup, &plan, joins, ctx)?;
            undo.pids.push(stage1);
            let pid = drive_setup(&mut chan, stage1, &spec, &mut undo.pids, |pid| {
                template["pid"] = serde_json::json!(pid);
                run_spec_hooks(&spec, &template, |h| h.prestart().clone(), "prestart")?;
                run_spec_hooks(
                    &spec,
                    &template,
                    |h| h.create_runtime().clone(),
                    "createRuntime",
                )
            })?;
            // The setup channel is done; init's end closes at execve.
            let st = StateFile {
                id: o.id.clone(),
                pid,
                pid_start_time: state::process_start_time(pid).ok_or(ContainerError::InitDied)?,
                bundle: bundle.clone(),
                rootfs: rootfs.clone(),
                created: created.clone(),
                owner: owner(),
                annotations: spec
                    .annotations()
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                cgroup: cgroup.config(),
                own_pid_ns: plan.creates(LinuxNamespaceType::Pid),
            };
            let cfg = serde_json::to_vec(&spec).map_err(ContainerError::SavedConfig)?;
            state::atomic_write(&dir.config_path(), &cfg)?;
            dir.save(&st)?;
            if let Some(pf) = &o.pid_file {
                write_pid_file(pf, pid)?;
            }
            Ok((pid, std::mem::take(&mut chan.warnings)))
        })();
        match result {
            Ok((pid, warnings)) => {
                let console = match console_peer {
                    Some(peer) => Some(crate::console::recv_fd(peer.as_fd())?.0),
                    None => None,
                };
                Ok(Created {
                    pid,
                    warnings,
                    console,
                })
            }
            Err(e) => Err(undo.run(e)),
        }
    }

    /// Releases a created container's init (runc's `start`).
    pub fn start(&self, id: &str) -> Result<(), ContainerError> {
        let dir = self.dir(id)?;
        let st = dir.load()?;
        match dir.status(&st) {
            Status::Created => {}
            Status::Stopped => return Err(ContainerError::StartStopped),
            Status::Running => return Err(ContainerError::StartRunning),
            s => return Err(ContainerError::StartState(s)),
        }
        release_fifo(&dir.fifo_path(), st.pid)?;
        let _ = fs::remove_file(dir.fifo_path());
        let spec = load_saved_spec(&dir)?;
        let mut t = hook_state(&dir, &st);
        t["status"] = serde_json::json!("running");
        if let Err(e) = run_spec_hooks(&spec, &t, |h| h.poststart().clone(), "poststart") {
            // runc: a failing poststart hook makes start fail and the container be destroyed.
            let _ = nix::sys::signal::kill(Pid::from_raw(st.pid), Signal::SIGKILL);
            return Err(e);
        }
        Ok(())
    }

    pub fn state(&self, id: &str) -> Result<OciState, ContainerError> {
        let dir = self.dir(id)?;
        let st = dir.load()?;
        Ok(dir.oci_state(&st))
    }

    pub fn list(&self) -> Result<Vec<OciState>, ContainerError> {
        let mut out = Vec::new();
        for id in state::list_ids(&self.root)? {
            if let Ok(dir) = StateDir::open(&self.root, &id) {
                if let Ok(st) = dir.load() {
                    out.push(dir.oci_state(&st));
                }
            }
        }
        Ok(out)
    }

    /// Sends `sig` to init, or with `all` to every process in the cgroup.
    pub fn kill(&self, id: &str, sig: Signal, all: bool) -> Result<(), ContainerError> {
        let dir = self.dir(id)?;
        let st = dir.load()?;
        let status = dir.status(&st);
        if status == Status::Stopped && !all {
            return Err(ContainerError::NotRunning);
        }
        if all {
            return signal_all(&Cgroup::from_config(&st.cgroup), sig);
        }
        nix::sys::signal::kill(Pid::from_raw(st.pid), sig)
            .map_err(sys(format!("kill pid {}", st.pid)))
    }

    /// Removes a container. A created one is killed first (runc does that
    /// without --force); running or paused ones need `force`.
    /// Returns warnings for the log: poststop hook failures do not stop a
    /// delete (runtime spec: "the runtime MUST log a warning and continue").
    pub fn delete(&self, id: &str, force: bool) -> Result<Vec<String>, ContainerError> {
        let dir = match StateDir::open(&self.root, id) {
            Ok(d) => d,
            Err(StateError::NotFound(_)) if force => {
                // A stale directory from a crashed create (no state.json):
                // --force cleans it up; a missing one is fine with --force.
                let path = self.root.join(id);
                if path.is_dir() {
                    state::validate_id(id)?;
                    fs::remove_dir_all(&path).map_err(io("remove state dir", &path))?;
                }
                return Ok(Vec::new());
            }
            Err(e) => return Err(e.into()),
        };
        let st = dir.load()?;
        let cg = Cgroup::from_config(&st.cgroup);
        let status = dir.status(&st);
        match status {
            Status::Stopped => {}
            Status::Created => kill_and_wait(&st, &cg)?,
            _ if force => kill_and_wait(&st, &cg)?,
            _ => {
                return Err(ContainerError::NotStopped {
                    id: id.to_string(),
                    status,
                });
            }
        }
        if !st.own_pid_ns {
            // Without its own pid namespace, init's death leaves the others.
            signal_all(&cg, Signal::SIGKILL)?;
        }
        let mut errs = Vec::new();
        if let Err(e) = cg.destroy() {
            errs.push(ContainerError::from(e));
        }
        let spec = load_saved_spec(&dir).ok();
        let mut t = hook_state(&dir, &st);
        t["status"] = serde_json::json!("stopped");
        if let Err(e) = dir.remove() {
            errs.push(e.into());
        }
        let mut warnings = Vec::new();
        if let Some(spec) = spec {
            if let Err(e) = run_spec_hooks(&spec, &t, |h| h.poststop().clone(), "poststop") {
                warnings.push(process::error_chain(&e));
            }
        }
        match errs.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(warnings),
        }
    }

    pub fn pause(&self, id: &str) -> Result<(), ContainerError> {
        let dir = self.dir(id)?;
        let st = dir.load()?;
        match dir.status(&st) {
            Status::Running | Status::Created => Ok(Cgroup::from_config(&st.cgroup).freeze()?),
            _ => Err(ContainerError::NotRunning),
        }
    }

    pub fn resume(&self, id: &str) -> Result<(), ContainerError> {
        let dir = self.dir(id)?;
        let st = dir.load()?;
        match dir.status(&st) {
            Status::Paused => Ok(Cgroup::from_config(&st.cgroup).thaw()?),
            _ => Err(ContainerError::NotPaused),
        }
    }

    /// Pids of every process in the container's cgroup.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>, ContainerError> {
        let dir = self.dir(id)?;
        let st = dir.load()?;
        Ok(Cgroup::from_config(&st.cgroup).pids()?)
    }

    /// The loaded state and the container's cgroup, for `events` and `update`.
    pub fn cgroup(&self, id: &str) -> Result<(StateFile, Status, Cgroup), ContainerError> {
        let dir = self.dir(id)?;
        let st = dir.load()?;
        let status = dir.status(&st);
        let cg = Cgroup::from_config(&st.cgroup);
        Ok((st, status, cg))
    }

    /// The config the container was created with (as saved at create).
    pub fn saved_spec(&self, id: &str) -> Result<Spec, ContainerError> {
        load_saved_spec(&self.dir(id)?)
    }

    /// Changes the resource limits of a live container (`update`).
    pub fn update(
        &self,
        id: &str,
        r: &oci_spec::runtime::LinuxResources,
    ) -> Result<(), ContainerError> {
        let dir = self.dir(id)?;
        let st = dir.load()?;
        if dir.status(&st) == Status::Stopped {
            return Err(ContainerError::NotRunning);
        }
        Ok(Cgroup::from_config(&st.cgroup).apply(r)?)
    }

    pub(crate) fn open(&self, id: &str) -> Result<(StateDir, StateFile), ContainerError> {
        let dir = self.dir(id)?;
        let st = dir.load()?;
        Ok((dir, st))
    }
}

pub(crate) fn load_saved_spec(dir: &StateDir) -> Result<Spec, ContainerError> {
    let p = dir.config_path();
    let data = fs::read(&p).map_err(io("read", &p))?;
    serde_json::from_slice(&data).map_err(ContainerError::SavedConfig)
}

fn hook_state(dir: &StateDir, st: &StateFile) -> serde_json::Value {
    serde_json::to_value(dir.oci_state(st)).unwrap_or_default()
}

fn run_spec_hooks(
    spec: &Spec,
    state: &serde_json::Value,
    pick: impl Fn(&oci_spec::runtime::Hooks) -> Option<Vec<oci_spec::runtime::Hook>>,
    kind: &str,
) -> Result<(), ContainerError> {
    if let Some(hooks) = spec.hooks().as_ref().and_then(&pick) {
        crate::hooks::run(&hooks, state.to_string().as_bytes(), kind)?;
    }
    Ok(())
}

pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<(), ContainerError> {
    // runc writes the pid without a newline, atomically.
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(io("getcwd", path))?
            .join(path)
    };
    Ok(state::atomic_write(&abs, pid.to_string().as_bytes())?)
}

/// `start`: open the fifo for reading, which unblocks init's open for
/// writing; read its byte. If init died meanwhile, report it instead of
/// hanging (watch its pidfd alongside the fifo).
fn release_fifo(path: &Path, pid: i32) -> Result<(), ContainerError> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let fifo = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(sys("open exec fifo"))?;
    let pidfd = pidfd_open(pid)?;
    loop {
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(sys("poll exec fifo")(e)),
            Ok(_) => {}
        }
        let fifo_ready = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let died = fds[1].revents().is_some_and(|r| !r.is_empty());
        if fifo_ready {
            let mut b = [0u8; 1];
            match nix::unistd::read(&fifo, &mut b) {
                Ok(1) => return Ok(()),
                Ok(_) | Err(nix::Error::EAGAIN) => {}
                Err(e) => return Err(sys("read exec fifo")(e)),
            }
        }
        if died {
            return Err(ContainerError::InitDied);
        }
    }
}

fn pidfd_open(pid: i32) -> Result<OwnedFd, ContainerError> {
    let p = rustix::process::Pid::from_raw(pid).ok_or(ContainerError::NotRunning)?;
    rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).map_err(|e| {
        ContainerError::Sys {
            op: format!("pidfd_open {pid}"),
            source: nix::Error::from_raw(e.raw_os_error()),
        }
    })
}

/// SIGKILLs init (and, for a paused container, thaws it so the signal is
/// delivered), then waits until it is gone.
fn kill_and_wait(st: &StateFile, cg: &Cgroup) -> Result<(), ContainerError> {
    let pidfd = pidfd_open(st.pid).ok();
    if st.own_pid_ns {
        let _ = nix::sys::signal::kill(Pid::from_raw(st.pid), Signal::SIGKILL);
    } else {
        signal_all(cg, Signal::SIGKILL)?;
    }
    if cg.is_frozen().unwrap_or(false) {
        cg.thaw()?;
    }
    wait_gone(st.pid, st.pid_start_time, pidfd)
}

/// Waits until `pid` has exited (it is not our child: poll its pidfd, which
/// becomes readable at exit even while the process is an unreaped zombie).
fn wait_gone(pid: i32, start: u64, pidfd: Option<OwnedFd>) -> Result<(), ContainerError> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let deadline = Instant::now() + Duration::from_secs(10);
    if let Some(fd) = pidfd {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(10_000u16));
        return Ok(());
    }
    while state::process_alive(pid, start) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Signals every process of the cgroup; freezes it first so nothing forks
/// between reading the pid list and signalling (runc does the same).
fn signal_all(cg: &Cgroup, sig: Signal) -> Result<(), ContainerError> {
    let was_frozen = cg.is_frozen().unwrap_or(false);
    let froze = !was_frozen && cg.freeze().is_ok();
    let pids = cg.pids();
    for pid in pids.iter().flatten() {
        let _ = nix::sys::signal::kill(Pid::from_raw(*pid), sig);
    }
    if froze || (was_frozen && sig == Signal::SIGKILL) {
        cg.thaw()?;
    }
    pids?;
    Ok(())
}
