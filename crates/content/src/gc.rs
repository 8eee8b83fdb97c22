//! Garbage collection: mark from roots, sweep unreferenced blobs and stale
//! ingests.
//!
//! Roots are pluggable ([`RootSource`]): the image store contributes the
//! manifests, configs and layers of every image record; the engine adds
//! what containers use; every unexpired lease is a root by itself. Marking
//! follows children through a [`ChildResolver`] (the image crate resolves
//! an index to its manifests and a manifest to its config and layers), so a
//! root may name just the top-level blob.
//!
//! Snapshots are not deleted here: the marked snapshot keys are returned in
//! [`GcReport::live`] for the snapshotter's own sweep, which knows the
//! parent chains.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use crate::digest::Digest;
use crate::lease::{LeaseError, Leases, Resource, now_unix};
use crate::store::{ContentError, Store};

/// An error a root source or child resolver reports.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Errors of a collection.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("gc: list leases: {0}")]
    Leases(#[source] LeaseError),
    #[error("gc: delete expired lease {id:?}: {source}")]
    DeleteLease {
        id: String,
        #[source]
        source: LeaseError,
    },
    #[error("gc: collect roots from {source_name}: {source}")]
    Roots {
        source_name: String,
        #[source]
        source: SourceError,
    },
    #[error("gc: resolve children of {digest}: {source}")]
    Children {
        digest: Digest,
        #[source]
        source: SourceError,
    },
    #[error("gc: {0}")]
    Content(#[source] ContentError),
}

/// Everything marked live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    pub content: BTreeSet<Digest>,
    pub ingests: BTreeSet<String>,
    /// Snapshot keys per snapshotter name.
    pub snapshots: BTreeMap<String, BTreeSet<String>>,
}

impl References {
    pub fn add(&mut self, r: &Resource) {
        match r {
            Resource::Content { id } => {
                self.content.insert(*id);
            }
            Resource::Ingest { id } => {
                self.ingests.insert(id.clone());
            }
            Resource::Snapshot { snapshotter, id } => {
                self.snapshots
                    .entry(snapshotter.clone())
                    .or_default()
                    .insert(id.clone());
            }
        }
    }
}

/// A supplier of roots (image records, containers, ...).
pub trait RootSource {
    /// A name for error messages.
    fn name(&self) -> &str;
    fn add_roots(&self, refs: &mut References) -> Result<(), SourceError>;
}

/// Finds the blobs a blob refers to (for example a manifest's config and
/// layers). Blobs it does not understand have no children.
pub trait ChildResolver {
    fn children(&self, store: &Store, digest: &Digest) -> Result<Vec<Digest>, SourceError>;
}

/// Tunables of a collection.
#[derive(Debug, Clone, Default)]
pub struct GcOptions {
    /// Unleased ingests not written for this long are removed; `None`
    /// keeps every ingest.
    pub ingest_max_age: Option<Duration>,
}

/// What a collection did.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    pub live: References,
    pub removed_blobs: Vec<Digest>,
    pub removed_ingests: Vec<String>,
    pub expired_leases: Vec<String>,
    pub reclaimed_bytes: u64,
}

/// Marks from `roots` and the unexpired leases, then sweeps.
///
/// Holds the store's collection lock exclusively for the whole run, so no
/// commit lands between mark and sweep.
pub fn collect(
    store: &Store,
    leases: &Leases,
    roots: &[&dyn RootSource],
    children: Option<&dyn ChildResolver>,
    opts: &GcOptions,
) -> Result<GcReport, GcError> {
    // The guarded value is `()`: a panic elsewhere left nothing to repair.
    let _excl = store.gc_lock.write().unwrap_or_else(|p| p.into_inner());
    let mut report = GcReport::default();
    let now = now_unix();
    let mut live = References::default();
    for lease in leases.list().map_err(GcError::Leases)? {
        if lease.expired(now) {
            leases
                .delete(&lease.id)
                .map_err(|source| GcError::DeleteLease {
                    id: lease.id.clone(),
                    source,
                })?;
            report.expired_leases.push(lease.id);
            continue;
        }
        for r in &lease.resources {
            live.add(r);
        }
    }
    for src in roots {
        src.add_roots(&mut live).map_err(|source| GcError::Roots {
            source_name: src.name().to_owned(),
            source,
        })?;
    }
    // Transitive closure over child references; blobs that are not in the
    // store (not pulled yet, or foreign platforms of an index) are marked
    // but have nothing to expand.
    if let Some(resolver) = children {
        let mut queue: Vec<Digest> = live.content.iter().copied().collect();
        while let Some(d) = queue.pop() {
            if !store.contains(&d) {
                continue;
            }
            let kids = resolver
                .children(store, &d)
                .map_err(|source| GcError::Children { digest: d, source })?;
            for k in kids {
                if live.content.insert(k) {
                    queue.push(k);
                }
            }
        }
    }
    for info in store.list().map_err(GcError::Content)? {
        if live.content.contains(&info.digest) {
            continue;
        }
        match store.delete(&info.digest) {
            Ok(()) | Err(ContentError::NotFound(_)) => {}
            Err(e) => return Err(GcError::Content(e)),
        }
        report.reclaimed_bytes += info.size;
        report.removed_blobs.push(info.digest);
    }
    if let Some(max_age) = opts.ingest_max_age {
        let cutoff = SystemTime::now()
            .checked_sub(max_age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        for ing in store.ingests().map_err(GcError::Content)? {
            if live.ingests.contains(&ing.reference) || ing.updated_at > cutoff {
                continue;
            }
            match store.abort(&ing.reference) {
                // A writer holds it: it is in use, whatever its age.
                Ok(()) => {
                    report.reclaimed_bytes += ing.offset;
                    report.removed_ingests.push(ing.reference);
                }
                Err(ContentError::Locked(_) | ContentError::IngestNotFound(_)) => {}
                Err(e) => return Err(GcError::Content(e)),
            }
        }
    }
    report.live = live;
    Ok(report)
}
