//! Unpacking onto a full filesystem: a clear error naming the entry, and
//! no snapshot left behind. Needs root (tmpfs in a private namespace).

use std::fs;

use berth_content::{Digest, Store};
use berth_image::ApplyError;
use berth_image::config::ImageConfig;
use berth_image::manifest::{Descriptor, MT_DOCKER_LAYER, Manifest};
use berth_image::unpack::{UnpackError, unpack};
use berth_snapshots::Snapshotter;
use berth_snapshots::overlay::OverlaySnapshotter;
use berth_snapshots::testsuite::in_private_mount_namespace;
use rustix::mount::{MountFlags, mount};

#[test]
fn unpack_on_a_full_disk_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let content = Store::open(tmp.path().join("content")).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1 << 20);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "big/file", &vec![3u8; 1 << 20][..])
        .unwrap();
    let layer = b.into_inner().unwrap();
    let l = content.write_blob("l", &layer[..], None, None).unwrap();
    let cfg_bytes = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        l.digest
    );
    let cd = Digest::of(cfg_bytes.as_bytes());
    let cfg = ImageConfig::parse(&cd, cfg_bytes.as_bytes()).unwrap();
    let desc = |mt: &str, digest, size| Descriptor {
        media_type: mt.into(),
        digest,
        size,
        urls: vec![],
        annotations: Default::default(),
        platform: None,
    };
    let m = Manifest {
        schema_version: 2,
        media_type: None,
        config: desc(
            "application/vnd.docker.container.image.v1+json",
            cd,
            cfg_bytes.len() as u64,
        ),
        layers: vec![desc(MT_DOCKER_LAYER, l.digest, l.size)],
        annotations: Default::default(),
    };
    let small = tmp.path().join("small");
    fs::create_dir(&small).unwrap();
    in_private_mount_namespace(|| {
        mount("tmpfs", &small, "tmpfs", MountFlags::empty(), c"size=256k").unwrap();
        let sn = OverlaySnapshotter::open(&small.join("snapshots")).unwrap();
        let e = unpack(&content, &sn, &m, &cd, &cfg).unwrap_err();
        match &e {
            UnpackError::Apply {
                source: ApplyError::Entry { entry, op, source },
                ..
            } => {
                assert_eq!((entry.as_str(), *op), ("big/file", "write file"));
                assert_eq!(source.raw_os_error(), Some(libc::ENOSPC));
            }
            other => panic!("unexpected {other}"),
        }
        assert!(e.to_string().contains(&l.digest.to_string()), "{e}");
        assert!(
            sn.list().unwrap().is_empty(),
            "the half-applied snapshot is removed"
        );
        assert_eq!(
            fs::read_dir(small.join("snapshots/snapshots"))
                .unwrap()
                .count(),
            0
        );
    });
}
