//! The image service: the image store of one data root and the Engine
//! API's image operations over it.
//!
//! On disk, under the data root:
//!
//! ```text
//! content/              blobs (layers, configs, manifests) by digest
//! leases/               what in-progress imports and loads hold
//! images.json           image records (names -> manifest descriptors)
//! snapshots/<driver>/   unpacked layers and containers' rw layers
//! ```
//!
//! Images are unpacked into the snapshotter when they arrive (import,
//! load), so creating a container only prepares its rw snapshot on top
//! of the image's top layer ([`ImageService::prepare_rootfs`]).
//!
//! Concurrency: operations that only add (import, load, tag, preparing a
//! rootfs) hold the service's `ops` lock shared; removal and garbage
//! collection hold it exclusively, so nothing is collected while an
//! operation that will reference it is half-way.
//!
//! The module's parts: `catalog` (records grouped into images, name
//! lookup), `rootfs` (the container service's contract), `remove`
//! (docker's untag/delete rules as a plan, and prune), `query` (list,
//! inspect, history, disk usage), `transfer` (import, load, save),
//! `commit` (a new image from a container's rw layer) and
//! `api` (the async [`crate::Engine`] methods berthd calls).

mod api;
pub mod buildstep;
pub(crate) mod catalog;
pub mod commit;
mod error;
pub(crate) mod filters;
mod gzip;
mod pull;
mod pull_layer;
mod push;
mod query;
mod remote;
mod remove;
mod rootfs;
mod transfer;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use berth_content::{Leases, Store};
use berth_image::config::ImageConfig;
use berth_image::manifest::Platform;
use berth_image::{ImageRecord, ImageStore};
use berth_snapshots::native::NativeSnapshotter;
use berth_snapshots::overlay::OverlaySnapshotter;
use berth_snapshots::{Kind, Snapshotter};

pub use api::{ReadBridge, WriteBridge};
pub use buildstep::{BuildRootfs, BuildStepError, CachedStep, StepImage};
pub use commit::{CommitError, CommitOptions};
pub use error::{DeleteConflict, Error};
pub use pull::PullRequest;
pub use push::PushRequest;
pub use query::DiskUsage;
pub use remote::{ProgressTx, RegistryError};
pub use remove::ImageUser;

use crate::EngineConfig;
use catalog::{Catalog, RecordName, ResolveCache};

/// An image as the container service needs it to create a container.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The image ID, `sha256:<hex>`.
    pub id: String,
    pub config: ImageConfig,
    /// The name as the user gave it (for the container's `Config.Image`).
    pub name: String,
}

/// The image store of one data root. Cheap to clone; clones share
/// everything.
#[derive(Clone)]
pub struct ImageService {
    inner: Arc<Inner>,
}

struct Inner {
    content: Store,
    leases: Leases,
    records: ImageStore,
    snapshotter: Box<dyn Snapshotter>,
    /// The storage driver's name as configured ("overlay", "native").
    driver: String,
    /// Where the snapshotter keeps its snapshots.
    snap_root: PathBuf,
    /// The platform images are run for (this host's).
    platform: Platform,
    /// Shared by operations that add, exclusive for removal and GC.
    ops: RwLock<()>,
    cache: ResolveCache,
    /// The registry settings and the client built from them (replaced
    /// whole by a reload).
    registry: RwLock<remote::RegistryState>,
}

impl std::fmt::Debug for ImageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageService")
            .field("content", &self.inner.content.root())
            .field("driver", &self.inner.driver)
            .finish()
    }
}

/// The name dockerd gives the filesystem holding `path` (its fsutils
/// table of statfs(2) magic numbers).
fn backing_fs(path: &Path) -> String {
    let Ok(st) = rustix::fs::statfs(path) else {
        return "<unknown>".into();
    };
    match st.f_type as u64 {
        0xEF53 => "extfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x2FC1_2FC1 => "zfs",
        0x794C_7630 => "overlayfs",
        0x6969 => "nfs",
        0xF2F5_2010 => "f2fs",
        _ => "<unknown>",
    }
    .into()
}

/// Whether readdir(3) on `dir`'s filesystem reports entry types (overlayfs
/// needs them to see whiteouts).
fn has_d_type(dir: &Path) -> bool {
    let Ok(fd) = rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return false;
    };
    let Ok(mut d) = rustix::fs::Dir::read_from(&fd) else {
        return false;
    };
    // "." is always there; its type is DT_DIR where d_type works.
    d.by_ref()
        .filter_map(Result::ok)
        .next()
        .is_some_and(|e| e.file_type() != rustix::fs::FileType::Unknown)
}

/// The host's platform in OCI terms (`linux/amd64`, `linux/arm64/v8`).
pub(crate) fn host_platform() -> Platform {
    Platform::parse(&format!("linux/{}", std::env::consts::ARCH))
        .unwrap_or_else(Platform::default_linux)
}

fn open_err<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
    path: &Path,
) -> impl FnOnce(E) -> Error {
    let path = path.to_owned();
    move |e| Error::Open {
        what,
        path,
        source: Box::new(e),
    }
}

