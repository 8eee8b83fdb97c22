//! Image endpoints: list, inspect, history, tag, delete, pull and import
//! (`/images/create`), push, load, save, prune, search.

use std::sync::Arc;

use std::future::Future;

use berth_api_types::jsonmessage::JsonMessage;
use berth_api_types::system::{AuthConfig, REGISTRY_AUTH_HEADER};
use berth_engine::images::{ProgressTx, PullRequest, PushRequest, ReadBridge, RegistryError};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};

use crate::api::{ApiError, EngineError, Resp, ok_json, status_only};
use crate::body::Body;
use crate::daemon::Daemon;
use crate::handlers::{Call, filters};
use crate::streams::{ChunkWriter, IncomingReader};

impl EngineError for RegistryError {
    fn kind(&self) -> berth_engine::ErrorKind {
        RegistryError::kind(self)
    }
}

impl EngineError for berth_engine::images::Error {
    fn kind(&self) -> berth_engine::ErrorKind {
        berth_engine::images::Error::kind(self)
    }
}

/// `GET /images/json?all&filters&digests`.
pub async fn list(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    let q = &call.query;
    let images = daemon
        .engine
        .image_list(q.bool("all"), &filters(q)?, q.bool("digests"))
        .await?;
    Ok(ok_json(&images))
}

/// `GET /images/{name}/json`.
pub async fn inspect(daemon: &Arc<Daemon>, name: &str) -> Result<Resp, ApiError> {
    Ok(ok_json(&daemon.engine.image_inspect(name).await?))
}

/// `GET /images/{name}/history`.
pub async fn history(daemon: &Arc<Daemon>, name: &str) -> Result<Resp, ApiError> {
    Ok(ok_json(&daemon.engine.image_history(name).await?))
}

/// `POST /images/{name}/tag?repo&tag`: 201, no body.
pub async fn tag(daemon: &Arc<Daemon>, name: &str, call: &Call) -> Result<Resp, ApiError> {
    let q = &call.query;
    daemon
        .engine
        .image_tag(
            name,
            q.get("repo").unwrap_or(""),
            q.get("tag").unwrap_or(""),
        )
        .await?;
    Ok(status_only(StatusCode::CREATED))
}

/// `DELETE /images/{name}?force&noprune`.
pub async fn remove(daemon: &Arc<Daemon>, name: &str, call: &Call) -> Result<Resp, ApiError> {
    let q = &call.query;
    let items = daemon
        .engine
        .image_remove(name, q.bool("force"), q.bool("noprune"))
        .await?;
    Ok(ok_json(&items))
}

