//! Paths inside the rootfs, resolved without ever leaving it.
//!
//! A container image is untrusted: any directory on the way to a mount
//! destination may be a symlink, absolute (`/etc`) or relative (`../../..`),
//! and following it on the host would mount over the host's files
//! (CVE-2021-30465, and the 2025 runc advisories about /dev/null and
//! /dev/console). So every path is resolved against a directory fd of the rootfs
//! with the semantics of openat2(2)'s `RESOLVE_IN_ROOT`: symlinks and `..` are
//! followed as if the rootfs were `/`. The result is an `O_PATH` fd, and mounts
//! go onto that fd (`/proc/self/fd/N` or move_mount(2)), never onto a path
//! string that could be swapped in between.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};

use super::RootfsError;

/// Linux's limit on symlinks followed in one lookup (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// What to do when the last component of a path does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Create it as a directory (and any missing parents).
    Dir,
    /// Create it as an empty regular file (parents as directories).
    File,
    /// Fail with `ENOENT`.
    Nothing,
}

/// Whether the walk may follow symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow them, scoped to the rootfs.
    Follow,
    /// Refuse them (procfs and sysfs must go on an ordinary directory).
    Refuse,
}

/// A path resolved inside the rootfs.
#[derive(Debug)]
pub struct Resolved {
    /// `O_PATH` fd of the object.
    pub fd: OwnedFd,
    /// Where it is, as the container will see it: absolute, no symlinks.
    pub path: PathBuf,
    /// Whether the walk created the last component.
    pub created: bool,
}

