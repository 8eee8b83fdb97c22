//! The image service's Engine API end to end on a real data root: import
//! a busybox rootfs, list/inspect/history/tag/remove by docker's rules,
//! save and load, prune, events. Containers' root filesystems are in
//! `images_rootfs.rs`.

mod images_support;

/// The tests, in a module so that `cargo test images` selects them all.
mod images {
    use super::images_support::*;

    #[tokio::test]
    async fn import_then_list_inspect_and_history() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let e = &env.engine;
        let (_, mut rx) = e.events().subscribe(None);
        let id = import(e, busybox_tar(), Some("busybox"), None).await;
        assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
        assert_eq!(
            drain(&mut rx),
            [ev("tag", &id, "busybox:latest"), ev("import", &id, &id)]
        );

        let list = e.image_list(false, &Filters::new(), false).await.unwrap();
        assert_eq!(list.len(), 1);
        let s = &list[0];
        assert_eq!(s.id, id);
        assert_eq!(
            s.repo_tags.as_deref(),
            Some(&["busybox:latest".to_string()][..])
        );
        assert_eq!((s.containers, s.shared_size), (-1, -1));
        let busybox_size = fs::metadata(testkit::rootfs::BUSYBOX).unwrap().len() as i64;
        assert!(
            s.size >= busybox_size,
            "size {} < busybox {busybox_size}",
            s.size
        );
        assert_eq!(s.labels.as_ref().unwrap()["team"], "berth");

        let i = e.image_inspect("busybox").await.unwrap();
        assert_eq!(i.id, id);
        assert_eq!(
            i.repo_tags.as_deref(),
            Some(&["busybox:latest".to_string()][..])
        );
        assert_eq!(i.repo_digests.as_deref(), Some(&[][..]));
        assert_eq!(i.comment, "Imported from -");
        assert_eq!(i.os, "linux");
        assert_eq!(i.graph_driver.name, "overlay2");
        assert_eq!(i.size, s.size);
        let layers = i.root_fs.layers.as_ref().unwrap();
        assert_eq!(layers.len(), 1);
        assert!(layers[0].starts_with("sha256:"));
        assert_eq!(
            i.config.as_ref().unwrap().cmd.as_deref(),
            Some(&["sh".to_string()][..])
        );
        assert!(
            i.created.parse::<jiff::Timestamp>().is_ok(),
            "{}",
            i.created
        );
        assert_ne!(i.metadata.last_tag_time, "0001-01-01T00:00:00Z");
        let json = serde_json::to_value(&i).unwrap();
        assert_eq!(json["ContainerConfig"]["Cmd"], serde_json::Value::Null);

        // The same image by ID, short ID and sha256-prefixed short ID.
        for name in [id.clone(), id[7..19].to_string(), id[..19].to_string()] {
            assert_eq!(e.image_inspect(&name).await.unwrap().id, id, "{name}");
        }

