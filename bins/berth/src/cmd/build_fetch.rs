//! An HTTP(S) GET for remote build contexts (and the smart-server probe of a git
//! remote), with Go's `http.Get` behaviour where it shows: redirects followed, up
//! to ten; https verified against the system's trusted certificates (including
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`, which Go's crypto/x509 honours too).

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

/// What a GET brought back.
pub struct Response {
    pub status: u16,
    /// Go's `resp.Status`: "404 Not Found".
    pub status_text: String,
    pub content_type: String,
    pub content_length: Option<u64>,
    pub body: Vec<u8>,
}

/// GETs `url`, following redirects.
pub async fn get(url: &str) -> Result<Response, String> {
    let mut url = url.to_string();
    for _ in 0..10 {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("parse \"{url}\": {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(s) => {
                return Err(format!(
                    "Get \"{url}\": unsupported protocol scheme \"{s}\""
                ));
            }
            None => return Err(format!("Get \"{url}\": unsupported protocol scheme \"\"")),
        };
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let get_err = |e: String| format!("Get \"{url}\": {e}");
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| get_err(format!("dial tcp {addr}: {e}")))?;
        let mut sender = if tls {
            let name = rustls::pki_types::ServerName::try_from(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
            )
            .map_err(|e| get_err(e.to_string()))?;
            let stream = tokio_rustls::TlsConnector::from(client_config()?)
                .connect(name, stream)
                .await
                .map_err(|e| get_err(berth_client::tls::go_wording(&e).unwrap_or(e.to_string())))?;
            handshake(stream).await.map_err(get_err)?
        } else {
            handshake(stream).await.map_err(get_err)?
        };
        let path = uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        let authority = uri
            .authority()
            .map_or(host.clone(), |a| a.as_str().to_string());
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, "Go-http-client/1.1")
            .body(Empty::<Bytes>::new())
            .map_err(|e| get_err(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| get_err(e.to_string()))?;
        let status = resp.status();
        if status.is_redirection() {
            if let Some(loc) = resp
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|v| v.to_str().ok())
            {
                url = resolve(&uri, loc);
                continue;
            }
        }
        let header = |name: hyper::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let content_type = header(hyper::header::CONTENT_TYPE);
        let content_length = header(hyper::header::CONTENT_LENGTH).parse().ok();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| get_err(e.to_string()))?
            .to_bytes()
            .to_vec();
        return Ok(Response {
            status: status.as_u16(),
            status_text: format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default()
            ),
            content_type,
            content_length,
            body,
        });
    }
    Err(format!("Get \"{url}\": stopped after 10 redirects"))
}

/// An HTTP/1.1 connection over `io`, driven in the background.
async fn handshake<T>(
    io: T,
) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// TLS with the system's trusted roots (rustls-native-certs reads the same
/// files Go's crypto/x509 does on Linux) and the ring provider.
fn client_config() -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        // A certificate the store cannot take is skipped, as Go skips it.
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// A redirect's `Location` against the URL that answered it.
fn resolve(base: &hyper::Uri, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map_or("", |a| a.as_str());
    if loc.starts_with('/') {
        return format!("{scheme}://{authority}{loc}");
    }
    let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
    format!("{scheme}://{authority}{dir}/{loc}")
}
