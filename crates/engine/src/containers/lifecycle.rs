//! Start, stop, kill, restart and wait. What happens at an exit is the
//! monitor's (`monitor.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use berth_api_types::container::WaitResponse;
use berth_shim_proto::{LogConfig, ShimError, ShimSpawn, spawn_shim};

use super::rootfs;
use super::shim::Shim;
use super::signal::parse_signal;
use super::store::Container;
use super::warn;
use super::{Error, attach, create, spec};
use crate::Engine;

/// Seconds `stop` waits for the stop signal to work when neither the
/// request nor the container says (docker's default).
pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

/// How long a SIGKILL may take to show as an exit before the caller is
/// answered anyway.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// What `POST /containers/{id}/wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Returns at once when the container is not running, else at its exit.
    NotRunning,
    /// The next exit, even if the container is not running now.
    NextExit,
    /// The container's removal.
    Removed,
}

impl WaitCondition {
    /// Parses the API's `condition` ("" is not-running).
    pub fn parse(s: &str) -> Result<WaitCondition, Error> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(Error::InvalidCondition {
                value: other.to_string(),
            }),
        }
    }
}

/// The pending answer of a wait: resolves to the exit code when the
/// condition is met.
pub type WaitFuture = Pin<Box<dyn Future<Output = WaitResponse> + Send + 'static>>;

/// Docker's message and recorded exit code for a runtime that failed to
/// create the container running `cmd`: 127 when the command is not found,
/// 126 when it cannot be executed, 128 otherwise.
pub fn start_failure(cmd: &str, runtime_error: &str) -> (String, i64) {
    let lower = runtime_error.to_lowercase();
    let mut message = format!(
        "failed to create task for container: OCI runtime create failed: {runtime_error}: unknown"
    );
    let code = if lower.contains(&cmd.to_lowercase())
        && (lower.contains("executable file not found")
            || lower.contains("no such file or directory"))
    {
        127
    } else if lower.contains("permission denied") {
        126
    } else if lower.contains("not a directory") {
        message.push_str(
            ": Are you trying to mount a directory onto a file (or vice-versa)? \
             Check if the specified host path exists and is the expected type",
        );
        127
    } else {
        128
    };
    (message, code)
}

/// Waits until init is not running (or the container is gone), at most
/// `limit`; true when it stopped.
pub(crate) async fn wait_stopped(c: &Container, limit: Option<Duration>) -> bool {
    let mut rx = c.lifecycle.subscribe();
    let stopped = async move { rx.wait_for(|l| !l.running || l.removed).await.is_ok() };
    match limit {
        Some(d) => tokio::time::timeout(d, stopped).await.unwrap_or(false),
        None => stopped.await,
    }
}

impl Engine {
    /// Starts a container (`POST /containers/{id}/start`). 304 when it
    /// runs already; 409 when paused or being removed. A runtime failure
    /// is [`Error::StartFailed`] with docker's message, and the container
    /// records exit code 127/126/128 (and is removed under `--rm`).
    /// Publishes `start`.
    pub async fn container_start(self: &Arc<Self>, reference: &str) -> Result<(), Error> {
        let c = self.containers.get(reference)?;
        let _op = c.op.lock().await;
        {
            let rec = c.record();
            if rec.state.removing {
                return Err(Error::StartRemoving { id: rec.id.clone() });
            }
            if rec.state.paused {
                return Err(Error::StartPaused);
            }
            if rec.state.running && !rec.state.restarting {
                return Err(Error::AlreadyStarted);
            }
        }
        // An explicit start resets the restart policy's state.
        *c.restart.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
        // Written with the start's own record writes (`shim_active` before
        // the spawn, then the running state or the failure).
        c.update_in_memory(|r| r.has_been_manually_stopped = false);
        let result = self.start_locked(&c).await;
        if result.is_err() && c.record().host_config.auto_remove {
            drop(_op);
            if let Err(e) = self.remove_container(&c, true).await {
                warn(format_args!(
                    "auto-remove of {} after a failed start: {e}",
                    c.id
                ));
            }
        }
        result
    }