fn openat_path(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

fn file_type(fd: BorrowedFd<'_>) -> io::Result<FileType> {
    Ok(FileType::from_raw_mode(rustix::fs::fstat(fd)?.st_mode))
}

/// Pushes the components of `path` to the front of `pending`.
fn prepend(pending: &mut VecDeque<OsString>, path: &Path) {
    for component in path.components().rev() {
        match component {
            Component::Normal(name) => pending.push_front(name.to_owned()),
            Component::ParentDir => pending.push_front(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

/// Resolves `path` inside the rootfs `root`, creating what is missing.
///
/// The walk goes one component at a time, each opened `O_PATH | O_NOFOLLOW`
/// relative to the directory before it, so nothing is ever looked up from the
/// host's `/`: a symlink is read and its target walked in turn (from the rootfs
/// if absolute), and `..` stops at the rootfs. Unlike openat2(2) alone, a
/// symlink to a missing directory gets that directory created inside the
/// rootfs, as runc does.
pub fn walk(
    root: BorrowedFd<'_>,
    path: &Path,
    create: Create,
    symlinks: Symlinks,
) -> Result<Resolved, RootfsError> {
    let resolve_error = |source: io::Error| RootfsError::Resolve {
        path: path.into(),
        source,
    };
    let mut pending = VecDeque::new();
    prepend(&mut pending, path);
    // The directories walked so far, below the rootfs.
    let mut stack: Vec<(OsString, OwnedFd)> = Vec::new();
    let mut followed = 0;
    let mut created = false;
    while let Some(name) = pending.pop_front() {
        if name == "." {
            continue;
        }
        if name == ".." {
            stack.pop();
            continue;
        }
        let last = pending.is_empty();
        let parent = stack.last().map_or(root, |(_, fd)| fd.as_fd());
        let fd = match openat_path(parent, &name) {
            Ok(fd) => fd,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let mode = Mode::from_raw_mode(0o755);
                let made = if last && create == Create::File {
                    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
                    rustix::fs::openat(parent, &name, flags, Mode::from_raw_mode(0o644)).map(drop)
                } else if create == Create::Nothing {
                    return Err(resolve_error(err));
                } else {
                    rustix::fs::mkdirat(parent, &name, mode)
                };
                match made {
                    // Lost a race with another creator: just look again.
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(err) => return Err(resolve_error(err.into())),
                }
                created = last;
                pending.push_front(name);
                continue;
            }
            Err(err) => return Err(resolve_error(err)),
        };
        match file_type(fd.as_fd()).map_err(resolve_error)? {
            FileType::Symlink => {
                if symlinks == Symlinks::Refuse {
                    let mut walked = stack_path(&stack);
                    walked.push(&name);
                    return Err(RootfsError::SymlinkRefused {
                        path: path.into(),
                        symlink: walked,
                    });
                }
                followed += 1;
                if followed > MAX_SYMLINKS {
                    return Err(resolve_error(io::Error::from_raw_os_error(libc::ELOOP)));
                }
                let target = rustix::fs::readlinkat(&fd, "", Vec::new())
                    .map_err(|e| resolve_error(e.into()))?;
                let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                if target.is_absolute() {
                    stack.clear();
                }
                prepend(&mut pending, target);
                created = false;
            }
            FileType::Directory => stack.push((name, fd)),
            _ if last => {
                let mut walked = stack_path(&stack);
                walked.push(&name);
                return Ok(Resolved {
                    fd,
                    path: walked,
                    created,
                });
            }
            _ => return Err(resolve_error(io::Error::from_raw_os_error(libc::ENOTDIR))),
        }
    }
    let path_walked = stack_path(&stack);
    let fd = match stack.pop() {
        Some((_, fd)) => fd,
        None => reopen(root, Path::new("/")).map_err(resolve_error)?,
    };
    if create == Create::File && !created {
        // The destination of a file bind mount exists and is a directory: mount(2)
        // would fail with a less helpful ENOTDIR later, so say it here.
        return Err(resolve_error(io::Error::from_raw_os_error(libc::EISDIR)));
    }
    Ok(Resolved {
        fd,
        path: path_walked,
        created,
    })
}

fn stack_path(stack: &[(OsString, OwnedFd)]) -> PathBuf {
    let mut path = PathBuf::from("/");
    path.extend(stack.iter().map(|(name, _)| name));
    path
}

/// Opens `path` inside the rootfs `root` with openat2(2) `RESOLVE_IN_ROOT`
/// (and no magic links such as `/proc/self/exe`), as an `O_PATH` fd.
pub fn reopen(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    open_in_root(root, path, OFlags::PATH)
}

/// openat2(2) of `path` inside `root`, scoped with `RESOLVE_IN_ROOT`.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let relative = path.strip_prefix("/").unwrap_or(path);
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    Ok(rustix::fs::openat2(
        root,
        relative,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        resolve,
    )?)
}

/// The magic link through which mount(2) reaches exactly the object behind
/// `fd`. Only meaningful while the host's `/proc` is this process's `/proc`,
/// that is before the pivot.
pub fn proc_fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Whether the object behind `fd` is a directory.
pub fn is_dir(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(file_type(fd)? == FileType::Directory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn root_fd(dir: &Path) -> OwnedFd {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        rustix::fs::open(dir, flags, Mode::empty()).expect("open root")
    }

    // These tests need no privileges: they only create files in a temp dir.
    #[test]
    fn creates_missing_directories_and_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = root_fd(tmp.path());
        let r = walk(
            root.as_fd(),
            Path::new("/a/b/c"),
            Create::Dir,
            Symlinks::Follow,
        )
        .unwrap();
        assert_eq!(r.path, Path::new("/a/b/c"));
        assert!(r.created);
        assert!(tmp.path().join("a/b/c").is_dir());
        let r = walk(
            root.as_fd(),
            Path::new("/a/b/c"),
            Create::Dir,
            Symlinks::Follow,
        )
        .unwrap();
        assert!(!r.created);
        let r = walk(
            root.as_fd(),
            Path::new("/a/f"),
            Create::File,
            Symlinks::Follow,
        )
        .unwrap();
        assert!(r.created && tmp.path().join("a/f").is_file());
        assert!(!is_dir(r.fd.as_fd()).unwrap());
        let err = walk(
            root.as_fd(),
            Path::new("/a/f/x"),
            Create::Dir,
            Symlinks::Follow,
        );
        assert!(err.is_err(), "a file is not a directory");
        let err = walk(
            root.as_fd(),
            Path::new("/nope"),
            Create::Nothing,
            Symlinks::Follow,
        );
        assert!(matches!(err, Err(RootfsError::Resolve { .. })));
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        fs::create_dir(&rootfs).unwrap();
        symlink("/etc", rootfs.join("evil")).unwrap();
        symlink("../../../../..", rootfs.join("up")).unwrap();
        symlink("loop", rootfs.join("loop")).unwrap();
        let root = root_fd(&rootfs);

        let r = walk(
            root.as_fd(),
            Path::new("/evil/x"),
            Create::Dir,
            Symlinks::Follow,
        )
        .unwrap();
        assert_eq!(r.path, Path::new("/etc/x"));
        assert!(rootfs.join("etc/x").is_dir(), "created inside the rootfs");
        assert!(!tmp.path().join("etc").exists());

        let r = walk(
            root.as_fd(),
            Path::new("/up/y"),
            Create::Dir,
            Symlinks::Follow,
        )
        .unwrap();
        assert_eq!(r.path, Path::new("/y"));
        assert!(rootfs.join("y").is_dir());

        let r = walk(
            root.as_fd(),
            Path::new("/../../z"),
            Create::File,
            Symlinks::Follow,
        )
        .unwrap();
        assert_eq!(r.path, Path::new("/z"));
        assert!(rootfs.join("z").is_file());

        let err = walk(
            root.as_fd(),
            Path::new("/loop/a"),
            Create::Dir,
            Symlinks::Follow,
        );
        assert!(err.is_err(), "symlink loops end");

        let err = walk(
            root.as_fd(),
            Path::new("/evil/x"),
            Create::Dir,
            Symlinks::Refuse,
        );
        assert!(
            matches!(&err, Err(RootfsError::SymlinkRefused { symlink, .. }) if symlink == Path::new("/evil")),
            "{err:?}"
        );

        let fd = reopen(root.as_fd(), Path::new("/evil/x")).unwrap();
        assert!(is_dir(fd.as_fd()).unwrap());
        let fd = reopen(root.as_fd(), Path::new("/")).unwrap();
        assert!(is_dir(fd.as_fd()).unwrap());
    }

    #[test]
    fn file_destination_that_is_a_directory_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("d")).unwrap();
        let root = root_fd(tmp.path());
        let err = walk(
            root.as_fd(),
            Path::new("/d"),
            Create::File,
            Symlinks::Follow,
        );
        assert!(err.is_err());
    }
}
