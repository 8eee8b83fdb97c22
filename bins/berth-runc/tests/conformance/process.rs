//! The process section of config.json, observed by the container process.

use testkit::{Bundle, SharedDir};

use crate::{lines, run_ok, runtime};

/// The value of a `Key:\tvalue` line of /proc/self/status output.
fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
}

#[test]
fn hostname_is_set_in_uts_namespace() {
    let Some(rt) = runtime() else { return };
    let out = run_ok(
        &rt,
        &Bundle::new()
            .hostname("box-one")
            .sh("hostname; cat /proc/sys/kernel/hostname"),
    );
    assert_eq!(lines(&out), ["box-one", "box-one"]);
    let host = nix::unistd::gethostname().expect("gethostname");
    assert_ne!(
        host.to_string_lossy(),
        "box-one",
        "the host's hostname changed"
    );
}

#[test]
fn process_is_pid_1() {
    let Some(rt) = runtime() else { return };
    let out = run_ok(
        &rt,
        &Bundle::new().sh("echo $$; cat /proc/1/cmdline | tr '\\0' ' '"),
    );
    assert_eq!(
        lines(&out),
        ["1", "sh -c echo $$; cat /proc/1/cmdline | tr '\\0' ' '"]
    );
}

#[test]
fn env_is_exactly_the_configured_one() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().env(&["FOO=bar baz", "EMPTY="]).args(&["env"]);
    let out = run_ok(&rt, &bundle);
    let mut vars = lines(&out);
    vars.sort();
    // runc adds HOME (from the user's passwd entry) when the config has none.
    assert_eq!(
        vars,
        [
            "EMPTY=",
            "FOO=bar baz",
            "HOME=/root",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
        ]
    );
}

#[test]
fn stdio_is_passed_through() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().sh("echo to-out; echo to-err >&2; read line; echo \"in:$line\"");
    let ctr = rt.container(&bundle);
    let args = ["run", "--bundle", bundle.path().to_str().unwrap(), ctr.id()];
    let out = rt.cmd_stdin(args, b"from-stdin\n").ok();
    assert_eq!(out.stdout, "to-out\nin:from-stdin\n");
    assert_eq!(out.stderr, "to-err\n");
}

#[test]
fn cwd_is_set() {
    let Some(rt) = runtime() else { return };
    let out = run_ok(&rt, &Bundle::new().cwd("/var/tmp").sh("pwd"));
    assert_eq!(out, "/var/tmp\n");
}

#[test]
fn missing_cwd_is_created() {
    let Some(rt) = runtime() else { return };
    // runc creates a missing cwd (owned by root) before switching to it.
    let bundle = Bundle::new().cwd("/srv/deep/dir").sh("pwd");
    let out = run_ok(&rt, &bundle);
    assert_eq!(out, "/srv/deep/dir\n");
    assert!(bundle.rootfs().join("srv/deep/dir").is_dir());
}

#[test]
fn user_uid_gid_and_additional_gids() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .user(1000, 1001, &[10, 20])
        .sh("id -u; id -g; id -G; grep -E '^(Uid|Gid|Groups):' /proc/self/status");
    let out = run_ok(&rt, &bundle);
    let l = lines(&out);
    assert_eq!(l[0], "1000");
    assert_eq!(l[1], "1001");
    let mut groups: Vec<&str> = l[2].split_whitespace().collect();
    groups.sort();
    assert_eq!(groups, ["10", "1001", "20"], "{out}");
    assert_eq!(
        status_field(&out, "Uid")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1000"; 4]
    );
    assert_eq!(
        status_field(&out, "Gid")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1001"; 4]
    );
    assert_eq!(status_field(&out, "Groups"), "10 20");
}

#[test]
fn umask_is_applied() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .umask(0o027)
        .sh("umask; touch /tmp/f; stat -c %a /tmp/f");
    let out = run_ok(&rt, &bundle);
    assert_eq!(lines(&out), ["0027", "640"]);
}

