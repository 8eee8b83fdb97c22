//! Tests of the TLS material and verifier (`tls.rs`).

use super::*;

#[test]
fn server_names_drop_the_port() {
    assert_eq!(
        server_name("127.0.0.1:2376").unwrap(),
        ServerName::try_from("127.0.0.1").unwrap()
    );
    assert_eq!(
        server_name("[::1]:2376").unwrap(),
        ServerName::try_from("::1").unwrap()
    );
    assert_eq!(
        server_name("localhost:2376").unwrap(),
        ServerName::try_from("localhost").unwrap()
    );
    assert!(server_name("bad name:1").is_err());
}

#[test]
fn missing_files_are_worded_as_go() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let e = TlsMaterial::read(&TlsOptions {
        verify: true,
        ca: Some(ca.clone()),
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("open {}: no such file or directory", ca.display())
    );
    let e = TlsMaterial::read(&TlsOptions {
        ca: Some(dir.path().to_path_buf()),
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("read {}: is a directory", dir.path().display())
    );
}

fn material(ca: &str, cert: &str, key: &str) -> TlsMaterial {
    let some = |s: &str| (!s.is_empty()).then(|| s.as_bytes().to_vec());
    TlsMaterial {
        verify: true,
        ca: some(ca),
        cert: some(cert),
        key: some(key),
    }
}

#[test]
fn bad_material_is_worded_as_docker() {
    let msg = |m: TlsMaterial| match m.connector() {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the material loads"),
    };
    assert_eq!(
        msg(material("garbage\n", "", "")),
        "failed to retrieve context tls info: ca.pem seems invalid"
    );
    assert_eq!(
        msg(material("", "x", "not pem")),
        "no valid private key found"
    );
    assert_eq!(
        msg(material(
            "",
            "x",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        )),
        "private key is encrypted - support for encrypted private keys has been removed, see https://docs.docker.com/go/deprecated/"
    );
    let key_block = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    let cert_block = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_eq!(
        msg(material("", key_block, key_block)),
        "failed to retrieve context tls info: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"
    );
    assert_eq!(
        msg(material("", "nothing", key_block)),
        "failed to retrieve context tls info: tls: failed to find any PEM data in certificate input"
    );
    assert_eq!(
        msg(material("", cert_block, cert_block)),
        "failed to retrieve context tls info: tls: found a certificate rather than a key in the PEM for the private key"
    );
}

#[test]
fn verification_without_any_file_is_plain_http() {
    let none = |verify| TlsMaterial {
        verify,
        ca: None,
        cert: None,
        key: None,
    };
    assert!(none(true).connector().unwrap().is_none());
    // Unverified TLS needs no file; verified TLS with only a client file trusts
    // the system's roots.
    assert!(none(false).connector().unwrap().is_some());
    let only_cert = TlsMaterial {
        cert: Some(b"unused without a key".to_vec()),
        ..none(true)
    };
    assert!(only_cert.connector().unwrap().is_some());
}

#[test]
fn der_sequences_are_unwrapped() {
    assert_eq!(der_sequence_contents(&[0x30, 2, 1, 2]), Some(&[1u8, 2][..]));
    let mut long = vec![0x30, 0x81, 200];
    long.extend([7u8; 200]);
    assert_eq!(der_sequence_contents(&long), Some(&[7u8; 200][..]));
    assert_eq!(der_sequence_contents(&[0x31, 1, 0]), None);
    assert_eq!(der_sequence_contents(&[0x30, 3, 1]), None);
}

#[test]
fn failures_are_worded_as_go() {
    let unknown = TlsFailure::Protocol(rustls::Error::InvalidCertificate(
        CertificateError::UnknownIssuer,
    ));
    assert_eq!(
        unknown.to_string(),
        "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    );
    let alert = TlsFailure::Protocol(rustls::Error::AlertReceived(
        AlertDescription::CertificateRequired,
    ));
    assert_eq!(alert.to_string(), "remote error: tls: certificate required");
    let http = TlsFailure::of_handshake(
        io::Error::new(io::ErrorKind::InvalidData, "x"),
        b"HTTP/1.1 400",
    );
    assert_eq!(
        http.to_string(),
        "http: server gave HTTP response to HTTPS client"
    );
    let wrapped = io::Error::new(
        io::ErrorKind::InvalidData,
        rustls::Error::AlertReceived(AlertDescription::BadCertificate),
    );
    assert_eq!(
        TlsFailure::find_in(&wrapped).unwrap().to_string(),
        "remote error: tls: bad certificate"
    );
    let ip = ServerName::try_from("127.0.0.1").unwrap();
    assert_eq!(
        name_mismatch(&ip, &["DnsName(\"a\")".into()]),
        "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"
    );
    assert_eq!(
        name_mismatch(&ip, &["IpAddress(10.0.0.1)".into()]),
        "x509: certificate is valid for 10.0.0.1, not 127.0.0.1"
    );
    let dns = ServerName::try_from("example.com").unwrap();
    assert_eq!(
        name_mismatch(
            &dns,
            &["DnsName(\"a.test\")".into(), "DnsName(\"b.test\")".into()]
        ),
        "x509: certificate is valid for a.test, b.test, not example.com"
    );
}
