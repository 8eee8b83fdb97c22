//! `GET /containers/{id}/attach/ws`: attach to a container over a
//! WebSocket (RFC 6455), for browsers and other clients that cannot hijack
//! an HTTP connection.
//!
//! As dockerd 20.10 answers it (API 1.41):
//! - the query's `logs`, `stream` and `detachKeys` count; `stdin`, `stdout`
//!   and `stderr` are ignored and all three streams attached (the API only
//!   honours them from 1.42 on, which is newer than berthd speaks);
//! - errors found before the handshake are ordinary `{"message"}` answers:
//!   bad detach keys 400, no such container 404, paused or restarting 409;
//! - a request that is not a WebSocket opening handshake gets the answer
//!   of the WebSocket library dockerd uses: 400 with a plain-text reason;
//! - after `101 Switching Protocols`, every chunk of output is one message
//!   with the bytes as they are (no stdcopy header: stdout and stderr share
//!   the socket), binary for API 1.28 and later, text before; every data
//!   message the client sends goes to the container's stdin.
//!
//! The session ends when the output ends (the container exited, or only
//! `logs` were asked for), when the client closes the WebSocket or drops
//! the connection (end of input is passed on, as for a hijacked attach),
//! or when the client types the detach keys (the container keeps running).
//! berthd then sends a Close frame (1000); dockerd drops the connection
//! without one, which clients report as an abnormal closure.

use std::sync::Arc;

use berth_api_types::error::compare_versions;
use berth_api_types::stdcopy::Decoder;
use berth_engine::containers::Error as ContainerError;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use http::header::{CONNECTION, HeaderMap, HeaderValue, UPGRADE};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::api::{ApiError, Resp};
use crate::body::Body;
use crate::daemon::Daemon;
use crate::handlers::Call;
use crate::hijack::DetachKeys;

/// The only WebSocket version (RFC 6455 section 4.4).
const WS_VERSION: &str = "13";

/// The first API version whose output messages are binary (moby #28176:
/// text messages cannot carry arbitrary bytes).
const BINARY_SINCE: &str = "1.28";

/// Why a request is not an acceptable opening handshake (RFC 6455 section
/// 4.2.1). The messages are the answer's body, worded as dockerd's
/// WebSocket library words them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("not websocket protocol")]
    NotWebSocket,
    #[error("mismatch challenge/response")]
    NoKey,
    #[error("bad protocol version")]
    BadVersion,
    /// Several subprotocols offered and none chosen: an empty 400.
    #[error("")]
    ManyProtocols,
}

impl HandshakeError {
    /// The answer: 400, the reason as plain text, and the connection closed.
    pub fn into_response(self) -> Resp {
        let mut r = http::Response::new(Body::full(self.to_string()));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        let h = r.headers_mut();
        if self == HandshakeError::BadVersion {
            h.insert(
                "Sec-WebSocket-Version",
                HeaderValue::from_static(WS_VERSION),
            );
        }
        h.insert(CONNECTION, HeaderValue::from_static("close"));
        r
    }
}

/// An accepted opening handshake: what the `101` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// `Sec-WebSocket-Accept`: the key's digest (RFC 6455 section 4.2.2).
    pub accept: String,
    /// The subprotocol echoed back, when the client offered exactly one.
    pub protocol: Option<String>,
}

/// Checks a request head as an opening handshake: `Upgrade: websocket`,
/// `Connection` naming `upgrade`, a `Sec-WebSocket-Key`, version 13.
pub fn accept(h: &HeaderMap) -> Result<Accepted, HandshakeError> {
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
    };
    let upgrade = get(UPGRADE.as_str()).eq_ignore_ascii_case("websocket");
    let connection = get(CONNECTION.as_str())
        .to_ascii_lowercase()
        .contains("upgrade");
    if !upgrade || !connection {
        return Err(HandshakeError::NotWebSocket);
    }
    let key = get("Sec-WebSocket-Key");
    if key.is_empty() {
        return Err(HandshakeError::NoKey);
    }
    if get("Sec-WebSocket-Version") != WS_VERSION {
        return Err(HandshakeError::BadVersion);
    }
    let offered: Vec<&str> = get("Sec-WebSocket-Protocol")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if offered.len() > 1 {
        return Err(HandshakeError::ManyProtocols);
    }
    Ok(Accepted {
        accept: derive_accept_key(key.as_bytes()),
        protocol: offered.first().map(|p| p.to_string()),
    })
}

