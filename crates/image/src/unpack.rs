//! Unpacking an image's layers into a snapshotter, one snapshot per chain
//! ID, shared by every image with the same layer stack.

use berth_content::{Digest, Store};
use berth_snapshots::{LayerForm, SnapshotError, Snapshotter};

use crate::apply::{ApplyError, ApplyOptions, WhiteoutMode, apply_layer};
use crate::compression::{Compression, CompressionError};
use crate::config::{ConfigError, ImageConfig, chain_ids};
use crate::manifest::Manifest;

/// Errors unpacking.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("unpack image {image}: {source}")]
    Config {
        image: Digest,
        #[source]
        source: ConfigError,
    },
    #[error("unpack layer {layer}: {source}")]
    Compression {
        layer: Digest,
        #[source]
        source: CompressionError,
    },
    #[error("unpack layer {layer}: {source}")]
    Content {
        layer: Digest,
        #[source]
        source: berth_content::ContentError,
    },
    #[error("unpack layer {layer}: {source}")]
    Snapshot {
        layer: Digest,
        #[source]
        source: SnapshotError,
    },
    #[error("unpack layer {layer}: {source}")]
    Apply {
        layer: Digest,
        #[source]
        source: ApplyError,
    },
    #[error("unpack layer {layer}: uncompressed digest {actual}, config says {expected}")]
    DiffId {
        layer: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error("{source}; removing snapshot {key:?} afterwards also failed: {cleanup}")]
    Cleanup {
        #[source]
        source: Box<UnpackError>,
        key: String,
        cleanup: SnapshotError,
    },
}

/// What an unpack did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// One per layer, bottom first; the last is the image's top snapshot.
    pub chain_ids: Vec<Digest>,
    /// How many layers were applied (the others already existed).
    pub applied: usize,
}

/// Makes sure a committed snapshot named by each chain ID of the image
/// exists, applying the layers that are missing.
pub fn unpack(
    content: &Store,
    sn: &dyn Snapshotter,
    manifest: &Manifest,
    config_digest: &Digest,
    config: &ImageConfig,
) -> Result<Unpacked, UnpackError> {
    config
        .check_layers(config_digest, manifest.layers.len())
        .map_err(|source| UnpackError::Config {
            image: *config_digest,
            source,
        })?;
    let chains = chain_ids(&config.rootfs.diff_ids);
    let mut applied = 0;
    for (i, layer) in manifest.layers.iter().enumerate() {
        let name = chains[i].to_string();
        if sn.stat(&name).is_ok() {
            continue;
        }
        let parent = (i > 0).then(|| chains[i - 1].to_string());
        let key = format!("extract-{}-{}", std::process::id(), unique());
        let ld = layer.digest;
        sn.prepare(&key, parent.as_deref())
            .map_err(|source| UnpackError::Snapshot { layer: ld, source })?;
        let result =
            apply_one(content, sn, &key, layer, &config.rootfs.diff_ids[i]).and_then(|()| {
                match sn.commit(&name, &key) {
                    Ok(()) => Ok(true),
                    // Another unpack of the same stack won the race.
                    Err(SnapshotError::AlreadyExists(_)) => Ok(false),
                    Err(source) => Err(UnpackError::Snapshot { layer: ld, source }),
                }
            });
        match result {
            Ok(true) => applied += 1,
            Ok(false) => sn
                .remove(&key)
                .map_err(|source| UnpackError::Snapshot { layer: ld, source })?,
            Err(e) => {
                return Err(match sn.remove(&key) {
                    Ok(()) => e,
                    Err(cleanup) => UnpackError::Cleanup {
                        source: Box::new(e),
                        key,
                        cleanup,
                    },
                });
            }
        }
    }
    Ok(Unpacked {
        chain_ids: chains,
        applied,
    })
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn apply_one(
    content: &Store,
    sn: &dyn Snapshotter,
    key: &str,
    layer: &crate::manifest::Descriptor,
    diff_id: &Digest,
) -> Result<(), UnpackError> {
    let ld = layer.digest;
    let target = sn
        .apply_target(key)
        .map_err(|source| UnpackError::Snapshot { layer: ld, source })?;
    let compression = Compression::from_media_type(&layer.media_type)
        .map_err(|source| UnpackError::Compression { layer: ld, source })?;
    let blob = content
        .reader(&ld)
        .map_err(|source| UnpackError::Content { layer: ld, source })?;
    let whiteouts = match target.form {
        LayerForm::Overlay => WhiteoutMode::Overlay,
        LayerForm::Full => WhiteoutMode::Delete,
    };
    let applied = apply_layer(
        &target.dir,
        std::io::BufReader::with_capacity(1 << 20, blob.into_file()),
        compression,
        &ApplyOptions { whiteouts },
    )
    .map_err(|source| UnpackError::Apply { layer: ld, source })?;
    if applied.diff_id != *diff_id {
        return Err(UnpackError::DiffId {
            layer: ld,
            expected: *diff_id,
            actual: applied.diff_id,
        });
    }
    Ok(())
}
