//! The native snapshotter: every snapshot is a full copy of its parent in
//! `snapshots/<id>/fs`, presented by a bind mount. For filesystems that
//! cannot host overlayfs; costs a copy per snapshot.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::base::Base;
use crate::{ApplyTarget, Info, Kind, LayerForm, Mount, SnapshotError, Snapshotter, Usage};

#[derive(Debug)]
pub struct NativeSnapshotter {
    base: Base,
}

impl NativeSnapshotter {
    /// Opens (creating if needed) the snapshotter rooted at the absolute
    /// path `root`, removing directories a crash left unrecorded.
    pub fn open(root: &Path) -> Result<NativeSnapshotter, SnapshotError> {
        Ok(NativeSnapshotter {
            base: Base::open(root)?,
        })
    }

    fn create(
        &self,
        key: &str,
        parent: Option<&str>,
        kind: Kind,
    ) -> Result<Vec<Mount>, SnapshotError> {
        self.base.create(key, parent, kind, |dir, st| {
            let fsd = dir.join("fs");
            fs::create_dir(&fsd).map_err(SnapshotError::io("create directory", &fsd))?;
            if let Some(p) = parent.and_then(|p| st.snapshots.get(p)) {
                crate::copy::copy_tree(&self.base.fs_dir(p.id), &fsd).map_err(|source| {
                    SnapshotError::Copy {
                        key: key.to_owned(),
                        source,
                    }
                })?;
            }
            Ok(())
        })?;
        self.mounts(key)
    }
}

impl Snapshotter for NativeSnapshotter {
    fn name(&self) -> &'static str {
        "native"
    }

    fn prepare(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        self.create(key, parent, Kind::Active)
    }

    fn view(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        self.create(key, parent, Kind::View)
    }

    fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError> {
        let (r, _) = self.base.active(key, true)?;
        Ok(vec![Mount::bind(
            self.base.fs_dir(r.id),
            r.kind == Kind::View,
        )])
    }

    fn commit(&self, name: &str, key: &str) -> Result<(), SnapshotError> {
        self.base.commit(name, key)
    }

    fn remove(&self, key: &str) -> Result<(), SnapshotError> {
        self.base.remove(key)
    }

    fn flush_removals(&self) {
        self.base.flush_removals();
    }

    fn stat(&self, key: &str) -> Result<Info, SnapshotError> {
        self.base.stat(key)
    }

    fn list(&self) -> Result<Vec<Info>, SnapshotError> {
        Ok(self.base.list())
    }

    fn usage(&self, key: &str) -> Result<Usage, SnapshotError> {
        self.base.usage(key)
    }

    fn apply_target(&self, key: &str) -> Result<ApplyTarget, SnapshotError> {
        let (r, _) = self.base.active(key, false)?;
        Ok(ApplyTarget {
            dir: self.base.fs_dir(r.id),
            form: LayerForm::Full,
        })
    }

    fn diff_excluding(
        &self,
        key: &str,
        exclude: &crate::diff::Exclude,
        out: &mut dyn Write,
    ) -> Result<(), SnapshotError> {
        let (r, chain) = self.base.active(key, false)?;
        let lower = chain.first().map(|id| self.base.fs_dir(*id));
        crate::diff::tree_diff(lower.as_deref(), &self.base.fs_dir(r.id), exclude, out).map_err(
            |source| SnapshotError::Diff {
                key: key.to_owned(),
                source,
            },
        )
    }
}
