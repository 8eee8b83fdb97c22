//! Device nodes and the standard `/dev` symlinks.
//!
//! Nodes are made with mknod(2). In a user namespace the kernel does not allow
//! that (and a node made there would be unusable anyway, see the "nodev" that
//! unprivileged mounts get), so, as runc does, an empty file is created and the
//! host's node is bind-mounted over it. mknod failing with EPERM also falls back
//! to the bind mount: the runtime itself may be running in a user namespace.

use std::fs;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::mount::MsFlags;
use rustix::fs::{AtFlags, FileType, Gid, Mode, Uid};

use super::RootfsError;
use super::mount::mount_onto;
use super::paths::{self, Create, Symlinks};
use super::plan::{DeviceKind, DeviceNode};

/// Creates `nodes`, by bind mounts from the host if `user_namespace`.
pub(super) fn create_nodes(
    root: BorrowedFd<'_>,
    nodes: &[DeviceNode],
    user_namespace: bool,
) -> Result<(), RootfsError> {
    let bind = user_namespace || running_in_user_namespace();
    for node in nodes {
        if bind {
            bind_node(root, node)?;
        } else {
            mknod(root, node)?;
        }
    }
    Ok(())
}

/// Whether this process is in a user namespace other than the initial one: its
/// uid map is not the identity over the whole range.
fn running_in_user_namespace() -> bool {
    fs::read_to_string("/proc/self/uid_map")
        .map(|map| map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(false)
}

fn mknod(root: BorrowedFd<'_>, node: &DeviceNode) -> Result<(), RootfsError> {
    let (parent, name) = split(&node.path)?;
    let dir = paths::walk(root, parent, Create::Dir, Symlinks::Follow)?;
    let file_type = match node.kind {
        DeviceKind::Char => FileType::CharacterDevice,
        DeviceKind::Block => FileType::BlockDevice,
        DeviceKind::Fifo => FileType::Fifo,
    };
    let dev = rustix::fs::makedev(node.major, node.minor);
    let mode = Mode::from_raw_mode(node.mode);
    match rustix::fs::mknodat(&dir.fd, name, file_type, mode, dev) {
        Ok(()) => {}
        // Already there (an image that ships its own /dev): leave it, as runc does.
        Err(rustix::io::Errno::EXIST) => return Ok(()),
        Err(rustix::io::Errno::PERM) => return bind_node(root, node),
        Err(e) => return Err(RootfsError::io("mknod", &node.path, e)),
    }
    // mknod(2) applied the umask; the spec's mode is exact. The node is the one
    // just made (nothing else runs in the container yet), and no symlink.
    rustix::fs::chmodat(&dir.fd, name, mode, AtFlags::empty())
        .map_err(|e| RootfsError::io("chmod", &node.path, e))?;
    let owner = (Some(Uid::from_raw(node.uid)), Some(Gid::from_raw(node.gid)));
    rustix::fs::chownat(&dir.fd, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| RootfsError::io("chown", &node.path, e))
}

fn bind_node(root: BorrowedFd<'_>, node: &DeviceNode) -> Result<(), RootfsError> {
    // An empty file, or whatever non-directory the image has there already.
    let target = paths::walk(root, &node.path, Create::File, Symlinks::Follow)?;
    // The host's node of the same path is the source (runc).
    mount_onto(
        Some(&node.path),
        target.fd.as_fd(),
        None,
        MsFlags::MS_BIND,
        None,
    )
    .map_err(|e| RootfsError::mount(format!("bind {}", node.path.display()), &node.path, e))
}

fn split(path: &Path) -> Result<(&Path, &std::ffi::OsStr), RootfsError> {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(RootfsError::InvalidDevice {
            path: path.into(),
            reason: "not a file path",
        }),
    }
}

/// `/dev/ptmx` as a symlink to the container's own devpts instance
/// (`/dev/pts/ptmx`), as the kernel's devpts documentation recommends for
/// `newinstance` mounts.
pub(super) fn setup_ptmx(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let dev = paths::walk(root, Path::new("/dev"), Create::Dir, Symlinks::Follow)?;
    match rustix::fs::unlinkat(&dev.fd, "ptmx", AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(RootfsError::io("remove", "/dev/ptmx", e)),
    }
    rustix::fs::symlinkat("pts/ptmx", &dev.fd, "ptmx")
        .map_err(|e| RootfsError::io("symlink", "/dev/ptmx", e))
}

/// The `/dev` symlinks into `/proc/self` that programs expect.
pub(super) fn setup_symlinks(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    // Kernels without CONFIG_PROC_KCORE have no /proc/kcore to point at.
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    let dev = paths::walk(root, Path::new("/dev"), Create::Dir, Symlinks::Follow)?;
    for (target, name) in links {
        match rustix::fs::symlinkat(target, &dev.fd, name) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(RootfsError::io("symlink", Path::new("/dev").join(name), e)),
        }
    }
    Ok(())
}
