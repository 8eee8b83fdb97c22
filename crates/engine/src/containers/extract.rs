//! Extracting a `docker cp` tar into a directory of a container (the
//! *destination*), with docker's `noOverwriteDirNonDir` and `copyUIDGID`.
//!
//! docker extracts in a process chrooted into the container's root (its
//! view, mounts included) at the destination's resolved path. Here the
//! root's fd plays the chroot: every entry's parent is opened with
//! openat2(2) `RESOLVE_IN_ROOT` relative to it, by its full path in the
//! container, so a symlink in a parent position (one the container has,
//! or one an earlier entry made) resolves as the container would resolve
//! it, and never out of the root. The final component is created with
//! `*at` calls that never follow it (`O_EXCL | O_NOFOLLOW`,
//! `AT_SYMLINK_NOFOLLOW`).
//!
//! docker's breakout checks are kept (moby's archive `Untar`): an entry
//! whose `..` climbs above the destination is refused, and so is a
//! symlink whose target joined to its directory, or a hardlink whose
//! target joined to the destination, would be above it. Entries that
//! would land on a mount the view hides (the runtime's /proc, /sys and
//! /dev of a running container) are skipped: docker writes them into the
//! rw layer under those mounts, where the running container does not see
//! them either.

use std::collections::HashSet;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps, chownat, linkat, mkdirat,
    mknodat, openat, openat2, statat, symlinkat, unlinkat, utimensat,
};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};

use super::archive::view::{MountState, mount_state};
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

/// Where an extraction happens: the container's root (a view's), and
/// the ids of the mounts whose content it does not touch.
pub(crate) struct Scope<'a> {
    pub root: BorrowedFd<'a>,
    pub hidden: &'a HashSet<u64>,
}

/// The components of `name`, relative to a directory; `None` when its
/// `..` climb above it (Go's `filepath.Join` then a prefix check).
fn components(name: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c.to_string()),
        }
    }
    Some(out)
}

/// The entry's path relative to the destination `dest`, as components;
/// `..` climbing out of the destination is a breakout.
pub fn entry_components(name: &str, dest: &str) -> Result<Vec<String>, ArchiveError> {
    components(name).ok_or_else(|| ArchiveError::Breakout {
        entry: name.to_string(),
        dest: dest.to_string(),
    })
}

/// Whether a symlink in the directory `parents` (relative to the
/// destination) pointing at `target` points above the destination. An
/// absolute target counts from that directory too (Go's `Join` does not
/// restart at `/`): stored as is, it resolves inside the container.
pub fn symlink_escapes(parents: &[String], target: &str) -> bool {
    let mut depth = parents.len();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." if depth == 0 => return true,
            ".." => depth -= 1,
            _ => depth += 1,
        }
    }
    false
}

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// The container path of `comps`.
fn display(comps: &[String]) -> String {
    format!("/{}", comps.join("/"))
}

