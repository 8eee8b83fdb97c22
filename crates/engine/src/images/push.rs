//! `docker push` (`POST /images/{name}/push?tag=`): for each tag of the
//! repository (or the one asked for), the image's layers are uploaded
//! (`max-concurrent-uploads` at a time, 5 by default), then its config,
//! then a manifest naming them, under the tag.
//!
//! Layers go up compressed. A layer stored compressed (pulled) is sent as
//! it is; a layer stored as its plain diff (imported, loaded, committed)
//! is gzipped into the content store once, and later pushes find that
//! copy again through the image's digest records. A blob the repository
//! has is skipped (HEAD); one known in another repository of the registry
//! is mounted from there. The manifest is Docker v2 schema 2 when the
//! local one is (images imported, loaded from docker archives, or pulled
//! that way), OCI otherwise; after the push the image is recorded under
//! `name@<digest>` as dockerd does, which also keeps the compressed
//! copies alive.
//!
//! A foreign layer (one whose descriptor lists `urls`) is not uploaded:
//! the manifest carries its descriptor as it is, and the progress says
//! "Skipped foreign layer". A registry in `allow-nondistributable-artifacts`
//! gets its bytes like any layer's, under a plain layer descriptor.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_api_types::jsonmessage::JsonMessage;
use berth_api_types::system::AuthConfig;
use berth_content::{ContentError, Digest, Resource};
use berth_distribution::{Access, Repository, Session, Uploaded};
use berth_image::compression::Compression;
use berth_image::import::blob_descriptor;
use berth_image::manifest::{
    self, Descriptor, MT_DOCKER_CONFIG, MT_DOCKER_LAYER_GZIP, MT_DOCKER_MANIFEST, MT_OCI_CONFIG,
    MT_OCI_LAYER_GZIP, MT_OCI_LAYER_ZSTD, MT_OCI_MANIFEST, Manifest, Parsed, Platform,
};
use berth_image::{ImageRecord, Reference};
use tokio::sync::Semaphore;

use super::ImageService;
use super::catalog::{Image, RecordName, classify};
use super::gzip::LayerGzip;
use super::remote::{
    Out, ProgressTx, RegistryError, Throttle, concurrency, credentials, layer_progress,
    layer_status,
};
use crate::Engine;

/// What to push.
#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    /// The repository (`127.0.0.1:5000/t/busybox`), possibly with a tag.
    pub name: String,
    /// `tag`; empty for the name's own, or every tag of the repository.
    pub tag: String,
    pub auth: AuthConfig,
}

