//! The rootfs setup as a value: what [`prepare`](super::prepare) and
//! [`finalize`](super::finalize) will do, built from the spec without touching
//! the system, so that it can be checked (and unit-tested) before anything is
//! mounted.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Spec};

use super::RootfsError;
use super::options::MountOptions;

/// How a mount is performed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount of a host path (`bind`/`rbind` option, or type `bind`).
    Bind,
    /// procfs: its destination must be an ordinary directory (no symlinks).
    Proc,
    /// sysfs: its destination must be an ordinary directory (no symlinks).
    Sysfs,
    /// tmpfs: keeps the mode of the directory it covers, unless `mode=` says otherwise.
    Tmpfs,
    /// The container's view of the cgroup hierarchies (see `cgroup.rs`).
    Cgroup,
    /// Any other filesystem: mount(2) with the type and data as given.
    Other,
}

/// One entry of `mounts`, checked and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOp {
    /// How the mount is performed.
    pub kind: MountKind,
    /// The filesystem type for mount(2) (`bind` for bind mounts).
    pub fstype: String,
    /// Bind mounts: an absolute host path. Others: mount(2)'s source label.
    pub source: PathBuf,
    /// Absolute and lexically clean, inside the container.
    pub destination: PathBuf,
    /// Parsed options. For a deferred read-only mount `MS_RDONLY` is not in `flags`.
    pub options: MountOptions,
    /// Mounted read-write by `prepare` and made read-only by `finalize`: tmpfs
    /// mounts and `/dev` are filled (device nodes, nested mount points) first.
    pub deferred_readonly: bool,
}

/// The type of a device node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// `c` and `u`.
    Char,
    /// `b`.
    Block,
    /// `p`.
    Fifo,
}

/// A device node to create in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Absolute and lexically clean, inside the container.
    pub path: PathBuf,
    /// Node type.
    pub kind: DeviceKind,
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// Everything [`prepare`](super::prepare) does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsPlan {
    /// The root filesystem on the host (`root.path`, relative to the bundle).
    pub rootfs: PathBuf,
    /// Propagation given to `/` first (`linux.rootfsPropagation`, default `rslave`).
    pub root_propagation: MsFlags,
    /// `mounts`, in order.
    pub mounts: Vec<MountOp>,
    /// False when `/dev` is bind-mounted: then its nodes come from the source.
    pub setup_dev: bool,
    /// Default devices, then `linux.devices` (a spec entry replaces a default one).
    pub devices: Vec<DeviceNode>,
    /// The container has its own user namespace: mknod(2) is not allowed, device
    /// nodes are bind mounts of the host's.
    pub user_namespace: bool,
    /// The container has its own cgroup namespace.
    pub cgroup_namespace: bool,
}

/// Everything [`finalize`](super::finalize) does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalizePlan {
    /// `linux.sysctl` as (key, path under `/proc/sys`, value), sorted by key.
    pub sysctls: Vec<(String, PathBuf, String)>,
    /// `linux.readonlyPaths`, clean.
    pub readonly_paths: Vec<PathBuf>,
    /// `linux.maskedPaths`, clean.
    pub masked_paths: Vec<PathBuf>,
    /// Destinations of the deferred read-only mounts.
    pub readonly_mounts: Vec<PathBuf>,
    /// `root.readonly`.
    pub readonly_root: bool,
}

