use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use super::*;
use crate::containers::extract::extract;
use view::FsView;

fn none() -> HashSet<u64> {
    HashSet::new()
}

fn ap(p: &str) -> (String, String, String, String) {
    let a = ArchivePath::parse(p).unwrap();
    (a.abs, a.dir, a.base, a.name)
}

#[test]
fn docker_path_rules_keep_trailing_slash_and_dot() {
    let s = |v: &str| v.to_string();
    assert_eq!(ap("tmp/x"), (s("/tmp/x"), s("/tmp/"), s("x"), s("x")));
    assert_eq!(ap("/tmp/"), (s("/tmp/"), s("/tmp/"), s(""), s("tmp")));
    assert_eq!(ap("/tmp/."), (s("/tmp/."), s("/tmp/"), s("."), s(".")));
    assert_eq!(ap("/a/../../b"), (s("/b"), s("/"), s("b"), s("b")));
    assert_eq!(ap("/"), (s("/"), s("/"), s(""), s("/")));
    assert!(ArchivePath::parse("").is_err());
}

#[test]
fn symlinks_resolve_inside_the_root() {
    let t = tempfile::tempdir().unwrap();
    let root_path = t.path();
    std::fs::create_dir_all(root_path.join("etc")).unwrap();
    std::fs::write(root_path.join("etc/passwd"), "container\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root_path.join("x")).unwrap();
    std::os::unix::fs::symlink("../../..", root_path.join("etc/up")).unwrap();
    let root = open_root(root_path).unwrap();
    assert_eq!(resolve_in_root(&root, "/x").unwrap(), "/etc/passwd");
    assert_eq!(
        resolve_in_root(&root, "/etc/up/etc/passwd").unwrap(),
        "/etc/passwd"
    );
    let fd = open_in_root(&root, "/etc/up/x", OFlags::RDONLY).unwrap();
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).unwrap();
    assert_eq!(text, "container\n");
    // The stat of a symlink is of the link, with the resolved target.
    let p = ArchivePath::parse("/x").unwrap();
    let t = locate(&root, &none(), &p, "c").unwrap();
    let st = path_stat(&root, &p, &t).unwrap();
    assert_eq!(st.link_target, "/etc/passwd");
    assert_ne!(st.mode & file_mode::SYMLINK, 0);
    assert!(matches!(
        locate(&root, &none(), &ArchivePath::parse("/nope").unwrap(), "c"),
        Err(ArchiveError::NotFound { .. })
    ));
    assert!(matches!(
        locate(
            &root,
            &none(),
            &ArchivePath::parse("/etc/passwd/").unwrap(),
            "c"
        ),
        Err(ArchiveError::TrailingSlashNotDir { .. })
    ));
}

#[test]
fn tar_of_a_tree_extracts_back_and_refuses_dir_nondir_swaps() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("d/sub")).unwrap();
    std::fs::write(src.join("d/f"), "hello").unwrap();
    std::fs::hard_link(src.join("d/f"), src.join("d/h")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", src.join("d/l")).unwrap();
    let root = open_root(&src).unwrap();
    let p = ArchivePath::parse("/d").unwrap();
    let target = locate(&root, &none(), &p, "c").unwrap();
    let mut w = TarWriter::new(Vec::new());
    w.add(&target.parent, &target.name, &p.name).unwrap();
    let tar = w.finish().unwrap();

    let dst = t.path().join("dst");
    std::fs::create_dir_all(&dst).unwrap();
    let dfd = open_root(&dst).unwrap();
    let hidden = none();
    let scope = Scope {
        root: dfd.as_fd(),
        hidden: &hidden,
    };
    extract(&scope, "/", &tar[..], &ExtractOptions::default(), None).unwrap();
    assert_eq!(std::fs::read_to_string(dst.join("d/f")).unwrap(), "hello");
    assert_eq!(
        std::fs::read_link(dst.join("d/l")).unwrap(),
        Path::new("/etc/shadow")
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(dst.join("d/f")).unwrap().ino(),
        std::fs::metadata(dst.join("d/h")).unwrap().ino()
    );
    assert!(dst.join("d/sub").is_dir());

    // A directory where the archive has a file: refused with the option.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = file_header();
    b.append_data(&mut h, "d/sub", &b"x"[..]).unwrap();
    let tar2 = b.into_inner().unwrap();
    let opts = ExtractOptions {
        no_overwrite_dir_non_dir: true,
        copy_uid_gid: false,
    };
    assert!(matches!(
        extract(&scope, "/", &tar2[..], &opts, None),
        Err(ArchiveError::DirWithNonDir { .. })
    ));
    // A file through the symlink lands inside the destination.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = file_header();
    std::os::unix::fs::symlink("/", dst.join("up")).unwrap();
    b.append_data(&mut h, "up/escaped", &b"x"[..]).unwrap();
    let tar3 = b.into_inner().unwrap();
    extract(&scope, "/", &tar3[..], &opts, None).unwrap();
    assert!(dst.join("escaped").is_file());
    assert!(!Path::new("/escaped").exists());
}

