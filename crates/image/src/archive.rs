//! `docker save` archives: load into the store (saving is in
//! [`crate::archive_save`]).
//!
//! An archive holds `manifest.json` (`[{"Config", "RepoTags", "Layers"}]`),
//! `repositories`, the config JSON and one uncompressed tar per layer.
//! Docker 25+ lays the same files out as an OCI layout (`blobs/sha256/…`,
//! `index.json`) inside the tar and still writes `manifest.json`; both
//! load through `manifest.json` here.
//!
//! Loading reads the archive once, front to back: every file is streamed
//! into the content store as it passes (hashed on the way, verified
//! against its name when the name is a digest), under a lease so a
//! concurrent collection keeps it. Only when every image checks out
//! (config parses, each layer's uncompressed digest equals the config's
//! diff ID) are the image records written, all in one atomic update:
//! a failed load leaves no image visible.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};

pub use crate::archive_save::{SaveItem, save_docker_archive, save_docker_archive_items};

use berth_content::{ContentError, Digest, HashingReader, LeaseError, Leases, Resource, Store};
use serde::{Deserialize, Serialize};

use crate::apply::normalize;
use crate::compression::{self, Compression};
use crate::config::{ConfigError, ImageConfig};
use crate::manifest::{
    self, Descriptor, MT_DOCKER_CONFIG, MT_DOCKER_LAYER, MT_DOCKER_LAYER_GZIP, MT_DOCKER_MANIFEST,
    MT_OCI_CONFIG, MT_OCI_LAYER_ZSTD, MT_OCI_MANIFEST, Manifest, ManifestError, Platform,
};
use crate::reference::{Reference, ReferenceError};
use crate::store::{ImageRecord, ImageStore, ImageStoreError};

/// Errors loading or saving archives.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("read archive: {0}")]
    Read(#[source] io::Error),
    #[error("load archive file {file:?}: {source}")]
    Store {
        file: String,
        #[source]
        source: ContentError,
    },
    #[error("load archive: no manifest.json")]
    NoManifest,
    #[error("load archive: parse {file}: {source}")]
    Json {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("load archive: manifest.json names {file:?}, which the archive does not contain")]
    MissingFile { file: String },
    #[error("load archive: {source}")]
    Config {
        #[source]
        source: ConfigError,
    },
    #[error("load archive: layer {file:?}: uncompressed digest {actual}, config says {expected}")]
    DiffId {
        file: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("load archive: layer {file:?}: {source}")]
    Compression {
        file: String,
        #[source]
        source: compression::CompressionError,
    },
    #[error("load archive: tag {tag:?}: {source}")]
    Tag {
        tag: String,
        #[source]
        source: ReferenceError,
    },
    #[error("archive lease: {0}")]
    Lease(#[source] LeaseError),
    #[error("load archive: {0}")]
    Records(#[source] ImageStoreError),
    #[error("save image {image}: {source}")]
    Content {
        image: String,
        #[source]
        source: ContentError,
    },
    #[error("save image {image}: {source}")]
    Manifest {
        image: String,
        #[source]
        source: ManifestError,
    },
    #[error("save image {image}: layer {layer}: {source}")]
    Layer {
        image: String,
        layer: Digest,
        #[source]
        source: io::Error,
    },
    #[error("write archive: {0}")]
    Write(#[source] io::Error),
}

/// An entry of `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ArchiveManifest {
    pub(crate) config: String,
    #[serde(default)]
    pub(crate) repo_tags: Option<Vec<String>>,
    pub(crate) layers: Vec<String>,
}

/// An image a load brought in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The image ID (config digest).
    pub id: Digest,
    /// The records created: normalised references, or the ID when untagged.
    pub names: Vec<String>,
    pub manifest: Descriptor,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn unique() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{n}", std::process::id())
}

/// Small files read into memory rather than the content store.
const META_FILES: [&str; 4] = ["manifest.json", "repositories", "index.json", "oci-layout"];

/// Loads a `docker save` archive; see the module docs for the guarantees.
pub fn load_docker_archive(
    content: &Store,
    leases: &Leases,
    images: &ImageStore,
    archive: impl Read,
) -> Result<Vec<Loaded>, ArchiveError> {
    let lease = format!("load-{}", unique());
    leases
        .create(&lease, Some(24 * 3600), BTreeMap::new())
        .map_err(ArchiveError::Lease)?;
    let result = load_inner(content, leases, &lease, images, archive);
    let cleanup = leases.delete(&lease);
    match (result, cleanup) {
        (Ok(v), Ok(())) => Ok(v),
        // The images are loaded; the lease would only expire later.
        (Ok(v), Err(_)) => Ok(v),
        (Err(e), _) => Err(e),
    }
}

fn load_inner(
    content: &Store,
    leases: &Leases,
    lease: &str,
    images: &ImageStore,
    archive: impl Read,
) -> Result<Vec<Loaded>, ArchiveError> {
    let af = ArchiveFiles::ingest(content, leases, lease, archive)?;
    load_files(content, leases, lease, images, &af)
}

/// What [`load_any_archive`] found and loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyLoaded {
    /// A `docker save` archive (by its `manifest.json`).
    Docker(Vec<Loaded>),
    /// A bare OCI layout in a tar.
    Oci(Vec<crate::oci_layout::OciLoaded>),
}

