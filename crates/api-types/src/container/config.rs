//! The container configuration a client sends to `POST /containers/create` and that
//! `GET /containers/{id}/json` echoes back: [`Config`] (portable, from the image and the
//! command line), [`HostConfig`] (host-dependent) and their parts.
//!
//! Field order is the order of dockerd 20.10's Go structs, so our JSON lines up with
//! dockerd's for diffing. Every non-optional field reads `null` as its zero value, like Go.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::de::{
    Empty, is_empty_str, is_false, is_none_or_empty, is_zero_i64, nullable as n, str_slice,
};

/// The portable part of a container's configuration (Go `container.Config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    #[serde(deserialize_with = "n")]
    pub hostname: String,
    #[serde(deserialize_with = "n")]
    pub domainname: String,
    /// `user`, `user:group`, `uid` or `uid:gid`.
    #[serde(deserialize_with = "n")]
    pub user: String,
    #[serde(deserialize_with = "n")]
    pub attach_stdin: bool,
    #[serde(deserialize_with = "n")]
    pub attach_stdout: bool,
    #[serde(deserialize_with = "n")]
    pub attach_stderr: bool,
    /// `"80/tcp"` -> `{}`.
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    #[serde(deserialize_with = "n")]
    pub tty: bool,
    #[serde(deserialize_with = "n")]
    pub open_stdin: bool,
    /// Close the container's stdin after the first attached client disconnects.
    #[serde(deserialize_with = "n")]
    pub stdin_once: bool,
    /// `KEY=value` entries.
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "str_slice")]
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "n")]
    pub args_escaped: bool,
    /// The image as the user named it (not its ID).
    #[serde(deserialize_with = "n")]
    pub image: String,
    /// Anonymous volume mount points, path -> `{}`.
    pub volumes: Option<BTreeMap<String, Empty>>,
    #[serde(deserialize_with = "n")]
    pub working_dir: String,
    #[serde(deserialize_with = "str_slice")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "n")]
    pub network_disabled: bool,
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub mac_address: String,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    /// A signal name (`SIGTERM`) or number.
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub stop_signal: String,
    /// Seconds to wait after the stop signal before killing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(
        skip_serializing_if = "is_none_or_empty",
        deserialize_with = "str_slice"
    )]
    pub shell: Option<Vec<String>>,
}

/// A container's health check (Go `container.HealthConfig`); durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]` disabled, `["CMD", args...]`, `["CMD-SHELL", command]`.
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub test: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "n")]
    pub interval: i64,
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "n")]
    pub timeout: i64,
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "n")]
    pub start_period: i64,
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "n")]
    pub retries: i64,
}

