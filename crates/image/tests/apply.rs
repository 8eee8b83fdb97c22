//! Layer application against hand-built tars, including hostile ones.
//! Needs root (chown, mknod, trusted.* xattrs), as CI has.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use berth_content::Digest;
use berth_image::{ApplyError, ApplyOptions, Compression, WhiteoutMode, apply_layer, apply_tar};
use tar::{Builder, EntryType, Header};

const OVERLAY: ApplyOptions = ApplyOptions {
    whiteouts: WhiteoutMode::Overlay,
};
const DELETE: ApplyOptions = ApplyOptions {
    whiteouts: WhiteoutMode::Delete,
};

/// A tar writer that puts names and link targets into headers verbatim,
/// bypassing the tar crate's own path checks, to build hostile archives.
struct Tar(Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(Builder::new(Vec::new()))
    }

    fn raw(
        &mut self,
        kind: EntryType,
        name: &str,
        link: Option<&str>,
        data: &[u8],
        mode: u32,
        owner: u64,
    ) -> &mut Tar {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(owner);
        h.set_gid(owner);
        h.set_mtime(1_600_000_000);
        let n = name.as_bytes();
        h.as_old_mut().name[..n.len()].copy_from_slice(n);
        if let Some(l) = link {
            h.set_link_name_literal(l).unwrap();
        }
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn dir(&mut self, name: &str) -> &mut Tar {
        self.raw(EntryType::Directory, name, None, b"", 0o755, 0)
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Tar {
        self.raw(EntryType::Regular, name, None, data, 0o644, 0)
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.raw(EntryType::Symlink, name, Some(target), b"", 0o777, 0)
    }

    fn hardlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.raw(EntryType::Link, name, Some(target), b"", 0o644, 0)
    }

    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Tar {
        self.0
            .append_pax_extensions(records.iter().map(|(k, v)| (*k, *v)))
            .unwrap();
        self
    }

    fn bytes(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    let n = rustix::fs::lgetxattr(p, name, &mut buf[..]).ok()?;
    Some(buf[..n].to_vec())
}

fn roots() -> (tempfile::TempDir, std::path::PathBuf) {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("layer");
    fs::create_dir(&root).unwrap();
    (outer, root)
}

fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn applies_every_entry_type_with_metadata_and_hashes_the_stream() {
    let (_o, root) = roots();
    let mut t = Tar::new();
    t.raw(EntryType::Directory, "usr/", None, b"", 0o750, 0)
        .raw(
            EntryType::Regular,
            "usr/bin-suid",
            None,
            b"#!/bin/sh\n",
            0o4755,
            0,
        )
        .raw(EntryType::Regular, "usr/owned", None, b"data", 0o640, 1000)
        .symlink("usr/link", "/usr/owned")
        .hardlink("usr/hard", "usr/owned")
        .raw(EntryType::Fifo, "usr/fifo", None, b"", 0o600, 0);
    // A device node: 1:3 is /dev/null's number.
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Char);
    h.set_path("usr/null").unwrap();
    h.set_mode(0o666);
    h.set_uid(0);
    h.set_gid(0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_size(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    t.0.append(&h, &b""[..]).unwrap();
    t.pax(&[
        ("SCHILY.xattr.user.origin", b"layer-test"),
        ("mtime", b"1500000000.5"),
    ])
    .file("usr/xattr", b"x");
    // Written after its children would have bumped it: the tar's time wins.
    t.dir("usr/");
    let bytes = t.bytes();
    let applied = apply_tar(&root, &bytes[..], &OVERLAY).unwrap();
    assert_eq!(applied.diff_id, Digest::of(&bytes));
    assert_eq!(applied.tar_size, bytes.len() as u64);

    let md = |p: &str| fs::symlink_metadata(root.join(p)).unwrap();
    assert_eq!(
        md("usr/bin-suid").mode() & 0o7777,
        0o4755,
        "setuid survives chown"
    );
    assert_eq!((md("usr/owned").uid(), md("usr/owned").gid()), (1000, 1000));
    assert_eq!(md("usr/owned").mode() & 0o777, 0o640);
    assert_eq!(md("usr/owned").mtime(), 1_600_000_000);
    assert_eq!(
        fs::read_link(root.join("usr/link")).unwrap(),
        Path::new("/usr/owned")
    );
    assert_eq!(md("usr/hard").ino(), md("usr/owned").ino());
    assert!(md("usr/fifo").file_type().is_fifo());
    assert!(md("usr/null").file_type().is_char_device());
    assert_eq!(md("usr/null").rdev(), libc::makedev(1, 3));
    assert_eq!(md("usr/null").mode() & 0o777, 0o666);
    assert_eq!(md("usr").mode() & 0o777, 0o755);
    assert_eq!(md("usr").mtime(), 1_600_000_000);
    assert_eq!(md("usr/xattr").mtime(), 1_500_000_000);
    assert_eq!(md("usr/xattr").mtime_nsec(), 500_000_000);
    assert_eq!(
        xattr(&root.join("usr/xattr"), "user.origin").unwrap(),
        b"layer-test"
    );
}

#[test]
fn dotdot_names_are_refused_and_nothing_escapes() {
    for name in ["../x", "a/../../x", "/../x"] {
        let (outer, root) = roots();
        let bytes = Tar::new().file(name, b"pwned").bytes();
        let e = apply_tar(&root, &bytes[..], &OVERLAY).unwrap_err();
        assert!(
            matches!(&e, ApplyError::Breakout { entry } if entry == name),
            "{name}: {e}"
        );
        assert_eq!(
            e.to_string(),
            format!("apply layer entry {name:?}: path escapes the layer root")
        );
        assert!(!outer.path().join("x").exists());
    }
}

#[test]
fn absolute_names_land_inside_the_root() {
    let (_o, root) = roots();
    let bytes = Tar::new()
        .file("/etc/berth-absolute-test", b"inside")
        .bytes();
    apply_tar(&root, &bytes[..], &OVERLAY).unwrap();
    assert_eq!(
        fs::read(root.join("etc/berth-absolute-test")).unwrap(),
        b"inside"
    );
    assert!(!Path::new("/etc/berth-absolute-test").exists());
}

#[test]
fn writes_through_symlinks_stay_inside_the_root() {
    let (outer, root) = roots();
    let victim_dir = outer.path().join("victim");
    fs::create_dir(&victim_dir).unwrap();
    let abs = victim_dir.to_str().unwrap();
    let bytes = Tar::new()
        .symlink("a", "/")
        .file("a/etc/x", b"1")
        .symlink("b", abs)
        // The same absolute path, created inside the root, is where `b`
        // leads.
        .dir(&format!("{abs}/"))
        .file("b/y", b"2")
        // A chain: c -> d -> ../../.. -> (root, when resolved in root)
        .symlink("c", "d")
        .symlink("d", "../../../..")
        .file("c/z", b"3")
        .symlink("e", "../victim")
        .dir("victim/")
        .file("e/w", b"4")
        .bytes();
    apply_tar(&root, &bytes[..], &OVERLAY).unwrap();
    assert_eq!(fs::read(root.join("etc/x")).unwrap(), b"1");
    assert_eq!(
        fs::read(root.join(abs.trim_start_matches('/')).join("y")).unwrap(),
        b"2"
    );
    assert_eq!(fs::read(root.join("z")).unwrap(), b"3");
    assert_eq!(fs::read(root.join("victim/w")).unwrap(), b"4");
    assert_eq!(
        fs::read_dir(&victim_dir).unwrap().count(),
        0,
        "nothing written outside"
    );
    assert!(!outer.path().join("z").exists());

    // Dangling inside the root: refused, rather than followed to the host
    // directory of the same name.
    let (_o2, root2) = roots();
    let bytes = Tar::new().symlink("b", abs).file("b/y", b"2").bytes();
    let e = apply_tar(&root2, &bytes[..], &OVERLAY).unwrap_err();
    assert!(
        matches!(
            &e,
            ApplyError::Entry {
                op: "resolve parent directory",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        fs::read_dir(&victim_dir).unwrap().count(),
        0,
        "nothing written outside"
    );
}

#[test]
fn an_entry_replaces_a_symlink_instead_of_writing_through_it() {
    let (outer, root) = roots();
    let secret = outer.path().join("secret");
    fs::write(&secret, b"host data").unwrap();
    let bytes = Tar::new()
        .symlink("s", secret.to_str().unwrap())
        .file("s", b"layer data")
        .symlink("evil", secret.to_str().unwrap())
        // A hardlink to a symlink is a second name for the symlink itself.
        .hardlink("hl", "evil")
        .bytes();
    apply_tar(&root, &bytes[..], &OVERLAY).unwrap();
    assert_eq!(fs::read(&secret).unwrap(), b"host data");
    assert_eq!(fs::read(root.join("s")).unwrap(), b"layer data");
    let hl = fs::symlink_metadata(root.join("hl")).unwrap();
    assert!(hl.file_type().is_symlink());
    assert_eq!(
        hl.ino(),
        fs::symlink_metadata(root.join("evil")).unwrap().ino()
    );
    assert_ne!(hl.ino(), fs::metadata(&secret).unwrap().ino());
}

#[test]
fn hardlinks_out_of_the_root_are_refused_or_contained() {
    let (outer, root) = roots();
    let secret = outer.path().join("secret");
    fs::write(&secret, b"host").unwrap();
    for target in ["../../outside", "../secret", "a/../../secret"] {
        let bytes = Tar::new().hardlink("l", target).bytes();
        let e = apply_tar(&root, &bytes[..], &OVERLAY).unwrap_err();
        assert!(
            matches!(&e, ApplyError::LinkBreakout { target: t, .. } if t == target),
            "{target}: {e}"
        );
    }
    // Through a symlinked parent: resolved inside the root, where there is
    // no such file, so the link fails instead of reaching the host's file.
    let bytes = Tar::new()
        .symlink("up", outer.path().to_str().unwrap())
        .hardlink("l", "up/secret")
        .bytes();
    let e = apply_tar(&root, &bytes[..], &OVERLAY).unwrap_err();
    assert!(
        matches!(
            &e,
            ApplyError::Entry {
                op: "resolve hardlink target" | "create hardlink",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);
}

#[test]
fn overlay_whiteouts_become_devices_and_opaque_xattrs() {
    let (_o, root) = roots();
    let bytes = Tar::new()
        .file(".wh.gone", b"")
        .dir("d/")
        .file("d/.wh..wh..opq", b"")
        .file("d/new", b"n")
        .file("d/.wh..wh.plnk", b"")
        .bytes();
    apply_tar(&root, &bytes[..], &OVERLAY).unwrap();
    let gone = fs::symlink_metadata(root.join("gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert_eq!(
        xattr(&root.join("d"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert_eq!(tree(&root), vec!["d", "d/new", "gone"]);
}

#[test]
fn delete_mode_removes_whited_out_and_opaque_content() {
    let (_o, root) = roots();
    fs::create_dir_all(root.join("d/sub")).unwrap();
    fs::write(root.join("d/lower"), b"l").unwrap();
    fs::write(root.join("old"), b"o").unwrap();
    fs::write(root.join("kept"), b"k").unwrap();
    let bytes = Tar::new()
        .file(".wh.old", b"")
        .dir("d/")
        .file("d/new", b"n")
        .file("d/.wh..wh..opq", b"")
        .bytes();
    apply_tar(&root, &bytes[..], &DELETE).unwrap();
    assert_eq!(tree(&root), vec!["d", "d/new", "kept"]);
}

#[test]
fn planted_overlay_xattrs_are_dropped() {
    let (_o, root) = roots();
    let bytes = Tar::new()
        .pax(&[("SCHILY.xattr.trusted.overlay.redirect", b"/etc")])
        .dir("r/")
        .bytes();
    apply_tar(&root, &bytes[..], &OVERLAY).unwrap();
    assert!(root.join("r").is_dir());
    assert_eq!(xattr(&root.join("r"), "trusted.overlay.redirect"), None);
}

fn sample() -> Vec<u8> {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    Tar::new()
        .dir("bin/")
        .file("bin/tool", &big)
        .file("etc/conf", b"k=v\n")
        .bytes()
}

#[test]
fn gzip_multi_member_and_zstd_layers_give_the_uncompressed_diff_id() {
    let tar = sample();
    let want = Digest::of(&tar);
    // Two gzip members back to back, as pigz-style writers produce.
    let mut gz = Vec::new();
    for half in [&tar[..10_000], &tar[10_000..]] {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(half).unwrap();
        gz.extend(enc.finish().unwrap());
    }
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    for (blob, c) in [
        (&gz, Compression::Gzip),
        (&zst, Compression::Zstd),
        (&tar, Compression::None),
    ] {
        let (_o, root) = roots();
        assert_eq!(Compression::detect(blob), c);
        let a = apply_layer(&root, &blob[..], c, &OVERLAY).unwrap();
        assert_eq!(a.diff_id, want, "{c:?}");
        assert_eq!(fs::read(root.join("etc/conf")).unwrap(), b"k=v\n");
        assert_eq!(fs::metadata(root.join("bin/tool")).unwrap().len(), 200_000);
    }
}

#[test]
fn truncated_layers_are_read_errors() {
    let tar = sample();
    let (_o, root) = roots();
    // Cut inside the big file's data.
    let e = apply_tar(&root, &tar[..100_000], &OVERLAY).unwrap_err();
    assert!(matches!(e, ApplyError::Read(_)), "{e}");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&tar).unwrap();
    let gz = enc.finish().unwrap();
    let (_o, root) = roots();
    let e = apply_layer(&root, &gz[..gz.len() - 4], Compression::Gzip, &OVERLAY).unwrap_err();
    assert!(matches!(e, ApplyError::Read(_)), "{e}");
}

#[test]
fn a_directory_replaces_a_file_and_a_file_replaces_a_directory() {
    let (_o, root) = roots();
    fs::create_dir_all(root.join("x/deep")).unwrap();
    fs::write(root.join("y"), b"file").unwrap();
    let bytes = Tar::new().file("x", b"now a file").dir("y/").bytes();
    apply_tar(&root, &bytes[..], &DELETE).unwrap();
    assert_eq!(fs::read(root.join("x")).unwrap(), b"now a file");
    assert!(fs::metadata(root.join("y")).unwrap().is_dir());
    let p = fs::metadata(root.join("y")).unwrap().permissions();
    assert_eq!(p.mode() & 0o777, 0o755);
}
