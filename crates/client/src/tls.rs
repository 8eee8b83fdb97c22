//! TLS to the daemon as the docker CLI does it (`--tls`, `--tlsverify`, `--tlscacert`,
//! `--tlscert`, `--tlskey`), with rustls and its ring provider.
//!
//! Lifecycle: [`TlsOptions`] names the files and says whether the daemon's certificate
//! is verified; [`TlsMaterial::read`] reads the files (docker reads them for any host);
//! [`TlsMaterial::connector`] parses them into a [`TlsConnector`], which
//! [`crate::Client::with_tls`] uses for every TCP connection. Unix sockets stay plain, as
//! in the docker CLI, and so does TCP when verification is on but no file was named
//! (docker's endpoint then has no TLS configuration at all).
//!
//! Messages are the docker CLI's, since people and scripts match on them: [`TlsError`]
//! words a loading failure as docker's context code does, and [`TlsFailure`] words a
//! failed connection as Go's crypto/tls and crypto/x509 do.

use std::error::Error as StdError;
use std::io::{self, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{AlertDescription, CertificateError, DigitallySignedStruct, SignatureScheme};

/// Which TLS material to use and how (docker's resolved `--tls*` options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Verify the daemon's certificate against `ca` and the host's name
    /// (`--tlsverify`). Off, any certificate is accepted (`--tls` alone,
    /// `--tlsverify=false`; Go's `InsecureSkipVerify`).
    pub verify: bool,
    /// The CA certificates (PEM) that sign the daemon's certificate; without one the
    /// system's trusted roots are (`--tlscacert ""`; Go's nil `RootCAs`).
    pub ca: Option<PathBuf>,
    /// The client certificate (PEM), sent when `key` is given too.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key: Option<PathBuf>,
}

/// The contents of the files of [`TlsOptions`].
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    verify: bool,
    ca: Option<Vec<u8>>,
    cert: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
}

/// Makes the TLS side of connections to the daemon.
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConnector")
    }
}

/// TLS material that does not load, worded as the docker CLI words it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be opened or read (Go's `*PathError`).
    #[error("{op} {}: {}", path.display(), go_os_error(source))]
    Read {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The CA file holds no certificate that parses (docker names it `ca.pem`
    /// whatever the file is called).
    #[error("failed to retrieve context tls info: ca.pem seems invalid")]
    InvalidCa,
    /// The key file holds no PEM block at all.
    #[error("no valid private key found")]
    NoPrivateKey,
    /// The key is encrypted with a passphrase (RFC 1421 `Proc-Type: 4,ENCRYPTED`).
    #[error(
        "private key is encrypted - support for encrypted private keys has been removed, see https://docs.docker.com/go/deprecated/"
    )]
    EncryptedKey,
    /// The certificate and key do not make a pair (Go's `tls.X509KeyPair` wording).
    #[error("failed to retrieve context tls info: {0}")]
    KeyPair(String),
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// Why a TLS connection failed, worded as Go's crypto/tls (which the docker CLI prints
/// after `error during connect: Get "https://…":`).
#[derive(Debug, thiserror::Error)]
pub enum TlsFailure {
    /// The daemon answered the handshake with plain HTTP: it does not serve TLS.
    #[error("http: server gave HTTP response to HTTPS client")]
    PlainHttp,
    /// The daemon closed the connection during the handshake.
    #[error("EOF")]
    Eof,
    /// The handshake or a later record failed.
    #[error("{}", go_tls_wording(.0))]
    Protocol(#[source] rustls::Error),
    /// The host is not a name a certificate can be checked against.
    #[error("tls: invalid server name {0:?}")]
    ServerName(String),
    /// The socket failed during the handshake.
    #[error("{}", go_os_error(.0))]
    Io(#[source] io::Error),
}

impl TlsMaterial {
    /// Reads the files `o` names, as docker does before anything else: a file that is
    /// named must be readable.
    pub fn read(o: &TlsOptions) -> Result<TlsMaterial, TlsError> {
        let read = |p: &Option<PathBuf>| p.as_deref().map(read_file).transpose();
        Ok(TlsMaterial {
            verify: o.verify,
            ca: read(&o.ca)?,
            cert: read(&o.cert)?,
            key: read(&o.key)?,
        })
    }

    /// Parses the material into a connector: the CA (checked even when not used, as
    /// docker does), then the client pair when both halves are there. `None` when
    /// the certificate is to be verified but no file was named: docker's endpoint has
    /// no TLS configuration then and its client speaks plain HTTP
    /// (cli/context/docker's `tlsConfig`).
    pub fn connector(&self) -> Result<Option<TlsConnector>, TlsError> {
        if self.verify && self.ca.is_none() && self.cert.is_none() && self.key.is_none() {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        if self.verify && self.ca.is_none() {
            // Go verifies against the system's pool when RootCAs is nil; a
            // certificate the store cannot take is skipped, as Go skips it, and a
            // bundle that cannot be read leaves the pool empty (crypto/x509
            // root_unix.go ignores missing files).
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
        if let Some(ca) = &self.ca {
            // Go's AppendCertsFromPEM: blocks that do not parse are skipped; none
            // parsing is the error.
            let certs = CertificateDer::pem_slice_iter(ca).filter_map(Result::ok);
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(TlsError::InvalidCa);
            }
        }
        let client_cert = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let (chain, key) = key_pair(cert, key)?;
                Some(ClientCert::new(chain, key, &provider)?)
            }
            _ => None,
        };
        // TLS 1.2 and 1.3, as Go's client default.
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?;
        let builder = if !self.verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(FixedVerdict {
                    provider,
                    accept: true,
                }))
        } else if roots.is_empty() {
            // webpki wants at least one anchor; with none, Go finds no chain.
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(FixedVerdict {
                    provider,
                    accept: false,
                }))
        } else {
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
            builder.with_webpki_verifier(verifier)
        };
        let config = match client_cert {
            Some(c) => builder.with_client_cert_resolver(Arc::new(c)),
            None => builder.with_no_client_auth(),
        };
        Ok(Some(TlsConnector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }))
    }
}

