//! The registry's data on disk.
//!
//! ```text
//! <root>/content/blobs/sha256/<hex>               every blob and manifest (berth's content store)
//! <root>/content/ingest/<uuid>/data               unfinished uploads, resumable
//! <root>/repositories/<name>/_layers/<hex>        blob <hex> belongs to <name>
//! <root>/repositories/<name>/_uploads/<uuid>      upload <uuid> was started in <name>
//! <root>/repositories/<name>/_manifests/revisions/<hex>
//!                                                 manifest <hex> is in <name>: media type, size,
//!                                                 subject, artifact type, annotations (JSON)
//! <root>/repositories/<name>/_manifests/tags/<tag>
//!                                                 the digest tag <tag> points at
//! <root>/repositories/<name>/_manifests/referrers/<subject hex>/<hex>
//!                                                 manifest <hex> names <subject> as its subject
//! ```
//!
//! Names never start with `_`, so these directories cannot collide with a
//! nested repository (`a` and `a/b` share `repositories/a/`). Every file is
//! written atomically (temporary, fsync, rename, fsync of the directory),
//! new directories are made durable in their parents, and a manifest is
//! written in dependency order: blob, revision, referrer link, tag. A crash
//! at any instant leaves each link either absent or whole, and a link never
//! points at something that was not durable first.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use berth_content::atomic::{self, AtomicWriteError};
use berth_content::{ContentError, Digest, Store};
use serde::{Deserialize, Serialize};

/// A failure of the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Write(#[from] AtomicWriteError),
    #[error("parse {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Content(#[from] ContentError),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// What the registry records about a manifest in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// The media type it was pushed as; GET answers with it as Content-Type.
    pub media_type: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Digest>,
    /// For the referrers API: the manifest's `artifactType`, else its
    /// config's media type (OCI distribution spec v1.1, "Listing Referrers").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An upload's record in its repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRecord {
    /// RFC 3339.
    pub started_at: String,
}

/// The registry's storage: the content store plus the repositories' links.
#[derive(Debug, Clone)]
pub struct Storage {
    content: Store,
    repos: PathBuf,
}

impl Storage {
    pub fn open(root: &Path) -> Result<Storage, StorageError> {
        let content = Store::open(root.join("content"))?;
        let repos = root.join("repositories");
        fs::create_dir_all(&repos).map_err(io_err("create directory", &repos))?;
        Ok(Storage { content, repos })
    }

    pub fn content(&self) -> &Store {
        &self.content
    }

    fn repo(&self, name: &str) -> PathBuf {
        self.repos.join(name)
    }

    fn layer_link(&self, name: &str, d: &Digest) -> PathBuf {
        self.repo(name).join("_layers").join(d.hex())
    }

    fn revision_path(&self, name: &str, d: &Digest) -> PathBuf {
        self.repo(name).join("_manifests/revisions").join(d.hex())
    }

    fn tag_path(&self, name: &str, tag: &str) -> PathBuf {
        self.repo(name).join("_manifests/tags").join(tag)
    }

    fn referrer_dir(&self, name: &str, subject: &Digest) -> PathBuf {
        self.repo(name)
            .join("_manifests/referrers")
            .join(subject.hex())
    }

    fn upload_path(&self, name: &str, uuid: &str) -> PathBuf {
        self.repo(name).join("_uploads").join(uuid)
    }

    /// True when the repository has had a manifest pushed (what tag
    /// listing and the catalog call a repository).
    pub fn repo_exists(&self, name: &str) -> bool {
        self.repo(name).join("_manifests").is_dir()
    }

    /// Makes `digest` a blob of `name`. Re-linking refreshes the link's
    /// modification time, which garbage collection reads as "in use
    /// recently" (a client checks a blob exists, then pushes the manifest
    /// that references it).
    pub fn link_blob(&self, name: &str, digest: &Digest) -> Result<(), StorageError> {
        let p = self.layer_link(name, digest);
        if p.is_file() {
            let f = fs::File::options()
                .write(true)
                .open(&p)
                .map_err(io_err("open", &p))?;
            return f
                .set_modified(SystemTime::now())
                .map_err(io_err("touch", &p));
        }
        ensure_dir(p.parent().unwrap_or(&self.repos))?;
        atomic::write_file(&p, digest.to_string().as_bytes())?;
        Ok(())
    }

    pub fn blob_linked(&self, name: &str, digest: &Digest) -> bool {
        self.layer_link(name, digest).is_file() && self.content.contains(digest)
    }

    /// Removes a blob from a repository; false when it was not there.
    pub fn unlink_blob(&self, name: &str, digest: &Digest) -> Result<bool, StorageError> {
        remove_file(&self.layer_link(name, digest))
    }

