//! `DELETE /containers/{id}`: the container's shim, mount, rw snapshot,
//! record, log and state directories go; `destroy` is published.

use std::sync::Arc;

use berth_api_types::container::PruneResponse;
use berth_api_types::filters::Filters;

use super::Error;
use super::lifecycle::wait_stopped;
use super::shim::Shim;
use super::store::Container;
use crate::Engine;

impl Engine {
    /// Removes a container (`DELETE /containers/{id}?force=&v=`). 409 when
    /// it runs (or is paused) and `force` is not given; with `force` it is
    /// killed first. `volumes` removes its anonymous volumes that no other
    /// container refers to (as `--rm` does). Publishes `destroy` (and
    /// `kill`/`die` when forced, volume `destroy`s).
    pub async fn container_remove(
        self: &Arc<Self>,
        reference: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), Error> {
        let c = self.containers.get(reference)?;
        let auto_remove = c.record().host_config.auto_remove;
        self.remove_container_and_volumes(&c, force, volumes || auto_remove)
            .await
    }

    /// Removes a container; a `--rm` container's anonymous volumes go too.
    pub(crate) async fn remove_container(
        self: &Arc<Self>,
        c: &Arc<Container>,
        force: bool,
    ) -> Result<(), Error> {
        let auto_remove = c.record().host_config.auto_remove;
        self.remove_container_and_volumes(c, force, auto_remove)
            .await
    }

    async fn remove_container_and_volumes(
        self: &Arc<Self>,
        c: &Arc<Container>,
        force: bool,
        remove_anonymous: bool,
    ) -> Result<(), Error> {
        let _op = c.op.lock().await;
        if c.lifecycle.borrow().removed {
            return Ok(());
        }
        let rec = c.snapshot();
        if rec.state.running {
            if !force {
                return Err(if rec.state.paused {
                    Error::RemovePaused { id: rec.id }
                } else {
                    Error::RemoveRunning { id: rec.id }
                });
            }
            c.restart
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .cancelled = true;
            if rec.state.restarting {
                self.settle_stopped(c);
            } else {
                let shim = Shim::new(self.containers.state_dir(&c.id));
                // An error means init is gone already: the monitor sees
                // the exit.
                if shim.kill(libc::SIGKILL, false).await.is_ok() {
                    self.container_event(c, "kill", &[("signal", libc::SIGKILL.to_string())]);
                }
                if rec.state.paused {
                    let _ = shim.resume().await;
                }
                if !wait_stopped(c, Some(std::time::Duration::from_secs(10))).await {
                    return Err(Error::Shim {
                        op: "remove",
                        id: c.id.clone(),
                        source: berth_shim_proto::ShimError::Remote {
                            op: "kill",
                            message: "container did not exit after SIGKILL".to_string(),
                        },
                    });
                }
            }
        }
        // A `docker cp` still using the container's files finishes first.
        drop(c.fs_pin.write().await);
        // A `--rm` container was marked when its exit was recorded.
        if !rec.state.removing {
            c.update(|r| r.state.removing = true)?;
        }
        if let Err(e) = self.remove_files(c).await {
            let recorded = c.update(|r| {
                r.state.removing = false;
                r.state.dead = true;
            });
            return Err(e.with_cleanup(recorded));
        }
        {
            let mut reg = self.containers.write();
            reg.names.remove(&c.id, &rec.name);
            reg.by_id.remove(&c.id);
        }
        self.containers.execs.forget_container(&c.id);
        self.containers.health.forget(&c.id);
        // The event first: a client woken by the removal may read events.
        self.container_event(c, "destroy", &[]);
        self.volumes_after_remove(&rec, remove_anonymous);
        c.notify(|l| {
            l.removed = true;
            l.running = false;
            l.restarting = false;
        });
        c.restart_wake.notify_one();
        Ok(())
    }

    /// Removes stopped containers (`POST /containers/prune?filters=`).
    /// Filters: `until` (created before: a time, or a duration like `24h`
    /// back from now), `label`, `label!`. Returns the removed ids and the
    /// bytes their rw layers held.
    pub async fn container_prune(
        self: &Arc<Self>,
        filters: &Filters,
    ) -> Result<PruneResponse, Error> {
        filters
            .validate(&["until", "label", "label!"])
            .map_err(Error::InvalidFilter)?;
        let mut until = None;
        for v in filters.get("until") {
            let t = match super::logs::parse_api_time(v) {
                Ok(Some(t)) => t,
                _ => {
                    let d = parse_go_duration(v).ok_or_else(|| Error::InvalidTime {
                        value: v.to_string(),
                    })?;
                    jiff::Timestamp::now() - d
                }
            };
            until = Some(t);
        }
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for c in self.containers.all() {
            let rec = c.snapshot();
            if rec.state.running {
                continue;
            }
            let labels = rec.config.labels.clone().unwrap_or_default();
            let created: Option<jiff::Timestamp> = rec.created.parse().ok();
            let keep = !filters.match_kv_list("label", &labels)
                || filters
                    .get("label!")
                    .iter()
                    .any(|l| berth_api_types::filters::match_label(l, &labels))
                || until.is_some_and(|u| created.is_none_or(|c| c >= u));
            if keep {
                continue;
            }
            let (size, _) = self.container_sizes(&rec);
            match self.remove_container(&c, false).await {
                Ok(()) => {
                    deleted.push(rec.id);
                    reclaimed += size as u64;
                }
                // Started meanwhile: not prunable any more.
                Err(Error::RemoveRunning { .. } | Error::RemovePaused { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.events().publish(crate::events::Event::new(
            "container",
            "prune",
            "",
            [("reclaimed".to_string(), reclaimed.to_string())].into(),
        ));
        Ok(PruneResponse {
            containers_deleted: Some(deleted),
            space_reclaimed: reclaimed,
        })
    }

    /// Shim, mount, snapshot, directories. The directories on the data
    /// root leave with one rename each; their files are deleted in the
    /// background (the snapshotter's trash and the containers' one).
    async fn remove_files(&self, c: &Container) -> Result<(), Error> {
        self.cleanup_locked(c).await?;
        self.images.remove_rootfs(&c.id).map_err(Error::Image)?;
        super::store::remove_dir_if_present(&self.containers.state_dir(&c.id), "remove")?;
        self.containers.trash.discard(&c.dir).map_err(Error::Trash)
    }
}

/// Go's `time.ParseDuration` for what prune filters use: a sequence of
/// numbers with units `h`, `m`, `s`, `ms`, `us`, `ns` (`24h`, `1h30m`).
fn parse_go_duration(s: &str) -> Option<jiff::SignedDuration> {
    let mut rest = s;
    let mut total = std::time::Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += std::time::Duration::from_secs_f64(n * secs);
        rest = &rest[unit_end..];
    }
    jiff::SignedDuration::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("24h").unwrap().as_secs(), 86400);
        assert_eq!(parse_go_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_go_duration("1.5s").unwrap().as_millis(), 1500);
        assert!(parse_go_duration("").is_none());
        assert!(parse_go_duration("10").is_none());
        assert!(parse_go_duration("3d").is_none());
    }
}
