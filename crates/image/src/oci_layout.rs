//! OCI image layouts (a directory, or the same tree in a tar):
//! `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
//!
//! Loading copies every blob reachable from `index.json` into the content
//! store (verifying each against its digest) under a lease, then writes
//! the image records in one atomic update. An entry that is an index (an
//! OCI index or a Docker manifest list, as multi-platform images are
//! saved) is resolved to the manifest of the platform asked for (linux/
//! amd64 unless the caller says otherwise): only that manifest's blobs
//! need to be in the layout, and the record names that manifest, as a
//! single-platform store keeps it. Top-level entries whose own platform
//! cannot run there are skipped while another entry can. Names come from the
//! `io.containerd.image.name` annotation (full reference), else from
//! `org.opencontainers.image.ref.name` (a full reference, or a tag that is
//! joined to the repository the caller names), else the manifest digest.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use berth_content::{ContentError, Digest, LeaseError, Leases, Resource, Store};

use crate::archive::{ArchiveError, ArchiveFiles};
use crate::manifest::{
    self, Descriptor, Index, MT_DOCKER_CONFIG, MT_DOCKER_LAYER, MT_DOCKER_LAYER_GZIP,
    MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_CONFIG, MT_OCI_INDEX, MT_OCI_LAYER,
    MT_OCI_LAYER_GZIP, MT_OCI_MANIFEST, ManifestError, Parsed, Platform,
};
use crate::reference::{Reference, ReferenceError};
use crate::store::{ImageRecord, ImageStore, ImageStoreError};

pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";

/// Errors reading or writing OCI layouts.
#[derive(Debug, thiserror::Error)]
pub enum OciLayoutError {
    #[error("{0}")]
    Archive(#[source] ArchiveError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("load oci layout: no {0}")]
    MissingFile(&'static str),
    #[error("load oci layout: parse {file}: {source}")]
    Json {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("load oci layout: imageLayoutVersion {0:?}, expected \"1.0.0\"")]
    Version(String),
    #[error("oci layout: blob {0} is missing")]
    MissingBlob(Digest),
    #[error("oci layout: blob {digest}: {source}")]
    Content {
        digest: Digest,
        #[source]
        source: ContentError,
    },
    #[error("oci layout: {0}")]
    Manifest(#[source] ManifestError),
    #[error("oci layout lease: {0}")]
    Lease(#[source] LeaseError),
    #[error("oci layout: {0}")]
    Records(#[source] ImageStoreError),
    #[error("load oci layout: name {name:?}: {source}")]
    Name {
        name: String,
        #[source]
        source: ReferenceError,
    },
    #[error("write oci layout entry {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// An image a load brought in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciLoaded {
    pub names: Vec<String>,
    pub target: Descriptor,
}

fn is_manifest_like(mt: &str) -> bool {
    matches!(
        mt,
        MT_OCI_MANIFEST | MT_OCI_INDEX | MT_DOCKER_MANIFEST | MT_DOCKER_LIST
    )
}

fn unique() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{n}", std::process::id())
}

/// Loads the layout in directory `dir` for linux/amd64; `repo` names
/// tag-only entries.
pub fn load_oci_layout_dir(
    content: &Store,
    leases: &Leases,
    images: &ImageStore,
    dir: &Path,
    repo: Option<&str>,
) -> Result<Vec<OciLoaded>, OciLayoutError> {
    let read_small = |name: &'static str| -> Result<Vec<u8>, OciLayoutError> {
        let p = dir.join(name);
        fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => OciLayoutError::MissingFile(name),
            _ => OciLayoutError::Io {
                op: "read",
                path: p,
                source: e,
            },
        })
    };
    let layout = read_small("oci-layout")?;
    let index = read_small("index.json")?;
    with_lease(leases, |lease| {
        let mut fetch = |d: &Descriptor| -> Result<(), OciLayoutError> {
            let p = dir.join("blobs/sha256").join(d.digest.hex());
            if !content.contains(&d.digest) {
                let f = File::open(&p).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => OciLayoutError::MissingBlob(d.digest),
                    _ => OciLayoutError::Io {
                        op: "open",
                        path: p.clone(),
                        source: e,
                    },
                })?;
                let r = format!("oci-{}-{}", unique(), d.digest.short());
                content
                    .write_blob(&r, f, Some(d.size), Some(&d.digest))
                    .map_err(|source| OciLayoutError::Content {
                        digest: d.digest,
                        source,
                    })?;
            }
            leases
                .add(lease, Resource::Content { id: d.digest })
                .map_err(OciLayoutError::Lease)
        };
        let platform = Platform::default_linux();
        load_common(
            content, images, &layout, &index, repo, &platform, &mut fetch,
        )
    })
}

