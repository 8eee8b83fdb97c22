//! `docker cp` and `docker export`: `HEAD|GET|PUT /containers/{id}/archive`
//! and `GET /containers/{id}/export`.
//!
//! # Paths stay inside the container
//!
//! Every path the client names is resolved under a directory fd of the
//! container's mounted rootfs with openat2(2) `RESOLVE_IN_ROOT`: `..` stops
//! at the root and a symlink (`/tmp/x -> /etc/passwd`) resolves as if
//! chrooted, so the container's own file is found, never the host's. Below
//! the resolved path, trees are walked and written with `*at` calls and
//! `O_NOFOLLOW` on the final component. The LinkTarget of a symlink in a
//! path stat is resolved the same way, component by component.
//!
//! # docker's path rules
//!
//! A path is made absolute and cleaned, keeping a trailing `/` or `/.`;
//! then split into its directory (resolved, symlinks followed) and its last
//! element (not followed: a stat or a copy of a symlink is of the link).
//! A trailing `/` makes the last element a directory (followed); `/.`
//! means "the directory's contents" to the client, and archive entries are
//! named after the requested last element (`.` for `/.`), which the client
//! rebases. An extraction point (PUT) is resolved entirely, the last
//! element too, and must be a directory.
//!
//! # Mounting
//!
//! A running container's rootfs is mounted; a stopped one is mounted for
//! the operation, under the container's operation lock (a start waits),
//! and unmounted afterwards. Volumes and bind mounts are not seen (they
//! exist only in the container's mount namespace).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use berth_api_types::container::{PathStat, file_mode};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat, openat, openat2, statat};
use rustix::io::Errno;

use super::rootfs;
use super::store::Container;
use crate::Engine;

pub use super::extract::ExtractOptions;

/// Errors of the archive endpoints.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("Could not find the file {path} in container {container}")]
    NotFound { path: String, container: String },
    #[error("extraction point is not a directory")]
    NotADirectory,
    #[error("{path}: not a directory")]
    TrailingSlashNotDir { path: String },
    #[error("container rootfs is marked read-only")]
    ReadOnlyRootfs,
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("extract entry {entry:?}: path escapes the extraction point")]
    Breakout { entry: String },
    #[error("cannot overwrite directory {path:?} with non-directory {entry:?}")]
    DirWithNonDir { path: String, entry: String },
    #[error("cannot overwrite non-directory {path:?} with directory {entry:?}")]
    NonDirWithDir { path: String, entry: String },
    #[error("read archive: {0}")]
    ReadTar(#[source] io::Error),
    #[error("write archive: {0}")]
    WriteTar(#[source] io::Error),
    #[error("resolve user {user:?} for copyUIDGID: {source}")]
    User {
        user: String,
        #[source]
        source: crate::oci::SpecError,
    },
}

impl ArchiveError {
    /// The Engine API class of the error.
    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind::*;
        match self {
            ArchiveError::NotFound { .. } => NotFound,
            ArchiveError::ReadOnlyRootfs => Forbidden,
            ArchiveError::NotADirectory
            | ArchiveError::TrailingSlashNotDir { .. }
            | ArchiveError::InvalidPath { .. }
            | ArchiveError::Breakout { .. }
            | ArchiveError::DirWithNonDir { .. }
            | ArchiveError::NonDirWithDir { .. }
            | ArchiveError::ReadTar(_)
            | ArchiveError::User { .. } => InvalidArgument,
            ArchiveError::Io { .. } | ArchiveError::WriteTar(_) => Internal,
        }
    }
}

pub(crate) fn errno<'a>(
    op: &'static str,
    path: &'a str,
) -> impl FnOnce(Errno) -> ArchiveError + 'a {
    move |e| ArchiveError::Io {
        op,
        path: path.to_string(),
        source: e.into(),
    }
}

/// A requested path, split per docker's rules (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivePath {
    /// Absolute, cleaned, with a trailing `/` or `/.` kept.
    pub abs: String,
    /// The part before the last element (resolved, following symlinks).
    pub dir: String,
    /// The last element: empty after a trailing `/`, `.` after `/.`.
    pub base: String,
    /// The name entries and the stat carry (Go's `filepath.Base(abs)`).
    pub name: String,
}

