//! `docker pull` (`POST /images/create?fromImage=&tag=`): a reference is
//! resolved to a manifest (through an index for this host's platform, or
//! the one asked for) at the first site that answers (Docker Hub's
//! mirrors, then the registry), the config is fetched, and the layers are
//! downloaded concurrently (`max-concurrent-downloads`, 3 by default) into
//! the content store, each verified by digest as it is written and
//! unpacked in order as soon as it and the layers below it are in. Layers
//! already unpacked and stored are skipped. The image is recorded under
//! its tag and its digest reference (`RepoDigests`). A name without tag
//! or digest and no `tag` (`docker pull --all-tags`) pulls every tag of
//! the repository, one after the other.
//!
//! Failures before the first progress line (an unknown tag, bad
//! credentials) are plain errors, so the Engine API can answer them with
//! a status; later ones end the progress stream (dockerd's contract).
//!
//! Locking: downloads only add blobs, held by a lease; the unpack and the
//! record writes run on one blocking thread holding the image service's
//! `ops` lock shared, so no garbage collection removes a layer snapshot
//! between its unpack and the record that keeps it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use berth_api_types::jsonmessage::JsonMessage;
use berth_api_types::system::AuthConfig;
use berth_content::{Digest, Resource};
use berth_distribution::{Access, Repository, Session, Site};
use berth_image::config::{ImageConfig, chain_ids};
use berth_image::manifest::{Descriptor, Manifest, Platform};
use berth_image::{ImageRecord, Reference, unpack};
use tokio::sync::{Semaphore, oneshot};

use super::ImageService;
use super::remote::{
    Out, ProgressTx, RegistryError, concurrency, credentials, layer_status, pull_error,
};
use crate::Engine;

/// The most an image config may weigh.
const CONFIG_LIMIT: u64 = 8 << 20;

/// What to pull.
#[derive(Debug, Clone, Default)]
pub struct PullRequest {
    /// `fromImage`: a name, possibly with a tag or digest.
    pub from_image: String,
    /// `tag`: a tag or a digest (`sha256:…`); empty for the name's own,
    /// or for every tag when the name has none (dockerd's rule: the CLI
    /// always sends a tag, `latest` by default, except with `--all-tags`).
    pub tag: String,
    /// `platform` (`os/arch[/variant]`); empty for this host's.
    pub platform: String,
    pub auth: AuthConfig,
}

/// What a pull request names: one image, or every tag of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PullTarget {
    /// A tag or digest reference.
    One(Reference),
    /// A name without tag or digest and no `tag` parameter: dockerd pulls
    /// every tag of the repository (`docker pull --all-tags`).
    AllTags(Reference),
}

impl PullTarget {
    fn reference(&self) -> &Reference {
        match self {
            PullTarget::One(r) | PullTarget::AllTags(r) => r,
        }
    }
}

/// The target of a pull request, as dockerd reads `fromImage` and `tag`.
pub(crate) fn pull_target(from_image: &str, tag: &str) -> Result<PullTarget, RegistryError> {
    let r = Reference::parse_normalized(from_image).map_err(RegistryError::InvalidReference)?;
    if tag.is_empty() && r.tag.is_none() && r.digest.is_none() {
        return Ok(PullTarget::AllTags(r));
    }
    pull_reference(from_image, tag).map(PullTarget::One)
}

/// The reference a pull request names, as the docker CLI splits it.
pub(crate) fn pull_reference(from_image: &str, tag: &str) -> Result<Reference, RegistryError> {
    let mut r = Reference::parse_normalized(from_image).map_err(RegistryError::InvalidReference)?;
    if !tag.is_empty() {
        let joined = if tag.contains(':') {
            format!("{}@{tag}", r.name())
        } else {
            format!("{}:{tag}", r.name())
        };
        r = Reference::parse_normalized(&joined).map_err(RegistryError::InvalidReference)?;
    }
    Ok(r.with_default_tag())
}

/// What happens to one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LayerPlan {
    /// Stored and unpacked: "Already exists".
    Present,
    /// Stored, not unpacked.
    Extract,
    /// Unpacked but its blob is missing (another image's layer with the
    /// same diff): fetched so the image is whole, not unpacked again.
    Fetch,
    /// Neither.
    FetchAndExtract,
}