/// Loads a layout packed in a tar (as `skopeo copy oci-archive:` writes)
/// for linux/amd64.
pub fn load_oci_layout_tar(
    content: &Store,
    leases: &Leases,
    images: &ImageStore,
    archive: impl Read,
    repo: Option<&str>,
) -> Result<Vec<OciLoaded>, OciLayoutError> {
    with_lease(leases, |lease| {
        let af = ArchiveFiles::ingest(content, leases, lease, archive)
            .map_err(OciLayoutError::Archive)?;
        load_files(content, images, &af, repo, &Platform::default_linux())
    })
}

/// Loads the layout whose files an archive ingest already stored.
pub(crate) fn load_files(
    content: &Store,
    images: &ImageStore,
    af: &ArchiveFiles,
    repo: Option<&str>,
    platform: &Platform,
) -> Result<Vec<OciLoaded>, OciLayoutError> {
    let layout = af
        .meta
        .get("oci-layout")
        .ok_or(OciLayoutError::MissingFile("oci-layout"))?;
    let index = af
        .meta
        .get("index.json")
        .ok_or(OciLayoutError::MissingFile("index.json"))?;
    let mut fetch = |d: &Descriptor| -> Result<(), OciLayoutError> {
        // Every blob of the tar is already stored (and verified against
        // its name); anything else is missing.
        if content.contains(&d.digest) && af.files.values().any(|x| *x == d.digest) {
            Ok(())
        } else {
            Err(OciLayoutError::MissingBlob(d.digest))
        }
    };
    load_common(content, images, layout, index, repo, platform, &mut fetch)
}

fn with_lease<T>(
    leases: &Leases,
    f: impl FnOnce(&str) -> Result<T, OciLayoutError>,
) -> Result<T, OciLayoutError> {
    let lease = format!("oci-load-{}", unique());
    leases
        .create(&lease, Some(24 * 3600), BTreeMap::new())
        .map_err(OciLayoutError::Lease)?;
    let r = f(&lease);
    // A lease left behind only expires later; the load's own result is
    // what the caller needs.
    let _ = leases.delete(&lease);
    r
}

fn load_common(
    content: &Store,
    images: &ImageStore,
    layout: &[u8],
    index: &[u8],
    repo: Option<&str>,
    platform: &Platform,
    fetch: &mut dyn FnMut(&Descriptor) -> Result<(), OciLayoutError>,
) -> Result<Vec<OciLoaded>, OciLayoutError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Layout {
        image_layout_version: String,
    }
    let l: Layout = serde_json::from_slice(layout).map_err(|source| OciLayoutError::Json {
        file: "oci-layout",
        source,
    })?;
    if l.image_layout_version != "1.0.0" {
        return Err(OciLayoutError::Version(l.image_layout_version));
    }
    let idx: Index = serde_json::from_slice(index).map_err(|source| OciLayoutError::Json {
        file: "index.json",
        source,
    })?;
    let mut out = Vec::new();
    let mut records = Vec::new();
    // Entries for other platforms give way to one for this platform.
    let runs = |d: &Descriptor| {
        d.platform
            .as_ref()
            .is_none_or(|p| platform.rank(p).is_some())
    };
    let any_runs = idx.manifests.iter().any(runs);
    for d in &idx.manifests {
        if any_runs && !runs(d) {
            continue;
        }
        let target = select_platform(content, d, platform, fetch)?;
        walk(content, &target, fetch, true)?;
        let mut names = Vec::new();
        let full = d.annotations.get(ANNOTATION_IMAGE_NAME).cloned();
        let refname = d.annotations.get(ANNOTATION_REF_NAME).cloned();
        let candidate = match (full, refname, repo) {
            (Some(f), _, _) => Some(f),
            (None, Some(r), _) if r.contains(['/', ':', '@']) => Some(r),
            (None, Some(tag), Some(repo)) => Some(format!("{repo}:{tag}")),
            _ => None,
        };
        if let Some(c) = candidate {
            let r = Reference::parse_normalized(&c).map_err(|source| OciLayoutError::Name {
                name: c.clone(),
                source,
            })?;
            names.push(r.with_default_tag().to_string());
        } else {
            names.push(d.digest.to_string());
        }
        for n in &names {
            records.push(ImageRecord {
                name: n.clone(),
                target: target.clone(),
                created_at: crate::store::now(),
            });
        }
        out.push(OciLoaded { names, target });
    }
    images.put_all(records).map_err(OciLayoutError::Records)?;
    Ok(out)
}

