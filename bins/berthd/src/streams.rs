//! Adapters between HTTP bodies and the engine's blocking readers and
//! writers: a request body as a tokio `AsyncRead` (the engine wraps it in
//! its `ReadBridge`), and a `std::io::Write` that feeds a response body.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use hyper::body::{Body as _, Incoming};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

/// A request body as a byte stream (trailers are ignored).
///
/// Dropped before the end (the handler refused the request after reading
/// part of it, or none), the rest of the body is read and thrown away in
/// the background, up to [`DRAIN_LIMIT`]: a client still sending (docker
/// import, load, cp) then gets to read the error answer instead of a
/// broken pipe, as with dockerd.
pub struct IncomingReader {
    body: Option<Incoming>,
    buf: Bytes,
    done: bool,
}

/// The most a refused request's body is drained before the connection is
/// dropped instead.
pub const DRAIN_LIMIT: u64 = 1 << 30;

impl IncomingReader {
    pub fn new(body: Incoming) -> IncomingReader {
        IncomingReader {
            body: Some(body),
            buf: Bytes::new(),
            done: false,
        }
    }
}

impl Drop for IncomingReader {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(mut body) = self.body.take() else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let mut seen: u64 = 0;
            let drain = async {
                while let Some(Ok(frame)) =
                    std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
                {
                    if let Ok(d) = frame.into_data() {
                        seen += d.len() as u64;
                        if seen > DRAIN_LIMIT {
                            return;
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(60), drain).await;
        });
    }
}

impl AsyncRead for IncomingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.buf.is_empty() {
                let n = self.buf.len().min(out.remaining());
                out.put_slice(&self.buf[..n]);
                self.buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            let Some(body) = self.body.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            match ready!(Pin::new(body).poll_frame(cx)) {
                None => {
                    self.done = true;
                    return Poll::Ready(Ok(()));
                }
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf = data;
                    }
                }
            }
        }
    }
}

/// How much a [`ChunkWriter`] gathers before it sends a chunk.
const CHUNK: usize = 64 << 10;

/// A blocking writer whose bytes become chunks of a response body. Use it
/// on a blocking thread only (it waits for the client to take chunks), and
/// flush it at the end: bytes still buffered when it is dropped are lost.
/// Writing fails with `BrokenPipe` once the client has gone.
pub struct ChunkWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    /// The writer and the receiver to build the body from.
    pub fn new() -> (ChunkWriter, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(crate::body::CHANNEL_DEPTH);
        (
            ChunkWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            },
            rx,
        )
    }

    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}
