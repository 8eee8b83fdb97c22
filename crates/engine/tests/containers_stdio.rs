//! Container stdio end to end (as root, real shim and runtime): attach
//! before start, stdin, ttys, exec (attached, detached, tty).

mod containers_support;

use std::time::{Duration, Instant};

use berth_engine::ErrorKind;
use berth_engine::containers::WaitCondition;
use containers_support::*;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_attach_tty_and_exec() {
    if !testkit::require_root() {
        return;
    }
    let root = short_tempdir();
    let engine = engine_on(root.path()).await;
    import_busybox(&engine).await;

    // Attach before start (docker run -i): stdin reaches cat, output
    // comes back framed, stdin-once ends the container.
    let mut cat = request(&["cat"]);
    cat.config.open_stdin = true;
    cat.config.stdin_once = true;
    cat.config.attach_stdin = true;
    let id = engine.container_create(None, cat).await.unwrap().id;
    let mut att = engine
        .container_attach(&id, true, true, true, false, true)
        .await
        .unwrap();
    assert!(!att.tty);
    let wait = engine.container_wait(&id, WaitCondition::NextExit).unwrap();
    engine.container_start(&id).await.unwrap();
    att.stream.write_all(b"hello\n").await.unwrap();
    att.stream.shutdown().await.unwrap();
    let (out, err) = demux(&read_all(&mut att.stream).await);
    assert_eq!(out, "hello\n");
    assert_eq!(err, "");
    assert_eq!(
        tokio::time::timeout(LIMIT, wait).await.unwrap().status_code,
        0
    );

    // A tty container: raw output, the process sees a terminal.
    let mut tty = request(&["sh", "-c", "tty; echo done"]);
    tty.config.tty = true;
    let id = engine.container_create(None, tty).await.unwrap().id;
    let mut att = engine
        .container_attach(&id, false, true, true, false, true)
        .await
        .unwrap();
    assert!(att.tty);
    engine.container_start(&id).await.unwrap();
    let out = String::from_utf8(read_all(&mut att.stream).await).unwrap();
    assert!(
        out.contains("/dev/pts/0") && out.contains("done\r\n"),
        "{out:?}"
    );
    assert_eq!(wait_exit(&engine, &id, WaitCondition::NotRunning).await, 0);

    // -it: input through the pty, its exit code.
    let mut it = request(&["sh"]);
    it.config.tty = true;
    it.config.open_stdin = true;
    it.config.stdin_once = true;
    let id = engine.container_create(None, it).await.unwrap().id;
    let mut att = engine
        .container_attach(&id, true, true, true, false, true)
        .await
        .unwrap();
    engine.container_start(&id).await.unwrap();
    engine.container_resize(&id, 30, 100).await.unwrap();
    att.stream
        .write_all(b"stty size; echo $((6*7)); exit 4\n")
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&read_all(&mut att.stream).await).into_owned();
    assert!(out.contains("30 100") && out.contains("42"), "{out:?}");
    assert_eq!(wait_exit(&engine, &id, WaitCondition::NotRunning).await, 4);

    // Exec in a running container: attached, detached, tty.
    let id = engine
        .container_create(Some("box".into()), request(&["sleep", "1000"]))
        .await
        .unwrap()
        .id;
    let err = engine
        .exec_create(
            "box",
            berth_api_types::exec::CreateRequest {
                cmd: Some(vec!["true".into()]),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    engine.container_start("box").await.unwrap();
    let exec = engine
        .exec_create(
            "box",
            berth_api_types::exec::CreateRequest {
                cmd: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    "echo $X; echo e >&2; exit 5".into(),
                ]),
                env: Some(vec!["X=from-exec".into()]),
                attach_stdout: true,
                attach_stderr: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(engine.exec_inspect(&exec).unwrap().exit_code.is_none());
    let mut s = engine
        .exec_start(&exec, false, None)
        .await
        .unwrap()
        .unwrap();
    let (out, err) = demux(&read_all(&mut s.stream).await);
    assert_eq!((out.as_str(), err.as_str()), ("from-exec\n", "e\n"));
    let deadline = Instant::now() + LIMIT;
    loop {
        let i = engine.exec_inspect(&exec).unwrap();
        if i.exit_code.is_some() {
            assert_eq!(i.exit_code, Some(5));
            assert!(!i.running);
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = engine.exec_start(&exec, false, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let detached = engine
        .exec_create(
            "box",
            berth_api_types::exec::CreateRequest {
                cmd: Some(vec!["sh".into(), "-c".into(), "exit 6".into()]),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        engine
            .exec_start(&detached, true, None)
            .await
            .unwrap()
            .is_none()
    );
    let deadline = Instant::now() + LIMIT;
    while engine.exec_inspect(&detached).unwrap().exit_code != Some(6) {
        assert!(Instant::now() < deadline, "detached exec exit not recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tty_exec = engine
        .exec_create(
            "box",
            berth_api_types::exec::CreateRequest {
                cmd: Some(vec!["tty".into()]),
                tty: true,
                attach_stdout: true,
                ..Default::default()
            },
        )
        .unwrap();
    let mut s = engine
        .exec_start(&tty_exec, false, Some([24, 80]))
        .await
        .unwrap()
        .unwrap();
    assert!(s.tty);
    let out = String::from_utf8(read_all(&mut s.stream).await).unwrap();
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
    let info = engine.container_inspect(&id, false).unwrap();
    assert_eq!(info.exec_ids.map(|v| v.len()), Some(3));
    assert_eq!(
        engine.exec_inspect("nope").unwrap_err().to_string(),
        "No such exec instance: nope"
    );

    clean_up(&engine, root.path()).await;
}
