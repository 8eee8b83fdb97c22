//! Clients nobody here wrote: Debian's skopeo copies a busybox image (an
//! OCI layout built here) into berth-registry and back, over plain HTTP,
//! over TLS, with basic auth and with the token flow; digests stay equal.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// An OCI image layout holding one image, tagged `1`: one uncompressed
/// layer with the host's static busybox as bin/busybox. Returns the
/// manifest digest.
fn busybox_layout(dir: &Path) -> String {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox"))
        .expect("copy /usr/bin/busybox (Debian package busybox-static)");
    let layer_path = dir.join("layer.tar");
    run(Command::new("tar")
        .arg("--owner=0")
        .arg("--group=0")
        .arg("--mtime=@0")
        .arg("-cf")
        .arg(&layer_path)
        .arg("-C")
        .arg(&rootfs)
        .arg("bin"));
    let tar = std::fs::read(&layer_path).unwrap();
    // Compressed, as a registry destination wants it: skopeo would
    // otherwise gzip the layer on the way and the manifest would change.
    run(Command::new("gzip").arg("-n").arg(&layer_path));
    let layer = std::fs::read(dir.join("layer.tar.gz")).unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/busybox", "sh"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(&tar)]}
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let layout = dir.join("layout");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for b in [&layer, &config, &manifest] {
        let d = digest(b);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), b).unwrap();
    }
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let md = digest(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": md, "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "1"}}]
    });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    md
}

fn skopeo(args: &[&str]) -> String {
    run(Command::new("skopeo").args(args))
}

/// The manifest digest `skopeo inspect` reports for a registry image.
fn remote_digest(image: &str, extra: &[&str]) -> String {
    let mut args = vec!["inspect", "--raw"];
    args.extend_from_slice(extra);
    args.push(image);
    let raw = skopeo(&args);
    digest(raw.as_bytes())
}

/// Copies the layout in and back out, checking digests on the way.
fn round_trip(dir: &Path, r: &Registry, creds: Option<&str>) {
    let md = busybox_layout(dir);
    let layout = dir.join("layout");
    let image = format!("docker://{}/x/busybox:1", r.addr);
    let src = format!("oci:{}:1", layout.display());
    let with =
        |flag: &'static str| -> Vec<&str> { creds.map(|c| vec![flag, c]).unwrap_or_default() };
    let mut args = vec!["copy", "--dest-tls-verify=false"];
    args.extend(with("--dest-creds"));
    args.extend([src.as_str(), image.as_str()]);
    skopeo(&args);
    // The registry holds the very manifest skopeo read from the layout.
    let mut inspect_args = vec!["--tls-verify=false"];
    inspect_args.extend(with("--creds"));
    assert_eq!(remote_digest(&image, &inspect_args), md);
    // And back out into a fresh layout.
    let back: PathBuf = dir.join("back");
    let dst = format!("oci:{}:1", back.display());
    let mut args = vec!["copy", "--src-tls-verify=false"];
    args.extend(with("--src-creds"));
    args.extend([image.as_str(), dst.as_str()]);
    skopeo(&args);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(back.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], md);
    // Every blob came back byte for byte.
    for e in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let copy = std::fs::read(back.join("blobs/sha256").join(e.file_name())).unwrap();
        assert_eq!(copy, std::fs::read(e.path()).unwrap());
    }
}

#[test]
fn skopeo_copies_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::start(&dir.path().join("root"), &[]);
    round_trip(dir.path(), &r, None);
    // Copying again finds every blob present and changes nothing.
    let image = format!("docker://{}/x/busybox:1", r.addr);
    let again = format!("docker://{}/y/busybox:2", r.addr);
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &image,
        &again,
    ]);
    assert_eq!(
        remote_digest(&again, &["--tls-verify=false"]),
        remote_digest(&image, &["--tls-verify=false"])
    );
}

/// A self-signed certificate for 127.0.0.1 made with the openssl CLI.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    (cert, key)
}

fn htpasswd(path: &Path, user: &str, password: &str) {
    std::fs::write(
        path,
        format!("{user}:{}\n", bcrypt::hash(password, 4).unwrap()),
    )
    .unwrap();
}

#[test]
fn skopeo_with_tls_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let users = dir.path().join("htpasswd");
    htpasswd(&users, "alice", "wonder");
    let r = Registry::start(
        &dir.path().join("root"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--auth",
            "basic",
            "--htpasswd",
            users.to_str().unwrap(),
        ],
    );
    // Without credentials skopeo is refused.
    let layout_dir = dir.path().join("refused");
    std::fs::create_dir_all(&layout_dir).unwrap();
    busybox_layout(&layout_dir);
    let out = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:1", layout_dir.join("layout").display()))
        .arg(format!("docker://{}/x/busybox:1", r.addr))
        .output()
        .unwrap();
    assert!(!out.status.success());
    round_trip(dir.path(), &r, Some("alice:wonder"));
    // skopeo falls back to plain HTTP when told not to verify TLS, so
    // check with curl that the port speaks TLS, and only TLS.
    let code = run(Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            "alice:wonder",
        ])
        .arg(format!("https://{}/v2/", r.addr)));
    assert_eq!(code, "200");
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{}/v2/", r.addr))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "401");
}

#[test]
fn skopeo_with_token_auth() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("htpasswd");
    htpasswd(&users, "alice", "wonder");
    let r = Registry::start(
        &dir.path().join("root"),
        &["--auth", "token", "--htpasswd", users.to_str().unwrap()],
    );
    round_trip(dir.path(), &r, Some("alice:wonder"));
    // Wrong credentials fail at the token endpoint.
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            "alice:nope",
        ])
        .arg(format!("docker://{}/x/busybox:1", r.addr))
        .output()
        .unwrap();
    assert!(!out.status.success());
}
