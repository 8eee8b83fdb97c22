//! Writers of ingests: hash while writing, resume after interruption,
//! verify and atomically commit.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use rustix::fs::{FlockOperation, flock};

use crate::digest::{Digest, Hasher};
use crate::store::{Committed, ContentError, Store};

/// An open ingest. Bytes written are appended to `ingest/<ref>/data` and
/// hashed on the way. Dropping a writer without committing keeps the ingest
/// so a later [`Store::writer`] with the same ref resumes at [`Writer::offset`].
///
/// The writer holds an exclusive flock(2) on the data file for its whole
/// life, so two writers (in this process or another) never interleave.
#[derive(Debug)]
pub struct Writer {
    store: Store,
    reference: String,
    data_path: PathBuf,
    file: File,
    hasher: Hasher,
    offset: u64,
}

impl Writer {
    pub(crate) fn open(store: Store, reference: &str) -> Result<Writer, ContentError> {
        let dir = store.ingest_dir(reference);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ContentError::io("create ingest", &dir)(e)),
        }
        let mut w = Self::lock(store, reference, true)?;
        // Resuming: the hash state is not persisted, so the existing prefix
        // is read back once. This costs one sequential read of what is
        // already on disk, and cannot disagree with the bytes that commit
        // will rename into place.
        let mut buf = vec![0u8; 256 * 1024];
        w.file
            .seek(SeekFrom::Start(0))
            .map_err(ContentError::io("seek ingest", &w.data_path))?;
        loop {
            let n = w
                .file
                .read(&mut buf)
                .map_err(ContentError::io("read ingest", &w.data_path))?;
            if n == 0 {
                break;
            }
            w.hasher.update(&buf[..n]);
            w.offset += n as u64;
        }
        Ok(w)
    }

    /// Locks an existing ingest without reading it (used to abort it).
    pub(crate) fn open_existing(store: Store, reference: &str) -> Result<Writer, ContentError> {
        Self::lock(store, reference, false)
    }

    fn lock(store: Store, reference: &str, create: bool) -> Result<Writer, ContentError> {
        let data_path = store.ingest_dir(reference).join("data");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&data_path)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    ContentError::IngestNotFound(reference.to_owned())
                } else {
                    ContentError::io("open ingest", &data_path)(e)
                }
            })?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(ContentError::Locked(reference.to_owned()));
            }
            Err(e) => return Err(ContentError::io("lock ingest", &data_path)(e.into())),
        }
        Ok(Writer {
            store,
            reference: reference.to_owned(),
            data_path,
            file,
            hasher: Hasher::new(),
            offset: 0,
        })
    }

    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// Bytes in the ingest so far; the next write lands here.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The digest of the bytes written so far.
    pub fn digest(&self) -> Digest {
        self.hasher.digest()
    }

    /// Discards what was written and starts again at offset 0.
    pub fn reset(&mut self) -> Result<(), ContentError> {
        self.file
            .set_len(0)
            .map_err(ContentError::io("truncate ingest", &self.data_path))?;
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(ContentError::io("seek ingest", &self.data_path))?;
        self.hasher = Hasher::new();
        self.offset = 0;
        Ok(())
    }

    /// Verifies and commits the ingest as a blob; always consumes the writer.
    ///
    /// Order: fsync the data; compare size and digest with what the caller
    /// expects (a mismatch discards the ingest: its bytes can never become
    /// the expected blob); if the blob already exists, discard the ingest
    /// and return [`ContentError::AlreadyExists`]; otherwise make the file
    /// read-only, rename it into `blobs/sha256/`, and fsync that directory.
    pub fn commit(
        self,
        expected_size: Option<u64>,
        expected: Option<&Digest>,
    ) -> Result<Committed, ContentError> {
        self.file
            .sync_all()
            .map_err(ContentError::io("fsync ingest", &self.data_path))?;
        let actual = self.hasher.digest();
        if let Some(size) = expected_size {
            if size != self.offset {
                let e = ContentError::SizeMismatch {
                    reference: self.reference.clone(),
                    expected: size,
                    actual: self.offset,
                };
                return Err(self.discard(e));
            }
        }
        if let Some(d) = expected {
            if *d != actual {
                let e = ContentError::DigestMismatch {
                    reference: self.reference.clone(),
                    expected: *d,
                    actual,
                };
                return Err(self.discard(e));
            }
        }
        let store = self.store.clone();
        // A poisoned lock only means another thread panicked while holding
        // it; the guarded data is `()`, so there is nothing to repair.
        let _gc = store.gc_lock.read().unwrap_or_else(|p| p.into_inner());
        let target = store.blob_path(&actual);
        if target.exists() {
            return Err(self.discard(ContentError::AlreadyExists(actual)));
        }
        fs::set_permissions(&self.data_path, fs::Permissions::from_mode(0o444))
            .map_err(ContentError::io("chmod ingest", &self.data_path))?;
        fs::rename(&self.data_path, &target)
            .map_err(ContentError::io("rename ingest into", &target))?;
        let blobs = store.root().join("blobs/sha256");
        crate::atomic::sync_dir(&blobs).map_err(|e| ContentError::Io {
            op: e.op,
            path: e.path,
            source: e.source,
        })?;
        // The blob is committed at this point; an empty ingest directory
        // left behind is invisible (listings skip directories without data)
        // and reused by the next writer of this ref, so failing the commit
        // over it would misreport what happened.
        let _ = fs::remove_dir(store.ingest_dir(&self.reference));
        Ok(Committed {
            digest: actual,
            size: self.offset,
            created: true,
        })
    }

    /// Verifies the ingest as [`Writer::commit`] does (a mismatch discards
    /// it), starts its writeback, and releases it, kept on disk, for a
    /// [`crate::batch::Batch`] to commit: its digest and size.
    pub(crate) fn finish(
        self,
        expected_size: Option<u64>,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), ContentError> {
        let actual = self.hasher.digest();
        if let Some(size) = expected_size {
            if size != self.offset {
                let e = ContentError::SizeMismatch {
                    reference: self.reference.clone(),
                    expected: size,
                    actual: self.offset,
                };
                return Err(self.discard(e));
            }
        }
        if let Some(d) = expected {
            if *d != actual {
                let e = ContentError::DigestMismatch {
                    reference: self.reference.clone(),
                    expected: *d,
                    actual,
                };
                return Err(self.discard(e));
            }
        }
        crate::batch::start_writeback(&self.file);
        Ok((actual, self.offset))
    }

    /// Removes the ingest (still holding its lock) and returns `err`,
    /// together with any failure to remove.
    pub(crate) fn discard(self, err: ContentError) -> ContentError {
        let dir = self.store.ingest_dir(&self.reference);
        let result = fs::remove_dir_all(&dir);
        drop(self);
        match result {
            Ok(()) => err,
            Err(cleanup) => ContentError::CleanupFailed {
                source: Box::new(err),
                path: dir,
                cleanup,
            },
        }
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.offset += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
