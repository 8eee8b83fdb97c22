//! The API over TCP with TLS: `--tlsverify` with a CA, the daemon's pair,
//! and a client pair, driven by the docker CLI v28 with its own TLS flags.
//! Certificates are made by openssl(1) in the test's directory
//! (`testkit::pki`).

use std::process::Command;

use crate::harness::{Berthd, Layout};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn tlsverify_serves_the_cli_with_a_client_certificate_only() {
    if !testkit::require_root() {
        return;
    }
    if !testkit::pki::available() {
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let layout = Layout::new();
    let pki = layout.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    testkit::pki::make(&pki);
    let port = free_port();
    let p = |f: &str| pki.join(f).display().to_string();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let d = Berthd::start_in(
        layout,
        &[
            "-H",
            &tcp,
            "--tlsverify",
            "--tlscacert",
            &p("ca.pem"),
            "--tlscert",
            &p("server.pem"),
            "--tlskey",
            &p("server-key.pem"),
        ],
    );
    let docker = |extra: &[&str]| {
        let mut c = Command::new("/usr/local/bin/docker");
        c.env_remove("DOCKER_HOST")
            .env("DOCKER_CONFIG", &d.docker_config)
            .args(["-H", &tcp])
            .args(extra)
            .args(["version", "--format", "{{.Server.APIVersion}}"]);
        c.output().expect("run docker")
    };
    // The CLI with the client pair talks to the daemon.
    let ok = docker(&[
        "--tlsverify",
        "--tlscacert",
        &p("ca.pem"),
        "--tlscert",
        &p("client.pem"),
        "--tlskey",
        &p("client-key.pem"),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "1.41");
    // Without a client certificate the handshake is refused.
    let no_cert = docker(&["--tlsverify", "--tlscacert", &p("ca.pem")]);
    assert!(!no_cert.status.success());
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = docker(&[]);
    assert!(!plain.status.success());
    // The unix socket still serves.
    assert_eq!(
        d.docker(["version", "--format", "{{.Server.APIVersion}}"])
            .ok()
            .trim(),
        "1.41"
    );
}

#[test]
fn tls_material_that_does_not_load_is_a_clear_start_error() {
    if !testkit::require_root() {
        return;
    }
    let layout = Layout::new();
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let missing = layout.path().join("nope.pem").display().to_string();
    std::fs::write(layout.config_file(), "{}\n").unwrap();
    let mut args = layout.base_args();
    args.extend(
        [
            "-H",
            &tcp,
            "--tls",
            "--tlscert",
            &missing,
            "--tlskey",
            &missing,
        ]
        .map(String::from),
    );
    let out = Command::new(crate::harness::berthd_bin())
        .args(&args)
        .output()
        .expect("run berthd");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not load X509 key pair"), "{err}");
    crate::harness::cleanup(layout.path());
}
