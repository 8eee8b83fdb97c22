//! Content store behaviour on a real filesystem.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use berth_content::gc::{self, ChildResolver, GcOptions, References, RootSource, SourceError};
use berth_content::{ContentError, Digest, Leases, Resource, Store};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path().join("content")).unwrap();
    (dir, s)
}

fn commit(s: &Store, r: &str, data: &[u8]) -> Digest {
    let mut w = s.writer(r, None).unwrap();
    w.write_all(data).unwrap();
    w.commit(Some(data.len() as u64), Some(&Digest::of(data)))
        .unwrap()
        .digest
}

#[test]
fn commit_makes_a_read_only_blob_visible() {
    let (_d, s) = store();
    let data = b"hello blob";
    let d = Digest::of(data);
    assert!(matches!(s.info(&d), Err(ContentError::NotFound(x)) if x == d));
    let mut w = s.writer("ref-1", Some(&d)).unwrap();
    w.write_all(&data[..5]).unwrap();
    w.write_all(&data[5..]).unwrap();
    assert_eq!(w.offset(), data.len() as u64);
    assert_eq!(w.digest(), d);
    // Not visible before commit.
    assert!(!s.contains(&d));
    let c = w.commit(Some(data.len() as u64), Some(&d)).unwrap();
    assert!(c.created);
    assert_eq!(c.digest, d);
    let info = s.info(&d).unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(s.read(&d).unwrap(), data);
    let r = s.reader(&d).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(r.read_at(&mut buf, 6).unwrap(), 4);
    assert_eq!(&buf, b"blob");
    let mode = fs::metadata(s.blob_path(&d)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o444);
    // The ingest is gone and nothing else lies around.
    assert!(s.ingests().unwrap().is_empty());
    assert_eq!(fs::read_dir(s.root().join("ingest")).unwrap().count(), 0);
    assert_eq!(
        s.list()
            .unwrap()
            .iter()
            .map(|i| i.digest)
            .collect::<Vec<_>>(),
        vec![d]
    );
}

#[test]
fn interrupted_ingest_resumes_at_its_offset() {
    let (_d, s) = store();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::of(&data);
    {
        let mut w = s.writer("layer-1", Some(&d)).unwrap();
        w.write_all(&data[..123_457]).unwrap();
        // Dropped without commit: the ingest stays.
    }
    let st = s.ingest_status("layer-1").unwrap();
    assert_eq!(st.offset, 123_457);
    let mut w = s.writer("layer-1", Some(&d)).unwrap();
    assert_eq!(w.offset(), 123_457);
    w.write_all(&data[123_457..]).unwrap();
    let c = w.commit(Some(data.len() as u64), Some(&d)).unwrap();
    assert_eq!(c.digest, d);
    assert_eq!(s.read(&d).unwrap(), data);
}

#[test]
fn second_writer_on_a_ref_is_locked_out() {
    let (_d, s) = store();
    let _w = s.writer("busy", None).unwrap();
    assert!(matches!(s.writer("busy", None), Err(ContentError::Locked(r)) if r == "busy"));
    assert!(matches!(s.abort("busy"), Err(ContentError::Locked(_))));
}

