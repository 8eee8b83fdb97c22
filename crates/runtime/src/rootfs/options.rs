//! OCI mount option strings, parsed into what mount(2) and mount_setattr(2) take.
//!
//! The OCI spec says the options of a mount are "fstab style" and that a runtime
//! SHOULD map them as mount(8) does. Every option is one of:
//! - a *flag* that sets or clears an `MS_*` bit (`ro`/`rw`, `nosuid`/`suid`, ...);
//! - a *propagation* change (`private`, `rslave`, ...), applied after the mount;
//! - a *recursive attribute* (`rro`, `rnosuid`, ...), applied to the whole mount
//!   tree with mount_setattr(2) and `AT_RECURSIVE`, as runc does;
//! - an *extension* of runc's (`tmpcopyup`);
//! - anything else, which is filesystem data (`size=64m`, `mode=755`, `newinstance`)
//!   and goes, comma-joined, into mount(2)'s `data` argument.
//!
//! As in runc, later options win: `ro,rw` is read-write, and a flag that an
//! option clears is remembered in [`MountOptions::cleared`] so that a bind remount
//! can tell "not asked for" from "asked to be off".

use std::path::Path;

use nix::mount::MsFlags;
use rustix::mount::MountAttrFlags;

use super::RootfsError;

/// `MS_NOSYMFOLLOW` (Linux 5.10), which nix's `MsFlags` does not name.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// Changes to the attributes of a whole mount tree, for mount_setattr(2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecursiveAttr {
    /// `MOUNT_ATTR_*` bits to set.
    pub set: u64,
    /// `MOUNT_ATTR_*` bits to clear.
    pub clear: u64,
}

/// The parsed options of one mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags for mount(2), including `MS_BIND` and `MS_REC` for `bind`/`rbind`.
    pub flags: MsFlags,
    /// `MS_*` flags an option explicitly turned off (`rw`, `suid`, `dev`, ...).
    pub cleared: MsFlags,
    /// Propagation changes (`MS_SHARED`, `MS_SLAVE | MS_REC`, ...), in order.
    pub propagation: Vec<MsFlags>,
    /// Recursive attribute changes, if any `r*` attribute option was given.
    pub recursive: Option<RecursiveAttr>,
    /// Filesystem-specific options, in order.
    pub data: Vec<String>,
    /// runc's `tmpcopyup`: copy what was under a tmpfs mount point into it.
    pub tmpcopyup: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            recursive: None,
            data: Vec::new(),
            tmpcopyup: false,
        }
    }
}

/// What one option string does.
enum Effect {
    Set(MsFlags),
    Clear(MsFlags),
    Propagation(MsFlags),
    RecursiveSet(MountAttrFlags),
    RecursiveClear(MountAttrFlags),
    CopyUp,
    Unsupported,
    Nothing,
}

