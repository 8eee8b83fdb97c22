//! Reading the daemon's streams: response bodies chunk by chunk, JSON object streams
//! (events, stats, the progress messages of load/import/pull) and the multiplexed
//! stdout/stderr framing of containers without a TTY.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use berth_api_types::stdcopy::{Decoder, Stream as StdStream};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::error::Error;
use crate::io_err;

/// A response body read as it arrives, chunk by chunk or as an `AsyncRead`.
pub struct BodyStream {
    body: Incoming,
    path: String,
    /// What an `AsyncRead` caller has not taken yet of the last chunk.
    pending: Bytes,
}

impl BodyStream {
    /// Reads the body of `resp` (the response of `path`, named in errors).
    pub fn new(resp: http::Response<Incoming>, path: &str) -> BodyStream {
        BodyStream {
            body: resp.into_body(),
            path: path.to_string(),
            pending: Bytes::new(),
        }
    }

    /// The next chunk of data; `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(source)) => {
                    return Err(Error::Body {
                        path: self.path.clone(),
                        source,
                    });
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                }
            }
        }
    }

    /// Copies the rest of the body to `out`.
    pub async fn copy_to<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        out: &mut W,
    ) -> Result<u64, Error> {
        let mut n = 0;
        while let Some(chunk) = self.next_chunk().await? {
            out.write_all(&chunk)
                .await
                .map_err(io_err("write output"))?;
            n += chunk.len() as u64;
        }
        out.flush().await.map_err(io_err("write output"))?;
        Ok(n)
    }
}

impl AsyncRead for BodyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.pending.is_empty() {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(std::io::Error::other(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending = data;
                    }
                }
            }
        }
        let n = self.pending.len().min(out.remaining());
        let chunk = self.pending.split_to(n);
        out.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

/// A stream of JSON values of type `T`, separated by whitespace or not at all (dockerd
/// ends them with `\n` or `\r\n`).
pub struct JsonStream<T> {
    body: BodyStream,
    buf: Vec<u8>,
    done: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonStream<T> {
    /// Reads the body of `resp` as a JSON stream.
    pub fn new(resp: http::Response<Incoming>, path: &str) -> JsonStream<T> {
        JsonStream {
            body: BodyStream::new(resp, path),
            buf: Vec::new(),
            done: false,
            _t: PhantomData,
        }
    }

    /// The next value; `None` at the end of the body.
    pub async fn next(&mut self) -> Result<Option<T>, Error> {
        loop {
            if let Some(v) = self.take()? {
                return Ok(Some(v));
            }
            if self.done {
                return Ok(None);
            }
            match self.body.next_chunk().await? {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None => {
                    self.done = true;
                    if self.buf.iter().all(u8::is_ascii_whitespace) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    fn take(&mut self) -> Result<Option<T>, Error> {
        next_value(&mut self.buf, self.done).map_err(|source| Error::Decode {
            path: self.body.path.clone(),
            source,
        })
    }
}

/// Takes the first complete JSON value off `buf`. Before the end of the stream (`eof`
/// false) a partial value waits for more bytes; at the end it is an error.
pub fn next_value<T: DeserializeOwned>(
    buf: &mut Vec<u8>,
    eof: bool,
) -> Result<Option<T>, serde_json::Error> {
    let mut it = serde_json::Deserializer::from_slice(buf).into_iter::<T>();
    match it.next() {
        None => {
            buf.clear();
            Ok(None)
        }
        Some(Ok(v)) => {
            let used = it.byte_offset();
            buf.drain(..used);
            Ok(Some(v))
        }
        Some(Err(e)) if e.is_eof() && !eof => Ok(None),
        Some(Err(e)) => Err(e),
    }
}

/// Copies a multiplexed stream from `src` to `stdout` and `stderr` until its end. A
/// system-error frame ends the copy with that message as a daemon error.
pub async fn demux<R, O, E>(src: &mut R, stdout: &mut O, stderr: &mut E) -> Result<(), Error>
where
    R: AsyncRead + Unpin + ?Sized,
    O: AsyncWrite + Unpin + ?Sized,
    E: AsyncWrite + Unpin + ?Sized,
{
    let mut dec = Decoder::with_max_frame(64 << 20);
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = src
            .read(&mut buf)
            .await
            .map_err(io_err("read container output"))?;
        if n == 0 {
            return dec.finish().map_err(Error::Frame);
        }
        dec.feed(&buf[..n]);
        while let Some(frame) = dec.next_frame().map_err(Error::Frame)? {
            match frame.stream {
                StdStream::Stdout | StdStream::Stdin => {
                    stdout
                        .write_all(&frame.payload)
                        .await
                        .map_err(io_err("write stdout"))?;
                    stdout.flush().await.map_err(io_err("write stdout"))?;
                }
                StdStream::Stderr => {
                    stderr
                        .write_all(&frame.payload)
                        .await
                        .map_err(io_err("write stderr"))?;
                    stderr.flush().await.map_err(io_err("write stderr"))?;
                }
                StdStream::SystemError => {
                    return Err(Error::Daemon {
                        status: 500,
                        message: String::from_utf8_lossy(&frame.payload).trim().to_string(),
                    });
                }
            }
        }
    }
}

/// Copies a raw (TTY) stream from `src` to `out` until its end.
pub async fn copy_raw<R, O>(src: &mut R, out: &mut O) -> Result<(), Error>
where
    R: AsyncRead + Unpin + ?Sized,
    O: AsyncWrite + Unpin + ?Sized,
{
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = src
            .read(&mut buf)
            .await
            .map_err(io_err("read container output"))?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])
            .await
            .map_err(io_err("write stdout"))?;
        out.flush().await.map_err(io_err("write stdout"))?;
    }
}

#[cfg(test)]
mod tests {
    use berth_api_types::stdcopy::encode_frame;

