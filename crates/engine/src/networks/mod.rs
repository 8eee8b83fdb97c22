//! The network service: the networks (records on disk), their endpoints
//! (in memory, rebuilt from the running containers on restore), the host
//! side of bridges, and the firewall table.
//!
//! Vocabulary, as in dockerd: a *network* has a driver (`bridge`,
//! `macvlan`, `ipvlan`, and the predefined `host` and `null`), an address
//! pool, and *endpoints*: a container's interface on it, with an address
//! and a MAC. Endpoints exist while their container runs: they are made
//! after the runtime has created the container's network namespace and
//! before its process starts ([`attach`]), and released when it exits.
//!
//! Records: `<data-root>/networks/<id>.json`, one per network, written
//! atomically; the predefined `bridge`, `host` and `none` are records too,
//! so their ids stay the same across restarts.

mod api;
pub(crate) mod attach;
pub(crate) mod container;
mod dns;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use berth_network::firewall::{self, BridgeRules, PortMap, Ruleset};
use berth_network::ipam::{self, Pool};
use serde::{Deserialize, Serialize};

use crate::ErrorKind;

pub use api::ListFilters;

/// Errors of the network service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network with name {0} already exists")]
    NameConflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Ipam(#[source] ipam::Error),
    #[error("error while removing network: network {name} id {id} has active endpoints")]
    InUse { name: String, id: String },
    #[error("{name} is a pre-defined network and cannot be removed")]
    Predefined { name: String },
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
    #[error("endpoint with name {container} already exists in network {network}")]
    AlreadyConnected { container: String, network: String },
    #[error(
        "driver failed programming external connectivity on endpoint {endpoint}: Error starting userland proxy: {source}"
    )]
    Publish {
        endpoint: String,
        #[source]
        source: berth_network::proxy::Error,
    },
    #[error("Bind for {addr} failed: port is already allocated")]
    PortAllocated { addr: String },
    #[error("invalid port specification: {0:?}")]
    InvalidPort(String),
    #[error("{0}")]
    Link(#[source] berth_network::link::Error),
    #[error("{0}")]
    Firewall(#[source] firewall::Error),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse network record {path}: {source}")]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::NameConflict(_)
            | Error::InUse { .. }
            | Error::AlreadyConnected { .. }
            | Error::Ipam(ipam::Error::AddressInUse { .. }) => ErrorKind::Conflict,
            Error::Predefined { .. } => ErrorKind::Forbidden,
            Error::Invalid(_) | Error::Ipam(_) | Error::InvalidPort(_) => {
                ErrorKind::InvalidArgument
            }
            Error::NotConnected { .. } => ErrorKind::Conflict,
            Error::Publish { .. }
            | Error::PortAllocated { .. }
            | Error::Link(_)
            | Error::Firewall(_)
            | Error::Io { .. }
            | Error::Record { .. } => ErrorKind::Internal,
        }
    }
}

/// A network as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    /// `bridge`, `macvlan`, `ipvlan`, `host` or `null`.
    pub driver: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub ipam_options: BTreeMap<String, String>,
    /// Whether the user gave the subnet (inspect shows the IPAM config
    /// either way; dockerd shows what it chose too).
    #[serde(default)]
    pub pool: Option<Pool>,
    /// The bridge device (bridge driver) or the parent interface
    /// (macvlan, ipvlan).
    #[serde(default)]
    pub device: String,
    /// The default `bridge`, `host` and `none`.
    #[serde(default)]
    pub predefined: bool,
}

impl NetworkRecord {
    /// Whether containers get an interface of their own on it.
    pub fn has_endpoints(&self) -> bool {
        matches!(self.driver.as_str(), "bridge" | "macvlan" | "ipvlan")
    }

    /// User-defined networks get the embedded DNS server (the default
    /// bridge does not, as in dockerd).
    pub fn embedded_dns(&self) -> bool {
        self.has_endpoints() && !(self.predefined && self.name == "bridge")
    }

    fn masquerade(&self) -> bool {
        self.options
            .get("com.docker.network.bridge.enable_ip_masquerade")
            .is_none_or(|v| v != "false")
    }

    fn mtu(&self) -> Option<u32> {
        self.options
            .get("com.docker.network.driver.mtu")
            .and_then(|m| m.parse().ok())
            .filter(|m| *m > 0)
    }
}

