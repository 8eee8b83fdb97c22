//! The bundle's `config.json`: loading, validation, the example written by
//! `spec`, and the `features` document.
//!
//! [`load`] reads and parses the file and checks what every command that
//! starts a process needs (`ociVersion`, `root`, `process`). [`validate`]
//! then checks the configuration against the host the way runc does before it
//! creates anything (libcontainer/configs/validate): the root filesystem, the
//! namespaces, and the settings that only make sense inside a namespace of
//! their own (hostname, sysctls, masked paths). Messages follow runc's where
//! runc has one.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::json;

/// The runtime-spec version `spec` writes and `features` reports as maximum.
pub const OCI_VERSION: &str = "1.0.2-dev";

/// Errors from loading or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse {path}: {field}: {source}")]
    Parse {
        path: PathBuf,
        /// Where in the document, e.g. `linux.namespaces[2].type`.
        field: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("ociVersion must not be empty")]
    NoOciVersion,
    #[error("unsupported ociVersion {0:?}: berth runs 1.x configurations")]
    OciVersion(String),
    #[error("root must be specified")]
    NoRoot,
    #[error("process property must not be empty")]
    NoProcess,
    #[error("cwd property must not be empty")]
    NoCwd,
    #[error("cwd {0} must be an absolute path")]
    RelativeCwd(PathBuf),
    #[error("args must not be empty")]
    NoArgs,
    #[error("resolve bundle {path}: {source}")]
    Bundle {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid rootfs {path}: {source}")]
    Rootfs {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid rootfs {0}: not an absolute path, or a symlink")]
    RootfsSymlink(PathBuf),
    #[error("invalid rootfs {0}: not a directory")]
    RootfsNotDir(PathBuf),
    #[error("malformed spec file: duplicated ns {0:?}")]
    DuplicateNamespace(&'static str),
    #[error("{kind} namespace path {path}: {source}")]
    NamespacePath {
        kind: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} namespaces aren't enabled in the kernel")]
    NamespaceUnsupported(&'static str),
    #[error(
        "user namespaces enabled, but no namespace path to join nor mappings to apply specified"
    )]
    UserNamespaceWithoutMappings,
    #[error("user namespace mappings specified, but user namespace isn't enabled in the config")]
    MappingsWithoutUserNamespace,
    #[error("time namespace offsets specified, but time namespace isn't enabled in the config")]
    TimeOffsetsWithoutTimeNamespace,
    #[error(
        "time namespace enabled, but both namespace path and time offsets specified -- you may only provide one"
    )]
    TimeNamespacePathAndOffsets,
    #[error("unable to set hostname without a private UTS namespace")]
    Hostname,
    #[error("unable to set domainname without a private UTS namespace")]
    Domainname,
    #[error("unable to restrict sys entries without a private MNT namespace")]
    RestrictWithoutMountNamespace,
    #[error("sysctl {0:?} is not allowed in the hosts ipc namespace")]
    SysctlHostIpc(String),
    #[error("sysctl {0:?} not allowed in host network namespace")]
    SysctlHostNet(String),
    #[error("invalid netns path {path}: {source}")]
    NetnsPath {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("sysctl {0:?} is not allowed as it conflicts with the OCI \"hostname\" field")]
    SysctlHostname(String),
    #[error("sysctl {0:?} is not in a separate kernel namespace")]
    SysctlNotNamespaced(String),
}

/// Reads `<bundle>/config.json` and checks the fields every process-starting
/// command needs.
pub fn load(bundle: &Path) -> Result<Spec, SpecError> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| SpecError::Open {
        path: path.clone(),
        source,
    })?;
    // Parse from text (not from a Value) so errors carry line and column;
    // an unknown enum value (namespace type, seccomp action, capability, ...)
    // is named in serde's message.
    // serde_path_to_error names the field, which serde_json alone does not.
    let de = &mut serde_json::Deserializer::from_str(&text);
    let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| SpecError::Parse {
        path,
        field: e.path().to_string(),
        source: e.into_inner(),
    })?;
    check_version(spec.version())?;
    if spec.root().is_none() {
        return Err(SpecError::NoRoot);
    }
    let process = spec.process().as_ref().ok_or(SpecError::NoProcess)?;
    if process.cwd().as_os_str().is_empty() {
        return Err(SpecError::NoCwd);
    }
    if !process.cwd().is_absolute() {
        return Err(SpecError::RelativeCwd(process.cwd().clone()));
    }
    if process.args().as_ref().is_none_or(Vec::is_empty) {
        return Err(SpecError::NoArgs);
    }
    Ok(spec)
}

fn check_version(version: &str) -> Result<(), SpecError> {
    if version.is_empty() {
        return Err(SpecError::NoOciVersion);
    }
    // SemVer: MAJOR.MINOR.PATCH with an optional -pre or +build suffix.
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric || parts[0] != "1" {
        return Err(SpecError::OciVersion(version.to_owned()));
    }
    Ok(())
}

