//! Filesystem operations relative to a directory fd, resolved inside a
//! root with openat2(2) `RESOLVE_IN_ROOT`.
//!
//! Every path handed to the kernel here is either a single component
//! relative to an already resolved directory fd, or a multi-component path
//! resolved with `RESOLVE_IN_ROOT`, under which `..`, absolute symlinks and
//! absolute names are all scoped to the root exactly as if the process had
//! chrooted into it. `RESOLVE_NO_MAGICLINKS` additionally refuses procfs-style
//! links (the CVE-2019-5736 family).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{
    AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags, mkdirat, openat, openat2, statat, unlinkat,
};
use rustix::io::Errno;

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// A directory that all resolution is confined to.
#[derive(Debug)]
pub(crate) struct Root {
    fd: OwnedFd,
}

/// Joins normalised components with '/'; the root itself is ".".
pub(crate) fn join(comps: &[&[u8]]) -> Vec<u8> {
    if comps.is_empty() {
        return b".".to_vec();
    }
    let mut out = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(c);
    }
    out
}

impl Root {
    pub(crate) fn open(path: &Path) -> io::Result<Root> {
        let fd = openat(
            rustix::fs::CWD,
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    #[cfg(test)]
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Opens the directory at `comps` inside the root with `flags`
    /// (`O_PATH` for use as a dirfd, `O_RDONLY` to read or set xattrs).
    pub(crate) fn open_dir(&self, comps: &[&[u8]], flags: OFlags) -> Result<OwnedFd, Errno> {
        openat2(
            &self.fd,
            join(comps),
            flags | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            RESOLVE,
        )
    }

    /// Like [`Root::open_dir`] with `O_PATH`, creating missing directories
    /// (mode 0755, owned by the caller) along the way, each one resolved
    /// inside the root again before the next is created in it.
    pub(crate) fn make_dirs(&self, comps: &[&[u8]]) -> Result<OwnedFd, Errno> {
        match self.open_dir(comps, OFlags::PATH) {
            Err(Errno::NOENT) => {}
            other => return other,
        }
        let mut dir = self.open_dir(&[], OFlags::PATH)?;
        for i in 1..=comps.len() {
            dir = match self.open_dir(&comps[..i], OFlags::PATH) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    match mkdirat(&dir, comps[i - 1], Mode::from_raw_mode(0o755)) {
                        // EEXIST here is a dangling symlink; the reopen below
                        // reports it as ENOENT.
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e),
                    }
                    self.open_dir(&comps[..i], OFlags::PATH)?
                }
                Err(e) => return Err(e),
            };
        }
        Ok(dir)
    }
}

/// The type of `name` in `dir`, not following a final symlink; `None` if
/// it does not exist.
pub(crate) fn lstat_type(dir: impl AsFd, name: &[u8]) -> Result<Option<FileType>, Errno> {
    match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `name` in `dir` and, if it is a directory, everything under it.
/// Never follows symlinks: each level is opened with `O_NOFOLLOW` relative
/// to the level above. Missing is not an error.
pub(crate) fn remove_all_at(dir: impl AsFd, name: &[u8]) -> Result<(), Errno> {
    let dir = dir.as_fd();
    match lstat_type(dir, name)? {
        None => Ok(()),
        Some(FileType::Directory) => {
            clear_dir_at(dir, name, &mut |_| false)?;
            unlinkat(dir, name, AtFlags::REMOVEDIR)
        }
        Some(_) => match unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e),
        },
    }
}

/// Removes every child of directory `name` in `dir` for which `keep`
/// returns false.
pub(crate) fn clear_dir_at(
    dir: impl AsFd,
    name: &[u8],
    keep: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), Errno> {
    let sub = openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut children = Vec::new();
    for entry in Dir::read_from(&sub)? {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n == b"." || n == b".." || keep(n) {
            continue;
        }
        children.push(n.to_vec());
    }
    for c in children {
        remove_all_at(&sub, &c)?;
    }
    Ok(())
}

/// A path naming `name` inside the directory `dir` through procfs, for
/// the few calls that have no *at form (lsetxattr). `dir` is already
/// resolved and `name` is one component, so the kernel walks nothing that
/// the layer controls except `name` itself, which l* calls do not follow.
pub(crate) fn proc_path(dir: impl AsFd, name: &[u8]) -> Vec<u8> {
    use std::os::fd::AsRawFd;
    let mut p = format!("/proc/self/fd/{}/", dir.as_fd().as_raw_fd()).into_bytes();
    p.extend_from_slice(name);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_dirs_stays_inside_through_absolute_symlinks() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("dotdot")).unwrap();
        let r = Root::open(&root).unwrap();
        r.make_dirs(&[b"up", b"made"]).unwrap();
        r.make_dirs(&[b"dotdot", b"made2"]).unwrap();
        assert!(root.join("made").is_dir());
        assert!(root.join("made2").is_dir());
        assert!(!outer.path().join("made2").exists());
    }

    #[test]
    fn remove_all_does_not_follow_symlinks() {
        let outer = tempfile::tempdir().unwrap();
        let keep = outer.path().join("keep");
        std::fs::create_dir(&keep).unwrap();
        std::fs::write(keep.join("precious"), b"x").unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::os::unix::fs::symlink(&keep, root.join("d/link")).unwrap();
        let r = Root::open(&root).unwrap();
        remove_all_at(r.fd(), b"d").unwrap();
        assert!(!root.join("d").exists());
        assert!(keep.join("precious").exists());
    }
}
