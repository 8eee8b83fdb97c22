//! The gzip stream a push makes of a plain layer.
//!
//! Deflate at level 1 keeps a push bound by the network rather than by this
//! CPU, but level 1 (zlib-rs's "quick" strategy) always emits blocks coded
//! with the fixed Huffman table, which make incompressible input ~5.5 %
//! *larger* and cost the puller a full Huffman decode of every byte. Layers
//! full of already-compressed files are common (archives, media, packed
//! binaries), so the input is taken in fixed chunks and each chunk is
//! written as whichever is smaller: its deflate output or stored blocks
//! (RFC 1951 §3.2.4, a copy with a 5-byte header per 64 KiB). A puller
//! inflates stored blocks at memory speed; Go's compress/flate makes the
//! same choice per block, so a docker pull of such a layer is fast too.
//!
//! After a stored chunk the next one is first probed: if the first
//! [`PROBE`] bytes do not shrink either, the chunk is stored without
//! deflating the rest, so a run of incompressible chunks costs little more
//! than a copy and a CRC. The output depends only on the input bytes, never
//! on how the writes were split (a pushed layer's digest is stable).
//!
//! The stream is one gzip member (RFC 1952): a 10-byte header, raw deflate
//! blocks (the compressor is sync-flushed at every chunk end so each chunk
//! ends on a byte boundary), an empty final stored block, CRC-32, ISIZE.

use std::io::{self, Write};

use flate2::{Compress, Compression, Crc, FlushCompress};

/// Input is judged (deflated or stored) in pieces of this size.
const CHUNK: usize = 1 << 20;
/// After a stored chunk, this much of the next is deflated first to decide.
const PROBE: usize = 64 << 10;
/// The largest stored block (LEN is 16 bits).
const STORED_MAX: usize = 0xffff;

/// A gzip writer with level-1 deflate and a stored fallback per chunk (see
/// the module docs). `finish` must be called; dropping it writes nothing
/// more.
pub(crate) struct LayerGzip<W: Write> {
    out: W,
    deflate: Compress,
    crc: Crc,
    /// Input not yet judged (less than one chunk).
    pending: Vec<u8>,
    /// Deflate output of the chunk being judged.
    scratch: Vec<u8>,
    /// The previous chunk was stored: probe the next one first.
    stored_last: bool,
    /// The compressor's window holds bytes of a chunk that was stored
    /// without being fully deflated: it must forget them before deflating
    /// again, or it could refer back to data the decoder saw differently
    /// placed.
    needs_reset: bool,
}

impl<W: Write> LayerGzip<W> {
    /// Starts a stream on `out` (writes the gzip header).
    pub(crate) fn new(mut out: W) -> io::Result<Self> {
        // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown): no name
        // or time, so the same layer always gives the same bytes.
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
        Ok(Self {
            out,
            deflate: Compress::new(Compression::fast(), false),
            crc: Crc::new(),
            pending: Vec::with_capacity(CHUNK),
            scratch: Vec::with_capacity(CHUNK + CHUNK / 8),
            stored_last: false,
            needs_reset: false,
        })
    }

    /// Ends the stream (last chunk, final block, trailer) and returns the
    /// inner writer, flushed.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        let last = std::mem::take(&mut self.pending);
        if !last.is_empty() {
            self.chunk(&last)?;
        }
        // An empty stored block with BFINAL set ends the deflate stream.
        self.out.write_all(&[0x01, 0x00, 0x00, 0xff, 0xff])?;
        self.out.write_all(&self.crc.sum().to_le_bytes())?;
        self.out.write_all(&self.crc.amount().to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Judges and writes one chunk.
    fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        self.crc.update(data);
        self.scratch.clear();
        if self.needs_reset {
            self.deflate.reset();
            self.needs_reset = false;
        }
        let mut from = 0;
        if self.stored_last {
            let probe = &data[..data.len().min(PROBE)];
            self.deflate_into_scratch(probe)?;
            if self.scratch.len() >= probe.len() {
                self.needs_reset = probe.len() < data.len();
                return self.write_stored(data);
            }
            from = probe.len();
        }
        self.deflate_into_scratch(&data[from..])?;
        if self.scratch.len() < data.len() {
            self.stored_last = false;
            self.out.write_all(&self.scratch)
        } else {
            // The compressor saw all of `data`, as the decoder will: its
            // window stays valid.
            self.write_stored(data)
        }
    }

    /// Deflates `input` with a sync flush, appending to `scratch`.
    fn deflate_into_scratch(&mut self, input: &[u8]) -> io::Result<()> {
        let mut rest = input;
        loop {
            if self.scratch.capacity() - self.scratch.len() < 4096 {
                self.scratch.reserve(rest.len() / 2 + 4096);
            }
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(rest, &mut self.scratch, FlushCompress::Sync)
                .map_err(io::Error::other)?;
            let used = (self.deflate.total_in() - before) as usize;
            rest = &rest[used..];
            // A sync flush is complete when all input is taken and the
            // output buffer was not filled (zlib's deflate(3) contract).
            if rest.is_empty() && self.scratch.len() < self.scratch.capacity() {
                return Ok(());
            }
        }
    }

