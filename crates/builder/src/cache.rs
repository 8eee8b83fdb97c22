//! The layer cache: which image a step made, by the step's key, kept
//! across builds and daemon restarts in one atomic JSON file under the
//! data root (`builder/cache.json`).
//!
//! A step's key is the hash of its parent image ID and what the step does
//! after substitution (its history text, and for COPY/ADD the checksum of
//! the sources' contents and metadata). An entry whose image is gone is a
//! miss. Entries are merged into the file when a build ends, so parallel
//! builds add to one index.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

/// Errors of saving the index.
#[derive(Debug, thiserror::Error)]
#[error("{op} build cache index {path}: {source}")]
pub struct CacheError {
    op: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Serializes writers of the index file within the daemon.
static WRITE: Mutex<()> = Mutex::new(());

/// The cache index of one data root.
#[derive(Debug, Clone)]
pub struct CacheIndex {
    path: PathBuf,
}

/// The key of a step: the hash of its parts.
pub fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl CacheIndex {
    pub fn new(data_root: &Path) -> CacheIndex {
        CacheIndex {
            path: data_root.join("builder").join("cache.json"),
        }
    }

    /// The entries (none when the file is missing or unreadable: a cache
    /// that cannot be read is only a slower build).
    pub fn load(&self) -> BTreeMap<String, String> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Adds `entries` to the file (tmp, fsync, rename, fsync dir).
    pub fn merge(&self, entries: &BTreeMap<String, String>) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        let _w = WRITE.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = self.load();
        all.extend(entries.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.write(&all)
    }

    /// Keeps only the entries `keep` accepts; returns how many went.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) -> Result<usize, CacheError> {
        let _w = WRITE.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = self.load();
        let before = all.len();
        all.retain(|_, v| keep(v));
        let gone = before - all.len();
        if gone > 0 {
            self.write(&all)?;
        }
        Ok(gone)
    }

    fn write(&self, all: &BTreeMap<String, String>) -> Result<(), CacheError> {
        let err = |op| {
            let path = self.path.clone();
            move |source| CacheError { op, path, source }
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err("create directory of"))?;
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(all).unwrap_or_default();
        let mut f = std::fs::File::create(&tmp).map_err(err("create"))?;
        f.write_all(&bytes).map_err(err("write"))?;
        f.sync_all().map_err(err("sync"))?;
        std::fs::rename(&tmp, &self.path).map_err(err("rename"))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err("sync directory of"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_eq!(key(&["x"]), key(&["x"]));
        assert_eq!(key(&["x"]).len(), 64);
    }

    #[test]
    fn merge_persists_and_retain_prunes() {
        let tmp = tempfile::tempdir().unwrap();
        let idx = CacheIndex::new(tmp.path());
        assert!(idx.load().is_empty());
        let mut m = BTreeMap::new();
        m.insert("k1".to_string(), "sha256:a".to_string());
        idx.merge(&m).unwrap();
        let mut m2 = BTreeMap::new();
        m2.insert("k2".to_string(), "sha256:b".to_string());
        CacheIndex::new(tmp.path()).merge(&m2).unwrap();
        let all = idx.load();
        assert_eq!(all.len(), 2);
        assert_eq!(idx.retain(|v| v == "sha256:b").unwrap(), 1);
        assert_eq!(idx.load().len(), 1);
        std::fs::write(tmp.path().join("builder/cache.json"), b"{broken").unwrap();
        assert!(idx.load().is_empty(), "a broken index is an empty cache");
    }
}
