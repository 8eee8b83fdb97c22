//! Extracting a `docker cp` tar into a directory of a container (the
//! *destination*), with docker's `noOverwriteDirNonDir` and `copyUIDGID`.
//!
//! docker extracts in a process chrooted into the destination; here the
//! destination's fd plays the root: every entry's parent is opened with
//! openat2(2) `RESOLVE_IN_ROOT` relative to it (a symlink in a parent
//! position resolves inside the destination), names whose `..` climb out
//! are refused, and the final component is created with `*at` calls that
//! never follow it (`O_EXCL | O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`).

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps, chownat, linkat, mkdirat,
    mknodat, openat, openat2, statat, symlinkat, unlinkat, utimensat,
};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};

use super::archive::{ArchiveError, errno};

/// The query options of `PUT /containers/{id}/archive`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Refuse to replace a directory with a non-directory and the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Own the files as the container's user (`docker cp -a`) instead of
    /// the archive's ids.
    pub copy_uid_gid: bool,
}

/// The entry's path relative to the destination, as components; `..`
/// climbing out of the destination is a breakout.
pub fn entry_components(name: &str) -> Result<Vec<String>, ArchiveError> {
    let mut out: Vec<String> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(ArchiveError::Breakout {
                        entry: name.to_string(),
                    });
                }
            }
            c => out.push(c.to_string()),
        }
    }
    Ok(out)
}

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

fn open_dir(dest: BorrowedFd<'_>, comps: &[String]) -> Result<OwnedFd, Errno> {
    let path = if comps.is_empty() {
        ".".to_string()
    } else {
        comps.join("/")
    };
    loop {
        match openat2(
            dest,
            &path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            IN_ROOT,
        ) {
            Err(Errno::AGAIN) => continue,
            r => return r,
        }
    }
}

/// The directory `comps` under `dest`, created (0755) where missing.
fn ensure_dir(dest: BorrowedFd<'_>, comps: &[String]) -> Result<OwnedFd, ArchiveError> {
    let name = comps.join("/");
    match open_dir(dest, comps) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(errno("open directory", &name)(e)),
    }
    let Some((last, parent)) = comps.split_last() else {
        return open_dir(dest, comps).map_err(errno("open directory", "."));
    };
    let p = ensure_dir(dest, parent)?;
    match mkdirat(&p, last.as_str(), Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(errno("create directory", &name)(e)),
    }
    open_dir(dest, comps).map_err(errno("open directory", &name))
}

/// Removes `name` of `dir`, recursively when it is a directory.
fn remove_all(dir: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    match unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR) | Err(Errno::PERM) => {}
        Err(e) => return Err(e),
    }
    let d = openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(&d)? {
        let n = e?.file_name().to_string_lossy().into_owned();
        if n != "." && n != ".." {
            names.push(n);
        }
    }
    for n in names {
        remove_all(d.as_fd(), &n)?;
    }
    unlinkat(dir, name, AtFlags::REMOVEDIR)
}

