//! The daemon process: flags and daemon.json, listeners, pid file, signals.

use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::harness::{Berthd, Layout, berthd_bin};

/// Runs berthd expecting it to refuse to start; returns its stderr.
pub fn refuses(layout: &Layout, extra: &[&str]) -> String {
    let out = Command::new(berthd_bin())
        .args(layout.base_args())
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run berthd");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "berthd {extra:?} started; stderr: {err}"
    );
    assert!(
        !layout.path().join("d.sock").exists(),
        "a socket was left behind"
    );
    // A refused start changes nothing on the host: no bridge (and so no
    // firewall table made for it).
    let bridge = testkit::daemonnet::bridge_of(layout.path());
    let left = std::path::Path::new("/sys/class/net")
        .join(&bridge)
        .exists();
    testkit::daemonnet::remove_leftovers(layout.path());
    assert!(!left, "berthd {extra:?} left bridge {bridge} behind");
    err
}

#[test]
fn configuration_mistakes_are_refused_with_dockerds_words() {
    let l = Layout::new();
    std::fs::write(
        l.config_file(),
        r#"{"debug": true, "fixed-cidr": "10.0.0.0/24"}"#,
    )
    .unwrap();
    let err = refuses(&l, &[]);
    assert!(
        err.contains("the following directives don't match any configuration option: fixed-cidr"),
        "{err}"
    );
    // The harness passes --bip: the same key in the file conflicts.
    std::fs::write(l.config_file(), r#"{"bip": "10.0.0.1/24"}"#).unwrap();
    let err = refuses(&l, &[]);
    assert!(
        err.contains("specified both as a flag and in the configuration file: bip"),
        "{err}"
    );
    std::fs::write(l.config_file(), r#"{"labels": ["a=b"]}"#).unwrap();
    let err = refuses(&l, &["--label", "c=d"]);
    assert!(
        err.contains(
            "the following directives are specified both as a flag and in the configuration file: labels: (from flag: [c=d], from file: [a=b])"
        ),
        "{err}"
    );
    std::fs::write(l.config_file(), "{not json").unwrap();
    let err = refuses(&l, &[]);
    assert!(
        err.contains("unable to configure the berth daemon with file"),
        "{err}"
    );
    std::fs::write(l.config_file(), "{}").unwrap();
    let err = refuses(&l, &["--tlsverify"]);
    assert!(err.contains("TLS needs --tlscert and --tlskey"), "{err}");
    let err = refuses(&l, &["--log-level", "chatty"]);
    assert!(
        err.contains("unable to parse logging level: chatty"),
        "{err}"
    );
    let err = refuses(&l, &["--config-file", "/nonexistent/daemon.json"]);
    assert!(err.contains("/nonexistent/daemon.json"), "{err}");
}

#[test]
fn plain_tcp_is_served_on_loopback_only() {
    if !testkit::require_root() {
        return;
    }
    let l = Layout::new();
    std::fs::write(l.config_file(), "{}").unwrap();
    let err = refuses(&l, &["-H", "tcp://0.0.0.0:23750"]);
    assert!(err.contains("only allowed on loopback addresses"), "{err}");

    // A free loopback port, then the daemon on it and on its unix socket.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sock = l.path().join("d.sock");
    let d = Berthd::start_in(
        l,
        &[
            "-H",
            &format!("tcp://127.0.0.1:{port}"),
            "-H",
            &format!("unix://{}", sock.display()),
        ],
    );
    let out = Command::new(crate::harness::DOCKER)
        .args([
            "-H",
            &format!("tcp://127.0.0.1:{port}"),
            "version",
            "--format",
            "{{.Server.APIVersion}}",
        ])
        .env("DOCKER_CONFIG", &d.docker_config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.41");
    let info = d.docker(["info", "--format", "{{json .Warnings}}"]).ok();
    assert!(info.contains("without encryption"), "{info}");
}

#[test]
fn sigterm_stops_cleanly_and_removes_socket_and_pidfile() {
    if !testkit::require_root() {
        return;
    }
    let mut d = Berthd::start();
    let pid: i32 = std::fs::read_to_string(&d.pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, d.pid());
    let sock_mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&d.sock).unwrap().permissions());
    assert_eq!(sock_mode & 0o777, 0o660);
    d.signal(Signal::SIGTERM);
    let st = d.wait_exit();
    assert!(st.success(), "{st:?}; log:\n{}", d.log_text());
    assert!(!d.sock.exists());
    assert!(!d.pidfile.exists());
    assert!(
        d.log_text().contains("Daemon shutdown complete"),
        "{}",
        d.log_text()
    );
}

#[test]
fn a_running_daemons_pidfile_blocks_a_second_one() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    let l = Layout::new();
    std::fs::write(l.config_file(), "{}").unwrap();
    let err = refuses(&l, &["--pidfile", &d.pidfile.display().to_string()]);
    assert!(
        err.contains("pid file found, ensure berthd is not running"),
        "{err}"
    );
    // The first daemon is untouched.
    assert_eq!(d.request("GET", "/_ping", &[], None).status, 200);
}