fn file_header() -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

#[test]
fn dot_entries_keep_their_prefix_and_long_names_survive() {
    let t = tempfile::tempdir().unwrap();
    let long = "n".repeat(150);
    std::fs::create_dir_all(t.path().join("d")).unwrap();
    std::fs::write(t.path().join("d").join(&long), "x").unwrap();
    std::os::unix::fs::symlink(&long, t.path().join("d/l")).unwrap();
    let root = open_root(t.path()).unwrap();
    let p = ArchivePath::parse("/d/.").unwrap();
    let target = locate(&root, &none(), &p, "c").unwrap();
    let mut w = TarWriter::new(Vec::new());
    w.add(&target.parent, &target.name, &p.name).unwrap();
    let tar = w.finish().unwrap();
    let mut a = tar::Archive::new(&tar[..]);
    let mut names = Vec::new();
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        names.push((String::from_utf8_lossy(&e.path_bytes()).into_owned(), link));
    }
    assert_eq!(
        names,
        vec![
            ("./".to_string(), None),
            ("./l".to_string(), Some(long.clone())),
            (format!("./{long}"), None),
        ]
    );
}

/// Appends an entry with exactly these name and link bytes (the builder's
/// own setters refuse `..`, which the tests need).
fn raw(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, name: &str, link: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    let old = h.as_old_mut();
    old.name[..name.len()].copy_from_slice(name.as_bytes());
    old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn extraction_resolves_every_component_in_the_container_root() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir_all(root.join("tmp/dst")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    // Symlinks the container has, in parent positions of the entries.
    std::os::unix::fs::symlink("/", root.join("tmp/dst/toroot")).unwrap();
    std::os::unix::fs::symlink("../../..", root.join("tmp/dst/updots")).unwrap();
    let rfd = open_root(&root).unwrap();
    let hidden = none();
    let scope = Scope {
        root: rfd.as_fd(),
        hidden: &hidden,
    };
    let opts = ExtractOptions::default();
    let mut b = tar::Builder::new(Vec::new());
    raw(
        &mut b,
        tar::EntryType::Regular,
        "toroot/etc/via-abs",
        "",
        b"a",
    );
    raw(&mut b, tar::EntryType::Regular, "updots/via-dots", "", b"d");
    // An absolute symlink from the archive, then an entry through it.
    raw(&mut b, tar::EntryType::Symlink, "abs", "/", b"");
    raw(&mut b, tar::EntryType::Regular, "abs/through-abs", "", b"t");
    // An absolute entry name counts from the destination.
    raw(&mut b, tar::EntryType::Regular, "/named-abs", "", b"n");
    let tar = b.into_inner().unwrap();
    extract(&scope, "/tmp/dst", &tar[..], &opts, None).unwrap();
    // The container's symlinks resolve at the container's root (where
    // the container sees them lead), not at the destination.
    assert_eq!(std::fs::read(root.join("etc/via-abs")).unwrap(), b"a");
    assert_eq!(std::fs::read(root.join("via-dots")).unwrap(), b"d");
    assert_eq!(std::fs::read(root.join("through-abs")).unwrap(), b"t");
    assert_eq!(std::fs::read(root.join("tmp/dst/named-abs")).unwrap(), b"n");
    assert_eq!(
        std::fs::read_link(root.join("tmp/dst/abs")).unwrap(),
        Path::new("/")
    );
    // Nothing outside the root.
    assert_eq!(
        tree(outer.path())
            .iter()
            .filter(|p| !p.starts_with("root"))
            .count(),
        0
    );
    assert!(!Path::new("/through-abs").exists() && !Path::new("/via-dots").exists());

    // `..` above the destination, a relative symlink above it, a hardlink
    // to above it: docker's breakout errors, nothing written.
    let before = tree(outer.path());
    let cases: [(tar::EntryType, &str, &str, &str); 4] = [
        (
            tar::EntryType::Regular,
            "../escape",
            "",
            r#""../escape" is outside of "/tmp/dst""#,
        ),
        (
            tar::EntryType::Regular,
            "sub/../../escape",
            "",
            r#""sub/../../escape" is outside of "/tmp/dst""#,
        ),
        (
            tar::EntryType::Symlink,
            "rel",
            "../../..",
            r#"invalid symlink "/tmp/dst/rel" -> "../../..""#,
        ),
        (
            tar::EntryType::Link,
            "hard",
            "../../etc/via-abs",
            r#"invalid hardlink "/tmp/dst/hard" -> "../../etc/via-abs""#,
        ),
    ];
    for (kind, name, link, message) in cases {
        let mut b = tar::Builder::new(Vec::new());
        raw(&mut b, kind, name, link, b"");
        let tar = b.into_inner().unwrap();
        let e = extract(&scope, "/tmp/dst", &tar[..], &opts, None).unwrap_err();
        assert_eq!(e.to_string(), message);
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(tree(outer.path()), before, "{name} changed the tree");
    }
}

#[test]
fn writes_go_to_the_deepest_mount_and_read_only_ones_refuse() {
    let point = |dest: &str, rw: bool| MountPoint {
        r#type: "volume".into(),
        destination: dest.into(),
        rw,
        ..MountPoint::default()
    };
    let points = [
        point("/data", true),
        point("/data/inner", false),
        point("/ro/", false),
    ];
    let check = |abs: &str, ro_root: bool| check_writable(&points, ro_root, abs);
    assert!(check("/data", true).is_ok());
    assert!(check("/data/x/y", false).is_ok());
    for abs in ["/ro", "/ro/sub", "/data/inner", "/data/inner/x"] {
        let e = check(abs, false).unwrap_err();
        assert_eq!(e.to_string(), "mounted volume is marked read-only", "{abs}");
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
    }
    for abs in ["/", "/etc", "/database", "/rox"] {
        assert!(check(abs, false).is_ok(), "{abs}");
        let e = check(abs, true).unwrap_err();
        assert_eq!(e.to_string(), "container rootfs is marked read-only");
    }
}

#[test]
fn a_stopped_view_mounts_what_start_would() {
    let bind = |source: &str, dest: &str, rw: bool| MountPoint {
        r#type: "bind".into(),
        source: source.into(),
        destination: dest.into(),
        rw,
        ..MountPoint::default()
    };
    let points = vec![
        bind("/host/data", "/data", true),
        MountPoint {
            r#type: "volume".into(),
            name: "vol1".into(),
            destination: "/data/vol/".into(),
            rw: false,
            ..MountPoint::default()
        },
        bind("/host/hosts", "/etc/hosts", true),
        bind("/host/shadowed", "/scratch", true),
        MountPoint {
            r#type: "tmpfs".into(),
            destination: "/t".into(),
            rw: true,
            tmpfs_data: "ro,size=1m,mode=700".into(),
            ..MountPoint::default()
        },
    ];
    let tmpfs = BTreeMap::from([("/scratch".to_string(), "rw,noexec,size=64k".to_string())]);
    let m = view::Mounts {
        points: &points,
        tmpfs: &tmpfs,
        network_files: [
            ("/etc/resolv.conf", "/c/resolv.conf"),
            ("/etc/hostname", ""),
            ("/etc/hosts", "/c/hosts"),
        ],
        readonly_rootfs: true,
    };
    let planned = view::plan(&m, &|n| PathBuf::from(format!("/volumes/{n}/_data")));
    let b = |p: &str, recursive: bool| view::Source::Bind {
        path: PathBuf::from(p),
        recursive,
    };
    let t = |o: &[(&str, &str)]| view::Source::Tmpfs {
        options: o
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let got: Vec<(&str, &view::Source, bool)> = planned
        .iter()
        .map(|p| (p.destination.as_str(), &p.source, p.readonly))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/data", &b("/host/data", true), false),
            ("/scratch", &t(&[("size", "64k")]), false),
            ("/t", &t(&[("size", "1m"), ("mode", "700")]), true),
            // A bind replaces the network file; the others follow the
            // rootfs' read-only flag.
            ("/data/vol", &b("/volumes/vol1/_data", true), true),
            ("/etc/hosts", &b("/host/hosts", true), false),
            ("/etc/resolv.conf", &b("/c/resolv.conf", false), true),
        ]
    );
}

