//! Deferred removal of directory trees.
//!
//! Removing a container's directories (its rw layer above all) walks and
//! unlinks every file; on the path of `run --rm` that walk is wasted time
//! for the client. A [`Trash`] moves a tree out of the way with one
//! rename(2) into its own directory, on the same filesystem, and a
//! background thread deletes it. Whatever a crash leaves in the trash
//! directory is deleted after the next [`Trash::open`].
//!
//! Lifecycle: `open` (creates the directory, queues leftovers) →
//! `discard` any number of times → `flush` to wait for the queue (tests,
//! shutdown). The thread starts with the first queued tree and ends when
//! the `Trash` is dropped.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Condvar, Mutex};

/// A step of moving a tree into the trash that failed.
#[derive(Debug, thiserror::Error)]
pub enum TrashError {
    #[error("create trash directory {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read trash directory {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("remove {path}: {source}")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A trash directory and the thread that empties it.
#[derive(Debug)]
pub struct Trash {
    dir: PathBuf,
    /// Makes the names of trashed trees unique within this process; the
    /// process id and the time keep them apart from a crash's leftovers.
    next: AtomicU64,
    queue: Mutex<Option<Sender<PathBuf>>>,
    /// Trees queued and not yet deleted.
    pending: Arc<(Mutex<u64>, Condvar)>,
}

impl Trash {
    /// Opens the trash at `dir` (created if missing) and queues what a
    /// previous process left in it.
    pub fn open(dir: &Path) -> Result<Trash, TrashError> {
        std::fs::create_dir_all(dir).map_err(|source| TrashError::Create {
            path: dir.to_owned(),
            source,
        })?;
        let leftovers = std::fs::read_dir(dir)
            .and_then(|entries| {
                entries
                    .map(|e| e.map(|e| e.path()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|source| TrashError::Read {
                path: dir.to_owned(),
                source,
            })?;
        let trash = Trash {
            dir: dir.to_owned(),
            next: AtomicU64::new(0),
            queue: Mutex::new(None),
            pending: Arc::new((Mutex::new(0), Condvar::new())),
        };
        for path in leftovers {
            trash.enqueue(path);
        }
        Ok(trash)
    }

    /// Moves the tree at `path` into the trash, to be deleted in the
    /// background; a missing `path` is fine. Where no rename is possible
    /// (another filesystem), the tree is deleted here and now.
    pub fn discard(&self, path: &Path) -> Result<(), TrashError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let target = self.dir.join(format!("{}-{stamp}-{n}", std::process::id()));
        match std::fs::rename(path, &target) {
            Ok(()) => {
                self.enqueue(target);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => remove_tree(path),
            Err(source) => Err(TrashError::Remove {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Waits until every tree queued so far is deleted (or failed to be:
    /// such a tree stays for the next `open`).
    pub fn flush(&self) {
        let (count, cv) = &*self.pending;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            n = cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn enqueue(&self, path: PathBuf) {
        let (count, _) = &*self.pending;
        *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let tx = queue.get_or_insert_with(|| self.start_worker());
        if let Err(unsent) = tx.send(path) {
            // The worker is gone (it cannot panic, but be safe): delete here.
            *queue = None;
            drop(queue);
            let _ = remove_tree(&unsent.0);
            finish_one(&self.pending);
        }
    }

    fn start_worker(&self) -> Sender<PathBuf> {
        let (tx, rx) = channel::<PathBuf>();
        let pending = self.pending.clone();
        let spawned = std::thread::Builder::new()
            .name("trash".into())
            .spawn(move || {
                for path in rx {
                    // Best effort: a tree that cannot be deleted now stays
                    // in the trash directory for the next open.
                    let _ = remove_tree(&path);
                    finish_one(&pending);
                }
            });
        if spawned.is_err() {
            // No thread (no memory or too many): the channel's receiver is
            // gone, so `enqueue` deletes in place.
            return channel().0;
        }
        tx
    }
}

/// Counts one queued tree as dealt with and wakes `flush`.
fn finish_one(pending: &(Mutex<u64>, Condvar)) {
    let (count, cv) = pending;
    let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
    *n = n.saturating_sub(1);
    cv.notify_all();
}

fn remove_tree(path: &Path) -> Result<(), TrashError> {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(TrashError::Remove {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(at: &Path) {
        std::fs::create_dir_all(at.join("a/b")).unwrap();
        std::fs::write(at.join("a/b/f"), b"x").unwrap();
        std::fs::write(at.join("g"), b"y").unwrap();
    }

    #[test]
    fn discarded_trees_leave_at_once_and_are_deleted() {
        let root = tempfile::tempdir().unwrap();
        let trash = Trash::open(&root.path().join("trash")).unwrap();
        for name in ["one", "two"] {
            let t = root.path().join(name);
            tree(&t);
            trash.discard(&t).unwrap();
            assert!(!t.exists(), "{name} is still in place");
        }
        // A second discard of a tree that is gone is fine.
        trash.discard(&root.path().join("one")).unwrap();
        trash.flush();
        assert_eq!(
            std::fs::read_dir(root.path().join("trash"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn leftovers_are_deleted_after_open() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("trash");
        tree(&dir.join("left-by-a-crash"));
        std::fs::write(dir.join("a-file"), b"z").unwrap();
        let trash = Trash::open(&dir).unwrap();
        trash.flush();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }
}
