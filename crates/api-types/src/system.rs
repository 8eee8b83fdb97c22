//! System models of Engine API v1.41: `GET /version`, `GET /info`, `GET /system/df` and
//! `POST /auth` (with the `X-Registry-Auth` header's payload).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::de::{is_empty_str, is_false, is_none_or_empty};

/// The response of `GET /version` (Go `types.Version`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Version {
    pub platform: Platform,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub components: Option<Vec<ComponentVersion>>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion", skip_serializing_if = "is_empty_str")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub kernel_version: String,
    #[serde(skip_serializing_if = "is_false")]
    pub experimental: bool,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub build_time: String,
}

/// The product name shown by `docker version` (`Server: <Name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Platform {
    pub name: String,
}

/// One server component listed by `docker version` (`Engine`, `containerd`, `runc`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ComponentVersion {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub details: Option<BTreeMap<String, String>>,
}

/// The response of `GET /info` (Go `types.Info`), every field `docker info` reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Info {
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    pub driver: String,
    /// Label/value pairs shown under `Storage Driver`.
    pub driver_status: Option<Vec<[String; 2]>>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub system_status: Option<Vec<[String; 2]>>,
    pub plugins: PluginsInfo,
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub kernel_memory: bool,
    #[serde(rename = "KernelMemoryTCP")]
    pub kernel_memory_tcp: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    pub pids_limit: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    pub bridge_nf_iptables: bool,
    pub bridge_nf_ip6tables: bool,
    pub debug: bool,
    #[serde(rename = "NFd")]
    pub nfd: i64,
    pub oom_kill_disable: bool,
    #[serde(rename = "NGoroutines")]
    pub ngoroutines: i64,
    /// RFC 3339 with nanoseconds and the local offset.
    pub system_time: String,
    pub logging_driver: String,
    /// `cgroupfs` or `systemd`.
    pub cgroup_driver: String,
    /// `1` or `2`.
    #[serde(skip_serializing_if = "is_empty_str")]
    pub cgroup_version: String,
    #[serde(rename = "NEventsListener")]
    pub nevents_listener: i64,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    pub index_server_address: String,
    pub registry_config: Option<RegistryConfig>,
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    pub mem_total: i64,
    pub generic_resources: Option<Vec<serde_json::Value>>,
    pub docker_root_dir: String,
    pub http_proxy: String,
    pub https_proxy: String,
    pub no_proxy: String,
    pub name: String,
    pub labels: Option<Vec<String>>,
    pub experimental_build: bool,
    pub server_version: String,
    pub runtimes: Option<BTreeMap<String, Runtime>>,
    pub default_runtime: String,
    pub swarm: SwarmInfo,
    pub live_restore_enabled: bool,
    pub isolation: String,
    pub init_binary: String,
    pub containerd_commit: Commit,
    pub runc_commit: Commit,
    pub init_commit: Commit,
    /// `name=seccomp,profile=default`, `name=cgroupns`, ...
    pub security_options: Option<Vec<String>>,
    pub warnings: Option<Vec<String>>,
}

/// Installed plugins by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PluginsInfo {
    pub volume: Option<Vec<String>>,
    pub network: Option<Vec<String>>,
    pub authorization: Option<Vec<String>>,
    pub log: Option<Vec<String>>,
}

/// Registry settings (Go `registry.ServiceConfig`); CIDRs are strings (`127.0.0.0/8`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegistryConfig {
    #[serde(rename = "AllowNondistributableArtifactsCIDRs")]
    pub allow_nondistributable_artifacts_cidrs: Option<Vec<String>>,
    pub allow_nondistributable_artifacts_hostnames: Option<Vec<String>>,
    #[serde(rename = "InsecureRegistryCIDRs")]
    pub insecure_registry_cidrs: Option<Vec<String>>,
    pub index_configs: Option<BTreeMap<String, IndexInfo>>,
    pub mirrors: Option<Vec<String>>,
}

/// One registry's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IndexInfo {
    pub name: String,
    pub mirrors: Option<Vec<String>>,
    pub secure: bool,
    pub official: bool,
}

/// A configured OCI runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Runtime {
    pub path: String,
    #[serde(rename = "runtimeArgs", skip_serializing_if = "is_none_or_empty")]
    pub args: Option<Vec<String>>,
}

/// A component's commit and the one the daemon expects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Commit {
    #[serde(rename = "ID")]
    pub id: String,
    pub expected: String,
}

/// The swarm part of [`Info`]; berth has no swarm mode, so [`SwarmInfo::default`] is
/// the inactive node (`docker inspect` relies on `LocalNodeState: "inactive"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SwarmInfo {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_addr: String,
    pub local_node_state: String,
    pub control_available: bool,
    pub error: String,
    pub remote_managers: Option<Vec<SwarmPeer>>,
}

impl Default for SwarmInfo {
    fn default() -> Self {
        SwarmInfo {
            node_id: String::new(),
            node_addr: String::new(),
            local_node_state: "inactive".to_string(),
            control_available: false,
            error: String::new(),
            remote_managers: None,
        }
    }
}

/// A swarm manager.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SwarmPeer {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub addr: String,
}

