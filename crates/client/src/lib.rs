//! A client of the Docker Engine API (the berth daemon's, or dockerd's) over a unix
//! socket or TCP, with TLS as the docker CLI does it ([`tls`]).
//!
//! Lifecycle: [`Client::new`] takes the daemon's [`Host`]; the first request negotiates
//! the API version (`HEAD /_ping`, whose `Api-Version` header caps ours) unless one was
//! fixed with [`Client::with_version`] (docker's `DOCKER_API_VERSION`). Every path is
//! then sent as `/v<version><path>`. A request is built with [`Client::request`] and
//! sent with [`RequestBuilder::send`] (the response, status checked: an error status
//! becomes [`Error::Daemon`] with the daemon's message), [`RequestBuilder::json`] (the
//! body decoded) or [`RequestBuilder::hijack`] (the raw duplex stream of attach and
//! exec start). Typed calls for the endpoints live in [`api`].
//!
//! With [`Client::with_tls`] every TCP connection is TLS; a TLS failure is
//! [`Error::Tls`], and a daemon that does not answer in HTTP (TLS asked for without
//! TLS) [`Error::Malformed`], both worded as the docker CLI prints them.
//!
//! The client needs a tokio runtime (a current-thread one is enough): each connection is
//! driven by a spawned task.
//!
//! Streams: [`stream::JsonStream`] reads newline-delimited or concatenated JSON objects
//! (events, stats, progress messages) and [`stream::demux`] splits the multiplexed
//! stdout/stderr stream of a container without a TTY.

pub mod api;
mod error;
mod host;
pub mod stream;
pub mod tls;
mod transport;

use std::io;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use crate::tls::TlsFailure;
use crate::transport::{Head, OpenError};

pub use berth_api_types as types;
pub use error::Error;
pub use host::{DEFAULT_TCP_PORT, DEFAULT_TLS_PORT, DEFAULT_UNIX_SOCKET, Host, HostError};
pub use tls::{TlsConnector, TlsError, TlsMaterial, TlsOptions};
pub use transport::Body;

/// The newest API version this client speaks (the one the daemon serves).
pub const CLIENT_API_VERSION: &str = berth_api_types::error::API_VERSION;

/// The version a daemon that sends no `Api-Version` header speaks (docker's fallback).
pub const FALLBACK_API_VERSION: &str = "1.24";

/// The raw duplex stream of a hijacked connection.
pub type Hijacked = TokioIo<hyper::upgrade::Upgraded>;

/// A connection to one daemon.
pub struct Client {
    host: Host,
    /// TLS for TCP connections, when asked for.
    tls: Option<TlsConnector>,
    user_agent: String,
    /// Fixed by the caller, or negotiated on first use.
    version: OnceCell<String>,
    /// What `/_ping` said, when it was asked.
    ping: OnceCell<Ping>,
}

/// What the daemon says on `/_ping`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ping {
    /// The `Api-Version` header, if any.
    pub api_version: Option<String>,
    /// The `OSType` header (`linux`).
    pub os_type: Option<String>,
    /// The `Docker-Experimental` header.
    pub experimental: bool,
}

impl Client {
    /// A client of the daemon at `host`; nothing is connected yet.
    pub fn new(host: Host) -> Client {
        Client {
            host,
            tls: None,
            user_agent: format!("berth/{} (linux)", env!("CARGO_PKG_VERSION")),
            version: OnceCell::new(),
            ping: OnceCell::new(),
        }
    }

    /// Fixes the API version (no negotiation), as `DOCKER_API_VERSION` does.
    pub fn with_version(self, version: impl Into<String>) -> Client {
        let version = version.into();
        let cell = OnceCell::new_with(Some(version));
        Client {
            version: cell,
            ..self
        }
    }

    /// Speaks TLS made by `tls` on every TCP connection (unix sockets stay plain, as
    /// with the docker CLI).
    pub fn with_tls(self, tls: TlsConnector) -> Client {
        Client {
            tls: Some(tls),
            ..self
        }
    }

    /// The daemon's address.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The API version in use, negotiating it first if needed.
    pub async fn api_version(&self) -> Result<&str, Error> {
        let negotiated = self
            .version
            .get_or_try_init(|| async {
                let ping = self.ping().await?;
                Ok::<String, Error>(negotiate(ping.api_version.as_deref()))
            })
            .await;
        match negotiated {
            Ok(v) => Ok(v.as_str()),
            // The docker CLI goes on with its own version when the ping fails; the
            // request then fails the same way, and the message names its URL.
            Err(Error::Tls { .. } | Error::Malformed { .. }) => Ok(CLIENT_API_VERSION),
            Err(e) => Err(e),
        }
    }

    /// The version in use if already known (fixed or negotiated), without a request.
    pub fn known_api_version(&self) -> Option<&str> {
        self.version.get().map(String::as_str)
    }

