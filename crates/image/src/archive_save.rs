//! `docker save`: images out of the store as the archive dockerd 20.10
//! writes (its `image/tarexport` layout, legacy v1.2 format):
//!
//! ```text
//! <v1 id>/            one directory per layer of each image
//! <v1 id>/VERSION     "1.0"
//! <v1 id>/json        the legacy v1 image JSON of that layer
//! <v1 id>/layer.tar   the uncompressed layer (a symlink to the first copy
//!                     when another directory already holds the same diff)
//! <config hex>.json   each image's config, byte for byte
//! manifest.json       [{"Config", "RepoTags", "Layers"}], one per image
//! repositories        {"<repo>": {"<tag>": "<v1 id of the top layer>"}}
//! ```
//!
//! Entries come in the order dockerd's tar walk gives them (sorted by
//! path), layer files carry the image's creation time, `manifest.json`
//! and `repositories` the epoch, as dockerd's do. A layer's v1 ID is
//! derived from its chain ID and its parent's v1 ID (and, for an image's
//! top layer, the image ID), so a shared lower stack shares directories;
//! the values differ from dockerd's (which hashes Go's encoding of its
//! legacy structs) and no loader relies on them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};

use berth_content::{Digest, Store};

use crate::archive::{ArchiveError, ArchiveManifest};
use crate::compression::{self, Compression};
use crate::config::{ImageConfig, chain_ids};
use crate::manifest::{self, Descriptor, Parsed, Platform};
use crate::reference::Reference;
use crate::store::ImageStore;

/// One image of a `docker save` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveItem {
    /// What names the image in messages (a record name, an ID).
    pub name: String,
    /// The image's manifest, or an index resolved to the platform's one.
    pub target: Descriptor,
    /// The tags recorded for it (`RepoTags`, `repositories`); references
    /// without a tag are skipped.
    pub tags: Vec<Reference>,
}

/// Writes the images `names` (record names) as a `docker save` archive.
/// An index is resolved to `platform`'s manifest. Record names that are
/// image IDs (`sha256:…`) add no tag.
pub fn save_docker_archive(
    content: &Store,
    images: &ImageStore,
    names: &[&str],
    platform: &Platform,
    out: impl Write,
) -> Result<(), ArchiveError> {
    let mut items = Vec::new();
    for name in names {
        let rec = images.get(name).map_err(ArchiveError::Records)?;
        let tags = if name.starts_with("sha256:") {
            Vec::new()
        } else {
            Reference::parse_normalized(name).into_iter().collect()
        };
        items.push(SaveItem {
            name: name.to_string(),
            target: rec.target,
            tags,
        });
    }
    save_docker_archive_items(content, &items, platform, out)
}

/// The zero value of the legacy `container_config` dockerd writes into the
/// `json` of a layer that is not an image's top.
const EMPTY_CONTAINER_CONFIG: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}"#;

/// One file of the archive, before it is written.
enum Entry {
    Dir,
    Bytes(Vec<u8>),
    /// A layer blob, written uncompressed; `image` names it in errors.
    Layer(Box<LayerEntry>),
}

struct LayerEntry {
    desc: Descriptor,
    diff_id: Digest,
    image: String,
}

/// The archive as a plan: every entry by path (so sorted as dockerd's
/// walk writes them), with its modification time.
#[derive(Default)]
struct Plan {
    entries: BTreeMap<String, (Entry, u64)>,
}

fn seconds(created: Option<&str>) -> u64 {
    created
        .and_then(|c| c.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second().max(0) as u64)
        .unwrap_or(0)
}

/// The legacy v1 ID of a layer (see the module doc).
fn v1_id(chain: &Digest, parent: Option<&Digest>, top_of: Option<&Digest>) -> Digest {
    let parent = parent.map(Digest::to_string).unwrap_or_default();
    let image = top_of.map(Digest::to_string).unwrap_or_default();
    Digest::of(format!("{chain} {parent} {image}").as_bytes())
}

