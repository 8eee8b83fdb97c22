//! `build URL` through both CLIs: a tar context and a bare Dockerfile downloaded
//! over http, a git repository fetched from a dumb http server (with a ref and a
//! subdirectory), and a missing URL. The files are served from a temp directory on
//! 127.0.0.1 by the test itself.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::{same_build, same_build_env};
use crate::harness::started;

/// Serves the files under `root` over HTTP/1.1 on 127.0.0.1 (one request per
/// connection, 404 for anything else) until the test process ends.
fn serve(root: PathBuf) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            let path = line.split(' ').nth(1).unwrap_or("/");
            let path = path.split('?').next().unwrap_or("/");
            let file = root.join(path.trim_start_matches('/'));
            let head_only = line.starts_with("HEAD ");
            let (status, body) = match std::fs::read(&file) {
                Ok(b) if !path.contains("..") => ("200 OK", b),
                _ => ("404 Not Found", b"404 page not found\n".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            if !head_only {
                let _ = s.write_all(&body);
            }
        }
    });
    port
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=master",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(st.status.success(), "git {args:?}: {st:?}");
}

fn write(p: &Path, data: &str) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, data).expect("write");
}

#[test]
fn remote_contexts_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let www = tempfile::tempdir().expect("www");
    // A tar context and a bare Dockerfile.
    let src = tempfile::tempdir().expect("src");
    write(
        &src.path().join("Dockerfile"),
        "FROM busybox\nCOPY msg /msg\nCMD [\"cat\", \"/msg\"]\n",
    );
    write(&src.path().join("msg"), "from a tarball\n");
    let tar = std::fs::File::create(www.path().join("ctx.tar")).expect("tar");
    let mut b = tar::Builder::new(tar);
    b.mode(tar::HeaderMode::Deterministic);
    b.append_dir_all(".", src.path()).expect("tar context");
    b.into_inner().expect("finish tar");
    write(
        &www.path().join("Dockerfile.txt"),
        "FROM busybox\nLABEL remote=dockerfile\n",
    );
    // A repository with the context in a subdirectory too, served the dumb way.
    let repo = tempfile::tempdir().expect("repo");
    write(
        &repo.path().join("Dockerfile"),
        "FROM busybox\nCOPY hello /hello\n",
    );
    write(&repo.path().join("hello"), "hello from git\n");
    write(
        &repo.path().join("app/Dockerfile"),
        "FROM busybox\nCOPY . /app/\n",
    );
    write(&repo.path().join("app/page"), "a page\n");
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "context"]);
    git(
        www.path(),
        &[
            "clone",
            "-q",
            "--bare",
            &repo.path().to_string_lossy(),
            "repo.git",
        ],
    );
    git(&www.path().join("repo.git"), &["update-server-info"]);
    let port = serve(www.path().to_path_buf());
    let url = |p: &str| format!("http://127.0.0.1:{port}/{p}");

    let s = same_build(
        &d,
        &["--no-cache", "-t", "remote-tar:1", &url("ctx.tar")],
        None,
    );
    assert_eq!(s.code, Some(0), "{s:?}");
    assert!(
        s.stdout
            .contains("Downloading build context from remote url"),
        "{s:?}"
    );
    let s = same_build(
        &d,
        &["--no-cache", "-t", "remote-df:1", &url("Dockerfile.txt")],
        None,
    );
    assert_eq!(s.code, Some(0), "{s:?}");
    let s = same_build(&d, &["--no-cache", "-q", &url("Dockerfile.txt")], None);
    assert_eq!(s.code, Some(0), "{s:?}");
    let s = same_build(&d, &[&url("missing.tar")], None);
    assert_eq!(s.code, Some(1), "{s:?}");
    let s = same_build(
        &d,
        &["--no-cache", "-t", "remote-git:1", &url("repo.git")],
        None,
    );
    assert_eq!(s.code, Some(0), "{s:?}");
    let s = same_build(
        &d,
        &[
            "--no-cache",
            "-t",
            "remote-git:2",
            &format!("{}#master:app", url("repo.git")),
        ],
        None,
    );
    assert_eq!(s.code, Some(0), "{s:?}");
    let s = same_build(&d, &[&format!("{}#nope", url("repo.git"))], None);
    assert_ne!(s.code, Some(0), "{s:?}");

    // The same tar over https, verified against the test's CA named by
    // SSL_CERT_FILE (both CLIs read it); without it the CA is unknown.
    if !testkit::pki::available() {
        eprintln!("skipping the https cases: no openssl");
        return;
    }
    let pki = tempfile::tempdir().expect("pki dir");
    testkit::pki::make(pki.path());
    let https = HttpsServer::start(www.path(), pki.path());
    let tls_url = format!("https://127.0.0.1:{}/ctx.tar", https.port);
    let ca = pki.path().join("ca.pem");
    let ca = ca.to_string_lossy();
    let s = same_build_env(
        &d,
        &["--no-cache", "-t", "remote-tls:1", &tls_url],
        None,
        &[("SSL_CERT_FILE", &ca)],
    );
    assert_eq!(s.code, Some(0), "{s:?}");
    let other = tempfile::tempdir().expect("other CA dir");
    testkit::pki::make_ca(other.path(), "other", "other-ca");
    let other_ca = other.path().join("other.pem");
    let s = same_build_env(
        &d,
        &[&tls_url],
        None,
        &[("SSL_CERT_FILE", &other_ca.to_string_lossy())],
    );
    assert_eq!(s.code, Some(1), "{s:?}");
}

/// openssl(1)'s `s_server -WWW` serving `root` over https on 127.0.0.1 with the
/// PKI's server pair; killed on drop.
struct HttpsServer {
    child: std::process::Child,
    port: u16,
}

impl HttpsServer {
    fn start(root: &Path, pki: &Path) -> HttpsServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(pki.join("server.pem"))
            .arg("-key")
            .arg(pki.join("server-key.pem"))
            .current_dir(root)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "s_server did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        HttpsServer { child, port }
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
