//! `--init` (berth-init as the container's pid 1) and health checks,
//! through the docker CLI.
//!
//! The init tests need a statically linked `berth-init` next to berthd:
//! `cargo rustc -p berth-init --bin berth-init -- -C target-feature=+crt-static`
//! (the busybox image has no libc for a dynamic one).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::{berthd_bin, eventually, started};

fn require_init_bin() {
    let p = Path::new(berthd_bin()).with_file_name("berth-init");
    assert!(
        p.exists(),
        "{} is missing: cargo rustc -p berth-init --bin berth-init -- -C target-feature=+crt-static",
        p.display()
    );
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn init_is_pid_1_and_the_command_its_child() {
    if !testkit::require_root() {
        return;
    }
    require_init_bin();
    let d = started();
    let out = d
        .docker([
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "echo $$; grep PPid /proc/$$/status; ps -o pid,args",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "the command is not pid 1: {out}");
    assert_eq!(lines[1], "PPid:\t1", "the command's parent is init: {out}");
    let pid1 = lines
        .iter()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no pid 1 in {out}"));
    assert!(
        pid1.contains("/sbin/docker-init -- sh -c"),
        "pid 1 is the init: {pid1}"
    );
    // The command's exit code is the container's.
    let r = d.docker(["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(r.code(), Some(7));
    // Without --init the command is pid 1.
    let out = d
        .docker(["run", "--rm", "busybox", "sh", "-c", "echo $$"])
        .ok();
    assert_eq!(out, "1\n");
    // Inspect shows the request.
    let id = d
        .docker(["create", "--init", "busybox", "true"])
        .ok()
        .trim()
        .to_string();
    let init = d
        .docker(["inspect", "-f", "{{.HostConfig.Init}}", &id])
        .ok();
    assert_eq!(init, "true\n");
}

#[test]
fn init_forwards_stop_signals_and_reaps_orphans() {
    if !testkit::require_root() {
        return;
    }
    require_init_bin();
    let d = started();
    // `sleep` as pid 1 ignores SIGTERM (no handler): stop would wait for
    // its timeout. Behind the init it gets the SIGTERM and dies of it.
    let id = d
        .docker(["run", "-d", "--init", "busybox", "sleep", "100"])
        .ok()
        .trim()
        .to_string();
    let t = Instant::now();
    d.docker(["stop", "-t", "20", &id]).ok();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
    let code = d.docker(["inspect", "-f", "{{.State.ExitCode}}", &id]).ok();
    assert_eq!(code, "143\n");

    // An orphan (the backgrounded sleep's parent sh exits) is reaped by
    // the init: no zombie stays in the container.
    let id = d
        .docker([
            "run",
            "-d",
            "--init",
            "busybox",
            "sh",
            "-c",
            "sh -c 'sleep 0.2 &' ; sleep 100",
        ])
        .ok()
        .trim()
        .to_string();
    // Every process's stat line: "pid (comm) state ...".
    let stats = || {
        d.docker(["exec", &id, "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null"])
            .ok()
    };
    eventually("the orphan to exit and be reaped", || {
        let st = stats();
        st.matches("(sleep)").count() == 1
    });
    // Its exit left no zombie behind.
    let st = stats();
    assert!(!st.contains(") Z "), "{st}");
    d.docker(["rm", "-f", &id]).ok();
}

#[test]
fn health_checks_turn_healthy_or_unhealthy_with_events() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let since = now();
    let good = d
        .docker([
            "run",
            "-d",
            "--health-cmd",
            "test -d /proc",
            "--health-interval",
            "1s",
            "busybox",
            "sleep",
            "100",
        ])
        .ok()
        .trim()
        .to_string();
    let bad = d
        .docker([
            "run",
            "-d",
            "--health-cmd",
            "echo sick; exit 1",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
            "busybox",
            "sleep",
            "100",
        ])
        .ok()
        .trim()
        .to_string();
    let status = |id: &str| {
        d.docker(["inspect", "-f", "{{.State.Health.Status}}", id])
            .ok()
            .trim()
            .to_string()
    };
    // Before the first probe (one interval after the start).
    let first = status(&good);
    assert!(
        first == "starting" || first == "healthy",
        "status right after start: {first}"
    );
    eventually("the good check to turn healthy", || {
        status(&good) == "healthy"
    });
    eventually("the bad check to turn unhealthy", || {
        status(&bad) == "unhealthy"
    });
    let streak = d
        .docker(["inspect", "-f", "{{.State.Health.FailingStreak}}", &bad])
        .ok();
    assert!(streak.trim().parse::<i64>().unwrap() >= 2, "{streak}");
    let last = d
        .docker([
            "inspect",
            "-f",
            "{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}|{{end}}",
            &bad,
        ])
        .ok();
    assert!(last.contains("1:sick\n|"), "{last}");

    let ps = d
        .docker(["ps", "--no-trunc", "--format", "{{.ID}} {{.Status}}"])
        .ok();
    let line = |id: &str| {
        ps.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not in {ps}"))
            .to_string()
    };
    assert!(line(&good).ends_with("(healthy)"), "{ps}");
    assert!(line(&bad).ends_with("(unhealthy)"), "{ps}");
    let filtered = d
        .docker(["ps", "-q", "--no-trunc", "--filter", "health=unhealthy"])
        .ok();
    assert_eq!(filtered.trim(), bad);

    let until = now();
    let events = d
        .docker([
            "events".to_string(),
            "--since".to_string(),
            format!("{since:.9}"),
            "--until".to_string(),
            format!("{until:.9}"),
            "--format".to_string(),
            "{{.ID}} {{.Action}}".to_string(),
        ])
        .ok();
    assert!(
        events.contains(&format!("{good} health_status: healthy")),
        "{events}"
    );
    assert!(
        events.contains(&format!("{bad} health_status: unhealthy")),
        "{events}"
    );

    // Probing stops with the container; the last health stays.
    d.docker(["stop", "-t", "1", &good]).ok();
    let n = |id: &str| {
        d.docker(["inspect", "-f", "{{len .State.Health.Log}}", id])
            .ok()
    };
    let ends = |id: &str| {
        d.docker([
            "inspect",
            "-f",
            "{{range .State.Health.Log}}{{.End}}|{{end}}",
            id,
        ])
        .ok()
    };
    let before = ends(&good);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(ends(&good), before, "no probe after the stop");
    assert_ne!(n(&good).trim(), "0");
    assert_eq!(status(&good), "healthy");
    d.docker(["rm", "-f", &good, &bad]).ok();
}

#[test]
fn healthcheck_none_disables_and_bad_values_are_refused() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let id = d
        .docker(["run", "-d", "--no-healthcheck", "busybox", "sleep", "100"])
        .ok()
        .trim()
        .to_string();
    let h = d
        .docker(["inspect", "-f", "{{json .State.Health}}", &id])
        .ok();
    assert_eq!(h, "null\n");
    d.docker(["rm", "-f", &id]).ok();
    let err = d
        .docker([
            "run",
            "-d",
            "--health-cmd",
            "true",
            "--health-retries",
            "-1",
            "busybox",
            "true",
        ])
        .fails();
    assert!(
        err.contains("--health-retries cannot be negative")
            || err.contains("Retries in Healthcheck cannot be negative"),
        "{err}"
    );
}

#[test]
fn health_survives_a_daemon_restart() {
    if !testkit::require_root() {
        return;
    }
    let mut d = started();
    let run = |name: &str, cmd: &str, interval: &str| {
        d.docker([
            "run",
            "-d",
            "--name",
            name,
            "--health-cmd",
            cmd,
            "--health-interval",
            interval,
            "--health-retries",
            "2",
            "busybox",
            "sleep",
            "100",
        ])
        .ok();
    };
    run("sick", "echo sick; exit 1", "500ms");
    run("fine", "echo fine", "2s");
    let field = |d: &crate::harness::Berthd, format: &str, name: &str| {
        d.docker(["inspect", "-f", format, name])
            .ok()
            .trim()
            .to_string()
    };
    eventually("the failing check to turn unhealthy", || {
        field(&d, "{{.State.Health.Status}}", "sick") == "unhealthy"
    });
    eventually("the passing check to turn healthy", || {
        field(&d, "{{.State.Health.Status}}", "fine") == "healthy"
    });
    // A stopped container keeps its last health.
    d.docker(["stop", "-t", "1", "sick"]).ok();
    let log = "{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}|{{end}}";
    let before = field(&d, log, "sick");
    let streak: i64 = field(&d, "{{.State.Health.FailingStreak}}", "sick")
        .parse()
        .unwrap();
    assert!(streak >= 2, "{streak}");
    assert!(before.contains("1:sick\n|"), "{before}");

    d.kill9();
    d.restart();
    // dockerd keeps the health in the container's state file: the stopped
    // one shows it as it was.
    assert_eq!(field(&d, "{{.State.Health.Status}}", "sick"), "unhealthy");
    assert_eq!(
        field(&d, "{{.State.Health.FailingStreak}}", "sick"),
        streak.to_string()
    );
    assert_eq!(field(&d, log, "sick"), before);
    // The running one is monitored again from `starting` (dockerd's
    // initHealthMonitor), with its log kept.
    let fine_log = field(&d, log, "fine");
    assert!(fine_log.starts_with("0:fine\n|"), "{fine_log}");
    let status = field(&d, "{{.State.Health.Status}}", "fine");
    assert!(status == "starting" || status == "healthy", "{status}");
    eventually("the restored check to run again", || {
        field(&d, "{{.State.Health.Status}}", "fine") == "healthy"
    });
    d.docker(["rm", "-f", "sick", "fine"]).ok();
}
