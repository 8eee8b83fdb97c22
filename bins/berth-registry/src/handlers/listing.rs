//! Listings: tags, the catalog, and referrers.

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Serialize;

use super::{App, json_response, query};
use crate::body::Body;
use crate::errors::{ApiError, Code};
use crate::manifest::OCI_INDEX;

/// Docker's registry caps a catalog page at 1000 names.
const MAX_CATALOG_PAGE: usize = 1000;

/// One page of a sorted list: the entries after `last`, at most `n`, and
/// whether more follow.
pub fn page<'a>(all: &'a [String], n: Option<usize>, last: Option<&str>) -> (&'a [String], bool) {
    let start = match last {
        Some(l) => all.partition_point(|x| x.as_str() <= l),
        None => 0,
    };
    let rest = &all[start..];
    match n {
        Some(n) if n < rest.len() => (&rest[..n], true),
        _ => (rest, false),
    }
}

fn parse_n(q: Option<&str>) -> Result<Option<usize>, ApiError> {
    match query(q, "n") {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::new(Code::PaginationNumberInvalid).detail(v)),
    }
}

fn link(path: &str, n: usize, last: &str) -> String {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("last", last)
        .append_pair("n", &n.to_string())
        .finish();
    format!("<{path}?{q}>; rel=\"next\"")
}

fn with_link(mut r: Response<Body>, link: Option<String>) -> Response<Body> {
    if let Some(l) = link {
        if let Ok(v) = HeaderValue::from_str(&l) {
            r.headers_mut().insert(header::LINK, v);
        }
    }
    r
}

pub fn tags(app: &App, name: &str, req: &Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let q = req.uri().query();
    let n = parse_n(q)?;
    let last = query(q, "last");
    if !app.storage.repo_exists(name) {
        return Err(ApiError::new(Code::NameUnknown).detail(serde_json::json!({ "name": name })));
    }
    let all = app
        .storage
        .tags(name)
        .map_err(|e| ApiError::internal("list tags", &e))?;
    let (items, more) = page(&all, n, last.as_deref());
    #[derive(Serialize)]
    struct Tags<'a> {
        name: &'a str,
        tags: &'a [String],
    }
    let json = serde_json::to_vec(&Tags { name, tags: items }).unwrap_or_default();
    let next = match (more, items.last(), n) {
        (true, Some(l), Some(n)) => Some(link(&format!("/v2/{name}/tags/list"), n, l)),
        _ => None,
    };
    Ok(with_link(json_response(StatusCode::OK, json), next))
}

pub fn catalog(app: &App, req: &Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let q = req.uri().query();
    let n = parse_n(q)?
        .unwrap_or(MAX_CATALOG_PAGE)
        .min(MAX_CATALOG_PAGE);
    let last = query(q, "last");
    let all = app
        .storage
        .repositories(true)
        .map_err(|e| ApiError::internal("list repositories", &e))?;
    let (items, more) = page(&all, Some(n), last.as_deref());
    #[derive(Serialize)]
    struct Catalog<'a> {
        repositories: &'a [String],
    }
    let json = serde_json::to_vec(&Catalog {
        repositories: items,
    })
    .unwrap_or_default();
    let next = match (more, items.last()) {
        (true, Some(l)) => Some(link("/v2/_catalog", n, l)),
        _ => None,
    };
    Ok(with_link(json_response(StatusCode::OK, json), next))
}

/// `GET /v2/<name>/referrers/<digest>[?artifactType=]`: an OCI index of the
/// manifests whose subject is `<digest>` (OCI distribution spec v1.1,
/// "Listing Referrers"). An unknown subject has an empty list.
pub fn referrers(
    app: &App,
    name: &str,
    digest: &str,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let subject: berth_content::Digest = digest
        .parse()
        .map_err(|_| ApiError::new(Code::DigestInvalid).detail(digest.to_owned()))?;
    let filter = query(req.uri().query(), "artifactType");
    let found = app
        .storage
        .referrers(name, &subject)
        .map_err(|e| ApiError::internal("list referrers", &e))?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Descriptor {
        media_type: String,
        digest: String,
        size: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        artifact_type: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<std::collections::BTreeMap<String, String>>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Index {
        schema_version: u32,
        media_type: &'static str,
        manifests: Vec<Descriptor>,
    }
    let manifests = found
        .into_iter()
        .filter(|(_, rev)| {
            filter
                .as_deref()
                .is_none_or(|f| rev.artifact_type.as_deref() == Some(f))
        })
        .map(|(d, rev)| Descriptor {
            media_type: rev.media_type,
            digest: d.to_string(),
            size: rev.size,
            artifact_type: rev.artifact_type,
            annotations: rev.annotations,
        })
        .collect();
    let json = serde_json::to_vec(&Index {
        schema_version: 2,
        media_type: OCI_INDEX,
        manifests,
    })
    .unwrap_or_default();
    let mut r = json_response(StatusCode::OK, json);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(OCI_INDEX));
    if filter.is_some() {
        r.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(page(&all, Some(2), None), (&all[..2], true));
        assert_eq!(page(&all, Some(2), Some("b")), (&all[2..], false));
        assert_eq!(page(&all, None, Some("bb")), (&all[2..], false));
        assert_eq!(page(&all, Some(0), None), (&all[..0], true));
        assert_eq!(page(&all, Some(9), Some("d")), (&all[4..], false));
    }
}
