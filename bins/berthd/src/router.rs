//! The route table: a request's method and path to a [`Route`] value.
//!
//! Paths may carry a `/vX.Y` version prefix (dockerd's `/v{version:[0-9.]+}`).
//! Image names contain `/`, so image routes are matched on their last
//! segment (`/images/{name...}/json`), not with a fixed-arity pattern.
//! Segments are percent-decoded before matching.

use http::Method;

use berth_api_types::error::parse_version_prefix;

use crate::query::decode_path;

/// What a container route does to the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerOp {
    Inspect,
    Top,
    Logs,
    Changes,
    Export,
    Stats,
    Start,
    Stop,
    Restart,
    Kill,
    Wait,
    Attach,
    AttachWs,
    Resize,
    Pause,
    Unpause,
    Rename,
    Update,
    Remove,
    ArchiveStat,
    ArchiveGet,
    ArchivePut,
    ExecCreate,
}

/// A `/plugins` endpoint. berthd has no plugins: see `handlers::unsupported`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginRoute {
    List,
    Privileges,
    Pull,
    Create,
    Inspect(String),
    Enable(String),
    Upgrade(String),
    /// disable, remove, set, push: the plugin is looked up first.
    Other(String),
}

/// A swarm-mode endpoint (`/swarm`, `/nodes`, `/services`, `/tasks`, `/secrets`,
/// `/configs`). berthd is never part of a swarm: see `handlers::unsupported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwarmRoute {
    /// `POST /swarm/init` and `POST /swarm/join`.
    Enable,
    Leave,
    Update,
    /// `GET /services/{id}/logs`, `GET /tasks/{id}/logs`.
    Logs,
    /// Every other one: it needs a manager.
    Manager,
}

/// One endpoint of the Engine API, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Ping,
    Version,
    Info,
    Events,
    SystemDf,
    Auth,
    ImageList,
    /// `POST /images/create`: import (`fromSrc`) or pull (`fromImage`).
    ImageCreate,
    ImageLoad,
    /// `GET /images/get?names=...`
    ImageSaveMany,
    ImageSearch,
    ImagePrune,
    ImageInspect(String),
    ImageHistory(String),
    ImageSave(String),
    ImageTag(String),
    ImagePush(String),
    ImageRemove(String),
    Commit,
    Build,
    BuildPrune,
    ContainerList,
    ContainerCreate,
    ContainerPrune,
    Container(String, ContainerOp),
    ExecStart(String),
    ExecResize(String),
    ExecInspect(String),
    Plugin(PluginRoute),
    Swarm(SwarmRoute),
    VolumeList,
    VolumeCreate,
    VolumePrune,
    VolumeInspect(String),
    VolumeRemove(String),
    NetworkList,
    NetworkCreate,
    NetworkPrune,
    NetworkInspect(String),
    NetworkRemove(String),
    NetworkConnect(String),
    NetworkDisconnect(String),
}

/// A matched request: the route and the version its prefix asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub version: Option<String>,
    pub route: Route,
}

/// Matches a request; `None` is dockerd's 404 "page not found".
pub fn route(method: &Method, path: &str) -> Option<Routed> {
    let (version, rest) = parse_version_prefix(path);
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_path)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let route = match_segments(method, &segs)?;
    Some(Routed {
        version: version.map(str::to_string),
        route,
    })
}

