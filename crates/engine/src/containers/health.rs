//! Health checks (`Config.Healthcheck`, merged from the image's at
//! create).
//!
//! # Vocabulary
//!
//! A container's *probe* is its health check's command: `["CMD", args...]`
//! runs `args`, `["CMD-SHELL", cmd]` runs `cmd` through the container's
//! shell (`Config.Shell`, default `/bin/sh -c`); `["NONE"]` or no test
//! means no health check. Each run of the probe is a *result*: start and
//! end times, exit code (0 healthy, anything else a failure; -1 when the
//! probe could not run or exceeded its timeout) and the first 4 KiB of its
//! output.
//!
//! # Lifecycle
//!
//! Every start of a container with a probe (and every reattach after a
//! daemon restart) sets its health to `starting` with a failing streak of
//! 0, and runs a *health monitor* for that run: every `Interval` (default
//! 30 s; the first probe one interval after the start) it runs the probe
//! as an exec through the container's shim, with the container's process
//! settings (user, environment, capabilities...), for at most `Timeout`
//! (default 30 s). A success makes the container `healthy` and resets the
//! streak; a failure adds to the streak (except while the status is
//! `starting` and the container is within its `StartPeriod`), and
//! `Retries` (default 3) failures in a row make it `unhealthy`. The last 5
//! results are kept. A change of status publishes the event
//! `health_status: <status>`. The monitor ends when the run ends (exit,
//! stop, restart, removal); the last health stays visible in inspect. No
//! probe runs while the container is paused.
//!
//! As in docker, `docker ps` shows the status after the uptime
//! ("Up 3 seconds (healthy)", "(health: starting)"), inspect shows
//! `State.Health`, and the list filter `health=` matches it.
//!
//! The health is kept in the container's record (`Health`), written after
//! every result (atomically, without fsync: a result is cheap to lose to a
//! power cut, and a probe every interval should not cost a disk flush), so
//! inspect shows it after a daemon restart. As dockerd's
//! `initHealthMonitor` does, a reattach after a restart sets the status
//! back to `starting` and the streak to 0, and keeps the log.
//!
//! Differences from dockerd: probes do not appear as `exec_*` events nor
//! in the exec table (docker's probes are execs visible in `docker
//! events`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_api_types::container::{Config, Health, HealthConfig, HealthcheckResult};
use berth_shim_proto::frame::{HEADER_LEN, Stream, decode_header};
use tokio::io::AsyncReadExt;

use super::shim::Shim;
use super::store::{Container, ContainerRecord};
use super::{Error, names, rootfs, spec};
use crate::Engine;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
/// Results kept in `State.Health.Log` (docker's maxLogEntries).
const MAX_LOG_ENTRIES: usize = 5;
/// Bytes of a probe's output kept (docker's maxOutputLen).
const MAX_OUTPUT: usize = 4096;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// Checks a health config as docker does at create: durations, when set,
/// at least 1 ms; retries not negative.
pub fn validate(hc: &HealthConfig) -> Result<(), Error> {
    const MIN: i64 = 1_000_000;
    for (value, name) in [
        (hc.interval, "Interval"),
        (hc.timeout, "Timeout"),
        (hc.start_period, "StartPeriod"),
    ] {
        if value != 0 && value < MIN {
            return Err(Error::InvalidConfig {
                message: format!("{name} in Healthcheck cannot be less than 1ms"),
            });
        }
    }
    if hc.retries < 0 {
        return Err(Error::InvalidConfig {
            message: "Retries in Healthcheck cannot be negative".to_string(),
        });
    }
    Ok(())
}

/// A container's health check, with docker's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The process to run.
    pub cmd: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

fn nanos_or(n: i64, default: Duration) -> Duration {
    if n > 0 {
        Duration::from_nanos(n as u64)
    } else {
        default
    }
}

/// The probe of a container config; `None` without one (no test,
/// `NONE`, or a test type docker does not know, which it also ignores).
pub fn probe(config: &Config) -> Option<Probe> {
    let hc = config.healthcheck.as_ref()?;
    let test = hc.test.as_deref()?;
    let cmd: Vec<String> = match test.first()?.as_str() {
        "CMD" => test[1..].to_vec(),
        "CMD-SHELL" => {
            let mut cmd = config
                .shell
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| vec!["/bin/sh".to_string(), "-c".to_string()]);
            cmd.extend(test[1..].iter().cloned());
            cmd
        }
        _ => return None,
    };
    if cmd.is_empty() {
        return None;
    }
    Some(Probe {
        cmd,
        interval: nanos_or(hc.interval, DEFAULT_INTERVAL),
        timeout: nanos_or(hc.timeout, DEFAULT_TIMEOUT),
        start_period: nanos_or(hc.start_period, Duration::ZERO),
        retries: u32::try_from(hc.retries)
            .ok()
            .filter(|r| *r > 0)
            .unwrap_or(DEFAULT_RETRIES),
    })
}

