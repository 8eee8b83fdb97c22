//! The error body of the Engine API and its version negotiation.
//!
//! Every failed request gets a JSON body `{"message": "..."}` ([`ErrorResponse`]); the
//! status code comes from the error's class (decided by the engine). Paths may carry an
//! API version prefix (`/v1.41/containers/json`); a version outside
//! [`MIN_API_VERSION`]..=[`API_VERSION`] is a 400 with dockerd's wording
//! ([`check_api_version`]).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// The API version served (and sent in the `Api-Version` header).
pub const API_VERSION: &str = "1.41";

/// The oldest API version accepted. dockerd 20.10 accepts 1.12 on Linux but answers
/// in the shapes of older versions then; berth only has the 1.41 shapes, so it accepts
/// no older version than the CLI's own fallback (1.24, used when `/_ping` has no
/// `Api-Version` header).
pub const MIN_API_VERSION: &str = "1.24";

/// The body of every error response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorResponse {
    pub message: String,
}

impl ErrorResponse {
    /// An error body with `message`.
    pub fn new(message: impl Into<String>) -> ErrorResponse {
        ErrorResponse {
            message: message.into(),
        }
    }

    /// The body as JSON, with the trailing newline dockerd writes.
    pub fn to_json(&self) -> String {
        // A struct with one string always serializes.
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Splits a request path into its version prefix and the rest:
/// `/v1.41/containers/json` -> `(Some("1.41"), "/containers/json")`. A path without a
/// prefix comes back whole. Like dockerd's router, the version is `[0-9.]+` after `/v`.
pub fn parse_version_prefix(path: &str) -> (Option<&str>, &str) {
    let Some(after) = path.strip_prefix("/v") else {
        return (None, path);
    };
    let end = after
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(after.len());
    let (version, rest) = after.split_at(end);
    if version.is_empty() || !(rest.is_empty() || rest.starts_with('/')) {
        return (None, path);
    }
    (Some(version), rest)
}

/// Compares API versions as dockerd does: dot-separated numbers, a missing or
/// non-numeric part counting as 0 (`1.41` > `1.9`, `1.4` == `1.4.0`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut pa = a.split('.');
    let mut pb = b.split('.');
    loop {
        match (pa.next(), pb.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => {
                let num = |p: Option<&str>| p.and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
                match num(x).cmp(&num(y)) {
                    Ordering::Equal => {}
                    other => return other,
                }
            }
        }
    }
}

/// A requested API version outside the served range (a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error(
        "client version {version} is too old. Minimum supported API version is {min}, please upgrade your client to a newer version"
    )]
    TooOld { version: String, min: &'static str },
    #[error("client version {version} is too new. Maximum supported API version is {max}")]
    TooNew { version: String, max: &'static str },
}

/// Accepts `version` if it is within [`MIN_API_VERSION`]..=[`API_VERSION`].
pub fn check_api_version(version: &str) -> Result<(), VersionError> {
    if compare_versions(version, MIN_API_VERSION) == Ordering::Less {
        return Err(VersionError::TooOld {
            version: version.to_string(),
            min: MIN_API_VERSION,
        });
    }
    if compare_versions(version, API_VERSION) == Ordering::Greater {
        return Err(VersionError::TooNew {
            version: version.to_string(),
            max: API_VERSION,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_version_prefixes() {
        assert_eq!(
            parse_version_prefix("/v1.41/containers/json"),
            (Some("1.41"), "/containers/json")
        );
        assert_eq!(
            parse_version_prefix("/v1.50/_ping"),
            (Some("1.50"), "/_ping")
        );
        assert_eq!(parse_version_prefix("/v1.41"), (Some("1.41"), ""));
        assert_eq!(
            parse_version_prefix("/containers/json"),
            (None, "/containers/json")
        );
        assert_eq!(parse_version_prefix("/volumes/x"), (None, "/volumes/x"));
        assert_eq!(parse_version_prefix("/v/x"), (None, "/v/x"));
        assert_eq!(parse_version_prefix("/v1.41x/y"), (None, "/v1.41x/y"));
    }

    #[test]
    fn compares_like_dockerd() {
        assert_eq!(compare_versions("1.41", "1.9"), Ordering::Greater);
        assert_eq!(compare_versions("1.4", "1.4.0"), Ordering::Equal);
        assert_eq!(compare_versions("1.24", "1.41"), Ordering::Less);
        assert_eq!(compare_versions("2", "1.99"), Ordering::Greater);
    }

    #[test]
    fn version_errors_use_dockerd_wording() {
        check_api_version("1.41").unwrap();
        check_api_version("1.24").unwrap();
        assert_eq!(
            check_api_version("1.50").unwrap_err().to_string(),
            "client version 1.50 is too new. Maximum supported API version is 1.41"
        );
        assert_eq!(
            check_api_version("1.12").unwrap_err().to_string(),
            "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
        );
    }

    #[test]
    fn error_body_is_a_message_object() {
        assert_eq!(
            ErrorResponse::new("No such container: x").to_json(),
            "{\"message\":\"No such container: x\"}\n"
        );
    }
}