/// Extracts the tar `input` under `dest` (see the module doc). `owner`
/// overrides the archive's uid/gid.
pub fn extract(
    dest: BorrowedFd<'_>,
    input: impl Read,
    opts: &ExtractOptions,
    owner: Option<(u32, u32)>,
) -> Result<(), ArchiveError> {
    let mut archive = tar::Archive::new(input);
    // Directory times are set last: creating entries inside a directory
    // changes its mtime.
    let mut dir_times: Vec<(Vec<String>, i64)> = Vec::new();
    for e in archive.entries().map_err(ArchiveError::ReadTar)? {
        let mut e = e.map_err(ArchiveError::ReadTar)?;
        let kind = e.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let name = e
            .path()
            .map_err(ArchiveError::ReadTar)?
            .to_string_lossy()
            .into_owned();
        let comps = entry_components(&name)?;
        let Some((last, parents)) = comps.split_last() else {
            // The destination itself ("./"): it exists already.
            continue;
        };
        let parent = ensure_dir(dest, parents)?;
        let h = e.header().clone();
        let mode = h.mode().map_err(ArchiveError::ReadTar)? & 0o7777;
        let is_dir = kind.is_dir();
        match statat(&parent, last.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let existing_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if opts.no_overwrite_dir_non_dir && existing_dir && !is_dir {
                    return Err(ArchiveError::DirWithNonDir {
                        path: comps.join("/"),
                        entry: name,
                    });
                }
                if opts.no_overwrite_dir_non_dir && !existing_dir && is_dir {
                    return Err(ArchiveError::NonDirWithDir {
                        path: comps.join("/"),
                        entry: name,
                    });
                }
                if !(existing_dir && is_dir) {
                    remove_all(parent.as_fd(), last).map_err(errno("remove", &name))?;
                }
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(errno("stat", &name)(e)),
        }
        let at = last.as_str();
        let create = errno("create", &name);
        match kind {
            tar::EntryType::Directory => match mkdirat(&parent, at, Mode::from_raw_mode(mode)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(create(e)),
            },
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let f = openat(
                    &parent,
                    at,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(create)?;
                let mut f = std::fs::File::from(f);
                io::copy(&mut e, &mut f).map_err(|source| ArchiveError::Io {
                    op: "write",
                    path: name.clone(),
                    source,
                })?;
            }
            tar::EntryType::Symlink => {
                let target = e
                    .link_name()
                    .map_err(ArchiveError::ReadTar)?
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                // The target is stored as is: it is resolved later inside
                // the container, never by this extraction.
                symlinkat(target.as_str(), &parent, at).map_err(create)?;
            }
            tar::EntryType::Link => {
                let target = e
                    .link_name()
                    .map_err(ArchiveError::ReadTar)?
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let tcomps = entry_components(&target)?;
                let Some((tlast, tparents)) = tcomps.split_last() else {
                    return Err(ArchiveError::Breakout { entry: target });
                };
                let tparent =
                    open_dir(dest, tparents).map_err(errno("open link target", &target))?;
                linkat(&tparent, tlast.as_str(), &parent, at, AtFlags::empty()).map_err(create)?;
                // A hardlink shares the target's owner, mode and times.
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let (ft, dev) = match kind {
                    tar::EntryType::Char | tar::EntryType::Block => {
                        let major = h
                            .device_major()
                            .map_err(ArchiveError::ReadTar)?
                            .unwrap_or(0);
                        let minor = h
                            .device_minor()
                            .map_err(ArchiveError::ReadTar)?
                            .unwrap_or(0);
                        let ft = if kind == tar::EntryType::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (ft, rustix::fs::makedev(major, minor))
                    }
                    _ => (FileType::Fifo, 0),
                };
                mknodat(&parent, at, ft, Mode::from_raw_mode(mode), dev).map_err(create)?;
            }
            // Other types (sockets have none; GNU sparse, ...) are skipped,
            // as docker does with types it does not know.
            _ => continue,
        }
        let (uid, gid) = match owner {
            Some(o) => o,
            None => (
                h.uid().map_err(ArchiveError::ReadTar)? as u32,
                h.gid().map_err(ArchiveError::ReadTar)? as u32,
            ),
        };
        chownat(
            &parent,
            at,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(errno("chown", &name))?;
        let mtime = h.mtime().map_err(ArchiveError::ReadTar)? as i64;
        if kind == tar::EntryType::Symlink {
            // Symlinks have no mode of their own (symlink(7)).
            set_times(&parent, at, mtime).map_err(errno("set times", &name))?;
            continue;
        }
        // After chown, which clears set-user-ID bits (chown(2)).
        chmod_nofollow(&parent, at, Mode::from_raw_mode(mode)).map_err(errno("chmod", &name))?;
        if is_dir {
            dir_times.push((comps.clone(), mtime));
        } else {
            set_times(&parent, at, mtime).map_err(errno("set times", &name))?;
        }
    }
    for (comps, mtime) in dir_times.into_iter().rev() {
        let Some((last, parents)) = comps.split_last() else {
            continue;
        };
        let name = comps.join("/");
        let parent = open_dir(dest, parents).map_err(errno("open directory", &name))?;
        set_times(&parent, last, mtime).map_err(errno("set times", &name))?;
    }
    Ok(())
}

/// chmod of the entry `name` in `dir` itself, never of what it points to.
///
/// fchmodat(2) always follows a symlink (AT_SYMLINK_NOFOLLOW is refused),
/// and a process of a running container may have replaced the entry we
/// just created with a symlink to a host file: berthd resolves it in the
/// host's mount namespace. So the entry is opened without following links
/// (O_PATH|O_NOFOLLOW), checked not to be a symlink, and changed through
/// its /proc/self/fd link, which names that very inode.
fn chmod_nofollow(dir: &OwnedFd, name: &str, mode: Mode) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let node = rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&node)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink {
        return Err(Errno::LOOP);
    }
    rustix::fs::chmod(format!("/proc/self/fd/{}", node.as_raw_fd()), mode)
}

fn set_times(dir: &OwnedFd, name: &str, mtime: i64) -> Result<(), Errno> {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    utimensat(
        dir,
        name,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_above_the_destination_is_a_breakout() {
        assert_eq!(entry_components("./a/b/").unwrap(), vec!["a", "b"]);
        assert_eq!(entry_components("/a/../b").unwrap(), vec!["b"]);
        assert!(entry_components("a/../../x").is_err());
        assert!(entry_components("../x").is_err());
        assert!(entry_components("./").unwrap().is_empty());
    }
}