impl LayerPlan {
    fn fetch(self) -> bool {
        matches!(self, LayerPlan::Fetch | LayerPlan::FetchAndExtract)
    }

    fn extract(self) -> bool {
        matches!(self, LayerPlan::Extract | LayerPlan::FetchAndExtract)
    }
}

/// Everything the store side of a pull needs, fetched from the registry.
struct Fetched {
    reference: Reference,
    /// The tag or digest the progress names ("1: Pulling from t/b").
    tag_or_digest: String,
    /// The digest the reference resolved to (an index's or a manifest's).
    top: Digest,
    /// The platform's manifest, as stored.
    target: Descriptor,
    manifest: Manifest,
    config_digest: Digest,
    config: ImageConfig,
    /// The index (if any), the manifest and the config, all verified, to
    /// store before the layers.
    small: Vec<berth_distribution::Fetched>,
}

/// The transfer settings a pull runs with.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Layers downloaded at once (a semaphore's permits).
    downloads: usize,
    /// Attempts at each layer (`max-download-attempts`).
    attempts: u32,
}

/// What a layer download needs, shared by the tasks that start them.
struct Downloader {
    svc: ImageService,
    session: Session,
    lease: String,
    out: Out,
    /// Set when the extraction failed: queued layers are not started.
    cancel: Arc<AtomicBool>,
    attempts: u32,
}

impl Downloader {
    /// Downloads `layer` on a blocking thread holding `permit` (a download
    /// slot); its result goes to `tx`.
    fn start(
        &self,
        layer: Descriptor,
        permit: tokio::sync::OwnedSemaphorePermit,
        tx: oneshot::Sender<Result<(), RegistryError>>,
    ) {
        let (svc, session, out) = (self.svc.clone(), self.session.clone(), self.out.clone());
        let (lease, cancel, attempts) = (self.lease.clone(), self.cancel.clone(), self.attempts);
        tokio::spawn(async move {
            let r = tokio::task::spawn_blocking(move || {
                svc.download(&session, &layer, &lease, &out, &cancel, attempts)
            })
            .await
            .map_err(RegistryError::Task)
            .and_then(|r| r);
            drop(permit);
            let _ = tx.send(r);
        });
    }
}

/// Where a pull goes and what it found there first.
enum Start {
    One(Box<Fetched>),
    Tags(Vec<String>),
}

impl Engine {
    /// Pulls an image, or every tag of a repository; progress goes to
    /// `progress`. See the module docs.
    ///
    /// A Docker Hub repository is tried at each configured mirror first
    /// (dockerd's pull endpoints): a mirror where the pull fails, in
    /// resolving the image or listing the tags or in a layer download
    /// (after its attempts), gives way to the next site, and the
    /// registry's error is the pull's. The settings in force when the pull
    /// starts (mirrors, insecure registries, transfer limits) serve it to
    /// the end.
    pub async fn image_pull(
        &self,
        req: PullRequest,
        progress: ProgressTx,
    ) -> Result<(), RegistryError> {
        let out = Out(progress);
        let target = pull_target(&req.from_image, &req.tag)?;
        let platform = if req.platform.is_empty() {
            self.images.inner.platform.clone()
        } else {
            Platform::parse(&req.platform)
                .ok_or_else(|| RegistryError::InvalidPlatform(req.platform.clone()))?
        };
        let reference = target.reference().clone();
        let repo = Repository::from_reference(&reference);
        let creds = credentials(&req.auth);
        let registry = self.images.registry_state();
        let limits = Limits {
            downloads: concurrency(registry.settings.max_concurrent_downloads),
            attempts: registry.settings.max_download_attempts,
        };
        let client = registry.client;
        let mut sites = client.mirror_sites(&repo);
        sites.push(Site::Registry(repo.host().to_owned()));
        let last = sites.len() - 1;
        let mut updated = false;
        for (i, site) in sites.into_iter().enumerate() {
            let session = client.session_at(repo.clone(), site, creds.clone(), Access::Pull);
            match self
                .pull_at(&session, &target, &platform, limits, &out)
                .await
            {
                Ok(u) => {
                    updated = u;
                    break;
                }
                // A mirror gives way to the next site whatever failed,
                // layers part-way included (moby's continueOnError for
                // mirror endpoints); what was stored stays for the next
                // site to find. The registry's own failure is the pull's.
                Err(_) if i < last => continue,
                Err(e) => return Err(e),
            }
        }
        let status = if updated {
            "Downloaded newer image for"
        } else {
            "Image is up to date for"
        };
        // dockerd names what was asked for: `busybox:1`, or `busybox` for
        // all of its tags.
        let asked = match &target {
            PullTarget::One(r) => r.familiar_string(),
            PullTarget::AllTags(r) => r.familiar_name(),
        };
        out.send(JsonMessage::status("", format!("Status: {status} {asked}")))
            .await;
        let labels = self.registry_labels(&asked).await;
        self.image_event("pull", &asked, &asked, labels);
        Ok(())
    }

