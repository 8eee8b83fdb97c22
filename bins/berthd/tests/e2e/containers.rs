//! Containers through the docker CLI: run, exit codes, the detached
//! lifecycle, logs, exec, inspect, events.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::{eventually, started};

#[test]
fn run_rm_prints_the_output_and_removes_the_container() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let out = d.docker(["run", "--rm", "busybox", "echo", "hi"]).ok();
    assert_eq!(out, "hi\n");
    let out = d
        .docker([
            "run",
            "--rm",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-u",
            "65534",
            "busybox",
            "sh",
            "-c",
            "echo $A $(pwd) $(id -u)",
        ])
        .ok();
    assert_eq!(out, "1 /tmp 65534\n");
    let out = d
        .docker([
            "run",
            "--rm",
            "--entrypoint",
            "/bin/echo",
            "busybox",
            "via",
            "entrypoint",
        ])
        .ok();
    assert_eq!(out, "via entrypoint\n");
    let err = d
        .docker(["run", "--rm", "busybox", "sh", "-c", "echo oops >&2"])
        .ok();
    assert_eq!(err, "");
    // --rm removes the container once it exited.
    eventually("the --rm container to go", || {
        d.docker(["ps", "-aq"]).ok().trim().is_empty()
    });
}

#[test]
fn exit_codes_are_the_containers_and_dockers() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    assert_eq!(
        d.docker(["run", "--rm", "busybox", "sh", "-c", "exit 3"])
            .code(),
        Some(3)
    );
    let run = d.docker(["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(run.code(), Some(127), "{}", run.stderr());
    assert!(
        run.stderr().contains("executable file not found"),
        "{}",
        run.stderr()
    );
    // A daemon refusal of the request itself is the CLI's 125.
    let run = d.docker(["run", "--rm", "--name", "bad name!", "busybox", "true"]);
    assert_eq!(run.code(), Some(125), "{}", run.stderr());
    assert!(
        run.stderr().contains("Invalid container name"),
        "{}",
        run.stderr()
    );
}

#[test]
fn detached_container_lifecycle() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let id = d
        .docker(["run", "-d", "--name", "ticker", "-l", "role=test", "busybox", "sh", "-c",
                 "trap 'echo bye; exit 0' TERM; i=0; while :; do echo line $i; i=$((i+1)); sleep 0.1; done"])
        .ok();
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let ps = d
        .docker(["ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"])
        .ok();
    assert!(ps.starts_with(&format!("{} ticker Up", &id[..12])), "{ps}");
    assert_eq!(
        d.docker(["ps", "-q", "--filter", "label=role=test"])
            .ok()
            .trim(),
        &id[..12]
    );
    assert_eq!(
        d.docker(["ps", "-q", "--filter", "label=role=other"])
            .ok()
            .trim(),
        ""
    );

    eventually("three log lines", || {
        d.docker(["logs", "ticker"]).ok().lines().count() >= 3
    });
    let tail = d.docker(["logs", "--tail", "2", "ticker"]).ok();
    assert_eq!(tail.lines().count(), 2, "{tail}");
    let stamped = d.docker(["logs", "-t", "--tail", "1", "ticker"]).ok();
    let (ts, text) = stamped.trim().split_once(' ').unwrap();
    assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{stamped}");
    assert!(text.starts_with("line "), "{stamped}");

    let state = d
        .docker([
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Tty}}",
            "ticker",
        ])
        .ok();
    assert_eq!(state.trim(), "running true /ticker false");
    let top = d.docker(["top", "ticker"]).ok();
    assert!(top.contains("PID") && top.contains("sh -c"), "{top}");

    d.docker(["pause", "ticker"]).ok();
    assert_eq!(
        d.docker(["inspect", "-f", "{{.State.Status}}", "ticker"])
            .ok()
            .trim(),
        "paused"
    );
    d.docker(["unpause", "ticker"]).ok();
    d.docker(["rename", "ticker", "ticker2"]).ok();

    d.docker(["stop", "-t", "5", "ticker2"]).ok();
    let state = d
        .docker([
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "ticker2",
        ])
        .ok();
    assert_eq!(state.trim(), "exited 0");
    assert!(d.docker(["logs", "ticker2"]).ok().ends_with("bye\n"));
    assert_eq!(d.docker(["ps", "-q"]).ok().trim(), "");
    assert_eq!(
        d.docker(["ps", "-aq", "--filter", "status=exited"])
            .ok()
            .trim(),
        &id[..12]
    );

    d.docker(["start", "ticker2"]).ok();
    d.docker(["restart", "-t", "1", "ticker2"]).ok();
    assert_eq!(
        d.docker(["inspect", "-f", "{{.State.Running}}", "ticker2"])
            .ok()
            .trim(),
        "true"
    );
    let err = d.docker(["rm", "ticker2"]).fails();
    assert!(
        err.contains("You cannot remove a running container")
            && err.contains("Stop the container before attempting removal or force remove"),
        "{err}"
    );
    d.docker(["kill", "ticker2"]).ok();
    assert_eq!(d.docker(["wait", "ticker2"]).ok().trim(), "137");
    d.docker(["rm", "ticker2"]).ok();
    assert_eq!(d.docker(["ps", "-aq"]).ok().trim(), "");
    let err = d.docker(["inspect", "ticker2"]).fails();
    assert!(err.contains("No such object: ticker2"), "{err}");
}

