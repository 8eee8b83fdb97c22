//! Interop with real Docker (Debian's docker.io, dockerd 20.10): an image
//! saved by `docker save` loads into berth with the same image ID, and
//! berth's save loads back into Docker with the same ID.
//!
//! The test starts a private dockerd (testkit's: own data root, exec root
//! and socket, no bridge, no iptables, own mount namespace). Needs root
//! and `dockerd` + `docker` on PATH; without them it says so and does
//! nothing.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use berth_content::{Leases, Store};
use berth_image::manifest::{self, Parsed};
use berth_image::{
    ImageConfig, ImageStore, Platform, load_docker_archive, save_docker_archive, unpack,
};
use berth_snapshots::Snapshotter;
use berth_snapshots::overlay::OverlaySnapshotter;
use testkit::dockerd::{Dockerd, on_path};

/// A busybox rootfs tarball: /bin/busybox and /bin/sh -> busybox.
fn busybox_rootfs(out: &Path) {
    let mut b = tar::Builder::new(fs::File::create(out).unwrap());
    b.append_path_with_name("/usr/bin/busybox", "bin/busybox")
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_link(&mut h, "bin/sh", "busybox").unwrap();
    b.finish().unwrap();
}

#[test]
fn docker_save_and_load_agree_with_berth_on_image_ids() {
    if !on_path("dockerd") || !on_path("docker") || !Path::new("/usr/bin/busybox").exists() {
        eprintln!(
            "skipped: needs dockerd, docker and /usr/bin/busybox (Debian docker.io, busybox-static)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = Dockerd::start(tmp.path());
    let rootfs = tmp.path().join("rootfs.tar");
    busybox_rootfs(&rootfs);
    d.ok(&[
        "import",
        "--change",
        "CMD [\"/bin/sh\"]",
        rootfs.to_str().unwrap(),
        "berth-interop:src",
    ]);
    let docker_id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "berth-interop:src"]);
    let saved = tmp.path().join("docker-save.tar");
    d.ok(&["save", "-o", saved.to_str().unwrap(), "berth-interop:src"]);

    let content = Store::open(tmp.path().join("berth/content")).unwrap();
    let leases = Leases::open(tmp.path().join("berth/leases")).unwrap();
    let images = ImageStore::open(tmp.path().join("berth/images.json")).unwrap();
    let loaded =
        load_docker_archive(&content, &leases, &images, fs::File::open(&saved).unwrap()).unwrap();
    assert_eq!(
        loaded[0].id.to_string(),
        docker_id,
        "same image ID as dockerd"
    );
    assert_eq!(loaded[0].names, vec!["docker.io/library/berth-interop:src"]);

    // The layer unpacks and holds the busybox binary.
    let rec = images.get("docker.io/library/berth-interop:src").unwrap();
    let Parsed::Manifest(m) = manifest::parse(
        &rec.target.digest,
        None,
        &content.read(&rec.target.digest).unwrap(),
    )
    .unwrap() else {
        panic!("manifest")
    };
    let cfg =
        ImageConfig::parse(&m.config.digest, &content.read(&m.config.digest).unwrap()).unwrap();
    let sn = OverlaySnapshotter::open(&tmp.path().join("berth/overlay")).unwrap();
    let u = unpack(&content, &sn, &m, &m.config.digest, &cfg).unwrap();
    let top = sn.stat(&u.chain_ids[0].to_string()).unwrap();
    assert_eq!(top.kind, berth_snapshots::Kind::Committed);

    // A second image committed from a container: two layers, its parent
    // the first. dockerd's archive of both shares the base layer through
    // a symlink, which berth's load follows.
    d.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "interop-c",
        "berth-interop:src",
        "sh",
        "-c",
        "echo committed > /f",
    ]);
    d.ok(&["commit", "interop-c", "berth-interop:two"]);
    d.ok(&["rm", "interop-c"]);
    let two_id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "berth-interop:two"]);
    let both = tmp.path().join("docker-save-both.tar");
    d.ok(&[
        "save",
        "-o",
        both.to_str().unwrap(),
        "berth-interop:src",
        "berth-interop:two",
    ]);
    let loaded =
        load_docker_archive(&content, &leases, &images, fs::File::open(&both).unwrap()).unwrap();
    let ids: Vec<String> = loaded.iter().map(|l| l.id.to_string()).collect();
    assert!(ids.contains(&two_id) && ids.contains(&docker_id), "{ids:?}");

    // berth's save is dockerd's layout: a directory per layer with
    // VERSION, json and layer.tar, repositories naming the top layer.
    let ours = tmp.path().join("berth-save.tar");
    save_docker_archive(
        &content,
        &images,
        &[
            "docker.io/library/berth-interop:src",
            "docker.io/library/berth-interop:two",
        ],
        &Platform::default_linux(),
        fs::File::create(&ours).unwrap(),
    )
    .unwrap();
    let mut ar = tar::Archive::new(fs::File::open(&ours).unwrap());
    let mut files: BTreeMap<String, (tar::EntryType, Vec<u8>)> = BTreeMap::new();
    let mut order = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        order.push(p.clone());
        files.insert(p, (e.header().entry_type(), data));
    }
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "entries in dockerd's (sorted) order");
    let mj: serde_json::Value = serde_json::from_slice(&files["manifest.json"].1).unwrap();
    let entries = mj.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for e in entries {
        let layers = e["Layers"].as_array().unwrap();
        for l in layers {
            let dir = l.as_str().unwrap().trim_end_matches("/layer.tar");
            assert_eq!(files[&format!("{dir}/VERSION")].1, b"1.0");
            let json: serde_json::Value =
                serde_json::from_slice(&files[&format!("{dir}/json")].1).unwrap();
            assert_eq!(json["id"], dir);
            assert!(
                files.contains_key(&format!("{dir}/")),
                "{dir}/ directory entry"
            );
        }
        let top = layers.last().unwrap().as_str().unwrap();
        let top_dir = top.trim_end_matches("/layer.tar");
        let tags = e["RepoTags"].as_array().unwrap();
        let tag = tags[0].as_str().unwrap().rsplit_once(':').unwrap().1;
        let repos: serde_json::Value = serde_json::from_slice(&files["repositories"].1).unwrap();
        assert_eq!(repos["berth-interop"][tag], top_dir);
    }
    // The base layer is written once; the other copy is a symlink.
    let kinds: Vec<tar::EntryType> = files
        .iter()
        .filter(|(p, _)| p.ends_with("/layer.tar"))
        .map(|(_, (k, _))| *k)
        .collect();
    assert_eq!(kinds.len(), 3, "src's layer, two's base and top: {kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == tar::EntryType::Symlink)
            .count(),
        1
    );

    // It loads back into dockerd with the same IDs, and runs there.
    d.ok(&["rmi", "berth-interop:two", "berth-interop:src"]);
    d.ok(&["load", "-i", ours.to_str().unwrap()]);
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", "berth-interop:src"]),
        docker_id
    );
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", "berth-interop:two"]),
        two_id
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "berth-interop:two",
            "busybox",
            "cat",
            "/f"
        ]),
        "committed"
    );
    // And into berth again, unchanged.
    let images2 = ImageStore::open(tmp.path().join("berth/images2.json")).unwrap();
    let again =
        load_docker_archive(&content, &leases, &images2, fs::File::open(&ours).unwrap()).unwrap();
    let mut again_ids: Vec<String> = again.iter().map(|l| l.id.to_string()).collect();
    let mut want = vec![docker_id.clone(), two_id.clone()];
    again_ids.sort();
    want.sort();
    assert_eq!(again_ids, want);
}