/// A compressed copy of a layer, and the repositories known to have it.
#[derive(Debug, Clone)]
struct Known {
    desc: Descriptor,
    /// (domain, path) of digest references whose manifest lists it.
    repos: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct PushLayer {
    diff_id: Digest,
    local: Descriptor,
    known: Option<Known>,
}

/// One tag's push, gathered from the store.
#[derive(Debug, Clone)]
struct TagPlan {
    reference: Reference,
    docker: bool,
    config: Descriptor,
    platform: Option<Platform>,
    layers: Vec<PushLayer>,
}

/// The reference a push request names; a tag of `None` means every tag.
pub(crate) fn push_reference(name: &str, tag: &str) -> Result<Reference, RegistryError> {
    let r = Reference::parse_normalized(name).map_err(RegistryError::InvalidReference)?;
    if r.digest.is_some() {
        return Err(RegistryError::PushDigest);
    }
    if tag.is_empty() {
        return Ok(r);
    }
    Reference::parse_normalized(&format!("{}:{tag}", r.name()))
        .map_err(RegistryError::InvalidReference)
}

impl Engine {
    /// Pushes a repository's tags; progress goes to `progress`. See the
    /// module docs.
    pub async fn image_push(
        &self,
        req: PushRequest,
        progress: ProgressTx,
    ) -> Result<(), RegistryError> {
        let out = Out(progress);
        let r = push_reference(&req.name, &req.tag)?;
        out.send(JsonMessage::status(
            "",
            format!("The push refers to repository [{}]", r.name()),
        ))
        .await;
        let svc = self.images.clone();
        let r2 = r.clone();
        let plans = tokio::task::spawn_blocking(move || svc.push_plans(&r2))
            .await
            .map_err(RegistryError::Task)??;
        let svc = self.images.clone();
        let registry = svc.registry_state();
        let session = registry.client.session(
            Repository::from_reference(&r),
            credentials(&req.auth),
            Access::Push,
        );
        let send_foreign = registry.client.allows_nondistributable(&r.domain).await;
        let lease = format!("push-{}", berth_image::import::unique());
        svc.inner
            .leases
            .create(&lease, Some(24 * 3600), Default::default())
            .map_err(RegistryError::Lease)?;
        let max = concurrency(registry.settings.max_concurrent_uploads);
        let mut result = Ok(());
        for plan in plans {
            let fam = plan.reference.familiar_string();
            result = svc
                .push_tag(&session, plan, &lease, (max, send_foreign), &out)
                .await;
            if result.is_err() {
                break;
            }
            let labels = self.registry_labels(&fam).await;
            self.image_event("push", &fam, &fam, labels);
        }
        let _ = svc.inner.leases.delete(&lease);
        result
    }
}

fn is_docker_manifest(img: &Image) -> bool {
    img.target.media_type == MT_DOCKER_MANIFEST
        || img.resolved.manifest.media_type.as_deref() == Some(MT_DOCKER_MANIFEST)
}

impl ImageService {
    /// The tags to push and what each needs (docker's errors when there is
    /// nothing to push).
    fn push_plans(&self, r: &Reference) -> Result<Vec<TagPlan>, RegistryError> {
        let cat = self.catalog().map_err(RegistryError::Images)?;
        let mut tagged: Vec<(&Image, Reference)> = cat
            .images
            .iter()
            .flat_map(|i| {
                i.tags()
                    .filter(|t| t.name() == r.name())
                    .map(move |t| (i, t.clone()))
            })
            .collect();
        if tagged.is_empty() {
            return Err(RegistryError::NoLocalImage(r.familiar_name()));
        }
        if r.tag.is_some() {
            tagged.retain(|(_, t)| t == r);
            if tagged.is_empty() {
                return Err(RegistryError::NoSuchTag(r.familiar_string()));
            }
        }
        tagged.sort_by_key(|(_, t)| t.to_string());
        tagged
            .into_iter()
            .map(|(img, reference)| {
                let m = &img.resolved.manifest;
                let known = self.known_compressed(img);
                let zstd = m.layers.iter().any(|l| l.media_type == MT_OCI_LAYER_ZSTD);
                let layers = m
                    .layers
                    .iter()
                    .zip(&img.config().rootfs.diff_ids)
                    .map(|(l, d)| PushLayer {
                        diff_id: *d,
                        local: l.clone(),
                        known: known.get(d).cloned(),
                    })
                    .collect();
                Ok(TagPlan {
                    reference,
                    docker: is_docker_manifest(img) && !zstd,
                    config: m.config.clone(),
                    platform: img.target.platform.clone(),
                    layers,
                })
            })
            .collect()
    }