    /// `HEAD /_ping` (then `GET /_ping` should HEAD be refused), once per client.
    pub async fn ping(&self) -> Result<&Ping, Error> {
        self.ping
            .get_or_try_init(|| async {
                let mut resp = self.raw(Method::HEAD, "/_ping", None).await?;
                if !resp.status().is_success() && resp.status() != StatusCode::SWITCHING_PROTOCOLS {
                    resp = self.raw(Method::GET, "/_ping", None).await?;
                    if resp.status().is_server_error() {
                        return Err(daemon_error(resp, "/_ping").await);
                    }
                }
                let h = resp.headers();
                let text = |name: &str| {
                    h.get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                Ok(Ping {
                    api_version: text("api-version"),
                    os_type: text("ostype"),
                    experimental: text("docker-experimental").as_deref() == Some("true"),
                })
            })
            .await
    }

    /// Starts a request of `method` on `path` (without version prefix).
    pub fn request(&self, method: Method, path: impl Into<String>) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            method,
            path: path.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// A GET request.
    pub fn get(&self, path: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::GET, path)
    }

    /// A POST request.
    pub fn post(&self, path: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::POST, path)
    }

    /// A DELETE request.
    pub fn delete(&self, path: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::DELETE, path)
    }

    /// Sends an unversioned request on a new connection, status unchecked.
    async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
    ) -> Result<http::Response<Incoming>, Error> {
        let req = self.build(method, path, &HeaderMap::new(), body)?;
        self.send_built(req, path).await
    }

    fn build(
        &self,
        method: Method,
        uri: &str,
        headers: &HeaderMap,
        body: Option<Body>,
    ) -> Result<http::Request<Body>, Error> {
        let host_header = match &self.host {
            // What docker sends over a socket: the name means nothing, but HTTP/1.1
            // requires one.
            Host::Unix(_) => "api.moby.localhost",
            Host::Tcp(addr) => addr.as_str(),
        };
        let mut b = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::HOST, host_header)
            .header(http::header::USER_AGENT, self.user_agent.as_str());
        for (k, v) in headers {
            b = b.header(k, v);
        }
        let body = body.unwrap_or_else(empty_body);
        b.body(body).map_err(|source| Error::Request {
            path: uri.to_string(),
            source,
        })
    }

    async fn send_built(
        &self,
        req: http::Request<Body>,
        path: &str,
    ) -> Result<http::Response<Incoming>, Error> {
        let method = req.method().to_string();
        // What a TLS failure names: the request as Go's `*url.Error` prints it.
        let go_request = (go_method(req.method()), self.url(req.uri()));
        let tls_error = |(method, url): (String, String), source| Error::Tls {
            method,
            url,
            source,
        };
        let head = Head::default();
        let mut sender = match transport::open(&self.host, self.tls.as_ref(), &head).await {
            Ok(s) => s,
            Err(OpenError::Connect(source)) => {
                return Err(Error::Connect {
                    host: self.host.to_string(),
                    source,
                });
            }
            Err(OpenError::Tls(failure)) => return Err(tls_error(go_request, failure)),
            Err(OpenError::Http(source)) => {
                return Err(Error::Http {
                    method: "CONNECT".to_string(),
                    path: self.host.to_string(),
                    source,
                });
            }
        };
        let over_tls = self.tls.is_some();
        sender.send_request(req).await.map_err(|source| {
            if over_tls {
                if let Some(failure) = TlsFailure::find_in(&source) {
                    return tls_error(go_request, failure);
                }
            } else if let Some(line) = head.malformed_line() {
                let (method, url) = go_request;
                return Error::Malformed { method, url, line };
            }
            Error::Http {
                method,
                path: path.to_string(),
                source,
            }
        })
    }

    /// The URL of a request as Go prints it (`https://127.0.0.1:2376/v1.41/version`).
    fn url(&self, uri: &http::Uri) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match &self.host {
            Host::Tcp(addr) => format!("{scheme}://{addr}{uri}"),
            Host::Unix(_) => format!("http://api.moby.localhost{uri}"),
        }
    }
}

/// A method as Go's `*url.Error` spells it (`Get`, `Post`, `Head`).
fn go_method(m: &Method) -> String {
    let s = m.as_str();
    let mut out = s.get(..1).unwrap_or("").to_string();
    out.push_str(&s.get(1..).unwrap_or("").to_ascii_lowercase());
    out
}

/// Docker's negotiation: the daemon's version when it is older than ours, the fallback
/// when it says nothing.
fn negotiate(daemon: Option<&str>) -> String {
    match daemon {
        None | Some("") => FALLBACK_API_VERSION.to_string(),
        Some(v) => {
            if berth_api_types::error::compare_versions(v, CLIENT_API_VERSION).is_lt() {
                v.to_string()
            } else {
                CLIENT_API_VERSION.to_string()
            }
        }
    }
}

/// An empty request body.
pub fn empty_body() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request body of `bytes`.
pub fn full_body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request in the making (see [`Client::request`]).
pub struct RequestBuilder<'c> {
    client: &'c Client,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Option<Body>,
}