/// The `json` of a layer: for the top, the image config without its
/// `rootfs` and `history` (the legacy image), else a bare legacy image.
fn layer_json(
    id: &Digest,
    parent: Option<&Digest>,
    top: Option<&[u8]>,
    os: &str,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut v: serde_json::Map<String, serde_json::Value> = match top {
        Some(raw) => serde_json::from_slice(raw)?,
        None => {
            let mut m = serde_json::Map::new();
            m.insert("created".into(), "1970-01-01T00:00:00Z".into());
            m.insert(
                "container_config".into(),
                serde_json::from_str(EMPTY_CONTAINER_CONFIG)?,
            );
            m
        }
    };
    v.remove("rootfs");
    v.remove("history");
    v.insert("id".into(), id.hex().into());
    if let Some(p) = parent {
        v.insert("parent".into(), p.hex().into());
    }
    v.insert("os".into(), os.into());
    serde_json::to_vec(&v)
}

/// Writes `items` as a `docker save` archive (see the module doc); items
/// of the same image become one `manifest.json` entry with all their tags.
pub fn save_docker_archive_items(
    content: &Store,
    items: &[SaveItem],
    platform: &Platform,
    out: impl Write,
) -> Result<(), ArchiveError> {
    let mut plan = Plan::default();
    let mut manifest_json: Vec<ArchiveManifest> = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut by_id: BTreeMap<Digest, usize> = BTreeMap::new();
    for item in items {
        let image = item.name.clone();
        let cerr = |source| ArchiveError::Content {
            image: image.clone(),
            source,
        };
        let merr = |source| ArchiveError::Manifest {
            image: image.clone(),
            source,
        };
        let mut desc = item.target.clone();
        let m = loop {
            let bytes = content.read(&desc.digest).map_err(cerr)?;
            match manifest::parse(&desc.digest, Some(&desc.media_type), &bytes).map_err(merr)? {
                Parsed::Manifest(m) => break *m,
                Parsed::Index(i) => desc = i.select(&desc.digest, platform).map_err(merr)?.clone(),
            }
        };
        let id = m.config.digest;
        let config_bytes = content.read(&id).map_err(cerr)?;
        let config = ImageConfig::parse(&id, &config_bytes)
            .map_err(|source| ArchiveError::Config { source })?;
        config
            .check_layers(&id, m.layers.len())
            .map_err(|source| ArchiveError::Config { source })?;
        let created = seconds(config.created.as_deref());
        let idx = match by_id.get(&id) {
            Some(i) => *i,
            None => {
                let chains = chain_ids(&config.rootfs.diff_ids);
                let mut parent: Option<Digest> = None;
                let mut layers = Vec::new();
                for (i, l) in m.layers.iter().enumerate() {
                    let top = i + 1 == m.layers.len();
                    let v1 = v1_id(&chains[i], parent.as_ref(), top.then_some(&id));
                    let json = layer_json(
                        &v1,
                        parent.as_ref(),
                        top.then_some(&config_bytes[..]),
                        &config.os,
                    )
                    .map_err(|source| ArchiveError::Json {
                        file: "image config",
                        source,
                    })?;
                    let dir = v1.hex();
                    plan.entries
                        .insert(format!("{dir}/"), (Entry::Dir, created));
                    plan.entries.insert(
                        format!("{dir}/VERSION"),
                        (Entry::Bytes(b"1.0".to_vec()), created),
                    );
                    plan.entries
                        .insert(format!("{dir}/json"), (Entry::Bytes(json), created));
                    plan.entries.insert(
                        format!("{dir}/layer.tar"),
                        (
                            Entry::Layer(Box::new(LayerEntry {
                                desc: l.clone(),
                                diff_id: config.rootfs.diff_ids[i],
                                image: image.clone(),
                            })),
                            created,
                        ),
                    );
                    layers.push(format!("{dir}/layer.tar"));
                    parent = Some(v1);
                }
                plan.entries.insert(
                    format!("{}.json", id.hex()),
                    (Entry::Bytes(config_bytes.clone()), created),
                );
                manifest_json.push(ArchiveManifest {
                    config: format!("{}.json", id.hex()),
                    repo_tags: None,
                    layers,
                });
                by_id.insert(id, manifest_json.len() - 1);
                manifest_json.len() - 1
            }
        };
        let top = manifest_json[idx]
            .layers
            .last()
            .map(|p| p.trim_end_matches("/layer.tar").to_owned());
        for r in item.tags.iter().filter(|r| r.tag.is_some()) {
            if let (Some(t), Some(top)) = (&r.tag, &top) {
                repositories
                    .entry(r.familiar_name())
                    .or_default()
                    .insert(t.clone(), top.clone());
            }
            let tags = manifest_json[idx].repo_tags.get_or_insert_with(Vec::new);
            let s = r.familiar_string();
            if !tags.contains(&s) {
                tags.push(s);
            }
        }
    }
    // Plain data with string keys: serialization cannot fail.
    let mj = serde_json::to_vec(&manifest_json).unwrap_or_default();
    plan.entries
        .insert("manifest.json".into(), (Entry::Bytes(mj), 0));
    if !repositories.is_empty() {
        let rj = serde_json::to_vec(&repositories).unwrap_or_default();
        plan.entries
            .insert("repositories".into(), (Entry::Bytes(rj), 0));
    }
    write_plan(content, plan, out)
}

