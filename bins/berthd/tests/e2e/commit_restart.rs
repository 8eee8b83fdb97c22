//! `docker commit`, the container lifecycle with runc as the runtime, and
//! restart policies (through the CLI and across daemon restarts).

use std::time::Duration;

use crate::harness::{Berthd, eventually, started};

fn inspect(d: &Berthd, format: &str, name: &str) -> String {
    d.docker(["inspect", "-f", format, name])
        .ok()
        .trim()
        .to_string()
}

#[test]
fn commit_makes_an_image_of_the_rw_layer_with_the_changes() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let base = inspect(&d, "{{.Id}}", "busybox");
    // A running container: the commit pauses it and thaws it again.
    d.docker([
        "run",
        "-d",
        "--name",
        "src",
        "-e",
        "KEEP=1",
        "busybox",
        "sh",
        "-c",
        "echo committed > /data.txt; sleep 60",
    ])
    .ok();
    eventually("the file to be written", || {
        d.docker(["exec", "src", "cat", "/data.txt"])
            .out
            .status
            .success()
    });
    let id = d
        .docker([
            "commit",
            "-c",
            r#"CMD ["sh", "-c", "cat /data.txt; echo $KEEP $ADDED"]"#,
            "-c",
            "ENV ADDED=yes",
            "-m",
            "my message",
            "-a",
            "Jane <jane@example.com>",
            "src",
            "snap:v1",
        ])
        .ok();
    let id = id.trim();
    assert!(id.starts_with("sha256:"), "commit printed {id:?}");
    assert_eq!(inspect(&d, "{{.State.Status}}", "src"), "running");
    let out = d.docker(["run", "--rm", "snap:v1"]).ok();
    assert_eq!(out, "committed\n1 yes\n");

    assert_eq!(inspect(&d, "{{.Id}}", "snap:v1"), id);
    assert_eq!(inspect(&d, "{{.Parent}}", "snap:v1"), base);
    assert_eq!(
        inspect(&d, "{{.Author}}", "snap:v1"),
        "Jane <jane@example.com>"
    );
    assert_eq!(inspect(&d, "{{.Comment}}", "snap:v1"), "my message");
    let layers = |n: &str| inspect(&d, "{{len .RootFS.Layers}}", n);
    let base_layers: usize = layers("busybox").parse().unwrap();
    assert_eq!(layers("snap:v1"), (base_layers + 1).to_string());
    let history = d
        .docker([
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}|{{.Comment}}",
            "snap:v1",
        ])
        .ok();
    let top = history.lines().next().unwrap_or_default();
    assert_eq!(
        top, "sh -c echo committed > /data.txt; sleep 60|my message",
        "history:\n{history}"
    );
    assert_eq!(history.lines().count(), base_layers + 1, "{history}");

    // A stopped container commits too, untagged, without a pause.
    d.docker(["rm", "-f", "src"]).ok();
    d.docker(["run", "--name", "gone", "busybox", "rm", "/bin/true"])
        .ok();
    let id2 = d.docker(["commit", "-p=false", "gone"]).ok();
    let out = d
        .docker([
            "run",
            "--rm",
            id2.trim(),
            "sh",
            "-c",
            "ls /bin/true || echo removed",
        ])
        .ok();
    assert!(out.ends_with("removed\n"), "{out}");

    let err = d
        .docker(["commit", "-c", "RUN true", "gone", "x:y"])
        .fails();
    assert!(err.contains("RUN is not a valid change command"), "{err}");
    let err = d.docker(["commit", "nope"]).fails();
    assert!(err.contains("No such container: nope"), "{err}");
}

/// The entry names of the top layer of `image`, as `docker save` writes it.
fn top_layer_names(d: &Berthd, image: &str) -> Vec<String> {
    let file = d
        .root
        .join(format!("{}.tar", image.replace([':', '/'], "_")));
    d.docker(["save", "-o", file.to_str().unwrap(), image]).ok();
    let mut files = std::collections::BTreeMap::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&file).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        files.insert(p, data);
    }
    let mj: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let top = mj[0]["Layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let mut ar = tar::Archive::new(&files[&top][..]);
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            p.trim_start_matches("./").trim_end_matches('/').to_string()
        })
        .collect()
}