/// A container's endpoint on a network, while it runs.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub container_name: String,
    pub endpoint_id: String,
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    /// Names the embedded DNS answers for: the container's name, its
    /// short id, and its aliases on this network.
    pub names: Vec<String>,
    /// The host end of the veth pair (bridge driver).
    pub host_veth: Option<String>,
    /// The interface's name inside the container (empty when restored).
    pub ifname: String,
}

#[derive(Default)]
struct Registry {
    networks: BTreeMap<String, NetworkRecord>,
    /// network id -> container id -> endpoint.
    endpoints: BTreeMap<String, BTreeMap<String, Endpoint>>,
    /// container id -> published ports.
    ports: BTreeMap<String, Vec<PortMap>>,
}

/// Daemon settings of the default bridge (`bridge`, `bip`, `mtu` in
/// daemon.json) and the firewall table's name.
#[derive(Debug, Clone)]
pub struct BridgeSettings {
    pub bridge: String,
    pub bip: Option<String>,
    pub mtu: Option<u32>,
    pub table: String,
}

impl Default for BridgeSettings {
    fn default() -> Self {
        BridgeSettings {
            bridge: "berth0".to_string(),
            bip: None,
            mtu: None,
            table: "berth".to_string(),
        }
    }
}

/// The network service; see the module docs.
pub struct NetworkService {
    dir: PathBuf,
    settings: BridgeSettings,
    reg: Mutex<Registry>,
    /// The userland proxies of each container's published ports.
    proxies: Mutex<BTreeMap<String, Vec<berth_network::proxy::Proxy>>>,
    /// Embedded DNS servers per container.
    dns: Mutex<BTreeMap<String, dns::Servers>>,
    /// Serializes firewall applications, so the last one applied is the
    /// latest state.
    firewall: Mutex<()>,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

impl NetworkService {
    /// Loads the records and makes the predefined networks that are
    /// missing. Touches no link or rule (see [`NetworkService::init_host`]).
    pub fn open(data_root: &Path, settings: BridgeSettings) -> Result<NetworkService, Error> {
        let dir = data_root.join("networks");
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let mut networks = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(io("read", &dir))? {
            let path = entry.map_err(io("read", &dir))?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(io("read", &path))?;
            let rec: NetworkRecord =
                serde_json::from_slice(&bytes).map_err(|source| Error::Record { path, source })?;
            networks.insert(rec.id.clone(), rec);
        }
        let svc = NetworkService {
            dir,
            settings,
            reg: Mutex::new(Registry {
                networks,
                ..Registry::default()
            }),
            proxies: Mutex::new(BTreeMap::new()),
            dns: Mutex::new(BTreeMap::new()),
            firewall: Mutex::new(()),
        };
        svc.ensure_predefined()?;
        Ok(svc)
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ensure_predefined(&self) -> Result<(), Error> {
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
            let existing = self
                .lock()
                .networks
                .values()
                .find(|n| n.predefined && n.name == name)
                .cloned();
            let mut rec = match existing {
                Some(r) => r,
                None => NetworkRecord {
                    id: crate::containers::names::new_id(),
                    name: name.to_string(),
                    created: jiff::Timestamp::now().to_string(),
                    driver: driver.to_string(),
                    internal: false,
                    attachable: false,
                    labels: BTreeMap::new(),
                    options: BTreeMap::new(),
                    ipam_options: BTreeMap::new(),
                    pool: None,
                    device: String::new(),
                    predefined: true,
                },
            };
            let before = rec.clone();
            if name == "bridge" && self.settings.bridge == "none" {
                // `--bridge none` (dockerd's way to disable the default
                // bridge): containers on it get loopback only.
                rec.driver = "null".to_string();
                rec.device.clear();
                rec.pool = None;
                rec.options.clear();
            } else if name == "bridge" {
                rec.driver = "bridge".to_string();
                self.default_bridge_config(&mut rec)?;
            }
            if rec != before || !self.dir.join(format!("{}.json", rec.id)).exists() {
                self.write_record(&rec)?;
            }
            self.lock().networks.insert(rec.id.clone(), rec);
        }
        Ok(())
    }

