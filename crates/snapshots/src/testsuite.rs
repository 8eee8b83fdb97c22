//! The conformance suite every snapshotter must pass.
//!
//! [`run`] takes a scratch directory and a factory that opens a
//! snapshotter on a root directory (called again on the same root to check
//! persistence). It mounts what the snapshotter describes, so it needs root
//! and runs everything in a private mount namespace
//! ([`in_private_mount_namespace`]): no mount can outlive it or leak into
//! the caller's namespace, even when an assertion fails half-way.
//!
//! Failures panic (this is test code called from `#[test]` functions).

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use rustix::mount::{MountPropagationFlags, mount_change};
use rustix::thread::{UnshareFlags, unshare_unsafe};

use crate::mount::mount_all;
use crate::{Kind, SnapshotError, Snapshotter};

/// Opens a snapshotter rooted at the given directory.
pub type Factory<'a> = &'a (dyn Fn(&Path) -> Result<Box<dyn Snapshotter>, SnapshotError> + Sync);

/// One case of the suite.
type Case = fn(&Path, Factory<'_>);

/// Runs `f` on a new thread that has its own mount namespace in which
/// every mount is private, and returns its result (re-raising its panic).
///
/// unshare(CLONE_NEWNS) on a thread of a multithreaded process is allowed:
/// it implies CLONE_FS, which only detaches this thread's filesystem
/// context. The namespace dies with the thread, taking its mounts along.
pub fn in_private_mount_namespace<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            // SAFETY: only CLONE_NEWNS (with its implied CLONE_FS) is
            // unshared; the fd table stays shared, which is the hazard
            // `unshare_unsafe` guards against with CLONE_FILES.
            unsafe { unshare_unsafe(UnshareFlags::NEWNS) }.expect("unshare(CLONE_NEWNS)");
            mount_change(
                "/",
                MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
            )
            .expect("make / rprivate");
            f()
        });
        match h.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// Runs every case, each on its own fresh root below `scratch`.
pub fn run(scratch: &Path, factory: Factory<'_>) {
    in_private_mount_namespace(|| {
        let cases: [(&str, Case); 8] = [
            ("lifecycle", lifecycle),
            ("layers_and_views", layers_and_views),
            ("contract_errors", contract_errors),
            ("remove_cleans_up", remove_cleans_up),
            ("persists_across_reopen", persists_across_reopen),
            ("diff_reports_changes", diff_reports_changes),
            (
                "diff_leaves_out_excluded_paths",
                diff_leaves_out_excluded_paths,
            ),
            ("usage_counts_own_data", usage_counts_own_data),
        ];
        for (name, case) in cases {
            let root = scratch.join(name);
            fs::create_dir_all(&root).unwrap();
            case(&root, factory);
        }
    })
}

fn target(root: &Path, name: &str) -> PathBuf {
    let t = root.join("mnt").join(name);
    fs::create_dir_all(&t).unwrap();
    t
}

/// Mounts `key`, runs `f` on the mounted tree, unmounts.
fn with_mounted(sn: &dyn Snapshotter, root: &Path, key: &str, f: impl FnOnce(&Path)) {
    let t = target(root, "t");
    let g = mount_all(&sn.mounts(key).unwrap(), &t).unwrap();
    f(&t);
    g.unmount().unwrap();
}

/// Builds committed "base" = {hello, d/f, same}.
fn make_base(sn: &dyn Snapshotter, root: &Path) {
    sn.prepare("base-active", None).unwrap();
    with_mounted(sn, root, "base-active", |t| {
        fs::write(t.join("hello"), b"hello").unwrap();
        fs::create_dir(t.join("d")).unwrap();
        fs::write(t.join("d/f"), b"f").unwrap();
        fs::write(t.join("d/g"), b"g").unwrap();
        fs::write(t.join("same"), b"unchanged").unwrap();
        fs::write(t.join("gone"), b"to be deleted").unwrap();
    });
    sn.commit("base", "base-active").unwrap();
}

