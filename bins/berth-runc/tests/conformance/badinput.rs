//! Bad input: every failure exits non-zero, says what was wrong on stderr,
//! and leaves no state entry, cgroup or process behind.
//!
//! runc's messages are the reference; the assertions look for the word that
//! names the offending thing, not for runc's exact sentence.

use std::fs;

use serde_json::json;
use testkit::{Bundle, CmdOutput};

use crate::{assert_nothing_left, runtime};

/// Creates `bundle` under a fresh id, expects failure, checks that nothing
/// is left, and returns the output.
#[track_caller]
fn create_fails(rt: &testkit::Runtime, bundle: &Bundle) -> CmdOutput {
    let ctr = rt.container(bundle);
    let out = ctr.create().fails();
    assert!(!out.stderr.trim().is_empty(), "no error message:\n{out}");
    assert_nothing_left(rt, ctr.id(), bundle);
    out
}

#[test]
fn missing_config_json() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new();
    fs::remove_file(bundle.config_path()).unwrap();
    let out = create_fails(&rt, &bundle);
    assert!(out.stderr.contains("config.json"), "{out}");
}

#[test]
fn truncated_config_json() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new();
    fs::write(bundle.config_path(), "{\"ociVersion\": ").unwrap();
    let out = create_fails(&rt, &bundle);
    // runc says only "unexpected EOF" here.
    assert!(out.stderr.contains("EOF"), "{out}");
}

#[test]
fn config_json_with_wrong_type() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().edit(|c| c["ociVersion"] = json!(5));
    let out = create_fails(&rt, &bundle);
    assert!(out.stderr.contains("ociVersion"), "{out}");
}

#[test]
fn missing_rootfs() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new();
    fs::remove_dir_all(bundle.rootfs()).unwrap();
    let out = create_fails(&rt, &bundle);
    assert!(out.stderr.contains("rootfs"), "{out}");
}

#[test]
fn unknown_namespace_type() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().namespace("bogusns", None);
    let out = create_fails(&rt, &bundle);
    assert!(out.stderr.contains("bogusns"), "{out}");
}

#[test]
fn empty_args() {
    let Some(rt) = runtime() else { return };
    let out = create_fails(&rt, &Bundle::new().args(&[]));
    assert!(out.stderr.contains("args"), "{out}");
}

#[test]
fn relative_cwd() {
    let Some(rt) = runtime() else { return };
    let out = create_fails(&rt, &Bundle::new().cwd("rel/dir"));
    // runc: "Cwd must be an absolute path".
    assert!(out.stderr.to_lowercase().contains("cwd"), "{out}");
}

#[test]
fn missing_executable_fails_create() {
    let Some(rt) = runtime() else { return };
    // runc resolves the executable during create, before `start`.
    let out = create_fails(&rt, &Bundle::new().args(&["no-such-binary"]));
    assert!(out.stderr.contains("no-such-binary"), "{out}");
}

#[test]
fn executable_path_that_is_not_runnable_fails_create() {
    let Some(rt) = runtime() else { return };
    // Engines map these words to exit codes (docker: 126 and 127).
    let dir = create_fails(&rt, &Bundle::new().args(&["/etc"]));
    assert!(dir.stderr.contains("/etc"), "{dir}");
    assert!(dir.stderr.contains("permission denied"), "{dir}");
    let missing = create_fails(&rt, &Bundle::new().args(&["/no/such/program"]));
    assert!(
        missing.stderr.contains("no such file or directory"),
        "{missing}"
    );
}

#[test]
fn missing_hook_binary() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .args(&["true"])
        .hook("prestart", "/no/such/hook", &["hook"]);
    let out = create_fails(&rt, &bundle);
    assert!(out.stderr.contains("hook"), "{out}");
}

#[test]
fn missing_bind_mount_source() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().bind(std::path::Path::new("/no/such/source-dir"), "/data", &[]);
    let out = create_fails(&rt, &bundle);
    assert!(out.stderr.contains("/no/such/source-dir"), "{out}");
}

