//! The smaller container operations: pause, unpause, rename, update, logs.

use std::sync::Arc;

use berth_api_types::container::{Resources, UpdateConfig, UpdateResponse};
use tokio::sync::mpsc;

use super::logs::{self, LogMessage, LogOptions};
use super::names::validate_name;
use super::restart::Policy;
use super::shim::Shim;
use super::sysinfo::SysInfo;
use super::{Error, spec, validate};
use crate::Engine;

impl Engine {
    /// Freezes a container (`POST /containers/{id}/pause`). 409 when not
    /// running, restarting or already paused. Publishes `pause`.
    pub async fn container_pause(self: &Arc<Self>, reference: &str) -> Result<(), Error> {
        let c = self.containers.get(reference)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.running {
            return Err(Error::NotRunning { id: rec.id });
        }
        if rec.state.restarting {
            return Err(Error::Restarting { id: rec.id });
        }
        if rec.state.paused {
            return Err(Error::AlreadyPaused { id: rec.id });
        }
        Shim::new(self.containers.state_dir(&c.id))
            .pause()
            .await
            .map_err(|source| Error::Shim {
                op: "pause",
                id: c.id.clone(),
                source,
            })?;
        c.update(|r| r.state.paused = true)?;
        self.container_event(&c, "pause", &[]);
        Ok(())
    }

    /// Thaws a container (`POST /containers/{id}/unpause`). 409 when not
    /// paused. Publishes `unpause`.
    pub async fn container_unpause(self: &Arc<Self>, reference: &str) -> Result<(), Error> {
        let c = self.containers.get(reference)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.paused {
            return Err(Error::NotPaused { id: rec.id });
        }
        Shim::new(self.containers.state_dir(&c.id))
            .resume()
            .await
            .map_err(|source| Error::Shim {
                op: "unpause",
                id: c.id.clone(),
                source,
            })?;
        c.update(|r| r.state.paused = false)?;
        self.container_event(&c, "unpause", &[]);
        Ok(())
    }

    /// Renames a container (`POST /containers/{id}/rename?name=`). 400 for
    /// an invalid name or the current one, 409 when the name is taken.
    /// Publishes `rename` (attribute `oldName`).
    pub async fn container_rename(
        self: &Arc<Self>,
        reference: &str,
        new_name: &str,
    ) -> Result<(), Error> {
        let c = self.containers.get(reference)?;
        let new = validate_name(new_name)?;
        let _op = c.op.lock().await;
        let old = c.record().name.clone();
        if old == new {
            return Err(Error::SameName);
        }
        self.containers.write().names.rename(&c.id, &old, &new)?;
        if let Err(e) = c.update(|r| r.name = new.clone()) {
            // Keep memory and disk in agreement.
            let undo = self.containers.write().names.rename(&c.id, &new, &old);
            return Err(e.with_cleanup(undo));
        }
        self.container_event(&c, "rename", &[("oldName", old)]);
        Ok(())
    }