fn lifecycle(root: &Path, factory: Factory<'_>) {
    let sn = factory(&root.join("store")).unwrap();
    let mounts = sn.prepare("a", None).unwrap();
    assert_eq!(mounts, sn.mounts("a").unwrap());
    assert_eq!(sn.stat("a").unwrap().kind, Kind::Active);
    make_base(&*sn, root);
    let info = sn.stat("base").unwrap();
    assert_eq!((info.kind, info.parent.as_deref()), (Kind::Committed, None));
    assert!(matches!(
        sn.stat("base-active"),
        Err(SnapshotError::NotFound(_))
    ));
    let names: Vec<_> = sn.list().unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, vec!["a".to_owned(), "base".to_owned()]);
}

fn layers_and_views(root: &Path, factory: Factory<'_>) {
    let sn = factory(&root.join("store")).unwrap();
    make_base(&*sn, root);
    sn.prepare("b", Some("base")).unwrap();
    with_mounted(&*sn, root, "b", |t| {
        assert_eq!(fs::read(t.join("hello")).unwrap(), b"hello");
        fs::write(t.join("hello"), b"changed").unwrap();
        fs::remove_file(t.join("d/f")).unwrap();
        fs::write(t.join("new"), b"new").unwrap();
    });
    sn.commit("l2", "b").unwrap();
    assert_eq!(sn.stat("l2").unwrap().parent.as_deref(), Some("base"));
    // A third layer, to stack more than one lower.
    sn.prepare("c", Some("l2")).unwrap();
    with_mounted(&*sn, root, "c", |t| {
        assert_eq!(fs::read(t.join("hello")).unwrap(), b"changed");
        assert!(!t.join("d/f").exists());
        fs::write(t.join("third"), b"3").unwrap();
    });
    sn.commit("l3", "c").unwrap();
    for (view, parent) in [("v1", "base"), ("v3", "l3")] {
        sn.view(view, Some(parent)).unwrap();
        assert_eq!(sn.stat(view).unwrap().kind, Kind::View);
        with_mounted(&*sn, root, view, |t| {
            let e = fs::write(t.join("x"), b"x").unwrap_err();
            assert_eq!(
                e.raw_os_error(),
                Some(libc::EROFS),
                "view {view} must be read-only"
            );
            let hello = fs::read(t.join("hello")).unwrap();
            if parent == "base" {
                assert_eq!(hello, b"hello", "lower layers are unchanged by upper ones");
                assert!(t.join("d/f").exists());
            } else {
                assert_eq!(hello, b"changed");
                assert!(!t.join("d/f").exists());
                assert!(t.join("new").exists() && t.join("third").exists());
            }
        });
    }
    // A view of nothing is an empty read-only tree.
    sn.view("empty", None).unwrap();
    with_mounted(&*sn, root, "empty", |t| {
        assert_eq!(fs::read_dir(t).unwrap().count(), 0);
        assert_eq!(
            fs::write(t.join("x"), b"x").unwrap_err().raw_os_error(),
            Some(libc::EROFS)
        );
    });
}