/// The devices every container gets (runc's default set), as
/// (name, major, minor); all are `0666 root:root` character devices.
const DEFAULT_DEVICES: [(&str, u32, u32); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Lexically cleans a container path: relative paths are taken from `/`, `.`
/// is dropped and `..` never goes above `/`. Symlinks are not looked at: that
/// is done inside the rootfs when the path is resolved.
pub fn clean_container_path(path: &Path) -> PathBuf {
    let mut clean = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(name) => clean.push(name),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    clean
}

/// The host path of the container's root filesystem: `root.path`, relative to
/// the bundle unless absolute.
pub fn rootfs_of(spec: &Spec, bundle: &Path) -> Result<PathBuf, RootfsError> {
    let root = spec.root().as_ref().ok_or(RootfsError::NoRoot)?;
    Ok(bundle.join(root.path()))
}

fn has_namespace(spec: &Spec, kind: LinuxNamespaceType) -> bool {
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    namespaces.is_some_and(|ns| ns.iter().any(|n| n.typ() == kind))
}

/// Parses `linux.rootfsPropagation`.
pub fn parse_propagation(value: &str) -> Result<MsFlags, RootfsError> {
    let rec = MsFlags::MS_REC;
    Ok(match value {
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return Err(RootfsError::InvalidPropagation(value.to_owned())),
    })
}

/// Files under `/proc` that may be mount destinations: the ones lxcfs emulates
/// (runc's list). Anything else under `/proc` could hide or redirect the
/// kernel's own files from the runtime's checks.
const PROC_MOUNT_ALLOWED: [&str; 10] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Refuses a mount destination (clean, or resolved inside the rootfs) inside
/// `/proc`, except procfs itself on `/proc` and the lxcfs files. A bind mount
/// onto `/proc` is checked again when its source is known.
pub fn check_proc_destination(
    destination: &Path,
    resolved: &Path,
    kind: MountKind,
) -> Result<(), RootfsError> {
    if !resolved.starts_with("/proc") {
        return Ok(());
    }
    let allowed = if resolved == Path::new("/proc") {
        matches!(kind, MountKind::Proc | MountKind::Bind)
    } else {
        PROC_MOUNT_ALLOWED.iter().any(|p| resolved == Path::new(p))
    };
    if allowed {
        Ok(())
    } else {
        Err(RootfsError::ProcDestination {
            destination: destination.to_path_buf(),
            resolved: resolved.to_path_buf(),
        })
    }
}

fn plan_mount(mount: &oci_spec::runtime::Mount, bundle: &Path) -> Result<MountOp, RootfsError> {
    let destination = clean_container_path(mount.destination());
    let invalid = |reason| RootfsError::InvalidMount {
        destination: destination.clone(),
        reason,
    };
    if mount.uid_mappings().is_some() || mount.gid_mappings().is_some() {
        return Err(RootfsError::UnsupportedOption {
            destination: destination.clone(),
            option: "uidMappings/gidMappings".to_owned(),
        });
    }
    let mut options =
        MountOptions::parse(&destination, mount.options().as_deref().unwrap_or_default())?;
    let fstype = mount.typ().clone().unwrap_or_default();
    let kind = if options.is_bind() || fstype == "bind" {
        MountKind::Bind
    } else {
        match fstype.as_str() {
            "" => return Err(invalid("a mount that is not a bind mount needs a type")),
            "proc" => MountKind::Proc,
            "sysfs" => MountKind::Sysfs,
            "tmpfs" => MountKind::Tmpfs,
            "cgroup" => MountKind::Cgroup,
            _ => MountKind::Other,
        }
    };
    let source = match (kind, mount.source()) {
        // runc takes a relative bind source from its working directory, the bundle.
        (MountKind::Bind, Some(source)) => bundle.join(source),
        (MountKind::Bind, None) => return Err(invalid("a bind mount needs a source")),
        (_, Some(source)) => source.clone(),
        (_, None) => PathBuf::from(&fstype),
    };
    let fstype = if kind == MountKind::Bind {
        options.flags |= MsFlags::MS_BIND;
        "bind".to_owned()
    } else {
        fstype
    };
    check_proc_destination(&destination, &destination, kind)?;
    let deferred_readonly = options.flags.contains(MsFlags::MS_RDONLY)
        && (kind == MountKind::Tmpfs
            || (kind != MountKind::Bind && destination == Path::new("/dev")));
    if deferred_readonly {
        options.flags.remove(MsFlags::MS_RDONLY);
    }
    Ok(MountOp {
        kind,
        fstype,
        source,
        destination,
        options,
        deferred_readonly,
    })
}

fn plan_mounts(spec: &Spec, bundle: &Path) -> Result<Vec<MountOp>, RootfsError> {
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    mounts.iter().map(|m| plan_mount(m, bundle)).collect()
}

fn plan_device(device: &oci_spec::runtime::LinuxDevice) -> Result<DeviceNode, RootfsError> {
    let path = device.path();
    let invalid = |reason| RootfsError::InvalidDevice {
        path: path.clone(),
        reason,
    };
    if !path.is_absolute() {
        return Err(invalid("the path must be absolute"));
    }
    let kind = match device.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
        LinuxDeviceType::B => DeviceKind::Block,
        LinuxDeviceType::P => DeviceKind::Fifo,
        LinuxDeviceType::A => return Err(invalid("type \"a\" is for cgroup rules, not nodes")),
    };
    let number = |n: i64| u32::try_from(n).map_err(|_| invalid("major/minor out of range"));
    Ok(DeviceNode {
        path: clean_container_path(path),
        kind,
        major: number(device.major())?,
        minor: number(device.minor())?,
        // The type bits come from `type`, whatever fileMode says.
        mode: device.file_mode().unwrap_or(0o666) & 0o7777,
        uid: device.uid().unwrap_or(0),
        gid: device.gid().unwrap_or(0),
    })
}

