//! The plugin and swarm-mode endpoints, answered as a dockerd 20.10 with no
//! plugins installed and outside any swarm answers them.
//!
//! berthd implements neither managed plugins nor swarm mode. Listing plugins gives
//! `[]` and naming one gives dockerd's 404; every swarm endpoint gives dockerd's 503
//! "not a swarm manager" (or "not part of a swarm" for leave). What would install a
//! plugin or make this node part of a swarm (`POST /plugins/pull`,
//! `POST /plugins/create`, `POST /swarm/init`, `POST /swarm/join`) is refused with
//! 501 Not Implemented and a message saying so, where dockerd would go on to do it.

use http::StatusCode;

use crate::api::{ApiError, Resp, ok_json};
use crate::router::{PluginRoute, SwarmRoute};

use super::Call;

/// dockerd's message for an endpoint that needs a swarm manager.
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
/// dockerd's message for leaving while outside a swarm.
pub const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";
/// berthd's refusal to enter swarm mode.
pub const NO_SWARM: &str =
    "berth does not implement swarm mode: this node cannot initialize or join a swarm";
/// berthd's refusal to install plugins.
pub const NO_PLUGINS: &str =
    "berth does not implement managed plugins: plugins cannot be installed";

/// Answers a `/plugins` endpoint.
pub fn plugin(route: PluginRoute, call: &Call) -> Result<Resp, ApiError> {
    let not_found = |name: &str| ApiError::not_found(format!("plugin {name:?} not found"));
    match route {
        PluginRoute::List => Ok(ok_json(&Vec::<serde_json::Value>::new())),
        PluginRoute::Privileges | PluginRoute::Pull | PluginRoute::Create => {
            Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, NO_PLUGINS))
        }
        PluginRoute::Enable(name) => {
            // dockerd reads the timeout with strconv.Atoi before the lookup.
            let t = call.query.get("timeout").unwrap_or("");
            if t.parse::<i64>().is_err() {
                return Err(ApiError::internal(format!(
                    "strconv.Atoi: parsing {t:?}: invalid syntax"
                )));
            }
            Err(not_found(&name))
        }
        // dockerd looks the plugin up by its normalized reference.
        PluginRoute::Upgrade(name) => Err(not_found(&with_tag(&name))),
        PluginRoute::Inspect(name) | PluginRoute::Other(name) => Err(not_found(&name)),
    }
}

/// `name` with `:latest` when it has no tag (a `:` after the last `/`) or digest.
fn with_tag(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// Answers a swarm-mode endpoint.
pub fn swarm(route: SwarmRoute, call: &Call) -> Result<Resp, ApiError> {
    let unavailable = |m: &str| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m);
    match route {
        SwarmRoute::Enable => Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, NO_SWARM)),
        SwarmRoute::Leave => Err(unavailable(NOT_IN_A_SWARM)),
        SwarmRoute::Update => {
            // dockerd parses the version before it looks for the swarm.
            let v = call.query.get("version").unwrap_or("");
            if v.parse::<u64>().is_err() {
                return Err(ApiError::bad_request(format!(
                    "invalid swarm version '{v}': strconv.ParseUint: parsing {v:?}: invalid syntax"
                )));
            }
            Err(unavailable(NOT_A_MANAGER))
        }
        SwarmRoute::Logs => {
            if !call.query.bool("stdout") && !call.query.bool("stderr") {
                return Err(ApiError::internal(
                    "Bad parameters: you must choose at least one stream",
                ));
            }
            Err(unavailable(NOT_A_MANAGER))
        }
        SwarmRoute::Manager => Err(unavailable(NOT_A_MANAGER)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_names_are_normalized() {
        assert_eq!(with_tag("x"), "x:latest");
        assert_eq!(with_tag("reg:5000/x"), "reg:5000/x:latest");
        assert_eq!(with_tag("a/b:1"), "a/b:1");
    }
}