#[test]
fn rlimits_are_applied() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .rlimits(&[("RLIMIT_NOFILE", 123, 456), ("RLIMIT_NPROC", 77, 88)])
        .sh("ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu");
    let out = run_ok(&rt, &bundle);
    assert_eq!(lines(&out), ["123", "456", "77", "88"]);
}

#[test]
fn no_new_privileges_on_and_off() {
    let Some(rt) = runtime() else { return };
    for (on, want) in [(true, "1"), (false, "0")] {
        let bundle = Bundle::new()
            .no_new_privileges(on)
            .sh("cat /proc/self/status");
        let out = run_ok(&rt, &bundle);
        assert_eq!(
            status_field(&out, "NoNewPrivs"),
            want,
            "noNewPrivileges {on}"
        );
    }
}

#[test]
fn capabilities_are_exactly_the_configured_ones() {
    let Some(rt) = runtime() else { return };
    // CAP_CHOWN = 0, CAP_KILL = 5, CAP_NET_RAW = 13.
    let want = format!("{:016x}", (1u64 << 0) | (1 << 5) | (1 << 13));
    let bundle = Bundle::new()
        .capabilities(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"])
        .sh("cat /proc/self/status");
    let out = run_ok(&rt, &bundle);
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(&out, key), want, "{key}");
    }
}

#[test]
fn default_capabilities_drop_sys_admin() {
    let Some(rt) = runtime() else { return };
    // The default set: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10).
    let want = format!("{:016x}", (1u64 << 29) | (1 << 5) | (1 << 10));
    let out = run_ok(
        &rt,
        &Bundle::new().sh("cat /proc/self/status; mount -t tmpfs t /mnt 2>&1 || echo mount-denied"),
    );
    assert_eq!(status_field(&out, "CapEff"), want);
    assert_eq!(status_field(&out, "CapBnd"), want);
    assert!(out.contains("mount-denied"), "{out}");
}

#[test]
fn oom_score_adj_is_set() {
    let Some(rt) = runtime() else { return };
    let out = run_ok(
        &rt,
        &Bundle::new()
            .oom_score_adj(345)
            .sh("cat /proc/self/oom_score_adj"),
    );
    assert_eq!(out, "345\n");
}

#[test]
fn orphans_are_reaped_by_pid_1() {
    let Some(rt) = runtime() else { return };
    let shared = SharedDir::new();
    // A subshell starts a background child and exits at once, so the child
    // is re-parented to pid 1 (the shell run by the runtime, which must not
    // be wrapped by anything that keeps children). The child exits at once;
    // pid 1 reaps it while waiting for its own foreground commands, and
    // /proc/<pid> disappears only when it is reaped.
    let script = "(true & echo $! > /shared/orphan); p=$(cat /shared/orphan); \
                  i=0; while [ -e /proc/$p ]; do i=$((i+1)); \
                  if [ $i -gt 1000 ]; then echo zombie; ps -o pid,ppid,stat,comm; exit 1; fi; \
                  sleep 0.02; done; echo reaped; ps -o stat= | grep -c Z";
    let bundle = Bundle::new().bind(shared.path(), "/shared", &[]).sh(script);
    let ctr = rt.container(&bundle);
    let out = ctr.run();
    // grep -c prints 0 and exits 1 when nothing matches.
    assert_eq!(lines(&out.stdout), ["reaped", "0"], "{out}");
}

#[test]
fn no_signal_is_blocked_or_ignored_in_the_container() {
    let Some(rt) = runtime() else { return };
    // The test process (like any Rust program) ignores SIGPIPE; the
    // container's program must not inherit that, nor a blocked mask.
    // grep itself, not a shell: shells set up dispositions of their own.
    let bundle = Bundle::new().args(&["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"]);
    let out = run_ok(&rt, &bundle);
    let mask = |name: &str| {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{out:?}"));
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(mask("SigBlk:"), 0, "{out:?}");
    // Standard signals (1-31); runc leaves a real-time signal of the C
    // library ignored when its caller ignored it, so those are not judged.
    assert_eq!(mask("SigIgn:") & 0x7fff_ffff, 0, "{out:?}");
}
