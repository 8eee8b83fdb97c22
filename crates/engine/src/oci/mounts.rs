//! The container's mount list, as dockerd 20.10 orders and flags it.
//!
//! First docker's default mounts (/proc, /dev, /dev/pts, /sys,
//! /sys/fs/cgroup, /dev/mqueue, /dev/shm, then the init binary if any),
//! minus those a user mount replaces (a user /dev replaces everything under
//! /dev). Then the user mounts, sorted by depth (fewer path separators
//! first; stable, so equal depths keep their order): `-v` binds and the
//! caller's resolved [`BindMount`]s (a volume's has no propagation option,
//! as in dockerd), the container's resolv.conf, hostname and hosts (a bind on one of those
//! paths takes its place), the IPC /dev/shm bind, and `--tmpfs` mounts.
//! A read-only rootfs makes every default mount read-only except /proc,
//! /dev, /dev/pts, /dev/shm and /dev/mqueue; a privileged container gets
//! /sys and the cgroup mount read-write.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

use super::{INIT_PATH_IN_CONTAINER, Ns, SpecError, SpecInput, blank};

/// The mount list and the rootfs propagation binds may require.
#[derive(Debug)]
pub(crate) struct MountPlan {
    pub mounts: Vec<Mount>,
    /// "shared" or "rslave" when a bind's propagation needs it.
    pub rootfs_propagation: Option<&'static str>,
}

/// One mount before it becomes oci-spec's type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    destination: String,
    typ: String,
    source: String,
    options: Vec<String>,
}

impl Entry {
    fn new(destination: &str, typ: &str, source: &str, options: &[&str]) -> Entry {
        Entry {
            destination: destination.to_string(),
            typ: typ.to_string(),
            source: source.to_string(),
            options: options.iter().map(|o| o.to_string()).collect(),
        }
    }

    fn to_oci(&self) -> Result<Mount, SpecError> {
        let mut json = serde_json::json!({
            "destination": self.destination,
            "type": self.typ,
            "source": self.source,
        });
        // Go's omitempty: no options is no list.
        if !self.options.is_empty() {
            json["options"] = self.options.clone().into();
        }
        blank("mount", json)
    }
}

/// Mount propagation of a bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Propagation {
    Private,
    RPrivate,
    Shared,
    RShared,
    Slave,
    RSlave,
}

impl Propagation {
    fn parse(option: &str) -> Option<Propagation> {
        Some(match option {
            "private" => Propagation::Private,
            "rprivate" => Propagation::RPrivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::RShared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::RSlave,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::RPrivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::RShared => "rshared",
            Propagation::Slave => "slave",
            Propagation::RSlave => "rslave",
        }
    }
}

/// A bind mount resolved by the caller (docker's `container.Mount`): a
/// host path, or a volume's data directory, on `destination`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindMount {
    pub source: String,
    pub destination: String,
    pub writable: bool,
    /// `private`, `rprivate`, `shared`, `rshared`, `slave` or `rslave`;
    /// `None` (volumes) sets none, as docker does.
    pub propagation: Option<String>,
    /// `bind` instead of `rbind`: submounts of the source are not taken
    /// (`--mount bind-recursive=disabled`).
    pub non_recursive: bool,
}

/// A user mount (docker's `container.Mount`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum UserMount {
    Bind {
        source: String,
        destination: String,
        writable: bool,
        propagation: Option<Propagation>,
        recursive: bool,
    },
    Tmpfs {
        destination: String,
        data: String,
    },
}

impl UserMount {
    fn destination(&self) -> &str {
        match self {
            UserMount::Bind { destination, .. } | UserMount::Tmpfs { destination, .. } => {
                destination
            }
        }
    }
}

/// A parsed `-v` bind, or a [`BindMount`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bind {
    source: String,
    destination: String,
    writable: bool,
    propagation: Option<Propagation>,
    recursive: bool,
}

impl Bind {
    fn from_mount(m: &BindMount) -> Result<Bind, SpecError> {
        let propagation = match &m.propagation {
            None => None,
            Some(p) => {
                Some(Propagation::parse(p).ok_or_else(|| SpecError::InvalidMountMode(p.clone()))?)
            }
        };
        Ok(Bind {
            source: m.source.clone(),
            destination: clean_path(&m.destination),
            writable: m.writable,
            propagation,
            recursive: !m.non_recursive,
        })
    }
}

