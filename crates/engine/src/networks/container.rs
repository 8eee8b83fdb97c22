//! The container lifecycle's side of networking: what a start does before
//! and after the runtime's `create`, what an exit releases, and connect /
//! disconnect of a running container.

use std::sync::Arc;

use berth_api_types::network::EndpointSettings;
use berth_network::ipam;

use super::attach::Plan;
use super::{Error, NetworkRecord};
use crate::Engine;
use crate::containers::Error as CErr;
use crate::containers::files::{self, DnsSettings};
use crate::containers::store::{Container, ContainerRecord, replace_unsynced};

/// The address the embedded DNS server answers on inside a container.
pub const EMBEDDED_DNS: &str = "127.0.0.11";

/// The container's `/etc/hosts` with its addresses.
pub fn hosts_content(
    rec: &ContainerRecord,
    plan: &Plan,
    gateway: Option<std::net::Ipv4Addr>,
) -> Result<String, CErr> {
    let mut h = files::hosts_file(&[])?;
    let extra = resolve_host_gateway(
        rec.host_config.extra_hosts.as_deref().unwrap_or(&[]),
        gateway,
    );
    files::append_extra_hosts(&mut h, &extra)?;
    h.push_str(&plan.hosts_lines(&rec.config.hostname, &rec.config.domainname));
    Ok(h)
}

/// `--add-host name:host-gateway` entries with the default bridge's
/// gateway (dockerd's default `host-gateway-ip`); others unchanged.
pub fn resolve_host_gateway(
    entries: &[String],
    gateway: Option<std::net::Ipv4Addr>,
) -> Vec<String> {
    entries
        .iter()
        .map(|e| match (e.split_once(':'), gateway) {
            (Some((name, "host-gateway")), Some(gw)) => format!("{name}:{gw}"),
            _ => e.clone(),
        })
        .collect()
}

/// The user's DNS settings of a container.
pub fn dns_settings(rec: &ContainerRecord) -> DnsSettings {
    let h = &rec.host_config;
    DnsSettings {
        servers: h.dns.clone().unwrap_or_default(),
        search: h.dns_search.clone().unwrap_or_default(),
        options: h.dns_options.clone().unwrap_or_default(),
    }
}

/// resolv.conf of a container using the embedded DNS server: it is the
/// only nameserver; the search list and options are the user's or the
/// host's; `ndots:0` as dockerd writes it.
pub fn embedded_resolv_conf(rec: &ContainerRecord) -> String {
    let user = dns_settings(rec);
    let base = files::resolv_conf(
        &files::host_resolv_conf(),
        &DnsSettings {
            servers: vec![EMBEDDED_DNS.to_string()],
            search: user.search.clone(),
            options: user.options.clone(),
        },
        false,
    );
    if user.options.is_empty() {
        format!("{base}options ndots:0\n")
    } else {
        base
    }
}

/// The servers the embedded DNS forwards other names to: the user's
/// `--dns`, else the host's nameservers (from the host's namespace, so a
/// loopback resolver of the host works too).
pub fn upstreams(rec: &ContainerRecord) -> Vec<std::net::SocketAddr> {
    let user = dns_settings(rec);
    let servers: Vec<String> = if user.servers.is_empty() {
        files::host_resolv_conf()
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("nameserver")).then(|| w.next().map(str::to_string))?
            })
            .collect()
    } else {
        user.servers
    };
    servers
        .iter()
        .filter_map(|s| s.parse::<std::net::IpAddr>().ok())
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .collect()
}

impl Engine {
    /// Before the shim starts: reserves the endpoints and writes the
    /// files that name them.
    pub(crate) fn network_prepare(&self, c: &Container) -> Result<Plan, CErr> {
        let rec = c.snapshot();
        let plan = self.networks.plan(&rec).map_err(CErr::Network)?;
        if plan.endpoints.is_empty() {
            return Ok(plan);
        }
        // Not fsynced: these files are derived from the record at every
        // start, so after a power loss the next start writes them again.
        let written =
            hosts_content(&rec, &plan, self.networks.default_gateway()).and_then(|hosts| {
                replace_unsynced(std::path::Path::new(&rec.hosts_path), hosts.as_bytes())?;
                if plan.embedded_dns() {
                    let resolv = embedded_resolv_conf(&rec);
                    replace_unsynced(
                        std::path::Path::new(&rec.resolv_conf_path),
                        resolv.as_bytes(),
                    )?;
                }
                Ok(())
            });
        if let Err(e) = written {
            self.networks.forget(&rec.id);
            return Err(e);
        }
        Ok(plan)
    }

