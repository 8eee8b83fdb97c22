//! Live restore end to end (as root, real shim and runtime): a daemon
//! crash leaves containers running; the next daemon finds them.

mod containers_support;

use std::time::{Duration, Instant};

use berth_api_types::container::RestartPolicy;
use berth_engine::containers::{ListOptions, LogOptions};
use containers_support::*;

/// kill -9 of the daemon, simulated: the first engine's runtime is shut
/// down without any shutdown of the engine (tasks dropped, connections
/// cut). A new engine on the same roots finds the running container (its
/// log complete) and the real exit code of the one that exited meanwhile.
#[test]
fn containers_live_restore_after_a_daemon_crash() {
    if !testkit::require_root() {
        return;
    }
    let root = short_tempdir();
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (logger, quitter, phoenix) = first.block_on(async {
        let engine = engine_on(root.path()).await;
        import_busybox(&engine).await;
        let logger = engine
            .container_create(
                Some("logger".into()),
                request(&[
                    "sh",
                    "-c",
                    "i=0; while [ $i -lt 100000 ]; do echo line$i; i=$((i+1)); sleep 0.02; done",
                ]),
            )
            .await
            .unwrap()
            .id;
        let quitter = engine
            .container_create(
                Some("quitter".into()),
                request(&["sh", "-c", "sleep 1; exit 7"]),
            )
            .await
            .unwrap()
            .id;
        // Exits with a failure while no daemon runs; its policy restarts
        // it once when the next daemon finds out.
        let mut phoenix = request(&["sh", "-c", "echo run; sleep 1; exit 3"]);
        phoenix.host_config.as_mut().unwrap().restart_policy = RestartPolicy {
            name: "on-failure".into(),
            maximum_retry_count: 1,
        };
        let phoenix = engine
            .container_create(Some("phoenix".into()), phoenix)
            .await
            .unwrap()
            .id;
        engine.container_start(&logger).await.unwrap();
        engine.container_start(&quitter).await.unwrap();
        engine.container_start(&phoenix).await.unwrap();
        // A follower is reading the log when the daemon dies.
        let mut rx = engine
            .container_logs(
                &logger,
                LogOptions {
                    follow: true,
                    stdout: true,
                    stderr: true,
                    ..LogOptions::default()
                },
            )
            .unwrap();
        assert_eq!(rx.recv().await.unwrap().bytes, b"line0\n");
        (logger, quitter, phoenix)
    });
    first.shutdown_background();
    // The quitter exits while no daemon runs.
    std::thread::sleep(Duration::from_millis(1500));

    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        let engine = engine_on(root.path()).await;
        let info = engine.container_inspect(&logger, false).unwrap();
        assert!(info.state.running, "{:?}", info.state);
        let running: Vec<String> = engine
            .container_list(&ListOptions::default())
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert!(
            running.contains(&logger) && !running.contains(&quitter),
            "{running:?}"
        );
        let deadline = Instant::now() + LIMIT;
        loop {
            let q = engine.container_inspect(&quitter, false).unwrap();
            if q.state.status == "exited" {
                assert_eq!(q.state.exit_code, 7);
                break;
            }
            assert!(Instant::now() < deadline, "{:?}", q.state);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let deadline = Instant::now() + LIMIT;
        loop {
            let p = engine.container_inspect(&phoenix, false).unwrap();
            if p.restart_count == 1 && p.state.status == "exited" {
                assert_eq!(p.state.exit_code, 3);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{:?} {}",
                p.state,
                p.restart_count
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(logs_text(&engine, &phoenix, None).await, "run\nrun\n");
        // The reattached container still logs, and stops normally.
        tokio::time::sleep(Duration::from_millis(300)).await;
        engine.container_stop(&logger, Some(0), None).await.unwrap();
        assert_eq!(
            engine
                .container_inspect(&logger, false)
                .unwrap()
                .state
                .exit_code,
            137
        );
        let text = logs_text(&engine, &logger, None).await;
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 50, "only {} lines", lines.len());
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(*l, format!("line{i}"), "log lost or doubled a line");
        }
        clean_up(&engine, root.path()).await;
    });
}