/// Lexically cleans `path` as an absolute path (`..` stops at `/`).
pub fn clean_abs(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

impl ArchivePath {
    pub fn parse(path: &str) -> Result<ArchivePath, ArchiveError> {
        if path.is_empty() {
            return Err(ArchiveError::InvalidPath {
                path: path.into(),
                reason: "empty path",
            });
        }
        if path.contains('\0') {
            return Err(ArchiveError::InvalidPath {
                path: path.into(),
                reason: "NUL byte in path",
            });
        }
        let cleaned = clean_abs(path);
        let sep = if cleaned == "/" { "" } else { "/" };
        let abs = if path == "." || path.ends_with("/.") {
            format!("{cleaned}{sep}.")
        } else if path.ends_with('/') {
            format!("{cleaned}{sep}")
        } else {
            cleaned
        };
        let idx = abs.rfind('/').unwrap_or(0);
        let (dir, base) = (abs[..=idx].to_string(), abs[idx + 1..].to_string());
        let trimmed = abs.trim_end_matches('/');
        let name = match trimmed.rsplit_once('/') {
            _ if trimmed.is_empty() => "/".to_string(),
            Some((_, n)) => n.to_string(),
            None => trimmed.to_string(),
        };
        Ok(ArchivePath {
            abs,
            dir,
            base,
            name,
        })
    }

    /// Whether the last element is the directory itself.
    fn names_dir(&self) -> bool {
        self.base.is_empty() || self.base == "."
    }
}

fn rel(path: &str) -> &str {
    let r = path.trim_start_matches('/');
    if r.is_empty() { "." } else { r }
}

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// Opens `path` under `root` as if `root` were `/` (see the module doc).
pub(crate) fn open_in_root(root: &OwnedFd, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    loop {
        match openat2(
            root,
            rel(path),
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            IN_ROOT,
        ) {
            // openat2 refuses with EAGAIN when a rename raced the walk.
            Err(Errno::AGAIN) => continue,
            r => return r,
        }
    }
}

/// `path` with every symlink resolved inside `root` (docker's
/// LinkTarget). Components are looked at one by one through
/// [`open_in_root`], so a symlink never leads outside.
pub fn resolve_in_root(root: &OwnedFd, path: &str) -> Result<String, Errno> {
    let mut done: Vec<String> = Vec::new();
    let mut todo: std::collections::VecDeque<String> =
        path.split('/').map(str::to_string).collect();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let cur = format!("/{}/{c}", done.join("/"));
        let fd = match open_in_root(root, &cur, OFlags::PATH | OFlags::NOFOLLOW) {
            Ok(fd) => fd,
            // What does not exist is taken as it is.
            Err(Errno::NOENT) => {
                done.push(c);
                continue;
            }
            Err(e) => return Err(e),
        };
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::Symlink {
            done.push(c);
            continue;
        }
        links += 1;
        if links > 40 {
            return Err(Errno::LOOP);
        }
        let target = rustix::fs::readlinkat(&fd, "", Vec::new())?;
        let target = target.to_string_lossy().into_owned();
        if target.starts_with('/') {
            done.clear();
        }
        for (i, t) in target.split('/').enumerate() {
            todo.insert(i, t.to_string());
        }
    }
    Ok(format!("/{}", done.join("/")))
}

/// Go's `os.FileMode` of a stat's mode.
pub fn go_file_mode(mode: u32) -> u32 {
    let mut m = mode & 0o777;
    m |= match FileType::from_raw_mode(mode) {
        FileType::Directory => file_mode::DIR,
        FileType::Symlink => file_mode::SYMLINK,
        FileType::BlockDevice => file_mode::DEVICE,
        FileType::CharacterDevice => file_mode::DEVICE | file_mode::CHAR_DEVICE,
        FileType::Fifo => file_mode::NAMED_PIPE,
        FileType::Socket => file_mode::SOCKET,
        _ => 0,
    };
    if mode & libc::S_ISUID != 0 {
        m |= file_mode::SETUID;
    }
    if mode & libc::S_ISGID != 0 {
        m |= file_mode::SETGID;
    }
    if mode & libc::S_ISVTX != 0 {
        m |= file_mode::STICKY;
    }
    m
}

fn rfc3339(sec: i64, nsec: i64) -> String {
    jiff::Timestamp::new(sec, nsec as i32)
        .map(|t| format!("{t:.9}"))
        .unwrap_or_default()
}

/// The resolved last element of `p`: its parent directory fd and its
/// name in it (`.` for the directory itself), and its lstat.
struct Target {
    parent: OwnedFd,
    name: String,
    stat: Stat,
}

