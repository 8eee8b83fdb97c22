//! Image endpoints: list, inspect, history, tag, delete, import
//! (`/images/create?fromSrc=-`), load, save, prune, search.

use std::sync::Arc;

use berth_api_types::jsonmessage::JsonMessage;
use berth_engine::images::ReadBridge;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};

use crate::api::{ApiError, EngineError, Resp, ok_json, status_only};
use crate::body::Body;
use crate::daemon::Daemon;
use crate::handlers::{Call, filters};
use crate::streams::{ChunkWriter, IncomingReader};

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

/// `POST /images/create`: `fromSrc=-` imports the request body (a rootfs
/// tarball) and answers dockerd's one-line JSON-message stream with the
/// new image's ID; `fromImage` (pull) needs a registry client, which berth
/// does not have yet.
pub async fn create(daemon: &Arc<Daemon>, call: Call) -> Result<Resp, ApiError> {
    let q = call.query.clone();
    if let Some(image) = q.nonempty("fromImage") {
        let tag = q
            .nonempty("tag")
            .map(|t| format!(":{t}"))
            .unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "pull access to {image}{tag} is not supported yet: berth has no registry client; use docker load or docker import"
            ),
        ));
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
