//! The container's filesystem as `docker cp` and `docker export` see it:
//! a *view*, that is a directory fd of the container's `/` whose lookups
//! (openat2(2) `RESOLVE_IN_ROOT`, see the parent module) cross the
//! container's mounts as the container's own processes do.
//!
//! # Running containers
//!
//! The root is `/proc/<pid>/root` of the container's init: a directory of
//! the container's own mount namespace, so its volumes, binds and tmpfs
//! mounts (and what it wrote into them) are seen as it sees them, and
//! nothing is mounted for the copy. The pid is checked to still be that
//! process after the open (a pidfd taken first, polled afterwards).
//!
//! The filesystems the runtime mounted for the container (`/proc`,
//! `/sys`, `/dev` and what is below them) are *hidden*: dockerd's copy
//! sees the rootfs and the container's mounts only, and a copy of `/` must
//! not walk procfs and sysfs. A hidden mount's root shows as an empty
//! directory, what is inside it as absent. Hidden mounts are found in the
//! container's mountinfo (proc_pid_mountinfo(5), mount points relative to
//! its root) and told apart by mount id (statx(2) `STATX_MNT_ID`).
//!
//! # Stopped containers
//!
//! A thread enters a mount namespace of its own (unshare(2)) in which
//! every mount is made private first, so nothing done there reaches the
//! host nor changes under the copy; it mounts the rootfs there and the
//! container's mounts onto it as start would make them (binds and volumes
//! bound from their sources, read-only where the container has them so,
//! each tmpfs a new empty one as the container gets at start, the network
//! files), and hands back the root and the namespace as fds. The
//! namespace lives as long as its fd: dropping the view drops every mount
//! made for it, also when the daemon dies. The mounts are made with
//! open_tree(2)/fsmount(2), mount_setattr(2) and move_mount(2) onto fds
//! resolved inside the root, so a symlink in the image never moves one.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, CWD, Mode, OFlags, ResolveFlags, StatxAttributes, StatxFlags, mkdirat, openat,
    openat2, statx,
};
use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags,
};

use super::ArchiveError;
use crate::volumes::MountPoint;

/// A container's filesystem opened for one archive operation.
#[derive(Debug)]
pub(crate) struct FsView {
    root: OwnedFd,
    hidden: HashSet<u64>,
    /// A stopped view's mount namespace: its mounts live while it does.
    _ns: Option<OwnedFd>,
}

/// Where an object is with respect to the hidden mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MountState {
    Shown,
    /// The root of a hidden mount (shown as an empty directory).
    HiddenRoot,
    /// Inside a hidden mount (absent).
    Hidden,
}

impl FsView {
    /// A view of a directory with nothing hidden (the rootfs mount of a
    /// running container, for export; tests).
    pub(crate) fn plain(root: OwnedFd) -> FsView {
        FsView {
            root,
            hidden: HashSet::new(),
            _ns: None,
        }
    }

    /// The container's `/`.
    pub(crate) fn root(&self) -> &OwnedFd {
        &self.root
    }

    /// The mount ids whose content is not shown.
    pub(crate) fn hidden(&self) -> &HashSet<u64> {
        &self.hidden
    }

    /// A path naming the root, for interfaces that take a path (it goes
    /// through the fd, so it works whatever namespace the root is in).
    pub(crate) fn root_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.root.as_raw_fd()))
    }
}

/// Where `name` of `dir` (`dir` itself when empty) is with respect to
/// `hidden`; a final symlink is not followed. Missing is `Shown`.
pub(crate) fn mount_state(
    hidden: &HashSet<u64>,
    dir: BorrowedFd<'_>,
    name: &str,
) -> Result<MountState, Errno> {
    if hidden.is_empty() {
        return Ok(MountState::Shown);
    }
    let flags = if name.is_empty() {
        AtFlags::EMPTY_PATH
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    let st = match statx(dir, name, flags, StatxFlags::MNT_ID) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(MountState::Shown),
        Err(e) => return Err(e),
    };
    if !hidden.contains(&st.stx_mnt_id) {
        return Ok(MountState::Shown);
    }
    let root = st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT)
        && st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT);
    Ok(if root {
        MountState::HiddenRoot
    } else {
        MountState::Hidden
    })
}

/// What a mount of a stopped view is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A bind of a host path (with its submounts if `recursive`).
    Bind { path: PathBuf, recursive: bool },
    /// A new tmpfs with these `key=value` options (size, mode, ...).
    Tmpfs { options: Vec<(String, String)> },
}

/// One mount of a stopped view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    /// Absolute and clean, in the container.
    pub destination: String,
    pub source: Source,
    pub readonly: bool,
}

