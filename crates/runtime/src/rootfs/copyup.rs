//! runc's `tmpcopyup` extension: a tmpfs that starts with a copy of what was
//! in the directory it covers.
//!
//! The tmpfs is created detached (fsopen(2), fsmount(2)), filled through fds
//! (never through a path in the rootfs, which could be swapped for a symlink),
//! and only then moved onto the destination, so the container never sees it
//! half-filled.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::mount::MsFlags;
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Uid};
use rustix::mount::MountAttrFlags;

use super::RootfsError;
use super::mount::{move_onto, new_detached_fs};
use super::options::MS_NOSYMFOLLOW;
use super::paths::Resolved;
use super::plan::MountOp;

/// Per-mount `MS_*` flags as fsmount(2) attributes.
fn mount_attrs(flags: MsFlags) -> MountAttrFlags {
    let table = [
        (MsFlags::MS_RDONLY, MountAttrFlags::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, MountAttrFlags::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, MountAttrFlags::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, MountAttrFlags::MOUNT_ATTR_NOEXEC),
        (
            MsFlags::MS_NODIRATIME,
            MountAttrFlags::MOUNT_ATTR_NODIRATIME,
        ),
        (MsFlags::MS_NOATIME, MountAttrFlags::MOUNT_ATTR_NOATIME),
        (
            MsFlags::MS_STRICTATIME,
            MountAttrFlags::MOUNT_ATTR_STRICTATIME,
        ),
        (MS_NOSYMFOLLOW, MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW),
    ];
    let mut attrs = MountAttrFlags::empty();
    for (flag, attr) in table {
        if flags.contains(flag) {
            attrs |= attr;
        }
    }
    attrs
}

/// Superblock `MS_*` flags, which the new mount API sets as fsconfig(2) flags.
const SUPERBLOCK_FLAGS: [(MsFlags, &str); 4] = [
    (MsFlags::MS_SYNCHRONOUS, "sync"),
    (MsFlags::MS_DIRSYNC, "dirsync"),
    (MsFlags::MS_LAZYTIME, "lazytime"),
    (MsFlags::MS_MANDLOCK, "mand"),
];

/// Mounts a tmpfs on `target` holding a copy of the directory's contents.
/// `data` are the tmpfs options (`mode=`, `size=`, ...).
pub(super) fn tmpfs_copy_up(
    op: &MountOp,
    target: &Resolved,
    data: &[String],
) -> Result<(), RootfsError> {
    let dest = &op.destination;
    let flags = op.options.flags;
    let tmpfs = new_detached_fs("tmpfs", mount_attrs(flags), |fs| {
        for option in data {
            match option.split_once('=') {
                Some((key, value)) => rustix::mount::fsconfig_set_string(fs, key, value)?,
                None => rustix::mount::fsconfig_set_flag(fs, option.as_str())?,
            }
        }
        for (flag, name) in SUPERBLOCK_FLAGS {
            if flags.contains(flag) {
                rustix::mount::fsconfig_set_flag(fs, name)?;
            }
        }
        Ok(())
    })
    .map_err(|e| RootfsError::mount("tmpfs (tmpcopyup)", dest, e))?;
    let source = rustix::fs::openat(
        &target.fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RootfsError::io("open", &target.path, e))?;
    copy_tree(&source, tmpfs.as_fd())
        .map_err(|e| RootfsError::io("copy up into the tmpfs at", dest, e))?;
    move_onto(tmpfs.as_fd(), target.fd.as_fd())
        .map_err(|e| RootfsError::mount("tmpfs (tmpcopyup)", dest, e))
}

/// Copies the contents of the directory `source` into the directory `dest`:
/// files, directories, symlinks and special files, with owner and mode.
fn copy_tree(source: &OwnedFd, dest: BorrowedFd<'_>) -> io::Result<()> {
    let mut dir = rustix::fs::Dir::read_from(source)?;
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let stat = rustix::fs::statat(source, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_raw_mode(stat.st_mode & 0o7777);
        let file_type = FileType::from_raw_mode(stat.st_mode);
        let nofollow = OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match file_type {
            FileType::Directory => {
                rustix::fs::mkdirat(dest, name, Mode::from_raw_mode(0o700))?;
                let from = rustix::fs::openat(
                    source,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | nofollow,
                    Mode::empty(),
                )?;
                let to = rustix::fs::openat(
                    dest,
                    name,
                    OFlags::PATH | OFlags::DIRECTORY | nofollow,
                    Mode::empty(),
                )?;
                copy_tree(&from, to.as_fd())?;
            }
            FileType::RegularFile => {
                let from =
                    rustix::fs::openat(source, name, OFlags::RDONLY | nofollow, Mode::empty())?;
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | nofollow;
                let to = rustix::fs::openat(dest, name, flags, Mode::from_raw_mode(0o600))?;
                io::copy(&mut File::from(from), &mut File::from(to))?;
            }
            FileType::Symlink => {
                let link = rustix::fs::readlinkat(source, name, Vec::new())?;
                rustix::fs::symlinkat(link.as_c_str(), dest, name)?;
            }
            other => rustix::fs::mknodat(dest, name, other, mode, stat.st_rdev)?,
        }
        let owner = (
            Some(Uid::from_raw(stat.st_uid)),
            Some(Gid::from_raw(stat.st_gid)),
        );
        rustix::fs::chownat(dest, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)?;
        if file_type != FileType::Symlink {
            // After chown(2), which clears the set-user-ID and set-group-ID bits.
            rustix::fs::chmodat(dest, name, mode, AtFlags::empty())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_to_attributes() {
        let attrs = mount_attrs(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_STRICTATIME);
        assert_eq!(
            attrs,
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_STRICTATIME
        );
        assert_eq!(
            mount_attrs(MsFlags::MS_SYNCHRONOUS),
            MountAttrFlags::empty()
        );
    }

    // Needs no privileges: copies between two temp dirs.
    #[test]
    fn copies_a_tree() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        std::fs::create_dir_all(src.join("d/e")).unwrap();
        std::fs::write(src.join("d/f"), b"content").unwrap();
        std::fs::set_permissions(src.join("d/f"), std::fs::Permissions::from_mode(0o751)).unwrap();
        symlink("../x", src.join("d/l")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        let open = |p: &std::path::Path| {
            rustix::fs::open(p, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
        };
        copy_tree(&open(&src), open(&dst).as_fd()).expect("copy");
        assert_eq!(std::fs::read(dst.join("d/f")).unwrap(), b"content");
        let mode = std::fs::metadata(dst.join("d/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o751);
        assert!(dst.join("d/e").is_dir());
        assert_eq!(
            std::fs::read_link(dst.join("d/l")).unwrap(),
            std::path::Path::new("../x")
        );
    }
}
