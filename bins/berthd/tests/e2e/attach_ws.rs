//! `GET /containers/{id}/attach/ws`: a WebSocket client (tungstenite) over
//! the daemon's unix socket against real containers, and the errors
//! dockerd answers before the handshake.

use std::os::unix::net::UnixStream;

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use crate::harness::{Berthd, started};

/// Opens the WebSocket of `path` (a request URI with its query).
fn open(d: &Berthd, path: &str) -> WebSocket<UnixStream> {
    let s = d.connect().expect("connect to the daemon");
    let url = format!("ws://localhost{path}");
    let (ws, resp) =
        tungstenite::client(url.as_str(), s).unwrap_or_else(|e| panic!("handshake {path}: {e}"));
    assert_eq!(resp.status(), 101, "{path}");
    ws
}

/// Reads messages until the bytes received contain `want` (or the server
/// closes); returns the bytes and whether every message was binary.
fn read_until(ws: &mut WebSocket<UnixStream>, want: &str) -> (String, bool) {
    let mut got = Vec::new();
    let mut binary = true;
    while !String::from_utf8_lossy(&got).contains(want) {
        match ws.read() {
            Ok(Message::Binary(b)) => got.extend_from_slice(&b),
            Ok(Message::Text(t)) => {
                binary = false;
                got.extend_from_slice(t.as_bytes());
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "read {want:?} (got {:?}): {e}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), binary)
}

/// Reads to the server's Close; returns the bytes, whether every message
/// was binary, and the close code.
fn read_to_close(ws: &mut WebSocket<UnixStream>) -> (String, bool, Option<CloseCode>) {
    let mut got = Vec::new();
    let mut binary = true;
    loop {
        match ws.read() {
            Ok(Message::Binary(b)) => got.extend_from_slice(&b),
            Ok(Message::Text(t)) => {
                binary = false;
                got.extend_from_slice(t.as_bytes());
            }
            Ok(Message::Close(f)) => {
                return (
                    String::from_utf8_lossy(&got).into_owned(),
                    binary,
                    f.map(|f| f.code),
                );
            }
            Ok(_) => {}
            Err(e) => panic!(
                "read to close (got {:?}): {e}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

#[test]
fn attach_ws_feeds_stdin_and_echoes_output() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker(["run", "-d", "-i", "--name", "wscat", "busybox", "cat"])
        .ok();
    let mut ws = open(
        &d,
        "/v1.41/containers/wscat/attach/ws?stream=1&stdin=1&stdout=1&stderr=1",
    );
    ws.send(Message::text("hello over a websocket\n")).unwrap();
    let (out, binary) = read_until(&mut ws, "hello over a websocket\n");
    // No stdcopy header: the bytes are the container's as they are.
    assert_eq!(out, "hello over a websocket\n");
    assert!(binary, "API 1.41 output is binary");
    ws.send(Message::binary(b"second line\n".to_vec())).unwrap();
    assert_eq!(read_until(&mut ws, "second line\n").0, "second line\n");

    // Closing ends the session; `cat` was not started with StdinOnce, so
    // it keeps running.
    ws.close(None).unwrap();
    let _ = read_to_close(&mut ws);
    let running = d
        .docker(["inspect", "-f", "{{.State.Running}}", "wscat"])
        .ok();
    assert_eq!(running.trim(), "true");

    // Detach keys end a session the same way; what follows them in the
    // message never reaches the container.
    let mut ws = open(
        &d,
        "/containers/wscat/attach/ws?stream=1&stdin=1&detachKeys=ctrl-x",
    );
    ws.send(Message::binary(b"before\n".to_vec())).unwrap();
    assert_eq!(read_until(&mut ws, "before\n").0, "before\n");
    ws.send(Message::binary(b"\x18after\n".to_vec())).unwrap();
    let (out, _, code) = read_to_close(&mut ws);
    assert_eq!(out, "");
    assert_eq!(code, Some(CloseCode::Normal));
    let running = d
        .docker(["inspect", "-f", "{{.State.Running}}", "wscat"])
        .ok();
    assert_eq!(running.trim(), "true");
    // The log (replayed first) has everything cat echoed, and no "after".
    let mut ws = open(&d, "/containers/wscat/attach/ws?logs=1&stream=1&stdin=1");
    ws.send(Message::text("last\n")).unwrap();
    let (out, _) = read_until(&mut ws, "last\n");
    assert_eq!(out, "hello over a websocket\nsecond line\nbefore\nlast\n");
    ws.close(None).unwrap();
    let _ = read_to_close(&mut ws);
    d.docker(["rm", "-f", "wscat"]).ok();
}

#[test]
fn attach_ws_with_logs_replays_what_the_container_printed() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker([
        "run",
        "--name",
        "printed",
        "busybox",
        "sh",
        "-c",
        "echo to-stdout; echo to-stderr >&2",
    ])
    .ok();
    // logs only: the log, then the server closes (the container is done).
    let mut ws = open(&d, "/v1.41/containers/printed/attach/ws?logs=1");
    let (out, binary, code) = read_to_close(&mut ws);
    assert_eq!(out, "to-stdout\nto-stderr\n", "both streams, unframed");
    assert!(binary);
    assert_eq!(code, Some(CloseCode::Normal));

    // A client of API 1.27 gets text messages.
    let mut ws = open(&d, "/v1.27/containers/printed/attach/ws?logs=1");
    let (out, binary, _) = read_to_close(&mut ws);
    assert_eq!(out, "to-stdout\nto-stderr\n");
    assert!(!binary, "API < 1.28 output is text");
    d.docker(["rm", "printed"]).ok();
}

#[test]
fn attach_ws_errors_are_dockerds() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let ws_head: &[(&str, &str)] = &[
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    let r = d.request(
        "GET",
        "/v1.41/containers/nosuch/attach/ws?stream=1",
        ws_head,
        None,
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.message(), "No such container: nosuch");
    // The container is looked up before the handshake is read.
    let r = d.request("GET", "/containers/nosuch/attach/ws", &[], None);
    assert_eq!(r.status, 404, "{}", r.text());
    // And through the WebSocket client: the handshake fails with the 404.
    let s = d.connect().unwrap();
    match tungstenite::client("ws://localhost/containers/nosuch/attach/ws", s) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            assert_eq!(resp.status(), 404)
        }
        Err(e) => panic!("expected the 404, got {e}"),
        Ok(_) => panic!("handshake with a missing container succeeded"),
    }

    d.docker(["run", "-d", "--name", "idle", "busybox", "sleep", "60"])
        .ok();
    let r = d.request(
        "GET",
        "/v1.41/containers/idle/attach/ws?detachKeys=alt-x",
        ws_head,
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.message(), "Invalid detach keys (alt-x) provided");

    // Not a WebSocket handshake: the WebSocket library's plain-text 400.
    let r = d.request(
        "GET",
        "/v1.41/containers/idle/attach/ws?stream=1",
        &[],
        None,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "not websocket protocol");
    let r = d.request(
        "GET",
        "/v1.41/containers/idle/attach/ws",
        &ws_head[..3],
        None,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.header("Sec-WebSocket-Version"), Some("13"));
    assert_eq!(r.text(), "bad protocol version");

    d.docker(["pause", "idle"]).ok();
    // The state is checked before the handshake, as dockerd does.
    for head in [ws_head, &[]] {
        let r = d.request(
            "GET",
            "/v1.41/containers/idle/attach/ws?stream=1",
            head,
            None,
        );
        assert_eq!(r.status, 409, "{}", r.text());
        assert!(r.message().contains("paused"), "{}", r.message());
    }
    d.docker(["unpause", "idle"]).ok();
    d.docker(["rm", "-f", "idle"]).ok();
}
