//! The `local` volume driver's options and mounts.
//!
//! A local volume is a directory; with options it is a mount on that
//! directory, like mount(8) would make it: `type` (the filesystem type,
//! `tmpfs`, `none` for a bind, `nfs`, ...), `device` (what to mount) and
//! `o` (mount options: flags such as `bind`, `ro`, `nosuid` and
//! filesystem data such as `size=10m`). `size` asks for a quota, which
//! berth (like dockerd without project quotas) does not have.
//!
//! The mount is made when the first container using the volume starts
//! and undone when the last one stops (the service counts users).

use std::collections::BTreeMap;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use rustix::fs::{AtFlags, CWD, StatxAttributes, StatxFlags, statx};

use super::Error;

/// The options the local driver knows.
const VALID: [&str; 4] = ["type", "o", "device", "size"];

/// An option and the options it needs (docker's `mandatoryOpts`), in the
/// order they are checked.
const NEEDS: [(&str, &[&str]); 3] = [
    ("device", &["type"]),
    ("type", &["device"]),
    ("o", &["device", "type"]),
];

/// Checks the driver options of a new volume `name` (docker's wording).
pub fn validate(name: &str, opts: &BTreeMap<String, String>) -> Result<(), Error> {
    if let Some(bad) = opts.keys().find(|k| !VALID.contains(&k.as_str())) {
        return Err(Error::InvalidOption {
            name: name.to_string(),
            option: bad.clone(),
        });
    }
    for (opt, needs) in NEEDS {
        if !opts.contains_key(opt) {
            continue;
        }
        if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
            return Err(Error::MissingOption {
                name: name.to_string(),
                option: missing,
            });
        }
    }
    if let Some(size) = opts.get("size") {
        let bytes = super::ram_in_bytes(size).ok_or_else(|| Error::InvalidSize {
            name: name.to_string(),
            value: size.clone(),
        })?;
        if bytes > 0 {
            return Err(Error::NoQuota {
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

/// Whether a volume with these options is a mount (a `type` or `device`).
pub fn needs_mount(opts: &BTreeMap<String, String>) -> bool {
    opts.get("type").is_some_and(|t| !t.is_empty())
        || opts.get("device").is_some_and(|d| !d.is_empty())
}

/// mount(8)'s flag options; everything else in `o` is filesystem data.
fn flag(option: &str) -> Option<(bool, MsFlags)> {
    // (clear instead of set, flag)
    Some(match option {
        "defaults" => (false, MsFlags::empty()),
        "ro" => (false, MsFlags::MS_RDONLY),
        "rw" => (true, MsFlags::MS_RDONLY),
        "suid" => (true, MsFlags::MS_NOSUID),
        "nosuid" => (false, MsFlags::MS_NOSUID),
        "dev" => (true, MsFlags::MS_NODEV),
        "nodev" => (false, MsFlags::MS_NODEV),
        "exec" => (true, MsFlags::MS_NOEXEC),
        "noexec" => (false, MsFlags::MS_NOEXEC),
        "sync" => (false, MsFlags::MS_SYNCHRONOUS),
        "async" => (true, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (false, MsFlags::MS_DIRSYNC),
        "remount" => (false, MsFlags::MS_REMOUNT),
        "mand" => (false, MsFlags::MS_MANDLOCK),
        "nomand" => (true, MsFlags::MS_MANDLOCK),
        "atime" => (true, MsFlags::MS_NOATIME),
        "noatime" => (false, MsFlags::MS_NOATIME),
        "diratime" => (true, MsFlags::MS_NODIRATIME),
        "nodiratime" => (false, MsFlags::MS_NODIRATIME),
        "bind" => (false, MsFlags::MS_BIND),
        "rbind" => (false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
        "unbindable" => (false, MsFlags::MS_UNBINDABLE),
        "runbindable" => (false, MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
        "private" => (false, MsFlags::MS_PRIVATE),
        "rprivate" => (false, MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
        "shared" => (false, MsFlags::MS_SHARED),
        "rshared" => (false, MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
        "slave" => (false, MsFlags::MS_SLAVE),
        "rslave" => (false, MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
        "relatime" => (false, MsFlags::MS_RELATIME),
        "norelatime" => (true, MsFlags::MS_RELATIME),
        "strictatime" => (false, MsFlags::MS_STRICTATIME),
        "nostrictatime" => (true, MsFlags::MS_STRICTATIME),
        _ => return None,
    })
}

const PROPAGATION: MsFlags = MsFlags::MS_SHARED
    .union(MsFlags::MS_PRIVATE)
    .union(MsFlags::MS_SLAVE)
    .union(MsFlags::MS_UNBINDABLE);

/// The mount(2) calls of a volume's options, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    pub device: String,
    pub fstype: String,
    /// Flags of the first mount(2) (no propagation flags).
    pub flags: MsFlags,
    pub data: String,
    /// A second mount(2) changing the propagation, when asked for.
    pub propagation: MsFlags,
    /// A read-only bind needs a remount (mount(2): MS_RDONLY is ignored
    /// when a bind is made).
    pub remount_ro: bool,
}

/// Splits `o` into flags and data (moby's `mount.parseOptions`).
pub fn plan(opts: &BTreeMap<String, String>) -> MountPlan {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for option in opts.get("o").map(String::as_str).unwrap_or("").split(',') {
        if option.is_empty() {
            continue;
        }
        match flag(option) {
            Some((true, f)) => flags.remove(f),
            Some((false, f)) => flags.insert(f),
            None => data.push(option),
        }
    }
    let propagation = flags.intersection(PROPAGATION.union(MsFlags::MS_REC));
    let first = flags.difference(PROPAGATION);
    // MS_REC matters to binds and to propagation both.
    let first = if first.contains(MsFlags::MS_BIND) {
        first
    } else {
        first.difference(MsFlags::MS_REC)
    };
    MountPlan {
        device: opts.get("device").cloned().unwrap_or_default(),
        fstype: opts.get("type").cloned().unwrap_or_default(),
        remount_ro: first.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY),
        flags: first,
        data: data.join(","),
        propagation: if propagation.intersects(PROPAGATION) {
            propagation
        } else {
            MsFlags::empty()
        },
    }
}

/// Whether `path` is the root of a mount (statx(2) `STATX_ATTR_MOUNT_ROOT`).
pub fn is_mounted(path: &Path) -> bool {
    statx(
        CWD,
        path,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::BASIC_STATS,
    )
    .is_ok_and(|st| {
        st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT)
            && st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT)
    })
}

/// Mounts volume `name`'s options on its data directory `target`.
pub fn mount(name: &str, opts: &BTreeMap<String, String>, target: &Path) -> Result<(), Error> {
    let p = plan(opts);
    let fail = |step: &'static str| {
        move |source: nix::Error| Error::Mount {
            name: name.to_string(),
            step,
            source: source.into(),
        }
    };
    let fstype = (!p.fstype.is_empty()).then_some(p.fstype.as_str());
    let data = (!p.data.is_empty()).then_some(p.data.as_str());
    nix::mount::mount(Some(p.device.as_str()), target, fstype, p.flags, data)
        .map_err(fail("mount"))?;
    let mut after = Ok(());
    if !p.propagation.is_empty() {
        after = nix::mount::mount(
            None::<&str>,
            target,
            None::<&str>,
            p.propagation,
            None::<&str>,
        )
        .map_err(fail("set propagation of"));
    }
    if after.is_ok() && p.remount_ro {
        after = nix::mount::mount(
            None::<&str>,
            target,
            None::<&str>,
            p.flags | MsFlags::MS_REMOUNT,
            None::<&str>,
        )
        .map_err(fail("remount read-only"));
    }
    if let Err(e) = after {
        // A half-set-up mount (a bind left writable) must not stay.
        return match unmount(name, target) {
            Ok(()) => Err(e),
            Err(cleanup) => Err(Error::WithCleanup {
                primary: Box::new(e),
                cleanup: Box::new(cleanup),
            }),
        };
    }
    Ok(())
}

/// Unmounts whatever is mounted on `target` (lazily: a process still
/// holding a file there must not make a stop fail).
pub fn unmount(name: &str, target: &Path) -> Result<(), Error> {
    for _ in 0..16 {
        if !is_mounted(target) {
            return Ok(());
        }
        match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(nix::Error::EINVAL | nix::Error::ENOENT) => return Ok(()),
            Err(source) => {
                return Err(Error::Mount {
                    name: name.to_string(),
                    step: "unmount",
                    source: source.into(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_checked_like_docker() {
        let ok = opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")]);
        validate("v", &ok).unwrap();
        validate("v", &BTreeMap::new()).unwrap();
        for (given, want) in [
            (opts(&[("foo", "bar")]), "create v: invalid option: \"foo\""),
            (
                opts(&[("type", "tmpfs")]),
                "create v: missing required option: \"device\"",
            ),
            (
                opts(&[("o", "size=1m")]),
                "create v: missing required option: \"device\"",
            ),
            (
                opts(&[("device", "tmpfs")]),
                "create v: missing required option: \"type\"",
            ),
            (
                opts(&[("size", "10m")]),
                "create v: quota size requested but no quota support",
            ),
            (opts(&[("size", "10q")]), "create v: invalid size: '10q'"),
        ] {
            let e = validate("v", &given).unwrap_err();
            assert_eq!(e.to_string(), want);
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        }
        validate("v", &opts(&[("size", "0")])).unwrap();
    }

    #[test]
    fn mount_options_split_into_flags_and_data() {
        let p = plan(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=10m,uid=1000,nosuid,noexec"),
        ]));
        assert_eq!(p.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(p.data, "size=10m,uid=1000");
        assert!(p.propagation.is_empty());
        assert!(!p.remount_ro);
        let p = plan(&opts(&[
            ("type", "none"),
            ("device", "/srv"),
            ("o", "bind,ro,rshared"),
        ]));
        // moby keeps MS_REC of `rshared` in the first call: a recursive bind.
        assert_eq!(
            p.flags,
            MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_REC
        );
        assert_eq!(p.propagation, MsFlags::MS_SHARED | MsFlags::MS_REC);
        assert!(p.remount_ro);
        assert_eq!(p.data, "");
        let p = plan(&opts(&[
            ("type", "none"),
            ("device", "/srv"),
            ("o", "rbind"),
        ]));
        assert_eq!(p.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert!(needs_mount(&opts(&[("type", "tmpfs")])));
        assert!(!needs_mount(&BTreeMap::new()));
    }

    #[test]
    fn tmpfs_volume_mounts_and_unmounts() {
        if !testkit::require_root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let o = opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")]);
        mount("v", &o, tmp.path()).unwrap();
        assert!(is_mounted(tmp.path()));
        let st = rustix::fs::statfs(tmp.path()).unwrap();
        assert_eq!(st.f_type as i64, libc::TMPFS_MAGIC);
        assert_eq!(st.f_blocks as u64 * st.f_bsize as u64, 1 << 20);
        unmount("v", tmp.path()).unwrap();
        assert!(!is_mounted(tmp.path()));
        unmount("v", tmp.path()).unwrap();
    }
}
