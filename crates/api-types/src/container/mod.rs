//! Container models of Engine API v1.41: the create request ([`CreateRequest`] =
//! [`Config`] + [`HostConfig`] + [`NetworkingConfig`]), inspect and list responses, the
//! small responses of the lifecycle endpoints, stats and the archive path stat.

mod config;
mod inspect;
mod stats;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use config::{
    BindOptions, Config, DeviceMapping, DeviceRequest, HealthConfig, HostConfig, LogConfig, Mount,
    PortBinding, Resources, RestartPolicy, ThrottleDevice, TmpfsOptions, Ulimit, UpdateConfig,
    VolumeDriver, VolumeOptions, WeightDevice,
};
pub use inspect::{
    GraphDriver, Health, HealthcheckResult, InspectResponse, MountPoint, NetworkSettings, Port,
    State, Summary, SummaryHostConfig, SummaryNetworkSettings,
};
pub use stats::{
    BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, NetworkStats, PidsStats,
    StatsResponse, StorageStats, ThrottlingData,
};

use crate::de::nullable as n;
use crate::network::EndpointSettings;

/// The networks to connect a new container to, by network name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: Option<BTreeMap<String, EndpointSettings>>,
}

/// The body of `POST /containers/create`: the [`Config`] fields at the top level, plus
/// `HostConfig` and `NetworkingConfig` objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRequest {
    #[serde(flatten)]
    pub config: Config,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_config: Option<HostConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networking_config: Option<NetworkingConfig>,
}

/// The response of `POST /containers/create` (201).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateResponse {
    pub id: String,
    /// dockerd 20.10 writes `[]` when there is no warning.
    pub warnings: Option<Vec<String>>,
}

/// The response of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitResponse {
    /// Set when waiting failed (not when the container failed).
    pub error: Option<WaitError>,
    pub status_code: i64,
}

/// Why waiting for a container failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitError {
    #[serde(
        skip_serializing_if = "crate::de::is_empty_str",
        deserialize_with = "n"
    )]
    pub message: String,
}

/// The response of `GET /containers/{id}/top`: ps's header and one row per process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TopResponse {
    pub processes: Option<Vec<Vec<String>>>,
    pub titles: Option<Vec<String>>,
}

/// One item of `GET /containers/{id}/changes` (dockerd writes its archive.Change,
/// so `Path` comes before `Kind`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ChangeItem {
    pub path: String,
    pub kind: ChangeKind,
}

/// How a path changed in a container's rw layer; written as a number (0, 1, 2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum ChangeKind {
    #[default]
    Modified,
    Added,
    Deleted,
}

impl From<ChangeKind> for u8 {
    fn from(k: ChangeKind) -> u8 {
        match k {
            ChangeKind::Modified => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

impl TryFrom<u8> for ChangeKind {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            0 => Ok(ChangeKind::Modified),
            1 => Ok(ChangeKind::Added),
            2 => Ok(ChangeKind::Deleted),
            _ => Err(format!("invalid change kind {v}")),
        }
    }
}

/// The response of `POST /containers/{id}/update`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateResponse {
    pub warnings: Option<Vec<String>>,
}

/// The response of `POST /containers/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PruneResponse {
    pub containers_deleted: Option<Vec<String>>,
    pub space_reclaimed: u64,
}

/// A path's stat in a container, sent base64-encoded in the
/// `X-Docker-Container-Path-Stat` header of the archive endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode`: permission bits plus Go's type bits (dir = 1<<31,
    /// symlink = 1<<27, ...), not the `st_mode` file type bits.
    pub mode: u32,
    /// RFC 3339 with nanoseconds.
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go `os.FileMode` type bits used in [`PathStat::mode`].
pub mod file_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// The name of the header carrying a [`PathStat`].
pub const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

impl PathStat {
    /// The header value: standard base64 of the JSON, as dockerd writes it.
    pub fn to_header_value(&self) -> String {
        use base64::Engine as _;
        // Serializing a struct of strings and integers cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    /// Parses a header value written by [`PathStat::to_header_value`].
    pub fn from_header_value(value: &str) -> Result<PathStat, PathStatError> {
        use base64::Engine as _;
        let json = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(PathStatError::Base64)?;
        serde_json::from_slice(&json).map_err(PathStatError::Json)
    }
}

/// Errors of [`PathStat::from_header_value`].
#[derive(Debug, thiserror::Error)]
pub enum PathStatError {
    #[error("decode path stat header: {0}")]
    Base64(#[source] base64::DecodeError),
    #[error("parse path stat header: {0}")]
    Json(#[source] serde_json::Error),
}

#[cfg(test)]
mod tests;
