//! The frames of an attach or exec stream.
//!
//! After its `{"ok":true...}` line, the shim sends a stream connection
//! frames: an 8-byte header `[stream u8][0, 0, 0][length u32 big-endian]`
//! followed by `length` bytes of payload. This is the layout of Docker's
//! stdcopy, so the daemon can forward frames to a non-tty client as they
//! are. Stream 1 is stdout (all output of a terminal process), 2 stderr, and
//! 3 the last frame of an exec stream: an [`crate::ExecExit`] JSON payload.
//! The shim closes the connection after the last frame.

use std::io::Read;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 8;

/// The largest payload a reader accepts; the shim sends at most 32 KiB.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Stream {
    Stdout = 1,
    Stderr = 2,
    /// The exec process's exit code ([`crate::ExecExit`] JSON).
    Exit = 3,
}

impl Stream {
    /// The stream of header byte `b`.
    pub fn from_byte(b: u8) -> Option<Stream> {
        match b {
            1 => Some(Stream::Stdout),
            2 => Some(Stream::Stderr),
            3 => Some(Stream::Exit),
            _ => None,
        }
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub stream: Stream,
    pub payload: Vec<u8>,
}

/// A malformed frame, or the stream failing under it.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("read frame: {0}")]
    Io(#[source] std::io::Error),
    #[error("frame header names unknown stream {0}")]
    UnknownStream(u8),
    #[error("frame header has nonzero padding {0:?}")]
    Padding([u8; 3]),
    #[error("frame payload of {0} bytes exceeds the {MAX_PAYLOAD}-byte limit")]
    TooLarge(usize),
    #[error("stream ended inside a frame")]
    Truncated,
}

/// The header of a frame of `len` payload bytes.
pub fn encode_header(stream: Stream, len: usize) -> [u8; HEADER_LEN] {
    let len = u32::try_from(len).expect("frame payload fits in u32");
    let l = len.to_be_bytes();
    [stream as u8, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// Appends a whole frame to `out`.
pub fn encode_frame(stream: Stream, payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&encode_header(stream, payload.len()));
    out.extend_from_slice(payload);
}

/// The stream and payload length of a header.
pub fn decode_header(h: &[u8; HEADER_LEN]) -> Result<(Stream, usize), FrameError> {
    let stream = Stream::from_byte(h[0]).ok_or(FrameError::UnknownStream(h[0]))?;
    if h[1..4] != [0, 0, 0] {
        return Err(FrameError::Padding([h[1], h[2], h[3]]));
    }
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(FrameError::TooLarge(len));
    }
    Ok((stream, len))
}

/// Reads the next frame; `None` when the stream ends between frames (the
/// shim closed it).
pub fn read_frame(r: &mut impl Read) -> Result<Option<Frame>, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let (stream, len) = decode_header(&header)?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            FrameError::Truncated
        } else {
            FrameError::Io(e)
        }
    })?;
    Ok(Some(Frame { stream, payload }))
}

/// An incremental decoder for callers that read the stream themselves
/// (non-blocking sockets, async runtimes): [`FrameDecoder::push`] the bytes
/// read, then take frames with [`FrameDecoder::next_frame`].
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` until one has fully arrived.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(header) = self.buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let (stream, len) = decode_header(header)?;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = self.buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.buf.drain(..HEADER_LEN + len);
        Ok(Some(Frame { stream, payload }))
    }

    /// Bytes held that do not yet form a frame; nonzero at the end of the
    /// stream means it was cut inside a frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_stdcopy() {
        assert_eq!(
            encode_header(Stream::Stderr, 0x0102_0304),
            [2, 0, 0, 0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn frames_round_trip_through_reader_and_decoder() {
        let mut wire = Vec::new();
        encode_frame(Stream::Stdout, b"hello\n", &mut wire);
        encode_frame(Stream::Stderr, b"", &mut wire);
        encode_frame(Stream::Exit, br#"{"exit_code":3}"#, &mut wire);

        let mut r = &wire[..];
        let mut seen = Vec::new();
        while let Some(f) = read_frame(&mut r).unwrap() {
            seen.push(f);
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].stream, Stream::Stdout);
        assert_eq!(seen[0].payload, b"hello\n");
        assert_eq!(seen[1].payload, b"");
        assert_eq!(seen[2].stream, Stream::Exit);

        // Byte by byte through the incremental decoder.
        let mut d = FrameDecoder::new();
        let mut decoded = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame().unwrap() {
                decoded.push(f);
            }
        }
        assert_eq!(decoded, seen);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn bad_headers_are_rejected() {
        assert!(matches!(
            decode_header(&[9, 0, 0, 0, 0, 0, 0, 1]),
            Err(FrameError::UnknownStream(9))
        ));
        assert!(matches!(
            decode_header(&[1, 0, 1, 0, 0, 0, 0, 1]),
            Err(FrameError::Padding(_))
        ));
        assert!(matches!(
            decode_header(&[1, 0, 0, 0, 0x7f, 0, 0, 0]),
            Err(FrameError::TooLarge(_))
        ));
        let mut cut = &[1u8, 0, 0, 0, 0, 0, 0, 5, b'a'][..];
        assert!(matches!(read_frame(&mut cut), Err(FrameError::Truncated)));
    }
}
