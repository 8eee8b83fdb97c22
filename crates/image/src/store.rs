//! Image records: names (normalised references, or an image ID for
//! untagged images) pointing at a manifest or index in the content store.
//!
//! The records are one JSON document replaced atomically. They are the
//! roots of garbage collection ([`ImageRoots`]); [`ManifestChildren`]
//! lets collection follow an index to its manifests and a manifest to its
//! config and layers.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use berth_content::gc::{ChildResolver, References, RootSource, SourceError};
use berth_content::{Digest, Store};
use serde::{Deserialize, Serialize};

use crate::manifest::{self, Descriptor, Parsed};

/// Errors of the image record store.
#[derive(Debug, thiserror::Error)]
pub enum ImageStoreError {
    #[error("image {0:?}: not found")]
    NotFound(String),
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

/// One image record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub name: String,
    pub target: Descriptor,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

/// The image records of one data root.
#[derive(Debug)]
pub struct ImageStore {
    path: PathBuf,
    records: Mutex<BTreeMap<String, ImageRecord>>,
}

impl ImageStore {
    pub fn open(path: impl Into<PathBuf>) -> Result<ImageStore, ImageStoreError> {
        let path = path.into();
        let records = match fs::read(&path) {
            Ok(d) => serde_json::from_slice(&d).map_err(|source| ImageStoreError::Parse {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(ImageStoreError::Read { path, source }),
        };
        Ok(ImageStore {
            path,
            records: Mutex::new(records),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ImageRecord>> {
        // Replaced only after a successful save: never half-updated.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, next: &BTreeMap<String, ImageRecord>) -> Result<(), ImageStoreError> {
        let data = serde_json::to_vec_pretty(next).unwrap_or_default();
        berth_content::atomic::write_file(&self.path, &data).map_err(|source| {
            ImageStoreError::Save {
                path: self.path.clone(),
                source,
            }
        })
    }

    /// Creates or replaces several records in one atomic write, so a
    /// multi-image load becomes visible all at once or not at all.
    pub fn put_all(&self, records: Vec<ImageRecord>) -> Result<(), ImageStoreError> {
        let mut cur = self.lock();
        let mut next = cur.clone();
        for r in records {
            next.insert(r.name.clone(), r);
        }
        self.save(&next)?;
        *cur = next;
        Ok(())
    }

    /// Creates or replaces `put` and removes `delete` in one atomic write
    /// (so a retag or an untag is never seen half done). Names in `delete`
    /// that do not exist are skipped; a name in both ends up put.
    pub fn update(&self, put: Vec<ImageRecord>, delete: &[String]) -> Result<(), ImageStoreError> {
        let mut cur = self.lock();
        let mut next = cur.clone();
        for name in delete {
            next.remove(name);
        }
        for r in put {
            next.insert(r.name.clone(), r);
        }
        self.save(&next)?;
        *cur = next;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<ImageRecord, ImageStoreError> {
        self.lock()
            .get(name)
            .cloned()
            .ok_or_else(|| ImageStoreError::NotFound(name.to_owned()))
    }

    pub fn delete(&self, name: &str) -> Result<ImageRecord, ImageStoreError> {
        let mut cur = self.lock();
        let mut next = cur.clone();
        let r = next
            .remove(name)
            .ok_or_else(|| ImageStoreError::NotFound(name.to_owned()))?;
        self.save(&next)?;
        *cur = next;
        Ok(r)
    }

    pub fn list(&self) -> Vec<ImageRecord> {
        self.lock().values().cloned().collect()
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Image records as garbage-collection roots.
pub struct ImageRoots<'a>(pub &'a ImageStore);

impl RootSource for ImageRoots<'_> {
    fn name(&self) -> &str {
        "image records"
    }

    fn add_roots(&self, refs: &mut References) -> Result<(), SourceError> {
        refs.content
            .extend(self.0.list().into_iter().map(|r| r.target.digest));
        Ok(())
    }
}

/// Follows indexes and manifests to what they reference.
pub struct ManifestChildren;

impl ChildResolver for ManifestChildren {
    fn children(&self, store: &Store, digest: &Digest) -> Result<Vec<Digest>, SourceError> {
        let info = store.info(digest)?;
        // Layers are large and never JSON; only small blobs are examined.
        if info.size > 4 << 20 {
            return Ok(Vec::new());
        }
        let mut first = [0u8; 1];
        let r = store.reader(digest)?;
        if r.read_at(&mut first, 0)? == 0 || first[0] != b'{' {
            return Ok(Vec::new());
        }
        let data = store.read(digest)?;
        Ok(match manifest::parse(digest, None, &data) {
            Ok(Parsed::Manifest(m)) => std::iter::once(m.config.digest)
                .chain(m.layers.iter().map(|l| l.digest))
                .collect(),
            Ok(Parsed::Index(i)) => i.manifests.iter().map(|m| m.digest).collect(),
            // A config or other JSON blob: no references.
            Err(_) => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::MT_DOCKER_MANIFEST;

    fn rec(name: &str, n: u8) -> ImageRecord {
        ImageRecord {
            name: name.to_owned(),
            target: Descriptor {
                media_type: MT_DOCKER_MANIFEST.to_owned(),
                digest: Digest::of(&[n]),
                size: 1,
                urls: vec![],
                annotations: BTreeMap::new(),
                platform: None,
            },
            created_at: 0,
        }
    }

    #[test]
    fn update_puts_and_deletes_in_one_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images.json");
        let s = ImageStore::open(&path).unwrap();
        s.put_all(vec![rec("a", 1), rec("b", 1)]).unwrap();
        s.update(
            vec![rec("c", 2), rec("b", 3)],
            &["a".into(), "b".into(), "gone".into()],
        )
        .unwrap();
        let names = |s: &ImageStore| -> Vec<(String, Digest)> {
            s.list()
                .into_iter()
                .map(|r| (r.name, r.target.digest))
                .collect()
        };
        let want = vec![
            ("b".to_owned(), Digest::of(&[3])),
            ("c".to_owned(), Digest::of(&[2])),
        ];
        assert_eq!(
            names(&s),
            want,
            "put wins over delete; unknown names skipped"
        );
        assert_eq!(names(&ImageStore::open(&path).unwrap()), want, "persisted");
        // A failed write changes nothing in memory either.
        fs::remove_dir_all(dir.path()).unwrap();
        assert!(s.update(vec![], &["b".into()]).is_err());
        assert_eq!(names(&s), want);
    }
}
