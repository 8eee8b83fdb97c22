//! Generated specs run by the reference runtime (runc, root): the config is
//! not only docker-shaped but does what docker's does. Each container gets
//! its own runc root, a busybox rootfs and a cgroup parent of its own, all
//! removed afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::tests::base_input;
use super::{SpecInput, build_spec};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A bundle directory with a busybox rootfs (the test passwd and group
/// files) and the container's hostname/hosts/resolv.conf files.
struct Bundle {
    dir: tempfile::TempDir,
    id: String,
    cgroup_parent: String,
}

impl Bundle {
    fn new() -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        for sub in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
            std::fs::create_dir_all(rootfs.join(sub)).unwrap();
        }
        std::fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for applet in ["sh", "id", "cat", "grep", "touch", "hostname", "echo", "ls"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            include_str!("../../tests/data/oci/passwd"),
        )
        .unwrap();
        std::fs::write(
            rootfs.join("etc/group"),
            include_str!("../../tests/data/oci/group"),
        )
        .unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir(&files).unwrap();
        std::fs::write(files.join("hostname"), "spec-test\n").unwrap();
        std::fs::write(files.join("hosts"), "127.0.0.1 localhost spec-test\n").unwrap();
        std::fs::write(files.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Bundle {
            dir,
            id: format!("berth-spec-test-{}-{n}", std::process::id()),
            cgroup_parent: format!("/berth-spec-test-{}-{n}", std::process::id()),
        }
    }

    /// The base input for this bundle running `sh -c script`.
    fn input(&self, script: &str) -> SpecInput {
        let files = self.dir.path().join("files");
        SpecInput {
            id: self.id.clone(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            hostname: "spec-test".into(),
            hostname_file: files.join("hostname"),
            hosts_file: files.join("hosts"),
            resolv_file: files.join("resolv.conf"),
            cgroup_parent: Some(self.cgroup_parent.clone()),
            ..base_input(&self.dir.path().join("rootfs"))
        }
    }

    /// Runs the container to its end with runc; (exit code, stdout+stderr).
    fn run(&self, input: &SpecInput) -> (i32, String) {
        let spec = build_spec(input).unwrap();
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();
        let root = self.dir.path().join("runc-root");
        let out = Command::new("runc")
            .arg("--root")
            .arg(&root)
            .args(["run", "--bundle"])
            .arg(self.dir.path())
            .arg(&self.id)
            .output()
            .expect("run runc");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let root = self.dir.path().join("runc-root");
        let _ = Command::new("runc")
            .arg("--root")
            .arg(&root)
            .args(["delete", "--force", &self.id])
            .output();
        // runc removes the container's cgroup, not the parent it created.
        remove_cgroup_dirs(
            Path::new("/sys/fs/cgroup"),
            self.cgroup_parent.trim_start_matches('/'),
        );
    }
}

/// Removes `name` below /sys/fs/cgroup (cgroup v2) and below each v1
/// hierarchy; a hierarchy where it does not exist is skipped.
fn remove_cgroup_dirs(base: &Path, name: &str) {
    let mut dirs: Vec<PathBuf> = vec![base.join(name)];
    if let Ok(entries) = std::fs::read_dir(base) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(entry.path().join(name));
            }
        }
    }
    for dir in dirs {
        if dir.is_dir() {
            std::fs::remove_dir(&dir)
                .unwrap_or_else(|e| panic!("remove cgroup {}: {e}", dir.display()));
        }
    }
}

/// The CapEff of docker's default capability set (bits of CHOWN,
/// DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP,
/// NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP).
const DEFAULT_CAP_MASK: &str = "00000000a80425fb";

#[test]
fn default_container_runs_like_dockers() {
    let bundle = Bundle::new();
    let (code, out) = bundle.run(&bundle.input(
        "id; hostname; grep CapEff /proc/self/status; cat /proc/sys/net/ipv4/ip_unprivileged_port_start; \
         cat /etc/hosts; touch /etc/hosts && echo hosts-writable; echo $PATH",
    ));
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "uid=0(root) gid=0(root) groups=0(root)");
    assert_eq!(lines[1], "spec-test");
    assert_eq!(lines[2], format!("CapEff:\t{DEFAULT_CAP_MASK}"));
    assert_eq!(lines[3], "0");
    assert_eq!(lines[4], "127.0.0.1 localhost spec-test");
    assert_eq!(lines[5], "hosts-writable");
    assert_eq!(
        lines[6],
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
}

#[test]
fn named_user_with_groups_has_no_effective_capabilities() {
    let bundle = Bundle::new();
    let input = SpecInput {
        user: "alice".into(),
        group_add: vec!["video".into()],
        ..bundle.input("id; grep -E 'CapEff|CapBnd' /proc/self/status")
    };
    let (code, out) = bundle.run(&input);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "uid=1000(alice) gid=1000(alice) groups=29(audio),44(video),100(users),1000(alice)"
    );
    assert_eq!(lines[1], "CapEff:\t0000000000000000");
    assert_eq!(lines[2], format!("CapBnd:\t{DEFAULT_CAP_MASK}"));
}

#[test]
fn readonly_rootfs_tmpfs_and_readonly_bind() {
    let bundle = Bundle::new();
    let data = bundle.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("f"), "from-host\n").unwrap();
    let input = SpecInput {
        readonly_rootfs: true,
        tmpfs: [("/scratch".to_string(), "size=1m".to_string())].into_iter().collect(),
        binds: vec![format!("{}:/data:ro", data.display())],
        ..bundle.input(
            "touch /x 2>/dev/null || echo rootfs-ro; touch /etc/hosts 2>/dev/null || echo hosts-ro; \
             echo w > /scratch/f && cat /scratch/f; cat /data/f; touch /data/g 2>/dev/null || echo bind-ro",
        )
    };
    let (code, out) = bundle.run(&input);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "rootfs-ro\nhosts-ro\nw\nfrom-host\nbind-ro\n");
}

#[test]
fn limits_devices_and_no_new_privileges() {
    let bundle = Bundle::new();
    let mut input = bundle.input(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; \
         cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; \
         ulimit -n; grep NoNewPrivs /proc/self/status; echo x > /dev/mynull && echo null-ok",
    );
    input.resources.memory = 64 << 20;
    input.resources.pids_limit = Some(50);
    input.ulimits = vec![("nofile".into(), 321, 321)];
    input.security_opt = vec!["no-new-privileges".into()];
    input.devices = vec!["/dev/null:/dev/mynull:rw".into()];
    let (code, out) = bundle.run(&input);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "67108864\n50\n321\nNoNewPrivs:\t1\nnull-ok\n");
}