/// Go's `path.Clean`.
pub(crate) fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Each option of a `-v` mode may appear once per class.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut seen = [0u8; 5];
    for option in mode.split(',') {
        let class = match option {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            _ if Propagation::parse(option).is_some() => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        seen[class] += 1;
        if seen[class] > 1 {
            return false;
        }
    }
    true
}

/// Parses "src:dst[:mode]" like docker's Linux volume parser; only binds
/// (absolute sources) are supported.
fn parse_bind(spec: &str) -> Result<Bind, SpecError> {
    let invalid = || SpecError::InvalidVolumeSpec(spec.to_string());
    if spec.matches(':').count() > 2 {
        return Err(invalid());
    }
    let parts: Vec<&str> = spec.splitn(3, ':').collect();
    if parts[0].is_empty() {
        return Err(invalid());
    }
    let (source, target, mode) = match parts.as_slice() {
        // A bare destination is an anonymous volume.
        [target] => {
            return Err(SpecError::NamedVolume {
                spec: spec.to_string(),
                name: target.to_string(),
            });
        }
        // "/foo:rw" is a destination with a mode: not valid.
        [_, second] if valid_mode(second) => return Err(invalid()),
        [source, target] => (*source, *target, ""),
        [source, target, mode] => (*source, *target, *mode),
        _ => return Err(invalid()),
    };
    if !valid_mode(mode) {
        return Err(SpecError::InvalidMountMode(mode.to_string()));
    }
    if !source.starts_with('/') {
        return Err(SpecError::NamedVolume {
            spec: spec.to_string(),
            name: source.to_string(),
        });
    }
    if clean_path(target) == "/" {
        return Err(SpecError::MountOnRoot(spec.to_string()));
    }
    if !target.starts_with('/') {
        return Err(SpecError::RelativeMountPath {
            spec: spec.to_string(),
            path: target.to_string(),
        });
    }
    let options: Vec<&str> = mode.split(',').collect();
    if options.contains(&"nocopy") {
        return Err(SpecError::BindVolumeOptions(spec.to_string()));
    }
    Ok(Bind {
        source: clean_path(source),
        destination: clean_path(target),
        writable: !options.contains(&"ro"),
        propagation: Some(
            options
                .iter()
                .find_map(|o| Propagation::parse(o))
                .unwrap_or(Propagation::RPrivate),
        ),
        recursive: true,
    })
}

/// What kind of mount(8) option a tmpfs option is, for de-duplication: a
/// flag (and its negation) or a propagation counts once, a data option
/// once per key.
fn tmpfs_option_key(option: &str) -> Result<String, SpecError> {
    let flag = match option {
        "ro" | "rw" => "rdonly",
        "suid" | "nosuid" => "nosuid",
        "dev" | "nodev" => "nodev",
        "exec" | "noexec" => "noexec",
        "sync" | "async" => "sync",
        "dirsync" => "dirsync",
        "remount" => "remount",
        "mand" | "nomand" => "mand",
        "atime" | "noatime" => "noatime",
        "diratime" | "nodiratime" => "nodiratime",
        "relatime" | "norelatime" => "relatime",
        "strictatime" | "nostrictatime" => "strictatime",
        "bind" | "rbind" | "unbindable" | "runbindable" | "private" | "rprivate" | "shared"
        | "rshared" | "slave" | "rslave" => "propagation",
        _ => "",
    };
    if !flag.is_empty() {
        return Ok(format!("flag:{flag}"));
    }
    match option.split_once('=') {
        Some((
            key @ ("" | "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" | "mpol"),
            _,
        )) => Ok(format!("data:{key}")),
        // Go formats the split option as a %q'd list.
        Some((key, value)) => Err(SpecError::InvalidTmpfsOption(format!("{key:?} {value:?}"))),
        None => Err(SpecError::InvalidTmpfsOption(format!("{option:?}"))),
    }
}

/// Docker's tmpfs options: noexec, nosuid, nodev, rprivate, then the
/// user's; a later option overrides an earlier one of the same kind.
fn tmpfs_options(data: &str) -> Result<Vec<String>, SpecError> {
    let mut options = vec!["noexec", "nosuid", "nodev", "rprivate"];
    if !data.is_empty() {
        options.extend(data.split(','));
    }
    let mut seen = HashSet::new();
    let mut merged = Vec::new();
    for option in options.into_iter().rev() {
        if option == "defaults" {
            continue;
        }
        if seen.insert(tmpfs_option_key(option)?) {
            merged.push(option.to_string());
        }
    }
    merged.reverse();
    Ok(merged)
}