/// The `101` that opens the WebSocket.
fn switching_protocols(a: &Accepted) -> Result<Resp, ApiError> {
    let mut r = http::Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let value = |s: &str| {
        HeaderValue::from_str(s)
            .map_err(|_| ApiError::bad_request(format!("invalid subprotocol {s:?}")))
    };
    let h = r.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert("Sec-WebSocket-Accept", value(&a.accept)?);
    if let Some(p) = &a.protocol {
        h.insert("Sec-WebSocket-Protocol", value(p)?);
    }
    Ok(r)
}

/// Whether output goes out as text messages (clients of API < 1.28). No
/// version prefix means the current version.
pub fn text_messages(version: Option<&str>) -> bool {
    version.is_some_and(|v| compare_versions(v, BINARY_SINCE).is_lt())
}

/// `GET /containers/{id}/attach/ws?logs&stream&detachKeys` (see the module
/// documentation).
pub async fn attach_ws(daemon: &Arc<Daemon>, id: &str, call: Call) -> Result<Resp, ApiError> {
    let q = &call.query;
    let detach =
        DetachKeys::parse(q.get("detachKeys").unwrap_or("")).map_err(ApiError::bad_request)?;
    let accepted = match accept(call.req.headers()) {
        Ok(a) => a,
        Err(refusal) => {
            // dockerd looks the container up (404) and checks its state
            // (409) before it reads the handshake. Nothing is attached for
            // a refused one: an attach dropped at once would pass end of
            // input on to the container.
            let c = daemon.engine.container_inspect(id, false)?;
            if c.state.paused {
                return Err(ContainerError::AttachPaused {
                    reference: id.to_string(),
                }
                .into());
            }
            if c.state.restarting {
                return Err(ContainerError::AttachRestarting {
                    reference: id.to_string(),
                }
                .into());
            }
            return Ok(refusal.into_response());
        }
    };
    let attached = daemon
        .engine
        .container_attach(id, true, true, true, q.bool("logs"), q.bool("stream"))
        .await?;
    let response = switching_protocols(&accepted)?;
    let text = text_messages(call.version.as_deref());
    let mut req = call.req;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let what = format!("attach websocket to {id}");
    tokio::spawn(async move {
        let conn = match on_upgrade.await {
            Ok(u) => TokioIo::new(u),
            Err(e) => {
                crate::debug!("{what}: connection upgrade failed: {e}");
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(conn, Role::Server, Some(ws_config())).await;
        session(ws, attached.stream, attached.tty, detach, text).await;
        crate::debug!("{what}: closed");
    });
    Ok(response)
}

/// Small buffers: an attach carries terminal traffic, and every session
/// holds them for its lifetime. Input messages are bounded (a client
/// cannot make the daemon buffer more than this).
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 << 10)
        .write_buffer_size(8 << 10)
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20))
}

/// How the client's side of a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputEnd {
    /// Close frame, end of connection or a protocol error.
    Closed,
    /// The detach keys were typed.
    Detached,
}

/// Runs one session: output to the client, input to the container, until
/// one of the ends in the module documentation; then a Close frame.
pub async fn session<S>(
    ws: WebSocketStream<S>,
    engine: UnixStream,
    tty: bool,
    detach: DetachKeys,
    text: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut source) = ws.split();
    let (er, ew) = engine.into_split();
    {
        let output = pump_output(&mut sink, er, tty, text);
        let input = pump_input(&mut source, ew, detach);
        tokio::pin!(output, input);
        tokio::select! {
            _ = &mut output => {}
            _ = &mut input => {}
        }
    }
    // Already closed when the client closed first; the error is moot.
    let close = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = sink.send(Message::Close(Some(close))).await;
    let _ = sink.close().await;
}

