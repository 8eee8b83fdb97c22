//! Docker-style OCI runtime spec generation: the `config.json` of a
//! container's bundle, as dockerd 20.10 writes it.
//!
//! Vocabulary: a [`SpecInput`] is everything that shapes a container's
//! config, already merged from the image config and the create request (the
//! containers service does that merge: Cmd/Entrypoint/Env/WorkingDir/User
//! defaults come from the image). [`build_spec`] turns it into an
//! [`oci_spec::runtime::Spec`] the way dockerd's `createSpec` does: docker's
//! default spec (mounts, masked and read-only paths, device cgroup rules),
//! then the user's options layered on in dockerd's order (common options,
//! cgroups path, resources, sysctls, devices, user, rlimits, namespaces,
//! capabilities, seccomp, mounts, AppArmor, OOM score, no-new-privileges,
//! masked/read-only path overrides).
//!
//! Lifecycle: call `build_spec` when the container starts, with its rootfs
//! mounted at [`SpecInput::rootfs`]: the user is resolved from the rootfs's
//! `/etc/passwd` and `/etc/group` at that moment, like dockerd does. Besides
//! those two files, `build_spec` only reads the host: the kernel version and
//! architecture (seccomp profile conditions), the cgroup layout (cgroup
//! namespace), which sysctls exist, AppArmor, `/dev` (privileged and
//! `--device`) and the mount table (shared/slave bind propagation). It
//! writes nothing.
//!
//! What differs from dockerd on purpose: the cgroups path is
//! `/berth/<id>` (cgroupfs driver), there is no libnetwork prestart hook, a
//! host network is no network namespace entry (docker names the host's
//! namespace by path), no AppArmor profile is set unless asked for
//! (berth ships no `docker-default` profile yet), capability lists are
//! sets (oci-spec's type: no order, no duplicates), and `--tmpfs` mounts of
//! equal depth come in path order (docker's come from a Go map).

mod caps;
mod devices;
pub(crate) use devices::parse_cgroup_rule as parse_device_cgroup_rule;
mod linux;
pub(crate) use linux::{BlockIoChange, block_io};
mod mounts;
pub use mounts::BindMount;
pub(crate) use mounts::clean_path;
mod process;
pub use process::ULIMIT_NAMES;
mod seccomp;
mod user;

/// The user resolver, for `docker cp -a` (the copied files' owner).
pub(crate) use user::resolve as resolve_user;

#[cfg(test)]
mod docker_tests;
#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::ErrorKind;

/// The OCI runtime spec version dockerd 20.10 writes.
const OCI_VERSION: &str = "1.0.2-dev";

/// Where `--init` puts the init binary inside the container.
const INIT_PATH_IN_CONTAINER: &str = "/sbin/docker-init";

/// Docker's default `/dev/shm` size: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// The PATH every container starts with (image and user env may replace it).
const DEFAULT_PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default masked paths.
const DEFAULT_MASKED_PATHS: [&str; 10] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Docker's default read-only paths.
const DEFAULT_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The container's network namespace.
///
/// Networking is a later issue: until it lands, a new namespace has only
/// loopback (docker's "bridge"/"default" and "none" modes both map here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetNs {
    /// A new network namespace (docker's private modes).
    #[default]
    New,
    /// The host's network namespace: no namespace entry at all.
    Host,
    /// Join an existing namespace, e.g. `/proc/<pid>/ns/net` of another
    /// container (`container:<name>`).
    Path(PathBuf),
}

/// The container's IPC or PID namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Ns {
    /// A new namespace (docker's "private" / "shareable" modes).
    #[default]
    New,
    /// The host's namespace.
    Host,
    /// Join an existing namespace (`/proc/<pid>/ns/ipc` or `.../pid` of
    /// another container).
    Path(PathBuf),
}

