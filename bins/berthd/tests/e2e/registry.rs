//! Pull, push and login through berthd with the docker CLI, against
//! `berth-registry` started on 127.0.0.1 (build it next to berthd:
//! `cargo build -p berth-registry`), and interop with skopeo both ways.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Berthd, berthd_bin, started};

pub fn registry_bin() -> PathBuf {
    let p = Path::new(berthd_bin()).with_file_name("berth-registry");
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build -p berth-registry)",
        p.display()
    );
    p
}

/// A berth-registry on 127.0.0.1 with a temp root; killed on drop.
pub struct Registry {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    pub dir: tempfile::TempDir,
}

/// A port free on `host` right now.
pub fn free_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("find a free port on {host}: {e}"))
}

impl Registry {
    /// Starts the registry on 127.0.0.1 with `args`; `files` are written
    /// to its temp dir first and each `@name` argument becomes that
    /// file's path.
    pub fn start(args: &[&str], files: &[(&str, String)]) -> Registry {
        Self::start_at(
            &format!("127.0.0.1:{}", free_port("127.0.0.1")),
            args,
            files,
        )
    }

    /// Starts the registry on `addr` (`host:port`), as [`Registry::start`].
    pub fn start_at(addr: &str, args: &[&str], files: &[(&str, String)]) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix('@') {
                Some(f) => dir.path().join(f).to_string_lossy().into_owned(),
                None => a.to_string(),
            })
            .collect();
        let addr = addr.to_string();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(registry_bin())
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(["serve", "--addr", &addr])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn berth-registry");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "berth-registry did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry { child, addr, dir }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `<tag>: digest: sha256:… size: N` line's digest.
pub fn pushed_digest(out: &str, tag: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{tag}: digest: sha256:")))
        .unwrap_or_else(|| panic!("no digest line in {out}"));
    let d = line.split(' ').nth(2).unwrap().to_string();
    assert_eq!(d.len(), 71, "{line}");
    assert!(line.contains(" size: "), "{line}");
    d
}

pub fn run_echo(d: &Berthd, image: &str) {
    let out = d
        .docker(["run", "--rm", image, "/bin/busybox", "echo", "pulled"])
        .ok();
    assert_eq!(out, "pulled\n");
}

#[test]
fn push_pull_run_by_tag_and_digest() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let reg = Registry::start(&[], &[]);
    let name = format!("{}/t/busybox:1", reg.addr);
    d.docker(["tag", "busybox", &name]).ok();
    let out = d.docker(["push", &name]).ok();
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/t/busybox]",
            reg.addr
        )),
        "{out}"
    );
    assert!(out.contains(": Pushed"), "{out}");
    let digest = pushed_digest(&out, "1");
    // Again: every blob is there already; the manifest is the same.
    let out = d.docker(["push", &name]).ok();
    assert!(out.contains(": Layer already exists"), "{out}");
    assert_eq!(pushed_digest(&out, "1"), digest);
    // Another repository on the same registry mounts the layer.
    let other = format!("{}/u/copy:2", reg.addr);
    d.docker(["tag", "busybox", &other]).ok();
    let out = d.docker(["push", &other]).ok();
    assert!(out.contains(": Mounted from t/busybox"), "{out}");

    // Nothing of the image left locally: the pull fetches every layer.
    d.docker(["rmi", &name, &other, "busybox"]).ok();
    let left = d.docker(["images", "-q"]).ok();
    assert_eq!(left.trim(), "", "all images removed");
    let out = d.docker(["pull", &name]).ok();
    for want in [
        "1: Pulling from t/busybox".to_string(),
        ": Pull complete".to_string(),
        format!("Digest: {digest}"),
        format!("Status: Downloaded newer image for {name}"),
    ] {
        assert!(out.contains(&want), "{want:?} in {out}");
    }
    run_echo(&d, &name);
    let digests = d
        .docker(["image", "inspect", "-f", "{{json .RepoDigests}}", &name])
        .ok();
    assert!(
        digests.contains(&format!("{}/t/busybox@{digest}", reg.addr)),
        "{digests}"
    );
    let out = d.docker(["pull", &name]).ok();
    assert!(
        out.contains(&format!("Status: Image is up to date for {name}")),
        "{out}"
    );

    // By digest (the image was removed with its last tag).
    let by_digest = format!("{}/t/busybox@{digest}", reg.addr);
    d.docker(["rmi", &name]).ok();
    let out = d.docker(["pull", &by_digest]).ok();
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {by_digest}"))
            || out.contains(&format!("Status: Image is up to date for {by_digest}")),
        "{out}"
    );
    run_echo(&d, &by_digest);

    let missing = format!("{}/t/busybox:nope", reg.addr);
    let err = d.docker(["pull", &missing]).fails();
    assert!(
        err.contains(&format!(
            "manifest for {missing} not found: manifest unknown"
        )),
        "{err}"
    );
    let err = d
        .docker(["push", &format!("{}/t/absent:1", reg.addr)])
        .fails();
    assert!(
        err.contains("An image does not exist locally with the tag"),
        "{err}"
    );
}

