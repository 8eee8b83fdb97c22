//! The container service end to end, as root, with the real shim and
//! runtime: an engine on temp roots imports a busybox image made from the
//! host's static busybox, then runs containers through the same calls
//! berthd makes: lifecycle, exit codes, policies, control operations.
//!
//! Needs the workspace's `berth-runc` and `berth-shim` binaries built
//! (`cargo build -p berth-runc -p berth-shim`); each test checks at its
//! end that no container, mount, cgroup or shim process is left behind.

mod containers_support;

use std::time::{Duration, Instant};

use berth_api_types::container::RestartPolicy;
use berth_engine::ErrorKind;
use berth_engine::containers::{ListOptions, LogOptions, LogStream, WaitCondition};
use containers_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_lifecycle_exit_codes_and_errors() {
    if !testkit::require_root() {
        return;
    }
    let root = short_tempdir();
    let engine = engine_on(root.path()).await;
    import_busybox(&engine).await;

    // Validation, with docker's messages and classes.
    let err = engine
        .container_create(Some("a".into()), request(&["true"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        err.to_string(),
        "Invalid container name (a), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
    );
    let mut nope = request(&["true"]);
    nope.config.image = "nosuchimage".into();
    let err = engine.container_create(None, nope).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string().starts_with("No such image: nosuchimage"),
        "{err}"
    );
    let mut bad = request(&["true"]);
    bad.host_config.as_mut().unwrap().resources.kernel_memory = 1 << 30;
    let err = engine.container_create(None, bad).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("HostConfig.KernelMemory"), "{err}");

    // A container that writes to both streams and exits 3.
    let created = engine
        .container_create(
            Some("job".into()),
            request(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
        )
        .await
        .unwrap();
    let id = created.id;
    assert_eq!(id.len(), 64);
    let err = engine
        .container_create(Some("/job".into()), request(&["true"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        err.to_string(),
        format!(
            "Conflict. The container name \"/job\" is already in use by container \"{id}\". \
             You have to remove (or rename) that container to be able to reuse that name."
        )
    );
    let info = engine.container_inspect("job", false).unwrap();
    assert_eq!(info.state.status, "created");
    assert_eq!(info.state.started_at, "0001-01-01T00:00:00Z");
    assert_eq!(info.config.hostname, id[..12]);
    assert_eq!(info.path, "sh");
    assert_eq!(info.name, "/job");
    assert_eq!(info.host_config.runtime, "berth-runc");
    let listed = engine.container_list(&ListOptions::default()).unwrap();
    assert!(listed.is_empty(), "not running, so not listed without all");

    let wait = engine
        .container_wait(&id[..10], WaitCondition::NextExit)
        .unwrap();
    engine.container_start("job").await.unwrap();
    let code = tokio::time::timeout(LIMIT, wait).await.unwrap().status_code;
    assert_eq!(code, 3);
    assert_eq!(
        logs_text(&engine, &id, Some(LogStream::Stdout)).await,
        "out\n"
    );
    assert_eq!(
        logs_text(&engine, &id, Some(LogStream::Stderr)).await,
        "err\n"
    );
    let info = engine.container_inspect(&id, false).unwrap();
    assert_eq!(info.state.status, "exited");
    assert_eq!(info.state.exit_code, 3);
    assert_ne!(info.state.finished_at, "0001-01-01T00:00:00Z");
    let all = engine
        .container_list(&ListOptions {
            all: true,
            ..ListOptions::default()
        })
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].names.as_deref().unwrap(), ["/job"]);
    assert!(
        all[0].status.starts_with("Exited (3) "),
        "{}",
        all[0].status
    );
    assert_eq!(all[0].command, "sh -c 'echo out; echo err >&2; exit 3'");
    // not-running on a stopped container answers at once.
    assert_eq!(wait_exit(&engine, &id, WaitCondition::NotRunning).await, 3);

    // A long runner: busybox sleep as pid 1 ignores SIGTERM, so stop
    // escalates to SIGKILL after the timeout (exit 137).
    let sleeper = engine
        .container_create(Some("sleeper".into()), request(&["sleep", "1000"]))
        .await
        .unwrap()
        .id;
    engine.container_start(&sleeper).await.unwrap();
    let err = engine.container_start(&sleeper).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotModified);
    let running = engine.container_list(&ListOptions::default()).unwrap();
    assert_eq!(running.len(), 1);
    assert!(
        running[0].status.starts_with("Up "),
        "{}",
        running[0].status
    );
    let info = engine.container_inspect("sleeper", false).unwrap();
    assert!(info.state.running && info.state.pid > 0);
    let top = engine.container_top("sleeper", None).await.unwrap();
    let rows = top.processes.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].last().unwrap().contains("sleep 1000"));
    let err = engine
        .container_remove("sleeper", false, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        err.to_string(),
        format!(
            "You cannot remove a running container {sleeper}. Stop the container before \
             attempting removal or force remove"
        )
    );
    let started = Instant::now();
    engine
        .container_stop("sleeper", Some(1), None)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    let info = engine.container_inspect("sleeper", false).unwrap();
    assert_eq!(info.state.exit_code, 137);
    assert!(!info.state.running);
    let err = engine
        .container_stop("sleeper", None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotModified);
    let err = engine.container_kill("sleeper", None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Container {sleeper} is not running")
    );

    // Restart works on a stopped container and kill ends it.
    engine
        .container_restart("sleeper", Some(0), None)
        .await
        .unwrap();
    assert!(
        engine
            .container_inspect("sleeper", false)
            .unwrap()
            .state
            .running
    );
    engine
        .container_kill("sleeper", Some("KILL".into()))
        .await
        .unwrap();
    assert_eq!(
        engine
            .container_inspect("sleeper", false)
            .unwrap()
            .state
            .exit_code,
        137
    );

    // A command that does not exist: docker's message and exit code 127.
    let missing = engine
        .container_create(None, request(&["nonexistent"]))
        .await
        .unwrap()
        .id;
    let err = engine.container_start(&missing).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("exec: \"nonexistent\": executable file not found in $PATH"),
        "{err}"
    );
    let info = engine.container_inspect(&missing, false).unwrap();
    assert_eq!(info.state.exit_code, 127);
    assert_eq!(info.state.status, "created");
    assert!(info.state.error.contains("executable file not found"));

    // A command that cannot be executed: 126 (with the reference runc,
    // which checks the command at create as dockerd expects).
    let mut etc = request(&["/etc"]);
    etc.host_config.as_mut().unwrap().runtime = "runc".into();
    let dir_cmd = engine.container_create(None, etc).await.unwrap().id;
    let err = engine.container_start(&dir_cmd).await.unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    assert_eq!(
        engine
            .container_inspect(&dir_cmd, false)
            .unwrap()
            .state
            .exit_code,
        126
    );

    // Removal takes everything.
    let dir = root.path().join("data/containers").join(&id);
    assert!(dir.exists());
    engine.container_remove("job", false, false).await.unwrap();
    assert!(!dir.exists());
    let err = engine.container_inspect("job", false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), "No such container: job");

    clean_up(&engine, root.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_auto_remove_and_restart_policies() {
    if !testkit::require_root() {
        return;
    }
    let root = short_tempdir();
    let engine = engine_on(root.path()).await;
    import_busybox(&engine).await;
    let mut events = engine.events().subscribe(None).1;

    // --rm: removed after its exit; wait(removed) reports the exit code.
    let mut rm = request(&["sh", "-c", "exit 4"]);
    rm.host_config.as_mut().unwrap().auto_remove = true;
    let id = engine.container_create(None, rm).await.unwrap().id;
    let wait = engine.container_wait(&id, WaitCondition::Removed).unwrap();
    engine.container_start(&id).await.unwrap();
    assert_eq!(
        tokio::time::timeout(LIMIT, wait).await.unwrap().status_code,
        4
    );
    assert_eq!(
        engine.container_inspect(&id, false).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let mut actions = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if ev.actor.id == id {
            actions.push(ev.action.clone());
            if ev.action == "die" {
                assert_eq!(ev.actor.attributes["exitCode"], "4");
            }
        }
    }
    assert_eq!(actions, ["create", "start", "die", "destroy"]);

    // --rm with a restart policy is refused, as by docker.
    let mut both = request(&["true"]);
    let h = both.host_config.as_mut().unwrap();
    h.auto_remove = true;
    h.restart_policy = RestartPolicy {
        name: "always".into(),
        maximum_retry_count: 0,
    };
    assert_eq!(
        engine
            .container_create(None, both)
            .await
            .unwrap_err()
            .to_string(),
        "can't create 'AutoRemove' container with restart policy"
    );

    // on-failure:2 runs three times, then stays exited with its code.
    let mut flaky = request(&["sh", "-c", "echo run; exit 1"]);
    flaky.host_config.as_mut().unwrap().restart_policy = RestartPolicy {
        name: "on-failure".into(),
        maximum_retry_count: 2,
    };
    let id = engine
        .container_create(Some("flaky".into()), flaky)
        .await
        .unwrap()
        .id;
    engine.container_start(&id).await.unwrap();
    let deadline = Instant::now() + LIMIT;
    loop {
        let info = engine.container_inspect(&id, false).unwrap();
        if info.restart_count == 2 && info.state.status == "exited" {
            assert_eq!(info.state.exit_code, 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "restarts did not settle: {:?}",
            info.state
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // No fourth run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let info = engine.container_inspect(&id, false).unwrap();
    assert_eq!(info.restart_count, 2);
    assert_eq!(logs_text(&engine, &id, None).await, "run\nrun\nrun\n");

    // always: a stop ends the restarts.
    let mut always = request(&["sh", "-c", "exit 0"]);
    always.host_config.as_mut().unwrap().restart_policy = RestartPolicy {
        name: "always".into(),
        maximum_retry_count: 0,
    };
    let id = engine.container_create(None, always).await.unwrap().id;
    engine.container_start(&id).await.unwrap();
    let deadline = Instant::now() + LIMIT;
    while engine.container_inspect(&id, false).unwrap().restart_count < 3 {
        assert!(Instant::now() < deadline, "always did not restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    match engine.container_stop(&id, Some(1), None).await {
        Ok(()) => {}
        // Caught between two runs and already settled: fine.
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotModified, "{e}"),
    }
    let count = engine.container_inspect(&id, false).unwrap().restart_count;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let info = engine.container_inspect(&id, false).unwrap();
    assert_eq!(info.restart_count, count, "restarted after stop");
    assert!(
        !info.state.running && !info.state.restarting,
        "{:?}",
        info.state
    );

    clean_up(&engine, root.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_pause_rename_update_prune_and_logs() {
    if !testkit::require_root() {
        return;
    }
    let root = short_tempdir();
    let engine = engine_on(root.path()).await;
    import_busybox(&engine).await;
    let mut events = engine.events().subscribe(None).1;

    let id = engine
        .container_create(
            Some("ticker".into()),
            request(&[
                "sh",
                "-c",
                "for i in 1 2 3; do echo tick$i; sleep 0.2; done",
            ]),
        )
        .await
        .unwrap()
        .id;
    // Follow from before the start: the log ends with the container.
    engine.container_start(&id).await.unwrap();
    let mut rx = engine
        .container_logs(
            &id,
            LogOptions {
                follow: true,
                stdout: true,
                stderr: true,
                timestamps: true,
                ..LogOptions::default()
            },
        )
        .unwrap();
    let mut lines = Vec::new();
    while let Some(m) = tokio::time::timeout(LIMIT, rx.recv())
        .await
        .expect("follow hung")
    {
        lines.push(String::from_utf8(m.bytes).unwrap());
    }
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (i, l) in lines.iter().enumerate() {
        // RFC 3339 with nine fractional digits, a space, the text.
        let (ts, text) = l.split_once(' ').unwrap();
        assert_eq!(ts.len(), 30, "{ts}");
        assert!(ts.parse::<jiff::Timestamp>().is_ok());
        assert_eq!(text, format!("tick{}\n", i + 1));
    }
    let mut tail = engine
        .container_logs(
            &id,
            LogOptions {
                stdout: true,
                tail: Some(1),
                ..LogOptions::default()
            },
        )
        .unwrap();
    assert_eq!(tail.recv().await.unwrap().bytes, b"tick3\n");
    assert!(tail.recv().await.is_none());

    // Rename.
    engine.container_rename("ticker", "tocker").await.unwrap();
    assert_eq!(
        engine.container_inspect(&id, false).unwrap().name,
        "/tocker"
    );
    assert_eq!(
        engine
            .container_inspect("ticker", false)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let other = engine
        .container_create(Some("other".into()), request(&["sleep", "1000"]))
        .await
        .unwrap()
        .id;
    assert_eq!(
        engine
            .container_rename("other", "tocker")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );

    // Pause, unpause, update on a running container.
    engine.container_start(&other).await.unwrap();
    engine.container_pause("other").await.unwrap();
    let info = engine.container_inspect("other", false).unwrap();
    assert!(info.state.paused && info.state.running);
    assert_eq!(info.state.status, "paused");
    let pid = info.state.pid as i32;
    let freezer = testkit::cgroups::dir_for(pid, "freezer").unwrap();
    let frozen = std::fs::read_to_string(freezer.join("freezer.state")).unwrap_or_default();
    assert_eq!(frozen.trim(), "FROZEN");
    assert_eq!(
        engine
            .container_pause("other")
            .await
            .unwrap_err()
            .to_string(),
        format!("Container {other} is already paused")
    );
    let listed = engine.container_list(&ListOptions::default()).unwrap();
    assert!(
        listed[0].status.ends_with("(Paused)"),
        "{}",
        listed[0].status
    );
    engine.container_unpause("other").await.unwrap();
    assert_eq!(
        engine
            .container_unpause("other")
            .await
            .unwrap_err()
            .to_string(),
        format!("Container {other} is not paused")
    );
    engine
        .container_update(
            "other",
            berth_api_types::container::UpdateConfig {
                // As with dockerd, a memory limit on a container that had
                // none needs the swap limit in the same update.
                resources: berth_api_types::container::Resources {
                    memory: 64 << 20,
                    memory_swap: 128 << 20,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let memory = testkit::cgroups::dir_for(pid, "memory").unwrap();
    let limit = std::fs::read_to_string(memory.join("memory.limit_in_bytes"))
        .or_else(|_| std::fs::read_to_string(memory.join("memory.max")))
        .unwrap();
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
    assert_eq!(
        engine
            .container_inspect("other", false)
            .unwrap()
            .host_config
            .resources
            .memory,
        64 << 20
    );

    // Filters.
    let by_status = engine
        .container_list(&ListOptions {
            filters: berth_api_types::filters::Filters::parse(r#"{"status":["exited"]}"#).unwrap(),
            ..ListOptions::default()
        })
        .unwrap();
    assert_eq!(by_status.len(), 1);
    assert_eq!(by_status[0].id, id);
    let by_name = engine
        .container_list(&ListOptions {
            all: true,
            filters: berth_api_types::filters::Filters::parse(r#"{"name":["oth"]}"#).unwrap(),
            ..ListOptions::default()
        })
        .unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].id, other);
    let err = engine
        .container_list(&ListOptions {
            filters: berth_api_types::filters::Filters::parse(r#"{"status":["sleeping"]}"#)
                .unwrap(),
            ..ListOptions::default()
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);

    // Prune takes the stopped container only.
    let pruned = engine
        .container_prune(&berth_api_types::filters::Filters::new())
        .await
        .unwrap();
    assert_eq!(
        pruned.containers_deleted.as_deref(),
        Some(&[id.clone()][..])
    );
    assert!(engine.container_inspect("other", false).is_ok());

    let mut actions = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if ev.actor.id == other {
            actions.push(ev.action.clone());
        }
    }
    assert_eq!(actions, ["create", "start", "pause", "unpause", "update"]);

    clean_up(&engine, root.path()).await;
}