    /// Records manifest `digest` (already committed to the content store)
    /// in `name`, and points `tag` at it.
    pub fn put_manifest(
        &self,
        name: &str,
        digest: &Digest,
        rev: &Revision,
        tag: Option<&str>,
    ) -> Result<(), StorageError> {
        let rp = self.revision_path(name, digest);
        ensure_dir(rp.parent().unwrap_or(&self.repos))?;
        // Serializing plain data with string keys cannot fail.
        let json = serde_json::to_vec(rev).unwrap_or_default();
        atomic::write_file(&rp, &json)?;
        if let Some(subject) = &rev.subject {
            let dir = self.referrer_dir(name, subject);
            ensure_dir(&dir)?;
            atomic::write_file(&dir.join(digest.hex()), b"")?;
        }
        if let Some(tag) = tag {
            let tp = self.tag_path(name, tag);
            ensure_dir(tp.parent().unwrap_or(&self.repos))?;
            atomic::write_file(&tp, digest.to_string().as_bytes())?;
        }
        Ok(())
    }

    /// The manifest `digest` as recorded in `name`, if it is there.
    pub fn revision(&self, name: &str, digest: &Digest) -> Result<Option<Revision>, StorageError> {
        let p = self.revision_path(name, digest);
        let data = match fs::read(&p) {
            Ok(d) => d,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(io_err("read", &p)(e)),
        };
        serde_json::from_slice(&data)
            .map(Some)
            .map_err(|source| StorageError::Parse { path: p, source })
    }

    pub fn resolve_tag(&self, name: &str, tag: &str) -> Result<Option<Digest>, StorageError> {
        let p = self.tag_path(name, tag);
        match fs::read_to_string(&p) {
            Ok(s) => s.trim().parse().map(Some).map_err(|e| StorageError::Io {
                op: "parse tag link",
                path: p,
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            }),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(io_err("read", &p)(e)),
        }
    }

    /// The repository's tags, sorted.
    pub fn tags(&self, name: &str) -> Result<Vec<String>, StorageError> {
        let mut tags = list_names(&self.repo(name).join("_manifests/tags"))?;
        tags.retain(|t| crate::names::valid_tag(t));
        tags.sort();
        Ok(tags)
    }

    pub fn delete_tag(&self, name: &str, tag: &str) -> Result<bool, StorageError> {
        remove_file(&self.tag_path(name, tag))
    }

    /// Removes manifest `digest` from `name` with every tag pointing at it
    /// and its referrer link (tags first: none may dangle); false when the
    /// manifest was not there.
    pub fn delete_manifest(&self, name: &str, digest: &Digest) -> Result<bool, StorageError> {
        let Some(rev) = self.revision(name, digest)? else {
            return Ok(false);
        };
        for tag in self.tags(name)? {
            if self.resolve_tag(name, &tag)? == Some(*digest) {
                remove_file(&self.tag_path(name, &tag))?;
            }
        }
        if let Some(subject) = rev.subject {
            remove_file(&self.referrer_dir(name, &subject).join(digest.hex()))?;
        }
        remove_file(&self.revision_path(name, digest))
    }

    /// The manifests in `name` whose subject is `subject`, sorted by digest.
    pub fn referrers(
        &self,
        name: &str,
        subject: &Digest,
    ) -> Result<Vec<(Digest, Revision)>, StorageError> {
        let mut out = Vec::new();
        for hex in list_names(&self.referrer_dir(name, subject))? {
            let Ok(d) = Digest::from_hex(&hex) else {
                continue;
            };
            // A referrer link outlives its revision only between the two
            // removals of a delete; such a manifest is gone.
            if let Some(rev) = self.revision(name, &d)? {
                out.push((d, rev));
            }
        }
        out.sort_by_key(|(d, _)| *d);
        Ok(out)
    }

    /// The manifests recorded in `name`.
    pub fn manifests(&self, name: &str) -> Result<Vec<Digest>, StorageError> {
        let names = list_names(&self.repo(name).join("_manifests/revisions"))?;
        Ok(names
            .iter()
            .filter_map(|h| Digest::from_hex(h).ok())
            .collect())
    }

    /// The blobs linked into `name`, each with the link's modification time.
    pub fn linked_blobs(&self, name: &str) -> Result<Vec<(Digest, SystemTime)>, StorageError> {
        let dir = self.repo(name).join("_layers");
        let mut out = Vec::new();
        for hex in list_names(&dir)? {
            let Ok(d) = Digest::from_hex(&hex) else {
                continue;
            };
            match fs::metadata(dir.join(&hex)) {
                Ok(md) => out.push((d, md.modified().unwrap_or(SystemTime::UNIX_EPOCH))),
                Err(e) if is_absent(&e) => {}
                Err(e) => return Err(io_err("stat", &dir.join(&hex))(e)),
            }
        }
        Ok(out)
    }

