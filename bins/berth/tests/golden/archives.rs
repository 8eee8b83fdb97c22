//! Archives: cp both ways, export, save, load, import, commit.

use std::path::Path;
use std::process::Command;

use crate::harness::{Daemon, ok, same, same_in, same_pair, same_rows, started};

/// The tree below `dir` as `path mode size content-hash` lines, sorted.
fn tree(dir: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("cd \"$1\" && find . -printf '%p %y %m %s\\n' | sort && find . -type f | sort | xargs -r md5sum")
        .arg("sh")
        .arg(dir)
        .output()
        .expect("run find");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `tar -t` of an archive, sorted.
fn listing(tar: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("tar -tf \"$1\" | sort")
        .arg("sh")
        .arg(tar)
        .output()
        .expect("run tar");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn p(x: &Path) -> &str {
    x.to_str().expect("utf-8 path")
}

/// Runs `args` (with `{}` for a per-CLI directory) through both CLIs, each with its
/// own copy of `setup`'s tree, and compares the outputs and the resulting trees.
fn cp_both(d: &Daemon, root: &Path, case: &str, args: &[&str], setup: fn(&Path)) {
    let (bd, kd) = (
        root.join(format!("b-{case}")),
        root.join(format!("k-{case}")),
    );
    for dir in [&bd, &kd] {
        std::fs::create_dir_all(dir).expect("mkdir");
        setup(dir);
    }
    let fill =
        |dir: &Path| -> Vec<String> { args.iter().map(|a| a.replace("{}", p(dir))).collect() };
    let (ba, ka) = (fill(&bd), fill(&kd));
    let ba: Vec<&str> = ba.iter().map(String::as_str).collect();
    let ka: Vec<&str> = ka.iter().map(String::as_str).collect();
    same_pair(d, &ba, &ka, &[(p(&kd), p(&bd))], None);
    assert_eq!(tree(&bd), tree(&kd), "trees after {args:?}");
}

#[test]
fn cp_matches_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    ok(
        &d,
        &[
            "run",
            "--name",
            "src",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /d/sub && echo one > /d/a && echo two > /d/sub/b && ln -s a /d/l && echo f > /f",
        ],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let none: fn(&Path) = |_| {};
    let with_dir: fn(&Path) = |d| std::fs::create_dir_all(d.join("x")).expect("mkdir x");
    let with_file: fn(&Path) = |d| std::fs::write(d.join("x"), "old").expect("write x");
    cp_both(&d, root, "file-new", &["cp", "src:/f", "{}/new"], none);
    cp_both(&d, root, "file-into", &["cp", "src:/f", "{}/x"], with_dir);
    cp_both(&d, root, "file-over", &["cp", "src:/f", "{}/x"], with_file);
    cp_both(&d, root, "dir-new", &["cp", "src:/d", "{}/new"], none);
    cp_both(&d, root, "dir-into", &["cp", "src:/d", "{}/x"], with_dir);
    cp_both(
        &d,
        root,
        "dir-content",
        &["cp", "src:/d/.", "{}/x"],
        with_dir,
    );
    cp_both(
        &d,
        root,
        "dir-over-file",
        &["cp", "src:/d", "{}/x"],
        with_file,
    );
    cp_both(&d, root, "link", &["cp", "src:/d/l", "{}/new"], none);
    cp_both(
        &d,
        root,
        "link-followed",
        &["cp", "-L", "src:/d/l", "{}/new"],
        none,
    );
    cp_both(
        &d,
        root,
        "file-to-dir-path",
        &["cp", "src:/f", "{}/nodir/"],
        none,
    );
    cp_both(&d, root, "no-parent", &["cp", "src:/f", "{}/nodir/x"], none);
    cp_both(&d, root, "missing", &["cp", "src:/nope", "{}/x"], none);
    cp_both(&d, root, "quiet", &["cp", "-q", "src:/f", "{}/q"], none);
    // To the container: twin containers, then their files compared.
    let local = root.join("local");
    std::fs::create_dir_all(local.join("sub")).expect("mkdir");
    std::fs::write(local.join("a"), "A").expect("write");
    std::fs::write(local.join("sub/b"), "B").expect("write");
    ok(&d, &["create", "--name", "bt", "busybox", "true"]);
    ok(&d, &["create", "--name", "kt", "busybox", "true"]);
    let l = p(&local);
    let a = format!("{l}/a");
    let contents = format!("{l}/.");
    let nope = format!("{l}/nope");
    for (src, dst) in [
        (a.as_str(), "/new"),
        (a.as_str(), "/etc"),
        (a.as_str(), "/etc/passwd"),
        (l, "/tree"),
        (contents.as_str(), "/tmp"),
        (a.as_str(), "/nodir/"),
        (nope.as_str(), "/"),
    ] {
        let (bd, kd) = (format!("bt:{dst}"), format!("kt:{dst}"));
        same_pair(
            &d,
            &["cp", src, &bd],
            &["cp", src, &kd],
            &[("kt", "bt")],
            None,
        );
    }
    let tar = root.join("in.tar");
    let st = Command::new("tar")
        .args(["-C", l, "-cf", p(&tar), "a"])
        .status()
        .expect("tar");
    assert!(st.success());
    let input = std::fs::read(&tar).expect("read tar");
    for dst in ["/tmp", "/etc/passwd"] {
        let (bd, kd) = (format!("bt:{dst}"), format!("kt:{dst}"));
        let b = d.cli(crate::harness::berth_bin(), &["cp", "-", &bd], Some(&input));
        let k = d.cli(crate::harness::DOCKER, &["cp", "-", &kd], Some(&input));
        assert_eq!(b.status.code(), k.status.code(), "cp - {dst}");
        assert_eq!(
            String::from_utf8_lossy(&b.stderr).replace("bt:", "kt:"),
            String::from_utf8_lossy(&k.stderr)
        );
    }
    // What landed in each container, through cp to stdout.
    for path in ["/new", "/etc/a", "/etc/passwd", "/tree", "/tmp"] {
        let (bs, ks) = (format!("bt:{path}"), format!("kt:{path}"));
        let b = d.docker(&["cp", &bs, "-"]);
        let k = d.docker(&["cp", &ks, "-"]);
        assert_eq!(b.status.code(), k.status.code(), "{path}");
        let (bl, kl) = (root.join("b.tar"), root.join("k.tar"));
        std::fs::write(&bl, &b.stdout).expect("write");
        std::fs::write(&kl, &k.stdout).expect("write");
        assert_eq!(listing(&bl), listing(&kl), "{path}");
    }
    for args in [
        &["cp", "src:/f", "-"][..],
        &["cp", "nope:/f", "/tmp/x"],
        &["cp", "src:/f", "src:/g"],
        &["cp", "/tmp/a", "/tmp/b"],
        &["cp", "", "src:/"],
        &["cp", "src:/f", ""],
        &["cp", "src:/f", "/dev/null"],
        &["cp", "a"],
    ] {
        same(&d, args);
    }
}

#[test]
fn archives_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    ok(
        &d,
        &[
            "run",
            "--name",
            "ctr",
            "busybox",
            "sh",
            "-c",
            "echo hi > /f",
        ],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let (be, ke) = (root.join("b-export.tar"), root.join("k-export.tar"));
    same_pair(
        &d,
        &["export", "-o", p(&be), "ctr"],
        &["export", "-o", p(&ke), "ctr"],
        &[],
        None,
    );
    assert_eq!(listing(&be), listing(&ke));
    let (bs, ks) = (root.join("b-save.tar"), root.join("k-save.tar"));
    same_pair(
        &d,
        &["save", "-o", p(&bs), "busybox"],
        &["save", "-o", p(&ks), "busybox"],
        &[],
        None,
    );
    assert_eq!(listing(&bs), listing(&ks));
    assert_eq!(
        std::fs::read(&bs).ok(),
        std::fs::read(&ks).ok(),
        "save is deterministic"
    );
    // Bad destinations are refused before anything is written: a device stays a device.
    for args in [
        &["export", "-o", "/dev/null", "ctr"][..],
        &["save", "-o", "/dev/null", "busybox"],
        &["export", "-o", "/nonexistent/x", "ctr"],
        &["save", "-o", "/nonexistent/x", "busybox"],
        &["export", "-o", "/tmp", "ctr"],
        &["export", "nope"],
        &["save", "nope"],
    ] {
        same(&d, args);
    }
    assert!(std::fs::metadata("/dev/null").is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_char_device()
    }));
    // A daemon error leaves the named file empty, as docker's writer does.
    let (bn, kn) = (root.join("b-nope.tar"), root.join("k-nope.tar"));
    same_pair(
        &d,
        &["save", "-o", p(&bn), "nope"],
        &["save", "-o", p(&kn), "nope"],
        &[],
        None,
    );
    assert_eq!(
        std::fs::metadata(&bn).ok().map(|m| m.len()),
        std::fs::metadata(&kn).ok().map(|m| m.len())
    );
    // load, from a file and from stdin, quiet or not.
    let saved = std::fs::read(&bs).expect("read save");
    same(&d, &["load", "-i", p(&bs)]);
    same(&d, &["load", "-q", "-i", p(&bs)]);
    same_in(&d, &["load"], &saved);
    same_in(&d, &["image", "load", "-q"], &saved);
    same(&d, &["load", "-i", "/nonexistent.tar"]);
    same_in(&d, &["load"], b"");
    same_in(&d, &["load"], b"not a tar at all, not at all, not at all");
    // import: from a file, from stdin, with changes and a message.
    let rootfs = d.root.join("busybox.tar");
    let rf = p(&rootfs);
    let names = [("k-imp", "b-imp")];
    same_pair(
        &d,
        &["import", rf, "b-imp:1"],
        &["import", rf, "k-imp:1"],
        &names,
        None,
    );
    same_pair(
        &d,
        &[
            "import",
            "-m",
            "msg",
            "-c",
            "ENV A=1",
            "-c",
            "CMD [\"sh\"]",
            rf,
            "b-imp:2",
        ],
        &[
            "import",
            "-m",
            "msg",
            "-c",
            "ENV A=1",
            "-c",
            "CMD [\"sh\"]",
            rf,
            "k-imp:2",
        ],
        &names,
        None,
    );
    let tarball = std::fs::read(&rootfs).expect("read rootfs tar");
    same_pair(
        &d,
        &["import", "-", "b-imp:3"],
        &["import", "-", "k-imp:3"],
        &names,
        Some(&tarball),
    );
    let f = "{{.Comment}} {{.Config.Env}} {{.Config.Cmd}}";
    same_pair(
        &d,
        &["image", "inspect", "-f", f, "b-imp:2"],
        &["image", "inspect", "-f", f, "k-imp:2"],
        &names,
        None,
    );
    // (history is compared in the outputs test: here the two images are made a
    // moment apart, and their ages would differ.)
    for args in [
        &["import", "/nonexistent.tar"][..],
        &["import", rf, "Bad"],
        &["import", rf, "a b"],
    ] {
        same(&d, args);
    }
    // commit, with and without a reference, with changes.
    let names = [("k-cm", "b-cm")];
    same_pair(&d, &["commit", "ctr"], &["commit", "ctr"], &[], None);
    same_pair(
        &d,
        &["commit", "ctr", "b-cm"],
        &["commit", "ctr", "k-cm"],
        &names,
        None,
    );
    same_pair(
        &d,
        &[
            "commit", "-a", "me", "-m", "hi", "-c", "ENV X=1", "ctr", "b-cm:2",
        ],
        &[
            "commit", "-a", "me", "-m", "hi", "-c", "ENV X=1", "ctr", "k-cm:2",
        ],
        &names,
        None,
    );
    let f = "{{.Author}} {{.Comment}} {{.Config.Env}} {{.RepoTags}}";
    same_pair(
        &d,
        &["image", "inspect", "-f", f, "b-cm:2"],
        &["image", "inspect", "-f", f, "k-cm:2"],
        &names,
        None,
    );
    same(
        &d,
        &["images", "--format", "{{.Repository}}:{{.Tag}}", "b-cm"],
    );
    for args in [
        &["commit", "nope"][..],
        &["commit", "ctr", "Bad"],
        &[
            "commit",
            "ctr",
            "x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ],
        &["commit", "-c", "FOO x", "ctr"],
        &["tag", "busybox", "Bad"],
        &["tag", "busybox", "a b"],
        &["tag", "Bad", "x"],
        &[
            "tag",
            "busybox",
            "x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ],
    ] {
        same(&d, args);
    }
    same_pair(
        &d,
        &["tag", "busybox", "b-tag:1"],
        &["tag", "busybox", "k-tag:1"],
        &[("k-tag", "b-tag")],
        None,
    );
    same_rows(&d, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
}
