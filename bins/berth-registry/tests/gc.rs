//! `berth-registry garbage-collect` against a root a registry is serving.

mod common;

use std::process::Command;

use common::*;

fn gc(r: &Registry, args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_berth-registry"))
        .arg("--root")
        .arg(&r.root)
        .arg("garbage-collect")
        .args(args))
}

fn blob_count(r: &Registry) -> usize {
    std::fs::read_dir(r.root.join("content/blobs/sha256"))
        .unwrap()
        .count()
}

#[test]
fn removes_only_unreferenced_blobs_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::start(&dir.path().join("root"), &[]);
    let (ma, mad) = push_image(&r, "app", "a", b"{\"a\":1}", &[b"layer 1", b"layer 2"]);
    let (_, mbd) = push_image(&r, "app", "b", b"{\"b\":1}", &[b"layer 2", b"layer 3"]);
    // An index over image a, in another repository that also has a.
    push_image(&r, "multi", "a", b"{\"a\":1}", &[b"layer 1", b"layer 2"]);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": mad, "size": ma.len()}]
    }))
    .unwrap();
    let resp = r
        .req("PUT", "/v2/multi/manifests/idx")
        .header("Content-Type", OCI_INDEX)
        .body(index.clone())
        .send();
    assert_eq!(resp.status, 201);
    let orphan = push_blob(&r, "app", b"orphan blob");
    assert_eq!(
        r.req("DELETE", &format!("/v2/app/manifests/{mbd}"))
            .send()
            .status,
        202
    );
    // An upload in progress, idle for "long" (the limit is zero hours).
    let resp = r.req("POST", "/v2/app/blobs/uploads/").send();
    let loc = resp.header("location").unwrap().to_owned();
    assert_eq!(
        r.req("PATCH", &loc)
            .body(b"in progress ".to_vec())
            .send()
            .status,
        202
    );

    // Within the grace period nothing goes.
    let before = blob_count(&r);
    let out = gc(&r, &[]);
    assert!(out.contains("0 blobs and 0 uploads removed"), "{out}");
    assert_eq!(blob_count(&r), before);

    let out = gc(&r, &["--grace-minutes", "0", "--upload-max-age-hours", "0"]);
    let removed: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("removed blob "))
        .collect();
    let mut expect = vec![
        digest(b"layer 3"),
        digest(b"{\"b\":1}"),
        mbd.clone(),
        orphan.clone(),
    ];
    expect.sort();
    let mut removed: Vec<String> = removed.iter().map(|s| s.to_string()).collect();
    removed.sort();
    assert_eq!(removed, expect, "{out}");
    assert_eq!(blob_count(&r), before - 4);
    // What is referenced still serves, byte for byte.
    assert_eq!(r.req("GET", "/v2/app/manifests/a").send().body, ma);
    assert_eq!(r.req("GET", "/v2/multi/manifests/idx").send().body, index);
    for l in [&b"layer 1"[..], b"layer 2", b"{\"a\":1}"] {
        assert_eq!(
            r.req("GET", &format!("/v2/app/blobs/{}", digest(l)))
                .send()
                .body,
            l
        );
    }
    for d in [&orphan, &digest(b"layer 3")] {
        assert_eq!(
            r.req("HEAD", &format!("/v2/app/blobs/{d}")).send().status,
            404
        );
    }
    // The serving registry holds the upload open, so it survived.
    let data = b"in progress and finished".to_vec();
    let resp = r
        .req("PUT", &format!("{loc}?digest={}", digest(&data)))
        .body(data[12..].to_vec())
        .send();
    assert_eq!(resp.status, 201, "{}", resp.text());
}
