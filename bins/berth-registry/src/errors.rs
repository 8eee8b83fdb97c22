//! Errors as the distribution spec puts them on the wire:
//! `{"errors":[{"code","message","detail"}]}` with the status each code
//! implies (spec section "Error Codes"; the statuses are those of Docker's
//! registry, which clients are written against).

use http::{HeaderName, HeaderValue, Response, StatusCode};
use serde::Serialize;

use crate::body::{self, Body};

/// The spec's error codes, plus Docker's registry's RANGE_INVALID,
/// PAGINATION_NUMBER_INVALID and UNKNOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    RangeInvalid,
    PaginationNumberInvalid,
    Unknown,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::RangeInvalid => "RANGE_INVALID",
            Code::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            Code::Unknown => "UNKNOWN",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::PaginationNumberInvalid
            | Code::SizeInvalid => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The default message, as Docker's registry words it.
    pub fn message(self) -> &'static str {
        match self {
            Code::BlobUnknown | Code::ManifestBlobUnknown => "blob unknown to registry",
            Code::BlobUploadInvalid => "blob upload invalid",
            Code::BlobUploadUnknown => "blob upload unknown to registry",
            Code::DigestInvalid => "provided digest did not match uploaded content",
            Code::ManifestInvalid => "manifest invalid",
            Code::ManifestUnknown => "manifest unknown",
            Code::NameInvalid => "invalid repository name",
            Code::NameUnknown => "repository name not known to registry",
            Code::SizeInvalid => "provided length did not match content length",
            Code::Unauthorized => "authentication required",
            Code::Denied => "requested access to the resource is denied",
            Code::Unsupported => "The operation is unsupported.",
            Code::RangeInvalid => "invalid content range",
            Code::PaginationNumberInvalid => "invalid number of results requested",
            Code::Unknown => "unknown error",
        }
    }
}

/// One failed request: a code, a detail for the client, and headers the
/// code needs (`WWW-Authenticate` with 401, `Range` with 416).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub detail: Option<serde_json::Value>,
    pub message: Option<String>,
    pub headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    pub fn new(code: Code) -> ApiError {
        ApiError {
            code,
            detail: None,
            message: None,
            headers: Vec::new(),
        }
    }

    /// Adds a detail value (distribution puts the offending digest, name
    /// or reason there).
    pub fn detail(mut self, detail: impl Into<serde_json::Value>) -> ApiError {
        self.detail = Some(detail.into());
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> ApiError {
        self.message = Some(message.into());
        self
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    /// A server-side failure: logged here with its cause, answered as 500
    /// UNKNOWN without the host's paths.
    pub fn internal(context: &str, err: &dyn std::error::Error) -> ApiError {
        crate::log::error(format_args!("{context}: {err}"));
        ApiError::new(Code::Unknown).detail(context.to_owned())
    }

    pub fn into_response(self, head_only: bool) -> Response<Body> {
        #[derive(Serialize)]
        struct Entry<'a> {
            code: &'a str,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            detail: Option<&'a serde_json::Value>,
        }
        #[derive(Serialize)]
        struct Errors<'a> {
            errors: [Entry<'a>; 1],
        }
        let doc = Errors {
            errors: [Entry {
                code: self.code.as_str(),
                message: self.message.as_deref().unwrap_or(self.code.message()),
                detail: self.detail.as_ref(),
            }],
        };
        // Plain data with string keys: serializing cannot fail.
        let json = serde_json::to_vec(&doc).unwrap_or_default();
        let len = json.len();
        let mut resp = Response::new(if head_only {
            body::empty()
        } else {
            body::full(json)
        });
        *resp.status_mut() = self.code.status();
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.append(name, v);
            }
        }
        resp
    }
}

impl From<Code> for ApiError {
    fn from(code: Code) -> ApiError {
        ApiError::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        let r = ApiError::new(Code::BlobUnknown)
            .detail("sha256:00")
            .into_response(false);
        assert_eq!(r.status(), 404);
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        let r = ApiError::new(Code::RangeInvalid)
            .header(http::header::RANGE, "0-9")
            .into_response(true);
        assert_eq!(r.status(), 416);
        assert_eq!(r.headers()["range"], "0-9");
    }
}
