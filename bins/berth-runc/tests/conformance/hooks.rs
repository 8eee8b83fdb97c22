//! OCI hooks: each gets the container state JSON on stdin and runs in the
//! runtime's namespaces at its point of the lifecycle.

use std::path::Path;

use serde_json::Value;
use testkit::{Bundle, SharedDir, cgroups};

use crate::runtime;

/// A hook command (run by the host's /bin/sh) that saves its stdin to
/// `<dir>/<name>.json` and appends `name` to `<dir>/order`.
fn recorder(dir: &Path, name: &str) -> String {
    let d = dir.display();
    format!("cat > {d}/{name}.json; echo {name} >> {d}/order")
}

#[test]
fn hooks_run_in_order_with_state_on_stdin() {
    let Some(rt) = runtime() else { return };
    let rec = SharedDir::new();
    let shared = SharedDir::new();
    let mut gate = shared.gate("gate");
    let mut bundle = Bundle::new()
        .bind(shared.path(), "/shared", &[])
        .sh("read _ < /shared/gate");
    for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
        bundle = bundle.hook(kind, "/bin/sh", &["sh", "-c", &recorder(rec.path(), kind)]);
    }
    let ctr = rt.container(&bundle);
    ctr.create().ok();
    let pid = ctr.pid();
    // The runtime spec runs poststart hooks after the user process starts
    // (berth-runc, runc 1.2); runc 1.1 runs them already during `create`.
    // Either way prestart and createRuntime come first, in that order, and
    // poststart has run exactly once by the time `start` returns.
    let after_create = rec.read("order");
    let poststart_in_create = after_create == "prestart\ncreateRuntime\npoststart\n";
    assert!(
        poststart_in_create || after_create == "prestart\ncreateRuntime\n",
        "{after_create:?}"
    );
    ctr.start().ok();
    assert_eq!(rec.read("order"), "prestart\ncreateRuntime\npoststart\n");
    gate.open();
    ctr.wait_stopped();
    ctr.delete().ok();
    assert_eq!(
        rec.read("order"),
        "prestart\ncreateRuntime\npoststart\npoststop\n"
    );

    let bundle_path = bundle.path().to_str().unwrap();
    for (kind, status) in [
        // runc 1.1 reports "creating" to the hooks that run during create.
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        // Run during create by runc 1.1 (see above), else after start.
        (
            "poststart",
            if poststart_in_create {
                "created"
            } else {
                "running"
            },
        ),
        ("poststop", "stopped"),
    ] {
        let text = rec.read(&format!("{kind}.json"));
        let state: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{kind} got non-JSON {text:?}: {e}"));
        assert_eq!(state["id"], ctr.id(), "{kind}: {state}");
        assert_eq!(state["status"], status, "{kind}: {state}");
        assert_eq!(state["bundle"], bundle_path, "{kind}: {state}");
        assert!(state["ociVersion"].is_string(), "{kind}: {state}");
        if kind != "poststop" {
            assert_eq!(state["pid"], pid, "{kind}: {state}");
        }
    }
}

#[test]
fn hooks_get_args_and_env() {
    let Some(rt) = runtime() else { return };
    let rec = SharedDir::new();
    let script = format!("echo \"$0 $1 $HOOK_VAR\" > {}/out", rec.path().display());
    let bundle = Bundle::new().args(&["true"]).edit(|c| {
        c["hooks"] = serde_json::json!({
            "prestart": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", script, "arg0", "arg1"],
                "env": ["HOOK_VAR=from-env"]
            }]
        });
    });
    rt.container(&bundle).run().ok();
    assert_eq!(rec.read("out"), "arg0 arg1 from-env\n");
}

