//! The overlay mount helper on a real kernel (needs root): the new mount
//! API lifts the one-page limit on the lower-dir list.

use std::fs;
use std::path::PathBuf;

use berth_snapshots::Mount;
use berth_snapshots::mount::{OverlayMethod, mount_all_with, overlay_data};
use berth_snapshots::testsuite::in_private_mount_namespace;

/// `n` lower directories with long names; lower `i` holds `f<i>` and its
/// own version of `who`.
fn lowers(base: &std::path::Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let d = base.join(format!("a-rather-long-layer-directory-name-{i:04}/fs"));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join(format!("f{i}")), b"x").unwrap();
            fs::write(d.join("who"), i.to_string()).unwrap();
            d
        })
        .collect()
}

#[test]
fn many_lowers_mount_with_lowerdir_plus_but_not_with_a_data_string() {
    let tmp = tempfile::tempdir().unwrap();
    let ls = lowers(tmp.path(), 150);
    let m = Mount {
        kind: "overlay".into(),
        source: "overlay".into(),
        options: vec![
            "ro".into(),
            format!(
                "lowerdir={}",
                ls.iter()
                    .map(|p| p.to_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(":")
            ),
        ],
    };
    assert!(
        overlay_data(&m).len() > 4096,
        "the list must exceed one page for this test to mean anything"
    );
    let target = tmp.path().join("mnt");
    fs::create_dir(&target).unwrap();
    in_private_mount_namespace(|| {
        let e =
            mount_all_with(std::slice::from_ref(&m), &target, OverlayMethod::Legacy).unwrap_err();
        assert!(e.to_string().contains("mount(2)"), "{e}");
        for method in [OverlayMethod::NewApi, OverlayMethod::Auto] {
            let g = mount_all_with(std::slice::from_ref(&m), &target, method).unwrap();
            assert!(target.join("f0").exists() && target.join("f149").exists());
            // The first lowerdir is the topmost layer.
            assert_eq!(fs::read_to_string(target.join("who")).unwrap(), "0");
            g.unmount().unwrap();
            assert!(!target.join("f0").exists());
        }
    });
}

#[test]
fn a_short_overlay_mounts_both_ways_and_the_guard_unmounts_on_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let ls = lowers(tmp.path(), 2);
    let (upper, work) = (tmp.path().join("upper"), tmp.path().join("work"));
    fs::create_dir(&upper).unwrap();
    fs::create_dir(&work).unwrap();
    let m = Mount {
        kind: "overlay".into(),
        source: "overlay".into(),
        options: vec![
            format!("workdir={}", work.display()),
            format!("upperdir={}", upper.display()),
            format!("lowerdir={}:{}", ls[0].display(), ls[1].display()),
        ],
    };
    let target = tmp.path().join("mnt");
    fs::create_dir(&target).unwrap();
    in_private_mount_namespace(|| {
        for method in [OverlayMethod::Legacy, OverlayMethod::NewApi] {
            {
                let _g = mount_all_with(std::slice::from_ref(&m), &target, method).unwrap();
                fs::write(target.join(format!("{method:?}")), b"w").unwrap();
                assert!(target.join("f1").exists());
            }
            assert!(!target.join("f1").exists(), "dropped guard unmounts");
            assert!(
                upper.join(format!("{method:?}")).exists(),
                "writes land in the upper dir"
            );
        }
    });
}