    /// After the runtime's `create`: makes the endpoints in the namespace
    /// of `pid`, publishes ports, and records what the container got.
    pub(crate) async fn network_setup(
        &self,
        c: &Container,
        plan: &Plan,
        pid: i32,
    ) -> Result<(), CErr> {
        if plan.endpoints.is_empty() {
            return Ok(());
        }
        let rec = c.snapshot();
        let ports = self
            .networks
            .setup(&rec, plan, pid)
            .await
            .map_err(CErr::Network)?;
        let veths: Vec<(String, String)> = plan
            .endpoints
            .iter()
            .filter_map(|e| {
                Some((
                    e.net.id.clone(),
                    self.networks.host_veth(&e.net.id, &rec.id)?,
                ))
            })
            .collect();
        // Unsynced: what the container got lives only as long as it runs;
        // a daemon killed right after still finds it in the page cache,
        // and after a power loss the container is gone anyway.
        c.update_unsynced(|r| {
            for e in &plan.endpoints {
                let s = r.networks.entry(e.key.clone()).or_default();
                fill_endpoint(s, &e.net, e.ip, e.mac, &e.endpoint_id);
            }
            r.ports = ports;
            r.host_veths = veths.into_iter().collect();
        })?;
        Ok(())
    }

    /// At exit (and after a failed start): releases the endpoints, ports
    /// and DNS server, and clears what the record says the container got.
    pub(crate) async fn network_release(&self, c: &Container) -> Result<(), CErr> {
        let released = self.networks.release(&c.id).await.map_err(CErr::Network);
        let had = {
            let r = c.record();
            !r.ports.is_empty()
                || !r.host_veths.is_empty()
                || r.networks.values().any(|s| !s.ip_address.is_empty())
        };
        let recorded = if had {
            c.update_unsynced(|r| {
                r.ports.clear();
                r.host_veths.clear();
                for s in r.networks.values_mut() {
                    clear_endpoint(s);
                }
            })
        } else {
            Ok(())
        };
        released.and(recorded)
    }

    /// Connects a running container to `net`: a new interface (`ethN`)
    /// in its namespace, without a default route.
    pub(crate) async fn connect_running(
        self: &Arc<Self>,
        c: &Container,
        net: &NetworkRecord,
        settings: EndpointSettings,
    ) -> Result<(), CErr> {
        let rec = c.snapshot();
        let index = rec.host_veths.len().max(
            rec.networks
                .values()
                .filter(|s| !s.ip_address.is_empty())
                .count(),
        );
        let mut one = rec.clone();
        one.networks = [(net.name.clone(), settings.clone())].into();
        one.host_config.network_mode = net.name.clone();
        let mut plan = self.networks.plan(&one).map_err(CErr::Network)?;
        for e in &mut plan.endpoints {
            e.ifname = format!("eth{index}");
            e.gateway = None;
        }
        let pid = rec.state.pid as i32;
        // Ports stay where they are: only the endpoint is made.
        one.host_config.port_bindings = None;
        one.host_config.publish_all_ports = false;
        if let Err(e) = self.networks.setup(&one, &plan, pid).await {
            let undo = self.networks.release_one(&net.id, &rec.id).await;
            return Err(CErr::Network(e).with_cleanup(undo.map(|_| ()).map_err(CErr::Network)));
        }
        let e = &plan.endpoints[0];
        let veth = self.networks.host_veth(&net.id, &rec.id);
        c.update(|r| {
            let mut s = settings;
            fill_endpoint(&mut s, net, e.ip, e.mac, &e.endpoint_id);
            r.networks.insert(net.name.clone(), s);
            if let Some(v) = veth {
                r.host_veths.insert(net.id.clone(), v);
            }
        })?;
        // The new address goes into /etc/hosts (rewritten in place: the
        // file is bind-mounted, a rename would not reach the container).
        let all = self.networks.plan_view(&c.snapshot());
        if let Ok(hosts) = hosts_content(&rec, &all, self.networks.default_gateway()) {
            let _ = std::fs::write(&rec.hosts_path, hosts);
        }
        Ok(())
    }