fn match_segments(m: &Method, segs: &[&str]) -> Option<Route> {
    use ContainerOp as C;
    let get = m == Method::GET;
    let post = m == Method::POST;
    let head = m == Method::HEAD;
    Some(match segs {
        ["_ping"] if get || head => Route::Ping,
        ["version"] if get => Route::Version,
        ["info"] if get => Route::Info,
        ["events"] if get => Route::Events,
        ["system", "df"] if get => Route::SystemDf,
        ["auth"] if post => Route::Auth,
        ["commit"] if post => Route::Commit,
        ["build"] if post => Route::Build,
        ["build", "prune"] if post => Route::BuildPrune,
        ["images", rest @ ..] => return match_image(m, rest),
        ["containers", "json"] if get => Route::ContainerList,
        ["containers", "create"] if post => Route::ContainerCreate,
        ["containers", "prune"] if post => Route::ContainerPrune,
        ["containers", id] if m == Method::DELETE => Route::Container(id.to_string(), C::Remove),
        ["containers", id, op] => {
            let op = match (m.as_str(), *op) {
                ("GET", "json") => C::Inspect,
                ("GET", "top") => C::Top,
                ("GET", "logs") => C::Logs,
                ("GET", "changes") => C::Changes,
                ("GET", "export") => C::Export,
                ("GET", "stats") => C::Stats,
                ("POST", "start") => C::Start,
                ("POST", "stop") => C::Stop,
                ("POST", "restart") => C::Restart,
                ("POST", "kill") => C::Kill,
                ("POST", "wait") => C::Wait,
                ("POST", "attach") => C::Attach,
                ("POST", "resize") => C::Resize,
                ("POST", "pause") => C::Pause,
                ("POST", "unpause") => C::Unpause,
                ("POST", "rename") => C::Rename,
                ("POST", "update") => C::Update,
                ("POST", "exec") => C::ExecCreate,
                ("HEAD", "archive") => C::ArchiveStat,
                ("GET", "archive") => C::ArchiveGet,
                ("PUT", "archive") => C::ArchivePut,
                _ => return None,
            };
            Route::Container(id.to_string(), op)
        }
        ["containers", id, "attach", "ws"] if get => Route::Container(id.to_string(), C::AttachWs),
        ["networks"] if get => Route::NetworkList,
        ["networks", "create"] if post => Route::NetworkCreate,
        ["networks", "prune"] if post => Route::NetworkPrune,
        ["networks", id] if get => Route::NetworkInspect(id.to_string()),
        ["networks", id] if m == Method::DELETE => Route::NetworkRemove(id.to_string()),
        ["networks", id, "connect"] if post => Route::NetworkConnect(id.to_string()),
        ["networks", id, "disconnect"] if post => Route::NetworkDisconnect(id.to_string()),
        ["volumes"] if get => Route::VolumeList,
        ["volumes", "create"] if post => Route::VolumeCreate,
        ["volumes", "prune"] if post => Route::VolumePrune,
        ["volumes", name] if get => Route::VolumeInspect(name.to_string()),
        ["volumes", name] if m == Method::DELETE => Route::VolumeRemove(name.to_string()),
        ["exec", id, "start"] if post => Route::ExecStart(id.to_string()),
        ["exec", id, "resize"] if post => Route::ExecResize(id.to_string()),
        ["exec", id, "json"] if get => Route::ExecInspect(id.to_string()),
        ["plugins", rest @ ..] => return match_plugin(m, rest).map(Route::Plugin),
        [family, rest @ ..]
            if matches!(
                *family,
                "swarm" | "nodes" | "services" | "tasks" | "secrets" | "configs"
            ) =>
        {
            return match_swarm(m, family, rest).map(Route::Swarm);
        }
        _ => return None,
    })
}

/// dockerd's plugin routes; names may hold `/` (`vieux/sshfs:latest`).
fn match_plugin(m: &Method, rest: &[&str]) -> Option<PluginRoute> {
    let get = m == Method::GET;
    let post = m == Method::POST;
    let name = |n: &[&str]| (!n.is_empty()).then(|| n.join("/"));
    match rest {
        [] if get => Some(PluginRoute::List),
        ["privileges"] if get => Some(PluginRoute::Privileges),
        ["pull"] if post => Some(PluginRoute::Pull),
        ["create"] if post => Some(PluginRoute::Create),
        _ if m == Method::DELETE => name(rest).map(PluginRoute::Other),
        [n @ .., "json"] if get => name(n).map(PluginRoute::Inspect),
        [n @ .., "enable"] if post => name(n).map(PluginRoute::Enable),
        [n @ .., "upgrade"] if post => name(n).map(PluginRoute::Upgrade),
        [n @ .., "disable" | "set" | "push"] if post => name(n).map(PluginRoute::Other),
        _ => None,
    }
}

/// dockerd's swarm-mode routes.
fn match_swarm(m: &Method, family: &str, rest: &[&str]) -> Option<SwarmRoute> {
    let (get, post, delete) = (m == Method::GET, m == Method::POST, m == Method::DELETE);
    use SwarmRoute as S;
    if family == "swarm" {
        return match rest {
            [] if get => Some(S::Manager),
            ["init" | "join"] if post => Some(S::Enable),
            ["leave"] if post => Some(S::Leave),
            ["update"] if post => Some(S::Update),
            ["unlock"] if post => Some(S::Manager),
            ["unlockkey"] if get => Some(S::Manager),
            _ => None,
        };
    }
    match rest {
        [] if get => Some(S::Manager),
        ["create"] if post && family != "nodes" && family != "tasks" => Some(S::Manager),
        [_] if get => Some(S::Manager),
        [_] if delete && family != "tasks" => Some(S::Manager),
        [_, "update"] if post && family != "tasks" => Some(S::Manager),
        [_, "logs"] if get && (family == "services" || family == "tasks") => Some(S::Logs),
        _ => None,
    }
}

