//! What the Dockerfile builder makes images with: one new image per build
//! step, on top of the previous step's image.
//!
//! Three kinds of step:
//! - config only (ENV, CMD, LABEL, …): the parent's layers, a new config
//!   and one history entry marked `empty_layer` ([`Engine::build_commit_config`]);
//! - a filesystem change made by the builder itself (COPY, ADD, WORKDIR):
//!   a *build rootfs* is an rw snapshot on the parent's layers mounted at a
//!   directory of the daemon ([`Engine::build_rootfs`]); the builder writes
//!   into it and [`Engine::build_commit_rootfs`] turns its diff into the
//!   new layer, keeping the snapshot as that layer's committed snapshot
//!   (nothing is unpacked again);
//! - RUN: a container ran the command; [`Engine::build_commit_container`]
//!   takes its rw layer.
//!
//! A build rootfs's snapshot is named `extract-build-…`: the image service
//! removes active `extract-` snapshots when it opens, so a daemon that died
//! mid-build leaves none behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_content::{Committed, ContentError, Digest};
use berth_image::config::{History, ImageConfig, RootFs, RunConfig, chain_ids};
use berth_image::import::{blob_descriptor, unique};
use berth_image::manifest::MT_DOCKER_LAYER;
use berth_snapshots::SnapshotError;
use berth_snapshots::mount::{MountError, MountGuard, mount_all};

use super::{Error, ImageService, host_platform};
use crate::Engine;

