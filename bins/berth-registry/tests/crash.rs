//! Crash safety: SIGKILL the registry in the middle of uploads, start it
//! again on the same root, and check that everything acknowledged is
//! intact, nothing half-written is visible, and interrupted uploads resume.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// A push that was acknowledged: repository, tag, manifest, blobs.
type Acked = (String, String, Vec<u8>, Vec<Vec<u8>>);

#[test]
fn kill_during_a_streamed_upload_then_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Registry::start(&dir.path().join("root"), &[]);
    let (m, md) = push_image(&r, "keep", "v1", b"{\"c\":1}", &[b"committed layer"]);

    let big: Vec<u8> = (0..8u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let bd = digest(&big);
    let resp = r.req("POST", "/v2/big/blobs/uploads/").send();
    let loc = resp.header("location").unwrap().to_owned();
    let resp = r
        .req("PATCH", &loc)
        .header("Content-Range", &format!("0-{}", (1 << 20) - 1))
        .body(big[..1 << 20].to_vec())
        .send();
    assert_eq!(resp.status, 202);
    // A PATCH announcing the rest, of which only part is sent before the
    // registry dies.
    let mut s = TcpStream::connect(&r.addr).unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        r.addr,
        big.len() - (1 << 20)
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&big[1 << 20..3 << 20]).unwrap();
    s.flush().unwrap();
    // Give the server a moment to write what it received.
    std::thread::sleep(Duration::from_millis(300));
    r.restart();
    drop(s);

    // Acknowledged data is intact.
    let resp = r.req("GET", "/v2/keep/manifests/v1").send();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, m);
    assert_eq!(resp.header("docker-content-digest"), Some(md.as_str()));
    assert_eq!(
        r.req(
            "GET",
            &format!("/v2/keep/blobs/{}", digest(b"committed layer"))
        )
        .send()
        .body,
        b"committed layer"
    );
    // The unfinished blob is not visible anywhere.
    assert_eq!(
        r.req("HEAD", &format!("/v2/big/blobs/{bd}")).send().status,
        404
    );
    // The session survived: its status says how much arrived, and the
    // client continues from there.
    let resp = r.req("GET", &loc).send();
    assert_eq!(resp.status, 204, "{}", resp.text());
    let range = resp.header("range").unwrap();
    let have: usize = range.split('-').nth(1).unwrap().parse::<usize>().unwrap() + 1;
    assert!((1 << 20..=3 << 20).contains(&have), "offset {have}");
    let resp = r
        .req("PATCH", &loc)
        .header("Content-Range", &format!("{have}-{}", big.len() - 1))
        .body(big[have..].to_vec())
        .send();
    assert_eq!(resp.status, 202, "{}", resp.text());
    let resp = r.req("PUT", &format!("{loc}?digest={bd}")).send();
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(
        r.req("GET", &format!("/v2/big/blobs/{bd}")).send().body,
        big
    );
}

/// Pushes images in a loop from several threads while the registry is
/// killed and restarted; every push that was acknowledged must be whole
/// afterwards.
#[test]
fn kill_during_concurrent_pushes() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Registry::start(&dir.path().join("root"), &[]);
    let addr = r.addr.clone();
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..3 {
            let (stop, acked, addr) = (stop.clone(), acked.clone(), addr.clone());
            workers.push(std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && i < 200 {
                    i += 1;
                    let name = format!("r{round}/w{w}");
                    let tag = format!("t{i}");
                    let layer: Vec<u8> =
                        format!("layer {round} {w} {i} ").repeat(5000).into_bytes();
                    let config = format!("{{\"n\":\"{round}-{w}-{i}\"}}").into_bytes();
                    if try_push(&addr, &name, &tag, &config, &layer) {
                        let m = image_manifest(&config, &[&layer]);
                        acked
                            .lock()
                            .unwrap()
                            .push((name, tag, m, vec![config, layer]));
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(400 + 150 * round as u64));
        r.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        r.restart();
    }
    let acked = acked.lock().unwrap();
    assert!(!acked.is_empty(), "no push finished before the kills");
    for (name, tag, m, blobs) in acked.iter() {
        let resp = r.req("GET", &format!("/v2/{name}/manifests/{tag}")).send();
        assert_eq!(resp.status, 200, "{name}:{tag} lost: {}", resp.text());
        assert_eq!(&resp.body, m);
        for b in blobs {
            let resp = r
                .req("GET", &format!("/v2/{name}/blobs/{}", digest(b)))
                .send();
            assert_eq!(&resp.body, b, "{name}:{tag} blob damaged");
        }
    }
    // No committed blob holds bytes other than its name says.
    for e in std::fs::read_dir(r.root.join("content/blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let data = std::fs::read(e.path()).unwrap();
        assert_eq!(
            digest(&data),
            format!("sha256:{}", e.file_name().to_str().unwrap())
        );
    }
}

/// One push; false when the registry went away at any step.
fn try_push(addr: &str, name: &str, tag: &str, config: &[u8], layer: &[u8]) -> bool {
    let send = |method: &str, path: &str, ct: &str, body: &[u8]| -> Option<u16> {
        let mut s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).ok()?;
        s.write_all(body).ok()?;
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut s, &mut raw).ok()?;
        let line = String::from_utf8_lossy(&raw[..raw.len().min(12)]).into_owned();
        line.split(' ').nth(1)?.parse().ok()
    };
    for blob in [config, layer] {
        let path = format!("/v2/{name}/blobs/uploads/?digest={}", digest(blob));
        if send("POST", &path, "application/octet-stream", blob) != Some(201) {
            return false;
        }
    }
    let m = image_manifest(config, &[layer]);
    send(
        "PUT",
        &format!("/v2/{name}/manifests/{tag}"),
        OCI_MANIFEST,
        &m,
    ) == Some(201)
}
