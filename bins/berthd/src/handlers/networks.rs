//! `/networks` endpoints: thin over the engine's network operations.

use std::sync::Arc;

use berth_api_types::network::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest, NetworkPruneResponse,
};
use berth_engine::ErrorKind;
use http::StatusCode;

use super::{Call, filters};
use crate::api::{self, ApiError, EngineError, Resp, ok_json, status_only};
use crate::daemon::Daemon;

impl EngineError for berth_engine::networks::Error {
    fn kind(&self) -> ErrorKind {
        berth_engine::networks::Error::kind(self)
    }
}

/// `GET /networks`.
pub fn list(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    let f = filters(&call.query)?;
    Ok(ok_json(&daemon.engine.network_list(&f)?))
}

/// `GET /networks/{id}` (`verbose` and `scope` are accepted, as on a
/// single-host daemon they change nothing).
pub fn inspect(daemon: &Arc<Daemon>, id: &str) -> Result<Resp, ApiError> {
    Ok(ok_json(&daemon.engine.network_inspect(id)?))
}

/// `POST /networks/create`.
pub async fn create(daemon: &Arc<Daemon>, call: Call) -> Result<Resp, ApiError> {
    let (parts, body) = call.req.into_parts();
    api::check_json_content_type(&parts.headers)?;
    let req = create_request(&api::read_body(body, api::JSON_BODY_LIMIT).await?)?;
    let resp = daemon.engine.network_create(req).await?;
    Ok(api::json(StatusCode::CREATED, &resp))
}

/// Decodes a network create's body.
pub fn create_request(body: &[u8]) -> Result<NetworkCreateRequest, ApiError> {
    api::parse_json_opt(body)?.ok_or_else(|| ApiError::bad_request("network name is required"))
}

/// `DELETE /networks/{id}`.
pub async fn remove(daemon: &Arc<Daemon>, id: &str) -> Result<Resp, ApiError> {
    daemon.engine.network_remove(id).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

/// `POST /networks/prune`.
pub async fn prune(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    let f = filters(&call.query)?;
    let deleted = daemon.engine.network_prune(&f).await?;
    Ok(ok_json(&NetworkPruneResponse {
        networks_deleted: Some(deleted),
    }))
}

/// `POST /networks/{id}/connect`.
pub async fn connect(daemon: &Arc<Daemon>, id: &str, call: Call) -> Result<Resp, ApiError> {
    let (parts, body) = call.req.into_parts();
    let req: NetworkConnectRequest = api::read_json_opt(&parts.headers, body)
        .await?
        .unwrap_or_default();
    daemon.engine.network_connect(id, req).await?;
    Ok(status_only(StatusCode::OK))
}

/// `POST /networks/{id}/disconnect`.
pub async fn disconnect(daemon: &Arc<Daemon>, id: &str, call: Call) -> Result<Resp, ApiError> {
    let (parts, body) = call.req.into_parts();
    let req: NetworkDisconnectRequest = api::read_json_opt(&parts.headers, body)
        .await?
        .unwrap_or_default();
    daemon
        .engine
        .network_disconnect(id, &req.container, req.force)
        .await?;
    Ok(status_only(StatusCode::OK))
}