/// Cgroup resource limits, as docker's `HostConfig` carries them: 0 (or
/// `None`) means unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory: i64,
    /// Memory + swap limit in bytes; 0 means docker's default of twice
    /// `memory` (when `memory` is set); -1 means unlimited swap.
    pub memory_swap: i64,
    /// Soft memory limit in bytes.
    pub memory_reservation: i64,
    /// CPUs in units of 10^-9 (`--cpus 1.5` is 1_500_000_000); becomes a
    /// CFS quota over a 100 ms period.
    pub nano_cpus: i64,
    /// Relative CPU weight (`--cpu-shares`).
    pub cpu_shares: i64,
    /// CFS quota in microseconds (overrides the one `nano_cpus` implies).
    pub cpu_quota: i64,
    /// CFS period in microseconds (overrides the one `nano_cpus` implies).
    pub cpu_period: i64,
    /// CPUs the container may use ("0-3", "0,1").
    pub cpuset_cpus: String,
    /// Memory nodes the container may use.
    pub cpuset_mems: String,
    /// Maximum number of tasks; `Some(0)` or negative means unlimited.
    pub pids_limit: Option<i64>,
    /// Relative block IO weight (10..=1000); 0 means unset.
    pub blkio_weight: u16,
    /// Per-device weights (`--blkio-weight-device`): device path, weight.
    pub blkio_weight_device: Vec<(String, u16)>,
    /// Per-device throttles (`--device-read-bps` and friends): device
    /// path, bytes or operations per second. A path is resolved to its
    /// major:minor when the spec is built, as dockerd does at start.
    pub blkio_device_read_bps: Vec<(String, u64)>,
    pub blkio_device_write_bps: Vec<(String, u64)>,
    pub blkio_device_read_iops: Vec<(String, u64)>,
    pub blkio_device_write_iops: Vec<(String, u64)>,
    /// Disable the OOM killer; `None` is docker's default `false`.
    pub oom_kill_disable: Option<bool>,
    /// Memory swappiness 0..=100; -1 (what the CLI sends for "unset") and
    /// `None` mean the kernel's default.
    pub memory_swappiness: Option<i64>,
}