/// The host-dependent part of a container's configuration (Go `container.HostConfig`,
/// API v1.41). The resource limits are [`Resources`], inlined on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// `src:dst[:opts]` bind mounts.
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile", deserialize_with = "n")]
    pub container_id_file: String,
    #[serde(deserialize_with = "n")]
    pub log_config: LogConfig,
    /// `default`, `bridge`, `host`, `none`, `container:<id|name>` or a network name.
    #[serde(deserialize_with = "n")]
    pub network_mode: String,
    /// `"80/tcp"` -> host bindings (`null` when exposed but not published).
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    #[serde(deserialize_with = "n")]
    pub restart_policy: RestartPolicy,
    #[serde(deserialize_with = "n")]
    pub auto_remove: bool,
    #[serde(deserialize_with = "n")]
    pub volume_driver: String,
    pub volumes_from: Option<Vec<String>>,
    #[serde(deserialize_with = "str_slice")]
    pub cap_add: Option<Vec<String>>,
    #[serde(deserialize_with = "str_slice")]
    pub cap_drop: Option<Vec<String>>,
    /// `""`, `private` or `host`.
    #[serde(deserialize_with = "n")]
    pub cgroupns_mode: String,
    pub dns: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    /// `host:ip` entries for /etc/hosts.
    pub extra_hosts: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    /// `""`, `none`, `private`, `shareable`, `host` or `container:<id|name>`.
    #[serde(deserialize_with = "n")]
    pub ipc_mode: String,
    #[serde(deserialize_with = "n")]
    pub cgroup: String,
    pub links: Option<Vec<String>>,
    #[serde(deserialize_with = "n")]
    pub oom_score_adj: i64,
    /// `""`, `host` or `container:<id|name>`.
    #[serde(deserialize_with = "n")]
    pub pid_mode: String,
    #[serde(deserialize_with = "n")]
    pub privileged: bool,
    #[serde(deserialize_with = "n")]
    pub publish_all_ports: bool,
    #[serde(deserialize_with = "n")]
    pub readonly_rootfs: bool,
    /// `seccomp=...`, `apparmor=...`, `no-new-privileges[:true]`, `label=...`.
    pub security_opt: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub storage_opt: Option<BTreeMap<String, String>>,
    /// Mount point -> tmpfs options (`size=64m,mode=1777`).
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub tmpfs: Option<BTreeMap<String, String>>,
    /// `""` or `host`.
    #[serde(rename = "UTSMode", deserialize_with = "n")]
    pub uts_mode: String,
    #[serde(deserialize_with = "n")]
    pub userns_mode: String,
    /// Size of /dev/shm in bytes; 0 means the daemon's default (64 MiB).
    #[serde(deserialize_with = "n")]
    pub shm_size: i64,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub sysctls: Option<BTreeMap<String, String>>,
    /// The OCI runtime's name; empty means the daemon's default.
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub runtime: String,
    /// Initial console size, `[height, width]`.
    #[serde(deserialize_with = "n")]
    pub console_size: [u64; 2],
    #[serde(deserialize_with = "n")]
    pub isolation: String,
    #[serde(flatten)]
    pub resources: Resources,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub mounts: Option<Vec<Mount>>,
    /// `None` means the daemon's default list; `Some(vec![])` masks nothing.
    pub masked_paths: Option<Vec<String>>,
    /// `None` means the daemon's default list; `Some(vec![])` makes nothing read-only.
    pub readonly_paths: Option<Vec<String>>,
    /// Run an init process (docker-init) as PID 1; `None` means the daemon's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
}

/// Resource limits (Go `container.Resources`), inlined in [`HostConfig`] and the body
/// of `POST /containers/{id}/update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    #[serde(deserialize_with = "n")]
    pub cpu_shares: i64,
    /// Bytes; 0 is unlimited.
    #[serde(deserialize_with = "n")]
    pub memory: i64,
    /// CPU quota in units of 1e-9 CPUs.
    #[serde(deserialize_with = "n")]
    pub nano_cpus: i64,
    #[serde(deserialize_with = "n")]
    pub cgroup_parent: String,
    #[serde(deserialize_with = "n")]
    pub blkio_weight: u16,
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    #[serde(deserialize_with = "n")]
    pub cpu_period: i64,
    #[serde(deserialize_with = "n")]
    pub cpu_quota: i64,
    #[serde(deserialize_with = "n")]
    pub cpu_realtime_period: i64,
    #[serde(deserialize_with = "n")]
    pub cpu_realtime_runtime: i64,
    #[serde(deserialize_with = "n")]
    pub cpuset_cpus: String,
    #[serde(deserialize_with = "n")]
    pub cpuset_mems: String,
    pub devices: Option<Vec<DeviceMapping>>,
    pub device_cgroup_rules: Option<Vec<String>>,
    pub device_requests: Option<Vec<DeviceRequest>>,
    #[serde(deserialize_with = "n")]
    pub kernel_memory: i64,
    #[serde(rename = "KernelMemoryTCP", deserialize_with = "n")]
    pub kernel_memory_tcp: i64,
    #[serde(deserialize_with = "n")]
    pub memory_reservation: i64,
    /// Memory + swap in bytes; -1 is unlimited swap.
    #[serde(deserialize_with = "n")]
    pub memory_swap: i64,
    /// 0..=100; -1 (as the CLI sends by default) or `None` leaves the kernel's value.
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    /// 0 or -1 is unlimited; `None` leaves it unchanged (update).
    pub pids_limit: Option<i64>,
    pub ulimits: Option<Vec<Ulimit>>,
    #[serde(deserialize_with = "n")]
    pub cpu_count: i64,
    #[serde(deserialize_with = "n")]
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps", deserialize_with = "n")]
    pub io_maximum_iops: u64,
    #[serde(rename = "IOMaximumBandwidth", deserialize_with = "n")]
    pub io_maximum_bandwidth: u64,
}

