//! Container endpoints: create, list, inspect, the lifecycle (start, stop,
//! restart, kill, pause, unpause, wait, remove), logs, attach, resize, top,
//! rename, update.

use std::sync::Arc;

use berth_api_types::container::{CreateRequest, UpdateConfig, WaitResponse};
use berth_api_types::stdcopy::{Stream, encode_frame};
use berth_engine::containers::{ListOptions, LogOptions, LogStream, WaitCondition};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};

use crate::api::{self, ApiError, EngineError, Resp, ok_json, status_only};
use crate::body::Body;
use crate::daemon::Daemon;
use crate::handlers::{Call, container_fs, filters};
use crate::hijack::{self, DetachKeys, RAW_STREAM};
use crate::query::Query;
use crate::router::ContainerOp;

impl EngineError for berth_engine::containers::Error {
    fn kind(&self) -> berth_engine::ErrorKind {
        berth_engine::containers::Error::kind(self)
    }
}

/// `POST /containers/create?name=`: 201 with the new ID.
pub async fn create(daemon: &Arc<Daemon>, call: Call) -> Result<Resp, ApiError> {
    let name = call.query.nonempty("name").map(str::to_string);
    if let Some(p) = call.query.nonempty("platform") {
        if !p.starts_with("linux") {
            return Err(ApiError::bad_request(format!(
                "image operating system {p:?} cannot be used on this platform"
            )));
        }
    }
    let (parts, body) = call.req.into_parts();
    api::check_json_content_type(&parts.headers)?;
    let req = create_request(&api::read_body(body, api::JSON_BODY_LIMIT).await?)?;
    let resp = daemon.engine.container_create(name, req).await?;
    Ok(api::json(StatusCode::CREATED, &resp))
}

/// Decodes a create's body (an empty one is dockerd's 400).
pub fn create_request(body: &[u8]) -> Result<CreateRequest, ApiError> {
    api::parse_json_opt(body)?.ok_or_else(|| {
        ApiError::bad_request("Config cannot be empty in order to create a container")
    })
}

/// Decodes an update's body (empty: nothing changes).
pub fn update_request(body: &[u8]) -> Result<UpdateConfig, ApiError> {
    Ok(api::parse_json_opt(body)?.unwrap_or_default())
}

/// `GET /containers/json?all&limit&size&filters`.
pub fn list(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    let q = &call.query;
    let limit = q.int("limit")?.filter(|n| *n > 0).map(|n| n as usize);
    let opts = ListOptions {
        all: q.bool("all"),
        limit,
        size: q.bool("size"),
        filters: filters(q)?,
    };
    Ok(ok_json(&daemon.engine.container_list(&opts)?))
}

/// `POST /containers/prune?filters`.
pub async fn prune(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    let f = filters(&call.query)?;
    Ok(ok_json(&daemon.engine.container_prune(&f).await?))
}

/// A `t` (seconds) parameter.
fn timeout(call: &Call) -> Result<Option<i64>, ApiError> {
    call.query.int("t")
}

/// `h` and `w` of a resize.
pub fn size(q: &Query) -> Result<(u16, u16), ApiError> {
    let dim = |k: &str| -> Result<u16, ApiError> {
        let v = q.get(k).unwrap_or("");
        v.trim()
            .parse::<u16>()
            .map_err(|_| ApiError::bad_request(format!("invalid value for {k}: {v:?}")))
    };
    Ok((dim("h")?, dim("w")?))
}