fn contract_errors(root: &Path, factory: Factory<'_>) {
    let sn = factory(&root.join("store")).unwrap();
    make_base(&*sn, root);
    sn.prepare("a", Some("base")).unwrap();
    assert!(matches!(sn.prepare("a", None), Err(SnapshotError::AlreadyExists(k)) if k == "a"));
    assert!(matches!(
        sn.view("base", None),
        Err(SnapshotError::AlreadyExists(_))
    ));
    assert!(
        matches!(sn.prepare("b", Some("missing")), Err(SnapshotError::NotFound(k)) if k == "missing")
    );
    assert!(matches!(
        sn.prepare("b", Some("a")),
        Err(SnapshotError::ParentNotCommitted {
            kind: Kind::Active,
            ..
        })
    ));
    sn.view("v", Some("base")).unwrap();
    assert!(matches!(
        sn.commit("x", "v"),
        Err(SnapshotError::NotActive {
            kind: Kind::View,
            ..
        })
    ));
    assert!(matches!(sn.commit("base", "a"), Err(SnapshotError::AlreadyExists(k)) if k == "base"));
    assert!(matches!(
        sn.commit("x", "nope"),
        Err(SnapshotError::NotFound(_))
    ));
    assert!(matches!(
        sn.mounts("base"),
        Err(SnapshotError::Committed { .. })
    ));
    assert!(matches!(
        sn.apply_target("v"),
        Err(SnapshotError::NotActive { .. })
    ));
    let e = sn.remove("base").unwrap_err();
    assert!(
        matches!(&e, SnapshotError::HasChildren { children, .. } if children == "a, v"),
        "{e}"
    );
    assert!(matches!(
        sn.prepare("", None),
        Err(SnapshotError::InvalidKey(_))
    ));
    assert!(matches!(sn.remove("nope"), Err(SnapshotError::NotFound(_))));
    // Failed calls changed nothing.
    let names: BTreeSet<_> = sn.list().unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(
        names,
        ["a", "base", "v"].into_iter().map(String::from).collect()
    );
}

fn remove_cleans_up(root: &Path, factory: Factory<'_>) {
    let store = root.join("store");
    let sn = factory(&store).unwrap();
    make_base(&*sn, root);
    sn.prepare("a", Some("base")).unwrap();
    with_mounted(&*sn, root, "a", |t| fs::write(t.join("x"), b"x").unwrap());
    sn.view("v", Some("base")).unwrap();
    for k in ["a", "v", "base"] {
        sn.remove(k).unwrap();
    }
    assert!(sn.list().unwrap().is_empty());
    assert_eq!(fs::read_dir(store.join("snapshots")).unwrap().count(), 0);
    // The files go in the background.
    sn.flush_removals();
    assert_eq!(fs::read_dir(store.join("trash")).unwrap().count(), 0);
}

fn persists_across_reopen(root: &Path, factory: Factory<'_>) {
    let store = root.join("store");
    let before = {
        let sn = factory(&store).unwrap();
        make_base(&*sn, root);
        sn.prepare("a", Some("base")).unwrap();
        sn.list().unwrap()
    };
    // A directory that a crash left without a record is cleaned on open.
    fs::create_dir(store.join("snapshots/999")).unwrap();
    let sn = factory(&store).unwrap();
    assert_eq!(sn.list().unwrap(), before);
    assert!(!store.join("snapshots/999").exists());
    with_mounted(&*sn, root, "a", |t| {
        assert_eq!(fs::read(t.join("hello")).unwrap(), b"hello")
    });
    sn.prepare("b", Some("base")).unwrap();
    with_mounted(&*sn, root, "b", |t| {
        assert_eq!(fs::read(t.join("hello")).unwrap(), b"hello");
        assert!(!t.join("x").exists());
    });
}

fn diff_reports_changes(root: &Path, factory: Factory<'_>) {
    let sn = factory(&root.join("store")).unwrap();
    make_base(&*sn, root);
    sn.prepare("a", Some("base")).unwrap();
    with_mounted(&*sn, root, "a", |t| {
        fs::write(t.join("hello"), b"changed").unwrap();
        fs::remove_file(t.join("gone")).unwrap();
        fs::write(t.join("added"), b"added").unwrap();
        fs::remove_dir_all(t.join("d")).unwrap();
        fs::create_dir(t.join("d")).unwrap();
        fs::write(t.join("d/z"), b"z").unwrap();
    });
    let mut tar = Vec::new();
    sn.diff("a", &mut tar).unwrap();
    let mut again = Vec::new();
    sn.diff("a", &mut again).unwrap();
    assert_eq!(tar, again, "diffs are deterministic");
    let mut entries = std::collections::BTreeMap::new();
    let mut ar = tar::Archive::new(&tar[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes())
            .trim_end_matches('/')
            .to_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        entries.insert(name, data);
    }
    assert_eq!(entries["hello"], b"changed");
    assert_eq!(entries["added"], b"added");
    assert_eq!(entries["d/z"], b"z");
    assert!(entries.contains_key(".wh.gone"), "{:?}", entries.keys());
    assert!(
        !entries.contains_key("same"),
        "unchanged files are not in the diff"
    );
    // Overlay says "d is opaque"; a tree comparison says which names went.
    let opaque = entries.contains_key("d/.wh..wh..opq");
    let listed = entries.contains_key("d/.wh.f") && entries.contains_key("d/.wh.g");
    assert!(opaque || listed, "{:?}", entries.keys());
    assert!(matches!(
        sn.diff("base", &mut Vec::new()),
        Err(SnapshotError::Committed { .. })
    ));
}

