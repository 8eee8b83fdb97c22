//! The registry settings a SIGHUP applies (insecure registries, mirrors,
//! nondistributable artifacts, transfer limits, download attempts) and the
//! download retries of `max-download-attempts`, with berth-registry on
//! 127.0.0.1 behind a relay that cuts layer downloads part-way.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::harness::{Berthd, Layout, require_container_bins};
use crate::registry::{Registry, pushed_digest, run_echo};
use crate::registry_interop::registry_http;

/// A TCP relay on `bind` to a registry that cuts the answer to each of the
/// first `times` requests whose head starts with `prefix` after `keep`
/// bytes (headers included), and records every request head.
pub struct Cutter {
    pub addr: String,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Cutter {
    pub fn start(bind: &str, target: &str, prefix: &str, keep: usize, times: usize) -> Cutter {
        let l = TcpListener::bind((bind, 0)).unwrap();
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
                let Ok(up) = TcpStream::connect(&target) else {
                    continue;
                };
                let (h, left, prefix) = (h.clone(), left.clone(), prefix.clone());
                std::thread::spawn(move || relay(c, up, &prefix, keep, &left, &h));
            }
        });
        Cutter { addr, heads, stop }
    }

    /// The request heads that start with `prefix`, in order.
    pub fn heads(&self, prefix: &str) -> Vec<String> {
        let h = self.heads.lock().unwrap();
        h.iter()
            .filter(|x| x.starts_with(prefix))
            .cloned()
            .collect()
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn relay(
    mut down: TcpStream,
    up: TcpStream,
    prefix: &str,
    keep: usize,
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
                if n2 < n || allowed == n2 {
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
        if text.starts_with(|c: char| c.is_ascii_uppercase()) && text.contains(" HTTP/1.1") {
            heads.lock().unwrap().push(text.clone());
            let hit = text.starts_with(prefix)
                && left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                    .is_ok();
            if hit {
                budget.store(keep, Ordering::SeqCst);
            }
        }
        if up_w.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = up_w.shutdown(Shutdown::Both);
    let _ = back.join();
}

/// The address of the daemon's default bridge: an address of this host
/// outside 127.0.0.0/8, so not insecure unless configured.
pub fn bridge_address(layout: &Layout) -> String {
    let args = layout.base_args();
    let bip = args
        .iter()
        .skip_while(|a| *a != "--bip")
        .nth(1)
        .expect("the harness passes --bip");
    bip.split('/').next().unwrap().to_string()
}

/// The manifest `repo:tag` on the registry at `addr`, parsed.
pub fn manifest(addr: &str, repo: &str, tag: &str) -> Value {
    let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
    let (status, head, body) =
        registry_http(addr, "GET", &format!("/v2/{repo}/manifests/{tag}"), accept);
    assert_eq!(status, 200, "{head}");
    serde_json::from_str(&body).unwrap()
}

/// The digest of the first layer of `repo:tag` at `addr`.
pub fn first_layer(addr: &str, repo: &str, tag: &str) -> String {
    manifest(addr, repo, tag)["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Pushes the daemon's busybox to `addr` as `repo:tag`, then removes the
/// tag; returns the layer's digest.
pub fn seed(d: &Berthd, addr: &str, repo: &str, tag: &str) -> String {
    let name = format!("{addr}/{repo}:{tag}");
    d.docker(["tag", "busybox", &name]).ok();
    pushed_digest(&d.docker(["push", &name]).ok(), tag);
    d.docker(["rmi", &name]).ok();
    first_layer(addr, repo, tag)
}

/// The daemon events of type `daemon` so far.
pub fn reload_events(d: &Berthd) -> Vec<Value> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let r = d.request(
        "GET",
        &format!("/events?since=0&until={now:.9}&filters=%7B%22type%22%3A%5B%22daemon%22%5D%7D"),
        &[],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["Action"] == "reload")
        .collect()
}

/// Writes `file` as the daemon's configuration, sends SIGHUP, and waits
/// for the reload event; returns its attributes.
pub fn reload(d: &Berthd, file: &str) -> Value {
    let before = reload_events(d).len();
    std::fs::write(&d.config_file, file).unwrap();
    d.signal(Signal::SIGHUP);
    let deadline = std::time::Instant::now() + testkit::HANG_GUARD;
    loop {
        let events = reload_events(d);
        if events.len() > before {
            return events[before]["Actor"]["Attributes"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reload event; log:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_applies_registry_settings_to_the_next_pulls() {
    if !testkit::require_root() {
        return;
    }
    require_container_bins();
    let layout = Layout::new();
    let ip = bridge_address(&layout);
    let d = Berthd::start_in(layout, &[]);
    d.import_busybox();
    let reg = Registry::start(&[], &[]);
    seed(&d, &reg.addr, "t/busybox", "1");
    // The same registry at an address outside 127.0.0.0/8: secure (HTTPS
    // only) until configured otherwise.
    let outside = Cutter::start(&ip, &reg.addr, "-", 0, 0);
    let name = format!("{}/t/busybox:1", outside.addr);
    let err = d.docker(["pull", &name]).fails();
    assert!(
        err.contains(&format!("https://{}/v2/", outside.addr)),
        "{err}"
    );

    let attrs = reload(
        &d,
        &format!(
            r#"{{"insecure-registries": ["{}"], "registry-mirrors": ["http://{}"],
                "allow-nondistributable-artifacts": ["10.1.2.3/8", "reg.example:5000"],
                "max-concurrent-downloads": 2, "max-concurrent-uploads": 1,
                "max-download-attempts": 4}}"#,
            outside.addr, reg.addr
        ),
    );
    let out = d.docker(["pull", &name]).ok();
    assert!(out.contains("Downloaded newer image for"), "{out}");
    run_echo(&d, &name);
    for (key, want) in [
        ("insecure-registries", format!(r#"["{}"]"#, outside.addr)),
        ("registry-mirrors", format!(r#"["http://{}"]"#, reg.addr)),
        (
            "allow-nondistributable-artifacts",
            r#"["10.1.2.3/8","reg.example:5000"]"#.to_string(),
        ),
        ("max-concurrent-downloads", "2".to_string()),
        ("max-concurrent-uploads", "1".to_string()),
        ("max-download-attempts", "4".to_string()),
    ] {
        assert_eq!(attrs[key], want.as_str(), "{key}: {attrs}");
    }
    let rc = d.get_json("/info")["RegistryConfig"].clone();
    assert_eq!(rc["IndexConfigs"][&outside.addr]["Secure"], false, "{rc}");
    let mirror = format!("http://{}/", reg.addr);
    assert_eq!(rc["Mirrors"], serde_json::json!([mirror]), "{rc}");
    assert_eq!(
        rc["IndexConfigs"]["docker.io"]["Mirrors"],
        serde_json::json!([mirror])
    );
    assert_eq!(
        rc["AllowNondistributableArtifactsCIDRs"],
        serde_json::json!(["10.0.0.0/8"])
    );
    assert_eq!(
        rc["AllowNondistributableArtifactsHostnames"],
        serde_json::json!(["reg.example:5000"])
    );
    // The new upload limit: one layer at a time.
    let layered = format!("{}/t/two:1", reg.addr);
    let ctx = d.root.join("ctx-two");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a"), "a\n").unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nCOPY a /a\n").unwrap();
    d.docker(["build", "-q", "-t", &layered, ctx.to_str().unwrap()])
        .ok();
    let out = d.docker(["push", &layered]).ok();
    assert!(out.contains(": Waiting"), "one upload at a time: {out}");

    // A file that leaves the lists out keeps them (dockerd's reload); the
    // limits it leaves out go back to their defaults.
    let attrs = reload(&d, "{}");
    assert_eq!(
        attrs["insecure-registries"],
        format!(r#"["{}"]"#, outside.addr).as_str()
    );
    assert_eq!(attrs["max-concurrent-downloads"], "3");
    assert_eq!(attrs["max-concurrent-uploads"], "5");
    assert_eq!(attrs["max-download-attempts"], "5");
    let rc = d.get_json("/info")["RegistryConfig"].clone();
    assert_eq!(rc["IndexConfigs"][&outside.addr]["Secure"], false, "{rc}");

    // A file that names a list replaces it: the registry is secure again.
    reload(&d, r#"{"insecure-registries": [], "registry-mirrors": []}"#);
    d.docker(["rmi", &name]).ok();
    let err = d.docker(["pull", &name]).fails();
    assert!(
        err.contains(&format!("https://{}/v2/", outside.addr)),
        "{err}"
    );
    let rc = d.get_json("/info")["RegistryConfig"].clone();
    assert!(rc["IndexConfigs"].get(&outside.addr).is_none(), "{rc}");
    assert_eq!(rc["Mirrors"], serde_json::json!([]));

    // An invalid file changes nothing.
    std::fs::write(&d.config_file, r#"{"max-download-attempts": 0}"#).unwrap();
    d.signal(Signal::SIGHUP);
    crate::harness::eventually("the reload error in the log", || {
        d.log_text().contains("invalid max download attempts: 0")
    });
    assert_eq!(d.get_json("/info")["RegistryConfig"], rc);
}

#[test]
fn layer_downloads_are_retried_resumed_and_then_given_up() {
    if !testkit::require_root() {
        return;
    }
    require_container_bins();
    let layout = Layout::new();
    std::fs::write(layout.config_file(), r#"{"max-download-attempts": 2}"#).unwrap();
    let d = Berthd::start_in(layout, &[]);
    d.import_busybox();
    let reg = Registry::start(&[], &[]);
    let layer = seed(&d, &reg.addr, "t/flaky", "1");
    d.docker(["rmi", "busybox"]).ok();
    let blob_get = format!("GET /v2/t/flaky/blobs/{layer} ");

    // Every answer for the layer breaks off: two attempts, five seconds
    // apart, then the pull fails naming the layer and the attempts.
    let cut = Cutter::start("127.0.0.1", &reg.addr, &blob_get, 200_000, usize::MAX);
    let name = format!("{}/t/flaky:1", cut.addr);
    let started = std::time::Instant::now();
    let run = d.docker(["pull", &name]);
    let (out, err) = (run.stdout(), run.stderr());
    assert_ne!(run.code(), Some(0), "{out}");
    assert!(out.contains("Retrying in 5 seconds"), "{out}");
    assert!(!out.contains("Retrying in 10 seconds"), "{out}");
    assert!(
        err.contains(&format!("download layer {layer}: 2 attempts failed: ")),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_secs(5));
    let gets = cut.heads(&blob_get);
    assert_eq!(gets.len(), 2, "{gets:?}");
    // The second attempt resumes where the first stopped.
    assert!(!gets[0].to_lowercase().contains("range:"), "{}", gets[0]);
    assert!(
        gets[1].to_lowercase().contains("range: bytes="),
        "{}",
        gets[1]
    );

    // Three attempts after a reload: two more breaks are survived, each
    // attempt resuming, and the image runs.
    let attrs = reload(&d, r#"{"max-download-attempts": 3}"#);
    assert_eq!(attrs["max-download-attempts"], "3");
    let cut = Cutter::start("127.0.0.1", &reg.addr, &blob_get, 200_000, 2);
    let name = format!("{}/t/flaky:1", cut.addr);
    let out = d.docker(["pull", &name]).ok();
    for want in [
        "Retrying in 5 seconds",
        "Retrying in 10 seconds",
        "Pull complete",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    let gets = cut.heads(&blob_get);
    assert_eq!(gets.len(), 3, "{gets:?}");
    let offsets: Vec<u64> = gets
        .iter()
        .map(|h| {
            let l = h.to_lowercase();
            let v = l.split("range: bytes=").nth(1).expect("a ranged request");
            v.split('-').next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "each attempt resumes further on: {offsets:?}"
    );
    run_echo(&d, &name);
}
