//! Loading, unpacking, saving and collecting images end to end on real
//! directories (root: the layers carry owners and overlay whiteouts).

use std::fs;

use berth_content::gc::{self, GcOptions};
use berth_content::{Digest, Leases, Store};
use berth_image::archive::ArchiveError;
use berth_image::manifest::{self, Parsed};
use berth_image::store::{ImageRoots, ManifestChildren};
use berth_image::{
    ImageConfig, ImageStore, Platform, load_docker_archive, save_docker_archive, unpack,
};
use berth_snapshots::native::NativeSnapshotter;
use berth_snapshots::overlay::OverlaySnapshotter;
use berth_snapshots::{Snapshotter, mount::mount_all, testsuite::in_private_mount_namespace};

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn config(diff_ids: &[Digest]) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|d| format!("\"{d}\"")).collect();
    format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/bin/sh"]}},"rootfs":{{"type":"layers","diff_ids":[{}]}},"history":[{{"created_by":"a"}},{{"created_by":"b"}}]}}"#,
        ids.join(",")
    )
    .into_bytes()
}

struct Image {
    tags: Vec<&'static str>,
    layers: Vec<Vec<u8>>,
}

/// A legacy-format `docker save` archive of `images`.
fn archive(images: &[Image], corrupt: Option<&str>) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    };
    let mut manifest = Vec::new();
    for img in images {
        let diff_ids: Vec<Digest> = img.layers.iter().map(|l| Digest::of(l)).collect();
        let cfg = config(&diff_ids);
        let cname = format!("{}.json", Digest::of(&cfg).hex());
        add(&mut b, &cname, &cfg);
        let mut paths = Vec::new();
        for (l, d) in img.layers.iter().zip(&diff_ids) {
            let p = format!("{}/layer.tar", d.hex());
            if corrupt == Some("layer") {
                add(&mut b, &p, &layer(&[("other", b"x")]));
            } else if corrupt != Some("missing") {
                add(&mut b, &p, l);
            }
            paths.push(p);
        }
        manifest.push(serde_json::json!({"Config": cname, "RepoTags": img.tags, "Layers": paths}));
    }
    add(
        &mut b,
        "manifest.json",
        serde_json::to_vec(&manifest).unwrap().as_slice(),
    );
    b.into_inner().unwrap()
}

struct Env {
    _tmp: tempfile::TempDir,
    content: Store,
    leases: Leases,
    images: ImageStore,
    root: std::path::PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    Env {
        content: Store::open(root.join("content")).unwrap(),
        leases: Leases::open(root.join("leases")).unwrap(),
        images: ImageStore::open(root.join("images.json")).unwrap(),
        root,
        _tmp: tmp,
    }
}

fn base() -> Vec<u8> {
    layer(&[
        ("bin/sh", b"#!shell"),
        ("etc/os-release", b"ID=test\n"),
        ("etc/gone", b"bye"),
    ])
}

fn top() -> Vec<u8> {
    layer(&[("etc/.wh.gone", b""), ("app/run", b"run")])
}

/// Reads an image's manifest and config from the store.
fn parts(e: &Env, name: &str) -> (manifest::Manifest, Digest, ImageConfig) {
    let rec = e.images.get(name).unwrap();
    let bytes = e.content.read(&rec.target.digest).unwrap();
    let Parsed::Manifest(m) = manifest::parse(&rec.target.digest, None, &bytes).unwrap() else {
        panic!("manifest")
    };
    let cd = m.config.digest;
    let cfg = ImageConfig::parse(&cd, &e.content.read(&cd).unwrap()).unwrap();
    (*m, cd, cfg)
}

