//! Interop of berth's OCI image layouts with tools written elsewhere
//! (Debian's `skopeo` and `umoci`): skopeo copies berth's layout without
//! changing a digest, umoci unpacks it, and a layout skopeo wrote loads into
//! berth with the digests skopeo recorded.
//!
//! Each test needs its tool on PATH and `/usr/bin/busybox`; without them it
//! says so and does nothing.

use std::fs;
use std::path::Path;
use std::process::Command;

use berth_content::{Digest, Leases, Store};
use berth_image::apply::{ApplyOptions, WhiteoutMode, apply_layer};
use berth_image::import::{ImportOptions, import_rootfs};
use berth_image::manifest::{self, MT_OCI_CONFIG, MT_OCI_MANIFEST, Parsed};
use berth_image::oci_layout::{ManifestForm, load_oci_layout_dir, save_oci_layout_dir_as};
use berth_image::{Compression, ImageConfig, ImageStore, Index, Manifest, Platform};

const BUSYBOX: &str = "/usr/bin/busybox";
const NAME: &str = "docker.io/berth/interop:v1";

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

/// True when every tool is present; otherwise says which are missing.
fn have(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !on_path(t)).collect();
    if !missing.is_empty() || !Path::new(BUSYBOX).exists() {
        eprintln!(
            "SKIPPED: needs {tools:?} on PATH (missing {missing:?}) and {BUSYBOX} \
             (Debian packages skopeo, umoci, busybox-static)"
        );
        return false;
    }
    true
}

fn run(cmd: &mut Command) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A content store, lease table and image records in `dir`.
struct Berth {
    content: Store,
    leases: Leases,
    images: ImageStore,
}

impl Berth {
    fn open(dir: &Path) -> Berth {
        Berth {
            content: Store::open(dir.join("content")).unwrap(),
            leases: Leases::open(dir.join("leases")).unwrap(),
            images: ImageStore::open(dir.join("images.json")).unwrap(),
        }
    }

    fn manifest(&self, digest: &Digest) -> Manifest {
        match manifest::parse(digest, None, &self.content.read(digest).unwrap()).unwrap() {
            Parsed::Manifest(m) => *m,
            Parsed::Index(_) => panic!("{digest} is an index"),
        }
    }
}

/// A busybox rootfs tarball: /bin/busybox and /bin/sh -> busybox.
fn busybox_rootfs() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_path_with_name(BUSYBOX, "bin/busybox").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_mtime(0);
    b.append_link(&mut h, "bin/sh", "busybox").unwrap();
    b.into_inner().unwrap()
}

