//! create / start / state / kill / delete / run / list / pause / ps /
//! events / update.

use std::path::Path;

use serde_json::{Value, json};
use testkit::runtime::{pid_alive, pidfd_open};
use testkit::{Bundle, SharedDir, cgroups};

use crate::runtime;

/// A container that stays up until killed.
fn sleeper() -> Bundle {
    Bundle::new().args(&["sleep", "inf"])
}

#[test]
fn create_start_exit_delete() {
    let Some(rt) = runtime() else { return };
    let shared = SharedDir::new();
    let mut gate = shared.gate("gate");
    let bundle = Bundle::new()
        .bind(shared.path(), "/shared", &[])
        .sh("read _ < /shared/gate");
    let ctr = rt.container(&bundle);

    ctr.create().ok();
    let state = ctr.state_json();
    assert_eq!(state["status"], "created", "{state}");
    assert_eq!(state["id"], ctr.id());
    assert_eq!(Path::new(state["bundle"].as_str().unwrap()), bundle.path());
    assert!(state["ociVersion"].is_string(), "{state}");
    let pid = ctr.pid();
    assert!(pid > 0, "{state}");
    assert_eq!(ctr.pid_from_file(), pid, "pid file and state disagree");
    assert!(pid_alive(pid), "created init {pid} is not alive");
    let on_rootfs = testkit::runtime::processes_rooted_in(&bundle.rootfs());
    assert_eq!(
        on_rootfs,
        [pid],
        "the created init is the only process on the rootfs"
    );

    ctr.start().ok();
    assert_eq!(ctr.status(), "running");

    gate.open();
    ctr.wait_stopped();
    assert_eq!(ctr.status(), "stopped");

    ctr.delete().ok();
    let after = ctr.state().fails();
    // runc 1.1 says "container does not exist" without naming the id.
    assert!(after.stderr.contains("does not exist"), "{after}");
    assert!(
        rt.state_entries().is_empty(),
        "state dir still lists {:?}",
        rt.state_entries()
    );
}

#[test]
fn run_returns_container_exit_code() {
    let Some(rt) = runtime() else { return };
    for code in [0, 3, 42] {
        let bundle = Bundle::new().sh(&format!("echo out; exit {code}"));
        let ctr = rt.container(&bundle);
        let out = ctr.run();
        assert_eq!(out.code(), Some(code), "{out}");
        assert_eq!(out.stdout, "out\n", "{out}");
    }
}

#[test]
fn run_reports_signal_death_as_128_plus_signal() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper();
    let id = testkit::unique_name("bt");
    let bundle_dir = bundle.path().to_str().expect("utf-8 path").to_owned();
    std::thread::scope(|s| {
        let run = s.spawn(|| rt.cmd(["run", "--bundle", bundle_dir.as_str(), id.as_str()]));
        // Wait for the foreground run to have started the container, then
        // SIGKILL its init from outside (pid 1 ignores unhandled signals
        // sent from inside its namespace).
        let deadline = std::time::Instant::now() + testkit::HANG_GUARD;
        loop {
            let state = rt.cmd(["state", id.as_str()]);
            if state.success() && state.json()["status"] == "running" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "run never got running: {state}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        rt.cmd(["kill", id.as_str(), "KILL"]).ok();
        let out = run.join().expect("run thread");
        assert_eq!(out.code(), Some(128 + 9), "{out}");
    });
    // A foreground run deletes its container when it exits.
    rt.cmd(["state", id.as_str()]).fails();
}

#[test]
fn run_detach_leaves_container_running() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper();
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    assert_eq!(ctr.status(), "running");
    let pid = ctr.pid_from_file();
    assert_eq!(ctr.pid(), pid);
    assert!(pid_alive(pid));
    ctr.kill("KILL").ok();
    ctr.wait_stopped();
    ctr.delete().ok();
    assert!(!pid_alive(pid));
}

