//! The `cgroup` mount type: the container's view of its cgroups.
//!
//! - cgroup v2 (`/sys/fs/cgroup` is a cgroup2 filesystem): a `cgroup2` mount.
//!   Without a cgroup namespace of its own the container would see the host's
//!   whole tree, and in a user namespace the kernel refuses the mount
//!   (EPERM/EBUSY); then, as runc does, the container's own cgroup directory
//!   (or the whole `/sys/fs/cgroup`) is bind-mounted instead.
//! - cgroup v1, and the hybrid layout: a tmpfs at the destination and under it,
//!   for each hierarchy mounted on the host, a directory named like the host's
//!   (`cpu,cpuacct`, `memory`, `systemd`, `unified`) holding a bind mount of
//!   the process's own cgroup in it, read-only if the mount is; co-mounted
//!   controllers get symlinks (`cpu -> cpu,cpuacct`). With a cgroup namespace,
//!   each hierarchy is mounted afresh instead (the kernel roots it at the
//!   namespace's cgroup).
//!
//! The init process is already in its cgroup, so `/proc/self/cgroup` names the
//! container's own cgroups.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::mountinfo::{self, CgroupMembership, MountInfo};
use super::options::MountOptions;
use super::paths::{self, Create, Symlinks};
use super::plan::{MountKind, MountOp};
use super::{RootfsError, mount};

/// nosuid, nodev, noexec: what the tmpfs and the fresh cgroup mounts always get.
const DEFAULT_FLAGS: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// `CGROUP2_SUPER_MAGIC`.
const CGROUP2_SUPER_MAGIC: rustix::fs::FsWord = 0x6367_7270;

/// The cgroup v1 (or hybrid) view, as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupV1Layout {
    /// The tmpfs at the destination.
    pub tmpfs: MountOp,
    /// One mount per hierarchy, under the destination.
    pub hierarchies: Vec<MountOp>,
    /// (name, target) symlinks in the destination, for co-mounted controllers.
    pub symlinks: Vec<(String, String)>,
    /// Whether the tmpfs is made read-only once filled.
    pub readonly: bool,
}

fn op(kind: MountKind, fstype: &str, source: PathBuf, destination: PathBuf) -> MountOp {
    MountOp {
        kind,
        fstype: fstype.to_owned(),
        source,
        destination,
        options: MountOptions::default(),
        deferred_readonly: false,
    }
}

/// The host mount to take `membership` from: a cgroup mount of the same
/// hierarchy whose root contains the process's cgroup, preferring those under
/// `/sys/fs/cgroup`.
fn mount_for<'a>(
    mounts: &'a [(usize, &'a MountInfo)],
    membership: &CgroupMembership,
) -> Result<Option<(usize, &'a MountInfo)>, RootfsError> {
    let matches = |m: &MountInfo| {
        if membership.hierarchy == 0 {
            return m.fstype == "cgroup2";
        }
        let options: Vec<&str> = m.super_options.split(',').collect();
        m.fstype == "cgroup"
            && !membership.controllers.is_empty()
            && membership
                .controllers
                .iter()
                .all(|c| options.contains(&c.as_str()))
    };
    let candidates: Vec<_> = mounts.iter().filter(|(_, m)| matches(m)).collect();
    let usable = |(_, m): &&&(usize, &MountInfo)| membership.path.starts_with(&m.root);
    let preferred = candidates
        .iter()
        .filter(usable)
        .find(|(_, m)| m.mount_point.starts_with("/sys/fs/cgroup"))
        .or_else(|| candidates.iter().find(usable));
    match (preferred, candidates.first()) {
        (Some(&&(index, m)), _) => Ok(Some((index, m))),
        (None, Some((_, m))) => Err(RootfsError::CgroupOutsideMount {
            cgroup: membership.path.clone(),
            root: m.root.clone(),
            mount_point: m.mount_point.clone(),
        }),
        (None, None) => Ok(None),
    }
}

