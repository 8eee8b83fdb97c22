//! What dockerd says about a container: an item of `GET /containers/json` ([`Summary`])
//! and `GET /containers/{id}/json` ([`InspectResponse`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Config, HostConfig, PortBinding};
use crate::de::{ZERO_TIME, is_empty_str, is_zero_i64, nullable as n};
use crate::network::{Address, EndpointSettings};

/// An item of `GET /containers/json` (Go `types.Container`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Summary {
    #[serde(rename = "Id")]
    pub id: String,
    /// Names with their leading slash (`/web`).
    pub names: Option<Vec<String>>,
    /// The image as the user named it (or its ID once that name points elsewhere).
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Path and args joined with spaces.
    pub command: String,
    /// Unix seconds.
    pub created: i64,
    pub ports: Option<Vec<Port>>,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub size_rw: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub size_root_fs: i64,
    pub labels: Option<BTreeMap<String, String>>,
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    pub state: String,
    /// Human text: `Up 2 minutes`, `Exited (0) 3 seconds ago`, ...
    pub status: String,
    #[serde(deserialize_with = "n")]
    pub host_config: SummaryHostConfig,
    #[serde(deserialize_with = "n")]
    pub network_settings: SummaryNetworkSettings,
    pub mounts: Option<Vec<MountPoint>>,
}

/// The part of the host config shown in [`Summary`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryHostConfig {
    #[serde(skip_serializing_if = "is_empty_str")]
    pub network_mode: String,
}

/// The networks shown in [`Summary`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryNetworkSettings {
    pub networks: Option<BTreeMap<String, EndpointSettings>>,
}

/// A port in [`Summary`]: a container port and, when published, where on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Port {
    #[serde(rename = "IP", skip_serializing_if = "is_empty_str")]
    pub ip: String,
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    #[serde(rename = "PublicPort", skip_serializing_if = "is_zero_u16")]
    pub public_port: u16,
    /// `tcp`, `udp` or `sctp`.
    #[serde(rename = "Type")]
    pub r#type: String,
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

/// A mount as shown by inspect and list (Go `types.MountPoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(skip_serializing_if = "is_empty_str")]
    pub r#type: String,
    /// The volume's name (volumes only).
    #[serde(skip_serializing_if = "is_empty_str")]
    pub name: String,
    pub source: String,
    pub destination: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub driver: String,
    /// The mode string given by the user (`ro`, `z`, ...).
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

/// The response of `GET /containers/{id}/json` (Go `types.ContainerJSON`).
///
/// dockerd always fills `State`, `HostConfig`, `Config` and `NetworkSettings`, so they
/// are plain values here (a `null` is read as the default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InspectResponse {
    #[serde(rename = "Id")]
    pub id: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    pub path: String,
    pub args: Option<Vec<String>>,
    #[serde(deserialize_with = "n")]
    pub state: State,
    /// The image ID (`sha256:...`).
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    /// With its leading slash.
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    #[serde(deserialize_with = "n")]
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    /// Only with `?size=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Only with `?size=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    pub mounts: Option<Vec<MountPoint>>,
    #[serde(deserialize_with = "n")]
    pub config: Config,
    #[serde(deserialize_with = "n")]
    pub network_settings: NetworkSettings,
}

/// A container's run state (Go `types.ContainerState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct State {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    /// 0 when not running.
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    /// RFC 3339 with nanoseconds; Go's zero time before the first start.
    pub started_at: String,
    /// RFC 3339 with nanoseconds; Go's zero time before the first exit.
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: "created".to_string(),
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.to_string(),
            finished_at: ZERO_TIME.to_string(),
            health: None,
        }
    }
}

/// A container's health (only for containers with a health check).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: i64,
    /// The last results, oldest first.
    pub log: Option<Vec<HealthcheckResult>>,
}

/// One run of a health check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthcheckResult {
    pub start: String,
    pub end: String,
    /// 0 healthy, 1 unhealthy, else an error running the probe.
    pub exit_code: i64,
    pub output: String,
}

/// The storage driver's view of a container or image (`overlay2` with its
/// `LowerDir`/`UpperDir`/`WorkDir`/`MergedDir`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GraphDriver {
    pub data: Option<BTreeMap<String, String>>,
    pub name: String,
}

/// A container's network settings (Go `types.NetworkSettings`). The top-level
/// addresses are those of the default bridge network (empty elsewhere).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: i64,
    /// `"80/tcp"` -> host bindings (`null` when exposed but not published).
    pub ports: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    pub sandbox_key: String,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    pub mac_address: String,
    pub networks: Option<BTreeMap<String, EndpointSettings>>,
}
