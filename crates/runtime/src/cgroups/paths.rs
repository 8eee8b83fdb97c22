//! Resolution of `linux.cgroupsPath` to one directory per hierarchy, with
//! the rules of runc 1.1's cgroupfs driver:
//!
//! - the path is first cleaned lexically; `..` can never climb above the
//!   start (runc's `CleanPath`), so a relative path stays relative;
//! - no path (or an empty one) means the container id, as a relative path;
//! - an absolute path is taken from the root of each hierarchy, i.e. joined
//!   to each mount point;
//! - on v1, a relative path is taken from the runtime's own cgroup in that
//!   hierarchy (`/proc/self/cgroup`, made relative to the mount's root);
//! - on v2, a relative path is taken from the *parent* of the runtime's own
//!   cgroup, because the own cgroup has processes in it and so cannot
//!   delegate controllers to a child ("no internal processes" rule,
//!   cgroup-v2.rst).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::detect::{Hierarchy, Layout, ProcCgroups};
use super::{CgroupConfig, CgroupError, CgroupVersion, UNIFIED_KEY};

/// Lexically cleans a cgroup path like runc's `CleanPath`: `.` and `..` are
/// resolved as if the path were rooted, so the result never starts with `..`.
/// An absolute path stays absolute, a relative one stays relative (`.` when
/// nothing is left), and an empty one stays empty.
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (path.starts_with('/'), joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Resolves the cgroup directories of a container in `layout`.
pub fn resolve(
    layout: &Layout,
    own: &ProcCgroups,
    cgroups_path: Option<&str>,
    id: &str,
) -> Result<CgroupConfig, CgroupError> {
    let inner = match cgroups_path.filter(|p| !p.is_empty()) {
        Some(p) => clean_path(p),
        None => clean_path(id),
    };
    if inner.is_empty() {
        return Err(CgroupError::EmptyCgroupPath);
    }
    let absolute = inner.starts_with('/');

    let mut paths = BTreeMap::new();
    let mut mountpoints = BTreeMap::new();
    let mut add = |key: &str, hier: &Hierarchy, path: PathBuf| -> Result<(), CgroupError> {
        if path == hier.mountpoint {
            return Err(CgroupError::RootCgroup {
                path: inner.clone(),
                mountpoint: hier.mountpoint.clone(),
            });
        }
        paths.insert(key.to_owned(), path);
        mountpoints.insert(key.to_owned(), hier.mountpoint.clone());
        Ok(())
    };
    let mut has_devices = false;

    let version = match layout {
        Layout::V1 { controllers } | Layout::Hybrid { controllers, .. } => {
            for (key, hier) in controllers {
                let base = if absolute {
                    hier.mountpoint.clone()
                } else {
                    match own.v1.get(key) {
                        Some(cg) => below(hier, key, cg)?,
                        // runc skips a controller the runtime is not in,
                        // except devices: without it the container would
                        // reach every device node (fs/paths.go initPaths).
                        None if key == "devices" => {
                            return Err(CgroupError::OwnCgroupUnknown {
                                controller: key.clone(),
                            });
                        }
                        None => continue,
                    }
                };
                add(key, hier, join_inner(&base, &inner))?;
                has_devices |= key == "devices";
            }
            if !has_devices {
                return Err(CgroupError::ControllerNotMounted {
                    controller: "devices".to_owned(),
                });
            }
            if let Layout::Hybrid { unified, .. } = layout {
                let base = if absolute {
                    Some(unified.mountpoint.clone())
                } else {
                    own.unified
                        .as_deref()
                        .map(|cg| below(unified, UNIFIED_KEY, cg))
                        .transpose()?
                };
                // Like runc, the unified hierarchy of a hybrid host is only
                // joined; a runtime outside it simply does not join.
                if let Some(base) = base {
                    add(UNIFIED_KEY, unified, join_inner(&base, &inner))?;
                }
            }
            CgroupVersion::V1
        }
        Layout::Unified { unified } => {
            let base = if absolute {
                unified.mountpoint.clone()
            } else {
                let own_path =
                    own.unified
                        .as_deref()
                        .ok_or_else(|| CgroupError::OwnCgroupUnknown {
                            controller: UNIFIED_KEY.to_owned(),
                        })?;
                let parent = Path::new(own_path)
                    .parent()
                    .unwrap_or(Path::new("/"))
                    .to_string_lossy()
                    .into_owned();
                below(unified, UNIFIED_KEY, &parent)?
            };
            add(UNIFIED_KEY, unified, join_inner(&base, &inner))?;
            CgroupVersion::V2
        }
    };
    Ok(CgroupConfig {
        version,
        paths,
        mountpoints,
    })
}

/// The directory of cgroup `cgroup` (a path inside the hierarchy) under the
/// mount of `hier`, whose mount shows the hierarchy from `hier.root`.
fn below(hier: &Hierarchy, key: &str, cgroup: &str) -> Result<PathBuf, CgroupError> {
    // A mount of a sub-cgroup (a container without a cgroup namespace) shows
    // /proc/self/cgroup paths of the host; they are relative to its root.
    let rel = Path::new(cgroup).strip_prefix(&hier.root).map_err(|_| {
        CgroupError::OwnCgroupOutsideMount {
            controller: key.to_owned(),
            cgroup: cgroup.to_owned(),
            root: hier.root.clone(),
        }
    })?;
    if rel.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(CgroupError::OwnCgroupOutsideMount {
            controller: key.to_owned(),
            cgroup: cgroup.to_owned(),
            root: hier.root.clone(),
        });
    }
    Ok(hier.mountpoint.join(rel))
}