/// The container's mounts, as its record has them.
pub(crate) struct Mounts<'a> {
    pub points: &'a [MountPoint],
    /// `HostConfig.Tmpfs`: destination -> mount(8) options.
    pub tmpfs: &'a BTreeMap<String, String>,
    /// `/etc/resolv.conf`, `/etc/hostname`, `/etc/hosts` and the files
    /// the daemon keeps for them (empty: none).
    pub network_files: [(&'static str, &'a str); 3],
    pub readonly_rootfs: bool,
}

/// tmpfs options that matter for a copy; flags (noexec, ...) do not.
const TMPFS_KEYS: [&str; 6] = ["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"];

fn tmpfs_source(data: &str) -> (Source, bool) {
    let mut options = Vec::new();
    let mut readonly = false;
    for o in data.split(',') {
        match o.split_once('=') {
            Some((k, v)) if TMPFS_KEYS.contains(&k) => options.push((k.to_string(), v.to_string())),
            None if o == "ro" => readonly = true,
            None if o == "rw" => readonly = false,
            _ => {}
        }
    }
    (Source::Tmpfs { options }, readonly)
}

/// The mounts a stopped view makes, parents first, with start's
/// precedence: a bind replaces a network file, a tmpfs wins over a bind.
/// `volume_path` gives a volume's data directory.
pub(crate) fn plan(m: &Mounts<'_>, volume_path: &dyn Fn(&str) -> PathBuf) -> Vec<Planned> {
    let mut by_dest: BTreeMap<String, Planned> = BTreeMap::new();
    let mut put = |destination: &str, source: Source, readonly: bool| {
        let destination = super::clean_abs(destination);
        by_dest.insert(
            destination.clone(),
            Planned {
                destination,
                source,
                readonly,
            },
        );
    };
    for (destination, file) in m.network_files {
        if !file.is_empty() {
            let source = Source::Bind {
                path: PathBuf::from(file),
                recursive: false,
            };
            put(destination, source, m.readonly_rootfs);
        }
    }
    for p in m.points {
        let (source, readonly) = match p.r#type.as_str() {
            "tmpfs" => {
                let (source, ro) = tmpfs_source(&p.tmpfs_data);
                (source, ro || !p.rw)
            }
            "volume" => (
                Source::Bind {
                    path: volume_path(&p.name),
                    recursive: true,
                },
                !p.rw,
            ),
            _ => (
                Source::Bind {
                    path: PathBuf::from(&p.source),
                    recursive: !p.non_recursive,
                },
                !p.rw,
            ),
        };
        put(&p.destination, source, readonly);
    }
    for (destination, data) in m.tmpfs {
        let (source, readonly) = tmpfs_source(data);
        put(destination, source, readonly);
    }
    let mut out: Vec<Planned> = by_dest.into_values().collect();
    out.sort_by_key(|p| p.destination.matches('/').count());
    out
}