    /// Every repository with content of any kind (manifests, blobs or
    /// uploads), sorted. `with_manifests_only` restricts the list to what
    /// the catalog shows.
    pub fn repositories(&self, with_manifests_only: bool) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        let mut stack = vec![(self.repos.clone(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let mut is_repo = false;
            for entry in list_names(&dir)? {
                if let Some(kind) = entry.strip_prefix('_') {
                    is_repo |= kind == "manifests" || !with_manifests_only;
                    continue;
                }
                if entry.starts_with('.') {
                    continue;
                }
                let child = dir.join(&entry);
                if child.is_dir() {
                    let name = if prefix.is_empty() {
                        entry
                    } else {
                        format!("{prefix}/{entry}")
                    };
                    stack.push((child, name));
                }
            }
            if is_repo && crate::names::valid_name(&prefix) {
                out.push(prefix);
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn create_upload(&self, name: &str, uuid: &str) -> Result<(), StorageError> {
        let p = self.upload_path(name, uuid);
        ensure_dir(p.parent().unwrap_or(&self.repos))?;
        let rec = UploadRecord {
            started_at: jiff::Timestamp::now().to_string(),
        };
        let json = serde_json::to_vec(&rec).unwrap_or_default();
        atomic::write_file(&p, &json)?;
        Ok(())
    }

    pub fn upload_exists(&self, name: &str, uuid: &str) -> bool {
        self.upload_path(name, uuid).is_file()
    }

    pub fn remove_upload(&self, name: &str, uuid: &str) -> Result<bool, StorageError> {
        remove_file(&self.upload_path(name, uuid))
    }

    /// The uploads recorded in `name`, with the record's modification time.
    pub fn uploads(&self, name: &str) -> Result<Vec<(String, SystemTime)>, StorageError> {
        let dir = self.repo(name).join("_uploads");
        let mut out = Vec::new();
        for uuid in list_names(&dir)? {
            if uuid.starts_with('.') {
                continue;
            }
            match fs::metadata(dir.join(&uuid)) {
                Ok(md) => out.push((uuid, md.modified().unwrap_or(SystemTime::UNIX_EPOCH))),
                Err(e) if is_absent(&e) => {}
                Err(e) => return Err(io_err("stat", &dir.join(&uuid))(e)),
            }
        }
        Ok(out)
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Names in `dir`, or none when it does not exist.
fn list_names(dir: &Path) -> Result<Vec<String>, StorageError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if is_absent(&e) => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read directory", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(io_err("read directory", dir))?;
        if let Some(n) = entry.file_name().to_str() {
            out.push(n.to_owned());
        }
    }
    Ok(out)
}

/// Removes a file and makes the removal durable; false when it was absent.
fn remove_file(p: &Path) -> Result<bool, StorageError> {
    match fs::remove_file(p) {
        Ok(()) => {
            atomic::sync_dir(p.parent().unwrap_or(Path::new("/")))?;
            Ok(true)
        }
        Err(e) if is_absent(&e) => Ok(false),
        Err(e) => Err(io_err("remove", p)(e)),
    }
}

/// Creates `dir` and its missing parents, fsyncing each parent that gained
/// an entry so the new directories survive a crash (a file renamed into a
/// directory whose own entry was lost would be lost with it).
fn ensure_dir(dir: &Path) -> Result<(), StorageError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.is_dir() {
        missing.push(cur.to_owned());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    for d in missing.iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("create directory", d)(e)),
        }
        atomic::sync_dir(d.parent().unwrap_or(Path::new("/")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_tags_referrers_and_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path()).unwrap();
        let m = Digest::of(b"manifest");
        let sig = Digest::of(b"signature");
        assert!(!s.repo_exists("a/b"));
        let rev = Revision {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 8,
            subject: None,
            artifact_type: None,
            annotations: None,
        };
        s.put_manifest("a/b", &m, &rev, Some("v1")).unwrap();
        let sig_rev = Revision {
            subject: Some(m),
            artifact_type: Some("application/example".into()),
            ..rev.clone()
        };
        s.put_manifest("a/b", &sig, &sig_rev, None).unwrap();
        s.put_manifest("a", &m, &rev, Some("x")).unwrap();
        s.link_blob("c", &m).unwrap();
        assert!(s.repo_exists("a/b"));
        assert_eq!(s.resolve_tag("a/b", "v1").unwrap(), Some(m));
        assert_eq!(s.tags("a/b").unwrap(), vec!["v1"]);
        assert_eq!(s.referrers("a/b", &m).unwrap(), vec![(sig, sig_rev)]);
        assert_eq!(s.repositories(true).unwrap(), vec!["a", "a/b"]);
        assert_eq!(s.repositories(false).unwrap(), vec!["a", "a/b", "c"]);
        assert!(s.delete_manifest("a/b", &sig).unwrap());
        assert!(s.referrers("a/b", &m).unwrap().is_empty());
        assert!(s.delete_manifest("a/b", &m).unwrap());
        assert_eq!(s.resolve_tag("a/b", "v1").unwrap(), None);
        assert!(!s.delete_manifest("a/b", &m).unwrap());
        // The nested repository is untouched.
        assert_eq!(s.resolve_tag("a", "x").unwrap(), Some(m));
    }
}