/// Joins a cleaned inner path (absolute or relative) below `base`.
fn join_inner(base: &Path, inner: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for part in inner.split('/').filter(|p| !p.is_empty() && *p != ".") {
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::detect::{layout_from_mountinfo, parse_proc_cgroup};

    #[test]
    fn clean_path_matches_runc() {
        assert_eq!(clean_path(""), "");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("/docker/abc"), "/docker/abc");
        assert_eq!(clean_path("//docker//./abc/"), "/docker/abc");
        assert_eq!(clean_path("/../../etc"), "/etc");
        assert_eq!(clean_path("a/../../b"), "b");
        assert_eq!(clean_path("../.."), ".");
        assert_eq!(clean_path("."), ".");
        assert_eq!(clean_path("x/y/.."), "x");
    }

    const HYBRID: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const OWN_HYBRID: &str = "\
9:name=systemd:/
4:memory:/user.slice/s1
3:devices:/
2:cpuacct:/
1:cpu:/
0::/
";

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn absolute_path_is_under_each_mountpoint() {
        let layout = layout_from_mountinfo(HYBRID).unwrap();
        let own = parse_proc_cgroup(OWN_HYBRID).unwrap();
        let c = resolve(&layout, &own, Some("/docker/../docker/abc"), "abc").unwrap();
        assert_eq!(c.version, CgroupVersion::V1);
        assert_eq!(c.paths["memory"], p("/sys/fs/cgroup/memory/docker/abc"));
        assert_eq!(c.paths["cpu"], p("/sys/fs/cgroup/cpu/docker/abc"));
        assert_eq!(
            c.paths["name=systemd"],
            p("/sys/fs/cgroup/systemd/docker/abc")
        );
        assert_eq!(c.paths[""], p("/sys/fs/cgroup/unified/docker/abc"));
        assert_eq!(c.mountpoints["memory"], p("/sys/fs/cgroup/memory"));
        assert_eq!(c.paths.len(), 6);
    }

    #[test]
    fn default_and_relative_paths_follow_own_cgroup_on_v1() {
        let layout = layout_from_mountinfo(HYBRID).unwrap();
        let own = parse_proc_cgroup(OWN_HYBRID).unwrap();
        for path in [None, Some(""), Some("abc"), Some("../abc")] {
            let c = resolve(&layout, &own, path, "abc").unwrap();
            assert_eq!(
                c.paths["memory"],
                p("/sys/fs/cgroup/memory/user.slice/s1/abc"),
                "{path:?}"
            );
            assert_eq!(c.paths["cpu"], p("/sys/fs/cgroup/cpu/abc"));
        }
    }

    #[test]
    fn relative_path_on_v2_uses_parent_of_own_cgroup() {
        let layout =
            layout_from_mountinfo("24 18 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n").unwrap();
        let own = parse_proc_cgroup("0::/user.slice/session-1.scope\n").unwrap();
        let c = resolve(&layout, &own, None, "ctr").unwrap();
        assert_eq!(c.version, CgroupVersion::V2);
        assert_eq!(c.paths[""], p("/sys/fs/cgroup/user.slice/ctr"));
        let c = resolve(&layout, &own, Some("/a/b"), "ctr").unwrap();
        assert_eq!(c.paths[""], p("/sys/fs/cgroup/a/b"));
        let own_root = parse_proc_cgroup("0::/\n").unwrap();
        let c = resolve(&layout, &own_root, Some("x"), "ctr").unwrap();
        assert_eq!(c.paths[""], p("/sys/fs/cgroup/x"));
    }

    #[test]
    fn mount_root_is_stripped_from_own_cgroup() {
        let text = "36 31 0:33 /docker/c1 /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n";
        let layout = layout_from_mountinfo(text).unwrap();
        let own = parse_proc_cgroup("3:devices:/docker/c1/sub\n").unwrap();
        let c = resolve(&layout, &own, Some("n"), "x").unwrap();
        assert_eq!(c.paths["devices"], p("/sys/fs/cgroup/devices/sub/n"));
        let outside = parse_proc_cgroup("3:devices:/elsewhere\n").unwrap();
        assert!(matches!(
            resolve(&layout, &outside, Some("n"), "x"),
            Err(CgroupError::OwnCgroupOutsideMount { .. })
        ));
    }

    #[test]
    fn root_and_missing_devices_are_rejected() {
        let layout = layout_from_mountinfo(HYBRID).unwrap();
        let own = parse_proc_cgroup(OWN_HYBRID).unwrap();
        assert!(matches!(
            resolve(&layout, &own, Some("/.."), "x"),
            Err(CgroupError::RootCgroup { .. })
        ));
        let no_devices = layout_from_mountinfo(
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        )
        .unwrap();
        assert!(matches!(
            resolve(&no_devices, &own, Some("/x"), "x"),
            Err(CgroupError::ControllerNotMounted { .. })
        ));
        assert!(matches!(
            resolve(&layout, &own, None, ""),
            Err(CgroupError::EmptyCgroupPath)
        ));
    }
}