/// The container routes with an id.
pub async fn handle(
    daemon: &Arc<Daemon>,
    id: &str,
    op: ContainerOp,
    call: Call,
) -> Result<Resp, ApiError> {
    let e = &daemon.engine;
    let q = &call.query;
    let no_content = || Ok(status_only(StatusCode::NO_CONTENT));
    match op {
        ContainerOp::Inspect => Ok(ok_json(&e.container_inspect(id, q.bool("size"))?)),
        ContainerOp::Start => {
            if q.nonempty("checkpoint").is_some() {
                return Err(ApiError::bad_request("checkpoints are not supported"));
            }
            let body = api::read_body(call.req.into_body(), api::JSON_BODY_LIMIT).await?;
            let empty = body.iter().all(u8::is_ascii_whitespace);
            if !empty && &body[..] != b"null" && &body[..] != b"{}" {
                return Err(ApiError::bad_request(
                    "starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24",
                ));
            }
            e.container_start(id).await?;
            no_content()
        }
        ContainerOp::Stop => {
            e.container_stop(
                id,
                timeout(&call)?,
                q.nonempty("signal").map(str::to_string),
            )
            .await?;
            no_content()
        }
        ContainerOp::Restart => {
            e.container_restart(
                id,
                timeout(&call)?,
                q.nonempty("signal").map(str::to_string),
            )
            .await?;
            no_content()
        }
        ContainerOp::Kill => {
            e.container_kill(id, q.nonempty("signal").map(str::to_string))
                .await?;
            no_content()
        }
        ContainerOp::Pause => {
            e.container_pause(id).await?;
            no_content()
        }
        ContainerOp::Unpause => {
            e.container_unpause(id).await?;
            no_content()
        }
        ContainerOp::Rename => {
            e.container_rename(id, q.get("name").unwrap_or("")).await?;
            no_content()
        }
        ContainerOp::Remove => {
            if q.bool("link") {
                return Err(ApiError::bad_request("links are not supported"));
            }
            e.container_remove(id, q.bool("force"), q.bool("v")).await?;
            no_content()
        }
        ContainerOp::Update => {
            let (parts, body) = call.req.into_parts();
            api::check_json_content_type(&parts.headers)?;
            let update = update_request(&api::read_body(body, api::JSON_BODY_LIMIT).await?)?;
            Ok(ok_json(&e.container_update(id, update).await?))
        }
        ContainerOp::Top => Ok(ok_json(&e.container_top(id, q.nonempty("ps_args")).await?)),
        ContainerOp::Resize => {
            let (h, w) = size(q)?;
            e.container_resize(id, h, w).await?;
            Ok(status_only(StatusCode::OK))
        }
        ContainerOp::Wait => wait(daemon, id, &call),
        ContainerOp::Logs => logs(daemon, id, &call),
        ContainerOp::Attach => attach(daemon, id, call).await,
        ContainerOp::ExecCreate => crate::handlers::exec::create(daemon, id, call).await,
        ContainerOp::Stats => container_fs::stats(daemon, id, &call),
        ContainerOp::Changes => container_fs::changes(daemon, id).await,
        ContainerOp::Export => container_fs::export(daemon, id).await,
        ContainerOp::ArchiveStat => container_fs::archive_stat(daemon, id, &call).await,
        ContainerOp::ArchiveGet => container_fs::archive_get(daemon, id, &call).await,
        ContainerOp::ArchivePut => container_fs::archive_put(daemon, id, call).await,
        ContainerOp::AttachWs => crate::handlers::attach_ws::attach_ws(daemon, id, call).await,
    }
}

/// `POST /containers/{id}/wait?condition=`: the head goes out at once
/// (`docker run` waits for it before it starts the container); the body
/// when the condition is met.
fn wait(daemon: &Arc<Daemon>, id: &str, call: &Call) -> Result<Resp, ApiError> {
    let cond = WaitCondition::parse(call.query.get("condition").unwrap_or(""))?;
    let fut = daemon.engine.container_wait(id, cond)?;
    let (tx, body) = Body::channel();
    tokio::spawn(async move {
        let resp: WaitResponse = tokio::select! {
            r = fut => r,
            _ = tx.closed() => return,
        };
        let _ = tx.send_json_line(&resp).await;
    });
    let mut r = http::Response::new(body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

/// `GET /containers/{id}/logs`: stdcopy frames, or raw with a tty.
fn logs(daemon: &Arc<Daemon>, id: &str, call: &Call) -> Result<Resp, ApiError> {
    use berth_engine::containers::logs::parse_api_time;
    let q = &call.query;
    let (stdout, stderr) = (q.bool("stdout"), q.bool("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tail = match q.get("tail").unwrap_or("all") {
        "all" | "" => None,
        n => n
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|n| usize::try_from(n).ok()),
    };
    let opts = LogOptions {
        follow: q.bool("follow"),
        stdout,
        stderr,
        since: parse_api_time(q.get("since").unwrap_or(""))?,
        until: parse_api_time(q.get("until").unwrap_or(""))?,
        timestamps: q.bool("timestamps"),
        tail,
    };
    let tty = daemon.engine.container_inspect(id, false)?.config.tty;
    let mut rx = daemon.engine.container_logs(id, opts)?;
    let (tx, body) = Body::channel();
    tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                m = rx.recv() => m,
                _ = tx.closed() => return,
            };
            let Some(msg) = msg else { return };
            let chunk = if tty {
                msg.bytes
            } else {
                let stream = match msg.stream {
                    LogStream::Stdout => Stream::Stdout,
                    LogStream::Stderr => Stream::Stderr,
                };
                let mut out = Vec::with_capacity(msg.bytes.len() + 8);
                encode_frame(stream, &msg.bytes, &mut out);
                out
            };
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
    });
    let mut r = http::Response::new(body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(RAW_STREAM));
    Ok(r)
}

/// `POST /containers/{id}/attach?stream&stdin&stdout&stderr&logs&detachKeys`.
async fn attach(daemon: &Arc<Daemon>, id: &str, call: Call) -> Result<Resp, ApiError> {
    let q = &call.query;
    let detach =
        DetachKeys::parse(q.get("detachKeys").unwrap_or("")).map_err(ApiError::bad_request)?;
    let stdin = q.bool("stdin");
    let a = daemon
        .engine
        .container_attach(
            id,
            stdin,
            q.bool("stdout"),
            q.bool("stderr"),
            q.bool("logs"),
            q.bool("stream"),
        )
        .await?;
    let (parts, _body) = call.req.into_parts();
    Ok(hijack::respond(
        http::Request::from_parts(parts, ()),
        a.stream,
        stdin,
        detach,
        format!("attach {id}"),
    ))
}