#[test]
fn list_table_json_and_quiet() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper();
    let a = rt.container(&bundle);
    let b = rt.container(&bundle);
    a.create().ok();
    b.run_detached().ok();

    let table = rt.cmd(["list"]).ok().stdout;
    let rows = crate::lines(&table);
    let header: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{table}"
    );
    for (ctr, status) in [(&a, "created"), (&b, "running")] {
        let row = rows
            .iter()
            .map(|r| r.split_whitespace().collect::<Vec<_>>())
            .find(|r| r[0] == ctr.id())
            .unwrap_or_else(|| panic!("{} missing from list:\n{table}", ctr.id()));
        assert_eq!(row[1], ctr.pid().to_string(), "{table}");
        assert_eq!(row[2], status, "{table}");
        assert_eq!(Path::new(row[3]), bundle.path(), "{table}");
    }

    let json = rt.cmd(["list", "--format", "json"]).ok().json();
    let arr = json.as_array().expect("list --format json is an array");
    assert_eq!(arr.len(), 2, "{json}");
    for (ctr, status) in [(&a, "created"), (&b, "running")] {
        let entry = arr
            .iter()
            .find(|e| e["id"] == ctr.id())
            .expect("entry for id");
        assert_eq!(entry["status"], status);
        assert_eq!(entry["pid"], ctr.pid());
        assert_eq!(Path::new(entry["bundle"].as_str().unwrap()), bundle.path());
    }

    let quiet = rt.cmd(["list", "-q"]).ok().stdout;
    let mut ids = crate::lines(&quiet);
    ids.sort();
    let mut want = vec![a.id(), b.id()];
    want.sort();
    assert_eq!(ids, want);
}

#[test]
fn list_of_empty_root() {
    let Some(rt) = runtime() else { return };
    let json = rt.cmd(["list", "--format", "json"]).ok();
    // runc prints `null` (a nil Go slice) when there are no containers; an
    // empty array is accepted too.
    let v = json.json();
    assert!(v.is_null() || v == json!([]), "{json}");
    assert!(rt.cmd(["list", "-q"]).ok().stdout.trim().is_empty());
}

/// A container whose pid 1 traps TERM (pid 1 gets only signals it handles)
/// and exits 7, printing "ready" once the trap is set.
fn term_trapper() -> Bundle {
    Bundle::new()
        .sh("trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 1 & wait; done")
}

#[test]
fn kill_accepts_signal_names_and_numbers() {
    let Some(rt) = runtime() else { return };
    for sig in ["TERM", "SIGTERM", "15"] {
        let bundle = term_trapper();
        let ctr = rt.container(&bundle);
        ctr.run_detached().ok();
        ctr.wait_stdout("ready");
        ctr.kill(sig).ok();
        ctr.wait_stopped();
        assert!(
            ctr.stdout().contains("got-term"),
            "signal {sig}: {}",
            ctr.stdout()
        );
    }
    for sig in ["KILL", "SIGKILL", "9"] {
        let bundle = sleeper();
        let ctr = rt.container(&bundle);
        ctr.run_detached().ok();
        let pid = ctr.pid();
        ctr.kill(sig).ok();
        ctr.wait_stopped();
        assert!(!pid_alive(pid), "signal {sig} left {pid} alive");
    }
}

#[test]
fn kill_defaults_to_sigterm() {
    let Some(rt) = runtime() else { return };
    let bundle = term_trapper();
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    ctr.wait_stdout("ready");
    ctr.verb("kill", &[], &[]).ok();
    ctr.wait_stopped();
    assert!(ctr.stdout().contains("got-term"), "{}", ctr.stdout());
}

#[test]
fn kill_rejects_unknown_signal() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper();
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let out = ctr.kill("SIGNOPE").fails();
    assert!(
        out.stderr.contains("SIGNOPE") || out.stderr.contains("NOPE"),
        "{out}"
    );
    assert_eq!(ctr.status(), "running");
}

#[test]
fn kill_all_reaches_every_process() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().sh("sleep inf & sleep inf & echo ready; wait");
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    ctr.wait_stdout("ready");
    let pids: Vec<i32> = ctr
        .ps_json()
        .as_array()
        .expect("ps json array")
        .iter()
        .map(|p| p.as_i64().unwrap() as i32)
        .collect();
    assert_eq!(pids.len(), 3, "want sh and two sleeps: {pids:?}");
    let fds: Vec<_> = pids
        .iter()
        .map(|p| pidfd_open(*p).expect("pidfd_open"))
        .collect();
    ctr.kill_all("KILL").ok();
    let deadline = std::time::Instant::now() + testkit::HANG_GUARD;
    for (pid, fd) in pids.iter().zip(&fds) {
        use std::os::fd::AsFd;
        assert!(
            testkit::wait_readable(fd.as_fd(), deadline),
            "pid {pid} survived kill --all"
        );
    }
    ctr.wait_stopped();
}

