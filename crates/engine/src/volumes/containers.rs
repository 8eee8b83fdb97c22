//! What the container service asks of volumes: the mounts of a new
//! container (create), using its volumes while it runs (start, stop) and
//! letting go of them (remove). Each publishes docker's volume events:
//! `create` for every volume a create names, `mount` and `unmount` per
//! container run, `destroy` when `rm -v` or `--rm` removes one.

use std::collections::BTreeMap;
use std::path::Path;

use berth_api_types::container::{Config, HostConfig};

use super::mountpoints::{self, MountPoint, Sources, Want};
use super::{Error, copyup};
use crate::Engine;
use crate::containers::store::ContainerRecord;

/// The mounts a container create decided, and the volumes it created
/// (to undo a create that fails later).
#[derive(Debug, Default)]
pub struct CreatedMounts {
    pub points: Vec<MountPoint>,
    pub created: Vec<String>,
}

/// The mount points of a record made before create recorded them: its
/// binds, `--mount` binds and tmpfs (the only mounts berth took then, with
/// the propagation it gave them then).
pub fn legacy_mount_points(host: &HostConfig) -> Vec<MountPoint> {
    let mut points = Vec::new();
    for raw in host.binds.iter().flatten() {
        if let Ok(p) = mountpoints::parse_bind(raw, "") {
            points.push(p.point);
        }
    }
    for m in host.mounts.iter().flatten() {
        if let Ok(p) = mountpoints::parse_mount(m) {
            points.push(p.point);
        }
    }
    points
}

/// The mount points of `rec`.
pub fn mount_points_of(rec: &ContainerRecord) -> Vec<MountPoint> {
    match &rec.mount_points {
        Some(points) => points.clone(),
        None => legacy_mount_points(&rec.host_config),
    }
}

impl Engine {
    /// Publishes a volume event with the volume's driver and `extra`.
    pub(crate) fn volume_event(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::from([("driver".to_string(), super::LOCAL.to_string())]);
        for (k, v) in extra {
            attrs.insert((*k).to_string(), v.clone());
        }
        self.events()
            .publish(crate::events::Event::new("volume", action, name, attrs));
    }