fn write_plan(content: &Store, plan: Plan, out: impl Write) -> Result<(), ArchiveError> {
    let mut b = tar::Builder::new(out);
    // The first path each diff ID was written at; later copies link to it.
    let mut written: BTreeMap<Digest, String> = BTreeMap::new();
    let mut dirs = BTreeSet::new();
    for (path, (entry, mtime)) in plan.entries {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        match entry {
            Entry::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                dirs.insert(path.clone());
                b.append_data(&mut h, &path, io::empty())
                    .map_err(ArchiveError::Write)?;
            }
            Entry::Bytes(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, &path, &data[..])
                    .map_err(ArchiveError::Write)?;
            }
            Entry::Layer(layer) => {
                let LayerEntry {
                    desc,
                    diff_id,
                    image,
                } = *layer;
                h.set_mode(0o644);
                if let Some(first) = written.get(&diff_id) {
                    // dockerd's symlink: relative to this layer's directory.
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, &path, format!("../{first}"))
                        .map_err(ArchiveError::Write)?;
                } else {
                    write_layer(&mut b, content, &desc, &path, &image, h)?;
                    written.insert(diff_id, path);
                }
            }
        }
    }
    b.into_inner().map(|_| ()).map_err(ArchiveError::Write)
}

/// Archives carry uncompressed layers; compressed blobs are decompressed
/// twice (once to learn the size the tar header needs, once to stream).
fn write_layer(
    b: &mut tar::Builder<impl Write>,
    content: &Store,
    l: &Descriptor,
    path: &str,
    image: &str,
    mut h: tar::Header,
) -> Result<(), ArchiveError> {
    let lerr = |source| ArchiveError::Layer {
        image: image.to_owned(),
        layer: l.digest,
        source,
    };
    let c = Compression::from_media_type(&l.media_type).unwrap_or(Compression::None);
    let open = || -> Result<Box<dyn Read>, ArchiveError> {
        let f = content
            .reader(&l.digest)
            .map_err(|source| ArchiveError::Content {
                image: image.to_owned(),
                source,
            })?
            .into_file();
        compression::decoder(io::BufReader::with_capacity(1 << 20, f), c).map_err(|source| {
            ArchiveError::Compression {
                file: path.to_owned(),
                source,
            }
        })
    };
    let size = if c == Compression::None {
        l.size
    } else {
        io::copy(&mut open()?, &mut io::sink()).map_err(lerr)?
    };
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    b.append_data(&mut h, path, open()?)
        .map_err(ArchiveError::Write)
}