#[test]
fn sighup_reloads_debug_and_labels_from_the_file() {
    if !testkit::require_root() {
        return;
    }
    let l = Layout::new();
    std::fs::write(l.config_file(), r#"{"labels": ["stage=one"]}"#).unwrap();
    let d = Berthd::start_in(l, &[]);
    let info = d.get_json("/info");
    assert_eq!(info["Debug"], false);
    assert_eq!(info["Labels"], serde_json::json!(["stage=one"]));

    std::fs::write(
        &d.config_file,
        r#"{"debug": true, "labels": ["stage=two"]}"#,
    )
    .unwrap();
    d.signal(Signal::SIGHUP);
    let deadline = std::time::Instant::now() + testkit::HANG_GUARD;
    loop {
        let info = d.get_json("/info");
        if info["Debug"] == true {
            assert_eq!(info["Labels"], serde_json::json!(["stage=two"]));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "reload not applied; log:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The reload is an event.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let reloads = d.request(
        "GET",
        &format!("/events?since=0&until={now:.9}&filters=%7B%22type%22%3A%5B%22daemon%22%5D%7D"),
        &[],
        None,
    );
    assert_eq!(reloads.status, 200);
    let ev: serde_json::Value =
        serde_json::from_slice(reloads.body.split(|b| *b == b'\n').next().unwrap())
            .unwrap_or_else(|e| panic!("{e}: {}", reloads.text()));
    assert_eq!(ev["Action"], "reload");
    assert_eq!(ev["Actor"]["Attributes"]["debug"], "true");
    // Debug logging is on now: requests are logged.
    d.get_json("/version");
    assert!(
        d.log_text().contains("Calling GET /version"),
        "{}",
        d.log_text()
    );

    // A broken file keeps the running configuration.
    std::fs::write(&d.config_file, r#"{"nope": 1}"#).unwrap();
    d.signal(Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        d.log_text().contains("Error reconfiguring the daemon"),
        "{}",
        d.log_text()
    );
    assert_eq!(
        d.get_json("/info")["Labels"],
        serde_json::json!(["stage=two"])
    );
}

/// A container that stops at once on SIGTERM.
const POLITE: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 0' TERM; while :; do sleep 0.1; done",
];

#[test]
fn sigterm_stops_containers_unless_live_restore_is_on() {
    if !testkit::require_root() {
        return;
    }
    for live_restore in [false, true] {
        let l = Layout::new();
        let extra: &[&str] = if live_restore {
            &["--live-restore"]
        } else {
            &[]
        };
        let mut d = Berthd::start_in(l, extra);
        d.import_busybox();
        let mut args = vec!["run", "-d", "--name", "svc", "busybox"];
        args.extend_from_slice(POLITE);
        d.docker(&args).ok();
        d.signal(Signal::SIGTERM);
        assert!(d.wait_exit().success(), "log:\n{}", d.log_text());
        d.restart();
        let state = d.docker(["inspect", "-f", "{{.State.Status}}", "svc"]).ok();
        let want = if live_restore { "running" } else { "exited" };
        assert_eq!(state.trim(), want, "live restore {live_restore}");
        d.docker(["rm", "-f", "svc"]).ok();
    }
}

#[test]
fn sockets_passed_by_systemd_are_served_with_fd_hosts() {
    if !testkit::require_root() {
        return;
    }
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let l = Layout::new();
    std::fs::write(l.config_file(), "{}").unwrap();
    let sock = l.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let fd = listener.as_raw_fd();
    // Everything but the -H of the base arguments.
    let mut args = l.base_args();
    // Without the harness's unix socket: the sockets come from systemd.
    let h = args
        .iter()
        .position(|a| a == "-H")
        .expect("-H in the base args");
    args.drain(h..h + 2);
    args.extend(["-H".to_string(), "fd://".to_string()]);
    // sd_listen_fds(3): the sockets start at fd 3 and LISTEN_PID names the
    // daemon, which `exec` keeps at the shell's pid.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"")
        .arg(crate::harness::berthd_bin())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(l.path().join("berthd.log")).unwrap());
    let pass_fd = move || -> std::io::Result<()> {
        // dup2 clears close-on-exec on the new fd (dup(2)); when the
        // listener already is fd 3, fcntl does.
        let rc = if fd == 3 {
            // SAFETY: F_SETFD takes an integer flag set; fd 3 is open.
            unsafe { libc::fcntl(3, libc::F_SETFD, 0) }
        } else {
            // SAFETY: plain fd numbers; fd is the listener, open in the child.
            unsafe { libc::dup2(fd, 3) }
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec and only calls
    // dup2, which is async-signal-safe.
    unsafe { cmd.pre_exec(pass_fd) };
    let mut child = cmd.spawn().unwrap();
    drop(listener);
    let deadline = std::time::Instant::now() + testkit::HANG_GUARD;
    let out = loop {
        let out = Command::new(crate::harness::DOCKER)
            .args([
                "-H",
                &format!("unix://{}", sock.display()),
                "version",
                "--format",
                "{{.Server.APIVersion}}",
            ])
            .env("DOCKER_CONFIG", l.path())
            .output()
            .unwrap();
        if out.status.success() || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGTERM,
    )
    .unwrap();
    let st = child.wait().unwrap();
    // Started outside the harness: its bridge and firewall table are ours to
    // remove (a stopped daemon keeps them, as dockerd keeps docker0).
    testkit::daemonnet::remove_leftovers(l.path());
    let log = std::fs::read_to_string(l.path().join("berthd.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\nlog:\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.41");
    assert!(st.success(), "{st:?}\nlog:\n{log}");
    // The socket belongs to systemd: the daemon leaves it in place.
    assert!(sock.exists());
}
