//! seccomp, user namespaces, read-only rootfs, fd hygiene, cwd confinement.

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::os::unix::fs::chown;

use serde_json::{Value, json};
use testkit::{Bundle, SharedDir};

use crate::{lines, run_ok, runtime};

/// The seccomp architectures for this build's target, as runc names them.
fn seccomp_arches() -> Value {
    match std::env::consts::ARCH {
        "x86_64" => json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
        "aarch64" => json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]),
        other => panic!("no seccomp arch list for {other}"),
    }
}

#[test]
fn seccomp_errno_rule_denies_mkdir() {
    let Some(rt) = runtime() else { return };
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": seccomp_arches(),
        "syscalls": [
            { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }
        ]
    });
    let bundle = Bundle::new()
        .seccomp(profile)
        .sh("mkdir /tmp/d 2>&1 || echo mkdir-failed; touch /tmp/f && echo touch-ok; grep Seccomp: /proc/self/status");
    let out = run_ok(&rt, &bundle);
    let l = lines(&out);
    assert!(l[0].contains("Operation not permitted"), "{out}");
    assert_eq!(l[1], "mkdir-failed");
    assert_eq!(l[2], "touch-ok", "only the listed syscalls are denied");
    // 2 = SECCOMP_MODE_FILTER (proc(5)).
    assert_eq!(
        l[3].split_whitespace().collect::<Vec<_>>(),
        ["Seccomp:", "2"]
    );
    assert!(!bundle.rootfs().join("tmp/d").exists());
}

#[test]
fn seccomp_errno_value_is_honoured() {
    let Some(rt) = runtime() else { return };
    // ENOSPC (28) instead of the default EPERM.
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": seccomp_arches(),
        "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28 } ]
    });
    let out = run_ok(
        &rt,
        &Bundle::new().seccomp(profile).sh("mkdir /tmp/d 2>&1; true"),
    );
    assert!(out.contains("No space left on device"), "{out}");
}

#[test]
fn seccomp_default_errno_with_allow_list() {
    let Some(rt) = runtime() else { return };
    // Deny by default, allow everything the shell and the runtime's final
    // exec need except mkdir: a whitelist profile the way Docker writes them.
    let allowed = [
        "execve",
        "execveat",
        "exit",
        "exit_group",
        "brk",
        "mmap",
        "munmap",
        "mprotect",
        "arch_prctl",
        "set_tid_address",
        "set_robust_list",
        "rseq",
        "prlimit64",
        "getrlimit",
        "read",
        "write",
        "writev",
        "readv",
        "openat",
        "open",
        "close",
        "fstat",
        "newfstatat",
        "stat",
        "lstat",
        "statx",
        "fcntl",
        "dup2",
        "dup3",
        "getpid",
        "getppid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "ioctl",
        "uname",
        "getcwd",
        "chdir",
        "fork",
        "vfork",
        "clone",
        "clone3",
        "wait4",
        "capget",
        "capset",
        "prctl",
        "setgroups",
        "setuid",
        "setgid",
        "setresuid",
        "setresgid",
        "getdents64",
        "lseek",
        "futex",
        "fchown",
        "sigaltstack",
        "getrandom",
        "faccessat",
        "faccessat2",
        "access",
        "poll",
        "ppoll",
        "pselect6",
        "select",
        "nanosleep",
        "clock_nanosleep",
        "kill",
        "tgkill",
        "getpgrp",
        "setpgid",
        "getpgid",
        "setsid",
        "getsid",
        "umask",
        "pipe",
        "pipe2",
        "readlink",
        "readlinkat",
        "mknodat",
        "sched_getaffinity",
        "getdents",
        "close_range",
        "fchdir",
        "fstatfs",
        "statfs",
        "epoll_ctl",
        "epoll_pwait",
        "epoll_create1",
        "keyctl",
        "setns",
        "unshare",
    ];
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": seccomp_arches(),
        "syscalls": [ { "names": allowed.as_slice(), "action": "SCMP_ACT_ALLOW" } ]
    });
    let out = run_ok(
        &rt,
        &Bundle::new()
            .seccomp(profile)
            .sh("echo alive; mkdir /tmp/d 2>&1; true"),
    );
    let l = lines(&out);
    assert_eq!(l[0], "alive");
    assert!(l[1].contains("Operation not permitted"), "{out}");
}

#[test]
fn user_namespace_maps_ids() {
    let Some(rt) = runtime() else { return };
    let shared = SharedDir::new();
    let bundle = Bundle::new();
    // A file owned by host ids 100007:100008 appears as 7:8 inside; one
    // owned by host root (not mapped) as the overflow id 65534.
    let owned = bundle.rootfs().join("etc/owned");
    fs::write(&owned, "x").unwrap();
    chown(&owned, Some(100_007), Some(100_008)).unwrap();
    // Mount points are made by the container's root, which cannot write the
    // host-root-owned rootfs, so the test makes this one (runc fails with
    // "permission denied" otherwise).
    fs::create_dir(bundle.rootfs().join("shared")).unwrap();
    let bundle = bundle
        .user_namespace(100_000, 65536)
        .bind(shared.path(), "/shared", &[])
        .sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; \
             stat -c '%u:%g' /etc/owned /etc/passwd; touch /shared/made");
    let out = run_ok(&rt, &bundle);
    let l: Vec<Vec<&str>> = lines(&out)
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(l[0], ["0", "100000", "65536"], "{out}");
    assert_eq!(l[1], ["0", "100000", "65536"], "{out}");
    assert_eq!(l[2], ["0"]);
    assert_eq!(l[3], ["0"]);
    assert_eq!(l[4], ["7:8"]);
    assert_eq!(l[5], ["65534:65534"]);
    // A file created by container root is owned by host 100000.
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(shared.file("made")).expect("file made inside");
    assert_eq!((meta.uid(), meta.gid()), (100_000, 100_000));
}