fn match_image(m: &Method, rest: &[&str]) -> Option<Route> {
    let get = m == Method::GET;
    let post = m == Method::POST;
    match rest {
        [] => None,
        ["json"] if get => Some(Route::ImageList),
        ["create"] if post => Some(Route::ImageCreate),
        ["load"] if post => Some(Route::ImageLoad),
        ["get"] if get => Some(Route::ImageSaveMany),
        ["search"] if get => Some(Route::ImageSearch),
        ["prune"] if post => Some(Route::ImagePrune),
        _ if m == Method::DELETE => Some(Route::ImageRemove(rest.join("/"))),
        [name @ .., op] if !name.is_empty() => {
            let name = name.join("/");
            match (m.as_str(), *op) {
                ("GET", "json") => Some(Route::ImageInspect(name)),
                ("GET", "history") => Some(Route::ImageHistory(name)),
                ("GET", "get") => Some(Route::ImageSave(name)),
                ("POST", "tag") if post => Some(Route::ImageTag(name)),
                ("POST", "push") if post => Some(Route::ImagePush(name)),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(m: Method, p: &str) -> Option<Route> {
        route(&m, p).map(|r| r.route)
    }

    #[test]
    fn version_prefix_is_optional() {
        let a = route(&Method::GET, "/v1.41/info").unwrap();
        assert_eq!(a.version.as_deref(), Some("1.41"));
        assert_eq!(a.route, Route::Info);
        let b = route(&Method::GET, "/info").unwrap();
        assert_eq!(b.version, None);
        assert_eq!(b.route, Route::Info);
        assert_eq!(
            route(&Method::HEAD, "/v1.50/_ping")
                .unwrap()
                .version
                .as_deref(),
            Some("1.50")
        );
        assert_eq!(r(Method::GET, "/vx/info"), None);
    }

    #[test]
    fn image_names_with_slashes_route_by_suffix() {
        assert_eq!(
            r(
                Method::GET,
                "/v1.41/images/docker.io/library/busybox:latest/json"
            ),
            Some(Route::ImageInspect(
                "docker.io/library/busybox:latest".into()
            ))
        );
        assert_eq!(
            r(Method::POST, "/images/a/b/tag"),
            Some(Route::ImageTag("a/b".into()))
        );
        assert_eq!(
            r(Method::DELETE, "/images/reg:5000/a/json"),
            Some(Route::ImageRemove("reg:5000/a/json".into()))
        );
        assert_eq!(r(Method::GET, "/images/json"), Some(Route::ImageList));
        assert_eq!(
            r(Method::GET, "/images/json/json"),
            Some(Route::ImageInspect("json".into()))
        );
        assert_eq!(
            r(Method::GET, "/images/a%2Fb/history"),
            Some(Route::ImageHistory("a/b".into()))
        );
        assert_eq!(r(Method::GET, "/images/get"), Some(Route::ImageSaveMany));
        assert_eq!(
            r(Method::GET, "/images/x/get"),
            Some(Route::ImageSave("x".into()))
        );
        assert_eq!(r(Method::POST, "/images/x/json"), None);
        assert_eq!(r(Method::GET, "/images"), None);
    }

    #[test]
    fn container_routes() {
        assert_eq!(
            r(Method::POST, "/v1.41/containers/abc/start"),
            Some(Route::Container("abc".into(), ContainerOp::Start))
        );
        assert_eq!(
            r(Method::DELETE, "/containers/abc"),
            Some(Route::Container("abc".into(), ContainerOp::Remove))
        );
        assert_eq!(
            r(Method::HEAD, "/containers/abc/archive"),
            Some(Route::Container("abc".into(), ContainerOp::ArchiveStat))
        );
        assert_eq!(
            r(Method::GET, "/containers/json"),
            Some(Route::ContainerList)
        );
        assert_eq!(r(Method::GET, "/containers/abc/start"), None);
        assert_eq!(r(Method::POST, "/containers/abc/bogus"), None);
        assert_eq!(
            r(Method::POST, "/exec/e1/start"),
            Some(Route::ExecStart("e1".into()))
        );
    }

    #[test]
    fn volume_routes() {
        assert_eq!(r(Method::GET, "/v1.41/volumes"), Some(Route::VolumeList));
        assert_eq!(
            r(Method::POST, "/volumes/create"),
            Some(Route::VolumeCreate)
        );
        assert_eq!(r(Method::POST, "/volumes/prune"), Some(Route::VolumePrune));
        assert_eq!(
            r(Method::GET, "/volumes/data"),
            Some(Route::VolumeInspect("data".into()))
        );
        assert_eq!(
            r(Method::DELETE, "/volumes/data"),
            Some(Route::VolumeRemove("data".into()))
        );
        assert_eq!(r(Method::POST, "/volumes/data"), None);
        assert_eq!(r(Method::GET, "/volumes/create/x"), None);
    }

    #[test]
    fn system_routes_and_plugins() {
        assert_eq!(r(Method::HEAD, "/_ping"), Some(Route::Ping));
        assert_eq!(r(Method::POST, "/_ping"), None);
        assert_eq!(r(Method::GET, "/system/df"), Some(Route::SystemDf));
        assert_eq!(
            r(Method::GET, "/plugins/vieux/sshfs:latest/json"),
            Some(Route::Plugin(PluginRoute::Inspect(
                "vieux/sshfs:latest".into()
            )))
        );
        assert_eq!(
            r(Method::GET, "/v1.41/plugins"),
            Some(Route::Plugin(PluginRoute::List))
        );
        assert_eq!(
            r(Method::DELETE, "/plugins/a/b"),
            Some(Route::Plugin(PluginRoute::Other("a/b".into())))
        );
        assert_eq!(
            r(Method::POST, "/plugins/x/enable"),
            Some(Route::Plugin(PluginRoute::Enable("x".into())))
        );
        assert_eq!(r(Method::POST, "/plugins/json"), None);
    }

    #[test]
    fn swarm_routes_answer_as_a_node_outside_a_swarm() {
        use SwarmRoute as S;
        for (m, p, want) in [
            (Method::GET, "/swarm", S::Manager),
            (Method::POST, "/swarm/init", S::Enable),
            (Method::POST, "/swarm/join", S::Enable),
            (Method::POST, "/swarm/leave", S::Leave),
            (Method::POST, "/swarm/update", S::Update),
            (Method::GET, "/swarm/unlockkey", S::Manager),
            (Method::GET, "/nodes", S::Manager),
            (Method::POST, "/nodes/n1/update", S::Manager),
            (Method::POST, "/services/create", S::Manager),
            (Method::GET, "/services/s1/logs", S::Logs),
            (Method::GET, "/tasks/t1/logs", S::Logs),
            (Method::DELETE, "/secrets/s", S::Manager),
            (Method::GET, "/v1.41/configs/c", S::Manager),
        ] {
            assert_eq!(r(m.clone(), p), Some(Route::Swarm(want)), "{m} {p}");
        }
        assert_eq!(r(Method::POST, "/nodes/create"), None);
        assert_eq!(r(Method::DELETE, "/tasks/t"), None);
        assert_eq!(r(Method::GET, "/swarm/nope"), None);
        assert_eq!(r(Method::GET, "/nope"), None);
        assert_eq!(r(Method::GET, "/"), None);
    }

    /// Routing and query parsing take any bytes a client sends without
    /// panicking: a cheap deterministic fuzz over mutations of real paths.
    #[test]
    fn arbitrary_paths_never_panic() {
        let seeds = [
            "/v1.41/images/a/b:c/json?x=%zz&y",
            "/containers/%ff%fe/attach?stream=1&&=&%",
            "/v/v1./v1.41.9/_ping",
            "/plugins//json",
            "/images//tag",
            "/exec/%2F%2F/start",
        ];
        let alphabet: &[u8] = b"/%.?&=+:v1249azZ\xff";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for seed in seeds {
            for _ in 0..2000 {
                let mut b = seed.as_bytes().to_vec();
                for _ in 0..(next() % 4 + 1) {
                    let pos = (next() as usize) % (b.len() + 1);
                    let c = alphabet[(next() as usize) % alphabet.len()];
                    match next() % 3 {
                        0 if pos < b.len() => b[pos] = c,
                        1 if pos < b.len() => {
                            b.remove(pos);
                        }
                        _ => b.insert(pos, c),
                    }
                }
                let text = String::from_utf8_lossy(&b);
                let (path, query) = text.split_once('?').unwrap_or((&text, ""));
                for m in [
                    Method::GET,
                    Method::POST,
                    Method::DELETE,
                    Method::HEAD,
                    Method::PUT,
                ] {
                    let _ = route(&m, path);
                }
                let q = crate::query::Query::parse(Some(query));
                let _ = (q.bool("x"), q.int("y"), q.all("names"));
            }
        }
    }
}
