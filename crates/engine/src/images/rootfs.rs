//! Containers' root filesystems: one active snapshot per container, keyed
//! by the container ID, on top of the image's top layer (its last chain
//! ID). The container service mounts what these return at the rootfs path
//! of the container's bundle and unmounts it before [`ImageService::remove_rootfs`].

use std::io::Write;

use berth_image::unpack;
use berth_snapshots::{Mount, SnapshotError};

use super::catalog::Image;
use super::{Error, ImageService};

impl ImageService {
    /// Creates the container's read-write snapshot `key` on the layers of
    /// the image `image_id` (`sha256:<hex>`, as [`ImageService::resolve`]
    /// returns it) and returns the mounts that present it. Layers missing
    /// from the snapshotter (an image stored under another storage driver)
    /// are unpacked first.
    pub fn prepare_rootfs(&self, image_id: &str, key: &str) -> Result<Vec<Mount>, Error> {
        let _ops = self.read_ops();
        let cat = self.catalog()?;
        let img = cat.by_id_str(image_id)?;
        let top = self.unpack(img)?;
        self.sn()
            .prepare(key, top.as_deref())
            .map_err(|source| match source {
                SnapshotError::AlreadyExists(k) => Error::RootfsExists(k),
                e => Error::snapshot("prepare", key, e),
            })
    }

    /// Makes sure every layer of `img` is a committed snapshot; returns
    /// the top one's name (`None` for an image without layers).
    pub(crate) fn unpack(&self, img: &Image) -> Result<Option<String>, Error> {
        let r = &img.resolved;
        let done = unpack(
            &self.inner.content,
            self.sn(),
            &r.manifest,
            &r.id,
            &r.config,
        )
        .map_err(|e| Error::Unpack {
            image: img.id_string(),
            source: Box::new(e),
        })?;
        Ok(done.chain_ids.last().map(|d| d.to_string()))
    }

    /// The mounts of the existing rw snapshot `key` (after a daemon
    /// restart).
    pub fn rootfs_mounts(&self, key: &str) -> Result<Vec<Mount>, Error> {
        self.sn()
            .mounts(key)
            .map_err(|source| rootfs_err("mounts of", key, source))
    }

    /// Removes the rw snapshot `key`. Removing one that is already gone
    /// succeeds, so a removal interrupted half-way can simply be repeated.
    pub fn remove_rootfs(&self, key: &str) -> Result<(), Error> {
        match self.sn().remove(key) {
            Ok(()) | Err(SnapshotError::NotFound(_)) => Ok(()),
            Err(source) => Err(rootfs_err("remove", key, source)),
        }
    }

    /// Writes the rw layer `key` as an uncompressed layer tar (its changes
    /// against the image, whiteouts for deletions).
    pub fn diff_rootfs(&self, key: &str, out: &mut dyn Write) -> Result<(), Error> {
        self.sn()
            .diff(key, out)
            .map_err(|source| rootfs_err("diff", key, source))
    }
}

fn rootfs_err(op: &'static str, key: &str, source: SnapshotError) -> Error {
    match source {
        SnapshotError::NotFound(k) => Error::NoSuchRootfs(k),
        e => Error::snapshot(op, key, e),
    }
}
