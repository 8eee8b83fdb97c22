//! The daemon's registry settings, driven with the docker CLI:
//! `registry-mirrors` (Docker Hub pulls served by a berth-registry on
//! 127.0.0.1), `insecure-registries` (plain HTTP and unverified TLS for the
//! listed registries only), `max-concurrent-downloads/uploads`, `docker
//! info`'s RegistryConfig next to real dockerd's, and `--all-tags` pulls
//! and pushes.
//!
//! Nothing reaches the internet: the mirror test's daemon gets a proxy on
//! 127.0.0.1 that refuses everything and records what it was asked, so a
//! fallback to Docker Hub is seen and stopped there.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::daemon::refuses;
use crate::harness::{Berthd, Layout, require_container_bins, started};
use crate::registry::{Registry, free_port, pushed_digest, run_echo};
use crate::registry_interop::registry_http;

/// An HTTP proxy on 127.0.0.1 that answers every request 403 and keeps
/// its first line (`CONNECT registry-1.docker.io:443 HTTP/1.1`).
pub struct TrapProxy {
    pub addr: String,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TrapProxy {
    pub fn start() -> TrapProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(testkit::HANG_GUARD));
                let mut line = String::new();
                let _ = BufReader::new(&conn).read_line(&mut line);
                seen2.lock().unwrap().push(line.trim().to_string());
                let _ = conn.write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        TrapProxy {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TrapProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop up so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_mirror_serves_docker_hub_pulls_and_only_pulls() {
    if !testkit::require_root() {
        return;
    }
    require_container_bins();
    let mirror = Registry::start(&[], &[]);
    let trap = TrapProxy::start();
    let layout = Layout::new();
    std::fs::write(
        layout.config_file(),
        format!(r#"{{"registry-mirrors": ["http://{}"]}}"#, mirror.addr),
    )
    .unwrap();
    let proxy = format!("http://{}", trap.addr);
    // Everything but 127.0.0.1 (the mirror) goes to the trap.
    let env = [
        ("HTTPS_PROXY", proxy.as_str()),
        ("https_proxy", proxy.as_str()),
        ("HTTP_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
        ("NO_PROXY", "127.0.0.1"),
        ("no_proxy", "127.0.0.1"),
    ];
    let d = Berthd::start_env(layout, &[], &env);
    d.import_busybox();

    // The mirror holds docker.io/library/mirrored:1 under its Hub path.
    let on_mirror = format!("{}/library/mirrored:1", mirror.addr);
    d.docker(["tag", "busybox", &on_mirror]).ok();
    let digest = pushed_digest(&d.docker(["push", &on_mirror]).ok(), "1");
    d.docker(["rmi", &on_mirror, "busybox"]).ok();

    let out = d.docker(["pull", "mirrored:1"]).ok();
    for want in [
        "1: Pulling from library/mirrored".to_string(),
        format!("Digest: {digest}"),
        "Status: Downloaded newer image for mirrored:1".to_string(),
        "docker.io/library/mirrored:1".to_string(),
    ] {
        assert!(out.contains(&want), "{want:?} in {out}");
    }
    assert_eq!(
        trap.seen(),
        Vec::<String>::new(),
        "nothing went past the mirror"
    );
    let digests = d
        .docker([
            "image",
            "inspect",
            "-f",
            "{{json .RepoDigests}}",
            "mirrored:1",
        ])
        .ok();
    assert!(digests.contains(&format!("mirrored@{digest}")), "{digests}");
    run_echo(&d, "mirrored:1");

    // An image the mirror lacks: the pull falls back to Docker Hub, which
    // only the trap ever sees.
    let err = d.docker(["pull", "absent-from-mirror:1"]).fails();
    assert!(!err.is_empty());
    let seen = trap.seen();
    assert!(
        !seen.is_empty()
            && seen
                .iter()
                .all(|l| l.starts_with("CONNECT registry-1.docker.io:443 ")),
        "{seen:?}"
    );

    // Pushes never go to a mirror.
    let before = trap.seen().len();
    let err = d.docker(["push", "mirrored:1"]).fails();
    assert!(!err.is_empty());
    let seen = trap.seen();
    assert!(seen.len() > before, "{seen:?}");
    let (status, _, _) = registry_http(
        &mirror.addr,
        "GET",
        "/v2/library/mirrored/tags/list",
        "application/json",
    );
    assert_eq!(status, 200);
}

/// The address of the daemon's default bridge (`--bip`'s address), an
/// address of this host outside 127.0.0.0/8.
fn bridge_address(layout: &Layout) -> String {
    let args = layout.base_args();
    let bip = args
        .iter()
        .skip_while(|a| *a != "--bip")
        .nth(1)
        .expect("the harness passes --bip");
    bip.split('/').next().unwrap().to_string()
}

/// A self-signed certificate for `ip` in `dir` (cert.pem, key.pem).
fn self_signed(dir: &std::path::Path, ip: &str) {
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=registry"])
        .args(["-addext", &format!("subjectAltName=IP:{ip}")])
        .args(["-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn insecure_registries_get_http_and_unverified_tls_and_no_others() {
    if !testkit::require_root() {
        return;
    }
    require_container_bins();
    let layout = Layout::new();
    let ip = bridge_address(&layout);
    // Listed: a plain HTTP registry and a self-signed TLS one; ports picked
    // now, as the daemon reads the list when it starts.
    let (http_port, tls_port) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    std::fs::write(
        layout.config_file(),
        format!(r#"{{"insecure-registries": ["{ip}:{http_port}", "http://{ip}:{tls_port}"]}}"#),
    )
    .unwrap();
    let d = Berthd::start_in(layout, &[]);
    d.import_busybox();
    let certs = tempfile::tempdir().unwrap();
    self_signed(certs.path(), &ip);
    let cert = certs.path().join("cert.pem").display().to_string();
    let key = certs.path().join("key.pem").display().to_string();
    let tls = ["--tls-cert", cert.as_str(), "--tls-key", key.as_str()];

    let listed_http = Registry::start_at(&format!("{ip}:{http_port}"), &[], &[]);
    let listed_tls = Registry::start_at(&format!("{ip}:{tls_port}"), &tls, &[]);
    for reg in [&listed_http, &listed_tls] {
        let name = format!("{}/t/busybox:1", reg.addr);
        d.docker(["tag", "busybox", &name]).ok();
        let digest = pushed_digest(&d.docker(["push", &name]).ok(), "1");
        d.docker(["rmi", &name]).ok();
        let out = d.docker(["pull", &name]).ok();
        assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    }

    // The same kinds of registry, not listed: HTTPS with verification only.
    let other_http = Registry::start_at(&format!("{ip}:{}", free_port(&ip)), &[], &[]);
    let other_tls = Registry::start_at(&format!("{ip}:{}", free_port(&ip)), &tls, &[]);
    for reg in [&other_http, &other_tls] {
        let name = format!("{}/t/busybox:1", reg.addr);
        d.docker(["tag", "busybox", &name]).ok();
        let err = d.docker(["push", &name]).fails();
        assert!(err.contains(&format!("https://{}/v2/", reg.addr)), "{err}");
        let err = d.docker(["pull", &name]).fails();
        assert!(err.contains(&format!("https://{}/v2/", reg.addr)), "{err}");
    }

    let info = d.get_json("/info");
    let rc = &info["RegistryConfig"];
    assert_eq!(
        rc["InsecureRegistryCIDRs"],
        serde_json::json!(["127.0.0.0/8"])
    );
    for port in [http_port, tls_port] {
        let key = format!("{ip}:{port}");
        assert_eq!(rc["IndexConfigs"][&key]["Secure"], false, "{rc}");
    }
}

#[test]
fn registry_config_in_info_is_dockerds() {
    if !testkit::require_root() {
        return;
    }
    assert!(
        testkit::dockerd::on_path("dockerd"),
        "dockerd is missing: install Debian's docker.io package"
    );
    let settings = r#"{"insecure-registries": ["10.1.2.3/8", "myreg:5000", "http://other:80", "10.0.0.0/8", "127.0.0.1:5000"],
        "registry-mirrors": ["http://127.0.0.1:5999", "https://mirror.example.com/", "http://127.0.0.1:5999/"],
        "allow-nondistributable-artifacts": ["10.1.2.3/8", "reg.example:5000"],
        "max-concurrent-downloads": 4, "max-concurrent-uploads": 2, "max-download-attempts": 3}"#;
    let layout = Layout::new();
    std::fs::write(layout.config_file(), settings).unwrap();
    let d = Berthd::start_in(layout, &[]);
    let dir = tempfile::Builder::new()
        .prefix("dk")
        .tempdir_in("/tmp")
        .unwrap();
    let cfg = dir.path().join("daemon.json");
    std::fs::write(&cfg, settings).unwrap();
    let dk = testkit::dockerd::Dockerd::start_with(
        dir.path(),
        &["--config-file", cfg.to_str().unwrap()],
    );
    let format = ["info", "--format", "{{json .RegistryConfig}}"];
    let ours: serde_json::Value = serde_json::from_str(&d.docker(format).ok()).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&dk.ok(&format)).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(
        ours["InsecureRegistryCIDRs"],
        serde_json::json!(["10.0.0.0/8", "127.0.0.0/8"])
    );
    assert_eq!(
        ours["AllowNondistributableArtifactsCIDRs"],
        serde_json::json!(["10.0.0.0/8"])
    );
    // The CLI's text, from the same data; it lists the insecure hosts in
    // Go map order, so the lines compare as a set.
    let section = |text: &str| -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .skip_while(|l| !l.contains("Insecure Registries:"))
            .take_while(|l| !l.contains("Live Restore Enabled"))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let ours = section(&d.docker(["info"]).ok());
    assert!(ours.iter().any(|l| l.trim() == "myreg:5000"), "{ours:?}");
    assert_eq!(ours, section(&dk.ok(&["info"])));

    // Bad settings stop the start, in dockerd's words.
    let l = Layout::new();
    for (file, want) in [
        (
            r#"{"registry-mirrors": ["ftp://x"]}"#,
            r#"invalid mirror: unsupported scheme "ftp" in "ftp://x""#,
        ),
        (
            r#"{"insecure-registries": ["bad host"]}"#,
            r#"insecure registry bad host is not valid: invalid host "bad host""#,
        ),
        (
            r#"{"max-concurrent-uploads": -1}"#,
            "configuration validation from file failed: invalid max concurrent uploads: -1",
        ),
        (
            r#"{"max-download-attempts": 0}"#,
            "configuration validation from file failed: invalid max download attempts: 0",
        ),
        (
            r#"{"allow-nondistributable-artifacts": ["http://reg:5000"]}"#,
            "allow-nondistributable-artifacts registry http://reg:5000 should not contain '://'",
        ),
    ] {
        std::fs::write(l.config_file(), file).unwrap();
        let err = refuses(&l, &[]);
        assert!(err.contains(want), "{file}: {err}");
    }
}

/// A three-layer image built from the imported busybox.
fn layered(d: &Berthd, tag: &str) {
    let ctx = d.root.join(format!("ctx-{}", tag.replace(['/', ':'], "-")));
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a"), "a\n").unwrap();
    std::fs::write(ctx.join("b"), "b\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY a /a\nCOPY b /b\n",
    )
    .unwrap();
    d.docker(["build", "-q", "-t", tag, ctx.to_str().unwrap()])
        .ok();
}

#[test]
fn transfer_limits_make_layers_wait() {
    if !testkit::require_root() {
        return;
    }
    require_container_bins();
    let reg = Registry::start(&[], &[]);
    let layout = Layout::new();
    std::fs::write(
        layout.config_file(),
        r#"{"max-concurrent-downloads": 1, "max-concurrent-uploads": 1}"#,
    )
    .unwrap();
    let one = Berthd::start_in(layout, &[]);
    one.import_busybox();
    let name = format!("{}/t/layers:1", reg.addr);
    layered(&one, &name);
    let out = one.docker(["push", &name]).ok();
    assert!(out.contains(": Waiting"), "one upload at a time: {out}");
    one.docker(["rmi", &name, "busybox"]).ok();
    let out = one.docker(["pull", &name]).ok();
    assert!(out.contains(": Waiting"), "one download at a time: {out}");

    // dockerd's defaults (3 and 5) let three layers go at once.
    let three = started();
    let out = three.docker(["pull", &name]).ok();
    assert!(!out.contains(": Waiting"), "{out}");
    let other = format!("{}/u/layers:1", reg.addr);
    three.docker(["tag", &name, &other]).ok();
    let out = three.docker(["push", &other]).ok();
    assert!(!out.contains(": Waiting"), "{out}");
}

#[test]
fn all_tags_pull_and_push() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let reg = Registry::start(&[], &[]);
    let repo = format!("{}/t/multi", reg.addr);
    for tag in ["1", "2"] {
        d.docker(["tag", "busybox", &format!("{repo}:{tag}")]).ok();
    }
    // A different image under the third tag.
    let tar = d.busybox_tar();
    d.docker([
        "import",
        "--change",
        "ENV X=3",
        tar.to_str().unwrap(),
        &format!("{repo}:3"),
    ])
    .ok();
    let err = d
        .docker(["push", "--all-tags", &format!("{repo}:1")])
        .fails();
    assert!(
        err.contains("tag can't be used with --all-tags/-a"),
        "{err}"
    );
    let out = d.docker(["push", "--all-tags", &repo]).ok();
    assert!(
        out.contains(&format!("The push refers to repository [{repo}]")),
        "{out}"
    );
    let digests: Vec<String> = ["1", "2", "3"]
        .iter()
        .map(|t| pushed_digest(&out, t))
        .collect();
    assert_eq!(digests[0], digests[1]);
    assert_ne!(digests[0], digests[2]);
    let (status, _, body) = registry_http(
        &reg.addr,
        "GET",
        "/v2/t/multi/tags/list",
        "application/json",
    );
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["tags"], serde_json::json!(["1", "2", "3"]));

    let ids: Vec<String> = ["1", "3"]
        .iter()
        .map(|t| {
            d.docker(["image", "inspect", "-f", "{{.Id}}", &format!("{repo}:{t}")])
                .ok()
        })
        .collect();
    d.docker([
        "rmi",
        &format!("{repo}:1"),
        &format!("{repo}:2"),
        &format!("{repo}:3"),
        "busybox",
    ])
    .ok();
    let out = d.docker(["pull", "--all-tags", &repo]).ok();
    for want in [
        "1: Pulling from t/multi".to_string(),
        "2: Pulling from t/multi".to_string(),
        "3: Pulling from t/multi".to_string(),
        format!("Digest: {}", digests[0]),
        format!("Digest: {}", digests[2]),
        format!("Status: Downloaded newer image for {repo}"),
    ] {
        assert!(out.contains(&want), "{want:?} in {out}");
    }
    assert_eq!(out.lines().last(), Some(repo.as_str()), "{out}");
    let tags = d.docker(["images", &repo, "--format", "{{.Tag}}"]).ok();
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["1", "2", "3"]);
    for (t, id) in ["1", "3"].iter().zip(&ids) {
        let got = d
            .docker(["image", "inspect", "-f", "{{.Id}}", &format!("{repo}:{t}")])
            .ok();
        assert_eq!(&got, id, "tag {t}");
    }
    run_echo(&d, &format!("{repo}:3"));
    let out = d.docker(["pull", "--all-tags", &repo]).ok();
    assert!(
        out.contains(&format!("Status: Image is up to date for {repo}")),
        "{out}"
    );
}
