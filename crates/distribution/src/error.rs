//! The client's errors, and the registry's own error documents (OCI
//! distribution spec, "Error Codes": `{"errors":[{"code","message","detail"}]}`).
//!
//! Messages follow Docker's client where users see them: a registry error
//! reads `<code in lowercase words>: <message>` (`manifest unknown: manifest
//! unknown`), a transport failure `<Method> "<url>": <cause>`.

use std::fmt;
use std::path::PathBuf;

use berth_content::Digest;
use serde::Deserialize;

/// One entry of a registry's error document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RegistryError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = if self.code.is_empty() {
            "unknown".to_owned()
        } else {
            self.code.to_lowercase().replace('_', " ")
        };
        write!(f, "{code}: {}", self.message)
    }
}

#[derive(Deserialize)]
struct ErrorDocument {
    #[serde(default)]
    errors: Vec<RegistryError>,
}

/// The registry errors in a response body; empty when it holds none.
pub(crate) fn parse_errors(body: &[u8]) -> Vec<RegistryError> {
    serde_json::from_slice::<ErrorDocument>(body)
        .map(|d| d.errors)
        .unwrap_or_default()
}

/// The innermost cause of an error chain, as the user-facing reason
/// (reqwest wraps "connection refused" in two layers of context).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Errors of registry operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request did not get an HTTP answer (connect, TLS, reset).
    #[error("{method} \"{url}\": {}", root_cause(.source))]
    Transport {
        method: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with an error document.
    #[error("{}", .errors.first().map(ToString::to_string).unwrap_or_default())]
    Registry {
        method: &'static str,
        url: String,
        status: u16,
        errors: Vec<RegistryError>,
    },
    /// The registry answered with a status the operation does not expect,
    /// and no error document.
    #[error("received unexpected HTTP status: {status} {}", reason(*status))]
    Status {
        method: &'static str,
        url: String,
        status: u16,
    },
    /// Credentials are needed and none were given (Docker's wording).
    #[error("{method} \"{url}\": no basic auth credentials")]
    NoCredentials { method: &'static str, url: String },
    /// The token endpoint refused or failed (`status` 0: no answer) while
    /// authorizing a request to `url`.
    #[error("{method} \"{url}\": {reason}")]
    Token {
        method: &'static str,
        url: String,
        status: u16,
        reason: String,
    },
    /// `GET /v2/` with the credentials was not answered 200 (Docker's
    /// wording).
    #[error("login attempt to {url} failed with status: {status} {}", reason(*status))]
    Login { url: String, status: u16 },
    #[error("token endpoint {realm}: answer carries no token")]
    EmptyToken { realm: String },
    #[error("bearer challenge from {host} has no realm")]
    NoRealm { host: String },
    #[error("ping {url}: not a registry (HTTP {status})")]
    NotRegistry { url: String, status: u16 },
    #[error("{what} {digest}: digest mismatch, got {actual}")]
    DigestMismatch {
        what: &'static str,
        digest: String,
        actual: Digest,
    },
    #[error("{what} {digest}: {size} bytes, expected {expected}")]
    SizeMismatch {
        what: &'static str,
        digest: Digest,
        size: u64,
        expected: u64,
    },
    /// A blob's answer ended before its size (the connection was cut).
    #[error("blob {digest}: the answer ended at byte {at} of {expected}")]
    Truncated {
        digest: Digest,
        at: u64,
        expected: u64,
    },
    #[error("{what}: larger than {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error("parse {what}: {source}")]
    Parse {
        what: String,
        #[source]
        source: berth_image::manifest::ManifestError,
    },
    #[error("{0}")]
    Platform(#[source] berth_image::manifest::ManifestError),
    #[error("upload to {url}: no Location in the answer")]
    NoLocation { url: String },
    #[error("upload location {location:?}: {reason}")]
    BadLocation { location: String, reason: String },
    #[error("blob {digest}: the registry resent bytes from {got}, expected {want}")]
    BadRange { digest: Digest, got: u64, want: u64 },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("decode tag list from {url}: {source}")]
    TagList {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("tag list of {url}: more than 10000 pages")]
    TagListEndless { url: String },
    #[error("build http client: {0}")]
    Build(#[source] reqwest::Error),
    #[error("registry url {0:?}: invalid")]
    Url(String),
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

impl Error {
    /// The first registry error code (`MANIFEST_UNKNOWN`, `DENIED`, …), if
    /// the registry sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Registry { errors, .. } => errors.first().map(|e| e.code.as_str()),
            _ => None,
        }
    }

    /// The first registry error, if any.
    pub fn registry_error(&self) -> Option<&RegistryError> {
        match self {
            Error::Registry { errors, .. } => errors.first(),
            _ => None,
        }
    }

    /// The HTTP status the registry answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Registry { status, .. }
            | Error::Status { status, .. }
            | Error::Token { status, .. }
            | Error::NotRegistry { status, .. }
            | Error::Login { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the registry refused the credentials (HTTP 401, or an
    /// UNAUTHORIZED error). Missing credentials for a Basic challenge are
    /// not: dockerd reports those as a plain failure, so clients do not
    /// prompt for a login.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401) || self.code() == Some("UNAUTHORIZED")
    }

    /// Whether trying again may help: the connection failed or dropped
    /// (before or during an answer), or the registry is overloaded or
    /// failing (5xx, 429). Refusals (4xx),
    /// bad content and local failures are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { source, .. } => !source.is_builder(),
            Error::Registry { status, .. } | Error::Status { status, .. } => {
                *status >= 500 || *status == 429 || *status == 408
            }
            Error::Token { status, .. } => *status >= 500 || *status == 0,
            Error::Truncated { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_read_like_dockers() {
        let errs = parse_errors(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"tag":"x"}},{"code":"DENIED","message":"no"}]}"#,
        );
        assert_eq!(errs.len(), 2);
        let e = Error::Registry {
            method: "GET",
            url: "u".into(),
            status: 404,
            errors: errs,
        };
        assert_eq!(e.to_string(), "manifest unknown: manifest unknown");
        assert_eq!(e.code(), Some("MANIFEST_UNKNOWN"));
        assert!(!e.is_retryable());
        assert!(parse_errors(b"<html>").is_empty());
        let e = Error::Status {
            method: "GET",
            url: "u".into(),
            status: 503,
        };
        assert_eq!(
            e.to_string(),
            "received unexpected HTTP status: 503 Service Unavailable"
        );
        assert!(e.is_retryable());
        let e = Error::Registry {
            method: "GET",
            url: "u".into(),
            status: 401,
            errors: vec![RegistryError {
                code: "UNAUTHORIZED".into(),
                message: "authentication required".into(),
                detail: serde_json::Value::Null,
            }],
        };
        assert!(e.is_unauthorized());
        assert_eq!(e.to_string(), "unauthorized: authentication required");
    }
}
