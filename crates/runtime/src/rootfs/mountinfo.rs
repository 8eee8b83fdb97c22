//! `/proc/self/mountinfo` and `/proc/self/cgroup`, parsed (proc(5)).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::RootfsError;

/// One line of `/proc/<pid>/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The path within the filesystem that is the root of this mount.
    pub root: PathBuf,
    /// Where the mount is, relative to the process's root.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub mount_options: String,
    /// Optional fields (`shared:1`, `master:2`, ...).
    pub optional: Vec<String>,
    /// Filesystem type (`proc`, `cgroup`, `cgroup2`).
    pub fstype: String,
    /// Per-superblock options (`rw,cpu,cpuacct`).
    pub super_options: String,
}

impl MountInfo {
    /// Whether the mount is in a shared peer group.
    pub fn is_shared(&self) -> bool {
        self.optional
            .iter()
            .any(|field| field.starts_with("shared:"))
    }

    /// Whether `option` is one of the per-mount options.
    pub fn has_mount_option(&self, option: &str) -> bool {
        self.mount_options.split(',').any(|o| o == option)
    }
}

/// Parses the whole text of a mountinfo file.
pub fn parse_mountinfo(text: &str) -> Result<Vec<MountInfo>, RootfsError> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Result<MountInfo, RootfsError> {
    let bad = || RootfsError::Parse {
        file: "mountinfo",
        line: line.to_owned(),
    };
    let (head, tail) = line.split_once(" - ").ok_or_else(bad)?;
    let mut head = head.split(' ');
    // mount ID, parent ID, major:minor
    for _ in 0..3 {
        head.next().ok_or_else(bad)?;
    }
    let root = unescape(head.next().ok_or_else(bad)?);
    let mount_point = unescape(head.next().ok_or_else(bad)?);
    let mount_options = head.next().ok_or_else(bad)?.to_owned();
    let optional = head.map(str::to_owned).collect();
    let mut tail = tail.split(' ');
    let fstype = tail.next().ok_or_else(bad)?.to_owned();
    let _source = tail.next().ok_or_else(bad)?;
    let super_options = tail.next().ok_or_else(bad)?.to_owned();
    Ok(MountInfo {
        root,
        mount_point,
        mount_options,
        optional,
        fstype,
        super_options,
    })
}

/// Undoes the kernel's octal escaping of space, tab, newline and backslash.
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    PathBuf::from(OsString::from_vec(out))
}

/// The mount that contains `path`: the one with the longest mount point that
/// is a prefix of it (later entries win a tie, they are mounted on top).
pub fn mount_containing<'a>(mounts: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    let mut best: Option<&MountInfo> = None;
    for mount in mounts {
        if path.starts_with(&mount.mount_point)
            && best.is_none_or(|b| {
                mount.mount_point.as_os_str().len() >= b.mount_point.as_os_str().len()
            })
        {
            best = Some(mount);
        }
    }
    best
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-ID:controller-list:cgroup-path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMembership {
    /// 0 for the cgroup v2 hierarchy.
    pub hierarchy: u32,
    /// The v1 controllers of the hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    /// The cgroup, relative to the root of the hierarchy (as the process's cgroup namespace sees it).
    pub path: PathBuf,
}

/// Parses the whole text of a `/proc/<pid>/cgroup` file.
pub fn parse_proc_cgroup(text: &str) -> Result<Vec<CgroupMembership>, RootfsError> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let bad = || RootfsError::Parse {
                file: "cgroup",
                line: line.to_owned(),
            };
            let mut fields = line.splitn(3, ':');
            let hierarchy = fields.next().and_then(|h| h.parse().ok()).ok_or_else(bad)?;
            let controllers = fields.next().ok_or_else(bad)?;
            let path = fields.next().ok_or_else(bad)?;
            Ok(CgroupMembership {
                hierarchy,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                path: PathBuf::from(path),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,relatime master:3 - cgroup cgroup rw,cpu,cpuacct
50 27 0:40 /sub /mnt/with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn parses_fields_and_escapes() {
        let mounts = parse_mountinfo(SAMPLE).expect("parse");
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[0].mount_point, Path::new("/proc"));
        assert_eq!(mounts[0].fstype, "proc");
        assert!(!mounts[0].is_shared());
        assert!(mounts[1].is_shared());
        assert_eq!(mounts[3].optional, vec!["master:3".to_owned()]);
        assert_eq!(mounts[3].super_options, "rw,cpu,cpuacct");
        assert!(mounts[3].has_mount_option("nosuid"));
        assert!(!mounts[3].has_mount_option("nodev"));
        assert_eq!(mounts[4].mount_point, Path::new("/mnt/with space"));
        assert_eq!(mounts[4].root, Path::new("/sub"));
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            parse_mountinfo("1 2 3\n"),
            Err(RootfsError::Parse {
                file: "mountinfo",
                ..
            })
        ));
    }

    #[test]
    fn containing_mount_is_longest_prefix() {
        let mounts = parse_mountinfo(SAMPLE).expect("parse");
        let m = mount_containing(&mounts, Path::new("/sys/fs/cgroup/cpu,cpuacct/x")).unwrap();
        assert_eq!(m.fstype, "cgroup");
        // "/sys/fs/cgroupfoo" is not under "/sys/fs/cgroup": components, not bytes.
        let m = mount_containing(&mounts, Path::new("/var/lib/x")).unwrap();
        assert_eq!(m.mount_point, Path::new("/"));
    }

    #[test]
    fn parses_proc_cgroup() {
        let text = "9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/d\n";
        let cgroups = parse_proc_cgroup(text).expect("parse");
        assert_eq!(cgroups.len(), 4);
        assert_eq!(cgroups[0].controllers, vec!["name=systemd".to_owned()]);
        assert_eq!(
            cgroups[2].controllers,
            vec!["cpu".to_owned(), "cpuacct".to_owned()]
        );
        assert_eq!(cgroups[3].hierarchy, 0);
        assert!(cgroups[3].controllers.is_empty());
        assert_eq!(cgroups[1].path, Path::new("/a/b"));
        assert!(parse_proc_cgroup("x:y\n").is_err());
    }
}
