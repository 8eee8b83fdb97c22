//! Live restore at daemon start, and stopping everything at shutdown.
//!
//! A daemon that starts finds container records that say "running" or
//! "a shim may exist". For each: a shim that answers `state` with a live
//! init is reattached (rootfs mounted again if needed, a new monitor
//! waiting for the exit); a shim that reports the exit, or is gone but
//! left `exit.json`, gives the container's real exit code, recorded as an
//! ordinary exit (`die`, cleanup, restart policy, `--rm`). Then, as
//! dockerd does, stopped containers that were started before and whose
//! restart policy says so are started again.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use berth_shim_proto::{ExitStatus, Status};

use super::restart::{self, ExitFacts, Policy};
use super::rootfs;
use super::shim::Shim;
use super::store::Container;
use super::warn;
use crate::Engine;

/// What restore found for one container.
enum Found {
    /// Init runs (or is paused): reattached.
    Live,
    /// Init exited while the daemon was away.
    Exited(ExitStatus),
    /// Not running, nothing to do now.
    Stopped,
}

impl Engine {
    async fn restore_one(self: &Arc<Self>, c: &Arc<Container>) -> Found {
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if rec.state.removing {
            // A removal the previous daemon did not finish: docker marks
            // such containers dead; `rm` can finish them.
            let _ = c.update(|r| {
                r.state.removing = false;
                r.state.dead = true;
            });
        }
        if !rec.shim_active {
            if rec.state.running {
                // Running without a shim on record cannot be: the exit is
                // unknown (docker records 255).
                return Found::Exited(unknown_exit());
            }
            return Found::Stopped;
        }
        let shim = Shim::new(self.containers.state_dir(&c.id));
        match shim.state().await {
            Ok(st) if matches!(st.status, Status::Running | Status::Paused) => {
                let target = rootfs::rootfs_path(&self.containers.data_dir, &c.id);
                if let Err(e) = rootfs::mount(&self.images, &c.id, &target) {
                    warn(format_args!("remount rootfs of {}: {e}", c.id));
                }
                let paused = st.status == Status::Paused;
                let recorded = c.update(|r| {
                    let s = &mut r.state;
                    s.running = true;
                    s.paused = paused;
                    s.restarting = false;
                    s.pid = i64::from(st.pid);
                    if s.started_at.is_empty() {
                        s.started_at = jiff::Timestamp::now().to_string();
                    }
                });
                if let Err(e) = recorded {
                    warn(format_args!("record restored state of {}: {e}", c.id));
                }
                c.notify(|l| {
                    l.running = true;
                    l.restarting = false;
                });
                let generation = c.generation.fetch_add(1, Ordering::SeqCst) + 1;
                self.spawn_monitor(c.clone(), generation);
                Found::Live
            }
            Ok(st) if st.status == Status::Stopped => Found::Exited(ExitStatus {
                exit_code: st.exit_code.unwrap_or(255),
                exited_at: st
                    .exited_at
                    .unwrap_or_else(|| jiff::Timestamp::now().to_string()),
                oom_killed: st.oom_killed,
            }),
            Ok(_) => {
                // Created but never started: the previous daemon died in
                // the middle of a start. That start failed.
                if let Err(e) = self.delete_shim(c).await {
                    warn(format_args!("delete half-started shim of {}: {e}", c.id));
                }
                let _ = rootfs::unmount(&rootfs::rootfs_path(&self.containers.data_dir, &c.id));
                let _ = c.update(|r| {
                    r.state.running = false;
                    r.state.pid = 0;
                    r.state.exit_code = 128;
                    r.state.error = "daemon stopped during start".to_string();
                });
                Found::Stopped
            }
            Err(e) if e.is_shim_gone() => match shim.exit_file() {
                Ok(Some(exit)) => Found::Exited(exit),
                _ => Found::Exited(unknown_exit()),
            },
            Err(e) => {
                warn(format_args!("restore container {}: {e}", c.id));
                Found::Exited(unknown_exit())
            }
        }
    }
}

fn unknown_exit() -> ExitStatus {
    ExitStatus {
        exit_code: 255,
        exited_at: jiff::Timestamp::now().to_string(),
        oom_killed: false,
    }
}

/// Reattaches to the shims of containers found on disk (live restore),
/// records the exits that happened while the daemon was down, and applies
/// restart policies.
pub async fn restore(engine: &Arc<Engine>) {
    let containers = engine.containers.all();
    let mut stopped = Vec::new();
    for c in containers {
        match engine.restore_one(&c).await {
            Found::Live => {
                // Its addresses, published ports and DNS server come back;
                // the interfaces never went away.
                if let Err(e) = engine.networks.restore(&c.record()) {
                    warn(format_args!(
                        "restore networking of container {}: {e}",
                        c.id
                    ));
                }
            }
            Found::Exited(exit) => {
                // An exit like any other: the monitor's path records it,
                // cleans up and applies --rm and the restart policy.
                let generation = c.generation.fetch_add(1, Ordering::SeqCst) + 1;
                let engine = engine.clone();
                tokio::spawn(async move { engine.handle_exit(c, generation, exit).await });
            }
            Found::Stopped => stopped.push(c),
        }
    }
    // dockerd restarts, at its start, stopped containers that were started
    // before and whose policy says so (`always` even after a manual stop),
    // and removes stopped `--rm` containers (a daemon that stopped them on
    // its way down may not have got to it).
    for c in stopped {
        if c.record().host_config.auto_remove {
            let engine = engine.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.remove_container(&c, false).await {
                    warn(format_args!("auto-remove of {} at daemon start: {e}", c.id));
                }
            });
            continue;
        }
        let start = {
            let rec = c.record();
            let policy = Policy::parse(&rec.host_config.restart_policy).unwrap_or(Policy::No);
            let ran_for = match (
                rec.state.started_at.parse::<jiff::Timestamp>(),
                rec.state.finished_at.parse::<jiff::Timestamp>(),
            ) {
                (Ok(s), Ok(f)) => f.duration_since(s).try_into().unwrap_or_default(),
                _ => Default::default(),
            };
            let facts = ExitFacts {
                exit_code: rec.state.exit_code,
                manually_stopped: rec.has_been_manually_stopped,
                cancelled: false,
                ran_for,
                restart_count: rec.restart_count,
            };
            !rec.state.started_at.is_empty()
                && !rec.state.dead
                && restart::decide(policy, facts, Default::default()).restart
        };
        if start {
            let engine = engine.clone();
            tokio::spawn(async move {
                let _op = c.op.lock().await;
                if let Err(e) = engine.start_locked(&c).await {
                    warn(format_args!("restart of {} at daemon start: {e}", c.id));
                }
            });
        }
    }
}

/// Stops running containers for a daemon shutdown without live restore,
/// each with its stop timeout, all at once. Restart policies stay quiet
/// and no container counts as stopped by hand (so `unless-stopped` ones
/// come back with the daemon).
pub async fn stop_all_for_shutdown(engine: &Arc<Engine>) {
    engine
        .containers
        .shutting_down
        .store(true, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for c in engine.containers.all() {
        if !c.record().state.running {
            continue;
        }
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let _op = c.op.lock().await;
            match engine.stop_locked(&c, None, None).await {
                Ok(()) | Err(super::Error::AlreadyStopped) => {}
                Err(e) => warn(format_args!("stop {} at shutdown: {e}", c.id)),
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
