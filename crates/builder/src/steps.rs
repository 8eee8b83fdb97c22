//! Each instruction's step: what it changes in the stage's config, the
//! classic builder's history text, and how its image is made (config
//! only, a build rootfs, or a RUN container).

use std::collections::BTreeMap;
use std::time::Duration;

use berth_api_types::container::{Config, CreateRequest, HealthConfig, HostConfig, LogConfig};
use berth_engine::containers::{LogOptions, LogStream, WaitCondition};
use berth_image::config::Healthcheck;

use crate::build::{BuildError, Runner, StageState};
use crate::copy;
use crate::history::{go_duration, go_list, go_quote_list, go_quote_rune, nop_one};
use crate::instructions::{CmdLine, Command, Health, Instruction, Run};

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

/// EXPOSE's ports as `port/proto` keys (ranges expanded, tcp by default).
fn exposed_ports(words: &[String]) -> Result<Vec<String>, BuildError> {
    let mut out = Vec::new();
    for w in words {
        let bad = |reason: &str| BuildError::Invalid {
            what: "port",
            value: w.clone(),
            reason: reason.to_string(),
        };
        let (ports, proto) = w.split_once('/').unwrap_or((w, "tcp"));
        let proto = proto.to_ascii_lowercase();
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(bad("invalid proto"));
        }
        let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
        let a: u16 = a.parse().map_err(|_| bad("invalid containerPort"))?;
        let b: u16 = b.parse().map_err(|_| bad("invalid containerPort"))?;
        if b < a {
            return Err(bad("invalid range"));
        }
        for p in a..=b {
            out.push(format!("{p}/{proto}"));
        }
    }
    Ok(out)
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Runner {
    /// Runs one instruction on the stage.
    pub(crate) async fn dispatch(
        &mut self,
        st: &mut StageState,
        cmd: &Command,
    ) -> Result<(), BuildError> {
        match &cmd.instruction {
            Instruction::Env(pairs) => {
                let mut text = String::from("ENV");
                let mut env = st.env();
                for p in pairs {
                    let k = self.expand(&p.key, st)?;
                    let v = self.expand(&p.value, st)?;
                    text.push_str(&format!(" {k}={v}"));
                    set_env(&mut env, &k, &v);
                }
                st.config.env = Some(env);
                self.commit_config(st, &text).await
            }
            Instruction::Label(pairs) => {
                let mut text = String::from("LABEL");
                let mut labels = st.config.labels.clone().unwrap_or_default();
                for p in pairs {
                    let k = self.expand(&p.key, st)?;
                    let v = self.expand(&p.value, st)?;
                    text.push_str(&format!(" {k}={v}"));
                    labels.insert(k, v);
                }
                st.config.labels = Some(labels);
                self.commit_config(st, &text).await
            }
            Instruction::Arg(decls) => {
                let mut text = String::from("ARG ");
                for (i, d) in decls.iter().enumerate() {
                    let key = self.expand(&d.key, st)?;
                    let default = match &d.default {
                        Some(v) => Some(self.expand(v, st)?),
                        None => None,
                    };
                    if i > 0 {
                        text.push(' ');
                    }
                    text.push_str(&key);
                    if let Some(v) = &default {
                        text.push('=');
                        text.push_str(v);
                    }
                    self.args.declare(&key, default);
                }
                self.commit_config(st, &text).await
            }
            Instruction::Maintainer(m) => {
                let m = self.expand(m, st)?;
                st.author = Some(m.clone());
                self.commit_config(st, &format!("MAINTAINER {m}")).await
            }
            Instruction::Cmd(c) => {
                let v = self.cmd_vec(st, c);
                st.config.cmd = Some(v.clone());
                st.cmd_set = true;
                self.commit_config(st, &format!("CMD {}", go_quote_list(&v)))
                    .await
            }
            Instruction::Entrypoint(c) => {
                let v = self.cmd_vec(st, c);
                st.config.entrypoint = Some(v.clone());
                // An ENTRYPOINT drops the CMD inherited from the base.
                if !st.cmd_set {
                    st.config.cmd = None;
                }
                self.commit_config(st, &format!("ENTRYPOINT {}", go_quote_list(&v)))
                    .await
            }
            Instruction::Shell(v) => {
                st.config.shell = Some(v.clone());
                self.commit_config(st, &format!("SHELL {}", go_list(v)))
                    .await
            }
            Instruction::User(u) => {
                let u = self.expand(u, st)?;
                st.config.user = u.clone();
                self.commit_config(st, &format!("USER {u}")).await
            }
            Instruction::StopSignal(s) => {
                let s = self.expand(s, st)?;
                berth_engine::containers::signal::parse_signal(&s)
                    .map_err(BuildError::Container)?;
                st.config.stop_signal = s.clone();
                self.commit_config(st, &format!("STOPSIGNAL {s}")).await
            }
            Instruction::Expose(words) => {
                let mut all = Vec::new();
                for w in words {
                    all.extend(self.expand_words(w, st)?);
                }
                let ports = exposed_ports(&all)?;
                let map = st.config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in ports {
                    map.insert(p, serde_json::json!({}));
                }
                self.commit_config(st, &format!("EXPOSE {}", all.join(" ")))
                    .await
            }
            Instruction::Volume(vols) => {
                let mut all = Vec::new();
                for v in vols {
                    let v = self.expand(v, st)?;
                    if v.trim().is_empty() {
                        return Err(BuildError::Invalid {
                            what: "volume",
                            value: v,
                            reason: "VOLUME specified can not be an empty string".into(),
                        });
                    }
                    all.push(v);
                }
                let map = st.config.volumes.get_or_insert_with(BTreeMap::new);
                for v in &all {
                    map.insert(v.clone(), serde_json::json!({}));
                }
                self.commit_config(st, &format!("VOLUME {}", go_list(&all)))
                    .await
            }
            Instruction::Healthcheck(h) => {
                let hc = Self::health(h);
                let text = format!(
                    "HEALTHCHECK &{{{} {} {} {} {}}}",
                    go_quote_list(&hc.test),
                    crate::history::go_quote(&go_duration(h.interval)),
                    crate::history::go_quote(&go_duration(h.timeout)),
                    crate::history::go_quote(&go_duration(h.start_period)),
                    go_quote_rune(hc.retries)
                );
                st.config.healthcheck = Some(hc);
                self.commit_config(st, &text).await
            }
            Instruction::Onbuild(t) => {
                st.config
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(t.clone());
                self.commit_config(st, &format!("ONBUILD {t}")).await
            }
            Instruction::Workdir(w) => self.workdir(st, w).await,
            Instruction::Run(r) => self.run(st, r).await,
            Instruction::Copy(c) => self.copy(st, c, false).await,
            Instruction::Add(c) => self.copy(st, c, true).await,
        }
    }

    fn cmd_vec(&self, st: &StageState, c: &CmdLine) -> Vec<String> {
        match c {
            CmdLine::Exec(v) => v.clone(),
            CmdLine::Shell(s) => {
                let mut v = st.shell();
                v.push(s.clone());
                v
            }
        }
    }

    fn health(h: &Health) -> Healthcheck {
        if h.none {
            return Healthcheck {
                test: vec!["NONE".into()],
                ..Default::default()
            };
        }
        let test = match &h.test {
            Some(CmdLine::Exec(v)) => std::iter::once("CMD".to_string())
                .chain(v.clone())
                .collect(),
            Some(CmdLine::Shell(s)) => vec!["CMD-SHELL".into(), s.clone()],
            None => Vec::new(),
        };
        Healthcheck {
            test,
            interval: nanos(h.interval),
            timeout: nanos(h.timeout),
            start_period: nanos(h.start_period),
            retries: h.retries,
        }
    }

    async fn workdir(&mut self, st: &mut StageState, w: &str) -> Result<(), BuildError> {
        let w = self.expand(w, st)?;
        let dir = if w.starts_with('/') {
            crate::dockerignore::clean_path(&w)
        } else {
            crate::dockerignore::clean_path(&format!("/{}/{w}", st.config.working_dir))
        };
        st.config.working_dir = dir.clone();
        let created_by = nop_one(&st.shell(), &format!("WORKDIR {dir}"));
        let key = self.key(st, &[&created_by]);
        if let Some(id) = self.probe(st, &key, Some(&created_by)).await? {
            return self.use_cache(st, id).await;
        }
        let rootfs = self.engine.build_rootfs(st.image.clone()).await?;
        let path = rootfs.path().to_path_buf();
        let rel = dir.trim_start_matches('/').to_string();
        // Created as root (dockerd 20.10's ContainerCreateWorkdir).
        let made = tokio::task::spawn_blocking(move || copy::ensure_dir(&path, &rel, (0, 0)))
            .await
            .map_err(BuildError::Task)
            .and_then(|r| {
                r.map_err(|source| BuildError::Copy {
                    keyword: "WORKDIR",
                    source,
                })
            });
        if let Err(e) = made {
            let _ = self.engine.build_rootfs_release(rootfs).await;
            return Err(e);
        }
        let step = self.step_image(st, created_by);
        let id = self.engine.build_commit_rootfs(rootfs, step).await?;
        self.record(key, st, id);
        Ok(())
    }

    /// The script of a shell-form RUN: its heredocs follow the command line
    /// as the shell expects them; `RUN <<EOF` alone runs the heredoc.
    fn run_script(line: &str, heredocs: &[crate::parser::Heredoc]) -> String {
        if heredocs.is_empty() {
            return line.to_string();
        }
        let trimmed = line.trim();
        if heredocs.len() == 1
            && trimmed.starts_with("<<")
            && !trimmed.contains(char::is_whitespace)
        {
            return heredocs[0].content.clone();
        }
        let mut s = format!("{line}\n");
        for h in heredocs {
            s.push_str(&h.content);
            s.push_str(&h.name);
            s.push('\n');
        }
        s
    }

    async fn run(&mut self, st: &mut StageState, r: &Run) -> Result<(), BuildError> {
        let cmd: Vec<String> = match &r.cmd {
            CmdLine::Exec(v) => v.clone(),
            CmdLine::Shell(s) => {
                let mut v = st.shell();
                v.push(Self::run_script(s, &r.heredocs));
                v
            }
        };
        let env = st.env();
        let mut save_cmd = self.args.history_prefix(&env);
        save_cmd.extend(cmd.iter().cloned());
        let created_by = save_cmd.join(" ");
        let key = self.key(st, &["RUN", &created_by]);
        if let Some(id) = self.probe(st, &key, Some(&created_by)).await? {
            return self.use_cache(st, id).await;
        }
        let Some(parent) = st.image.clone() else {
            return Err(BuildError::NoImage("run"));
        };
        let mut run_env = env.clone();
        run_env.extend(self.args.in_scope(&env));
        let c = &st.config;
        let config = Config {
            image: parent,
            cmd: Some(cmd.clone()),
            // No entrypoint: the command is the whole process.
            entrypoint: Some(vec![String::new()]),
            env: Some(run_env),
            user: c.user.clone(),
            working_dir: c.working_dir.clone(),
            attach_stdout: true,
            attach_stderr: true,
            healthcheck: Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            }),
            stop_signal: c.stop_signal.clone(),
            ..Default::default()
        };
        let network = match self.opts.network_mode.as_str() {
            "" | "default" => "default".to_string(),
            other => other.to_string(),
        };
        let host = HostConfig {
            network_mode: network,
            log_config: LogConfig {
                r#type: "json-file".into(),
                config: None,
            },
            shm_size: self.opts.shm_size,
            extra_hosts: (!self.opts.extra_hosts.is_empty()).then(|| self.opts.extra_hosts.clone()),
            resources: self.opts.resources.clone(),
            ..Default::default()
        };
        let created = self
            .engine
            .container_create(
                None,
                CreateRequest {
                    config,
                    host_config: Some(host),
                    networking_config: None,
                },
            )
            .await
            .map_err(BuildError::Container)?;
        let cid = created.id;
        self.say(format!(" ---> Running in {}\n", short(&cid)))
            .await?;
        let outcome = self.run_container(&cid).await;
        let code = match outcome {
            Ok(code) => code,
            Err(e) => {
                self.remove_container(&cid).await;
                return Err(e);
            }
        };
        if code != 0 {
            if self.opts.remove || self.opts.force_remove {
                self.remove_container(&cid).await;
            }
            return Err(BuildError::RunFailed {
                cmd: cmd.join(" "),
                code,
            });
        }
        let mut step = self.step_image(st, created_by);
        step.container = Some(cid.clone());
        let mut cc = st.config.clone();
        cc.cmd = Some(save_cmd);
        step.container_config = Some(cc);
        let committed = self.engine.build_commit_container(&cid, step).await;
        if self.opts.remove || (committed.is_err() && self.opts.force_remove) {
            self.remove_container(&cid).await;
            self.say(format!("Removing intermediate container {}\n", short(&cid)))
                .await?;
        }
        let id = committed?;
        self.record(key, st, id);
        Ok(())
    }

    /// Starts the container, streams its output, returns its exit code.
    async fn run_container(&self, cid: &str) -> Result<i64, BuildError> {
        let wait = self
            .engine
            .container_wait(cid, WaitCondition::NextExit)
            .map_err(BuildError::Container)?;
        self.engine
            .container_start(cid)
            .await
            .map_err(BuildError::Container)?;
        let mut logs = self
            .engine
            .container_logs(
                cid,
                LogOptions {
                    follow: true,
                    stdout: true,
                    stderr: true,
                    ..Default::default()
                },
            )
            .map_err(BuildError::Container)?;
        let mut wait = wait;
        let mut code = None;
        loop {
            tokio::select! {
                m = logs.recv() => match m {
                    Some(m) => {
                        let text = String::from_utf8_lossy(&m.bytes).into_owned();
                        let text = match m.stream {
                            LogStream::Stderr => format!("\u{1b}[91m{text}\u{1b}[0m"),
                            _ => text,
                        };
                        self.say(text).await?;
                    }
                    None => break,
                },
                w = &mut wait, if code.is_none() => {
                    code = Some(w.status_code);
                    // The log reader ends once it has read what the
                    // container wrote; it gets a moment to do so.
                    let drain = async {
                        while let Some(m) = logs.recv().await {
                            let text = String::from_utf8_lossy(&m.bytes).into_owned();
                            let text = match m.stream {
                                LogStream::Stderr => format!("\u{1b}[91m{text}\u{1b}[0m"),
                                _ => text,
                            };
                            if self.say(text).await.is_err() {
                                break;
                            }
                        }
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
                    break;
                }
            }
        }
        let code = match code {
            Some(c) => c,
            None => wait.await.status_code,
        };
        Ok(code)
    }

    async fn remove_container(&self, cid: &str) {
        // A removal failure leaves a stopped container behind; the build's
        // own outcome is what the client needs to see.
        let _ = self.engine.container_remove(cid, true, true).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_expand_and_validate() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            exposed_ports(&w(&["80", "90/UDP"])).unwrap(),
            ["80/tcp", "90/udp"]
        );
        assert_eq!(
            exposed_ports(&w(&["1-3"])).unwrap(),
            ["1/tcp", "2/tcp", "3/tcp"]
        );
        assert!(exposed_ports(&w(&["x"])).is_err());
        assert!(exposed_ports(&w(&["80/xyz"])).is_err());
        assert!(exposed_ports(&w(&["5-1"])).is_err());
    }

    #[test]
    fn run_scripts_with_heredocs() {
        let h = |name: &str, content: &str| crate::parser::Heredoc {
            name: name.into(),
            content: content.into(),
            expand: true,
            chomp: false,
            fd: 0,
        };
        assert_eq!(Runner::run_script("echo hi", &[]), "echo hi");
        assert_eq!(Runner::run_script("<<EOF", &[h("EOF", "a\nb\n")]), "a\nb\n");
        assert_eq!(
            Runner::run_script("cat <<EOF > /f", &[h("EOF", "x\n")]),
            "cat <<EOF > /f\nx\nEOF\n"
        );
    }

    #[test]
    fn env_entries_are_replaced_in_place() {
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        set_env(&mut env, "A", "3");
        set_env(&mut env, "C", "4");
        assert_eq!(env, ["A=3", "B=2", "C=4"]);
    }
}