    /// Starts the container (its op lock held): mount, bundle, shim,
    /// pending attaches, `start`, monitor.
    pub(crate) async fn start_locked(self: &Arc<Self>, c: &Arc<Container>) -> Result<(), Error> {
        // A `docker cp` still using the filesystem of the last run (or of
        // the stopped container) finishes first: its rootfs mount and the
        // one made below must not be two at a time.
        drop(c.fs_pin.write().await);
        self.cleanup_locked(c).await?;
        let rec = c.snapshot();
        let id = rec.id.clone();
        let state_dir = self.containers.state_dir(&id);
        super::store::remove_dir_if_present(&state_dir, "remove stale state dir")?;
        std::fs::create_dir_all(&state_dir).map_err(|source| Error::Io {
            op: "create",
            path: state_dir.clone(),
            source,
        })?;
        let rootfs = rootfs::rootfs_path(&self.containers.data_dir, &id);
        rootfs::mount(&self.images, &id, &rootfs)?;
        match self.spawn_and_start(c, &rec, &rootfs, &state_dir).await {
            Ok(pid) => {
                let generation = c.generation.fetch_add(1, Ordering::SeqCst) + 1;
                let now = jiff::Timestamp::now().to_string();
                // The container runs now: a failed record write must not
                // leave it unmonitored (its exit would never be collected),
                // so it is only reported, as in the monitor.
                if let Err(e) = c.update(|r| {
                    let s = &mut r.state;
                    s.running = true;
                    s.paused = false;
                    s.restarting = false;
                    s.dead = false;
                    s.oom_killed = false;
                    s.pid = i64::from(pid);
                    s.exit_code = 0;
                    s.error.clear();
                    s.started_at = now;
                }) {
                    warn(format_args!("record start of container {id}: {e}"));
                }
                c.notify(|l| {
                    l.running = true;
                    l.restarting = false;
                });
                // "start" before the monitor can publish "die".
                self.container_event(c, "start", &[]);
                self.spawn_monitor(c.clone(), generation);
                let [h, w] = rec.host_config.console_size;
                if rec.config.tty && h > 0 && w > 0 {
                    let shim = Shim::new(&state_dir);
                    let _ = shim.resize(h as u16, w as u16).await;
                }
                Ok(())
            }
            Err(err) => {
                // Attach clients waiting for this start get end-of-stream.
                c.pending_attach
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                let code = match &err {
                    Error::StartFailed { exit_code, .. } => *exit_code,
                    _ => 128,
                };
                let message = err.to_string();
                let cleanup = rootfs::unmount(&rootfs);
                let recorded = c.update(|r| {
                    let s = &mut r.state;
                    s.running = false;
                    s.restarting = false;
                    s.pid = 0;
                    s.exit_code = code;
                    s.error = message;
                });
                c.notify(|l| {
                    l.running = false;
                    l.restarting = false;
                    l.exit_code = code;
                });
                Err(err.with_cleanup(cleanup.and(recorded)))
            }
        }
    }