/// Loads a tar that is either a `docker save` archive (it has
/// `manifest.json`, which Docker 25+ also writes beside its OCI layout) or
/// a bare OCI layout (`oci-layout` and `index.json`), reading it once:
/// the format is only known once every file has passed, so the files are
/// ingested first and interpreted after. `repo` names tag-only entries of
/// an OCI index; an index or manifest list in the layout is resolved to
/// `platform`'s manifest.
pub fn load_any_archive(
    content: &Store,
    leases: &Leases,
    images: &ImageStore,
    archive: impl Read,
    repo: Option<&str>,
    platform: &Platform,
) -> Result<AnyLoaded, crate::oci_layout::OciLayoutError> {
    use crate::oci_layout::OciLayoutError;
    let lease = format!("load-{}", unique());
    leases
        .create(&lease, Some(24 * 3600), BTreeMap::new())
        .map_err(|e| OciLayoutError::Archive(ArchiveError::Lease(e)))?;
    let result = (|| {
        let af = ArchiveFiles::ingest(content, leases, &lease, archive)
            .map_err(OciLayoutError::Archive)?;
        if af.meta.contains_key("manifest.json") || !af.meta.contains_key("index.json") {
            load_files(content, leases, &lease, images, &af)
                .map(AnyLoaded::Docker)
                .map_err(OciLayoutError::Archive)
        } else {
            crate::oci_layout::load_files(content, images, &af, repo, platform).map(AnyLoaded::Oci)
        }
    })();
    // A lease left behind only expires later; the load's own result is
    // what the caller needs.
    let _ = leases.delete(&lease);
    result
}

