//! The container service: container records, their shims, logs, exec,
//! attach and restart policies, and the Engine API's container operations
//! (`impl Engine` blocks in the submodules, called by berthd).
//!
//! # Vocabulary and lifecycle
//!
//! A container is *created* (record, rw snapshot, hostname/hosts/resolv.conf
//! files), then *started*: its rootfs is mounted at
//! `<data-root>/containers/<id>/rootfs`, its OCI bundle written to
//! `<exec-root>/containers/<id>/config.json`, and a `berth-shim` spawned
//! there (the shim runs `runtime create`; the container's init waits for
//! `start`). Attach clients waiting for the start are connected to the
//! shim before `start` is sent, so they miss no output. A *monitor* task
//! then waits for init's exit (the shim's `wait`), records it, and cleans
//! up: `runtime delete` through the shim (the shim exits) and the rootfs
//! unmounted. Restart policies and `--rm` act after that.
//!
//! The daemon is never a container's parent: a daemon that dies leaves
//! shims and containers running; the next daemon reattaches
//! ([`restore`]): a shim that answers gets a new monitor; a shim that is
//! gone left `exit.json` with the real exit code.
//!
//! # The Engine API's container operations
//!
//! Each is an `impl Engine` method (a `reference` is an id, a unique id
//! prefix or a name, with or without `/`); errors are [`Error`], whose
//! [`Error::kind`] gives the HTTP status and whose text is docker's:
//!
//! | endpoint | method |
//! |---|---|
//! | `POST /containers/create?name=` | [`Engine::container_create`]`(name, CreateRequest) -> CreateResponse` |
//! | `GET /containers/json` | [`Engine::container_list`]`(&ListOptions) -> Vec<Summary>` |
//! | `GET /containers/{id}/json?size=` | [`Engine::container_inspect`]`(ref, size) -> InspectResponse` |
//! | `POST /containers/{id}/start` | [`Engine::container_start`]`(ref)` (304 when running) |
//! | `POST /containers/{id}/stop?t=&signal=` | [`Engine::container_stop`]`(ref, Option<t>, Option<signal>)` (304 when stopped) |
//! | `POST /containers/{id}/restart?t=&signal=` | [`Engine::container_restart`] |
//! | `POST /containers/{id}/kill?signal=` | [`Engine::container_kill`]`(ref, Option<signal>)` |
//! | `POST /containers/{id}/wait?condition=` | [`Engine::container_wait`]`(ref, WaitCondition) -> WaitFuture` (send the headers, then await) |
//! | `DELETE /containers/{id}?force=&v=` | [`Engine::container_remove`]`(ref, force, v)` |
//! | `POST /containers/prune?filters=` | [`Engine::container_prune`]`(&Filters) -> PruneResponse` |
//! | `GET /containers/{id}/logs` | [`Engine::container_logs`]`(ref, LogOptions) -> mpsc::Receiver<LogMessage>` |
//! | `POST /containers/{id}/attach` | [`Engine::container_attach`]`(ref, stdin, stdout, stderr, logs, stream) -> AttachStream` |
//! | `POST /containers/{id}/resize?h=&w=` | [`Engine::container_resize`] |
//! | `GET /containers/{id}/top?ps_args=` | [`Engine::container_top`] |
//! | `POST /containers/{id}/pause`, `/unpause` | [`Engine::container_pause`], [`Engine::container_unpause`] |
//! | `POST /containers/{id}/rename?name=` | [`Engine::container_rename`] |
//! | `POST /containers/{id}/update` | [`Engine::container_update`]`(ref, UpdateConfig)` |
//! | `POST /containers/{id}/exec` | [`Engine::exec_create`]`(ref, exec::CreateRequest) -> id` |
//! | `POST /exec/{id}/start` | [`Engine::exec_start`]`(id, detach, console_size) -> Option<ExecStartStream>` |
//! | `POST /exec/{id}/resize` | [`Engine::exec_resize`] |
//! | `GET /exec/{id}/json` | [`Engine::exec_inspect`] |
//! | `GET /info` | [`Engine::container_counts`] |
//! | `GET /containers/{id}/stats?stream=&one-shot=` | [`Engine::container_stats`]`(ref, stream, one_shot) -> mpsc::Receiver<StatsResponse>` |
//! | `GET /containers/{id}/changes` | [`Engine::container_changes`]`(ref) -> Vec<ChangeItem>` |
//! | `GET /containers/{id}/export` | [`Engine::container_export`]`(ref, W) -> W` |
//! | `HEAD /containers/{id}/archive?path=` | [`Engine::container_stat_path`]`(ref, path) -> PathStat` |
//! | `GET /containers/{id}/archive?path=` | [`Engine::container_archive`]`(ref, path, on_stat, W) -> W` |
//! | `PUT /containers/{id}/archive?path=` | [`Engine::container_extract`]`(ref, path, ExtractOptions, R)` |
//!
//! Streams ([`AttachStream`], [`ExecStartStream`]) are one end of a unix
//! socket pair carrying exactly the bytes of the hijacked connection:
//! docker's stdcopy frames without a tty, raw output with one; writes are
//! the container's (or exec's) stdin, a write shutdown is end-of-input.
//! Detach keys are not interpreted here.
//!
//! # Concurrency
//!
//! The container map is behind a std `RwLock` held only for lookups and
//! inserts. Each container has an operation lock (tokio mutex) held for
//! the whole of a state change (start, stop, kill, remove, pause, ...), and
//! its record behind a std mutex held only to read or write the record, so
//! list and inspect never wait for a stop. The monitor records an exit
//! without the operation lock (a stop holding it waits for that exit),
//! then takes it for the cleanup. Cleanup is idempotent, so whoever holds
//! the lock first after an exit (stop, remove, the monitor) does it.
//!
//! # Files
//!
//! `store` (records), `names` (ids, names, lookup), `create`, `validate`,
//! `lifecycle` (start, stop, kill, restart, wait), `monitor` (exits),
//! `control` (pause, rename, update, logs), `remove`, `restart` (policies),
//! `logs`, `attach`, `exec`, `list`, `inspect`, `top`, `restore`, `shim`
//! (async shim client), `files` (hostname/hosts/resolv.conf), `signal`,
//! `spec` (the OCI spec input), `rootfs` (mounting), `stats` (cgroup
//! samples), `sysinfo` (what the host's cgroups can limit), `changes`
//! (`docker diff`), `archive` and `extract` (`docker cp`, export).