/// The root filesystem's path: `root.path`, relative to the bundle unless
/// absolute, with the bundle resolved as the kernel sees it (like runc,
/// which resolves it by changing into it).
pub fn rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf, SpecError> {
    let root = spec.root().as_ref().ok_or(SpecError::NoRoot)?;
    let bundle = std::fs::canonicalize(bundle).map_err(|source| SpecError::Bundle {
        path: bundle.to_owned(),
        source,
    })?;
    Ok(clean(&bundle.join(root.path())))
}

/// Checks the configuration against runc's rules and this host.
pub fn validate(spec: &Spec, bundle: &Path) -> Result<(), SpecError> {
    let ns = Namespaces::of(spec)?;
    check_rootfs(rootfs(spec, bundle)?)?;
    check_isolation(spec, &ns)?;
    check_sysctls(spec, &ns)
}

/// The namespaces a configuration lists, checked for duplicates and for
/// paths that do not exist.
struct Namespaces<'a> {
    kinds: HashSet<LinuxNamespaceType>,
    paths: Vec<(LinuxNamespaceType, &'a Path)>,
}

impl<'a> Namespaces<'a> {
    fn of(spec: &'a Spec) -> Result<Self, SpecError> {
        let mut ns = Self {
            kinds: HashSet::new(),
            paths: Vec::new(),
        };
        let listed = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
        for entry in listed.into_iter().flatten() {
            let kind = entry.typ();
            if !ns.kinds.insert(kind) {
                return Err(SpecError::DuplicateNamespace(ns_name(kind)));
            }
            if let Some(path) = entry.path() {
                std::fs::metadata(path).map_err(|source| SpecError::NamespacePath {
                    kind: ns_name(kind),
                    path: path.clone(),
                    source,
                })?;
                ns.paths.push((kind, path));
            }
        }
        Ok(ns)
    }

    /// Listed, new or joined by path (runc's `Contains`).
    fn has(&self, kind: LinuxNamespaceType) -> bool {
        self.kinds.contains(&kind)
    }

    fn path(&self, kind: LinuxNamespaceType) -> Option<&'a Path> {
        self.paths.iter().find(|(k, _)| *k == kind).map(|(_, p)| *p)
    }
}

fn check_rootfs(path: PathBuf) -> Result<(), SpecError> {
    let real = std::fs::canonicalize(&path).map_err(|source| SpecError::Rootfs {
        path: path.clone(),
        source,
    })?;
    // runc refuses a root whose path goes through a symlink: what is
    // mounted must be what the configuration names.
    if real != path {
        return Err(SpecError::RootfsSymlink(path));
    }
    if !std::fs::metadata(&real).is_ok_and(|m| m.is_dir()) {
        return Err(SpecError::RootfsNotDir(path));
    }
    Ok(())
}

/// Settings that need a namespace of their own, and namespaces the kernel
/// must support.
fn check_isolation(spec: &Spec, ns: &Namespaces<'_>) -> Result<(), SpecError> {
    use LinuxNamespaceType::{Cgroup, Mount, Time, User, Uts};
    let linux = spec.linux().as_ref();
    let set = |v: Option<&String>| v.is_some_and(|v| !v.is_empty());
    let listed = |v: Option<&Vec<String>>| v.is_some_and(|v| !v.is_empty());

    // Like runc, a UTS namespace joined by path will do.
    if set(spec.hostname().as_ref()) && !ns.has(Uts) {
        return Err(SpecError::Hostname);
    }
    if set(spec.domainname().as_ref()) && !ns.has(Uts) {
        return Err(SpecError::Domainname);
    }
    if (listed(linux.and_then(|l| l.masked_paths().as_ref()))
        || listed(linux.and_then(|l| l.readonly_paths().as_ref())))
        && !ns.has(Mount)
    {
        return Err(SpecError::RestrictWithoutMountNamespace);
    }
    // An SELinux (or AppArmor) label on a host without that LSM is not an
    // error: the container process warns and goes on (runc refuses SELinux
    // labels there; berth follows what a Docker user expects on hosts like
    // these, which have neither).

    let mappings = linux.is_some_and(|l| {
        l.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || l.gid_mappings().as_ref().is_some_and(|m| !m.is_empty())
    });
    if ns.has(User) {
        kernel_supports("user")?;
        if ns.path(User).is_none() && !mappings {
            return Err(SpecError::UserNamespaceWithoutMappings);
        }
    } else if mappings {
        return Err(SpecError::MappingsWithoutUserNamespace);
    }
    if ns.has(Cgroup) {
        kernel_supports("cgroup")?;
    }
    let offsets = linux
        .and_then(|l| l.time_offsets().as_ref())
        .is_some_and(|o| !o.is_empty());
    if ns.has(Time) {
        kernel_supports("time")?;
        if ns.path(Time).is_some() && offsets {
            return Err(SpecError::TimeNamespacePathAndOffsets);
        }
    } else if offsets {
        return Err(SpecError::TimeOffsetsWithoutTimeNamespace);
    }
    Ok(())
}