    /// Writes `data` as non-final stored blocks.
    fn write_stored(&mut self, data: &[u8]) -> io::Result<()> {
        self.stored_last = true;
        for block in data.chunks(STORED_MAX) {
            let len = block.len() as u16;
            let mut head = [0u8; 5];
            head[1..3].copy_from_slice(&len.to_le_bytes());
            head[3..5].copy_from_slice(&(!len).to_le_bytes());
            self.out.write_all(&head)?;
            self.out.write_all(block)?;
        }
        Ok(())
    }
}

impl<W: Write> Write for LayerGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let take = buf.len().min(CHUNK - self.pending.len());
        self.pending.extend_from_slice(&buf[..take]);
        if self.pending.len() == CHUNK {
            let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
            self.chunk(&chunk)?;
            self.pending = chunk;
            self.pending.clear();
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunk boundaries must not depend on flushes (stable digests).
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// Deterministic bytes that deflate cannot shrink (xorshift).
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn text(n: usize) -> Vec<u8> {
        let line = b"usr/lib/x86_64-linux-gnu/libexample.so.1 -> libexample.so.1.2.3\n";
        line.iter().copied().cycle().take(n).collect()
    }

    fn gzip(data: &[u8], split: usize) -> Vec<u8> {
        let mut g = LayerGzip::new(Vec::new()).unwrap();
        for piece in data.chunks(split) {
            g.write_all(piece).unwrap();
        }
        g.finish().unwrap()
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut d = flate2::read::GzDecoder::new(bytes);
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        // The member ends exactly at the trailer.
        let mut rest = Vec::new();
        d.into_inner().read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "{} bytes after the gzip member",
            rest.len()
        );
        out
    }

    #[test]
    fn round_trips_mixed_input_and_stores_what_does_not_shrink() {
        let mut data = noise(3 * CHUNK + 777, 7);
        data.extend(text(2 * CHUNK + 5));
        data.extend(noise(CHUNK / 2, 9));
        data.extend(text(CHUNK));
        let gz = gzip(&data, 100_003);
        assert_eq!(gunzip(&gz), data);
        // Noise stored (5 bytes per 64 KiB block), text deflated.
        let noise_len = 3 * CHUNK + 777 + CHUNK / 2;
        let stored_overhead = (noise_len / STORED_MAX + 8) * 5;
        assert!(
            gz.len() < noise_len + stored_overhead + 100_000,
            "{} bytes for {} of noise",
            gz.len(),
            noise_len
        );
    }

    #[test]
    fn noise_costs_only_the_stored_block_headers() {
        let data = noise(4 * CHUNK, 3);
        let gz = gzip(&data, CHUNK);
        assert_eq!(gunzip(&gz), data);
        assert_eq!(
            gz.len(),
            10 + data.len() + (data.len() / STORED_MAX + 4) * 5 + 5 + 8
        );
    }

    #[test]
    fn text_is_compressed() {
        let data = text(3 * CHUNK);
        let gz = gzip(&data, 4096);
        assert_eq!(gunzip(&gz), data);
        assert!(gz.len() < data.len() / 10, "{}", gz.len());
    }

    #[test]
    fn output_does_not_depend_on_write_sizes() {
        let mut data = text(CHUNK + 3);
        data.extend(noise(2 * CHUNK + 11, 5));
        data.extend(text(CHUNK / 3));
        let a = gzip(&data, 1);
        assert_eq!(a, gzip(&data, 65_536));
        assert_eq!(a, gzip(&data, data.len()));
        assert_eq!(gunzip(&a), data);
    }

    #[test]
    fn empty_input_is_a_valid_empty_member() {
        let gz = gzip(&[], 1);
        assert!(gunzip(&gz).is_empty());
    }

    #[test]
    fn a_compressible_chunk_after_a_stored_one_is_deflated_with_a_fresh_window() {
        // Noise, then a chunk whose probe is noise and whose rest is text
        // (stored after the probe only), then a chunk that starts with the
        // probe's last 20000 bytes again. A compressor that still remembered the
        // probe would code them as a match 20000 bytes back, where the decoder
        // has text.
        let mut data = noise(CHUNK, 1);
        let probe = noise(PROBE, 2);
        data.extend(&probe);
        data.extend(text(CHUNK - PROBE));
        data.extend(&probe[PROBE - 20_000..]);
        data.extend(text(2 * CHUNK));
        let gz = gzip(&data, 12_345);
        assert_eq!(gunzip(&gz), data);
    }
}