/// Everything that shapes the OCI config of a container (see the module
/// documentation for who fills it in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecInput {
    /// The full container id (64 hex digits).
    pub id: String,
    /// The command: entrypoint followed by cmd; must not be empty.
    pub args: Vec<String>,
    /// `KEY=value` entries (image env merged with the request's); an entry
    /// without `=` removes that variable.
    pub env: Vec<String>,
    /// Working directory; empty means `/`. Must be absolute.
    pub cwd: String,
    /// "", "uid", "uid:gid", "name", "name:group" (any mix), as docker takes it.
    pub user: String,
    pub tty: bool,
    /// The terminal's size `(height, width)` from HostConfig.ConsoleSize: given
    /// to the runtime (process.consoleSize) so the pty has it before the
    /// command runs. A resize after start would reach a shell already drawing
    /// its prompt as a SIGWINCH, and make it redraw the line being typed.
    pub console_size: Option<(u16, u16)>,
    /// Not part of the OCI config (stdin is the shim's business); carried so
    /// the input mirrors the container's config.
    pub open_stdin: bool,
    pub hostname: String,
    pub domainname: String,
    /// The mounted root filesystem (absolute).
    pub rootfs: PathBuf,
    pub readonly_rootfs: bool,
    pub privileged: bool,
    /// `--cap-add` values: names with or without `CAP_`, any case, or "ALL".
    pub cap_add: Vec<String>,
    /// `--cap-drop` values, same forms as `cap_add`.
    pub cap_drop: Vec<String>,
    /// `seccomp=unconfined`, `seccomp=<profile JSON>` (what the docker CLI
    /// sends) or `seccomp=<path of a profile file>`, `no-new-privileges[=bool]`,
    /// `apparmor=<profile>`, `label=...` (accepted, no SELinux support).
    pub security_opt: Vec<String>,
    pub netns: NetNs,
    pub ipc: Ns,
    pub pid: Ns,
    /// Share the host's UTS namespace (no hostname is set then).
    pub uts_host: bool,
    /// `-v` binds: "src:dst[:mode]", src an absolute host path (created by
    /// the caller if missing, like docker does for `-v`), mode a comma list
    /// of `ro`/`rw`, `z`/`Z`, a propagation (`rprivate` default, `private`,
    /// `shared`, `rshared`, `slave`, `rslave`) and a consistency flag.
    pub binds: Vec<String>,
    /// `--tmpfs` mounts: destination -> options ("size=10m,mode=1700").
    pub tmpfs: BTreeMap<String, String>,
    /// Bind mounts already resolved by the caller (host paths, volumes'
    /// data directories), mounted with `binds` and checked with them for
    /// duplicate destinations.
    pub bind_mounts: Vec<BindMount>,
    /// The container's hostname, hosts and resolv.conf files, bind-mounted
    /// at /etc/hostname, /etc/hosts and /etc/resolv.conf; an empty path
    /// skips that mount.
    pub hostname_file: PathBuf,
    pub hosts_file: PathBuf,
    pub resolv_file: PathBuf,
    /// `/dev/shm` size in bytes; `None` or 0 means 64 MiB.
    pub shm_size: Option<i64>,
    /// Host directory bind-mounted at `/dev/shm` instead of a private tmpfs
    /// (docker's "shareable" and "container:" IPC modes). With
    /// `ipc: Ns::Host`, `None` means the host's `/dev/shm`.
    pub ipc_shm: Option<PathBuf>,
    /// The init binary on the host (`--init`): bound read-only at
    /// /sbin/docker-init and put in front of the command, when the
    /// container has its own PID namespace.
    pub init: Option<PathBuf>,
    pub resources: Resources,
    /// Rlimits (name as in `--ulimit`, soft, hard), the container's merged
    /// with the daemon's defaults; -1 is unlimited.
    pub ulimits: Vec<(String, i64, i64)>,
    /// -1000..=1000.
    pub oom_score_adj: i64,
    pub sysctls: BTreeMap<String, String>,
    /// `--device` values: "host[:container][:permissions]".
    pub devices: Vec<String>,
    /// `--device-cgroup-rule` values: "c 1:3 mr", "b *:* rwm" (ignored
    /// for privileged containers, which may use every device).
    pub device_cgroup_rules: Vec<String>,
    /// Supplementary groups (`--group-add`): names from the rootfs's
    /// /etc/group or numbers.
    pub group_add: Vec<String>,
    /// Not part of the OCI config (the engine uses it to stop); carried so
    /// the input mirrors the container's config.
    pub stop_signal: Option<String>,
    /// Replaces docker's masked paths when set (`Some(vec![])`: none).
    pub masked_paths: Option<Vec<String>>,
    /// Replaces docker's read-only paths when set (`Some(vec![])`: none).
    pub readonly_paths: Option<Vec<String>>,
    /// Parent cgroup (`--cgroup-parent`); default `/berth`.
    pub cgroup_parent: Option<String>,
    /// OCI annotations written into the spec (dockerd 20.10 writes none).
    pub annotations: BTreeMap<String, String>,
}

