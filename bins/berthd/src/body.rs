//! Response bodies: a whole buffer, or a channel the handler keeps writing
//! to after the head went out (events, logs -f, wait, JSON-message streams).
//!
//! A channel body's head is sent as soon as the handler returns, before the
//! first chunk: clients such as `docker run` block on wait's response head
//! before they start the container.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::mpsc;

/// How many chunks a streaming handler may queue before it waits for the
/// client to read.
pub const CHANNEL_DEPTH: usize = 16;

pub enum Body {
    Full(Option<Bytes>),
    /// `first`, then whatever the receiver yields.
    Channel {
        first: Option<Bytes>,
        rx: mpsc::Receiver<Bytes>,
    },
}

impl Body {
    pub fn empty() -> Body {
        Body::Full(None)
    }

    pub fn full(b: impl Into<Bytes>) -> Body {
        let b = b.into();
        Body::Full((!b.is_empty()).then_some(b))
    }

    /// A streaming body and the sender that feeds it; the body ends when
    /// every sender is dropped.
    pub fn channel() -> (Sender, Body) {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        (Sender(tx), Body::Channel { first: None, rx })
    }

    /// A streaming body that starts with `first` (already received from
    /// `rx`, e.g. to decide on the status before answering).
    pub fn resume(first: Bytes, rx: mpsc::Receiver<Bytes>) -> Body {
        Body::Channel {
            first: Some(first),
            rx,
        }
    }
}

/// The writing end of a streaming body.
#[derive(Clone)]
pub struct Sender(mpsc::Sender<Bytes>);

/// The client went away; the producer should stop.
#[derive(Debug)]
pub struct Gone;

impl Sender {
    pub async fn send(&self, chunk: impl Into<Bytes>) -> Result<(), Gone> {
        let chunk = chunk.into();
        if chunk.is_empty() {
            return Ok(());
        }
        self.0.send(chunk).await.map_err(|_| Gone)
    }

    /// Sends a value as one line of JSON (events, JSON-message streams).
    pub async fn send_json_line(&self, v: &impl serde::Serialize) -> Result<(), Gone> {
        let mut line = serde_json::to_vec(v).unwrap_or_default();
        line.push(b'\n');
        self.send(line).await
    }

    /// Resolves when the client has gone away (the body was dropped).
    pub async fn closed(&self) {
        self.0.closed().await
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Channel { first, rx } => match first.take() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None => rx.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b)))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Channel { .. } => SizeHint::default(),
        }
    }
}
