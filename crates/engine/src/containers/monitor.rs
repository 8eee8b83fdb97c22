//! The monitor of a running container: waits for init's exit through the
//! shim, records it (`die`), cleans up, and applies `--rm` or the restart
//! policy (with its back-off, cancelled by a stop or kill). The health
//! monitor of the run (`health`) starts with it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use berth_shim_proto::ExitStatus;

use super::restart::{self, ExitFacts, Policy};
use super::shim::Shim;
use super::store::Container;
use super::warn;
use crate::Engine;

impl Engine {
    /// Watches run `generation` of `c` until init exits, then handles the
    /// exit.
    pub(crate) fn spawn_monitor(self: &Arc<Self>, c: Arc<Container>, generation: u64) {
        self.spawn_health_monitor(c.clone(), generation);
        let engine = self.clone();
        tokio::spawn(async move {
            let shim = Shim::new(engine.containers.state_dir(&c.id));
            let exit = loop {
                match shim.wait().await {
                    Ok(st) => break st,
                    Err(e) if e.is_shim_gone() => {
                        // The shim died before answering: its exit file
                        // if it wrote one, else the exit is unknown
                        // (docker records 255 then).
                        match shim.exit_file() {
                            Ok(Some(st)) => break st,
                            _ => {
                                break ExitStatus {
                                    exit_code: 255,
                                    exited_at: jiff::Timestamp::now().to_string(),
                                    oom_killed: false,
                                };
                            }
                        }
                    }
                    Err(e) => {
                        // A transient failure (no fds, ...): retry, the
                        // shim keeps the exit for us.
                        warn(format_args!("wait for container {}: {e}", c.id));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            };
            engine.handle_exit(c, generation, exit).await;
        });
    }

    /// Records an exit, cleans up, and applies `--rm` or the restart
    /// policy.
    pub(crate) async fn handle_exit(
        self: &Arc<Self>,
        c: Arc<Container>,
        generation: u64,
        exit: ExitStatus,
    ) {
        if c.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        let code = i64::from(exit.exit_code);
        let finished: jiff::Timestamp = exit
            .exited_at
            .parse()
            .unwrap_or_else(|_| jiff::Timestamp::now());
        let shutting_down = self.containers.shutting_down.load(Ordering::SeqCst);
        // Phase 1, without the op lock (a stop holding it waits for this).
        let decision = {
            let rec = c.record();
            let started: Option<jiff::Timestamp> = rec.state.started_at.parse().ok();
            let ran_for = started
                .and_then(|s| finished.duration_since(s).try_into().ok())
                .unwrap_or_default();
            let policy = Policy::parse(&rec.host_config.restart_policy).unwrap_or(Policy::No);
            let mut rs = c.restart.lock().unwrap_or_else(|e| e.into_inner());
            let facts = ExitFacts {
                exit_code: code,
                manually_stopped: rec.has_been_manually_stopped,
                cancelled: rs.cancelled || shutting_down || rec.state.removing,
                ran_for,
                restart_count: rec.restart_count,
            };
            let d = restart::decide(policy, facts, rs.delay);
            rs.delay = d.delay;
            d
        };
        let recorded = c.update(|r| {
            // A `--rm` container goes next (phase 2): marking it here saves
            // the removal a second durable write, and a start racing in is
            // refused as for any container being removed.
            let remove_next = !decision.restart && r.host_config.auto_remove;
            let s = &mut r.state;
            s.removing |= remove_next;
            s.running = decision.restart;
            s.restarting = decision.restart;
            s.paused = false;
            s.pid = 0;
            s.exit_code = code;
            s.oom_killed = exit.oom_killed;
            s.finished_at = finished.to_string();
            if decision.restart {
                r.restart_count += 1;
            }
        });
        if let Err(e) = recorded {
            warn(format_args!("record exit of {}: {e}", c.id));
        }
        c.notify(|l| {
            l.running = false;
            l.restarting = decision.restart;
            l.exits += 1;
            l.exit_code = code;
        });
        if exit.oom_killed {
            self.container_event(&c, "oom", &[]);
        }
        self.container_event(&c, "die", &[("exitCode", code.to_string())]);

        // Phase 2: cleanup, unless someone else already started a new run.
        let auto_remove = {
            let _op = c.op.lock().await;
            if c.generation.load(Ordering::SeqCst) != generation || c.lifecycle.borrow().removed {
                return;
            }
            if let Err(e) = self.cleanup_locked(&c).await {
                warn(format_args!("clean up after exit of {}: {e}", c.id));
            }
            c.record().host_config.auto_remove
        };
        if decision.restart {
            self.restart_after(c, generation, decision.delay).await;
        } else if auto_remove {
            if let Err(e) = self.remove_container(&c, true).await {
                warn(format_args!("auto-remove of {}: {e}", c.id));
            }
        }
    }

    /// The restart policy's restart after `delay`, unless a stop, kill or
    /// removal cancels it meanwhile.
    async fn restart_after(self: &Arc<Self>, c: Arc<Container>, generation: u64, delay: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = c.restart_wake.notified() => {}
        }
        let _op = c.op.lock().await;
        let cancelled = c
            .restart
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cancelled;
        let still = c.generation.load(Ordering::SeqCst) == generation
            && c.record().state.restarting
            && !c.lifecycle.borrow().removed;
        if !still {
            return;
        }
        if cancelled || self.containers.shutting_down.load(Ordering::SeqCst) {
            self.settle_stopped(&c);
            return;
        }
        if let Err(e) = self.start_locked(&c).await {
            warn(format_args!("restart of {}: {e}", c.id));
        }
    }

    /// A container whose restart was cancelled during its back-off is
    /// stopped.
    pub(crate) fn settle_stopped(&self, c: &Container) {
        let r = c.update(|r| {
            r.state.running = false;
            r.state.restarting = false;
        });
        if let Err(e) = r {
            warn(format_args!("record stop of {}: {e}", c.id));
        }
        c.notify(|l| {
            l.running = false;
            l.restarting = false;
        });
        c.restart_wake.notify_one();
    }
}