/// The manifest `d` stands for on `platform`: `d` itself, or when `d` is
/// an index (nested ones too) the best match among its manifests. Each
/// index on the way is fetched; the manifest is not (the caller walks it).
/// The descriptor returned carries the platform it was selected for.
fn select_platform(
    content: &Store,
    d: &Descriptor,
    platform: &Platform,
    fetch: &mut dyn FnMut(&Descriptor) -> Result<(), OciLayoutError>,
) -> Result<Descriptor, OciLayoutError> {
    let mut cur = d.clone();
    // Indexes of indexes are legal but rare; a cycle is not possible with
    // content addressing, a very deep chain is refused.
    for _ in 0..8 {
        if !matches!(cur.media_type.as_str(), MT_OCI_INDEX | MT_DOCKER_LIST) {
            return Ok(cur);
        }
        fetch(&cur)?;
        let bytes = content
            .read(&cur.digest)
            .map_err(|source| OciLayoutError::Content {
                digest: cur.digest,
                source,
            })?;
        cur = match manifest::parse(&cur.digest, Some(&cur.media_type), &bytes)
            .map_err(OciLayoutError::Manifest)?
        {
            Parsed::Index(i) => {
                let nested = i
                    .manifests
                    .iter()
                    .find(|m| matches!(m.media_type.as_str(), MT_OCI_INDEX | MT_DOCKER_LIST));
                match (i.select(&cur.digest, platform), nested) {
                    (Ok(m), _) => m.clone(),
                    // An index whose platforms sit one level down.
                    (Err(_), Some(n)) => n.clone(),
                    (Err(e), None) => return Err(OciLayoutError::Manifest(e)),
                }
            }
            Parsed::Manifest(_) => return Ok(cur),
        };
    }
    Err(OciLayoutError::Manifest(ManifestError::NoPlatform {
        digest: d.digest,
        want: platform.to_string(),
    }))
}

/// Fetches `d` and everything it references. Children of an index that
/// are absent are an error on load (`strict`), skipped on save (an index
/// may list platforms that were never pulled).
fn walk(
    content: &Store,
    d: &Descriptor,
    fetch: &mut dyn FnMut(&Descriptor) -> Result<(), OciLayoutError>,
    strict: bool,
) -> Result<(), OciLayoutError> {
    fetch(d)?;
    if !is_manifest_like(&d.media_type) {
        return Ok(());
    }
    let bytes = content
        .read(&d.digest)
        .map_err(|source| OciLayoutError::Content {
            digest: d.digest,
            source,
        })?;
    match manifest::parse(&d.digest, Some(&d.media_type), &bytes)
        .map_err(OciLayoutError::Manifest)?
    {
        Parsed::Manifest(m) => {
            fetch(&m.config)?;
            for l in &m.layers {
                fetch(l)?;
            }
        }
        Parsed::Index(i) => {
            for c in &i.manifests {
                if !strict && !content.contains(&c.digest) {
                    continue;
                }
                walk(content, c, fetch, strict)?;
            }
        }
    }
    Ok(())
}

/// Where a layout is written.
trait Sink {
    fn file(&mut self, path: &str, size: u64, data: &mut dyn Read) -> Result<(), OciLayoutError>;
}

struct DirSink(PathBuf);