/// The mount points of a mountinfo table (proc_pid_mountinfo(5)) that are
/// hidden: all but the root's and those at or below a `shown` path.
pub(crate) fn hidden_mounts(mountinfo: &str, shown: &[String]) -> HashSet<u64> {
    let mut hidden = HashSet::new();
    for line in mountinfo.lines() {
        let mut fields = line.split(' ');
        let (Some(id), Some(point)) = (fields.next(), fields.nth(3)) else {
            continue;
        };
        let Ok(id) = id.parse::<u64>() else {
            continue;
        };
        let point = unescape(point);
        let visible = point == "/"
            || shown.iter().any(|s| {
                point == *s
                    || point
                        .strip_prefix(s.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            });
        if !visible {
            hidden.insert(id);
        }
    }
    hidden
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = |c: u8| (b'0'..=b'7').contains(&c);
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|&c| oct(c)) {
            let v = b[i + 1..i + 4]
                .iter()
                .fold(0u32, |a, &c| a * 8 + u32::from(c - b'0'));
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn io_err(op: &'static str, path: impl Into<String>) -> impl FnOnce(io::Error) -> ArchiveError {
    let path = path.into();
    move |source| ArchiveError::Io { op, path, source }
}

/// Opens the view of running container init `pid`, showing the mounts
/// at `shown` (container paths) and hiding the others. `None` when the
/// process is gone.
pub(crate) fn open_running(pid: i32, shown: &[String]) -> Result<Option<FsView>, ArchiveError> {
    let what = format!("/proc/{pid}");
    let Some(pid_raw) = rustix::process::Pid::from_raw(pid) else {
        return Ok(None);
    };
    let pidfd = match rustix::process::pidfd_open(pid_raw, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(Errno::SRCH) => return Ok(None),
        Err(e) => return Err(io_err("pidfd_open", what)(e.into())),
    };
    let gone = |e: Errno| matches!(e, Errno::NOENT | Errno::SRCH);
    let proc_dir = match rustix::fs::open(
        &what,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) if gone(e) => return Ok(None),
        Err(e) => return Err(io_err("open", what)(e.into())),
    };
    // The root is a magic link: a plain openat follows it (openat2 with
    // RESOLVE_NO_MAGICLINKS is for paths the container controls).
    let root = match openat(
        &proc_dir,
        "root",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) if gone(e) => return Ok(None),
        Err(e) => return Err(io_err("open root of", what)(e.into())),
    };
    let mountinfo = match openat(
        &proc_dir,
        "mountinfo",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => {
            let mut text = String::new();
            std::fs::File::from(fd)
                .read_to_string(&mut text)
                .map_err(io_err("read mountinfo of", what.clone()))?;
            text
        }
        Err(e) if gone(e) => return Ok(None),
        Err(e) => return Err(io_err("open mountinfo of", what)(e.into())),
    };
    // The pidfd names the process that had `pid` before the opens; alive
    // after them, it had it throughout, so both opens were of it
    // (pidfd_open(2): a pidfd becomes readable when the process exits).
    let mut poll = [nix::poll::PollFd::new(
        pidfd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    nix::poll::poll(&mut poll, nix::poll::PollTimeout::ZERO)
        .map_err(|e| io_err("poll pidfd of", what)(io::Error::from(e)))?;
    if poll[0]
        .revents()
        .is_some_and(|r| r.contains(nix::poll::PollFlags::POLLIN))
    {
        return Ok(None);
    }
    // A shown destination may have symlinks in it: the runtime mounted
    // on what they resolve to, which is what mountinfo lists.
    let shown: Vec<String> = shown
        .iter()
        .map(|s| super::resolve_in_root(&root, s).unwrap_or_else(|_| s.clone()))
        .collect();
    Ok(Some(FsView {
        root,
        hidden: hidden_mounts(&mountinfo, &shown),
        _ns: None,
    }))
}

/// Opens the view of a stopped container whose rootfs is `mounts` (the
/// snapshot's) at `rootfs`, with the `planned` mounts; read-only rootfs
/// when `readonly_root`. Blocks: runs a thread of its own.
pub(crate) fn open_stopped(
    rootfs: &Path,
    mounts: Vec<berth_snapshots::mount::Mount>,
    planned: Vec<Planned>,
    readonly_root: bool,
) -> Result<FsView, ArchiveError> {
    let rootfs = rootfs.to_path_buf();
    let shown = rootfs.display().to_string();
    // Never a pool thread: a thread that left the daemon's mount
    // namespace must not run anything else, so it ends here.
    std::thread::Builder::new()
        .name("berth-cp-mounts".into())
        .spawn(move || build_stopped(&rootfs, &mounts, &planned, readonly_root))
        .map_err(io_err("spawn thread for", shown.clone()))?
        .join()
        .unwrap_or_else(|_| {
            Err(io_err("mount view of", shown)(io::Error::other(
                "the mounting thread panicked",
            )))
        })
}

fn build_stopped(
    rootfs: &Path,
    mounts: &[berth_snapshots::mount::Mount],
    planned: &[Planned],
    readonly_root: bool,
) -> Result<FsView, ArchiveError> {
    let at = rootfs.display().to_string();
    // SAFETY: CLONE_NEWNS (which implies CLONE_FS) leaves the fd table
    // shared: fds stay valid across threads, which is what
    // `unshare_unsafe` asks callers to keep.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }
        .map_err(|e| io_err("unshare mount namespace for", at.clone())(e.into()))?;
    // Private, recursively: the host's mount events (a cleanup unmounting
    // the rootfs) must not reach this view, nor its mounts the host.
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| io_err("make mounts private for", at.clone())(e.into()))?;
    // Mounted already: a container whose exit is being cleaned up; its
    // mount is used (one overlay superblock per upper directory).
    if !crate::containers::rootfs::is_mounted(rootfs) {
        std::fs::create_dir_all(rootfs).map_err(io_err("create", at.clone()))?;
        let guard = berth_snapshots::mount::mount_all(mounts, rootfs)
            .map_err(|e| io_err("mount rootfs at", at.clone())(io::Error::other(e)))?;
        // The namespace's end unmounts it.
        std::mem::forget(guard);
    }
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open rootfs", at.clone())(e.into()))?;
    for p in planned {
        attach(&root, p).map_err(io_err("mount for the copy at", p.destination.clone()))?;
    }
    if readonly_root {
        // Last: the mount points above are created in the rw layer, as
        // start creates them.
        mount_setattr(root.as_fd(), false, MountAttrFlags::MOUNT_ATTR_RDONLY)
            .map_err(io_err("make read-only", at.clone()))?;
    }
    let ns = rustix::fs::open(
        "/proc/thread-self/ns/mnt",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open mount namespace of", at)(e.into()))?;
    Ok(FsView {
        root,
        hidden: HashSet::new(),
        _ns: Some(ns),
    })
}

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

fn in_root(root: &OwnedFd, path: &str, flags: OFlags, mode: u32) -> Result<OwnedFd, Errno> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    loop {
        match openat2(
            root,
            rel,
            flags | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
            IN_ROOT,
        ) {
            Err(Errno::AGAIN) => continue,
            r => return r,
        }
    }
}

/// The mount point `destination` under `root`, created (directories 0755,
/// a file empty) where missing, every component resolved inside `root`.
fn make_target(root: &OwnedFd, destination: &str, dir: bool) -> io::Result<OwnedFd> {
    let comps: Vec<&str> = destination.split('/').filter(|c| !c.is_empty()).collect();
    let Some((last, parents)) = comps.split_last() else {
        return Err(io::Error::from(Errno::INVAL));
    };
    let mut prefix = String::new();
    let mut parent = in_root(root, "/", OFlags::PATH | OFlags::DIRECTORY, 0)?;
    for c in parents {
        prefix.push('/');
        prefix.push_str(c);
        parent = match in_root(root, &prefix, OFlags::PATH | OFlags::DIRECTORY, 0) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                match mkdirat(&parent, *c, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                in_root(root, &prefix, OFlags::PATH | OFlags::DIRECTORY, 0)?
            }
            Err(e) => return Err(e.into()),
        };
    }
    if dir {
        match mkdirat(&parent, *last, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(in_root(
            root,
            destination,
            OFlags::PATH | OFlags::DIRECTORY,
            0,
        )?);
    }
    match in_root(root, destination, OFlags::PATH, 0) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOENT) => {
            drop(in_root(
                root,
                destination,
                OFlags::WRONLY | OFlags::CREATE,
                0o644,
            )?);
            Ok(in_root(root, destination, OFlags::PATH, 0)?)
        }
        Err(e) => Err(e.into()),
    }
}

