//! Mounts, masked and read-only paths, devices, sysctls, and mount targets
//! that try to leave the rootfs.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use serde_json::json;
use testkit::{Bundle, SharedDir};

use crate::{lines, run_ok, runtime};

/// The line of mountinfo text whose mount point is `target`, split in
/// (per-mount options, fstype, super options). The last match wins, as the
/// last mount on a path is the visible one.
fn mount_at(mountinfo: &str, target: &str) -> (String, String, String) {
    mountinfo
        .lines()
        .rev()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            (left.get(4) == Some(&target)).then(|| {
                (
                    left[5].to_owned(),
                    right[0].to_owned(),
                    right.get(2).unwrap_or(&"").to_string(),
                )
            })
        })
        .unwrap_or_else(|| panic!("nothing mounted at {target}:\n{mountinfo}"))
}

fn opts(list: &str) -> Vec<&str> {
    list.split(',').collect()
}

#[test]
fn proc_shows_only_container_pids() {
    let Some(rt) = runtime() else { return };
    // `; true` keeps sh as pid 1 instead of exec'ing ls.
    let out = run_ok(&rt, &Bundle::new().sh("ls /proc; true"));
    let mut pids: Vec<u32> = lines(&out).iter().filter_map(|e| e.parse().ok()).collect();
    pids.sort();
    assert_eq!(pids.len(), 2, "want sh (pid 1) and ls: {pids:?}");
    assert_eq!(pids[0], 1);
}

#[test]
fn tmpfs_with_size_and_mode() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .mount(json!({
            "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
            "options": ["size=1m", "mode=1733", "nosuid", "nodev", "noexec"]
        }))
        .sh("stat -c %a /scratch; cat /proc/self/mountinfo");
    let out = run_ok(&rt, &bundle);
    assert_eq!(lines(&out)[0], "1733");
    let (per_mount, fstype, sup) = mount_at(&out, "/scratch");
    assert_eq!(fstype, "tmpfs");
    assert!(opts(&sup).contains(&"size=1024k"), "{sup}");
    assert!(opts(&sup).contains(&"mode=1733"), "{sup}");
    for flag in ["nosuid", "nodev", "noexec"] {
        assert!(
            opts(&per_mount).contains(&flag),
            "{flag} missing from {per_mount}"
        );
    }
}

#[test]
fn noexec_nosuid_nodev_take_effect() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .mount(json!({
            "destination": "/ne", "type": "tmpfs", "source": "tmpfs",
            "options": ["noexec"]
        }))
        .sh(
            "cp /bin/busybox /ne/bb && /ne/bb true 2>/dev/null && echo ran || echo blocked; \
             cat /proc/self/mountinfo",
        );
    let out = run_ok(&rt, &bundle);
    assert_eq!(lines(&out)[0], "blocked", "{out}");
    let (per_mount, _, _) = mount_at(&out, "/ne");
    assert!(opts(&per_mount).contains(&"noexec"), "{per_mount}");
    // The default /dev/shm is nosuid,nodev,noexec.
    let (shm, fstype, _) = mount_at(&out, "/dev/shm");
    assert_eq!(fstype, "tmpfs");
    for flag in ["nosuid", "nodev", "noexec"] {
        assert!(opts(&shm).contains(&flag), "/dev/shm lacks {flag}: {shm}");
    }
}

#[test]
fn bind_mount_read_only() {
    let Some(rt) = runtime() else { return };
    let shared = SharedDir::new();
    fs::write(shared.file("in"), "from-host").unwrap();
    let bundle = Bundle::new()
        .bind(shared.path(), "/data", &["ro"])
        .sh("cat /data/in; echo; { echo x > /data/new; } 2>&1 || echo write-failed; cat /proc/self/mountinfo");
    let out = run_ok(&rt, &bundle);
    let l = lines(&out);
    assert_eq!(l[0], "from-host");
    assert!(l[1].contains("Read-only file system"), "{out}");
    assert_eq!(l[2], "write-failed");
    assert!(!shared.file("new").exists());
    let (per_mount, _, _) = mount_at(&out, "/data");
    assert!(opts(&per_mount).contains(&"ro"), "{per_mount}");
}

#[test]
fn bind_mount_read_write_reaches_host() {
    let Some(rt) = runtime() else { return };
    let shared = SharedDir::new();
    let bundle = Bundle::new()
        .bind(shared.path(), "/data", &[])
        .sh("echo inside > /data/out");
    run_ok(&rt, &bundle);
    assert_eq!(shared.read("out"), "inside\n");
}