/// The response of `GET /system/df` (Go `types.DiskUsage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskUsage {
    pub layers_size: i64,
    pub images: Option<Vec<crate::image::Summary>>,
    pub containers: Option<Vec<crate::container::Summary>>,
    /// Local volumes without driver options, with their `UsageData`.
    pub volumes: Option<Vec<crate::volume::Volume>>,
    pub build_cache: Option<Vec<BuildCache>>,
    /// Sum of the build cache sizes (deprecated, still written by dockerd 20.10).
    pub builder_size: i64,
}

/// A build cache record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BuildCache {
    #[serde(rename = "ID")]
    pub id: String,
    pub parent: String,
    pub r#type: String,
    pub description: String,
    pub in_use: bool,
    pub shared: bool,
    pub size: i64,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub usage_count: i64,
}

/// Registry credentials: the body of `POST /auth` and, base64url-encoded, the
/// `X-Registry-Auth` header of pull and push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    #[serde(skip_serializing_if = "is_empty_str")]
    pub username: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub password: String,
    /// base64 of `username:password`.
    #[serde(skip_serializing_if = "is_empty_str")]
    pub auth: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub email: String,
    #[serde(rename = "serveraddress", skip_serializing_if = "is_empty_str")]
    pub server_address: String,
    #[serde(rename = "identitytoken", skip_serializing_if = "is_empty_str")]
    pub identity_token: String,
    #[serde(rename = "registrytoken", skip_serializing_if = "is_empty_str")]
    pub registry_token: String,
}

/// The header carrying an [`AuthConfig`].
pub const REGISTRY_AUTH_HEADER: &str = "X-Registry-Auth";

impl AuthConfig {
    /// Decodes an `X-Registry-Auth` value. Like dockerd, a value that does not decode
    /// gives empty credentials (anonymous access) rather than an error; padding and the
    /// standard alphabet are tolerated as well.
    pub fn from_header_value(value: &str) -> AuthConfig {
        use base64::Engine as _;
        use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
        use base64::engine::{DecodePaddingMode, general_purpose};
        const URL_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        let value = value.trim();
        let bytes = URL_ANY_PAD
            .decode(value)
            .or_else(|_| STANDARD.decode(value))
            .or_else(|_| general_purpose::STANDARD_NO_PAD.decode(value));
        bytes
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Encodes for the `X-Registry-Auth` header (base64url with padding, as the CLI does).
    pub fn to_header_value(&self) -> String {
        use base64::Engine as _;
        // A struct of strings always serializes.
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE.encode(json)
    }
}

/// The response of `POST /auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AuthResponse {
    pub identity_token: String,
    /// `Login Succeeded`.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn default_info_has_inactive_swarm_and_every_field() {
        let v = serde_json::to_value(Info::default()).unwrap();
        assert_eq!(
            v["Swarm"],
            json!({"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                   "ControlAvailable": false, "Error": "", "RemoteManagers": null})
        );
        let o = v.as_object().unwrap();
        // Go's types.Info has 64 fields; SystemStatus, CgroupVersion (omitempty) and the
        // deprecated or swarm-only ClusterStore, ClusterAdvertise, ProductLicense,
        // DefaultAddressPools are left out.
        assert_eq!(o.len(), 58, "{:?}", o.keys().collect::<Vec<_>>());
        for k in [
            "CpuCfsPeriod",
            "BridgeNfIp6tables",
            "HttpProxy",
            "NFd",
            "NEventsListener",
        ] {
            assert!(o.contains_key(k), "{k}");
        }
        assert_eq!(v["InitCommit"], json!({"ID": "", "Expected": ""}));
        assert_eq!(v["RegistryConfig"], Value::Null);
    }

    #[test]
    fn version_omits_empty_optional_fields() {
        let v = Version {
            platform: Platform {
                name: "berth".into(),
            },
            version: "0.1.0".into(),
            api_version: "1.41".into(),
            min_api_version: "1.12".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"Platform":{"Name":"berth"},"Version":"0.1.0","ApiVersion":"1.41","MinAPIVersion":"1.12","GitCommit":"","GoVersion":"","Os":"linux","Arch":"amd64"}"#
        );
    }

    #[test]
    fn runtime_args_use_dockerd_names() {
        let r = Runtime {
            path: "runc".into(),
            args: Some(vec!["--debug".into()]),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"path":"runc","runtimeArgs":["--debug"]}"#
        );
    }

    #[test]
    fn auth_header_round_trips_and_tolerates_garbage() {
        let a = AuthConfig {
            username: "u".into(),
            password: "p>?~".into(),
            server_address: "localhost:5000".into(),
            ..Default::default()
        };
        let h = a.to_header_value();
        assert_eq!(AuthConfig::from_header_value(&h), a);
        assert_eq!(AuthConfig::from_header_value(h.trim_end_matches('=')), a);
        // The CLI sends "e30=" ("{}") when it has no credentials.
        assert_eq!(AuthConfig::from_header_value("e30="), AuthConfig::default());
        assert_eq!(AuthConfig::from_header_value("!!"), AuthConfig::default());
    }
}