impl ImageService {
    /// Opens (creating if needed) the stores under `cfg.data_root`, with
    /// the snapshotter `cfg.storage_driver` names. Snapshots an interrupted
    /// unpack left behind are removed, and images whose anchor record a
    /// crash lost get it back.
    pub fn open(cfg: &EngineConfig) -> Result<ImageService, Error> {
        let root = &cfg.data_root;
        let snap_root: PathBuf = root.join("snapshots").join(&cfg.storage_driver);
        let snapshotter: Box<dyn Snapshotter> = match cfg.storage_driver.as_str() {
            "overlay" => Box::new(
                OverlaySnapshotter::open(&snap_root)
                    .map_err(open_err("overlay snapshotter", &snap_root))?,
            ),
            "native" => Box::new(
                NativeSnapshotter::open(&snap_root)
                    .map_err(open_err("native snapshotter", &snap_root))?,
            ),
            other => return Err(Error::Driver(other.to_string())),
        };
        let content_root = root.join("content");
        let content =
            Store::open(&content_root).map_err(open_err("content store", &content_root))?;
        let lease_root = root.join("leases");
        let leases = Leases::open(&lease_root).map_err(open_err("leases", &lease_root))?;
        let records_path = root.join("images.json");
        let records =
            ImageStore::open(&records_path).map_err(open_err("image records", &records_path))?;
        let registry = remote::RegistryState::new(cfg.registry.clone())
            .map_err(open_err("registry client", root))?;
        let svc = ImageService {
            inner: Arc::new(Inner {
                content,
                leases,
                records,
                snapshotter,
                driver: cfg.storage_driver.clone(),
                snap_root,
                platform: host_platform(),
                ops: RwLock::new(()),
                cache: ResolveCache::default(),
                registry: RwLock::new(registry),
            }),
        };
        // Nothing else runs yet: an extract snapshot is a crashed unpack's.
        let all = svc
            .sn()
            .list()
            .map_err(|e| Error::snapshot("list", "", e))?;
        for info in all {
            if info.kind == Kind::Active && info.name.starts_with("extract-") {
                svc.sn()
                    .remove(&info.name)
                    .map_err(|e| Error::snapshot("remove stale", &info.name, e))?;
            }
        }
        svc.anchor_all()?;
        Ok(svc)
    }

    /// The registry client of the current settings (see the `pull` and
    /// `push` modules); an operation keeps the one it started with.
    pub(crate) fn registry(&self) -> berth_distribution::Client {
        self.registry_state().client.clone()
    }

    /// The current registry settings and client.
    pub(crate) fn registry_state(&self) -> remote::RegistryState {
        // Replaced whole under the lock: a panic elsewhere left it intact.
        self.inner
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Installs new registry settings and their client.
    pub(crate) fn set_registry_state(&self, state: remote::RegistryState) {
        *self
            .inner
            .registry
            .write()
            .unwrap_or_else(|e| e.into_inner()) = state;
    }

    fn sn(&self) -> &dyn Snapshotter {
        &*self.inner.snapshotter
    }

    /// The storage driver's name, as `docker info` and `GraphDriver` show it.
    pub fn driver(&self) -> &str {
        &self.inner.driver
    }

    /// The driver's name as dockerd reports it (`GraphDriver.Name`):
    /// the overlay snapshotter lays layers out as dockerd's overlay2 does.
    pub fn graph_driver_name(&self) -> &str {
        match self.driver() {
            "overlay" => "overlay2",
            other => other,
        }
    }

    /// `docker info`'s lines under "Storage Driver", as dockerd's overlay2
    /// reports them (none for native, as for dockerd's vfs).
    pub fn driver_status(&self) -> Vec<[String; 2]> {
        if self.driver() != "overlay" {
            return Vec::new();
        }
        let root = &self.inner.snap_root;
        let pair = |k: &str, v: &str| [k.to_string(), v.to_string()];
        vec![
            pair("Backing Filesystem", &backing_fs(root)),
            pair(
                "Supports d_type",
                if has_d_type(root) { "true" } else { "false" },
            ),
            // Diffs are read from the upper directories, not computed
            // by comparing trees.
            pair("Native Overlay Diff", "true"),
            pair("userxattr", "false"),
        ]
    }

    fn read_ops(&self) -> RwLockReadGuard<'_, ()> {
        // The guarded value is `()`: a panic elsewhere left nothing torn.
        self.inner.ops.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_ops(&self) -> RwLockWriteGuard<'_, ()> {
        self.inner.ops.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The images as the records say now.
    pub(crate) fn catalog(&self) -> Result<Catalog, Error> {
        let inner = &*self.inner;
        let records = inner.records.list();
        let live: HashSet<_> = records.iter().map(|r| r.target.digest).collect();
        let cat = Catalog::build(records, |t| {
            inner.cache.resolve(&inner.content, t, &inner.platform)
        })?;
        inner.cache.retain(&live);
        Ok(cat)
    }

    /// Gives every image its anchor record and drops records named by an
    /// ID that is not their image's (an OCI load names an untagged image
    /// by its manifest digest), in one atomic update.
    fn anchor_all(&self) -> Result<(), Error> {
        let cat = self.catalog()?;
        let mut put = Vec::new();
        let mut delete = Vec::new();
        for img in &cat.images {
            if !img.anchored {
                put.push(ImageRecord {
                    name: img.id_string(),
                    target: img.target.clone(),
                    created_at: img.recorded_at,
                });
            }
            for name in &img.records {
                if matches!(catalog::classify(name), RecordName::Id(d) if d != img.id) {
                    delete.push(name.clone());
                }
            }
        }
        if put.is_empty() && delete.is_empty() {
            return Ok(());
        }
        self.inner
            .records
            .update(put, &delete)
            .map_err(Error::Records)
    }

    /// The image `name` means (docker's lookup rules: ID, reference, ID
    /// prefix); NotFound "No such image: <name>".
    pub fn resolve(&self, name: &str) -> Result<ResolvedImage, Error> {
        let cat = self.catalog()?;
        let (img, _) = cat.lookup(name)?;
        Ok(ResolvedImage {
            id: img.id_string(),
            config: img.config().clone(),
            name: name.to_string(),
        })
    }

    /// How many images there are (`docker info`'s Images).
    pub fn image_count(&self) -> Result<usize, Error> {
        Ok(self.catalog()?.images.len())
    }
}