#[test]
fn mounts_outside_the_shown_ones_are_hidden() {
    let mountinfo = "\
100 90 0:50 / / rw,relatime - overlay overlay rw
101 100 0:51 / /proc rw - proc proc rw
102 100 0:52 / /dev rw - tmpfs tmpfs rw
103 102 0:53 / /dev/pts rw - devpts devpts rw
104 100 0:54 / /sys ro - sysfs sysfs ro
105 100 8:1 /vols/a /data rw - ext4 /dev/sda1 rw
106 105 0:55 / /data/sub rw - tmpfs tmpfs rw
107 100 8:1 /c/hosts /etc/hosts rw - ext4 /dev/sda1 rw
108 100 0:56 / /database rw - tmpfs tmpfs rw
109 100 0:57 / /with\\040space rw - tmpfs tmpfs rw
110 101 0:58 / /proc/kcore rw - tmpfs tmpfs rw
";
    let shown = vec![
        "/data".to_string(),
        "/etc/hosts".to_string(),
        "/with space".to_string(),
    ];
    let hidden = view::hidden_mounts(mountinfo, &shown);
    let mut ids: Vec<u64> = hidden.into_iter().collect();
    ids.sort();
    assert_eq!(ids, vec![101, 102, 103, 104, 108, 110]);
    // An export shows the root mount only.
    assert_eq!(view::hidden_mounts(mountinfo, &[]).len(), 10);
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        raw(&mut b, tar::EntryType::Regular, name, "", data);
    }
    b.into_inner().unwrap()
}