#[test]
fn bind_mount_of_a_file() {
    let Some(rt) = runtime() else { return };
    let shared = SharedDir::new();
    fs::write(shared.file("conf"), "file-bind").unwrap();
    // The destination file does not exist in the rootfs: the runtime
    // creates it (as a file, not a directory) before mounting.
    let bundle = Bundle::new()
        .bind(&shared.file("conf"), "/etc/app.conf", &["ro"])
        .sh("cat /etc/app.conf");
    assert_eq!(run_ok(&rt, &bundle), "file-bind");
}

#[test]
fn readonly_root() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .readonly_root(true)
        .sh("touch /newfile 2>&1 || echo denied; cat /proc/self/mountinfo");
    let out = run_ok(&rt, &bundle);
    let l = lines(&out);
    assert!(l[0].contains("Read-only file system"), "{out}");
    assert_eq!(l[1], "denied");
    let (per_mount, _, _) = mount_at(&out, "/");
    assert!(opts(&per_mount).contains(&"ro"), "{per_mount}");
    assert!(!bundle.rootfs().join("newfile").exists());
}

#[test]
fn masked_paths_read_empty() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new();
    fs::create_dir(bundle.rootfs().join("secret")).unwrap();
    fs::write(bundle.rootfs().join("secret/key"), "hidden").unwrap();
    fs::write(bundle.rootfs().join("etc/token"), "hidden").unwrap();
    let bundle = bundle
        .masked_paths(&["/proc/timer_list", "/proc/keys", "/proc/kcore", "/etc/token", "/secret", "/does/not/exist"])
        .sh("wc -c < /proc/timer_list; wc -c < /proc/keys; wc -c < /etc/token; ls -A /secret | wc -l; \
             { echo x > /secret/new; } 2>/dev/null || echo dir-ro; \
             if [ -e /proc/kcore ]; then wc -c < /proc/kcore; else echo 0; fi");
    let out = run_ok(&rt, &bundle);
    // Files are masked with /dev/null (reads as empty), directories with an
    // empty read-only tmpfs; a path that does not exist is skipped. The
    // host's /proc/timer_list is never empty, so its masking is observable;
    // /proc/kcore is absent on kernels built without it.
    assert_eq!(lines(&out), ["0", "0", "0", "0", "dir-ro", "0"]);
}

#[test]
fn readonly_paths_reject_writes() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().sh(
        "{ echo 1 > /proc/sys/net/ipv4/ip_forward; } 2>&1 || echo denied; \
         cat /proc/sys/kernel/ostype; cat /proc/self/mountinfo",
    );
    let out = run_ok(&rt, &bundle);
    let l = lines(&out);
    assert!(l[0].contains("Read-only file system"), "{out}");
    assert_eq!(l[1], "denied");
    assert_eq!(l[2], "Linux", "a read-only path stays readable");
    let (per_mount, _, _) = mount_at(&out, "/proc/sys");
    assert!(opts(&per_mount).contains(&"ro"), "{per_mount}");
}

#[test]
fn default_devices() {
    let Some(rt) = runtime() else { return };
    let script = "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done; \
                  for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done; \
                  echo hi > /dev/null && head -c 3 /dev/zero | wc -c";
    let out = run_ok(&rt, &Bundle::new().sh(script));
    let l = lines(&out);
    // Major and minor in hex, as stat prints them; mode 666 as runc sets.
    let want = [
        "/dev/null character special file 1:3 666",
        "/dev/zero character special file 1:5 666",
        "/dev/full character special file 1:7 666",
        "/dev/random character special file 1:8 666",
        "/dev/urandom character special file 1:9 666",
        "/dev/tty character special file 5:0 666",
        "pts/ptmx",
        "/proc/self/fd",
        "/proc/self/fd/0",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
        "3",
    ];
    assert_eq!(l, want);
}

#[test]
fn linux_devices_entry_is_created() {
    let Some(rt) = runtime() else { return };
    // /dev/zero's numbers under a new name, mode and subdirectory, and a
    // block device; the device cgroup allows them (Bundle::device adds the
    // rule), so the char one reads.
    let bundle = Bundle::new()
        .device("/dev/mydev", "c", 1, 5, 0o640)
        .device("/dev/sub/blk", "b", 7, 200, 0o600)
        .sh("stat -c '%F %t:%T %a %u:%g' /dev/mydev /dev/sub/blk; head -c 5 /dev/mydev | wc -c");
    let out = run_ok(&rt, &bundle);
    assert_eq!(
        lines(&out),
        [
            "character special file 1:5 640 0:0",
            "block special file 7:c8 600 0:0",
            "5"
        ]
    );
}

