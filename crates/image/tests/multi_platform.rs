//! Multi-platform images in loaded archives: an OCI layout tar with only
//! `index.json` (no `manifest.json`), whose entry is an OCI index or a
//! Docker manifest list, or whose top-level entries are per platform. The
//! host's platform is picked; the other platforms' blobs need not be in
//! the archive.

use berth_content::{Digest, Leases, Store};
use berth_image::archive::{AnyLoaded, load_any_archive};
use berth_image::manifest::{
    self, MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_CONFIG, MT_OCI_INDEX, MT_OCI_LAYER,
    MT_OCI_MANIFEST, Parsed, Platform,
};
use berth_image::oci_layout::OciLayoutError;
use berth_image::{ImageConfig, ImageStore};

struct Env {
    _tmp: tempfile::TempDir,
    content: Store,
    leases: Leases,
    images: ImageStore,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    Env {
        content: Store::open(root.join("content")).unwrap(),
        leases: Leases::open(root.join("leases")).unwrap(),
        images: ImageStore::open(root.join("images.json")).unwrap(),
        _tmp: tmp,
    }
}

fn layer(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

fn desc(mt: &str, bytes: &[u8], platform: Option<&str>) -> serde_json::Value {
    let mut d = serde_json::json!({
        "mediaType": mt,
        "digest": Digest::of(bytes).to_string(),
        "size": bytes.len(),
    });
    if let Some(p) = platform {
        let p = Platform::parse(p).unwrap();
        d["platform"] = serde_json::json!({"os": p.os, "architecture": p.architecture});
    }
    d
}

/// One platform's image: (manifest, config, layer) bytes.
fn image(arch: &str, file: &[u8]) -> [Vec<u8>; 3] {
    let l = layer("file", file);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&l).to_string()]},
    }))
    .unwrap();
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
        "config": desc(MT_OCI_CONFIG, &config, None),
        "layers": [desc(MT_OCI_LAYER, &l, None)],
    }))
    .unwrap();
    [m, config, l]
}

/// An OCI layout tar of `blobs` and `index` (no `manifest.json`).
fn layout(index: &serde_json::Value, blobs: &[&[u8]]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    for blob in blobs {
        add(&format!("blobs/sha256/{}", Digest::of(blob).hex()), blob);
    }
    add("index.json", &serde_json::to_vec(index).unwrap());
    b.into_inner().unwrap()
}

fn load(e: &Env, tar: &[u8]) -> Result<AnyLoaded, Box<OciLayoutError>> {
    load_any_archive(
        &e.content,
        &e.leases,
        &e.images,
        tar,
        Some("r"),
        &Platform::default_linux(),
    )
    .map_err(Box::new)
}

/// The image ID and architecture the record `name` resolves to.
fn resolved(e: &Env, name: &str) -> (Digest, String) {
    let rec = e.images.get(name).unwrap();
    let bytes = e.content.read(&rec.target.digest).unwrap();
    let Parsed::Manifest(m) = manifest::parse(&rec.target.digest, None, &bytes).unwrap() else {
        panic!("{name} does not name a manifest")
    };
    let c =
        ImageConfig::parse(&m.config.digest, &e.content.read(&m.config.digest).unwrap()).unwrap();
    (m.config.digest, c.architecture)
}

#[test]
fn an_index_in_index_json_loads_the_amd64_image_only() {
    let amd = image("amd64", b"x86");
    let arm = image("arm64", b"arm");
    for list_type in [MT_OCI_INDEX, MT_DOCKER_LIST] {
        // Docker's list names its manifests with Docker's type.
        let mt = if list_type == MT_DOCKER_LIST {
            MT_DOCKER_MANIFEST
        } else {
            MT_OCI_MANIFEST
        };
        let list = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": list_type,
            "manifests": [desc(mt, &arm[0], Some("linux/arm64")), desc(mt, &amd[0], Some("linux/amd64"))],
        }))
        .unwrap();
        let mut entry = desc(list_type, &list, None);
        entry["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "v1"});
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [entry]});
        // Only the amd64 blobs travel with the index.
        let tar = layout(&index, &[&list, &amd[0], &amd[1], &amd[2]]);
        let e = env();
        let AnyLoaded::Oci(got) = load(&e, &tar).unwrap() else {
            panic!("an OCI layout")
        };
        assert_eq!(got[0].names, ["docker.io/library/r:v1"], "{list_type}");
        assert_eq!(got[0].target.digest, Digest::of(&amd[0]));
        assert_eq!(
            resolved(&e, "docker.io/library/r:v1"),
            (Digest::of(&amd[1]), "amd64".to_string())
        );
        assert!(e.leases.list().unwrap().is_empty());
    }
}

#[test]
fn per_platform_entries_in_index_json_pick_the_host_one() {
    let amd = image("amd64", b"x86");
    let arm = image("arm64", b"arm");
    let ann = serde_json::json!({"io.containerd.image.name": "example.com/app:2"});
    let mut a = desc(MT_OCI_MANIFEST, &arm[0], Some("linux/arm64"));
    a["annotations"] = ann.clone();
    let mut b = desc(MT_OCI_MANIFEST, &amd[0], Some("linux/amd64"));
    b["annotations"] = ann;
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [a, b]});
    let tar = layout(&index, &[&amd[0], &amd[1], &amd[2]]);
    let e = env();
    load(&e, &tar).unwrap();
    assert_eq!(
        resolved(&e, "example.com/app:2"),
        (Digest::of(&amd[1]), "amd64".to_string())
    );
}

#[test]
fn an_index_without_the_host_platform_loads_nothing() {
    let arm = image("arm64", b"arm");
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MT_OCI_INDEX,
        "manifests": [desc(MT_OCI_MANIFEST, &arm[0], Some("linux/arm64"))],
    }))
    .unwrap();
    let index =
        serde_json::json!({"schemaVersion": 2, "manifests": [desc(MT_OCI_INDEX, &list, None)]});
    let tar = layout(&index, &[&list, &arm[0], &arm[1], &arm[2]]);
    let e = env();
    let err = load(&e, &tar).unwrap_err();
    assert!(err.to_string().contains("linux/amd64"), "{err}");
    assert!(e.images.list().is_empty());
    // The amd64 manifest of an index, absent from the archive: named.
    let amd = image("amd64", b"x86");
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MT_OCI_INDEX,
        "manifests": [desc(MT_OCI_MANIFEST, &amd[0], Some("linux/amd64"))],
    }))
    .unwrap();
    let index =
        serde_json::json!({"schemaVersion": 2, "manifests": [desc(MT_OCI_INDEX, &list, None)]});
    let tar = layout(&index, &[&list, &amd[1], &amd[2]]);
    let err = load(&e, &tar).unwrap_err();
    assert!(
        matches!(&*err, OciLayoutError::MissingBlob(d) if *d == Digest::of(&amd[0])),
        "{err}"
    );
    assert!(e.images.list().is_empty());
}