/// Imports busybox into a fresh store in `dir/berth` and saves it as an
/// OCI layout in `dir/berth-layout`.
fn berth_layout(dir: &Path) -> (Berth, std::path::PathBuf) {
    let b = Berth::open(&dir.join("berth"));
    let changes = vec![r#"CMD ["/bin/sh"]"#.to_owned()];
    import_rootfs(
        &b.content,
        &b.leases,
        &b.images,
        &busybox_rootfs()[..],
        &ImportOptions {
            changes: &changes,
            message: None,
            name: Some(NAME),
            platform: Platform::default_linux(),
        },
    )
    .unwrap();
    let layout = dir.join("berth-layout");
    save_oci_layout_dir_as(&b.content, &b.images, &[NAME], ManifestForm::Oci, &layout).unwrap();
    (b, layout)
}

fn read_index(layout: &Path) -> Index {
    serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap()
}

/// The manifest digest the layout's index tags `tag`.
fn tagged(layout: &Path, tag: &str) -> Digest {
    let idx = read_index(layout);
    let d = idx
        .manifests
        .iter()
        .find(|d| {
            d.annotations
                .get("org.opencontainers.image.ref.name")
                .is_some_and(|t| t == tag)
        })
        .unwrap_or_else(|| panic!("no {tag} in {}", layout.display()));
    d.digest
}

fn layout_ref(dir: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", dir.display())
}

#[test]
fn skopeo_copies_berths_layout_with_the_same_digests() {
    if !have(&["skopeo"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (b, ours) = berth_layout(tmp.path());
    let ours_digest = tagged(&ours, "v1");
    let idx = read_index(&ours);
    assert_eq!(
        idx.manifests[0].media_type, MT_OCI_MANIFEST,
        "an OCI layout holds OCI manifests"
    );
    // The image ID survives the layout: same config, now under OCI types.
    let in_layout = fs::read(ours.join("blobs/sha256").join(ours_digest.hex())).unwrap();
    let Parsed::Manifest(m) = manifest::parse(&ours_digest, None, &in_layout).unwrap() else {
        panic!("manifest")
    };
    assert_eq!(m.media_type.as_deref(), Some(MT_OCI_MANIFEST));
    assert_eq!(m.config.media_type, MT_OCI_CONFIG);
    let rec = b.images.get(NAME).unwrap();
    let stored = b.manifest(&rec.target.digest);
    assert_eq!(m.config.digest, stored.config.digest);
    assert_eq!(m.layers.len(), stored.layers.len());
    assert_eq!(m.layers[0].digest, stored.layers[0].digest);
    // OCI manifest, config, layer: the Docker manifest it replaces is not
    // written.
    assert_eq!(fs::read_dir(ours.join("blobs/sha256")).unwrap().count(), 3);

    let theirs = tmp.path().join("skopeo-layout");
    // skopeo gzips uncompressed layers on the way into an `oci:` layout
    // unless told not to; `--preserve-digests` makes it fail rather than
    // rewrite anything, so a digest berth got wrong cannot slip through.
    run(Command::new("skopeo").args([
        "copy",
        "--quiet",
        "--preserve-digests",
        "--dest-oci-accept-uncompressed-layers",
        &layout_ref(&ours, "v1"),
        &layout_ref(&theirs, "v1"),
    ]));
    assert_eq!(tagged(&theirs, "v1"), ours_digest, "manifest digest kept");
    // Every blob skopeo wrote is byte-identical to berth's.
    for e in fs::read_dir(theirs.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let hex = e.file_name().into_string().unwrap();
        let mine = fs::read(ours.join("blobs/sha256").join(&hex)).unwrap();
        assert_eq!(fs::read(e.path()).unwrap(), mine, "blob {hex}");
    }
    // skopeo's own check of the source: inspect reads config and digest.
    let raw = run(Command::new("skopeo").args(["inspect", &layout_ref(&ours, "v1")]));
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["Digest"], ours_digest.to_string());
}

#[test]
fn umoci_unpacks_berths_layout() {
    if !have(&["umoci"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_b, ours) = berth_layout(tmp.path());
    let bundle = tmp.path().join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:v1", ours.display()))
        .arg(&bundle));
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        fs::read(rootfs.join("bin/busybox")).unwrap(),
        fs::read(BUSYBOX).unwrap(),
        "bin/busybox as in the source"
    );
    assert_eq!(
        fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    // umoci turns the image config into a runtime spec: CMD survived.
    let spec: serde_json::Value =
        serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["process"]["args"], serde_json::json!(["/bin/sh"]));
}

#[test]
fn a_layout_skopeo_wrote_loads_into_berth_with_its_digests() {
    if !have(&["skopeo", "umoci"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // An image berth never saw: umoci builds it, skopeo rewrites it with a
    // gzip layer (so every manifest byte in the copy is skopeo's).
    let built = tmp.path().join("umoci-layout");
    let rootfs = tmp.path().join("rootfs");
    fs::create_dir_all(rootfs.join("bin")).unwrap();
    fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    let img = |tag: &str| format!("{}:{tag}", built.display());
    run(Command::new("umoci").args(["init", "--layout"]).arg(&built));
    run(Command::new("umoci").args(["new", "--image", &img("base")]));
    run(Command::new("umoci")
        .args(["insert", "--image", &img("base")])
        .arg(rootfs.join("bin"))
        .arg("/bin"));
    run(Command::new("umoci").args(["config", "--image", &img("base"), "--config.cmd", "/bin/sh"]));
    let theirs = tmp.path().join("skopeo-layout");
    run(Command::new("skopeo").args([
        "copy",
        "--quiet",
        "--dest-compress",
        "--dest-compress-format",
        "gzip",
        &layout_ref(&built, "base"),
        &layout_ref(&theirs, "v2"),
    ]));
    let their_digest = tagged(&theirs, "v2");

    let b = Berth::open(&tmp.path().join("berth"));
    let loaded = load_oci_layout_dir(
        &b.content,
        &b.leases,
        &b.images,
        &theirs,
        Some("berth/interop"),
    )
    .unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(
        loaded[0].names,
        vec![String::from("docker.io/berth/interop:v2")]
    );
    assert_eq!(
        loaded[0].target.digest, their_digest,
        "manifest digest kept"
    );
    let rec = b.images.get("docker.io/berth/interop:v2").unwrap();
    assert_eq!(rec.target.digest, their_digest);

    // The image ID is the config digest skopeo's manifest names.
    let on_disk: serde_json::Value = serde_json::from_slice(
        &fs::read(theirs.join("blobs/sha256").join(their_digest.hex())).unwrap(),
    )
    .unwrap();
    let m = b.manifest(&their_digest);
    assert_eq!(m.config.digest.to_string(), on_disk["config"]["digest"]);
    assert_eq!(m.layers.len(), 1);
    assert!(
        m.layers[0].media_type.ends_with("+gzip"),
        "{}",
        m.layers[0].media_type
    );
    let cfg =
        ImageConfig::parse(&m.config.digest, &b.content.read(&m.config.digest).unwrap()).unwrap();
    assert_eq!(
        cfg.config.as_ref().unwrap().cmd.as_deref().unwrap(),
        ["/bin/sh"]
    );

    // The stored layer applies to the same busybox, with the diff ID the
    // config records.
    let tree = tmp.path().join("applied");
    fs::create_dir(&tree).unwrap();
    let layer = &m.layers[0];
    let applied = apply_layer(
        &tree,
        b.content.reader(&layer.digest).unwrap().into_file(),
        Compression::from_media_type(&layer.media_type).unwrap(),
        &ApplyOptions {
            whiteouts: WhiteoutMode::Delete,
        },
    )
    .unwrap();
    assert_eq!(applied.diff_id, cfg.rootfs.diff_ids[0]);
    assert_eq!(
        fs::read(tree.join("bin/busybox")).unwrap(),
        fs::read(BUSYBOX).unwrap()
    );

    // And back out: berth's save of what it loaded, copied by skopeo again,
    // still has skopeo's manifest digest.
    let again = tmp.path().join("berth-layout");
    // (Already OCI: the OCI form changes nothing.)
    save_oci_layout_dir_as(
        &b.content,
        &b.images,
        &["docker.io/berth/interop:v2"],
        ManifestForm::Oci,
        &again,
    )
    .unwrap();
    assert_eq!(tagged(&again, "v2"), their_digest);
    let back = tmp.path().join("skopeo-again");
    run(Command::new("skopeo").args([
        "copy",
        "--quiet",
        "--preserve-digests",
        &layout_ref(&again, "v2"),
        &layout_ref(&back, "v2"),
    ]));
    assert_eq!(tagged(&back, "v2"), their_digest);
}
