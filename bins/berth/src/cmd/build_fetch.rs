//! A plain HTTP GET for remote build contexts (and the smart-server probe of a git
//! remote), with Go's `http.Get` behaviour where it shows: redirects followed, up
//! to ten.

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
        match uri.scheme_str() {
            Some("http") => {}
            Some(s) => {
                return Err(format!(
                    "Get \"{url}\": unsupported protocol scheme \"{s}\" (berth fetches remote contexts over http only)"
                ));
            }
            None => return Err(format!("Get \"{url}\": unsupported protocol scheme \"\"")),
        }
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16().unwrap_or(80);
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let get_err = |e: String| format!("Get \"{url}\": {e}");
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| get_err(format!("dial tcp {addr}: {e}")))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| get_err(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
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
