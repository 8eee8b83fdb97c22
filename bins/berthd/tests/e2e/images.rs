//! Images through the docker CLI: import, list, inspect, history, tag,
//! rmi, save, load, prune; and the errors clients rely on.

use crate::harness::Berthd;

#[test]
fn import_list_inspect_history_tag_and_remove() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    let id = d.import_busybox();
    let listed = d
        .docker(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
        .ok();
    assert_eq!(listed.trim(), format!("busybox:latest {}", &id[7..19]));
    let inspected = d
        .docker(["image", "inspect", "-f", "{{.Id}} {{.Os}}", "busybox"])
        .ok();
    assert_eq!(inspected.trim(), format!("{id} linux"));
    let history = d.docker(["history", "busybox"]).ok();
    assert!(history.contains("Imported from -"), "{history}");

    d.docker(["tag", "busybox", "example.org/team/box:v1"]).ok();
    let inspected = d
        .docker([
            "image",
            "inspect",
            "-f",
            "{{.Id}}",
            "example.org/team/box:v1",
        ])
        .ok();
    assert_eq!(inspected.trim(), id);
    // The raw endpoint answers 201 to a tag.
    let r = d.request(
        "POST",
        "/v1.41/images/busybox/tag?repo=other&tag=2",
        &[],
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text());

    let out = d.docker(["rmi", "example.org/team/box:v1", "other:2"]).ok();
    assert!(out.contains("Untagged: example.org/team/box:v1"), "{out}");
    let out = d.docker(["rmi", "busybox"]).ok();
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert_eq!(d.docker(["images", "-q"]).ok().trim(), "");
}

#[test]
fn import_from_stdin_with_changes() {
    if !testkit::require_root() {
        return;
    }
    crate::harness::require_container_bins();
    let d = Berthd::start();
    let tar = std::fs::read(d.busybox_tar()).unwrap();
    let out = d
        .docker_stdin(
            [
                "import",
                "-c",
                "ENV FOO=bar",
                "-c",
                "CMD [\"sh\"]",
                "-m",
                "from test",
                "-",
                "box:stdin",
            ],
            &tar,
        )
        .ok();
    assert!(out.trim().starts_with("sha256:"), "{out}");
    let cfg = d
        .docker([
            "image",
            "inspect",
            "-f",
            "{{json .Config.Env}} {{json .Config.Cmd}} {{.Comment}}",
            "box:stdin",
        ])
        .ok();
    assert_eq!(cfg.trim(), r#"["FOO=bar"] ["sh"] from test"#);
}

#[test]
fn save_and_load_round_trip_several_names() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    let id = d.import_busybox();
    d.docker(["tag", "busybox", "copy:1"]).ok();
    let archive = d.root.join("images.tar");
    d.docker([
        "save".as_ref(),
        "-o".as_ref(),
        archive.as_os_str(),
        "busybox".as_ref(),
        "copy:1".as_ref(),
    ])
    .ok();
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("manifest.json"), "{listing}");
    assert!(listing.contains("repositories"), "{listing}");

    d.docker(["rmi", "busybox", "copy:1"]).ok();
    let out = d
        .docker(["load".as_ref(), "-i".as_ref(), archive.as_os_str()])
        .ok();
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    assert!(out.contains("Loaded image: copy:1"), "{out}");
    let again = d
        .docker(["image", "inspect", "-f", "{{.Id}}", "copy:1"])
        .ok();
    assert_eq!(again.trim(), id);

    // Unknown names fail before any byte of the archive.
    let partial = d.root.join("partial.tar");
    let err = d
        .docker([
            "save".as_ref(),
            "-o".as_ref(),
            partial.as_os_str(),
            "busybox".as_ref(),
            "nosuch:1".as_ref(),
        ])
        .fails();
    // dockerd's words for an unknown name in a save.
    assert!(err.contains("reference does not exist"), "{err}");
    assert!(!partial.exists() || std::fs::metadata(&partial).unwrap().len() == 0);
    let r = d.request("GET", "/v1.41/images/get?names=nosuch", &[], None);
    assert_eq!(r.status, 404);
    // A broken archive is an in-band error of the load stream.
    let err = d.docker_stdin(["load"], b"not a tar at all").fails();
    assert!(!err.is_empty());
}