fn plan_devices(spec: &Spec) -> Result<Vec<DeviceNode>, RootfsError> {
    let spec_devices = spec.linux().as_ref().and_then(|l| l.devices().as_deref());
    let spec_devices = spec_devices
        .unwrap_or_default()
        .iter()
        .map(plan_device)
        .collect::<Result<Vec<_>, _>>()?;
    let mut devices: Vec<DeviceNode> = DEFAULT_DEVICES
        .iter()
        .filter(|(path, ..)| !spec_devices.iter().any(|d| d.path == Path::new(path)))
        .map(|&(path, major, minor)| DeviceNode {
            path: PathBuf::from(path),
            kind: DeviceKind::Char,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    devices.extend(spec_devices);
    // /dev/ptmx is a symlink into the container's devpts instance (see devices.rs).
    devices.retain(|d| d.path != Path::new("/dev/ptmx"));
    Ok(devices)
}

impl RootfsPlan {
    /// Checks and parses everything `prepare` needs from the spec.
    pub fn from_spec(spec: &Spec, bundle: &Path) -> Result<Self, RootfsError> {
        let rootfs = rootfs_of(spec, bundle)?;
        let propagation = spec
            .linux()
            .as_ref()
            .and_then(|l| l.rootfs_propagation().as_deref());
        let root_propagation = match propagation {
            Some(value) if !value.is_empty() => parse_propagation(value)?,
            _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        };
        let mounts = plan_mounts(spec, bundle)?;
        let setup_dev = !mounts
            .iter()
            .any(|m| m.kind == MountKind::Bind && m.destination == Path::new("/dev"));
        let devices = if setup_dev {
            plan_devices(spec)?
        } else {
            Vec::new()
        };
        Ok(RootfsPlan {
            rootfs,
            root_propagation,
            mounts,
            setup_dev,
            devices,
            user_namespace: has_namespace(spec, LinuxNamespaceType::User),
            cgroup_namespace: has_namespace(spec, LinuxNamespaceType::Cgroup),
        })
    }
}

/// Turns a sysctl key into its path under `/proc/sys`, as sysctl(8) does: with
/// `.` as the separator (`net.ipv4.ip_forward`) a `/` stands for a dot inside a
/// name (`net.ipv4.conf.eth0/100.forwarding`); with `/` as the first separator
/// the key is already a path.
pub fn sysctl_path(key: &str) -> Result<PathBuf, RootfsError> {
    let invalid = || RootfsError::InvalidSysctl {
        key: key.to_owned(),
    };
    let first_separator = key.find(['.', '/']).map(|i| key.as_bytes()[i]);
    let path: String = match first_separator {
        Some(b'.') => key
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => key.to_owned(),
    };
    let components: Vec<&str> = path.split('/').collect();
    let bad = |c: &&str| c.is_empty() || *c == "." || *c == ".." || c.contains('\0');
    if key.is_empty() || components.iter().any(bad) {
        return Err(invalid());
    }
    Ok(components.iter().collect())
}

impl FinalizePlan {
    /// Checks and parses everything `finalize` needs from the spec.
    pub fn from_spec(spec: &Spec) -> Result<Self, RootfsError> {
        let linux = spec.linux().as_ref();
        let sysctl: BTreeMap<_, _> = linux
            .and_then(|l| l.sysctl().as_ref())
            .into_iter()
            .flatten()
            .collect();
        let sysctls = sysctl
            .into_iter()
            .map(|(key, value)| Ok((key.clone(), sysctl_path(key)?, value.clone())))
            .collect::<Result<_, RootfsError>>()?;
        let paths = |list: Option<&Vec<String>>| {
            list.into_iter()
                .flatten()
                .map(|p| clean_container_path(Path::new(p)))
                .collect()
        };
        // Bind sources do not matter here, so any bundle will do.
        let readonly_mounts = plan_mounts(spec, Path::new("/"))?
            .into_iter()
            .filter(|m| m.deferred_readonly)
            .map(|m| m.destination)
            .collect();
        Ok(FinalizePlan {
            sysctls,
            readonly_paths: paths(linux.and_then(|l| l.readonly_paths().as_ref())),
            masked_paths: paths(linux.and_then(|l| l.masked_paths().as_ref())),
            readonly_mounts,
            readonly_root: spec
                .root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> Spec {
        serde_json::from_value(value).expect("spec")
    }

    #[test]
    fn cleans_container_paths() {
        assert_eq!(
            clean_container_path(Path::new("/a/./b/../c")),
            Path::new("/a/c")
        );
        assert_eq!(
            clean_container_path(Path::new("/../../etc")),
            Path::new("/etc")
        );
        assert_eq!(
            clean_container_path(Path::new("rel/x")),
            Path::new("/rel/x")
        );
        assert_eq!(clean_container_path(Path::new("/")), Path::new("/"));
    }

    #[test]
    fn plans_runc_default_mounts() {
        let s = spec(json!({
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                 "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
                {"destination": "/data", "type": "bind", "source": "vol", "options": ["rbind", "ro"]},
                {"destination": "/tmp", "type": "tmpfs", "options": ["ro", "size=1m"]}
            ]
        }));
        let plan = RootfsPlan::from_spec(&s, Path::new("/b")).expect("plan");
        assert_eq!(plan.rootfs, Path::new("/b/rootfs"));
        assert_eq!(plan.root_propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        let kinds: Vec<_> = plan.mounts.iter().map(|m| m.kind).collect();
        use MountKind::*;
        assert_eq!(kinds, [Proc, Tmpfs, Other, Sysfs, Cgroup, Bind, Tmpfs]);

        let devpts = &plan.mounts[2];
        assert_eq!(devpts.fstype, "devpts");
        assert_eq!(
            devpts.options.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC
        );
        assert_eq!(
            devpts.options.data_string().as_deref(),
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5")
        );

        let sys = &plan.mounts[3];
        assert!(sys.options.flags.contains(MsFlags::MS_RDONLY));
        assert!(!sys.deferred_readonly, "sysfs is mounted read-only at once");

        let bind = &plan.mounts[5];
        assert_eq!(bind.source, Path::new("/b/vol"), "relative to the bundle");
        assert!(bind.options.is_recursive_bind());
        assert!(bind.options.bind_needs_remount());

        let tmp = &plan.mounts[6];
        assert!(tmp.deferred_readonly);
        assert!(!tmp.options.flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(
            tmp.source,
            Path::new("tmpfs"),
            "source defaults to the type"
        );

        assert!(plan.setup_dev);
        assert!(!plan.user_namespace && !plan.cgroup_namespace);
    }

    #[test]
    fn type_bind_without_option_is_a_bind() {
        let s = spec(json!({"root": {"path": "/abs"},
            "mounts": [{"destination": "/x", "type": "bind", "source": "/host"}]}));
        let plan = RootfsPlan::from_spec(&s, Path::new("/b")).expect("plan");
        assert_eq!(plan.rootfs, Path::new("/abs"));
        assert_eq!(plan.mounts[0].kind, MountKind::Bind);
        assert_eq!(plan.mounts[0].options.flags, MsFlags::MS_BIND);
    }

    #[test]
    fn rejects_bad_mounts() {
        let plan = |mounts: serde_json::Value| {
            RootfsPlan::from_spec(
                &spec(json!({"root": {"path": "r"}, "mounts": mounts})),
                Path::new("/b"),
            )
        };
        let err = plan(json!([{"destination": "/x", "options": ["bind"]}])).unwrap_err();
        assert!(matches!(err, RootfsError::InvalidMount { .. }), "{err}");
        let err = plan(json!([{"destination": "/x"}])).unwrap_err();
        assert!(matches!(err, RootfsError::InvalidMount { .. }), "{err}");
        let err = plan(json!([{"destination": "/proc/sys", "type": "tmpfs"}])).unwrap_err();
        assert!(matches!(err, RootfsError::ProcDestination { .. }), "{err}");
        let err = plan(json!([{"destination": "/proc", "type": "tmpfs"}])).unwrap_err();
        assert!(matches!(err, RootfsError::ProcDestination { .. }), "{err}");
        let err = plan(json!([{"destination": "/x", "type": "bind", "source": "/s",
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}]))
        .unwrap_err();
        assert!(
            matches!(err, RootfsError::UnsupportedOption { .. }),
            "{err}"
        );
        assert!(
            plan(json!([{"destination": "/proc/meminfo", "type": "bind", "source": "/s"}])).is_ok()
        );
        assert!(plan(json!([{"destination": "/../proc/../x", "type": "tmpfs"}])).is_ok());
        let err = RootfsPlan::from_spec(&spec(json!({})), Path::new("/b")).unwrap_err();
        assert!(matches!(err, RootfsError::NoRoot));
    }

    #[test]
    fn propagation_values() {
        assert_eq!(
            parse_propagation("rshared").unwrap(),
            MsFlags::MS_SHARED | MsFlags::MS_REC
        );
        assert_eq!(parse_propagation("private").unwrap(), MsFlags::MS_PRIVATE);
        assert_eq!(
            parse_propagation("runbindable").unwrap(),
            MsFlags::MS_UNBINDABLE | MsFlags::MS_REC
        );
        assert!(parse_propagation("sideways").is_err());
        let s = spec(json!({"root": {"path": "r"}, "linux": {"rootfsPropagation": "private"}}));
        let plan = RootfsPlan::from_spec(&s, Path::new("/b")).unwrap();
        assert_eq!(plan.root_propagation, MsFlags::MS_PRIVATE);
    }

    #[test]
    fn devices_default_set_and_overrides() {
        let s = spec(json!({
            "root": {"path": "r"},
            "linux": {
                "namespaces": [{"type": "user"}, {"type": "cgroup"}],
                "devices": [
                    {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 7, "gid": 8},
                    {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o20666},
                    {"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2},
                    {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}
                ]
            }
        }));
        let plan = RootfsPlan::from_spec(&s, Path::new("/b")).expect("plan");
        assert!(plan.user_namespace && plan.cgroup_namespace);
        let paths: Vec<_> = plan
            .devices
            .iter()
            .map(|d| d.path.to_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty",
                "/dev/null",
                "/dev/fuse",
                "/dev/sda"
            ]
        );
        let null = plan
            .devices
            .iter()
            .find(|d| d.path == Path::new("/dev/null"))
            .unwrap();
        assert_eq!(
            (null.mode, null.uid, null.gid),
            (0o620, 7, 8),
            "the spec's entry wins"
        );
        let fuse = plan
            .devices
            .iter()
            .find(|d| d.path == Path::new("/dev/fuse"))
            .unwrap();
        assert_eq!(fuse.mode, 0o666, "type bits are stripped from fileMode");
        assert_eq!(plan.devices.last().unwrap().kind, DeviceKind::Block);
        let tty = plan
            .devices
            .iter()
            .find(|d| d.path == Path::new("/dev/tty"))
            .unwrap();
        assert_eq!((tty.major, tty.minor, tty.mode), (5, 0, 0o666));
    }

    #[test]
    fn bind_mounted_dev_means_no_devices() {
        let s = spec(json!({"root": {"path": "r"},
            "mounts": [{"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]}]}));
        let plan = RootfsPlan::from_spec(&s, Path::new("/b")).unwrap();
        assert!(!plan.setup_dev);
        assert!(plan.devices.is_empty());
    }

    #[test]
    fn rejects_bad_devices() {
        let plan = |device: serde_json::Value| {
            RootfsPlan::from_spec(
                &spec(json!({"root": {"path": "r"}, "linux": {"devices": [device]}})),
                Path::new("/b"),
            )
        };
        assert!(plan(json!({"path": "dev/x", "type": "c", "major": 1, "minor": 1})).is_err());
        assert!(plan(json!({"path": "/dev/x", "type": "a"})).is_err());
        assert!(plan(json!({"path": "/dev/x", "type": "c", "major": -1, "minor": 1})).is_err());
        assert!(plan(json!({"path": "/dev/x", "type": "p"})).is_ok());
    }

    #[test]
    fn sysctl_keys_become_paths() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            Path::new("net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("net.ipv4.conf.eth0/100.forwarding").unwrap(),
            Path::new("net/ipv4/conf/eth0.100/forwarding")
        );
        assert_eq!(
            sysctl_path("net/ipv4/conf/eth0.100/forwarding").unwrap(),
            Path::new("net/ipv4/conf/eth0.100/forwarding")
        );
        assert_eq!(
            sysctl_path("kernel.shmmax").unwrap(),
            Path::new("kernel/shmmax")
        );
        for bad in [
            "",
            "net..x",
            "kernel.",
            "../../etc/passwd",
            "/kernel/x",
            "net/../../x",
        ] {
            assert!(sysctl_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn finalize_plan() {
        let s = spec(json!({
            "root": {"path": "r", "readonly": true},
            "mounts": [
                {"destination": "/dev", "type": "tmpfs", "options": ["ro"]},
                {"destination": "/run", "type": "tmpfs"},
                {"destination": "/sys", "type": "sysfs", "options": ["ro"]}
            ],
            "linux": {
                "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "100"},
                "readonlyPaths": ["/proc/sys", "/proc/../proc/bus"],
                "maskedPaths": ["/proc/kcore"]
            }
        }));
        let plan = FinalizePlan::from_spec(&s).expect("plan");
        assert_eq!(
            plan.sysctls,
            vec![
                (
                    "kernel.shmmax".into(),
                    PathBuf::from("kernel/shmmax"),
                    "100".into()
                ),
                (
                    "net.ipv4.ip_forward".into(),
                    PathBuf::from("net/ipv4/ip_forward"),
                    "1".into()
                ),
            ]
        );
        assert_eq!(
            plan.readonly_paths,
            [PathBuf::from("/proc/sys"), PathBuf::from("/proc/bus")]
        );
        assert_eq!(plan.masked_paths, [PathBuf::from("/proc/kcore")]);
        assert_eq!(plan.readonly_mounts, [PathBuf::from("/dev")]);
        assert!(plan.readonly_root);
        let plan = FinalizePlan::from_spec(&spec(json!({"root": {"path": "r"}}))).unwrap();
        assert!(!plan.readonly_root && plan.sysctls.is_empty());
    }
}
