//! Response bodies (small buffers, or a blob streamed from disk) and
//! helpers to consume request bodies without holding a blob in memory.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use berth_content::ReaderAt;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::sync::mpsc;

/// Every response body of the server.
pub type Body = BoxBody<Bytes, io::Error>;

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Size of one read from a blob file. Large reads keep the disk (or page
/// cache) the bottleneck rather than per-chunk overhead.
const READ_CHUNK: usize = 1 << 20;
/// Chunks read ahead of the socket.
const READ_AHEAD: usize = 4;

/// Streams `len` bytes of a blob starting at `start`. A blocking thread
/// reads with pread(2) and hands chunks over a bounded channel, so memory
/// stays at a few chunks whatever the blob's size; the reader stops when
/// the client goes away (the receiver is dropped).
pub fn blob_range(reader: ReaderAt, start: u64, len: u64) -> Body {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut offset = start;
        let end = start + len;
        while offset < end {
            let want = usize::try_from((end - offset).min(READ_CHUNK as u64)).unwrap_or(READ_CHUNK);
            let mut buf = vec![0u8; want];
            let mut filled = 0;
            while filled < want {
                match reader.read_at(&mut buf[filled..], offset + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
            if filled < want {
                // The blob shrank under us: committed blobs never change, so
                // this is damage on disk. Ending the body early makes hyper
                // abort the connection instead of sending a short blob as whole.
                let _ = tx.blocking_send(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob file ended before its size",
                )));
                return;
            }
            buf.truncate(filled);
            offset += filled as u64;
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return;
            }
        }
    });
    ChannelBody { rx, remaining: len }.boxed()
}

struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    remaining: u64,
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.remaining = self.remaining.saturating_sub(b.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("read request body: {0}")]
    Transport(#[source] hyper::Error),
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
}

/// Reads a whole request body of at most `limit` bytes (manifests, token
/// forms).
pub async fn read_limited(mut body: Incoming, limit: usize) -> Result<Bytes, ReadError> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ReadError::Transport)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(ReadError::TooLarge(limit));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}
