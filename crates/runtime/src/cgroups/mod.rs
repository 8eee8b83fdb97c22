//! The cgroup manager: puts a container's processes in a cgroup, limits
//! their resources, freezes them, and reports their usage, with the
//! semantics of runc 1.1's cgroupfs driver (the systemd driver is not
//! supported).
//!
//! Vocabulary:
//! - a *hierarchy* is one mounted cgroup tree: on cgroup v1 one per
//!   controller (or group of co-mounted controllers), on v2 the single
//!   *unified* one;
//! - the *layout* ([`detect::Layout`]) says which are mounted: v1 only, v2
//!   only, or *hybrid* (v1 controllers plus a cgroup2 mount without them);
//!   hybrid hosts are managed as v1, and their cgroup2 tree is only joined;
//! - a container's cgroup is one directory per hierarchy; [`CgroupConfig`]
//!   records them so that later commands find the same cgroup.
//!
//! Lifecycle, in the order runc uses:
//! [`Cgroup::new`] (resolve paths, nothing touched) → [`Cgroup::create`]
//! (directories) → [`Cgroup::add_process`] (init joins) → [`Cgroup::apply`]
//! (limits; again on `update`) → [`Cgroup::freeze`]/[`Cgroup::thaw`],
//! [`Cgroup::pids`], [`Cgroup::stats`] → [`Cgroup::destroy`] after the last
//! process is gone. A later command rebuilds the manager with
//! [`Cgroup::from_config`].
//!
//! Device rules: `apply` makes the cgroup's device access exactly the
//! `linux.resources.devices` list when it is given (and leaves it alone when
//! it is `None`). runc also allows a fixed set of devices in every
//! container; build the list with [`devices::runc_device_rules`] and pass
//! the same list on create and on every update. On v1 the rules go to
//! `devices.allow`/`devices.deny`; on v2 they become an eBPF program
//! attached to the cgroup, replacing the previous one.

pub mod detect;
pub mod devices;
mod ebpf;
mod fsutil;
mod paths;
pub mod plan;
pub mod stats;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub(crate) use detect::last_mountinfo;
pub use detect::{Hierarchy, Layout, ProcCgroups, detect, own_cgroups};
pub use paths::clean_path;
pub use stats::Stats;

/// The key of the unified (v2) hierarchy in [`CgroupConfig::paths`], as in
/// runc's `cgroup_paths`.
pub const UNIFIED_KEY: &str = "";