#[test]
fn user_namespace_root_is_not_host_root() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new();
    let secret = bundle.rootfs().join("root/secret");
    fs::write(&secret, "host-only").unwrap();
    // /root is 0700 owned by host root: mapped container root (host 100000)
    // cannot read it, even with every capability inside its namespace.
    let bundle = bundle
        .user_namespace(100_000, 65536)
        .capabilities(&[
            "CAP_DAC_OVERRIDE",
            "CAP_DAC_READ_SEARCH",
            "CAP_CHOWN",
            "CAP_FOWNER",
        ])
        .sh("cat /root/secret 2>&1; true");
    let out = run_ok(&rt, &bundle);
    assert!(out.contains("Permission denied"), "{out}");
    assert!(!out.contains("host-only"), "{out}");
}

#[test]
fn readonly_rootfs_rejects_writes_everywhere_but_mounts() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .readonly_root(true)
        .mount(json!({ "destination": "/tmp", "type": "tmpfs", "source": "tmpfs" }))
        .sh("for f in /x /etc/passwd /bin/busybox /var/x; do { echo x >> $f; } 2>/dev/null && echo $f:written || echo $f:denied; done; \
             echo y > /tmp/ok && echo tmp:written");
    let passwd_before = fs::read(bundle.rootfs().join("etc/passwd")).unwrap();
    let out = run_ok(&rt, &bundle);
    assert_eq!(
        lines(&out),
        [
            "/x:denied",
            "/etc/passwd:denied",
            "/bin/busybox:denied",
            "/var/x:denied",
            "tmp:written"
        ]
    );
    assert_eq!(
        fs::read(bundle.rootfs().join("etc/passwd")).unwrap(),
        passwd_before
    );
}

#[test]
fn no_fds_leak_into_the_container() {
    let Some(rt) = runtime() else { return };
    // ls opens /proc/self/fd itself, as fd 3; anything else is a leak.
    let out = run_ok(&rt, &Bundle::new().args(&["ls", "/proc/self/fd"]));
    assert_eq!(lines(&out), ["0", "1", "2", "3"]);
}

#[test]
fn preserve_fds_passes_extra_fds() {
    let Some(rt) = runtime() else { return };
    let shared = SharedDir::new();
    fs::write(shared.file("a"), "first").unwrap();
    fs::write(shared.file("b"), "second").unwrap();
    let a = File::open(shared.file("a")).unwrap();
    let b = File::open(shared.file("b")).unwrap();
    let bundle = Bundle::new().sh("ls /proc/self/fd; cat <&3; echo; cat <&4");
    let ctr = rt.container(&bundle);
    let args = [
        "run",
        "--bundle",
        bundle.path().to_str().unwrap(),
        "--preserve-fds",
        "2",
        ctr.id(),
    ];
    let out = rt.cmd_with_fds(args, &[a.as_fd(), b.as_fd()]).ok();
    // 3 and 4 are the preserved fds; 5 is ls's own directory fd.
    assert_eq!(
        lines(&out.stdout),
        ["0", "1", "2", "3", "4", "5", "first", "second"],
        "{out}"
    );
}

#[test]
fn unpreserved_extra_fds_are_not_passed() {
    let Some(rt) = runtime() else { return };
    let shared = SharedDir::new();
    fs::write(shared.file("a"), "first").unwrap();
    let a = File::open(shared.file("a")).unwrap();
    let bundle = Bundle::new().args(&["ls", "/proc/self/fd"]);
    let ctr = rt.container(&bundle);
    let args = ["run", "--bundle", bundle.path().to_str().unwrap(), ctr.id()];
    let out = rt.cmd_with_fds(args, &[a.as_fd()]).ok();
    assert_eq!(lines(&out.stdout), ["0", "1", "2", "3"], "{out}");
}

#[test]
fn cwd_cannot_escape_rootfs() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new();
    fs::write(bundle.rootfs().join("tmp/inside-marker"), "").unwrap();
    // ".." past the root stays at the root (path_resolution(7)).
    let bundle = bundle.cwd("/../../../../../tmp").sh("pwd; ls");
    let out = run_ok(&rt, &bundle);
    assert_eq!(lines(&out), ["/tmp", "inside-marker"]);
}

#[test]
fn cwd_through_absolute_symlink_stays_in_rootfs() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new();
    fs::write(bundle.rootfs().join("etc/inside-marker"), "").unwrap();
    // An absolute symlink resolves against the container root, not the
    // host's: /hostetc -> /etc is the rootfs's /etc.
    std::os::unix::fs::symlink("/etc", bundle.rootfs().join("hostetc")).unwrap();
    let out = run_ok(&rt, &bundle.cwd("/hostetc").sh("ls"));
    let entries = lines(&out);
    assert!(entries.contains(&"inside-marker"), "{out}");
    assert!(
        !entries.contains(&"os-release"),
        "cwd is the host's /etc: {out}"
    );
}

#[test]
fn runtime_binary_is_not_reachable_from_inside() {
    let Some(rt) = runtime() else { return };
    // CVE-2019-5736: the container must not be able to open the runtime
    // binary through /proc/self/exe of a process it can see while the
    // runtime joins it. After exec, /proc/1/exe is the container's own
    // binary.
    let out = run_ok(
        &rt,
        &Bundle::new().sh("readlink /proc/1/exe; readlink /proc/self/exe"),
    );
    assert_eq!(lines(&out), ["/bin/busybox", "/bin/busybox"]);
}