pub mod archive;
pub mod attach;
pub(crate) mod changes;
mod control;
mod create;
pub mod exec;
mod extract;
pub(crate) mod files;
mod health;
mod init;
mod inspect;
mod lifecycle;
mod list;
pub mod logs;
mod monitor;
pub mod names;
mod remove;
pub mod restart;
mod restore;
mod rootfs;
mod shim;
pub mod signal;
mod spec;
mod stats;
pub mod store;
mod sysinfo;
mod top;
mod validate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use berth_shim_proto::ShimError;

use crate::{Engine, EngineConfig, ErrorKind};

pub use attach::AttachStream;
pub use exec::ExecStartStream;
pub use lifecycle::{WaitCondition, WaitFuture};
pub use list::ListOptions;
pub use logs::{LogMessage, LogOptions, LogStream};
pub use restore::{restore, stop_all_for_shutdown};

use names::NameIndex;
use store::Container;

/// Errors of the container service. Messages that clients show or match
/// are docker's, word for word.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("No such container: {reference}")]
    NoSuchContainer { reference: String },
    #[error("Multiple IDs found with provided prefix: {prefix}")]
    AmbiguousPrefix { prefix: String },
    #[error("container name or ID must not be empty")]
    EmptyReference,
    #[error("Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName { name: String },
    #[error(
        "Conflict. The container name \"{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameConflict { name: String, id: String },
    /// The image lookup, or the rw snapshot, failed.
    #[error("{0}")]
    Image(#[source] crate::images::Error),
    /// A create field berth does not implement (yet); never ignored.
    #[error("{field} is not supported by berth")]
    Unsupported { field: String },
    /// A create or update value docker also rejects; the message is
    /// docker's wording for that value.
    #[error("{message}")]
    InvalidConfig { message: String },
    #[error("No command specified")]
    NoCommand,
    /// A device request (`--gpus`) that no device driver serves: berth has none,
    /// like a dockerd without the NVIDIA hook. dockerd fails the start with this
    /// (its createSpec error, wrapped as a system error: 500); `capabilities` is
    /// Go's `%v` of the request's OR-list of AND-lists (`[[gpu]]`).
    #[error("could not select device driver {driver:?} with capabilities: {capabilities}")]
    NoDeviceDriver {
        driver: String,
        capabilities: String,
    },
    #[error("Unknown runtime specified {name}")]
    UnknownRuntime { name: String },
    #[error("Invalid signal: {value}")]
    InvalidSignal { value: String },
    #[error("invalid time value {value:?}: expected seconds[.nanoseconds] or RFC 3339")]
    InvalidTime { value: String },
    #[error("Container {id} is not running")]
    NotRunning { id: String },
    #[error("Container {id} is paused, unpause the container before stopping or killing")]
    Paused { id: String },
    #[error("Container {id} is not paused")]
    NotPaused { id: String },
    #[error("Container {id} is already paused")]
    AlreadyPaused { id: String },
    #[error("Container {id} is restarting, wait until the container is running")]
    Restarting { id: String },
    #[error("cannot start a paused container, try unpause instead")]
    StartPaused,
    #[error("container {id} is marked for removal and cannot be started")]
    StartRemoving { id: String },
    /// 304: start of a running container.
    #[error("container already started")]
    AlreadyStarted,
    /// 304: stop of a stopped container.
    #[error("container already stopped")]
    AlreadyStopped,
    #[error(
        "You cannot remove a running container {id}. Stop the container before attempting removal or force remove"
    )]
    RemoveRunning { id: String },
    #[error(
        "You cannot remove a paused container {id}. Unpause and then stop the container before attempting removal or force remove"
    )]
    RemovePaused { id: String },
    #[error("removal of container {id} is already in progress")]
    RemovalInProgress { id: String },
    /// The runtime could not create or start the container. `message` is
    /// docker's shape: "failed to create task for container: OCI runtime
    /// create failed: <runtime's error>"; `exit_code` is what the
    /// container recorded (127 not found, 126 not executable, 128 else).
    #[error("{message}")]
    StartFailed { message: String, exit_code: i64 },
    #[error("invalid condition: {value:?}")]
    InvalidCondition { value: String },
    #[error("{0}")]
    InvalidFilter(#[source] berth_api_types::filters::FiltersError),
    #[error("Renaming a container with the same name as its current name")]
    SameName,
    #[error("Restart policy cannot be updated because AutoRemove is enabled for the container")]
    RestartWithAutoRemove,
    /// An update at odds with the container's current resources (409).
    #[error("Cannot update container {id}: {message}")]
    UpdateConflict { id: String, message: String },
    #[error("cannot join {kind} of a non running container: {name}")]
    JoinStopped { kind: &'static str, name: String },
    #[error("Container {id} is paused, unpause the container before exec")]
    ExecPaused { id: String },
    #[error("No exec command specified")]
    NoExecCommand,
    #[error("Exec {id} is not running, so it can not be resized.")]
    ExecNotRunning { id: String },
    /// `reference`: the container as the client named it (dockerd's wording).
    #[error("container {reference} is paused, unpause the container before attach")]
    AttachPaused { reference: String },
    #[error("container {reference} is restarting, wait until the container is running")]
    AttachRestarting { reference: String },
    #[error("No such exec instance: {id}")]
    NoSuchExec { id: String },
    #[error("Error: Exec command {id} is already running")]
    ExecRunning { id: String },
    #[error("Error: Exec command {id} has already run")]
    ExecDone { id: String },
    #[error("configured logging driver does not support reading")]
    LogsNotReadable,
    #[error("{op} container {id}: {source}")]
    Shim {
        op: &'static str,
        id: String,
        #[source]
        source: ShimError,
    },
    #[error("build OCI spec of container {id}: {source}")]
    Spec {
        id: String,
        #[source]
        source: crate::oci::SpecError,
    },
    #[error("{op}: {source}")]
    Task {
        op: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("remove container files: {0}")]
    Trash(#[source] berth_content::trash::TrashError),
    #[error("mount rootfs of container {id}: {source}")]
    Mount {
        id: String,
        #[source]
        source: berth_snapshots::mount::MountError,
    },
    #[error("unmount {path}: {source}")]
    Unmount {
        path: PathBuf,
        #[source]
        source: rustix::io::Errno,
    },
    #[error("parse container record {path}: {source}")]
    RecordParse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("container record {path} names container {id}")]
    RecordMismatch { path: PathBuf, id: String },
    #[error("run {program}: {source}")]
    Command {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed: {stderr}")]
    CommandFailed { program: String, stderr: String },
    #[error("Couldn't find PID field in ps output")]
    PsNoPid,
    #[error("Unexpected pid '{field}' in ps output")]
    PsBadPid { field: String },
    /// A failure and the failure of undoing it, both reported.
    #[error("{primary} (and cleaning up: {cleanup})")]
    WithCleanup {
        #[source]
        primary: Box<Error>,
        cleanup: Box<Error>,
    },
    /// `docker cp` and export (see [`archive`]).
    #[error("{0}")]
    Archive(#[source] archive::ArchiveError),
    /// The daemon is shutting down and accepts no new work on containers.
    #[error("daemon is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    Network(#[source] crate::networks::Error),
    /// A mount or volume of the container (docker's wording).
    #[error("{0}")]
    Volume(#[source] crate::volumes::Error),
}

impl Error {
    /// The Engine API class of the error.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind::*;
        match self {
            Error::NoSuchContainer { .. } | Error::NoSuchExec { .. } => NotFound,
            Error::AmbiguousPrefix { .. }
            | Error::EmptyReference
            | Error::InvalidName { .. }
            | Error::Unsupported { .. }
            | Error::InvalidConfig { .. }
            | Error::NoCommand
            | Error::UnknownRuntime { .. }
            | Error::InvalidSignal { .. }
            | Error::InvalidTime { .. }
            | Error::InvalidCondition { .. }
            | Error::InvalidFilter(_)
            | Error::SameName
            | Error::RestartWithAutoRemove
            | Error::NoExecCommand
            | Error::LogsNotReadable
            | Error::PsNoPid
            | Error::PsBadPid { .. } => InvalidArgument,
            Error::NameConflict { .. }
            | Error::NotRunning { .. }
            | Error::Paused { .. }
            | Error::NotPaused { .. }
            | Error::AlreadyPaused { .. }
            | Error::Restarting { .. }
            | Error::StartPaused
            | Error::StartRemoving { .. }
            | Error::RemoveRunning { .. }
            | Error::RemovePaused { .. }
            | Error::RemovalInProgress { .. }
            | Error::ExecRunning { .. }
            | Error::ExecDone { .. }
            | Error::ExecPaused { .. }
            | Error::ExecNotRunning { .. }
            | Error::JoinStopped { .. }
            | Error::UpdateConflict { .. }
            | Error::AttachPaused { .. }
            | Error::AttachRestarting { .. } => Conflict,
            Error::AlreadyStarted | Error::AlreadyStopped => NotModified,
            Error::Image(e) => e.kind(),
            Error::Network(e) => e.kind(),
            Error::Volume(e) => e.kind(),
            Error::Archive(e) => e.kind(),
            Error::Spec { source, .. } => source.kind(),
            // docker: a missing or non-executable command is the user's
            // configuration (400); other runtime failures are 500.
            Error::StartFailed { exit_code, .. } => match exit_code {
                126 | 127 => InvalidArgument,
                _ => Internal,
            },
            Error::ShuttingDown => Unavailable,
            Error::WithCleanup { primary, .. } => primary.kind(),
            Error::Shim { .. }
            | Error::Task { .. }
            | Error::Io { .. }
            | Error::Trash(_)
            | Error::Mount { .. }
            | Error::Unmount { .. }
            | Error::RecordParse { .. }
            | Error::RecordMismatch { .. }
            | Error::Command { .. }
            | Error::CommandFailed { .. }
            | Error::NoDeviceDriver { .. } => Internal,
        }
    }

    /// `self`, with the failure of the cleanup after it when there was one.
    pub(crate) fn with_cleanup(self, cleanup: Result<(), Error>) -> Error {
        match cleanup {
            Ok(()) => self,
            Err(c) => Error::WithCleanup {
                primary: Box::new(self),
                cleanup: Box::new(c),
            },
        }
    }
}

/// All containers: the id/name index and the containers by id.
#[derive(Default)]
pub(crate) struct Registry {
    pub names: NameIndex,
    pub by_id: HashMap<String, Arc<Container>>,
}

/// The container service of one engine.
pub struct ContainerService {
    /// `<data-root>/containers`: records, logs, hostname/hosts/resolv.conf.
    pub(crate) data_dir: PathBuf,
    /// `<exec-root>/containers`: bundles and shim state dirs.
    pub(crate) exec_dir: PathBuf,
    /// `<exec-root>/runtime`: the OCI runtimes' `--root` (one subdirectory
    /// per runtime name, so runtimes never read each other's state).
    pub(crate) runtime_root: PathBuf,
    pub(crate) registry: RwLock<Registry>,
    pub(crate) execs: exec::ExecTable,
    pub(crate) health: health::HealthTable,
    /// Set by shutdown: no restart policy acts any more.
    pub(crate) shutting_down: std::sync::atomic::AtomicBool,
    /// `<data-root>/trash`: removed containers' directories, deleted in
    /// the background.
    pub(crate) trash: berth_content::trash::Trash,
}

impl ContainerService {
    /// Loads the container records under `<data-root>/containers`. Nothing
    /// is started or reattached here; [`restore`] does that once the
    /// engine exists. Unreadable records are skipped (and reported on
    /// stderr), so one damaged directory never keeps the daemon down.
    pub fn open(cfg: &EngineConfig) -> Result<Self, Error> {
        let data_dir = cfg.data_root.join("containers");
        let exec_dir = cfg.exec_root.join("containers");
        let runtime_root = cfg.exec_root.join("runtime");
        for dir in [&data_dir, &exec_dir, &runtime_root] {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                op: "create",
                path: dir.clone(),
                source,
            })?;
        }
        let trash = berth_content::trash::Trash::open(&cfg.data_root.join("trash"))
            .map_err(Error::Trash)?;
        let (records, broken) = store::load_all(&data_dir)?;
        for (path, err) in broken {
            warn(format_args!(
                "skipping container record {}: {err}",
                path.display()
            ));
        }
        let health = health::HealthTable::from_records(&records);
        let mut registry = Registry::default();
        for rec in records {
            let id = rec.id.clone();
            if let Err(err) = registry.names.insert(&id, &rec.name) {
                warn(format_args!("skipping container {id}: {err}"));
                continue;
            }
            let dir = data_dir.join(&id);
            registry
                .by_id
                .insert(id, Arc::new(Container::new(rec, dir)));
        }
        Ok(ContainerService {
            data_dir,
            exec_dir,
            runtime_root,
            registry: RwLock::new(registry),
            execs: exec::ExecTable::default(),
            health,
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            trash,
        })
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // The registry is plain maps; a panic elsewhere left them whole.
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The container a reference (id, name, id prefix) designates.
    pub(crate) fn get(&self, reference: &str) -> Result<Arc<Container>, Error> {
        let reg = self.read();
        let id = reg.names.resolve(reference)?;
        reg.by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::NoSuchContainer {
                reference: reference.to_string(),
            })
    }

    /// All containers, in no particular order.
    pub(crate) fn all(&self) -> Vec<Arc<Container>> {
        self.read().by_id.values().cloned().collect()
    }

    /// The state dir (and bundle) of container `id`.
    pub(crate) fn state_dir(&self, id: &str) -> PathBuf {
        self.exec_dir.join(id)
    }

    /// Ids of the containers created from image `image_id`
    /// (`sha256:<hex>`); the image service refuses to delete an image
    /// they use.
    pub fn image_users(&self, image_id: &str) -> Vec<String> {
        self.all()
            .iter()
            .filter(|c| c.record().image == image_id)
            .map(|c| c.id.clone())
            .collect()
    }

    /// Like [`ContainerService::image_users`], with whether each one is
    /// running (docker's rmi distinguishes running users).
    pub fn image_users_running(&self, image_id: &str) -> Vec<(String, bool)> {
        self.all()
            .iter()
            .filter_map(|c| {
                let rec = c.record();
                (rec.image == image_id).then(|| (c.id.clone(), rec.state.running))
            })
            .collect()
    }
}

/// How many containers are in each state (`docker info`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerCounts {
    pub total: usize,
    pub running: usize,
    pub paused: usize,
    pub stopped: usize,
}

