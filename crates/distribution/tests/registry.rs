//! The client against the real `berth-registry` binary on 127.0.0.1 (build
//! it first: `cargo build -p berth-registry`), directly or through a small
//! TCP relay that breaks connections or answers 503 to test resume and
//! retries.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_content::Digest;
use berth_distribution::{
    Access, Client, ClientConfig, Credentials, Error, Repository, Session, Site, Uploaded,
};
use berth_image::import::blob_descriptor;
use berth_image::manifest::{
    Index, MT_OCI_CONFIG, MT_OCI_INDEX, MT_OCI_LAYER, MT_OCI_MANIFEST, Manifest, Platform,
};

fn registry_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/berth-registry");
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build -p berth-registry)",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A registry process on 127.0.0.1 with a temp root; killed on drop.
struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(extra: &[&str], files: &[(&str, String)]) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            for a in args.iter_mut() {
                if a == name {
                    *a = p.to_string_lossy().into_owned();
                }
            }
        }
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(registry_bin())
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(["serve", "--addr", &addr])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth-registry");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "berth-registry did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the relay does to a request it recognises (the first of its kind).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Cut the connection after this many bytes of the answer.
    CutAfter(usize),
    /// Answer 503 without asking the registry.
    Unavailable,
}

/// A TCP relay to `target` applying `fault` to the first `times` requests
/// whose head starts with `prefix`. Records every request head it saw.
struct Relay {
    addr: String,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(target: &str, prefix: &str, fault: Fault, times: usize) -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let left = Arc::new(AtomicUsize::new(times));
        let (target, prefix) = (target.to_owned(), prefix.to_owned());
        let (h, s) = (heads.clone(), stop.clone());
        std::thread::spawn(move || {
            for c in l.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(c) = c else { continue };
                let up = TcpStream::connect(&target).unwrap();
                let (h, left, prefix) = (h.clone(), left.clone(), prefix.clone());
                std::thread::spawn(move || relay(c, up, &prefix, fault, &left, &h));
            }
        });
        Relay { addr, heads, stop }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn relay(
    mut down: TcpStream,
    up: TcpStream,
    prefix: &str,
    fault: Fault,
    left: &AtomicUsize,
    heads: &Mutex<Vec<String>>,
) {
    // Answer bytes still allowed before the cut (usize::MAX: no cut).
    let budget = Arc::new(AtomicUsize::new(usize::MAX));
    let (mut up_r, mut down_w) = (up.try_clone().unwrap(), down.try_clone().unwrap());
    let b = budget.clone();
    let back = std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 << 10];
        loop {
            let n = match up_r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let allowed = b.load(Ordering::SeqCst);
            let n2 = n.min(allowed);
            if down_w.write_all(&buf[..n2]).is_err() {
                break;
            }
            if allowed != usize::MAX {
                b.store(allowed - n2, Ordering::SeqCst);
                if n2 < n || allowed - n2 == 0 {
                    let _ = down_w.shutdown(Shutdown::Both);
                    let _ = up_r.shutdown(Shutdown::Both);
                    break;
                }
            }
        }
    });
    let mut up_w = up;
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match down.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let is_head =
            text.starts_with(|c: char| c.is_ascii_uppercase()) && text.contains(" HTTP/1.1");
        if is_head {
            heads.lock().unwrap().push(text.clone());
            let hit = text.starts_with(prefix)
                && left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                    .is_ok();
            if hit {
                match fault {
                    Fault::CutAfter(k) => budget.store(k, Ordering::SeqCst),
                    Fault::Unavailable => {
                        let _ = down.write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
                        );
                        continue;
                    }
                }
            }
        }
        if up_w.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = up_w.shutdown(Shutdown::Both);
    let _ = back.join();
}

