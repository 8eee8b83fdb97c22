//! `POST /commit`: a new image from a container (`docker commit`).

use std::sync::Arc;

use berth_api_types::exec::IdResponse;
use berth_engine::images::{CommitError, CommitOptions, commit::parse_body_config};
use http::StatusCode;

use crate::api::{self, ApiError, EngineError, Resp};
use crate::daemon::Daemon;
use crate::handlers::Call;

impl EngineError for CommitError {
    fn kind(&self) -> berth_engine::ErrorKind {
        CommitError::kind(self)
    }
}

/// `POST /commit?container&repo&tag&comment&author&pause&changes`, the body
/// an optional `container.Config`: 201 `{"Id": "sha256:..."}`. `pause` is
/// true unless given (dockerd since API 1.13).
pub async fn commit(daemon: &Arc<Daemon>, call: Call) -> Result<Resp, ApiError> {
    let q = call.query.clone();
    let container = q.get("container").unwrap_or("").to_string();
    let body = api::read_body(call.req.into_body(), api::JSON_BODY_LIMIT).await?;
    let opts = CommitOptions {
        repo: q.nonempty("repo").map(str::to_string),
        tag: q.nonempty("tag").map(str::to_string),
        comment: q.get("comment").unwrap_or("").to_string(),
        author: q.get("author").unwrap_or("").to_string(),
        pause: q.bool_or("pause", true),
        changes: q.all("changes").into_iter().map(str::to_string).collect(),
        config: parse_body_config(&body)?,
    };
    let id = daemon.engine.container_commit(&container, opts).await?;
    Ok(api::json(StatusCode::CREATED, &IdResponse { id }))
}