fn load_files(
    content: &Store,
    leases: &Leases,
    lease: &str,
    images: &ImageStore,
    af: &ArchiveFiles,
) -> Result<Vec<Loaded>, ArchiveError> {
    let resolve = |p: &str| af.resolve(p);
    let meta = &af.meta;
    let mj = meta.get("manifest.json").ok_or(ArchiveError::NoManifest)?;
    let entries: Vec<ArchiveManifest> =
        serde_json::from_slice(mj).map_err(|source| ArchiveError::Json {
            file: "manifest.json",
            source,
        })?;
    let mut loaded = Vec::new();
    let mut records = Vec::new();
    for am in entries {
        let config_digest = resolve(&am.config)?;
        let config_bytes = content
            .read(&config_digest)
            .map_err(|source| ArchiveError::Store {
                file: am.config.clone(),
                source,
            })?;
        let config = ImageConfig::parse(&config_digest, &config_bytes)
            .map_err(|source| ArchiveError::Config { source })?;
        config
            .check_layers(&config_digest, am.layers.len())
            .map_err(|source| ArchiveError::Config { source })?;
        let mut layers = Vec::new();
        let mut oci = false;
        for (i, lp) in am.layers.iter().enumerate() {
            let d = resolve(lp)?;
            let (media_type, diff_id) = layer_identity(content, &d, lp)?;
            oci |= media_type == MT_OCI_LAYER_ZSTD;
            let expected = config.rootfs.diff_ids[i];
            if diff_id != expected {
                return Err(ArchiveError::DiffId {
                    file: lp.clone(),
                    expected,
                    actual: diff_id,
                });
            }
            let size = content
                .info(&d)
                .map_err(|source| ArchiveError::Store {
                    file: lp.clone(),
                    source,
                })?
                .size;
            layers.push(Descriptor {
                media_type: media_type.to_owned(),
                digest: d,
                size,
                urls: vec![],
                annotations: BTreeMap::new(),
                platform: None,
            });
        }
        // zstd layers have no Docker media type: such images get an OCI
        // manifest.
        let (mmt, cmt) = if oci {
            (MT_OCI_MANIFEST, MT_OCI_CONFIG)
        } else {
            (MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG)
        };
        for l in &mut layers {
            if oci && l.media_type == MT_DOCKER_LAYER {
                l.media_type = manifest::MT_OCI_LAYER.to_owned();
            } else if oci && l.media_type == MT_DOCKER_LAYER_GZIP {
                l.media_type = manifest::MT_OCI_LAYER_GZIP.to_owned();
            }
        }
        let m = Manifest {
            schema_version: 2,
            media_type: Some(mmt.to_owned()),
            config: Descriptor {
                media_type: cmt.to_owned(),
                digest: config_digest,
                size: config_bytes.len() as u64,
                urls: vec![],
                annotations: BTreeMap::new(),
                platform: None,
            },
            layers,
            annotations: BTreeMap::new(),
        };
        let mbytes = serde_json::to_vec(&m).unwrap_or_default();
        let c = content
            .write_blob(
                &format!("load-{}-manifest", unique()),
                &mbytes[..],
                None,
                None,
            )
            .map_err(|source| ArchiveError::Store {
                file: "manifest.json".into(),
                source,
            })?;
        leases
            .add(lease, Resource::Content { id: c.digest })
            .map_err(ArchiveError::Lease)?;
        let target = Descriptor {
            media_type: mmt.to_owned(),
            digest: c.digest,
            size: c.size,
            urls: vec![],
            annotations: BTreeMap::new(),
            platform: Some(Platform::new(
                &config.os,
                &config.architecture,
                config.variant.as_deref(),
            )),
        };
        let mut names = Vec::new();
        for tag in am.repo_tags.unwrap_or_default() {
            let r = Reference::parse_normalized(&tag)
                .map_err(|source| ArchiveError::Tag {
                    tag: tag.clone(),
                    source,
                })?
                .with_default_tag();
            names.push(r.to_string());
        }
        if names.is_empty() {
            names.push(config_digest.to_string());
        }
        for n in &names {
            records.push(ImageRecord {
                name: n.clone(),
                target: target.clone(),
                created_at: now(),
            });
        }
        loaded.push(Loaded {
            id: config_digest,
            names,
            manifest: target,
        });
    }
    images.put_all(records).map_err(ArchiveError::Records)?;
    Ok(loaded)
}

/// The files of an archive: regular files stored as blobs (by path),
/// symlinks and hardlinks (path to normalised target), and the small
/// metadata files kept in memory.
#[derive(Debug, Default)]
pub(crate) struct ArchiveFiles {
    pub(crate) files: HashMap<String, Digest>,
    pub(crate) links: HashMap<String, String>,
    pub(crate) meta: HashMap<String, Vec<u8>>,
}

