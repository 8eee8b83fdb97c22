//! A container's endpoints: planned before its shim starts (addresses
//! reserved, so `/etc/hosts` can name them), made in its network namespace
//! after the runtime's `create` and before `start`, released at its exit.
//!
//! The container's end of each interface is created directly inside its
//! namespace and dies with it; the host end of a veth pair dies with its
//! peer. Release still deletes the host end, because a namespace can
//! outlive its container (another container joined it with
//! `--network container:`), and drops the proxies, port rules and DNS
//! server.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, OwnedFd};

use berth_api_types::container::PortBinding;
use berth_api_types::network::EndpointSettings;
use berth_network::firewall::{PortMap, Proto};
use berth_network::ipam;
use berth_network::link::{IpvlanMode, MacvlanMode, Netlink, SubLink};

use super::{Endpoint, Error, NetworkRecord, NetworkService};
use crate::containers::store::ContainerRecord;

/// One endpoint to make.
#[derive(Debug, Clone)]
pub struct Planned {
    pub net: NetworkRecord,
    /// The name the container's settings use for the network.
    pub key: String,
    pub ifname: String,
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    pub gateway: Option<Ipv4Addr>,
    pub endpoint_id: String,
    pub aliases: Vec<String>,
}

/// The endpoints of one start, and the published ports once made.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub endpoints: Vec<Planned>,
}

impl Plan {
    /// `ip\thostname` lines for the container's `/etc/hosts`.
    pub fn hosts_lines(&self, hostname: &str, domainname: &str) -> String {
        let name = if domainname.is_empty() {
            hostname.to_string()
        } else {
            format!("{hostname}.{domainname} {hostname}")
        };
        self.endpoints
            .iter()
            .map(|e| format!("{}\t{name}\n", e.ip))
            .collect()
    }

    /// Whether the container uses the embedded DNS server.
    pub fn embedded_dns(&self) -> bool {
        self.endpoints.iter().any(|e| e.net.embedded_dns())
    }
}

