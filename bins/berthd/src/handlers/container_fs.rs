//! Container endpoints about its filesystem and resources: stats,
//! changes (`docker diff`), export, and the archive endpoints of
//! `docker cp`.

use std::sync::Arc;

use berth_api_types::container::PATH_STAT_HEADER;
use berth_engine::containers::archive::ExtractOptions;
use berth_engine::images::ReadBridge;
use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use tokio::sync::{mpsc, oneshot};

use crate::api::{ApiError, Resp, ok_json, status_only};
use crate::body::Body;
use crate::daemon::Daemon;
use crate::handlers::Call;
use crate::streams::{ChunkWriter, IncomingReader};

/// `GET /containers/{id}/stats?stream=&one-shot=`: JSON objects, one per
/// line (and per second) when streaming, which is the default.
pub fn stats(daemon: &Arc<Daemon>, id: &str, call: &Call) -> Result<Resp, ApiError> {
    let q = &call.query;
    let stream = q.bool_or("stream", true);
    let one_shot = q.bool("one-shot");
    if one_shot && stream {
        return Err(ApiError::bad_request(
            "cannot have stream=true and one-shot=true",
        ));
    }
    let mut rx = daemon.engine.container_stats(id, stream, one_shot)?;
    let (tx, body) = Body::channel();
    tokio::spawn(async move {
        loop {
            let s = tokio::select! {
                s = rx.recv() => s,
                _ = tx.closed() => return,
            };
            let Some(s) = s else { return };
            if tx.send_json_line(&s).await.is_err() {
                return;
            }
        }
    });
    let mut r = http::Response::new(body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

/// `GET /containers/{id}/changes`.
pub async fn changes(daemon: &Arc<Daemon>, id: &str) -> Result<Resp, ApiError> {
    Ok(ok_json(&daemon.engine.container_changes(id).await?))
}

fn tar_response(body: Body) -> Resp {
    let mut r = http::Response::new(body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    r
}

fn stat_header(r: &mut Resp, value: &str) -> Result<(), ApiError> {
    let v = HeaderValue::from_str(value)
        .map_err(|e| ApiError::internal(format!("path stat header: {e}")))?;
    r.headers_mut()
        .insert(HeaderName::from_static("x-docker-container-path-stat"), v);
    Ok(())
}

/// Answers with a tar body once `task` wrote its first bytes (or ended):
/// an error before that is still a proper error response.
async fn tar_after_start<T: Send + 'static>(
    mut rx: mpsc::Receiver<Bytes>,
    task: tokio::task::JoinHandle<Result<T, berth_engine::containers::Error>>,
    what: &'static str,
) -> Result<Body, ApiError> {
    let Some(first) = rx.recv().await else {
        return match task.await {
            Ok(Ok(_)) => Ok(Body::empty()),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(ApiError::internal(format!("{what} task: {e}"))),
        };
    };
    tokio::spawn(async move {
        match task.await {
            Ok(Ok(_)) => {}
            // The head is out: the client sees a truncated tar.
            Ok(Err(e)) => crate::error!("{what} failed mid-stream: {e}"),
            Err(e) => crate::error!("{what} task: {e}"),
        }
    });
    Ok(Body::resume(first, rx))
}

/// `GET /containers/{id}/export`.
pub async fn export(daemon: &Arc<Daemon>, id: &str) -> Result<Resp, ApiError> {
    let (writer, rx) = ChunkWriter::new();
    let engine = daemon.engine.clone();
    let id = id.to_string();
    let task = tokio::spawn(async move { engine.container_export(&id, writer).await });
    Ok(tar_response(tar_after_start(rx, task, "export").await?))
}

fn path_param(call: &Call) -> Result<String, ApiError> {
    call.query
        .nonempty("path")
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("path cannot be empty"))
}

/// `HEAD /containers/{id}/archive?path=`: the stat header only.
pub async fn archive_stat(daemon: &Arc<Daemon>, id: &str, call: &Call) -> Result<Resp, ApiError> {
    let path = path_param(call)?;
    let st = daemon.engine.container_stat_path(id, &path).await?;
    let mut r = status_only(StatusCode::OK);
    stat_header(&mut r, &st.to_header_value())?;
    Ok(r)
}

/// `GET /containers/{id}/archive?path=`: the stat header and a tar.
pub async fn archive_get(daemon: &Arc<Daemon>, id: &str, call: &Call) -> Result<Resp, ApiError> {
    let path = path_param(call)?;
    let (writer, rx) = ChunkWriter::new();
    let (stat_tx, stat_rx) = oneshot::channel::<String>();
    let engine = daemon.engine.clone();
    let id = id.to_string();
    let task = tokio::spawn(async move {
        engine
            .container_archive(
                &id,
                &path,
                move |st| {
                    let _ = stat_tx.send(st.to_header_value());
                },
                writer,
            )
            .await
    });
    let body = tar_after_start(rx, task, "archive").await?;
    // The stat is sent before the first byte of the tar, so it is there
    // whenever the tar started.
    let stat = stat_rx
        .await
        .map_err(|_| ApiError::internal("archive ended without a path stat"))?;
    let mut r = tar_response(body);
    stat_header(&mut r, &stat)?;
    debug_assert!(PATH_STAT_HEADER.eq_ignore_ascii_case("x-docker-container-path-stat"));
    Ok(r)
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`.
pub async fn archive_put(daemon: &Arc<Daemon>, id: &str, call: Call) -> Result<Resp, ApiError> {
    let path = path_param(&call)?;
    let opts = ExtractOptions {
        no_overwrite_dir_non_dir: call.query.bool("noOverwriteDirNonDir"),
        copy_uid_gid: call.query.bool("copyUIDGID"),
    };
    let reader = ReadBridge::new(IncomingReader::new(call.req.into_body()));
    daemon
        .engine
        .container_extract(id, &path, opts, reader)
        .await?;
    Ok(status_only(StatusCode::OK))
}
