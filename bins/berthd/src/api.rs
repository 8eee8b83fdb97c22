//! The Engine API's conventions shared by every handler: the version
//! constants, the headers every response carries, error responses
//! (`{"message": ...}` with docker's status codes) and request bodies.

use std::fmt::Display;

use berth_engine::ErrorKind;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Serialize;
use serde::de::DeserializeOwned;

use berth_api_types::error::ErrorResponse;

use crate::body::Body;

pub use berth_api_types::error::{API_VERSION, MIN_API_VERSION};
macro_rules! engine_version {
    () => {
        "20.10.24-berth"
    };
}
/// The Docker Engine release whose API berthd speaks, reported as the
/// engine version with berth's name attached, so clients that compare
/// engine versions see 20.10.24.
pub const ENGINE_VERSION: &str = engine_version!();
/// `Server` header: docker's shape (`Docker/<version> (<os>)`), which
/// clients match on the `Docker/` prefix.
pub const SERVER_HEADER: &str = concat!("Docker/", engine_version!(), " (linux)");
/// The largest JSON request body read into memory.
pub const JSON_BODY_LIMIT: usize = 10 << 20;

pub type Resp = Response<Body>;

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    pub fn not_implemented() -> ApiError {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, "not implemented")
    }
    /// An engine error of class `kind`.
    pub fn from_kind(kind: ErrorKind, message: impl Display) -> ApiError {
        let status =
            StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, message.to_string())
    }

    /// The response: JSON `{"message": ...}`, except for 304, which has no
    /// body (dockerd sends none, and HTTP forbids one).
    pub fn into_response(self) -> Resp {
        if self.status == StatusCode::NOT_MODIFIED {
            return status_only(StatusCode::NOT_MODIFIED);
        }
        json(self.status, &ErrorResponse::new(self.message))
    }
}

/// Errors of the engine's services: each tells its class.
pub trait EngineError: Display {
    fn kind(&self) -> ErrorKind;
}

impl<E: EngineError> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        ApiError::from_kind(e.kind(), &e)
    }
}

/// The headers every response carries (dockerd's version middleware).
pub fn add_common_headers(h: &mut HeaderMap) {
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert(
        http::header::SERVER,
        HeaderValue::from_static(SERVER_HEADER),
    );
}

/// A JSON response; Go's encoder ends the document with a newline.
pub fn json(status: StatusCode, v: &impl Serialize) -> Resp {
    let mut body = match serde_json::to_vec(v) {
        Ok(b) => b,
        Err(e) => {
            // Only non-string map keys can fail here; that is our bug.
            return ApiError::internal(format!("encode response: {e}")).into_response();
        }
    };
    body.push(b'\n');
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub fn ok_json(v: &impl Serialize) -> Resp {
    json(StatusCode::OK, v)
}

pub fn status_only(status: StatusCode) -> Resp {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// A plain-text response (`/_ping`'s `OK`).
pub fn text(status: StatusCode, s: &'static str) -> Resp {
    let mut r = Response::new(Body::full(Bytes::from_static(s.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// dockerd's CheckForJSON: a body with a Content-Type must say JSON.
pub fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.is_empty() || mime.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "Content-Type specified ({ct}) must be 'application/json'"
    )))
}

/// Reads a whole request body of at most `limit` bytes.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is too large (the limit is {limit} bytes)"),
        )),
        Err(e) => Err(ApiError::bad_request(format!("read request body: {e}"))),
    }
}

/// Reads and drops up to `limit` bytes of a body its handler did not need,
/// so that a client still sending it (an upload refused at once) reads the
/// answer instead of failing its write with a broken pipe. Go's net/http
/// server, dockerd's, does the same for up to 256 KiB after a handler
/// returns. A read error ends it quietly: the answer goes out either way.
pub async fn discard_body(mut body: Incoming, limit: usize) {
    let mut seen = 0;
    while seen <= limit {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
            _ => break,
        }
    }
}

/// Decodes a JSON request body; `None` when the body is empty.
pub fn parse_json_opt<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => {
            de.end()
                .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
            Ok(Some(v))
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Err(ApiError::bad_request(
                if path == "." || inner.is_syntax() || inner.is_eof() {
                    format!("invalid JSON: {inner}")
                } else {
                    format!("invalid JSON: {path}: {inner}")
                },
            ))
        }
    }
}

/// Reads and decodes a JSON request body (empty is `None`).
pub async fn read_json_opt<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Incoming,
) -> Result<Option<T>, ApiError> {
    check_json_content_type(headers)?;
    let bytes = read_body(body, JSON_BODY_LIMIT).await?;
    parse_json_opt(&bytes)
}

/// Checks the version a request's `/vX.Y` prefix asks for against the
/// range berthd serves (dockerd's messages).
pub fn check_version(v: &str) -> Result<(), ApiError> {
    berth_api_types::error::check_api_version(v).map_err(|e| ApiError::bad_request(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_range_messages_are_dockerds() {
        assert!(check_version("1.41").is_ok());
        assert!(check_version("1.24").is_ok());
        assert_eq!(
            check_version("1.50").unwrap_err().message,
            "client version 1.50 is too new. Maximum supported API version is 1.41"
        );
        assert!(
            check_version("1.23")
                .unwrap_err()
                .message
                .contains("is too old")
        );
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct T {
        #[serde(rename = "A")]
        a: u32,
    }

    #[test]
    fn json_errors_are_400_with_a_reason() {
        assert!(parse_json_opt::<T>(b"  ").unwrap().is_none());
        assert_eq!(parse_json_opt::<T>(br#"{"A":1}"#).unwrap().unwrap().a, 1);
        let e = parse_json_opt::<T>(b"{nope").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.starts_with("invalid JSON: "), "{}", e.message);
        let e = parse_json_opt::<T>(br#"{"A":"x"}"#).unwrap_err();
        assert!(e.message.contains("A: invalid type"), "{}", e.message);
        let e = parse_json_opt::<T>(br#"{"A":1} trailing"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn not_modified_has_no_body() {
        let r = ApiError::new(StatusCode::NOT_MODIFIED, "x").into_response();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(matches!(r.body(), Body::Full(None)));
    }

    #[test]
    fn content_type_must_be_json_when_given() {
        let mut h = HeaderMap::new();
        assert!(check_json_content_type(&h).is_ok());
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(check_json_content_type(&h).is_ok());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(check_json_content_type(&h).is_err());
    }
}
