//! `docker cp` and `docker export`: `HEAD|GET|PUT /containers/{id}/archive`
//! and `GET /containers/{id}/export`.
//!
//! # Paths stay inside the container
//!
//! Every path the client names is resolved under a directory fd of the
//! container's `/` with openat2(2) `RESOLVE_IN_ROOT`: `..` stops at the
//! root and a symlink (`/tmp/x -> /etc/passwd`) resolves as if chrooted,
//! so the container's own file is found, never the host's. Below the
//! resolved path, trees are walked and written with `*at` calls and
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
//! # The container's mounts
//!
//! The root is a *view* (`view`): for a running container its own
//! `/proc/<pid>/root`, for a stopped one the rootfs mounted with the
//! container's mounts in a mount namespace made for the copy. Either way a
//! path under a volume, bind or tmpfs reaches the mount, not the rw layer
//! beneath it, and a write below a read-only mount is refused with
//! docker's "mounted volume is marked read-only" (below none, with a
//! read-only rootfs, "container rootfs is marked read-only"). An export
//! is of the rootfs alone, as docker's.
//!
//! # Locks
//!
//! The container's op lock is held only while the view opens (the state
//! it depends on cannot change meanwhile); the copy itself, however long
//! the client takes, holds the container's `fs_pin` shared, which a start
//! and a removal wait for and a stop or kill does not.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_api_types::container::{PathStat, file_mode};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat, openat2, statat};
use rustix::io::Errno;

use super::extract::Scope;
use super::rootfs;
use super::store::{Container, ContainerRecord};
use crate::Engine;
use crate::volumes::{MountPoint, mount_points_of};

mod tarwriter;
pub(crate) mod view;

pub use super::extract::ExtractOptions;
pub(crate) use tarwriter::TarWriter;
use view::{FsView, MountState, mount_state};

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
    #[error("mounted volume is marked read-only")]
    VolumeReadOnly,
    #[error(
        "cannot copy into {path}: it is a filesystem the runtime mounted in the running container"
    )]
    RuntimeMount { path: String },
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{entry:?} is outside of {dest:?}")]
    Breakout { entry: String, dest: String },
    #[error("invalid symlink {path:?} -> {target:?}")]
    SymlinkBreakout { path: String, target: String },
    #[error("invalid hardlink {path:?} -> {target:?}")]
    HardlinkBreakout { path: String, target: String },
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
            // dockerd 20.10 answers these with 500 (errdefs.System around
            // everything); current moby made them invalid-parameter errors,
            // which they are.
            ArchiveError::ReadOnlyRootfs
            | ArchiveError::VolumeReadOnly
            | ArchiveError::RuntimeMount { .. }
            | ArchiveError::NotADirectory
            | ArchiveError::TrailingSlashNotDir { .. }
            | ArchiveError::InvalidPath { .. }
            | ArchiveError::Breakout { .. }
            | ArchiveError::SymlinkBreakout { .. }
            | ArchiveError::HardlinkBreakout { .. }
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

/// Finds `p` under `root`; what is on a `hidden` mount (its root aside)
/// is not found.
fn locate(
    root: &OwnedFd,
    hidden: &std::collections::HashSet<u64>,
    p: &ArchivePath,
    container: &str,
) -> Result<Target, ArchiveError> {
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
    if mount_state(hidden, parent.as_fd(), name).map_err(map)? == MountState::Hidden {
        return Err(not_found(Errno::NOENT));
    }
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

/// docker's `checkWritablePath`: a write at `abs` (resolved) goes to the
/// mount point that holds it (the deepest one), which must be writable;
/// outside every mount point, to the rootfs.
pub(crate) fn check_writable(
    points: &[MountPoint],
    readonly_rootfs: bool,
    abs: &str,
) -> Result<(), ArchiveError> {
    let holds = |d: &str| {
        let d = d.trim_end_matches('/');
        abs == d || abs.strip_prefix(d).is_some_and(|r| r.starts_with('/'))
    };
    let deepest = points
        .iter()
        .filter(|p| holds(&clean_abs(&p.destination)))
        .max_by_key(|p| clean_abs(&p.destination).len());
    match deepest {
        Some(p) if p.rw => Ok(()),
        Some(_) => Err(ArchiveError::VolumeReadOnly),
        None if readonly_rootfs => Err(ArchiveError::ReadOnlyRootfs),
        None => Ok(()),
    }
}

/// What a view is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// `docker cp`: the container's filesystem with its mounts.
    Copy,
    /// `docker export`: the rootfs alone.
    Export,
}

