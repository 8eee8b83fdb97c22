//! The other cgroup layouts berth-runc must handle, simulated on this
//! hybrid host by running the runtime in a private mount namespace:
//! - cgroup v2 only: /sys/fs/cgroup replaced by a cgroup2 mount (the same
//!   unified hierarchy the host has at /sys/fs/cgroup/unified). The v1
//!   controllers stay bound to their v1 hierarchies, so no limit can be set
//!   there; the lifecycle, freezing (cgroup.freeze needs no controller), the
//!   process list and the cleanup can, and those are checked.
//! - cgroup v1 only: the unified mount removed; limits, freezing and cleanup
//!   through the v1 controllers, and nothing made in the unified hierarchy.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use testkit::{Bundle, Runtime, cgroups};

/// A runtime wrapper that runs the runtime under test (berth-runc, or
/// `$BERTH_TEST_RUNTIME`) with a cgroup2-only /sys/fs/cgroup.
fn v2_only_runtime(dir: &Path) -> Option<Runtime> {
    if !testkit::require_root() {
        return None;
    }
    let inner = Runtime::new(env!("CARGO_BIN_EXE_berth-runc"));
    let unified = Path::new("/sys/fs/cgroup/unified");
    if !unified.join("cgroup.procs").exists() && !Path::new("/sys/fs/cgroup/cgroup.procs").exists()
    {
        eprintln!("skipping: no cgroup2 hierarchy on this host");
        return None;
    }
    let wrapper: PathBuf = dir.join("runtime-v2-only");
    // unshare(1) makes the new mount namespace's mounts private, so the
    // umount/mount below stay inside it.
    let script = format!(
        "#!/bin/sh\nexec unshare --mount sh -c 'umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec \"$0\" \"$@\"' {} \"$@\"\n",
        inner.bin().display()
    );
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(Runtime::exact(&wrapper))
}

#[test]
fn lifecycle_pause_and_cleanup_on_a_cgroup2_only_host() {
    let dir = tempfile::tempdir().unwrap();
    let Some(rt) = v2_only_runtime(dir.path()) else {
        return;
    };
    let bundle = Bundle::new().sh("cat /proc/self/cgroup; echo end; sleep inf");
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    // /proc/self/cgroup lists every hierarchy the kernel has, mounted or
    // not; the runtime must have made a cgroup in the unified one only
    // (a cgroup namespace shows it as "/"), and none in the v1 ones.
    let out = ctr.wait_stdout("end");
    let pid = ctr.pid();
    assert!(out.lines().any(|l| l.starts_with("0::/")), "{out:?}");
    for (ctrls, path) in cgroups::membership(pid) {
        if !ctrls.is_empty() {
            assert!(!path.contains(ctr.id()), "v1 cgroup {ctrls:?} {path}");
        }
    }
    // On the host, the container's unified cgroup is named after its id.
    let unified = cgroups::membership(pid)
        .into_iter()
        .find(|(ctrls, _)| ctrls.is_empty())
        .map(|(_, p)| p)
        .expect("a unified cgroup");
    assert!(unified.ends_with(ctr.id()), "{unified}");
    let procs = ctr.ps_json();
    assert!(
        procs.as_array().unwrap().iter().any(|p| p == pid),
        "{procs}"
    );
    ctr.pause().ok();
    assert_eq!(ctr.status(), "paused");
    let freeze = PathBuf::from("/sys/fs/cgroup/unified")
        .join(unified.trim_start_matches('/'))
        .join("cgroup.freeze");
    if freeze.exists() {
        assert_eq!(std::fs::read_to_string(&freeze).unwrap().trim(), "1");
    }
    ctr.resume().ok();
    assert_eq!(ctr.status(), "running");
    ctr.kill("KILL").ok();
    ctr.wait_stopped();
    ctr.delete().ok();
    assert!(
        cgroups::dirs_named(ctr.id()).is_empty(),
        "{:?}",
        cgroups::dirs_named(ctr.id())
    );
}

/// A runtime wrapper that runs the runtime under test on a cgroup-v1-only
/// view: the unified hierarchy (this host's /sys/fs/cgroup/unified) is
/// unmounted in a private mount namespace.
fn v1_only_runtime(dir: &Path) -> Option<Runtime> {
    if !testkit::require_root() {
        return None;
    }
    if !Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists()
        || !Path::new("/sys/fs/cgroup/memory").is_dir()
    {
        eprintln!("skipping: not a hybrid cgroup host");
        return None;
    }
    let inner = Runtime::new(env!("CARGO_BIN_EXE_berth-runc"));
    let wrapper: PathBuf = dir.join("runtime-v1-only");
    let script = format!(
        "#!/bin/sh\nexec unshare --mount sh -c 'umount -l /sys/fs/cgroup/unified && exec \"$0\" \"$@\"' {} \"$@\"\n",
        inner.bin().display()
    );
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(Runtime::exact(&wrapper))
}

#[test]
fn limits_and_cleanup_on_a_cgroup1_only_host() {
    let dir = tempfile::tempdir().unwrap();
    let Some(rt) = v1_only_runtime(dir.path()) else {
        return;
    };
    let bundle = Bundle::new()
        .args(&["sleep", "inf"])
        .resources(serde_json::json!({"memory": {"limit": 67108864}, "pids": {"limit": 32}}));
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let pid = ctr.pid();
    let mut named = 0;
    for (ctrls, path) in cgroups::membership(pid) {
        if ctrls.is_empty() {
            // No unified hierarchy was visible: none made there.
            assert!(!path.contains(ctr.id()), "unified cgroup {path}");
        } else if path.contains(ctr.id()) {
            named += 1;
        }
    }
    assert!(named >= 5, "v1 cgroups named after the container: {named}");
    let mem = cgroups::dir_for(pid, "memory").expect("memory cgroup");
    assert_eq!(cgroups::read(&mem, "memory.limit_in_bytes"), "67108864");
    let pids = cgroups::dir_for(pid, "pids").expect("pids cgroup");
    assert_eq!(cgroups::read(&pids, "pids.max"), "32");
    ctr.pause().ok();
    assert_eq!(ctr.status(), "paused");
    ctr.resume().ok();
    ctr.delete_force().ok();
    assert!(
        cgroups::dirs_named(ctr.id()).is_empty(),
        "{:?}",
        cgroups::dirs_named(ctr.id())
    );
}
