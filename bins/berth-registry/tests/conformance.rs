//! The distribution API over raw HTTP against the real binary: each
//! endpoint, its headers, and its errors.

mod common;

use common::*;

fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::start(&dir.path().join("root"), &[]);
    (dir, r)
}

#[test]
fn version_check_and_unknown_paths() {
    let (_d, r) = registry();
    let resp = r.req("GET", "/v2/").send();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
    assert_eq!(r.req("GET", "/v3/").send().status, 404);
    let resp = r.req("GET", "/v2/Bad_Name/tags/list").send();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "NAME_INVALID");
    let resp = r.req("GET", "/v2/nothing/here/tags/list").send();
    assert_eq!(resp.status, 404);
    assert_eq!(resp.error_code(), "NAME_UNKNOWN");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let resp = r.req("PATCH", "/v2/a/manifests/x").send();
    assert_eq!(resp.status, 405);
    assert_eq!(resp.error_code(), "UNSUPPORTED");
}

#[test]
fn monolithic_uploads_and_blob_reads() {
    let (_d, r) = registry();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let d = digest(&data);
    // POST then PUT with the body.
    let resp = r.req("POST", "/v2/a/b/c/blobs/uploads/").send();
    assert_eq!(resp.status, 202);
    let loc = resp.header("location").unwrap().to_owned();
    assert!(resp.header("docker-upload-uuid").is_some());
    assert_eq!(resp.header("range"), Some("0-0"));
    let resp = r
        .req("PUT", &format!("{loc}?digest={d}"))
        .header("Content-Type", "application/octet-stream")
        .body(data.clone())
        .send();
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(
        resp.header("location"),
        Some(format!("/v2/a/b/c/blobs/{d}").as_str())
    );
    assert_eq!(resp.header("docker-content-digest"), Some(d.as_str()));
    // The session is over.
    assert_eq!(
        r.req("GET", &loc).send().error_code(),
        "BLOB_UPLOAD_UNKNOWN"
    );

    let resp = r.req("HEAD", &format!("/v2/a/b/c/blobs/{d}")).send();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-length"), Some("100000"));
    assert_eq!(resp.header("docker-content-digest"), Some(d.as_str()));
    assert!(resp.body.is_empty());
    let resp = r.req("GET", &format!("/v2/a/b/c/blobs/{d}")).send();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, data);

    // Range requests.
    let resp = r
        .req("GET", &format!("/v2/a/b/c/blobs/{d}"))
        .header("Range", "bytes=10-19")
        .send();
    assert_eq!(resp.status, 206);
    assert_eq!(resp.header("content-range"), Some("bytes 10-19/100000"));
    assert_eq!(resp.body, &data[10..20]);
    let resp = r
        .req("GET", &format!("/v2/a/b/c/blobs/{d}"))
        .header("Range", "bytes=99990-")
        .send();
    assert_eq!(resp.status, 206);
    assert_eq!(resp.body, &data[99990..]);
    let resp = r
        .req("GET", &format!("/v2/a/b/c/blobs/{d}"))
        .header("Range", "bytes=200000-")
        .send();
    assert_eq!(resp.status, 416);
    assert_eq!(resp.header("content-range"), Some("bytes */100000"));

    // Single POST with ?digest=.
    let small = b"single post".to_vec();
    let sd = push_blob(&r, "a/b/c", &small);
    assert_eq!(
        r.req("GET", &format!("/v2/a/b/c/blobs/{sd}")).send().body,
        small
    );

    // Blobs are per repository.
    let resp = r.req("GET", &format!("/v2/other/blobs/{d}")).send();
    assert_eq!(resp.status, 404);
    assert_eq!(resp.error_code(), "BLOB_UNKNOWN");
    let resp = r.req("HEAD", &format!("/v2/other/blobs/{d}")).send();
    assert_eq!(resp.status, 404);
    assert!(resp.body.is_empty());
    let resp = r.req("GET", "/v2/a/blobs/sha256:123").send();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "DIGEST_INVALID");
}