/// Errors of building a spec. Bad user input is [`ErrorKind::InvalidArgument`]
/// (messages are docker's); host faults are [`ErrorKind::Internal`].
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("No command specified")]
    NoCommand,
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    RelativeWorkingDir(String),
    #[error("unknown capability: {0:?}")]
    UnknownCapability(String),
    #[error("invalid --security-opt 1: {0:?}")]
    SecurityOptFormat(String),
    #[error("invalid --security-opt 2: {0:?}")]
    SecurityOptUnknown(String),
    #[error("read seccomp profile {path}: {source}")]
    SeccompProfileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Decoding seccomp profile failed: {0}")]
    SeccompProfileDecode(#[source] serde_json::Error),
    #[error(
        "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'"
    )]
    SeccompArchitecturesAndArchMap,
    #[error(
        "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"
    )]
    SeccompNameAndNames,
    #[error("docker's default seccomp profile does not parse: {0}")]
    SeccompDefaultProfile(#[source] serde_json::Error),
    #[error("open container rootfs {path}: {source}")]
    OpenRootfs {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("read {path} in container rootfs: {source}")]
    ReadRootfsFile {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UserNotFound(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    GroupNotFound(String),
    #[error("Unable to find group {0}: no matching entries in group file")]
    AdditionalGroupNotFound(String),
    #[error("uids and gids must be in range 0-2147483647")]
    IdOutOfRange,
    #[error("invalid volume specification: '{0}'")]
    InvalidVolumeSpec(String),
    #[error("invalid mode: {0}")]
    InvalidMountMode(String),
    #[error(
        "invalid volume specification: '{spec}': invalid mount config for type \"bind\": invalid mount path: '{path}' mount path must be absolute"
    )]
    RelativeMountPath { spec: String, path: String },
    #[error(
        "invalid volume specification: '{0}': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
    )]
    MountOnRoot(String),
    #[error(
        "invalid volume specification: '{0}': invalid mount config for type \"bind\": field VolumeOptions must not be specified"
    )]
    BindVolumeOptions(String),
    #[error(
        "invalid volume specification: '{spec}': named volume {name:?}: volumes are not supported yet"
    )]
    NamedVolume { spec: String, name: String },
    #[error("Duplicate mount point: {0}")]
    DuplicateMountPoint(String),
    #[error("invalid tmpfs mount {0:?}: mount path must be absolute and not '/'")]
    InvalidTmpfsPath(String),
    /// The option as Go prints it: its `=`-separated parts, quoted.
    #[error("Invalid tmpfs option [{0}]")]
    InvalidTmpfsOption(String),
    #[error("resolve bind source {path}: {source}")]
    BindSource {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("read the host's mount table: {0}")]
    MountInfo(#[source] std::io::Error),
    #[error("Can't find mount point of {0}")]
    NoMountPoint(PathBuf),
    #[error("path {path} is mounted on {mount_point} but it is not a shared mount")]
    NotSharedMount { path: PathBuf, mount_point: String },
    #[error("path {path} is mounted on {mount_point} but it is not a shared or slave mount")]
    NotSharedOrSlaveMount { path: PathBuf, mount_point: String },
    #[error("invalid device specification: {0}")]
    InvalidDeviceSpec(String),
    #[error("invalid device mode: {0}")]
    InvalidDeviceMode(String),
    #[error("invalid device cgroup rule format: '{0}'")]
    InvalidDeviceCgroupRule(String),
    #[error("invalid {which} value in device cgroup rule format: '{rule}'")]
    InvalidDeviceCgroupNumber { which: &'static str, rule: String },
    /// A block IO throttle's or weight's device path: dockerd's stat error
    /// (500 at start, as there).
    #[error("stat {path}: {}", go_errno(source))]
    BlkioDeviceStat {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "error gathering device information while adding custom device {path:?}: not a device node"
    )]
    NotADevice { path: String },
    #[error("error gathering device information while adding custom device {path:?}: {source}")]
    DeviceStat {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("list host devices in {path}: {source}")]
    HostDevices {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid ulimit type: {0}")]
    UnknownUlimit(String),
    #[error("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")]
    UlimitSoftAboveHard { soft: i64, hard: i64 },
    #[error("shares: invalid argument")]
    NegativeCpuShares,
    #[error("Invalid value {0}, range for oom score adj is [-1000, 1000]")]
    OomScoreAdj(i64),
    #[error("build the OCI {what}: {source}")]
    OciModel {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl SpecError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SpecError::SeccompDefaultProfile(_)
            | SpecError::OpenRootfs { .. }
            | SpecError::ReadRootfsFile { .. }
            | SpecError::MountInfo(_)
            | SpecError::HostDevices { .. }
            | SpecError::BlkioDeviceStat { .. }
            | SpecError::OciModel { .. } => ErrorKind::Internal,
            _ => ErrorKind::InvalidArgument,
        }
    }
}

/// An errno's text as Go prints it: strerror(3), lowercase.
fn go_errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// Facts about the host the spec depends on, like dockerd consults them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    /// Kernel (major, minor), for the seccomp profile's `minKernel`.
    pub kernel: (u64, u64),
    /// Docker's name of the native architecture ("amd64", "arm64", ...), for
    /// the seccomp profile's `arches` conditions and `archMap`.
    pub arch: &'static str,
    /// /sys/fs/cgroup is cgroup2: containers get a cgroup namespace.
    pub cgroup2: bool,
    /// `net.ipv4.ping_group_range` exists (a default sysctl when it does).
    pub ping_group_range: bool,
    /// `net.ipv4.ip_unprivileged_port_start` exists (a default sysctl).
    pub unprivileged_port_start: bool,
    /// The daemon runs in a user namespace (no ping_group_range then).
    pub in_user_ns: bool,
    /// AppArmor is enabled (profiles are only set then).
    pub apparmor: bool,
}

