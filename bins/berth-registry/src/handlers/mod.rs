//! Request handling: route, validate the name, authorize, then one handler
//! per endpoint. Handlers return `Result<Response, ApiError>`; errors become
//! the spec's JSON documents here.

mod blobs;
mod listing;
mod manifests;
mod token;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::auth::{Action, Auth, Need, Origin};
use crate::body::{self, Body};
use crate::errors::{ApiError, Code};
use crate::routes::Route;
use crate::storage::Storage;
use crate::uploads::Uploads;

/// Everything a request handler needs.
#[derive(Debug)]
pub struct App {
    pub storage: Storage,
    pub uploads: Uploads,
    pub auth: Auth,
    /// Deleting manifests, tags and blobs; off answers 405 UNSUPPORTED as
    /// Docker's registry does without `storage.delete.enabled`.
    pub delete_enabled: bool,
    pub tls: bool,
    /// The listening address, for realms when a request has no Host.
    pub addr: String,
}

pub const API_VERSION: &str = "registry/2.0";

/// Handles one request.
pub async fn handle(app: &App, req: Request<Incoming>) -> Response<Body> {
    let head_only = req.method() == Method::HEAD;
    let mut resp = match dispatch(app, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(head_only),
    };
    // Every response carries the API version, errors included: clients
    // use it to recognise a registry (spec, "Determining support").
    resp.headers_mut().insert(
        header::HeaderName::from_static("docker-distribution-api-version"),
        HeaderValue::from_static(API_VERSION),
    );
    resp
}

fn required(method: &Method, route: &Route) -> Result<Vec<Need>, ApiError> {
    use Action::*;
    let name = route.name().unwrap_or_default();
    let repo = |a: &[Action]| vec![Need::repo(name, a)];
    Ok(match (route, method.as_str()) {
        (Route::Base, "GET" | "HEAD") => Vec::new(),
        (Route::Catalog, "GET") => vec![Need::Catalog],
        (Route::Tags { .. } | Route::Referrers { .. }, "GET") => repo(&[Pull]),
        (Route::Manifest { .. } | Route::Blob { .. }, "GET" | "HEAD") => repo(&[Pull]),
        (Route::Manifest { .. }, "PUT") => repo(&[Pull, Push]),
        (Route::Manifest { .. } | Route::Blob { .. }, "DELETE") => repo(&[Delete]),
        (Route::UploadStart { .. }, "POST") => repo(&[Pull, Push]),
        (Route::Upload { .. }, "GET" | "PATCH" | "PUT" | "DELETE") => repo(&[Pull, Push]),
        _ => return Err(ApiError::new(Code::Unsupported)),
    })
}

async fn dispatch(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_owned();
    let Some(route) = Route::parse(&path) else {
        return Ok(not_found());
    };
    if route == Route::Token {
        return token::handle(app, req).await;
    }
    if let Some(name) = route.name() {
        if !crate::names::valid_name(name) {
            return Err(ApiError::new(Code::NameInvalid).detail(name.to_owned()));
        }
    }
    let needs = required(req.method(), &route)?;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(&app.addr)
        .to_owned();
    let origin = Origin {
        tls: app.tls,
        host: &host,
    };
    app.auth.authorize(req.headers(), &needs, origin).await?;
    let method = req.method().clone();
    match route {
        Route::Base => Ok(json_response(StatusCode::OK, b"{}".to_vec())),
        Route::Catalog => listing::catalog(app, &req),
        Route::Tags { name } => listing::tags(app, &name, &req),
        Route::Referrers { name, digest } => listing::referrers(app, &name, &digest, &req),
        Route::Blob { name, digest } => blobs::blob(app, &method, &name, &digest, &req).await,
        Route::UploadStart { name } => blobs::start(app, &name, req, origin).await,
        Route::Upload { name, uuid } => blobs::upload(app, &method, &name, &uuid, req).await,
        Route::Manifest { name, reference } => {
            manifests::handle(app, &method, &name, &reference, req).await
        }
        // Answered before authorization, above.
        Route::Token => Err(ApiError::new(Code::Unsupported)),
    }
}

pub(crate) fn not_found() -> Response<Body> {
    let mut r = Response::new(body::full("404 page not found\n"));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub(crate) fn json_response(status: StatusCode, json: Vec<u8>) -> Response<Body> {
    let len = json.len();
    let mut r = Response::new(body::full(json));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// A response with no body and the given headers.
pub(crate) fn empty_response(status: StatusCode, headers: &[(&str, String)]) -> Response<Body> {
    let mut r = Response::new(body::empty());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(k, v);
        }
    }
    r
}

/// The query's values for `key`, in order.
pub(crate) fn query_all(req_query: Option<&str>, key: &str) -> Vec<String> {
    form_urlencoded::parse(req_query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

pub(crate) fn query(req_query: Option<&str>, key: &str) -> Option<String> {
    query_all(req_query, key).into_iter().next()
}

pub(crate) fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A blocking storage call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("blocking task", &e))
}