impl Sink for DirSink {
    fn file(&mut self, path: &str, _size: u64, data: &mut dyn Read) -> Result<(), OciLayoutError> {
        let p = self.0.join(path);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(|source| OciLayoutError::Io {
                op: "create directory",
                path: parent.to_owned(),
                source,
            })?;
        }
        let mut f = File::create(&p).map_err(|source| OciLayoutError::Io {
            op: "create",
            path: p.clone(),
            source,
        })?;
        io::copy(data, &mut f).map_err(|source| OciLayoutError::Io {
            op: "write",
            path: p.clone(),
            source,
        })?;
        f.sync_all().map_err(|source| OciLayoutError::Io {
            op: "fsync",
            path: p,
            source,
        })
    }
}

struct TarSink<W: Write>(tar::Builder<W>);

impl<W: Write> Sink for TarSink<W> {
    fn file(&mut self, path: &str, size: u64, data: &mut dyn Read) -> Result<(), OciLayoutError> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(size);
        h.set_mtime(0);
        self.0
            .append_data(&mut h, path, data)
            .map_err(|source| OciLayoutError::Write {
                path: path.to_owned(),
                source,
            })
    }
}

/// Which manifests a saved layout's index points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestForm {
    /// The stored manifests, byte for byte: every digest (and so every
    /// repo digest) is kept, but a Docker v2 schema 2 manifest stays one,
    /// which OCI-only tools refuse (umoci) or convert (skopeo, changing
    /// the digest).
    AsStored,
    /// Docker v2 schema 2 manifests written in their OCI form (the same
    /// config and layers under OCI media types): a new manifest digest, the same image ID, readable by
    /// every OCI tool. Indexes and Docker manifest lists are kept as they
    /// are.
    Oci,
}

/// Writes the images `names` (record names) as a layout directory, with
/// manifests as stored.
pub fn save_oci_layout_dir(
    content: &Store,
    images: &ImageStore,
    names: &[&str],
    dir: &Path,
) -> Result<(), OciLayoutError> {
    save_oci_layout_dir_as(content, images, names, ManifestForm::AsStored, dir)
}

/// Writes the images `names` (record names) as a layout directory, with
/// manifests in the form `form`.
pub fn save_oci_layout_dir_as(
    content: &Store,
    images: &ImageStore,
    names: &[&str],
    form: ManifestForm,
    dir: &Path,
) -> Result<(), OciLayoutError> {
    save(content, images, names, form, &mut DirSink(dir.to_owned()))
}

/// Writes the images `names` (record names) as a layout tar, with
/// manifests as stored.
pub fn save_oci_layout_tar(
    content: &Store,
    images: &ImageStore,
    names: &[&str],
    out: impl Write,
) -> Result<(), OciLayoutError> {
    save_oci_layout_tar_as(content, images, names, ManifestForm::AsStored, out)
}

/// Writes the images `names` (record names) as a layout tar, with
/// manifests in the form `form`.
pub fn save_oci_layout_tar_as(
    content: &Store,
    images: &ImageStore,
    names: &[&str],
    form: ManifestForm,
    out: impl Write,
) -> Result<(), OciLayoutError> {
    let mut sink = TarSink(tar::Builder::new(out));
    save(content, images, names, form, &mut sink)?;
    sink.0
        .into_inner()
        .map(|_| ())
        .map_err(|source| OciLayoutError::Write {
            path: "end of archive".into(),
            source,
        })
}