impl ArchiveFiles {
    /// Streams every regular file of `archive` into the content store under
    /// `lease`; files named `blobs/sha256/<hex>` are verified against it.
    ///
    /// The files are written as one [`berth_content::Batch`]: each is
    /// hashed and verified as it passes and its writeback started, and
    /// only at the end of the archive does the load wait for the disk,
    /// once for all of them, before they become visible. They are added
    /// to the lease before that (blobs the store already had, at once).
    pub(crate) fn ingest(
        content: &Store,
        leases: &Leases,
        lease: &str,
        archive: impl Read,
    ) -> Result<ArchiveFiles, ArchiveError> {
        let mut files: HashMap<String, Digest> = HashMap::new();
        let mut links: HashMap<String, String> = HashMap::new();
        let mut meta: HashMap<String, Vec<u8>> = HashMap::new();
        let mut ar = tar::Archive::new(archive);
        let stamp = unique();
        let mut batch = content.batch();
        for (n, e) in ar.entries().map_err(ArchiveError::Read)?.enumerate() {
            let mut e = e.map_err(ArchiveError::Read)?;
            let raw = e.path_bytes().into_owned();
            // Names that climb out are nonsense in an archive; skip them.
            let Some(comps) = normalize(&raw) else {
                continue;
            };
            let path = String::from_utf8_lossy(&comps.join(&b'/')).into_owned();
            match e.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    if META_FILES.contains(&path.as_str()) {
                        let mut buf = Vec::new();
                        e.by_ref()
                            .take(16 << 20)
                            .read_to_end(&mut buf)
                            .map_err(ArchiveError::Read)?;
                        meta.insert(path, buf);
                        continue;
                    }
                    let expected = path
                        .strip_prefix("blobs/sha256/")
                        .and_then(|h| Digest::from_hex(h).ok());
                    let size = e.header().size().map_err(ArchiveError::Read)?;
                    let store_err = |source| ArchiveError::Store {
                        file: path.clone(),
                        source,
                    };
                    let c = batch
                        .write_blob(
                            &format!("load-{stamp}-{n}"),
                            &mut e,
                            Some(size),
                            expected.as_ref(),
                        )
                        .map_err(|err| match err {
                            // io::copy failing on the archive side shows up as
                            // an ingest write error: report it as what it is.
                            ContentError::Io {
                                op: "write ingest",
                                source,
                                ..
                            } if source.kind() == io::ErrorKind::UnexpectedEof => {
                                ArchiveError::Read(source)
                            }
                            other => store_err(other),
                        })?;
                    if !c.created && content.contains(&c.digest) {
                        leases
                            .add(lease, Resource::Content { id: c.digest })
                            .map_err(ArchiveError::Lease)?;
                    }
                    files.insert(path, c.digest);
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let Some(target) = e.link_name_bytes() else {
                        continue;
                    };
                    let base = if e.header().entry_type() == tar::EntryType::Symlink {
                        // Relative to the link's directory.
                        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                        format!("{dir}/{}", String::from_utf8_lossy(&target))
                    } else {
                        String::from_utf8_lossy(&target).into_owned()
                    };
                    if let Some(c) = normalize(base.as_bytes()) {
                        links.insert(path, String::from_utf8_lossy(&c.join(&b'/')).into_owned());
                    }
                }
                _ => {}
            }
        }
        leases
            .add_all(
                lease,
                batch
                    .pending()
                    .map(|d| Resource::Content { id: *d })
                    .collect::<Vec<_>>(),
            )
            .map_err(ArchiveError::Lease)?;
        batch.commit().map_err(|source| ArchiveError::Store {
            file: "archive blobs".into(),
            source,
        })?;
        Ok(ArchiveFiles { files, links, meta })
    }

    /// The blob stored for `path`, following links.
    pub(crate) fn resolve(&self, p: &str) -> Result<Digest, ArchiveError> {
        let mut cur = normalize(p.as_bytes())
            .map(|c| String::from_utf8_lossy(&c.join(&b'/')).into_owned())
            .unwrap_or_default();
        for _ in 0..16 {
            if let Some(d) = self.files.get(&cur) {
                return Ok(*d);
            }
            match self.links.get(&cur) {
                Some(next) => cur = next.clone(),
                None => break,
            }
        }
        Err(ArchiveError::MissingFile { file: p.to_owned() })
    }
}

/// The media type and diff ID of a layer blob, sniffing its compression.
fn layer_identity(
    content: &Store,
    d: &Digest,
    file: &str,
) -> Result<(&'static str, Digest), ArchiveError> {
    let r = content.reader(d).map_err(|source| ArchiveError::Store {
        file: file.to_owned(),
        source,
    })?;
    let mut head = [0u8; 4];
    let n = r.read_at(&mut head, 0).map_err(ArchiveError::Read)?;
    let c = Compression::detect(&head[..n]);
    if c == Compression::None {
        return Ok((MT_DOCKER_LAYER, *d));
    }
    let dec = compression::decoder(io::BufReader::new(r.into_file()), c).map_err(|source| {
        ArchiveError::Compression {
            file: file.to_owned(),
            source,
        }
    })?;
    let mut h = HashingReader::new(dec);
    io::copy(&mut h, &mut io::sink()).map_err(ArchiveError::Read)?;
    let mt = if c == Compression::Gzip {
        MT_DOCKER_LAYER_GZIP
    } else {
        MT_OCI_LAYER_ZSTD
    };
    Ok((mt, h.digest()))
}
