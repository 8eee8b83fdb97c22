//! linux.resources and linux.cgroupsPath, seen in the host's cgroup files
//! of the container's init and in the container's own /sys/fs/cgroup.

use std::path::PathBuf;

use serde_json::json;
use testkit::{Bundle, Container, cgroups};

use crate::runtime;

/// A running `sleep` container in a fresh relative cgroup path (a relative
/// path is placed under the runtime's own cgroup in each hierarchy, so the
/// tests stay inside whatever cgroup the test process was given).
fn limited(resources: serde_json::Value) -> (Bundle, String) {
    let path = testkit::unique_name("berth-cg");
    let bundle = Bundle::new()
        .args(&["sleep", "inf"])
        .cgroups_path(&path)
        .resources(resources);
    (bundle, path)
}

/// The host dir of the container's cgroup for `controller`; asserts the
/// runtime honoured the configured path.
#[track_caller]
fn host_dir(ctr: &Container<'_>, controller: &str, cg_path: &str) -> PathBuf {
    let dir = cgroups::dir_for(ctr.pid(), controller)
        .unwrap_or_else(|| panic!("{controller} controller is not mounted"));
    assert!(
        dir.ends_with(cg_path),
        "{controller} cgroup {} is not at {cg_path}",
        dir.display()
    );
    dir
}

/// The memory limit file of a v1 or v2 memory cgroup dir.
fn memory_limit_file(dir: &std::path::Path) -> &'static str {
    if dir.join("memory.limit_in_bytes").exists() {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    }
}

#[test]
fn memory_limit() {
    let Some(rt) = runtime() else { return };
    let limit: u64 = 48 << 20;
    let (bundle, path) = limited(json!({ "memory": { "limit": limit } }));
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let dir = host_dir(&ctr, "memory", &path);
    let file = memory_limit_file(&dir);
    assert_eq!(cgroups::read(&dir, file), limit.to_string());
    let inside = ctr
        .exec(&["cat", &format!("/sys/fs/cgroup/memory/{file}")])
        .ok()
        .stdout;
    assert_eq!(inside.trim(), limit.to_string());
}

#[test]
fn cpu_shares_and_quota() {
    let Some(rt) = runtime() else { return };
    let (bundle, path) =
        limited(json!({ "cpu": { "shares": 512, "quota": 50000, "period": 100000 } }));
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let dir = host_dir(&ctr, "cpu", &path);
    if dir.join("cpu.shares").exists() {
        assert_eq!(cgroups::read(&dir, "cpu.shares"), "512");
        assert_eq!(cgroups::read(&dir, "cpu.cfs_quota_us"), "50000");
        assert_eq!(cgroups::read(&dir, "cpu.cfs_period_us"), "100000");
        let inside = ctr
            .exec(&[
                "cat",
                "/sys/fs/cgroup/cpu/cpu.shares",
                "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
            ])
            .ok()
            .stdout;
        assert_eq!(crate::lines(&inside), ["512", "50000"]);
    } else {
        // cgroup v2: quota and period in cpu.max, shares converted to weight.
        assert_eq!(cgroups::read(&dir, "cpu.max"), "50000 100000");
    }
}

#[test]
fn pids_limit() {
    let Some(rt) = runtime() else { return };
    let (bundle, path) = limited(json!({ "pids": { "limit": 42 } }));
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let dir = host_dir(&ctr, "pids", &path);
    assert_eq!(cgroups::read(&dir, "pids.max"), "42");
    let inside = ctr
        .exec(&["cat", "/sys/fs/cgroup/pids/pids.max"])
        .ok()
        .stdout;
    assert_eq!(inside.trim(), "42");
}

#[test]
fn pids_limit_is_enforced() {
    let Some(rt) = runtime() else { return };
    let shared = testkit::SharedDir::new();
    let path = testkit::unique_name("berth-cg");
    // With pids.max 3, pid 1 plus two background sleeps fill the cgroup and
    // the third fork fails (busybox sh then exits 2 with "can't fork"). The
    // count of successful forks is recorded in the shared dir.
    let bundle = Bundle::new()
        .cgroups_path(&path)
        .resources(json!({ "pids": { "limit": 3 } }))
        .bind(shared.path(), "/shared", &[])
        .sh("i=0; while [ $i -lt 10 ]; do sleep inf & i=$((i+1)); echo $i > /shared/forks; done");
    let out = rt.container(&bundle).run();
    assert!(!out.success(), "{out}");
    assert_eq!(shared.read("forks").trim(), "2", "{out}");
}

#[test]
fn cgroups_path_is_honoured_in_every_hierarchy() {
    let Some(rt) = runtime() else { return };
    let path = format!(
        "berth-parent-{}/{}",
        std::process::id(),
        testkit::unique_name("child")
    );
    let bundle = Bundle::new().args(&["sleep", "inf"]).cgroups_path(&path);
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let pid = ctr.pid();
    let own = cgroups::membership(std::process::id() as i32);
    for (ctrls, cg) in cgroups::membership(pid) {
        let (_, parent) = own
            .iter()
            .find(|(c, _)| *c == ctrls)
            .expect("same hierarchies");
        let want = format!("{}/{path}", parent.trim_end_matches('/'));
        assert_eq!(cg, want, "hierarchy {ctrls:?}");
    }
    // delete removes the container's cgroup (the parent the runtime created
    // may stay, as with runc; remove it here to leave the host clean).
    ctr.delete_force().ok();
    let leftover = cgroups::dirs_named(path.rsplit('/').next().unwrap());
    for h in cgroups::hierarchies() {
        let parent_dir = own.iter().find(|(c, _)| *c == h.controllers).map(|(_, p)| {
            h.dir_of(p)
                .join(format!("berth-parent-{}", std::process::id()))
        });
        if let Some(d) = parent_dir {
            let _ = std::fs::remove_dir(d);
        }
    }
    assert!(
        leftover.is_empty(),
        "cgroups left after delete: {leftover:?}"
    );
}

#[test]
fn cgroup_is_removed_on_delete() {
    let Some(rt) = runtime() else { return };
    let (bundle, path) = limited(json!({ "pids": { "limit": 10 } }));
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    assert!(
        !cgroups::dirs_named(&path).is_empty(),
        "no cgroup named {path} while running"
    );
    ctr.kill("KILL").ok();
    ctr.wait_stopped();
    ctr.delete().ok();
    assert!(
        cgroups::dirs_named(&path).is_empty(),
        "{:?}",
        cgroups::dirs_named(&path)
    );
}

#[test]
fn cgroup_mount_shows_own_cgroup_read_only() {
    let Some(rt) = runtime() else { return };
    let (bundle, _) = limited(json!({ "pids": { "limit": 11 } }));
    let bundle = bundle.args(&[
        "sh",
        "-c",
        "cat /sys/fs/cgroup/pids/pids.max; { echo 5 > /sys/fs/cgroup/pids/pids.max; } 2>&1; true",
    ]);
    let out = rt.container(&bundle).run().ok();
    let l = crate::lines(&out.stdout);
    assert_eq!(l[0], "11");
    assert!(l[1].contains("Read-only file system"), "{out}");
}
