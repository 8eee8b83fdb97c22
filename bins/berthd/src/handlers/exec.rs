//! Exec endpoints: create (`POST /containers/{id}/exec`), start (hijacked
//! or detached), resize, inspect.

use std::sync::Arc;

use berth_api_types::exec::{CreateRequest, IdResponse, StartRequest};
use berth_api_types::stdcopy::{Stream, encode_frame};
use http::StatusCode;

use crate::api::{self, ApiError, Resp, ok_json, status_only};
use crate::daemon::Daemon;
use crate::handlers::Call;
use crate::handlers::containers::size;
use crate::hijack::{self, DetachKeys};

/// `POST /containers/{id}/exec`: 201 with the exec's ID.
pub async fn create(daemon: &Arc<Daemon>, container: &str, call: Call) -> Result<Resp, ApiError> {
    let (parts, body) = call.req.into_parts();
    api::check_json_content_type(&parts.headers)?;
    let req = create_request(&api::read_body(body, api::JSON_BODY_LIMIT).await?)?;
    let id = daemon.engine.exec_create(container, req)?;
    Ok(api::json(StatusCode::CREATED, &IdResponse { id }))
}

/// Decodes an exec create's body and checks its detach keys (a bad
/// sequence is a 400 now rather than at start).
pub fn create_request(body: &[u8]) -> Result<CreateRequest, ApiError> {
    let req: CreateRequest = api::parse_json_opt(body)?
        .ok_or_else(|| ApiError::bad_request("No exec command specified"))?;
    DetachKeys::parse(&req.detach_keys).map_err(ApiError::bad_request)?;
    Ok(req)
}

/// `POST /exec/{id}/start`: detached (200, empty), or a stream. As in
/// dockerd, an attached exec gets its `101` before the process starts, so
/// a start failure (a missing command) is written into the stream and the
/// exit code (126/127) is left for `GET /exec/{id}/json`.
pub async fn start(daemon: &Arc<Daemon>, id: &str, call: Call) -> Result<Resp, ApiError> {
    let (parts, body) = call.req.into_parts();
    let start: StartRequest = api::read_json_opt(&parts.headers, body)
        .await?
        .unwrap_or_default();
    // Unknown execs are a 404 before anything is hijacked.
    let inspect = daemon.engine.exec_inspect(id)?;
    let keys = DetachKeys::from_bytes(inspect.detach_keys.clone().unwrap_or_default());
    let req = http::Request::from_parts(parts, ());
    if start.detach {
        daemon
            .engine
            .exec_start(id, true, start.console_size)
            .await?;
        return Ok(status_only(StatusCode::OK));
    }
    if !hijack::wants_upgrade(req.headers()) {
        return match daemon
            .engine
            .exec_start(id, false, start.console_size)
            .await?
        {
            Some(s) => Ok(hijack::respond(
                req,
                s.stream,
                false,
                keys,
                format!("exec {id}"),
            )),
            None => Ok(status_only(StatusCode::OK)),
        };
    }
    let engine = daemon.engine.clone();
    let id = id.to_string();
    let stdin = inspect.open_stdin;
    let tty = inspect.process_config.as_ref().is_some_and(|p| p.tty);
    Ok(hijack::respond_later(req, async move {
        match engine.exec_start(&id, false, start.console_size).await {
            Ok(Some(s)) => Ok((s.stream, stdin, keys)),
            Ok(None) => Err(Vec::new()),
            Err(e) => {
                crate::error!("Error running exec {id} in container: {e}");
                // dockerd writes it as the exec's output: framed as stdout
                // without a tty.
                let text = format!("{e}\r\n");
                let mut out = Vec::with_capacity(text.len() + 8);
                if tty {
                    out.extend_from_slice(text.as_bytes());
                } else {
                    encode_frame(Stream::Stdout, text.as_bytes(), &mut out);
                }
                Err(out)
            }
        }
    }))
}

/// `POST /exec/{id}/resize?h&w`.
pub async fn resize(daemon: &Arc<Daemon>, id: &str, call: &Call) -> Result<Resp, ApiError> {
    let (h, w) = size(&call.query)?;
    daemon.engine.exec_resize(id, h, w).await?;
    Ok(status_only(StatusCode::OK))
}

/// `GET /exec/{id}/json`.
pub fn inspect(daemon: &Arc<Daemon>, id: &str) -> Result<Resp, ApiError> {
    Ok(ok_json(&daemon.engine.exec_inspect(id)?))
}
