//! Host-side views of cgroups, for asserting what a runtime did.
//!
//! Works on cgroup v1 (one hierarchy per controller, possibly co-mounted),
//! v2, and hybrids of the two: the mount points come from
//! `/proc/self/mountinfo`, a process's place in each hierarchy from
//! `/proc/<pid>/cgroup` (see cgroups(7)).

use std::fs;
use std::path::{Path, PathBuf};

/// One cgroup hierarchy mounted in this mount namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup path shown as the mount root (field 4 of mountinfo).
    pub root: String,
    /// The v1 controllers (and `name=` options) of the hierarchy; empty for
    /// cgroup v2.
    pub controllers: Vec<String>,
}

impl Hierarchy {
    /// True for the cgroup v2 hierarchy.
    pub fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }

    /// The host directory of the cgroup at `cgroup_path` (as shown by
    /// `/proc/<pid>/cgroup`) in this hierarchy.
    pub fn dir_of(&self, cgroup_path: &str) -> PathBuf {
        let rel = cgroup_path
            .strip_prefix(self.root.trim_end_matches('/'))
            .unwrap_or(cgroup_path);
        self.mount_point.join(rel.trim_start_matches('/'))
    }
}

/// The cgroup hierarchies mounted in this process's mount namespace, first
/// mount of each hierarchy only.
pub fn hierarchies() -> Vec<Hierarchy> {
    let text = fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in text.lines() {
        // Format (proc(5)): id parent major:minor root mount-point options
        // [optional fields...] - fstype source super-options
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 5 || right.len() < 3 {
            continue;
        }
        let controllers = match right[0] {
            "cgroup" => right[2]
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent"))
                .filter(|o| {
                    !matches!(
                        *o,
                        "clone_children" | "noprefix" | "xattr" | "cpuset_v2_mode"
                    )
                })
                .map(str::to_owned)
                .collect(),
            "cgroup2" => Vec::new(),
            _ => continue,
        };
        let h = Hierarchy {
            mount_point: PathBuf::from(unescape(left[4])),
            root: unescape(left[3]),
            controllers,
        };
        if !out.iter().any(|o| o.controllers == h.controllers) {
            out.push(h);
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = std::str::from_utf8(&b[i + 1..i + 4]).ok();
            if let Some(n) = digits.and_then(|d| u8::from_str_radix(d, 8).ok()) {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup of `pid` in each hierarchy: `(controllers, path)` per line of
/// `/proc/<pid>/cgroup`; controllers is empty for the v2 line.
pub fn membership(pid: i32) -> Vec<(Vec<String>, String)> {
    let path = format!("/proc/{pid}/cgroup");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            let ctrls = parts.next()?;
            let path = parts.next()?;
            let ctrls = ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            Some((ctrls, path.to_owned()))
        })
        .collect()
}

/// The host directory of `pid`'s cgroup for `controller` (e.g. "memory",
/// "pids", "cpu"). On v1 that is the hierarchy carrying the controller; when
/// no v1 hierarchy carries it, the v2 hierarchy if the controller is enabled
/// there. None when the controller is not mounted.
pub fn dir_for(pid: i32, controller: &str) -> Option<PathBuf> {
    let member = membership(pid);
    let hs = hierarchies();
    if let Some(h) = hs
        .iter()
        .find(|h| h.controllers.iter().any(|c| c == controller))
    {
        let (_, path) = member.iter().find(|(c, _)| *c == h.controllers)?;
        return Some(h.dir_of(path));
    }
    let v2 = hs.iter().find(|h| h.is_v2())?;
    let (_, path) = member.iter().find(|(c, _)| c.is_empty())?;
    let dir = v2.dir_of(path);
    let enabled = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    enabled
        .split_whitespace()
        .any(|c| c == controller)
        .then_some(dir)
}

/// Every existing cgroup directory whose last component is `name`, looked
/// for in each hierarchy at its root and under this process's own cgroup
/// (where a runtime puts a relative or default cgroup path). Used to check
/// that a failed or deleted container left no cgroup behind.
pub fn dirs_named(name: &str) -> Vec<PathBuf> {
    let own = membership(std::process::id() as i32);
    let mut found = Vec::new();
    for h in hierarchies() {
        let mut candidates = vec![h.mount_point.join(name)];
        if let Some((_, path)) = own.iter().find(|(c, _)| *c == h.controllers) {
            candidates.push(h.dir_of(path).join(name));
        }
        for c in candidates {
            if c.is_dir() && !found.contains(&c) {
                found.push(c);
            }
        }
    }
    found
}

/// Reads a cgroup file, trimmed.
pub fn read(dir: &Path, file: &str) -> String {
    let path = dir.join(file);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_octal() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn own_cgroup_dirs_exist() {
        let me = std::process::id() as i32;
        let hs = hierarchies();
        assert!(!hs.is_empty(), "no cgroup hierarchy mounted");
        for (ctrls, path) in membership(me) {
            if let Some(h) = hs.iter().find(|h| h.controllers == ctrls) {
                assert!(h.dir_of(&path).is_dir(), "{:?} {path}", h);
            }
        }
    }

    #[test]
    fn dir_of_strips_mount_root() {
        let h = Hierarchy {
            mount_point: PathBuf::from("/sys/fs/cgroup/memory"),
            root: "/a".into(),
            controllers: vec!["memory".into()],
        };
        assert_eq!(h.dir_of("/a/b"), PathBuf::from("/sys/fs/cgroup/memory/b"));
        let h = Hierarchy {
            root: "/".into(),
            ..h
        };
        assert_eq!(h.dir_of("/a/b"), PathBuf::from("/sys/fs/cgroup/memory/a/b"));
    }
}