#[test]
fn wrong_digest_is_refused_and_nothing_is_stored() {
    let (_d, r) = registry();
    let data = b"the real bytes".to_vec();
    let claimed = digest(b"other bytes");
    let resp = r
        .req("POST", &format!("/v2/x/blobs/uploads/?digest={claimed}"))
        .body(data.clone())
        .send();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "DIGEST_INVALID");
    let resp = r.req("POST", "/v2/x/blobs/uploads/").send();
    let loc = resp.header("location").unwrap().to_owned();
    let resp = r
        .req("PUT", &format!("{loc}?digest={claimed}"))
        .body(data.clone())
        .send();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "DIGEST_INVALID");
    for d in [claimed, digest(&data)] {
        assert_eq!(
            r.req("HEAD", &format!("/v2/x/blobs/{d}")).send().status,
            404
        );
    }
    let blobs = r.root.join("content/blobs/sha256");
    assert_eq!(std::fs::read_dir(&blobs).unwrap().count(), 0);
    let ingest = r.root.join("content/ingest");
    assert_eq!(std::fs::read_dir(&ingest).unwrap().count(), 0);
}

#[test]
fn chunked_upload_status_and_cancel() {
    let (_d, r) = registry();
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 256) as u8).collect();
    let d = digest(&data);
    let resp = r.req("POST", "/v2/chunky/blobs/uploads/").send();
    let loc = resp.header("location").unwrap().to_owned();
    let resp = r
        .req("PATCH", &loc)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", "0-999")
        .body(data[..1000].to_vec())
        .send();
    assert_eq!(resp.status, 202, "{}", resp.text());
    assert_eq!(resp.header("range"), Some("0-999"));
    // Out of order: 416 with where the session stands, nothing written.
    let resp = r
        .req("PATCH", &loc)
        .header("Content-Range", "2000-2999")
        .body(data[2000..].to_vec())
        .send();
    assert_eq!(resp.status, 416);
    assert_eq!(resp.error_code(), "RANGE_INVALID");
    assert_eq!(resp.header("range"), Some("0-999"));
    // A streamed PATCH (no Content-Range) appends.
    let resp = r.req("PATCH", &loc).body(data[1000..2000].to_vec()).send();
    assert_eq!(resp.status, 202);
    assert_eq!(resp.header("range"), Some("0-1999"));
    let resp = r.req("GET", &loc).send();
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("range"), Some("0-1999"));
    assert!(resp.header("docker-upload-uuid").is_some());
    // The last chunk rides on the PUT.
    let resp = r
        .req("PUT", &format!("{loc}?digest={d}"))
        .body(data[2000..].to_vec())
        .send();
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(
        r.req("GET", &format!("/v2/chunky/blobs/{d}")).send().body,
        data
    );

    // Cancel.
    let resp = r.req("POST", "/v2/chunky/blobs/uploads/").send();
    let loc = resp.header("location").unwrap().to_owned();
    assert_eq!(
        r.req("PATCH", &loc).body(b"abc".to_vec()).send().status,
        202
    );
    assert_eq!(r.req("DELETE", &loc).send().status, 204);
    let resp = r.req("GET", &loc).send();
    assert_eq!(resp.status, 404);
    assert_eq!(resp.error_code(), "BLOB_UPLOAD_UNKNOWN");
    // A session belongs to its repository.
    let resp = r.req("POST", "/v2/chunky/blobs/uploads/").send();
    let uuid = resp.header("docker-upload-uuid").unwrap().to_owned();
    let resp = r
        .req("GET", &format!("/v2/elsewhere/blobs/uploads/{uuid}"))
        .send();
    assert_eq!(resp.error_code(), "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn cross_repository_mount() {
    let (_d, r) = registry();
    let d = push_blob(&r, "src/repo", b"shared layer");
    let resp = r
        .req(
            "POST",
            &format!("/v2/dst/blobs/uploads/?mount={d}&from=src/repo"),
        )
        .send();
    assert_eq!(resp.status, 201);
    assert_eq!(
        resp.header("location"),
        Some(format!("/v2/dst/blobs/{d}").as_str())
    );
    assert_eq!(
        r.req("GET", &format!("/v2/dst/blobs/{d}")).send().body,
        b"shared layer"
    );
    // Not in the source: an ordinary session instead.
    let missing = digest(b"absent");
    let resp = r
        .req(
            "POST",
            &format!("/v2/dst2/blobs/uploads/?mount={missing}&from=src/repo"),
        )
        .send();
    assert_eq!(resp.status, 202);
    assert!(resp.header("docker-upload-uuid").is_some());
}

