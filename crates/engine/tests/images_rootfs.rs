//! Containers' root filesystems from the image service, mounted for real
//! (overlayfs, and native copies) inside a private mount namespace so no
//! mount outlives a test.

mod images_support;

/// The tests, in a module so that `cargo test images` selects them all.
mod images {
    use super::images_support::*;

    /// Prepares a container rootfs on the busybox image, mounts it, writes
    /// into it, diffs it and removes it; `bin/busybox` runs from the mount.
    fn rootfs_lifecycle(e: &Engine, id: &str, work: &Path) {
        let svc = e.image_service();
        let target = work.join("rootfs");
        fs::create_dir_all(&target).unwrap();
        in_private_mount_namespace(|| {
            let mounts = svc.prepare_rootfs(id, "ctr-1").unwrap();
            assert_eq!(svc.rootfs_mounts("ctr-1").unwrap(), mounts);
            let err = svc.prepare_rootfs(id, "ctr-1").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Conflict);
            let guard = mount_all(&mounts, &target).unwrap();
            let out = std::process::Command::new(target.join("bin/busybox"))
                .args(["echo", "from the image"])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "from the image\n");
            assert_eq!(
                fs::read_link(target.join("bin/sh")).unwrap(),
                Path::new("busybox")
            );
            fs::write(target.join("tmp/written"), b"by the container").unwrap();
            fs::remove_file(target.join("etc/group")).unwrap();
            guard.unmount().unwrap();
            let mut diff = Vec::new();
            svc.diff_rootfs("ctr-1", &mut diff).unwrap();
            let entries = tar_entries(&diff);
            assert_eq!(entries["tmp/written"], b"by the container");
            assert!(
                entries.contains_key("etc/.wh.group"),
                "{:?}",
                entries.keys()
            );
            assert!(
                !entries.contains_key("bin/busybox"),
                "unchanged files are not in the diff"
            );
        });
        // The image's layer is untouched by the container.
        let again = e.image_service().prepare_rootfs(id, "ctr-2").unwrap();
        in_private_mount_namespace(|| {
            let guard = mount_all(&again, &target).unwrap();
            assert!(target.join("etc/group").exists());
            assert!(!target.join("tmp/written").exists());
            guard.unmount().unwrap();
        });
        for key in ["ctr-1", "ctr-2"] {
            svc.remove_rootfs(key).unwrap();
            assert_eq!(
                svc.rootfs_mounts(key).unwrap_err().kind(),
                ErrorKind::NotFound
            );
            // Removing twice is fine (an interrupted removal is repeated).
            svc.remove_rootfs(key).unwrap();
        }
    }

    #[tokio::test]
    async fn overlay_rootfs_mounts_the_image_and_cleans_up() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let id = import(&env.engine, busybox_tar(), Some("busybox"), None).await;
        let e = env.engine.clone();
        let work = env.data.join("work");
        let id2 = id.clone();
        tokio::task::spawn_blocking(move || rootfs_lifecycle(&e, &id2, &work))
            .await
            .unwrap();
        // Only the image's own layer is left.
        assert_eq!(
            files_under(&env.data.join("snapshots/overlay/snapshots")),
            1
        );
    }

    #[tokio::test]
    async fn native_rootfs_works_the_same() {
        if !testkit::require_root() {
            return;
        }
        let env = engine_with("native").await;
        let id = import(&env.engine, busybox_tar(), Some("busybox"), None).await;
        assert_eq!(
            env.engine
                .image_inspect(&id)
                .await
                .unwrap()
                .graph_driver
                .name,
            "native"
        );
        let e = env.engine.clone();
        let work = env.data.join("work");
        tokio::task::spawn_blocking(move || rootfs_lifecycle(&e, &id, &work))
            .await
            .unwrap();
        assert_eq!(files_under(&env.data.join("snapshots/native/snapshots")), 1);
    }

    #[tokio::test]
    async fn a_deleted_images_layers_stay_while_a_rootfs_sits_on_them() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let e = &env.engine;
        let id = import(e, busybox_tar(), Some("busybox"), None).await;
        let svc = e.image_service().clone();
        let id2 = id.clone();
        tokio::task::spawn_blocking(move || svc.prepare_rootfs(&id2, "ctr").map(drop))
            .await
            .unwrap()
            .unwrap();
        // No container service user here: the image goes, its layer stays.
        let r = e.image_remove("busybox", false, false).await.unwrap();
        assert_eq!(r.len(), 2, "untag and delete, no layer: {r:?}");
        assert_eq!(
            files_under(&env.data.join("snapshots/overlay/snapshots")),
            2
        );
        assert!(e.image_service().rootfs_mounts("ctr").is_ok());
        e.image_service().remove_rootfs("ctr").unwrap();
        // The next collection takes the orphaned layer.
        e.image_prune(true, &Filters::new()).await.unwrap();
        assert_eq!(
            files_under(&env.data.join("snapshots/overlay/snapshots")),
            0
        );
    }
}
