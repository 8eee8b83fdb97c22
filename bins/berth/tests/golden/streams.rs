//! Streams: exec, logs (-f, --since, --tail, -t), attach, events, stats (live and
//! --no-stream).

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{
    DOCKER, Daemon, berth_bin, normalize, ok, same, same_in, same_pair, started, wait_output,
};

#[test]
fn exec_and_logs_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    ok(
        &d,
        &["run", "-d", "--name", "ctr", "busybox", "sleep", "300"],
    );
    ok(
        &d,
        &[
            "run",
            "--name",
            "lg",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3 4 5; do echo line$i; done; echo err >&2",
        ],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let envf = dir.path().join("env");
    std::fs::write(&envf, "B=2\n").expect("write env file");
    let envf = envf.to_str().expect("utf-8");
    for args in [
        &["exec", "ctr", "echo", "hi"][..],
        &["exec", "ctr", "sh", "-c", "exit 7"],
        &["exec", "nope", "true"],
        &["exec", "lg", "true"],
        &["exec", "-d", "ctr", "sleep", "1"],
        &[
            "exec",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-u",
            "65534",
            "ctr",
            "sh",
            "-c",
            "echo $A $(pwd) $(id -u)",
        ],
        &["exec", "--env-file", envf, "ctr", "sh", "-c", "echo $B"],
        &["exec", "--env-file", "/nonexistent", "ctr", "true"],
        &["exec", "-t", "ctr", "echo", "tty"],
        &["exec", "-it", "ctr", "true"],
        &["exec", "ctr"],
        &["logs", "lg"],
        &["logs", "--tail", "2", "lg"],
        &["logs", "--tail", "0", "lg"],
        &["logs", "-n", "1", "lg"],
        &["logs", "--tail", "x", "lg"],
        &["logs", "-t", "lg"],
        &["logs", "--details", "lg"],
        &["logs", "--since", "1h", "lg"],
        &["logs", "--since", "2030-01-01", "lg"],
        &["logs", "--until", "2000-01-01T10", "lg"],
        &["logs", "--since", "foo", "lg"],
        &["logs", "--since", "2030-13-01", "lg"],
        &["logs", "--until", "2030-01-0x", "lg"],
        &["logs", "-f", "lg"],
        &["logs", "-f", "--tail", "1", "-t", "lg"],
        &["logs", "nope"],
    ] {
        same(&d, args);
    }
    let s = same_in(&d, &["exec", "-i", "ctr", "tr", "a-z", "A-Z"], b"hello\n");
    assert_eq!(s.stdout, "HELLO\n");
    // logs -f follows until the container ends.
    for who in ["b", "k"] {
        ok(
            &d,
            &[
                "run",
                "-d",
                "--name",
                &format!("{who}f"),
                "busybox",
                "sh",
                "-c",
                "echo a; sleep 1; echo b; sleep 1; echo c",
            ],
        );
    }
    let s = same_pair(&d, &["logs", "-f", "bf"], &["logs", "-f", "kf"], &[], None);
    assert_eq!(s.stdout, "a\nb\nc\n");
}

