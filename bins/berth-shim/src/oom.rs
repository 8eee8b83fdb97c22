//! OOM-kill detection from the container's memory cgroup.
//!
//! At create, while init is alive, `/proc/<init>/cgroup` names its memory
//! cgroup and `/proc/self/mountinfo` where that hierarchy is mounted. When
//! init exits the shim reads the cgroup's `oom_kill` counter: the
//! `memory.oom_control` line on cgroup v1 (kernel 4.13+), `memory.events`
//! on cgroup v2. The cgroup still exists then: the runtime removes it at
//! `delete`.

use std::path::{Path, PathBuf};

/// The file holding a memory cgroup's `oom_kill` counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OomWatch {
    counter_file: PathBuf,
}

impl OomWatch {
    /// The watch for process `pid`'s memory cgroup; `None` when it has none
    /// the shim can see (no memory controller, no mount).
    pub fn for_pid(pid: i32) -> Option<OomWatch> {
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let counter_file = counter_file(&cgroup, &mountinfo)?;
        counter_file.exists().then_some(OomWatch { counter_file })
    }

    /// Whether the cgroup recorded an OOM kill.
    pub fn oom_killed(&self) -> bool {
        std::fs::read_to_string(&self.counter_file)
            .ok()
            .and_then(|t| oom_kill_count(&t))
            .is_some_and(|n| n > 0)
    }
}

/// Where the `oom_kill` counter of the memory cgroup in `cgroup`
/// (`/proc/<pid>/cgroup`) lives, given the mounts in `mountinfo`.
fn counter_file(cgroup: &str, mountinfo: &str) -> Option<PathBuf> {
    let mut v2_path = None;
    for line in cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(hier), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if ctrls.split(',').any(|c| c == "memory") {
            let (mountpoint, root) = find_mount(mountinfo, |fstype, opts| {
                fstype == "cgroup" && opts.split(',').any(|o| o == "memory")
            })?;
            return Some(join_cgroup(&mountpoint, &root, path).join("memory.oom_control"));
        }
        if hier == "0" && ctrls.is_empty() {
            v2_path = Some(path);
        }
    }
    let path = v2_path?;
    let (mountpoint, root) = find_mount(mountinfo, |fstype, _| fstype == "cgroup2")?;
    Some(join_cgroup(&mountpoint, &root, path).join("memory.events"))
}

/// The mount point and mount root of the first mount matching `want(fstype,
/// super options)` (proc(5), /proc/pid/mountinfo).
fn find_mount(mountinfo: &str, want: impl Fn(&str, &str) -> bool) -> Option<(PathBuf, String)> {
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        if want(post[0], post[2]) {
            return Some((PathBuf::from(unescape(pre[4])), unescape(pre[3])));
        }
    }
    None
}

/// `mountpoint` + (`path` relative to the mount's `root`).
fn join_cgroup(mountpoint: &Path, root: &str, path: &str) -> PathBuf {
    let rel = path
        .strip_prefix(root.trim_end_matches('/'))
        .unwrap_or(path)
        .trim_start_matches('/');
    mountpoint.join(rel)
}

/// mountinfo escapes space, tab, newline and backslash as octal `\NNN`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).and_then(|d| {
            let v = d.iter().try_fold(0u32, |acc, &c| {
                (b'0'..=b'7')
                    .contains(&c)
                    .then(|| acc * 8 + u32::from(c - b'0'))
            })?;
            u8::try_from(v).ok()
        });
        match octal {
            Some(byte) if b[i] == b'\\' => {
                out.push(byte);
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of the `oom_kill N` line.
fn oom_kill_count(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
40 31 0:35 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,memory
41 31 0:36 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn v1_memory_hierarchy_wins_in_hybrid_layout() {
        let cgroup = "12:cpu,cpuacct:/berth/c1\n5:memory:/berth/c1\n0::/berth/c1\n";
        assert_eq!(
            counter_file(cgroup, MOUNTINFO),
            Some(PathBuf::from(
                "/sys/fs/cgroup/memory/berth/c1/memory.oom_control"
            ))
        );
    }

    #[test]
    fn unified_layout_uses_memory_events() {
        let mi = "32 31 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            counter_file("0::/system.slice/x\n", mi),
            Some(PathBuf::from("/sys/fs/cgroup/system.slice/x/memory.events"))
        );
    }

    #[test]
    fn mount_root_is_stripped_and_escapes_decoded() {
        let mi = "40 31 0:35 /outer /sys/fs/cg\\040mem rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            counter_file("5:memory:/outer/c1\n", mi),
            Some(PathBuf::from("/sys/fs/cg mem/c1/memory.oom_control"))
        );
    }

    #[test]
    fn counter_parsing() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(oom_kill_count(v1), Some(2));
        let v2 = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\noom_group_kill 0\n";
        assert_eq!(oom_kill_count(v2), Some(0));
        assert_eq!(oom_kill_count("oom 1\n"), None);
    }
}