/// A JSON-message stream answer holding `lines`.
fn json_messages(msgs: &[JsonMessage]) -> Resp {
    let body: String = msgs.iter().map(JsonMessage::to_line).collect();
    let mut r = http::Response::new(Body::full(body));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// `POST /images/create`: `fromImage` pulls from a registry (a
/// JSON-message progress stream; failures before its first line are plain
/// error answers, as dockerd's); `fromSrc=-` imports the request body (a
/// rootfs tarball) and answers dockerd's one-line stream with the new
/// image's ID.
pub async fn create(daemon: &Arc<Daemon>, call: Call) -> Result<Resp, ApiError> {
    let q = call.query.clone();
    if let Some(image) = q.nonempty("fromImage") {
        let req = PullRequest {
            from_image: image.to_string(),
            tag: q.get("tag").unwrap_or("").to_string(),
            platform: q.get("platform").unwrap_or("").to_string(),
            auth: registry_auth(&call),
        };
        let engine = daemon.engine.clone();
        return progress_stream(move |tx| async move { engine.image_pull(req, tx).await }).await;
    }
    let Some(src) = q.nonempty("fromSrc") else {
        return Err(ApiError::bad_request(
            "either fromImage or fromSrc must be given",
        ));
    };
    if src != "-" {
        daemon.engine.image_import_url(src)?;
        return Err(ApiError::bad_request(format!(
            "import from {src} is not supported"
        )));
    }
    let repo = q.nonempty("repo").map(str::to_string);
    let tag = q.nonempty("tag").map(str::to_string);
    let message = q.nonempty("message").map(str::to_string);
    let changes: Vec<String> = q.all("changes").into_iter().map(str::to_string).collect();
    let reader = ReadBridge::new(IncomingReader::new(call.req.into_body()));
    let id = daemon
        .engine
        .image_import(reader, repo, tag, changes, message)
        .await?;
    Ok(json_messages(&[JsonMessage::status("", id)]))
}

/// `POST /images/{name}/push?tag=`: a JSON-message progress stream.
pub async fn push(daemon: &Arc<Daemon>, name: &str, call: Call) -> Result<Resp, ApiError> {
    let req = PushRequest {
        name: name.to_string(),
        tag: call.query.get("tag").unwrap_or("").to_string(),
        auth: registry_auth(&call),
    };
    let engine = daemon.engine.clone();
    progress_stream(move |tx| async move { engine.image_push(req, tx).await }).await
}

/// The credentials of `X-Registry-Auth` (anonymous when absent).
fn registry_auth(call: &Call) -> AuthConfig {
    call.req
        .headers()
        .get(REGISTRY_AUTH_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(AuthConfig::from_header_value)
        .unwrap_or_default()
}

/// The answer to a failed registry operation: 401 when the registry
/// refused the credentials (dockerd's), else by the error's class.
pub fn registry_error(e: &RegistryError) -> ApiError {
    if e.is_unauthorized() {
        ApiError::new(StatusCode::UNAUTHORIZED, e.to_string())
    } else {
        ApiError::from_kind(e.kind(), e)
    }
}

/// Runs a pull or push and answers its progress: the status waits for the
/// first message, so an early failure is an error answer; after that the
/// messages stream out and a failure becomes the stream's last message.
async fn progress_stream<F, Fut>(start: F) -> Result<Resp, ApiError>
where
    F: FnOnce(ProgressTx) -> Fut,
    Fut: Future<Output = Result<(), RegistryError>> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<JsonMessage>(64);
    let task = tokio::spawn(start(tx));
    let Some(first) = rx.recv().await else {
        return match task.await {
            Ok(Ok(())) => Ok(json_messages(&[])),
            Ok(Err(e)) => Err(registry_error(&e)),
            Err(e) => Err(ApiError::internal(format!("registry task: {e}"))),
        };
    };
    let (sender, body) = Body::channel();
    tokio::spawn(async move {
        let mut next = Some(first);
        while let Some(m) = next {
            if sender.send(m.to_line()).await.is_err() {
                // The client went away; the operation finishes anyway.
                break;
            }
            next = rx.recv().await;
        }
        drop(rx);
        let last = match task.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(JsonMessage::error(e.to_string())),
            Err(e) => Some(JsonMessage::error(format!("registry task: {e}"))),
        };
        if let Some(m) = last {
            let _ = sender.send(m.to_line()).await;
        }
    });
    let mut r = http::Response::new(body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

/// `POST /images/load?quiet`: the archive is the body; the answer is a
/// JSON-message stream of "Loaded image: ..." lines, and a failure is an
/// error message in it (status 200 either way, as dockerd does).
pub async fn load(daemon: &Arc<Daemon>, call: Call) -> Result<Resp, ApiError> {
    let quiet = call.query.bool_or("quiet", true);
    let reader = ReadBridge::new(IncomingReader::new(call.req.into_body()));
    let msgs = match daemon.engine.image_load(reader, quiet).await {
        Ok(lines) => lines
            .into_iter()
            .map(|l| JsonMessage::stream(format!("{l}\n")))
            .collect::<Vec<_>>(),
        Err(e) => vec![JsonMessage::error(e.to_string())],
    };
    Ok(json_messages(&msgs))
}

/// `GET /images/{name}/get` and `GET /images/get?names=..`: a `docker save`
/// tar. The head is held back until the archive's first bytes exist, so
/// an unknown name is still a proper error response.
pub async fn save(daemon: &Arc<Daemon>, names: Vec<String>) -> Result<Resp, ApiError> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given"));
    }
    let (writer, mut rx) = ChunkWriter::new();
    let engine = daemon.engine.clone();
    let task = tokio::spawn(async move { engine.image_save(names, writer).await.map(drop) });
    let Some(first) = rx.recv().await else {
        // The writer is gone without a byte written: the save ended.
        return match task.await {
            Ok(Ok(())) => Ok(tar_response(Body::empty())),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(ApiError::internal(format!("image save task: {e}"))),
        };
    };
    tokio::spawn(async move {
        match task.await {
            Ok(Ok(())) => {}
            // The head is out; all that is left is to cut the stream short
            // (the client sees a truncated tar) and to say why here.
            Ok(Err(e)) => crate::error!("image save failed mid-stream: {e}"),
            Err(e) => crate::error!("image save task: {e}"),
        }
    });
    Ok(tar_response(Body::resume(first, rx)))
}

fn tar_response(body: Body) -> Resp {
    let mut r = http::Response::new(body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    r
}

/// `POST /images/prune?filters`: `dangling` is `true` unless the filter
/// says false (dockerd's rule), the other filters go to the engine.
pub async fn prune(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    let f = filters(&call.query)?;
    let dangling = f.get("dangling");
    let dangling_only = match dangling.as_slice() {
        [] => true,
        ["true"] | ["1"] => true,
        ["false"] | ["0"] => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid filter 'dangling={}'",
                other.join(",")
            )));
        }
    };
    Ok(ok_json(
        &daemon.engine.image_prune(dangling_only, &f).await?,
    ))
}

/// `GET /images/search`: there is no registry to search yet.
pub fn search(call: &Call) -> Result<Resp, ApiError> {
    if call.query.nonempty("term").is_none() {
        return Err(ApiError::bad_request("term is required"));
    }
    Ok(ok_json(&Vec::<berth_api_types::image::SearchResult>::new()))
}