fn read_in(v: &FsView, path: &str) -> Result<String, Errno> {
    let fd = open_in_root(v.root(), path, OFlags::RDONLY)?;
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    Ok(s)
}

fn names_of(v: &FsView, path: &str) -> Vec<String> {
    let p = ArchivePath::parse(path).unwrap();
    let t = locate(v.root(), v.hidden(), &p, "c").unwrap();
    let mut w = TarWriter::new(Vec::new()).hiding(v.hidden());
    let arch = if p.name == "/" { "." } else { p.name.as_str() };
    w.add(&t.parent, &t.name, arch).unwrap();
    let tar = w.finish().unwrap();
    let mut a = tar::Archive::new(&tar[..]);
    a.entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect()
}

fn extract_in(v: &FsView, dest: &str, tar: &[u8]) -> Result<(), ArchiveError> {
    let scope = Scope {
        root: v.root().as_fd(),
        hidden: v.hidden(),
    };
    extract(&scope, dest, tar, &ExtractOptions::default(), None)
}

#[test]
fn a_stopped_view_reads_and_writes_the_containers_mounts() {
    if !testkit::require_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = |s: &str| t.path().join(s);
    for d in ["lower/etc", "lower/data", "vol", "rodir", "rootfs"] {
        std::fs::create_dir_all(p(d)).unwrap();
    }
    std::fs::write(p("lower/data/layer-file"), "layer").unwrap();
    std::fs::write(p("lower/etc/hosts"), "layer hosts").unwrap();
    std::fs::write(p("vol/in-volume"), "volume").unwrap();
    std::fs::write(p("rodir/ro-file"), "ro").unwrap();
    std::fs::write(p("hosts"), "127.0.0.1 c\n").unwrap();
    let planned = |source: view::Source, destination: &str, readonly: bool| view::Planned {
        destination: destination.into(),
        source,
        readonly,
    };
    let bind = |s: &str| view::Source::Bind {
        path: p(s),
        recursive: true,
    };
    let plan = vec![
        planned(bind("vol"), "/data", false),
        planned(bind("rodir"), "/ro", true),
        planned(
            view::Source::Tmpfs {
                options: vec![("size".into(), "1m".into())],
            },
            "/scratch",
            false,
        ),
        planned(bind("hosts"), "/etc/hosts", false),
    ];
    // The rootfs: a bind of a directory stands for the snapshot's overlay.
    let rootfs = vec![berth_snapshots::mount::Mount::bind(p("lower"), false)];
    let v = view::open_stopped(&p("rootfs"), rootfs.clone(), plan.clone(), false).unwrap();
    // The host's mount table has none of the view's mounts.
    assert!(!rootfs::is_mounted(&p("rootfs")));
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host_mounts.contains(&t.path().display().to_string()));

    assert_eq!(read_in(&v, "/data/in-volume").unwrap(), "volume");
    assert_eq!(read_in(&v, "/data/layer-file"), Err(Errno::NOENT));
    assert_eq!(read_in(&v, "/etc/hosts").unwrap(), "127.0.0.1 c\n");
    let names = names_of(&v, "/");
    for want in ["./data/in-volume", "./ro/ro-file", "./etc/hosts"] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("layer-file")), "{names:?}");

    extract_in(&v, "/data", &tar_of(&[("new", b"n")])).unwrap();
    assert_eq!(std::fs::read(p("vol/new")).unwrap(), b"n");
    assert!(!p("lower/data/new").exists());
    extract_in(&v, "/scratch", &tar_of(&[("s", b"s")])).unwrap();
    assert_eq!(read_in(&v, "/scratch/s").unwrap(), "s");
    match extract_in(&v, "/ro", &tar_of(&[("x", b"x")])) {
        Err(ArchiveError::Io { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::EROFS))
        }
        other => panic!("write into a read-only bind: {other:?}"),
    }
    assert!(!p("rodir/x").exists());
    drop(v);
    // The tmpfs went with the view; its mount point stayed in the layer.
    assert!(p("lower/scratch").is_dir());
    assert_eq!(tree(&p("lower/scratch")), Vec::<String>::new());

    // A read-only rootfs: the layer refuses, the mounts do not.
    let v = view::open_stopped(&p("rootfs"), rootfs, plan, true).unwrap();
    extract_in(&v, "/data", &tar_of(&[("second", b"2")])).unwrap();
    assert!(p("vol/second").exists());
    assert!(matches!(
        extract_in(&v, "/etc", &tar_of(&[("x", b"x")])),
        Err(ArchiveError::Io { .. })
    ));
    assert!(!p("lower/etc/x").exists());
}

