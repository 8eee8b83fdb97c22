//! Snapshotters: layered filesystem trees in containerd's vocabulary.
//!
//! - A **key** names an *active* (read-write) or *view* (read-only)
//!   snapshot; a **name** names a *committed* one. Both share one
//!   namespace: a key and a name can never be equal.
//! - A **parent** is always a committed snapshot; its chain of parents is
//!   the stack of lower layers.
//! - [`Snapshotter::prepare`] creates an active snapshot on top of a parent
//!   and returns the mounts that present it; [`Snapshotter::view`] does the
//!   same read-only; [`Snapshotter::commit`] turns an active snapshot into a
//!   committed one under a new name (the key is gone afterwards);
//!   [`Snapshotter::remove`] deletes a snapshot that has no children.
//!
//! Importing a layer: `prepare("extract-<random>", parent_chain_id)`, apply
//! the layer into [`Snapshotter::apply_target`], then
//! `commit(chain_id, "extract-<random>")`; every image with that chain ID
//! then shares the same directory. Running a container: `prepare(id,
//! image_top_chain_id)`, mount the returned [`Mount`]s at the rootfs.
//!
//! Two implementations: [`overlay::OverlaySnapshotter`] (each snapshot is a
//! directory, stacked by overlayfs) and [`native::NativeSnapshotter`] (each
//! snapshot is a full copy of its parent). [`testsuite`] holds the one
//! conformance suite both pass.

mod base;
pub mod copy;
pub mod diff;
pub mod gc;
pub mod meta;
pub mod mount;
pub mod native;
pub mod overlay;
pub mod testsuite;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use mount::{Mount, MountError, MountGuard};

/// The lifecycle state of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Active,
    View,
    Committed,
}

/// What is known about a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// The key (active, view) or name (committed).
    pub name: String,
    pub kind: Kind,
    pub parent: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Disk usage of one snapshot's own directory (not its parents').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of allocated blocks, each inode counted once.
    pub size: u64,
    pub inodes: u64,
}

/// How a layer must be written into a snapshot's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerForm {
    /// Only the layer's own changes, whiteouts in overlayfs form.
    Overlay,
    /// On top of a full copy of the parent: whiteouts delete.
    Full,
}

/// Where to apply a layer for an active snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyTarget {
    pub dir: PathBuf,
    pub form: LayerForm,
}

/// Errors of snapshotters.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot {0:?}: not found")]
    NotFound(String),
    #[error("snapshot {0:?}: already exists")]
    AlreadyExists(String),
    #[error("snapshot {key:?}: is {kind:?}, expected an active snapshot")]
    NotActive { key: String, kind: Kind },
    #[error("snapshot {key:?}: is committed and has no mounts")]
    Committed { key: String },
    #[error("snapshot parent {parent:?}: is {kind:?}, expected a committed snapshot")]
    ParentNotCommitted { parent: String, kind: Kind },
    #[error("remove snapshot {key:?}: it has children ({children})")]
    HasChildren { key: String, children: String },
    #[error("snapshot key {0:?}: invalid (empty, longer than 1024 bytes, or containing NUL)")]
    InvalidKey(String),
    #[error("snapshotter root {0}: must be an absolute path without ':' or ','")]
    InvalidRoot(PathBuf),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("snapshot metadata: {0}")]
    Meta(#[source] meta::MetaError),
    #[error("remove snapshot directory: {0}")]
    Trash(#[source] berth_content::trash::TrashError),
    #[error("copy parent of snapshot {key:?}: {source}")]
    Copy {
        key: String,
        #[source]
        source: copy::CopyError,
    },
    #[error("diff snapshot {key:?}: {source}")]
    Diff {
        key: String,
        #[source]
        source: diff::DiffError,
    },
}

impl SnapshotError {
    pub(crate) fn io<'a>(
        op: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(io::Error) -> SnapshotError + 'a {
        move |source| SnapshotError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }
}

/// A snapshotter. Methods are safe to call from several threads; each
/// change is persisted before it returns.
pub trait Snapshotter: Send + Sync {
    /// A short name ("overlayfs", "native"), used in GC references.
    fn name(&self) -> &'static str;

    /// Creates the active snapshot `key` on top of the committed `parent`.
    /// Calling it again with the same key fails with `AlreadyExists`.
    fn prepare(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError>;

    /// Creates the read-only view `key` of the committed `parent`.
    fn view(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError>;

    /// The mounts of an active snapshot or a view.
    fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError>;

    /// Commits the active snapshot `key` as `name`; `key` is gone after.
    fn commit(&self, name: &str, key: &str) -> Result<(), SnapshotError>;

    /// Removes a snapshot that no other snapshot has as parent. Its
    /// directory leaves at once; its files are deleted in the background.
    fn remove(&self, key: &str) -> Result<(), SnapshotError>;

    /// Waits until the files of removed snapshots are deleted.
    fn flush_removals(&self);

    fn stat(&self, key: &str) -> Result<Info, SnapshotError>;

    /// Every snapshot, sorted by name.
    fn list(&self) -> Result<Vec<Info>, SnapshotError>;

    /// Disk usage of the snapshot's own directory.
    fn usage(&self, key: &str) -> Result<Usage, SnapshotError>;

    /// Where and in which form to write a layer into the active `key`.
    fn apply_target(&self, key: &str) -> Result<ApplyTarget, SnapshotError>;

    /// Writes the changes of the active snapshot `key` against its parent
    /// as an uncompressed layer tar (deterministic: names sorted).
    fn diff(&self, key: &str, out: &mut dyn Write) -> Result<(), SnapshotError> {
        self.diff_excluding(key, &diff::Exclude::default(), out)
    }

    /// [`Snapshotter::diff`] without the paths `exclude` names (see
    /// [`diff::Exclude`]).
    fn diff_excluding(
        &self,
        key: &str,
        exclude: &diff::Exclude,
        out: &mut dyn Write,
    ) -> Result<(), SnapshotError>;
}

/// Keys and names live in metadata only, never in paths (directories are
/// numbered), so `/` and `:` are fine, as containerd's keys use them.
pub(crate) fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 1024 && !k.contains('\0')
}