    /// Writes the bundle, spawns the shim (runtime create), connects the
    /// attach clients waiting for the start, and sends `start`. Returns
    /// init's pid. On failure no shim is left behind.
    async fn spawn_and_start(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &super::store::ContainerRecord,
        rootfs: &std::path::Path,
        state_dir: &std::path::Path,
    ) -> Result<i32, Error> {
        let id = rec.id.clone();
        let runtime_name = rec.host_config.runtime.clone();
        let runtime = self
            .config()
            .runtimes
            .get(&runtime_name)
            .cloned()
            .ok_or_else(|| Error::UnknownRuntime {
                name: runtime_name.clone(),
            })?;
        spec::write_bundle(self, rec, rootfs, state_dir)?;
        let log = match create::log_settings(&rec.host_config, &self.config().log_driver)? {
            Some((max_size, max_file)) if !rec.log_path.is_empty() => Some(LogConfig {
                path: rec.log_path.clone().into(),
                max_size,
                max_file,
            }),
            _ => None,
        };
        let runtime_root = self.containers.runtime_root.join(&runtime_name);
        let spawn = ShimSpawn {
            shim_binary: self.config().shim_path.clone(),
            id: id.clone(),
            bundle: state_dir.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            runtime: runtime.path.clone(),
            runtime_args: runtime.args.clone(),
            runtime_root,
            log,
            terminal: rec.config.tty,
            stdin: rec.config.open_stdin,
            // With a terminal, a client going away (a detach with the
            // detach keys, a closed CLI) never closes the container's
            // stdin, so a later attach can type into it (moby's attach
            // closes stdin on disconnect only for non-TTY containers).
            stdin_once: rec.config.stdin_once && !rec.config.tty,
        };
        // Addresses are reserved and /etc/hosts written before the
        // runtime's create bind-mounts it.
        let plan = self.network_prepare(c)?;
        // Recorded before the spawn: a daemon that dies right after it
        // must look for the shim.
        if let Err(e) = c.update(|r| r.shim_active = true) {
            self.networks.forget(&id);
            return Err(e);
        }
        let ready = tokio::task::spawn_blocking(move || spawn_shim(&spawn))
            .await
            .map_err(|source| Error::Task {
                op: "spawn shim",
                source,
            });
        let ready = match ready {
            Ok(Ok(r)) => r,
            Ok(Err(ShimError::CreateFailed { message, .. })) => {
                // The shim cleaned up after the runtime's failure and exited.
                self.networks.forget(&id);
                c.update(|r| r.shim_active = false)?;
                let (message, exit_code) = start_failure(&rec.path, &message);
                return Err(Error::StartFailed { message, exit_code });
            }
            Ok(Err(source)) => {
                let err = Error::Shim {
                    op: "spawn shim for",
                    id: id.clone(),
                    source,
                };
                let cleanup = self.delete_shim(c).await;
                let net = self.network_release(c).await;
                return Err(err.with_cleanup(cleanup.and(net)));
            }
            Err(err) => {
                self.networks.forget(&id);
                return Err(err);
            }
        };
        // The namespace exists now and init waits on the exec fifo: the
        // interfaces go in before the container's process can look.
        if let Err(err) = self.network_setup(c, &plan, ready.pid).await {
            let cleanup = self.delete_shim(c).await;
            let net = self.network_release(c).await;
            return Err(err.with_cleanup(cleanup.and(net)));
        }
        let shim = Shim::new(state_dir);
        attach::connect_pending(c, &shim).await;
        if let Err(source) = shim.start().await {
            let err = match source {
                ShimError::Remote { message, .. } => {
                    let (message, exit_code) = start_failure(&rec.path, &message);
                    Error::StartFailed { message, exit_code }
                }
                source => Error::Shim {
                    op: "start",
                    id: id.clone(),
                    source,
                },
            };
            let cleanup = self.delete_shim(c).await;
            let net = self.network_release(c).await;
            return Err(err.with_cleanup(cleanup.and(net)));
        }
        Ok(ready.pid)
    }