#[test]
fn commit_leaves_out_runtime_mount_points_and_parents_stay() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let base = inspect(&d, "{{.Id}}", "busybox");
    // The default network gives /etc/hosts, /etc/hostname and
    // /etc/resolv.conf; /proc, /sys and /dev are mounted; /newvol is an
    // anonymous volume. None of these is in the image.
    d.docker([
        "run",
        "--name",
        "mp",
        "-v",
        "/newvol",
        "busybox",
        "sh",
        "-c",
        "echo x > /data.txt",
    ])
    .ok();
    d.docker(["commit", "mp", "mp:v1"]).ok();
    let names = top_layer_names(&d, "mp:v1");
    // What docker's commit has: the change and the volume's mount point
    // (dockerd 20.10 keeps that one), nothing of its init layer.
    assert_eq!(names, ["data.txt", "newvol"], "the committed layer");
    // A container of the new image starts from it without changes.
    d.docker(["run", "--name", "mp2", "mp:v1", "true"]).ok();
    assert_eq!(d.docker(["diff", "mp2"]).ok(), "");
    // A container that changed nothing commits no layer at all.
    d.docker(["run", "--name", "same", "busybox", "true"]).ok();
    d.docker(["commit", "same", "same:v1"]).ok();
    let layers = |n: &str| inspect(&d, "{{len .RootFS.Layers}}", n);
    assert_eq!(layers("same:v1"), layers("busybox"));

    // The parent of committed images is not deleted, forced or not
    // (dockerd's words and status); its tag can go.
    let short = &base[7..19];
    for args in [vec!["rmi", short], vec!["rmi", "-f", short]] {
        let err = d.docker(args).fails();
        assert!(
            err.contains(&format!(
                "conflict: unable to delete {short} (cannot be forced) - image has dependent child images"
            )),
            "{err}"
        );
    }
    let r = d.request("DELETE", &format!("/images/{short}"), &[], None);
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    d.docker(["rm", "mp", "mp2", "same"]).ok();
    assert_eq!(
        d.docker(["rmi", "busybox"]).ok(),
        "Untagged: busybox:latest\n"
    );
    assert_eq!(
        inspect(&d, "{{.Id}}", &base),
        base,
        "the untagged parent stays"
    );
    // Once its children are gone, it goes.
    d.docker(["rmi", "mp:v1", "same:v1"]).ok();
    let out = d.docker(["rmi", short]).ok();
    assert!(out.contains(&format!("Deleted: {base}")), "{out}");
}

#[test]
fn runc_runs_the_container_lifecycle() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let rt = ["--runtime", "runc"];
    let run = |args: &[&str]| {
        let mut v = vec!["run"];
        v.extend_from_slice(&rt);
        v.extend_from_slice(args);
        d.docker(v)
    };
    assert_eq!(run(&["--rm", "busybox", "echo", "hi"]).ok(), "hi\n");
    let r = run(&["--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(r.code(), Some(3), "{}", r.stderr());
    let r = run(&["--rm", "busybox", "no-such-command"]);
    assert_eq!(r.code(), Some(127), "{}", r.stderr());

    run(&[
        "-d",
        "--name",
        "life",
        "busybox",
        "sh",
        "-c",
        "echo started; trap 'exit 0' TERM; while :; do sleep 0.1; done",
    ])
    .ok();
    assert_eq!(inspect(&d, "{{.HostConfig.Runtime}}", "life"), "runc");
    eventually("the log line", || {
        d.docker(["logs", "life"]).ok() == "started\n"
    });
    let out = d.docker(["exec", "life", "sh", "-c", "echo $((6*7))"]).ok();
    assert_eq!(out, "42\n");
    d.docker(["stop", "-t", "5", "life"]).ok();
    assert_eq!(
        inspect(&d, "{{.State.Status}} {{.State.ExitCode}}", "life"),
        "exited 0"
    );
    d.docker(["rm", "life"]).ok();
    assert!(d.docker(["ps", "-aq"]).ok().trim().is_empty());
}

#[test]
fn on_failure_restarts_up_to_the_maximum() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker([
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 5",
    ])
    .ok();
    eventually("the retries to end", || {
        inspect(&d, "{{.State.Status}} {{.RestartCount}}", "flaky") == "exited 2"
    });
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "flaky"), "5");
    // Three runs in all: the first and two restarts.
    assert_eq!(d.docker(["logs", "flaky"]).ok(), "run\nrun\nrun\n");
    // A success is not a failure: no restart.
    d.docker([
        "run",
        "-d",
        "--name",
        "fine",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ])
    .ok();
    eventually("the exit", || {
        inspect(&d, "{{.State.Status}}", "fine") == "exited"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inspect(&d, "{{.RestartCount}}", "fine"), "0");
}

