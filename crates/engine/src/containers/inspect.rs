//! `GET /containers/{id}/json`: everything docker returns, with docker's
//! zero values where berth has nothing to say.

use std::collections::BTreeMap;

use berth_api_types::container::{
    GraphDriver, InspectResponse, MountPoint, NetworkSettings, State,
};
use berth_api_types::de::ZERO_TIME;

use super::Error;
use super::store::ContainerRecord;
use crate::Engine;

/// The mounts a container shows (docker's `Mounts`): its binds, volumes
/// and `--mount`s, not its `--tmpfs` paths.
pub(crate) fn mount_points(rec: &ContainerRecord) -> Vec<MountPoint> {
    crate::volumes::mount_points_of(rec)
        .into_iter()
        .map(|p| MountPoint {
            r#type: p.r#type,
            name: p.name,
            source: p.source,
            destination: p.destination,
            driver: p.driver,
            mode: p.mode,
            rw: p.rw,
            propagation: p.propagation,
        })
        .collect()
}

fn time_or_zero(t: &str) -> String {
    if t.is_empty() {
        ZERO_TIME.to_string()
    } else {
        t.to_string()
    }
}

impl Engine {
    /// Inspects a container (`GET /containers/{id}/json?size=`).
    pub fn container_inspect(&self, reference: &str, size: bool) -> Result<InspectResponse, Error> {
        let c = self.containers.get(reference)?;
        let rec = c.snapshot();
        let s = &rec.state;
        let mounts = self.images.rootfs_mounts(&rec.id).unwrap_or_default();
        let mut graph = BTreeMap::new();
        for m in &mounts {
            if m.kind == "overlay" {
                graph.insert("LowerDir".to_string(), m.lowerdirs().join(":"));
                if let Some(u) = m.upperdir() {
                    graph.insert("UpperDir".to_string(), u.to_string());
                }
                if let Some(w) = m.workdir() {
                    graph.insert("WorkDir".to_string(), w.to_string());
                }
            }
        }
        graph.insert(
            "MergedDir".to_string(),
            super::rootfs::rootfs_path(&self.containers.data_dir, &rec.id)
                .display()
                .to_string(),
        );
        let (size_rw, size_root_fs) = if size {
            let (rw, root) = self.container_sizes(&rec);
            (Some(rw), Some(root))
        } else {
            (None, None)
        };
        let sandbox_key = if s.running && s.pid > 0 && rec.host_config.network_mode != "host" {
            format!("/proc/{}/ns/net", s.pid)
        } else {
            String::new()
        };
        Ok(InspectResponse {
            id: rec.id.clone(),
            created: rec.created.clone(),
            path: rec.path.clone(),
            args: Some(rec.args.clone()),
            state: State {
                status: s.status().to_string(),
                running: s.running,
                paused: s.paused,
                restarting: s.restarting,
                oom_killed: s.oom_killed,
                dead: s.dead,
                pid: s.pid,
                exit_code: s.exit_code,
                error: s.error.clone(),
                started_at: time_or_zero(&s.started_at),
                finished_at: time_or_zero(&s.finished_at),
                health: self.containers.health.get(&rec.id),
            },
            image: rec.image.clone(),
            resolv_conf_path: rec.resolv_conf_path.clone(),
            hostname_path: rec.hostname_path.clone(),
            hosts_path: rec.hosts_path.clone(),
            log_path: rec.log_path.clone(),
            name: rec.name.clone(),
            restart_count: rec.restart_count,
            driver: rec.driver.clone(),
            platform: "linux".to_string(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: {
                let ids = self.containers.execs.ids_of(&rec.id);
                (!ids.is_empty()).then_some(ids)
            },
            host_config: rec.host_config.clone(),
            graph_driver: GraphDriver {
                data: Some(graph),
                name: rec.driver.clone(),
            },
            size_rw,
            size_root_fs,
            mounts: Some(mount_points(&rec)),
            config: rec.config.clone(),
            network_settings: {
                let networks = crate::networks::container::networks_view(&rec);
                // The top-level fields show the default bridge's endpoint,
                // as dockerd's deprecated ones do.
                let bridge = networks.get("bridge").cloned().unwrap_or_default();
                NetworkSettings {
                    bridge: String::new(),
                    sandbox_id: String::new(),
                    sandbox_key,
                    ports: Some(crate::networks::container::ports_view(&rec)),
                    endpoint_id: bridge.endpoint_id,
                    gateway: bridge.gateway,
                    ip_address: bridge.ip_address,
                    ip_prefix_len: bridge.ip_prefix_len,
                    mac_address: bridge.mac_address,
                    networks: Some(networks),
                    ..NetworkSettings::default()
                }
            },
        })
    }
}