    /// Disconnects a running container from `net`: its interface there is
    /// deleted (with the host end of the pair).
    pub(crate) async fn disconnect_running(
        &self,
        c: &Container,
        net: &NetworkRecord,
    ) -> Result<(), CErr> {
        let ep = self
            .networks
            .release_one(&net.id, &c.id)
            .await
            .map_err(CErr::Network)?;
        if let Some(ep) = ep.filter(|e| e.host_veth.is_none() && !e.ifname.is_empty()) {
            // A macvlan/ipvlan link lives only in the container's
            // namespace: it is deleted there.
            let pid = c.record().state.pid;
            let ns_path = format!("/proc/{pid}/ns/net");
            let f = std::fs::File::open(&ns_path).map_err(|source| CErr::Io {
                op: "open",
                path: ns_path.into(),
                source,
            })?;
            let ns: std::os::fd::OwnedFd = f.into();
            let inside = berth_network::link::Netlink::in_namespace(std::os::fd::AsFd::as_fd(&ns))
                .map_err(|e| CErr::Network(Error::Link(e)))?;
            inside
                .delete_link(&ep.ifname)
                .await
                .map_err(|e| CErr::Network(Error::Link(e)))?;
        }
        Ok(())
    }
}

fn fill_endpoint(
    s: &mut EndpointSettings,
    net: &NetworkRecord,
    ip: std::net::Ipv4Addr,
    mac: [u8; 6],
    endpoint_id: &str,
) {
    let pool = net.pool.as_ref();
    s.network_id = net.id.clone();
    s.endpoint_id = endpoint_id.to_string();
    s.ip_address = ip.to_string();
    s.ip_prefix_len = pool.map_or(0, |p| i64::from(p.subnet.prefix_len()));
    s.gateway = if net.internal {
        String::new()
    } else {
        pool.map(|p| p.gateway.to_string()).unwrap_or_default()
    };
    s.mac_address = ipam::format_mac(&mac);
}

fn clear_endpoint(s: &mut EndpointSettings) {
    s.endpoint_id.clear();
    s.ip_address.clear();
    s.ip_prefix_len = 0;
    s.gateway.clear();
    s.mac_address.clear();
}

/// The `Networks` a container shows (inspect, list): its endpoint
/// settings by network name; a container sharing another's namespace
/// shows none, as in dockerd.
pub fn networks_view(
    rec: &ContainerRecord,
) -> std::collections::BTreeMap<String, EndpointSettings> {
    rec.networks.clone()
}

/// `NetworkSettings.Ports`: every exposed or published port, with its
/// host bindings while the container runs (`null` otherwise).
pub fn ports_view(
    rec: &ContainerRecord,
) -> std::collections::BTreeMap<String, Option<Vec<berth_api_types::container::PortBinding>>> {
    let mut out = std::collections::BTreeMap::new();
    let key = |k: &str| {
        if k.contains('/') {
            k.to_string()
        } else {
            format!("{k}/tcp")
        }
    };
    for k in rec.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
        out.insert(key(k), None);
    }
    for k in rec
        .host_config
        .port_bindings
        .iter()
        .flatten()
        .map(|(k, _)| k)
    {
        out.insert(key(k), None);
    }
    if rec.state.running {
        for (k, b) in &rec.ports {
            out.insert(key(k), Some(b.clone()));
        }
    }
    out
}

/// `Ports` of a container in a list: published ports with their host
/// side, exposed ones without.
pub fn summary_ports(rec: &ContainerRecord) -> Vec<berth_api_types::container::Port> {
    let mut out = Vec::new();
    for (k, bindings) in ports_view(rec) {
        let (num, proto) = k.split_once('/').unwrap_or((k.as_str(), "tcp"));
        let Ok(private_port) = num.parse() else {
            continue;
        };
        match bindings {
            Some(list) if !list.is_empty() => {
                for b in list {
                    out.push(berth_api_types::container::Port {
                        ip: b.host_ip.clone(),
                        private_port,
                        public_port: b.host_port.parse().unwrap_or(0),
                        r#type: proto.to_string(),
                    });
                }
            }
            _ => out.push(berth_api_types::container::Port {
                ip: String::new(),
                private_port,
                public_port: 0,
                r#type: proto.to_string(),
            }),
        }
    }
    out
}