#[test]
fn load_unpack_save_round_trip_with_shared_layers() {
    let e = env();
    let bytes = archive(
        &[
            Image {
                tags: vec!["busybox:latest", "example.com:5000/me/app:v1"],
                layers: vec![base(), top()],
            },
            Image {
                tags: vec!["other"],
                layers: vec![base(), layer(&[("other", b"o")])],
            },
        ],
        None,
    );
    let loaded = load_docker_archive(&e.content, &e.leases, &e.images, &bytes[..]).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(
        loaded[0].names,
        vec![
            "docker.io/library/busybox:latest",
            "example.com:5000/me/app:v1"
        ]
    );
    assert_eq!(loaded[1].names, vec!["docker.io/library/other:latest"]);
    assert!(
        e.leases.list().unwrap().is_empty(),
        "the load lease is gone"
    );
    let (m, cd, cfg) = parts(&e, "docker.io/library/busybox:latest");
    assert_eq!(cd, loaded[0].id, "image ID is the config digest");
    assert_eq!(m.layers[0].media_type, manifest::MT_DOCKER_LAYER);

    for sn in [
        Box::new(OverlaySnapshotter::open(&e.root.join("overlay")).unwrap())
            as Box<dyn Snapshotter>,
        Box::new(NativeSnapshotter::open(&e.root.join("native")).unwrap()),
    ] {
        let u = unpack(&e.content, &*sn, &m, &cd, &cfg).unwrap();
        assert_eq!(u.applied, 2);
        let (m2, cd2, cfg2) = parts(&e, "docker.io/library/other:latest");
        let u2 = unpack(&e.content, &*sn, &m2, &cd2, &cfg2).unwrap();
        assert_eq!(u2.applied, 1, "the base layer's snapshot is shared");
        assert_eq!(u2.chain_ids[0], u.chain_ids[0]);
        assert_eq!(unpack(&e.content, &*sn, &m, &cd, &cfg).unwrap().applied, 0);
        let du = berth_image::usage::disk_usage(
            &*sn,
            &[(cd, u.chain_ids.clone()), (cd2, u2.chain_ids.clone())],
        )
        .unwrap();
        let layer = |c: &Digest| sn.usage(&c.to_string()).unwrap().size;
        let base_size = layer(&u.chain_ids[0]);
        assert!(base_size > 0);
        assert_eq!(du[0].shared_size, base_size);
        assert_eq!(du[1].shared_size, base_size);
        assert_eq!(du[0].unique_size, layer(&u.chain_ids[1]));
        assert_eq!(du[0].size, du[0].shared_size + du[0].unique_size);
        let top = u.chain_ids.last().unwrap().to_string();
        sn.view("check", Some(&top)).unwrap();
        let target = e.root.join(format!("mnt-{}", sn.name()));
        fs::create_dir(&target).unwrap();
        let mounts = sn.mounts("check").unwrap();
        in_private_mount_namespace(|| {
            let g = mount_all(&mounts, &target).unwrap();
            assert_eq!(fs::read(target.join("bin/sh")).unwrap(), b"#!shell");
            assert_eq!(fs::read(target.join("app/run")).unwrap(), b"run");
            assert!(
                !target.join("etc/gone").exists(),
                "whiteout hides the lower file"
            );
            assert!(target.join("etc/os-release").exists());
            g.unmount().unwrap();
        });
    }

    let mut saved = Vec::new();
    save_docker_archive(
        &e.content,
        &e.images,
        &[
            "docker.io/library/busybox:latest",
            "example.com:5000/me/app:v1",
        ],
        &Platform::default_linux(),
        &mut saved,
    )
    .unwrap();
    let e2 = env();
    let again = load_docker_archive(&e2.content, &e2.leases, &e2.images, &saved[..]).unwrap();
    assert_eq!(
        again.len(),
        1,
        "two names of one image are one archive entry"
    );
    assert_eq!(
        again[0].id, loaded[0].id,
        "same image ID after save and load"
    );
    assert_eq!(again[0].manifest.digest, loaded[0].manifest.digest);
    assert_eq!(again[0].names, loaded[0].names);
}

#[test]
fn bad_archives_fail_and_leave_no_image() {
    for (corrupt, check) in [
        (
            Some("layer"),
            &(|e: &ArchiveError| matches!(e, ArchiveError::DiffId { .. }))
                as &dyn Fn(&ArchiveError) -> bool,
        ),
        (
            Some("missing"),
            &|e: &ArchiveError| matches!(e, ArchiveError::MissingFile { file } if file.ends_with("/layer.tar")),
        ),
    ] {
        let e = env();
        let bytes = archive(
            &[Image {
                tags: vec!["busybox"],
                layers: vec![base()],
            }],
            corrupt,
        );
        let err = load_docker_archive(&e.content, &e.leases, &e.images, &bytes[..]).unwrap_err();
        assert!(check(&err), "{corrupt:?}: {err}");
        assert!(e.images.list().is_empty());
        assert!(e.leases.list().unwrap().is_empty());
        assert!(e.content.ingests().unwrap().is_empty());
    }
    // Truncated in the middle of a layer.
    let e = env();
    let big = layer(&[("big", &vec![1u8; 100_000])]);
    let bytes = archive(
        &[Image {
            tags: vec!["busybox"],
            layers: vec![big],
        }],
        None,
    );
    let err = load_docker_archive(&e.content, &e.leases, &e.images, &bytes[..60_000]).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Read(_) | ArchiveError::Store { .. } | ArchiveError::NoManifest
        ),
        "{err}"
    );
    assert!(e.images.list().is_empty());
    let e = env();
    let err = load_docker_archive(&e.content, &e.leases, &e.images, &b"not a tar at all"[..])
        .unwrap_err();
    assert!(
        matches!(err, ArchiveError::Read(_) | ArchiveError::NoManifest),
        "{err}"
    );
}

