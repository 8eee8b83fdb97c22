//! Terminals and hijacked streams: `run -it` and `exec -it` on a real pty,
//! `attach` with detach keys, and the raw protocol of wait, attach and
//! start.

use std::io::{BufReader, Read, Write};
use std::time::Duration;

use crate::harness::{read_head, read_response, started, write_request};

#[test]
fn run_it_gives_a_terminal_with_input_and_ctrl_c() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let mut t = d.docker_pty(
        &["run", "-it", "--rm", "busybox", "sh", "-c",
          "trap 'echo got-int; exit 42' INT; echo ready; read line; echo got:$line; while :; do sleep 0.1; done"],
        24,
        80,
    );
    t.read_until("ready");
    t.write(b"typed\r");
    t.read_until("got:typed");
    // ctrl-c goes through the terminal to the container's foreground process.
    t.write(b"\x03");
    t.read_until("got-int");
    let (code, out) = t.finish();
    assert_eq!(code, Some(42), "{out:?}");
}

#[test]
fn run_it_reports_the_window_size_after_a_resize() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let mut t = d.docker_pty(&["run", "-it", "--rm", "busybox", "sh"], 24, 80);
    t.read_until("# ");
    // The CLI watches for SIGWINCH once its session is set up; a change
    // before that is lost (dockerd behaves the same), so the size is
    // changed again until the container reports it.
    let mut seen = false;
    for i in 0..20u16 {
        t.resize(33, 111 + i % 2);
        std::thread::sleep(Duration::from_millis(100));
        let from = t.position();
        t.write(b"stty size\r");
        if t.saw_within(
            from,
            &format!("33 {}", 111 + i % 2),
            Duration::from_millis(400),
        ) {
            seen = true;
            break;
        }
    }
    assert!(
        seen,
        "the new size never reached the container: {:?}",
        t.seen()
    );
    t.write(b"exit 3\r");
    let (code, out) = t.finish();
    assert_eq!(code, Some(3), "{out:?}");
}

#[test]
fn exec_it_runs_a_shell_on_a_terminal() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker(["run", "-d", "--name", "box", "busybox", "sleep", "60"])
        .ok();
    let mut t = d.docker_pty(&["exec", "-it", "box", "sh"], 24, 80);
    t.read_until("# ");
    t.write(b"echo in-exec-$((40+2))\r");
    t.read_until("in-exec-42");
    t.write(b"tty; exit 4\r");
    t.read_until("/dev/pts/");
    let (code, out) = t.finish();
    assert_eq!(code, Some(4), "{out:?}");
    d.docker(["rm", "-f", "box"]).ok();
}

#[test]
fn attach_then_detach_keys_leave_the_container_running() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker(["run", "-dit", "--name", "att", "busybox", "sh"])
        .ok();
    let mut t = d.docker_pty(&["attach", "att"], 24, 80);
    std::thread::sleep(Duration::from_millis(300));
    t.write(b"echo attached-$((1+1))\r");
    t.read_until("attached-2");
    t.write(b"\x10\x11");
    let (_, out) = t.finish();
    assert!(out.contains("read escape sequence"), "{out:?}");
    let state = d
        .docker(["inspect", "-f", "{{.State.Running}}", "att"])
        .ok();
    assert_eq!(state.trim(), "true");
    d.docker(["rm", "-f", "att"]).ok();
}

#[test]
fn wait_sends_its_head_before_the_container_exits() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker(["run", "-d", "--name", "sleeper", "busybox", "sleep", "2"])
        .ok();
    let mut s = d.connect().unwrap();
    write_request(
        &mut s,
        "POST",
        "/v1.41/containers/sleeper/wait?condition=not-running",
        &[],
        None,
        true,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut r = BufReader::new(s);
    let (status, _, _) = read_head(&mut r).unwrap();
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "head took {:?}",
        started.elapsed()
    );
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("\"StatusCode\":0"), "{rest}");
    let r = d.request("POST", "/v1.41/containers/nosuch/wait", &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(r.message(), "No such container: nosuch");
}