/// Opens the directory at `comps` (a path in the container) inside the
/// root.
fn open_dir(root: BorrowedFd<'_>, comps: &[String]) -> Result<OwnedFd, Errno> {
    let path = if comps.is_empty() {
        ".".to_string()
    } else {
        comps.join("/")
    };
    loop {
        match openat2(
            root,
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

/// The directory `comps` (a path in the container), created (0755) where
/// missing, each level resolved inside the root before the next is made
/// in it; `None` when it is on a hidden mount.
fn ensure_dir(scope: &Scope<'_>, comps: &[String]) -> Result<Option<OwnedFd>, ArchiveError> {
    let name = display(comps);
    let shown = |fd: OwnedFd| -> Result<Option<OwnedFd>, ArchiveError> {
        match mount_state(scope.hidden, fd.as_fd(), "").map_err(errno("stat", &name))? {
            MountState::Shown => Ok(Some(fd)),
            MountState::HiddenRoot | MountState::Hidden => Ok(None),
        }
    };
    match open_dir(scope.root, comps) {
        Ok(fd) => return shown(fd),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(errno("open directory", &name)(e)),
    }
    let mut dir = open_dir(scope.root, &[]).map_err(errno("open directory", "/"))?;
    for i in 1..=comps.len() {
        let level = display(&comps[..i]);
        dir = match open_dir(scope.root, &comps[..i]) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                if mount_state(scope.hidden, dir.as_fd(), "").map_err(errno("stat", &level))?
                    != MountState::Shown
                {
                    return Ok(None);
                }
                match mkdirat(&dir, comps[i - 1].as_str(), Mode::from_raw_mode(0o755)) {
                    // EEXIST: a dangling symlink; the reopen reports it.
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(errno("create directory", &level)(e)),
                }
                open_dir(scope.root, &comps[..i]).map_err(errno("open directory", &level))?
            }
            Err(e) => return Err(errno("open directory", &level)(e)),
        };
    }
    shown(dir)
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

/// Extracts the tar `input` at `dest`, a resolved absolute path in the
/// container whose root `scope` has (see the module doc). `owner`
/// overrides the archive's uid/gid.
pub(crate) fn extract(
    scope: &Scope<'_>,
    dest: &str,
    input: impl Read,
    opts: &ExtractOptions,
    owner: Option<(u32, u32)>,
) -> Result<(), ArchiveError> {
    let dest_comps = components(dest).unwrap_or_default();
    let in_dest = |rel: &[String]| -> Vec<String> {
        let mut full = dest_comps.clone();
        full.extend_from_slice(rel);
        full
    };
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
        let comps = entry_components(&name, dest)?;
        let Some((last, parents)) = comps.split_last() else {
            // The destination itself ("./"): it exists already.
            continue;
        };
        let full = in_dest(&comps);
        let path = display(&full);
        let Some(parent) = ensure_dir(scope, &in_dest(parents))? else {
            continue;
        };
        let at = last.as_str();
        if mount_state(scope.hidden, parent.as_fd(), at).map_err(errno("stat", &path))?
            != MountState::Shown
        {
            continue;
        }
        let h = e.header().clone();
        let mode = h.mode().map_err(ArchiveError::ReadTar)? & 0o7777;
        let is_dir = kind.is_dir();
        match statat(&parent, at, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let existing_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if opts.no_overwrite_dir_non_dir && existing_dir && !is_dir {
                    return Err(ArchiveError::DirWithNonDir { path, entry: name });
                }
                if opts.no_overwrite_dir_non_dir && !existing_dir && is_dir {
                    return Err(ArchiveError::NonDirWithDir { path, entry: name });
                }
                if !(existing_dir && is_dir) {
                    remove_all(parent.as_fd(), at).map_err(errno("remove", &path))?;
                }
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(errno("stat", &path)(e)),
        }
        let create = errno("create", &path);
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
                    path: path.clone(),
                    source,
                })?;
            }
            tar::EntryType::Symlink => {
                let target = link_name(&e)?;
                if symlink_escapes(parents, &target) {
                    return Err(ArchiveError::SymlinkBreakout {
                        path: path.clone(),
                        target,
                    });
                }
                // The target is stored as is: it is resolved later inside
                // the container, never by this extraction.
                symlinkat(target.as_str(), &parent, at).map_err(create)?;
            }
            tar::EntryType::Link => {
                let target = link_name(&e)?;
                let link_breakout = || ArchiveError::HardlinkBreakout {
                    path: path.clone(),
                    target: target.clone(),
                };
                let tcomps = components(&target).ok_or_else(link_breakout)?;
                let Some((tlast, tparents)) = tcomps.split_last() else {
                    return Err(link_breakout());
                };
                let tparent = open_dir(scope.root, &in_dest(tparents))
                    .map_err(errno("open link target", &target))?;
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
        .map_err(errno("chown", &path))?;
        let mtime = h.mtime().map_err(ArchiveError::ReadTar)? as i64;
        if kind == tar::EntryType::Symlink {
            // Symlinks have no mode of their own (symlink(7)).
            set_times(&parent, at, mtime).map_err(errno("set times", &path))?;
            continue;
        }
        // After chown, which clears set-user-ID bits (chown(2)).
        chmod_nofollow(&parent, at, Mode::from_raw_mode(mode)).map_err(errno("chmod", &path))?;
        if is_dir {
            dir_times.push((full, mtime));
        } else {
            set_times(&parent, at, mtime).map_err(errno("set times", &path))?;
        }
    }
    for (comps, mtime) in dir_times.into_iter().rev() {
        let Some((last, parents)) = comps.split_last() else {
            continue;
        };
        let name = display(&comps);
        let parent = open_dir(scope.root, parents).map_err(errno("open directory", &name))?;
        set_times(&parent, last, mtime).map_err(errno("set times", &name))?;
    }
    Ok(())
}

/// The link target of a symlink or hardlink entry.
fn link_name<R: Read>(e: &tar::Entry<'_, R>) -> Result<String, ArchiveError> {
    Ok(e.link_name()
        .map_err(ArchiveError::ReadTar)?
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned())
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
        assert_eq!(entry_components("./a/b/", "/d").unwrap(), vec!["a", "b"]);
        assert_eq!(entry_components("/a/../b", "/d").unwrap(), vec!["b"]);
        let e = entry_components("a/../../x", "/d").unwrap_err();
        assert_eq!(e.to_string(), r#""a/../../x" is outside of "/d""#);
        assert!(entry_components("../x", "/d").is_err());
        assert!(entry_components("./", "/d").unwrap().is_empty());
    }

    #[test]
    fn symlinks_above_the_destination_are_breakouts() {
        let sub = vec!["sub".to_string()];
        assert!(!symlink_escapes(&[], "/"));
        assert!(!symlink_escapes(&[], "/etc/passwd"));
        assert!(!symlink_escapes(&sub, ".."));
        assert!(!symlink_escapes(&sub, "../x/../y"));
        assert!(symlink_escapes(&[], ".."));
        assert!(symlink_escapes(&sub, "../../.."));
        assert!(symlink_escapes(&[], "/../x"));
        assert!(symlink_escapes(&sub, "a/../../../b"));
    }
}