impl RequestBuilder<'_> {
    /// Adds a query parameter.
    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds a query parameter when `value` is `Some`.
    pub fn query_opt(self, key: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// Adds `key=1` when `flag` is set (docker's boolean parameters).
    pub fn flag(self, key: &str, flag: bool) -> Self {
        if flag { self.query(key, "1") } else { self }
    }

    /// Adds a header; a value that is not a valid header value is dropped at send.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    /// Sets a JSON body (and its content type).
    pub fn json_body<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(value).map_err(|source| Error::Encode {
            path: self.path.clone(),
            source,
        })?;
        self.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.body = Some(full_body(bytes));
        Ok(self)
    }

    /// Sets a raw body with `content_type`.
    pub fn body(mut self, content_type: &'static str, body: Body) -> Self {
        self.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        self.body = Some(body);
        self
    }

    async fn uri(&self) -> Result<String, Error> {
        let version = self.client.api_version().await?;
        let mut uri = format!("/v{version}{}", self.path);
        if !self.query.is_empty() {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &self.query {
                ser.append_pair(k, v);
            }
            uri.push('?');
            uri.push_str(&ser.finish());
        }
        Ok(uri)
    }

    /// Sends the request; an error status becomes [`Error::Daemon`].
    pub async fn send(self) -> Result<http::Response<Incoming>, Error> {
        let path = self.path.clone();
        let resp = self.send_unchecked().await?;
        if resp.status().is_client_error() || resp.status().is_server_error() {
            return Err(daemon_error(resp, &path).await);
        }
        Ok(resp)
    }

    /// Sends the request and returns the response whatever its status.
    pub async fn send_unchecked(self) -> Result<http::Response<Incoming>, Error> {
        let uri = self.uri().await?;
        let req = self
            .client
            .build(self.method, &uri, &self.headers, self.body)?;
        self.client.send_built(req, &self.path).await
    }

    /// Sends the request and decodes the JSON body.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let path = self.path.clone();
        let resp = self.send().await?;
        let bytes = read_body(resp, &path).await?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Decode { path, source })
    }

    /// Sends the request and reads the whole body.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let path = self.path.clone();
        let resp = self.send().await?;
        read_body(resp, &path).await
    }

    /// Sends the request and drops the body (for 204 answers).
    pub async fn discard(self) -> Result<(), Error> {
        self.bytes().await.map(drop)
    }

    /// Sends the request with `Connection: Upgrade` / `Upgrade: tcp` and takes over the
    /// connection after `101`. The result reads the container's output and writes its
    /// stdin; shutting its write side down half-closes the connection.
    pub async fn hijack(mut self) -> Result<Hijacked, Error> {
        self.headers.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        );
        self.headers
            .insert(http::header::UPGRADE, HeaderValue::from_static("tcp"));
        let path = self.path.clone();
        let resp = self.send_unchecked().await?;
        let status = resp.status();
        if status != StatusCode::SWITCHING_PROTOCOLS {
            if status.is_client_error() || status.is_server_error() {
                return Err(daemon_error(resp, &path).await);
            }
            return Err(Error::NoUpgrade {
                path,
                status: status.as_u16(),
            });
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .map_err(|source| Error::Upgrade { path, source })?;
        Ok(TokioIo::new(upgraded))
    }
}

/// Reads a whole response body.
pub async fn read_body(resp: http::Response<Incoming>, path: &str) -> Result<Bytes, Error> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|source| Error::Body {
            path: path.to_string(),
            source,
        })
}

/// The [`Error::Daemon`] of an error response, with docker's reading of the body: the
/// `message` of a JSON body, else the text, else a note that the route is unknown.
async fn daemon_error(resp: http::Response<Incoming>, path: &str) -> Error {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let body = read_body(resp, path).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let message = if is_json || text.trim_start().starts_with('{') {
        match serde_json::from_slice::<berth_api_types::error::ErrorResponse>(&body) {
            Ok(e) => e.message,
            Err(_) => text.trim().to_string(),
        }
    } else if text.trim().is_empty() {
        format!(
            "request returned {} for API route and version {path}, check if the server supports the requested API version",
            status_text(status)
        )
    } else {
        text.trim().to_string()
    };
    Error::Daemon {
        status: status.as_u16(),
        message: message.trim_end().to_string(),
    }
}

/// `404 Not Found` as Go prints a status.
fn status_text(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

/// An I/O error with the operation named.
pub(crate) fn io_err(op: &'static str) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io { op, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_docker() {
        assert_eq!(negotiate(None), "1.24");
        assert_eq!(negotiate(Some("")), "1.24");
        assert_eq!(negotiate(Some("1.40")), "1.40");
        assert_eq!(negotiate(Some("1.41")), "1.41");
        assert_eq!(negotiate(Some("1.50")), CLIENT_API_VERSION);
    }

    #[test]
    fn methods_are_spelled_as_go() {
        assert_eq!(go_method(&Method::GET), "Get");
        assert_eq!(go_method(&Method::DELETE), "Delete");
    }
}