/// The body of `POST /containers/{id}/update` (Go `container.UpdateConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateConfig {
    #[serde(flatten)]
    pub resources: Resources,
    #[serde(deserialize_with = "n")]
    pub restart_policy: RestartPolicy,
}

/// The log driver and its options (`--log-driver`, `--log-opt`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// Driver name; empty means the daemon's default.
    #[serde(deserialize_with = "n")]
    pub r#type: String,
    pub config: Option<BTreeMap<String, String>>,
}

/// What to do when the container exits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// `""`/`no`, `always`, `unless-stopped` or `on-failure`.
    #[serde(deserialize_with = "n")]
    pub name: String,
    #[serde(deserialize_with = "n")]
    pub maximum_retry_count: i64,
}

/// A published port: where on the host a container port is reachable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    #[serde(rename = "HostIp", deserialize_with = "n")]
    pub host_ip: String,
    #[serde(rename = "HostPort", deserialize_with = "n")]
    pub host_port: String,
}

/// A host device made available in the container (`--device`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    #[serde(deserialize_with = "n")]
    pub path_on_host: String,
    #[serde(deserialize_with = "n")]
    pub path_in_container: String,
    /// Some of `rwm`.
    #[serde(deserialize_with = "n")]
    pub cgroup_permissions: String,
}

/// A request for devices from a device driver (`--gpus`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceRequest {
    #[serde(deserialize_with = "n")]
    pub driver: String,
    /// -1 is all.
    #[serde(deserialize_with = "n")]
    pub count: i64,
    #[serde(rename = "DeviceIDs")]
    pub device_ids: Option<Vec<String>>,
    /// An OR list of AND lists of capabilities.
    pub capabilities: Option<Vec<Vec<String>>>,
    pub options: Option<BTreeMap<String, String>>,
}

/// A block device's IO weight (`--blkio-weight-device`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    #[serde(deserialize_with = "n")]
    pub path: String,
    #[serde(deserialize_with = "n")]
    pub weight: u16,
}

/// A block device's IO rate limit (`--device-read-bps` and friends).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    #[serde(deserialize_with = "n")]
    pub path: String,
    #[serde(deserialize_with = "n")]
    pub rate: u64,
}

/// A resource limit (`--ulimit nofile=1024:2048`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    #[serde(deserialize_with = "n")]
    pub name: String,
    #[serde(deserialize_with = "n")]
    pub hard: i64,
    #[serde(deserialize_with = "n")]
    pub soft: i64,
}

/// A mount given with `--mount` (Go `mount.Mount`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// `bind`, `volume`, `tmpfs` or `npipe`.
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub r#type: String,
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub source: String,
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub target: String,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "n")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// Options of a bind mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    /// `rprivate`, `private`, `rshared`, `shared`, `rslave` or `slave`.
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub propagation: String,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "n")]
    pub non_recursive: bool,
}

/// Options of a volume mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    #[serde(skip_serializing_if = "is_false", deserialize_with = "n")]
    pub no_copy: bool,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<VolumeDriver>,
}

/// The volume driver of a volume mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeDriver {
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub name: String,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub options: Option<BTreeMap<String, String>>,
}

/// Options of a tmpfs mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "n")]
    pub size_bytes: i64,
    /// Go's `os.FileMode` bits (permission bits for a directory).
    #[serde(skip_serializing_if = "crate::de::is_zero_u64", deserialize_with = "n")]
    pub mode: u64,
}
