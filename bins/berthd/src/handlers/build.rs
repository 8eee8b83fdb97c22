//! `POST /build` (the classic builder: a tar context in, a JSON-message
//! stream of the build's output out) and `POST /build/prune`.
//!
//! What is wrong with the request itself (query, context, Dockerfile
//! syntax, target) is a 400 `{"message"}` before any output, as dockerd
//! answers; once the build runs, its failure is the stream's last message
//! (`errorDetail`, with the exit code of a failed RUN). A client that goes
//! away stops the build.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api_types::container::Resources;
use berth_api_types::jsonmessage::{ErrorDetail, JsonMessage};
use berth_builder::{BuildError, BuildOptions, Event};
use berth_engine::images::ReadBridge;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};

use crate::api::{ApiError, Resp, ok_json};
use crate::body::Body;
use crate::daemon::Daemon;
use crate::handlers::Call;
use crate::query::Query;
use crate::streams::IncomingReader;

fn json_param<T: serde::de::DeserializeOwned + Default>(
    q: &Query,
    key: &str,
) -> Result<T, ApiError> {
    match q.nonempty(key) {
        None => Ok(T::default()),
        Some(v) => serde_json::from_str(v)
            .map_err(|e| ApiError::bad_request(format!("invalid {key} parameter {v:?}: {e}"))),
    }
}

fn int(q: &Query, key: &str) -> Result<i64, ApiError> {
    Ok(q.int(key)?.unwrap_or(0))
}

/// The build's options from the query (dockerd's `newImageBuildOptions`).
pub fn options(q: &Query) -> Result<BuildOptions, ApiError> {
    if let Some(v) = q.nonempty("version") {
        if v != "1" {
            return Err(ApiError::bad_request(format!(
                "unsupported builder version {v:?}: only the classic builder (version=1) is available"
            )));
        }
    }
    if q.nonempty("remote").is_some() {
        return Err(ApiError::bad_request(
            "remote build contexts are not supported; send the context as the request body",
        ));
    }
    let resources = Resources {
        memory: int(q, "memory")?,
        memory_swap: int(q, "memswap")?,
        cpu_shares: int(q, "cpushares")?,
        cpu_period: int(q, "cpuperiod")?,
        cpu_quota: int(q, "cpuquota")?,
        cpuset_cpus: q.get("cpusetcpus").unwrap_or("").to_string(),
        cpuset_mems: q.get("cpusetmems").unwrap_or("").to_string(),
        ..Default::default()
    };
    let extra_hosts = q
        .all("extrahosts")
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    Ok(BuildOptions {
        dockerfile: q.get("dockerfile").unwrap_or("").to_string(),
        tags: q
            .all("t")
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        build_args: json_param::<BTreeMap<String, Option<String>>>(q, "buildargs")?,
        labels: json_param::<BTreeMap<String, String>>(q, "labels")?,
        target: q.nonempty("target").map(str::to_string),
        no_cache: q.bool("nocache"),
        remove: q.bool_or("rm", true),
        force_remove: q.bool("forcerm"),
        quiet: q.bool("q"),
        cache_from: json_param::<Vec<String>>(q, "cachefrom")?,
        network_mode: q.get("networkmode").unwrap_or("").to_string(),
        platform: q.nonempty("platform").map(str::to_string),
        resources,
        shm_size: int(q, "shmsize")?,
        extra_hosts,
    })
}

fn error_message(e: &BuildError) -> JsonMessage {
    let mut m = JsonMessage::error(e.to_string());
    if let Some(code) = e.code() {
        m.error_detail = Some(ErrorDetail {
            code,
            message: e.to_string(),
        });
    }
    m
}

/// `POST /build`.
pub async fn build(daemon: &Arc<Daemon>, call: Call) -> Result<Resp, ApiError> {
    let opts = options(&call.query)?;
    let reader = ReadBridge::new(IncomingReader::new(call.req.into_body()));
    let prepared = berth_builder::prepare(daemon.engine.clone(), reader, opts)
        .await
        .map_err(|e| {
            if e.is_invalid_argument() {
                ApiError::bad_request(e.to_string())
            } else {
                ApiError::internal(e.to_string())
            }
        })?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(64);
    let task = tokio::spawn(prepared.run(tx));
    let (sender, body) = Body::channel();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            let m = match ev {
                Event::Stream(s) => JsonMessage::stream(s),
                Event::Aux(v) => JsonMessage::aux(v),
            };
            if sender.send(m.to_line()).await.is_err() {
                // The client went away: dropping the receiver makes the
                // build's next message fail, which stops it.
                break;
            }
        }
        drop(rx);
        let last = match task.await {
            Ok(Ok(_)) => None,
            Ok(Err(BuildError::Cancelled)) => None,
            Ok(Err(e)) => Some(error_message(&e)),
            Err(e) => Some(JsonMessage::error(format!("build task: {e}"))),
        };
        if let Some(m) = last {
            let _ = sender.send(m.to_line()).await;
        }
    });
    let mut r = http::Response::new(body);
    *r.status_mut() = StatusCode::OK;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

/// `POST /build/prune`: forgets the build cache's index (the images stay
/// as images; `docker image prune` takes the dangling ones).
pub async fn prune(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    let all = call.query.bool("all");
    let index = berth_builder::cache::CacheIndex::new(&daemon.engine.config().data_root);
    let engine = daemon.engine.clone();
    let gone = tokio::task::spawn_blocking(move || {
        index.retain(|id| !all && engine.image_service().resolve(id).is_ok())
    })
    .await
    .map_err(|e| ApiError::internal(format!("build prune task: {e}")))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let deleted: Vec<String> = Vec::new();
    crate::debug!("build prune: {gone} cache entries removed");
    Ok(ok_json(&serde_json::json!({
        "CachesDeleted": deleted,
        "SpaceReclaimed": 0,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_becomes_options() {
        let q = Query::parse(Some(
            "t=a%3A1&t=b&dockerfile=df&buildargs=%7B%22X%22%3A%221%22%2C%22Y%22%3Anull%7D\
             &labels=%7B%22l%22%3A%22v%22%7D&target=s&nocache=1&rm=0&forcerm=1&q=1\
             &cachefrom=%5B%22img%22%5D&networkmode=host&memory=1048576&version=1",
        ));
        let o = options(&q).unwrap();
        assert_eq!(o.tags, ["a:1", "b"]);
        assert_eq!(o.dockerfile, "df");
        assert_eq!(o.build_args["X"].as_deref(), Some("1"));
        assert_eq!(o.build_args["Y"], None);
        assert_eq!(o.labels["l"], "v");
        assert_eq!(o.target.as_deref(), Some("s"));
        assert!(o.no_cache && !o.remove && o.force_remove && o.quiet);
        assert_eq!(o.cache_from, ["img"]);
        assert_eq!(o.network_mode, "host");
        assert_eq!(o.resources.memory, 1 << 20);
        assert!(options(&Query::parse(Some("version=2"))).is_err());
        assert!(options(&Query::parse(Some("buildargs=%7Bx"))).is_err());
        let d = options(&Query::parse(None)).unwrap();
        assert!(d.remove, "rm defaults to true");
    }
}
