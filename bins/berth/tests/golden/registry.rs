//! pull, push, login and logout through both CLIs against `berth-registry` started on
//! 127.0.0.1 (only there: every image name a run may pull names it). Pushes and
//! pulls run on twin registries (berth's and docker's), so each CLI meets the same
//! state; their addresses are normalized in the comparison.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{
    DOCKER, Daemon, Seen, berth_bin, normalize, ok, same, same_in, seen, sibling, started,
};

/// A berth-registry on 127.0.0.1 with a temp root; killed on drop.
struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Basic auth for alice/wonder when `auth`, else open.
    fn start(auth: bool) -> Registry {
        let bin = sibling("berth-registry");
        assert!(
            bin.exists(),
            "{} is missing: build the workspace's binaries first (cargo build --bins)",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("registry dir");
        let mut args: Vec<String> = Vec::new();
        if auth {
            let users = dir.path().join("users");
            let hash = bcrypt::hash("wonder", 4).expect("bcrypt");
            std::fs::write(&users, format!("alice:{hash}\n")).expect("write htpasswd");
            let cfg = dir.path().join("cfg.yml");
            std::fs::write(
                &cfg,
                "auth:\n  access:\n    - { account: alice, repository: \"*\", actions: [pull, push] }\n",
            )
            .expect("write registry config");
            for a in [
                "--auth".to_string(),
                "basic".into(),
                "--htpasswd".into(),
                users.display().to_string(),
                "--config".into(),
                cfg.display().to_string(),
            ] {
                args.push(a);
            }
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(bin)
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

/// Runs `b` through berth and `k` through docker (`k` naming docker's twin registry)
/// and asserts the same output once docker's registry address reads as berth's and
/// IDs are normalized.
fn twins(d: &Daemon, b: &[&str], k: &[&str], names: &[(&str, &str)]) -> Seen {
    let bs = seen(&d.berth(b), true);
    let ks = seen(&d.docker(k), false);
    let fix = |s: Seen, n: &[(&str, &str)]| Seen {
        code: s.code,
        stdout: normalize(&s.stdout, n),
        stderr: normalize(&s.stderr, n),
    };
    let (bs, ks) = (fix(bs, &[]), fix(ks, names));
    assert_eq!(bs, ks, "berth {b:?} and docker {k:?} differ (left berth)");
    bs
}

fn config_file(d: &Daemon) -> PathBuf {
    d.docker_config.join("config.json")
}

/// Runs `args` (with `stdin`) through each CLI from the same configuration (none);
/// asserts the same output and the same `config.json` afterwards.
fn from_scratch(d: &Daemon, args: &[&str], stdin: &[u8]) -> (Seen, String) {
    let mut runs = Vec::new();
    for (prog, is_berth) in [(berth_bin(), true), (DOCKER, false)] {
        let _ = std::fs::remove_file(config_file(d));
        let o: Output = d.cli(prog, args, Some(stdin));
        let cfg = std::fs::read_to_string(config_file(d)).unwrap_or_default();
        runs.push((seen(&o, is_berth), cfg));
    }
    let k = runs.pop().expect("docker's run");
    let b = runs.pop().expect("berth's run");
    assert_eq!(b, k, "berth and docker differ for {args:?} (left berth)");
    b
}

#[test]
fn push_pull_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let (rb, rk) = (Registry::start(false), Registry::start(false));
    let names = [(rk.addr.as_str(), rb.addr.as_str())];
    let (b1, k1) = (format!("{}/t/bb:1", rb.addr), format!("{}/t/bb:1", rk.addr));
    ok(&d, &["tag", "busybox", &b1]);
    ok(&d, &["tag", "busybox", &k1]);
    // Every blob new, then every blob there already.
    let out = twins(&d, &["push", &b1], &["push", &k1], &names);
    assert!(out.stdout.contains(": Pushed\n"), "{out:?}");
    let out = twins(&d, &["push", &b1], &["push", &k1], &names);
    assert!(out.stdout.contains(": Layer already exists\n"), "{out:?}");
    twins(&d, &["push", "-q", &b1], &["push", "-q", &k1], &names);
    // No tag: latest, which is not there.
    let (bn, kn) = (format!("{}/t/bb", rb.addr), format!("{}/t/bb", rk.addr));
    let out = twins(&d, &["push", &bn], &["push", &kn], &names);
    assert_eq!(out.code, Some(1));
    for args in [
        &["push"][..],
        &["push", "a", "b"],
        &["push", "Bad:x"],
        &["push", "--nope", "x"],
        &["pull"],
        &["pull", "-a", "busybox:1"],
        &["pull", "UPPER"],
    ] {
        same(&d, args);
    }

    // Pulls: the tags removed first (the layer stays: "Already exists").
    for r in [&b1, &k1] {
        ok(&d, &["rmi", r]);
    }
    let out = twins(&d, &["pull", &b1], &["pull", &k1], &names);
    assert!(
        out.stdout.contains("Status: Downloaded newer image for "),
        "{out:?}"
    );
    let out = twins(&d, &["pull", &b1], &["pull", &k1], &names);
    assert!(
        out.stdout.contains("Status: Image is up to date for "),
        "{out:?}"
    );
    twins(&d, &["pull", "-q", &b1], &["pull", "-q", &k1], &names);
    twins(&d, &["image", "pull", &bn], &["image", "pull", &kn], &names);
    let (bx, kx) = (
        format!("{}/t/none:1", rb.addr),
        format!("{}/t/none:1", rk.addr),
    );
    let out = twins(&d, &["pull", &bx], &["pull", &kx], &names);
    assert_eq!(out.code, Some(1), "{out:?}");
    let digests = ok(
        &d,
        &["image", "inspect", "-f", "{{json .RepoDigests}}", &b1],
    );
    let digests: Vec<String> = serde_json::from_str(&digests).expect("RepoDigests");
    let digest = digests
        .iter()
        .find(|r| r.starts_with(&rb.addr))
        .unwrap_or_else(|| panic!("no digest from {} in {digests:?}", rb.addr))
        .clone();
    let k_digest = digest.replace(&rb.addr, &rk.addr);
    twins(&d, &["pull", &digest], &["pull", &k_digest], &names);

    // A missing image pulled by run (through 127.0.0.1 only), progress on stderr.
    for r in [&b1, &k1] {
        ok(&d, &["rmi", r]);
    }
    let out = twins(
        &d,
        &["run", "--rm", &b1, "echo", "hi"],
        &["run", "--rm", &k1, "echo", "hi"],
        &names,
    );
    assert_eq!(out.stdout, "hi\n");
    assert!(out.stderr.starts_with("Unable to find image '"), "{out:?}");
    for r in [&b1, &k1] {
        ok(&d, &["rmi", r]);
    }
    twins(
        &d,
        &["create", "-q", "--name", "cq", &b1],
        &["create", "-q", "--name", "cqk", &k1],
        &[(rk.addr.as_str(), rb.addr.as_str()), ("cqk", "cq")],
    );
}

#[test]
fn login_logout_and_authenticated_pulls_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let reg = Registry::start(true);
    let addr = reg.addr.as_str();
    let name = format!("{addr}/t/bb:1");
    ok(&d, &["tag", "busybox", &name]);

    // No credentials.
    let out = same(&d, &["push", &name]);
    assert!(out.stderr.contains("no basic auth credentials"), "{out:?}");
    same_in(
        &d,
        &["login", "-u", "alice", "--password-stdin", addr],
        b"nope\n",
    );
    for args in [
        &["login", "--password-stdin", addr][..],
        &["login", "-u", "alice", "-p", "x", "--password-stdin", addr],
        &["login", "-u", "", addr],
        &["login", "-u", "alice", "-p", "", addr],
        &["login", addr],
        &["login", "a", "b"],
        &["logout", "a", "b"],
    ] {
        same(&d, args);
    }

    // Logged in: the same words and the same config.json (auth is base64 of
    // user:password, the file 0600).
    let (out, cfg) = from_scratch(
        &d,
        &["login", "-u", "alice", "--password-stdin", addr],
        b"wonder\n",
    );
    assert_eq!(out.stdout, "Login Succeeded\n", "{out:?}");
    assert!(cfg.contains("\"auth\": \"YWxpY2U6d29uZGVy\""), "{cfg}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(config_file(&d))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Again with the stored credentials, and with -p (a warning).
    same(&d, &["login", addr]);
    same(&d, &["login", "-u", "alice", "-p", "wonder", addr]);

    let out = same(&d, &["push", "-q", &name]);
    assert_eq!(out.stdout, format!("{name}\n"));
    // run pulls the missing image with the stored credentials.
    for _ in 0..2 {
        ok(&d, &["rmi", &name]);
        let o = d.berth(&["run", "--rm", &name, "echo", "hi"]);
        assert!(o.status.success(), "{o:?}");
    }
    ok(&d, &["rmi", &name]);
    let b = seen(&d.berth(&["run", "--rm", &name, "echo", "hi"]), true);
    ok(&d, &["rmi", &name]);
    let k = seen(&d.docker(&["run", "--rm", &name, "echo", "hi"]), false);
    assert_eq!(b, k, "run with a missing image (left berth)");
    same(&d, &["pull", &name]);

    // Logged out: the entry goes, and the registry refuses again.
    let (out, cfg) = from_scratch(&d, &["logout", addr], b"");
    assert_eq!(
        out.stdout,
        format!("Removing login credentials for {addr}\n")
    );
    assert_eq!(cfg, "", "no file was made for nothing to erase");
    d.cli(
        berth_bin(),
        &["login", "-u", "alice", "--password-stdin", addr],
        Some(b"wonder\n"),
    );
    same(&d, &["logout", &format!("http://{addr}")]);
    let cfg = std::fs::read_to_string(config_file(&d)).unwrap();
    assert_eq!(cfg, "{\n\t\"auths\": {}\n}");
    ok(&d, &["rmi", &name]);
    let out = same(&d, &["pull", &name]);
    assert!(out.stderr.contains("no basic auth credentials"), "{out:?}");
}

#[test]
fn all_tags_pushes_and_pulls_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let (rb, rk) = (Registry::start(false), Registry::start(false));
    let names = [(rk.addr.as_str(), rb.addr.as_str())];
    let (bn, kn) = (format!("{}/t/all", rb.addr), format!("{}/t/all", rk.addr));
    for t in ["1", "2"] {
        ok(&d, &["tag", "busybox", &format!("{bn}:{t}")]);
        ok(&d, &["tag", "busybox", &format!("{kn}:{t}")]);
    }
    let out = twins(
        &d,
        &["push", "--all-tags", &bn],
        &["push", "--all-tags", &kn],
        &names,
    );
    for want in ["1: digest: sha256:", "2: digest: sha256:"] {
        assert!(out.stdout.contains(want), "{want:?} in {out:?}");
    }
    twins(
        &d,
        &["push", "-a", "-q", &bn],
        &["push", "-a", "-q", &kn],
        &names,
    );
    same(&d, &["push", "-a", "busybox:1"]);

    for t in ["1", "2"] {
        ok(&d, &["rmi", &format!("{bn}:{t}"), &format!("{kn}:{t}")]);
    }
    let out = twins(
        &d,
        &["pull", "--all-tags", &bn],
        &["pull", "--all-tags", &kn],
        &names,
    );
    for want in [
        "1: Pulling from t/all\n".to_string(),
        "2: Pulling from t/all\n".to_string(),
        format!("Status: Downloaded newer image for {bn}\n"),
    ] {
        assert!(out.stdout.contains(&want), "{want:?} in {out:?}");
    }
    twins(
        &d,
        &["pull", "-a", "-q", &bn],
        &["pull", "-a", "-q", &kn],
        &names,
    );
}