/// The container's init pid, as the host sees it.
fn init_pid(d: &Berthd, name: &str) -> i32 {
    inspect(d, "{{.State.Pid}}", name).parse().expect("pid")
}

fn kill_host(pid: i32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL)
        .expect("kill container init");
}

#[test]
fn always_restarts_an_exit_but_not_a_docker_kill_or_stop() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker([
        "run",
        "-d",
        "--name",
        "phoenix",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let first = init_pid(&d, "phoenix");
    // The process dies without the API: the policy starts it again.
    kill_host(first);
    eventually("the restart", || {
        inspect(&d, "{{.State.Status}} {{.RestartCount}}", "phoenix") == "running 1"
    });
    assert_ne!(init_pid(&d, "phoenix"), first);
    // dockerd: a kill through the API cancels the restart manager, for
    // every policy, until the next explicit start.
    d.docker(["kill", "phoenix"]).ok();
    eventually("the kill", || {
        inspect(&d, "{{.State.Status}}", "phoenix") == "exited"
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        inspect(&d, "{{.State.Status}} {{.RestartCount}}", "phoenix"),
        "exited 1"
    );
    // An explicit start re-arms the policy.
    d.docker(["start", "phoenix"]).ok();
    kill_host(init_pid(&d, "phoenix"));
    eventually("the restart after start", || {
        inspect(&d, "{{.State.Status}}", "phoenix") == "running"
            && inspect(&d, "{{.RestartCount}}", "phoenix") != "0"
    });
    d.docker(["stop", "-t", "1", "phoenix"]).ok();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(inspect(&d, "{{.State.Status}}", "phoenix"), "exited");
}

#[test]
fn always_containers_run_again_after_a_daemon_restart() {
    if !testkit::require_root() {
        return;
    }
    let mut d = started();
    for name in ["a1", "a2"] {
        d.docker([
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            "always",
            "busybox",
            "sleep",
            "60",
        ])
        .ok();
    }
    d.docker(["run", "-d", "--name", "plain", "busybox", "sleep", "60"])
        .ok();
    // A crash: a1 keeps running; a2 dies while no daemon watches.
    let a2 = init_pid(&d, "a2");
    d.kill9();
    kill_host(a2);
    std::thread::sleep(Duration::from_millis(300));
    d.restart();
    eventually("both always containers running", || {
        inspect(&d, "{{.State.Status}}", "a1") == "running"
            && inspect(&d, "{{.State.Status}}", "a2") == "running"
    });
    assert_ne!(init_pid(&d, "a2"), a2);
    // A clean shutdown stops them all (no live restore); the next daemon
    // starts the `always` ones, not the others.
    d.signal(nix::sys::signal::SIGTERM);
    assert!(d.wait_exit().success(), "log:\n{}", d.log_text());
    d.restart();
    eventually("always containers running after a clean restart", || {
        inspect(&d, "{{.State.Status}}", "a1") == "running"
            && inspect(&d, "{{.State.Status}}", "a2") == "running"
    });
    assert_eq!(inspect(&d, "{{.State.Status}}", "plain"), "exited");
    d.docker(["rm", "-f", "a1", "a2", "plain"]).ok();
}