/// The container's networks in attach order: the one of its network mode
/// first (it gets `eth0` and the default route), then the others by name.
pub fn ordered_networks(rec: &ContainerRecord) -> Vec<(String, EndpointSettings)> {
    let mode = match rec.host_config.network_mode.as_str() {
        "default" | "" => "bridge",
        m => m,
    };
    let mut out: Vec<(String, EndpointSettings)> = Vec::new();
    if let Some(s) = rec.networks.get(mode) {
        out.push((mode.to_string(), s.clone()));
    }
    for (k, v) in &rec.networks {
        if k != mode {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

fn random_hex(n: usize) -> String {
    crate::containers::names::new_id()[..n].to_string()
}

impl NetworkService {
    /// Reserves the container's endpoints. On error nothing stays
    /// reserved.
    pub fn plan(&self, rec: &ContainerRecord) -> Result<Plan, Error> {
        let mut plan = Plan::default();
        let mut reg = self.lock();
        let result = (|| {
            for (key, settings) in ordered_networks(rec) {
                let net = {
                    let found = reg
                        .networks
                        .get(&settings.network_id)
                        .or_else(|| reg.networks.values().find(|n| n.name == key))
                        .or_else(|| reg.networks.get(&key));
                    found.cloned().ok_or_else(|| Error::NotFound(key.clone()))?
                };
                if !net.has_endpoints() {
                    continue;
                }
                let pool = net
                    .pool
                    .clone()
                    .ok_or_else(|| Error::Invalid(format!("network {} has no pool", net.name)))?;
                let used = NetworkService::used(&reg, &net.id);
                let wanted = settings
                    .ipam_config
                    .as_ref()
                    .map(|c| c.ipv4_address.as_str())
                    .unwrap_or("");
                let ip = if wanted.is_empty() {
                    pool.allocate(&used).map_err(Error::Ipam)?
                } else {
                    let ip = wanted
                        .parse()
                        .map_err(|_| Error::Invalid(format!("invalid IPv4 address: {wanted}")))?;
                    pool.reserve(ip, &used).map_err(Error::Ipam)?
                };
                let mac_text = if plan.endpoints.is_empty() && settings.mac_address.is_empty() {
                    rec.config.mac_address.as_str()
                } else {
                    settings.mac_address.as_str()
                };
                let mac = if mac_text.is_empty() {
                    ipam::mac_for(ip)
                } else {
                    ipam::parse_mac(mac_text)
                        .ok_or_else(|| Error::Invalid(format!("invalid MAC address: {mac_text}")))?
                };
                let first = plan.endpoints.is_empty();
                let mut names = vec![
                    rec.name.trim_start_matches('/').to_string(),
                    rec.id[..12].to_string(),
                ];
                let aliases = settings.aliases.clone().unwrap_or_default();
                names.extend(aliases.iter().cloned());
                let ep = Endpoint {
                    container_name: rec.name.trim_start_matches('/').to_string(),
                    endpoint_id: crate::containers::names::new_id(),
                    ip,
                    mac,
                    names,
                    host_veth: (net.driver == "bridge").then(|| format!("veth{}", random_hex(7))),
                    ifname: format!("eth{}", plan.endpoints.len()),
                };
                reg.endpoints
                    .entry(net.id.clone())
                    .or_default()
                    .insert(rec.id.clone(), ep.clone());
                plan.endpoints.push(Planned {
                    ifname: format!("eth{}", plan.endpoints.len()),
                    gateway: (first && !net.internal).then_some(pool.gateway),
                    net,
                    key,
                    ip,
                    mac,
                    endpoint_id: ep.endpoint_id,
                    aliases,
                });
            }
            Ok(())
        })();
        if let Err(e) = result {
            for eps in reg.endpoints.values_mut() {
                eps.remove(&rec.id);
            }
            return Err(e);
        }
        Ok(plan)
    }

    /// Makes the planned endpoints in the namespace of process `pid`, then
    /// publishes the ports and starts the DNS server. On error the caller
    /// calls [`NetworkService::release`].
    pub async fn setup(
        &self,
        rec: &ContainerRecord,
        plan: &Plan,
        pid: i32,
    ) -> Result<BTreeMap<String, Vec<PortBinding>>, Error> {
        if plan.endpoints.is_empty() {
            return Ok(BTreeMap::new());
        }
        let ns_path = format!("/proc/{pid}/ns/net");
        let ns: OwnedFd = std::fs::File::open(&ns_path)
            .map_err(super::io("open", std::path::Path::new(&ns_path)))?
            .into();
        let host = Netlink::current().map_err(Error::Link)?;
        for e in &plan.endpoints {
            let net = &e.net;
            match net.driver.as_str() {
                "bridge" => {
                    // The bridge was made at network create or daemon start;
                    // it is made again only if someone deleted it.
                    let bridge = match host.index_of(&net.device).await.map_err(Error::Link)? {
                        Some(i) => i,
                        None => super::ensure_bridge(&host, net).await?,
                    };
                    let veth = self
                        .lock()
                        .endpoints
                        .get(&net.id)
                        .and_then(|m| m.get(&rec.id))
                        .and_then(|ep| ep.host_veth.clone())
                        .unwrap_or_default();
                    host.add_veth(&veth, bridge, net.mtu(), &e.ifname, e.mac, ns.as_fd())
                        .await
                        .map_err(Error::Link)?;
                }
                "macvlan" | "ipvlan" => {
                    let kind = sublink_kind(net)?;
                    // ipvlan links share their parent's MAC: the kernel
                    // refuses an address for them (EOPNOTSUPP).
                    let mac = matches!(kind, SubLink::Macvlan(_)).then_some(e.mac);
                    host.add_sublink(kind, &net.device, &e.ifname, mac, ns.as_fd())
                        .await
                        .map_err(|e| match e.errno() {
                            // The kernel lacks the driver (no module).
                            Some(libc::EOPNOTSUPP) => Error::Invalid(format!(
                                "the {} driver is not supported by this kernel",
                                net.driver
                            )),
                            _ => Error::Link(e),
                        })?;
                }
                _ => {}
            }
        }
        let inside = Netlink::in_namespace(ns.as_fd()).map_err(Error::Link)?;
        for e in &plan.endpoints {
            let pool = e.net.pool.as_ref().expect("planned networks have pools");
            let address = ipnet::Ipv4Net::new(e.ip, pool.subnet.prefix_len())
                .map_err(|_| Error::Invalid("bad prefix".to_string()))?;
            inside
                .configure(&berth_network::link::Interface {
                    name: e.ifname.clone(),
                    address,
                    gateway: e.gateway,
                })
                .await
                .map_err(Error::Link)?;
        }
        let bindings = self.publish(rec, plan, requested_ports(rec)?)?;
        if plan.embedded_dns() {
            // A container connected to a second user network already has
            // its server: it only learns the new names.
            if self.has_dns(&rec.id) {
                self.refresh_dns();
            } else {
                self.start_dns(rec, ns.as_fd())?;
            }
        } else {
            self.refresh_dns();
        }
        Ok(bindings)
    }

    /// Takes the published ports: the userland proxies bind now (a port in
    /// use fails the start), then the DNAT rules go in.
    fn publish(
        &self,
        rec: &ContainerRecord,
        plan: &Plan,
        wanted: Vec<Wanted>,
    ) -> Result<BTreeMap<String, Vec<PortBinding>>, Error> {
        // Ports go to the address on the first bridge network, as dockerd
        // publishes on the container's default network.
        let Some(target) = plan.endpoints.iter().find(|e| e.net.driver == "bridge") else {
            return Ok(BTreeMap::new());
        };
        let mut maps = Vec::new();
        let mut proxies = Vec::new();
        let mut out: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
        for (key, proto, cport, host_ip, range) in wanted {
            let (lo, hi) = range;
            let mut last_err = None;
            let mut bound = None;
            for hport in lo..=hi {
                match berth_network::proxy::bind(proto, host_ip, hport) {
                    Ok(b) => {
                        bound = Some(b);
                        break;
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            let Some(b) = bound else {
                let source = last_err.expect("the range is not empty");
                return Err(Error::Publish {
                    endpoint: rec.name.trim_start_matches('/').to_string(),
                    source,
                });
            };
            let hport = b.port();
            proxies.push(b.serve(SocketAddrV4::new(target.ip, cport)));
            maps.push(PortMap {
                proto,
                host_ip,
                host_port: hport,
                container_ip: target.ip,
                container_port: cport,
            });
            out.entry(key).or_default().push(PortBinding {
                host_ip: host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
                host_port: hport.to_string(),
            });
        }
        if maps.is_empty() {
            return Ok(out);
        }
        self.proxies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(rec.id.clone(), proxies);
        self.lock().ports.insert(rec.id.clone(), maps.clone());
        self.change_ports(berth_network::nftlink::Op::Add, &maps)?;
        Ok(out)
    }

    /// Releases everything of container `id`: endpoints, proxies, port
    /// rules, DNS server, host ends of veth pairs. Idempotent.
    pub async fn release(&self, id: &str) -> Result<(), Error> {
        let (veths, had_ports) = {
            let mut reg = self.lock();
            let mut veths = Vec::new();
            for eps in reg.endpoints.values_mut() {
                if let Some(ep) = eps.remove(id) {
                    veths.extend(ep.host_veth);
                }
            }
            (veths, reg.ports.remove(id).unwrap_or_default())
        };
        self.proxies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.stop_dns(id);
        let fw = self.change_ports(berth_network::nftlink::Op::Delete, &had_ports);
        if !veths.is_empty() {
            // Off the exit path: unregistering a netdev waits for RCU grace
            // periods (several ms per link), and the host end usually dies
            // with the container's namespace anyway; it is deleted here for
            // the namespaces that outlive their container (`--network
            // container:` joiners).
            let host = Netlink::current().map_err(Error::Link)?;
            tokio::spawn(async move {
                for v in veths {
                    if let Err(e) = host.delete_link(&v).await {
                        crate::containers::warn(format_args!("delete host veth {v}: {e}"));
                    }
                }
            });
        }
        fw
    }

    /// After a daemon restart: takes back the endpoints and ports of a
    /// container that kept running, from its record.
    pub fn restore(&self, rec: &ContainerRecord) -> Result<(), Error> {
        let mut plan = Plan::default();
        {
            let mut reg = self.lock();
            for (key, s) in ordered_networks(rec) {
                let Some(net) = reg
                    .networks
                    .get(&s.network_id)
                    .or_else(|| reg.networks.values().find(|n| n.name == key))
                    .cloned()
                else {
                    continue;
                };
                let Ok(ip) = s.ip_address.parse::<Ipv4Addr>() else {
                    continue;
                };
                let mac = ipam::parse_mac(&s.mac_address).unwrap_or(ipam::mac_for(ip));
                let mut names = vec![
                    rec.name.trim_start_matches('/').to_string(),
                    rec.id[..12].to_string(),
                ];
                names.extend(s.aliases.clone().unwrap_or_default());
                let host_veth = rec.host_veths.get(&net.id).cloned();
                reg.endpoints.entry(net.id.clone()).or_default().insert(
                    rec.id.clone(),
                    Endpoint {
                        container_name: rec.name.trim_start_matches('/').to_string(),
                        endpoint_id: s.endpoint_id.clone(),
                        ip,
                        mac,
                        names,
                        host_veth,
                        ifname: String::new(),
                    },
                );
                plan.endpoints.push(Planned {
                    ifname: String::new(),
                    gateway: None,
                    key,
                    ip,
                    mac,
                    endpoint_id: s.endpoint_id.clone(),
                    aliases: s.aliases.clone().unwrap_or_default(),
                    net,
                });
            }
        }
        self.publish(rec, &plan, recorded_ports(rec))?;
        if plan.embedded_dns() && rec.state.pid > 0 {
            let ns_path = format!("/proc/{}/ns/net", rec.state.pid);
            if let Ok(f) = std::fs::File::open(&ns_path) {
                let ns: OwnedFd = f.into();
                self.start_dns(rec, ns.as_fd())?;
            }
        }
        Ok(())
    }

    /// Drops the reservations of a plan that will not be set up.
    pub fn forget(&self, id: &str) {
        let mut reg = self.lock();
        for eps in reg.endpoints.values_mut() {
            eps.remove(id);
        }
    }

    /// Releases the container's endpoint on one network (disconnect):
    /// the host end of its veth is deleted. Returns the endpoint.
    pub async fn release_one(&self, net_id: &str, id: &str) -> Result<Option<Endpoint>, Error> {
        let ep = self
            .lock()
            .endpoints
            .get_mut(net_id)
            .and_then(|m| m.remove(id));
        if let Some(v) = ep.as_ref().and_then(|e| e.host_veth.as_ref()) {
            let host = Netlink::current().map_err(Error::Link)?;
            host.delete_link(v).await.map_err(Error::Link)?;
        }
        self.refresh_dns();
        Ok(ep)
    }

    /// Forgets the endpoint of a container that no longer exists, by name
    /// or id (forced disconnect).
    pub fn drop_endpoint_by_name(&self, net_id: &str, container: &str) {
        let mut reg = self.lock();
        if let Some(m) = reg.endpoints.get_mut(net_id) {
            m.retain(|id, ep| id != container && ep.container_name != container);
        }
    }

    /// The endpoints a running container has now, as a plan (for its
    /// `/etc/hosts`).
    pub fn plan_view(&self, rec: &ContainerRecord) -> Plan {
        let reg = self.lock();
        let mut plan = Plan::default();
        for (key, s) in ordered_networks(rec) {
            let Some(net) = reg.networks.get(&s.network_id).cloned() else {
                continue;
            };
            let Some(ep) = reg.endpoints.get(&net.id).and_then(|m| m.get(&rec.id)) else {
                continue;
            };
            plan.endpoints.push(Planned {
                ifname: ep.ifname.clone(),
                gateway: None,
                key,
                ip: ep.ip,
                mac: ep.mac,
                endpoint_id: ep.endpoint_id.clone(),
                aliases: s.aliases.clone().unwrap_or_default(),
                net,
            });
        }
        plan
    }

    /// The host end of the container's veth on network `net_id`.
    pub fn host_veth(&self, net_id: &str, container: &str) -> Option<String> {
        self.lock()
            .endpoints
            .get(net_id)
            .and_then(|m| m.get(container))
            .and_then(|e| e.host_veth.clone())
    }
}

fn sublink_kind(net: &NetworkRecord) -> Result<SubLink, Error> {
    Ok(match net.driver.as_str() {
        "macvlan" => {
            let m = net.options.get("macvlan_mode").map_or("", |s| s.as_str());
            SubLink::Macvlan(
                MacvlanMode::parse(m)
                    .ok_or_else(|| Error::Invalid(format!("unknown macvlan mode: {m}")))?,
            )
        }
        _ => {
            let m = net.options.get("ipvlan_mode").map_or("", |s| s.as_str());
            SubLink::Ipvlan(
                IpvlanMode::parse(m)
                    .ok_or_else(|| Error::Invalid(format!("unknown ipvlan mode: {m}")))?,
            )
        }
    })
}

/// A requested publication: (key like `80/tcp`, protocol, container port,
/// host address, host port range (0..=0: any)).
type Wanted = (String, Proto, u16, Option<Ipv4Addr>, (u16, u16));

/// The ports a running container had published (restore takes exactly
/// these back).
pub fn recorded_ports(rec: &ContainerRecord) -> Vec<Wanted> {
    let mut out = Vec::new();
    for (key, list) in &rec.ports {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let proto = if proto == "udp" {
            Proto::Udp
        } else {
            Proto::Tcp
        };
        let Ok(cport) = port.parse::<u16>() else {
            continue;
        };
        for b in list {
            let host_ip = b
                .host_ip
                .parse::<Ipv4Addr>()
                .ok()
                .filter(|ip| !ip.is_unspecified());
            if let Ok(p) = b.host_port.parse::<u16>() {
                out.push((key.clone(), proto, cport, host_ip, (p, p)));
            }
        }
    }
    out
}

/// The container's port bindings, and with `-P` every exposed port that
/// has none, on a kernel-chosen host port.
pub fn requested_ports(rec: &ContainerRecord) -> Result<Vec<Wanted>, Error> {
    let mut out = Vec::new();
    let bindings = rec.host_config.port_bindings.clone().unwrap_or_default();
    let mut keys: Vec<String> = bindings.keys().cloned().collect();
    if rec.host_config.publish_all_ports {
        for k in rec.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    for key in keys {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let proto = match proto {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            _ => return Err(Error::InvalidPort(key.clone())),
        };
        let cport: u16 = port.parse().map_err(|_| Error::InvalidPort(key.clone()))?;
        let list = bindings.get(&key).cloned().flatten().unwrap_or_default();
        let list = if list.is_empty() {
            vec![PortBinding::default()]
        } else {
            list
        };
        for b in list {
            let host_ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" => None,
                // IPv6 wildcards come with `-p` on a v6-capable CLI; v4 only here.
                "::" => continue,
                ip => Some(
                    ip.parse::<Ipv4Addr>()
                        .map_err(|_| Error::InvalidPort(format!("{ip}:{}", b.host_port)))?,
                ),
            };
            let range = match b.host_port.as_str() {
                "" => (0, 0),
                p => match p.split_once('-') {
                    Some((a, z)) => {
                        let a: u16 = a.parse().map_err(|_| Error::InvalidPort(p.into()))?;
                        let z: u16 = z.parse().map_err(|_| Error::InvalidPort(p.into()))?;
                        if a > z {
                            return Err(Error::InvalidPort(p.into()));
                        }
                        (a, z)
                    }
                    None => {
                        let n: u16 = p.parse().map_err(|_| Error::InvalidPort(p.into()))?;
                        (n, n)
                    }
                },
            };
            out.push((key.clone(), proto, cport, host_ip, range));
        }
    }
    Ok(out)
}