#[test]
fn manifests_by_tag_and_digest() {
    let (_d, r) = registry();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let (m, md) = push_image(&r, "img", "v1", config, &[b"layer one"]);
    for reference in ["v1", md.as_str()] {
        let resp = r
            .req("GET", &format!("/v2/img/manifests/{reference}"))
            .header("Accept", OCI_MANIFEST)
            .send();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, m);
        assert_eq!(resp.header("content-type"), Some(OCI_MANIFEST));
        assert_eq!(resp.header("docker-content-digest"), Some(md.as_str()));
        let resp = r
            .req("HEAD", &format!("/v2/img/manifests/{reference}"))
            .send();
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.header("content-length"),
            Some(m.len().to_string().as_str())
        );
        assert!(resp.body.is_empty());
    }
    // An Accept list without the stored type, by tag: unknown.
    let resp = r
        .req("GET", "/v2/img/manifests/v1")
        .header(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send();
    assert_eq!(resp.error_code(), "MANIFEST_UNKNOWN");

    // A manifest whose layer was never pushed.
    let bad = image_manifest(config, &[b"never pushed"]);
    let resp = r
        .req("PUT", "/v2/img/manifests/v2")
        .header("Content-Type", OCI_MANIFEST)
        .body(bad)
        .send();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(r.req("GET", "/v2/img/manifests/v2").send().status, 404);
    // By digest, the body must be those bytes.
    let resp = r
        .req("PUT", &format!("/v2/img/manifests/{}", digest(b"x")))
        .header("Content-Type", OCI_MANIFEST)
        .body(m.clone())
        .send();
    assert_eq!(resp.error_code(), "DIGEST_INVALID");
    let resp = r
        .req("PUT", &format!("/v2/img/manifests/{md}"))
        .header("Content-Type", OCI_MANIFEST)
        .body(m.clone())
        .send();
    assert_eq!(resp.status, 201);
    // Malformed JSON and unknown types.
    let resp = r
        .req("PUT", "/v2/img/manifests/bad")
        .header("Content-Type", OCI_MANIFEST)
        .body(b"{not json".to_vec())
        .send();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "MANIFEST_INVALID");
    let resp = r.req("GET", "/v2/img/manifests/nope").send();
    assert_eq!(resp.status, 404);
    assert_eq!(resp.error_code(), "MANIFEST_UNKNOWN");

    // A Docker schema 2 manifest and a manifest list over it.
    let dm = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": digest(b"layer one"), "size": 9}]
    }))
    .unwrap();
    let resp = r
        .req("PUT", "/v2/img/manifests/docker")
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .body(dm.clone())
        .send();
    assert_eq!(resp.status, 201, "{}", resp.text());
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digest(&dm), "size": dm.len(), "platform": {"architecture": "amd64", "os": "linux"}}]
    }))
    .unwrap();
    let resp = r
        .req("PUT", "/v2/img/manifests/list")
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .body(list.clone())
        .send();
    assert_eq!(resp.status, 201, "{}", resp.text());
    let resp = r.req("GET", "/v2/img/manifests/list").send();
    assert_eq!(
        resp.header("content-type"),
        Some("application/vnd.docker.distribution.manifest.list.v2+json")
    );
    assert_eq!(resp.body, list);
    // An index naming a manifest this repository lacks.
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest(b"no such manifest"), "size": 3}]
    }))
    .unwrap();
    let resp = r
        .req("PUT", "/v2/img/manifests/idx")
        .header("Content-Type", OCI_INDEX)
        .body(index)
        .send();
    assert_eq!(resp.error_code(), "MANIFEST_BLOB_UNKNOWN");

    // Deletes: a tag alone, then the manifest with its remaining tags.
    assert_eq!(
        r.req("DELETE", "/v2/img/manifests/docker").send().status,
        202
    );
    assert_eq!(r.req("GET", "/v2/img/manifests/docker").send().status, 404);
    assert_eq!(
        r.req("GET", &format!("/v2/img/manifests/{}", digest(&dm)))
            .send()
            .status,
        200
    );
    assert_eq!(
        r.req("DELETE", &format!("/v2/img/manifests/{md}"))
            .send()
            .status,
        202
    );
    assert_eq!(r.req("GET", "/v2/img/manifests/v1").send().status, 404);
    assert_eq!(
        r.req("DELETE", &format!("/v2/img/manifests/{md}"))
            .send()
            .status,
        404
    );
    // Blob delete.
    let ld = digest(b"layer one");
    let resp = r.req("DELETE", &format!("/v2/img/blobs/{ld}")).send();
    assert_eq!(resp.status, 202);
    assert_eq!(
        r.req("HEAD", &format!("/v2/img/blobs/{ld}")).send().status,
        404
    );
    assert_eq!(
        r.req("DELETE", &format!("/v2/img/blobs/{ld}"))
            .send()
            .error_code(),
        "BLOB_UNKNOWN"
    );
}

