//! Snapshot metadata: one JSON document, replaced atomically on every
//! change (temp file, fsync, rename, fsync directory).
//!
//! Directories are numbered (`snapshots/<id>`); the document maps keys to
//! ids. Creation writes the directory first and the document second;
//! removal writes the document first and removes the directory second. So
//! after a crash the document never names a missing directory, and any
//! numbered directory it does not name is an orphan that
//! [`MetaStore::orphans`] reports for removal.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Info, Kind};

/// Errors loading or saving snapshot metadata.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("parse {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("save {path}: {source}")]
    Save {
        path: PathBuf,
        #[source]
        source: berth_content::atomic::AtomicWriteError,
    },
}

impl MetaError {
    /// True when saving failed because the filesystem is full.
    pub fn is_no_space(&self) -> bool {
        matches!(self, MetaError::Save { source, .. } if source.source.raw_os_error() == Some(libc::ENOSPC))
    }
}

/// One snapshot's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: u64,
    pub kind: Kind,
    pub parent: Option<String>,
    pub created_at: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Usage measured at commit (committed snapshots never change).
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub inodes: Option<u64>,
}

/// The whole document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub next_id: u64,
    pub snapshots: BTreeMap<String, Record>,
}

impl State {
    pub fn info(&self, key: &str) -> Option<Info> {
        self.snapshots.get(key).map(|r| Info {
            name: key.to_owned(),
            kind: r.kind,
            parent: r.parent.clone(),
            created_at: r.created_at,
            labels: r.labels.clone(),
        })
    }

    /// Keys whose parent is `key`.
    pub fn children(&self, key: &str) -> Vec<String> {
        self.snapshots
            .iter()
            .filter(|(_, r)| r.parent.as_deref() == Some(key))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The ids of `parent` and its ancestors, nearest first.
    pub fn chain_ids(&self, parent: Option<&str>) -> Vec<u64> {
        let mut out = Vec::new();
        let mut cur = parent;
        while let Some(p) = cur {
            let Some(r) = self.snapshots.get(p) else {
                break;
            };
            out.push(r.id);
            cur = r.parent.as_deref();
        }
        out
    }
}

/// The metadata file of one snapshotter.
#[derive(Debug)]
pub struct MetaStore {
    path: PathBuf,
}

impl MetaStore {
    pub fn new(path: PathBuf) -> MetaStore {
        MetaStore { path }
    }

    pub fn load(&self) -> Result<State, MetaError> {
        match fs::read(&self.path) {
            Ok(data) => serde_json::from_slice(&data).map_err(|source| MetaError::Parse {
                path: self.path.clone(),
                source,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State {
                next_id: 1,
                ..State::default()
            }),
            Err(source) => Err(MetaError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    pub fn save(&self, state: &State) -> Result<(), MetaError> {
        // Plain data with string keys: serialization cannot fail.
        let data = serde_json::to_vec_pretty(state).unwrap_or_default();
        berth_content::atomic::write_file(&self.path, &data).map_err(|source| MetaError::Save {
            path: self.path.clone(),
            source,
        })
    }

    /// Numbered directories under `dir` that `state` does not reference.
    pub fn orphans(state: &State, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let used: std::collections::HashSet<u64> = state.snapshots.values().map(|r| r.id).collect();
        let mut out = Vec::new();
        for e in fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.parse::<u64>().ok()) {
                if !used.contains(&id) {
                    out.push(e.path());
                }
            }
        }
        Ok(out)
    }
}