#[test]
fn gc_keeps_what_images_reference_and_collects_the_rest() {
    let e = env();
    let bytes = archive(
        &[Image {
            tags: vec!["busybox"],
            layers: vec![base(), top()],
        }],
        None,
    );
    load_docker_archive(&e.content, &e.leases, &e.images, &bytes[..]).unwrap();
    let stray = e
        .content
        .write_blob("stray", &b"stray"[..], None, None)
        .unwrap()
        .digest;
    let before = e.content.list().unwrap().len();
    let r = gc::collect(
        &e.content,
        &e.leases,
        &[&ImageRoots(&e.images)],
        Some(&ManifestChildren),
        &GcOptions::default(),
    )
    .unwrap();
    assert_eq!(r.removed_blobs, vec![stray]);
    // manifest + config + 2 layers
    assert_eq!(e.content.list().unwrap().len(), before - 1);
    assert_eq!(e.content.list().unwrap().len(), 4);
    e.images.delete("docker.io/library/busybox:latest").unwrap();
    let r = gc::collect(
        &e.content,
        &e.leases,
        &[&ImageRoots(&e.images)],
        Some(&ManifestChildren),
        &GcOptions::default(),
    )
    .unwrap();
    assert_eq!(r.removed_blobs.len(), 4);
    assert!(e.content.list().unwrap().is_empty());
}

#[test]
fn oci_layout_dir_and_tar_round_trip_and_verify_blobs() {
    use berth_image::oci_layout::{
        OciLayoutError, load_oci_layout_dir, load_oci_layout_tar, save_oci_layout_dir,
        save_oci_layout_tar,
    };
    let e = env();
    let bytes = archive(
        &[Image {
            tags: vec!["busybox:1", "example.com/x/y:v2"],
            layers: vec![base(), top()],
        }],
        None,
    );
    let loaded = load_docker_archive(&e.content, &e.leases, &e.images, &bytes[..]).unwrap();
    let names = ["docker.io/library/busybox:1", "example.com/x/y:v2"];
    let dir = e.root.join("layout");
    save_oci_layout_dir(&e.content, &e.images, &names, &dir).unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "1"
    );
    // manifest + config + 2 layers, each once although two names share them.
    assert_eq!(fs::read_dir(dir.join("blobs/sha256")).unwrap().count(), 4);

    let e2 = env();
    let got = load_oci_layout_dir(&e2.content, &e2.leases, &e2.images, &dir, None).unwrap();
    let got_names: Vec<_> = got.iter().flat_map(|l| l.names.clone()).collect();
    assert_eq!(got_names, names);
    assert!(
        got.iter()
            .all(|l| l.target.digest == loaded[0].manifest.digest)
    );
    let (_, cd, _) = parts(&e2, "docker.io/library/busybox:1");
    assert_eq!(cd, loaded[0].id);

    let mut tar = Vec::new();
    save_oci_layout_tar(&e.content, &e.images, &names[..1], &mut tar).unwrap();
    let e3 = env();
    let got = load_oci_layout_tar(&e3.content, &e3.leases, &e3.images, &tar[..], None).unwrap();
    assert_eq!(got[0].names, vec!["docker.io/library/busybox:1"]);
    assert!(e3.leases.list().unwrap().is_empty());

    // A tag-only name takes the repository the caller gives.
    let index_path = dir.join("index.json");
    let mut idx: serde_json::Value =
        serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    for m in idx["manifests"].as_array_mut().unwrap() {
        m["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("io.containerd.image.name");
    }
    fs::write(&index_path, serde_json::to_vec(&idx).unwrap()).unwrap();
    let e4 = env();
    let got = load_oci_layout_dir(
        &e4.content,
        &e4.leases,
        &e4.images,
        &dir,
        Some("mirror.local/bb"),
    )
    .unwrap();
    assert_eq!(got[0].names, vec!["mirror.local/bb:1"]);

    // A blob whose bytes do not match its name: refused, nothing recorded.
    let layer_hex = parts(&e, "docker.io/library/busybox:1").0.layers[1]
        .digest
        .hex();
    let p = dir.join("blobs/sha256").join(&layer_hex);
    fs::write(&p, b"tampered").unwrap();
    let e5 = env();
    let err =
        load_oci_layout_dir(&e5.content, &e5.leases, &e5.images, &dir, Some("r")).unwrap_err();
    assert!(matches!(err, OciLayoutError::Content { .. }), "{err}");
    assert!(err.to_string().contains(&layer_hex), "{err}");
    assert!(e5.images.list().is_empty());
    fs::remove_file(&p).unwrap();
    let err =
        load_oci_layout_dir(&e5.content, &e5.leases, &e5.images, &dir, Some("r")).unwrap_err();
    assert!(matches!(err, OciLayoutError::MissingBlob(_)), "{err}");
    assert!(e5.images.list().is_empty());
}