    /// The whole pull at the session's site: the image, or every tag;
    /// true when a name now points at an image it did not before.
    async fn pull_at(
        &self,
        session: &Session,
        target: &PullTarget,
        platform: &Platform,
        limits: Limits,
        out: &Out,
    ) -> Result<bool, RegistryError> {
        match self.start(session, target, platform).await? {
            Start::One(fetched) => self.pull_fetched(session, *fetched, limits, out).await,
            Start::Tags(tags) => {
                let mut updated = false;
                let name = target.reference().name();
                for tag in tags {
                    let r = pull_reference(&name, &tag)?;
                    let fetched = self.resolve(session, &r, platform).await?;
                    updated |= self.pull_fetched(session, fetched, limits, out).await?;
                }
                Ok(updated)
            }
        }
    }

    /// The first step of a pull at a session's site: the image resolved,
    /// or the tag list.
    async fn start(
        &self,
        session: &Session,
        target: &PullTarget,
        platform: &Platform,
    ) -> Result<Start, RegistryError> {
        match target {
            PullTarget::One(r) => self
                .resolve(session, r, platform)
                .await
                .map(|f| Start::One(Box::new(f))),
            PullTarget::AllTags(r) => session
                .tags()
                .await
                .map(Start::Tags)
                .map_err(|e| pull_error(e, r)),
        }
    }

    /// Resolves `reference` at the session's site for `platform` and
    /// fetches its config: nothing is stored yet.
    async fn resolve(
        &self,
        session: &Session,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<Fetched, RegistryError> {
        let tag_or_digest = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_default();
        let resolved = session
            .resolve_image(&tag_or_digest, platform)
            .await
            .map_err(|e| pull_error(e, reference))?;
        let cdesc = resolved.parsed.config.clone();
        let cbytes = session
            .fetch_blob(cdesc.digest, cdesc.size, CONFIG_LIMIT)
            .await
            .map_err(|e| pull_error(e, reference))?;
        let config = ImageConfig::parse(&cdesc.digest, &cbytes).map_err(RegistryError::Config)?;
        config
            .check_layers(&cdesc.digest, resolved.parsed.layers.len())
            .map_err(RegistryError::Config)?;
        let mut target = resolved.manifest.descriptor();
        target.platform = Some(Platform::new(
            &config.os,
            &config.architecture,
            config.variant.as_deref(),
        ));
        Ok(Fetched {
            reference: reference.clone(),
            tag_or_digest,
            top: resolved.top.digest,
            target,
            manifest: resolved.parsed.clone(),
            config_digest: cdesc.digest,
            config,
            small: vec![
                resolved.top.clone(),
                resolved.manifest.clone(),
                berth_distribution::Fetched {
                    digest: cdesc.digest,
                    media_type: cdesc.media_type.clone(),
                    bytes: cbytes,
                },
            ],
        })
    }

    /// Stores a resolved image: its manifests and config, then its layers
    /// (see the module docs); true when a name now points at it that did
    /// not before.
    async fn pull_fetched(
        &self,
        session: &Session,
        fetched: Fetched,
        limits: Limits,
        out: &Out,
    ) -> Result<bool, RegistryError> {
        // dockerd names the repository by its path on the registry
        // ("Pulling from library/busybox").
        out.send(JsonMessage::status(
            fetched.tag_or_digest.clone(),
            format!("Pulling from {}", fetched.reference.path),
        ))
        .await;
        let svc = self.images.clone();
        let lease = format!("pull-{}", berth_image::import::unique());
        svc.inner
            .leases
            .create(&lease, Some(24 * 3600), BTreeMap::new())
            .map_err(RegistryError::Lease)?;
        let top = fetched.top;
        let result = async {
            for blob in fetched.small.clone() {
                let (svc, lease) = (svc.clone(), lease.clone());
                tokio::task::spawn_blocking(move || {
                    svc.store_small(&lease, &blob.bytes, blob.digest)
                })
                .await
                .map_err(RegistryError::Task)??;
            }
            svc.pull_layers(session.clone(), fetched, lease.clone(), limits, out.clone())
                .await
        }
        .await;
        let _ = svc.inner.leases.delete(&lease);
        let updated = result?;
        out.send(JsonMessage::status("", format!("Digest: {top}")))
            .await;
        Ok(updated)
    }
}

impl ImageService {
    /// Stores a manifest or config blob (already verified) under `lease`.
    fn store_small(&self, lease: &str, bytes: &[u8], digest: Digest) -> Result<(), RegistryError> {
        let content = &self.inner.content;
        content
            .write_blob(
                &format!("pull-{}-{}", digest.short(), berth_image::import::unique()),
                bytes,
                Some(bytes.len() as u64),
                Some(&digest),
            )
            .map_err(|source| RegistryError::Content {
                what: digest.to_string(),
                source,
            })?;
        self.inner
            .leases
            .add(lease, Resource::Content { id: digest })
            .map_err(RegistryError::Lease)
    }