/// Starts `prog attach <name>` in the background.
fn attach(d: &Daemon, prog: &str, name: &str) -> std::process::Child {
    Command::new(prog)
        .args(["attach", name])
        .env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
        .env("DOCKER_CONFIG", &d.docker_config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn attach")
}

#[test]
fn attach_and_events_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 1;
    // attach: the output from then on and the container's status.
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "at",
            "busybox",
            "sh",
            "-c",
            "sleep 2; echo tick; echo tock >&2; exit 3",
        ],
    );
    let b = attach(&d, berth_bin(), "at");
    let k = attach(&d, DOCKER, "at");
    let (b, k) = (
        wait_output(b, "berth attach"),
        wait_output(k, "docker attach"),
    );
    assert_eq!(b.status.code(), Some(3));
    assert_eq!(k.status.code(), Some(3));
    assert_eq!((&b.stdout, &b.stderr), (&k.stdout, &k.stderr));
    assert_eq!(String::from_utf8_lossy(&b.stdout), "tick\n");
    for args in [
        &["attach", "nope"][..],
        &["attach", "at"],
        &["attach", "--no-stdin", "--sig-proxy=false", "at"],
    ] {
        same(&d, args);
    }
    // events between two times: the default line, --filter, --format.
    ok(&d, &["run", "--rm", "--name", "ev", "busybox", "true"]);
    ok(&d, &["network", "create", "evn"]);
    ok(&d, &["volume", "create", "evv"]);
    ok(&d, &["network", "rm", "evn"]);
    ok(&d, &["volume", "rm", "evv"]);
    std::thread::sleep(Duration::from_millis(1100));
    let t1 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let (since, until) = (t0.to_string(), t1.to_string());
    let (s, u) = (since.as_str(), until.as_str());
    for args in [
        &["events", "--since", s, "--until", u][..],
        &[
            "events",
            "--since",
            s,
            "--until",
            u,
            "--filter",
            "type=network",
        ],
        &[
            "events",
            "--since",
            s,
            "--until",
            u,
            "-f",
            "event=start",
            "-f",
            "event=die",
        ],
        &[
            "system",
            "events",
            "--since",
            s,
            "--until",
            u,
            "--filter",
            "container=ev",
        ],
        &[
            "events",
            "--since",
            s,
            "--until",
            u,
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ],
        &[
            "events",
            "--since",
            s,
            "--until",
            u,
            "--format",
            "{{json .Actor.Attributes}}",
        ],
        &["events", "--since", "foo", "--until", u],
        &["events", "--since", "2030-01-0x", "--until", u],
        &["events", "--since", "2030-01-01", "--until", u],
        &["events", "--format", "{{.Nope}}"],
        &["events", "--format", "{{"],
        &["events", "--filter", "foo=bar", "--until", u],
    ] {
        same(&d, args);
    }
}

/// The first frame of `prog stats <args>` (its output until the first erase-down),
/// digits written `0`.
fn first_frame(d: &Daemon, prog: &str, args: &[&str]) -> String {
    let mut c = Command::new(prog);
    c.arg("stats")
        .args(args)
        .env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
        .env("DOCKER_CONFIG", &d.docker_config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("spawn stats");
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("\x1b[J") {
            match out.read(&mut buf) {
                Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        seen
    });
    let deadline = std::time::Instant::now() + testkit::HANG_GUARD;
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let seen = reader.join().unwrap_or_default();
    let text = String::from_utf8_lossy(&seen).into_owned();
    let frame = text.split("\x1b[J").next().unwrap_or("").to_string();
    frame
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect()
}

#[test]
fn stats_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    ok(
        &d,
        &["run", "-d", "--name", "s1", "busybox", "sleep", "300"],
    );
    ok(
        &d,
        &["run", "-d", "--name", "s2", "busybox", "sleep", "300"],
    );
    ok(&d, &["create", "--name", "s3", "busybox", "true"]);
    for args in [
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.ID}} {{.Container}} {{.PIDs}}",
            "s1",
            "s2",
        ][..],
        &[
            "stats",
            "--no-stream",
            "--no-trunc",
            "--format",
            "{{.ID}}",
            "s1",
        ],
        &["stats", "--no-stream", "--format", "{{.Name}}"],
        &["stats", "--no-stream", "-a", "--format", "{{.Name}}"],
        &[
            "container",
            "stats",
            "--no-stream",
            "--format",
            "table {{.Name}}\t{{.PIDs}}",
            "s2",
        ],
        &["stats", "--no-stream", "nope"],
        &["stats", "--no-stream", "s1", "nope"],
        &["stats", "--no-stream", "--format", "{{.Nope}}", "s1"],
        &["stats", "nope"],
    ] {
        same(&d, args);
    }
    // The default table: same columns and widths (values vary between samples).
    let digits = |o: std::process::Output| -> String {
        String::from_utf8_lossy(&o.stdout)
            .chars()
            .map(|c| if c.is_ascii_digit() { '0' } else { c })
            .collect()
    };
    let b = digits(d.berth(&["stats", "--no-stream", "s1"]));
    let k = digits(d.docker(&["stats", "--no-stream", "s1"]));
    assert_eq!(normalize(&b, &[]), normalize(&k, &[]));
    // Live: the first frame, cursor and erase sequences included.
    let b = first_frame(
        &d,
        berth_bin(),
        &["--format", "table {{.Name}}\t{{.PIDs}}", "s1", "s2"],
    );
    let k = first_frame(
        &d,
        DOCKER,
        &["--format", "table {{.Name}}\t{{.PIDs}}", "s1", "s2"],
    );
    assert!(b.starts_with("\x1b[HNAME"), "{b:?}");
    assert_eq!(b, k);
}
