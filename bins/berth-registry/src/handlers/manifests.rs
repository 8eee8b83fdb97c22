//! Manifest endpoints: GET/HEAD/PUT/DELETE by tag or digest.

use berth_content::Digest;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::{App, blocking, empty_response, header_str};
use crate::body::{self, Body};
use crate::errors::{ApiError, Code};
use crate::manifest::{self, Target};
use crate::names::{BadReference, Reference};
use crate::storage::{Revision, Storage};

/// Docker's registry refuses manifests over 4 MiB; so do we, before
/// buffering more.
const MAX_MANIFEST: usize = 4 << 20;

pub async fn handle(
    app: &App,
    method: &Method,
    name: &str,
    reference: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let reference = Reference::parse(reference).map_err(|e| match e {
        BadReference::Digest => ApiError::new(Code::DigestInvalid).detail(reference.to_owned()),
        BadReference::Tag => ApiError::new(Code::ManifestInvalid)
            .message("invalid tag")
            .detail(reference.to_owned()),
    })?;
    match method.as_str() {
        "GET" | "HEAD" => get(app, *method == Method::HEAD, name, &reference, &req).await,
        "PUT" => put(app, name, reference, req).await,
        "DELETE" => delete(app, name, &reference).await,
        _ => Err(ApiError::new(Code::Unsupported)),
    }
}

fn unknown(reference: &Reference) -> ApiError {
    let detail = match reference {
        Reference::Tag(t) => t.clone(),
        Reference::Digest(d) => d.to_string(),
    };
    ApiError::new(Code::ManifestUnknown).detail(detail)
}

/// The digest a reference names in `name`, if the manifest is there.
fn resolve(
    storage: &Storage,
    name: &str,
    reference: &Reference,
) -> Result<Option<(Digest, Revision)>, ApiError> {
    let d = match reference {
        Reference::Digest(d) => *d,
        Reference::Tag(t) => match storage
            .resolve_tag(name, t)
            .map_err(|e| ApiError::internal("resolve tag", &e))?
        {
            Some(d) => d,
            None => return Ok(None),
        },
    };
    Ok(storage
        .revision(name, &d)
        .map_err(|e| ApiError::internal("read manifest record", &e))?
        .map(|r| (d, r)))
}

async fn get(
    app: &App,
    head: bool,
    name: &str,
    reference: &Reference,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let storage = app.storage.clone();
    let (n, r) = (name.to_owned(), reference.clone());
    let found = blocking(move || -> Result<_, ApiError> {
        let Some((d, rev)) = resolve(&storage, &n, &r)? else {
            return Ok(None);
        };
        match storage.content().read(&d) {
            Ok(bytes) => Ok(Some((d, rev, bytes))),
            Err(berth_content::ContentError::NotFound(_)) => Ok(None),
            Err(e) => Err(ApiError::internal("read manifest", &e)),
        }
    })
    .await??;
    let Some((d, rev, bytes)) = found else {
        return Err(unknown(reference));
    };
    // Content negotiation (Docker's registry): a client that does not list
    // the stored type (an old client and an OCI index, say) is told the
    // manifest is unknown rather than handed a document it cannot read.
    let accept: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if matches!(reference, Reference::Tag(_)) && !manifest::accepts(&accept, &rev.media_type) {
        return Err(unknown(reference).message(format!(
            "manifest of type {} found, but the Accept header does not list it",
            rev.media_type
        )));
    }
    let len = bytes.len();
    let mut resp = Response::new(if head {
        body::empty()
    } else {
        body::full(bytes)
    });
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&rev.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&d.to_string()) {
        h.insert("docker-content-digest", v.clone());
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{d}\"")) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

