//! Applying a [`RootfsPlan`]: the mounts, in order, each onto a target resolved
//! inside the rootfs.
//!
//! Before the pivot the host's `/proc` is this process's `/proc`, so a resolved
//! `O_PATH` fd is handed to mount(2) as `/proc/self/fd/N`: the kernel mounts on
//! exactly that object, whatever happens to the path afterwards. A mount hides
//! the object it was made on, so later steps (remount, propagation) resolve the
//! destination again to reach the new mount.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use rustix::fs::{Mode, OFlags, StatVfsMountFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags};

use super::paths::{self, Create, Resolved, Symlinks};
use super::plan::{MountKind, MountOp, RootfsPlan, check_proc_destination};
use super::{RootfsError, cgroup, devices, mountinfo};

/// The atime "enum" flags (only one is in effect at a time).
const ATIME_MODES: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);
/// Every atime-related flag.
const ATIME_FLAGS: MsFlags = ATIME_MODES.union(MsFlags::MS_NODIRATIME);
/// The flags the kernel locks (`MNT_LOCK_*`) on mounts inherited by a less
/// privileged user namespace: a bind remount must keep them.
const LOCKED_FLAGS: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOSUID)
    .union(ATIME_FLAGS);

/// mount(2) onto the object behind `target`, through `/proc/self/fd`.
pub(super) fn mount_onto(
    source: Option<&Path>,
    target: BorrowedFd<'_>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Errno> {
    nix::mount::mount(source, &paths::proc_fd_path(target), fstype, flags, data)
}

pub(super) fn apply(plan: &RootfsPlan) -> Result<(), RootfsError> {
    let rootfs = &plan.rootfs;
    // Everything below is mounted in our namespace only: with / rslave (the
    // default) the host's later mounts still show up, ours never go back.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        plan.root_propagation,
        None::<&str>,
    )
    .map_err(|e| RootfsError::mount("propagation", "/", e))?;
    if may_leave_shared(plan.root_propagation) {
        make_parent_private(rootfs)?;
    }
    // pivot_root(2) wants the new root to be a mount point.
    nix::mount::mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| RootfsError::mount(format!("bind {}", rootfs.display()), rootfs, e))?;
    // Opened after the bind, so that it is the new mount's root.
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RootfsError::io("open rootfs", rootfs, e))?;
    for op in &plan.mounts {
        apply_mount(root.as_fd(), op, plan.cgroup_namespace)?;
    }
    if plan.setup_dev {
        devices::create_nodes(root.as_fd(), &plan.devices, plan.user_namespace)?;
        devices::setup_ptmx(root.as_fd())?;
        devices::setup_symlinks(root.as_fd())?;
    }
    Ok(())
}

/// Whether a mount can still be shared after `/` got `propagation`: a recursive
/// change to anything but shared leaves none (mount_namespaces(7): a shared mount
/// made slave or private stops being shared). Then the mount holding the rootfs
/// need not be looked up — which reads /proc/self/mountinfo, whose length (and
/// cost) grows with every container running on the host.
fn may_leave_shared(propagation: MsFlags) -> bool {
    !propagation.contains(MsFlags::MS_REC) || propagation.contains(MsFlags::MS_SHARED)
}

/// Makes the mount holding the rootfs private if it is shared: a bind mount
/// there would propagate to its peers in other namespaces, and pivot_root(2)
/// refuses a new root whose parent mount is shared.
fn make_parent_private(rootfs: &Path) -> Result<(), RootfsError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| RootfsError::io("read", "/proc/self/mountinfo", e))?;
    let mounts = mountinfo::parse_mountinfo(&text)?;
    let parent = mountinfo::mount_containing(&mounts, rootfs).ok_or_else(|| {
        RootfsError::io(
            "find the mount of",
            rootfs,
            io::Error::from(io::ErrorKind::NotFound),
        )
    })?;
    if parent.is_shared() {
        let point = &parent.mount_point;
        nix::mount::mount(
            None::<&str>,
            point,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| RootfsError::mount("propagation", point, e))?;
    }
    Ok(())
}

