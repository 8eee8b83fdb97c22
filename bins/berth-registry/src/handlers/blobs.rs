//! Blob endpoints: GET/HEAD (with Range), DELETE, and the upload sessions
//! (POST, PATCH, PUT, GET status, DELETE cancel, cross-repository mount).

use berth_content::Digest;
use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::{App, blocking, empty_response, header_str, query};
use crate::auth::{Action, Need, Origin};
use crate::body::{self, Body};
use crate::errors::{ApiError, Code};
use crate::uploads::{range_header, upload_location};

fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    s.parse()
        .map_err(|_| ApiError::new(Code::DigestInvalid).detail(s.to_owned()))
}

/// A single byte range of a blob of `size` bytes (RFC 9110 section 14.1.2):
/// `bytes=a-b`, `bytes=a-` or `bytes=-n`. `Ok(None)` means no usable Range
/// header (serve the whole blob); `Err` means unsatisfiable.
pub fn parse_range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    // Several ranges would need multipart/byteranges; a server may ignore
    // the header instead (RFC 9110 section 14.2), and serves the whole blob.
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1))
        };
        (start, end)
    };
    if start >= size || end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

pub async fn blob(
    app: &App,
    method: &Method,
    name: &str,
    digest: &str,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let d = parse_digest(digest)?;
    let storage = app.storage.clone();
    if *method == Method::DELETE {
        if !app.delete_enabled {
            return Err(ApiError::new(Code::Unsupported));
        }
        let n = name.to_owned();
        let removed = blocking(move || storage.unlink_blob(&n, &d))
            .await?
            .map_err(|e| ApiError::internal("unlink blob", &e))?;
        if !removed {
            return Err(ApiError::new(Code::BlobUnknown).detail(d.to_string()));
        }
        return Ok(empty_response(
            StatusCode::ACCEPTED,
            &[("docker-content-digest", d.to_string())],
        ));
    }
    let n = name.to_owned();
    let reader = blocking(move || {
        if !storage.blob_linked(&n, &d) {
            return Ok(None);
        }
        // A client asking about a blob is about to rely on it (it HEADs a
        // layer before pushing the manifest that references it): refresh
        // the link so a collection running meanwhile keeps it.
        let _ = storage.link_blob(&n, &d);
        storage.content().reader(&d).map(Some)
    })
    .await?;
    let reader = match reader {
        Ok(Some(r)) => r,
        Ok(None) | Err(berth_content::ContentError::NotFound(_)) => {
            return Err(ApiError::new(Code::BlobUnknown).detail(d.to_string()));
        }
        Err(e) => return Err(ApiError::internal("open blob", &e)),
    };
    let size = reader.size();
    let range = match header_str(req.headers(), header::RANGE) {
        Some(v) => match parse_range(v, size) {
            Ok(r) => r,
            Err(()) => {
                return Err(ApiError::new(Code::RangeInvalid)
                    .header(header::CONTENT_RANGE, format!("bytes */{size}")));
            }
        },
        None => None,
    };
    let (status, start, len) = match range {
        Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        None => (StatusCode::OK, 0, size),
    };
    let body = if *method == Method::HEAD || len == 0 {
        body::empty()
    } else {
        body::blob_range(reader, start, len)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let ds = d.to_string();
    for (k, v) in [
        ("content-length", len.to_string()),
        ("content-type", "application/octet-stream".to_owned()),
        ("docker-content-digest", ds.clone()),
        ("etag", format!("\"{ds}\"")),
        ("accept-ranges", "bytes".to_owned()),
        // Content-addressed: the bytes behind a digest never change.
        ("cache-control", "max-age=31536000".to_owned()),
    ] {
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    if let Some((s, e)) = range {
        if let Ok(v) = http::HeaderValue::from_str(&format!("bytes {s}-{e}/{size}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

fn created(name: &str, d: &Digest) -> Response<Body> {
    empty_response(
        StatusCode::CREATED,
        &[
            ("location", format!("/v2/{name}/blobs/{d}")),
            ("docker-content-digest", d.to_string()),
        ],
    )
}

fn accepted(name: &str, uuid: &str, offset: u64) -> Response<Body> {
    empty_response(
        StatusCode::ACCEPTED,
        &[
            ("location", upload_location(name, uuid)),
            ("range", range_header(offset)),
            ("docker-upload-uuid", uuid.to_owned()),
        ],
    )
}

/// `POST /v2/<name>/blobs/uploads/`: a new session, a one-shot upload
/// (`?digest=`), or a mount from another repository (`?mount=&from=`).
pub async fn start(
    app: &App,
    name: &str,
    req: Request<Incoming>,
    origin: Origin<'_>,
) -> Result<Response<Body>, ApiError> {
    let q = req.uri().query().map(str::to_owned);
    if let Some(mount) = query(q.as_deref(), "mount") {
        let d = parse_digest(&mount)?;
        let from = query(q.as_deref(), "from").unwrap_or_default();
        // Mounting reads the source repository, so it needs pull there too;
        // without it (or without `from`) the client gets an ordinary
        // session, as the spec allows (202 instead of 201).
        let may_read = crate::names::valid_name(&from)
            && app
                .auth
                .authorize(req.headers(), &[Need::repo(&from, &[Action::Pull])], origin)
                .await
                .is_ok();
        if may_read {
            let storage = app.storage.clone();
            let (n, f) = (name.to_owned(), from.clone());
            let mounted = blocking(move || -> Result<bool, ApiError> {
                let _gc = crate::gc::GcLock::shared(storage.content().root())
                    .map_err(|e| ApiError::internal("lock against garbage collection", &e))?;
                if !storage.blob_linked(&f, &d) {
                    return Ok(false);
                }
                storage
                    .link_blob(&n, &d)
                    .map_err(|e| ApiError::internal("link blob", &e))?;
                Ok(true)
            })
            .await??;
            if mounted {
                return Ok(created(name, &d));
            }
        }
        let uuid = app.uploads.start(name).await?;
        return Ok(accepted(name, &uuid, 0));
    }
    if let Some(digest) = query(q.as_deref(), "digest") {
        let d = parse_digest(&digest)?;
        let committed = app.uploads.monolithic(name, req.into_body(), d).await?;
        return Ok(created(name, &committed.digest));
    }
    let uuid = app.uploads.start(name).await?;
    Ok(accepted(name, &uuid, 0))
}

/// `Content-Range: <start>-<end>` as the spec writes it; `bytes ` and a
/// `/<total>` suffix (RFC 9110 form, sent by some clients) are accepted.
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Requests on an existing session.
pub async fn upload(
    app: &App,
    method: &Method,
    name: &str,
    uuid: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    match method.as_str() {
        "GET" => {
            let offset = app.uploads.status(name, uuid).await?;
            let mut r = accepted(name, uuid, offset);
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        "PATCH" => {
            let range = match header_str(req.headers(), header::CONTENT_RANGE) {
                Some(v) => match parse_content_range(v) {
                    Some(r) => Some(r),
                    None => {
                        let offset = app.uploads.status(name, uuid).await?;
                        return Err(crate::uploads::range_invalid(name, uuid, offset));
                    }
                },
                None => None,
            };
            let len =
                header_str(req.headers(), header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
            let offset = app
                .uploads
                .append(name, uuid, req.into_body(), range, len)
                .await?;
            Ok(accepted(name, uuid, offset))
        }
        "PUT" => {
            let q = req.uri().query().map(str::to_owned);
            let Some(digest) = query(q.as_deref(), "digest") else {
                return Err(ApiError::new(Code::DigestInvalid).detail("digest parameter missing"));
            };
            let d = parse_digest(&digest)?;
            let committed = app.uploads.finish(name, uuid, req.into_body(), d).await?;
            Ok(created(name, &committed.digest))
        }
        "DELETE" => {
            app.uploads.cancel(name, uuid).await?;
            Ok(empty_response(StatusCode::NO_CONTENT, &[]))
        }
        _ => Err(ApiError::new(Code::Unsupported)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=9-1", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
        assert_eq!(parse_range("bytes=x-1", 100), Err(()));
    }

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("junk"), None);
    }
}
