//! Which cgroup hierarchies are mounted, and where this process sits in them.
//!
//! The layout is read from `/proc/self/mountinfo` (proc(5)): every `cgroup`
//! mount carries its controllers in the super options (`rw,cpu,cpuacct`),
//! and a `cgroup2` mount is the unified hierarchy. The process's own cgroups
//! come from `/proc/self/cgroup` (cgroups(7)): `hierarchy-ID:controllers:path`,
//! where the line `0::path` is the unified hierarchy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::CgroupError;

/// The cgroup v1 controllers this manager knows, in the order runc's cgroupfs
/// driver visits them. `name=systemd` is a named hierarchy without a
/// controller: it is joined (as runc does) but never limited.
pub const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "devices",
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "blkio",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "freezer",
    "rdma",
    NAME_SYSTEMD,
];

/// The named v1 hierarchy systemd (and runc) use for process tracking.
pub const NAME_SYSTEMD: &str = "name=systemd";

/// Where the unified (v2) mount conventionally sits on a v2-only host.
const UNIFIED_DEFAULT: &str = "/sys/fs/cgroup";
/// Where hybrid hosts conventionally mount the unified hierarchy.
const HYBRID_DEFAULT: &str = "/sys/fs/cgroup/unified";

/// One mounted cgroup hierarchy as this mount namespace sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// The directory the hierarchy is mounted on, e.g. `/sys/fs/cgroup/memory`.
    pub mountpoint: PathBuf,
    /// The cgroup (path inside the hierarchy) that the mount shows at its
    /// mount point; `/` unless this is a bind mount of a sub-cgroup, e.g.
    /// inside a container without a cgroup namespace.
    pub root: PathBuf,
}

/// The cgroup layout of the host, chosen by what is mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Only v1 hierarchies: one per controller or per group of co-mounted
    /// controllers (keys are controller names, plus `name=systemd`).
    V1 {
        controllers: BTreeMap<String, Hierarchy>,
    },
    /// v1 controllers plus a cgroup2 mount with (usually) no controllers.
    /// Limits go to the v1 controllers, as runc does; the unified hierarchy
    /// is only joined.
    Hybrid {
        controllers: BTreeMap<String, Hierarchy>,
        unified: Hierarchy,
    },
    /// Only the unified hierarchy (cgroup v2).
    Unified { unified: Hierarchy },
}

/// The cgroups a process belongs to, from `/proc/<pid>/cgroup`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcCgroups {
    /// v1 controller (or `name=...`) to cgroup path.
    pub v1: BTreeMap<String, String>,
    /// The path in the unified hierarchy (the `0::` line).
    pub unified: Option<String>,
}

/// A cgroup-related line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CgroupMount {
    root: PathBuf,
    mountpoint: PathBuf,
    /// `true` for `cgroup2`, `false` for `cgroup`.
    v2: bool,
    super_options: Vec<String>,
}

/// The mountinfo text [`detect`] read last, kept for the container process the
/// runtime forks next: its cgroup mounts (v1) come from the same table, and
/// reading it again costs as much as the first time — the table has a line per
/// mount, so it grows with every container running on the host.
static LAST_MOUNTINFO: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Reads `/proc/self/mountinfo` and decides the layout.
pub fn detect() -> Result<Layout, CgroupError> {
    let path = Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_owned(),
        source,
    })?;
    let layout = layout_from_mountinfo(&text);
    if let Ok(mut last) = LAST_MOUNTINFO.lock() {
        *last = Some(text);
    }
    layout
}

/// The mountinfo text [`detect`] read last in this process (or in the process
/// this one was forked from), if any. Never blocks: in a child forked while
/// another thread held the lock, it answers `None`.
pub(crate) fn last_mountinfo() -> Option<String> {
    LAST_MOUNTINFO.try_lock().ok().and_then(|g| g.clone())
}

/// Reads `/proc/self/cgroup`.
pub fn own_cgroups() -> Result<ProcCgroups, CgroupError> {
    let path = Path::new("/proc/self/cgroup");
    let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_proc_cgroup(&text)
}

