//! Volumes and mounts through the docker CLI: `volume create/ls/inspect/
//! rm/prune`, named and anonymous volumes of containers (copy-up from the
//! image, `--rm` and `rm -v`), `-v`/`--mount`/`--tmpfs`/`--volumes-from`
//! with docker's rules and errors, and volumes across a daemon crash.

use serde_json::Value;

use crate::harness::{Berthd, started};

fn volume_names(d: &Berthd) -> Vec<String> {
    let out = d.docker(["volume", "ls", "-q"]).ok();
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn inspect_json(d: &Berthd, what: &[&str]) -> Value {
    let mut args = vec!["inspect"];
    args.extend_from_slice(what);
    serde_json::from_str(&d.docker(args).ok()).expect("inspect prints JSON")
}

/// The line of /proc/mounts inside a container for mount point `path`.
fn proc_mount<'a>(mounts: &'a str, path: &str) -> Option<&'a str> {
    mounts.lines().find(|l| l.split(' ').nth(1) == Some(path))
}

#[test]
fn volume_commands_print_and_refuse_like_docker() {
    if !testkit::require_root() {
        return;
    }
    let mut d = started();
    assert_eq!(d.docker(["volume", "create", "data"]).ok(), "data\n");
    let anon = d.docker(["volume", "create"]).ok();
    let anon = anon.trim();
    assert!(
        anon.len() == 64 && anon.bytes().all(|b| b.is_ascii_hexdigit()),
        "{anon}"
    );
    d.docker([
        "volume",
        "create",
        "--label",
        "tier=db",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=2m",
        "scratch",
    ])
    .ok();

    let ls = d.docker(["volume", "ls"]).ok();
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["DRIVER", "VOLUME", "NAME"]
    );
    assert_eq!(lines.len(), 4, "{ls}");
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["local", "data"])
    );

    let v: Value = serde_json::from_str(&d.docker(["volume", "inspect", "scratch"]).ok()).unwrap();
    let v = &v[0];
    assert_eq!(v["Name"], "scratch");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["tier"], "db");
    assert_eq!(v["Options"]["type"], "tmpfs");
    assert_eq!(v["Options"]["o"], "size=2m");
    assert_eq!(
        v["Mountpoint"],
        d.data.join("volumes/scratch/_data").display().to_string()
    );
    assert!(v["CreatedAt"].as_str().unwrap().ends_with('Z'), "{v}");
    assert!(v.get("UsageData").is_none(), "{v}");
    // No labels or options: null, as dockerd writes them.
    let raw = d.get_json("/volumes/data");
    assert!(raw["Labels"].is_null() && raw["Options"].is_null(), "{raw}");
    let list = d.get_json("/volumes");
    assert!(list["Warnings"].is_null());
    assert_eq!(list["Volumes"].as_array().unwrap().len(), 3);

    // A container refers to `data`: in use, not dangling.
    d.docker([
        "create",
        "--name",
        "user",
        "-v",
        "data:/data",
        "busybox",
        "true",
    ])
    .ok();
    let q = |filter: &str| -> String {
        d.docker(["volume", "ls", "-q", "--filter", filter])
            .ok()
            .trim()
            .to_string()
    };
    assert_eq!(q("dangling=false"), "data");
    assert_eq!(q("label=tier=db"), "scratch");
    assert_eq!(q("name=scr"), "scratch");
    assert_eq!(
        d.docker(["volume", "ls", "-q", "--filter", "driver=local"])
            .ok()
            .lines()
            .count(),
        3
    );
    let err = d
        .docker(["volume", "ls", "--filter", "dangling=maybe"])
        .fails();
    assert!(err.contains("Invalid filter 'dangling=[maybe]'"), "{err}");

    let user_id = d.docker(["inspect", "-f", "{{.Id}}", "user"]).ok();
    let err = d.docker(["volume", "rm", "data"]).fails();
    assert!(
        err.contains(&format!(
            "remove data: volume is in use - [{}]",
            user_id.trim()
        )),
        "{err}"
    );
    let r = d.request("DELETE", "/volumes/data?force=1", &[], None);
    assert_eq!(r.status, 409, "{}", r.text());
    let r = d.request("DELETE", "/volumes/nonesuch?force=1", &[], None);
    assert_eq!(r.status, 204);
    let r = d.request("GET", "/volumes/nonesuch", &[], None);
    assert_eq!(r.status, 404);
    assert!(
        r.text().contains("get nonesuch: no such volume"),
        "{}",
        r.text()
    );

    // Bad input: docker's errors, nothing created.
    for (args, want) in [
        (
            vec!["volume", "create", "_bad"],
            "create _bad: \"_bad\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed",
        ),
        (
            vec!["volume", "create", "a"],
            "create a: volume name is too short, names should be at least two alphanumeric characters",
        ),
        (
            vec!["volume", "create", "-o", "foo=bar", "v2"],
            "create v2: invalid option: \"foo\"",
        ),
        (
            vec!["volume", "create", "-o", "type=tmpfs", "v3"],
            "create v3: missing required option: \"device\"",
        ),
        (
            vec!["volume", "create", "-d", "nope", "v4"],
            "create v4: error looking up volume plugin nope: plugin \"nope\" not found",
        ),
    ] {
        let err = d.docker(&args).fails();
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let r = d.request(
        "POST",
        "/volumes/create",
        &[("Content-Type", "application/json")],
        Some(br#"{"Name":"v4","Driver":"nope"}"#),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(volume_names(&d).len(), 3);
    assert!(!d.data.join("volumes/v2").exists() && !d.data.join("volumes/v4").exists());

    // Prune (API 1.41: every unused volume without options).
    let out = d.docker(["volume", "prune", "-f"]).ok();
    assert!(
        out.contains("Deleted Volumes:") && out.contains(anon),
        "{out}"
    );
    let mut want = vec!["data".to_string(), "scratch".to_string()];
    want.sort();
    assert_eq!(volume_names(&d), want);

    // A crash: the volumes and their references are still there.
    d.kill9();
    d.restart();
    assert_eq!(volume_names(&d), want);
    let err = d.docker(["volume", "rm", "data"]).fails();
    assert!(err.contains("volume is in use"), "{err}");
    d.docker(["rm", "user"]).ok();
    assert_eq!(
        d.docker(["volume", "rm", "data", "scratch"]).ok(),
        "data\nscratch\n"
    );
    assert!(volume_names(&d).is_empty());
    assert!(!d.data.join("volumes/data").exists());
}

#[test]
fn volumes_keep_data_copy_up_from_the_image_and_go_with_rm_v() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    // An image with content at its VOLUME path.
    d.docker([
        "run",
        "--name",
        "mk",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /data/sub && echo from-image > /data/f && chown 1234:5678 /data/f \
         && chmod 604 /data/f && ln -s f /data/link && chmod 1750 /data",
    ])
    .ok();
    d.docker(["commit", "-c", "VOLUME /data", "mk", "withvol"])
        .ok();
    d.docker(["rm", "mk"]).ok();
    let stat = "stat -c '%n %u:%g %a' /data /data/f && readlink /data/link && cat /data/f";
    let want = "/data 0:0 1750\n/data/f 1234:5678 604\nf\nfrom-image\n";

    // The image's VOLUME: an anonymous volume with the image's content,
    // removed with the container by --rm.
    assert_eq!(
        d.docker(["run", "--rm", "withvol", "sh", "-c", stat]).ok(),
        want
    );
    assert!(volume_names(&d).is_empty(), "{:?}", volume_names(&d));
    let until = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 1
    );
    let events = d
        .docker([
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            "type=volume",
            "--format",
            "{{.Action}}",
        ])
        .ok();
    assert_eq!(
        events.lines().collect::<Vec<_>>(),
        ["create", "mount", "unmount", "destroy"],
        "{events}"
    );

    // A new named volume takes the image's content; its data outlives
    // the container and is seen by the next one.
    assert_eq!(
        d.docker([
            "run",
            "--rm",
            "-v",
            "keep:/data",
            "withvol",
            "sh",
            "-c",
            stat
        ])
        .ok(),
        want
    );
    d.docker([
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        "echo more >> /data/f",
    ])
    .ok();
    assert_eq!(
        d.docker(["run", "--rm", "-v", "keep:/srv", "busybox", "cat", "/srv/f"])
            .ok(),
        "from-image\nmore\n"
    );
    // Not empty any more: a later container does not copy over it.
    assert_eq!(
        d.docker([
            "run",
            "--rm",
            "-v",
            "keep:/data",
            "withvol",
            "cat",
            "/data/f"
        ])
        .ok(),
        "from-image\nmore\n"
    );
    // nocopy: the new volume stays empty.
    assert_eq!(
        d.docker([
            "run",
            "--rm",
            "-v",
            "empty:/data:nocopy",
            "withvol",
            "ls",
            "-A",
            "/data"
        ])
        .ok(),
        ""
    );

    // rm -v removes anonymous volumes, never named ones; plain rm keeps both.
    d.docker([
        "create",
        "--name",
        "c1",
        "-v",
        "/anon",
        "-v",
        "keep:/keep",
        "busybox",
        "true",
    ])
    .ok();
    let c1 = inspect_json(&d, &["c1"]);
    let mounts = c1[0]["Mounts"].as_array().unwrap();
    let anon = mounts
        .iter()
        .find(|m| m["Destination"] == "/anon")
        .expect("anonymous mount");
    assert_eq!(anon["Type"], "volume");
    assert_eq!(anon["Driver"], "local");
    assert_eq!(anon["Mode"], "");
    assert_eq!(anon["RW"], true);
    let anon_name = anon["Name"].as_str().unwrap().to_string();
    assert_eq!(
        anon["Source"],
        d.data
            .join(format!("volumes/{anon_name}/_data"))
            .display()
            .to_string()
    );
    let named = mounts.iter().find(|m| m["Destination"] == "/keep").unwrap();
    assert_eq!(named["Name"], "keep");
    assert_eq!(named["Mode"], "z");
    assert_eq!(c1[0]["Config"]["Volumes"]["/anon"], serde_json::json!({}));
    d.docker(["create", "--name", "c2", "-v", "/anon2", "busybox", "true"])
        .ok();
    let c2_anon = inspect_json(&d, &["c2"])[0]["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_string();
    d.docker(["rm", "-v", "c1"]).ok();
    d.docker(["rm", "c2"]).ok();
    let names = volume_names(&d);
    assert!(!names.contains(&anon_name), "{names:?}");
    assert!(names.contains(&c2_anon), "{names:?}");
    assert!(names.contains(&"keep".to_string()));

    // system df -v: the volumes, their links and sizes.
    d.docker([
        "create",
        "--name",
        "c3",
        "-v",
        "keep:/keep",
        "busybox",
        "true",
    ])
    .ok();
    let df = d.docker(["system", "df", "-v"]).ok();
    let row = df
        .lines()
        .find(|l| l.starts_with("keep "))
        .unwrap_or_else(|| panic!("no keep row in {df}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1], "1", "{row}");
    // 16 bytes of file and the 1-byte symlink.
    assert_eq!(cols[2], "17B", "{row}");
    let raw = d.get_json("/system/df");
    let keep = raw["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["Name"] == "keep")
        .unwrap()
        .clone();
    assert_eq!(
        keep["UsageData"],
        serde_json::json!({"RefCount": 1, "Size": 17})
    );
}

#[test]
fn mounts_follow_dockers_rules() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let src = d.root.join("bind-src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("hello"), b"host file\n").unwrap();
    let src_s = src.display().to_string();

    // --mount refuses a missing source; -v creates it.
    let missing = d.root.join("made-by-v");
    let missing_s = missing.display().to_string();
    let err = d
        .docker([
            "run",
            "--rm",
            "--mount",
            &format!("type=bind,source={missing_s},target=/x"),
            "busybox",
            "true",
        ])
        .fails();
    assert!(
        err.contains(&format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {missing_s}"
        )),
        "{err}"
    );
    assert!(!missing.exists());
    d.docker([
        "run",
        "--rm",
        "-v",
        &format!("{missing_s}:/x"),
        "busybox",
        "touch",
        "/x/made",
    ])
    .ok();
    assert!(missing.join("made").exists());

    // ro binds, tmpfs sizes and modes, seen from inside.
    let script = "cat /b/hello; touch /b/nope 2>/dev/null && echo WRITABLE; cat /proc/mounts";
    let out = d
        .docker([
            "run",
            "--rm",
            "-v",
            &format!("{src_s}:/b:ro,z"),
            "--tmpfs",
            "/t1:size=2m",
            "--mount",
            "type=tmpfs,target=/t2,tmpfs-size=1m,tmpfs-mode=1700",
            "busybox",
            "sh",
            "-c",
            script,
        ])
        .ok();
    assert!(
        out.starts_with("host file\n") && !out.contains("WRITABLE"),
        "{out}"
    );
    let b = proc_mount(&out, "/b").expect("/b mounted");
    assert!(
        b.split(' ').nth(3).unwrap().split(',').any(|o| o == "ro"),
        "{b}"
    );
    let t1 = proc_mount(&out, "/t1").expect("/t1 mounted");
    assert!(
        t1.starts_with("tmpfs ") && t1.contains("size=2048k"),
        "{t1}"
    );
    let t2 = proc_mount(&out, "/t2").expect("/t2 mounted");
    assert!(
        t2.contains("size=1024k") && t2.contains("mode=1700"),
        "{t2}"
    );

    // --volumes-from with :ro.
    d.docker([
        "create",
        "--name",
        "lender",
        "-v",
        "shared:/shared",
        "-v",
        &format!("{src_s}:/b"),
        "busybox",
        "true",
    ])
    .ok();
    d.docker([
        "run",
        "--rm",
        "-v",
        "shared:/shared",
        "busybox",
        "sh",
        "-c",
        "echo lent > /shared/f",
    ])
    .ok();
    let out = d
        .docker([
            "run",
            "--rm",
            "--volumes-from",
            "lender:ro",
            "busybox",
            "sh",
            "-c",
            "cat /shared/f /b/hello; touch /shared/g 2>/dev/null && echo WRITABLE; true",
        ])
        .ok();
    assert_eq!(out, "lent\nhost file\n");

    // A tmpfs volume: mounted while a container uses it, shared by its
    // users, unmounted after the last one.
    d.docker([
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=3m",
        "tv",
    ])
    .ok();
    d.docker([
        "run",
        "-d",
        "--name",
        "tuser",
        "-v",
        "tv:/tv",
        "busybox",
        "sh",
        "-c",
        "echo in-tmpfs > /tv/x; sleep 1000",
    ])
    .ok();
    let data = d.data.join("volumes/tv/_data");
    crate::harness::eventually("the tmpfs volume to be mounted", || {
        crate::harness::mounts_under(&data).contains(&data)
    });
    let out = d
        .docker([
            "run",
            "--rm",
            "-v",
            "tv:/tv",
            "busybox",
            "sh",
            "-c",
            "cat /tv/x; cat /proc/mounts",
        ])
        .ok();
    assert!(out.starts_with("in-tmpfs\n"), "{out}");
    assert!(
        proc_mount(&out, "/tv").unwrap().contains("size=3072k"),
        "{out}"
    );
    d.docker(["rm", "-f", "tuser"]).ok();
    assert!(!crate::harness::mounts_under(&data).contains(&data));

    // Bad input: docker's errors, nothing created.
    for (args, want) in [
        (
            vec!["-v", "/a:/x", "-v", "/b:/x"],
            "Duplicate mount point: /x".to_string(),
        ),
        (
            vec!["-v", "newvol:/x", "--tmpfs", "/x"],
            "Duplicate mount point: /x".to_string(),
        ),
        (
            vec!["-v", "newvol:/x:bogus"],
            "invalid mode: bogus".to_string(),
        ),
        (
            vec!["--mount", "type=tmpfs,source=foo,target=/x"],
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
                .to_string(),
        ),
        (
            vec!["--mount", "type=volume,target=/x,readonly"],
            "must not set ReadOnly mode when using anonymous volumes".to_string(),
        ),
        (
            vec![
                "--mount",
                "type=volume,source=newvol,target=/x,volume-opt=foo=bar",
            ],
            "create newvol: invalid option: \"foo\"".to_string(),
        ),
        (
            vec!["--volumes-from", "nosuch"],
            "No such container: nosuch".to_string(),
        ),
    ] {
        let mut full = vec!["run", "--rm"];
        full.extend(args.iter().copied());
        full.extend(["busybox", "true"]);
        let err = d.docker(&full).fails();
        assert!(err.contains(&want), "{args:?}: {err}");
    }
    let names = volume_names(&d);
    assert!(!names.contains(&"newvol".to_string()), "{names:?}");
    let r = d.request(
        "POST",
        "/containers/create",
        &[("Content-Type", "application/json")],
        Some(
            br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"Binds":["okvol:/a","_bad:/b"]}}"#,
        ),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(!volume_names(&d).contains(&"okvol".to_string()));
}