/// Distinguishes the volume users of concurrent copies.
static VIEW_SEQ: AtomicU64 = AtomicU64::new(0);

impl Engine {
    /// The record's mounts, as a stopped view makes them.
    fn planned_mounts(&self, rec: &ContainerRecord) -> Vec<view::Planned> {
        let points = mount_points_of(rec);
        let tmpfs = rec.host_config.tmpfs.clone().unwrap_or_default();
        let mounts = view::Mounts {
            points: &points,
            tmpfs: &tmpfs,
            network_files: [
                ("/etc/resolv.conf", rec.resolv_conf_path.as_str()),
                ("/etc/hostname", rec.hostname_path.as_str()),
                ("/etc/hosts", rec.hosts_path.as_str()),
            ],
            readonly_rootfs: rec.host_config.readonly_rootfs,
        };
        view::plan(&mounts, &|name| self.volumes.data_path(name))
    }

    /// Opens the view of `c` for `purpose` (see the module doc), its op
    /// lock held by the caller. Returns the volumes it uses as `user`.
    async fn open_view(
        &self,
        c: &Container,
        purpose: Purpose,
        user: &str,
    ) -> Result<(FsView, Vec<String>), super::Error> {
        let rec = c.snapshot();
        let path = rootfs::rootfs_path(&self.containers.data_dir, &c.id);
        let task = |source| super::Error::Task {
            op: "open the container's filesystem",
            source,
        };
        if rec.state.running && !rec.state.restarting && rec.state.pid > 0 {
            let pid = rec.state.pid as i32;
            if purpose == Purpose::Export && rootfs::is_mounted(&path) {
                // The rootfs mount the container runs on (the same
                // superblock), without the container's mounts.
                return Ok((FsView::plain(open_root(&path)?), Vec::new()));
            }
            let shown: Vec<String> = match purpose {
                Purpose::Copy => self
                    .planned_mounts(&rec)
                    .into_iter()
                    .map(|p| p.destination)
                    .collect(),
                Purpose::Export => Vec::new(),
            };
            let opened = tokio::task::spawn_blocking(move || view::open_running(pid, &shown))
                .await
                .map_err(task)??;
            if let Some(v) = opened {
                return Ok((v, Vec::new()));
            }
            // Init is gone and its exit not yet handled: the stopped view
            // below uses the rootfs mount still there.
        }
        let planned = match purpose {
            Purpose::Copy => self.planned_mounts(&rec),
            Purpose::Export => Vec::new(),
        };
        let mounts = self
            .images
            .rootfs_mounts(&c.id)
            .map_err(super::Error::Image)?;
        // Volumes with options are mounted while they have a user.
        let mut used = Vec::new();
        for p in mount_points_of(&rec) {
            if purpose == Purpose::Copy && p.r#type == "volume" {
                if let Err(e) = self.volumes.use_volume(user, &p.name) {
                    let cleanup = self.release_volumes(user, &used);
                    return Err(super::Error::Volume(e).with_cleanup(cleanup));
                }
                used.push(p.name);
            }
        }
        let readonly = rec.host_config.readonly_rootfs;
        let opened = tokio::task::spawn_blocking(move || {
            view::open_stopped(&path, mounts, planned, readonly)
        })
        .await
        .map_err(task)
        .and_then(|r| r.map_err(super::Error::Archive));
        match opened {
            Ok(v) => Ok((v, used)),
            Err(e) => {
                let cleanup = self.release_volumes(user, &used);
                Err(e.with_cleanup(cleanup))
            }
        }
    }

    fn release_volumes(&self, user: &str, names: &[String]) -> Result<(), super::Error> {
        let mut result = Ok(());
        for n in names {
            if let Err(e) = self.volumes.unuse(user, n) {
                result = result.and(Err(super::Error::Volume(e)));
            }
        }
        result
    }

    /// Runs `f` on a view of `c`'s filesystem (see the module doc). The
    /// op lock is held only to open the view; the view is pinned (the
    /// container's `fs_pin`, shared) until `f` returned, so a start or a
    /// removal waits for the copy while a stop or kill does not.
    async fn with_view<T: Send + 'static>(
        &self,
        c: &Arc<Container>,
        purpose: Purpose,
        f: impl FnOnce(&FsView) -> Result<T, super::Error> + Send + 'static,
    ) -> Result<T, super::Error> {
        let user = format!("{}+copy-{}", c.id, VIEW_SEQ.fetch_add(1, Ordering::Relaxed));
        let op = c.op.lock().await;
        // Taken exclusively only under `op`: never waits here.
        let pin = c.fs_pin.read().await;
        let opened = self.open_view(c, purpose, &user).await;
        drop(op);
        let (view, used) = opened?;
        let res = tokio::task::spawn_blocking(move || f(&view))
            .await
            .map_err(|source| super::Error::Task {
                op: "container filesystem",
                source,
            })
            .and_then(|r| r);
        // The view (and its namespace) is gone with the task.
        let released = self.release_volumes(&user, &used);
        drop(pin);
        match res {
            Ok(v) => released.map(|()| v),
            Err(e) => Err(e.with_cleanup(released)),
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
        self.with_view(&c, Purpose::Copy, move |v| {
            let t = locate(v.root(), v.hidden(), &p, &name)?;
            Ok(path_stat(v.root(), &p, &t)?)
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
            .with_view(&c, Purpose::Copy, move |v| {
                let t = locate(v.root(), v.hidden(), &p, &name)?;
                on_stat(&path_stat(v.root(), &p, &t)?);
                let mut w = TarWriter::new(out).hiding(v.hidden());
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
    /// as a tar (names relative to `/`, without a `./` prefix), its
    /// rootfs without the mounts, as docker exports it.
    pub async fn container_export<W: Write + Send + 'static>(
        &self,
        reference: &str,
        out: W,
    ) -> Result<W, super::Error> {
        let c = self.containers.get(reference)?;
        let w = self
            .with_view(&c, Purpose::Export, move |v| {
                let mut w = TarWriter::new(out).hiding(v.hidden());
                w.add(v.root(), ".", "")?;
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
    /// extracts the tar `input` at the directory `path` (symlinks in it
    /// followed in the container, the last one too, as docker does so a
    /// link to a directory can be copied into).
    pub async fn container_extract<R: Read + Send + 'static>(
        &self,
        reference: &str,
        path: &str,
        opts: ExtractOptions,
        mut input: R,
    ) -> Result<(), super::Error> {
        let c = self.containers.get(reference)?;
        let p = ArchivePath::parse(path).map_err(super::Error::Archive)?;
        let r = c.snapshot();
        let to = Destination {
            path: p,
            container: reference.to_string(),
            points: mount_points_of(&r),
            readonly_rootfs: r.host_config.readonly_rootfs,
            user: r.config.user,
        };
        self.with_view(&c, Purpose::Copy, move |v| {
            let res = to.extract(v, &mut input, &opts);
            if res.is_err() {
                // As dockerd does: the rest of the upload is read and
                // dropped, so the client gets to read the error instead of
                // a broken pipe. The upload's own errors do not matter
                // next to the one reported.
                let _ = io::copy(&mut input, &mut io::sink());
            }
            Ok(res?)
        })
        .await?;
        self.container_event(&c, "extract-to-dir", &[]);
        Ok(())
    }
}

/// Where a PUT extracts, and what decides whether it may.
struct Destination {
    path: ArchivePath,
    container: String,
    points: Vec<MountPoint>,
    readonly_rootfs: bool,
    /// `Config.User`, for `copyUIDGID`.
    user: String,
}

impl Destination {
    fn extract(
        &self,
        v: &FsView,
        input: impl Read,
        opts: &ExtractOptions,
    ) -> Result<(), ArchiveError> {
        let root = v.root();
        let abs = &self.path.abs;
        let map = |e: Errno| match e {
            Errno::NOENT => ArchiveError::NotFound {
                path: abs.clone(),
                container: self.container.clone(),
            },
            Errno::NOTDIR => ArchiveError::NotADirectory,
            e => errno("resolve", abs)(e),
        };
        let resolved = resolve_in_root(root, abs).map_err(map)?;
        let dest =
            open_in_root(root, &resolved, OFlags::RDONLY | OFlags::DIRECTORY).map_err(map)?;
        if mount_state(v.hidden(), dest.as_fd(), "").map_err(map)? != MountState::Shown {
            return Err(ArchiveError::RuntimeMount { path: resolved });
        }
        check_writable(&self.points, self.readonly_rootfs, &resolved)?;
        let owner = if opts.copy_uid_gid && !self.user.is_empty() {
            let u =
                crate::oci::resolve_user(&v.root_path(), &self.user, &[]).map_err(|source| {
                    ArchiveError::User {
                        user: self.user.clone(),
                        source,
                    }
                })?;
            Some((u.uid, u.gid))
        } else {
            None
        };
        let scope = Scope {
            root: root.as_fd(),
            hidden: v.hidden(),
        };
        super::extract::extract(&scope, &resolved, input, opts, owner)
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
