//! Hijacked connections for attach and exec start.
//!
//! A client asking for `Connection: Upgrade` / `Upgrade: tcp` gets
//! `101` with `Content-Type: application/vnd.docker.raw-stream`; the
//! connection then carries the container's output to the client (stdcopy
//! frames without a tty, raw bytes with one) and the client's input to the
//! container. The engine hands over its side as a unix socket with the same
//! bytes; this module splices the two:
//!
//! - output ends (the process exited): the connection is closed;
//! - the client half-closes: end of input is passed on (the engine closes
//!   the process's stdin when it was started with StdinOnce) and output
//!   keeps flowing until the process ends;
//! - the client types the detach keys (ctrl-p ctrl-q by default): the
//!   connection is closed and the process keeps running.
//!
//! A client that does not ask for the upgrade (older ones) gets `200` with
//! the output as a streamed body; its input cannot reach the process, so
//! the engine is told end-of-input at once.

use http::header::{CONNECTION, CONTENT_TYPE, HeaderMap, HeaderValue, UPGRADE};
use http::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::api::Resp;
use crate::body::Body;

/// The media type of attach and exec streams (API 1.41 uses it for both
/// framed and raw streams).
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";

/// The keys that detach a client when none are configured.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Whether the request asks to take over the connection.
pub fn wants_upgrade(h: &HeaderMap) -> bool {
    let has_token = |name, token: &str| {
        h.get_all(name).iter().any(|v| {
            v.to_str()
                .unwrap_or("")
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    };
    has_token(CONNECTION, "upgrade") && h.contains_key(UPGRADE)
}

/// A detach key sequence being watched for in the client's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys {
    seq: Vec<u8>,
    /// How many bytes of `seq` the input has matched so far (held back).
    matched: usize,
}

impl DetachKeys {
    /// docker's syntax: comma-separated keys, each a single character or
    /// `ctrl-<c>` with c one of a-z @ [ \ ] ^ _.
    pub fn parse(s: &str) -> Result<DetachKeys, String> {
        let s = if s.is_empty() { DEFAULT_DETACH_KEYS } else { s };
        let mut seq = Vec::new();
        for key in s.split(',') {
            if key.len() == 1 {
                seq.push(key.as_bytes()[0]);
                continue;
            }
            let lower = key.to_ascii_lowercase();
            let c = lower
                .strip_prefix("ctrl-")
                .filter(|c| c.len() == 1)
                .map(|c| c.as_bytes()[0])
                .ok_or_else(|| format!("Invalid detach keys ({s}) provided"))?;
            seq.push(match c {
                b'a'..=b'z' => c - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(format!("Invalid detach keys ({s}) provided")),
            });
        }
        Ok(DetachKeys { seq, matched: 0 })
    }

    /// A sequence already in bytes (an exec's, as the engine keeps it);
    /// empty means the default.
    pub fn from_bytes(seq: Vec<u8>) -> DetachKeys {
        if seq.is_empty() {
            return DetachKeys {
                seq: vec![16, 17],
                matched: 0,
            };
        }
        DetachKeys { seq, matched: 0 }
    }

    /// Feeds client input: bytes to pass on are appended to `out`; true
    /// when the whole sequence was typed (the rest of the input is
    /// dropped). Bytes that may start the sequence are held back until it
    /// is clear they do not.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if b == self.seq[self.matched] {
                self.matched += 1;
                if self.matched == self.seq.len() {
                    self.matched = 0;
                    return true;
                }
                continue;
            }
            // A mismatch releases what was held, then this byte may start
            // the sequence afresh.
            out.extend_from_slice(&self.seq[..self.matched]);
            self.matched = 0;
            if b == self.seq[0] {
                self.matched = 1;
                if self.seq.len() == 1 {
                    self.matched = 0;
                    return true;
                }
            } else {
                out.push(b);
            }
        }
        false
    }
}

/// The `101` answer that hands the connection over.
pub fn upgrade_response() -> Resp {
    let mut r = http::Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    // dockerd's status line is `101 UPGRADED`; clients only look at the code.
    r.extensions_mut()
        .insert(hyper::ext::ReasonPhrase::from_static(b"UPGRADED"));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(RAW_STREAM));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("tcp"));
    r
}

/// Answers the request `req` (its head; the body was read or is empty)
/// with the engine's stream: hijacked when the client asked for it, else
/// a streamed body of the output. `stdin` tells whether the client's input
/// is wanted.
pub fn respond(
    mut req: Request<()>,
    engine: UnixStream,
    stdin: bool,
    detach: DetachKeys,
    what: String,
) -> Resp {
    if wants_upgrade(req.headers()) {
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => splice(TokioIo::new(upgraded), engine, stdin, detach).await,
                Err(e) => crate::debug!("{what}: connection upgrade failed: {e}"),
            }
        });
        return upgrade_response();
    }
    let (tx, body) = Body::channel();
    tokio::spawn(async move {
        let (mut er, mut ew) = engine.into_split();
        let _ = ew.shutdown().await;
        let mut buf = vec![0u8; 32 << 10];
        loop {
            let n = tokio::select! {
                r = er.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
                _ = tx.closed() => break,
            };
            if tx.send(buf[..n].to_vec()).await.is_err() {
                break;
            }
        }
    });
    let mut r = http::Response::new(body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(RAW_STREAM));
    r
}

