//! The container filesystem and resource endpoints through the docker
//! CLI: `docker stats`, `docker diff`, `docker export` and `docker cp`
//! (both ways, running and stopped, into and out of the container's
//! volumes, binds and tmpfs, symlinks that point out of the container,
//! and a slow upload that must not hold up a kill).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Berthd, started, wait_output};
use crate::http::read_response;

fn started_with(name: &str, script: &str) -> Berthd {
    let d = Berthd::start();
    d.import_busybox();
    d.docker(["run", "-d", "--name", name, "busybox", "sh", "-c", script])
        .ok();
    d
}

#[test]
fn stats_no_stream_prints_cpu_memory_and_pids() {
    if !testkit::require_root() {
        return;
    }
    let d = started_with("st", "sleep 1000");
    let out = d
        .docker([
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}",
            "st",
        ])
        .ok();
    let f: Vec<&str> = out.trim().split('|').collect();
    assert_eq!(f.len(), 4, "stats printed {out:?}");
    assert_eq!(f[0], "st");
    assert!(f[1].ends_with('%') && f[1] != "--", "CPU % {out:?}");
    let (usage, limit) = f[2].split_once(" / ").expect("MEM USAGE / LIMIT");
    assert_ne!(usage.trim(), "0B", "memory usage {out:?}");
    assert!(!limit.starts_with('0'), "memory limit {out:?}");
    assert_eq!(f[3], "1", "PIDs {out:?}");

    // The raw object: two samples a second apart, with precpu filled.
    let v = d.get_json("/containers/st/stats?stream=0");
    assert!(!v["preread"].as_str().unwrap().starts_with("0001"), "{v}");
    assert!(v["precpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0);
    assert!(
        v["cpu_stats"]["system_cpu_usage"].as_u64()
            > v["precpu_stats"]["system_cpu_usage"].as_u64()
    );
    assert!(v["memory_stats"]["usage"].as_u64().unwrap() > 0);
    assert_eq!(v["pids_stats"]["current"], 1);
    assert_eq!(v["name"], "/st");
    // one-shot: no wait, no precpu.
    let v = d.get_json("/containers/st/stats?stream=0&one-shot=1");
    assert!(v["preread"].as_str().unwrap().starts_with("0001"), "{v}");
    // A stopped container gives an empty sample.
    d.docker(["kill", "st"]).ok();
    d.docker(["wait", "st"]).ok();
    let v = d.get_json("/containers/st/stats?stream=0");
    assert!(v["memory_stats"].as_object().unwrap().is_empty(), "{v}");
}

#[test]
fn diff_lists_added_changed_and_deleted_paths() {
    if !testkit::require_root() {
        return;
    }
    let d = started_with(
        "df",
        "echo x >> /etc/passwd && touch /tmp/new && rm /bin/ls && touch /ready && sleep 1000",
    );
    wait_for_file(&d, "df", "/ready");
    let out = d.docker(["diff", "df"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "C /etc",
        "C /etc/passwd",
        "C /tmp",
        "A /tmp/new",
        "C /bin",
        "D /bin/ls",
        "A /ready",
    ] {
        assert!(lines.contains(&want), "diff lacks {want:?}:\n{out}");
    }
    // The runtime's mount points are not changes (docker's init layer).
    for hidden in ["A /proc", "A /sys", "A /etc/hostname", "A /dev"] {
        assert!(!lines.contains(&hidden), "diff shows {hidden:?}:\n{out}");
    }
}

#[test]
fn export_is_a_tar_of_the_whole_filesystem_running_or_stopped() {
    if !testkit::require_root() {
        return;
    }
    let d = started_with("ex", "touch /tmp/exported && sleep 1000");
    wait_for_file(&d, "ex", "/tmp/exported");
    let t = tempfile::tempdir().unwrap();
    for round in ["running", "stopped"] {
        let file = t.path().join(format!("{round}.tar"));
        d.docker([
            "export".as_ref(),
            "-o".as_ref(),
            file.as_os_str(),
            "ex".as_ref(),
        ])
        .ok();
        let out = Command::new("tar").arg("tf").arg(&file).output().unwrap();
        assert!(out.status.success(), "tar t {round}");
        let list = String::from_utf8_lossy(&out.stdout).into_owned();
        for want in ["bin/busybox", "etc/passwd", "tmp/exported"] {
            assert!(
                list.lines().any(|l| l == want),
                "{round}: no {want} in\n{list}"
            );
        }
        assert!(!list.lines().any(|l| l.starts_with('/')), "absolute names");
        if round == "running" {
            d.docker(["kill", "ex"]).ok();
            d.docker(["wait", "ex"]).ok();
        }
    }
}

fn wait_for_file(d: &Berthd, c: &str, path: &str) {
    let deadline = std::time::Instant::now() + testkit::HANG_GUARD;
    while d.docker(["exec", c, "test", "-e", path]).code() != Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never appeared in {c}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn cp(d: &Berthd, from: impl AsRef<std::ffi::OsStr>, to: impl AsRef<std::ffi::OsStr>) -> String {
    d.docker(["cp".as_ref(), from.as_ref(), to.as_ref()]).ok()
}

#[test]
fn cp_files_and_directories_both_ways_with_docker_path_rules() {
    if !testkit::require_root() {
        return;
    }
    let d = started_with(
        "cp",
        "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && touch /ready && sleep 1000",
    );
    wait_for_file(&d, "cp", "/ready");
    let t = tempfile::tempdir().unwrap();
    let out = t.path();

    // A file, to a new name and into a directory.
    cp(&d, "cp:/data/a", out.join("a1"));
    assert_eq!(std::fs::read_to_string(out.join("a1")).unwrap(), "one\n");
    std::fs::create_dir(out.join("into")).unwrap();
    cp(&d, "cp:/data/a", out.join("into"));
    assert_eq!(
        std::fs::read_to_string(out.join("into/a")).unwrap(),
        "one\n"
    );
    // A directory: copied as itself; with `/.` its contents.
    cp(&d, "cp:/data", out.join("d1"));
    assert_eq!(
        std::fs::read_to_string(out.join("d1/sub/b")).unwrap(),
        "two\n"
    );
    std::fs::create_dir(out.join("d2")).unwrap();
    cp(&d, "cp:/data/.", out.join("d2"));
    assert_eq!(std::fs::read_to_string(out.join("d2/a")).unwrap(), "one\n");
    // `/.` to a new name: the client rebases the `./` entries onto it.
    cp(&d, "cp:/data/.", out.join("d3"));
    assert_eq!(
        std::fs::read_to_string(out.join("d3/sub/b")).unwrap(),
        "two\n"
    );
    cp(&d, "cp:/data/", out.join("d2"));
    assert_eq!(
        std::fs::read_to_string(out.join("d2/data/a")).unwrap(),
        "one\n"
    );
    // A trailing slash on a file, a missing path.
    let err = d
        .docker([
            "cp".as_ref(),
            "cp:/data/a/".as_ref(),
            out.join("x").as_os_str(),
        ])
        .fails();
    assert!(err.contains("not a directory"), "{err}");
    let err = d
        .docker([
            "cp".as_ref(),
            "cp:/nope".as_ref(),
            out.join("x").as_os_str(),
        ])
        .fails();
    assert!(
        err.contains("No such container:path") || err.contains("Could not find the file /nope"),
        "{err}"
    );

    // Into the container: a file, a directory, into an existing one.
    std::fs::write(out.join("up.txt"), "up\n").unwrap();
    std::fs::create_dir_all(out.join("updir/inner")).unwrap();
    std::fs::write(out.join("updir/inner/f"), "deep\n").unwrap();
    cp(&d, out.join("up.txt"), "cp:/tmp/");
    cp(&d, out.join("up.txt"), "cp:/tmp/renamed");
    cp(&d, out.join("updir"), "cp:/data");
    let cat = d
        .docker([
            "exec",
            "cp",
            "cat",
            "/tmp/up.txt",
            "/tmp/renamed",
            "/data/updir/inner/f",
        ])
        .ok();
    assert_eq!(cat, "up\nup\ndeep\n");
    // A file where a directory is: refused (noOverwriteDirNonDir).
    std::fs::write(out.join("sub"), "file\n").unwrap();
    let err = d
        .docker([
            "cp".as_ref(),
            out.join("sub").as_os_str(),
            "cp:/data/".as_ref(),
        ])
        .fails();
    assert!(err.contains("cannot overwrite directory"), "{err}");

    // Stopped: both ways still work (the rootfs is mounted for the copy).
    d.docker(["kill", "cp"]).ok();
    d.docker(["wait", "cp"]).ok();
    cp(&d, out.join("up.txt"), "cp:/tmp/while-stopped");
    cp(&d, "cp:/tmp/while-stopped", out.join("back"));
    assert_eq!(std::fs::read_to_string(out.join("back")).unwrap(), "up\n");
    cp(&d, "cp:/data/sub", out.join("sub-stopped"));
    assert!(out.join("sub-stopped/b").is_file());
}

#[test]
fn cp_resolves_symlinks_inside_the_container() {
    if !testkit::require_root() {
        return;
    }
    let d = started_with(
        "sl",
        "echo container-passwd > /etc/passwd && ln -s /etc/passwd /tmp/x && ln -s / /tmp/rootlink && ln -s / /tmp/link-to- && ln -s ../../.. /tmp/dots && touch /ready && sleep 1000",
    );
    wait_for_file(&d, "sl", "/ready");
    let t = tempfile::tempdir().unwrap();
    let out = t.path();

    // Without -L the link itself is copied; with -L the container's file.
    cp(&d, "sl:/tmp/x", out.join("link"));
    assert_eq!(
        std::fs::read_link(out.join("link")).unwrap(),
        Path::new("/etc/passwd")
    );
    d.docker([
        "cp".as_ref(),
        "-L".as_ref(),
        "sl:/tmp/x".as_ref(),
        out.join("followed").as_os_str(),
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(out.join("followed")).unwrap(),
        "container-passwd\n"
    );
    // A symlink to "/" in a parent position resolves at the container's root.
    cp(&d, "sl:/tmp/rootlink/etc/passwd", out.join("via-root"));
    assert_eq!(
        std::fs::read_to_string(out.join("via-root")).unwrap(),
        "container-passwd\n"
    );
    // Copying into a symlink to "/" lands at the container's root.
    let name = format!("berth-cp-escape-{}", std::process::id());
    std::fs::write(out.join(&name), "inside\n").unwrap();
    cp(&d, out.join(&name), "sl:/tmp/link-to-/");
    assert!(
        !Path::new("/").join(&name).exists(),
        "the copy escaped to the host"
    );
    let cat = d.docker(["exec", "sl", "cat", &format!("/{name}")]).ok();
    assert_eq!(cat, "inside\n");
    // A relative symlink climbing above the root stops at it.
    let dots = format!("berth-cp-dots-{}", std::process::id());
    std::fs::write(out.join(&dots), "dots\n").unwrap();
    cp(&d, out.join(&dots), "sl:/tmp/dots/");
    assert!(!Path::new("/").join(&dots).exists(), "escaped to the host");
    let cat = d.docker(["exec", "sl", "cat", &format!("/{dots}")]).ok();
    assert_eq!(cat, "dots\n");

    // Archives made by hand (the CLI never sends these): the entries'
    // parents resolve in the container's root, docker's breakout checks
    // refuse `..` and relative symlinks above the destination.
    let put = |tar: &[u8]| {
        d.request(
            "PUT",
            "/containers/sl/archive?path=/tmp",
            &[("Content-Type", "application/x-tar")],
            Some(tar),
        )
    };
    let mut b = tar::Builder::new(Vec::new());
    raw_entry(&mut b, tar::EntryType::Symlink, "abs", "/", b"");
    raw_entry(
        &mut b,
        tar::EntryType::Regular,
        "abs/through-abs",
        "",
        b"t\n",
    );
    raw_entry(
        &mut b,
        tar::EntryType::Regular,
        "rootlink/etc/via-link",
        "",
        b"v\n",
    );
    let r = put(&b.into_inner().unwrap());
    assert_eq!(r.status, 200, "{}", r.text());
    let cat = d
        .docker(["exec", "sl", "cat", "/through-abs", "/etc/via-link"])
        .ok();
    assert_eq!(cat, "t\nv\n");
    for (kind, name, link, message) in [
        (
            tar::EntryType::Regular,
            "../escape",
            "",
            r#""../escape" is outside of "/tmp""#,
        ),
        (
            tar::EntryType::Symlink,
            "up",
            "../../..",
            r#"invalid symlink "/tmp/up" -> "../../..""#,
        ),
    ] {
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, kind, name, link, b"");
        let r = put(&b.into_inner().unwrap());
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.message(), message);
    }
    let ls = d.docker(["exec", "sl", "ls", "/escape", "/tmp/up"]);
    assert_ne!(ls.code(), Some(0), "a refused entry was written");
}

/// Appends a tar entry with exactly these name and link bytes (the tar
/// crate's setters refuse `..`).
fn raw_entry(
    b: &mut tar::Builder<Vec<u8>>,
    kind: tar::EntryType,
    name: &str,
    link: &str,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    let old = h.as_old_mut();
    old.name[..name.len()].copy_from_slice(name.as_bytes());
    old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("read {}: {e}", path.as_ref().display()))
}

#[test]
fn cp_reaches_volumes_binds_and_tmpfs_running_and_stopped() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let t = tempfile::tempdir().unwrap();
    let host = t.path().join("host");
    let ro = t.path().join("ro");
    let out = t.path().join("out");
    for dir in [&host, &ro, &out] {
        std::fs::create_dir(dir).unwrap();
    }
    std::fs::write(host.join("from-host"), "host\n").unwrap();
    std::fs::write(ro.join("ro-file"), "ro\n").unwrap();
    std::fs::write(out.join("up.txt"), "up\n").unwrap();
    d.docker(["volume", "create", "cpvol"]).ok();
    d.docker([
        "run",
        "-d",
        "--name",
        "mnt",
        "-v",
        "cpvol:/vol",
        "-v",
        &format!("{}:/bind", host.display()),
        "-v",
        &format!("{}:/ro:ro", ro.display()),
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "echo in-tmpfs > /scratch/t && echo in-vol > /vol/v && touch /ready && sleep 1000",
    ])
    .ok();
    wait_for_file(&d, "mnt", "/ready");

    // Out of each mount: what the container wrote there, what the host has.
    cp(&d, "mnt:/vol/v", out.join("v"));
    assert_eq!(read(out.join("v")), "in-vol\n");
    cp(&d, "mnt:/scratch/t", out.join("t"));
    assert_eq!(read(out.join("t")), "in-tmpfs\n");
    cp(&d, "mnt:/bind/from-host", out.join("from-host"));
    assert_eq!(read(out.join("from-host")), "host\n");
    cp(&d, "mnt:/ro/ro-file", out.join("ro-file"));
    assert_eq!(read(out.join("ro-file")), "ro\n");
    // The whole filesystem has the mounts' content; the runtime's /proc
    // is an empty directory, and nothing in it can be copied.
    cp(&d, "mnt:/.", out.join("all"));
    assert_eq!(read(out.join("all/vol/v")), "in-vol\n");
    assert_eq!(read(out.join("all/scratch/t")), "in-tmpfs\n");
    assert_eq!(std::fs::read_dir(out.join("all/proc")).unwrap().count(), 0);
    let err = d
        .docker([
            "cp".as_ref(),
            "mnt:/proc/self/status".as_ref(),
            out.join("status").as_os_str(),
        ])
        .fails();
    assert!(err.contains("Could not find the file"), "{err}");

    // Into each mount: the container sees it, the rw layer has none of it.
    let up = out.join("up.txt");
    cp(&d, &up, "mnt:/vol/");
    cp(&d, &up, "mnt:/bind/");
    cp(&d, &up, "mnt:/scratch/");
    let cat = d
        .docker([
            "exec",
            "mnt",
            "cat",
            "/vol/up.txt",
            "/bind/up.txt",
            "/scratch/up.txt",
        ])
        .ok();
    assert_eq!(cat, "up\nup\nup\n");
    assert_eq!(read(host.join("up.txt")), "up\n");
    let err = d
        .docker(["cp".as_ref(), up.as_os_str(), "mnt:/ro/".as_ref()])
        .fails();
    assert!(err.contains("mounted volume is marked read-only"), "{err}");
    assert!(!ro.join("up.txt").exists());
    // Nor into what the runtime mounted.
    let err = d
        .docker(["cp".as_ref(), up.as_os_str(), "mnt:/dev/".as_ref()])
        .fails();
    assert!(
        err.contains("cannot copy into /dev: it is a filesystem the runtime mounted"),
        "{err}"
    );
    let diff = d.docker(["diff", "mnt"]).ok();
    assert!(!diff.contains("up.txt"), "the rw layer got a copy:\n{diff}");

    // Stopped: the volumes and binds are mounted for the copy.
    d.docker(["kill", "mnt"]).ok();
    d.docker(["wait", "mnt"]).ok();
    std::fs::write(out.join("up2.txt"), "up2\n").unwrap();
    let up2 = out.join("up2.txt");
    cp(&d, &up2, "mnt:/vol/");
    cp(&d, &up2, "mnt:/bind/");
    cp(&d, "mnt:/vol/v", out.join("v-stopped"));
    assert_eq!(read(out.join("v-stopped")), "in-vol\n");
    cp(&d, "mnt:/bind/from-host", out.join("from-host-stopped"));
    assert_eq!(read(out.join("from-host-stopped")), "host\n");
    assert_eq!(read(host.join("up2.txt")), "up2\n");
    let err = d
        .docker(["cp".as_ref(), up2.as_os_str(), "mnt:/ro/".as_ref()])
        .fails();
    assert!(err.contains("mounted volume is marked read-only"), "{err}");
    let seen = d
        .docker([
            "run",
            "--rm",
            "-v",
            "cpvol:/vol",
            "busybox",
            "cat",
            "/vol/up2.txt",
        ])
        .ok();
    assert_eq!(seen, "up2\n");
    let diff = d.docker(["diff", "mnt"]).ok();
    assert!(
        !diff.contains("up2.txt"),
        "the rw layer got a copy:\n{diff}"
    );

    // A read-only rootfs takes copies into its volumes only.
    d.docker([
        "run",
        "-d",
        "--name",
        "rofs",
        "--read-only",
        "-v",
        "cpvol:/vol",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    cp(&d, &up, "rofs:/vol/rofs.txt");
    let err = d
        .docker(["cp".as_ref(), up.as_os_str(), "rofs:/tmp/".as_ref()])
        .fails();
    assert!(
        err.contains("container rootfs is marked read-only"),
        "{err}"
    );
    assert_eq!(
        d.docker(["exec", "rofs", "cat", "/vol/rofs.txt"]).ok(),
        "up\n"
    );
}

/// A PUT of a one-file tar whose data the client sends only in part:
/// the connection, the tar, and how much of it went.
fn begin_upload(
    d: &Berthd,
    container: &str,
    file: &str,
    size: usize,
) -> (UnixStream, Vec<u8>, usize) {
    let mut b = tar::Builder::new(Vec::new());
    raw_entry(&mut b, tar::EntryType::Regular, file, "", &vec![b'x'; size]);
    let tar = b.into_inner().unwrap();
    let mut s = d.connect().unwrap();
    let head = format!(
        "PUT /containers/{container}/archive?path=/tmp HTTP/1.1\r\nHost: berthd\r\n\
         Content-Type: application/x-tar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        tar.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let half = tar.len() / 2;
    s.write_all(&tar[..half]).unwrap();
    s.flush().unwrap();
    (s, tar, half)
}

fn finish_upload((mut s, tar, half): (UnixStream, Vec<u8>, usize)) {
    s.write_all(&tar[half..]).unwrap();
    let r = read_response(&mut std::io::BufReader::new(s), false).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Runs a docker command that must answer within seconds.
fn promptly(d: &Berthd, args: &[&str]) -> std::process::Output {
    let t0 = Instant::now();
    let mut child = d
        .docker_cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_output(
        &mut child,
        Duration::from_secs(20),
        &format!("{args:?} during an upload"),
    );
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "{args:?} took {:?}",
        t0.elapsed()
    );
    out
}

#[test]
fn a_slow_upload_holds_up_neither_stop_nor_kill() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker(["run", "-d", "--name", "slow", "busybox", "sleep", "1000"])
        .ok();
    let size = 256 << 10;
    // Running: the daemon is reading the body once the file exists.
    let up = begin_upload(&d, "slow", "running-file", size);
    crate::harness::eventually("the upload to start", || {
        d.docker(["exec", "slow", "test", "-e", "/tmp/running-file"])
            .code()
            == Some(0)
    });
    let killed = promptly(&d, &["kill", "slow"]);
    assert!(killed.status.success(), "{killed:?}");
    // The upload goes on, into the layer of the container that stopped.
    finish_upload(up);

    // Stopped: stop and kill answer at once (their "not running").
    let up = begin_upload(&d, "slow", "stopped-file", size);
    crate::harness::eventually("the upload to start", || {
        d.docker(["diff", "slow"])
            .ok()
            .contains("A /tmp/stopped-file")
    });
    let stopped = promptly(&d, &["stop", "slow"]);
    assert!(stopped.status.success(), "{stopped:?}");
    let killed = promptly(&d, &["kill", "slow"]);
    let err = String::from_utf8_lossy(&killed.stderr);
    assert!(err.contains("is not running"), "{killed:?}");
    finish_upload(up);

    d.docker(["start", "slow"]).ok();
    let sizes = d
        .docker([
            "exec",
            "slow",
            "stat",
            "-c",
            "%s",
            "/tmp/running-file",
            "/tmp/stopped-file",
        ])
        .ok();
    assert_eq!(sizes, format!("{size}\n{size}\n"));
}

#[test]
fn cp_archive_mode_owns_the_files_as_the_containers_user() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    d.import_busybox();
    d.docker([
        "run",
        "-d",
        "--name",
        "ua",
        "-u",
        "65534:65533",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("owned");
    std::fs::write(&f, "x\n").unwrap();
    d.docker([
        "cp".as_ref(),
        "-a".as_ref(),
        f.as_os_str(),
        "ua:/tmp/".as_ref(),
    ])
    .ok();
    cp(&d, &f, "ua:/tmp/plain");
    let ids = d
        .docker([
            "exec",
            "ua",
            "stat",
            "-c",
            "%u:%g",
            "/tmp/owned",
            "/tmp/plain",
        ])
        .ok();
    // -a: the container's user; without: the archive's ids (root's here).
    assert_eq!(ids, "65534:65533\n0:0\n");
}