/// Errors of making a build step's image.
#[derive(Debug, thiserror::Error)]
pub enum BuildStepError {
    #[error("{0}")]
    Image(#[source] Error),
    #[error("{0}")]
    Container(#[source] crate::containers::Error),
    #[error("store {what}: {source}")]
    Content {
        what: &'static str,
        #[source]
        source: ContentError,
    },
    #[error("{op} build rootfs {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mount build rootfs: {0}")]
    Mount(#[source] MountError),
    #[error("{op} snapshot {key}: {source}")]
    Snapshot {
        op: &'static str,
        key: String,
        #[source]
        source: SnapshotError,
    },
    #[error("build step task: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// A cache source lacks the history entry or layer a step took.
    #[error("cache source {image} has no layer for history entry {index}")]
    CacheSource { image: String, index: usize },
    /// A failure and a failure of cleaning up after it.
    #[error("{primary} (and cleaning up: {cleanup})")]
    Cleanup {
        #[source]
        primary: Box<BuildStepError>,
        cleanup: Box<BuildStepError>,
    },
}

/// The new image of a step.
#[derive(Debug, Clone, Default)]
pub struct StepImage {
    /// The image the step ran on; `None` for `FROM scratch`.
    pub parent: Option<String>,
    /// The new image's run config.
    pub config: RunConfig,
    /// The history entry's `created_by`.
    pub created_by: String,
    /// The history entry's comment.
    pub comment: Option<String>,
    /// MAINTAINER's author.
    pub author: Option<String>,
    /// The step's container (for RUN) and the run config it was made with
    /// (docker's `container` and `container_config`).
    pub container: Option<String>,
    pub container_config: Option<RunConfig>,
}

/// A step's image taken from a `--cache-from` image instead of being
/// made: the parent's layers and history plus history entry `index` of
/// `source` and, unless that entry is `empty_layer`, its layer (dockerd's
/// "restored" cache image; the builder has checked that the parent's
/// history and layers are a prefix of the source's).
#[derive(Debug, Clone, Default)]
pub struct CachedStep {
    /// The image the step would have run on; `None` for `FROM scratch`.
    pub parent: Option<String>,
    /// The cache source's image ID.
    pub source: String,
    pub index: usize,
    /// The new image's run config (the stage's config after the step).
    pub config: RunConfig,
}

/// A writable root filesystem mounted for the builder (see the module
/// doc). Give it back with [`Engine::build_rootfs_release`] or commit it.
#[derive(Debug)]
pub struct BuildRootfs {
    key: String,
    path: PathBuf,
    parent: Option<String>,
    guard: Option<MountGuard>,
}

impl BuildRootfs {
    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn snap_err(op: &'static str, key: &str) -> impl FnOnce(SnapshotError) -> BuildStepError {
    let key = key.to_string();
    move |source| BuildStepError::Snapshot { op, key, source }
}

impl ImageService {
    fn build_rootfs_blocking(
        &self,
        parent: Option<&str>,
        mnt_root: &Path,
    ) -> Result<BuildRootfs, BuildStepError> {
        let _ops = self.read_ops();
        let top = match parent {
            Some(id) => {
                let cat = self.catalog().map_err(BuildStepError::Image)?;
                let img = cat.by_id_str(id).map_err(BuildStepError::Image)?;
                self.unpack(img).map_err(BuildStepError::Image)?
            }
            None => None,
        };
        let n = unique();
        let key = format!("extract-build-{n}");
        let path = mnt_root.join(&n);
        let mounts = self
            .sn()
            .prepare(&key, top.as_deref())
            .map_err(snap_err("prepare", &key))?;
        let mounted = std::fs::create_dir_all(&path)
            .map_err(|source| BuildStepError::Io {
                op: "create",
                path: path.clone(),
                source,
            })
            .and_then(|()| mount_all(&mounts, &path).map_err(BuildStepError::Mount));
        match mounted {
            Ok(guard) => Ok(BuildRootfs {
                key,
                path,
                parent: parent.map(str::to_string),
                guard: Some(guard),
            }),
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                Err(match self.sn().remove(&key) {
                    Ok(()) => e,
                    Err(c) => BuildStepError::Cleanup {
                        primary: Box::new(e),
                        cleanup: Box::new(snap_err("remove", &key)(c)),
                    },
                })
            }
        }
    }

    /// Unmounts `r` and removes its directory; its snapshot is left to
    /// the caller.
    fn unmount_build_rootfs(r: &mut BuildRootfs) -> Result<(), BuildStepError> {
        if let Some(g) = r.guard.take() {
            g.unmount().map_err(BuildStepError::Mount)?;
        }
        match std::fs::remove_dir(&r.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(BuildStepError::Io {
                op: "remove",
                path: r.path.clone(),
                source,
            }),
        }
    }

    fn build_rootfs_release_blocking(&self, mut r: BuildRootfs) -> Result<(), BuildStepError> {
        let unmounted = Self::unmount_build_rootfs(&mut r);
        let removed = match self.sn().remove(&r.key) {
            Ok(()) | Err(SnapshotError::NotFound(_)) => Ok(()),
            Err(e) => Err(snap_err("remove", &r.key)(e)),
        };
        match (unmounted, removed) {
            (Err(a), Err(b)) => Err(BuildStepError::Cleanup {
                primary: Box::new(a),
                cleanup: Box::new(b),
            }),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    /// Writes the diff of snapshot `key` as a layer blob; `None` when it
    /// changed nothing.
    fn write_layer(&self, key: &str) -> Result<Option<Committed>, BuildStepError> {
        let content = &self.inner.content;
        let cerr = |source| BuildStepError::Content {
            what: "layer",
            source,
        };
        let layer_ref = format!("build-layer-{}", unique());
        let mut w = content.writer(&layer_ref, None).map_err(cerr)?;
        w.reset().map_err(cerr)?;
        if let Err(e) = self.sn().diff(key, &mut w) {
            drop(w);
            let _ = content.abort(&layer_ref);
            return Err(snap_err("diff", key)(e));
        }
        // Two zero blocks: the tar of no change; dockerd adds no layer.
        if w.digest() == Digest::of(&[0u8; 1024]) {
            drop(w);
            let _ = content.abort(&layer_ref);
            return Ok(None);
        }
        match w.commit(None, None) {
            Ok(c) => Ok(Some(c)),
            Err(ContentError::AlreadyExists(d)) => {
                let size = content.info(&d).map_err(cerr)?.size;
                Ok(Some(Committed {
                    digest: d,
                    size,
                    created: false,
                }))
            }
            Err(e) => Err(cerr(e)),
        }
    }

    /// The parent's config (the host's platform and no layers for
    /// scratch) and manifest layers.
    fn parent_parts(
        &self,
        parent: Option<&str>,
    ) -> Result<(ImageConfig, Vec<berth_image::manifest::Descriptor>), BuildStepError> {
        let Some(id) = parent else {
            let p = host_platform();
            return Ok((
                ImageConfig {
                    created: None,
                    author: None,
                    architecture: p.architecture.clone(),
                    os: p.os.clone(),
                    variant: p.variant.clone(),
                    config: None,
                    rootfs: RootFs {
                        kind: "layers".into(),
                        diff_ids: Vec::new(),
                    },
                    history: Vec::new(),
                    extra: serde_json::Map::new(),
                },
                Vec::new(),
            ));
        };
        let cat = self.catalog().map_err(BuildStepError::Image)?;
        let img = cat.by_id_str(id).map_err(BuildStepError::Image)?;
        Ok((img.config().clone(), img.resolved.manifest.layers.clone()))
    }

    /// Writes the step's config, manifest and anchor record; returns the
    /// new image's ID.
    fn write_step_image(
        &self,
        step: &StepImage,
        layer: Option<&Committed>,
    ) -> Result<String, BuildStepError> {
        let (pc, mut layers) = self.parent_parts(step.parent.as_deref())?;
        let created = jiff::Timestamp::now().to_string();
        let mut rootfs = pc.rootfs.clone();
        if let Some(l) = layer {
            rootfs.diff_ids.push(l.digest);
            layers.push(blob_descriptor(MT_DOCKER_LAYER, l.digest, l.size));
        }
        let mut history = pc.history.clone();
        history.push(History {
            created: Some(created.clone()),
            created_by: Some(step.created_by.clone()),
            author: step.author.clone(),
            comment: step.comment.clone(),
            empty_layer: layer.is_none(),
        });
        let mut extra = serde_json::Map::new();
        if let Some(c) = &step.container {
            extra.insert("container".into(), c.clone().into());
        }
        if let Some(cc) = &step.container_config {
            if let Ok(v) = serde_json::to_value(cc) {
                extra.insert("container_config".into(), v);
            }
        }
        if let Some(p) = &step.parent {
            extra.insert("parent".into(), p.clone().into());
        }
        for k in ["os.version", "os.features"] {
            if let Some(v) = pc.extra.get(k) {
                extra.insert(k.into(), v.clone());
            }
        }
        let config = ImageConfig {
            created: Some(created),
            author: step.author.clone().or(pc.author.clone()),
            architecture: pc.architecture.clone(),
            os: pc.os.clone(),
            variant: pc.variant.clone(),
            config: Some(step.config.clone()),
            rootfs,
            history,
            extra,
        };
        self.store_step_image(&config, layers)
    }

    /// The image of a step taken from a cache source (see [`CachedStep`]).
    fn write_cached_step(&self, step: &CachedStep) -> Result<String, BuildStepError> {
        let (pc, mut layers) = self.parent_parts(step.parent.as_deref())?;
        let cat = self.catalog().map_err(BuildStepError::Image)?;
        let src = cat.by_id_str(&step.source).map_err(BuildStepError::Image)?;
        let sc = src.config();
        let missing = || BuildStepError::CacheSource {
            image: step.source.clone(),
            index: step.index,
        };
        let entry = sc.history.get(step.index).ok_or_else(missing)?;
        let mut rootfs = pc.rootfs.clone();
        if !entry.empty_layer {
            // The entry's layer is the one after those of the non-empty
            // entries before it.
            let n = sc.history[..step.index]
                .iter()
                .filter(|h| !h.empty_layer)
                .count();
            let diff = sc.rootfs.diff_ids.get(n).ok_or_else(missing)?;
            let desc = src.resolved.manifest.layers.get(n).ok_or_else(missing)?;
            rootfs.diff_ids.push(*diff);
            layers.push(desc.clone());
        }
        let mut history = pc.history.clone();
        history.push(entry.clone());
        let mut extra = serde_json::Map::new();
        if let Some(p) = &step.parent {
            extra.insert("parent".into(), p.clone().into());
        }
        for k in ["os.version", "os.features"] {
            if let Some(v) = sc.extra.get(k) {
                extra.insert(k.into(), v.clone());
            }
        }
        // dockerd's restored image: the source's platform and author, the
        // entry's time as the image's.
        let config = ImageConfig {
            created: entry.created.clone(),
            author: sc.author.clone(),
            architecture: sc.architecture.clone(),
            os: sc.os.clone(),
            variant: sc.variant.clone(),
            config: Some(step.config.clone()),
            rootfs,
            history,
            extra,
        };
        self.store_step_image(&config, layers)
    }

    /// Writes a step image's config, manifest and anchor record; returns
    /// the image ID.
    fn store_step_image(
        &self,
        config: &ImageConfig,
        layers: Vec<berth_image::manifest::Descriptor>,
    ) -> Result<String, BuildStepError> {
        let (c, mut target) = berth_image::import::write_config_and_manifest(
            &self.inner.content,
            config,
            layers,
            "build",
        )
        .map_err(|(what, source)| BuildStepError::Content { what, source })?;
        target.platform = Some(self.inner.platform.clone());
        let id = c.digest.to_string();
        self.inner
            .records
            .put_all(vec![berth_image::ImageRecord {
                name: id.clone(),
                target,
                created_at: jiff::Timestamp::now().as_second(),
            }])
            .map_err(|e| BuildStepError::Image(Error::Records(e)))?;
        Ok(id)
    }

    fn commit_rootfs_blocking(
        &self,
        mut r: BuildRootfs,
        step: &StepImage,
    ) -> Result<String, BuildStepError> {
        let _ops = self.read_ops();
        let result = (|| {
            let layer = self.write_layer(&r.key)?;
            Self::unmount_build_rootfs(&mut r)?;
            if let Some(l) = &layer {
                // The snapshot already holds the layer applied: keep it as
                // the layer's committed snapshot.
                let (pc, _) = self.parent_parts(r.parent.as_deref())?;
                let mut diff_ids = pc.rootfs.diff_ids;
                diff_ids.push(l.digest);
                let name = chain_ids(&diff_ids)
                    .last()
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                match self.sn().commit(&name, &r.key) {
                    Ok(()) => {}
                    Err(SnapshotError::AlreadyExists(_)) => {}
                    Err(e) => return Err(snap_err("commit", &r.key)(e)),
                }
            }
            self.write_step_image(step, layer.as_ref())
        })();
        // Whatever happened, the active snapshot goes (after a commit it
        // is gone already).
        let cleanup = match self.sn().remove(&r.key) {
            Ok(()) | Err(SnapshotError::NotFound(_)) => Ok(()),
            Err(e) => Err(snap_err("remove", &r.key)(e)),
        };
        match (result, cleanup) {
            (Ok(id), Ok(())) => Ok(id),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(c)) => Err(BuildStepError::Cleanup {
                primary: Box::new(e),
                cleanup: Box::new(c),
            }),
        }
    }

    fn commit_container_blocking(
        &self,
        container_id: &str,
        step: &StepImage,
    ) -> Result<String, BuildStepError> {
        let _ops = self.read_ops();
        let layer = self.write_layer(container_id)?;
        let id = self.write_step_image(step, layer.as_ref())?;
        let cat = self.catalog().map_err(BuildStepError::Image)?;
        let img = cat.by_id_str(&id).map_err(BuildStepError::Image)?;
        self.unpack(img).map_err(BuildStepError::Image)?;
        Ok(id)
    }
}

impl Engine {
    fn build_mnt_root(&self) -> PathBuf {
        self.config().data_root.join("builder").join("mnt")
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(ImageService) -> Result<T, BuildStepError> + Send + 'static,
    ) -> Result<T, BuildStepError> {
        let svc = self.images.clone();
        tokio::task::spawn_blocking(move || f(svc))
            .await
            .map_err(BuildStepError::Task)?
    }

    /// A build rootfs on the layers of image `parent` (empty for `None`).
    pub async fn build_rootfs(
        self: &Arc<Self>,
        parent: Option<String>,
    ) -> Result<BuildRootfs, BuildStepError> {
        let root = self.build_mnt_root();
        self.blocking(move |svc| svc.build_rootfs_blocking(parent.as_deref(), &root))
            .await
    }

    /// Unmounts and removes a build rootfs without making an image.
    pub async fn build_rootfs_release(
        self: &Arc<Self>,
        r: BuildRootfs,
    ) -> Result<(), BuildStepError> {
        self.blocking(move |svc| svc.build_rootfs_release_blocking(r))
            .await
    }

    /// The image of a step that changed the filesystem through `r` (which
    /// must have been made on `step.parent`); `r` is consumed.
    pub async fn build_commit_rootfs(
        self: &Arc<Self>,
        r: BuildRootfs,
        step: StepImage,
    ) -> Result<String, BuildStepError> {
        self.blocking(move |svc| svc.commit_rootfs_blocking(r, &step))
            .await
    }

    /// The image of a config-only step.
    pub async fn build_commit_config(
        self: &Arc<Self>,
        step: StepImage,
    ) -> Result<String, BuildStepError> {
        self.blocking(move |svc| {
            let _ops = svc.read_ops();
            svc.write_step_image(&step, None)
        })
        .await
    }

    /// The image of a step found in a cache source.
    pub async fn build_commit_cached(
        self: &Arc<Self>,
        step: CachedStep,
    ) -> Result<String, BuildStepError> {
        self.blocking(move |svc| {
            let _ops = svc.read_ops();
            svc.write_cached_step(&step)
        })
        .await
    }

    /// The image of a RUN step: the rw layer of the (stopped) container.
    pub async fn build_commit_container(
        self: &Arc<Self>,
        container_id: &str,
        step: StepImage,
    ) -> Result<String, BuildStepError> {
        let c = self
            .containers
            .get(container_id)
            .map_err(BuildStepError::Container)?;
        let id = c.record().id.clone();
        self.blocking(move |svc| svc.commit_container_blocking(&id, &step))
            .await
    }
}
