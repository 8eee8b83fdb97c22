//! Committing many blobs with one wait for the disk.
//!
//! [`Store::write_blob`] makes each blob durable before it returns: fsync
//! of its data, rename into `blobs/`, fsync of that directory. Loading an
//! archive of dozens of files that way waits for the disk dozens of times,
//! each time for one file while nothing else is written. A [`Batch`]
//! splits the work:
//!
//! 1. [`Batch::write_blob`] writes a blob as an ingest, hashing on the
//!    way, verifies its size and digest, and asks the kernel to start
//!    writing it back (sync_file_range(2) `SYNC_FILE_RANGE_WRITE`, which
//!    does not wait). The blob is *pending*: invisible to the store.
//! 2. [`Batch::commit`] fsyncs every pending file (by then the writeback
//!    is mostly done, and the waits overlap with nothing left to do), then
//!    renames each into `blobs/` and fsyncs that directory once.
//!
//! The store's guarantee holds: a blob's name never points at bytes that
//! are not on disk, since every rename comes after the data fsyncs; and
//! nothing is acknowledged before [`Batch::commit`] returns. Callers that
//! protect blobs with a lease add them to it *before* the commit (the
//! digests are known once they are pending), so a garbage collection can
//! never see a committed blob that no lease holds yet.
//!
//! Pending ingests hold no file descriptor (a batch may be large); a
//! batch dropped or failed removes the ingests it still has.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;

use crate::digest::Digest;
use crate::store::{Committed, ContentError, Store};

/// Bytes read from the source per write: large enough that a 100 MB layer
/// is a few hundred syscalls, not tens of thousands.
const COPY_BUF: usize = 1 << 20;

/// Blobs written together and committed with one wait (see the module
/// doc).
#[derive(Debug)]
pub struct Batch {
    store: Store,
    /// Ingest refs of pending blobs, by digest (a digest seen twice is
    /// written once).
    pending: BTreeMap<Digest, (String, u64)>,
}

impl Store {
    /// Starts an empty batch.
    pub fn batch(&self) -> Batch {
        Batch {
            store: self.clone(),
            pending: BTreeMap::new(),
        }
    }
}

impl Batch {
    /// Writes everything `data` yields as a pending blob under the ingest
    /// `reference` (a fresh one: an earlier ingest under it is discarded)
    /// and verifies `expected_size` and `expected` as a commit does. A blob
    /// already in the store, or already pending in this batch, is not
    /// written again (`created` false). A failed write leaves no ingest.
    pub fn write_blob(
        &mut self,
        reference: &str,
        mut data: impl Read,
        expected_size: Option<u64>,
        expected: Option<&Digest>,
    ) -> Result<Committed, ContentError> {
        if let Some(d) = expected {
            if let Some(c) = self.known(d)? {
                // The source still has to be consumed by callers that
                // stream (a tar entry): that is theirs to do.
                return Ok(c);
            }
        }
        let mut w = self.store.writer(reference, None)?;
        w.reset()?;
        let path = self.store.ingest_dir(reference);
        if let Err(e) = copy(&mut data, &mut w) {
            return Err(w.discard(ContentError::io("write ingest", &path)(e)));
        }
        let (digest, size) = w.finish(expected_size, expected)?;
        if self.pending.contains_key(&digest) || self.store.contains(&digest) {
            self.store.abort(reference)?;
            return Ok(Committed {
                digest,
                size,
                created: false,
            });
        }
        self.pending.insert(digest, (reference.to_owned(), size));
        Ok(Committed {
            digest,
            size,
            created: true,
        })
    }

    /// What the store or this batch already has of `d`.
    fn known(&self, d: &Digest) -> Result<Option<Committed>, ContentError> {
        if let Some((_, size)) = self.pending.get(d) {
            return Ok(Some(Committed {
                digest: *d,
                size: *size,
                created: false,
            }));
        }
        if self.store.contains(d) {
            return Ok(Some(Committed {
                digest: *d,
                size: self.store.info(d)?.size,
                created: false,
            }));
        }
        Ok(None)
    }

    /// The digests of the pending blobs.
    pub fn pending(&self) -> impl Iterator<Item = &Digest> {
        self.pending.keys()
    }

    /// Makes every pending blob durable and visible (see the module doc);
    /// returns their digests. On failure the blobs not yet renamed are
    /// removed with their ingests.
    pub fn commit(mut self) -> Result<Vec<Digest>, ContentError> {
        // 1. The data, all of it, on disk.
        for (reference, _) in self.pending.values() {
            let data = self.store.ingest_dir(reference).join("data");
            File::open(&data)
                .and_then(|f| f.sync_all())
                .map_err(ContentError::io("fsync ingest", &data))?;
        }
        // 2. The names. A poisoned lock only means another thread
        // panicked holding it; the guarded data is `()`.
        let gc = self.store.gc_lock.clone();
        let _gc = gc.read().unwrap_or_else(|p| p.into_inner());
        let pending = std::mem::take(&mut self.pending);
        let mut done = Vec::with_capacity(pending.len());
        let mut rest = pending.into_iter();
        let blobs = self.store.root().join("blobs/sha256");
        let result = (|| {
            for (digest, (reference, size)) in rest.by_ref() {
                let dir = self.store.ingest_dir(&reference);
                let data = dir.join("data");
                let target = self.store.blob_path(&digest);
                if target.exists() {
                    // Committed by someone else meanwhile: same bytes.
                    let _ = fs::remove_dir_all(&dir);
                    continue;
                }
                fs::set_permissions(&data, fs::Permissions::from_mode(0o444))
                    .map_err(ContentError::io("chmod ingest", &data))?;
                fs::rename(&data, &target)
                    .map_err(ContentError::io("rename ingest into", &target))?;
                // An empty ingest directory is invisible and reused.
                let _ = fs::remove_dir(&dir);
                done.push((digest, size));
            }
            // 3. The directory entries, once for all.
            crate::atomic::sync_dir(&blobs).map_err(|e| ContentError::Io {
                op: e.op,
                path: e.path,
                source: e.source,
            })
        })();
        // What was not renamed goes with the batch (Drop).
        self.pending = rest.collect();
        result.map(|()| done.into_iter().map(|(d, _)| d).collect())
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        // Pending blobs of an abandoned batch are garbage: their source
        // cannot be resumed. Failing to remove one leaves an ingest that
        // garbage collection removes by age.
        for (reference, _) in self.pending.values() {
            let _ = fs::remove_dir_all(self.store.ingest_dir(reference));
        }
    }
}

/// Copies `src` to `dst` through a [`COPY_BUF`] buffer (`io::copy` reads
/// 8 KiB at a time from a reader that is not a file).
pub(crate) fn copy(src: &mut impl Read, dst: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; COPY_BUF];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Starts writeback of everything written to `file` without waiting for
/// it (sync_file_range(2) with `SYNC_FILE_RANGE_WRITE` over the whole
/// file). Only a hint: durability comes from the fsync at commit.
pub(crate) fn start_writeback(file: &File) {
    // SAFETY: plain syscall on a descriptor `file` keeps open for the
    // call; offset 0 and length 0 mean the whole file.
    let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}