/// Performs one mount of the plan.
pub(super) fn apply_mount(
    root: BorrowedFd<'_>,
    op: &MountOp,
    cgroup_namespace: bool,
) -> Result<(), RootfsError> {
    let dest = &op.destination;
    match op.kind {
        MountKind::Bind => bind(root, op),
        MountKind::Cgroup => cgroup::apply(root, op, cgroup_namespace),
        MountKind::Proc | MountKind::Sysfs => {
            let target = paths::walk(root, dest, Create::Dir, Symlinks::Refuse)?;
            check_proc_destination(dest, &target.path, op.kind)?;
            mount_fs(root, op, &target, op.options.data_string().as_deref())
        }
        MountKind::Tmpfs => {
            let target = paths::walk(root, dest, Create::Dir, Symlinks::Follow)?;
            check_proc_destination(dest, &target.path, op.kind)?;
            let mut data = op.options.data.clone();
            if !target.created {
                // Keep the mode of the directory the tmpfs covers (runc); a
                // `mode=` in the options comes later and wins.
                let stat = rustix::fs::fstat(&target.fd)
                    .map_err(|e| RootfsError::io("stat", &target.path, e))?;
                data.insert(0, format!("mode={:04o}", stat.st_mode & 0o7777));
            }
            if op.options.tmpcopyup {
                super::copyup::tmpfs_copy_up(op, &target, &data)?;
                return after_mount(root, op, &target.path);
            }
            let data = (!data.is_empty()).then(|| data.join(","));
            mount_fs(root, op, &target, data.as_deref())
        }
        MountKind::Other => {
            let target = paths::walk(root, dest, Create::Dir, Symlinks::Follow)?;
            check_proc_destination(dest, &target.path, op.kind)?;
            mount_fs(root, op, &target, op.options.data_string().as_deref())
        }
    }
}

fn mount_fs(
    root: BorrowedFd<'_>,
    op: &MountOp,
    target: &Resolved,
    data: Option<&str>,
) -> Result<(), RootfsError> {
    mount_onto(
        Some(&op.source),
        target.fd.as_fd(),
        Some(&op.fstype),
        op.options.flags,
        data,
    )
    .map_err(|e| RootfsError::mount(&op.fstype, &op.destination, e))?;
    after_mount(root, op, &target.path)
}

fn bind(root: BorrowedFd<'_>, op: &MountOp) -> Result<(), RootfsError> {
    let dest = &op.destination;
    let source = std::fs::metadata(&op.source)
        .map_err(|e| RootfsError::io("stat bind source", &op.source, e))?;
    let create = if source.is_dir() {
        Create::Dir
    } else {
        Create::File
    };
    let target = paths::walk(root, dest, create, Symlinks::Follow)?;
    check_proc_destination(dest, &target.path, op.kind)?;
    if target.path == Path::new("/proc") {
        // Only a procfs may cover /proc, or the checks that rely on it are void.
        let fs =
            rustix::fs::statfs(&op.source).map_err(|e| RootfsError::io("statfs", &op.source, e))?;
        if fs.f_type != rustix::fs::PROC_SUPER_MAGIC {
            return Err(RootfsError::ProcDestination {
                destination: dest.clone(),
                resolved: target.path,
            });
        }
    }
    let flags = op.options.flags & (MsFlags::MS_BIND | MsFlags::MS_REC);
    let what = || format!("bind {}", op.source.display());
    mount_onto(Some(&op.source), target.fd.as_fd(), None, flags, None)
        .map_err(|e| RootfsError::mount(what(), dest, e))?;
    if op.options.bind_needs_remount() {
        let fd = paths::reopen(root, &target.path).map_err(|e| resolve_error(dest, e))?;
        remount_bind(fd.as_fd(), op.options.flags, op.options.cleared)
            .map_err(|e| RootfsError::mount(format!("remount of {}", what()), dest, e))?;
    }
    after_mount(root, op, &target.path)
}

