//! The catalog: the image store's records grouped into images, and
//! docker's rules for finding an image by what a user typed.
//!
//! Vocabulary. An *image* is identified by its *ID*, the digest of its
//! config (`sha256:<hex>`). Records of the image store name it:
//! - its *anchor*, a record named by the ID itself. Every image has one;
//!   it keeps the image alive while no tag names it (docker's "dangling"
//!   images: `<none>:<none>` in `docker images`);
//! - *tags*: normalised references with a tag
//!   (`docker.io/library/busybox:latest`);
//! - *digest references* (`name@sha256:…`), which pulls record.
//!
//! So moving a tag to another image leaves the old image dangling, as in
//! docker, and an image is deleted by removing all of its records (garbage
//! collection then takes its blobs and snapshots).
//!
//! A [`Catalog`] is a snapshot of the records taken at one instant; the
//! manifests and configs behind the records are immutable blobs, parsed
//! once and cached by digest.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_content::{ContentError, Digest, Store};
use berth_image::config::{ImageConfig, chain_ids};
use berth_image::manifest::{self, Descriptor, Manifest, ManifestError, Parsed, Platform};
use berth_image::{ImageRecord, Reference};

use super::error::Error;

/// What a record's name says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordName {
    /// `sha256:<hex>`: an anchor when it is the image's own ID.
    Id(Digest),
    /// A reference with a tag and no digest.
    Tag(Reference),
    /// A reference with a digest.
    Digest(Reference),
    /// Anything else (no record writer produces it).
    Other,
}

/// Classifies a record name. `sha256:<hex>` is tested first: parsed as a
/// reference it would read as repository `sha256` with a tag.
pub(crate) fn classify(name: &str) -> RecordName {
    if let Some(d) = name
        .strip_prefix("sha256:")
        .and_then(|h| Digest::from_hex(h).ok())
    {
        return RecordName::Id(d);
    }
    match Reference::parse_normalized(name) {
        Ok(r) if r.digest.is_some() => RecordName::Digest(r),
        Ok(r) if r.tag.is_some() => RecordName::Tag(r),
        _ => RecordName::Other,
    }
}

/// A record's target, parsed: the manifest for this host's platform and
/// the image config it names.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub id: Digest,
    pub manifest: Manifest,
    pub config: ImageConfig,
}

/// One image and every record that names it.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub id: Digest,
    /// The target of its anchor (else of any of its records).
    pub target: Descriptor,
    pub resolved: Arc<Resolved>,
    /// Tags and digest references, sorted by their full string (the order
    /// docker's reference store lists them in).
    pub refs: Vec<Reference>,
    /// Names of all its records (anchor included).
    pub records: Vec<String>,
    /// Whether its anchor record exists.
    pub anchored: bool,
    /// When its newest tag record was written (seconds since the epoch).
    pub last_tagged: Option<i64>,
    /// When its first record was written.
    pub recorded_at: i64,
}

impl Image {
    pub fn id_string(&self) -> String {
        self.id.to_string()
    }

    pub fn config(&self) -> &ImageConfig {
        &self.resolved.config
    }

    pub fn tags(&self) -> impl Iterator<Item = &Reference> {
        self.refs.iter().filter(|r| r.digest.is_none())
    }

    pub fn digest_refs(&self) -> impl Iterator<Item = &Reference> {
        self.refs.iter().filter(|r| r.digest.is_some())
    }

    /// Familiar `name:tag` strings, as `RepoTags` lists them.
    pub fn repo_tags(&self) -> Vec<String> {
        self.tags().map(Reference::familiar_string).collect()
    }

    /// Familiar `name@sha256:…` strings, as `RepoDigests` lists them.
    pub fn repo_digests(&self) -> Vec<String> {
        self.digest_refs()
            .map(|r| {
                let mut r = r.clone();
                r.tag = None;
                r.familiar_string()
            })
            .collect()
    }

    /// The chain IDs of its layers, bottom first (snapshot names).
    pub fn chain_ids(&self) -> Vec<Digest> {
        chain_ids(&self.config().rootfs.diff_ids)
    }

