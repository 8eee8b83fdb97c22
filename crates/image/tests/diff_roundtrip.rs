//! A container's changes, diffed by each snapshotter into a layer and
//! applied by the layer applier onto the same parent, give the same tree
//! (what `docker commit` relies on). Needs root.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use berth_image::{ApplyOptions, WhiteoutMode, apply_tar};
use berth_snapshots::mount::mount_all;
use berth_snapshots::native::NativeSnapshotter;
use berth_snapshots::overlay::OverlaySnapshotter;
use berth_snapshots::testsuite::in_private_mount_namespace;
use berth_snapshots::{LayerForm, Snapshotter};

/// Path → (type+mode, uid, gid, content or link target).
fn snapshot_tree(root: &Path) -> BTreeMap<String, (u32, u32, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = fs::symlink_metadata(&p).unwrap();
            let data = if md.is_file() {
                fs::read(&p).unwrap()
            } else if md.file_type().is_symlink() {
                fs::read_link(&p)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                Vec::new()
            };
            if md.is_dir() {
                stack.push(p.clone());
            }
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.insert(rel, (md.mode(), md.uid(), md.gid(), data));
        }
    }
    out
}

fn mounted<R: Send>(
    sn: &dyn Snapshotter,
    key: &str,
    at: &Path,
    f: impl FnOnce(&Path) -> R + Send,
) -> R {
    let mounts = sn.mounts(key).unwrap();
    let g = mount_all(&mounts, at).unwrap();
    let r = f(at);
    g.unmount().unwrap();
    r
}

fn round_trip(sn: &dyn Snapshotter, scratch: &Path) {
    let mnt = scratch.join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    sn.prepare("base-a", None).unwrap();
    mounted(sn, "base-a", &mnt, |t| {
        fs::create_dir_all(t.join("etc/conf.d")).unwrap();
        fs::write(t.join("etc/passwd"), b"root:x:0:0\n").unwrap();
        fs::write(t.join("etc/conf.d/a"), b"a").unwrap();
        fs::write(t.join("etc/conf.d/b"), b"b").unwrap();
        fs::write(t.join("keep"), b"keep").unwrap();
        fs::write(t.join("rm-me"), b"x").unwrap();
        fs::create_dir(t.join("dir-to-file")).unwrap();
    });
    sn.commit("base", "base-a").unwrap();

    sn.prepare("ctr", Some("base")).unwrap();
    mounted(sn, "ctr", &mnt, |t| {
        fs::write(t.join("etc/passwd"), b"root:x:0:0\nuser:x:1000:1000\n").unwrap();
        fs::remove_file(t.join("rm-me")).unwrap();
        fs::remove_dir_all(t.join("etc/conf.d")).unwrap();
        fs::create_dir(t.join("etc/conf.d")).unwrap();
        fs::write(t.join("etc/conf.d/c"), b"c").unwrap();
        fs::remove_dir(t.join("dir-to-file")).unwrap();
        fs::write(t.join("dir-to-file"), b"now a file").unwrap();
        fs::write(t.join("suid"), b"#!").unwrap();
        std::os::unix::fs::chown(t.join("suid"), Some(1000), Some(1000)).unwrap();
        fs::set_permissions(t.join("suid"), fs::Permissions::from_mode(0o4750)).unwrap();
        fs::hard_link(t.join("suid"), t.join("suid-link")).unwrap();
        symlink("/etc/passwd", t.join("pw")).unwrap();
    });
    let mut layer = Vec::new();
    sn.diff("ctr", &mut layer).unwrap();
    let want = mounted(sn, "ctr", &mnt, snapshot_tree);

    sn.prepare("apply", Some("base")).unwrap();
    let target = sn.apply_target("apply").unwrap();
    let whiteouts = match target.form {
        LayerForm::Overlay => WhiteoutMode::Overlay,
        LayerForm::Full => WhiteoutMode::Delete,
    };
    let applied = apply_tar(&target.dir, &layer[..], &ApplyOptions { whiteouts }).unwrap();
    assert_eq!(applied.tar_size, layer.len() as u64);
    sn.commit("committed", "apply").unwrap();
    sn.view("check", Some("committed")).unwrap();
    let got = mounted(sn, "check", &mnt, snapshot_tree);
    assert_eq!(got, want, "{}", sn.name());
    let linked = mounted(sn, "check", &mnt, |t| {
        fs::metadata(t.join("suid")).unwrap().ino()
            == fs::metadata(t.join("suid-link")).unwrap().ino()
    });
    assert!(linked, "hardlinks survive the round trip ({})", sn.name());
}

#[test]
fn overlay_diff_applies_back_to_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let sn = OverlaySnapshotter::open(&tmp.path().join("store")).unwrap();
    in_private_mount_namespace(|| round_trip(&sn, tmp.path()));
}

#[test]
fn native_diff_applies_back_to_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let sn = NativeSnapshotter::open(&tmp.path().join("store")).unwrap();
    in_private_mount_namespace(|| round_trip(&sn, tmp.path()));
}