impl Host {
    pub fn probe() -> Host {
        let release = rustix::system::uname()
            .release()
            .to_string_lossy()
            .into_owned();
        Host {
            kernel: parse_kernel_release(&release),
            arch: native_arch(),
            cgroup2: rustix::fs::statfs("/sys/fs/cgroup")
                .map(|s| s.f_type as u64 == libc::CGROUP2_SUPER_MAGIC as u64)
                .unwrap_or(false),
            ping_group_range: Path::new("/proc/sys/net/ipv4/ping_group_range").exists(),
            unprivileged_port_start: Path::new("/proc/sys/net/ipv4/ip_unprivileged_port_start")
                .exists(),
            in_user_ns: in_user_ns(),
            apparmor: Path::new("/sys/kernel/security/apparmor").is_dir()
                && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
                    .is_ok_and(|s| s.starts_with('Y')),
        }
    }
}

/// "6.18.44-foo" -> (6, 18); minor revisions and suffixes do not matter to
/// the seccomp profile (its `minKernel` is "<kernel>.<major>").
fn parse_kernel_release(release: &str) -> (u64, u64) {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor)
}

fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "mips64" if cfg!(target_endian = "little") => "mipsel64",
        "mips64" => "mips64",
        other => other,
    }
}

/// Like runc's `RunningInUserNS`: the identity uid map means the initial
/// user namespace.
fn in_user_ns() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

/// Builds the OCI spec of a container from its input, the way dockerd 20.10
/// does on this host.
pub fn build_spec(input: &SpecInput) -> Result<Spec, SpecError> {
    build_spec_on(input, &Host::probe())
}

