//! The `/networks` operations of the engine: create, list, inspect,
//! remove, prune, connect, disconnect; and the networks a new container
//! starts with.

use std::collections::BTreeMap;

use berth_api_types::container::{HostConfig, NetworkingConfig};
use berth_api_types::filters::{Filters, FiltersError};
use berth_api_types::network::{
    ConfigReference, EndpointSettings, Ipam, IpamConfig, Network, NetworkConnectRequest,
    NetworkContainer, NetworkCreateRequest, NetworkCreateResponse,
};
use berth_network::ipam::{self, Pool};

use super::{Error, NetworkRecord};
use crate::Engine;
use crate::events::Event;

/// The filters `GET /networks` takes, as dockerd.
const FILTERS: &[&str] = &["dangling", "driver", "id", "label", "name", "scope", "type"];

/// Filters of network list and prune.
pub type ListFilters = Filters;

/// API 1.48's gateway priority (`--gw-priority`), which the docker CLI sends to any
/// daemon: berth speaks API 1.41, where the first network gives the default route,
/// and refuses a priority rather than ignore it.
fn check_gw_priority(s: &EndpointSettings) -> Result<(), Error> {
    if s.gw_priority != 0 {
        return Err(Error::Invalid(
            "gateway priorities (GwPriority) are not supported by berth".to_string(),
        ));
    }
    Ok(())
}

/// The fields of a network create that berth does not implement, refused (400)
/// rather than ignored: config-only networks and networks made from one, auxiliary
/// addresses, and IPv4 turned off (API 1.47's `EnableIPv4`, which the docker CLI
/// sends when `--ipv4` is given; true is what berth does anyway).
fn check_create_unsupported(req: &NetworkCreateRequest) -> Result<(), Error> {
    let unsupported =
        |what: &str| Err(Error::Invalid(format!("{what} are not supported by berth")));
    if req.config_only {
        return unsupported("config-only networks (ConfigOnly)");
    }
    if req
        .config_from
        .as_ref()
        .is_some_and(|c| !c.network.is_empty())
    {
        return unsupported("networks configured from a config-only network (ConfigFrom)");
    }
    let configs = req.ipam.as_ref().and_then(|i| i.config.as_ref());
    if configs
        .into_iter()
        .flatten()
        .any(|c| c.aux_address.as_ref().is_some_and(|a| !a.is_empty()))
    {
        return unsupported("auxiliary addresses (AuxiliaryAddresses)");
    }
    if req.enable_ipv4 == Some(false) {
        return unsupported("networks without IPv4 (EnableIPv4 false)");
    }
    Ok(())
}

fn filter_error(e: FiltersError) -> Error {
    Error::Invalid(e.to_string())
}

impl Engine {
    fn network_event(&self, rec: &NetworkRecord, action: &str, container: Option<&str>) {
        let mut attrs = BTreeMap::from([
            ("name".to_string(), rec.name.clone()),
            ("type".to_string(), rec.driver.clone()),
        ]);
        if let Some(c) = container {
            attrs.insert("container".to_string(), c.to_string());
        }
        self.events()
            .publish(Event::new("network", action, &rec.id, attrs));
    }

    /// The networks a container is created with: its network mode's (by
    /// name, as dockerd keys them) and the other endpoints of the request.
    pub(crate) fn initial_networks(
        &self,
        host: &HostConfig,
        nc: Option<&NetworkingConfig>,
    ) -> Result<BTreeMap<String, EndpointSettings>, Error> {
        let mode = match host.network_mode.as_str() {
            "" | "default" => "bridge",
            m => m,
        };
        let requested = nc
            .and_then(|n| n.endpoints_config.clone())
            .unwrap_or_default();
        for s in requested.values() {
            check_gw_priority(s)?;
        }
        let mut out = BTreeMap::new();
        if mode.starts_with("container:") {
            return Ok(out);
        }
        let primary = self.networks.find(mode)?;
        let mut own = requested
            .get(mode)
            .or_else(|| requested.get(&primary.name))
            .or_else(|| {
                (mode == "bridge")
                    .then(|| requested.get("default"))
                    .flatten()
            })
            .cloned()
            .unwrap_or_default();
        own.network_id = primary.id.clone();
        out.insert(primary.name.clone(), own);
        for (key, settings) in requested {
            if key == mode || key == primary.name || key == "default" {
                continue;
            }
            let net = self.networks.find(&key)?;
            if matches!(net.driver.as_str(), "host" | "null") {
                return Err(Error::Invalid(format!(
                    "container cannot be disconnected from host network or connected to host network ({})",
                    net.name
                )));
            }
            let mut s = settings;
            s.network_id = net.id.clone();
            out.insert(net.name.clone(), s);
        }
        Ok(out)
    }

