//! `exec`: an extra process in a running container's namespaces, cgroup and
//! security settings.

use std::fs;
use std::os::fd::AsFd;

use serde_json::json;
use testkit::runtime::{pid_alive, pidfd_open};
use testkit::{Bundle, ConsoleSocket, Container, Runtime};

use crate::{lines, runtime};

/// A running sleeper container with a known hostname.
fn running(rt: &Runtime) -> (Bundle, Container<'_>) {
    let bundle = Bundle::new().hostname("exec-box").args(&["sleep", "inf"]);
    // The handle borrows the runtime, not the bundle, so both can be returned.
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    (bundle, ctr)
}

#[test]
fn exec_joins_the_container_namespaces() {
    let Some(rt) = runtime() else { return };
    let (_bundle, ctr) = running(&rt);
    let out = ctr
        .exec(&[
            "sh",
            "-c",
            "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc; true",
        ])
        .ok();
    let l = lines(&out.stdout);
    assert_eq!(l[0], "exec-box");
    assert_eq!(l[1], "sleep inf", "pid 1 is the container's init");
    let pids: Vec<u32> = l[2..].iter().filter_map(|e| e.parse().ok()).collect();
    assert_eq!(pids.len(), 3, "init, sh and ls only: {pids:?}");
    for ns in ["pid", "net", "ipc", "uts", "mnt"] {
        let init = fs::read_link(format!("/proc/{}/ns/{ns}", ctr.pid())).unwrap();
        let own = fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(init, own, "{ns}: container shares the test's namespace");
    }
}

