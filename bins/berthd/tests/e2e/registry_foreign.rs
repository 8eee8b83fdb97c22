//! Mirrors that fail part-way through a layer give way to the next site,
//! and foreign (non-distributable) layers: pulled from their URLs, pushed
//! as descriptors only unless the registry is in
//! `allow-nondistributable-artifacts`. Everything is on 127.0.0.1; Docker
//! Hub is reached only through a proxy that refuses and records.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;
use sha2::Digest as _;

use crate::harness::{Berthd, Layout, require_container_bins, started};
use crate::registry::{Registry, run_echo};
use crate::registry_config::TrapProxy;
use crate::registry_interop::registry_http;
use crate::registry_reload::{Cutter, first_layer, manifest, reload, seed};

const MT_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
const MT_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const MT_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A daemon whose traffic to anything but 127.0.0.1 goes to `trap`.
fn trapped(layout: Layout, trap: &TrapProxy) -> Berthd {
    let proxy = format!("http://{}", trap.addr);
    let env = [
        ("HTTPS_PROXY", proxy.as_str()),
        ("https_proxy", proxy.as_str()),
        ("HTTP_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
        ("NO_PROXY", "127.0.0.1"),
        ("no_proxy", "127.0.0.1"),
    ];
    Berthd::start_env(layout, &[], &env)
}

#[test]
fn a_mirror_failing_mid_layer_gives_way_to_the_next_site() {
    if !testkit::require_root() {
        return;
    }
    require_container_bins();
    let reg = Registry::start(&[], &[]);
    let trap = TrapProxy::start();
    let layout = Layout::new();
    std::fs::write(layout.config_file(), "{}").unwrap();
    let d = trapped(layout, &trap);
    d.import_busybox();
    let layer = seed(&d, &reg.addr, "library/mirrored", "1");
    d.docker(["rmi", "busybox"]).ok();
    let blob_get = format!("GET /v2/library/mirrored/blobs/{layer} ");
    // The first mirror resolves the image but breaks off every layer
    // download; the second serves it whole.
    let broken = Cutter::start("127.0.0.1", &reg.addr, &blob_get, 50_000, usize::MAX);
    let attrs = reload(
        &d,
        &format!(
            r#"{{"registry-mirrors": ["http://{}", "http://{}"], "max-download-attempts": 1}}"#,
            broken.addr, reg.addr
        ),
    );
    assert_eq!(attrs["max-download-attempts"], "1");
    let out = d.docker(["pull", "mirrored:1"]).ok();
    assert!(
        out.contains("Status: Downloaded newer image for mirrored:1"),
        "{out}"
    );
    assert_eq!(
        broken.heads(&blob_get).len(),
        1,
        "one attempt at the mirror"
    );
    assert_eq!(trap.seen(), Vec::<String>::new(), "nothing left 127.0.0.1");
    run_echo(&d, "mirrored:1");

    // With the broken mirror alone, the pull falls back to Docker Hub, which
    // only the trap sees; the error is the Hub's.
    reload(
        &d,
        &format!(
            r#"{{"registry-mirrors": ["http://{}"], "max-download-attempts": 1}}"#,
            broken.addr
        ),
    );
    d.docker(["rmi", "mirrored:1"]).ok();
    let err = d.docker(["pull", "mirrored:1"]).fails();
    assert!(!err.is_empty());
    assert_eq!(broken.heads(&blob_get).len(), 2, "the mirror was tried");
    let seen = trap.seen();
    assert!(
        !seen.is_empty()
            && seen
                .iter()
                .all(|l| l.starts_with("CONNECT registry-1.docker.io:443 ")),
        "{seen:?}"
    );
}

/// One HTTP/1.1 request with a body: (status, lowercase head).
fn send(addr: &str, method: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(testkit::HANG_GUARD)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_lowercase();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    (status, head)
}

fn sha256(b: &[u8]) -> String {
    let h = sha2::Sha256::digest(b);
    let hex: String = h.iter().map(|x| format!("{x:02x}")).collect();
    format!("sha256:{hex}")
}

/// The status of `HEAD` of a blob.
fn blob_status(addr: &str, repo: &str, digest: &str) -> u16 {
    registry_http(addr, "HEAD", &format!("/v2/{repo}/blobs/{digest}"), "*/*").0
}

#[test]
fn foreign_layers_come_from_their_urls_and_are_pushed_only_where_allowed() {
    if !testkit::require_root() {
        return;
    }
    // The bytes: busybox pushed by one daemon to a source registry.
    let src = Registry::start(&[], &[]);
    let seeder = started();
    let layer = seed(&seeder, &src.addr, "t/base", "1");
    drop(seeder);
    let m = manifest(&src.addr, "t/base", "1");
    assert_eq!(m["mediaType"], MT_MANIFEST);
    let config = m["config"]["digest"].as_str().unwrap().to_string();
    let (status, _, cbody) = registry_http(
        &src.addr,
        "GET",
        &format!("/v2/t/base/blobs/{config}"),
        "*/*",
    );
    assert_eq!(status, 200);
    assert_eq!(sha256(cbody.as_bytes()), config);

    // An image whose layer is foreign: only its config and manifest are on
    // the registry; the layer lives at its URL.
    let reg = Registry::start(&[], &[]);
    let (status, head) = send(
        &reg.addr,
        "POST",
        &format!("/v2/t/foreign/blobs/uploads/?digest={config}"),
        "application/octet-stream",
        cbody.as_bytes(),
    );
    assert_eq!(status, 201, "{head}");
    let url = format!("http://{}/v2/t/base/blobs/{layer}", src.addr);
    let mut fm = m.clone();
    fm["layers"][0]["mediaType"] = MT_FOREIGN.into();
    fm["layers"][0]["urls"] = serde_json::json!([url]);
    let fbytes = serde_json::to_vec(&fm).unwrap();
    let (status, head) = send(
        &reg.addr,
        "PUT",
        "/v2/t/foreign/manifests/1",
        MT_MANIFEST,
        &fbytes,
    );
    assert_eq!(status, 201, "{head}");
    assert_eq!(blob_status(&reg.addr, "t/foreign", &layer), 404);

    let allowed = Registry::start(&[], &[]);
    let other = Registry::start(&[], &[]);
    let layout = Layout::new();
    std::fs::write(
        layout.config_file(),
        format!(
            r#"{{"allow-nondistributable-artifacts": ["{}"]}}"#,
            allowed.addr
        ),
    )
    .unwrap();
    require_container_bins();
    let d = Berthd::start_in(layout, &[]);
    let name = format!("{}/t/foreign:1", reg.addr);
    let out = d.docker(["pull", &name]).ok();
    assert!(
        out.contains(&format!("Digest: {}", sha256(&fbytes))),
        "{out}"
    );
    run_echo(&d, &name);

    // Not allowed: the descriptor goes up as it is, the bytes do not.
    let to_other = format!("{}/t/f:1", other.addr);
    d.docker(["tag", &name, &to_other]).ok();
    let out = d.docker(["push", &to_other]).ok();
    assert!(out.contains(": Skipped foreign layer"), "{out}");
    assert_eq!(blob_status(&other.addr, "t/f", &layer), 404);
    let pushed = manifest(&other.addr, "t/f", "1");
    assert_eq!(pushed["layers"][0]["mediaType"], MT_FOREIGN);
    assert_eq!(pushed["layers"][0]["urls"], serde_json::json!([url]));

    // Allowed: the bytes go up and the layer is an ordinary one.
    let to_allowed = format!("{}/t/f:1", allowed.addr);
    d.docker(["tag", &name, &to_allowed]).ok();
    let out = d.docker(["push", &to_allowed]).ok();
    assert!(!out.contains("Skipped foreign layer"), "{out}");
    assert!(out.contains(": Pushed"), "{out}");
    assert_eq!(blob_status(&allowed.addr, "t/f", &layer), 200);
    let pushed: Value = manifest(&allowed.addr, "t/f", "1");
    assert_eq!(pushed["layers"][0]["mediaType"], MT_LAYER);
    assert!(pushed["layers"][0].get("urls").is_none(), "{pushed}");

    // A reload allows the other registry too.
    let attrs = reload(
        &d,
        &format!(
            r#"{{"allow-nondistributable-artifacts": ["{}", "{}"]}}"#,
            allowed.addr, other.addr
        ),
    );
    assert_eq!(
        attrs["allow-nondistributable-artifacts"],
        format!(r#"["{}","{}"]"#, allowed.addr, other.addr).as_str()
    );
    let out = d.docker(["push", &to_other]).ok();
    assert!(!out.contains("Skipped foreign layer"), "{out}");
    assert_eq!(blob_status(&other.addr, "t/f", &layer), 200);
    assert_eq!(first_layer(&other.addr, "t/f", "1"), layer);
}
