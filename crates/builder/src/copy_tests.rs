use std::os::unix::fs::MetadataExt;

use super::*;

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

fn plan(dest: &str) -> CopyPlan {
    CopyPlan {
        dest: dest.to_string(),
        owner: (0, 0),
        chmod: None,
        unpack_archives: false,
        keyword: "COPY",
    }
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn dest_normalization() {
    assert_eq!(normalize_dest("/app", "."), "/app/");
    assert_eq!(normalize_dest("/app", "x"), "/app/x");
    assert_eq!(normalize_dest("/app", "x/"), "/app/x/");
    assert_eq!(normalize_dest("/app", "/abs//y/.."), "/abs");
    assert_eq!(normalize_dest("", "."), "/");
    assert_eq!(normalize_dest("/", "/"), "/");
}

#[test]
fn sources_globs_and_escapes() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "a.txt", "a");
    write(src.path(), "b.txt", "b");
    write(src.path(), "c.md", "c");
    write(src.path(), "d/e.txt", "e");
    let root = SourceRoot::Rootfs(src.path());
    let names = |v: Vec<Source>| -> Vec<String> {
        v.iter()
            .map(|s| match s {
                Source::Path { rel, .. } => rel.clone(),
                Source::Content { name, .. } => name.clone(),
            })
            .collect()
    };
    assert_eq!(
        names(resolve_sources(root, &words(&["*.txt"])).unwrap()),
        ["a.txt", "b.txt"]
    );
    assert_eq!(
        names(resolve_sources(root, &words(&["d/*.txt"])).unwrap()),
        ["d/e.txt"]
    );
    assert_eq!(
        names(resolve_sources(root, &words(&["?.md", "/d"])).unwrap()),
        ["c.md", "d"]
    );
    assert!(matches!(
        resolve_sources(root, &words(&["*.none"])).unwrap_err(),
        CopyError::NoSources
    ));
    let e = resolve_sources(root, &words(&["../x"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "forbidden path outside the build context: ../x ()"
    );
    let e = resolve_sources(root, &words(&["nope"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "file not found in build context or excluded by .dockerignore: stat nope: file does not exist"
    );
    // A path that climbs and comes back stays inside.
    assert_eq!(
        names(resolve_sources(root, &words(&["d/../a.txt"])).unwrap()),
        ["a.txt"]
    );
}

#[test]
fn context_sources_obey_dockerignore() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("Dockerfile", "FROM x\n"),
        (".dockerignore", "secret*\nd/skip\n"),
        ("secret.txt", "s"),
        ("d/keep", "k"),
        ("d/skip", "x"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_bytes()).unwrap();
    }
    let t = b.into_inner().unwrap();
    let ctx = Context::unpack(&t[..], tmp.path(), "").unwrap();
    let root = SourceRoot::Context(&ctx);
    assert!(matches!(
        resolve_sources(root, &words(&["secret.txt"])).unwrap_err(),
        CopyError::NotFound(_)
    ));
    assert!(matches!(
        resolve_sources(root, &words(&["secret*"])).unwrap_err(),
        CopyError::NoSources
    ));
    let rootfs = tempfile::tempdir().unwrap();
    let s = resolve_sources(root, &words(&["."])).unwrap();
    perform(rootfs.path(), root, &plan("/out/"), &s).unwrap();
    assert_eq!(read(rootfs.path(), "out/d/keep"), "k");
    assert!(!rootfs.path().join("out/d/skip").exists());
    assert!(!rootfs.path().join("out/secret.txt").exists());
    assert!(rootfs.path().join("out/Dockerfile").exists());
}

#[test]
fn checksums_follow_content_and_mode_not_times() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "d/f", "one");
    let root = SourceRoot::Rootfs(src.path());
    let sum = || checksum(root, &resolve_sources(root, &words(&["d"])).unwrap()).unwrap();
    let first = sum();
    assert!(first.starts_with("dir:"), "{first}");
    let f = std::fs::File::options()
        .write(true)
        .open(src.path().join("d/f"))
        .unwrap();
    f.set_modified(std::time::UNIX_EPOCH).unwrap();
    assert_eq!(sum(), first, "a touch does not change it");
    write(src.path(), "d/f", "two");
    let second = sum();
    assert_ne!(second, first);
    std::fs::set_permissions(
        src.path().join("d/f"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    assert_ne!(sum(), second);
    write(src.path(), "x", "");
    let s = resolve_sources(root, &words(&["x"])).unwrap();
    assert!(checksum(root, &s).unwrap().starts_with("file:"));
    let s = resolve_sources(root, &words(&["x", "d"])).unwrap();
    assert!(checksum(root, &s).unwrap().starts_with("multi:"));
}

#[test]
fn destination_rules() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "a", "A");
    write(src.path(), "b", "B");
    let root = SourceRoot::Rootfs(src.path());
    let rootfs = tempfile::tempdir().unwrap();
    std::fs::create_dir(rootfs.path().join("existing")).unwrap();
    let one = resolve_sources(root, &words(&["a"])).unwrap();
    perform(rootfs.path(), root, &plan("/renamed"), &one).unwrap();
    assert_eq!(read(rootfs.path(), "renamed"), "A");
    perform(rootfs.path(), root, &plan("/existing"), &one).unwrap();
    assert_eq!(
        read(rootfs.path(), "existing/a"),
        "A",
        "into an existing dir"
    );
    perform(rootfs.path(), root, &plan("/new/dir/"), &one).unwrap();
    assert_eq!(read(rootfs.path(), "new/dir/a"), "A");
    let m = std::fs::metadata(rootfs.path().join("new")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o755);
    let two = resolve_sources(root, &words(&["a", "b"])).unwrap();
    let e = perform(rootfs.path(), root, &plan("/multi"), &two).unwrap_err();
    assert_eq!(
        e.to_string(),
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    perform(rootfs.path(), root, &plan("/multi/"), &two).unwrap();
    assert_eq!(read(rootfs.path(), "multi/b"), "B");
    let e = perform(rootfs.path(), root, &plan("/renamed/x"), &one).unwrap_err();
    assert!(matches!(e, CopyError::NotADirectory(_)), "{e}");
}