    /// The mounts of new container `id` from its (merged) config and host
    /// config: everything is checked first, then missing volumes are
    /// created and referenced. Nothing changes on error.
    pub(crate) fn volumes_for_create(
        &self,
        id: &str,
        config: &Config,
        host: &HostConfig,
    ) -> Result<CreatedMounts, Error> {
        let mut volumes_from = Vec::new();
        for spec in host.volumes_from.iter().flatten() {
            let (other, mode) = mountpoints::parse_volumes_from(spec)?;
            let c = self
                .containers
                .get(other)
                .map_err(|_| Error::VolumesFromNotFound(other.to_string()))?;
            let points = mount_points_of(&c.record());
            volumes_from.push((mode.to_string(), points));
        }
        let sources = Sources {
            binds: host.binds.as_deref().unwrap_or(&[]),
            mounts: host.mounts.as_deref().unwrap_or(&[]),
            volumes_from,
            config_volumes: config
                .volumes
                .iter()
                .flatten()
                .map(|(k, _)| k.as_str())
                .collect(),
            tmpfs: host
                .tmpfs
                .iter()
                .flatten()
                .map(|(k, _)| k.as_str())
                .collect(),
            volume_driver: &host.volume_driver,
            daemon_root: Some(&self.volumes.daemon_root),
        };
        let planned = mountpoints::plan(&sources)?;
        let announced: Vec<bool> = planned
            .iter()
            .filter(|p| p.volume.is_some())
            .map(|p| matches!(p.volume, Some(Want::Create { .. })))
            .collect();
        let (points, created) = self.volumes.acquire(id, planned)?;
        let volume_points = points.iter().filter(|p| p.r#type == "volume");
        for (point, announce) in volume_points.zip(announced) {
            if announce {
                self.volume_event("create", &point.name, &[]);
            }
        }
        Ok(CreatedMounts {
            points,
            created: created.into_iter().map(|r| r.name).collect(),
        })
    }

    /// Undoes [`Engine::volumes_for_create`] for a create that failed
    /// later: the references go, and the volumes it created.
    pub(crate) fn volumes_undo_create(
        &self,
        id: &str,
        mounts: &CreatedMounts,
    ) -> Result<(), Error> {
        self.volumes
            .release_refs(id, mounts.points.iter().map(|p| p.name.as_str()));
        let (removed, errors) = self.volumes.remove_unreferenced(&mounts.created);
        for rec in removed {
            self.volume_event("destroy", &rec.name, &[]);
        }
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Create-time copy-up (dockerd's `populateVolumes`): fills the new
    /// container's empty volumes from the image content at their mount
    /// points, its rootfs being mounted at `rootfs`. Volumes with driver
    /// options are filled at the first start instead, once mounted (a
    /// tmpfs mounted only for the copy would lose it). Returns whether a
    /// mount point changed.
    pub(crate) fn volumes_populate(
        &self,
        points: &mut [MountPoint],
        rootfs: &Path,
    ) -> Result<bool, Error> {
        let mut changed = false;
        for p in points
            .iter_mut()
            .filter(|p| p.r#type == "volume" && p.copy_data)
        {
            if !self.volumes.get(&p.name)?.rec.options.is_empty() {
                continue;
            }
            let data = self.volumes.data_path(&p.name);
            copyup::copy_up(&p.name, rootfs, &p.destination, &data)?;
            p.copy_data = false;
            changed = true;
        }
        Ok(changed)
    }

    /// Container `rec` starts with its rootfs mounted at `rootfs`: its
    /// volumes are mounted for it (`mount` events), and new ones take the
    /// image's content. Returns its mount points with the done copies
    /// cleared (the caller records them) and whether any copy was done.
    pub(crate) fn volumes_for_start(
        &self,
        rec: &ContainerRecord,
        rootfs: &Path,
    ) -> Result<(Vec<MountPoint>, bool), Error> {
        let mut points = mount_points_of(rec);
        let mut copied = false;
        for p in points.iter_mut().filter(|p| p.r#type == "volume") {
            if self.volumes.use_volume(&rec.id, &p.name)? {
                self.volume_event(
                    "mount",
                    &p.name,
                    &[
                        ("container", rec.id.clone()),
                        ("destination", p.destination.clone()),
                        ("read/write", p.rw.to_string()),
                        ("propagation", p.propagation.clone()),
                    ],
                );
            }
            if p.copy_data {
                let data = self.volumes.data_path(&p.name);
                copyup::copy_up(&p.name, rootfs, &p.destination, &data)?;
                p.copy_data = false;
                copied = true;
            }
        }
        Ok((points, copied))
    }

    /// Container `id` stopped: it no longer uses its volumes (the last
    /// user of a volume with options unmounts it; `unmount` events).
    pub(crate) fn volumes_after_stop(&self, rec: &ContainerRecord) -> Result<(), Error> {
        let mut result = Ok(());
        for p in mount_points_of(rec).iter().filter(|p| p.r#type == "volume") {
            match self.volumes.unuse(&rec.id, &p.name) {
                Ok(true) => self.volume_event("unmount", &p.name, &[("container", rec.id.clone())]),
                Ok(false) => {}
                Err(e) => result = result.and(Err(e)),
            }
        }
        result
    }

    /// Container `rec` was removed: its references go, and with
    /// `remove_anonymous` (`rm -v`, `--rm`) its anonymous volumes that no
    /// other container refers to (`destroy` events). Failures are reported
    /// on the daemon's log: the container is gone either way.
    pub(crate) fn volumes_after_remove(&self, rec: &ContainerRecord, remove_anonymous: bool) {
        let points = mount_points_of(rec);
        let volumes: Vec<&MountPoint> = points.iter().filter(|p| p.r#type == "volume").collect();
        self.volumes
            .release_refs(&rec.id, volumes.iter().map(|p| p.name.as_str()));
        if !remove_anonymous {
            return;
        }
        let anonymous: Vec<String> = volumes
            .iter()
            .filter(|p| p.anonymous)
            .map(|p| p.name.clone())
            .collect();
        let (removed, errors) = self.volumes.remove_unreferenced(&anonymous);
        for r in removed {
            self.volume_event("destroy", &r.name, &[]);
        }
        for e in errors {
            super::service::warn(format_args!(
                "remove anonymous volume of container {}: {e}",
                rec.id
            ));
        }
    }
}