/// Applies `flags` to the bind mount behind `fd` (the first `MS_BIND` ignored
/// them). The remount sets exactly the flags asked for; if that fails with
/// EPERM the mount has locked flags (a mount from a more privileged user
/// namespace), and the remount is retried with them kept, unless the options
/// explicitly asked to clear one of them or for a different atime mode.
pub(super) fn remount_bind(
    fd: BorrowedFd<'_>,
    flags: MsFlags,
    cleared: MsFlags,
) -> Result<(), Errno> {
    let flags = (flags - MsFlags::MS_REC) | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    let first = match mount_onto(None, fd, None, flags, None) {
        Err(Errno::EPERM) => Errno::EPERM,
        other => return other,
    };
    let current = rustix::fs::fstatvfs(fd)
        .map(|st| statvfs_flags(st.f_flag))
        .map_err(|_| first)?;
    if !(current & cleared & LOCKED_FLAGS).is_empty() {
        return Err(first);
    }
    // MS_STRICTATIME wins over MS_NOATIME/MS_RELATIME and MS_NOATIME over
    // MS_RELATIME (kernel quirks): asking for an atime mode other than the
    // locked one would silently give the locked one, so refuse instead.
    let asked_atime = flags & ATIME_FLAGS;
    if !asked_atime.is_empty() && asked_atime != current & ATIME_FLAGS {
        return Err(first);
    }
    mount_onto(None, fd, None, flags | (current & LOCKED_FLAGS), None)
}

/// The `MS_*` flags of a mount, from statvfs(3)'s `f_flag`.
fn statvfs_flags(st: StatVfsMountFlags) -> MsFlags {
    const ST_NOSYMFOLLOW: u64 = 0x2000;
    let table = [
        (StatVfsMountFlags::RDONLY, MsFlags::MS_RDONLY),
        (StatVfsMountFlags::NOSUID, MsFlags::MS_NOSUID),
        (StatVfsMountFlags::NODEV, MsFlags::MS_NODEV),
        (StatVfsMountFlags::NOEXEC, MsFlags::MS_NOEXEC),
        (StatVfsMountFlags::MANDLOCK, MsFlags::MS_MANDLOCK),
        (StatVfsMountFlags::SYNCHRONOUS, MsFlags::MS_SYNCHRONOUS),
        (StatVfsMountFlags::NOATIME, MsFlags::MS_NOATIME),
        (StatVfsMountFlags::NODIRATIME, MsFlags::MS_NODIRATIME),
        (StatVfsMountFlags::RELATIME, MsFlags::MS_RELATIME),
        (
            StatVfsMountFlags::from_bits_retain(ST_NOSYMFOLLOW),
            super::options::MS_NOSYMFOLLOW,
        ),
    ];
    let mut flags = MsFlags::empty();
    for (st_flag, ms_flag) in table {
        if st.contains(st_flag) {
            flags |= ms_flag;
        }
    }
    // MS_STRICTATIME is not stored in the mount: it is the absence of the others.
    if (flags & ATIME_MODES).is_empty() {
        flags |= MsFlags::MS_STRICTATIME;
    }
    flags
}

/// Propagation and recursive attributes, on the mount just made.
fn after_mount(root: BorrowedFd<'_>, op: &MountOp, resolved: &Path) -> Result<(), RootfsError> {
    let options = &op.options;
    if options.propagation.is_empty() && options.recursive.is_none() {
        return Ok(());
    }
    let fd = paths::reopen(root, resolved).map_err(|e| resolve_error(&op.destination, e))?;
    for &propagation in &options.propagation {
        mount_onto(None, fd.as_fd(), None, propagation, None)
            .map_err(|e| RootfsError::mount("propagation", &op.destination, e))?;
    }
    if let Some(attr) = options.recursive {
        mount_setattr(fd.as_fd(), true, attr.set, attr.clear)
            .map_err(|e| RootfsError::mount("recursive attributes", &op.destination, e))?;
    }
    Ok(())
}