#[test]
fn id_already_in_use() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().args(&["sleep", "inf"]);
    let first = rt.container(&bundle);
    first.create().ok();
    let pid = first.pid();
    let other = Bundle::new().args(&["sleep", "inf"]);
    let mut second = rt.container_with_id(&other, first.id());
    second.disarm(); // same id as `first`, which cleans up
    let out = second.create().fails();
    // runc: "container with given ID already exists".
    assert!(out.stderr.contains("already exists"), "{out}");
    assert!(testkit::runtime::processes_rooted_in(&other.rootfs()).is_empty());
    // The first container is untouched.
    assert_eq!(first.status(), "created");
    assert_eq!(first.pid(), pid);
}

#[test]
fn invalid_ids() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().args(&["true"]);
    let outside = rt.root().parent().unwrap().join("x");
    for id in ["../x", "a/b", "..", "has space", "semi;colon"] {
        let mut ctr = rt.container_with_id(&bundle, id);
        ctr.disarm(); // nothing to delete, and the id must not reach a delete
        let out = ctr.create().fails();
        // runc: "invalid container ID format".
        let msg = out.stderr.to_lowercase();
        assert!(
            msg.contains("invalid") && msg.contains("id"),
            "{id:?}:\n{out}"
        );
        assert!(
            rt.state_entries().is_empty(),
            "{id:?}: {:?}",
            rt.state_entries()
        );
        assert!(!outside.exists(), "{id:?} created {}", outside.display());
        assert!(testkit::runtime::processes_rooted_in(&bundle.rootfs()).is_empty());
    }
}

#[test]
fn verbs_on_a_nonexistent_container() {
    let Some(rt) = runtime() else { return };
    let id = testkit::unique_name("absent");
    for args in [
        vec!["start", id.as_str()],
        vec!["state", id.as_str()],
        vec!["kill", id.as_str(), "KILL"],
        vec!["delete", id.as_str()],
        vec!["pause", id.as_str()],
        vec!["resume", id.as_str()],
        vec!["ps", id.as_str()],
        vec!["exec", id.as_str(), "true"],
    ] {
        let out = rt.cmd(&args).fails();
        // runc: "container does not exist" (without the id).
        assert!(out.stderr.contains("does not exist"), "{args:?}:\n{out}");
    }
    // `delete --force` of an id that does not exist succeeds (runc).
    rt.cmd(["delete", "--force", id.as_str()]).ok();
}

#[test]
fn start_twice_and_start_after_exit() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().args(&["sleep", "inf"]);
    let ctr = rt.container(&bundle);
    ctr.create().ok();
    ctr.start().ok();
    let out = ctr.start().fails();
    // runc: "cannot start an already running container".
    assert!(out.stderr.contains("running"), "{out}");
    ctr.kill("KILL").ok();
    ctr.wait_stopped();
    let out = ctr.start().fails();
    // runc: "cannot start a container that has stopped".
    assert!(out.stderr.contains("stopped"), "{out}");
}

#[test]
fn stale_state_dir_entry() {
    let Some(rt) = runtime() else { return };
    // A state dir entry without a state file, as an aborted create leaves
    // it: the id counts as taken for create, as absent for state, and
    // `delete --force` clears it.
    let id = testkit::unique_name("stale");
    fs::create_dir(rt.root().join(&id)).unwrap();
    let out = rt.cmd(["state", id.as_str()]).fails();
    assert!(out.stderr.contains("does not exist"), "{out}");
    rt.cmd(["delete", "--force", id.as_str()]).ok();
    assert!(
        !rt.root().join(&id).exists(),
        "delete --force kept the stale entry"
    );
    let bundle = Bundle::new().args(&["true"]);
    let ctr = rt.container_with_id(&bundle, &id);
    ctr.create().ok();
    assert_eq!(ctr.status(), "created");
}

#[test]
fn init_killed_behind_the_runtimes_back() {
    let Some(rt) = runtime() else { return };
    // The container's init dies without the runtime being told: state must
    // say "stopped", and delete must clean up normally.
    let bundle = Bundle::new().args(&["sleep", "inf"]);
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let pid = ctr.pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    ctr.wait_stopped();
    ctr.delete().ok();
    assert_nothing_left(&rt, ctr.id(), &bundle);
}
