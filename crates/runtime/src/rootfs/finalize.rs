//! After the pivot: sysctls, read-only and masked paths, read-only remounts,
//! and the console.
//!
//! `/proc` is now the container's, and may be anything if the spec has no proc
//! mount, so nothing here goes through `/proc/self/fd`: mounts are made with
//! open_tree(2), fsmount(2), mount_setattr(2) and move_mount(2) on fds.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::mount::MountAttrFlags;

use super::RootfsError;
use super::mount::{bind_fd_onto, mount_setattr, move_onto, new_detached_fs, resolve_error};
use super::paths::{self, Create, Symlinks};
use super::plan::FinalizePlan;

/// `DEVPTS_SUPER_MAGIC`.
const DEVPTS_SUPER_MAGIC: rustix::fs::FsWord = 0x1cd1;
/// The inode number of procfs's root directory (`PROC_ROOT_INO`).
const PROC_ROOT_INO: u64 = 1;

fn open_root() -> Result<OwnedFd, RootfsError> {
    rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RootfsError::io("open", "/", e))
}

/// Opens `path` in the container, `None` if it does not exist.
fn open_existing(root: BorrowedFd<'_>, path: &Path) -> Result<Option<OwnedFd>, RootfsError> {
    match paths::reopen(root, path) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(resolve_error(path, e)),
    }
}

pub(super) fn apply(plan: &FinalizePlan) -> Result<(), RootfsError> {
    let root = open_root()?;
    if !plan.sysctls.is_empty() {
        write_sysctls(root.as_fd(), &plan.sysctls)?;
    }
    for path in &plan.readonly_paths {
        readonly_path(root.as_fd(), path)?;
    }
    let mut null = None;
    for path in &plan.masked_paths {
        mask_path(root.as_fd(), path, &mut null)?;
    }
    let readonly = u64::from(MountAttrFlags::MOUNT_ATTR_RDONLY.bits());
    for destination in &plan.readonly_mounts {
        let fd =
            paths::reopen(root.as_fd(), destination).map_err(|e| resolve_error(destination, e))?;
        mount_setattr(fd.as_fd(), false, readonly, 0)
            .map_err(|e| RootfsError::mount("read-only", destination, e))?;
    }
    if plan.readonly_root {
        // Only the root mount, as runc: mounts on top keep their own flags.
        mount_setattr(root.as_fd(), false, readonly, 0)
            .map_err(|e| RootfsError::mount("read-only", "/", e))?;
    }
    rustix::process::umask(Mode::from_raw_mode(0o022));
    Ok(())
}

/// Writes `linux.sysctl` under `/proc/sys`.
///
/// The writes cannot be redirected (CVE-2025-52881): `/proc` must be the root
/// of a procfs, and the files are opened beneath it without crossing a mount
/// or following any symlink, so a bind mount or symlink planted over a sysctl
/// file makes the open fail instead of sending the value elsewhere.
fn write_sysctls(
    root: BorrowedFd<'_>,
    sysctls: &[(String, PathBuf, String)],
) -> Result<(), RootfsError> {
    let proc_path = Path::new("/proc");
    let proc = paths::reopen(root, proc_path).map_err(|e| resolve_error(proc_path, e))?;
    let fs = rustix::fs::fstatfs(&proc).map_err(|e| RootfsError::io("statfs", proc_path, e))?;
    let stat = rustix::fs::fstat(&proc).map_err(|e| RootfsError::io("stat", proc_path, e))?;
    if fs.f_type != rustix::fs::PROC_SUPER_MAGIC || stat.st_ino != PROC_ROOT_INO {
        return Err(RootfsError::NotProcfs {
            path: proc_path.into(),
        });
    }
    let resolve = ResolveFlags::BENEATH
        | ResolveFlags::NO_XDEV
        | ResolveFlags::NO_SYMLINKS
        | ResolveFlags::NO_MAGICLINKS;
    for (_key, relative, value) in sysctls {
        let path = Path::new("sys").join(relative);
        let shown = proc_path.join(&path);
        let flags = OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = rustix::fs::openat2(&proc, &path, flags, Mode::empty(), resolve)
            .map_err(|e| RootfsError::io("open", &shown, e))?;
        std::fs::File::from(fd)
            .write_all(value.as_bytes())
            .map_err(|e| RootfsError::io("write", &shown, e))?;
    }
    Ok(())
}

/// Makes `path` (and everything mounted under it) read-only, nosuid, nodev and
/// noexec, with a bind mount of itself. A missing path is fine.
fn readonly_path(root: BorrowedFd<'_>, path: &Path) -> Result<(), RootfsError> {
    let Some(target) = open_existing(root, path)? else {
        return Ok(());
    };
    let attrs = MountAttrFlags::MOUNT_ATTR_RDONLY
        | MountAttrFlags::MOUNT_ATTR_NOSUID
        | MountAttrFlags::MOUNT_ATTR_NODEV
        | MountAttrFlags::MOUNT_ATTR_NOEXEC;
    bind_fd_onto(target.as_fd(), target.as_fd(), true, attrs)
        .map_err(|e| RootfsError::mount("read-only bind", path, e))
}

