//! Connections to the daemon: a unix or TCP stream with an HTTP/1.1 client on it
//! (hyper's `client::conn::http1`), driven by a task of the caller's tokio runtime.
//!
//! Every connection is made with upgrades enabled, so any response may be a
//! `101 Switching Protocols` that hands the raw stream to the caller (attach, exec start).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use crate::error::Error;
use crate::host::Host;

/// The body type of every request.
pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// A connected stream of either kind.
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    /// Connects to `host`; a failure is the "Cannot connect" error.
    pub async fn connect(host: &Host) -> Result<Stream, Error> {
        let connected = match host {
            Host::Unix(path) => UnixStream::connect(path).await.map(Stream::Unix),
            Host::Tcp(addr) => TcpStream::connect(addr.as_str()).await.map(|s| {
                // Interactive streams send single keystrokes.
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }),
        };
        connected.map_err(|source| Error::Connect {
            host: host.to_string(),
            source,
        })
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
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    /// Half-closes the stream (`shutdown(SHUT_WR)`): after stdin's end the daemon
    /// still sends the container's output.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Opens a connection to `host` and spawns the task that drives it. The task ends when
/// the sender is dropped and the last response is read (or the stream upgraded).
pub async fn open(host: &Host) -> Result<SendRequest<Body>, Error> {
    let stream = Stream::connect(host).await?;
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|source| Error::Http {
            method: "CONNECT".to_string(),
            path: host.to_string(),
            source,
        })?;
    tokio::spawn(async move {
        // A connection error surfaces in the response future of the request that
        // was in flight; nothing is left to report here.
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}