    /// The default bridge's device, options and pool: from `bip` when set,
    /// else the pool it had, else the first free default pool.
    fn default_bridge_config(&self, rec: &mut NetworkRecord) -> Result<(), Error> {
        let s = &self.settings;
        rec.device = s.bridge.clone();
        rec.options = BTreeMap::from([
            (
                "com.docker.network.bridge.default_bridge".into(),
                "true".into(),
            ),
            ("com.docker.network.bridge.enable_icc".into(), "true".into()),
            (
                "com.docker.network.bridge.enable_ip_masquerade".into(),
                "true".into(),
            ),
            (
                "com.docker.network.bridge.host_binding_ipv4".into(),
                "0.0.0.0".into(),
            ),
            ("com.docker.network.bridge.name".into(), s.bridge.clone()),
            (
                "com.docker.network.driver.mtu".into(),
                s.mtu.unwrap_or(1500).to_string(),
            ),
        ]);
        if let Some(bip) = &s.bip {
            // `bip` is the bridge's own address with the prefix
            // (`172.20.0.1/16`), as in dockerd.
            let net: ipnet::Ipv4Net = bip
                .parse()
                .map_err(|_| Error::Ipam(ipam::Error::InvalidCidr(bip.clone())))?;
            rec.pool = Some(Pool::new(net.trunc(), Some(net.addr()), None).map_err(Error::Ipam)?);
        } else if let (None, Some(existing)) = (&rec.pool, ipam::subnet_of(&s.bridge)) {
            // The device exists already (made by an earlier daemon whose
            // record is gone): its subnet is adopted, as dockerd adopts an
            // existing docker0, rather than a second address added to it.
            rec.pool = Some(Pool::new(existing, None, None).map_err(Error::Ipam)?);
        } else if rec.pool.is_none() {
            let taken = self.taken_subnets(&rec.id);
            let subnet = ipam::choose_subnet(&taken).map_err(Error::Ipam)?;
            rec.pool = Some(Pool::new(subnet, None, None).map_err(Error::Ipam)?);
        }
        Ok(())
    }

    /// The subnets a new network must avoid: the host's routes (except
    /// through berth's own bridges) and the other networks' subnets.
    fn taken_subnets(&self, except: &str) -> Vec<ipnet::Ipv4Net> {
        let reg = self.lock();
        let mut taken: Vec<_> = reg
            .networks
            .values()
            .filter(|n| n.id != except)
            .filter_map(|n| n.pool.as_ref().map(|p| p.subnet))
            .collect();
        taken.extend(ipam::host_routes().unwrap_or_default());
        taken
    }

    fn write_record(&self, rec: &NetworkRecord) -> Result<(), Error> {
        let path = self.dir.join(format!("{}.json", rec.id));
        let bytes = serde_json::to_vec_pretty(rec).unwrap_or_default();
        berth_content::atomic::write_file(&path, &bytes).map_err(|e| Error::Io {
            op: e.op,
            path: e.path,
            source: e.source,
        })
    }

    /// Brings up the bridges of every bridge network and installs the
    /// firewall table: at daemon start, after the endpoints of running
    /// containers are known again.
    pub async fn init_host(&self) -> Result<(), Error> {
        let bridges: Vec<NetworkRecord> = self
            .lock()
            .networks
            .values()
            .filter(|n| n.driver == "bridge")
            .cloned()
            .collect();
        let nl = berth_network::link::Netlink::current().map_err(Error::Link)?;
        for n in &bridges {
            ensure_bridge(&nl, n).await?;
        }
        self.apply_firewall()
    }

    /// Adds or deletes the map elements of published ports over netlink
    /// (the start and exit path: no nft(8) process). Should the kernel
    /// refuse (the table was flushed behind the daemon's back), the whole
    /// table is rebuilt from the current state instead.
    pub fn change_ports(
        &self,
        op: berth_network::nftlink::Op,
        ports: &[PortMap],
    ) -> Result<(), Error> {
        if ports.is_empty() {
            return Ok(());
        }
        let changed = {
            let _serial = self.firewall.lock().unwrap_or_else(|e| e.into_inner());
            berth_network::nftlink::change(&self.settings.table, op, ports)
        };
        match changed {
            Ok(()) => Ok(()),
            Err(_) => self.apply_firewall(),
        }
    }

    /// Replaces the firewall table with the current state.
    pub fn apply_firewall(&self) -> Result<(), Error> {
        let _serial = self.firewall.lock().unwrap_or_else(|e| e.into_inner());
        let rules = {
            let reg = self.lock();
            Ruleset {
                bridges: reg
                    .networks
                    .values()
                    .filter(|n| n.driver == "bridge")
                    .filter_map(|n| {
                        Some(BridgeRules {
                            bridge: n.device.clone(),
                            subnet: n.pool.as_ref()?.subnet,
                            internal: n.internal,
                            masquerade: n.masquerade(),
                        })
                    })
                    .collect(),
                ports: reg.ports.values().flatten().copied().collect(),
            }
        };
        // Nothing to filter or publish (no bridge network: `--bridge none`
        // and no user networks): no table at all, and a stale one goes.
        if rules.bridges.is_empty() && rules.ports.is_empty() {
            return firewall::remove(&self.settings.table).map_err(Error::Firewall);
        }
        firewall::apply(&self.settings.table, &rules).map_err(Error::Firewall)
    }