/// `/proc/sys` is only partly namespaced: a sysctl is allowed only when the
/// namespace it belongs to is the container's own (runc's rules).
fn check_sysctls(spec: &Spec, ns: &Namespaces<'_>) -> Result<(), SpecError> {
    use LinuxNamespaceType::{Ipc, Network, Uts};
    let sysctl = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref());
    let mut keys: Vec<&String> = sysctl.into_iter().flat_map(|s| s.keys()).collect();
    // The map has no order; check in a stable one so errors are repeatable.
    keys.sort();
    let mut host_net = None;
    for key in keys {
        let key = dotted(key);
        if IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            if ns.has(Ipc) {
                continue;
            }
            return Err(SpecError::SysctlHostIpc(key));
        }
        if key.starts_with("net.") {
            // "Host" means the runtime's current network namespace: joining
            // it by path is no better than not having one.
            let on_host = match host_net {
                Some(known) => known,
                None => *host_net.insert(match ns.path(Network) {
                    _ if !ns.has(Network) => true,
                    Some(path) => is_current_netns(path)?,
                    None => false,
                }),
            };
            if on_host {
                return Err(SpecError::SysctlHostNet(key));
            }
            continue;
        }
        if ns.has(Uts) {
            match key.as_str() {
                "kernel.domainname" => continue,
                "kernel.hostname" => return Err(SpecError::SysctlHostname(key)),
                _ => {}
            }
        }
        return Err(SpecError::SysctlNotNamespaced(key));
    }
    Ok(())
}

/// Sysctls of the IPC namespace outside `fs.mqueue.*`.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// sysctl(8) accepts `/` as separator too, in which case `.` may appear in a
/// component (`net/ipv4/conf/eno2.100/rp_filter`). Normalize to dots by
/// swapping the two, as sysctl does.
fn dotted(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => key.to_owned(),
    }
}

fn is_current_netns(path: &Path) -> Result<bool, SpecError> {
    let stat = |p: &Path| {
        std::fs::metadata(p).map_err(|source| SpecError::NetnsPath {
            path: p.to_owned(),
            source,
        })
    };
    let current = stat(Path::new("/proc/self/ns/net"))?;
    let target = stat(path)?;
    Ok(current.dev() == target.dev() && current.ino() == target.ino())
}

fn kernel_supports(kind: &'static str) -> Result<(), SpecError> {
    match Path::new("/proc/self/ns").join(kind).try_exists() {
        Ok(true) => Ok(()),
        _ => Err(SpecError::NamespaceUnsupported(kind)),
    }
}

/// The name a namespace type has in `config.json`.
fn ns_name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// Lexical cleaning like Go's `filepath.Clean` for an absolute path: drops
/// `.` and empty components and resolves `..` without looking at the disk.
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The example configuration `runc spec` writes, as a JSON value.
///
/// With `rootless`, it is adapted like `runc spec --rootless`: a user
/// namespace mapping the caller's effective uid and gid to root, no network
/// namespace, `/sys` bind-mounted from the host, no `uid=`/`gid=` mount
/// options and no cgroup device rules.
pub fn default_spec(rootless: bool) -> serde_json::Value {
    serde_json::to_value(example(rootless)).expect("the example serializes")
}

