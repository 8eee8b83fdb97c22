//! Leases: named sets of references that keep in-progress work alive.
//!
//! A pull or an unpack creates a lease first, adds each blob, ingest and
//! snapshot it is about to create to it *before* creating it, and deletes the
//! lease once the finished image record references everything. Garbage
//! collection treats every unexpired lease as a root, so nothing a running
//! operation depends on is collected under it.
//!
//! Each lease is one JSON file, `<dir>/<id>.json`, replaced atomically on
//! every change. A mutex orders changes within the process; the store is
//! meant to have a single owning process (the daemon).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::store::valid_ref;

/// Errors of the lease manager.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("lease {0:?}: not found")]
    NotFound(String),
    #[error("lease {0:?}: already exists")]
    AlreadyExists(String),
    #[error(
        "lease id {0:?}: invalid (use 1-200 characters of [A-Za-z0-9._:@+-], not starting with '.')"
    )]
    InvalidId(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write lease {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: crate::atomic::AtomicWriteError,
    },
    #[error("parse lease {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// A reference a lease holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Resource {
    /// A committed blob, by digest string.
    Content { id: crate::Digest },
    /// An ingest, by ref.
    Ingest { id: String },
    /// A snapshot key of the named snapshotter.
    Snapshot { snapshotter: String, id: String },
}

/// One lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    /// After this instant (seconds since the epoch) the lease no longer
    /// protects anything and garbage collection deletes it.
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub resources: BTreeSet<Resource>,
}

impl Lease {
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// The set of leases stored in one directory.
#[derive(Debug, Clone)]
pub struct Leases {
    dir: PathBuf,
    lock: Arc<Mutex<()>>,
}

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Leases {
    /// Opens (creating if needed) the lease directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Leases, LeaseError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| LeaseError::Io {
            op: "create directory",
            path: dir.clone(),
            source,
        })?;
        Ok(Leases {
            dir,
            lock: Arc::new(Mutex::new(())),
        })
    }

    fn path(&self, id: &str) -> Result<PathBuf, LeaseError> {
        if !valid_ref(id) {
            return Err(LeaseError::InvalidId(id.to_owned()));
        }
        Ok(self.dir.join(format!("{id}.json")))
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded value is `()`: a panic elsewhere left nothing to repair.
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates an empty lease; `ttl_secs` bounds how long it protects.
    pub fn create(
        &self,
        id: &str,
        ttl_secs: Option<i64>,
        labels: BTreeMap<String, String>,
    ) -> Result<Lease, LeaseError> {
        let path = self.path(id)?;
        let _g = self.guard();
        if path.exists() {
            return Err(LeaseError::AlreadyExists(id.to_owned()));
        }
        let now = now_unix();
        let lease = Lease {
            id: id.to_owned(),
            created_at: now,
            expires_at: ttl_secs.map(|t| now + t),
            labels,
            resources: BTreeSet::new(),
        };
        save(&path, &lease)?;
        Ok(lease)
    }

    pub fn get(&self, id: &str) -> Result<Lease, LeaseError> {
        let path = self.path(id)?;
        load(&path, id)
    }

    /// Adds a reference to a lease (idempotent).
    pub fn add(&self, id: &str, resource: Resource) -> Result<(), LeaseError> {
        self.update(id, |l| {
            l.resources.insert(resource);
        })
    }

    /// Adds several references to a lease in one write (idempotent).
    pub fn add_all(
        &self,
        id: &str,
        resources: impl IntoIterator<Item = Resource>,
    ) -> Result<(), LeaseError> {
        self.update(id, |l| l.resources.extend(resources))
    }

    /// Drops a reference from a lease (idempotent).
    pub fn remove(&self, id: &str, resource: &Resource) -> Result<(), LeaseError> {
        self.update(id, |l| {
            l.resources.remove(resource);
        })
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Lease)) -> Result<(), LeaseError> {
        let path = self.path(id)?;
        let _g = self.guard();
        let mut lease = load(&path, id)?;
        f(&mut lease);
        save(&path, &lease)
    }

    pub fn delete(&self, id: &str) -> Result<(), LeaseError> {
        let path = self.path(id)?;
        let _g = self.guard();
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(LeaseError::NotFound(id.to_owned()))
            }
            Err(source) => Err(LeaseError::Io {
                op: "remove lease",
                path,
                source,
            }),
        }
    }

    /// Every lease, sorted by id.
    pub fn list(&self) -> Result<Vec<Lease>, LeaseError> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.dir).map_err(|source| LeaseError::Io {
            op: "read directory",
            path: self.dir.clone(),
            source,
        })?;
        for entry in rd {
            let entry = entry.map_err(|source| LeaseError::Io {
                op: "read directory",
                path: self.dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if !valid_ref(id) {
                continue;
            }
            match load(&entry.path(), id) {
                Ok(l) => out.push(l),
                Err(LeaseError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

fn load(path: &Path, id: &str) -> Result<Lease, LeaseError> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(LeaseError::NotFound(id.to_owned()));
        }
        Err(source) => {
            return Err(LeaseError::Io {
                op: "read lease",
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&data).map_err(|source| LeaseError::Parse {
        path: path.to_owned(),
        source,
    })
}

fn save(path: &Path, lease: &Lease) -> Result<(), LeaseError> {
    // Serializing plain data with string keys cannot fail.
    let data = serde_json::to_vec_pretty(lease).unwrap_or_default();
    crate::atomic::write_file(path, &data).map_err(|source| LeaseError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_lifecycle_persists() {
        let dir = tempfile::tempdir().unwrap();
        let leases = Leases::open(dir.path()).unwrap();
        leases.create("pull-1", None, BTreeMap::new()).unwrap();
        assert!(matches!(
            leases.create("pull-1", None, BTreeMap::new()),
            Err(LeaseError::AlreadyExists(_))
        ));
        let d = crate::Digest::of(b"x");
        leases.add("pull-1", Resource::Content { id: d }).unwrap();
        leases
            .add(
                "pull-1",
                Resource::Ingest {
                    id: "layer-1".into(),
                },
            )
            .unwrap();
        // A second handle on the same directory sees the change: it is on disk.
        let again = Leases::open(dir.path()).unwrap();
        let l = again.get("pull-1").unwrap();
        assert_eq!(l.resources.len(), 2);
        assert!(l.resources.contains(&Resource::Content { id: d }));
        again
            .remove("pull-1", &Resource::Content { id: d })
            .unwrap();
        assert_eq!(leases.get("pull-1").unwrap().resources.len(), 1);
        leases.delete("pull-1").unwrap();
        assert!(matches!(leases.get("pull-1"), Err(LeaseError::NotFound(_))));
        assert!(matches!(
            leases.delete("pull-1"),
            Err(LeaseError::NotFound(_))
        ));
        assert!(matches!(
            leases.create("../x", None, BTreeMap::new()),
            Err(LeaseError::InvalidId(_))
        ));
    }

    #[test]
    fn expiry() {
        let l = Lease {
            id: "a".into(),
            created_at: 0,
            expires_at: Some(10),
            labels: BTreeMap::new(),
            resources: BTreeSet::new(),
        };
        assert!(!l.expired(9));
        assert!(l.expired(10));
    }
}