#[test]
fn prestart_hook_runs_in_container_network_namespace_setup() {
    let Some(rt) = runtime() else { return };
    // Prestart hooks run after the namespaces exist, so /proc/<pid>/ns/net
    // of the state's pid is the container's, not the host's.
    let rec = SharedDir::new();
    let d = rec.path().display();
    let script = format!(
        "pid=$(sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p'); readlink /proc/$pid/ns/net > {d}/ctr; readlink /proc/self/ns/net > {d}/hook"
    );
    let bundle = Bundle::new()
        .args(&["true"])
        .hook("prestart", "/bin/sh", &["sh", "-c", &script]);
    rt.container(&bundle).run().ok();
    let ctr_ns = rec.read("ctr");
    let hook_ns = rec.read("hook");
    assert!(ctr_ns.starts_with("net:["), "{ctr_ns:?}");
    assert_ne!(
        ctr_ns, hook_ns,
        "hook and container share a network namespace"
    );
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(
        hook_ns.trim(),
        own.to_str().unwrap(),
        "the hook runs in the runtime's netns"
    );
}

#[test]
fn failing_prestart_hook_fails_create_and_leaves_nothing() {
    let Some(rt) = runtime() else { return };
    let rec = SharedDir::new();
    let bundle = Bundle::new()
        .args(&["sleep", "inf"])
        .hook(
            "prestart",
            "/bin/sh",
            &["sh", "-c", "echo hook-was-here >&2; exit 3"],
        )
        .hook(
            "poststart",
            "/bin/sh",
            &["sh", "-c", &recorder(rec.path(), "poststart")],
        );
    let ctr = rt.container(&bundle);
    let out = ctr.create().fails();
    // runc: "error running hook #0: exit status 3, stdout: , stderr: ...".
    assert!(out.stderr.contains("hook"), "{out}");
    assert!(out.stderr.contains("exit status 3"), "{out}");
    assert!(ctr.state().fails().stderr.contains("does not exist"));
    assert!(rt.state_entries().is_empty(), "{:?}", rt.state_entries());
    assert!(
        cgroups::dirs_named(ctr.id()).is_empty(),
        "{:?}",
        cgroups::dirs_named(ctr.id())
    );
    assert!(
        !rec.file("order").exists(),
        "poststart ran after a failed prestart"
    );
    if let Ok(text) = std::fs::read_to_string(ctr.pid_file()) {
        let pid: i32 = text.trim().parse().unwrap();
        assert!(
            !testkit::runtime::pid_alive(pid),
            "init {pid} survived the failed create"
        );
    }
}

#[test]
fn failing_poststart_hook_fails_and_removes_the_container() {
    let Some(rt) = runtime() else { return };
    let bundle =
        Bundle::new()
            .args(&["sleep", "inf"])
            .hook("poststart", "/bin/sh", &["sh", "-c", "exit 4"]);
    let ctr = rt.container(&bundle);
    // runc 1.1 runs poststart hooks inside `create`, so that is what fails;
    // the runtime spec (and berth-runc) run them after `start`, which fails
    // then. Either way the error names the hook, and the user process does
    // not keep running.
    let create = ctr.create();
    let out = if create.success() {
        let pid = ctr.pid();
        let out = ctr.start().fails();
        ctr.wait_stopped();
        assert!(!testkit::runtime::pid_alive(pid), "init {pid} survived");
        ctr.delete().ok();
        out
    } else {
        create
    };
    assert!(out.stderr.contains("hook"), "{out}");
    assert!(out.stderr.contains("exit status 4"), "{out}");
    ctr.state().fails();
    assert!(rt.state_entries().is_empty(), "{:?}", rt.state_entries());
    assert!(
        cgroups::dirs_named(ctr.id()).is_empty(),
        "{:?}",
        cgroups::dirs_named(ctr.id())
    );
}

#[test]
fn failing_poststop_hook_does_not_fail_delete() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .args(&["true"])
        .hook("poststop", "/bin/sh", &["sh", "-c", "exit 5"]);
    let ctr = rt.container(&bundle);
    ctr.create().ok();
    ctr.start().ok();
    ctr.wait_stopped();
    // runtime-spec: a poststop hook failure is logged, the delete goes on.
    ctr.delete().ok();
    ctr.state().fails();
}
