//! TLS on the API's TCP sockets (`--tls`, `--tlsverify`, `--tlscacert`,
//! `--tlscert`, `--tlskey`), with rustls.
//!
//! As in dockerd: `--tls` serves TLS with the daemon's certificate;
//! `--tlsverify` also requires a client certificate signed by the CA, which
//! is the mode that makes a TCP socket safe off loopback (anyone who can
//! talk to the API is root on the host).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The TLS settings, resolved from flags and daemon.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Set with `--tlsverify`: clients must present a certificate it signed.
    pub client_ca: Option<PathBuf>,
}

/// Errors of loading the TLS material, worded as dockerd's.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not load X509 key pair (cert: {cert:?}, key: {key:?}): {reason}")]
    KeyPair {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("could not read CA certificate {path:?}: {reason}")]
    Ca { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate found".to_string());
    }
    Ok(certs)
}

/// Builds the acceptor (TLS 1.2 and 1.3; ring as the crypto provider).
pub fn acceptor(s: &TlsSettings) -> Result<TlsAcceptor, TlsError> {
    let pair = |reason: String| TlsError::KeyPair {
        cert: s.cert.clone(),
        key: s.key.clone(),
        reason,
    };
    let chain = certs(&s.cert).map_err(pair)?;
    let key = PrivateKeyDer::from_pem_file(&s.key).map_err(|e| pair(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let builder = match &s.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let ca_err = |reason: String| TlsError::Ca {
                path: ca.clone(),
                reason,
            };
            let mut roots = rustls::RootCertStore::empty();
            for c in certs(ca).map_err(ca_err)? {
                roots.add(c).map_err(|e| ca_err(e.to_string()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| ca_err(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| pair(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
