//! What both snapshotters share: keys, parents, numbered directories and
//! crash-safe metadata. The implementations supply how a new snapshot's
//! directory is filled and how it is mounted.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use berth_content::trash::Trash;

use crate::meta::{MetaStore, Record, State};
use crate::{Info, Kind, SnapshotError, Usage, valid_key};

#[derive(Debug)]
pub(crate) struct Base {
    root: PathBuf,
    meta: MetaStore,
    /// Where removed snapshots' directories go to be deleted in the
    /// background (`<root>/trash`).
    trash: Trash,
    /// Serialises every change: metadata and directories move together.
    state: Mutex<State>,
}

impl Base {
    pub(crate) fn open(root: &Path) -> Result<Base, SnapshotError> {
        let s = root.to_str().unwrap_or(":");
        // Mount options are comma-separated and lowerdir lists
        // colon-separated; such paths cannot be expressed in the fallback
        // mount(2) data string.
        if !root.is_absolute() || s.contains([':', ',']) {
            return Err(SnapshotError::InvalidRoot(root.to_owned()));
        }
        let snaps = root.join("snapshots");
        fs::create_dir_all(&snaps).map_err(SnapshotError::io("create directory", &snaps))?;
        let meta = MetaStore::new(root.join("metadata.json"));
        let state = meta.load().map_err(SnapshotError::Meta)?;
        // Leftovers of a crash between creating a directory and recording
        // it (or between unrecording and removing it).
        let orphans = MetaStore::orphans(&state, &snaps)
            .map_err(SnapshotError::io("read directory", &snaps))?;
        for o in orphans {
            fs::remove_dir_all(&o).map_err(SnapshotError::io("remove orphan snapshot", &o))?;
        }
        let trash = Trash::open(&root.join("trash")).map_err(SnapshotError::Trash)?;
        Ok(Base {
            root: root.to_owned(),
            meta,
            trash,
            state: Mutex::new(state),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only replaced after a successful save, so a panic in
        // another holder cannot have left it half-updated.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn dir(&self, id: u64) -> PathBuf {
        self.root.join("snapshots").join(id.to_string())
    }

    pub(crate) fn fs_dir(&self, id: u64) -> PathBuf {
        self.dir(id).join("fs")
    }

    pub(crate) fn record(state: &State, key: &str) -> Result<Record, SnapshotError> {
        state
            .snapshots
            .get(key)
            .cloned()
            .ok_or_else(|| SnapshotError::NotFound(key.to_owned()))
    }

    /// Validates, creates `snapshots/<id>` with `fill(dir, state)`, then
    /// records it. On failure the directory is removed.
    pub(crate) fn create(
        &self,
        key: &str,
        parent: Option<&str>,
        kind: Kind,
        fill: impl FnOnce(&Path, &State) -> Result<(), SnapshotError>,
    ) -> Result<Record, SnapshotError> {
        if !valid_key(key) {
            return Err(SnapshotError::InvalidKey(key.to_owned()));
        }
        let mut st = self.lock();
        if st.snapshots.contains_key(key) {
            return Err(SnapshotError::AlreadyExists(key.to_owned()));
        }
        if let Some(p) = parent {
            let pr = Self::record(&st, p)?;
            if pr.kind != Kind::Committed {
                return Err(SnapshotError::ParentNotCommitted {
                    parent: p.to_owned(),
                    kind: pr.kind,
                });
            }
        }
        let id = st.next_id.max(1);
        let dir = self.dir(id);
        let result = fs::create_dir(&dir)
            .map_err(SnapshotError::io("create snapshot directory", &dir))
            .and_then(|()| fill(&dir, &st));
        let mut next = st.clone();
        let record = Record {
            id,
            kind,
            parent: parent.map(str::to_owned),
            created_at: now(),
            labels: Default::default(),
            size: None,
            inodes: None,
        };
        next.next_id = id + 1;
        next.snapshots.insert(key.to_owned(), record.clone());
        let result = result.and_then(|()| self.meta.save(&next).map_err(SnapshotError::Meta));
        match result {
            Ok(()) => {
                *st = next;
                Ok(record)
            }
            Err(e) => {
                // The directory is unrecorded either way; if removing it
                // fails too, the next open removes it as an orphan.
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    pub(crate) fn commit(&self, name: &str, key: &str) -> Result<(), SnapshotError> {
        if !valid_key(name) {
            return Err(SnapshotError::InvalidKey(name.to_owned()));
        }
        let mut st = self.lock();
        let r = Self::record(&st, key)?;
        if r.kind != Kind::Active {
            return Err(SnapshotError::NotActive {
                key: key.to_owned(),
                kind: r.kind,
            });
        }
        if st.snapshots.contains_key(name) {
            return Err(SnapshotError::AlreadyExists(name.to_owned()));
        }
        let usage = usage(&self.fs_dir(r.id))?;
        let mut next = st.clone();
        next.snapshots.remove(key);
        next.snapshots.insert(
            name.to_owned(),
            Record {
                kind: Kind::Committed,
                created_at: now(),
                size: Some(usage.size),
                inodes: Some(usage.inodes),
                ..r
            },
        );
        self.meta.save(&next).map_err(SnapshotError::Meta)?;
        *st = next;
        Ok(())
    }

    pub(crate) fn remove(&self, key: &str) -> Result<(), SnapshotError> {
        let mut st = self.lock();
        let r = Self::record(&st, key)?;
        let children = st.children(key);
        if !children.is_empty() {
            return Err(SnapshotError::HasChildren {
                key: key.to_owned(),
                children: children.join(", "),
            });
        }
        let mut next = st.clone();
        next.snapshots.remove(key);
        let dir = self.dir(r.id);
        match self.meta.save(&next) {
            Ok(()) => {}
            // A full disk is exactly when removing is most needed, and the
            // metadata rewrite needs a little space: free the directory's
            // first, then record. A crash in between leaves a record whose
            // directory is gone, which the next remove of it tolerates.
            Err(e) if e.is_no_space() => {
                remove_dir(&dir)?;
                self.meta.save(&next).map_err(SnapshotError::Meta)?;
                *st = next;
                return Ok(());
            }
            Err(e) => return Err(SnapshotError::Meta(e)),
        }
        *st = next;
        // Unrecorded now: the directory leaves at once, its files are
        // deleted in the background (a crash leaves them in the trash,
        // which the next open empties).
        self.trash.discard(&dir).map_err(SnapshotError::Trash)
    }

    /// Waits until the directories of removed snapshots are deleted.
    pub(crate) fn flush_removals(&self) {
        self.trash.flush();
    }

    pub(crate) fn stat(&self, key: &str) -> Result<Info, SnapshotError> {
        self.lock()
            .info(key)
            .ok_or_else(|| SnapshotError::NotFound(key.to_owned()))
    }

    pub(crate) fn list(&self) -> Vec<Info> {
        let st = self.lock();
        st.snapshots.keys().filter_map(|k| st.info(k)).collect()
    }

    pub(crate) fn usage(&self, key: &str) -> Result<Usage, SnapshotError> {
        let r = Self::record(&self.lock(), key)?;
        if let (Some(size), Some(inodes)) = (r.size, r.inodes) {
            return Ok(Usage { size, inodes });
        }
        usage(&self.fs_dir(r.id))
    }

    /// The active (or view) record of `key`, for mounts and diffs.
    pub(crate) fn active(
        &self,
        key: &str,
        allow_view: bool,
    ) -> Result<(Record, Vec<u64>), SnapshotError> {
        let st = self.lock();
        let r = Self::record(&st, key)?;
        match r.kind {
            Kind::Active => {}
            Kind::View if allow_view => {}
            Kind::View => {
                return Err(SnapshotError::NotActive {
                    key: key.to_owned(),
                    kind: r.kind,
                });
            }
            Kind::Committed => {
                return Err(SnapshotError::Committed {
                    key: key.to_owned(),
                });
            }
        }
        let chain = st.chain_ids(r.parent.as_deref());
        Ok((r, chain))
    }
}

/// Removes a snapshot directory; already gone is fine (see `remove`).
fn remove_dir(dir: &Path) -> Result<(), SnapshotError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(SnapshotError::io("remove snapshot directory", dir)(e))
        }
        _ => Ok(()),
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Allocated bytes and inode count under `dir`, each inode once.
pub(crate) fn usage(dir: &Path) -> Result<Usage, SnapshotError> {
    let mut seen = HashSet::new();
    let mut u = Usage::default();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let rd = fs::read_dir(&d).map_err(SnapshotError::io("read directory", &d))?;
        for e in rd {
            let e = e.map_err(SnapshotError::io("read directory", &d))?;
            let p = e.path();
            let md = fs::symlink_metadata(&p).map_err(SnapshotError::io("stat", &p))?;
            if seen.insert((md.dev(), md.ino())) {
                u.inodes += 1;
                u.size += md.blocks() * 512;
            }
            if md.is_dir() {
                stack.push(p);
            }
        }
    }
    Ok(u)
}