/// Plans the v1 (or hybrid) view for the `cgroup` mount `cgroup`, from the
/// host's mount table and the process's cgroups. Hierarchies the host has not
/// mounted are left out.
pub fn plan_v1(
    cgroup: &MountOp,
    mounts: &[MountInfo],
    memberships: &[CgroupMembership],
    namespaced: bool,
) -> Result<CgroupV1Layout, RootfsError> {
    let readonly = cgroup.options.flags.contains(MsFlags::MS_RDONLY);
    let cgroup_mounts: Vec<(usize, &MountInfo)> = mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .collect();
    let mut hierarchies = Vec::new();
    for membership in memberships {
        let Some((index, host)) = mount_for(&cgroup_mounts, membership)? else {
            continue;
        };
        let Some(name) = host.mount_point.file_name() else {
            continue;
        };
        let destination = cgroup.destination.join(name);
        let mut mount = if namespaced {
            let mut mount = if membership.hierarchy == 0 {
                op(MountKind::Other, "cgroup2", "cgroup2".into(), destination)
            } else {
                op(MountKind::Other, "cgroup", "cgroup".into(), destination)
            };
            mount.options.data = membership.controllers.clone();
            mount.options.flags = DEFAULT_FLAGS | (cgroup.options.flags & MsFlags::MS_RDONLY);
            mount
        } else {
            let relative = membership
                .path
                .strip_prefix(&host.root)
                .unwrap_or(Path::new(""));
            let source = host.mount_point.join(relative);
            let mut mount = op(MountKind::Bind, "bind", source, destination);
            mount.options.flags = cgroup.options.flags | MsFlags::MS_BIND | MsFlags::MS_REC;
            mount.options.cleared = cgroup.options.cleared;
            mount
        };
        mount.options.propagation = cgroup.options.propagation.clone();
        hierarchies.push((index, mount));
    }
    hierarchies.sort_by_key(|(index, _)| *index);
    hierarchies.dedup_by_key(|(index, _)| *index);
    let hierarchies: Vec<MountOp> = hierarchies.into_iter().map(|(_, m)| m).collect();

    let mut symlinks = Vec::new();
    for mount in &hierarchies {
        let name = mount
            .destination
            .file_name()
            .and_then(OsStr::to_str)
            .unwrap_or_default();
        if name.contains(',') {
            for controller in name.split(',') {
                symlinks.push((controller.to_owned(), name.to_owned()));
            }
        }
    }

    let mut tmpfs = op(
        MountKind::Tmpfs,
        "tmpfs",
        "tmpfs".into(),
        cgroup.destination.clone(),
    );
    tmpfs.options.flags = DEFAULT_FLAGS;
    tmpfs.options.data = vec!["mode=755".to_owned()];
    tmpfs.options.propagation = cgroup.options.propagation.clone();
    Ok(CgroupV1Layout {
        tmpfs,
        hierarchies,
        symlinks,
        readonly,
    })
}

fn read_proc_self(name: &'static str) -> Result<String, RootfsError> {
    let path = Path::new("/proc/self").join(name);
    std::fs::read_to_string(&path).map_err(|e| RootfsError::io("read", path, e))
}

/// Performs the `cgroup` mount `cgroup` (see the module documentation).
pub(super) fn apply(
    root: BorrowedFd<'_>,
    cgroup: &MountOp,
    namespaced: bool,
) -> Result<(), RootfsError> {
    let host = rustix::fs::statfs("/sys/fs/cgroup")
        .map_err(|e| RootfsError::io("statfs", "/sys/fs/cgroup", e))?;
    let memberships = mountinfo::parse_proc_cgroup(&read_proc_self("cgroup")?)?;
    if host.f_type == CGROUP2_SUPER_MAGIC {
        return apply_v2(root, cgroup, namespaced, &memberships);
    }
    // The table the runtime read before forking us shows the same cgroup mounts
    // at the same places (a new mount namespace is a copy) unless a cgroup
    // namespace of our own changed their roots.
    let text = match crate::cgroups::last_mountinfo().filter(|_| !namespaced) {
        Some(text) => text,
        None => read_proc_self("mountinfo")?,
    };
    let mounts = mountinfo::parse_mountinfo(&text)?;
    let layout = plan_v1(cgroup, &mounts, &memberships, namespaced)?;
    mount::apply_mount(root, &layout.tmpfs, namespaced)?;
    for hierarchy in &layout.hierarchies {
        mount::apply_mount(root, hierarchy, namespaced)?;
    }
    let dest = &cgroup.destination;
    let dir = paths::walk(root, dest, Create::Nothing, Symlinks::Follow)?;
    for (name, target) in &layout.symlinks {
        match rustix::fs::symlinkat(target.as_str(), &dir.fd, name.as_str()) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(RootfsError::io("symlink", dest.join(name), e)),
        }
    }
    if layout.readonly {
        let fd = paths::reopen(root, &dir.path).map_err(|e| mount::resolve_error(dest, e))?;
        mount::remount_bind(
            fd.as_fd(),
            DEFAULT_FLAGS | MsFlags::MS_RDONLY,
            MsFlags::empty(),
        )
        .map_err(|e| RootfsError::mount("remount of tmpfs", dest, e))?;
    }
    Ok(())
}

