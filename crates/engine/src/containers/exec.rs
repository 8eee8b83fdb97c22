//! Exec: further processes in a running container
//! (`POST /containers/{id}/exec`, `POST /exec/{id}/start`,
//! `POST /exec/{id}/resize`, `GET /exec/{id}/json`).
//!
//! An exec is created as a record (in memory, as in docker: execs do not
//! survive the daemon), then started once: its OCI process is the
//! container's (same capabilities, seccomp, AppArmor, no-new-privileges)
//! with the exec's command, environment, working directory, user and tty,
//! and the shim runs it with `runtime exec`. Attached execs stream like
//! attach ([`ExecStartStream`]); the shim's final exit frame is taken out
//! of the stream and recorded. Detached execs are polled for their exit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_api_types::exec::{CreateRequest, InspectResponse, ProcessConfig};
use tokio::net::UnixStream;

use super::attach::splice;
use super::shim::Shim;
use super::{Error, names, rootfs, spec};
use crate::Engine;

/// The client's side of an attached exec: like
/// [`super::AttachStream`] (raw with a tty, stdcopy frames without).
#[derive(Debug)]
pub struct ExecStartStream {
    pub tty: bool,
    pub stream: UnixStream,
}

#[derive(Debug, Clone, Default)]
struct ExecState {
    started: bool,
    running: bool,
    pid: i64,
    exit_code: Option<i64>,
}

/// One exec instance.
#[derive(Debug)]
pub struct ExecRecord {
    pub id: String,
    pub container_id: String,
    pub config: CreateRequest,
    state: Mutex<ExecState>,
}

impl ExecRecord {
    fn state(&self) -> std::sync::MutexGuard<'_, ExecState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// All exec instances of the daemon.
#[derive(Debug, Default)]
pub struct ExecTable {
    execs: Mutex<HashMap<String, Arc<ExecRecord>>>,
}

impl ExecTable {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ExecRecord>>> {
        self.execs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, id: &str) -> Result<Arc<ExecRecord>, Error> {
        self.map()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NoSuchExec { id: id.to_string() })
    }