    /// Compressed copies of `img`'s layers in the store, by diff ID: from
    /// its own manifest and those of its digest references.
    fn known_compressed(&self, img: &Image) -> HashMap<Digest, Known> {
        let diff_ids = &img.config().rootfs.diff_ids;
        let content = &self.inner.content;
        let mut map: HashMap<Digest, Known> = HashMap::new();
        let mut consider = |m: &Manifest, repo: Option<(String, String)>| {
            if m.layers.len() != diff_ids.len() {
                return;
            }
            for (l, d) in m.layers.iter().zip(diff_ids) {
                let compressed = matches!(
                    Compression::from_media_type(&l.media_type),
                    Ok(Compression::Gzip | Compression::Zstd)
                );
                if !compressed || !content.contains(&l.digest) {
                    continue;
                }
                let k = map.entry(*d).or_insert_with(|| Known {
                    desc: l.clone(),
                    repos: Vec::new(),
                });
                if k.desc.digest == l.digest {
                    k.repos.extend(repo.clone());
                }
            }
        };
        consider(&img.resolved.manifest, None);
        for name in &img.records {
            let RecordName::Digest(r) = classify(name) else {
                continue;
            };
            let Ok(rec) = self.inner.records.get(name) else {
                continue;
            };
            let Ok(bytes) = content.read(&rec.target.digest) else {
                continue;
            };
            let parsed = manifest::parse(&rec.target.digest, Some(&rec.target.media_type), &bytes);
            if let Ok(Parsed::Manifest(m)) = parsed {
                consider(&m, Some((r.domain.clone(), r.path.clone())));
            }
        }
        map
    }

    /// The compressed blob to send for `l` (gzipping its plain diff into
    /// the store the first time) and the path it is stored at.
    fn layer_blob(
        &self,
        l: &PushLayer,
        lease: &str,
    ) -> Result<(Descriptor, PathBuf), RegistryError> {
        let content = &self.inner.content;
        let cerr = |source| RegistryError::Content {
            what: format!("compressed layer {}", l.diff_id),
            source,
        };
        let desc = match Compression::from_media_type(&l.local.media_type) {
            Ok(Compression::Gzip | Compression::Zstd) => l.local.clone(),
            _ => match &l.known {
                Some(k) => k.desc.clone(),
                None => {
                    let c = self.gzip_layer(l)?;
                    blob_descriptor(MT_DOCKER_LAYER_GZIP, c.0, c.1)
                }
            },
        };
        self.inner
            .leases
            .add(lease, Resource::Content { id: desc.digest })
            .map_err(RegistryError::Lease)?;
        if !content.contains(&desc.digest) {
            return Err(cerr(ContentError::NotFound(desc.digest)));
        }
        let path = content.blob_path(&desc.digest);
        Ok((desc, path))
    }

    /// Gzips the plain layer `l` into the content store (deterministic:
    /// the same diff always gives the same blob).
    fn gzip_layer(&self, l: &PushLayer) -> Result<(Digest, u64), RegistryError> {
        let content = &self.inner.content;
        let cerr = |source| RegistryError::Content {
            what: format!("compressed layer {}", l.diff_id),
            source,
        };
        let reference = format!("push-gzip-{}", l.diff_id.hex());
        let mut w = loop {
            match content.writer(&reference, None) {
                Ok(w) => break w,
                // Another push is compressing the same layer.
                Err(ContentError::Locked(_)) => {
                    std::thread::sleep(std::time::Duration::from_millis(100))
                }
                Err(e) => return Err(cerr(e)),
            }
        };
        w.reset().map_err(cerr)?;
        let src = content.reader(&l.local.digest).map_err(cerr)?.into_file();
        let compress = |w: &mut berth_content::Writer| -> std::io::Result<()> {
            // Level 1 with a stored fallback (see `gzip`): pushes over a
            // local network are bound by this CPU work, not by the bytes
            // sent.
            let mut enc = LayerGzip::new(BufWriter::with_capacity(1 << 20, w))?;
            std::io::copy(&mut BufReader::with_capacity(1 << 20, src), &mut enc)?;
            enc.finish()?.flush()
        };
        if let Err(source) = compress(&mut w) {
            return Err(RegistryError::Compress {
                layer: l.local.digest,
                source,
            });
        }
        match w.commit(None, None) {
            Ok(c) => Ok((c.digest, c.size)),
            Err(ContentError::AlreadyExists(d)) => {
                let size = content.info(&d).map_err(cerr)?.size;
                Ok((d, size))
            }
            Err(e) => Err(cerr(e)),
        }
    }