fn effect(option: &str) -> Option<Effect> {
    use Effect::*;
    let atime = MountAttrFlags::MOUNT_ATTR_NOATIME;
    Some(match option {
        "defaults" => Nothing,
        "ro" => Set(MsFlags::MS_RDONLY),
        "rw" => Clear(MsFlags::MS_RDONLY),
        "nosuid" => Set(MsFlags::MS_NOSUID),
        "suid" => Clear(MsFlags::MS_NOSUID),
        "nodev" => Set(MsFlags::MS_NODEV),
        "dev" => Clear(MsFlags::MS_NODEV),
        "noexec" => Set(MsFlags::MS_NOEXEC),
        "exec" => Clear(MsFlags::MS_NOEXEC),
        "sync" => Set(MsFlags::MS_SYNCHRONOUS),
        "async" => Clear(MsFlags::MS_SYNCHRONOUS),
        "dirsync" => Set(MsFlags::MS_DIRSYNC),
        "remount" => Set(MsFlags::MS_REMOUNT),
        "mand" => Set(MsFlags::MS_MANDLOCK),
        "nomand" => Clear(MsFlags::MS_MANDLOCK),
        "noatime" => Set(MsFlags::MS_NOATIME),
        "atime" => Clear(MsFlags::MS_NOATIME),
        "nodiratime" => Set(MsFlags::MS_NODIRATIME),
        "diratime" => Clear(MsFlags::MS_NODIRATIME),
        "relatime" => Set(MsFlags::MS_RELATIME),
        "norelatime" => Clear(MsFlags::MS_RELATIME),
        "strictatime" => Set(MsFlags::MS_STRICTATIME),
        "nostrictatime" => Clear(MsFlags::MS_STRICTATIME),
        "lazytime" => Set(MsFlags::MS_LAZYTIME),
        "nolazytime" => Clear(MsFlags::MS_LAZYTIME),
        "nosymfollow" => Set(MS_NOSYMFOLLOW),
        "symfollow" => Clear(MS_NOSYMFOLLOW),
        "bind" => Set(MsFlags::MS_BIND),
        "rbind" => Set(MsFlags::MS_BIND | MsFlags::MS_REC),
        "private" => Propagation(MsFlags::MS_PRIVATE),
        "rprivate" => Propagation(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
        "shared" => Propagation(MsFlags::MS_SHARED),
        "rshared" => Propagation(MsFlags::MS_SHARED | MsFlags::MS_REC),
        "slave" => Propagation(MsFlags::MS_SLAVE),
        "rslave" => Propagation(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        "unbindable" => Propagation(MsFlags::MS_UNBINDABLE),
        "runbindable" => Propagation(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
        "rro" => RecursiveSet(MountAttrFlags::MOUNT_ATTR_RDONLY),
        "rrw" => RecursiveClear(MountAttrFlags::MOUNT_ATTR_RDONLY),
        "rnosuid" => RecursiveSet(MountAttrFlags::MOUNT_ATTR_NOSUID),
        "rsuid" => RecursiveClear(MountAttrFlags::MOUNT_ATTR_NOSUID),
        "rnodev" => RecursiveSet(MountAttrFlags::MOUNT_ATTR_NODEV),
        "rdev" => RecursiveClear(MountAttrFlags::MOUNT_ATTR_NODEV),
        "rnoexec" => RecursiveSet(MountAttrFlags::MOUNT_ATTR_NOEXEC),
        "rexec" => RecursiveClear(MountAttrFlags::MOUNT_ATTR_NOEXEC),
        "rnodiratime" => RecursiveSet(MountAttrFlags::MOUNT_ATTR_NODIRATIME),
        "rdiratime" => RecursiveClear(MountAttrFlags::MOUNT_ATTR_NODIRATIME),
        "rnoatime" => RecursiveSet(atime),
        "ratime" => RecursiveClear(atime),
        "rrelatime" => RecursiveSet(MountAttrFlags::MOUNT_ATTR_RELATIME),
        "rnorelatime" => RecursiveClear(MountAttrFlags::MOUNT_ATTR_RELATIME),
        "rstrictatime" => RecursiveSet(MountAttrFlags::MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => RecursiveClear(MountAttrFlags::MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => RecursiveSet(MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => RecursiveClear(MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW),
        "tmpcopyup" => CopyUp,
        // ID-mapped mounts need a user namespace fd from the parent process.
        "idmap" | "ridmap" => Unsupported,
        _ => return None,
    })
}

impl MountOptions {
    /// Parses the options of the mount at `destination` (named in errors only).
    pub fn parse<S: AsRef<str>>(destination: &Path, options: &[S]) -> Result<Self, RootfsError> {
        let mut parsed = MountOptions::default();
        for option in options {
            let option = option.as_ref();
            let Some(effect) = effect(option) else {
                parsed.data.push(option.to_owned());
                continue;
            };
            match effect {
                Effect::Set(flag) => {
                    parsed.flags |= flag;
                    parsed.cleared &= !flag;
                }
                Effect::Clear(flag) => {
                    parsed.flags &= !flag;
                    parsed.cleared |= flag;
                }
                Effect::Propagation(flag) => parsed.propagation.push(flag),
                Effect::RecursiveSet(attr) => {
                    let recursive = parsed.recursive.get_or_insert_with(Default::default);
                    let bits = u64::from(attr.bits());
                    recursive.set |= bits;
                    // mount_setattr(2): an access-time mode is set by clearing the
                    // whole MOUNT_ATTR__ATIME field and setting the one wanted.
                    let atime_field = u64::from(MountAttrFlags::MOUNT_ATTR__ATIME.bits());
                    if bits & atime_field == bits {
                        recursive.clear |= atime_field;
                    }
                }
                Effect::RecursiveClear(attr) => {
                    let recursive = parsed.recursive.get_or_insert_with(Default::default);
                    recursive.clear |= u64::from(attr.bits());
                }
                Effect::CopyUp => parsed.tmpcopyup = true,
                Effect::Unsupported => {
                    return Err(RootfsError::UnsupportedOption {
                        destination: destination.to_path_buf(),
                        option: option.to_owned(),
                    });
                }
                Effect::Nothing => {}
            }
        }
        Ok(parsed)
    }

    /// Whether `bind` or `rbind` was given.
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// Whether `rbind` was given (the bind takes the submounts along).
    pub fn is_recursive_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND | MsFlags::MS_REC)
    }

    /// The `data` argument of mount(2): the filesystem options, comma-joined.
    pub fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }

    /// Whether a bind mount needs a second, `MS_REMOUNT | MS_BIND` call: the first
    /// `MS_BIND` ignores every other flag (mount(2)). Clearing flags counts too,
    /// so `rw` on a read-only source is honoured.
    pub fn bind_needs_remount(&self) -> bool {
        let ignored = MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT;
        !(self.flags - ignored).is_empty() || !self.cleared.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> MountOptions {
        MountOptions::parse(Path::new("/x"), options).expect("parse")
    }

    #[test]
    fn flags_set_and_clear_in_order() {
        let o = parse(&["nosuid", "noexec", "nodev", "ro"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV | MsFlags::MS_RDONLY
        );
        assert!(o.cleared.is_empty());

        let o = parse(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(o.cleared, MsFlags::MS_RDONLY);

        let o = parse(&["rw", "ro"]);
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert!(o.cleared.is_empty(), "a later set undoes the clear");
    }

    #[test]
    fn every_flag_option_maps_to_its_bit() {
        let cases: &[(&str, MsFlags, bool)] = &[
            ("sync", MsFlags::MS_SYNCHRONOUS, true),
            ("async", MsFlags::MS_SYNCHRONOUS, false),
            ("dirsync", MsFlags::MS_DIRSYNC, true),
            ("remount", MsFlags::MS_REMOUNT, true),
            ("mand", MsFlags::MS_MANDLOCK, true),
            ("nomand", MsFlags::MS_MANDLOCK, false),
            ("noatime", MsFlags::MS_NOATIME, true),
            ("atime", MsFlags::MS_NOATIME, false),
            ("nodiratime", MsFlags::MS_NODIRATIME, true),
            ("diratime", MsFlags::MS_NODIRATIME, false),
            ("relatime", MsFlags::MS_RELATIME, true),
            ("norelatime", MsFlags::MS_RELATIME, false),
            ("strictatime", MsFlags::MS_STRICTATIME, true),
            ("nostrictatime", MsFlags::MS_STRICTATIME, false),
            ("suid", MsFlags::MS_NOSUID, false),
            ("dev", MsFlags::MS_NODEV, false),
            ("exec", MsFlags::MS_NOEXEC, false),
            ("nosymfollow", MS_NOSYMFOLLOW, true),
        ];
        for &(option, flag, set) in cases {
            let o = parse(&[option]);
            if set {
                assert_eq!(o.flags, flag, "{option}");
                assert!(o.cleared.is_empty(), "{option}");
            } else {
                assert!(o.flags.is_empty(), "{option}");
                assert_eq!(o.cleared, flag, "{option}");
            }
            assert!(o.data.is_empty(), "{option} is not data");
        }
    }

    #[test]
    fn bind_and_rbind() {
        let o = parse(&["bind"]);
        assert!(o.is_bind() && !o.is_recursive_bind());
        assert!(!o.bind_needs_remount());
        let o = parse(&["rbind", "ro"]);
        assert!(o.is_bind() && o.is_recursive_bind());
        assert!(o.bind_needs_remount());
        assert!(
            parse(&["rbind", "rw"]).bind_needs_remount(),
            "rw clears a flag"
        );
        assert!(!parse(&["rbind", "rprivate"]).bind_needs_remount());
    }

    #[test]
    fn propagation_keeps_order() {
        let o = parse(&["rbind", "rprivate", "shared", "runbindable", "slave"]);
        assert_eq!(
            o.propagation,
            vec![
                MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                MsFlags::MS_SHARED,
                MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
                MsFlags::MS_SLAVE,
            ]
        );
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
    }

    #[test]
    fn unknown_options_are_data() {
        let o = parse(&[
            "nosuid",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID);
        assert_eq!(
            o.data_string().as_deref(),
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5")
        );
        assert_eq!(parse(&["ro"]).data_string(), None);
    }

    #[test]
    fn recursive_attributes() {
        let o = parse(&["rbind", "rro", "rnosuid"]);
        let rdonly = u64::from(MountAttrFlags::MOUNT_ATTR_RDONLY.bits());
        let nosuid = u64::from(MountAttrFlags::MOUNT_ATTR_NOSUID.bits());
        assert_eq!(
            o.recursive,
            Some(RecursiveAttr {
                set: rdonly | nosuid,
                clear: 0
            })
        );
        assert!(
            o.flags == MsFlags::MS_BIND | MsFlags::MS_REC,
            "no plain flags"
        );

        let o = parse(&["rnoatime"]);
        let attr = o.recursive.expect("recursive");
        assert_eq!(
            attr.set,
            u64::from(MountAttrFlags::MOUNT_ATTR_NOATIME.bits())
        );
        assert_eq!(
            attr.clear,
            u64::from(MountAttrFlags::MOUNT_ATTR__ATIME.bits())
        );

        let o = parse(&["rrw"]);
        assert_eq!(
            o.recursive,
            Some(RecursiveAttr {
                set: 0,
                clear: rdonly
            })
        );
    }

    #[test]
    fn extensions_and_unsupported() {
        assert!(parse(&["tmpcopyup"]).tmpcopyup);
        assert_eq!(parse(&["defaults"]), MountOptions::default());
        let err = MountOptions::parse(Path::new("/data"), &["rbind", "idmap"]).unwrap_err();
        assert!(
            matches!(&err, RootfsError::UnsupportedOption { option, .. } if option == "idmap"),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "mount /data: option \"idmap\" is not supported"
        );
    }
}