/// Errors of the cgroup manager.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("systemd cgroup driver is not supported")]
    SystemdUnsupported,
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("parse {path}: {reason}: {line:?}")]
    Parse {
        path: PathBuf,
        line: String,
        reason: &'static str,
    },
    #[error("no cgroup filesystem is mounted")]
    NoCgroupMount,
    #[error("cgroup controller {controller:?} is not mounted")]
    ControllerNotMounted { controller: String },
    #[error("the runtime's own cgroup for {controller:?} is not listed in /proc/self/cgroup")]
    OwnCgroupUnknown { controller: String },
    #[error("the runtime's own cgroup {cgroup} for {controller:?} is outside the mounted root {}", root.display())]
    OwnCgroupOutsideMount {
        controller: String,
        cgroup: String,
        root: PathBuf,
    },
    #[error("empty cgroup path and container id")]
    EmptyCgroupPath,
    #[error("cgroups path {path:?} resolves to the root cgroup {}", mountpoint.display())]
    RootCgroup { path: String, mountpoint: PathBuf },
    #[error("cgroup config has no path or mount point for hierarchy {key:?}")]
    IncompleteConfig { key: &'static str },
    #[error("create cgroup {path}: {source}")]
    Mkdir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },
    #[error("add process {pid} to cgroup {path}: {source}")]
    AddProcess {
        pid: i32,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("remove cgroups {paths:?}: {source}")]
    Remove {
        paths: Vec<PathBuf>,
        #[source]
        source: io::Error,
    },
    #[error("unable to set memory limit to {limit} (current usage: {usage}, peak usage: {peak})")]
    MemoryLimitBelowUsage {
        limit: String,
        usage: u64,
        peak: u64,
    },
    #[error("the maximum allowed cpu-shares is {effective} (requested {requested})")]
    CpuSharesAboveMax { requested: u64, effective: u64 },
    #[error("the minimum allowed cpu-shares is {effective} (requested {requested})")]
    CpuSharesBelowMin { requested: u64, effective: u64 },
    #[error("invalid memory swappiness value: {0} (valid range is 0-100)")]
    InvalidSwappiness(u64),
    #[error("invalid memory value: {0}")]
    InvalidMemory(i64),
    #[error("unable to set swap limit without memory limit")]
    SwapWithoutMemory,
    #[error("memory+swap limit {swap} should be >= memory limit {memory}")]
    SwapBelowMemory { memory: i64, swap: i64 },
    #[error("invalid hugepage size {page_size:?}")]
    InvalidHugepageSize { page_size: String },
    #[error("invalid hugepage limit {limit} for page size {page_size}")]
    InvalidHugepageLimit { page_size: String, limit: i64 },
    #[error("invalid configuration: cannot use unified on cgroup v1")]
    UnifiedOnV1,
    #[error("{resource} cannot be set on cgroup v2")]
    NotSupportedOnV2 { resource: &'static str },
    #[error("unified resource {key:?} must be a file name of the form CONTROLLER.PARAMETER")]
    UnifiedKeyInvalid { key: String },
    #[error("unified resource {key:?} can't be set: controller {controller:?} not available")]
    UnifiedControllerUnavailable {
        key: String,
        controller: String,
        #[source]
        source: io::Error,
    },
    #[error("device rule {index} ({rule}): {reason}")]
    InvalidDeviceRule {
        index: usize,
        rule: String,
        reason: &'static str,
    },
    #[error(
        "device rule {rule:?} not supported: cannot punch a hole in wildcard rule {wildcard:?}"
    )]
    DeviceRuleHole { rule: String, wildcard: String },
    #[error("devices cgroup {path} does not match the requested rules after writing them")]
    DevicesMismatch { path: PathBuf },
    #[error("freeze {path}: still {state:?}, giving up")]
    FreezeTimeout { path: PathBuf, state: String },
    #[error("unexpected freezer state {state:?} in {path}")]
    FreezerState { path: PathBuf, state: String },
    #[error("load cgroup device filter: {source}: {verifier_log}")]
    BpfLoad {
        verifier_log: String,
        #[source]
        source: io::Error,
    },
    #[error("bpf: {op} {path}: {source}")]
    Bpf {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Which cgroup version a container's cgroup uses.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    /// v1 controllers (also on hybrid hosts).
    V1,
    /// The unified hierarchy only.
    V2,
}

/// What a container's state keeps to find its cgroup again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CgroupConfig {
    pub version: CgroupVersion,
    /// The container's cgroup directory per hierarchy, keyed like runc's
    /// `cgroup_paths`: v1 controller names (and `name=systemd`), `""` for
    /// the unified hierarchy (the only key on v2; joined without limits on
    /// hybrid hosts).
    pub paths: BTreeMap<String, PathBuf>,
    /// The mount point of each hierarchy, same keys: where creation starts
    /// copying cpuset values (v1) or enabling controllers (v2).
    pub mountpoints: BTreeMap<String, PathBuf>,
}

/// A container's cgroup; see the module documentation for the lifecycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    config: CgroupConfig,
}

impl Cgroup {
    /// Resolves `linux.cgroupsPath` against the mounted hierarchies (`None`
    /// or empty: runc's default, the container id relative to the runtime's
    /// own cgroup). Absolute paths are taken from each hierarchy's root;
    /// relative ones from the runtime's own cgroup on v1 and from its parent
    /// on v2, after runc's lexical cleaning ([`clean_path`]). Nothing is
    /// created.
    pub fn new(cgroups_path: Option<&str>, id: &str, systemd: bool) -> Result<Self, CgroupError> {
        if systemd {
            return Err(CgroupError::SystemdUnsupported);
        }
        Self::with_layout(&detect()?, &own_cgroups()?, cgroups_path, id)
    }