#[test]
fn exec_exit_code_propagates() {
    let Some(rt) = runtime() else { return };
    let (_bundle, ctr) = running(&rt);
    for code in [0, 5, 127] {
        let out = ctr.exec(&["sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.code(), Some(code), "{out}");
    }
    // A missing binary is a runtime error (runc exits 255), not an exit code
    // of the process.
    let out = ctr.exec(&["no-such-binary"]).fails();
    assert!(out.stderr.contains("no-such-binary"), "{out}");
    assert_eq!(ctr.status(), "running");
}

#[test]
fn exec_env_flag() {
    let Some(rt) = runtime() else { return };
    let (_bundle, ctr) = running(&rt);
    let out = ctr
        .exec_with(
            &["-e", "FOO=bar", "-e", "BAZ=qux quux"],
            &["sh", "-c", "echo \"$FOO|$BAZ|$PATH\""],
        )
        .ok();
    // The container's env (PATH) is kept and the flags add to it. (runc's
    // flag parser rejects mixing `-e` and `--env` in one command line.)
    assert_eq!(
        out.stdout,
        "bar|qux quux|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
}

#[test]
fn exec_cwd_flag() {
    let Some(rt) = runtime() else { return };
    let (_bundle, ctr) = running(&rt);
    let out = ctr.exec_with(&["--cwd", "/etc"], &["pwd"]).ok();
    assert_eq!(out.stdout, "/etc\n");
}

#[test]
fn exec_user_flag() {
    let Some(rt) = runtime() else { return };
    let (_bundle, ctr) = running(&rt);
    let out = ctr
        .exec_with(&["-u", "1234:4321"], &["sh", "-c", "id -u; id -g"])
        .ok();
    assert_eq!(lines(&out.stdout), ["1234", "4321"]);
    let out = ctr.exec_with(&["--user", "65534"], &["id", "-u"]).ok();
    assert_eq!(out.stdout, "65534\n");
    let out = ctr
        .exec_with(
            &["--user", "1000", "--additional-gids", "7"],
            &["sh", "-c", "grep Groups /proc/self/status"],
        )
        .ok();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["Groups:", "7"]
    );
}

#[test]
fn exec_process_json() {
    let Some(rt) = runtime() else { return };
    let (_bundle, ctr) = running(&rt);
    let process = json!({
        "terminal": false,
        "user": { "uid": 99, "gid": 98 },
        "args": ["sh", "-c", "echo \"$(id -u):$(id -g) $(pwd) $GREETING\"; ulimit -n"],
        "env": ["PATH=/bin", "GREETING=hello"],
        "cwd": "/var",
        // soft == hard: runc 1.1's exec ends up with the soft NOFILE limit
        // raised to the hard one (its Go init raises it at startup).
        "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 66, "soft": 66 } ],
        "noNewPrivileges": true
    });
    let path = rt.scratch().join("process.json");
    fs::write(&path, process.to_string()).unwrap();
    let out = ctr
        .exec_with(&["--process", path.to_str().unwrap()], &[])
        .ok();
    assert_eq!(lines(&out.stdout), ["99:98 /var hello", "66"]);
}

#[test]
fn exec_detached_with_pid_file() {
    let Some(rt) = runtime() else { return };
    let (_bundle, ctr) = running(&rt);
    let pid_file = rt.scratch().join("exec.pid");
    ctr.exec_with(
        &["-d", "--pid-file", pid_file.to_str().unwrap()],
        &["sleep", "inf"],
    )
    .ok();
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(pid), "exec'd process {pid} is not running");
    let init_ns = fs::read_link(format!("/proc/{}/ns/pid", ctr.pid())).unwrap();
    let exec_ns = fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    assert_eq!(
        init_ns, exec_ns,
        "exec'd process is outside the container's pid ns"
    );
    let pids = ctr.ps_json();
    assert!(
        pids.as_array().unwrap().iter().any(|p| p == pid),
        "ps lacks {pid}: {pids}"
    );
    // Killing the container takes the exec'd process with it.
    let fd = pidfd_open(pid).unwrap();
    ctr.kill("KILL").ok();
    assert!(testkit::wait_readable(
        fd.as_fd(),
        std::time::Instant::now() + testkit::HANG_GUARD
    ));
}

#[test]
fn exec_keeps_container_security_settings() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .args(&["sleep", "inf"])
        .capabilities(&["CAP_KILL"])
        .readonly_root(true)
        .cgroups_path(&testkit::unique_name("berth-exec"));
    let ctr = rt.container(&bundle);
    ctr.run_detached().ok();
    let out = ctr
        .exec(&["sh", "-c", "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; { touch /x; } 2>/dev/null || echo ro; cat /proc/self/cgroup"])
        .ok();
    let l = lines(&out.stdout);
    assert_eq!(
        l[0].split_whitespace().collect::<Vec<_>>(),
        ["CapEff:", "0000000000000020"]
    );
    assert_eq!(
        l[1].split_whitespace().collect::<Vec<_>>(),
        ["NoNewPrivs:", "1"]
    );
    assert_eq!(l[2], "ro");
    // Same cgroups as init.
    let init_cg = fs::read_to_string(format!("/proc/{}/cgroup", ctr.pid())).unwrap();
    assert_eq!(lines(&init_cg), l[3..]);
}

#[test]
fn exec_tty_with_console_socket() {
    let Some(rt) = runtime() else { return };
    let (_bundle, ctr) = running(&rt);
    let sock = ConsoleSocket::bind();
    // runc uses --console-socket only with --detach; without it runc would
    // attach the tty to its own stdio.
    ctr.exec_with(
        &[
            "-t",
            "-d",
            "--console-socket",
            sock.path().to_str().unwrap(),
        ],
        &["sh", "-c", "tty; read line; echo \"got:$line\""],
    )
    .ok();
    let mut pty = sock.receive();
    let first = pty.read_until("\n");
    assert!(first.starts_with("/dev/pts/"), "{first:?}");
    pty.write_all(b"ping\n");
    pty.read_until("got:ping");
}

#[test]
fn exec_into_stopped_container_fails() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().args(&["true"]);
    let ctr = rt.container(&bundle);
    ctr.create().ok();
    ctr.start().ok();
    ctr.wait_stopped();
    let out = ctr.exec(&["true"]).fails();
    // runc: "cannot exec in a stopped container".
    assert!(out.stderr.contains("stopped"), "{out}");
}