#[test]
fn logs_follow_streams_until_the_container_exits() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker([
        "run",
        "-d",
        "--name",
        "short",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 1; echo two >&2; sleep 0.5",
    ])
    .ok();
    let run = d.docker(["logs", "-f", "short"]);
    assert_eq!(run.stdout(), "one\n");
    assert_eq!(run.stderr(), "two\n");
    assert_eq!(d.docker(["wait", "short"]).ok().trim(), "0");
}

#[test]
fn exec_runs_in_the_container_with_its_exit_code() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker(["run", "-d", "--name", "host1", "busybox", "sleep", "60"])
        .ok();
    let out = d
        .docker([
            "exec",
            "-e",
            "X=7",
            "-w",
            "/etc",
            "host1",
            "sh",
            "-c",
            "echo $X $(pwd)",
        ])
        .ok();
    assert_eq!(out, "7 /etc\n");
    assert_eq!(
        d.docker(["exec", "host1", "sh", "-c", "exit 5"]).code(),
        Some(5)
    );
    // A process that cannot start: docker's 127 and 126.
    assert_eq!(d.docker(["exec", "host1", "no-such-cmd"]).code(), Some(127));
    assert_eq!(d.docker(["exec", "host1", "/etc"]).code(), Some(126));
    let out = d
        .docker_stdin(["exec", "-i", "host1", "cat"], b"through stdin\n")
        .ok();
    assert_eq!(out, "through stdin\n");
    d.docker([
        "exec",
        "-d",
        "host1",
        "sh",
        "-c",
        "echo detached > /tmp/mark",
    ])
    .ok();
    eventually("the detached exec", || {
        d.docker(["exec", "host1", "cat", "/tmp/mark"]).out.stdout == b"detached\n"
    });
    // A command that cannot start: the daemon's message reaches the user
    // through the hijacked stream, as with dockerd.
    let run = d.docker(["exec", "host1", "no-such-command"]);
    assert!(
        run.stdout().contains("executable file not found"),
        "{}{}",
        run.stdout(),
        run.stderr()
    );
    d.docker(["rm", "-f", "host1"]).ok();
    let err = d.docker(["exec", "host1", "true"]).fails();
    assert!(err.contains("No such container: host1"), "{err}");
}

#[test]
fn events_since_until_and_filters() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let since = now();
    d.docker(["run", "--name", "ev1", "busybox", "true"]).ok();
    d.docker(["rm", "ev1"]).ok();
    d.docker(["run", "--rm", "--name", "ev2", "busybox", "true"])
        .ok();
    eventually("ev2 to be removed", || {
        d.docker(["ps", "-aq"]).ok().trim().is_empty()
    });
    std::thread::sleep(Duration::from_millis(100));
    let until = now();
    let out = d
        .docker([
            "events".to_string(),
            "--since".to_string(),
            format!("{since:.9}"),
            "--until".to_string(),
            format!("{until:.9}"),
            "--filter".to_string(),
            "container=ev1".to_string(),
            "--format".to_string(),
            "{{.Action}}".to_string(),
        ])
        .ok();
    let actions: Vec<&str> = out.lines().collect();
    for a in ["create", "start", "die", "destroy"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert!(
        actions.iter().position(|a| *a == "create") < actions.iter().position(|a| *a == "destroy")
    );
    let out = d
        .docker([
            "events".to_string(),
            "--since".to_string(),
            format!("{since:.9}"),
            "--until".to_string(),
            format!("{until:.9}"),
            "--filter".to_string(),
            "event=destroy".to_string(),
            "--format".to_string(),
            "{{.Actor.Attributes.name}}".to_string(),
        ])
        .ok();
    assert_eq!(out, "ev1\nev2\n");
}