impl TlsConnector {
    /// The rustls connector.
    pub(crate) fn inner(&self) -> &tokio_rustls::TlsConnector {
        &self.inner
    }
}

/// Reads a whole file, failures worded as Go's `os.ReadFile` (`open x: …`, `read x: …`).
fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    let err = |op, source| TlsError::Read {
        op,
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(|e| err("open", e))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).map_err(|e| err("read", e))?;
    Ok(buf)
}

/// The labels of the PEM blocks of `pem` (`CERTIFICATE`, `RSA PRIVATE KEY`, …) in order.
fn pem_labels(pem: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(pem)
        .lines()
        .filter_map(|l| {
            l.trim_end()
                .strip_prefix("-----BEGIN ")?
                .strip_suffix("-----")
                .map(str::to_string)
        })
        .collect()
}

/// The client pair, with the checks and the wording of docker's context code and of
/// Go's `tls.X509KeyPair`.
fn key_pair(
    cert: &[u8],
    key: &[u8],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let key_labels = pem_labels(key);
    if key_labels.is_empty() {
        return Err(TlsError::NoPrivateKey);
    }
    // RFC 1421 section 4.6.1.1: the header of an encrypted block.
    let first_block = String::from_utf8_lossy(key);
    if first_block
        .split("-----END ")
        .next()
        .is_some_and(|b| b.contains("Proc-Type: 4,ENCRYPTED"))
    {
        return Err(TlsError::EncryptedKey);
    }
    let fail = |s: &str| TlsError::KeyPair(s.to_string());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        let skipped: Vec<String> = pem_labels(cert)
            .into_iter()
            .filter(|l| l != "CERTIFICATE")
            .collect();
        return Err(match skipped.as_slice() {
            [] => fail("tls: failed to find any PEM data in certificate input"),
            [one] if one.ends_with("PRIVATE KEY") => fail(
                "tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched",
            ),
            _ => TlsError::KeyPair(format!(
                "tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of the following types: [{}]",
                skipped.join(" ")
            )),
        });
    }
    let is_key = |l: &String| l == "PRIVATE KEY" || l.ends_with(" PRIVATE KEY");
    if !key_labels.iter().any(is_key) {
        return Err(match key_labels.as_slice() {
            [one] if one == "CERTIFICATE" => {
                fail("tls: found a certificate rather than a key in the PEM for the private key")
            }
            _ => TlsError::KeyPair(format!(
                "tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM blocks of the following types: [{}]",
                key_labels.join(" ")
            )),
        });
    }
    let key =
        PrivateKeyDer::from_pem_slice(key).map_err(|_| fail("tls: failed to parse private key"))?;
    Ok((chain, key))
}

/// Go's words for a client pair rustls refuses.
fn key_pair_wording(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(_) => "tls: private key does not match public key".into(),
        rustls::Error::InvalidCertificate(_) => "x509: malformed certificate".into(),
        _ => "tls: failed to parse private key".into(),
    }
}