    /// Changes a container's resources and restart policy
    /// (`POST /containers/{id}/update`), on the running container too
    /// (runtime update). Checked as dockerd does: the update's values with
    /// create's range checks (400; limits the host cannot apply discarded
    /// with a warning), then against the current ones (409 "Cannot update
    /// container <id>: ..."); berth also checks the merged limits with
    /// create's rules, so no update makes a container create would refuse.
    /// Nothing changes when a check fails. Publishes `update`.
    pub async fn container_update(
        self: &Arc<Self>,
        reference: &str,
        update: UpdateConfig,
    ) -> Result<UpdateResponse, Error> {
        let c = self.containers.get(reference)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        let mut host = rec.host_config.clone();
        let mut u = update.resources.clone();
        // Only what berth can apply; the rest must stay at zero.
        if let Some(field) = validate::unsupported_resource(&u) {
            return Err(Error::Unsupported {
                field: field.to_string(),
            });
        }
        if u.ulimits.as_ref().is_some_and(|l| !l.is_empty()) {
            return Err(Error::Unsupported {
                field: "Ulimits of update".to_string(),
            });
        }
        if u.devices.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(Error::Unsupported {
                field: "Devices of update".to_string(),
            });
        }
        let sys = SysInfo::host();
        let warnings = validate::resources(&mut u, sys, true)?;
        if let Some(message) = validate::update_conflict(&host.resources, &u) {
            return Err(Error::UpdateConflict {
                id: rec.id.clone(),
                message: message.to_string(),
            });
        }
        if !update.restart_policy.name.is_empty() {
            let policy = Policy::parse(&update.restart_policy)?;
            if host.auto_remove && !policy.is_no() {
                return Err(Error::RestartWithAutoRemove);
            }
            host.restart_policy = update.restart_policy.clone();
        }
        merge_update(&mut host.resources, &u);
        validate::resources(&mut host.resources.clone(), sys, false)?;
        if c.lifecycle.borrow().running {
            let resources = spec::update_resources(&u).map_err(|source| Error::Spec {
                id: c.id.clone(),
                source,
            })?;
            if resources.as_object().is_some_and(|m| !m.is_empty()) {
                Shim::new(self.containers.state_dir(&c.id))
                    .update(resources)
                    .await
                    .map_err(|source| Error::Shim {
                        op: "update",
                        id: c.id.clone(),
                        source,
                    })?;
            }
        }
        c.update(|rec| rec.host_config = host)?;
        self.container_event(&c, "update", &[]);
        Ok(UpdateResponse {
            warnings: Some(warnings),
        })
    }

    /// A container's log (`GET /containers/{id}/logs`): entries of the
    /// json-file log, oldest first; when following, new entries until the
    /// container stops and the file is drained. 400 when the container's
    /// log driver is `none`. The receiver ends with the log; dropping it
    /// stops the reader.
    pub fn container_logs(
        &self,
        reference: &str,
        opts: LogOptions,
    ) -> Result<mpsc::Receiver<LogMessage>, Error> {
        let c = self.containers.get(reference)?;
        let path = c.record().log_path.clone();
        if path.is_empty() {
            return Err(Error::LogsNotReadable);
        }
        Ok(logs::read(path.into(), opts, c.lifecycle.subscribe()))
    }
}

/// docker's update merge (`Container.UpdateContainer`): a zero value (or
/// an absent list) leaves the current setting as it is.
fn merge_update(r: &mut Resources, u: &Resources) {
    for (mine, theirs) in [
        (&mut r.cpu_shares, u.cpu_shares),
        (&mut r.memory, u.memory),
        (&mut r.nano_cpus, u.nano_cpus),
        (&mut r.cpu_period, u.cpu_period),
        (&mut r.cpu_quota, u.cpu_quota),
        (&mut r.memory_reservation, u.memory_reservation),
        (&mut r.memory_swap, u.memory_swap),
    ] {
        if theirs != 0 {
            *mine = theirs;
        }
    }
    if u.blkio_weight != 0 {
        r.blkio_weight = u.blkio_weight;
    }
    if u.blkio_weight_device.is_some() {
        r.blkio_weight_device.clone_from(&u.blkio_weight_device);
    }
    for (mine, theirs) in [
        (&mut r.blkio_device_read_bps, &u.blkio_device_read_bps),
        (&mut r.blkio_device_write_bps, &u.blkio_device_write_bps),
        (&mut r.blkio_device_read_iops, &u.blkio_device_read_iops),
        (&mut r.blkio_device_write_iops, &u.blkio_device_write_iops),
    ] {
        if theirs.is_some() {
            mine.clone_from(theirs);
        }
    }
    for (mine, theirs) in [
        (&mut r.cpuset_cpus, &u.cpuset_cpus),
        (&mut r.cpuset_mems, &u.cpuset_mems),
    ] {
        if !theirs.is_empty() {
            mine.clone_from(theirs);
        }
    }
    if u.pids_limit.is_some() {
        r.pids_limit = u.pids_limit;
    }
}

#[cfg(test)]
mod tests {
    use berth_api_types::container::ThrottleDevice;

    use super::*;

    #[test]
    fn updates_merge_like_docker() {
        let mut r = Resources {
            memory: 32 << 20,
            memory_swap: 64 << 20,
            cpu_shares: 512,
            cpuset_cpus: "0".into(),
            pids_limit: Some(10),
            blkio_device_read_bps: Some(vec![ThrottleDevice {
                path: "/dev/null".into(),
                rate: 1,
            }]),
            ..Resources::default()
        };
        merge_update(
            &mut r,
            &Resources {
                memory: 48 << 20,
                cpu_quota: 50_000,
                blkio_device_read_bps: Some(Vec::new()),
                ..Resources::default()
            },
        );
        assert_eq!(
            r,
            Resources {
                memory: 48 << 20,
                memory_swap: 64 << 20,
                cpu_shares: 512,
                cpu_quota: 50_000,
                cpuset_cpus: "0".into(),
                pids_limit: Some(10),
                blkio_device_read_bps: Some(Vec::new()),
                ..Resources::default()
            }
        );
    }
}