    /// `POST /networks/create`.
    pub async fn network_create(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, Error> {
        let svc = &self.networks;
        if req.name.is_empty() {
            return Err(Error::Invalid("network name is required".to_string()));
        }
        if svc.find(&req.name).is_ok_and(|n| n.name == req.name) {
            return Err(Error::NameConflict(req.name));
        }
        let driver = if req.driver.is_empty() {
            "bridge".to_string()
        } else {
            req.driver.clone()
        };
        match driver.as_str() {
            "bridge" | "macvlan" | "ipvlan" => {}
            "host" | "null" => {
                return Err(Error::Invalid(format!(
                    "only one instance of \"{driver}\" network is allowed"
                )));
            }
            other => return Err(Error::Invalid(format!("plugin \"{other}\" not found"))),
        }
        if req.enable_ipv6 {
            return Err(Error::Invalid(
                "IPv6 networks are not supported by berth".to_string(),
            ));
        }
        check_create_unsupported(&req)?;
        let ipam_req = req.ipam.clone().unwrap_or_default();
        if !matches!(ipam_req.driver.as_str(), "" | "default") {
            return Err(Error::Invalid(format!(
                "plugin \"{}\" not found",
                ipam_req.driver
            )));
        }
        let configs = ipam_req.config.clone().unwrap_or_default();
        if configs.len() > 1 {
            return Err(Error::Invalid(
                "berth supports one IPv4 pool per network".to_string(),
            ));
        }
        let id = crate::containers::names::new_id();
        let taken = svc.taken_subnets(&id);
        let pool = match configs.first() {
            Some(c) if !c.subnet.is_empty() => {
                let subnet = ipam::parse_subnet(&c.subnet).map_err(Error::Ipam)?;
                let gateway = match c.gateway.as_str() {
                    "" => None,
                    g => Some(
                        g.parse()
                            .map_err(|_| Error::Ipam(ipam::Error::InvalidCidr(g.to_string())))?,
                    ),
                };
                let range = match c.ip_range.as_str() {
                    "" => None,
                    r => Some(ipam::parse_subnet(r).map_err(Error::Ipam)?),
                };
                // Other networks' subnets only: a macvlan network may
                // share the subnet its parent's host route covers.
                let others: Vec<_> = svc
                    .lock()
                    .networks
                    .values()
                    .filter_map(|n| n.pool.as_ref().map(|p| p.subnet))
                    .collect();
                if others.iter().any(|o| ipam::overlaps(o, &subnet)) {
                    return Err(Error::Invalid(
                        "Pool overlaps with other one on this address space".to_string(),
                    ));
                }
                Pool::new(subnet, gateway, range).map_err(Error::Ipam)?
            }
            Some(c) if !c.gateway.is_empty() || !c.ip_range.is_empty() => {
                return Err(Error::Invalid(
                    "a subnet is required with a gateway or an ip-range".to_string(),
                ));
            }
            _ => Pool::new(
                ipam::choose_subnet(&taken).map_err(Error::Ipam)?,
                None,
                None,
            )
            .map_err(Error::Ipam)?,
        };
        let options = req.options.clone().unwrap_or_default();
        let device = match driver.as_str() {
            "bridge" => {
                let name = options
                    .get("com.docker.network.bridge.name")
                    .cloned()
                    .unwrap_or_else(|| format!("br-{}", &id[..12]));
                if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', '"']) {
                    return Err(Error::Invalid(format!("invalid bridge name: {name:?}")));
                }
                let in_use = svc
                    .lock()
                    .networks
                    .values()
                    .any(|n| n.driver == "bridge" && n.device == name);
                if in_use {
                    return Err(Error::Invalid(format!(
                        "bridge name {name} is used by another network"
                    )));
                }
                name
            }
            _ => {
                let parent = options.get("parent").cloned().unwrap_or_default();
                if parent.is_empty() {
                    return Err(Error::Invalid(format!(
                        "the {driver} driver needs a parent interface (-o parent=IFACE)"
                    )));
                }
                let opt = if driver == "macvlan" {
                    "macvlan_mode"
                } else {
                    "ipvlan_mode"
                };
                let mode = options.get(opt).map_or("", |s| s.as_str());
                let known = if driver == "macvlan" {
                    berth_network::link::MacvlanMode::parse(mode).is_some()
                } else {
                    berth_network::link::IpvlanMode::parse(mode).is_some()
                };
                if !known {
                    return Err(Error::Invalid(format!("unknown {opt}: {mode}")));
                }
                let nl = berth_network::link::Netlink::current().map_err(Error::Link)?;
                if nl.index_of(&parent).await.map_err(Error::Link)?.is_none() {
                    return Err(Error::Invalid(format!(
                        "-o parent interface was not found on the host: {parent}"
                    )));
                }
                parent
            }
        };
        let rec = NetworkRecord {
            id: id.clone(),
            name: req.name.clone(),
            created: jiff::Timestamp::now().to_string(),
            driver: driver.clone(),
            internal: req.internal,
            attachable: req.attachable,
            labels: req.labels.clone().unwrap_or_default(),
            options,
            ipam_options: ipam_req.options.clone().unwrap_or_default(),
            pool: Some(pool),
            device,
            predefined: false,
        };
        // Host side first, record last: a failure leaves no record that
        // names a device that was never made.
        if driver == "bridge" {
            let nl = berth_network::link::Netlink::current().map_err(Error::Link)?;
            super::ensure_bridge(&nl, &rec).await?;
        }
        svc.lock().networks.insert(id.clone(), rec.clone());
        let saved = svc.write_record(&rec).and_then(|()| svc.apply_firewall());
        if let Err(e) = saved {
            svc.lock().networks.remove(&id);
            let undo = self.remove_host_side(&rec).await;
            let _ = std::fs::remove_file(svc.dir.join(format!("{id}.json")));
            return Err(match undo {
                Ok(()) => e,
                Err(u) => Error::Invalid(format!("{e} (and undoing it failed: {u})")),
            });
        }
        self.network_event(&rec, "create", None);
        Ok(NetworkCreateResponse {
            id,
            warning: String::new(),
        })
    }