async fn put(
    app: &App,
    name: &str,
    reference: Reference,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let content_type = header_str(req.headers(), header::CONTENT_TYPE).map(str::to_owned);
    let bytes = body::read_limited(req.into_body(), MAX_MANIFEST)
        .await
        .map_err(|e| match e {
            body::ReadError::TooLarge(_) => ApiError::new(Code::SizeInvalid)
                .message("manifest too large")
                .detail(MAX_MANIFEST),
            e @ body::ReadError::Transport(_) => {
                ApiError::new(Code::ManifestInvalid).message(e.to_string())
            }
        })?;
    let digest = Digest::of(&bytes);
    // Addressed by digest, the body must be exactly those bytes.
    if let Reference::Digest(want) = &reference {
        if *want != digest {
            return Err(ApiError::new(Code::DigestInvalid)
                .detail(format!("manifest digest is {digest}, not {want}")));
        }
    }
    let parsed = manifest::parse(&bytes, content_type.as_deref()).map_err(|e| {
        ApiError::new(Code::ManifestInvalid)
            .message(format!("manifest invalid: {e}"))
            .detail(e.to_string())
    })?;
    let storage = app.storage.clone();
    let n = name.to_owned();
    let tag = match &reference {
        Reference::Tag(t) => Some(t.clone()),
        Reference::Digest(_) => None,
    };
    let subject = parsed.subject;
    blocking(move || -> Result<(), ApiError> {
        // Hold off a collection from the existence checks to the last link
        // (see gc.rs).
        let _gc = crate::gc::GcLock::shared(storage.content().root())
            .map_err(|e| ApiError::internal("lock against garbage collection", &e))?;
        // Validate everything, then write: a manifest whose references are
        // missing leaves nothing behind.
        for t in &parsed.targets {
            match *t {
                Target::Blob { digest: d, size } => {
                    if !storage.blob_linked(&n, &d) {
                        return Err(ApiError::new(Code::ManifestBlobUnknown).detail(d.to_string()));
                    }
                    let actual = storage
                        .content()
                        .info(&d)
                        .map_err(|e| ApiError::internal("stat blob", &e))?
                        .size;
                    if actual != size {
                        return Err(ApiError::new(Code::ManifestInvalid)
                            .message(format!(
                                "manifest invalid: blob {d} has size {actual}, the manifest says {size}"
                            ))
                            .detail(d.to_string()));
                    }
                }
                Target::Manifest { digest: d } => {
                    let present = storage
                        .revision(&n, &d)
                        .map_err(|e| ApiError::internal("read manifest record", &e))?
                        .is_some();
                    if !present {
                        return Err(ApiError::new(Code::ManifestBlobUnknown).detail(d.to_string()));
                    }
                }
            }
        }
        let reference = format!("manifest-{}", crate::new_uuid());
        storage
            .content()
            .write_blob(&reference, &bytes[..], Some(bytes.len() as u64), Some(&digest))
            .map_err(|e| ApiError::internal("store manifest", &e))?;
        let rev = Revision {
            media_type: parsed.media_type,
            size: bytes.len() as u64,
            subject: parsed.subject,
            artifact_type: parsed.artifact_type,
            annotations: parsed.annotations,
        };
        storage
            .put_manifest(&n, &digest, &rev, tag.as_deref())
            .map_err(|e| ApiError::internal("record manifest", &e))
    })
    .await??;
    let mut headers = vec![
        ("location", format!("/v2/{name}/manifests/{digest}")),
        ("docker-content-digest", digest.to_string()),
    ];
    // OCI distribution spec v1.1, "Pushing Manifests with Subject": the
    // registry says it indexed the subject, so clients skip the tag schema
    // fallback.
    if let Some(s) = subject {
        headers.push(("oci-subject", s.to_string()));
    }
    Ok(empty_response(StatusCode::CREATED, &headers))
}

async fn delete(app: &App, name: &str, reference: &Reference) -> Result<Response<Body>, ApiError> {
    if !app.delete_enabled {
        return Err(ApiError::new(Code::Unsupported));
    }
    let storage = app.storage.clone();
    let (n, r) = (name.to_owned(), reference.clone());
    let removed = blocking(move || match &r {
        // OCI 1.1: deleting by tag removes the tag only.
        Reference::Tag(t) => storage.delete_tag(&n, t),
        Reference::Digest(d) => storage.delete_manifest(&n, d),
    })
    .await?
    .map_err(|e| ApiError::internal("delete manifest", &e))?;
    if !removed {
        return Err(unknown(reference));
    }
    Ok(empty_response(StatusCode::ACCEPTED, &[]))
}
