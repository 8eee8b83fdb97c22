//! The blob store: `<root>/blobs/sha256/<hex>` holds committed, immutable
//! blobs; `<root>/ingest/<ref>/data` holds partial writes.
//!
//! Lifecycle: [`Store::writer`] opens (or resumes) the ingest named by a
//! caller-chosen *ref*; bytes are hashed as they are written; [`Writer::commit`]
//! verifies the expected size and digest, then renames the data into
//! `blobs/` and fsyncs the directory. Only then is the blob visible through
//! [`Store::info`] and [`Store::reader`]. A blob is never modified after commit.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::digest::Digest;
use crate::writer::Writer;

/// Errors of the content store and its writers.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("content {0}: not found")]
    NotFound(Digest),
    /// The blob is already committed. Callers that want idempotence treat
    /// this as success (see [`ContentError::is_already_exists`] and
    /// [`Store::write_blob`]).
    #[error("content {0}: already exists")]
    AlreadyExists(Digest),
    #[error("ingest {0:?}: not found")]
    IngestNotFound(String),
    #[error("ingest {0:?}: locked by another writer")]
    Locked(String),
    #[error(
        "ingest ref {0:?}: invalid (use 1-200 characters of [A-Za-z0-9._:@+-], not starting with '.')"
    )]
    InvalidRef(String),
    #[error("commit ingest {reference:?}: size {actual}, expected {expected}")]
    SizeMismatch {
        reference: String,
        expected: u64,
        actual: u64,
    },
    #[error("commit ingest {reference:?}: digest {actual}, expected {expected}")]
    DigestMismatch {
        reference: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("read content {digest}: stored bytes hash to {actual}")]
    Corrupt { digest: Digest, actual: Digest },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The first error is the one that matters; removing the ingest after
    /// it also failed, and the leftover is named so it can be removed by hand.
    #[error("{source}; removing {path} afterwards also failed: {cleanup}")]
    CleanupFailed {
        #[source]
        source: Box<ContentError>,
        path: PathBuf,
        cleanup: io::Error,
    },
}

impl ContentError {
    /// True when the error only says the blob is already in the store.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, ContentError::AlreadyExists(_))
    }

    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ContentError::NotFound(_) | ContentError::IngestNotFound(_)
        )
    }

    pub(crate) fn io<'a>(
        op: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(io::Error) -> ContentError + 'a {
        move |source| ContentError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }
}

/// What the store knows about a committed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub digest: Digest,
    pub size: u64,
    /// When the blob was committed (the file's modification time).
    pub committed_at: SystemTime,
}

/// The state of an unfinished ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestStatus {
    pub reference: String,
    /// Bytes written so far; a resumed writer continues here.
    pub offset: u64,
    pub updated_at: SystemTime,
}

/// The outcome of an idempotent write ([`Store::write_blob`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub digest: Digest,
    pub size: u64,
    /// False when the blob was already in the store.
    pub created: bool,
}

/// Positional reads of a committed blob.
#[derive(Debug)]
pub struct ReaderAt {
    file: File,
    size: u64,
}

impl ReaderAt {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads at `offset` without moving any cursor (pread(2)); returns 0 at
    /// or past the end.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }

    /// The underlying file, positioned at the start.
    pub fn into_file(self) -> File {
        self.file
    }
}

/// A content store rooted at a directory. Cheap to clone; clones share the
/// lock that orders commits against garbage collection.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Commits hold it shared, garbage collection exclusive: a blob renamed
    /// into place during a sweep could otherwise be collected before the
    /// lease that protects it is consulted.
    pub(crate) gc_lock: Arc<RwLock<()>>,
}

pub(crate) fn valid_ref(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 200
        && !r.starts_with('.')
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:@+-".contains(&b))
}

