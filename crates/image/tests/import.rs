//! `import` of rootfs tarballs into the store.

use std::io::Write;

use berth_content::{Digest, Leases, Store};
use berth_image::import::{ImportError, ImportOptions, import_rootfs};
use berth_image::manifest::{self, Parsed};
use berth_image::{ImageConfig, ImageStore, Platform};

fn rootfs_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [("bin/sh", &b"#!"[..]), ("etc/hostname", b"box\n")] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn a_gzipped_rootfs_becomes_a_one_layer_image_with_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let content = Store::open(tmp.path().join("content")).unwrap();
    let leases = Leases::open(tmp.path().join("leases")).unwrap();
    let images = ImageStore::open(tmp.path().join("images.json")).unwrap();
    let tar = rootfs_tar();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let changes = vec![r#"CMD ["/bin/sh"]"#.to_owned(), "ENV PATH=/bin".to_owned()];
    let opts = ImportOptions {
        changes: &changes,
        message: Some("from a test"),
        name: Some("imported/box:v1"),
        platform: Platform::default_linux(),
    };
    let imp = import_rootfs(&content, &leases, &images, &gz[..], &opts).unwrap();
    assert_eq!(imp.names, vec!["docker.io/imported/box:v1"]);
    let rec = images.get("docker.io/imported/box:v1").unwrap();
    let bytes = content.read(&rec.target.digest).unwrap();
    let Parsed::Manifest(m) = manifest::parse(&rec.target.digest, None, &bytes).unwrap() else {
        panic!("manifest")
    };
    assert_eq!(m.config.digest, imp.id);
    let cfg = ImageConfig::parse(&imp.id, &content.read(&imp.id).unwrap()).unwrap();
    assert_eq!(
        cfg.rootfs.diff_ids,
        vec![Digest::of(&tar)],
        "diff ID of the uncompressed tar"
    );
    assert_eq!(m.layers[0].digest, Digest::of(&tar));
    assert_eq!(
        cfg.config.as_ref().unwrap().cmd.as_deref().unwrap(),
        ["/bin/sh"]
    );
    assert_eq!(cfg.history[0].comment.as_deref(), Some("from a test"));
    assert_eq!(cfg.extra["comment"], "from a test");
    assert!(leases.list().unwrap().is_empty());

    // Garbage and bad changes: refused, nothing recorded, nothing left over.
    let before = images.list().len();
    let e = import_rootfs(&content, &leases, &images, &b"\x1f\x8bnot gzip"[..], &opts).unwrap_err();
    assert!(matches!(e, ImportError::Read(_)), "{e}");
    let bad = vec!["RUN rm -rf /".to_owned()];
    let e = import_rootfs(
        &content,
        &leases,
        &images,
        &tar[..],
        &ImportOptions {
            changes: &bad,
            ..opts.clone()
        },
    )
    .unwrap_err();
    assert!(matches!(e, ImportError::InvalidChange(_)), "{e}");
    assert_eq!(images.list().len(), before);
    assert!(content.ingests().unwrap().is_empty());
}
