use super::*;

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
    let t = locate(&root, &p, "c").unwrap();
    let st = path_stat(&root, &p, &t).unwrap();
    assert_eq!(st.link_target, "/etc/passwd");
    assert_ne!(st.mode & file_mode::SYMLINK, 0);
    assert!(matches!(
        locate(&root, &ArchivePath::parse("/nope").unwrap(), "c"),
        Err(ArchiveError::NotFound { .. })
    ));
    assert!(matches!(
        locate(&root, &ArchivePath::parse("/etc/passwd/").unwrap(), "c"),
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
    let target = locate(&root, &p, "c").unwrap();
    let mut w = TarWriter::new(Vec::new());
    w.add(&target.parent, &target.name, &p.name).unwrap();
    let tar = w.finish().unwrap();

    let dst = t.path().join("dst");
    std::fs::create_dir_all(&dst).unwrap();
    let dfd = open_root(&dst).unwrap();
    super::super::extract::extract(dfd.as_fd(), &tar[..], &ExtractOptions::default(), None)
        .unwrap();
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
        super::super::extract::extract(dfd.as_fd(), &tar2[..], &opts, None),
        Err(ArchiveError::DirWithNonDir { .. })
    ));
    // A file through the symlink lands inside the destination.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = file_header();
    std::os::unix::fs::symlink("/", dst.join("up")).unwrap();
    b.append_data(&mut h, "up/escaped", &b"x"[..]).unwrap();
    let tar3 = b.into_inner().unwrap();
    super::super::extract::extract(dfd.as_fd(), &tar3[..], &opts, None).unwrap();
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
    let target = locate(&root, &p, "c").unwrap();
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