/// The client certificate, offered as Go's crypto/tls offers it: when the daemon names
/// no acceptable CAs, or names the issuer of a certificate of the chain (the
/// certificate_authorities of RFC 8446 section 4.2.4, RFC 5246 section 7.4.4);
/// otherwise none is sent and the daemon says what it thinks of that.
#[derive(Debug)]
struct ClientCert {
    key: Arc<CertifiedKey>,
    /// The issuers' names of the chain's certificates (DER, without the outer
    /// SEQUENCE).
    issuers: Vec<Vec<u8>>,
}

impl ClientCert {
    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        provider: &CryptoProvider,
    ) -> Result<ClientCert, TlsError> {
        let issuers = chain
            .iter()
            .filter_map(|c| webpki::EndEntityCert::try_from(c).ok())
            .map(|c| c.issuer().to_vec())
            .collect();
        let key = CertifiedKey::from_der(chain, key, provider)
            .map_err(|e| TlsError::KeyPair(key_pair_wording(&e)))?;
        Ok(ClientCert {
            key: Arc::new(key),
            issuers,
        })
    }
}

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let accepted = root_hint_subjects.is_empty()
            || root_hint_subjects.iter().any(|hint| {
                der_sequence_contents(hint).is_some_and(|dn| self.issuers.iter().any(|i| i == dn))
            });
        accepted.then(|| self.key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The contents of a DER SEQUENCE (X.690 section 8.1: tag 0x30, then a short or long
/// form length) that is all of `der`.
fn der_sequence_contents(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    (rest.len() == len).then_some(rest)
}

/// A verdict on the daemon's certificate that does not depend on it: accepted (Go's
/// `InsecureSkipVerify`) or refused as signed by an unknown authority (an empty trust
/// store). The handshake's signatures are still checked against the certificate
/// (RFC 8446 section 4.4.3), so the peer must hold its key.
#[derive(Debug)]
struct FixedVerdict {
    provider: Arc<CryptoProvider>,
    accept: bool,
}

impl ServerCertVerifier for FixedVerdict {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.accept {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The name the daemon's certificate must carry: the host of `host:port` (an IP
/// address or a DNS name; brackets of an IPv6 address dropped).
pub(crate) fn server_name(addr: &str) -> Result<ServerName<'static>, TlsFailure> {
    let host = match addr.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => addr.rsplit_once(':').map_or(addr, |(h, _)| h),
    };
    ServerName::try_from(host.to_string()).map_err(|_| TlsFailure::ServerName(host.to_string()))
}

impl TlsFailure {
    /// The failure of a handshake that ended with `err`, `head` being the first bytes
    /// the daemon sent. Like Go's net/http, a first record that reads `HTTP/` means
    /// the daemon speaks plain HTTP.
    pub(crate) fn of_handshake(err: io::Error, head: &[u8]) -> TlsFailure {
        if head.starts_with(b"HTTP/") {
            return TlsFailure::PlainHttp;
        }
        if let Some(e) = find_rustls(&err) {
            return TlsFailure::Protocol(e.clone());
        }
        if err.kind() == io::ErrorKind::UnexpectedEof {
            return TlsFailure::Eof;
        }
        TlsFailure::Io(err)
    }

    /// The TLS failure behind an error of a request sent after the handshake (TLS 1.3
    /// servers refuse a client certificate after the client has finished), if any.
    pub(crate) fn find_in(err: &(dyn StdError + 'static)) -> Option<TlsFailure> {
        find_rustls(err).map(|e| TlsFailure::Protocol(e.clone()))
    }
}

/// Go's crypto/tls text for the TLS failure in `err`'s chain (an unknown issuer reads
/// `tls: failed to verify certificate: x509: certificate signed by unknown
/// authority`), `None` when none is there. For other TLS clients of the CLI (remote
/// build contexts over https).
pub fn go_wording(err: &(dyn StdError + 'static)) -> Option<String> {
    find_rustls(err).map(go_tls_wording)
}

/// The rustls error in `err`'s chain. An `io::Error`'s `source()` skips the error it
/// wraps, so wrapped errors are looked into explicitly.
fn find_rustls<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            let inner: &(dyn StdError + 'static) = inner;
            if let Some(r) = find_rustls(inner) {
                return Some(r);
            }
        }
        cur = e.source();
    }
    None
}

/// Go's text of an OS error: the `strerror` text in lower case, without Rust's
/// `(os error N)`.
fn go_os_error(e: &io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(n) => io::Error::from_raw_os_error(n).to_string(),
        None => return e.to_string(),
    };
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Go's crypto/tls words for a failure rustls reports.
fn go_tls_wording(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => {
            format!("tls: failed to verify certificate: {}", x509_wording(c))
        }
        rustls::Error::AlertReceived(a) => format!("remote error: tls: {}", alert_text(*a)),
        other => other.to_string(),
    }
}

/// Go's crypto/x509 words for a certificate that does not verify.
fn x509_wording(c: &CertificateError) -> String {
    let rfc3339 = |t: &UnixTime| {
        i64::try_from(t.as_secs())
            .ok()
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    let expired = "x509: certificate has expired or is not yet valid";
    match c {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            "x509: certificate signed by unknown authority".into()
        }
        CertificateError::ExpiredContext { time, not_after } => format!(
            "{expired}: current time {} is after {}",
            rfc3339(time),
            rfc3339(not_after)
        ),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "{expired}: current time {} is before {}",
            rfc3339(time),
            rfc3339(not_before)
        ),
        CertificateError::Expired | CertificateError::NotValidYet => expired.into(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => name_mismatch(expected, presented),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "x509: certificate specifies an incompatible key usage".into()
        }
        CertificateError::BadEncoding => "x509: malformed certificate".into(),
        other => format!("x509: {}", rustls::Error::InvalidCertificate(other.clone())),
    }
}