    use super::*;

    #[test]
    fn json_values_split_at_any_byte() {
        let wire = b"{\"a\":1}\r\n{\"a\":2}{\"a\":\n3}\n";
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for b in wire {
            buf.push(*b);
            while let Some(v) = next_value::<serde_json::Value>(&mut buf, false).unwrap() {
                got.push(v["a"].as_i64().unwrap());
            }
        }
        assert_eq!(got, [1, 2, 3]);
        assert!(
            next_value::<serde_json::Value>(&mut buf, true)
                .unwrap()
                .is_none()
        );
        let mut partial = b"{\"a\":".to_vec();
        assert!(
            next_value::<serde_json::Value>(&mut partial, false)
                .unwrap()
                .is_none()
        );
        assert!(next_value::<serde_json::Value>(&mut partial, true).is_err());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn demux_splits_streams_across_reads() {
        let mut wire = Vec::new();
        encode_frame(StdStream::Stdout, b"out1\n", &mut wire);
        encode_frame(StdStream::Stderr, b"err\n", &mut wire);
        encode_frame(StdStream::Stdout, b"out2\n", &mut wire);
        // A reader that returns 3 bytes at a time splits headers and payloads.
        let (mut a, mut b) = tokio::io::duplex(3);
        let writer = tokio::spawn(async move {
            b.write_all(&wire).await.unwrap();
        });
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux(&mut a, &mut out, &mut err).await.unwrap();
        writer.await.unwrap();
        assert_eq!(out, b"out1\nout2\n");
        assert_eq!(err, b"err\n");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn demux_reports_system_errors_and_truncation() {
        let mut wire = Vec::new();
        encode_frame(StdStream::SystemError, b"boom\n", &mut wire);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let e = demux(&mut wire.as_slice(), &mut out, &mut err)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "Error response from daemon: boom");
        let e = demux(
            &mut &[1u8, 0, 0, 0, 0, 0, 0, 9, b'x'][..],
            &mut out,
            &mut err,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Frame(_)), "{e}");
    }
}
