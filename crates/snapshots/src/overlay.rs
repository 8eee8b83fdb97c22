//! The overlayfs snapshotter: `snapshots/<id>/fs` holds one layer's own
//! changes (whiteouts in overlay form), `snapshots/<id>/work` is overlay's
//! work directory for active snapshots. A snapshot is presented by
//! stacking its ancestors' `fs` directories as lower layers.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::base::Base;
use crate::meta::Record;
use crate::{ApplyTarget, Info, Kind, LayerForm, Mount, SnapshotError, Snapshotter, Usage};

#[derive(Debug)]
pub struct OverlaySnapshotter {
    base: Base,
}

impl OverlaySnapshotter {
    /// Opens (creating if needed) the snapshotter rooted at the absolute
    /// path `root`, removing directories a crash left unrecorded.
    pub fn open(root: &Path) -> Result<OverlaySnapshotter, SnapshotError> {
        Ok(OverlaySnapshotter {
            base: Base::open(root)?,
        })
    }

    fn mounts_of(&self, r: &Record, chain: &[u64]) -> Vec<Mount> {
        let path = |id: u64| self.base.fs_dir(id).to_string_lossy().into_owned();
        let lower = || {
            format!(
                "lowerdir={}",
                chain
                    .iter()
                    .map(|id| path(*id))
                    .collect::<Vec<_>>()
                    .join(":")
            )
        };
        match (r.kind, chain) {
            // Nothing below: the snapshot's own directory is the tree.
            (Kind::View, []) => vec![Mount::bind(self.base.fs_dir(r.id), true)],
            (_, []) => vec![Mount::bind(self.base.fs_dir(r.id), false)],
            // A view of one layer needs no overlay at all.
            (Kind::View, [one]) => vec![Mount::bind(self.base.fs_dir(*one), true)],
            (Kind::View, _) => {
                vec![Mount {
                    kind: "overlay".into(),
                    source: "overlay".into(),
                    options: vec!["ro".into(), lower()],
                }]
            }
            _ => vec![Mount {
                kind: "overlay".into(),
                source: "overlay".into(),
                options: vec![
                    format!("workdir={}", self.base.dir(r.id).join("work").display()),
                    format!("upperdir={}", path(r.id)),
                    lower(),
                ],
            }],
        }
    }

    fn create(
        &self,
        key: &str,
        parent: Option<&str>,
        kind: Kind,
    ) -> Result<Vec<Mount>, SnapshotError> {
        self.base.create(key, parent, kind, |dir, _| {
            let fsd = dir.join("fs");
            fs::create_dir(&fsd).map_err(SnapshotError::io("create directory", &fsd))?;
            if kind == Kind::Active {
                let w = dir.join("work");
                fs::create_dir(&w).map_err(SnapshotError::io("create directory", &w))?;
            }
            Ok(())
        })?;
        self.mounts(key)
    }
}

impl Snapshotter for OverlaySnapshotter {
    fn name(&self) -> &'static str {
        "overlayfs"
    }

    fn prepare(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        self.create(key, parent, Kind::Active)
    }

    fn view(&self, key: &str, parent: Option<&str>) -> Result<Vec<Mount>, SnapshotError> {
        self.create(key, parent, Kind::View)
    }

    fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError> {
        let (r, chain) = self.base.active(key, true)?;
        Ok(self.mounts_of(&r, &chain))
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
            form: LayerForm::Overlay,
        })
    }

    fn diff_excluding(
        &self,
        key: &str,
        exclude: &crate::diff::Exclude,
        out: &mut dyn Write,
    ) -> Result<(), SnapshotError> {
        let (r, _) = self.base.active(key, false)?;
        crate::diff::overlay_diff(&self.base.fs_dir(r.id), exclude, out).map_err(|source| {
            SnapshotError::Diff {
                key: key.to_owned(),
                source,
            }
        })
    }
}
