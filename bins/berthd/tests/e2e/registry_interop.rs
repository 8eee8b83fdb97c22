//! Interop of berthd's pulls and pushes with registries and engines
//! nobody here wrote: Debian's docker-registry (distribution 2.8) started
//! on 127.0.0.1, and real Docker (Debian's dockerd 20.10, testkit's
//! private instance) exchanging images with berthd through berth-registry.
//! Same manifest digests and image IDs on both sides; pulled images run.
//!
//! Needs Debian's docker-registry and docker.io packages.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::dockerd::{Dockerd, on_path};

use crate::harness::{Berthd, started};
use crate::registry::{Registry, free_port, pushed_digest, run_echo};

/// Debian's distribution registry binary.
const DOCKER_REGISTRY: &str = "/usr/bin/docker-registry";

/// A docker-registry on 127.0.0.1 with a temp config and storage; killed
/// on drop.
struct DockerRegistry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl DockerRegistry {
    fn start() -> DockerRegistry {
        assert!(
            Path::new(DOCKER_REGISTRY).exists(),
            "{DOCKER_REGISTRY} is missing: install Debian's docker-registry package"
        );
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port("127.0.0.1"));
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n",
            dir.path().join("storage").display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(DOCKER_REGISTRY)
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen; its log:\n{}",
                std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        DockerRegistry {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 request to a registry on 127.0.0.1: (status, headers
/// in lowercase, body).
pub fn registry_http(addr: &str, method: &str, path: &str, accept: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(testkit::HANG_GUARD)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_lowercase(), body.to_string())
}

/// The digest the registry itself gives the manifest `repo:tag`.
fn registry_digest(addr: &str, repo: &str, tag: &str) -> String {
    let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
    let (status, head, _) =
        registry_http(addr, "HEAD", &format!("/v2/{repo}/manifests/{tag}"), accept);
    assert_eq!(status, 200, "{head}");
    head.lines()
        .find_map(|l| l.strip_prefix("docker-content-digest: "))
        .unwrap_or_else(|| panic!("no Docker-Content-Digest in {head}"))
        .trim()
        .to_string()
}

fn image_id(d: &Berthd, image: &str) -> String {
    d.docker(["image", "inspect", "-f", "{{.Id}}", image])
        .ok()
        .trim()
        .to_string()
}

fn repo_digests(d: &Berthd, image: &str) -> String {
    d.docker(["image", "inspect", "-f", "{{json .RepoDigests}}", image])
        .ok()
}

#[test]
fn berthd_pushes_to_and_pulls_from_debians_docker_registry() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let reg = DockerRegistry::start();
    let name = format!("{}/t/busybox:1", reg.addr);
    d.docker(["tag", "busybox", &name]).ok();
    let out = d.docker(["push", &name]).ok();
    assert!(out.contains(": Pushed"), "{out}");
    let digest = pushed_digest(&out, "1");
    assert_eq!(registry_digest(&reg.addr, "t/busybox", "1"), digest);
    // Every blob is there already; a second repository mounts the layer.
    let out = d.docker(["push", &name]).ok();
    assert!(out.contains(": Layer already exists"), "{out}");
    assert_eq!(pushed_digest(&out, "1"), digest);
    let other = format!("{}/u/copy:2", reg.addr);
    d.docker(["tag", "busybox", &other]).ok();
    let out = d.docker(["push", &other]).ok();
    assert!(out.contains(": Mounted from t/busybox"), "{out}");
    assert_eq!(pushed_digest(&out, "2"), digest);

    d.docker(["rmi", &name, &other, "busybox"]).ok();
    assert_eq!(d.docker(["images", "-q"]).ok().trim(), "");
    let out = d.docker(["pull", &name]).ok();
    for want in [
        "1: Pulling from t/busybox".to_string(),
        ": Pull complete".to_string(),
        format!("Digest: {digest}"),
        format!("Status: Downloaded newer image for {name}"),
    ] {
        assert!(out.contains(&want), "{want:?} in {out}");
    }
    assert!(
        repo_digests(&d, &name).contains(&format!("{}/t/busybox@{digest}", reg.addr)),
        "{}",
        repo_digests(&d, &name)
    );
    run_echo(&d, &name);

    let by_digest = format!("{}/u/copy@{digest}", reg.addr);
    d.docker(["rmi", &name]).ok();
    let out = d.docker(["pull", &by_digest]).ok();
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    run_echo(&d, &by_digest);
}

/// Fails unless real Docker is installed: this test is the interop check.
fn require_docker() {
    assert!(
        on_path("dockerd") && on_path("docker"),
        "dockerd and docker are missing: install Debian's docker.io package"
    );
}

#[test]
fn docker_and_berthd_exchange_images_through_berth_registry() {
    if !testkit::require_root() {
        return;
    }
    require_docker();
    let d = started();
    let reg = Registry::start(&[], &[]);
    let dir = tempfile::Builder::new()
        .prefix("dk")
        .tempdir_in("/tmp")
        .unwrap();
    let dk = Dockerd::start(dir.path());

    // Docker pushes; berthd pulls the same manifest and image.
    let from_docker = format!("{}/dk/busybox:1", reg.addr);
    let tar = d.busybox_tar();
    dk.ok(&[
        "import",
        "--change",
        "CMD [\"/bin/sh\"]",
        tar.to_str().unwrap(),
        &from_docker,
    ]);
    let docker_id = dk.ok(&["image", "inspect", "-f", "{{.Id}}", &from_docker]);
    let digest = pushed_digest(&dk.ok(&["push", &from_docker]), "1");
    assert_eq!(registry_digest(&reg.addr, "dk/busybox", "1"), digest);
    let out = d.docker(["pull", &from_docker]).ok();
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(image_id(&d, &from_docker), docker_id);
    assert!(
        repo_digests(&d, &from_docker).contains(&format!("{}/dk/busybox@{digest}", reg.addr)),
        "{}",
        repo_digests(&d, &from_docker)
    );
    run_echo(&d, &from_docker);

    // berthd pushes; Docker pulls the same manifest and image, and runs it.
    let from_berth = format!("{}/bk/busybox:2", reg.addr);
    d.docker(["tag", "busybox", &from_berth]).ok();
    let berth_id = image_id(&d, &from_berth);
    let digest = pushed_digest(&d.docker(["push", &from_berth]).ok(), "2");
    let out = dk.ok(&["pull", &from_berth]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(
        dk.ok(&["image", "inspect", "-f", "{{.Id}}", &from_berth]),
        berth_id
    );
    let digests = dk.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .RepoDigests}}",
        &from_berth,
    ]);
    assert!(
        digests.contains(&format!("{}/bk/busybox@{digest}", reg.addr)),
        "{digests}"
    );
    let out = dk.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &from_berth,
        "/bin/busybox",
        "echo",
        "pulled by docker",
    ]);
    assert_eq!(out, "pulled by docker");
}