/// The mount point holding `path` and its optional fields (shared:N,
/// master:N), from /proc/self/mountinfo.
fn mount_of(path: &Path) -> Result<(String, String), SpecError> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").map_err(SpecError::MountInfo)?;
    let mut best: Option<(String, String)> = None;
    for line in table.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.len() < 5 || sep < 6 {
            continue;
        }
        let mount_point = unescape_mountinfo(fields[4]);
        if path.starts_with(&mount_point)
            && best
                .as_ref()
                .is_none_or(|(b, _)| mount_point.len() > b.len())
        {
            best = Some((mount_point, fields[6..sep].join(" ")));
        }
    }
    best.ok_or_else(|| SpecError::NoMountPoint(path.to_path_buf()))
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|_| bytes[i] == b'\\')
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 8).ok());
        if let Some(value) = octal {
            out.push(value);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks a bind source's mount propagation the way docker does before it
/// asks for shared or slave propagation: the source's mount must be shared
/// (or, for slave, shared or a slave).
fn check_propagation(source: &str, propagation: Propagation) -> Result<(), SpecError> {
    let wants_shared = matches!(propagation, Propagation::Shared | Propagation::RShared);
    let resolved = std::fs::canonicalize(source).map_err(|e| SpecError::BindSource {
        path: PathBuf::from(source),
        source: e,
    })?;
    let (mount_point, optional) = mount_of(&resolved)?;
    let has = |prefix: &str| optional.split(' ').any(|o| o.starts_with(prefix));
    if wants_shared && !has("shared:") {
        return Err(SpecError::NotSharedMount {
            path: PathBuf::from(source),
            mount_point,
        });
    }
    if !wants_shared && !has("shared:") && !has("master:") {
        return Err(SpecError::NotSharedOrSlaveMount {
            path: PathBuf::from(source),
            mount_point,
        });
    }
    Ok(())
}

/// Docker's default mounts; `/dev/shm` sized `shm_size` bytes.
fn default_mounts(shm_size: i64) -> Vec<Entry> {
    let shm_size = format!("size={shm_size}");
    vec![
        Entry::new("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        Entry::new(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        Entry::new(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        Entry::new(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        Entry::new(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        Entry::new(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        Entry::new(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size],
        ),
    ]
}

/// Plans the container's mounts (see the module documentation).
pub(crate) fn plan(input: &SpecInput, init: Option<&Path>) -> Result<MountPlan, SpecError> {
    let shm_size = input
        .shm_size
        .filter(|s| *s > 0)
        .unwrap_or(super::DEFAULT_SHM_SIZE);
    let mut defaults = default_mounts(shm_size);
    if let Some(init) = init {
        defaults.push(Entry::new(
            INIT_PATH_IN_CONTAINER,
            "bind",
            &init.to_string_lossy(),
            &["bind", "ro"],
        ));
    }

    let mut binds = input
        .binds
        .iter()
        .map(|b| parse_bind(b))
        .collect::<Result<Vec<_>, _>>()?;
    for m in &input.bind_mounts {
        binds.push(Bind::from_mount(m)?);
    }
    for (i, bind) in binds.iter().enumerate() {
        if binds[..i].iter().any(|b| b.destination == bind.destination) {
            return Err(SpecError::DuplicateMountPoint(bind.destination.clone()));
        }
    }
    for destination in input.tmpfs.keys() {
        if !destination.starts_with('/') || clean_path(destination) == "/" {
            return Err(SpecError::InvalidTmpfsPath(destination.clone()));
        }
    }

    // Binds (a tmpfs on the same path wins), with the network files taken
    // out: a bind on one of them replaces the container's own file.
    let mut network_files = [
        (
            "/etc/resolv.conf",
            input.resolv_file.to_string_lossy().into_owned(),
            !input.readonly_rootfs,
        ),
        (
            "/etc/hostname",
            input.hostname_file.to_string_lossy().into_owned(),
            !input.readonly_rootfs,
        ),
        (
            "/etc/hosts",
            input.hosts_file.to_string_lossy().into_owned(),
            !input.readonly_rootfs,
        ),
    ];
    let mut user: Vec<UserMount> = Vec::new();
    for bind in &binds {
        if input.tmpfs.contains_key(&bind.destination) {
            continue;
        }
        if let Some(file) = network_files.iter_mut().find(|f| f.0 == bind.destination) {
            file.1 = bind.source.clone();
            file.2 = bind.writable;
            continue;
        }
        user.push(UserMount::Bind {
            source: bind.source.clone(),
            destination: bind.destination.clone(),
            writable: bind.writable,
            propagation: bind.propagation,
            recursive: bind.recursive,
        });
    }
    for (destination, source, writable) in network_files {
        if !source.is_empty() {
            user.push(UserMount::Bind {
                source,
                destination: destination.to_string(),
                writable,
                propagation: Some(Propagation::RPrivate),
                recursive: true,
            });
        }
    }
    // A shared /dev/shm (host's, or a shareable/joined IPC's), unless the
    // user mounts something there.
    let shm_source = match (&input.ipc_shm, &input.ipc) {
        (Some(path), _) => Some(path.to_string_lossy().into_owned()),
        (None, Ns::Host) => Some("/dev/shm".to_string()),
        (None, _) => None,
    };
    let user_shm =
        binds.iter().any(|b| b.destination == "/dev/shm") || input.tmpfs.contains_key("/dev/shm");
    if let Some(source) = shm_source.filter(|_| !user_shm) {
        user.push(UserMount::Bind {
            source,
            destination: "/dev/shm".to_string(),
            writable: true,
            propagation: Some(Propagation::RPrivate),
            recursive: true,
        });
    }
    for (destination, data) in &input.tmpfs {
        user.push(UserMount::Tmpfs {
            destination: destination.clone(),
            data: data.clone(),
        });
    }
    // Parents before children: fewer separators first (stable).
    user.sort_by_key(|m| clean_path(m.destination()).matches('/').count());

    let user_destinations: HashSet<&str> = user.iter().map(UserMount::destination).collect();
    let user_dev = user_destinations.contains("/dev");
    let mut mounts: Vec<Entry> = defaults
        .into_iter()
        .filter(|m| !user_destinations.contains(m.destination.as_str()))
        .filter(|m| !(user_dev && m.destination.starts_with("/dev/")))
        .collect();

    let mut rootfs_propagation: Option<&'static str> = None;
    for mount in &user {
        match mount {
            UserMount::Tmpfs { destination, data } => {
                let options = tmpfs_options(data)?;
                let options: Vec<&str> = options.iter().map(String::as_str).collect();
                mounts.push(Entry::new(destination, "tmpfs", "tmpfs", &options));
            }
            UserMount::Bind {
                source,
                destination,
                writable,
                propagation,
                recursive,
            } => {
                match propagation {
                    Some(p @ (Propagation::Shared | Propagation::RShared)) => {
                        check_propagation(source, *p)?;
                        if !matches!(rootfs_propagation, Some("shared" | "rshared")) {
                            rootfs_propagation = Some("shared");
                        }
                    }
                    Some(p @ (Propagation::Slave | Propagation::RSlave)) => {
                        check_propagation(source, *p)?;
                        if rootfs_propagation.is_none() {
                            rootfs_propagation = Some("rslave");
                        }
                    }
                    _ => {}
                }
                let mut options = vec![if *recursive { "rbind" } else { "bind" }];
                if !writable {
                    options.push("ro");
                }
                if let Some(p) = propagation {
                    options.push(p.as_str());
                }
                mounts.push(Entry::new(destination, "bind", source, &options));
            }
        }
    }

    if input.readonly_rootfs {
        for mount in &mut mounts {
            let kept_writable = ["/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev"];
            if kept_writable.contains(&mount.destination.as_str())
                || user_destinations.contains(mount.destination.as_str())
            {
                continue;
            }
            if !mount.options.iter().any(|o| o == "ro") {
                mount.options.push("ro".to_string());
            }
        }
    }
    if input.privileged {
        for mount in &mut mounts {
            if mount.destination == "/sys" || mount.typ == "cgroup" {
                mount.options.retain(|o| o != "ro");
            }
        }
    }

    Ok(MountPlan {
        mounts: mounts.iter().map(Entry::to_oci).collect::<Result<_, _>>()?,
        rootfs_propagation,
    })
}

#[cfg(test)]
mod tests;