/// Hides `path`: a directory gets an empty read-only tmpfs over it, anything
/// else the null device. A missing path is fine.
fn mask_path(
    root: BorrowedFd<'_>,
    path: &Path,
    null: &mut Option<OwnedFd>,
) -> Result<(), RootfsError> {
    let Some(target) = open_existing(root, path)? else {
        return Ok(());
    };
    if paths::is_dir(target.as_fd()).map_err(|e| RootfsError::io("stat", path, e))? {
        let tmpfs = new_detached_fs("tmpfs", MountAttrFlags::MOUNT_ATTR_RDONLY, |_| Ok(()))
            .map_err(|e| RootfsError::mount("tmpfs", path, e))?;
        return move_onto(tmpfs.as_fd(), target.as_fd())
            .map_err(|e| RootfsError::mount("tmpfs", path, e));
    }
    let null = match null {
        Some(null) => null,
        None => null.insert(dev_null(root, OFlags::PATH)?),
    };
    bind_fd_onto(null.as_fd(), target.as_fd(), false, MountAttrFlags::empty())
        .map_err(|e| RootfsError::mount("bind /dev/null", path, e))
}

/// Opens the container's `/dev/null`, checked to be the null device: if the
/// image (or a process racing with us) made it a symlink or another file, a
/// "masked" path would show that file instead (CVE-2025-31133).
fn dev_null(root: BorrowedFd<'_>, flags: OFlags) -> Result<OwnedFd, RootfsError> {
    let path = Path::new("/dev/null");
    let fd = paths::open_in_root(root, path, flags | OFlags::NOFOLLOW)
        .map_err(|e| resolve_error(path, e))?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| RootfsError::io("stat", path, e))?;
    let is_null = FileType::from_raw_mode(stat.st_mode) == FileType::CharacterDevice
        && stat.st_rdev == rustix::fs::makedev(1, 3);
    if !is_null {
        return Err(RootfsError::NotDevNull { path: path.into() });
    }
    Ok(fd)
}

/// Bind-mounts the pty `slave_path` (a path in the container, normally under
/// `/dev/pts`) onto `/dev/console`, creating that as an empty file if missing.
/// Called after [`pivot`](super::pivot).
pub fn bind_console(slave_path: &Path) -> Result<(), RootfsError> {
    let root = open_root()?;
    let slave =
        paths::reopen(root.as_fd(), slave_path).map_err(|e| resolve_error(slave_path, e))?;
    bind_console_at(root.as_fd(), slave.as_fd(), slave_path)
}

/// [`bind_console`] for a pty slave already open as `slave`.
pub fn bind_console_fd(slave: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let root = open_root()?;
    bind_console_at(root.as_fd(), slave, Path::new("console slave"))
}

fn bind_console_at(
    root: BorrowedFd<'_>,
    slave: BorrowedFd<'_>,
    shown: &Path,
) -> Result<(), RootfsError> {
    let not_pty = || RootfsError::NotPty { path: shown.into() };
    let stat = rustix::fs::fstat(slave).map_err(|_| not_pty())?;
    let fs = rustix::fs::fstatfs(slave).map_err(|_| not_pty())?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::CharacterDevice
        || fs.f_type != DEVPTS_SUPER_MAGIC
    {
        return Err(not_pty());
    }
    // No symlinks: /dev/console pointing into /proc would turn the bind mount
    // into a way to cover (or expose) kernel files (CVE-2025-52565).
    let console = Path::new("/dev/console");
    let target = paths::walk(root, console, Create::File, Symlinks::Refuse)?;
    let kind = paths::is_dir(target.fd.as_fd()).map_err(|e| RootfsError::io("stat", console, e))?;
    if kind {
        return Err(resolve_error(
            console,
            std::io::Error::from_raw_os_error(libc::EISDIR),
        ));
    }
    bind_fd_onto(slave, target.fd.as_fd(), false, MountAttrFlags::empty())
        .map_err(|e| RootfsError::mount(format!("bind {}", shown.display()), console, e))
}

/// Points stdin, stdout and stderr that are the null device at the container's
/// `/dev/null` instead of the host's, so the container holds no file of the
/// host's mount tree (runc does the same after the pivot).
pub fn reopen_dev_null() -> Result<(), RootfsError> {
    let root = open_root()?;
    // Checked by O_PATH first: opening an unknown device could have side effects.
    dev_null(root.as_fd(), OFlags::PATH)?;
    let null = dev_null(root.as_fd(), OFlags::RDWR)?;
    let null_dev = rustix::fs::makedev(1, 3);
    let is_null = |fd: BorrowedFd<'_>| {
        rustix::fs::fstat(fd).is_ok_and(|st| {
            FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
                && st.st_rdev == null_dev
        })
    };
    if is_null(rustix::stdio::stdin()) {
        rustix::stdio::dup2_stdin(&null).map_err(|e| RootfsError::io("reopen", "stdin", e))?;
    }
    if is_null(rustix::stdio::stdout()) {
        rustix::stdio::dup2_stdout(&null).map_err(|e| RootfsError::io("reopen", "stdout", e))?;
    }
    if is_null(rustix::stdio::stderr()) {
        rustix::stdio::dup2_stderr(&null).map_err(|e| RootfsError::io("reopen", "stderr", e))?;
    }
    Ok(())
}