    /// [`Cgroup::new`] with an explicit layout and own cgroups.
    pub fn with_layout(
        layout: &Layout,
        own: &ProcCgroups,
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<Self, CgroupError> {
        Ok(Cgroup {
            config: paths::resolve(layout, own, cgroups_path, id)?,
        })
    }

    pub fn from_config(c: &CgroupConfig) -> Self {
        Cgroup { config: c.clone() }
    }

    pub fn config(&self) -> CgroupConfig {
        self.config.clone()
    }

    /// The directory of one hierarchy (`""` for the unified one).
    pub fn path(&self, key: &str) -> Option<&Path> {
        self.config.paths.get(key).map(PathBuf::as_path)
    }

    /// Creates the directories (and missing parents). On v1 the cpuset
    /// cgroups get their parent's cpus and mems, so that tasks can join; on
    /// v2 the parents enable their available controllers for the subtree.
    pub fn create(&self) -> Result<(), CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::create(&self.config),
            CgroupVersion::V2 => v2::create(&self.config, true),
        }
    }

    /// Writes the limits of `resources`; values that are unset are left as
    /// they are. Everything is validated, and the facts the writes depend on
    /// are read, before the first write. A file the kernel lacks because of
    /// its configuration (memsw without swap accounting, blkio weights
    /// without a proportional scheduler, real-time group scheduling) is
    /// skipped; any other failure is an error.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::apply(&self.config, resources),
            CgroupVersion::V2 => v2::apply(&self.config, resources),
        }
    }

    /// Moves process `pid` (all its threads) into the cgroup.
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::add_process(&self.config, pid),
            CgroupVersion::V2 => v2::add_process(&self.config, pid),
        }
    }

    /// The unified (cgroup v2) directory of the container, opened for
    /// `clone3(CLONE_INTO_CGROUP)`; None when it has none.
    pub fn open_unified(&self) -> Option<std::os::fd::OwnedFd> {
        let dir = self.config.paths.get(UNIFIED_KEY)?;
        std::fs::File::open(dir)
            .ok()
            .map(std::os::fd::OwnedFd::from)
    }

    /// Moves the calling process, which must be single-threaded, into the
    /// cgroup. `in_unified`: it was already cloned into the unified one.
    ///
    /// Why not [`Cgroup::add_process`] from the parent: moving *another*
    /// process takes the global `cgroup_threadgroup_rwsem` for writing, and
    /// its first writer waits for an RCU grace period — several
    /// milliseconds, on every container start. A thread moving *itself*
    /// through a v1 `tasks` file (pid "0") skips that lock
    /// (cgroup_procs_write_start() in kernel/cgroup/cgroup.c); for the
    /// unified hierarchy the same is had by cloning straight into it.
    pub fn join_self(&self, in_unified: bool) -> Result<(), CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::join_self(&self.config, in_unified),
            CgroupVersion::V2 if in_unified => Ok(()),
            CgroupVersion::V2 => v2::add_process(&self.config, 0),
        }
    }

    /// The processes in the container's cgroup and its sub-cgroups.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::pids(&self.config),
            CgroupVersion::V2 => v2::pids(&self.config),
        }
    }

    /// Freezes every process and returns once the kernel reports the cgroup
    /// frozen; on failure the cgroup is thawed again.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::freeze(&self.config),
            CgroupVersion::V2 => v2::freeze(&self.config),
        }
    }

    pub fn thaw(&self) -> Result<(), CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::thaw(&self.config),
            CgroupVersion::V2 => v2::thaw(&self.config),
        }
    }

    /// Whether the cgroup itself is frozen (not merely an ancestor).
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::is_frozen(&self.config),
            CgroupVersion::V2 => v2::is_frozen(&self.config),
        }
    }

    /// Usage statistics, shaped like `runc events --stats` data.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::stats(&self.config),
            CgroupVersion::V2 => v2::stats(&self.config),
        }
    }

    /// How many processes the OOM killer has killed in the cgroup so far
    /// (0 on kernels older than 4.13, which do not count).
    pub fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::oom_kill_count(&self.config),
            CgroupVersion::V2 => v2::oom_kill_count(&self.config),
        }
    }

    /// Removes the cgroup directories, child cgroups first. Directories
    /// already gone are fine. The cgroup must have no processes left.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        match self.config.version {
            CgroupVersion::V1 => v1::destroy(&self.config),
            CgroupVersion::V2 => v2::destroy(&self.config),
        }
    }
}