/// The names of a diff tar's entries, without trailing `/`.
fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(tar);
    ar.entries()
        .unwrap()
        .map(|e| {
            String::from_utf8_lossy(&e.unwrap().path_bytes())
                .trim_end_matches('/')
                .to_owned()
        })
        .collect()
}

/// What a runtime leaves in a container's layer (mount points for
/// `/etc/hosts`, `/proc`, ...) is left out with an [`crate::diff::Exclude`],
/// and so are the directories that hold nothing else; a directory that
/// also holds a real change stays.
fn diff_leaves_out_excluded_paths(root: &Path, factory: Factory<'_>) {
    let sn = factory(&root.join("store")).unwrap();
    make_base(&*sn, root);
    sn.prepare("a", Some("base")).unwrap();
    with_mounted(&*sn, root, "a", |t| {
        for d in ["etc", "proc", "sys", "run/deep"] {
            fs::create_dir_all(t.join(d)).unwrap();
        }
        fs::write(t.join("etc/hosts"), b"").unwrap();
        fs::write(t.join("etc/resolv.conf"), b"").unwrap();
        fs::write(t.join("proc/stray"), b"").unwrap();
        fs::write(t.join("run/deep/x"), b"").unwrap();
        fs::write(t.join("kept"), b"k").unwrap();
    });
    let exclude = crate::diff::Exclude::new([
        "/etc/hosts",
        "/etc/resolv.conf",
        "/proc",
        "/sys",
        "run/deep/x",
    ]);
    let mut tar = Vec::new();
    sn.diff_excluding("a", &exclude, &mut tar).unwrap();
    assert_eq!(tar_names(&tar), ["kept"]);
    // A change beside an excluded path keeps its directory.
    with_mounted(&*sn, root, "a", |t| {
        fs::write(t.join("etc/app.conf"), b"c").unwrap()
    });
    let mut tar = Vec::new();
    sn.diff_excluding("a", &exclude, &mut tar).unwrap();
    assert_eq!(tar_names(&tar), ["etc", "etc/app.conf", "kept"]);
    // Without exclusions everything is there.
    let mut all = Vec::new();
    sn.diff("a", &mut all).unwrap();
    let names = tar_names(&all);
    for n in ["etc/hosts", "proc", "proc/stray", "sys", "run/deep/x"] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
}

fn usage_counts_own_data(root: &Path, factory: Factory<'_>) {
    let sn = factory(&root.join("store")).unwrap();
    make_base(&*sn, root);
    sn.prepare("a", Some("base")).unwrap();
    with_mounted(&*sn, root, "a", |t| {
        fs::write(t.join("big"), vec![7u8; 1 << 20]).unwrap()
    });
    let active = sn.usage("a").unwrap();
    sn.commit("big", "a").unwrap();
    let committed = sn.usage("big").unwrap();
    assert!(committed.size >= 1 << 20, "{committed:?}");
    assert_eq!(active, committed);
    // Nothing to mount after a failed lookup.
    assert!(
        matches!(fs::metadata(root.join("mnt/none")), Err(e) if e.kind() == ErrorKind::NotFound)
    );
}