fn attach(root: &OwnedFd, p: &Planned) -> io::Result<()> {
    let (tree, target, recursive) = match &p.source {
        Source::Bind { path, recursive } => {
            let dir = std::fs::metadata(path)?.is_dir();
            let target = make_target(root, &p.destination, dir)?;
            let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
            if *recursive {
                flags |= OpenTreeFlags::AT_RECURSIVE;
            }
            let tree = rustix::mount::open_tree(CWD, path.as_path(), flags)?;
            (tree, target, *recursive)
        }
        Source::Tmpfs { options } => {
            let target = make_target(root, &p.destination, true)?;
            let fs = rustix::mount::fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)?;
            for (k, v) in options {
                rustix::mount::fsconfig_set_string(&fs, k.as_str(), v.as_str())?;
            }
            rustix::mount::fsconfig_create(&fs)?;
            let tree = rustix::mount::fsmount(
                &fs,
                FsMountFlags::FSMOUNT_CLOEXEC,
                MountAttrFlags::empty(),
            )?;
            (tree, target, false)
        }
    };
    let attrs = if p.readonly {
        MountAttrFlags::MOUNT_ATTR_RDONLY
    } else {
        MountAttrFlags::empty()
    };
    // Private: a clone of a shared host mount would otherwise be its peer,
    // and a mount made below it here would show up on the host.
    mount_setattr(tree.as_fd(), recursive, attrs)?;
    let flags = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    rustix::mount::move_mount(&tree, "", &target, "", flags)?;
    Ok(())
}

/// `struct mount_attr` of mount_setattr(2) (`MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount whose root `fd` is (`AT_EMPTY_PATH`),
/// or on its whole tree with `recursive`: sets `set` and makes it
/// private.
fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, set: MountAttrFlags) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: u64::from(set.bits()),
        attr_clr: 0,
        propagation: u64::from(MountPropagationFlags::PRIVATE.bits()),
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: the path is a NUL-terminated empty string, `attr` is a live
    // `struct mount_attr` whose size is passed along, and `fd` is borrowed
    // for the duration of the call; the kernel only reads both pointers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