#[test]
fn size_and_digest_mismatch_leave_the_store_unchanged() {
    let (_d, s) = store();
    let mut w = s.writer("bad-size", None).unwrap();
    w.write_all(b"abc").unwrap();
    let e = w.commit(Some(4), None).unwrap_err();
    assert!(
        matches!(
            e,
            ContentError::SizeMismatch {
                expected: 4,
                actual: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("bad-size"));

    let mut w = s.writer("bad-digest", None).unwrap();
    w.write_all(b"abc").unwrap();
    let wrong = Digest::of(b"abd");
    let e = w.commit(Some(3), Some(&wrong)).unwrap_err();
    assert!(
        matches!(e, ContentError::DigestMismatch { expected, .. } if expected == wrong),
        "{e}"
    );
    assert!(e.to_string().contains(&wrong.to_string()));

    assert!(s.list().unwrap().is_empty());
    assert!(s.ingests().unwrap().is_empty());
    assert_eq!(fs::read_dir(s.root().join("ingest")).unwrap().count(), 0);
}

#[test]
fn existing_blob_is_already_exists_and_write_blob_is_idempotent() {
    let (_d, s) = store();
    let d = commit(&s, "a", b"same");
    // Early: the expected digest is already there.
    assert!(matches!(s.writer("b", Some(&d)), Err(ContentError::AlreadyExists(x)) if x == d));
    // Late: discovered at commit; the duplicate ingest is discarded.
    let mut w = s.writer("c", None).unwrap();
    w.write_all(b"same").unwrap();
    let e = w.commit(None, None).unwrap_err();
    assert!(e.is_already_exists());
    assert!(s.ingests().unwrap().is_empty());
    let c = s.write_blob("d", &b"same"[..], Some(4), Some(&d)).unwrap();
    assert_eq!((c.digest, c.size, c.created), (d, 4, false));
    let c = s.write_blob("e", &b"other"[..], None, None).unwrap();
    assert!(c.created);
    assert_eq!(s.list().unwrap().len(), 2);
}

#[test]
fn write_blob_discards_a_stale_ingest_before_writing() {
    let (_d, s) = store();
    {
        let mut w = s.writer("x", None).unwrap();
        w.write_all(b"garbage prefix").unwrap();
    }
    let c = s
        .write_blob("x", &b"payload"[..], Some(7), Some(&Digest::of(b"payload")))
        .unwrap();
    assert_eq!(s.read(&c.digest).unwrap(), b"payload");
}

#[test]
fn delete_abort_and_invalid_refs() {
    let (_d, s) = store();
    let d = commit(&s, "a", b"gone soon");
    s.delete(&d).unwrap();
    assert!(matches!(s.delete(&d), Err(ContentError::NotFound(_))));
    assert!(matches!(s.reader(&d), Err(ContentError::NotFound(_))));
    {
        let mut w = s.writer("partial", None).unwrap();
        w.write_all(b"xx").unwrap();
    }
    s.abort("partial").unwrap();
    assert!(matches!(
        s.abort("partial"),
        Err(ContentError::IngestNotFound(_))
    ));
    for bad in ["", "../escape", "a/b", ".hidden", "sp ace"] {
        assert!(
            matches!(s.writer(bad, None), Err(ContentError::InvalidRef(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn read_detects_corruption_on_disk() {
    let (_d, s) = store();
    let d = commit(&s, "a", b"original");
    let p = s.blob_path(&d);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&p, b"tampered").unwrap();
    let e = s.read(&d).unwrap_err();
    assert!(
        matches!(e, ContentError::Corrupt { digest, .. } if digest == d),
        "{e}"
    );
}

struct Roots(Vec<Digest>, Vec<(String, String)>);

impl RootSource for Roots {
    fn name(&self) -> &str {
        "test images"
    }
    fn add_roots(&self, refs: &mut References) -> Result<(), SourceError> {
        refs.content.extend(self.0.iter().copied());
        for (sn, key) in &self.1 {
            refs.snapshots
                .entry(sn.clone())
                .or_default()
                .insert(key.clone());
        }
        Ok(())
    }
}

/// Treats a blob's content as a newline-separated list of child digests.
struct Lines;

impl ChildResolver for Lines {
    fn children(&self, store: &Store, digest: &Digest) -> Result<Vec<Digest>, SourceError> {
        let data = store.read(digest)?;
        let text = String::from_utf8_lossy(&data);
        Ok(text.lines().filter_map(|l| l.parse().ok()).collect())
    }
}

#[test]
fn gc_keeps_roots_children_and_leased_work_and_sweeps_the_rest() {
    let (dir, s) = store();
    let leases = Leases::open(dir.path().join("leases")).unwrap();
    let child = commit(&s, "child", b"layer bytes");
    let grandchild = commit(&s, "gc", b"config bytes");
    let child2 = commit(&s, "child2", format!("{grandchild}\n").as_bytes());
    let root = commit(&s, "root", format!("{child}\n{child2}\n").as_bytes());
    let leased = commit(&s, "leased", b"in progress");
    let expired = commit(&s, "expired", b"abandoned");
    let garbage = commit(&s, "garbage", b"nobody wants me");
    leases.create("pull", None, BTreeMap::new()).unwrap();
    leases
        .add("pull", Resource::Content { id: leased })
        .unwrap();
    leases
        .add(
            "pull",
            Resource::Ingest {
                id: "leased-ingest".into(),
            },
        )
        .unwrap();
    leases.create("old", Some(-1), BTreeMap::new()).unwrap();
    leases
        .add("old", Resource::Content { id: expired })
        .unwrap();
    for r in ["leased-ingest", "stale-ingest"] {
        let mut w = s.writer(r, None).unwrap();
        w.write_all(b"partial").unwrap();
    }
    let held = s.writer("held-ingest", None).unwrap();

    let roots = Roots(
        vec![root],
        vec![("overlayfs".into(), "sha256:chain".into())],
    );
    let opts = GcOptions {
        ingest_max_age: Some(Duration::ZERO),
    };
    let report = gc::collect(&s, &leases, &[&roots], Some(&Lines), &opts).unwrap();

    let mut removed = report.removed_blobs.clone();
    removed.sort();
    let mut want = vec![expired, garbage];
    want.sort();
    assert_eq!(removed, want);
    assert_eq!(report.expired_leases, vec!["old".to_owned()]);
    assert_eq!(report.removed_ingests, vec!["stale-ingest".to_owned()]);
    for d in [root, child, child2, grandchild, leased] {
        assert!(s.contains(&d), "{d} should survive");
    }
    assert!(!s.contains(&garbage));
    assert!(report.live.snapshots["overlayfs"].contains("sha256:chain"));
    let left: Vec<_> = s
        .ingests()
        .unwrap()
        .into_iter()
        .map(|i| i.reference)
        .collect();
    assert_eq!(
        left,
        vec!["held-ingest".to_owned(), "leased-ingest".to_owned()]
    );
    drop(held);
}

/// Runs `f` with a 256 KiB tmpfs mounted at a fresh directory, inside a
/// private mount namespace on its own thread (nothing leaks to the host).
fn with_small_tmpfs(f: impl FnOnce(&std::path::Path) + Send) {
    use rustix::mount::{MountFlags, MountPropagationFlags, mount, mount_change};
    use rustix::thread::{UnshareFlags, unshare_unsafe};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().to_owned();
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: only CLONE_NEWNS (and its implied CLONE_FS) on this
            // thread; the fd table stays shared.
            unsafe { unshare_unsafe(UnshareFlags::NEWNS) }.unwrap();
            mount_change(
                "/",
                MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
            )
            .unwrap();
            mount("tmpfs", &p, "tmpfs", MountFlags::empty(), c"size=256k").unwrap();
            f(&p);
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    });
}

#[test]
fn a_full_disk_fails_the_write_and_leaves_the_store_unchanged() {
    with_small_tmpfs(|root| {
        let s = Store::open(root.join("content")).unwrap();
        let small = commit(&s, "small", b"fits");
        let big = vec![9u8; 1 << 20];
        let e = s.write_blob("big", &big[..], None, None).unwrap_err();
        match &e {
            ContentError::Io {
                op: "write ingest",
                source,
                ..
            } => {
                assert_eq!(source.raw_os_error(), Some(libc::ENOSPC), "{e}")
            }
            other => panic!("unexpected {other}"),
        }
        assert!(e.to_string().contains("ingest/big"), "{e}");
        assert_eq!(
            s.list()
                .unwrap()
                .iter()
                .map(|i| i.digest)
                .collect::<Vec<_>>(),
            vec![small]
        );
        assert!(s.ingests().unwrap().is_empty(), "one-shot writes clean up");
        // The space is free again: a blob that fits still commits.
        commit(&s, "after", b"still works");
    });
}

#[test]
fn a_batch_makes_blobs_visible_only_at_commit() {
    let (_d, s) = store();
    let (a, b) = (b"first blob".as_slice(), b"second blob".as_slice());
    let old = commit(&s, "old", b"already here");
    let mut batch = s.batch();
    let ca = batch
        .write_blob("b-1", a, Some(a.len() as u64), None)
        .unwrap();
    assert!(ca.created);
    assert_eq!(ca.digest, Digest::of(a));
    // The same bytes again, and a blob the store has: written once.
    let again = batch.write_blob("b-2", a, None, None).unwrap();
    assert!(!again.created);
    let have = batch
        .write_blob("b-3", &b"already here"[..], None, Some(&old))
        .unwrap();
    assert!(!have.created);
    let cb = batch
        .write_blob("b-4", b, None, Some(&Digest::of(b)))
        .unwrap();
    // Pending: invisible, and one ingest each.
    assert!(!s.contains(&ca.digest) && !s.contains(&cb.digest));
    assert_eq!(s.ingests().unwrap().len(), 2);
    let mut pending: Vec<Digest> = batch.pending().copied().collect();
    pending.sort();
    let mut want = vec![ca.digest, cb.digest];
    want.sort();
    assert_eq!(pending, want);
    let mut done = batch.commit().unwrap();
    done.sort();
    assert_eq!(done, want);
    assert_eq!(s.read(&ca.digest).unwrap(), a);
    assert_eq!(s.read(&cb.digest).unwrap(), b);
    let mode = fs::metadata(s.blob_path(&cb.digest))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o444);
    assert!(s.ingests().unwrap().is_empty());
    assert_eq!(fs::read_dir(s.root().join("ingest")).unwrap().count(), 0);
}

#[test]
fn a_failed_or_dropped_batch_leaves_nothing() {
    let (_d, s) = store();
    let mut batch = s.batch();
    batch.write_blob("x-1", &b"kept?"[..], None, None).unwrap();
    // A mismatch is refused at once and its ingest removed.
    let e = batch
        .write_blob("x-2", &b"abc"[..], Some(4), None)
        .unwrap_err();
    assert!(matches!(e, ContentError::SizeMismatch { .. }), "{e}");
    let e = batch
        .write_blob("x-3", &b"abc"[..], None, Some(&Digest::of(b"abd")))
        .unwrap_err();
    assert!(matches!(e, ContentError::DigestMismatch { .. }), "{e}");
    assert_eq!(s.ingests().unwrap().len(), 1);
    // A source that fails mid-way leaves no ingest either.
    struct Broken(u8);
    impl std::io::Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
            }
            self.0 -= 1;
            buf[0] = b'x';
            Ok(1)
        }
    }
    assert!(batch.write_blob("x-4", Broken(3), None, None).is_err());
    assert_eq!(s.ingests().unwrap().len(), 1);
    drop(batch);
    assert!(s.ingests().unwrap().is_empty());
    assert!(s.list().unwrap().is_empty());
    assert_eq!(fs::read_dir(s.root().join("ingest")).unwrap().count(), 0);
}