#[test]
fn delete_force_removes_running_container() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper();
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let pid = ctr.pid();
    let fd = pidfd_open(pid).expect("pidfd_open");
    ctr.delete_force().ok();
    use std::os::fd::AsFd;
    assert!(testkit::wait_readable(
        fd.as_fd(),
        std::time::Instant::now() + testkit::HANG_GUARD
    ));
    ctr.state().fails();
    assert!(rt.state_entries().is_empty());
    assert!(
        cgroups::dirs_named(ctr.id()).is_empty(),
        "{:?}",
        cgroups::dirs_named(ctr.id())
    );
}

#[test]
fn delete_force_removes_created_container() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper();
    let ctr = rt.container(&bundle);
    ctr.create().ok();
    let pid = ctr.pid();
    ctr.delete_force().ok();
    ctr.state().fails();
    assert!(
        !pid_alive(pid),
        "init {pid} of a deleted created container lives on"
    );
    assert!(
        cgroups::dirs_named(ctr.id()).is_empty(),
        "{:?}",
        cgroups::dirs_named(ctr.id())
    );
}

#[test]
fn delete_of_running_container_without_force_fails() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper();
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let out = ctr.delete().fails();
    // runc: "cannot delete container <id> that is not stopped: running".
    assert!(out.stderr.contains(ctr.id()), "{out}");
    assert!(out.stderr.contains("running"), "{out}");
    assert_eq!(ctr.status(), "running");
}

#[test]
fn pause_and_resume() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper();
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let pid = ctr.pid();
    ctr.pause().ok();
    assert_eq!(ctr.status(), "paused");
    if let Some(dir) = cgroups::dir_for(pid, "freezer") {
        assert_eq!(cgroups::read(&dir, "freezer.state"), "FROZEN");
    }
    // runc refuses exec into a paused container unless --ignore-paused.
    let exec = ctr.exec(&["true"]).fails();
    assert!(exec.stderr.contains("paused"), "{exec}");
    ctr.resume().ok();
    assert_eq!(ctr.status(), "running");
    if let Some(dir) = cgroups::dir_for(pid, "freezer") {
        assert_eq!(cgroups::read(&dir, "freezer.state"), "THAWED");
    }
    ctr.exec(&["true"]).ok();
}

#[test]
fn ps_json_lists_container_pids() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().sh("sleep inf & echo ready; wait");
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    ctr.wait_stdout("ready");
    let ps = ctr.ps_json();
    let pids: Vec<i64> = ps
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    assert!(
        pids.contains(&(ctr.pid() as i64)),
        "{ps} lacks init {}",
        ctr.pid()
    );
    assert_eq!(pids.len(), 2, "{ps}");
}

#[test]
fn events_stats_prints_one_stats_object() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper().cgroups_path(&testkit::unique_name("berth-ev"));
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let out = ctr.events_stats().ok();
    let v: Value = out.json();
    assert_eq!(v["type"], "stats", "{out}");
    assert_eq!(v["id"], ctr.id(), "{out}");
    let data = &v["data"];
    assert!(
        data["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{out}"
    );
    assert!(data["cpu"]["usage"]["total"].is_u64(), "{out}");
    assert!(data["pids"]["current"].as_u64().unwrap_or(0) >= 1, "{out}");
}

#[test]
fn update_memory_and_pids_limits() {
    let Some(rt) = runtime() else { return };
    let bundle = sleeper().cgroups_path(&testkit::unique_name("berth-up"));
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let pid = ctr.pid();

    ctr.update(&["--memory", "64M", "--pids-limit", "20"]).ok();
    let memory = cgroups::dir_for(pid, "memory").expect("memory cgroup");
    let pids = cgroups::dir_for(pid, "pids").expect("pids cgroup");
    assert_eq!(cgroups::read(&pids, "pids.max"), "20");
    let inside = ctr
        .exec(&["cat", "/sys/fs/cgroup/pids/pids.max"])
        .ok()
        .stdout;
    assert_eq!(inside.trim(), "20", "pids.max seen inside");
    let mem_file = if memory.join("memory.limit_in_bytes").exists() {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    assert_eq!(cgroups::read(&memory, mem_file), (64u64 << 20).to_string());

    ctr.update_resources(&json!({ "pids": { "limit": 30 } }))
        .ok();
    assert_eq!(cgroups::read(&pids, "pids.max"), "30");
    // The memory limit set before is not touched by an update without it.
    assert_eq!(cgroups::read(&memory, mem_file), (64u64 << 20).to_string());
}