/// Decides the layout from the text of a mountinfo file.
///
/// The rules, in order: a cgroup2 mount at `/sys/fs/cgroup` means a v2-only
/// host (runc's test); otherwise any v1 mount with a real controller means
/// v1, hybrid when some cgroup2 is mounted too (preferring
/// `/sys/fs/cgroup/unified`); otherwise the first cgroup2 mount is the
/// unified hierarchy. The first mount of each controller wins, as in runc.
pub fn layout_from_mountinfo(text: &str) -> Result<Layout, CgroupError> {
    let mounts = parse_cgroup_mounts(text)?;
    let hierarchy = |m: &CgroupMount| Hierarchy {
        mountpoint: m.mountpoint.clone(),
        root: m.root.clone(),
    };

    let v2_mounts: Vec<&CgroupMount> = mounts.iter().filter(|m| m.v2).collect();
    if let Some(m) = v2_mounts
        .iter()
        .find(|m| m.mountpoint == Path::new(UNIFIED_DEFAULT))
    {
        return Ok(Layout::Unified {
            unified: hierarchy(m),
        });
    }

    let mut controllers = BTreeMap::new();
    for m in mounts.iter().filter(|m| !m.v2) {
        for opt in &m.super_options {
            if V1_CONTROLLERS.contains(&opt.as_str()) && !controllers.contains_key(opt) {
                controllers.insert(opt.clone(), hierarchy(m));
            }
        }
    }
    let has_real_controller = controllers.keys().any(|k| k != NAME_SYSTEMD);
    let unified = v2_mounts
        .iter()
        .find(|m| m.mountpoint == Path::new(HYBRID_DEFAULT))
        .or_else(|| v2_mounts.first())
        .map(|m| hierarchy(m));

    match (has_real_controller, unified) {
        (true, Some(unified)) => Ok(Layout::Hybrid {
            controllers,
            unified,
        }),
        (true, None) => Ok(Layout::V1 { controllers }),
        (false, Some(unified)) => Ok(Layout::Unified { unified }),
        (false, None) => Err(CgroupError::NoCgroupMount),
    }
}

/// Parses the cgroup and cgroup2 lines of mountinfo; other lines are only
/// checked for the separator.
fn parse_cgroup_mounts(text: &str) -> Result<Vec<CgroupMount>, CgroupError> {
    let bad = |line: &str, reason: &'static str| CgroupError::Parse {
        path: PathBuf::from("/proc/self/mountinfo"),
        line: line.to_owned(),
        reason,
    };
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw"
        // The optional fields before "-" vary in number.
        let fields: Vec<&str> = line.split(' ').collect();
        let sep = fields
            .iter()
            .position(|f| *f == "-")
            .ok_or_else(|| bad(line, "no \" - \" separator"))?;
        if sep < 6 || fields.len() < sep + 4 {
            return Err(bad(line, "too few fields"));
        }
        let fstype = fields[sep + 1];
        let v2 = match fstype {
            "cgroup" => false,
            "cgroup2" => true,
            _ => continue,
        };
        out.push(CgroupMount {
            root: PathBuf::from(unescape_octal(fields[3])),
            mountpoint: PathBuf::from(unescape_octal(fields[4])),
            v2,
            super_options: fields[sep + 3].split(',').map(str::to_owned).collect(),
        });
    }
    Ok(out)
}