/// A process in a mount namespace of its own, chrooted into `root`, with
/// tmpfs mounts at `/data` and `/hid`: a stand-in for a running container.
struct Chrooted {
    child: std::process::Child,
}

impl Chrooted {
    fn start(root: &Path) -> Chrooted {
        for d in ["bin", "data", "hid"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy("/usr/bin/busybox", root.join("bin/busybox")).unwrap();
        let r = root.display();
        let script = format!(
            "mount -t tmpfs t {r}/data && echo vol > {r}/data/f && \
             mount -t tmpfs t {r}/hid && echo secret > {r}/hid/x && \
             exec chroot {r} /bin/busybox sleep 1000"
        );
        let child = std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .spawn()
            .unwrap();
        let link = format!("/proc/{}/root", child.id());
        let deadline = std::time::Instant::now() + testkit::HANG_GUARD;
        while std::fs::read_link(&link).ok().as_deref() != Some(root) {
            assert!(std::time::Instant::now() < deadline, "never chrooted");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Chrooted { child }
    }
}

impl Drop for Chrooted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_running_view_is_the_containers_own_and_hides_the_other_mounts() {
    if !testkit::require_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("c");
    let mut c = Chrooted::start(&root);
    let pid = c.child.id() as i32;
    let v = view::open_running(pid, &["/data".to_string()])
        .unwrap()
        .expect("the process runs");
    // Its tmpfs, not the directory beneath it.
    assert_eq!(read_in(&v, "/data/f").unwrap(), "vol\n");
    assert!(!root.join("data/f").exists());
    // A hidden mount: its root is an empty directory, its content absent.
    let hid = ArchivePath::parse("/hid").unwrap();
    assert!(locate(v.root(), v.hidden(), &hid, "c").is_ok());
    let inside = ArchivePath::parse("/hid/x").unwrap();
    assert!(matches!(
        locate(v.root(), v.hidden(), &inside, "c"),
        Err(ArchiveError::NotFound { .. })
    ));
    let names = names_of(&v, "/");
    assert!(names.iter().any(|n| n == "./data/f"), "{names:?}");
    assert!(names.iter().any(|n| n == "./hid/"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("./hid/x")), "{names:?}");
    // Writes land in the container's mounts; on a hidden one, nowhere.
    extract_in(&v, "/", &tar_of(&[("data/g", b"g"), ("hid/y", b"y")])).unwrap();
    let proc_root = PathBuf::from(format!("/proc/{pid}/root"));
    assert_eq!(std::fs::read(proc_root.join("data/g")).unwrap(), b"g");
    assert!(!proc_root.join("hid/y").exists());
    assert!(!root.join("hid/y").exists());
    drop(v);
    // A process that is gone has no view.
    c.child.kill().unwrap();
    c.child.wait().unwrap();
    assert!(view::open_running(pid, &[]).unwrap().is_none());
}