fn locate(root: &OwnedFd, p: &ArchivePath, container: &str) -> Result<Target, ArchiveError> {
    let not_found = |_| ArchiveError::NotFound {
        path: p.abs.clone(),
        container: container.to_string(),
    };
    let map = |e: Errno| match e {
        Errno::NOENT => not_found(e),
        Errno::NOTDIR => ArchiveError::TrailingSlashNotDir {
            path: p.abs.clone(),
        },
        e => errno("resolve", &p.abs)(e),
    };
    let parent = open_in_root(root, &p.dir, OFlags::RDONLY | OFlags::DIRECTORY).map_err(map)?;
    let name = if p.names_dir() { "." } else { p.base.as_str() };
    let stat = statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW).map_err(map)?;
    Ok(Target {
        parent,
        name: name.to_string(),
        stat,
    })
}

fn path_stat(root: &OwnedFd, p: &ArchivePath, t: &Target) -> Result<PathStat, ArchiveError> {
    let link_target = if FileType::from_raw_mode(t.stat.st_mode) == FileType::Symlink {
        resolve_in_root(root, &p.abs).map_err(errno("resolve", &p.abs))?
    } else {
        String::new()
    };
    Ok(PathStat {
        name: p.name.clone(),
        size: t.stat.st_size,
        mode: go_file_mode(t.stat.st_mode),
        mtime: rfc3339(t.stat.st_mtime, t.stat.st_mtime_nsec as i64),
        link_target,
    })
}

/// Writes trees as tar entries, hardlinks as links to their first name.
pub(crate) struct TarWriter<W: Write> {
    b: tar::Builder<W>,
    links: HashMap<(u64, u64), String>,
}

impl<W: Write> TarWriter<W> {
    pub fn new(out: W) -> Self {
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        TarWriter {
            b,
            links: HashMap::new(),
        }
    }

    pub fn finish(self) -> Result<W, ArchiveError> {
        self.b.into_inner().map_err(ArchiveError::WriteTar)
    }

    /// Appends an entry named exactly `name` (the builder's own path
    /// setters drop `./` components, which docker's client needs on the
    /// entries of a `/.` copy: it rebases them by replacing the first
    /// `.`). Names and link targets longer than the header's 100 bytes go
    /// in GNU long-name entries before it.
    fn append(
        &mut self,
        mut h: tar::Header,
        name: &str,
        link: Option<&str>,
        data: impl Read,
    ) -> Result<(), ArchiveError> {
        if name.len() > 100 {
            self.long_name(tar::EntryType::GNULongName, name)?;
        }
        if let Some(l) = link.filter(|l| l.len() > 100) {
            self.long_name(tar::EntryType::GNULongLink, l)?;
        }
        let old = h.as_old_mut();
        set_raw(&mut old.name, name);
        if let Some(l) = link {
            set_raw(&mut old.linkname, l);
        }
        h.set_cksum();
        self.b.append(&h, data).map_err(ArchiveError::WriteTar)
    }

    fn long_name(&mut self, kind: tar::EntryType, value: &str) -> Result<(), ArchiveError> {
        let mut h = tar::Header::new_gnu();
        set_raw(&mut h.as_old_mut().name, "././@LongLink");
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(kind);
        let mut data = value.as_bytes().to_vec();
        data.push(0);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.b.append(&h, &data[..]).map_err(ArchiveError::WriteTar)
    }

