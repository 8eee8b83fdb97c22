//! Making the rootfs the container's `/`.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use rustix::fs::{Mode, OFlags};

use super::{RootfsError, mountinfo};

fn open_dir(path: &Path) -> Result<std::os::fd::OwnedFd, RootfsError> {
    rustix::fs::open(
        path,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RootfsError::io("open", path, e))
}

/// pivot_root(2) into `rootfs` without a directory for the old root.
///
/// pivot_root(".", ".") stacks the old root on top of the new one at the same
/// place (see pivot_root(2), "NOTES"); from the old root's fd it is then
/// unmounted, leaving only the new root. The old root is made rslave first so
/// that the unmount does not propagate to the host (rprivate instead could
/// upset host tools that still see references to those mounts, runc notes).
pub(super) fn pivot_root(rootfs: &Path) -> Result<(), RootfsError> {
    let old_root = open_dir(Path::new("/"))?;
    let new_root = open_dir(rootfs)?;
    rustix::process::fchdir(&new_root).map_err(|e| RootfsError::io("chdir", rootfs, e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| RootfsError::io("pivot_root", rootfs, e))?;
    // Where "." is after pivot_root(2) is not promised: go to the old root by fd.
    rustix::process::fchdir(&old_root).map_err(|e| RootfsError::io("chdir", "old root", e))?;
    nix::mount::mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| RootfsError::mount("propagation", "old root", e))?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| RootfsError::io("unmount", "old root", e))?;
    std::env::set_current_dir("/").map_err(|e| RootfsError::io("chdir", "/", e))
}

/// runc's `--no-pivot`: move the rootfs mount onto `/` and chroot(2) into it.
///
/// The host's mounts stay in the namespace, under the new root. A full procfs
/// or sysfs mount there would let the container mount procfs or sysfs again
/// (the kernel only requires that a fully visible instance exists in the
/// namespace), so those are unmounted first, or covered with a tmpfs when
/// unmounting is not allowed.
pub(super) fn move_root(rootfs: &Path) -> Result<(), RootfsError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| RootfsError::io("read", "/proc/self/mountinfo", e))?;
    let hidden: Vec<_> = mountinfo::parse_mountinfo(&text)?
        .into_iter()
        .filter(|m| {
            m.root == Path::new("/")
                && (m.fstype == "proc" || m.fstype == "sysfs")
                && !m.mount_point.starts_with(rootfs)
        })
        .collect();
    for mount in hidden {
        let point = &mount.mount_point;
        let none = None::<&str>;
        match nix::mount::mount(none, point, none, MsFlags::MS_SLAVE | MsFlags::MS_REC, none) {
            Ok(()) => {}
            // Under a mount point already unmounted above.
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(RootfsError::mount("propagation", point, e)),
        }
        match nix::mount::umount2(point, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL | Errno::EPERM) => {
                nix::mount::mount(Some("tmpfs"), point, Some("tmpfs"), MsFlags::empty(), none)
                    .map_err(|e| RootfsError::mount("tmpfs", point, e))?;
            }
            Err(e) => return Err(RootfsError::io("unmount", point, e)),
        }
    }
    std::env::set_current_dir(rootfs).map_err(|e| RootfsError::io("chdir", rootfs, e))?;
    nix::mount::mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .map_err(|e| RootfsError::mount(format!("move of {}", rootfs.display()), "/", e))?;
    nix::unistd::chroot(".").map_err(|e| RootfsError::io("chroot", rootfs, e))?;
    std::env::set_current_dir("/").map_err(|e| RootfsError::io("chdir", "/", e))
}