#[test]
fn attach_hijacks_with_101_and_streams_stdcopy_frames() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let created = d.request(
        "POST",
        "/v1.41/containers/create?name=frames",
        &[("Content-Type", "application/json")],
        Some(br#"{"Image":"busybox","Cmd":["sh","-c","read x; echo out:$x; echo err:$x >&2"],"OpenStdin":true,"StdinOnce":true,"AttachStdin":true,"AttachStdout":true,"AttachStderr":true}"#),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let mut s = d.connect().unwrap();
    write_request(
        &mut s,
        "POST",
        "/v1.41/containers/frames/attach?stream=1&stdin=1&stdout=1&stderr=1",
        &[("Connection", "Upgrade"), ("Upgrade", "tcp")],
        None,
        false,
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let (status, reason, headers) = read_head(&mut r).unwrap();
    assert_eq!((status, reason.as_str()), (101, "UPGRADED"));
    let h = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(h("Content-Type"), Some("application/vnd.docker.raw-stream"));
    assert_eq!(h("Upgrade"), Some("tcp"));
    let start = d.request("POST", "/v1.41/containers/frames/start", &[], None);
    assert_eq!(start.status, 204, "{}", start.text());
    s.write_all(b"hello\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut raw = Vec::new();
    r.read_to_end(&mut raw).unwrap();
    let mut frames = Vec::new();
    let mut rest = &raw[..];
    while rest.len() >= 8 {
        let len = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
        frames.push((
            rest[0],
            String::from_utf8_lossy(&rest[8..8 + len]).into_owned(),
        ));
        rest = &rest[8 + len..];
    }
    assert!(rest.is_empty(), "trailing bytes {rest:?}");
    assert!(frames.contains(&(1, "out:hello\n".into())), "{frames:?}");
    assert!(frames.contains(&(2, "err:hello\n".into())), "{frames:?}");
    // Starting again is a 304, an unknown container a 404.
    let again = d.docker(["start", "frames"]);
    assert!(again.out.status.success());
    let r = d.request("POST", "/v1.41/containers/nosuch/start", &[], None);
    assert_eq!(r.status, 404);
}

#[test]
fn bad_create_requests_are_400s() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let json = [("Content-Type", "application/json")];
    let r = d.request(
        "POST",
        "/v1.41/containers/create",
        &json,
        Some(b"{\"Image\": \"busybox\", "),
    );
    assert_eq!(r.status, 400);
    assert!(r.message().starts_with("invalid JSON"), "{}", r.text());
    let r = d.request(
        "POST",
        "/v1.41/containers/create",
        &json,
        Some(br#"{"Image": 5}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = d.request("POST", "/v1.41/containers/create", &json, None);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "Config cannot be empty in order to create a container"
    );
    let r = d.request(
        "POST",
        "/v1.41/containers/create",
        &json,
        Some(br#"{"Image": "nosuch"}"#),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.message(), "No such image: nosuch:latest");
    // The imported image has no command: docker's 400.
    let r = d.request(
        "POST",
        "/v1.41/containers/create",
        &json,
        Some(br#"{"Image": "busybox"}"#),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.message(), "No command specified");
    let body = br#"{"Image": "busybox", "Cmd": ["true"]}"#;
    let r = d.request(
        "POST",
        "/v1.41/containers/create?name=dup",
        &json,
        Some(body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = d.request(
        "POST",
        "/v1.41/containers/create?name=dup",
        &json,
        Some(body),
    );
    assert_eq!(r.status, 409);
    assert!(r.message().contains("is already in use"), "{}", r.text());
    let r = d.request("POST", "/v1.41/containers/dup/kill?signal=NOPE", &[], None);
    assert!(
        r.status == 400 || r.status == 409,
        "{} {}",
        r.status,
        r.text()
    );
    let r = d.request(
        "POST",
        "/v1.41/containers/dup/start",
        &json,
        Some(br#"{"Binds": []}"#),
    );
    assert_eq!(r.status, 400);
    let r = d.request("POST", "/v1.41/containers/dup/resize?h=x&w=1", &[], None);
    assert_eq!(r.status, 400);
    let r = d.request("GET", "/v1.41/containers/dup/logs", &[], None);
    assert_eq!(r.status, 400);
    // The daemon keeps serving.
    let mut s = d.connect().unwrap();
    write_request(&mut s, "GET", "/_ping", &[], None, true).unwrap();
    let r = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!(r.text(), "OK");
}

#[test]
fn attach_without_upgrade_streams_the_output_as_the_body() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker([
        "run",
        "-d",
        "--name",
        "old",
        "busybox",
        "sh",
        "-c",
        "echo first; sleep 0.5; echo second",
    ])
    .ok();
    let r = d.request(
        "POST",
        "/v1.41/containers/old/attach?logs=1&stream=1&stdout=1",
        &[],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("application/vnd.docker.raw-stream")
    );
    let mut want = Vec::new();
    for line in ["first\n", "second\n"] {
        want.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, line.len() as u8]);
        want.extend_from_slice(line.as_bytes());
    }
    assert_eq!(r.body, want, "{:?}", r.text());
}