fn apply_v2(
    root: BorrowedFd<'_>,
    cgroup: &MountOp,
    namespaced: bool,
    memberships: &[CgroupMembership],
) -> Result<(), RootfsError> {
    let mut cgroup2 = cgroup.clone();
    cgroup2.kind = MountKind::Other;
    cgroup2.fstype = "cgroup2".to_owned();
    cgroup2.source = "cgroup2".into();
    match mount::apply_mount(root, &cgroup2, namespaced) {
        Err(RootfsError::Mount { source, .. })
            if [Errno::EPERM, Errno::EBUSY]
                .iter()
                .any(|e| source.raw_os_error() == Some(*e as i32)) => {}
        other => return other,
    }
    let own = memberships.iter().find(|m| m.hierarchy == 0);
    let mut bind = cgroup.clone();
    bind.kind = MountKind::Bind;
    bind.fstype = "bind".to_owned();
    bind.options.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
    bind.source = match own {
        // Emulates a cgroup namespace: only the container's own subtree.
        Some(own) if namespaced => {
            Path::new("/sys/fs/cgroup").join(own.path.strip_prefix("/").unwrap_or(&own.path))
        }
        _ => PathBuf::from("/sys/fs/cgroup"),
    };
    mount::apply_mount(root, &bind, namespaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    // This host's hybrid layout: v1 controllers one per directory, and cgroup2 at unified.
    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 27 0:32 /other /var/lib/x/memory rw,relatime - cgroup cgroup rw,memory
";
    const CGROUP: &str = "\
9:name=systemd:/ctr
7:blkio:/ctr
4:memory:/ctr/m
2:cpu,cpuacct:/ctr
0::/ctr/u
";

    fn cgroup_op(options: &[&str]) -> MountOp {
        let destination = PathBuf::from("/sys/fs/cgroup");
        let mut op = op(
            MountKind::Cgroup,
            "cgroup",
            "cgroup".into(),
            destination.clone(),
        );
        op.options = MountOptions::parse(&destination, options).unwrap();
        op
    }

    fn layout(options: &[&str], namespaced: bool) -> CgroupV1Layout {
        let mounts = mountinfo::parse_mountinfo(MOUNTINFO).unwrap();
        let memberships = mountinfo::parse_proc_cgroup(CGROUP).unwrap();
        plan_v1(&cgroup_op(options), &mounts, &memberships, namespaced).expect("layout")
    }

    #[test]
    fn v1_binds_own_cgroups() {
        let layout = layout(&["nosuid", "noexec", "nodev", "relatime", "ro"], false);
        let pairs: Vec<(&str, &str)> = layout
            .hierarchies
            .iter()
            .map(|m| (m.source.to_str().unwrap(), m.destination.to_str().unwrap()))
            .collect();
        assert_eq!(
            pairs,
            [
                (
                    "/sys/fs/cgroup/cpu,cpuacct/ctr",
                    "/sys/fs/cgroup/cpu,cpuacct"
                ),
                ("/sys/fs/cgroup/memory/ctr/m", "/sys/fs/cgroup/memory"),
                ("/sys/fs/cgroup/systemd/ctr", "/sys/fs/cgroup/systemd"),
                ("/sys/fs/cgroup/unified/ctr/u", "/sys/fs/cgroup/unified"),
            ],
            "blkio is not mounted on the host; the memory mount under /var is not preferred"
        );
        for m in &layout.hierarchies {
            assert_eq!(m.kind, MountKind::Bind);
            assert!(
                m.options
                    .flags
                    .contains(MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC)
            );
            assert!(m.options.bind_needs_remount());
        }
        assert_eq!(
            layout.symlinks,
            [
                ("cpu".to_owned(), "cpu,cpuacct".to_owned()),
                ("cpuacct".to_owned(), "cpu,cpuacct".to_owned())
            ]
        );
        assert!(layout.readonly);
        assert_eq!(layout.tmpfs.kind, MountKind::Tmpfs);
        assert_eq!(layout.tmpfs.options.flags, DEFAULT_FLAGS);
        assert_eq!(layout.tmpfs.options.data, ["mode=755"]);
    }

    #[test]
    fn v1_with_cgroup_namespace_mounts_afresh() {
        let layout = layout(&["ro"], true);
        let memory = &layout.hierarchies[1];
        assert_eq!(memory.kind, MountKind::Other);
        assert_eq!(memory.fstype, "cgroup");
        assert_eq!(memory.options.data_string().as_deref(), Some("memory"));
        assert_eq!(memory.options.flags, DEFAULT_FLAGS | MsFlags::MS_RDONLY);
        let systemd = &layout.hierarchies[2];
        assert_eq!(
            systemd.options.data_string().as_deref(),
            Some("name=systemd")
        );
        let unified = &layout.hierarchies[3];
        assert_eq!(unified.fstype, "cgroup2");
        assert_eq!(unified.options.data_string(), None);
    }

    #[test]
    fn v1_cgroup_outside_every_mount_is_an_error() {
        let mounts = mountinfo::parse_mountinfo(
            "32 31 0:29 /a /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        )
        .unwrap();
        let memberships = mountinfo::parse_proc_cgroup("4:memory:/b\n").unwrap();
        let err = plan_v1(&cgroup_op(&[]), &mounts, &memberships, false).unwrap_err();
        assert!(
            matches!(err, RootfsError::CgroupOutsideMount { .. }),
            "{err}"
        );
    }
}
