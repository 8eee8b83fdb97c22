//! Blob downloads where the caller counts the attempts
//! (`BlobStream::caller_retries`) and foreign blobs fetched from their URLs
//! (`BlobStream::with_urls`): against the real `berth-registry` binary
//! (build it first: `cargo build -p berth-registry`) with basic auth, and a
//! small HTTP server on 127.0.0.1 in the test standing for the URL.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_content::Digest;
use berth_distribution::{Access, Client, ClientConfig, Credentials, Repository};

fn registry_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/berth-registry");
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build -p berth-registry)",
        p.display()
    );
    p
}

/// berth-registry on 127.0.0.1 with basic auth for alice; killed on drop.
struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let users = format!("alice:{}\n", bcrypt::hash("wonder", 4).unwrap());
        std::fs::write(dir.path().join("users"), users).unwrap();
        let access = "auth:\n  access:\n    - { account: alice, repository: \"*\", actions: [pull, push] }\n";
        std::fs::write(dir.path().join("cfg.yml"), access).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(registry_bin())
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(["serve", "--addr", &addr, "--auth", "basic"])
            .arg("--htpasswd")
            .arg(dir.path().join("users"))
            .arg("--config")
            .arg(dir.path().join("cfg.yml"))
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

/// An HTTP server holding one blob at `/blob`: it honours `Range:
/// bytes=N-` (206), cuts its first `cuts` answers after half the rest, and
/// keeps every request head.
struct UrlServer {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl UrlServer {
    fn start(blob: Vec<u8>, cuts: usize) -> UrlServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/blob", l.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let h = heads.clone();
        std::thread::spawn(move || {
            let mut left = cuts;
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                let mut head = String::new();
                let mut r = BufReader::new(c.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let lower = head.to_lowercase();
                h.lock().unwrap().push(lower.clone());
                let from: usize = lower
                    .split("range: bytes=")
                    .nth(1)
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let rest = &blob[from..];
                let status = if from > 0 {
                    format!(
                        "206 Partial Content\r\nContent-Range: bytes {from}-{}/{}",
                        blob.len() - 1,
                        blob.len()
                    )
                } else {
                    "200 OK".to_string()
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    rest.len()
                );
                let send = if left > 0 {
                    left -= 1;
                    rest.len() / 2
                } else {
                    rest.len()
                };
                let _ = c.write_all(&rest[..send]);
                let _ = c.flush();
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
        });
        UrlServer { url, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn client() -> Client {
    Client::new(ClientConfig {
        backoff: Duration::from_millis(20),
        ..ClientConfig::default()
    })
    .unwrap()
}

fn data(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn foreign_blobs_come_from_their_urls_without_credentials_and_resume() {
    let reg = Registry::start();
    let blob = data(3 << 20);
    let digest = Digest::of(&blob);
    let url = UrlServer::start(blob.clone(), 1);
    let c = client();
    let s = c.session(
        Repository::new(&reg.addr, "t/foreign"),
        Credentials::basic("alice", "wonder"),
        Access::Pull,
    );
    let urls = vec!["ftp://ignored/blob".to_string(), url.url.clone()];
    let mut st = s
        .blob_stream(digest, blob.len() as u64, 0)
        .with_urls(&urls)
        .caller_retries();
    let mut got = Vec::new();
    let mut failures = Vec::new();
    loop {
        match st.next_chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                // Each break is the caller's to see; the next call resumes.
                assert!(e.is_retryable(), "{e}");
                assert_eq!(st.position(), got.len() as u64);
                failures.push(e.to_string());
                assert!(failures.len() < 3, "{failures:?}");
            }
        }
    }
    assert_eq!(Digest::of(&got), digest);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let heads = url.heads();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(!heads[0].contains("range:"), "{}", heads[0]);
    let resumed = format!("range: bytes={}-", blob.len() / 2);
    assert!(heads[1].contains(&resumed), "{}", heads[1]);
    for h in &heads {
        assert!(
            !h.contains("authorization:"),
            "the registry's credentials stay with the registry: {h}"
        );
    }

    // Without usable URLs, the registry's answer is the error.
    let mut st = s
        .blob_stream(digest, blob.len() as u64, 0)
        .with_urls(&["ftp://ignored/blob".to_string()])
        .caller_retries();
    let e = st.next_chunk().await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    assert!(!e.is_retryable());
}