    /// Deletes the container's shim (runtime delete; the shim exits) if
    /// one may exist. A shim that is gone is cleaned up after with a
    /// direct `runtime delete --force`, so the runtime forgets the id.
    pub(crate) async fn delete_shim(&self, c: &Container) -> Result<(), Error> {
        let (active, id, runtime_name) = {
            let r = c.record();
            (r.shim_active, r.id.clone(), r.host_config.runtime.clone())
        };
        if !active {
            return Ok(());
        }
        let shim = Shim::new(self.containers.state_dir(&id));
        match shim.delete().await {
            Ok(()) => {}
            Err(e) if e.is_shim_gone() => {
                if let Some(rt) = self.config().runtimes.get(&runtime_name) {
                    // Best effort: the runtime may not know the id (the
                    // shim deleted it before dying), which is the goal.
                    let _ = tokio::process::Command::new(&rt.path)
                        .args(&rt.args)
                        .arg("--root")
                        .arg(self.containers.runtime_root.join(&runtime_name))
                        .args(["delete", "--force", &id])
                        .stdin(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .status()
                        .await;
                }
            }
            Err(source) => {
                return Err(Error::Shim {
                    op: "delete",
                    id,
                    source,
                });
            }
        }
        // Not fsynced: a record that still says `shim_active` after a power
        // loss only makes restore look for the shim, find it gone and run
        // `runtime delete --force` again, which is idempotent.
        c.update_unsynced(|r| r.shim_active = false)
    }

    /// After an exit (op lock held): the shim deleted, the rootfs
    /// unmounted. Does nothing while init runs; idempotent.
    pub(crate) async fn cleanup_locked(&self, c: &Container) -> Result<(), Error> {
        if c.lifecycle.borrow().running {
            return Ok(());
        }
        let shim = self.delete_shim(c).await;
        let net = self.network_release(c).await;
        let mount = rootfs::unmount(&rootfs::rootfs_path(&self.containers.data_dir, &c.id));
        let volumes = self
            .volumes_after_stop(&c.snapshot())
            .map_err(Error::Volume);
        shim.and(net).and(mount).and(volumes)
    }

    /// Marks a stop or kill by the user: restart policies leave the
    /// container alone (until its next explicit start) when `cancel`.
    fn mark_stopped_by_user(&self, c: &Container, cancel: bool) -> Result<(), Error> {
        if cancel {
            c.restart
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .cancelled = true;
        }
        if self.containers.shutting_down.load(Ordering::SeqCst) {
            return Ok(());
        }
        c.update(|r| r.has_been_manually_stopped = true)
    }

    /// Sends `signal` to init; an init that exited meanwhile is fine.
    async fn send_signal(&self, c: &Container, signal: i32) -> Result<(), Error> {
        let shim = Shim::new(self.containers.state_dir(&c.id));
        match shim.kill(signal, false).await {
            Ok(()) => {}
            Err(_) if !c.lifecycle.borrow().running => {}
            Err(e) if e.is_shim_gone() => {}
            Err(source) => {
                return Err(Error::Shim {
                    op: "kill",
                    id: c.id.clone(),
                    source,
                });
            }
        }
        self.container_event(c, "kill", &[("signal", signal.to_string())]);
        Ok(())
    }

    /// Stops a container (`POST /containers/{id}/stop?t=&signal=`): the
    /// stop signal (`signal`, else `Config.StopSignal`, else SIGTERM), then
    /// SIGKILL after `timeout` seconds (else `Config.StopTimeout`, else
    /// 10; negative waits forever). 304 when not running. Publishes `kill`
    /// (per signal), `die` and `stop`.
    pub async fn container_stop(
        self: &Arc<Self>,
        reference: &str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> Result<(), Error> {
        let c = self.containers.get(reference)?;
        let signal = match signal.as_deref() {
            Some(s) if !s.is_empty() => Some(parse_signal(s)?),
            _ => None,
        };
        let _op = c.op.lock().await;
        self.stop_locked(&c, timeout, signal).await
    }

    pub(crate) async fn stop_locked(
        self: &Arc<Self>,
        c: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<i32>,
    ) -> Result<(), Error> {
        let rec = c.snapshot();
        if !rec.state.running {
            return Err(Error::AlreadyStopped);
        }
        let signal = match signal {
            Some(s) => s,
            None if !rec.config.stop_signal.is_empty() => parse_signal(&rec.config.stop_signal)?,
            None => libc::SIGTERM,
        };
        let timeout = timeout
            .or(rec.config.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        self.mark_stopped_by_user(c, true)?;
        if rec.state.restarting {
            self.settle_stopped(c);
            self.container_event(c, "stop", &[]);
            return Ok(());
        }
        self.send_signal(c, signal).await?;
        if rec.state.paused {
            // The signal is delivered once the container thaws.
            let _ = Shim::new(self.containers.state_dir(&c.id)).resume().await;
        }
        let limit = (timeout >= 0).then(|| Duration::from_secs(timeout as u64));
        if !wait_stopped(c, limit).await {
            self.send_signal(c, libc::SIGKILL).await?;
            if !wait_stopped(c, Some(KILL_GRACE)).await {
                return Err(Error::Shim {
                    op: "stop",
                    id: c.id.clone(),
                    source: ShimError::Remote {
                        op: "kill",
                        message: "container did not exit after SIGKILL".to_string(),
                    },
                });
            }
        }
        if let Err(e) = self.cleanup_locked(c).await {
            warn(format_args!("clean up after stop of {}: {e}", c.id));
        }
        self.container_event(c, "stop", &[]);
        Ok(())
    }

    /// Restarts a container (`POST /containers/{id}/restart?t=&signal=`):
    /// stop as [`Engine::container_stop`] when running, then start.
    /// Publishes `restart`.
    pub async fn container_restart(
        self: &Arc<Self>,
        reference: &str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> Result<(), Error> {
        let c = self.containers.get(reference)?;
        let signal = match signal.as_deref() {
            Some(s) if !s.is_empty() => Some(parse_signal(s)?),
            _ => None,
        };
        let _op = c.op.lock().await;
        match self.stop_locked(&c, timeout, signal).await {
            Ok(()) | Err(Error::AlreadyStopped) => {}
            Err(e) => return Err(e),
        }
        if c.record().state.removing {
            return Err(Error::StartRemoving { id: c.id.clone() });
        }
        *c.restart.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
        c.update_in_memory(|r| r.has_been_manually_stopped = false);
        self.start_locked(&c).await?;
        self.container_event(&c, "restart", &[]);
        Ok(())
    }

    /// Sends a signal (`POST /containers/{id}/kill?signal=`, default
    /// SIGKILL). 409 "Container x is not running". A SIGKILL is answered
    /// once the container has exited. Publishes `kill`.
    pub async fn container_kill(
        self: &Arc<Self>,
        reference: &str,
        signal: Option<String>,
    ) -> Result<(), Error> {
        let c = self.containers.get(reference)?;
        let signal = match signal.as_deref() {
            Some(s) if !s.is_empty() => parse_signal(s)?,
            _ => libc::SIGKILL,
        };
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.running {
            return Err(Error::NotRunning { id: rec.id });
        }
        // docker: SIGKILL, the stop signal, or any signal when the
        // container sets none, ends restart policies.
        let stop_signal = if rec.config.stop_signal.is_empty() {
            None
        } else {
            parse_signal(&rec.config.stop_signal).ok()
        };
        let exit_on_next = signal == libc::SIGKILL || stop_signal.is_none_or(|s| s == signal);
        self.mark_stopped_by_user(&c, exit_on_next)?;
        if rec.state.restarting {
            self.settle_stopped(&c);
            return Ok(());
        }
        self.send_signal(&c, signal).await?;
        if exit_on_next && rec.state.paused {
            let _ = Shim::new(self.containers.state_dir(&c.id)).resume().await;
        }
        if signal == libc::SIGKILL {
            wait_stopped(&c, Some(KILL_GRACE)).await;
        }
        Ok(())
    }

    /// Waits for a container (`POST /containers/{id}/wait?condition=`).
    /// The lookup happens now (404 before any header is sent); the
    /// returned future resolves when the condition is met, so berthd can
    /// send the response headers first and the body later.
    pub fn container_wait(
        &self,
        reference: &str,
        condition: WaitCondition,
    ) -> Result<WaitFuture, Error> {
        let c = self.containers.get(reference)?;
        let mut rx = c.lifecycle.subscribe();
        let now = rx.borrow_and_update().clone();
        let recorded_code = c.record().state.exit_code;
        drop(c);
        Ok(Box::pin(async move {
            let done = |l: &super::store::Lifecycle| match condition {
                WaitCondition::NotRunning => l.exits > now.exits || l.removed,
                WaitCondition::NextExit => l.exits > now.exits || l.removed,
                WaitCondition::Removed => l.removed,
            };
            let immediate =
                condition == WaitCondition::NotRunning && !now.running && !now.restarting;
            let code = if immediate {
                recorded_code
            } else {
                let waited = rx.wait_for(done).await.map(|l| l.exit_code);
                // Err: the container is gone and its sender with it.
                waited.unwrap_or_else(|_| rx.borrow().exit_code)
            };
            WaitResponse {
                error: None,
                status_code: code,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_errors_map_to_dockers_exit_codes() {
        let (msg, code) =
            start_failure("nope", "exec: \"nope\": executable file not found in $PATH");
        assert_eq!(code, 127);
        assert_eq!(
            msg,
            "failed to create task for container: OCI runtime create failed: \
             exec: \"nope\": executable file not found in $PATH: unknown"
        );
        assert_eq!(
            start_failure(
                "/bin/x",
                "exec /bin/x: stat /bin/x: no such file or directory"
            )
            .1,
            127
        );
        assert_eq!(start_failure("/etc", "exec /etc: permission denied").1, 126);
        assert_eq!(start_failure("sh", "cgroup: something broke").1, 128);
    }

    #[test]
    fn wait_conditions_parse() {
        assert_eq!(WaitCondition::parse("").unwrap(), WaitCondition::NotRunning);
        assert_eq!(
            WaitCondition::parse("removed").unwrap(),
            WaitCondition::Removed
        );
        assert_eq!(
            WaitCondition::parse("next-exit").unwrap(),
            WaitCondition::NextExit
        );
        assert!(WaitCondition::parse("soon").is_err());
    }
}