    /// Adds `name` of directory `parent` (`.`: `parent` itself) as
    /// `arch`, and everything below it.
    pub fn add(&mut self, parent: &OwnedFd, name: &str, arch: &str) -> Result<(), ArchiveError> {
        let st = match statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Gone since the directory was listed: a running container
            // changes its files while they are archived.
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(errno("stat", arch)(e)),
        };
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(u64::from(st.st_uid));
        h.set_gid(u64::from(st.st_gid));
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        let wr = ArchiveError::WriteTar;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                h.set_entry_type(tar::EntryType::Directory);
                // The root of an export has no entry of its own.
                if !arch.is_empty() {
                    let dir_name = format!("{}/", arch.trim_end_matches('/'));
                    self.append(h, &dir_name, None, io::empty())?;
                }
                let d = openat(
                    parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(errno("open directory", arch))?;
                let mut names = Vec::new();
                for e in rustix::fs::Dir::read_from(&d).map_err(errno("read directory", arch))? {
                    let e = e.map_err(errno("read directory", arch))?;
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n != "." && n != ".." {
                        names.push(n);
                    }
                }
                names.sort();
                for n in names {
                    let child = if arch.is_empty() {
                        n.clone()
                    } else {
                        format!("{}/{n}", arch.trim_end_matches('/'))
                    };
                    self.add(&d, &n, &child)?;
                }
            }
            FileType::RegularFile => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key) {
                        h.set_entry_type(tar::EntryType::Link);
                        let first = first.clone();
                        return self.append(h, arch, Some(&first), io::empty());
                    }
                    self.links.insert(key, arch.to_string());
                }
                // A running container may swap the file for a fifo (open
                // would block) or a device node it made (berthd, outside the
                // device cgroup, would read a host device) since the stat:
                // open without blocking and only read the very inode that
                // was stat'ed as a regular file.
                let f = match openat(
                    parent,
                    name,
                    OFlags::RDONLY
                        | OFlags::NOFOLLOW
                        | OFlags::NOCTTY
                        | OFlags::NONBLOCK
                        | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(f) => f,
                    Err(Errno::NOENT) => return Ok(()),
                    Err(e) => return Err(errno("open", arch)(e)),
                };
                let now = rustix::fs::fstat(&f).map_err(errno("stat", arch))?;
                if FileType::from_raw_mode(now.st_mode) != FileType::RegularFile
                    || (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino)
                {
                    return Err(errno("open", arch)(Errno::AGAIN));
                }
                h.set_entry_type(tar::EntryType::Regular);
                let size = st.st_size.max(0) as u64;
                h.set_size(size);
                // Exactly `size` bytes whatever the file does meanwhile:
                // a shrunk file is padded with zeros, a grown one cut.
                let data = std::fs::File::from(f).chain(io::repeat(0)).take(size);
                self.append(h, arch, None, data)?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(parent, name, Vec::new())
                    .map_err(errno("readlink", arch))?;
                h.set_entry_type(tar::EntryType::Symlink);
                self.append(h, arch, Some(&target.to_string_lossy()), io::empty())?;
            }
            t @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                h.set_entry_type(match t {
                    FileType::CharacterDevice => tar::EntryType::Char,
                    FileType::BlockDevice => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                if t != FileType::Fifo {
                    let dev = st.st_rdev;
                    h.set_device_major(rustix::fs::major(dev)).map_err(wr)?;
                    h.set_device_minor(rustix::fs::minor(dev)).map_err(wr)?;
                }
                self.append(h, arch, None, io::empty())?;
            }
            // Sockets cannot be archived (docker skips them too).
            _ => {}
        }
        Ok(())
    }
}

/// Copies `s` into a NUL-padded header field, cut at its size.
fn set_raw(field: &mut [u8; 100], s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(field.len());
    field.fill(0);
    field[..n].copy_from_slice(&b[..n]);
}

/// Opens the root directory of a mounted rootfs.
fn open_root(path: &Path) -> Result<OwnedFd, super::Error> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| super::Error::Io {
        op: "open rootfs",
        path: path.to_path_buf(),
        source: e.into(),
    })
}