/// [`build_spec`] against given host facts (tests pin them).
pub(crate) fn build_spec_on(input: &SpecInput, host: &Host) -> Result<Spec, SpecError> {
    if input.args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    if !input.cwd.is_empty() && !input.cwd.starts_with('/') {
        return Err(SpecError::RelativeWorkingDir(input.cwd.clone()));
    }
    if !(-1000..=1000).contains(&input.oom_score_adj) {
        return Err(SpecError::OomScoreAdj(input.oom_score_adj));
    }
    let security = process::parse_security_opts(&input.security_opt)?;
    let capabilities = caps::tweak(&input.cap_add, &input.cap_drop, input.privileged)?;
    let rlimits = process::rlimits(&input.ulimits)?;
    let resources = linux::resources(&input.resources)?;
    let user = user::resolve(&input.rootfs, &input.user, &input.group_add)?;
    let (devices, device_rules) =
        devices::devices(&input.devices, &input.device_cgroup_rules, input.privileged)?;

    // Process: command (behind the init when there is one), env, user, caps.
    let pid_private = input.pid == Ns::New;
    let init = input.init.as_ref().filter(|_| pid_private);
    let mut args = Vec::with_capacity(input.args.len() + 2);
    if init.is_some() {
        args.extend([INIT_PATH_IN_CONTAINER.to_string(), "--".to_string()]);
    }
    args.extend(input.args.iter().cloned());
    let mut process_section: oci_spec::runtime::Process =
        blank("process", serde_json::json!({"user": {}, "cwd": "/"}))?;
    process_section.set_args(Some(args));
    process_section.set_env(Some(process::environment(input)));
    process_section.set_cwd(PathBuf::from(if input.cwd.is_empty() {
        "/"
    } else {
        &input.cwd
    }));
    process_section.set_terminal(input.tty.then_some(true));
    if let (true, Some((height, width))) = (input.tty, input.console_size) {
        process_section.set_console_size(Some(blank(
            "process.consoleSize",
            serde_json::json!({"height": height, "width": width}),
        )?));
    }
    process_section.set_user(user.to_oci());
    process_section.set_capabilities(Some(process::capability_sets(
        &capabilities,
        user.uid == 0,
    )?));
    process_section.set_rlimits((!rlimits.is_empty()).then_some(rlimits));
    process_section.set_oom_score_adj(Some(input.oom_score_adj as i32));
    process_section.set_no_new_privileges(security.no_new_privileges.then_some(true));
    if host.apparmor {
        // Docker's default profile is not loaded by berth; without a
        // profile the runtime leaves the process unconfined anyway.
        let profile = match (&security.apparmor, input.privileged) {
            (Some(profile), _) => Some(profile.clone()),
            (None, true) => Some("unconfined".to_string()),
            (None, false) => None,
        };
        process_section.set_apparmor_profile(profile);
    }

    // Linux: sysctls, cgroup, resources, devices, namespaces, seccomp, paths.
    let mut linux_section: oci_spec::runtime::Linux = blank("linux", serde_json::json!({}))?;
    let mut sysctl = HashMap::new();
    if !input.domainname.is_empty() {
        // There is no OCI field for the NIS domain name; the sysctl has the
        // same effect as setdomainname(2).
        sysctl.insert("kernel.domainname".to_string(), input.domainname.clone());
    }
    if input.netns == NetNs::New {
        // Docker's defaults for a private network namespace: unprivileged
        // ICMP echo sockets (not in a user namespace) and ports < 1024
        // without CAP_NET_BIND_SERVICE.
        if !host.in_user_ns && host.ping_group_range {
            sysctl.insert(
                "net.ipv4.ping_group_range".to_string(),
                "0 2147483647".to_string(),
            );
        }
        if host.unprivileged_port_start {
            sysctl.insert(
                "net.ipv4.ip_unprivileged_port_start".to_string(),
                "0".to_string(),
            );
        }
    }
    for (key, value) in &input.sysctls {
        sysctl.insert(key.clone(), value.clone());
    }
    // Go's omitempty: no sysctls is no map, no devices no list.
    linux_section.set_sysctl((!sysctl.is_empty()).then_some(sysctl));
    linux_section.set_cgroups_path(Some(linux::cgroups_path(input)));
    let mut resources = resources;
    resources.set_devices(Some(device_rules));
    linux_section.set_resources(Some(resources));
    linux_section.set_devices((!devices.is_empty()).then_some(devices));
    linux_section.set_namespaces(Some(linux::namespaces(input, host)?));
    let seccomp = if input.privileged {
        None
    } else {
        seccomp::profile(security.seccomp.as_ref(), &capabilities, host)?
    };
    linux_section.set_seccomp(seccomp);

    let mount_plan = mounts::plan(input, init.map(PathBuf::as_path))?;
    if let Some(propagation) = mount_plan.rootfs_propagation {
        linux_section.set_rootfs_propagation(Some(propagation.to_string()));
    }
    let (mut masked, mut readonly) = if input.privileged {
        (None, None)
    } else {
        (
            Some(DEFAULT_MASKED_PATHS.map(String::from).to_vec()),
            Some(DEFAULT_READONLY_PATHS.map(String::from).to_vec()),
        )
    };
    if let Some(paths) = &input.masked_paths {
        masked = Some(paths.clone());
    }
    if let Some(paths) = &input.readonly_paths {
        readonly = Some(paths.clone());
    }
    // Go's omitempty: an empty list is no list.
    linux_section.set_masked_paths(masked.filter(|p| !p.is_empty()));
    linux_section.set_readonly_paths(readonly.filter(|p| !p.is_empty()));

    let mut root: oci_spec::runtime::Root = blank("root", serde_json::json!({}))?;
    root.set_path(input.rootfs.clone());
    root.set_readonly(input.readonly_rootfs.then_some(true));

    let mut spec: Spec = blank("spec", serde_json::json!({ "ociVersion": OCI_VERSION }))?;
    spec.set_process(Some(process_section));
    spec.set_root(Some(root));
    // Go's omitempty: no hostname with the host's UTS namespace or when
    // none is given.
    spec.set_hostname(Some(input.hostname.clone()).filter(|h| !input.uts_host && !h.is_empty()));
    spec.set_mounts(Some(mount_plan.mounts));
    spec.set_linux(Some(linux_section));
    if !input.annotations.is_empty() {
        spec.set_annotations(Some(
            input
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ));
    }
    Ok(spec)
}

/// A value of an oci-spec type with only the given fields: the types'
/// `Default`s are runc-like example configs, not empty values.
fn blank<T: serde::de::DeserializeOwned>(
    what: &'static str,
    json: serde_json::Value,
) -> Result<T, SpecError> {
    serde_json::from_value(json).map_err(|source| SpecError::OciModel { what, source })
}
