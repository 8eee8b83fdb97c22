//! Garbage collection: mark every blob a manifest of any repository
//! references, sweep the rest.
//!
//! Safe while a registry serves the same root:
//! - a cross-process flock(2) on `content/gc.lock` orders collection
//!   against the server's commits, mounts and manifest writes (the server
//!   holds it shared for each, the collector exclusively from mark to
//!   sweep), so no manifest can come to reference a blob between the two;
//! - blobs committed, and blob links created or refreshed, within the
//!   grace period are kept: a client pushes layers first and the manifest
//!   that references them afterwards, and checks a layer exists (which
//!   refreshes its link) before relying on it;
//! - unfinished uploads are never touched unless older than the upload
//!   age limit, and not then while a writer holds them.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use berth_content::{ContentError, Digest};
use rustix::fs::{FlockOperation, flock};

use crate::manifest::{self, Target};
use crate::storage::{Storage, StorageError};

/// A held lock on `gc.lock`; released when dropped.
#[derive(Debug)]
pub struct GcLock(#[allow(dead_code)] File);

#[derive(Debug, thiserror::Error)]
#[error("lock {path}: {source}")]
pub struct LockError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl GcLock {
    fn take(content_root: &Path, op: FlockOperation) -> Result<GcLock, LockError> {
        let path = content_root.join("gc.lock");
        let err = |source| LockError {
            path: path.clone(),
            source,
        };
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(err)?;
        // A fresh open file description per holder: flock(2) locks belong
        // to the description, so two holders in one process stay separate.
        flock(&f, op).map_err(|e| err(e.into()))?;
        Ok(GcLock(f))
    }

    /// Held by the server around each change that makes a blob reachable.
    /// Blocks while a collection runs.
    pub fn shared(content_root: &Path) -> Result<GcLock, LockError> {
        Self::take(content_root, FlockOperation::LockShared)
    }

    pub fn exclusive(content_root: &Path) -> Result<GcLock, LockError> {
        Self::take(content_root, FlockOperation::LockExclusive)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("garbage-collect: {0}")]
    Lock(#[from] LockError),
    #[error("garbage-collect: {0}")]
    Storage(#[from] StorageError),
    #[error("garbage-collect: {0}")]
    Content(#[from] ContentError),
}

/// Tunables of a collection.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Blobs committed or linked more recently than this are kept.
    pub grace: Duration,
    /// Unfinished uploads idle for longer than this are removed.
    pub upload_max_age: Duration,
    /// Report only; remove nothing.
    pub dry_run: bool,
}

/// What a collection found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub marked: BTreeSet<Digest>,
    pub removed_blobs: Vec<Digest>,
    pub removed_uploads: Vec<String>,
    pub reclaimed_bytes: u64,
    /// Manifests that could not be read or parsed; their repository's
    /// links keep what they may reference alive.
    pub unreadable_manifests: Vec<Digest>,
}

pub fn collect(storage: &Storage, opts: &GcOptions) -> Result<GcReport, GcError> {
    let store = storage.content();
    let _lock = GcLock::exclusive(store.root())?;
    let now = SystemTime::now();
    let recent = |t: SystemTime| {
        now.duration_since(t)
            .map(|age| age < opts.grace)
            .unwrap_or(true)
    };
    let mut report = GcReport::default();
    let repos = storage.repositories(false)?;
    let mut marked = BTreeSet::new();
    for repo in &repos {
        for m in storage.manifests(repo)? {
            marked.insert(m);
            let parsed = store
                .read(&m)
                .ok()
                .and_then(|bytes| manifest::parse(&bytes, None).ok());
            let Some(parsed) = parsed else {
                // Keep every blob of a repository whose manifest cannot be
                // read: sweeping on partial knowledge could delete layers
                // the manifest references.
                report.unreadable_manifests.push(m);
                for (d, _) in storage.linked_blobs(repo)? {
                    marked.insert(d);
                }
                continue;
            };
            for t in parsed.targets {
                match t {
                    Target::Blob { digest, .. } | Target::Manifest { digest } => {
                        marked.insert(digest);
                    }
                }
            }
        }
        for (d, linked_at) in storage.linked_blobs(repo)? {
            if recent(linked_at) {
                marked.insert(d);
            }
        }
    }
    let mut removed = BTreeSet::new();
    for info in store.list()? {
        if marked.contains(&info.digest) || recent(info.committed_at) {
            continue;
        }
        if !opts.dry_run {
            match store.delete(&info.digest) {
                Ok(()) | Err(ContentError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        report.reclaimed_bytes += info.size;
        report.removed_blobs.push(info.digest);
        removed.insert(info.digest);
    }
    if !opts.dry_run {
        // Links to removed blobs would only answer "unknown" anyway
        // (a link counts only with its blob); drop them to keep the
        // repositories' lists honest.
        for repo in &repos {
            for (d, _) in storage.linked_blobs(repo)? {
                if removed.contains(&d) {
                    storage.unlink_blob(repo, &d)?;
                }
            }
        }
    }
    sweep_uploads(storage, &repos, opts, &mut report)?;
    report.marked = marked;
    Ok(report)
}

fn sweep_uploads(
    storage: &Storage,
    repos: &[String],
    opts: &GcOptions,
    report: &mut GcReport,
) -> Result<(), GcError> {
    let store = storage.content();
    let now = SystemTime::now();
    let stale = |t: SystemTime| {
        now.duration_since(t)
            .map(|age| age > opts.upload_max_age)
            .unwrap_or(false)
    };
    let mut recorded = BTreeSet::new();
    for repo in repos {
        for (uuid, _) in storage.uploads(repo)? {
            recorded.insert((repo.clone(), uuid));
        }
    }
    for ing in store.ingests()? {
        if !stale(ing.updated_at) {
            continue;
        }
        if !opts.dry_run {
            match store.abort(&ing.reference) {
                Ok(()) => {}
                // In use by a writer, or gone meanwhile: not garbage now.
                Err(ContentError::Locked(_) | ContentError::IngestNotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        report.reclaimed_bytes += ing.offset;
        report.removed_uploads.push(ing.reference.clone());
        if !opts.dry_run {
            for (repo, uuid) in &recorded {
                if *uuid == ing.reference {
                    storage.remove_upload(repo, uuid)?;
                }
            }
        }
    }
    Ok(())
}
