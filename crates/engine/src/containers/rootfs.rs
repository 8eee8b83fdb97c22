//! Mounting a container's rw snapshot at its rootfs path.
//!
//! The rootfs stays mounted while the container runs (the runtime reads it
//! at create; exec, top and `docker cp` use it afterwards) and is
//! unmounted when the container stops. The mount lives in the host's mount
//! namespace, so it survives a daemon restart; [`is_mounted`] tells a
//! restored daemon whether to mount it again.

use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, StatxAttributes, StatxFlags, statx};
use rustix::io::Errno;
use rustix::mount::{UnmountFlags, unmount as umount2};

use super::Error;
use crate::images::ImageService;

/// Where container `id`'s rootfs is mounted.
pub fn rootfs_path(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join(id).join("rootfs")
}

/// Whether `path` is the root of a mount (statx(2) `STATX_ATTR_MOUNT_ROOT`,
/// Linux 5.8+), which also sees bind mounts of the same filesystem.
pub fn is_mounted(path: &Path) -> bool {
    match statx(
        CWD,
        path,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::BASIC_STATS,
    ) {
        Ok(st) => {
            st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT)
                && st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT)
        }
        Err(_) => false,
    }
}

/// Mounts the rw snapshot of container `id` at `target` unless something
/// is mounted there already.
pub fn mount(images: &ImageService, id: &str, target: &Path) -> Result<(), Error> {
    if is_mounted(target) {
        return Ok(());
    }
    let mounts = images.rootfs_mounts(id).map_err(Error::Image)?;
    std::fs::create_dir_all(target).map_err(|source| Error::Io {
        op: "create",
        path: target.to_path_buf(),
        source,
    })?;
    let guard =
        berth_snapshots::mount::mount_all(&mounts, target).map_err(|source| Error::Mount {
            id: id.to_string(),
            source,
        })?;
    // The mount must outlive this call (and the daemon): it is undone by
    // `unmount` when the container stops, not when the guard drops.
    std::mem::forget(guard);
    Ok(())
}

/// Unmounts everything stacked on `target` (lazily: a process still
/// holding a file there must not make a stop fail).
pub fn unmount(target: &Path) -> Result<(), Error> {
    // A bound on the loop: a path cannot hold more mounts than this in
    // any sane setup, and a bug must not spin forever.
    for _ in 0..64 {
        if !is_mounted(target) {
            return Ok(());
        }
        match umount2(target, UnmountFlags::DETACH) {
            Ok(()) => {}
            // EINVAL: not a mount point any more; ENOENT: gone.
            Err(Errno::INVAL) | Err(Errno::NOENT) => return Ok(()),
            Err(source) => {
                return Err(Error::Unmount {
                    path: target.to_path_buf(),
                    source,
                });
            }
        }
    }
    Ok(())
}