fn htpasswd(users: &[(&str, &str)]) -> String {
    users
        .iter()
        .map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 4).unwrap()))
        .collect()
}

const ACCESS: &str =
    "auth:\n  access:\n    - { account: alice, repository: \"*\", actions: [pull, push] }\n";

fn login(d: &Berthd, addr: &str, user: &str, password: &str) -> crate::harness::Run {
    d.docker_stdin(
        ["login", "-u", user, "--password-stdin", addr],
        format!("{password}\n").as_bytes(),
    )
}

#[test]
fn login_logout_and_basic_auth() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let reg = Registry::start(
        &[
            "--auth",
            "basic",
            "--htpasswd",
            "@users",
            "--config",
            "@cfg.yml",
        ],
        &[
            ("users", htpasswd(&[("alice", "wonder")])),
            ("cfg.yml", ACCESS.to_string()),
        ],
    );
    let name = format!("{}/t/busybox:1", reg.addr);
    d.docker(["tag", "busybox", &name]).ok();
    let err = d.docker(["push", &name]).fails();
    assert!(err.contains("no basic auth credentials"), "{err}");

    let err = login(&d, &reg.addr, "alice", "nope").fails();
    assert!(
        err.contains(&format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            reg.addr
        )),
        "{err}"
    );
    let out = login(&d, &reg.addr, "alice", "wonder").ok();
    assert!(out.contains("Login Succeeded"), "{out}");
    let out = d.docker(["push", &name]).ok();
    assert!(out.contains(": Pushed"), "{out}");
    d.docker(["rmi", &name]).ok();
    d.docker(["pull", &name]).ok();

    let out = d.docker(["logout", &reg.addr]).ok();
    assert!(out.contains("Removing login credentials"), "{out}");
    d.docker(["rmi", &name]).ok();
    let err = d.docker(["pull", &name]).fails();
    assert!(err.contains("no basic auth credentials"), "{err}");
}

#[test]
fn token_auth_push_and_pull() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let cfg = ACCESS.replace(
        "auth:\n",
        "auth:\n  mode: token\n  token: { service: e2e-registry }\n",
    );
    let reg = Registry::start(
        &["--htpasswd", "@users", "--config", "@cfg.yml"],
        &[
            ("users", htpasswd(&[("alice", "wonder")])),
            ("cfg.yml", cfg),
        ],
    );
    let name = format!("{}/t/busybox:tok", reg.addr);
    d.docker(["tag", "busybox", &name]).ok();
    let err = login(&d, &reg.addr, "alice", "nope").fails();
    assert!(err.contains("invalid username or password"), "{err}");
    login(&d, &reg.addr, "alice", "wonder").ok();
    let out = d.docker(["push", &name]).ok();
    let digest = pushed_digest(&out, "tok");
    d.docker(["rmi", &name, "busybox"]).ok();
    let out = d.docker(["pull", &name]).ok();
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    run_echo(&d, &name);
    d.docker(["logout", &reg.addr]).ok();
    // Anonymous: the registry refuses, and the daemon answers 401 (the CLI
    // would then prompt for a login, so the API is asked directly).
    let r = d.request(
        "POST",
        &format!(
            "/v1.41/images/create?fromImage={}/t/busybox&tag=tok",
            reg.addr
        ),
        &[],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("unauthorized"), "{}", r.text());
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn skopeo_interop_both_ways() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let reg = Registry::start(&[], &[]);
    // berthd pushes; skopeo reads the manifest and copies every blob
    // (verifying each digest).
    let name = format!("{}/t/busybox:1", reg.addr);
    d.docker(["tag", "busybox", &name]).ok();
    let digest = pushed_digest(&d.docker(["push", &name]).ok(), "1");
    let info: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{name}"),
    ]))
    .unwrap();
    assert_eq!(info["Digest"], digest.as_str());
    assert_eq!(info["Os"], "linux");
    assert_eq!(info["Layers"].as_array().map(Vec::len), Some(1));
    let copy = reg.dir.path().join("copy");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{name}"),
        &format!("dir:{}", copy.display()),
    ]);

    // skopeo pushes an OCI image (from an OCI layout of busybox); berthd
    // pulls and runs it.
    let archive = reg.dir.path().join("busybox-save.tar");
    let out = d
        .docker(["save", "-o", archive.to_str().unwrap(), "busybox"])
        .ok();
    assert_eq!(out, "");
    let layout = reg.dir.path().join("layout");
    skopeo(&[
        "copy",
        &format!("docker-archive:{}", archive.display()),
        &format!("oci:{}:bb", layout.display()),
    ]);
    let oci = format!("{}/s/busybox:oci", reg.addr);
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-compress",
        &format!("oci:{}:bb", layout.display()),
        &format!("docker://{oci}"),
    ]);
    let out = d.docker(["pull", &oci]).ok();
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {oci}")),
        "{out}"
    );
    run_echo(&d, &oci);
}