    /// The exec ids of a container, oldest first is not tracked: sorted.
    pub fn ids_of(&self, container_id: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .map()
            .values()
            .filter(|e| e.container_id == container_id)
            .map(|e| e.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Drops the execs of a removed container.
    pub fn forget_container(&self, container_id: &str) {
        self.map().retain(|_, e| e.container_id != container_id);
    }
}

/// `env` with `extra` applied: entries whose key exists are replaced,
/// others appended (docker's ReplaceOrAppendEnvValues).
fn replace_or_append(env: &[String], extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = env.to_vec();
    for e in extra {
        let key = e.split('=').next().unwrap_or("");
        match out.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            Some(slot) => *slot = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

impl Engine {
    /// Creates an exec in a running container; returns its id. 409 when
    /// the container is not running, paused or restarting. Publishes
    /// `exec_create: <cmd>`.
    pub fn exec_create(&self, reference: &str, req: CreateRequest) -> Result<String, Error> {
        let c = self.containers.get(reference)?;
        {
            let s = &c.record().state;
            if !s.running {
                return Err(Error::NotRunning { id: c.id.clone() });
            }
            if s.paused {
                return Err(Error::ExecPaused { id: c.id.clone() });
            }
            if s.restarting {
                return Err(Error::Restarting { id: c.id.clone() });
            }
        }
        if req.cmd.as_ref().is_none_or(Vec::is_empty) {
            return Err(Error::NoExecCommand);
        }
        let id = names::new_id();
        let cmdline = req.cmd.clone().unwrap_or_default().join(" ");
        self.containers.execs.map().insert(
            id.clone(),
            Arc::new(ExecRecord {
                id: id.clone(),
                container_id: c.id.clone(),
                config: req,
                state: Mutex::new(ExecState::default()),
            }),
        );
        self.container_event(
            &c,
            &format!("exec_create: {cmdline}"),
            &[("execID", id.clone())],
        );
        Ok(id)
    }

    /// Starts an exec (`POST /exec/{id}/start`). `detach`: returns `None`
    /// at once (the exit is still recorded). Otherwise the stream, whose
    /// format follows the exec's tty. `console_size` `[h, w]` sets the
    /// initial tty size. 409 when it already ran or the container stopped.
    /// Publishes `exec_start: <cmd>`, later `exec_die`.
    pub async fn exec_start(
        self: &Arc<Self>,
        exec_id: &str,
        detach: bool,
        console_size: Option<[u64; 2]>,
    ) -> Result<Option<ExecStartStream>, Error> {
        let exec = self.containers.execs.get(exec_id)?;
        {
            let mut st = exec.state();
            if st.running {
                return Err(Error::ExecRunning {
                    id: exec.id.clone(),
                });
            }
            if st.started {
                return Err(Error::ExecDone {
                    id: exec.id.clone(),
                });
            }
            st.started = true;
        }
        let result = self.exec_launch(&exec, detach, console_size).await;
        if let Err(e) = &result {
            // As dockerd: a process that could not be started has exited
            // with 127 (command not found) or 126 (cannot be run), which
            // `docker exec` reports through exec inspect.
            exec.state().exit_code = Some(exec_failure_code(&e.to_string()));
        }
        result
    }

    async fn exec_launch(
        self: &Arc<Self>,
        exec: &Arc<ExecRecord>,
        detach: bool,
        console_size: Option<[u64; 2]>,
    ) -> Result<Option<ExecStartStream>, Error> {
        let c = self.containers.get(&exec.container_id)?;
        let rec = c.snapshot();
        if !c.lifecycle.borrow().running {
            return Err(Error::NotRunning { id: rec.id.clone() });
        }
        let cfg = &exec.config;
        // The container's process with the exec's settings: built by the
        // same spec builder, so capabilities, seccomp and the user lookup
        // are the container's.
        let rootfs = rootfs::rootfs_path(&self.containers.data_dir, &rec.id);
        let mut input = spec::spec_input(self, &rec, &rootfs)?;
        input.args = cfg.cmd.clone().unwrap_or_default();
        input.env = replace_or_append(
            &rec.config.env.clone().unwrap_or_default(),
            cfg.env.as_deref().unwrap_or(&[]),
        );
        if !cfg.working_dir.is_empty() {
            input.cwd = cfg.working_dir.clone();
        }
        if !cfg.user.is_empty() {
            input.user = cfg.user.clone();
        }
        input.tty = cfg.tty;
        input.privileged = input.privileged || cfg.privileged;
        // The exec joins the container's namespaces; an init wrapper only
        // belongs to the container's first process.
        input.init = None;
        let spec = crate::oci::build_spec(&input).map_err(|source| Error::Spec {
            id: rec.id.clone(),
            source,
        })?;
        // A spec's process is plain data: it always serializes.
        let mut process = serde_json::to_value(spec.process()).unwrap_or_default();
        if let (Some([h, w]), true) = (console_size, cfg.tty) {
            if h > 0 && w > 0 {
                process["consoleSize"] = serde_json::json!({"height": h, "width": w});
            }
        }
        let shim = Shim::new(self.containers.state_dir(&rec.id));
        let attach = !detach && (cfg.attach_stdin || cfg.attach_stdout || cfg.attach_stderr);
        let (pid, conn) = shim
            .exec(&exec.id, process, !attach)
            .await
            .map_err(|source| Error::Shim {
                op: "exec in",
                id: rec.id.clone(),
                source,
            })?;
        {
            let mut st = exec.state();
            st.running = true;
            st.pid = i64::from(pid);
        }
        let cmdline = cfg.cmd.clone().unwrap_or_default().join(" ");
        self.container_event(
            &c,
            &format!("exec_start: {cmdline}"),
            &[("execID", exec.id.clone())],
        );
        let engine = self.clone();
        let exec2 = exec.clone();
        let finish = move |code: i32| {
            {
                let mut st = exec2.state();
                st.running = false;
                st.exit_code = Some(i64::from(code));
            }
            if let Ok(c) = engine.containers.get(&exec2.container_id) {
                engine.container_event(
                    &c,
                    "exec_die",
                    &[("execID", exec2.id.clone()), ("exitCode", code.to_string())],
                );
            }
        };
        match conn {
            Some(conn) => {
                let (client_end, engine_end) = UnixStream::pair().map_err(|source| Error::Io {
                    op: "create socket pair for exec in",
                    path: c.dir.clone(),
                    source,
                })?;
                let tty = cfg.tty;
                let exec3 = exec.clone();
                let engine = self.clone();
                tokio::spawn(async move {
                    let mut code = None;
                    splice(engine_end, conn, tty, true, |c| code = Some(c)).await;
                    match code {
                        Some(c) => finish(c),
                        // The stream ended without an exit frame (the shim
                        // went away): ask once more, else unknown.
                        None => engine.poll_exec_exit(&exec3, finish).await,
                    }
                });
                Ok(Some(ExecStartStream {
                    tty,
                    stream: client_end,
                }))
            }
            None => {
                let engine = self.clone();
                let exec3 = exec.clone();
                tokio::spawn(async move { engine.poll_exec_exit(&exec3, finish).await });
                Ok(None)
            }
        }
    }

    /// Polls the shim until the exec has exited, then calls `finish`.
    async fn poll_exec_exit(&self, exec: &ExecRecord, finish: impl FnOnce(i32)) {
        let shim = Shim::new(self.containers.state_dir(&exec.container_id));
        loop {
            match shim.exec_state(&exec.id).await {
                Ok(s) if !s.running => {
                    finish(s.exit_code.unwrap_or(-1));
                    return;
                }
                Ok(_) => {}
                Err(_) => {
                    // No shim any more: the container is gone with the
                    // process; its exit code is unknown.
                    finish(-1);
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets an exec's tty size (`POST /exec/{id}/resize`).
    pub async fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> Result<(), Error> {
        let exec = self.containers.execs.get(exec_id)?;
        if !exec.state().running {
            return Err(Error::ExecNotRunning {
                id: exec_id.to_string(),
            });
        }
        Shim::new(self.containers.state_dir(&exec.container_id))
            .exec_resize(&exec.id, height, width)
            .await
            .map_err(|source| Error::Shim {
                op: "resize exec in",
                id: exec.container_id.clone(),
                source,
            })
    }

    /// Inspects an exec (`GET /exec/{id}/json`); `ExitCode` is set once it
    /// has exited.
    pub fn exec_inspect(&self, exec_id: &str) -> Result<InspectResponse, Error> {
        let exec = self.containers.execs.get(exec_id)?;
        let st = exec.state().clone();
        let cfg = &exec.config;
        let cmd = cfg.cmd.clone().unwrap_or_default();
        Ok(InspectResponse {
            id: exec.id.clone(),
            running: st.running,
            exit_code: st.exit_code,
            process_config: Some(ProcessConfig {
                tty: cfg.tty,
                entrypoint: cmd.first().cloned().unwrap_or_default(),
                arguments: Some(cmd.iter().skip(1).cloned().collect()),
                privileged: Some(cfg.privileged),
                user: cfg.user.clone(),
            }),
            open_stdin: cfg.attach_stdin,
            open_stderr: cfg.attach_stderr,
            open_stdout: cfg.attach_stdout,
            can_remove: false,
            container_id: exec.container_id.clone(),
            detach_keys: Some(Vec::new()),
            pid: st.pid,
        })
    }
}

/// Docker's exit code for an exec whose process could not be started.
fn exec_failure_code(message: &str) -> i64 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else {
        126
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_env_replaces_or_appends() {
        let env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        assert_eq!(
            replace_or_append(&env, &["A=2".to_string(), "B=3".to_string()]),
            ["PATH=/bin", "A=2", "B=3"]
        );
    }
}