/// [`default_spec`] formatted byte for byte as runc writes `config.json`:
/// keys in runc's order, tab indentation, no trailing newline.
pub fn default_spec_json(rootless: bool) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    example(rootless)
        .serialize(&mut ser)
        .expect("the example serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A JSON value whose object keys keep the order they were built in, so the
/// example comes out in the order of runc's (Go struct) fields.
enum Ordered {
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<Ordered>),
    Obj(Vec<(&'static str, Ordered)>),
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Ordered::Bool(b) => serializer.serialize_bool(*b),
            Ordered::Num(n) => serializer.serialize_u64(*n),
            Ordered::Str(s) => serializer.serialize_str(s),
            Ordered::Arr(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Ordered::Obj(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

fn text(s: &str) -> Ordered {
    Ordered::Str(s.to_owned())
}

fn texts(items: &[&str]) -> Ordered {
    Ordered::Arr(items.iter().map(|s| text(s)).collect())
}

fn example(rootless: bool) -> Ordered {
    use Ordered::{Arr, Bool, Num, Obj};
    let caps = || texts(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let process = Obj(vec![
        ("terminal", Bool(true)),
        ("user", Obj(vec![("uid", Num(0)), ("gid", Num(0))])),
        ("args", texts(&["sh"])),
        (
            "env",
            texts(&[
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ]),
        ),
        ("cwd", text("/")),
        (
            "capabilities",
            Obj(vec![
                ("bounding", caps()),
                ("effective", caps()),
                ("permitted", caps()),
                ("ambient", caps()),
            ]),
        ),
        (
            "rlimits",
            Arr(vec![Obj(vec![
                ("type", text("RLIMIT_NOFILE")),
                ("hard", Num(1024)),
                ("soft", Num(1024)),
            ])]),
        ),
        ("noNewPrivileges", Bool(true)),
    ]);

    // (destination, type, source, options)
    let mut mounts: Vec<(&str, &str, &str, Vec<&str>)> = vec![
        ("/proc", "proc", "proc", vec![]),
        (
            "/dev",
            "tmpfs",
            "tmpfs",
            vec!["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        (
            "/dev/pts",
            "devpts",
            "devpts",
            vec![
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        (
            "/dev/shm",
            "tmpfs",
            "shm",
            vec!["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        (
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            vec!["nosuid", "noexec", "nodev"],
        ),
        (
            "/sys",
            "sysfs",
            "sysfs",
            vec!["nosuid", "noexec", "nodev", "ro"],
        ),
        (
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            vec!["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
    ];
    let mut namespaces = vec!["pid", "network", "ipc", "uts", "mount"];
    let mut linux = Vec::new();
    if rootless {
        // A new sysfs needs a network namespace the user owns; bind the
        // host's instead. uid=/gid= name ids that are not mapped.
        for mount in &mut mounts {
            if mount.0 == "/sys" {
                *mount = (
                    "/sys",
                    "none",
                    "/sys",
                    vec!["rbind", "nosuid", "noexec", "nodev", "ro"],
                );
            }
            mount
                .3
                .retain(|o| !o.starts_with("gid=") && !o.starts_with("uid="));
        }
        namespaces.retain(|&ns| ns != "network" && ns != "user");
        namespaces.push("user");
        let mapping = |host: u32| {
            Arr(vec![Obj(vec![
                ("containerID", Num(0)),
                ("hostID", Num(host.into())),
                ("size", Num(1)),
            ])])
        };
        linux.push(("uidMappings", mapping(rustix::process::geteuid().as_raw())));
        linux.push(("gidMappings", mapping(rustix::process::getegid().as_raw())));
    } else {
        linux.push((
            "resources",
            Obj(vec![(
                "devices",
                Arr(vec![Obj(vec![
                    ("allow", Bool(false)),
                    ("access", text("rwm")),
                ])]),
            )]),
        ));
    }
    linux.push((
        "namespaces",
        Arr(namespaces
            .iter()
            .map(|ns| Obj(vec![("type", text(ns))]))
            .collect()),
    ));
    linux.push((
        "maskedPaths",
        texts(&[
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
        ]),
    ));
    linux.push((
        "readonlyPaths",
        texts(&[
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ]),
    ));

    let mounts = mounts
        .into_iter()
        .map(|(destination, kind, source, options)| {
            let mut fields = vec![
                ("destination", text(destination)),
                ("type", text(kind)),
                ("source", text(source)),
            ];
            if !options.is_empty() {
                fields.push(("options", texts(&options)));
            }
            Obj(fields)
        })
        .collect();
    Obj(vec![
        ("ociVersion", text(OCI_VERSION)),
        ("process", process),
        (
            "root",
            Obj(vec![("path", text("rootfs")), ("readonly", Bool(true))]),
        ),
        ("hostname", text("runc")),
        ("mounts", Arr(mounts)),
        ("linux", Obj(linux)),
    ])
}

/// Hook lists berth runs.
const HOOKS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Mount options understood in `mounts[].options` (runc's list).
pub const MOUNT_OPTIONS: &[&str] = &[
    "acl",
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noacl",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// The runtime-spec Features document (what `features` prints): what berth
/// implements, with the seccomp parts probed from libseccomp and the kernel.
pub fn features() -> serde_json::Value {
    let mut annotations = serde_json::Map::new();
    if let Some(version) = crate::seccomp::library_version() {
        annotations.insert(
            "io.github.seccomp.libseccomp.version".into(),
            version.into(),
        );
    }
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": &crate::capabilities::KNOWN[..],
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false },
            "seccomp": {
                "enabled": true,
                "actions": crate::seccomp::ACTIONS,
                "operators": crate::seccomp::OPERATORS,
                "archs": crate::seccomp::supported_archs(),
                "knownFlags": crate::seccomp::KNOWN_FLAGS,
                "supportedFlags": crate::seccomp::supported_flags(),
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
        },
        "annotations": annotations,
    })
}