    /// Uploads one tag's layers and config, then its manifest, `max`
    /// layers at once; foreign layers' bytes go only with `send_foreign`.
    async fn push_tag(
        &self,
        session: &Session,
        plan: TagPlan,
        lease: &str,
        (max, send_foreign): (usize, bool),
        out: &Out,
    ) -> Result<(), RegistryError> {
        for l in &plan.layers {
            out.send(layer_status(&l.diff_id.short(), "Preparing"))
                .await;
        }
        let slots = Arc::new(Semaphore::new(max));
        let mut tasks = Vec::new();
        for l in plan.layers.clone() {
            let (svc, session, out) = (self.clone(), session.clone(), out.clone());
            let (slots, lease, docker) = (slots.clone(), lease.to_owned(), plan.docker);
            tasks.push(tokio::spawn(async move {
                if !send_foreign && !l.local.urls.is_empty() {
                    // dockerd pushes only the descriptor of a foreign layer
                    // (its bytes live at its URLs) unless the registry is in
                    // `allow-nondistributable-artifacts`.
                    out.send(layer_status(&l.diff_id.short(), "Skipped foreign layer"))
                        .await;
                    return Ok(l.local);
                }
                svc.push_layer(&session, l, &lease, docker, &slots, &out)
                    .await
            }));
        }
        let mut layers = Vec::new();
        let mut first_err = None;
        for t in tasks {
            match t.await.map_err(RegistryError::Task).and_then(|r| r) {
                Ok(d) => layers.push(d),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        let cpath = self.inner.content.blob_path(&plan.config.digest);
        session
            .push_blob(
                &plan.config.digest,
                plan.config.size,
                &cpath,
                &[],
                Arc::new(|_| {}),
            )
            .await
            .map_err(RegistryError::Registry)?;
        let (mt, cmt) = if plan.docker {
            (MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG)
        } else {
            (MT_OCI_MANIFEST, MT_OCI_CONFIG)
        };
        let m = Manifest {
            schema_version: 2,
            media_type: Some(mt.to_owned()),
            config: blob_descriptor(cmt, plan.config.digest, plan.config.size),
            layers,
            annotations: Default::default(),
        };
        // Plain data: it always serializes.
        let bytes = serde_json::to_vec_pretty(&m).unwrap_or_default();
        let tag = plan.reference.tag.clone().unwrap_or_default();
        let digest = session
            .put_manifest(&tag, mt, bytes.clone().into())
            .await
            .map_err(RegistryError::Registry)?;
        let size = bytes.len();
        let svc = self.clone();
        let (lease, plan2) = (lease.to_owned(), plan.clone());
        tokio::task::spawn_blocking(move || svc.record_pushed(&plan2, &bytes, digest, mt, &lease))
            .await
            .map_err(RegistryError::Task)??;
        out.send(JsonMessage::status(
            "",
            format!("{tag}: digest: {digest} size: {size}"),
        ))
        .await;
        let mut aux = JsonMessage::aux(serde_json::json!({
            "Tag": tag, "Digest": digest.to_string(), "Size": size,
        }));
        aux.progress_detail = Some(Default::default());
        out.send(aux).await;
        Ok(())
    }

    /// One layer: prepare its blob, then HEAD / mount / upload it. Returns
    /// its descriptor for the manifest.
    async fn push_layer(
        &self,
        session: &Session,
        l: PushLayer,
        lease: &str,
        docker: bool,
        slots: &Arc<Semaphore>,
        out: &Out,
    ) -> Result<Descriptor, RegistryError> {
        let id = l.diff_id.short();
        let _permit = match slots.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                out.send(layer_status(&id, "Waiting")).await;
                slots.clone().acquire_owned().await.ok()
            }
        };
        let (svc, l2, lease) = (self.clone(), l.clone(), lease.to_owned());
        let (mut desc, path) = tokio::task::spawn_blocking(move || svc.layer_blob(&l2, &lease))
            .await
            .map_err(RegistryError::Task)??;
        let repo = session.repository();
        let mounts: Vec<String> = l
            .known
            .iter()
            .filter(|k| k.desc.digest == desc.digest)
            .flat_map(|k| k.repos.iter())
            .filter(|(d, p)| *d == repo.domain && *p != repo.path)
            .map(|(_, p)| p.clone())
            .collect();
        let (size, tx) = (desc.size, out.0.clone());
        let throttle = Mutex::new(Throttle::new());
        let id2 = id.clone();
        let progress = Arc::new(move |n: u64| {
            let due = throttle
                .lock()
                .map(|mut t| t.due(n == size))
                .unwrap_or(true);
            if due {
                // Progress may be dropped when the client reads slowly.
                let _ = tx.try_send(layer_progress(&id2, "Pushing", n, size));
            }
        });
        let done = session
            .push_blob(&desc.digest, desc.size, &path, &mounts, progress)
            .await
            .map_err(RegistryError::Registry)?;
        out.send(match done {
            Uploaded::Exists => layer_status(&id, "Layer already exists"),
            Uploaded::Mounted { from } => layer_status(&id, &format!("Mounted from {from}")),
            Uploaded::Pushed => layer_status(&id, "Pushed"),
        })
        .await;
        desc.media_type = match (Compression::from_media_type(&desc.media_type), docker) {
            (Ok(Compression::Zstd), _) => MT_OCI_LAYER_ZSTD,
            (_, true) => MT_DOCKER_LAYER_GZIP,
            (_, false) => MT_OCI_LAYER_GZIP,
        }
        .to_owned();
        desc.platform = None;
        // Sent like any layer, a foreign one is one (dockerd's descriptor
        // of an uploaded layer carries no URLs).
        desc.urls.clear();
        Ok(desc)
    }