#[test]
fn tag_and_catalog_pagination() {
    let (_d, r) = registry();
    let config = b"{}";
    for tag in ["a", "b", "c", "d", "e"] {
        push_image(&r, "pages", tag, config, &[]);
    }
    for repo in ["r1", "r2/x", "r3"] {
        push_image(&r, repo, "t", config, &[]);
    }
    let resp = r.req("GET", "/v2/pages/tags/list").send();
    assert_eq!(
        resp.json(),
        serde_json::json!({"name": "pages", "tags": ["a","b","c","d","e"]})
    );
    assert!(resp.header("link").is_none());
    let resp = r.req("GET", "/v2/pages/tags/list?n=2").send();
    assert_eq!(resp.json()["tags"], serde_json::json!(["a", "b"]));
    let link = resp.header("link").unwrap().to_owned();
    assert_eq!(link, "</v2/pages/tags/list?last=b&n=2>; rel=\"next\"");
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let resp = r.req("GET", next).send();
    assert_eq!(resp.json()["tags"], serde_json::json!(["c", "d"]));
    let resp = r.req("GET", "/v2/pages/tags/list?n=2&last=d").send();
    assert_eq!(resp.json()["tags"], serde_json::json!(["e"]));
    assert!(resp.header("link").is_none());
    let resp = r.req("GET", "/v2/pages/tags/list?n=zz").send();
    assert_eq!(resp.status, 400);

    let resp = r.req("GET", "/v2/_catalog").send();
    assert_eq!(
        resp.json()["repositories"],
        serde_json::json!(["pages", "r1", "r2/x", "r3"])
    );
    let resp = r.req("GET", "/v2/_catalog?n=3").send();
    assert_eq!(
        resp.json()["repositories"],
        serde_json::json!(["pages", "r1", "r2/x"])
    );
    assert_eq!(
        resp.header("link"),
        Some("</v2/_catalog?last=r2%2Fx&n=3>; rel=\"next\"")
    );
    let resp = r.req("GET", "/v2/_catalog?n=3&last=r2%2Fx").send();
    assert_eq!(resp.json()["repositories"], serde_json::json!(["r3"]));
}

#[test]
fn referrers_and_subject() {
    let (_d, r) = registry();
    let (m, md) = push_image(&r, "art", "v1", b"{}", &[b"l"]);
    let empty = push_blob(&r, "art", b"{}");
    let sig = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": md, "size": m.len()},
        "annotations": {"org.example.signer": "tests"}
    }))
    .unwrap();
    let sd = digest(&sig);
    let resp = r
        .req("PUT", &format!("/v2/art/manifests/{sd}"))
        .header("Content-Type", OCI_MANIFEST)
        .body(sig.clone())
        .send();
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.header("oci-subject"), Some(md.as_str()));
    let resp = r.req("GET", &format!("/v2/art/referrers/{md}")).send();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some(OCI_INDEX));
    let idx = resp.json();
    assert_eq!(idx["mediaType"], OCI_INDEX);
    assert_eq!(idx["manifests"][0]["digest"], sd);
    assert_eq!(idx["manifests"][0]["size"], sig.len());
    assert_eq!(
        idx["manifests"][0]["artifactType"],
        "application/vnd.example.signature"
    );
    assert_eq!(
        idx["manifests"][0]["annotations"]["org.example.signer"],
        "tests"
    );
    let resp = r
        .req(
            "GET",
            &format!("/v2/art/referrers/{md}?artifactType=application/other"),
        )
        .send();
    assert_eq!(resp.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(resp.json()["manifests"], serde_json::json!([]));
    // A subject nobody refers to: an empty index.
    let resp = r
        .req("GET", &format!("/v2/art/referrers/{}", digest(b"z")))
        .send();
    assert_eq!(resp.json()["manifests"], serde_json::json!([]));
    // Deleting the referrer removes it from the list.
    assert_eq!(
        r.req("DELETE", &format!("/v2/art/manifests/{sd}"))
            .send()
            .status,
        202
    );
    let resp = r.req("GET", &format!("/v2/art/referrers/{md}")).send();
    assert_eq!(resp.json()["manifests"], serde_json::json!([]));
}
