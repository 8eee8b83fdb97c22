//! A throw-away PKI for TLS tests, made by openssl(1) in a directory the test owns:
//! a CA, a server pair for 127.0.0.1 and a client pair, both signed by the CA
//! ([`make`]), and unrelated CAs to present the wrong one ([`make_ca`]).
//!
//! Files written by [`make`] (PEM): `ca.pem`/`ca-key.pem`, `server.pem`/`server-key.pem`
//! (subjectAltName IP:127.0.0.1, serverAuth) and `client.pem`/`client-key.pem`
//! (clientAuth). Certificates are valid for two days.

use std::path::Path;
use std::process::Command;

/// Whether openssl(1) can be run; a test that needs a PKI skips with a notice
/// otherwise.
pub fn available() -> bool {
    Command::new("openssl").arg("version").output().is_ok()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run openssl {args:?}: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA named `cn`: `<name>.pem` and `<name>-key.pem` in `dir`.
pub fn make_ca(dir: &Path, name: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

/// The CA, the server pair and the client pair in `dir` (see the module's doc).
pub fn make(dir: &Path) {
    make_ca(dir, "ca", "test-ca");
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        let ext_file = dir.join(format!("{name}.ext"));
        std::fs::write(&ext_file, ext)
            .unwrap_or_else(|e| panic!("write {}: {e}", ext_file.display()));
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
}