    /// Downloads and unpacks the layers, then records the image; true when
    /// a name now points at it that did not before.
    async fn pull_layers(
        &self,
        session: Session,
        f: Fetched,
        lease: String,
        limits: Limits,
        out: Out,
    ) -> Result<bool, RegistryError> {
        let chains = chain_ids(&f.config.rootfs.diff_ids);
        let plans: Vec<LayerPlan> = {
            let svc = self.clone();
            let (layers, chains) = (f.manifest.layers.clone(), chains.clone());
            tokio::task::spawn_blocking(move || {
                layers
                    .iter()
                    .zip(&chains)
                    .map(|(l, c)| {
                        let stored = svc.inner.content.contains(&l.digest);
                        let unpacked = svc.sn().stat(&c.to_string()).is_ok();
                        match (stored, unpacked) {
                            (true, true) => LayerPlan::Present,
                            (true, false) => LayerPlan::Extract,
                            (false, true) => LayerPlan::Fetch,
                            (false, false) => LayerPlan::FetchAndExtract,
                        }
                    })
                    .collect()
            })
            .await
            .map_err(RegistryError::Task)?
        };
        for (l, p) in f.manifest.layers.iter().zip(&plans) {
            let id = l.digest.short();
            out.send(match p {
                LayerPlan::Present => layer_status(&id, "Already exists"),
                _ => layer_status(&id, "Pulling fs layer"),
            })
            .await;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let slots = Arc::new(Semaphore::new(limits.downloads));
        let downloader = Downloader {
            svc: self.clone(),
            session,
            lease,
            out: out.clone(),
            cancel: cancel.clone(),
            attempts: limits.attempts,
        };
        let mut done = Vec::new();
        let mut queued = Vec::new();
        for (l, p) in f.manifest.layers.iter().zip(&plans) {
            let (tx, rx) = oneshot::channel();
            done.push(rx);
            if !p.fetch() {
                let _ = tx.send(Ok(()));
                continue;
            }
            match slots.clone().try_acquire_owned() {
                Ok(permit) => downloader.start(l.clone(), permit, tx),
                Err(_) => {
                    out.send(layer_status(&l.digest.short(), "Waiting")).await;
                    queued.push((l.clone(), tx));
                }
            }
        }
        if !queued.is_empty() {
            // The waiting layers take free slots in manifest order: the
            // bottom layers are extracted first, so they must not wait for
            // the ones above them (tasks racing for permits finish in any
            // order and left the first extraction idle).
            tokio::spawn(async move {
                for (layer, tx) in queued {
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    if downloader.cancel.load(Ordering::SeqCst) {
                        return;
                    }
                    downloader.start(layer, permit, tx);
                }
            });
        }
        let svc = self.clone();
        let handle = tokio::runtime::Handle::current();
        let r = tokio::task::spawn_blocking(move || {
            svc.extract_and_record(&handle, f, plans, done, &out)
        })
        .await
        .map_err(RegistryError::Task)
        .and_then(|r| r);
        if r.is_err() {
            cancel.store(true, Ordering::SeqCst);
        }
        r
    }

    /// Unpacks the layers in order as their downloads complete, then
    /// records the image (see the module docs for the lock held).
    fn extract_and_record(
        &self,
        handle: &tokio::runtime::Handle,
        f: Fetched,
        plans: Vec<LayerPlan>,
        done: Vec<oneshot::Receiver<Result<(), RegistryError>>>,
        out: &Out,
    ) -> Result<bool, RegistryError> {
        let _ops = self.read_ops();
        for (i, rx) in done.into_iter().enumerate() {
            // A download task that vanished without a word leaves its
            // layer missing, which the unpack then reports.
            handle.block_on(rx).unwrap_or(Ok(()))?;
            let id = f.manifest.layers[i].digest.short();
            if plans[i].extract() {
                out.blocking(layer_status(&id, "Extracting"));
                // The image's first i+1 layers: unpack skips the ones
                // below, which are in place.
                let mut m = f.manifest.clone();
                m.layers.truncate(i + 1);
                let mut c = f.config.clone();
                c.rootfs.diff_ids.truncate(i + 1);
                unpack(&self.inner.content, self.sn(), &m, &f.config_digest, &c)
                    .map_err(|e| RegistryError::Unpack(Box::new(e)))?;
            }
            if plans[i] != LayerPlan::Present {
                out.blocking(layer_status(&id, "Pull complete"));
            }
        }
        let cat = self.catalog().map_err(RegistryError::Images)?;
        let before = cat
            .lookup(&f.reference.to_string())
            .ok()
            .map(|(img, _)| img.id);
        let mut names = Vec::new();
        if f.reference.digest.is_none() {
            names.push(f.reference.to_string());
        }
        let by_digest = Reference {
            tag: None,
            digest: Some(f.top.to_string()),
            ..f.reference.clone()
        };
        names.push(by_digest.to_string());
        let now = jiff::Timestamp::now().as_second();
        let records = names
            .into_iter()
            .map(|name| ImageRecord {
                name,
                target: f.target.clone(),
                created_at: now,
            })
            .collect();
        self.inner
            .records
            .put_all(records)
            .map_err(|e| RegistryError::Images(super::Error::Records(e)))?;
        self.anchor_all().map_err(RegistryError::Images)?;
        Ok(before != Some(f.config_digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_references_join_name_and_tag_like_the_cli() {
        let r = |i: &str, t: &str| pull_reference(i, t).map(|r| r.to_string());
        assert_eq!(
            r("busybox", "").unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            r("busybox", "1.36").unwrap(),
            "docker.io/library/busybox:1.36"
        );
        assert_eq!(
            r("127.0.0.1:5000/t/b", "1").unwrap(),
            "127.0.0.1:5000/t/b:1"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            r("127.0.0.1:5000/t/b", &d).unwrap(),
            format!("127.0.0.1:5000/t/b@{d}")
        );
        assert_eq!(
            r("Busybox", "").unwrap_err().to_string(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert!(r("busybox", "bad tag").is_err());
    }

    #[test]
    fn a_bare_name_without_tag_means_every_tag() {
        let all = |i: &str, t: &str| matches!(pull_target(i, t), Ok(PullTarget::AllTags(_)));
        assert!(all("busybox", ""));
        assert!(all("127.0.0.1:5000/t/b", ""));
        assert!(!all("busybox", "latest"));
        assert!(!all("busybox:1", ""));
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(!all(&format!("busybox@{d}"), ""));
        match pull_target("busybox", "").unwrap() {
            PullTarget::AllTags(r) => assert_eq!(r.to_string(), "docker.io/library/busybox"),
            other => panic!("{other:?}"),
        }
        match pull_target("busybox", "1").unwrap() {
            PullTarget::One(r) => assert_eq!(r.to_string(), "docker.io/library/busybox:1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn layer_plans_say_what_to_do() {
        assert!(LayerPlan::FetchAndExtract.fetch() && LayerPlan::FetchAndExtract.extract());
        assert!(LayerPlan::Fetch.fetch() && !LayerPlan::Fetch.extract());
        assert!(!LayerPlan::Extract.fetch() && LayerPlan::Extract.extract());
        assert!(!LayerPlan::Present.fetch() && !LayerPlan::Present.extract());
    }
}