#[test]
fn owner_mode_and_times() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "d/f", "x");
    std::fs::set_permissions(
        src.path().join("d/f"),
        std::fs::Permissions::from_mode(0o751),
    )
    .unwrap();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(src.path().join("d/f"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    std::os::unix::fs::symlink("f", src.path().join("d/link")).unwrap();
    let root = SourceRoot::Rootfs(src.path());
    let rootfs = tempfile::tempdir().unwrap();
    let s = resolve_sources(root, &words(&["d"])).unwrap();
    let mut p = plan("/o/");
    p.owner = (1234, 5678);
    perform(rootfs.path(), root, &p, &s).unwrap();
    let m = std::fs::metadata(rootfs.path().join("o/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    assert_eq!(m.mode() & 0o7777, 0o751);
    assert_eq!(m.mtime(), 1_000_000);
    let o = std::fs::metadata(rootfs.path().join("o")).unwrap();
    assert_eq!(
        (o.uid(), o.gid()),
        (1234, 5678),
        "created dirs get the owner"
    );
    assert_eq!(
        std::fs::read_link(rootfs.path().join("o/link")).unwrap(),
        Path::new("f")
    );
    p.chmod = Some(0o600);
    perform(rootfs.path(), root, &p, &s).unwrap();
    let m = std::fs::metadata(rootfs.path().join("o/f")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600);
}

#[test]
fn symlinks_in_the_rootfs_stay_inside() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "f", "inside");
    let root = SourceRoot::Rootfs(src.path());
    let rootfs = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), rootfs.path().join("esc")).unwrap();
    let s = resolve_sources(root, &words(&["f"])).unwrap();
    perform(rootfs.path(), root, &plan("/esc/"), &s).unwrap();
    assert!(
        !outside.path().join("f").exists(),
        "nothing written outside"
    );
    let inner = outside.path().strip_prefix("/").unwrap();
    assert_eq!(
        read(rootfs.path(), &format!("{}/f", inner.display())),
        "inside"
    );
}

#[test]
fn owners_by_name() {
    let rootfs = tempfile::tempdir().unwrap();
    write(
        rootfs.path(),
        "etc/passwd",
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
    );
    write(rootfs.path(), "etc/group", "root:x:0:\nstaff:x:50:\n");
    let r = rootfs.path();
    assert_eq!(resolve_owner(r, "app").unwrap(), (1000, 1001));
    assert_eq!(resolve_owner(r, "app:staff").unwrap(), (1000, 50));
    assert_eq!(resolve_owner(r, "7:8").unwrap(), (7, 8));
    assert_eq!(resolve_owner(r, "7").unwrap(), (7, 7));
    assert_eq!(
        resolve_owner(r, "nobody").unwrap_err().to_string(),
        "unable to find user nobody: no matching entries in passwd file"
    );
    assert!(matches!(
        resolve_owner(r, "app:nogroup").unwrap_err(),
        CopyError::NoGroup(_)
    ));
}

#[test]
fn add_unpacks_local_archives() {
    let src = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    b.append_data(&mut h, "in/tar.txt", &b"hi"[..]).unwrap();
    let t = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&t).unwrap();
    std::fs::write(src.path().join("a.tar.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(src.path().join("plain.tar"), &t).unwrap();
    let root = SourceRoot::Rootfs(src.path());
    let rootfs = tempfile::tempdir().unwrap();
    let mut p = plan("/x");
    p.unpack_archives = true;
    p.keyword = "ADD";
    let s = resolve_sources(root, &words(&["a.tar.gz"])).unwrap();
    perform(rootfs.path(), root, &p, &s).unwrap();
    assert_eq!(read(rootfs.path(), "x/in/tar.txt"), "hi");
    let s = resolve_sources(root, &words(&["plain.tar"])).unwrap();
    perform(rootfs.path(), root, &plan("/y/"), &s).unwrap();
    assert!(
        rootfs.path().join("y/plain.tar").is_file(),
        "COPY never unpacks"
    );
}