#[test]
fn containers_survive_a_daemon_crash_and_restart() {
    if !testkit::require_root() {
        return;
    }
    let mut d = started();
    d.docker([
        "run",
        "-d",
        "--name",
        "keeper",
        "busybox",
        "sh",
        "-c",
        "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    ])
    .ok();
    d.docker([
        "run",
        "-d",
        "--name",
        "quitter",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 7",
    ])
    .ok();
    eventually("output before the crash", || {
        d.docker(["logs", "keeper"]).ok().lines().count() >= 3
    });
    d.kill9();
    // quitter exits while no daemon runs.
    std::thread::sleep(Duration::from_millis(1500));
    d.restart();
    let ps = d.docker(["ps", "--format", "{{.Names}}"]).ok();
    assert_eq!(ps.trim(), "keeper");
    let state = d
        .docker([
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "quitter",
        ])
        .ok();
    assert_eq!(state.trim(), "exited 7");
    // The log has no gap: every tick from 0 on, in order.
    let before = d.docker(["logs", "keeper"]).ok().lines().count();
    eventually("more output after the restart", || {
        d.docker(["logs", "keeper"]).ok().lines().count() > before
    });
    let logs = d.docker(["logs", "keeper"]).ok();
    for (n, line) in logs.lines().enumerate() {
        assert_eq!(line, format!("tick {n}"), "log:\n{logs}");
    }
    d.docker(["exec", "keeper", "true"]).ok();
    d.docker(["rm", "-f", "keeper", "quitter"]).ok();
}

#[test]
fn info_counts_containers_and_prune_removes_stopped_ones() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker(["run", "-d", "--name", "up", "busybox", "sleep", "60"])
        .ok();
    d.docker(["run", "-d", "--name", "held", "busybox", "sleep", "60"])
        .ok();
    d.docker(["pause", "held"]).ok();
    d.docker(["run", "--name", "done1", "busybox", "true"]).ok();
    d.docker([
        "create", "--name", "fresh", "-l", "keep=yes", "busybox", "true",
    ])
    .ok();
    let info = d.get_json("/info");
    assert_eq!(
        (
            &info["Containers"],
            &info["ContainersRunning"],
            &info["ContainersPaused"],
            &info["ContainersStopped"]
        ),
        (&4.into(), &1.into(), &1.into(), &2.into()),
        "{info}"
    );
    let out = d
        .docker(["container", "prune", "-f", "--filter", "label!=keep=yes"])
        .ok();
    assert!(out.contains("Deleted Containers"), "{out}");
    let names = d.docker(["ps", "-a", "--format", "{{.Names}}"]).ok();
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["fresh", "held", "up"]);
    d.docker(["rm", "-f", "up", "held", "fresh"]).ok();
}

#[test]
fn runc_runs_the_same_containers() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let out = d
        .docker([
            "run",
            "--rm",
            "--runtime",
            "runc",
            "busybox",
            "echo",
            "via runc",
        ])
        .ok();
    assert_eq!(out, "via runc\n");
    let run = d.docker([
        "run",
        "--rm",
        "--runtime",
        "runc",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    d.docker([
        "run",
        "-d",
        "--runtime",
        "runc",
        "--name",
        "rc",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let rt = d
        .docker(["inspect", "-f", "{{.HostConfig.Runtime}}", "rc"])
        .ok();
    assert_eq!(rt.trim(), "runc");
    assert_eq!(
        d.docker(["exec", "rc", "echo", "exec ok"]).ok(),
        "exec ok\n"
    );
    d.docker(["stop", "-t", "1", "rc"]).ok();
    assert_eq!(
        d.docker(["inspect", "-f", "{{.State.Status}}", "rc"])
            .ok()
            .trim(),
        "exited"
    );
    d.docker(["rm", "rc"]).ok();
    let err = d
        .docker(["run", "--rm", "--runtime", "nope", "busybox", "true"])
        .fails();
    assert!(err.contains("Unknown runtime specified nope"), "{err}");
}
