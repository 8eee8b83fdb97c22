//! Connections to the daemon: a unix or TCP stream, TLS over TCP when the client has a
//! [`TlsConnector`], and an HTTP/1.1 client on it (hyper's `client::conn::http1`),
//! driven by a task of the caller's tokio runtime.
//!
//! Every connection is made with upgrades enabled, so any response may be a
//! `101 Switching Protocols` that hands the raw stream to the caller (attach, exec start).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;

use crate::host::Host;
use crate::tls::{self, TlsConnector, TlsFailure};

/// The body type of every request.
pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// A connected stream of any kind.
pub enum Stream {
    Unix(UnixStream),
    Tcp(Recording<TcpStream>),
    Tls(Box<TlsStream<Recording<TcpStream>>>),
}

/// How many of the daemon's first bytes a TCP connection keeps.
const HEAD_LEN: usize = 128;

/// The first bytes the daemon sent on a TCP connection, kept for the messages of an
/// answer that is not what was asked for: a plain-HTTP daemon answering a TLS
/// handshake, a TLS daemon answering plain HTTP (Go's net/http tells both apart by
/// these bytes, and the docker CLI prints them).
#[derive(Debug, Clone, Default)]
pub struct Head(Arc<Mutex<Vec<u8>>>);

impl Head {
    /// The bytes kept so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The first line the daemon sent when it is not an HTTP status line (Go's
    /// `malformed HTTP response`: a line without a space), `\r\n` trimmed.
    pub fn malformed_line(&self) -> Option<Vec<u8>> {
        let head = self.bytes();
        if head.is_empty() {
            return None;
        }
        let line = head.split(|b| *b == b'\n').next().unwrap_or(&head);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (!line.contains(&b' ')).then(|| line.to_vec())
    }
}

/// Why a connection could not be opened; the client words it with the request.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The socket could not be reached.
    #[error("connect: {0}")]
    Connect(#[source] io::Error),
    /// The TLS handshake failed.
    #[error("tls handshake: {0}")]
    Tls(#[source] TlsFailure),
    /// The HTTP/1.1 connection could not be set up.
    #[error("http handshake: {0}")]
    Http(#[source] hyper::Error),
}

/// A stream that keeps the first [`HEAD_LEN`] bytes it reads in a [`Head`].
pub struct Recording<S> {
    inner: S,
    head: Head,
    /// Set once the head is complete: later reads take no lock.
    full: bool,
}

impl<S> Recording<S> {
    fn new(inner: S, head: Head) -> Recording<S> {
        Recording {
            inner,
            head,
            full: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        let new = &buf.filled()[before..];
        if !this.full && !new.is_empty() {
            let mut head = this.head.0.lock().unwrap_or_else(PoisonError::into_inner);
            let n = new.len().min(HEAD_LEN - head.len());
            head.extend_from_slice(&new[..n]);
            this.full = head.len() >= HEAD_LEN;
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl Stream {
    /// Connects to `host`, with a TLS handshake over TCP when `tls` is given (the
    /// docker CLI never puts TLS on a unix socket). A TCP stream keeps its first bytes
    /// in `head`.
    pub async fn connect(
        host: &Host,
        tls: Option<&TlsConnector>,
        head: &Head,
    ) -> Result<Stream, OpenError> {
        match host {
            Host::Unix(path) => UnixStream::connect(path)
                .await
                .map(Stream::Unix)
                .map_err(OpenError::Connect),
            Host::Tcp(addr) => {
                let tcp = TcpStream::connect(addr.as_str())
                    .await
                    .map_err(OpenError::Connect)?;
                // Interactive streams send single keystrokes.
                let _ = tcp.set_nodelay(true);
                let tcp = Recording::new(tcp, head.clone());
                let Some(tls) = tls else {
                    return Ok(Stream::Tcp(tcp));
                };
                let name = tls::server_name(addr).map_err(OpenError::Tls)?;
                tls.inner()
                    .connect(name, tcp)
                    .await
                    .map(|s| Stream::Tls(Box::new(s)))
                    .map_err(|err| OpenError::Tls(TlsFailure::of_handshake(err, &head.bytes())))
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => match Pin::new(s).poll_read(cx, buf) {
                // A daemon that closes the socket without close_notify (RFC 8446
                // section 6.1) ends the stream, as Go's crypto/tls reads it; HTTP's
                // own framing still catches a cut response.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    /// Half-closes the stream (`shutdown(SHUT_WR)`; over TLS a close_notify first, as
    /// Go's `tls.Conn.CloseWrite`): after stdin's end the daemon still sends the
    /// container's output.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Opens a connection to `host` and spawns the task that drives it. The task ends when
/// the sender is dropped and the last response is read (or the stream upgraded). The
/// first bytes the daemon sends on a TCP connection go to `head`.
pub async fn open(
    host: &Host,
    tls: Option<&TlsConnector>,
    head: &Head,
) -> Result<SendRequest<Body>, OpenError> {
    let stream = Stream::connect(host, tls, head).await?;
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(OpenError::Http)?;
    tokio::spawn(async move {
        // A connection error surfaces in the response future of the request that
        // was in flight; nothing is left to report here.
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> Head {
        let h = Head::default();
        h.0.lock().unwrap().extend_from_slice(bytes);
        h
    }

    #[test]
    fn malformed_lines_are_those_without_a_space() {
        assert_eq!(Head::default().malformed_line(), None);
        let alert = b"\x15\x03\x03\x00\x02\x022";
        assert_eq!(head(alert).malformed_line().as_deref(), Some(&alert[..]));
        assert_eq!(head(b"HTTP/1.1 200 OK\r\n").malformed_line(), None);
        assert_eq!(
            head(b"garbage\r\nmore stuff").malformed_line().as_deref(),
            Some(&b"garbage"[..])
        );
    }
}
