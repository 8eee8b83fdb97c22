//! Copy-up: a new volume takes what the image has at its mount point.
//!
//! Like dockerd (`copyExistingContents`), only an empty volume is filled,
//! and the directory's own owner, mode, xattrs and times are copied onto
//! the volume's data directory with its content (owners, modes, setuid
//! bits, xattrs, times, symlinks as links, hardlinks, device nodes).
//!
//! The mount point is looked up inside the container's rootfs with every
//! symlink resolved as if the rootfs were `/` (openat2 `RESOLVE_IN_ROOT`),
//! so an image whose `/data` is a symlink to `/etc` of the host cannot
//! make the daemon copy host files.

use std::os::fd::AsRawFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::Error;
use crate::containers::archive::open_in_root;

/// Fills the volume data directory `data` of volume `name` with the
/// content at `destination` in the container rootfs `rootfs`, when that
/// is a directory and `data` is empty. Returns whether it copied.
pub(crate) fn copy_up(
    name: &str,
    rootfs: &Path,
    destination: &str,
    data: &Path,
) -> Result<bool, Error> {
    let open_err = |source: Errno| Error::CopyUpOpen {
        name: name.to_string(),
        destination: destination.to_string(),
        source: source.into(),
    };
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(open_err)?;
    let dir = match open_in_root(&root, destination, OFlags::PATH | OFlags::DIRECTORY) {
        Ok(fd) => fd,
        // Nothing there (or a file, which the mount will refuse): nothing
        // to copy, as in dockerd.
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(false),
        Err(e) => return Err(open_err(e)),
    };
    let empty = std::fs::read_dir(data)
        .map_err(|source| Error::Io {
            op: "read directory",
            path: data.to_path_buf(),
            source,
        })?
        .next()
        .is_none();
    if !empty {
        return Ok(false);
    }
    // The descriptor's directory through procfs; the trailing `.` makes
    // lstat(2) and the xattr calls see the directory, not the magic link.
    let source = format!("/proc/self/fd/{}/.", dir.as_raw_fd());
    berth_snapshots::copy::copy_tree(Path::new(&source), data).map_err(|source| Error::CopyUp {
        name: name.to_string(),
        destination: destination.to_string(),
        source,
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn copies_owners_modes_and_links_inside_the_root() {
        if !testkit::require_root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        let src = rootfs.join("srv/data");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("f"), b"hello").unwrap();
        std::os::unix::fs::chown(src.join("f"), Some(1234), Some(5678)).unwrap();
        std::fs::set_permissions(src.join("f"), std::fs::Permissions::from_mode(0o4604)).unwrap();
        std::os::unix::fs::chown(&src, Some(42), Some(43)).unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o1770)).unwrap();
        symlink("/etc/passwd", src.join("link")).unwrap();
        // /data -> /srv/data, absolute: resolved inside the rootfs.
        symlink("/srv/data", rootfs.join("data")).unwrap();
        // /escape -> the host's /etc: must not be followed out.
        symlink("/etc", rootfs.join("escape")).unwrap();

        let vol = tmp.path().join("vol");
        std::fs::create_dir(&vol).unwrap();
        assert!(copy_up("v", &rootfs, "/data", &vol).unwrap());
        let md = std::fs::metadata(vol.join("f")).unwrap();
        assert_eq!(
            (md.uid(), md.gid(), md.mode() & 0o7777),
            (1234, 5678, 0o4604)
        );
        assert_eq!(std::fs::read(vol.join("f")).unwrap(), b"hello");
        let root_md = std::fs::metadata(&vol).unwrap();
        assert_eq!(
            (root_md.uid(), root_md.gid(), root_md.mode() & 0o7777),
            (42, 43, 0o1770)
        );
        assert_eq!(
            std::fs::read_link(vol.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert!(vol.join("sub").is_dir());

        // Not empty any more: left alone.
        std::fs::write(src.join("g"), b"x").unwrap();
        assert!(!copy_up("v", &rootfs, "/data", &vol).unwrap());
        assert!(!vol.join("g").exists());

        // Missing in the image, or a symlink out of the root: nothing.
        let other = tmp.path().join("other");
        std::fs::create_dir(&other).unwrap();
        assert!(!copy_up("v", &rootfs, "/nosuch", &other).unwrap());
        assert!(!copy_up("v", &rootfs, "/escape/nope", &other).unwrap());
        assert!(std::fs::read_dir(&other).unwrap().next().is_none());
    }
}