/// One output message: binary, or a text frame with the bytes as they are
/// (what API < 1.28 clients get from dockerd, UTF-8 or not).
fn message(payload: Vec<u8>, text: bool) -> Message {
    if text {
        Message::Frame(Frame::message(payload, OpCode::Data(Data::Text), true))
    } else {
        Message::Binary(Bytes::from(payload))
    }
}

/// Copies the engine's output to the client until it ends: stdcopy frames
/// without a tty (each payload one message), raw chunks with one.
async fn pump_output<S>(
    sink: &mut SplitSink<WebSocketStream<S>, Message>,
    mut from: OwnedReadHalf,
    tty: bool,
    text: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if tty {
            if sink.send(message(buf[..n].to_vec(), text)).await.is_err() {
                return;
            }
            continue;
        }
        decoder.feed(&buf[..n]);
        loop {
            let frame = match decoder.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                // A stream out of sync cannot be resynchronized.
                Err(e) => {
                    crate::debug!("attach websocket: {e}");
                    return;
                }
            };
            if frame.payload.is_empty() {
                continue;
            }
            if sink.send(message(frame.payload, text)).await.is_err() {
                return;
            }
        }
    }
}

/// Copies the client's data messages to the container's stdin, watching
/// for the detach keys. End of input is passed on (a half-close).
async fn pump_input<S>(
    source: &mut SplitStream<WebSocketStream<S>>,
    mut to: OwnedWriteHalf,
    mut detach: DetachKeys,
) -> InputEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = Vec::new();
    loop {
        let data = match source.next().await {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(Message::Text(t))) => Bytes::from(t),
            // Pings are answered by the library; pongs and raw frames
            // carry nothing for the container.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                let _ = to.shutdown().await;
                return InputEnd::Closed;
            }
        };
        out.clear();
        let detached = detach.feed(&data, &mut out);
        if !out.is_empty() && to.write_all(&out).await.is_err() {
            return InputEnd::Closed;
        }
        if detached {
            return InputEnd::Detached;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api_types::stdcopy::{Stream, encode_frame};

    fn head(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const GOOD: &[(&str, &str)] = &[
        ("Upgrade", "WebSocket"),
        ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];

    #[test]
    fn handshake_is_checked_as_rfc_6455_says() {
        let a = accept(&head(GOOD)).unwrap();
        // The example of RFC 6455 section 1.3.
        assert_eq!(a.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(a.protocol, None);

        let mut one = GOOD.to_vec();
        one.push(("Sec-WebSocket-Protocol", " chat "));
        assert_eq!(
            accept(&head(&one)).unwrap().protocol.as_deref(),
            Some("chat")
        );
        one.push(("Sec-WebSocket-Protocol", "x, y"));
        // Only the first header line counts, as in Go's Header.Get.
        assert!(accept(&head(&one)).is_ok());
        let mut many = GOOD.to_vec();
        many.push(("Sec-WebSocket-Protocol", "a, b"));
        assert_eq!(accept(&head(&many)), Err(HandshakeError::ManyProtocols));

        assert_eq!(accept(&head(&GOOD[1..])), Err(HandshakeError::NotWebSocket));
        assert_eq!(
            accept(&head(&[GOOD[0], GOOD[2], GOOD[3]])),
            Err(HandshakeError::NotWebSocket)
        );
        assert_eq!(
            accept(&head(&[GOOD[0], GOOD[1], GOOD[3]])),
            Err(HandshakeError::NoKey)
        );
        assert_eq!(accept(&head(&GOOD[..3])), Err(HandshakeError::BadVersion));
        let mut v8 = GOOD[..3].to_vec();
        v8.push(("Sec-WebSocket-Version", "8"));
        assert_eq!(accept(&head(&v8)), Err(HandshakeError::BadVersion));
    }

    #[test]
    fn refusals_are_plain_text_400s() {
        let r = HandshakeError::BadVersion.into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["Sec-WebSocket-Version"], "13");
        assert_eq!(r.headers()[CONNECTION], "close");
        assert!(matches!(r.body(), Body::Full(Some(b)) if &b[..] == b"bad protocol version"));
        let r = HandshakeError::ManyProtocols.into_response();
        assert!(matches!(r.body(), Body::Full(None)));
    }

    #[test]
    fn text_messages_before_api_1_28() {
        assert!(!text_messages(None));
        assert!(!text_messages(Some("1.41")));
        assert!(!text_messages(Some("1.28")));
        assert!(text_messages(Some("1.27")));
        assert!(text_messages(Some("1.24")));
    }

    /// A session over an in-memory connection: output frames lose their
    /// stdcopy header, input reaches the engine, Close ends input and the
    /// session answers with a Close of its own.
    #[tokio::test]
    async fn session_unframes_output_and_passes_input() {
        let (client_io, server_io) = tokio::io::duplex(64 << 10);
        let (engine_here, mut engine_far) = UnixStream::pair().unwrap();
        let server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
        let task = tokio::spawn(session(
            server,
            engine_here,
            false,
            DetachKeys::parse("").unwrap(),
            false,
        ));
        let mut client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;

        let mut wire = Vec::new();
        encode_frame(Stream::Stdout, b"out\n", &mut wire);
        encode_frame(Stream::Stderr, b"err\n", &mut wire);
        engine_far.write_all(&wire).await.unwrap();
        let got = [client.next().await, client.next().await];
        let got: Vec<Vec<u8>> = got
            .into_iter()
            .map(|m| m.unwrap().unwrap().into_data().to_vec())
            .collect();
        assert_eq!(got, vec![b"out\n".to_vec(), b"err\n".to_vec()]);

        client.send(Message::Text("typed\n".into())).await.unwrap();
        client
            .send(Message::Binary(Bytes::from_static(b"more")))
            .await
            .unwrap();
        client.close(None).await.unwrap();
        let mut input = Vec::new();
        engine_far.read_to_end(&mut input).await.unwrap();
        assert_eq!(input, b"typed\nmore", "input, then end of input");
        task.await.unwrap();
    }

    #[tokio::test]
    async fn detach_keys_end_the_session_and_output_end_closes_normally() {
        // Detach: the typed bytes before the keys arrive, then a Close.
        let (client_io, server_io) = tokio::io::duplex(64 << 10);
        let (engine_here, mut engine_far) = UnixStream::pair().unwrap();
        let server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
        let task = tokio::spawn(session(
            server,
            engine_here,
            true,
            DetachKeys::parse("ctrl-x").unwrap(),
            true,
        ));
        let mut client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        client
            .send(Message::Binary(Bytes::from_static(b"ls\x18rest")))
            .await
            .unwrap();
        task.await.unwrap();
        match client.next().await {
            Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Normal),
            other => panic!("expected a Close, got {other:?}"),
        }
        let mut input = Vec::new();
        engine_far.read_to_end(&mut input).await.unwrap();
        assert_eq!(input, b"ls");

        // The output ends: the raw tty bytes as a text message, then Close.
        let (client_io, server_io) = tokio::io::duplex(64 << 10);
        let (engine_here, mut engine_far) = UnixStream::pair().unwrap();
        let server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
        let task = tokio::spawn(session(
            server,
            engine_here,
            true,
            DetachKeys::parse("").unwrap(),
            true,
        ));
        let mut client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        engine_far.write_all(b"$ ").await.unwrap();
        drop(engine_far);
        match client.next().await {
            Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), "$ "),
            other => panic!("expected text, got {other:?}"),
        }
        assert!(matches!(client.next().await, Some(Ok(Message::Close(_)))));
        task.await.unwrap();
    }
}