/// Applies a probe's result to `health` (docker's handleProbeResult);
/// `in_start_period` is whether the probe started within the start
/// period. Returns the new status when it changed.
pub fn record(
    health: &mut Health,
    result: HealthcheckResult,
    retries: u32,
    in_start_period: bool,
) -> Option<String> {
    let old = health.status.clone();
    if result.exit_code == 0 {
        health.failing_streak = 0;
        health.status = HEALTHY.to_string();
    } else if !(health.status == STARTING && in_start_period) {
        health.failing_streak += 1;
        if health.failing_streak >= i64::from(retries) {
            health.status = UNHEALTHY.to_string();
        }
    }
    let log = health.log.get_or_insert_with(Vec::new);
    log.push(result);
    if log.len() > MAX_LOG_ENTRIES {
        let excess = log.len() - MAX_LOG_ENTRIES;
        log.drain(..excess);
    }
    (health.status != old).then(|| health.status.clone())
}

/// The health part of `docker ps`'s status: `health: starting`,
/// `healthy` or `unhealthy`.
pub fn status_suffix(health: &Health) -> String {
    if health.status == STARTING {
        "health: starting".to_string()
    } else {
        health.status.clone()
    }
}

/// Go's `time.Duration.String()` for the durations of health checks
/// ("30s", "1.5s", "500ms", "1m30s"), which docker's timeout message
/// shows.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1u128)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_fraction(nanos, div));
    }
    let total_secs = d.as_secs();
    let (h, m) = (total_secs / 3600, (total_secs / 60) % 60);
    let secs = trim_fraction(nanos % 60_000_000_000, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

/// `n / div` with its decimal fraction, trailing zeros removed.
fn trim_fraction(n: u128, div: u128) -> String {
    let whole = n / div;
    let frac = n % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The health of every container that has run with a probe, by id: the
/// live view of what the records hold.
#[derive(Debug, Default)]
pub struct HealthTable {
    map: Mutex<HashMap<String, Health>>,
}

impl HealthTable {
    /// The table of the healths `records` kept (at daemon start).
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a ContainerRecord>) -> HealthTable {
        let map = records
            .into_iter()
            .filter_map(|r| Some((r.id.clone(), r.health.clone()?)))
            .collect();
        HealthTable {
            map: Mutex::new(map),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Health>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The health of container `id` (`None`: it never ran with a probe).
    pub fn get(&self, id: &str) -> Option<Health> {
        self.map().get(id).cloned()
    }

    /// Drops the health of a removed container.
    pub fn forget(&self, id: &str) {
        self.map().remove(id);
    }
}

impl Engine {
    /// Starts the health monitor of run `generation` of `c`, if `c` has a
    /// probe (called with the container's monitor, at start and at
    /// reattach).
    pub(crate) fn spawn_health_monitor(self: &Arc<Self>, c: Arc<Container>, generation: u64) {
        let Some(probe) = probe(&c.record().config) else {
            return;
        };
        let h = {
            let mut map = self.containers.health.map();
            let h = map.entry(c.id.clone()).or_default();
            h.status = STARTING.to_string();
            h.failing_streak = 0;
            h.clone()
        };
        self.keep_health(&c, h);
        let engine = self.clone();
        tokio::spawn(async move { engine.health_monitor(c, generation, probe).await });
    }

    /// Writes `h` into `c`'s record (see the module doc). A failed write
    /// is reported and the check goes on: the live view stays right, only
    /// a restart would show the older health.
    fn keep_health(&self, c: &Container, h: Health) {
        if let Err(e) = c.update_unsynced(|r| r.health = Some(h)) {
            super::warn(format_args!("keep the health of container {}: {e}", c.id));
        }
    }

    /// Whether run `generation` of `c` still runs.
    fn same_run(c: &Container, generation: u64) -> bool {
        let l = c.lifecycle.borrow();
        l.running && !l.removed && c.generation.load(Ordering::SeqCst) == generation
    }

    async fn health_monitor(self: Arc<Self>, c: Arc<Container>, generation: u64, probe: Probe) {
        let mut changes = c.lifecycle.subscribe();
        let started: Option<jiff::Timestamp> = c.record().state.started_at.parse().ok();
        loop {
            let tick = tokio::time::sleep(probe.interval);
            tokio::pin!(tick);
            // Wait for the interval, ending early when the run ends.
            loop {
                tokio::select! {
                    _ = &mut tick => break,
                    changed = changes.changed() => {
                        if changed.is_err() || !Self::same_run(&c, generation) {
                            return;
                        }
                    }
                }
            }
            if !Self::same_run(&c, generation) {
                return;
            }
            if c.record().state.paused {
                continue;
            }
            let begin = jiff::Timestamp::now();
            let result = self.run_probe(&c, &probe, begin).await;
            // A result that comes after the run ended belongs to no run.
            if !Self::same_run(&c, generation) {
                return;
            }
            let in_start_period = started.is_some_and(|s| {
                begin
                    .duration_since(s)
                    .try_into()
                    .is_ok_and(|d: Duration| d < probe.start_period)
            });
            let (changed, h) = {
                let mut map = self.containers.health.map();
                let h = map.entry(c.id.clone()).or_default();
                (record(h, result, probe.retries, in_start_period), h.clone())
            };
            self.keep_health(&c, h);
            if let Some(status) = changed {
                self.container_event(&c, &format!("health_status: {status}"), &[]);
            }
        }
    }

    /// Runs the probe once as an exec in `c`; failures to run it are
    /// results with exit code -1.
    async fn run_probe(
        &self,
        c: &Container,
        probe: &Probe,
        begin: jiff::Timestamp,
    ) -> HealthcheckResult {
        let (exit_code, output) = match self.exec_probe(c, probe).await {
            Ok(r) => r,
            Err(e) => (-1, e.to_string()),
        };
        HealthcheckResult {
            start: begin.to_string(),
            end: jiff::Timestamp::now().to_string(),
            exit_code,
            output,
        }
    }

    async fn exec_probe(&self, c: &Container, probe: &Probe) -> Result<(i64, String), Error> {
        let rec = c.snapshot();
        let rootfs = rootfs::rootfs_path(&self.containers.data_dir, &rec.id);
        // The container's own process settings (user, env, caps, seccomp,
        // cwd) with the probe's command, as docker's probe exec.
        let mut input = spec::spec_input(self, &rec, &rootfs)?;
        input.args = probe.cmd.clone();
        input.tty = false;
        input.init = None;
        let spec = crate::oci::build_spec(&input).map_err(|source| Error::Spec {
            id: rec.id.clone(),
            source,
        })?;
        // A spec's process is plain data: it always serializes.
        let process = serde_json::to_value(spec.process()).unwrap_or_default();
        let shim = Shim::new(self.containers.state_dir(&rec.id));
        let exec_id = names::new_id();
        let shim_err = |source| Error::Shim {
            op: "run health check in",
            id: rec.id.clone(),
            source,
        };
        let (pid, conn) = shim
            .exec(&exec_id, process, false)
            .await
            .map_err(shim_err)?;
        let Some(conn) = conn else {
            return Ok((-1, "health check exec has no output stream".to_string()));
        };
        match tokio::time::timeout(probe.timeout, read_probe(conn)).await {
            Ok(Ok((code, out))) => Ok((code, out)),
            Ok(Err(e)) => Ok((
                -1,
                format!("read health check output of container {}: {e}", rec.id),
            )),
            Err(_) => {
                // Docker 20.10 leaves a timed-out probe running; killing
                // it keeps a hung probe from piling up every interval.
                if shim.exec_state(&exec_id).await.is_ok_and(|s| s.running) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                Ok((
                    -1,
                    format!(
                        "Health check exceeded timeout ({})",
                        go_duration(probe.timeout)
                    ),
                ))
            }
        }
    }
}

/// Reads an exec stream to its exit frame: the exit code and the first
/// [`MAX_OUTPUT`] bytes of stdout and stderr, interleaved as produced.
async fn read_probe(mut conn: tokio::net::UnixStream) -> std::io::Result<(i64, String)> {
    let mut out: Vec<u8> = Vec::new();
    loop {
        let mut header = [0u8; HEADER_LEN];
        match conn.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(std::io::Error::other("stream ended without an exit status"));
            }
            Err(e) => return Err(e),
        }
        let (stream, len) = decode_header(&header).map_err(std::io::Error::other)?;
        let mut payload = vec![0u8; len];
        conn.read_exact(&mut payload).await?;
        match stream {
            Stream::Exit => {
                let exit: berth_shim_proto::ExecExit =
                    serde_json::from_slice(&payload).map_err(std::io::Error::other)?;
                return Ok((
                    i64::from(exit.exit_code),
                    String::from_utf8_lossy(&out).into_owned(),
                ));
            }
            Stream::Stdout | Stream::Stderr => {
                let room = MAX_OUTPUT.saturating_sub(out.len());
                out.extend_from_slice(&payload[..payload.len().min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(test: &[&str]) -> Config {
        Config {
            healthcheck: Some(HealthConfig {
                test: Some(test.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn probes_follow_the_test_type_with_dockers_defaults() {
        assert_eq!(
            probe(&config(&["CMD", "true", "x"])),
            Some(Probe {
                cmd: vec!["true".into(), "x".into()],
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(30),
                start_period: Duration::ZERO,
                retries: 3,
            })
        );
        assert_eq!(
            probe(&config(&["CMD-SHELL", "exit 1"])).unwrap().cmd,
            ["/bin/sh", "-c", "exit 1"]
        );
        let mut c = config(&["CMD-SHELL", "exit 1"]);
        c.shell = Some(vec!["/bin/ash".into(), "-ec".into()]);
        assert_eq!(probe(&c).unwrap().cmd, ["/bin/ash", "-ec", "exit 1"]);
        assert_eq!(probe(&config(&["NONE"])), None);
        assert_eq!(probe(&config(&[])), None);
        assert_eq!(probe(&config(&["CMD"])), None);
        assert_eq!(probe(&config(&["WHATEVER", "x"])), None);
        assert_eq!(probe(&Config::default()), None);

        let mut c = config(&["CMD", "true"]);
        let hc = c.healthcheck.as_mut().unwrap();
        hc.interval = 1_000_000_000;
        hc.timeout = 500_000_000;
        hc.start_period = 2_000_000_000;
        hc.retries = 1;
        let p = probe(&c).unwrap();
        assert_eq!(
            (p.interval, p.timeout, p.start_period, p.retries),
            (
                Duration::from_secs(1),
                Duration::from_millis(500),
                Duration::from_secs(2),
                1
            )
        );
    }

    fn result(code: i64) -> HealthcheckResult {
        HealthcheckResult {
            exit_code: code,
            ..Default::default()
        }
    }

    #[test]
    fn results_move_the_status_like_dockers() {
        let mut h = Health {
            status: STARTING.into(),
            ..Default::default()
        };
        // Failures within the start period do not count.
        assert_eq!(record(&mut h, result(1), 2, true), None);
        assert_eq!(h.failing_streak, 0);
        assert_eq!(record(&mut h, result(1), 2, false), None);
        assert_eq!(h.failing_streak, 1);
        assert_eq!(
            record(&mut h, result(0), 2, false),
            Some(HEALTHY.to_string())
        );
        assert_eq!(h.failing_streak, 0);
        // Once healthy, the start period no longer protects.
        assert_eq!(record(&mut h, result(1), 2, true), None);
        assert_eq!(
            record(&mut h, result(-1), 2, false),
            Some(UNHEALTHY.to_string())
        );
        assert_eq!(h.failing_streak, 2);
        assert_eq!(record(&mut h, result(1), 2, false), None);
        assert_eq!(h.failing_streak, 3);
        // The log keeps the last five results, oldest first.
        let codes: Vec<i64> = h
            .log
            .as_ref()
            .unwrap()
            .iter()
            .map(|r| r.exit_code)
            .collect();
        assert_eq!(codes, [1, 0, 1, -1, 1]);
    }

    #[test]
    fn the_status_suffix_is_dockers() {
        let mut h = Health {
            status: STARTING.into(),
            ..Default::default()
        };
        assert_eq!(status_suffix(&h), "health: starting");
        h.status = UNHEALTHY.into();
        assert_eq!(status_suffix(&h), "unhealthy");
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn health_configs_are_checked_like_dockers() {
        validate(&HealthConfig::default()).unwrap();
        let hc = HealthConfig {
            interval: 999_999,
            ..Default::default()
        };
        assert_eq!(
            validate(&hc).unwrap_err().to_string(),
            "Interval in Healthcheck cannot be less than 1ms"
        );
        let hc = HealthConfig {
            retries: -1,
            ..Default::default()
        };
        assert_eq!(
            validate(&hc).unwrap_err().to_string(),
            "Retries in Healthcheck cannot be negative"
        );
    }
}
