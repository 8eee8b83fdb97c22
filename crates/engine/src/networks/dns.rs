//! Embedded DNS servers of the containers on user-defined networks: one
//! per container, answering for the containers it shares a network with.

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;

use berth_network::dns::{DnsServer, Table};

use super::{Error, NetworkService};
use crate::containers::store::ContainerRecord;

/// A container's server.
pub struct Servers {
    server: DnsServer,
}

impl NetworkService {
    /// The names container `id` can resolve: every endpoint on the
    /// user-defined networks it is on, by container name, short id and
    /// alias.
    fn dns_table(&self, id: &str) -> Table {
        let reg = self.lock();
        let mut table: Table = BTreeMap::new();
        for (net_id, eps) in &reg.endpoints {
            let on_it = eps.contains_key(id);
            let served = reg.networks.get(net_id).is_some_and(|n| n.embedded_dns());
            if !on_it || !served {
                continue;
            }
            for ep in eps.values() {
                for name in &ep.names {
                    let addrs = table.entry(name.to_ascii_lowercase()).or_default();
                    if !addrs.contains(&ep.ip) {
                        addrs.push(ep.ip);
                    }
                }
            }
        }
        table
    }

    /// Starts the server of container `rec` in namespace `ns`, and updates
    /// the others' tables (they can resolve it now).
    pub(super) fn start_dns(&self, rec: &ContainerRecord, ns: BorrowedFd<'_>) -> Result<(), Error> {
        let table = self.dns_table(&rec.id);
        let upstreams = super::container::upstreams(rec);
        let server = DnsServer::start(ns, 53, table, upstreams)
            .map_err(|e| Error::Invalid(format!("start embedded DNS server: {e}")))?;
        self.dns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(rec.id.clone(), Servers { server });
        self.refresh_dns();
        Ok(())
    }

    /// Whether container `id` has a server.
    pub(super) fn has_dns(&self, id: &str) -> bool {
        self.dns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
    }

    /// Stops the server of container `id`.
    pub(super) fn stop_dns(&self, id: &str) {
        let removed = self
            .dns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        drop(removed);
        // Its name leaves the others' tables whether it had a server or not.
        self.refresh_dns();
    }

    /// Recomputes every server's table from the endpoints.
    pub(super) fn refresh_dns(&self) {
        let ids: Vec<String> = self
            .dns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        let tables: Vec<(String, Table)> = ids
            .into_iter()
            .map(|id| {
                let t = self.dns_table(&id);
                (id, t)
            })
            .collect();
        let servers = self.dns.lock().unwrap_or_else(|e| e.into_inner());
        for (id, t) in tables {
            if let Some(s) = servers.get(&id) {
                s.server.update(t);
            }
        }
    }
}
