//! The network parts a container carries (its endpoint settings). The network objects
//! themselves (`/networks` endpoints) are defined later, with networking.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::de::{is_empty_str, is_none_or_empty, nullable as n};

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