impl Engine {
    /// Runs `f` with a directory fd of the container's mounted rootfs
    /// (mounting it for the call when the container is not running; see
    /// the module doc).
    pub(crate) async fn with_rootfs<T: Send + 'static>(
        &self,
        c: &Arc<Container>,
        f: impl FnOnce(OwnedFd, &Path) -> Result<T, super::Error> + Send + 'static,
    ) -> Result<T, super::Error> {
        let guard = c.op.lock().await;
        let path = rootfs::rootfs_path(&self.containers.data_dir, &c.id);
        let run = |fd: OwnedFd| {
            let path = path.clone();
            async move {
                tokio::task::spawn_blocking(move || f(fd, &path))
                    .await
                    .map_err(|source| super::Error::Task {
                        op: "container filesystem",
                        source,
                    })?
            }
        };
        if c.record().state.running && rootfs::is_mounted(&path) {
            // The fd keeps the mount alive if the container stops
            // meanwhile (the unmount is lazy).
            let fd = open_root(&path)?;
            drop(guard);
            return run(fd).await;
        }
        rootfs::mount(&self.images, &c.id, &path)?;
        let res = match open_root(&path) {
            Ok(fd) => run(fd).await,
            Err(e) => Err(e),
        };
        let cleanup = rootfs::unmount(&path);
        drop(guard);
        match res {
            Ok(v) => cleanup.map(|()| v),
            Err(e) => Err(e.with_cleanup(cleanup)),
        }
    }

    /// `HEAD /containers/{id}/archive?path=`: the stat of `path`.
    pub async fn container_stat_path(
        &self,
        reference: &str,
        path: &str,
    ) -> Result<PathStat, super::Error> {
        let c = self.containers.get(reference)?;
        let p = ArchivePath::parse(path).map_err(super::Error::Archive)?;
        let name = reference.to_string();
        self.with_rootfs(&c, move |root, _| {
            let t = locate(&root, &p, &name)?;
            Ok(path_stat(&root, &p, &t)?)
        })
        .await
    }

    /// `GET /containers/{id}/archive?path=`: the stat of `path`, given to
    /// `on_stat` before anything is written, then a tar of it on `out`.
    pub async fn container_archive<W: Write + Send + 'static>(
        &self,
        reference: &str,
        path: &str,
        on_stat: impl FnOnce(&PathStat) + Send + 'static,
        out: W,
    ) -> Result<W, super::Error> {
        let c = self.containers.get(reference)?;
        let p = ArchivePath::parse(path).map_err(super::Error::Archive)?;
        let name = reference.to_string();
        let out = self
            .with_rootfs(&c, move |root, _| {
                let t = locate(&root, &p, &name)?;
                on_stat(&path_stat(&root, &p, &t)?);
                let mut w = TarWriter::new(out);
                // Tar names are relative: the root itself is ".".
                let arch = if p.name == "/" { "." } else { p.name.as_str() };
                w.add(&t.parent, &t.name, arch)?;
                let mut out = w.finish()?;
                out.flush()
                    .map_err(|e| super::Error::Archive(ArchiveError::WriteTar(e)))?;
                Ok(out)
            })
            .await?;
        self.container_event(&c, "archive-path", &[]);
        Ok(out)
    }

    /// `GET /containers/{id}/export`: the container's whole filesystem
    /// as a tar (names relative to `/`, without a `./` prefix).
    pub async fn container_export<W: Write + Send + 'static>(
        &self,
        reference: &str,
        out: W,
    ) -> Result<W, super::Error> {
        let c = self.containers.get(reference)?;
        let w = self
            .with_rootfs(&c, move |root, _| {
                let mut w = TarWriter::new(out);
                w.add(&root, ".", "")?;
                let mut out = w.finish()?;
                out.flush()
                    .map_err(|e| super::Error::Archive(ArchiveError::WriteTar(e)))?;
                Ok(out)
            })
            .await?;
        self.container_event(&c, "export", &[]);
        Ok(w)
    }

    /// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`:
    /// extracts the tar `input` at the directory `path`.
    pub async fn container_extract<R: Read + Send + 'static>(
        &self,
        reference: &str,
        path: &str,
        opts: ExtractOptions,
        input: R,
    ) -> Result<(), super::Error> {
        let c = self.containers.get(reference)?;
        let p = ArchivePath::parse(path).map_err(super::Error::Archive)?;
        let (readonly, user) = {
            let r = c.record();
            (r.host_config.readonly_rootfs, r.config.user.clone())
        };
        if readonly {
            return Err(super::Error::Archive(ArchiveError::ReadOnlyRootfs));
        }
        let name = reference.to_string();
        self.with_rootfs(&c, move |root, root_path| {
            let map = |e: Errno| match e {
                Errno::NOENT => ArchiveError::NotFound {
                    path: p.abs.clone(),
                    container: name.clone(),
                },
                Errno::NOTDIR => ArchiveError::NotADirectory,
                e => errno("resolve", &p.abs)(e),
            };
            let dest =
                open_in_root(&root, &p.abs, OFlags::RDONLY | OFlags::DIRECTORY).map_err(map)?;
            let owner = if opts.copy_uid_gid && !user.is_empty() {
                let u = crate::oci::resolve_user(root_path, &user, &[]).map_err(|source| {
                    ArchiveError::User {
                        user: user.clone(),
                        source,
                    }
                })?;
                Some((u.uid, u.gid))
            } else {
                None
            };
            super::extract::extract(dest.as_fd(), input, &opts, owner)?;
            Ok(())
        })
        .await?;
        self.container_event(&c, "extract-to-dir", &[]);
        Ok(())
    }
}

impl From<ArchiveError> for super::Error {
    fn from(e: ArchiveError) -> Self {
        super::Error::Archive(e)
    }
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