    /// Stores the pushed manifest and records `name@<digest>` for it.
    fn record_pushed(
        &self,
        plan: &TagPlan,
        bytes: &[u8],
        digest: Digest,
        mt: &str,
        lease: &str,
    ) -> Result<(), RegistryError> {
        let content = &self.inner.content;
        content
            .write_blob(
                &format!("push-manifest-{}", berth_image::import::unique()),
                bytes,
                Some(bytes.len() as u64),
                Some(&digest),
            )
            .map_err(|source| RegistryError::Content {
                what: format!("pushed manifest {digest}"),
                source,
            })?;
        self.inner
            .leases
            .add(lease, Resource::Content { id: digest })
            .map_err(RegistryError::Lease)?;
        let _ops = self.read_ops();
        let name = Reference {
            tag: None,
            digest: Some(digest.to_string()),
            ..plan.reference.clone()
        };
        let mut target = blob_descriptor(mt, digest, bytes.len() as u64);
        target.platform = plan.platform.clone();
        self.inner
            .records
            .put_all(vec![ImageRecord {
                name: name.to_string(),
                target,
                created_at: jiff::Timestamp::now().as_second(),
            }])
            .map_err(|e| RegistryError::Images(super::Error::Records(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_references_follow_docker() {
        let r = |n: &str, t: &str| push_reference(n, t).map(|r| r.to_string());
        assert_eq!(r("127.0.0.1:5000/t/b", "").unwrap(), "127.0.0.1:5000/t/b");
        assert_eq!(
            r("127.0.0.1:5000/t/b", "1").unwrap(),
            "127.0.0.1:5000/t/b:1"
        );
        assert_eq!(
            r("127.0.0.1:5000/t/b:2", "").unwrap(),
            "127.0.0.1:5000/t/b:2"
        );
        let d = format!("b@sha256:{}", "a".repeat(64));
        assert_eq!(
            r(&d, "").unwrap_err().to_string(),
            "cannot push a digest reference"
        );
        assert_eq!(
            r("b", "bad tag").unwrap_err().to_string(),
            "invalid reference format"
        );
    }
}
