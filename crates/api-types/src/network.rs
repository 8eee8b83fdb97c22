//! The network parts a container carries (its endpoint settings). The network objects
//! themselves (`/networks` endpoints) follow: [`Network`] (list and inspect),
//! [`NetworkCreateRequest`], connect and disconnect bodies, the prune report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::de::{is_empty_str, is_none_or_empty, is_zero_i64, nullable as n};

/// A container's endpoint on one network (Go `network.EndpointSettings`, v1.41 fields):
/// in `NetworkingConfig.EndpointsConfig` of a create request and in
/// `NetworkSettings.Networks` of inspect and list responses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "NetworkID", deserialize_with = "n")]
    pub network_id: String,
    #[serde(rename = "EndpointID", deserialize_with = "n")]
    pub endpoint_id: String,
    #[serde(deserialize_with = "n")]
    pub gateway: String,
    #[serde(rename = "IPAddress", deserialize_with = "n")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen", deserialize_with = "n")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway", deserialize_with = "n")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address", deserialize_with = "n")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen", deserialize_with = "n")]
    pub global_ipv6_prefix_len: i64,
    #[serde(deserialize_with = "n")]
    pub mac_address: String,
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// API 1.48's `--gw-priority`, which the docker CLI sends to any daemon (0 when
    /// not given). Left out when 0, so API 1.41 responses do not show it.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "n")]
    pub gw_priority: i64,
}

/// Static addresses requested for an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        skip_serializing_if = "is_empty_str",
        deserialize_with = "n"
    )]
    pub ipv4_address: String,
    #[serde(
        rename = "IPv6Address",
        skip_serializing_if = "is_empty_str",
        deserialize_with = "n"
    )]
    pub ipv6_address: String,
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "is_none_or_empty")]
    pub link_local_ips: Option<Vec<String>>,
}

/// An IP address with its prefix length.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Address {
    #[serde(deserialize_with = "n")]
    pub addr: String,
    #[serde(deserialize_with = "n")]
    pub prefix_len: i64,
}

/// A network as `GET /networks` and `GET /networks/{id}` show it (Go
/// `types.NetworkResource`, v1.41 fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Network {
    pub name: String,
    #[serde(rename = "Id")]
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigReference,
    pub config_only: bool,
    /// Container id -> its endpoint; shown by inspect (empty in lists).
    pub containers: BTreeMap<String, NetworkContainer>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// `ConfigFrom` of a network (config-only networks are not supported:
/// always the empty reference, as dockerd shows it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigReference {
    pub network: String,
}

/// A network's address management.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    #[serde(deserialize_with = "n")]
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub config: Option<Vec<IpamConfig>>,
}

/// One address pool of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub subnet: String,
    #[serde(
        rename = "IPRange",
        skip_serializing_if = "is_empty_str",
        deserialize_with = "n"
    )]
    pub ip_range: String,
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub gateway: String,
    /// `--aux-address`: names for addresses the driver must not hand out.
    #[serde(
        rename = "AuxiliaryAddresses",
        skip_serializing_if = "is_none_or_empty"
    )]
    pub aux_address: Option<BTreeMap<String, String>>,
}

/// A container's endpoint as a network's inspect shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    /// `172.18.0.2/16`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// `POST /networks/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateRequest {
    #[serde(deserialize_with = "n")]
    pub name: String,
    pub check_duplicate: bool,
    #[serde(deserialize_with = "n")]
    pub driver: String,
    #[serde(deserialize_with = "n")]
    pub scope: String,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_only: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// API 1.47's `--ipv4` (the docker CLI sends it to any daemon when the flag is
    /// given); `None` when absent.
    #[serde(rename = "EnableIPv4", skip_serializing_if = "Option::is_none")]
    pub enable_ipv4: Option<bool>,
    /// `--config-from`: the config-only network whose configuration to use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_from: Option<ConfigReference>,
    pub options: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

/// The answer to a network create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateResponse {
    #[serde(rename = "Id")]
    pub id: String,
    pub warning: String,
}

/// `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkConnectRequest {
    #[serde(deserialize_with = "n")]
    pub container: String,
    pub endpoint_config: Option<EndpointSettings>,
}

/// `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkDisconnectRequest {
    #[serde(deserialize_with = "n")]
    pub container: String,
    pub force: bool,
}

/// The answer to `POST /networks/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkPruneResponse {
    pub networks_deleted: Option<Vec<String>>,
}