/// Answers with `101` at once and starts the stream after the upgrade:
/// `start` yields the engine's stream (with whether input is wanted and
/// the detach keys), or bytes to write to the client before closing.
pub fn respond_later<F>(mut req: Request<()>, start: F) -> Resp
where
    F: std::future::Future<Output = Result<(UnixStream, bool, DetachKeys), Vec<u8>>>
        + Send
        + 'static,
{
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => TokioIo::new(u),
            Err(e) => {
                crate::debug!("connection upgrade failed: {e}");
                return;
            }
        };
        match start.await {
            Ok((engine, stdin, keys)) => splice(upgraded, engine, stdin, keys).await,
            Err(msg) => {
                let mut conn = upgraded;
                let _ = conn.write_all(&msg).await;
                let _ = conn.shutdown().await;
            }
        }
    });
    upgrade_response()
}

/// Splices a hijacked client connection and the engine's stream (see the
/// module documentation for when it ends).
pub async fn splice<C>(client: C, engine: UnixStream, stdin: bool, mut detach: DetachKeys)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut er, mut ew) = engine.into_split();
    let output = async {
        let _ = tokio::io::copy(&mut er, &mut cw).await;
        let _ = cw.shutdown().await;
    };
    // Resolves to true when the client detached.
    let input = async {
        let mut buf = vec![0u8; 8 << 10];
        let mut out = Vec::with_capacity(buf.len());
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = ew.shutdown().await;
                    return false;
                }
                Ok(n) => n,
            };
            if !stdin {
                continue;
            }
            out.clear();
            let detached = detach.feed(&buf[..n], &mut out);
            if !out.is_empty() && ew.write_all(&out).await.is_err() {
                return false;
            }
            if detached {
                return true;
            }
        }
    };
    tokio::pin!(output);
    tokio::pin!(input);
    tokio::select! {
        _ = &mut output => {}
        detached = &mut input => {
            if !detached {
                output.await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(keys: &str, chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut d = DetachKeys::parse(keys).unwrap();
        let mut out = Vec::new();
        for c in chunks {
            if d.feed(c, &mut out) {
                return (out, true);
            }
        }
        (out, false)
    }

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(DetachKeys::parse("").unwrap().seq, vec![16, 17]);
        assert_eq!(
            DetachKeys::parse("ctrl-a,x,ctrl-@,ctrl-_").unwrap().seq,
            vec![1, b'x', 0, 31]
        );
        assert_eq!(DetachKeys::parse("CTRL-Z").unwrap().seq, vec![26]);
        assert_eq!(DetachKeys::from_bytes(Vec::new()).seq, vec![16, 17]);
        assert!(DetachKeys::parse("ctrl-1").is_err());
        assert!(DetachKeys::parse("alt-x").is_err());
    }

    #[test]
    fn detach_sequence_is_caught_across_reads_and_held_back() {
        assert_eq!(
            run("", &[b"ab", &[16], &[17], b"cd"]),
            (b"ab".to_vec(), true)
        );
        // A false start is released with the byte that broke it.
        assert_eq!(run("", &[&[16], b"x"]), (vec![16, b'x'], false));
        // ctrl-p ctrl-p ctrl-q: the first ctrl-p passes, then detach.
        assert_eq!(run("", &[&[16, 16, 17]]), (vec![16], true));
        assert_eq!(run("ctrl-x", &[b"ab\x18"]), (b"ab".to_vec(), true));
        assert_eq!(run("", &[b"plain"]), (b"plain".to_vec(), false));
    }

    #[test]
    fn upgrade_needs_both_headers() {
        let mut h = HeaderMap::new();
        assert!(!wants_upgrade(&h));
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        assert!(!wants_upgrade(&h));
        h.insert(UPGRADE, HeaderValue::from_static("tcp"));
        assert!(wants_upgrade(&h));
        let r = upgrade_response();
        assert_eq!(r.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(r.headers()[CONTENT_TYPE], RAW_STREAM);
    }

    #[tokio::test]
    async fn splice_passes_half_close_and_ends_with_the_output() {
        let (client, server_side) = tokio::io::duplex(1024);
        let (engine_here, mut engine_far) = UnixStream::pair().unwrap();
        let task = tokio::spawn(splice(
            server_side,
            engine_here,
            true,
            DetachKeys::parse("").unwrap(),
        ));
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(b"input").await.unwrap();
        cw.shutdown().await.unwrap();
        let mut got = Vec::new();
        engine_far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"input", "input then end-of-input");
        engine_far.write_all(b"output").await.unwrap();
        drop(engine_far);
        let mut out = Vec::new();
        cr.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"output");
        task.await.unwrap();
    }

    #[tokio::test]
    async fn splice_detaches_without_ending_input() {
        let (client, server_side) = tokio::io::duplex(1024);
        let (engine_here, mut engine_far) = UnixStream::pair().unwrap();
        let task = tokio::spawn(splice(
            server_side,
            engine_here,
            true,
            DetachKeys::parse("").unwrap(),
        ));
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(b"ls\n\x10\x11").await.unwrap();
        task.await.unwrap();
        let mut out = Vec::new();
        cr.read_to_end(&mut out).await.unwrap();
        assert!(out.is_empty());
        let mut got = Vec::new();
        engine_far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"ls\n");
    }
}