    /// Creation time from the config, in seconds since the epoch; when the
    /// config has none (or an unreadable one), when it was first recorded.
    pub fn created(&self) -> i64 {
        self.config()
            .created
            .as_deref()
            .and_then(|c| c.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second())
            .unwrap_or(self.recorded_at)
    }

    pub fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.config()
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
    }
}

/// Parses record targets, caching by target digest (blobs are immutable).
#[derive(Debug, Default)]
pub(crate) struct ResolveCache {
    map: std::sync::Mutex<HashMap<Digest, Arc<Resolved>>>,
}

impl ResolveCache {
    /// The manifest and config behind `target` for `platform`; `None` when
    /// `target` is an index without a manifest for this platform (a foreign
    /// image: listed nowhere, runnable nowhere here).
    pub fn resolve(
        &self,
        content: &Store,
        target: &Descriptor,
        platform: &Platform,
    ) -> Result<Option<Arc<Resolved>>, Error> {
        if let Some(r) = self.lock().get(&target.digest) {
            return Ok(Some(r.clone()));
        }
        let name = target.digest.to_string();
        let cerr = |source: ContentError| Error::Content {
            image: name.clone(),
            source,
        };
        let corrupt = |reason: String| Error::Corrupt {
            image: name.clone(),
            reason,
        };
        let mut desc = target.clone();
        let manifest = loop {
            let bytes = content.read(&desc.digest).map_err(cerr)?;
            match manifest::parse(&desc.digest, Some(&desc.media_type), &bytes) {
                Ok(Parsed::Manifest(m)) => break *m,
                Ok(Parsed::Index(i)) => match i.select(&desc.digest, platform) {
                    Ok(d) => desc = d.clone(),
                    Err(ManifestError::NoPlatform { .. }) => return Ok(None),
                    Err(e) => return Err(corrupt(e.to_string())),
                },
                Err(e) => return Err(corrupt(e.to_string())),
            }
        };
        let id = manifest.config.digest;
        let bytes = content.read(&id).map_err(cerr)?;
        let config = ImageConfig::parse(&id, &bytes).map_err(|e| corrupt(e.to_string()))?;
        let r = Arc::new(Resolved {
            id,
            manifest,
            config,
        });
        self.lock().insert(target.digest, r.clone());
        Ok(Some(r))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Arc<Resolved>>> {
        // Entries are inserted whole: a panic elsewhere leaves nothing torn.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets targets no record names any more.
    pub fn retain(&self, live: &std::collections::HashSet<Digest>) {
        self.lock().retain(|d, _| live.contains(d));
    }
}

/// The images at one instant, sorted by ID.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub images: Vec<Image>,
}

/// How [`Catalog::lookup`] found an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// By the whole ID (`sha256:<hex>` or 64 hex characters).
    Id,
    /// By a tag or digest reference.
    Reference,
    /// By a unique prefix of the ID.
    Prefix,
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Catalog {
    /// Groups `records` into images; `resolve` parses a record's target.
    pub fn build(
        records: Vec<ImageRecord>,
        mut resolve: impl FnMut(&Descriptor) -> Result<Option<Arc<Resolved>>, Error>,
    ) -> Result<Catalog, Error> {
        let mut by_id: BTreeMap<Digest, Image> = BTreeMap::new();
        for rec in records {
            let Some(resolved) = resolve(&rec.target)? else {
                continue;
            };
            let class = classify(&rec.name);
            let img = by_id.entry(resolved.id).or_insert_with(|| Image {
                id: resolved.id,
                target: rec.target.clone(),
                resolved: resolved.clone(),
                refs: Vec::new(),
                records: Vec::new(),
                anchored: false,
                last_tagged: None,
                recorded_at: rec.created_at,
            });
            img.records.push(rec.name.clone());
            img.recorded_at = img.recorded_at.min(rec.created_at);
            match class {
                RecordName::Id(d) if d == resolved.id => {
                    img.anchored = true;
                    img.target = rec.target.clone();
                    img.resolved = resolved;
                }
                RecordName::Tag(r) => {
                    img.last_tagged = img.last_tagged.max(Some(rec.created_at));
                    img.refs.push(r);
                }
                RecordName::Digest(r) => img.refs.push(r),
                RecordName::Id(_) | RecordName::Other => {}
            }
        }
        let mut images: Vec<Image> = by_id.into_values().collect();
        for img in &mut images {
            img.refs.sort_by_key(|r| r.to_string());
        }
        Ok(Catalog { images })
    }

    pub fn by_id(&self, id: &Digest) -> Option<&Image> {
        self.images
            .binary_search_by(|i| i.id.cmp(id))
            .ok()
            .map(|i| &self.images[i])
    }

    /// The image a user's `name` means, by docker's rules: a whole ID
    /// (`sha256:<hex>` or the bare hex); else a reference (`busybox` is
    /// `docker.io/library/busybox:latest`); else a unique ID prefix (with
    /// or without `sha256:`). An ambiguous prefix finds nothing, as in
    /// docker.
    pub fn lookup(&self, name: &str) -> Result<(&Image, Found), Error> {
        let full = name.strip_prefix("sha256:").unwrap_or(name);
        if full.len() == 64 && is_hex(full) {
            let not_found = || Error::NoSuchImage(format!("sha256:{full}"));
            let d = Digest::from_hex(full).map_err(|_| not_found())?;
            return self.by_id(&d).map(|i| (i, Found::Id)).ok_or_else(not_found);
        }
        let r = Reference::parse_normalized(name)
            .map_err(Error::InvalidReference)?
            .with_default_tag();
        if let Some(img) = self.images.iter().find(|i| i.refs.contains(&r)) {
            return Ok((img, Found::Reference));
        }
        if is_hex(full) {
            let mut hits = self.images.iter().filter(|i| i.id.hex().starts_with(full));
            if let (Some(img), None) = (hits.next(), hits.next()) {
                return Ok((img, Found::Prefix));
            }
        }
        Err(Error::NoSuchImage(r.familiar_string()))
    }

    /// Looks up an image ID as the container service stores it.
    pub fn by_id_str(&self, id: &str) -> Result<&Image, Error> {
        let not_found = || Error::NoSuchImage(id.to_string());
        let d: Digest = if id.starts_with("sha256:") {
            id.parse().map_err(|_| not_found())?
        } else {
            Digest::from_hex(id).map_err(|_| not_found())?
        };
        self.by_id(&d).ok_or_else(not_found)
    }
}

/// True when docker reads `name` as (a prefix of) the ID `id`
/// (`sha256:<hex>`) rather than as a reference.
pub(crate) fn is_id_prefix(id: &str, name: &str) -> bool {
    !name.is_empty() && (id.starts_with(name) || id.starts_with(&format!("sha256:{name}")))
}

/// A small image for unit tests: one layer whose diff ID derives from `n`.
#[cfg(test)]
pub(crate) fn test_image(n: u8) -> Arc<Resolved> {
    let config = ImageConfig {
        created: Some("2024-01-02T03:04:05.123456789Z".into()),
        author: None,
        architecture: "amd64".into(),
        os: "linux".into(),
        variant: None,
        config: None,
        rootfs: berth_image::config::RootFs {
            kind: "layers".into(),
            diff_ids: vec![Digest::of(&[n])],
        },
        history: vec![],
        extra: Default::default(),
    };
    let id = Digest::of(&config.to_bytes());
    let desc = |d| Descriptor {
        media_type: manifest::MT_DOCKER_CONFIG.into(),
        digest: d,
        size: 1,
        urls: vec![],
        annotations: Default::default(),
        platform: None,
    };
    Arc::new(Resolved {
        id,
        manifest: Manifest {
            schema_version: 2,
            media_type: None,
            config: desc(id),
            layers: vec![],
            annotations: Default::default(),
        },
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, target: u8, at: i64) -> ImageRecord {
        ImageRecord {
            name: name.into(),
            target: Descriptor {
                media_type: manifest::MT_DOCKER_MANIFEST.into(),
                digest: Digest::of(&[target]),
                size: 1,
                urls: vec![],
                annotations: Default::default(),
                platform: None,
            },
            created_at: at,
        }
    }

    /// Two images: A (anchor + busybox:latest + busybox:1 + other/x:v) and
    /// B (anchor only).
    fn catalog() -> (Catalog, Digest, Digest) {
        let (a, b) = (test_image(1), test_image(2));
        let (ida, idb) = (a.id, b.id);
        let records = vec![
            record(&ida.to_string(), 1, 10),
            record("docker.io/library/busybox:latest", 1, 20),
            record("docker.io/library/busybox:1", 1, 30),
            record("docker.io/other/x:v", 1, 15),
            record(&idb.to_string(), 2, 5),
        ];
        let c = Catalog::build(records, |t| {
            Ok(Some(if t.digest == Digest::of(&[1]) {
                a.clone()
            } else {
                b.clone()
            }))
        })
        .unwrap();
        (c, ida, idb)
    }

    #[test]
    fn records_group_into_images() {
        let (c, ida, idb) = catalog();
        assert_eq!(c.images.len(), 2);
        let a = c.by_id(&ida).unwrap();
        assert!(a.anchored && !a.refs.is_empty());
        assert_eq!(
            a.repo_tags(),
            ["busybox:1", "busybox:latest", "other/x:v"],
            "sorted by full reference"
        );
        assert_eq!((a.last_tagged, a.recorded_at), (Some(30), 10));
        assert_eq!(a.created(), 1_704_164_645);
        let b = c.by_id(&idb).unwrap();
        assert!(b.refs.is_empty() && b.anchored);
        assert_eq!(b.records, [idb.to_string()]);
    }

    #[test]
    fn lookup_follows_dockers_order() {
        let (c, ida, idb) = catalog();
        let (i, how) = c.lookup("busybox").unwrap();
        assert_eq!((i.id, how), (ida, Found::Reference));
        assert_eq!(c.lookup("busybox:1").unwrap().0.id, ida);
        assert_eq!(c.lookup("docker.io/other/x:v").unwrap().0.id, ida);
        assert_eq!(c.lookup(&ida.to_string()).unwrap().1, Found::Id);
        assert_eq!(c.lookup(&idb.hex()).unwrap().0.id, idb);
        let prefix = &idb.hex()[..6];
        let (i, how) = c.lookup(prefix).unwrap();
        assert_eq!((i.id, how), (idb, Found::Prefix));
        let (i, _) = c.lookup(&format!("sha256:{prefix}")).unwrap();
        assert_eq!(i.id, idb);
        let e = |n: &str| c.lookup(n).unwrap_err().to_string();
        assert_eq!(e("nope"), "No such image: nope:latest");
        assert_eq!(e("busybox:2"), "No such image: busybox:2");
        let missing = "0".repeat(64);
        assert_eq!(e(&missing), format!("No such image: sha256:{missing}"));
        assert_eq!(
            e("Busybox"),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert!(matches!(c.lookup(""), Err(Error::InvalidReference(_))));
        // The empty prefix (and "sha256:") would match everything.
        assert!(c.lookup("sha256:").is_err());
    }

    #[test]
    fn id_records_and_references_classify_apart() {
        let id = Digest::of(b"x");
        assert_eq!(classify(&id.to_string()), RecordName::Id(id));
        assert!(matches!(
            classify("docker.io/library/busybox:latest"),
            RecordName::Tag(_)
        ));
        let d = format!("docker.io/library/busybox@{id}");
        assert!(matches!(classify(&d), RecordName::Digest(_)));
        assert_eq!(classify("docker.io/library/busybox"), RecordName::Other);
        assert!(is_id_prefix(&id.to_string(), &id.hex()[..5]));
        assert!(is_id_prefix(&id.to_string(), "sha256:"));
        assert!(!is_id_prefix(&id.to_string(), "busybox"));
    }
}
