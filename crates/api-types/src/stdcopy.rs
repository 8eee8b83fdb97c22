//! Docker's multiplexed stream framing ("stdcopy"), used by attach, exec and logs when
//! the container has no TTY: each frame is an 8-byte header `[stream, 0, 0, 0, len as
//! u32 big-endian]` followed by `len` bytes of payload.
//!
//! [`encode_frame`] writes frames; [`Decoder`] is incremental: feed it whatever a read
//! returned and take the frames that are complete, so a frame may be split across reads.

use std::io;

/// The length of a frame header.
pub const HEADER_LEN: usize = 8;

/// Which stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
    /// An error of the daemon, not output of the process (the payload is its message).
    SystemError = 3,
}

impl Stream {
    /// The header byte.
    pub fn as_byte(self) -> u8 {
        self as u8
    }

    /// The stream of a header byte.
    pub fn from_byte(b: u8) -> Option<Stream> {
        match b {
            0 => Some(Stream::Stdin),
            1 => Some(Stream::Stdout),
            2 => Some(Stream::Stderr),
            3 => Some(Stream::SystemError),
            _ => None,
        }
    }
}

/// The header of a frame of `len` bytes on `stream`.
pub fn encode_header(stream: Stream, len: u32) -> [u8; HEADER_LEN] {
    let l = len.to_be_bytes();
    [stream.as_byte(), 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// Appends `payload` to `out` as frames of `stream`. A payload longer than `u32::MAX`
/// becomes several frames; an empty payload writes nothing (an empty frame carries
/// no data and readers skip it).
pub fn encode_frame(stream: Stream, payload: &[u8], out: &mut Vec<u8>) {
    for chunk in payload.chunks(u32::MAX as usize) {
        // chunks() never yields more than u32::MAX bytes.
        let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        out.reserve(HEADER_LEN + chunk.len());
        out.extend_from_slice(&encode_header(stream, len));
        out.extend_from_slice(chunk);
    }
}

/// Writes `payload` to `w` as frames of `stream` (see [`encode_frame`]).
pub fn write_frame<W: io::Write + ?Sized>(
    w: &mut W,
    stream: Stream,
    payload: &[u8],
) -> io::Result<()> {
    for chunk in payload.chunks(u32::MAX as usize) {
        let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        w.write_all(&encode_header(stream, len))?;
        w.write_all(chunk)?;
    }
    Ok(())
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub stream: Stream,
    pub payload: Vec<u8>,
}

/// Errors of [`Decoder`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("decode stream frame: unrecognized stream {0}")]
    UnknownStream(u8),
    #[error("decode stream frame: frame of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: u32, max: u32 },
    #[error("decode stream frame: stream ended inside a frame ({buffered} bytes left over)")]
    Truncated { buffered: usize },
}

/// An incremental frame decoder.
///
/// Lifecycle: [`Decoder::feed`] bytes as they arrive, then call [`Decoder::next_frame`]
/// until it returns `Ok(None)`; at end of stream, [`Decoder::finish`] reports a partial
/// frame left over. After an error the decoder is unusable (the stream is out of sync).
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf` (compacted lazily).
    pos: usize,
    max_frame: u32,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder accepting frames of any length.
    pub fn new() -> Decoder {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            max_frame: u32::MAX,
        }
    }

    /// A decoder refusing frames longer than `max` bytes, so a bad peer cannot make it
    /// buffer up to 4 GiB.
    pub fn with_max_frame(max: u32) -> Decoder {
        Decoder {
            max_frame: max,
            ..Decoder::new()
        }
    }

    /// Adds bytes read from the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, or `None` until more bytes are fed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        loop {
            let avail = &self.buf[self.pos..];
            if avail.len() < HEADER_LEN {
                return Ok(None);
            }
            let stream = Stream::from_byte(avail[0]).ok_or(DecodeError::UnknownStream(avail[0]))?;
            let len = u32::from_be_bytes([avail[4], avail[5], avail[6], avail[7]]);
            if len > self.max_frame {
                return Err(DecodeError::TooLarge {
                    len,
                    max: self.max_frame,
                });
            }
            let end = HEADER_LEN + len as usize;
            if avail.len() < end {
                return Ok(None);
            }
            let payload = avail[HEADER_LEN..end].to_vec();
            self.pos += end;
            if !payload.is_empty() {
                return Ok(Some(Frame { stream, payload }));
            }
        }
    }

    /// Feeds `bytes` and returns every frame completed by them.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, DecodeError> {
        self.feed(bytes);
        let mut frames = Vec::new();
        while let Some(f) = self.next_frame()? {
            frames.push(f);
        }
        Ok(frames)
    }

    /// Bytes received but not yet returned in a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Ends the stream: an error if a partial frame is left.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.buffered() {
            0 => Ok(()),
            buffered => Err(DecodeError::Truncated { buffered }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: Stream, p: &[u8]) -> Frame {
        Frame {
            stream,
            payload: p.to_vec(),
        }
    }

    #[test]
    fn header_is_stream_padding_and_big_endian_length() {
        assert_eq!(
            encode_header(Stream::Stderr, 0x0102_0304),
            [2, 0, 0, 0, 1, 2, 3, 4]
        );
        let mut out = Vec::new();
        encode_frame(Stream::Stdout, b"hi\n", &mut out);
        assert_eq!(out, b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n");
        let mut w = Vec::new();
        write_frame(&mut w, Stream::Stdout, b"hi\n").unwrap();
        assert_eq!(w, out);
        out.clear();
        encode_frame(Stream::Stdout, b"", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn decodes_frames_split_at_every_byte() {
        let mut wire = Vec::new();
        encode_frame(Stream::Stdout, b"hello\n", &mut wire);
        encode_frame(Stream::Stderr, b"oops\n", &mut wire);
        encode_frame(Stream::SystemError, b"exec failed", &mut wire);
        let want = vec![
            frame(Stream::Stdout, b"hello\n"),
            frame(Stream::Stderr, b"oops\n"),
            frame(Stream::SystemError, b"exec failed"),
        ];
        // Every split into two reads, then one byte at a time.
        for cut in 0..=wire.len() {
            let mut d = Decoder::new();
            let mut got = d.decode(&wire[..cut]).unwrap();
            got.extend(d.decode(&wire[cut..]).unwrap());
            assert_eq!(got, want, "cut at {cut}");
            d.finish().unwrap();
        }
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for b in &wire {
            got.extend(d.decode(std::slice::from_ref(b)).unwrap());
        }
        assert_eq!(got, want);
    }

    #[test]
    fn reports_partial_frames_and_bad_headers() {
        let mut d = Decoder::new();
        assert!(
            d.decode(b"\x01\x00\x00\x00\x00\x00\x00\x05ab")
                .unwrap()
                .is_empty()
        );
        assert_eq!(d.buffered(), 10);
        assert_eq!(d.finish(), Err(DecodeError::Truncated { buffered: 10 }));

        let mut d = Decoder::new();
        assert_eq!(
            d.decode(b"\x07\x00\x00\x00\x00\x00\x00\x01x"),
            Err(DecodeError::UnknownStream(7))
        );

        let mut d = Decoder::with_max_frame(4);
        assert_eq!(
            d.decode(b"\x01\x00\x00\x00\x00\x00\x00\x05"),
            Err(DecodeError::TooLarge { len: 5, max: 4 })
        );
    }

    #[test]
    fn skips_empty_frames_and_survives_compaction() {
        let mut d = Decoder::new();
        let mut wire = encode_header(Stream::Stdout, 0).to_vec();
        encode_frame(Stream::Stdout, b"x", &mut wire);
        assert_eq!(d.decode(&wire).unwrap(), vec![frame(Stream::Stdout, b"x")]);
        // Many frames with a partial one pending at each feed exercise the lazy compaction.
        let mut big = Vec::new();
        for i in 0..2000u32 {
            encode_frame(Stream::Stderr, &i.to_be_bytes(), &mut big);
        }
        let mut n = 0u32;
        for chunk in big.chunks(7) {
            for f in d.decode(chunk).unwrap() {
                assert_eq!(f, frame(Stream::Stderr, &n.to_be_bytes()));
                n += 1;
            }
        }
        assert_eq!(n, 2000);
        d.finish().unwrap();
    }
}
