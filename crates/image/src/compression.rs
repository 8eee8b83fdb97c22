//! Layer compression: media types, magic-number sniffing, decoders.

use std::io::{self, BufRead, BufReader, Read};

/// Errors choosing or starting a decompressor.
#[derive(Debug, thiserror::Error)]
pub enum CompressionError {
    #[error("layer media type {0:?}: unknown")]
    UnknownMediaType(String),
    #[error("start zstd decoder: {0}")]
    Zstd(#[source] io::Error),
    #[error("sniff layer compression: {0}")]
    Sniff(#[source] io::Error),
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// From a layer media type, Docker's or OCI's, foreign
    /// (non-distributable) ones included: their blobs are layers like any
    /// other once fetched.
    pub fn from_media_type(mt: &str) -> Result<Compression, CompressionError> {
        match mt {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Ok(Compression::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => {
                Ok(Compression::Zstd)
            }
            m => Err(CompressionError::UnknownMediaType(m.to_owned())),
        }
    }

    /// From the first bytes of a blob (gzip 1f 8b, zstd 28 b5 2f fd); anything
    /// else is taken as a plain tar, which the tar parser then validates.
    pub fn detect(prefix: &[u8]) -> Compression {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Wraps `r` in the decoder for `c`.
///
/// Gzip uses `MultiGzDecoder`: a layer may be several concatenated gzip
/// members (pigz and some registries write them), and a single-member
/// decoder would silently stop after the first.
pub fn decoder<'a, R: Read + 'a>(
    r: R,
    c: Compression,
) -> Result<Box<dyn Read + 'a>, CompressionError> {
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            256 * 1024,
            r,
        ))),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(r).map_err(CompressionError::Zstd)?)
        }
    })
}

/// Sniffs the compression of `r` without consuming it and returns the
/// decoder.
pub fn auto_decoder<'a, R: Read + 'a>(r: R) -> Result<Box<dyn Read + 'a>, CompressionError> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let c = Compression::detect(br.fill_buf().map_err(CompressionError::Sniff)?);
    decoder(br, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        use Compression::*;
        for (mt, c) in [
            ("application/vnd.oci.image.layer.v1.tar", None),
            ("application/vnd.oci.image.layer.v1.tar+gzip", Gzip),
            ("application/vnd.oci.image.layer.v1.tar+zstd", Zstd),
            ("application/vnd.docker.image.rootfs.diff.tar.gzip", Gzip),
        ] {
            assert_eq!(Compression::from_media_type(mt).unwrap(), c);
        }
        let e = Compression::from_media_type("application/x-nope").unwrap_err();
        assert_eq!(
            e.to_string(),
            "layer media type \"application/x-nope\": unknown"
        );
        for (mt, c) in [
            (
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                Gzip,
            ),
            (
                "application/vnd.oci.image.layer.nondistributable.v1.tar",
                None,
            ),
            (
                "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
                Zstd,
            ),
        ] {
            assert_eq!(Compression::from_media_type(mt).unwrap(), c, "{mt}");
        }
    }

    #[test]
    fn sniffing() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(b"etc/\0\0"), Compression::None);
        assert_eq!(Compression::detect(b""), Compression::None);
    }
}
