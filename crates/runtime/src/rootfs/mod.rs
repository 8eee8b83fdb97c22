//! The container's root filesystem: mounts, device nodes, pivot_root(2), and
//! the read-only and masked paths.
//!
//! Vocabulary:
//! - the *rootfs* is the host directory named by `root.path` (relative to the
//!   bundle); it becomes the container's `/`;
//! - a *destination* is a path as the container sees it; it is always resolved
//!   inside the rootfs, never on the host (see `paths.rs`);
//! - the *plan* ([`RootfsPlan`], [`FinalizePlan`]) is what will be done, built
//!   from the spec and checked before anything is mounted.
//!
//! Lifecycle, in the container's init process (already in its new mount
//! namespace, and its user and pid namespaces if any), following runc:
//! 1. [`prepare`]: everything under the rootfs while the host's `/` is still
//!    visible: propagation of `/`, the rootfs bind mount, `mounts`, device
//!    nodes and `/dev` symlinks. The createContainer hooks run after it.
//! 2. [`pivot`]: the rootfs becomes `/` and the host's tree is detached.
//! 3. [`bind_console`] if the process has a terminal, and [`reopen_dev_null`].
//! 4. [`finalize`]: sysctls, `readonlyPaths`, `maskedPaths`, the deferred
//!    read-only remounts (tmpfs, `/dev`) and `root.readonly`.

mod cgroup;
mod copyup;
mod devices;
mod finalize;
mod mount;
pub mod mountinfo;
pub mod options;
mod paths;
mod pivot;
pub mod plan;

#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

pub use finalize::{bind_console, bind_console_fd, reopen_dev_null};
pub use plan::{FinalizePlan, MountKind, MountOp, RootfsPlan};

/// What went wrong while setting up the root filesystem.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// The spec has no `root`.
    #[error("spec has no root")]
    NoRoot,
    /// `linux.rootfsPropagation` is not a propagation type.
    #[error(
        "rootfsPropagation {0:?} is not one of shared, slave, private, unbindable (or their r-variants)"
    )]
    InvalidPropagation(String),
    /// A mount option this runtime does not implement.
    #[error("mount {}: option {option:?} is not supported", destination.display())]
    UnsupportedOption {
        destination: PathBuf,
        option: String,
    },
    /// A mount entry that cannot be performed as written.
    #[error("mount {}: {reason}", destination.display())]
    InvalidMount {
        destination: PathBuf,
        reason: &'static str,
    },
    /// A mount destination inside `/proc` (other than procfs on `/proc`).
    #[error(
        "mount {}: resolves to {} inside /proc, where only procfs and the lxcfs files may be mounted",
        destination.display(),
        resolved.display()
    )]
    ProcDestination {
        destination: PathBuf,
        resolved: PathBuf,
    },
    /// A `linux.devices` entry that cannot be created.
    #[error("device {}: {reason}", path.display())]
    InvalidDevice { path: PathBuf, reason: &'static str },
    /// A `linux.sysctl` key that is not a path under `/proc/sys`.
    #[error("sysctl {key:?} is not a valid key")]
    InvalidSysctl { key: String },
    /// A path could not be resolved (or created) inside the rootfs.
    #[error("resolve {} in the rootfs: {source}", path.display())]
    Resolve {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// procfs and sysfs are only mounted on ordinary directories.
    #[error(
        "resolve {} in the rootfs: {} is a symlink, and procfs and sysfs are only mounted on ordinary directories",
        path.display(),
        symlink.display()
    )]
    SymlinkRefused { path: PathBuf, symlink: PathBuf },
    /// mount(2), move_mount(2) or mount_setattr(2) failed.
    #[error("mount {what} on {}: {source}", target.display())]
    Mount {
        what: String,
        target: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Any other system call on a path failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A line of `/proc/self/mountinfo` or `/proc/self/cgroup` could not be parsed.
    #[error("parse /proc/self/{file}: bad line {line:?}")]
    Parse { file: &'static str, line: String },
    /// The process's cgroup is not visible under the host's cgroup mount.
    #[error(
        "cgroup {}: not under the root {} of the mount at {}",
        cgroup.display(),
        root.display(),
        mount_point.display()
    )]
    CgroupOutsideMount {
        cgroup: PathBuf,
        root: PathBuf,
        mount_point: PathBuf,
    },
    /// What should be the null device is something else (CVE-2025-31133).
    #[error("{} is not the null device (char 1:3), refusing to use it", path.display())]
    NotDevNull { path: PathBuf },
    /// What should be a terminal is something else (CVE-2025-52565).
    #[error("console {} is not a pty on a devpts filesystem", path.display())]
    NotPty { path: PathBuf },
    /// `/proc` is not a procfs root, so sysctls cannot be written safely (CVE-2025-52881).
    #[error("{} is not the root of a procfs", path.display())]
    NotProcfs { path: PathBuf },
}

impl RootfsError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<io::Error>,
    ) -> Self {
        RootfsError::Io {
            op,
            path: path.into(),
            source: source.into(),
        }
    }

    pub(crate) fn mount(
        what: impl Into<String>,
        target: impl Into<PathBuf>,
        source: impl Into<io::Error>,
    ) -> Self {
        RootfsError::Mount {
            what: what.into(),
            target: target.into(),
            source: source.into(),
        }
    }
}

/// The host path of the container's root filesystem, absolute and without
/// symlinks: what [`prepare`] mounts and [`pivot`] expects.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, RootfsError> {
    let rootfs = plan::rootfs_of(spec, bundle)?;
    std::fs::canonicalize(&rootfs).map_err(|e| RootfsError::io("resolve rootfs", rootfs, e))
}

/// Sets up everything under the rootfs, with the host's `/` still visible.
///
/// The whole spec is checked first ([`RootfsPlan::from_spec`]); then `/` gets
/// its propagation (default `rslave`, so nothing mounted here reaches the
/// host), the rootfs is bind-mounted onto itself (pivot_root(2) needs a mount
/// point), `mounts` are mounted in order, and unless `/dev` is a bind mount the
/// device nodes, `/dev/ptmx` and the `/dev/fd`-style symlinks are created.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<(), RootfsError> {
    let mut plan = RootfsPlan::from_spec(spec, bundle)?;
    // Validate the finalize half too, before anything is mutated.
    FinalizePlan::from_spec(spec)?;
    plan.rootfs = rootfs_path(spec, bundle)?;
    mount::apply(&plan)
}

/// Makes the rootfs (the host path [`prepare`] mounted, see [`rootfs_path`])
/// the root of the mount namespace with pivot_root(2) and detaches the host's
/// tree; with `no_pivot`, moves it onto `/` and chroot(2)s instead (runc
/// `--no-pivot`). Leaves the working directory at the new `/`.
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    // The mount table names the rootfs by its canonical path.
    let rootfs =
        std::fs::canonicalize(rootfs).map_err(|e| RootfsError::io("resolve rootfs", rootfs, e))?;
    if no_pivot {
        pivot::move_root(&rootfs)
    } else {
        pivot::pivot_root(&rootfs)
    }
}

/// Finishes the rootfs after [`pivot`]: writes `linux.sysctl`, makes
/// `readonlyPaths` read-only, masks `maskedPaths`, applies the deferred
/// read-only remounts and `root.readonly`, and sets the umask to 022 (runc's;
/// the process's own umask is applied later).
pub fn finalize(spec: &Spec) -> Result<(), RootfsError> {
    let plan = FinalizePlan::from_spec(spec)?;
    finalize::apply(&plan)
}