        let h = e.image_history("busybox:latest").await.unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].id, id);
        assert_eq!(
            h[0].tags.as_deref(),
            Some(&["busybox:latest".to_string()][..])
        );
        assert_eq!(h[0].comment, "Imported from -");
        assert_eq!(h[0].size, s.size);
        assert_eq!(e.image_count().await.unwrap(), 1);
        let status = e.image_driver_status();
        let keys: Vec<&str> = status.iter().map(|[k, _]| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "Backing Filesystem",
                "Supports d_type",
                "Native Overlay Diff",
                "userxattr"
            ]
        );
        assert_ne!(status[0][1], "<unknown>");
        assert_eq!(status[1][1], "true");

        let du = e.image_disk_usage().await.unwrap();
        assert_eq!(du.layers_size, s.size);
        assert_eq!((du.images[0].containers, du.images[0].shared_size), (0, 0));
    }

    #[tokio::test]
    async fn missing_and_malformed_names_get_dockers_errors() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let e = &env.engine;
        let check = |r: Result<(), Error>, kind: ErrorKind, msg: &str| {
            let err = r.expect_err("an error");
            assert_eq!((err.kind(), err.to_string().as_str()), (kind, msg));
        };
        check(
            e.image_inspect("busybox").await.map(drop),
            ErrorKind::NotFound,
            "No such image: busybox:latest",
        );
        check(
            e.image_history("busybox:1.36").await.map(drop),
            ErrorKind::NotFound,
            "No such image: busybox:1.36",
        );
        check(
            e.image_remove("nope", false, false).await.map(drop),
            ErrorKind::NotFound,
            "No such image: nope:latest",
        );
        check(
            e.image_inspect("Busybox").await.map(drop),
            ErrorKind::InvalidArgument,
            "invalid reference format: repository name (library/Busybox) must be lowercase",
        );
        check(
            e.image_tag("nope", "x", "").await,
            ErrorKind::NotFound,
            "No such image: nope:latest",
        );
        check(
            e.image_list(false, &filters(&[("status", "x")]), false)
                .await
                .map(drop),
            ErrorKind::InvalidArgument,
            "Invalid filter 'status'",
        );
        check(
            e.image_import_url("http://example.invalid/x.tar").map(drop),
            ErrorKind::InvalidArgument,
            "import from \"http://example.invalid/x.tar\": only a request body (fromSrc=-) can be imported for now",
        );
        // Garbage is refused and leaves nothing behind.
        let r = e
            .image_import(
                Cursor::new(b"not a tarball at all".repeat(100)),
                None,
                None,
                vec![],
                None,
            )
            .await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidArgument);
        let r = e
            .image_import(
                Cursor::new(tiny_tar("x")),
                None,
                None,
                vec!["FROM x".into()],
                None,
            )
            .await;
        assert_eq!(
            r.unwrap_err().to_string(),
            "import: FROM is not a valid change command"
        );
        assert_eq!(e.image_count().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn tag_and_remove_follow_dockers_untag_rules() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let e = &env.engine;
        let id = import(e, busybox_tar(), Some("busybox"), Some("latest")).await;
        let (_, mut rx) = e.events().subscribe(None);
        e.image_tag("busybox", "mine", "v1").await.unwrap();
        e.image_tag(&id[7..15], "localhost:5000/mine:v2", "")
            .await
            .unwrap();
        assert_eq!(
            drain(&mut rx),
            [
                ev("tag", &id, "mine:v1"),
                ev("tag", &id, "localhost:5000/mine:v2")
            ]
        );
        let tags = e.image_inspect(&id).await.unwrap().repo_tags.unwrap();
        assert_eq!(
            tags,
            ["busybox:latest", "mine:v1", "localhost:5000/mine:v2"]
        );
        let e400 = e
            .image_tag("busybox", &format!("x@{id}"), "")
            .await
            .unwrap_err();
        assert_eq!(
            (e400.kind(), e400.to_string().as_str()),
            (
                ErrorKind::InvalidArgument,
                "refusing to create a tag with a digest reference"
            )
        );

        // By ID with several tags: docker wants force.
        let err = e.image_remove(&id[7..19], false, false).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(
            err.to_string(),
            format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                &id[7..19]
            )
        );
        // By tag: untag only while other tags are left.
        let r = e.image_remove("mine:v1", false, false).await.unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"[{"Untagged":"mine:v1"}]"#
        );
        let r = e
            .image_remove("localhost:5000/mine:v2", false, false)
            .await
            .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(e.image_count().await.unwrap(), 1);
        assert_eq!(
            drain(&mut rx),
            [ev("untag", &id, &id), ev("untag", &id, &id)]
        );
        // The last tag deletes the image, its layer snapshot and its blobs.
        let r = e.image_remove("busybox", false, false).await.unwrap();
        let r: Vec<String> = r
            .iter()
            .map(|i| format!("{}{}", i.untagged, i.deleted))
            .collect();
        assert_eq!(r[..2], ["busybox:latest".to_string(), id.clone()]);
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(r[2].starts_with("sha256:"), "the layer: {r:?}");
        assert_eq!(
            drain(&mut rx),
            [ev("untag", &id, &id), ev("delete", &id, &id)]
        );
        assert_eq!(e.image_count().await.unwrap(), 0);
        assert_eq!(files_under(&env.data.join("content/blobs/sha256")), 0);
        assert_eq!(
            files_under(&env.data.join("snapshots/overlay/snapshots")),
            0
        );
    }

    #[tokio::test]
    async fn moving_a_tag_leaves_the_old_image_dangling() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let e = &env.engine;
        let old = import(e, tiny_tar("one"), Some("app"), None).await;
        let new = import(e, tiny_tar("two"), Some("app"), None).await;
        assert_ne!(old, new);
        let list = e.image_list(false, &Filters::new(), false).await.unwrap();
        assert_eq!(list.len(), 2);
        let by_id: BTreeMap<_, _> = list.iter().map(|s| (s.id.clone(), s)).collect();
        assert_eq!(
            by_id[&new].repo_tags.as_deref(),
            Some(&["app:latest".to_string()][..])
        );
        assert_eq!(
            by_id[&old].repo_tags.as_deref(),
            Some(&["<none>:<none>".to_string()][..])
        );
        assert_eq!(
            by_id[&old].repo_digests.as_deref(),
            Some(&["<none>@<none>".to_string()][..])
        );

        let dangling = e
            .image_list(false, &filters(&[("dangling", "true")]), false)
            .await
            .unwrap();
        assert_eq!(dangling.iter().map(|s| &s.id).collect::<Vec<_>>(), [&old]);
        let named = e
            .image_list(false, &filters(&[("dangling", "false")]), false)
            .await
            .unwrap();
        assert_eq!(named.iter().map(|s| &s.id).collect::<Vec<_>>(), [&new]);
        let by_ref = e
            .image_list(false, &filters(&[("reference", "ap*")]), false)
            .await
            .unwrap();
        assert_eq!(by_ref.len(), 1);
        let labelled = e
            .image_list(false, &filters(&[("label", "team=berth")]), false)
            .await
            .unwrap();
        assert_eq!(labelled.len(), 2);
        let e400 = e
            .image_list(false, &filters(&[("dangling", "maybe")]), false)
            .await
            .unwrap_err();
        assert_eq!(e400.to_string(), "Invalid filter 'dangling=[maybe]'");

        // A dangling image goes by ID, without force.
        let r = e.image_remove(&old[7..], false, false).await.unwrap();
        assert_eq!(r[0].deleted, old);
        assert_eq!(e.image_count().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn prune_removes_dangling_then_unused_images() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let e = &env.engine;
        let dangling = import(e, tiny_tar("one"), None, None).await;
        let tagged = import(e, tiny_tar("two"), Some("keep"), None).await;
        let (_, mut rx) = e.events().subscribe(None);
        let r = e.image_prune(true, &Filters::new()).await.unwrap();
        let deleted: Vec<_> = r
            .images_deleted
            .as_ref()
            .unwrap()
            .iter()
            .map(|i| i.deleted.clone())
            .collect();
        assert_eq!(deleted[0], dangling);
        assert_eq!(deleted.len(), 2, "the image and its layer: {deleted:?}");
        assert!(r.space_reclaimed > 0);
        let evs = drain(&mut rx);
        assert_eq!(evs[0], ev("delete", &dangling, &dangling));
        assert_eq!(evs.last().unwrap().0, "prune");
        // A label! filter keeps the labelled image; then all=true prunes it.
        let r = e
            .image_prune(false, &filters(&[("label!", "team=berth")]))
            .await
            .unwrap();
        assert_eq!(r.images_deleted, None);
        let r = e.image_prune(false, &Filters::new()).await.unwrap();
        let items = r.images_deleted.unwrap();
        assert_eq!(items[0].untagged, "keep:latest");
        assert_eq!(items[1].deleted, tagged);
        assert_eq!(e.image_count().await.unwrap(), 0);
        let e400 = e
            .image_prune(true, &filters(&[("until", "soon")]))
            .await
            .unwrap_err();
        assert_eq!(e400.kind(), ErrorKind::InvalidArgument);
    }

    #[tokio::test]
    async fn save_then_load_keeps_the_image_id() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let e = &env.engine;
        let id = import(e, busybox_tar(), Some("busybox"), None).await;
        e.image_tag("busybox", "busybox", "other").await.unwrap();
        e.image_tag("busybox", "elsewhere", "").await.unwrap();
        let (_, mut rx) = e.events().subscribe(None);
        // A bare repository saves all its tags, not those of other repositories.
        let archive = e
            .image_save(vec!["busybox".into()], Vec::new())
            .await
            .unwrap();
        assert_eq!(drain(&mut rx), [ev("save", &id, &id)]);
        let entries = tar_entries(&archive);
        let manifest: serde_json::Value =
            serde_json::from_slice(&entries["manifest.json"]).unwrap();
        assert_eq!(manifest[0]["Config"], format!("{}.json", &id[7..]));
        assert_eq!(
            manifest[0]["RepoTags"],
            serde_json::json!(["busybox:latest", "busybox:other"])
        );
        let layer = manifest[0]["Layers"][0].as_str().unwrap().to_string();
        assert!(entries.contains_key(&layer), "{:?}", entries.keys());
        let repos: serde_json::Value = serde_json::from_slice(&entries["repositories"]).unwrap();
        assert_eq!(
            repos["busybox"]["latest"],
            layer.trim_end_matches("/layer.tar")
        );
        let layer_tar = tar_entries(&entries[&layer]);
        assert!(
            layer_tar.contains_key("bin/busybox"),
            "{:?}",
            layer_tar.keys().take(5).collect::<Vec<_>>()
        );

        // Unknown names fail before anything is written.
        let err = e
            .image_save(vec!["busybox".into(), "nope:1".into()], Vec::new())
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string().as_str()),
            (ErrorKind::NotFound, "reference does not exist")
        );

        e.image_remove(&id, true, false).await.unwrap();
        assert_eq!(e.image_count().await.unwrap(), 0);
        drain(&mut rx);
        let lines = e
            .image_load(Cursor::new(archive.clone()), false)
            .await
            .unwrap();
        assert_eq!(
            lines,
            [
                "Loaded image: busybox:latest",
                "Loaded image: busybox:other"
            ]
        );
        assert_eq!(drain(&mut rx), [ev("load", &id, &id)]);
        let i = e.image_inspect("busybox:other").await.unwrap();
        assert_eq!(i.id, id);
        assert_eq!(i.repo_tags.unwrap(), ["busybox:latest", "busybox:other"]);

        // Loading again over a moved tag says so, as docker does.
        let other = import(e, tiny_tar("x"), Some("busybox"), None).await;
        let lines = e.image_load(Cursor::new(archive), false).await.unwrap();
        assert_eq!(
            lines[0],
            format!(
                "The image busybox:latest already exists, renaming the old one with ID {other} to empty string"
            )
        );
        // Saved by ID: no tags in the archive; loads as an ID.
        let archive = e.image_save(vec![other.clone()], Vec::new()).await.unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&tar_entries(&archive)["manifest.json"]).unwrap();
        assert_eq!(manifest[0]["RepoTags"], serde_json::Value::Null);
        e.image_remove(&other, true, false).await.unwrap();
        let lines = e.image_load(Cursor::new(archive), true).await.unwrap();
        assert_eq!(lines, [format!("Loaded image ID: {other}")]);
        let list = e
            .image_list(false, &filters(&[("dangling", "true")]), false)
            .await
            .unwrap();
        assert_eq!(list[0].id, other);
    }

    /// An OCI layout in a tar (as `skopeo copy oci-archive:` writes): the
    /// image has a ref-name annotation, or none.
    fn oci_archive(layer: &[u8], ref_name: Option<&str>) -> (Vec<u8>, String) {
        use berth_content::Digest;
        let diff_id = Digest::of(layer);
        let config = serde_json::json!({
            "architecture": berth_engine_arch(),
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        });
        let config = serde_json::to_vec(&config).unwrap();
        let config_id = Digest::of(&config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_id.to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": diff_id.to_string(), "size": layer.len()}],
        }))
        .unwrap();
        let md = Digest::of(&manifest);
        let mut desc = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": manifest.len()});
        if let Some(r) = ref_name {
            desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": r});
        }
        let index =
            serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [desc]}))
                .unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, data).unwrap();
        };
        add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        for blob in [layer, &config[..], &manifest[..]] {
            add(&format!("blobs/sha256/{}", Digest::of(blob).hex()), blob);
        }
        add("index.json", &index);
        (b.into_inner().unwrap(), config_id.to_string())
    }

    fn berth_engine_arch() -> &'static str {
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }
    }

    #[tokio::test]
    async fn oci_layout_archives_load_named_and_unnamed() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let e = &env.engine;
        let (named, id) = oci_archive(&tiny_tar("oci"), Some("docker.io/library/ocitest:1"));
        let lines = e.image_load(Cursor::new(named), false).await.unwrap();
        assert_eq!(lines, ["Loaded image: ocitest:1"]);
        assert_eq!(e.image_inspect("ocitest:1").await.unwrap().id, id);
        let (unnamed, id2) = oci_archive(&tiny_tar("oci2"), None);
        let lines = e.image_load(Cursor::new(unnamed), false).await.unwrap();
        assert_eq!(lines, [format!("Loaded image ID: {id2}")]);
        // Named by its ID (not its manifest's digest), and dangling.
        let i = e.image_inspect(&id2).await.unwrap();
        assert_eq!(i.repo_tags.unwrap().len(), 0);
        assert_eq!(e.image_count().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn images_survive_a_restart() {
        if !testkit::require_root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = EngineConfig::with_roots(tmp.path().join("data"), tmp.path().join("exec"));
        cfg.bridge.bridge = "none".to_string();
        let id = {
            let e = Engine::new(cfg.clone()).await.unwrap();
            let id = import(&e, tiny_tar("persist"), Some("p"), None).await;
            import(&e, tiny_tar("dangling"), None, None).await;
            id
        };
        let e = Engine::new(cfg).await.unwrap();
        assert_eq!(e.image_inspect("p").await.unwrap().id, id);
        assert_eq!(e.image_count().await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_async_body_imports_through_the_bridge() {
        if !testkit::require_root() {
            return;
        }
        let env = engine().await;
        let e = &env.engine;
        let (mut tx, rx) = tokio::io::duplex(4096);
        let tar = tiny_tar("streamed");
        let feeder = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            // Small writes: the import reads while the body is still arriving.
            for chunk in tar.chunks(1000) {
                tx.write_all(chunk).await.unwrap();
            }
        });
        let id = e
            .image_import(
                ReadBridge::new(rx),
                Some("streamed".into()),
                None,
                vec![],
                Some("msg".into()),
            )
            .await
            .unwrap();
        feeder.await.unwrap();
        let i = e.image_inspect("streamed").await.unwrap();
        assert_eq!((i.id, i.comment.as_str()), (id, "msg"));
    }
}