impl Engine {
    /// Container counts for `GET /info`: running includes restarting,
    /// paused is separate, stopped is everything else.
    pub fn container_counts(&self) -> ContainerCounts {
        let mut n = ContainerCounts::default();
        for c in self.containers.all() {
            let s = &c.record().state;
            n.total += 1;
            if s.paused {
                n.paused += 1;
            } else if s.running {
                n.running += 1;
            } else {
                n.stopped += 1;
            }
        }
        n
    }

    /// Ids of containers using image `image_id` (see
    /// [`ContainerService::image_users`]).
    pub fn container_image_users(&self, image_id: &str) -> Vec<String> {
        self.containers.image_users(image_id)
    }
}

/// Reports a failure no caller waits for (a background task's), on the
/// daemon's stderr in dockerd's log line shape.
pub(crate) fn warn(msg: std::fmt::Arguments<'_>) {
    eprintln!(
        "time=\"{:.9}\" level=warning msg={:?}",
        jiff::Timestamp::now(),
        msg.to_string()
    );
}

/// Event attributes of a container: its image (as named), its name
/// without the slash, and its labels, plus `extra`.
pub(crate) fn event_attributes(
    rec: &store::ContainerRecord,
    extra: &[(&str, String)],
) -> std::collections::BTreeMap<String, String> {
    let mut attrs: std::collections::BTreeMap<String, String> =
        rec.config.labels.clone().unwrap_or_default();
    attrs.insert("image".into(), rec.config.image.clone());
    attrs.insert("name".into(), rec.name.trim_start_matches('/').to_string());
    for (k, v) in extra {
        attrs.insert((*k).to_string(), v.clone());
    }
    attrs
}

impl Engine {
    /// Publishes a container event.
    pub(crate) fn container_event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let attrs = event_attributes(&c.record(), extra);
        self.events()
            .publish(crate::events::Event::new("container", action, &c.id, attrs));
    }
}
