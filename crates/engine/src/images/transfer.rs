//! Images in and out: `docker import` (a rootfs tarball becomes a one-layer
//! image), `docker load` (a `docker save` archive or an OCI layout in a
//! tar) and `docker save` (dockerd 20.10's archive: `manifest.json`,
//! `repositories`, `<config>.json`, one `<dir>/layer.tar` per layer).
//!
//! Arriving images are unpacked into the snapshotter right away, so that
//! creating a container from them only prepares a snapshot.

use std::collections::HashMap;
use std::io::{Read, Write};

use berth_image::archive::{AnyLoaded, SaveItem, load_any_archive, save_docker_archive_items};
use berth_image::import::{ImportOptions, import_rootfs};
use berth_image::{Reference, ReferenceError};

use super::catalog::{Catalog, Image};
use super::{Error, ImageService};

/// The outcome of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Imported {
    /// `sha256:<hex>`.
    pub id: String,
    /// The familiar reference it was tagged with, if any.
    pub tagged: Option<String>,
}

/// The outcome of a load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LoadOutcome {
    /// docker's output lines ("Loaded image: busybox:latest", "Loaded
    /// image ID: sha256:…", and a note for each tag taken from another
    /// image), without newlines.
    pub lines: Vec<String>,
    /// The IDs of the loaded images, in archive order.
    pub ids: Vec<String>,
}

/// The reference an import tags its image with: `repo` (which may carry
/// a tag) with `tag` replacing its tag when given. Docker refuses digests
/// and the repository name `sha256`.
pub(crate) fn import_reference(
    repo: Option<&str>,
    tag: Option<&str>,
) -> Result<Option<Reference>, Error> {
    let Some(repo) = repo.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let mut r = Reference::parse_normalized(repo).map_err(Error::InvalidReference)?;
    if r.digest.is_some() {
        return Err(Error::ImportDigest);
    }
    if let Some(t) = tag.filter(|t| !t.is_empty()) {
        // Validated by the reference grammar, as docker's WithTag does.
        let tagged = format!("{}:{t}", r.name());
        r = Reference::parse_normalized(&tagged)
            .map_err(|e| match e {
                ReferenceError::NameTooLong => e,
                _ => ReferenceError::InvalidFormat,
            })
            .map_err(Error::InvalidReference)?;
    }
    let r = r.with_default_tag();
    if r.familiar_name() == "sha256" {
        return Err(Error::AmbiguousTag);
    }
    Ok(Some(r))
}

impl ImageService {
    /// `POST /images/create?fromSrc=-`. Everything the request can get
    /// wrong (reference, changes) is refused before the body is read; the
    /// image is recorded untagged, unpacked, and only then tagged, so a
    /// layer that cannot be unpacked never takes a tag away from an image.
    pub(crate) fn import(
        &self,
        tarball: impl Read,
        repo: Option<&str>,
        tag: Option<&str>,
        changes: &[String],
        message: Option<&str>,
    ) -> Result<Imported, Error> {
        // The changes are checked by the import itself before it reads.
        let reference = import_reference(repo, tag)?;
        let _ops = self.read_ops();
        let inner = &*self.inner;
        let imported = import_rootfs(
            &inner.content,
            &inner.leases,
            &inner.records,
            tarball,
            &ImportOptions {
                changes,
                message,
                name: None,
                platform: inner.platform.clone(),
            },
        )
        .map_err(|e| Error::Import(Box::new(e)))?;
        let id = imported.id.to_string();
        let cat = self.catalog()?;
        let img = cat.by_id_str(&id)?;
        self.unpack(img)?;
        let tagged = match reference {
            Some(r) => {
                self.put_tag(img, &r)?;
                Some(r.familiar_string())
            }
            None => None,
        };
        Ok(Imported { id, tagged })
    }

    /// Points the tag `r` at `img` (one record write).
    pub(crate) fn put_tag(&self, img: &Image, r: &Reference) -> Result<(), Error> {
        self.inner
            .records
            .put_all(vec![berth_image::ImageRecord {
                name: r.to_string(),
                target: img.target.clone(),
                created_at: now(),
            }])
            .map_err(Error::Records)
    }

    /// `POST /images/load`. The records appear all at once when the
    /// archive checks out; the layers are unpacked after that, and an
    /// image whose unpack fails stays listed (creating a container from
    /// it retries the unpack and reports the failure).
    pub(crate) fn load(&self, archive: impl Read) -> Result<LoadOutcome, Error> {
        let _ops = self.read_ops();
        let before = self.catalog()?;
        let inner = &*self.inner;
        let loaded = load_any_archive(
            &inner.content,
            &inner.leases,
            &inner.records,
            archive,
            None,
            &inner.platform,
        )
        .map_err(|e| Error::Load(Box::new(e)))?;
        self.anchor_all()?;
        let cat = self.catalog()?;
        // (image, names it was loaded with), in archive order.
        let mut got: Vec<(&Image, Vec<String>)> = Vec::new();
        match loaded {
            AnyLoaded::Docker(v) => {
                for l in v {
                    got.push((cat.by_id_str(&l.id.to_string())?, l.names));
                }
            }
            AnyLoaded::Oci(v) => {
                for l in v {
                    // The loaded target may be an index: resolve it as the
                    // catalog does, through a record naming it.
                    let img = cat
                        .images
                        .iter()
                        .find(|i| i.records.iter().any(|n| l.names.contains(n)))
                        .or_else(|| {
                            cat.images
                                .iter()
                                .find(|i| i.target.digest == l.target.digest)
                        })
                        .ok_or_else(|| Error::NoSuchImage(l.target.digest.to_string()))?;
                    got.push((img, l.names));
                }
            }
        }
        let mut out = LoadOutcome::default();
        for (img, names) in got {
            self.unpack(img)?;
            let id = img.id_string();
            let tags: Vec<Reference> = names
                .iter()
                .filter(|n| !n.starts_with("sha256:"))
                .filter_map(|n| Reference::parse_normalized(n).ok())
                .collect();
            for t in &tags {
                if let Some(prev) = previous_owner(&before, t).filter(|p| *p != id) {
                    out.lines.push(format!(
                        "The image {} already exists, renaming the old one with ID {prev} to empty string",
                        t.familiar_string()
                    ));
                }
            }
            if tags.is_empty() {
                out.lines.push(format!("Loaded image ID: {id}"));
            }
            for t in &tags {
                out.lines
                    .push(format!("Loaded image: {}", t.familiar_string()));
            }
            if !out.ids.contains(&id) {
                out.ids.push(id);
            }
        }
        Ok(out)
    }