pub(super) fn resolve_error(path: &Path, source: io::Error) -> RootfsError {
    RootfsError::Resolve {
        path: path.to_path_buf(),
        source,
    }
}

/// `struct mount_attr` of mount_setattr(2) (`MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount whose root `fd` is (`AT_EMPTY_PATH`), or on
/// its whole tree with `recursive`. Works on attached and detached mounts
/// alike, and needs no path, so it is safe after the pivot too.
pub(super) fn mount_setattr(
    fd: BorrowedFd<'_>,
    recursive: bool,
    set: u64,
    clear: u64,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: the path is a NUL-terminated empty string, `attr` is a live
    // `struct mount_attr` whose size is passed along, and `fd` is borrowed for
    // the duration of the call; the kernel only reads from both pointers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Attaches a copy of the mount tree at `source` (a bind mount, with its
/// submounts if `recursive`) onto `target`, with `attr_set` applied to the
/// copy before anyone can see it. Uses open_tree(2), mount_setattr(2) and
/// move_mount(2) on fds only: no path is looked up.
pub(super) fn bind_fd_onto(
    source: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    recursive: bool,
    attr_set: MountAttrFlags,
) -> io::Result<()> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    let tree = rustix::mount::open_tree(source, "", flags)?;
    if !attr_set.is_empty() {
        mount_setattr(tree.as_fd(), recursive, u64::from(attr_set.bits()), 0)?;
    }
    move_onto(tree.as_fd(), target)
}

/// Creates a new, detached filesystem of type `fstype` with per-mount
/// attributes `attr` (fsopen(2), fsmount(2)), configured by `configure`.
pub(super) fn new_detached_fs(
    fstype: &str,
    attr: MountAttrFlags,
    configure: impl FnOnce(BorrowedFd<'_>) -> io::Result<()>,
) -> io::Result<OwnedFd> {
    let fs = rustix::mount::fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC)?;
    configure(fs.as_fd())?;
    rustix::mount::fsconfig_create(&fs)?;
    Ok(rustix::mount::fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        attr,
    )?)
}

/// move_mount(2) of the detached mount `mount` onto the object behind `target`.
pub(super) fn move_onto(mount: BorrowedFd<'_>, target: BorrowedFd<'_>) -> io::Result<()> {
    let flags = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    Ok(rustix::mount::move_mount(mount, "", target, "", flags)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statvfs_flags_map_to_ms_flags() {
        let st =
            StatVfsMountFlags::RDONLY | StatVfsMountFlags::NOSUID | StatVfsMountFlags::RELATIME;
        assert_eq!(
            statvfs_flags(st),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_RELATIME
        );
        assert_eq!(
            statvfs_flags(StatVfsMountFlags::empty()),
            MsFlags::MS_STRICTATIME
        );
        assert_eq!(
            statvfs_flags(StatVfsMountFlags::NOATIME | StatVfsMountFlags::NODEV),
            MsFlags::MS_NOATIME | MsFlags::MS_NODEV
        );
    }
}

#[cfg(test)]
mod propagation_tests {
    use super::*;

    #[test]
    fn only_a_recursive_non_shared_change_skips_the_lookup() {
        assert!(!may_leave_shared(MsFlags::MS_SLAVE | MsFlags::MS_REC));
        assert!(!may_leave_shared(MsFlags::MS_PRIVATE | MsFlags::MS_REC));
        assert!(!may_leave_shared(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC));
        assert!(may_leave_shared(MsFlags::MS_SHARED | MsFlags::MS_REC));
        assert!(may_leave_shared(MsFlags::MS_SLAVE));
        assert!(may_leave_shared(MsFlags::MS_PRIVATE));
    }
}