/// Go's `x509.HostnameError` text. webpki presents the names as `DnsName("a")` and
/// `IpAddress(1.2.3.4)`.
fn name_mismatch(expected: &ServerName<'_>, presented: &[String]) -> String {
    let inner = |s: &str, kind: &str| {
        s.strip_prefix(kind)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
            .map(|r| r.trim_matches('"').to_string())
    };
    let (host, valid) = match expected {
        ServerName::IpAddress(ip) => {
            let host = IpAddr::from(*ip).to_string();
            let ips: Vec<String> = presented
                .iter()
                .filter_map(|s| inner(s, "IpAddress"))
                .map(|s| s.parse::<IpAddr>().map_or(s, |ip| ip.to_string()))
                .collect();
            if ips.is_empty() {
                return format!(
                    "x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
                );
            }
            (host, ips)
        }
        other => (
            other.to_str().into_owned(),
            presented
                .iter()
                .filter_map(|s| inner(s, "DnsName"))
                .collect(),
        ),
    };
    if valid.is_empty() {
        return format!("x509: certificate is not valid for any names, but wanted to match {host}");
    }
    format!(
        "x509: certificate is valid for {}, not {host}",
        valid.join(", ")
    )
}

/// Go's crypto/tls names of alerts (`remote error: tls: <name>`).
fn alert_text(a: AlertDescription) -> String {
    use AlertDescription as A;
    let s = match a {
        A::CloseNotify => "close notify",
        A::UnexpectedMessage => "unexpected message",
        A::BadRecordMac => "bad record MAC",
        A::DecryptionFailed => "decryption failed",
        A::RecordOverflow => "record overflow",
        A::DecompressionFailure => "decompression failure",
        A::HandshakeFailure => "handshake failure",
        A::BadCertificate => "bad certificate",
        A::UnsupportedCertificate => "unsupported certificate",
        A::CertificateRevoked => "revoked certificate",
        A::CertificateExpired => "expired certificate",
        A::CertificateUnknown => "unknown certificate",
        A::IllegalParameter => "illegal parameter",
        A::UnknownCA => "unknown certificate authority",
        A::AccessDenied => "access denied",
        A::DecodeError => "error decoding message",
        A::DecryptError => "error decrypting message",
        A::ExportRestriction => "export restriction",
        A::ProtocolVersion => "protocol version not supported",
        A::InsufficientSecurity => "insufficient security level",
        A::InternalError => "internal error",
        A::InappropriateFallback => "inappropriate fallback",
        A::UserCanceled => "user canceled",
        A::NoRenegotiation => "no renegotiation",
        A::MissingExtension => "missing extension",
        A::UnsupportedExtension => "unsupported extension",
        A::CertificateUnobtainable => "certificate unobtainable",
        A::UnrecognisedName => "unrecognized name",
        A::BadCertificateStatusResponse => "bad certificate status response",
        A::BadCertificateHashValue => "bad certificate hash value",
        A::UnknownPSKIdentity => "unknown PSK identity",
        A::CertificateRequired => "certificate required",
        A::NoApplicationProtocol => "no application protocol",
        A::EncryptedClientHelloRequired => "encrypted client hello required",
        // Go prints the number of an alert it has no name for.
        other => return format!("alert({})", u8::from(other)),
    };
    s.to_string()
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