fn client(chunk_size: u64) -> Client {
    Client::new(ClientConfig {
        backoff: Duration::from_millis(20),
        chunk_size,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn session(c: &Client, addr: &str, path: &str, creds: Credentials, access: Access) -> Session {
    c.session(Repository::new(addr, path), creds, access)
}

/// Deterministic bytes that do not compress to nothing.
fn data(n: usize, seed: u8) -> Vec<u8> {
    let mut x = u32::from(seed) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn write_blob(dir: &Path, bytes: &[u8]) -> (Digest, PathBuf) {
    let d = Digest::of(bytes);
    let p = dir.join(d.hex());
    std::fs::write(&p, bytes).unwrap();
    (d, p)
}

fn no_progress() -> berth_distribution::Progress {
    Arc::new(|_| {})
}

async fn download(s: &Session, d: Digest, size: u64) -> Vec<u8> {
    let mut st = s.blob_stream(d, size, 0);
    let mut out = Vec::new();
    while let Some(c) = st.next_chunk().await.unwrap() {
        out.extend_from_slice(&c);
    }
    out
}

/// Pushes a one-layer OCI image (and an index over it) as `tag`; returns
/// (layer bytes, manifest digest, index digest).
async fn push_image(s: &Session, dir: &Path, tag: &str) -> (Vec<u8>, Digest, Digest) {
    let layer = data(300_000, 7);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let (ld, lp) = write_blob(dir, &layer);
    let (cd, cp) = write_blob(dir, config);
    assert_eq!(
        s.push_blob(&ld, layer.len() as u64, &lp, &[], no_progress())
            .await
            .unwrap(),
        Uploaded::Pushed
    );
    s.push_blob(&cd, config.len() as u64, &cp, &[], no_progress())
        .await
        .unwrap();
    let m = Manifest {
        schema_version: 2,
        media_type: Some(MT_OCI_MANIFEST.into()),
        config: blob_descriptor(MT_OCI_CONFIG, cd, config.len() as u64),
        layers: vec![blob_descriptor(MT_OCI_LAYER, ld, layer.len() as u64)],
        annotations: Default::default(),
    };
    let mb = serde_json::to_vec(&m).unwrap();
    let md = s
        .put_manifest(
            &Digest::of(&mb).to_string(),
            MT_OCI_MANIFEST,
            mb.clone().into(),
        )
        .await
        .unwrap();
    let mut desc = blob_descriptor(MT_OCI_MANIFEST, md, mb.len() as u64);
    desc.platform = Some(Platform::default_linux());
    // An arm64 manifest next to it (another config, the same layer).
    let arm_config =
        br#"{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let (acd, acp) = write_blob(dir, arm_config);
    s.push_blob(&acd, arm_config.len() as u64, &acp, &[], no_progress())
        .await
        .unwrap();
    let am = Manifest {
        config: blob_descriptor(MT_OCI_CONFIG, acd, arm_config.len() as u64),
        ..m
    };
    let amb = serde_json::to_vec(&am).unwrap();
    let amd = s
        .put_manifest(
            &Digest::of(&amb).to_string(),
            MT_OCI_MANIFEST,
            amb.clone().into(),
        )
        .await
        .unwrap();
    let mut arm = blob_descriptor(MT_OCI_MANIFEST, amd, amb.len() as u64);
    arm.platform = Some(Platform::parse("linux/arm64").unwrap());
    let idx = Index {
        schema_version: 2,
        media_type: Some(MT_OCI_INDEX.into()),
        manifests: vec![arm, desc],
        annotations: Default::default(),
    };
    let ib = serde_json::to_vec(&idx).unwrap();
    let id = s.put_manifest(tag, MT_OCI_INDEX, ib.into()).await.unwrap();
    (layer, md, id)
}

#[tokio::test]
async fn push_pull_mount_and_platforms() {
    let r = Registry::start(&[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let c = client(64 << 20);
    let s = session(&c, &r.addr, "t/app", Credentials::anonymous(), Access::Push);
    let (layer, md, id) = push_image(&s, dir.path(), "1").await;

    let got = s
        .resolve_image("1", &Platform::default_linux())
        .await
        .unwrap();
    assert_eq!(got.top.digest, id);
    assert_eq!(got.top.media_type, MT_OCI_INDEX);
    assert_eq!(got.manifest.digest, md, "amd64 picked from the index");
    let l = &got.parsed.layers[0];
    assert_eq!(download(&s, l.digest, l.size).await, layer);
    let e = s
        .resolve_image("1", &Platform::parse("linux/s390x").unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("linux/s390x"), "{e}");
    let by_digest = s.get_manifest(&md.to_string()).await.unwrap();
    assert_eq!(by_digest.media_type, MT_OCI_MANIFEST);
    let e = s.get_manifest("nope").await.unwrap_err();
    assert_eq!(e.code(), Some("MANIFEST_UNKNOWN"));
    assert_eq!(s.head_manifest("nope").await.unwrap(), None);
    assert_eq!(s.head_manifest("1").await.unwrap().unwrap().digest, id);

    // Pushing again skips; another repository mounts from this one.
    let (ld, lp) = write_blob(dir.path(), &layer);
    assert_eq!(
        s.push_blob(&ld, layer.len() as u64, &lp, &[], no_progress())
            .await
            .unwrap(),
        Uploaded::Exists
    );
    let other = session(
        &c,
        &r.addr,
        "t/other",
        Credentials::anonymous(),
        Access::Push,
    );
    assert_eq!(other.blob_exists(&ld).await.unwrap(), None);
    let up = other
        .push_blob(
            &ld,
            layer.len() as u64,
            &lp,
            &["t/app".into()],
            no_progress(),
        )
        .await
        .unwrap();
    assert_eq!(
        up,
        Uploaded::Mounted {
            from: "t/app".into()
        }
    );
    assert_eq!(
        other.blob_exists(&ld).await.unwrap(),
        Some(layer.len() as u64)
    );
}

#[tokio::test]
async fn chunked_upload_reports_progress() {
    let r = Registry::start(&[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let c = client(100_000);
    let s = session(
        &c,
        &r.addr,
        "t/chunks",
        Credentials::anonymous(),
        Access::Push,
    );
    let blob = data(250_000, 3);
    let (d, p) = write_blob(dir.path(), &blob);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let up = s
        .push_blob(
            &d,
            blob.len() as u64,
            &p,
            &[],
            Arc::new(move |n| s2.lock().unwrap().push(n)),
        )
        .await
        .unwrap();
    assert_eq!(up, Uploaded::Pushed);
    let seen = seen.lock().unwrap().clone();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&250_000));
    assert!(
        seen.contains(&100_000) && seen.contains(&200_000),
        "{seen:?}"
    );
    assert_eq!(download(&s, d, blob.len() as u64).await, blob);
}

#[tokio::test]
async fn broken_downloads_resume_with_range_and_503s_are_retried() {
    let r = Registry::start(&[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let c = client(64 << 20);
    let s = session(
        &c,
        &r.addr,
        "t/resume",
        Credentials::anonymous(),
        Access::Push,
    );
    let blob = data(2_000_000, 9);
    let (d, p) = write_blob(dir.path(), &blob);
    s.push_blob(&d, blob.len() as u64, &p, &[], no_progress())
        .await
        .unwrap();

    let prefix = format!("GET /v2/t/resume/blobs/{d}");
    let relay = Relay::start(&r.addr, &prefix, Fault::CutAfter(700_000), 2);
    let c2 = client(64 << 20);
    let rs = session(
        &c2,
        &relay.addr,
        "t/resume",
        Credentials::anonymous(),
        Access::Pull,
    );
    assert_eq!(download(&rs, d, blob.len() as u64).await, blob);
    let gets: Vec<String> = relay
        .heads()
        .into_iter()
        .filter(|h| h.starts_with(&prefix))
        .collect();
    assert_eq!(gets.len(), 3, "two cuts, then the rest: {gets:?}");
    assert!(!gets[0].to_ascii_lowercase().contains("range:"));
    assert!(
        gets[1].to_ascii_lowercase().contains("range: bytes="),
        "resumed with a range: {}",
        gets[1]
    );

    let relay = Relay::start(&r.addr, &prefix, Fault::Unavailable, 2);
    let c3 = client(64 << 20);
    let rs = session(
        &c3,
        &relay.addr,
        "t/resume",
        Credentials::anonymous(),
        Access::Pull,
    );
    assert_eq!(download(&rs, d, blob.len() as u64).await, blob);

    // A registry that keeps failing: a clear error after the attempts.
    let relay = Relay::start(&r.addr, &prefix, Fault::Unavailable, 100);
    let c4 = client(64 << 20);
    let rs = session(
        &c4,
        &relay.addr,
        "t/resume",
        Credentials::anonymous(),
        Access::Pull,
    );
    let mut st = rs.blob_stream(d, blob.len() as u64, 0);
    let e = st.next_chunk().await.unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    // A wrong size never yields more than the descriptor says.
    let mut st = s.blob_stream(d, 10, 0);
    let mut n = 0;
    let e = loop {
        match st.next_chunk().await {
            Ok(Some(c)) => n += c.len(),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(matches!(e, Some(Error::SizeMismatch { .. })), "{e:?}");
    assert!(n <= 10);
}

fn htpasswd(users: &[(&str, &str)]) -> String {
    users
        .iter()
        .map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 4).unwrap()))
        .collect()
}

#[tokio::test]
async fn basic_and_token_auth() {
    let users = htpasswd(&[("alice", "wonder")]);
    let access =
        "auth:\n  access:\n    - { account: alice, repository: \"*\", actions: [pull, push] }\n";
    let basic = Registry::start(
        &[
            "--auth",
            "basic",
            "--htpasswd",
            "users",
            "--config",
            "cfg.yml",
        ],
        &[("users", users.clone()), ("cfg.yml", access.to_owned())],
    );
    let c = client(64 << 20);
    assert_eq!(
        c.login(&basic.addr, &Credentials::basic("alice", "wonder"))
            .await
            .unwrap(),
        ""
    );
    let e = c
        .login(&basic.addr, &Credentials::basic("alice", "nope"))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            basic.addr
        )
    );
    assert!(e.is_unauthorized());
    let anon = session(
        &c,
        &basic.addr,
        "t/x",
        Credentials::anonymous(),
        Access::Pull,
    );
    let e = anon.get_manifest("1").await.unwrap_err();
    assert!(e.to_string().ends_with("no basic auth credentials"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let alice = session(
        &c,
        &basic.addr,
        "t/x",
        Credentials::basic("alice", "wonder"),
        Access::Push,
    );
    push_image(&alice, dir.path(), "1").await;

    let token_cfg = access.replace(
        "auth:\n",
        "auth:\n  mode: token\n  token: { service: test-registry }\n",
    );
    let tok = Registry::start(
        &["--htpasswd", "users", "--config", "cfg.yml"],
        &[("users", users), ("cfg.yml", token_cfg)],
    );
    let c = client(64 << 20);
    c.login(&tok.addr, &Credentials::basic("alice", "wonder"))
        .await
        .unwrap();
    let e = c
        .login(&tok.addr, &Credentials::basic("alice", "nope"))
        .await
        .unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    assert!(
        e.to_string().contains("invalid username or password"),
        "{e}"
    );
    let alice = session(
        &c,
        &tok.addr,
        "t/y",
        Credentials::basic("alice", "wonder"),
        Access::Push,
    );
    let (layer, _, _) = push_image(&alice, dir.path(), "1").await;
    let got = alice
        .resolve_image("1", &Platform::default_linux())
        .await
        .unwrap();
    let l = &got.parsed.layers[0];
    assert_eq!(download(&alice, l.digest, l.size).await, layer);
    let anon = session(&c, &tok.addr, "t/y", Credentials::anonymous(), Access::Pull);
    let e = anon.get_manifest("1").await.unwrap_err();
    assert!(e.is_unauthorized() || e.code() == Some("DENIED"), "{e}");
}

#[tokio::test]
async fn tag_lists_follow_pages_and_mirrors_serve_docker_hub_only() {
    let r = Registry::start(&[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new(ClientConfig {
        backoff: Duration::from_millis(20),
        mirrors: vec![format!("http://{}/", r.addr)],
        ..ClientConfig::default()
    })
    .unwrap();
    let s = session(
        &c,
        &r.addr,
        "library/x",
        Credentials::anonymous(),
        Access::Push,
    );
    let (_, _, index) = push_image(&s, dir.path(), "c").await;
    for tag in ["a", "b"] {
        let m = s.get_manifest("c").await.unwrap();
        s.put_manifest(tag, &m.media_type, m.bytes).await.unwrap();
    }
    assert_eq!(s.tags().await.unwrap(), ["a", "b", "c"]);
    // One tag per page: the Link headers lead through all three.
    assert_eq!(s.tags_by_page(Some(1)).await.unwrap(), ["a", "b", "c"]);
    let missing = session(
        &c,
        &r.addr,
        "t/none",
        Credentials::anonymous(),
        Access::Pull,
    );
    assert_eq!(
        missing.tags().await.unwrap_err().code(),
        Some("NAME_UNKNOWN")
    );

    // docker.io/library/x through the mirror: the same image, and the
    // session's requests never name Docker Hub.
    let hub = Repository::new("docker.io", "library/x");
    let sites = c.mirror_sites(&hub);
    assert_eq!(sites, [Site::Mirror(format!("http://{}/", r.addr))]);
    let via = c.session_at(
        hub,
        sites[0].clone(),
        Credentials::anonymous(),
        Access::Pull,
    );
    let got = via
        .resolve_image("a", &Platform::default_linux())
        .await
        .unwrap();
    assert_eq!(got.top.digest, index);
    assert_eq!(via.tags().await.unwrap(), ["a", "b", "c"]);
    assert!(
        c.mirror_sites(&Repository::new(&r.addr, "library/x"))
            .is_empty()
    );

    // A mirror URL is used with its scheme only: https here finds no TLS.
    let c = Client::new(ClientConfig {
        mirrors: vec![format!("https://{}/", r.addr)],
        ..ClientConfig::default()
    })
    .unwrap();
    let hub = Repository::new("docker.io", "library/x");
    let site = c.mirror_sites(&hub).remove(0);
    let via = c.session_at(hub, site, Credentials::anonymous(), Access::Pull);
    let err = via.tags().await.unwrap_err();
    assert!(
        err.to_string().contains(&format!("https://{}/v2/", r.addr)),
        "{err}"
    );
}