/// Undoes the kernel's `\ooo` escaping of space, tab, newline and backslash
/// in mountinfo paths (`show_mountinfo` → `mangle`).
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') as u32 * 64
                + (bytes[i + 2] - b'0') as u32 * 8
                + (bytes[i + 3] - b'0') as u32;
            if let Ok(b) = u8::try_from(v) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/<pid>/cgroup` text.
pub fn parse_proc_cgroup(text: &str) -> Result<ProcCgroups, CgroupError> {
    let mut out = ProcCgroups::default();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CgroupError::Parse {
                path: PathBuf::from("/proc/self/cgroup"),
                line: line.to_owned(),
                reason: "expected hierarchy-ID:controller-list:cgroup-path",
            });
        };
        if id == "0" && controllers.is_empty() {
            out.unified = Some(path.to_owned());
            continue;
        }
        for c in controllers.split(',').filter(|c| !c.is_empty()) {
            out.v1.insert(c.to_owned(), path.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hybrid host like the one runc 1.1 targets: one v1 mount per
    /// controller (cpu and cpuacct apart) plus cgroup2 at .../unified.
    const HYBRID: &str = "\
22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// A classic v1 host (systemd-style, co-mounted controllers, no cgroup2).
    const V1: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,net_cls,net_prio
32 25 0:29 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,devices
33 25 0:30 /docker/abc /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,freezer
34 25 0:31 / /mnt/again\\040x rw,relatime shared:15 - cgroup cgroup rw,memory
";

    /// A v2-only host.
    const V2: &str = "\
24 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
28 21 0:25 / /proc/sys/fs/binfmt_misc rw,relatime shared:12 - autofs systemd-1 rw,fd=29,pgrp=1,timeout=0,minproto=5,maxproto=5,direct
";

    fn h(mountpoint: &str, root: &str) -> Hierarchy {
        Hierarchy {
            mountpoint: mountpoint.into(),
            root: root.into(),
        }
    }

    #[test]
    fn hybrid_layout_uses_v1_controllers_and_joins_unified() {
        let Layout::Hybrid {
            controllers,
            unified,
        } = layout_from_mountinfo(HYBRID).unwrap()
        else {
            panic!("expected hybrid");
        };
        assert_eq!(unified, h("/sys/fs/cgroup/unified", "/"));
        assert_eq!(controllers["cpu"], h("/sys/fs/cgroup/cpu", "/"));
        assert_eq!(controllers["cpuacct"], h("/sys/fs/cgroup/cpuacct", "/"));
        assert_eq!(controllers[NAME_SYSTEMD], h("/sys/fs/cgroup/systemd", "/"));
        assert!(!controllers.contains_key("hugetlb"));
        assert_eq!(controllers.len(), 9);
    }

    #[test]
    fn v1_layout_handles_comounts_roots_and_first_mount_wins() {
        let Layout::V1 { controllers } = layout_from_mountinfo(V1).unwrap() else {
            panic!("expected v1");
        };
        assert_eq!(controllers["cpu"], h("/sys/fs/cgroup/cpu,cpuacct", "/"));
        assert_eq!(controllers["cpuacct"], h("/sys/fs/cgroup/cpu,cpuacct", "/"));
        assert_eq!(
            controllers["net_prio"],
            h("/sys/fs/cgroup/net_cls,net_prio", "/")
        );
        assert_eq!(
            controllers["freezer"],
            h("/sys/fs/cgroup/freezer", "/docker/abc")
        );
        // The second memory mount (escaped space) does not replace the first.
        assert_eq!(controllers["memory"], h("/sys/fs/cgroup/memory", "/"));
        // Options that are not controllers are not keys.
        assert!(!controllers.contains_key("rw"));
        assert!(!controllers.contains_key("xattr"));
    }

    #[test]
    fn v2_layout() {
        assert_eq!(
            layout_from_mountinfo(V2).unwrap(),
            Layout::Unified {
                unified: h("/sys/fs/cgroup", "/")
            }
        );
    }

    #[test]
    fn no_cgroup_mount_is_an_error() {
        let text = "22 28 0:20 / /sys rw,nosuid - sysfs sysfs rw\n";
        assert!(matches!(
            layout_from_mountinfo(text),
            Err(CgroupError::NoCgroupMount)
        ));
    }

    #[test]
    fn malformed_mountinfo_is_an_error() {
        assert!(matches!(
            layout_from_mountinfo("22 28 0:20 / /sys rw sysfs sysfs rw\n"),
            Err(CgroupError::Parse { .. })
        ));
        assert!(matches!(
            layout_from_mountinfo("22 28 - cgroup2\n"),
            Err(CgroupError::Parse { .. })
        ));
    }

    #[test]
    fn octal_escapes_are_decoded() {
        assert_eq!(unescape_octal(r"/a\040b\011c\134d"), "/a b\tc\\d");
        assert_eq!(unescape_octal(r"/tail\04"), r"/tail\04");
        let mounts = parse_cgroup_mounts(V1).unwrap();
        assert_eq!(mounts.last().unwrap().mountpoint, Path::new("/mnt/again x"));
    }

    #[test]
    fn proc_cgroup_parsing() {
        let text = "\
9:name=systemd:/
4:memory:/user.slice/s1
2:cpu,cpuacct:/a:b
0::/user.slice
";
        let own = parse_proc_cgroup(text).unwrap();
        assert_eq!(own.v1["memory"], "/user.slice/s1");
        assert_eq!(own.v1["cpu"], "/a:b");
        assert_eq!(own.v1["cpuacct"], "/a:b");
        assert_eq!(own.v1[NAME_SYSTEMD], "/");
        assert_eq!(own.unified.as_deref(), Some("/user.slice"));
        assert!(parse_proc_cgroup("garbage\n").is_err());
    }
}