    async fn remove_host_side(&self, rec: &NetworkRecord) -> Result<(), Error> {
        if rec.driver != "bridge" {
            return Ok(());
        }
        let nl = berth_network::link::Netlink::current().map_err(Error::Link)?;
        nl.delete_link(&rec.device).await.map_err(Error::Link)
    }

    fn network_view(&self, rec: &NetworkRecord, with_containers: bool) -> Network {
        let prefix = rec.pool.as_ref().map_or(0, |p| p.subnet.prefix_len());
        let containers = if with_containers {
            self.networks
                .endpoints(&rec.id)
                .into_iter()
                .map(|(cid, ep)| {
                    (
                        cid,
                        NetworkContainer {
                            name: ep.container_name,
                            endpoint_id: ep.endpoint_id,
                            mac_address: ipam::format_mac(&ep.mac),
                            ipv4_address: format!("{}/{prefix}", ep.ip),
                            ipv6_address: String::new(),
                        },
                    )
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        Network {
            name: rec.name.clone(),
            id: rec.id.clone(),
            created: rec.created.clone(),
            scope: "local".to_string(),
            driver: rec.driver.clone(),
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default".to_string(),
                options: Some(rec.ipam_options.clone()).filter(|o| !o.is_empty()),
                config: Some(
                    rec.pool
                        .iter()
                        .map(|p| IpamConfig {
                            subnet: p.subnet.to_string(),
                            ip_range: p.ip_range.map(|r| r.to_string()).unwrap_or_default(),
                            gateway: p.gateway.to_string(),
                            aux_address: None,
                        })
                        .collect(),
                ),
            },
            internal: rec.internal,
            attachable: rec.attachable,
            ingress: false,
            config_from: ConfigReference::default(),
            config_only: false,
            containers,
            options: rec.options.clone(),
            labels: rec.labels.clone(),
        }
    }

    /// `GET /networks?filters=`.
    pub fn network_list(&self, filters: &Filters) -> Result<Vec<Network>, Error> {
        filters.validate(FILTERS).map_err(filter_error)?;
        filters
            .validate_values("type", &["custom", "builtin"])
            .map_err(filter_error)?;
        let recs: Vec<NetworkRecord> = self.networks.lock().networks.values().cloned().collect();
        let mut out: Vec<Network> = recs
            .iter()
            .filter(|n| self.network_matches(n, filters))
            .map(|n| self.network_view(n, false))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn network_matches(&self, n: &NetworkRecord, f: &Filters) -> bool {
        let kind = if n.predefined { "builtin" } else { "custom" };
        let dangling = f.get("dangling");
        let dangling_ok = dangling.iter().all(|v| {
            let unused = !n.predefined && self.networks.endpoint_count(&n.id) == 0;
            match *v {
                "true" | "1" => unused,
                _ => !unused,
            }
        });
        f.exact_match("driver", &n.driver)
            && f.fuzzy_match("id", &n.id)
            && f.fuzzy_match("name", &n.name)
            && f.exact_match("scope", "local")
            && f.exact_match("type", kind)
            && f.match_kv_list("label", &n.labels)
            && dangling_ok
    }

    /// `GET /networks/{id}`.
    pub fn network_inspect(&self, reference: &str) -> Result<Network, Error> {
        let rec = self.networks.find(reference)?;
        Ok(self.network_view(&rec, true))
    }

    /// `DELETE /networks/{id}`.
    pub async fn network_remove(&self, reference: &str) -> Result<(), Error> {
        let rec = self.networks.find(reference)?;
        if rec.predefined {
            return Err(Error::Predefined { name: rec.name });
        }
        {
            let mut reg = self.networks.lock();
            if reg.endpoints.get(&rec.id).is_some_and(|e| !e.is_empty()) {
                return Err(Error::InUse {
                    name: rec.name,
                    id: rec.id,
                });
            }
            reg.networks.remove(&rec.id);
            reg.endpoints.remove(&rec.id);
        }
        let path = self.networks.dir.join(format!("{}.json", rec.id));
        let file = match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io {
                op: "remove",
                path,
                source,
            }),
        };
        let fw = self.networks.apply_firewall();
        let link = self.remove_host_side(&rec).await;
        self.network_event(&rec, "destroy", None);
        file.and(fw).and(link)
    }

    /// `POST /networks/prune`: user networks without endpoints.
    pub async fn network_prune(&self, filters: &Filters) -> Result<Vec<String>, Error> {
        filters
            .validate(&["label", "label!", "until"])
            .map_err(filter_error)?;
        let now = jiff::Timestamp::now();
        let until = match filters.get("until").first() {
            Some(u) => Some(
                crate::images::filters::parse_until(u, now)
                    .ok_or_else(|| Error::Invalid(format!("invalid until filter: {u:?}")))?,
            ),
            None => None,
        };
        let candidates: Vec<NetworkRecord> = self
            .networks
            .lock()
            .networks
            .values()
            .filter(|n| !n.predefined)
            .cloned()
            .collect();
        let mut removed = Vec::new();
        for n in candidates {
            if !filters.match_kv_list("label", &n.labels) {
                continue;
            }
            if filters
                .get("label!")
                .iter()
                .any(|l| berth_api_types::filters::match_label(l, &n.labels))
            {
                continue;
            }
            if let Some(t) = until {
                let created: jiff::Timestamp = n.created.parse().unwrap_or(jiff::Timestamp::MAX);
                if created.as_second() >= t {
                    continue;
                }
            }
            if self.networks.endpoint_count(&n.id) > 0 {
                continue;
            }
            if self.network_remove(&n.id).await.is_ok() {
                removed.push(n.name);
            }
        }
        Ok(removed)
    }

    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(
        self: &std::sync::Arc<Self>,
        reference: &str,
        req: NetworkConnectRequest,
    ) -> Result<(), crate::containers::Error> {
        use crate::containers::Error as CErr;
        let net = self.networks.find(reference).map_err(CErr::Network)?;
        let c = self.containers.get(&req.container)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        let mode = rec.host_config.network_mode.as_str();
        if mode == "host" || mode == "none" || mode.starts_with("container:") {
            return Err(CErr::Network(Error::Invalid(
                "container sharing network namespace with another container or host cannot be connected to any other network".to_string(),
            )));
        }
        if matches!(net.driver.as_str(), "host" | "null") {
            return Err(CErr::Network(Error::Invalid(format!(
                "container cannot be disconnected from host network or connected to host network ({})",
                net.name
            ))));
        }
        if rec.networks.contains_key(&net.name) {
            return Err(CErr::Network(Error::AlreadyConnected {
                container: rec.name.trim_start_matches('/').to_string(),
                network: net.name,
            }));
        }
        let mut settings = req.endpoint_config.unwrap_or_default();
        check_gw_priority(&settings).map_err(CErr::Network)?;
        settings.network_id = net.id.clone();
        if net.predefined
            && net.name == "bridge"
            && settings
                .ipam_config
                .as_ref()
                .is_some_and(|c| !c.ipv4_address.is_empty())
        {
            return Err(CErr::Network(Error::Invalid(
                "user specified IP address is supported on user defined networks only".to_string(),
            )));
        }
        if c.lifecycle.borrow().running {
            self.connect_running(&c, &net, settings).await?;
        } else {
            c.update(|r| {
                r.networks.insert(net.name.clone(), settings);
            })?;
        }
        self.network_event(&net, "connect", Some(&c.id));
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(
        self: &std::sync::Arc<Self>,
        reference: &str,
        container: &str,
        force: bool,
    ) -> Result<(), crate::containers::Error> {
        use crate::containers::Error as CErr;
        let net = self.networks.find(reference).map_err(CErr::Network)?;
        let c = match self.containers.get(container) {
            Ok(c) => c,
            Err(e) if force => {
                // A forced disconnect of a container that is gone drops
                // its stale endpoint.
                let _ = e;
                self.networks.drop_endpoint_by_name(&net.id, container);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.networks.contains_key(&net.name) {
            return Err(CErr::Network(Error::NotConnected {
                container: rec.name.trim_start_matches('/').to_string(),
                network: net.name,
            }));
        }
        if matches!(net.driver.as_str(), "host" | "null") {
            return Err(CErr::Network(Error::Invalid(format!(
                "container cannot be disconnected from host network or connected to host network ({})",
                net.name
            ))));
        }
        if c.lifecycle.borrow().running {
            self.disconnect_running(&c, &net).await?;
        }
        c.update(|r| {
            r.networks.remove(&net.name);
            r.host_veths.remove(&net.id);
        })?;
        self.network_event(&net, "disconnect", Some(&c.id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_create_fields_are_refused_not_ignored() {
        let msg = |r: NetworkCreateRequest| match check_create_unsupported(&r) {
            Err(e) => e.to_string(),
            Ok(()) => String::new(),
        };
        // What the docker CLI sends without those flags passes.
        let plain = NetworkCreateRequest {
            name: "n".into(),
            enable_ipv4: Some(true),
            config_from: None,
            ..Default::default()
        };
        assert_eq!(msg(plain.clone()), "");
        assert!(
            msg(NetworkCreateRequest {
                config_only: true,
                ..plain.clone()
            })
            .contains("config-only networks (ConfigOnly)")
        );
        assert!(
            msg(NetworkCreateRequest {
                config_from: Some(ConfigReference {
                    network: "base".into()
                }),
                ..plain.clone()
            })
            .contains("(ConfigFrom) are not supported by berth")
        );
        assert!(
            msg(NetworkCreateRequest {
                enable_ipv4: Some(false),
                ..plain.clone()
            })
            .contains("EnableIPv4 false")
        );
        let aux = NetworkCreateRequest {
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: "10.9.0.0/24".into(),
                    aux_address: Some(BTreeMap::from([("a".into(), "10.9.0.5".into())])),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..plain
        };
        assert_eq!(
            msg(aux),
            "auxiliary addresses (AuxiliaryAddresses) are not supported by berth"
        );
    }

    #[test]
    fn a_gateway_priority_is_refused() {
        assert!(check_gw_priority(&EndpointSettings::default()).is_ok());
        let e = check_gw_priority(&EndpointSettings {
            gw_priority: -1,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "gateway priorities (GwPriority) are not supported by berth"
        );
    }
}