#[test]
fn device_cgroup_denies_unlisted_devices() {
    let Some(rt) = runtime() else { return };
    // The container makes its own node for the first loop device (block
    // 7:0; opening it read-only needs no capability and no attached file).
    // Under the default rules (deny all but the standard devices) the open
    // fails; with a rule allowing b 7:0 it succeeds. CAP_MKNOD is granted so
    // only the device cgroup stands in the way.
    let script = "mknod /tmp/loop b 7 0 && { head -c 1 /tmp/loop > /dev/null; } 2>&1 && echo opened || echo denied";
    let base = || Bundle::new().capabilities(&["CAP_MKNOD"]).sh(script);
    let denied = run_ok(&rt, &base());
    assert!(denied.contains("Operation not permitted"), "{denied}");
    assert_eq!(lines(&denied).last(), Some(&"denied"), "{denied}");
    let allowed = base().edit(|c| {
        c["linux"]["resources"]["devices"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "allow": true, "type": "b", "major": 7, "minor": 0, "access": "rwm" }));
    });
    assert_eq!(lines(&run_ok(&rt, &allowed)), ["opened"]);
}

#[test]
fn dev_shm_is_a_writable_tmpfs() {
    let Some(rt) = runtime() else { return };
    let out = run_ok(
        &rt,
        &Bundle::new().sh("echo ok > /dev/shm/f && cat /dev/shm/f; stat -c %a /dev/shm"),
    );
    assert_eq!(lines(&out), ["ok", "1777"]);
}

#[test]
fn sysctls_are_applied() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .sysctl("net.ipv4.ip_forward", "1")
        .sysctl("kernel.shmmax", "123456789")
        .sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax");
    let out = run_ok(&rt, &bundle);
    assert_eq!(lines(&out), ["1", "123456789"]);
    // Both are namespaced (netns, ipcns): the host keeps its values.
    assert_ne!(
        fs::read_to_string("/proc/sys/kernel/shmmax")
            .unwrap()
            .trim(),
        "123456789"
    );
}

#[test]
fn sysctl_of_shared_namespace_is_rejected() {
    let Some(rt) = runtime() else { return };
    // Without its own network namespace the container would change the
    // host's value; runc refuses to create it.
    let bundle = Bundle::new()
        .without_namespace("network")
        .sysctl("net.ipv4.ip_forward", "1")
        .sh("true");
    let ctr = rt.container(&bundle);
    let out = ctr.create().fails();
    assert!(out.stderr.contains("net.ipv4.ip_forward"), "{out}");
}

#[test]
fn absolute_symlink_in_mount_target_stays_in_rootfs() {
    let Some(rt) = runtime() else { return };
    let leaf = testkit::unique_name("escape");
    let host_target = Path::new("/etc").join(&leaf);
    let bundle = Bundle::new();
    // rootfs/evil -> /etc (absolute): resolved against the host it would
    // point at the host's /etc.
    symlink("/etc", bundle.rootfs().join("evil")).unwrap();
    let dest = format!("/evil/{leaf}");
    let bundle = bundle
        .mount(json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["size=64k"] }))
        .sh(&format!("cat /proc/self/mountinfo; echo x > /etc/{leaf}/probe && echo wrote"));
    let out = rt.container(&bundle).run();
    let host_was_touched = host_target.exists();
    if host_was_touched {
        // Leave the host as found before failing.
        let _ = fs::remove_dir_all(&host_target);
    }
    assert!(
        !host_was_touched,
        "mount target escaped to the host's {}",
        host_target.display()
    );
    let out = out.ok();
    let (_, fstype, _) = mount_at(&out.stdout, &format!("/etc/{leaf}"));
    assert_eq!(fstype, "tmpfs");
    assert!(out.stdout.contains("wrote"), "{out}");
    assert!(bundle.rootfs().join("etc").join(&leaf).is_dir());
}

#[test]
fn relative_dotdot_mount_target_stays_in_rootfs() {
    let Some(rt) = runtime() else { return };
    let leaf = testkit::unique_name("dotdot");
    let bundle = Bundle::new();
    let dest = format!("/../../../../tmp/{leaf}");
    let bundle = bundle
        .mount(json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs" }))
        .sh("cat /proc/self/mountinfo");
    let out = rt.container(&bundle).run();
    let host_was_touched = Path::new("/tmp").join(&leaf).exists();
    if host_was_touched {
        let _ = fs::remove_dir_all(Path::new("/tmp").join(&leaf));
    }
    assert!(!host_was_touched, "mount target escaped to the host's /tmp");
    let out = out.ok();
    let (_, fstype, _) = mount_at(&out.stdout, &format!("/tmp/{leaf}"));
    assert_eq!(fstype, "tmpfs");
}
