//! The shim's container lifecycle against real runtimes: readiness, start,
//! the json-file log, wait and exit codes, exit.json, OOM kills, delete,
//! create failures, surviving its spawner, log rotation, and its memory.

#[macro_use]
mod support;

use std::path::Path;
use std::process::Command;

use berth_shim_proto::{EXIT_FILE, SOCKET_FILE, ShimError, Status, read_exit_file};
use serde_json::json;
use support::{
    Opts, Setup, alive, assert_recent_utc, is_shim, log_records, log_text, rss_kib, wait_until,
};
use testkit::Bundle;

/// Whether a `delete` of the runtime runs (its command line names the
/// verb; the wrapper holds it).
fn runtime_deleting(s: &Setup) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
            let args: Vec<&[u8]> = c.split(|&b| b == 0).collect();
            args.contains(&b"delete".as_slice()) && args.contains(&s.id.as_bytes())
        })
    })
}

both_runtimes! {
    fn readiness_start_log_wait_and_delete(rt: &Path) {
        let bundle = Bundle::new().sh("echo out; echo err >&2; exit 3");
        let mut s = Setup::new(rt, bundle);
        let ready = s.spawn(&Opts::default());

        // The readiness line names a daemonized shim and the created init.
        assert!(is_shim(ready.shim_pid), "shim {} is not running", ready.shim_pid);
        assert_ne!(ready.shim_pid as u32, std::process::id());
        assert!(alive(ready.pid), "init {} is not alive", ready.pid);
        let c = s.client();
        let st = c.state().unwrap();
        assert_eq!((st.status, st.pid, st.exit_code), (Status::Created, ready.pid, None));
        assert!(s.runtime_knows());

        c.start().unwrap();
        let exit = c.wait().unwrap();
        assert_eq!(exit.exit_code, 3);
        assert!(!exit.oom_killed);
        assert_recent_utc(&exit.exited_at);

        // exit.json holds the same record.
        assert_eq!(read_exit_file(s.state.path()).unwrap(), Some(exit.clone()));
        let st = c.state().unwrap();
        assert_eq!(st.status, Status::Stopped);
        assert_eq!(st.exit_code, Some(3));
        assert_eq!(st.exited_at.as_deref(), Some(exit.exited_at.as_str()));

        // Docker's json-file format, one record per line, per stream.
        let records = log_records(&s.log_path());
        assert_eq!(records.len(), 2, "{records:?}");
        for r in &records {
            let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["log", "stream", "time"]);
            assert_recent_utc(r["time"].as_str().unwrap());
        }
        assert_eq!(log_text(&s.log_path(), "stdout"), "out\n");
        assert_eq!(log_text(&s.log_path(), "stderr"), "err\n");

        // Waiting again after the exit answers at once.
        assert_eq!(c.wait().unwrap(), exit);

        c.delete().unwrap();
        wait_until("the shim to exit after delete", || !alive(ready.shim_pid));
        assert!(!s.runtime_knows(), "runtime still has the container after delete");
        assert!(!s.state.path().join(SOCKET_FILE).exists());
        assert!(s.state.path().join(EXIT_FILE).exists());
        let err = berth_shim_proto::ShimClient::connect(s.state.path()).unwrap_err();
        assert!(err.is_shim_gone(), "{err}");
    }

    fn kill_reports_128_plus_signal(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["sleep", "1000"]));
        let ready = s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        assert_eq!(c.state().unwrap().status, Status::Running);
        // The shim's own blocked SIGCHLD (for its signalfd) must not reach
        // the container.
        let status = std::fs::read_to_string(format!("/proc/{}/status", ready.pid)).unwrap();
        assert!(status.contains("\nSigBlk:\t0000000000000000\n"), "{status}");
        c.kill(9, false).unwrap();
        let exit = c.wait().unwrap();
        assert_eq!(exit.exit_code, 137);
        assert_eq!(read_exit_file(s.state.path()).unwrap().unwrap().exit_code, 137);
        // The runtime's error for a stopped container comes back as is.
        let err = c.kill(9, false).unwrap_err();
        assert!(matches!(err, ShimError::Remote { op: "kill", .. }), "{err}");
    }

    fn delete_of_running_container_kills_it_and_exits(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["sleep", "1000"]));
        let ready = s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        c.delete().unwrap();
        // delete answers once the exit is recorded.
        let exit = read_exit_file(s.state.path()).unwrap().expect("exit.json after delete");
        assert_eq!(exit.exit_code, 137);
        assert!(!alive(ready.pid), "init survived delete");
        wait_until("the shim to exit", || !alive(ready.shim_pid));
        assert!(!s.runtime_knows());
    }

    fn delete_before_start(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["sleep", "1000"]));
        let ready = s.spawn(&Opts::default());
        s.client().delete().unwrap();
        assert!(read_exit_file(s.state.path()).unwrap().is_some());
        wait_until("the shim to exit", || !alive(ready.shim_pid));
        assert!(!alive(ready.pid));
        assert!(!s.runtime_knows());
    }

    fn waits_in_flight_are_answered_at_exit(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().sh("read _ < /shared/gate; exit 4"));
        let mut gate = s.shared.gate("gate");
        s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || c.wait())
            })
            .collect();
        // Give the waits time to be parked in the shim; the assertions hold
        // either way.
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(waiters.iter().all(|w| !w.is_finished()), "a wait returned before the exit");
        gate.open();
        for w in waiters {
            assert_eq!(w.join().unwrap().unwrap().exit_code, 4);
        }
    }

    fn pause_resume_and_state(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["sleep", "1000"]));
        let ready = s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        c.pause().unwrap();
        assert_eq!(c.state().unwrap().status, Status::Paused);
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", ready.pid)).unwrap();
        let st = stat.rsplit_once(") ").unwrap().1.chars().next().unwrap();
        // A frozen task sleeps in the freezer (S or D).
        assert!(matches!(st, 'S' | 'D'), "state {st}");
        c.resume().unwrap();
        assert_eq!(c.state().unwrap().status, Status::Running);
        c.update(&json!({"pids": {"limit": 50}})).unwrap();
        let err = c.start().unwrap_err();
        assert!(err.to_string().contains("not created"), "{err}");
    }

    fn oom_kill_is_recorded(rt: &Path) {
        let limit = 32u64 << 20;
        let bundle = Bundle::new()
            .resources(json!({"memory": {"limit": limit, "swap": limit}}))
            .sh("dd if=/dev/zero of=/dev/null bs=256M count=1");
        let mut s = Setup::new(rt, bundle);
        s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        let exit = c.wait().unwrap();
        assert_eq!(exit.exit_code, 137, "{exit:?}");
        assert!(exit.oom_killed, "{exit:?}");
        assert!(c.state().unwrap().oom_killed);
    }

    fn create_failure_is_reported_and_cleaned_up(rt: &Path) {
        let bundle = Bundle::new().args(&["/no/such/binary"]).cwd("relative");
        let mut s = Setup::new(rt, bundle);
        let err = s.try_spawn(&Opts::default()).unwrap_err();
        match &err {
            ShimError::CreateFailed { id, message } => {
                assert_eq!(id, &s.id);
                assert!(!message.is_empty());
            }
            other => panic!("expected CreateFailed, got {other}"),
        }
        assert!(!s.state.path().join(SOCKET_FILE).exists());
        assert!(!s.runtime_knows());
    }

    fn shim_outlives_its_spawner(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().sh("read _ < /shared/gate; echo after"));
        let mut gate = s.shared.gate("gate");
        // The spawner (standing in for the daemon) is a shell that runs the
        // shim binary, keeps its readiness line and exits.
        let spec = s.spec(&Opts::default());
        let ready_file = s.logs.path().join("ready");
        // fd 7 is a file the spawner leaks (no close-on-exec).
        let leak = s.logs.path().join("leaked");
        let status = Command::new("sh")
            .arg("-c")
            .arg("exec 7>\"$LEAK\"; \"$0\" \"$@\" > \"$READY\"; exit 0")
            .arg(&spec.shim_binary)
            .args(spec.args())
            .env("READY", &ready_file)
            .env("LEAK", &leak)
            .status()
            .unwrap();
        assert!(status.success());
        let line = std::fs::read(&ready_file).unwrap();
        let ready: berth_shim_proto::ShimReady =
            berth_shim_proto::decode_response("create", &line).unwrap();
        s.ready = Some(ready);
        assert!(is_shim(ready.shim_pid));
        // Its own session (setsid), and no longer the spawner's child.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", ready.shim_pid)).unwrap();
        let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
        assert_eq!(fields[3], ready.shim_pid.to_string(), "session id");

        let c = s.client();
        c.start().unwrap();
        // Neither the shim nor the container holds the spawner's leaked fd.
        for pid in [ready.shim_pid, ready.pid] {
            for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
                let target = std::fs::read_link(fd.unwrap().path()).unwrap_or_default();
                assert_ne!(target, leak, "pid {pid} holds the spawner's fd");
            }
        }
        gate.open();
        assert_eq!(c.wait().unwrap().exit_code, 0);
        assert_eq!(log_text(&s.log_path(), "stdout"), "after\n");
    }

    fn log_rotation_keeps_max_file_files(rt: &Path) {
        let bundle =
            Bundle::new().sh("i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done");
        let mut s = Setup::new(rt, bundle);
        s.spawn(&Opts { log: Some((1000, 3)), ..Opts::default() });
        let c = s.client();
        c.start().unwrap();
        assert_eq!(c.wait().unwrap().exit_code, 0);
        let log = s.log_path();
        let mut names: Vec<String> = std::fs::read_dir(s.logs.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let base = format!("{}-json.log", s.id);
        assert_eq!(names, [base.clone(), format!("{base}.1"), format!("{base}.2")]);
        for n in &names {
            let len = std::fs::metadata(s.logs.path().join(n)).unwrap().len();
            assert!(len <= 1000, "{n} has {len} bytes");
        }
        let current = log_records(&log);
        assert_eq!(current.last().unwrap()["log"], "line-299\n");
        let older = log_records(Path::new(&format!("{}.1", log.display())));
        let next = older.last().unwrap()["log"].as_str().unwrap();
        let first = current[0]["log"].as_str().unwrap();
        let num = |l: &str| l.trim().trim_start_matches("line-").parse::<u32>().unwrap();
        assert_eq!(num(next) + 1, num(first), "rotation lost or repeated a line");
    }

    fn no_log_path_means_no_log(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().sh("echo quiet"));
        s.spawn(&Opts { log: None, ..Opts::default() });
        let c = s.client();
        c.start().unwrap();
        assert_eq!(c.wait().unwrap().exit_code, 0);
        assert_eq!(std::fs::read_dir(s.logs.path()).unwrap().count(), 0);
    }

    fn answers_while_the_runtime_deletes(rt: &Path) {
        // The runtime's delete that follows init's exit is held at a gate;
        // the shim keeps answering meanwhile (the daemon's wait may only
        // arrive then).
        let mut s = Setup::new(rt, Bundle::new().sh("exit 5"));
        let mut gate = s.shared.gate("delete");
        let hold = format!("timeout 60 head -n1 {} >/dev/null", s.shared.file("delete").display());
        let wrappers = tempfile::tempdir().unwrap();
        s.runtime = support::wrap_runtime(wrappers.path(), rt, &hold);
        let ready = s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        assert_eq!(c.wait().unwrap().exit_code, 5);
        wait_until("the runtime's delete to start", || runtime_deleting(&s));
        // Answered with the delete still running (before, the shim blocked
        // in it and these timed out).
        assert_eq!(c.state().unwrap().status, Status::Stopped);
        assert_eq!(c.wait().unwrap().exit_code, 5);
        let deleter = {
            let c = c.clone();
            std::thread::spawn(move || c.delete())
        };
        // Give the delete time to reach the shim; the assertions hold
        // either way.
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!deleter.is_finished(), "delete answered before the runtime's delete ended");
        gate.open();
        deleter.join().unwrap().unwrap();
        wait_until("the shim to exit after delete", || !alive(ready.shim_pid));
        assert!(!s.runtime_knows());
    }

    fn delete_succeeds_when_the_runtime_already_forgot(rt: &Path) {
        // A runtime whose delete does its work and then fails: the shim's
        // delete at init's exit fails, the one the daemon asks for finds
        // the container gone, which is what it asked for.
        let mut s = Setup::new(rt, Bundle::new().sh("exit 0"));
        let wrappers = tempfile::tempdir().unwrap();
        s.runtime = support::wrap_runtime(
            wrappers.path(),
            rt,
            &format!("{} \"$@\"; echo 'deleted, then failed' >&2; exit 1", rt.display()),
        );
        let ready = s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        assert_eq!(c.wait().unwrap().exit_code, 0);
        c.delete().unwrap();
        wait_until("the shim to exit after delete", || !alive(ready.shim_pid));
        assert!(!s.runtime_knows());
    }

    fn resident_memory(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().sh("while true; do echo tick; sleep 0.05; done"));
        let ready = s.spawn(&Opts { stdin: true, ..Opts::default() });
        let c = s.client();
        let mut attach = c.attach(true, true, true).unwrap();
        c.start().unwrap();
        support::read_frames_until(&mut attach, "tick\ntick\n");
        let (rss, anon, file) = rss_kib(ready.shim_pid);
        eprintln!(
            "berth-shim RSS with {} and a running, logging, attached container: \
             VmRSS {rss} KiB (anon {anon}, file {file})",
            rt.display()
        );
        // A guard against regressions, not the target (see the report).
        assert!(rss < 4096, "shim RSS {rss} KiB");
    }
}
