//! The container filesystem and resource endpoints through the docker
//! CLI: `docker stats`, `docker diff`, `docker export` and `docker cp`
//! (both ways, running and stopped, and symlinks that point out of the
//! container).

use std::path::Path;
use std::process::Command;

use crate::harness::Berthd;

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
        "echo container-passwd > /etc/passwd && ln -s /etc/passwd /tmp/x && ln -s / /tmp/rootlink && ln -s / /tmp/link-to- && touch /ready && sleep 1000",
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