/// Writes `pid` to `dir/cgroup.procs`. EINVAL can mean the task is still
/// being created (TASK_NEW, between fork and its first run); retry briefly
/// as runc does.
fn write_pid(dir: &Path, pid: i32) -> Result<(), CgroupError> {
    let value = pid.to_string();
    let mut tries = 0;
    loop {
        match fsutil::write_raw(dir, "cgroup.procs", &value) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(30));
            }
            Err(source) => {
                return Err(CgroupError::AddProcess {
                    pid,
                    path: dir.to_owned(),
                    source,
                });
            }
        }
    }
}

/// Carries out a plan in order; `dir_of` maps a hierarchy key to its
/// directory.
fn execute<'a>(
    writes: &[plan::Write],
    dir_of: impl Fn(&str) -> Option<&'a Path>,
) -> Result<(), CgroupError> {
    use plan::WriteMode;
    for w in writes {
        let Some(dir) = dir_of(w.controller) else {
            if w.mode == WriteMode::SkipIfMissing {
                continue;
            }
            return Err(CgroupError::ControllerNotMounted {
                controller: w.controller.to_owned(),
            });
        };
        let errno = |e: &io::Error| e.raw_os_error().unwrap_or(0);
        if let Err(e) = fsutil::write_raw(dir, &w.file, &w.value) {
            match w.mode {
                WriteMode::SkipIfMissing if errno(&e) == libc::ENOENT => continue,
                WriteMode::TolerateEinval if errno(&e) == libc::EINVAL => continue,
                WriteMode::Unified { available: false }
                    if matches!(errno(&e), libc::ENOENT | libc::EPERM | libc::EACCES) =>
                {
                    let controller = w.file.split('.').next().unwrap_or_default().to_owned();
                    return Err(CgroupError::UnifiedControllerUnavailable {
                        key: w.file.clone(),
                        controller,
                        source: e,
                    });
                }
                _ if w.file == "memory.limit_in_bytes" && errno(&e) == libc::EBUSY => {
                    // EBUSY: the new limit is below what is in use and
                    // cannot be reclaimed; say so with the numbers.
                    return Err(CgroupError::MemoryLimitBelowUsage {
                        limit: w.value.clone(),
                        usage: fsutil::read_u64(dir, "memory.usage_in_bytes")?,
                        peak: fsutil::read_u64(dir, "memory.max_usage_in_bytes")?,
                    });
                }
                _ => {
                    return Err(CgroupError::Write {
                        path: dir.join(&w.file),
                        value: w.value.clone(),
                        source: e,
                    });
                }
            }
        }
        if w.mode == WriteMode::ReadBack {
            let requested: u64 = w.value.parse().unwrap_or_default();
            let effective = fsutil::read_u64(dir, &w.file)?;
            if requested > effective {
                return Err(CgroupError::CpuSharesAboveMax {
                    requested,
                    effective,
                });
            }
            if requested < effective {
                return Err(CgroupError::CpuSharesBelowMin {
                    requested,
                    effective,
                });
            }
        }
    }
    Ok(())
}