    /// Finds a network by full id, name, or unique id prefix (dockerd's
    /// order).
    pub fn find(&self, reference: &str) -> Result<NetworkRecord, Error> {
        let reg = self.lock();
        if let Some(n) = reg.networks.get(reference) {
            return Ok(n.clone());
        }
        if let Some(n) = reg.networks.values().find(|n| n.name == reference) {
            return Ok(n.clone());
        }
        let mut by_prefix = reg
            .networks
            .values()
            .filter(|n| !reference.is_empty() && n.id.starts_with(reference));
        match (by_prefix.next(), by_prefix.next()) {
            (Some(n), None) => Ok(n.clone()),
            _ => Err(Error::NotFound(reference.to_string())),
        }
    }

    /// The addresses in use on network `id`.
    fn used(reg: &Registry, id: &str) -> BTreeSet<Ipv4Addr> {
        reg.endpoints
            .get(id)
            .map(|eps| eps.values().map(|e| e.ip).collect())
            .unwrap_or_default()
    }

    /// The endpoints of network `id`.
    pub fn endpoints(&self, id: &str) -> BTreeMap<String, Endpoint> {
        self.lock().endpoints.get(id).cloned().unwrap_or_default()
    }

    /// Number of endpoints of network `id`.
    fn endpoint_count(&self, id: &str) -> usize {
        self.lock().endpoints.get(id).map_or(0, |e| e.len())
    }

    /// The default bridge's gateway (the `host-gateway` address).
    pub fn default_gateway(&self) -> Option<Ipv4Addr> {
        self.lock()
            .networks
            .values()
            .find(|n| n.predefined && n.name == "bridge")
            .and_then(|n| n.pool.as_ref().map(|p| p.gateway))
    }

    /// The name of the firewall table (tests look at it).
    pub fn table(&self) -> &str {
        &self.settings.table
    }
}

/// Creates a bridge network's device with its gateway address.
async fn ensure_bridge(nl: &berth_network::link::Netlink, n: &NetworkRecord) -> Result<u32, Error> {
    let pool = n
        .pool
        .as_ref()
        .ok_or_else(|| Error::Invalid(format!("network {} has no address pool", n.name)))?;
    let addr = ipnet::Ipv4Net::new(pool.gateway, pool.subnet.prefix_len())
        .map_err(|_| Error::Invalid(format!("network {} has a bad prefix", n.name)))?;
    nl.ensure_bridge(&n.device, addr, n.mtu())
        .await
        .map_err(Error::Link)
}

/// Shared handle type the engine keeps.
pub type Service = Arc<NetworkService>;

#[cfg(test)]
mod tests {
    use super::*;

    fn open(root: &Path, bridge: &str, bip: Option<&str>) -> NetworkService {
        NetworkService::open(
            root,
            BridgeSettings {
                bridge: bridge.to_string(),
                bip: bip.map(str::to_string),
                mtu: None,
                table: "berth_unit".to_string(),
            },
        )
        .unwrap()
    }

    #[test]
    fn predefined_networks_keep_their_ids_and_follow_the_bridge_setting() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(dir.path(), "btunit0", Some("10.77.0.1/24"));
        let bridge = a.find("bridge").unwrap();
        assert_eq!(bridge.driver, "bridge");
        assert_eq!(bridge.device, "btunit0");
        let pool = bridge.pool.clone().unwrap();
        assert_eq!(pool.subnet.to_string(), "10.77.0.0/24");
        assert_eq!(pool.gateway.to_string(), "10.77.0.1");
        let host = a.find("host").unwrap();
        assert_eq!(host.driver, "host");
        assert_eq!(a.find("none").unwrap().driver, "null");
        drop(a);
        // Reopened with `--bridge none`: same ids, the bridge disabled.
        let b = open(dir.path(), "none", None);
        let disabled = b.find("bridge").unwrap();
        assert_eq!(disabled.id, bridge.id);
        assert_eq!(disabled.driver, "null");
        assert!(!disabled.has_endpoints());
        assert_eq!(b.find("host").unwrap().id, host.id);
        assert_eq!(b.default_gateway(), None);
    }
}