impl Store {
    /// Opens the store at `root`, creating its directories if needed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, ContentError> {
        let root = root.into();
        for d in [root.join("blobs/sha256"), root.join("ingest")] {
            fs::create_dir_all(&d).map_err(ContentError::io("create directory", &d))?;
        }
        Ok(Store {
            root,
            gc_lock: Arc::new(RwLock::new(())),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` lives once committed.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub(crate) fn ingest_dir(&self, reference: &str) -> PathBuf {
        self.root.join("ingest").join(reference)
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    pub fn info(&self, digest: &Digest) -> Result<Info, ContentError> {
        let p = self.blob_path(digest);
        let md = fs::metadata(&p).map_err(|e| not_found_or(e, *digest, "stat content", &p))?;
        Ok(Info {
            digest: *digest,
            size: md.len(),
            committed_at: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        })
    }

    /// Opens a committed blob for positional reads.
    pub fn reader(&self, digest: &Digest) -> Result<ReaderAt, ContentError> {
        let p = self.blob_path(digest);
        let file = File::open(&p).map_err(|e| not_found_or(e, *digest, "open content", &p))?;
        let size = file
            .metadata()
            .map_err(ContentError::io("stat content", &p))?
            .len();
        Ok(ReaderAt { file, size })
    }

    /// Reads a whole blob and checks it still hashes to its name; meant for
    /// small blobs (manifests, configs) that are parsed right away.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, ContentError> {
        let p = self.blob_path(digest);
        let data = fs::read(&p).map_err(|e| not_found_or(e, *digest, "read content", &p))?;
        let actual = Digest::of(&data);
        if actual != *digest {
            return Err(ContentError::Corrupt {
                digest: *digest,
                actual,
            });
        }
        Ok(data)
    }

    /// Removes a committed blob.
    pub fn delete(&self, digest: &Digest) -> Result<(), ContentError> {
        let p = self.blob_path(digest);
        fs::remove_file(&p).map_err(|e| not_found_or(e, *digest, "remove content", &p))?;
        crate::atomic::sync_dir(&self.root.join("blobs/sha256")).map_err(|e| ContentError::Io {
            op: e.op,
            path: e.path,
            source: e.source,
        })
    }

    /// Every committed blob, sorted by digest. Names that are not digests
    /// (stray files) are skipped.
    pub fn list(&self) -> Result<Vec<Info>, ContentError> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(ContentError::io("read directory", &dir))? {
            let entry = entry.map_err(ContentError::io("read directory", &dir))?;
            let Some(digest) = entry
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            else {
                continue;
            };
            match self.info(&digest) {
                Ok(info) => out.push(info),
                // Deleted between readdir and stat: not an error for a listing.
                Err(ContentError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|i| i.digest);
        Ok(out)
    }

    /// Opens the ingest `reference` for writing, resuming it if it exists.
    ///
    /// When `expected` is given and that blob is already committed, this is
    /// [`ContentError::AlreadyExists`] before any byte is written. Only one
    /// writer may hold a ref at a time ([`ContentError::Locked`]).
    pub fn writer(
        &self,
        reference: &str,
        expected: Option<&Digest>,
    ) -> Result<Writer, ContentError> {
        if !valid_ref(reference) {
            return Err(ContentError::InvalidRef(reference.to_owned()));
        }
        if let Some(d) = expected {
            if self.contains(d) {
                return Err(ContentError::AlreadyExists(*d));
            }
        }
        Writer::open(self.clone(), reference)
    }

    /// Writes everything `data` yields under `reference` and commits it,
    /// treating an already committed blob as success. An interrupted earlier
    /// ingest under the same ref is discarded first, since `data` starts at 0,
    /// and so is this one when reading or writing fails.
    pub fn write_blob(
        &self,
        reference: &str,
        mut data: impl Read,
        expected_size: Option<u64>,
        expected: Option<&Digest>,
    ) -> Result<Committed, ContentError> {
        let mut w = match self.writer(reference, expected) {
            Ok(w) => w,
            Err(ContentError::AlreadyExists(d)) => {
                let size = self.info(&d)?.size;
                return Ok(Committed {
                    digest: d,
                    size,
                    created: false,
                });
            }
            Err(e) => return Err(e),
        };
        w.reset()?;
        let path = self.ingest_dir(reference);
        if let Err(e) = crate::batch::copy(&mut data, &mut w) {
            // A one-shot write cannot be resumed by its caller (the source
            // starts at 0 again), so the partial ingest is garbage: remove it.
            return Err(w.discard(ContentError::io("write ingest", &path)(e)));
        }
        match w.commit(expected_size, expected) {
            Ok(c) => Ok(c),
            Err(ContentError::AlreadyExists(d)) => {
                let size = self.info(&d)?.size;
                Ok(Committed {
                    digest: d,
                    size,
                    created: false,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The unfinished ingests, sorted by ref.
    pub fn ingests(&self) -> Result<Vec<IngestStatus>, ContentError> {
        let dir = self.root.join("ingest");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(ContentError::io("read directory", &dir))? {
            let entry = entry.map_err(ContentError::io("read directory", &dir))?;
            let Some(reference) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !valid_ref(&reference) {
                continue;
            }
            match self.ingest_status(&reference) {
                Ok(s) => out.push(s),
                Err(ContentError::IngestNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(out)
    }

    pub fn ingest_status(&self, reference: &str) -> Result<IngestStatus, ContentError> {
        if !valid_ref(reference) {
            return Err(ContentError::InvalidRef(reference.to_owned()));
        }
        let data = self.ingest_dir(reference).join("data");
        let md = match fs::metadata(&data) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ContentError::IngestNotFound(reference.to_owned()));
            }
            Err(e) => return Err(ContentError::io("stat ingest", &data)(e)),
        };
        Ok(IngestStatus {
            reference: reference.to_owned(),
            offset: md.size(),
            updated_at: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        })
    }

    /// Discards an unfinished ingest. Refused while a writer holds it.
    pub fn abort(&self, reference: &str) -> Result<(), ContentError> {
        if !valid_ref(reference) {
            return Err(ContentError::InvalidRef(reference.to_owned()));
        }
        let dir = self.ingest_dir(reference);
        if !dir.exists() {
            return Err(ContentError::IngestNotFound(reference.to_owned()));
        }
        // Holding the lock while removing proves no writer is mid-stream on
        // this ref (writers never wait for the lock, they fail with Locked).
        let w = Writer::open_existing(self.clone(), reference)?;
        let result = fs::remove_dir_all(&dir).map_err(ContentError::io("remove ingest", &dir));
        drop(w);
        result
    }
}

fn not_found_or(e: io::Error, digest: Digest, op: &'static str, path: &Path) -> ContentError {
    if e.kind() == io::ErrorKind::NotFound {
        ContentError::NotFound(digest)
    } else {
        ContentError::Io {
            op,
            path: path.to_owned(),
            source: e,
        }
    }
}