/// An OCI layout tar with only `index.json` (no `manifest.json`) whose
/// entry is a manifest list of linux/arm64 and linux/amd64, with only the
/// amd64 image's blobs, as a multi-platform save of one platform has it.
fn multi_platform_layout() -> Vec<u8> {
    use sha2::Digest as _;
    let sha = |b: &[u8]| {
        let hex: String = sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        format!("sha256:{hex}")
    };
    let desc = |mt: &str, b: &[u8]| serde_json::json!({"mediaType": mt, "digest": sha(b), "size": b.len()});
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    layer.append_data(&mut h, "amd64.txt", &b"x86"[..]).unwrap();
    let layer = layer.into_inner().unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", &config),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar", &layer)],
    }))
    .unwrap();
    let mut arm = desc("application/vnd.oci.image.manifest.v1+json", b"not here");
    arm["platform"] = serde_json::json!({"os": "linux", "architecture": "arm64"});
    let mut amd = desc("application/vnd.oci.image.manifest.v1+json", &manifest);
    amd["platform"] = serde_json::json!({"os": "linux", "architecture": "amd64"});
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [arm, amd],
    }))
    .unwrap();
    let mut entry = desc("application/vnd.oci.image.index.v1+json", &list);
    entry["annotations"] = serde_json::json!({"io.containerd.image.name": "example.com/multi:1"});
    let index =
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [entry]})).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    for blob in [&list[..], &manifest[..], &config[..], &layer[..]] {
        add(&format!("blobs/{}", sha(blob).replace(':', "/")), blob);
    }
    add("index.json", &index);
    b.into_inner().unwrap()
}

#[test]
fn load_takes_the_host_platform_of_an_oci_index() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    let out = d.docker_stdin(["load"], &multi_platform_layout()).ok();
    assert!(out.contains("Loaded image: example.com/multi:1"), "{out}");
    let got = d
        .docker([
            "image",
            "inspect",
            "-f",
            "{{.Architecture}} {{.Os}} {{len .RootFS.Layers}}",
            "example.com/multi:1",
        ])
        .ok();
    assert_eq!(got.trim(), "amd64 linux 1");
}

#[test]
fn missing_images_and_pulls_fail_clearly() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    let r = d.request("GET", "/v1.41/images/nosuch/json", &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(r.message(), "No such image: nosuch:latest");
    // Nothing listens on port 1: the pull fails naming what it tried (the
    // registry tests pull from a real one).
    let err = d.docker(["pull", "127.0.0.1:1/nosuch:1"]).fails();
    assert!(err.contains("\"http://127.0.0.1:1/v2/\""), "{err}");
    let err = d
        .docker(["run", "--rm", "127.0.0.1:1/nosuch:1", "true"])
        .fails();
    assert!(
        err.contains("Unable to find image '127.0.0.1:1/nosuch:1' locally"),
        "{err}"
    );
    assert!(err.contains("\"http://127.0.0.1:1/v2/\""), "{err}");
    let search = d.get_json("/v1.41/images/search?term=busybox");
    assert_eq!(search, serde_json::json!([]));
}

#[test]
fn prune_and_disk_usage() {
    if !testkit::require_root() {
        return;
    }
    let d = Berthd::start();
    d.import_busybox();
    let df = d
        .docker(["system", "df", "--format", "{{.Type}} {{.TotalCount}}"])
        .ok();
    assert!(df.contains("Images 1"), "{df}");
    // Tagged images are not dangling: a plain prune keeps them, -a removes them.
    d.docker(["image", "prune", "-f"]).ok();
    assert_eq!(d.docker(["images", "-q"]).ok().lines().count(), 1);
    let out = d.docker(["image", "prune", "-af"]).ok();
    assert!(out.contains("Deleted Images"), "{out}");
    assert_eq!(d.docker(["images", "-q"]).ok().trim(), "");
    let info = d.get_json("/info");
    assert_eq!(info["Images"], 0);
}
