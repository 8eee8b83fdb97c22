//! Both snapshotters against the one conformance suite (needs root).

use berth_snapshots::native::NativeSnapshotter;
use berth_snapshots::overlay::OverlaySnapshotter;
use berth_snapshots::{SnapshotError, Snapshotter, testsuite};

fn assert_nothing_mounted_under(dir: &std::path::Path) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.to_str().unwrap();
    assert!(
        !info.lines().any(|l| l.contains(d)),
        "mounts left under {d}"
    );
}

#[test]
fn overlay_passes_the_suite() {
    let scratch = tempfile::tempdir().unwrap();
    testsuite::run(scratch.path(), &|root| {
        OverlaySnapshotter::open(root).map(|s| Box::new(s) as Box<dyn Snapshotter>)
    });
    assert_nothing_mounted_under(scratch.path());
}

#[test]
fn native_passes_the_suite() {
    let scratch = tempfile::tempdir().unwrap();
    testsuite::run(scratch.path(), &|root| {
        NativeSnapshotter::open(root).map(|s| Box::new(s) as Box<dyn Snapshotter>)
    });
    assert_nothing_mounted_under(scratch.path());
}

#[test]
fn roots_that_mount_options_cannot_express_are_refused() {
    for bad in ["relative/root", "/srv/a:b", "/srv/a,b"] {
        let e = OverlaySnapshotter::open(std::path::Path::new(bad)).unwrap_err();
        assert!(matches!(e, SnapshotError::InvalidRoot(_)), "{bad}: {e}");
    }
}

#[test]
fn gc_sweep_keeps_live_snapshots_and_their_ancestors() {
    let scratch = tempfile::tempdir().unwrap();
    let sn = NativeSnapshotter::open(&scratch.path().join("store")).unwrap();
    for (key, parent) in [
        ("l1", None),
        ("l2", Some("l1")),
        ("l3", Some("l2")),
        ("other", None),
        ("o2", Some("other")),
    ] {
        sn.prepare(&format!("{key}-tmp"), parent).unwrap();
        sn.commit(key, &format!("{key}-tmp")).unwrap();
    }
    sn.prepare("container", Some("l2")).unwrap();
    sn.prepare("stale", Some("l3")).unwrap();
    let live = ["container".to_owned()].into_iter().collect();
    let removed = berth_snapshots::gc::sweep(&sn, &live).unwrap();
    let mut left: Vec<_> = sn.list().unwrap().into_iter().map(|i| i.name).collect();
    left.sort();
    assert_eq!(left, vec!["container", "l1", "l2"]);
    let pos = |k: &str| removed.iter().position(|r| r == k).unwrap();
    assert!(
        pos("stale") < pos("l3") && pos("o2") < pos("other"),
        "{removed:?}"
    );
}