    /// `GET /images/get?names=…` (and `/images/{name}/get`): writes the
    /// images as a `docker save` archive; returns their IDs. Every name is
    /// resolved before the first byte is written.
    pub(crate) fn save(&self, names: &[String], out: impl Write) -> Result<Vec<String>, Error> {
        let _ops = self.read_ops();
        let cat = self.catalog()?;
        let mut order: Vec<String> = Vec::new();
        let mut items: HashMap<String, SaveItem> = HashMap::new();
        for name in names {
            for (img, tag) in save_selection(&cat, name)? {
                let id = img.id_string();
                let item = items.entry(id.clone()).or_insert_with(|| {
                    order.push(id.clone());
                    SaveItem {
                        name: name.clone(),
                        target: img.target.clone(),
                        tags: Vec::new(),
                    }
                });
                if let Some(t) = tag {
                    if !item.tags.contains(&t) {
                        item.tags.push(t);
                    }
                }
            }
        }
        let items: Vec<SaveItem> = order.iter().filter_map(|id| items.remove(id)).collect();
        save_docker_archive_items(&self.inner.content, &items, &self.inner.platform, out)
            .map_err(|e| Error::Save(Box::new(e)))?;
        Ok(order)
    }
}

/// The image a tag named before a load, if any.
fn previous_owner(before: &Catalog, t: &Reference) -> Option<String> {
    before
        .images
        .iter()
        .find(|i| i.refs.contains(t))
        .map(Image::id_string)
}

/// docker's `parseNames` for one save argument: an ID (whole or prefix)
/// saves the image without tags; a bare repository saves every tag of it;
/// `repo:tag` saves that tag.
fn save_selection<'c>(
    cat: &'c Catalog,
    name: &str,
) -> Result<Vec<(&'c Image, Option<Reference>)>, Error> {
    let full = name.strip_prefix("sha256:").unwrap_or(name);
    if full.len() == 64 && full.bytes().all(|b| b.is_ascii_hexdigit()) {
        let (img, _) = cat.lookup(name)?;
        return Ok(vec![(img, None)]);
    }
    let r = Reference::parse_normalized(name).map_err(Error::InvalidReference)?;
    let by_prefix = || -> Result<Vec<(&'c Image, Option<Reference>)>, Error> {
        let mut hits = cat
            .images
            .iter()
            .filter(|i| !full.is_empty() && i.id.hex().starts_with(full));
        match (hits.next(), hits.next()) {
            (Some(img), None) => Ok(vec![(img, None)]),
            _ => Err(Error::NoSuchImage(name.to_string())),
        }
    };
    if r.familiar_name() == "sha256" {
        return by_prefix();
    }
    if r.tag.is_none() && r.digest.is_none() {
        let tagged: Vec<_> = cat
            .images
            .iter()
            .flat_map(|i| i.tags().map(move |t| (i, t)))
            .filter(|(_, t)| t.name() == r.name())
            .map(|(i, t)| (i, Some(t.clone())))
            .collect();
        return if tagged.is_empty() {
            by_prefix()
        } else {
            Ok(tagged)
        };
    }
    cat.images
        .iter()
        .find(|i| i.refs.contains(&r))
        .map(|i| vec![(i, Some(r.clone()))])
        .ok_or(Error::NoSuchReference)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_references_follow_docker() {
        let r = |repo: Option<&str>, tag: Option<&str>| {
            import_reference(repo, tag).map(|r| r.map(|r| r.to_string()))
        };
        assert_eq!(r(None, Some("x")).unwrap(), None);
        assert_eq!(r(Some(""), None).unwrap(), None);
        assert_eq!(
            r(Some("img"), None).unwrap().as_deref(),
            Some("docker.io/library/img:latest")
        );
        assert_eq!(
            r(Some("img:1"), Some("2")).unwrap().as_deref(),
            Some("docker.io/library/img:2")
        );
        assert_eq!(
            r(Some("img"), Some("bad tag")).unwrap_err().to_string(),
            "invalid reference format"
        );
        let d = format!("img@sha256:{}", "a".repeat(64));
        assert_eq!(
            r(Some(&d), None).unwrap_err().to_string(),
            "cannot import digest reference"
        );
        assert!(matches!(r(Some("sha256"), None), Err(Error::AmbiguousTag)));
    }
}
