//! Volume endpoints: create, list, inspect, remove, prune.

use std::sync::Arc;

use berth_api_types::error::{compare_versions, parse_version_prefix};
use berth_api_types::volume::VolumeCreateBody;
use berth_engine::volumes::PruneOptions;
use http::StatusCode;

use crate::api::{self, ApiError, EngineError, Resp, ok_json, status_only};
use crate::daemon::Daemon;
use crate::handlers::{Call, filters};

impl EngineError for berth_engine::volumes::Error {
    fn kind(&self) -> berth_engine::ErrorKind {
        berth_engine::volumes::Error::kind(self)
    }
}

/// `POST /volumes/create`: 201 with the volume.
pub async fn create(daemon: &Arc<Daemon>, call: Call) -> Result<Resp, ApiError> {
    let (parts, body) = call.req.into_parts();
    api::check_json_content_type(&parts.headers)?;
    let req = create_request(&api::read_body(body, api::JSON_BODY_LIMIT).await?)?;
    let v = daemon.engine.volume_create(req)?;
    Ok(api::json(StatusCode::CREATED, &v))
}

/// Decodes a volume create's body. dockerd decodes it strictly: an empty
/// one is an EOF error.
pub fn create_request(body: &[u8]) -> Result<VolumeCreateBody, ApiError> {
    api::parse_json_opt(body)?
        .ok_or_else(|| ApiError::bad_request("got EOF while reading request body"))
}

/// `GET /volumes?filters`.
pub fn list(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    Ok(ok_json(&daemon.engine.volume_list(&filters(&call.query)?)?))
}

/// `GET /volumes/{name}`.
pub fn inspect(daemon: &Arc<Daemon>, name: &str) -> Result<Resp, ApiError> {
    Ok(ok_json(&daemon.engine.volume_inspect(name)?))
}

/// `DELETE /volumes/{name}?force`: 204.
pub fn remove(daemon: &Arc<Daemon>, name: &str, call: &Call) -> Result<Resp, ApiError> {
    daemon
        .engine
        .volume_remove(name, call.query.bool("force"))?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

/// `POST /volumes/prune?filters`. Clients of API versions before 1.42
/// (and requests without a version) prune every unused volume; later
/// ones only anonymous volumes unless `all=true`.
pub async fn prune(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    let (version, _) = parse_version_prefix(call.req.uri().path());
    let legacy_all = version.is_none_or(|v| compare_versions(v, "1.42").is_lt());
    let opts = PruneOptions {
        filters: filters(&call.query)?,
        legacy_all,
    };
    Ok(ok_json(&daemon.engine.volume_prune(&opts).await?))
}