fn save(
    content: &Store,
    images: &ImageStore,
    names: &[&str],
    form: ManifestForm,
    sink: &mut dyn Sink,
) -> Result<(), OciLayoutError> {
    let mut blobs: Vec<Descriptor> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut entries = Vec::new();
    let mut converted: Vec<(Digest, Vec<u8>)> = Vec::new();
    for name in names {
        let rec = images.get(name).map_err(OciLayoutError::Records)?;
        let mut collect = |d: &Descriptor| -> Result<(), OciLayoutError> {
            if !content.contains(&d.digest) {
                return Err(OciLayoutError::MissingBlob(d.digest));
            }
            if seen.insert(d.digest) {
                blobs.push(d.clone());
            }
            Ok(())
        };
        let twin = match form {
            ManifestForm::Oci => oci_form(content, &rec.target)?,
            ManifestForm::AsStored => None,
        };
        let mut d = rec.target.clone();
        if let Some(t) = twin {
            // The Docker manifest itself is replaced, not written.
            for c in &t.children {
                collect(c)?;
            }
            if seen.insert(t.desc.digest) {
                converted.push((t.desc.digest, t.bytes));
            }
            d = t.desc;
        } else {
            walk(content, &rec.target, &mut collect, false)?;
        }
        if let Ok(r) = Reference::parse_normalized(name) {
            d.annotations
                .insert(ANNOTATION_IMAGE_NAME.into(), r.to_string());
            if let Some(t) = &r.tag {
                d.annotations.insert(ANNOTATION_REF_NAME.into(), t.clone());
            }
        }
        entries.push(d);
    }
    for d in &blobs {
        let r = content
            .reader(&d.digest)
            .map_err(|source| OciLayoutError::Content {
                digest: d.digest,
                source,
            })?;
        let size = r.size();
        let mut f = r.into_file();
        sink.file(&format!("blobs/sha256/{}", d.digest.hex()), size, &mut f)?;
    }
    for (digest, bytes) in &converted {
        let path = format!("blobs/sha256/{}", digest.hex());
        sink.file(&path, bytes.len() as u64, &mut &bytes[..])?;
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(MT_OCI_INDEX.into()),
        manifests: entries,
        annotations: BTreeMap::new(),
    };
    let ij = serde_json::to_vec(&index).unwrap_or_default();
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    sink.file("oci-layout", layout.len() as u64, &mut &layout[..])?;
    sink.file("index.json", ij.len() as u64, &mut &ij[..])
}

/// The OCI form of a Docker v2 schema 2 manifest `d`: the same config and
/// layers under OCI media types, as a new manifest (new digest, same image
/// ID). OCI tools read only OCI manifests from a layout (umoci refuses the
/// Docker type; skopeo converts it on copy, changing the digest), and newer
/// Docker writes the OCI form into its archives too. `None` when `d` is
/// not a Docker manifest or names a type with no OCI twin (foreign
/// layers), which is then written as it is.
/// A Docker manifest rewritten under OCI media types.
struct OciTwin {
    desc: Descriptor,
    bytes: Vec<u8>,
    /// Config and layers, as the Docker manifest names them.
    children: Vec<Descriptor>,
}

fn oci_form(content: &Store, d: &Descriptor) -> Result<Option<OciTwin>, OciLayoutError> {
    if d.media_type != MT_DOCKER_MANIFEST {
        return Ok(None);
    }
    let twin = |mt: &str| match mt {
        MT_DOCKER_CONFIG => Some(MT_OCI_CONFIG),
        MT_DOCKER_LAYER => Some(MT_OCI_LAYER),
        MT_DOCKER_LAYER_GZIP => Some(MT_OCI_LAYER_GZIP),
        _ => None,
    };
    let bytes = content
        .read(&d.digest)
        .map_err(|source| OciLayoutError::Content {
            digest: d.digest,
            source,
        })?;
    let children = match manifest::parse(&d.digest, Some(&d.media_type), &bytes)
        .map_err(OciLayoutError::Manifest)?
    {
        Parsed::Manifest(m) => std::iter::once(m.config).chain(m.layers).collect(),
        Parsed::Index(_) => return Ok(None),
    };
    // Edited as JSON so fields berth's types do not model survive.
    let mut v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|source| OciLayoutError::Json {
            file: "docker manifest",
            source,
        })?;
    let retype = |slot: &mut serde_json::Value| -> bool {
        let Some(oci) = slot
            .get("mediaType")
            .and_then(|m| m.as_str())
            .and_then(twin)
        else {
            return false;
        };
        slot["mediaType"] = oci.into();
        true
    };
    if !retype(&mut v["config"]) {
        return Ok(None);
    }
    if let Some(layers) = v.get_mut("layers").and_then(|l| l.as_array_mut()) {
        for l in layers {
            if !retype(l) {
                return Ok(None);
            }
        }
    }
    v["mediaType"] = MT_OCI_MANIFEST.into();
    let out = serde_json::to_vec(&v).map_err(|source| OciLayoutError::Json {
        file: "oci manifest",
        source,
    })?;
    let mut oci = d.clone();
    oci.media_type = MT_OCI_MANIFEST.into();
    oci.digest = Digest::of(&out);
    oci.size = out.len() as u64;
    Ok(Some(OciTwin {
        desc: oci,
        bytes: out,
        children,
    }))
}
