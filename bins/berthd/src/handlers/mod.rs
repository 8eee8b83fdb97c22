//! Request handling: route, check the version, run the endpoint's handler,
//! and turn its error into docker's `{"message": ...}` response.

pub mod attach_ws;
pub mod build;
pub mod commit;
pub mod container_fs;
pub mod containers;
pub mod exec;
pub mod images;
pub mod networks;
pub mod system;
pub mod unsupported;
pub mod volumes;

use std::sync::Arc;

use berth_api_types::filters::Filters;
use http::Request;
use hyper::body::Incoming;

use crate::api::{self, ApiError, Resp};
use crate::daemon::Daemon;
use crate::query::Query;
use crate::router::{self, Route};

/// What a handler gets: the request (head and body), its query, and the
/// API version its path asked for (`None`: the current one).
pub struct Call {
    pub req: Request<Incoming>,
    pub query: Query,
    pub version: Option<String>,
}

/// How much of a body a handler left unread is read before its answer (see
/// [`api::discard_body`]).
const UNREAD_BODY_LIMIT: usize = 1 << 20;

/// Answers one request. Never fails: errors become error responses.
pub async fn dispatch(daemon: &Arc<Daemon>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    crate::debug!("Calling {} {}", req.method(), path);
    let Some(routed) = router::route(req.method(), &path) else {
        return ApiError::not_found("page not found").into_response();
    };
    if let Some(v) = &routed.version {
        if let Err(e) = api::check_version(v) {
            return e.into_response();
        }
    }
    let call = Call {
        query: Query::parse(req.uri().query()),
        req,
        version: routed.version,
    };
    match handle(daemon, routed.route, call).await {
        Ok(r) => r,
        Err(e) => {
            if e.status.is_server_error() {
                crate::error!("Handler for {path} returned error: {}", e.message);
            } else {
                crate::debug!("Handler for {path} returned error: {}", e.message);
            }
            e.into_response()
        }
    }
}

async fn handle(daemon: &Arc<Daemon>, route: Route, call: Call) -> Result<Resp, ApiError> {
    match route {
        Route::Ping => Ok(system::ping(&call)),
        Route::Version => Ok(system::version(daemon).await),
        Route::Info => Ok(system::info(daemon).await),
        Route::Events => system::events(daemon, &call),
        Route::SystemDf => system::disk_usage(daemon).await,
        Route::Auth => system::auth(daemon, call).await,
        Route::ImageList => images::list(daemon, &call).await,
        Route::ImageInspect(name) => images::inspect(daemon, &name).await,
        Route::ImageHistory(name) => images::history(daemon, &name).await,
        Route::ImageTag(name) => images::tag(daemon, &name, &call).await,
        Route::ImageRemove(name) => images::remove(daemon, &name, &call).await,
        Route::ImageCreate => images::create(daemon, call).await,
        Route::ImageLoad => images::load(daemon, call).await,
        Route::ImagePush(name) => images::push(daemon, &name, call).await,
        Route::ImageSave(name) => images::save(daemon, vec![name]).await,
        Route::ImageSaveMany => {
            let names = call
                .query
                .all("names")
                .into_iter()
                .map(str::to_string)
                .collect();
            images::save(daemon, names).await
        }
        Route::ImagePrune => images::prune(daemon, &call).await,
        Route::ImageSearch => images::search(&call),
        Route::Commit => commit::commit(daemon, call).await,
        Route::Build => build::build(daemon, call).await,
        Route::BuildPrune => build::prune(daemon, &call).await,
        Route::ContainerCreate => containers::create(daemon, call).await,
        Route::ContainerList => containers::list(daemon, &call),
        Route::ContainerPrune => containers::prune(daemon, &call).await,
        Route::Container(id, op) => containers::handle(daemon, &id, op, call).await,
        Route::ExecStart(id) => exec::start(daemon, &id, call).await,
        Route::ExecResize(id) => exec::resize(daemon, &id, &call).await,
        Route::ExecInspect(id) => exec::inspect(daemon, &id),
        Route::NetworkList => networks::list(daemon, &call),
        Route::NetworkCreate => networks::create(daemon, call).await,
        Route::NetworkPrune => networks::prune(daemon, &call).await,
        Route::NetworkInspect(id) => networks::inspect(daemon, &id),
        Route::NetworkRemove(id) => networks::remove(daemon, &id).await,
        Route::NetworkConnect(id) => networks::connect(daemon, &id, call).await,
        Route::NetworkDisconnect(id) => networks::disconnect(daemon, &id, call).await,
        Route::VolumeList => volumes::list(daemon, &call),
        Route::VolumeCreate => volumes::create(daemon, call).await,
        Route::VolumePrune => volumes::prune(daemon, &call).await,
        Route::VolumeInspect(name) => volumes::inspect(daemon, &name),
        Route::VolumeRemove(name) => volumes::remove(daemon, &name, &call),
        // These answer without the body; `plugin create` streams a tar.
        Route::Plugin(r) => {
            let resp = unsupported::plugin(r, &call);
            api::discard_body(call.req.into_body(), UNREAD_BODY_LIMIT).await;
            resp
        }
        Route::Swarm(r) => {
            let resp = unsupported::swarm(r, &call);
            api::discard_body(call.req.into_body(), UNREAD_BODY_LIMIT).await;
            resp
        }
    }
}

/// Object counts for `/info`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub containers: i64,
    pub running: i64,
    pub paused: i64,
    pub stopped: i64,
    pub images: i64,
}

/// Counts containers by state and images.
pub async fn system_counts(daemon: &Arc<Daemon>) -> Counts {
    let images = match daemon.engine.image_count().await {
        Ok(n) => n as i64,
        Err(e) => {
            crate::error!("count images: {e}");
            0
        }
    };
    let c = daemon.engine.container_counts();
    Counts {
        containers: c.total as i64,
        running: c.running as i64,
        paused: c.paused as i64,
        stopped: c.stopped as i64,
        images,
    }
}

/// `/system/df`'s content.
pub async fn disk_usage(
    daemon: &Arc<Daemon>,
) -> Result<berth_api_types::system::DiskUsage, ApiError> {
    let images = daemon.engine.image_disk_usage().await?;
    let containers = daemon
        .engine
        .container_list(&berth_engine::containers::ListOptions {
            all: true,
            size: true,
            ..Default::default()
        })?;
    Ok(berth_api_types::system::DiskUsage {
        layers_size: images.layers_size,
        images: Some(images.images),
        containers: Some(containers),
        volumes: Some(daemon.engine.volume_disk_usage().await?),
        // BuildKit's cache records; the classic builder makes none, and
        // dockerd 20.10 then sends `"BuildCache": null` (its builder cache
        // is images, counted above).
        build_cache: None,
        builder_size: 0,
    })
}

/// The `filters` parameter (both JSON forms); malformed is a 400.
pub fn filters(q: &Query) -> Result<Filters, ApiError> {
    Filters::parse(q.get("filters").unwrap_or("")).map_err(|e| ApiError::bad_request(e.to_string()))
}
