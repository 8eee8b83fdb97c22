//! Typed calls of the Engine API endpoints the CLI uses. Each is a thin wrapper over
//! [`Client::request`]; endpoints whose models are not in `berth-api-types` yet
//! (networks, volumes) answer `serde_json::Value`.

use berth_api_types::container::{
    ChangeItem, CreateRequest, CreateResponse, InspectResponse, PruneResponse, Summary,
    TopResponse, UpdateConfig, UpdateResponse, WaitResponse,
};
use berth_api_types::exec;
use berth_api_types::filters::Filters;
use berth_api_types::image::{self, DeleteItem, HistoryItem};
use berth_api_types::system::{
    AuthConfig, AuthResponse, DiskUsage, Info, REGISTRY_AUTH_HEADER, Version,
};
use hyper::body::Incoming;
use serde_json::Value;

use crate::{Client, Error, Hijacked};

/// The query of `GET /containers/json`.
#[derive(Debug, Clone, Default)]
pub struct ContainerListOptions {
    pub all: bool,
    /// `-1` (or less) for no limit.
    pub limit: i64,
    pub size: bool,
    pub filters: Filters,
}

/// Which streams an attach takes and whether it replays the log first.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Replay the output logged so far (`logs=1`).
    pub logs: bool,
}

fn filters_param(f: &Filters) -> Option<String> {
    (!f.is_empty()).then(|| f.to_json())
}

impl Client {
    /// `GET /version`.
    pub async fn version(&self) -> Result<Version, Error> {
        self.get("/version").json().await
    }

    /// `GET /info`.
    pub async fn info(&self) -> Result<Info, Error> {
        self.get("/info").json().await
    }

    /// `GET /system/df`.
    pub async fn disk_usage(&self) -> Result<DiskUsage, Error> {
        self.get("/system/df").json().await
    }

    /// `GET /containers/json`.
    pub async fn container_list(&self, o: &ContainerListOptions) -> Result<Vec<Summary>, Error> {
        self.get("/containers/json")
            .flag("all", o.all)
            .query_opt("limit", (o.limit > 0).then_some(o.limit))
            .flag("size", o.size)
            .query_opt("filters", filters_param(&o.filters))
            .json()
            .await
    }

    /// `POST /containers/create`.
    pub async fn container_create(
        &self,
        name: Option<&str>,
        platform: Option<&str>,
        req: &CreateRequest,
    ) -> Result<CreateResponse, Error> {
        self.post("/containers/create")
            .query_opt("name", name.filter(|n| !n.is_empty()))
            .query_opt("platform", platform.filter(|p| !p.is_empty()))
            .json_body(req)?
            .json()
            .await
    }

    /// `GET /containers/{id}/json`.
    pub async fn container_inspect(&self, id: &str, size: bool) -> Result<InspectResponse, Error> {
        self.get(format!("/containers/{}/json", seg(id)))
            .flag("size", size)
            .json()
            .await
    }

    /// `GET /containers/{id}/json` as raw JSON (for templates, which see every field).
    pub async fn container_inspect_raw(&self, id: &str, size: bool) -> Result<Value, Error> {
        self.get(format!("/containers/{}/json", seg(id)))
            .flag("size", size)
            .json()
            .await
    }

    /// `POST /containers/{id}/start`.
    pub async fn container_start(&self, id: &str, detach_keys: Option<&str>) -> Result<(), Error> {
        self.post(format!("/containers/{}/start", seg(id)))
            .query_opt("detachKeys", detach_keys)
            .discard()
            .await
    }

    /// `POST /containers/{id}/stop`.
    pub async fn container_stop(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), Error> {
        self.post(format!("/containers/{}/stop", seg(id)))
            .query_opt("t", timeout)
            .query_opt("signal", signal)
            .discard()
            .await
    }

    /// `POST /containers/{id}/restart`.
    pub async fn container_restart(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), Error> {
        self.post(format!("/containers/{}/restart", seg(id)))
            .query_opt("t", timeout)
            .query_opt("signal", signal)
            .discard()
            .await
    }

    /// `POST /containers/{id}/kill`.
    pub async fn container_kill(&self, id: &str, signal: Option<&str>) -> Result<(), Error> {
        self.post(format!("/containers/{}/kill", seg(id)))
            .query_opt("signal", signal.filter(|s| !s.is_empty()))
            .discard()
            .await
    }

    /// `DELETE /containers/{id}`.
    pub async fn container_remove(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
        link: bool,
    ) -> Result<(), Error> {
        self.delete(format!("/containers/{}", seg(id)))
            .flag("force", force)
            .flag("v", volumes)
            .flag("link", link)
            .discard()
            .await
    }

    /// `POST /containers/{id}/wait`, answered once the headers are in (the daemon
    /// registers the waiter before it sends them, so a start after this is seen).
    /// The returned response's body is the [`WaitResponse`]; see [`wait_result`].
    pub async fn container_wait_begin(
        &self,
        id: &str,
        condition: &str,
    ) -> Result<http::Response<Incoming>, Error> {
        self.post(format!("/containers/{}/wait", seg(id)))
            .query_opt("condition", (!condition.is_empty()).then_some(condition))
            .send()
            .await
    }

    /// `POST /containers/{id}/wait` to the end.
    pub async fn container_wait(&self, id: &str, condition: &str) -> Result<WaitResponse, Error> {
        let resp = self.container_wait_begin(id, condition).await?;
        wait_result(resp).await
    }

    /// `POST /containers/{id}/attach`, hijacked.
    pub async fn container_attach(
        &self,
        id: &str,
        o: AttachOptions,
        detach_keys: Option<&str>,
    ) -> Result<Hijacked, Error> {
        self.post(format!("/containers/{}/attach", seg(id)))
            .flag("stream", true)
            .flag("stdin", o.stdin)
            .flag("stdout", o.stdout)
            .flag("stderr", o.stderr)
            .flag("logs", o.logs)
            .query_opt("detachKeys", detach_keys.filter(|k| !k.is_empty()))
            .header("content-type", "text/plain")
            .hijack()
            .await
    }

    /// `POST /containers/{id}/resize`.
    pub async fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<(), Error> {
        self.post(format!("/containers/{}/resize", seg(id)))
            .query("h", height)
            .query("w", width)
            .discard()
            .await
    }

    /// `GET /containers/{id}/top`.
    pub async fn container_top(
        &self,
        id: &str,
        ps_args: Option<&str>,
    ) -> Result<TopResponse, Error> {
        self.get(format!("/containers/{}/top", seg(id)))
            .query_opt("ps_args", ps_args.filter(|a| !a.is_empty()))
            .json()
            .await
    }

    /// `POST /containers/{id}/pause`.
    pub async fn container_pause(&self, id: &str) -> Result<(), Error> {
        self.post(format!("/containers/{}/pause", seg(id)))
            .discard()
            .await
    }

    /// `POST /containers/{id}/unpause`.
    pub async fn container_unpause(&self, id: &str) -> Result<(), Error> {
        self.post(format!("/containers/{}/unpause", seg(id)))
            .discard()
            .await
    }

    /// `POST /containers/{id}/rename`.
    pub async fn container_rename(&self, id: &str, name: &str) -> Result<(), Error> {
        self.post(format!("/containers/{}/rename", seg(id)))
            .query("name", name)
            .discard()
            .await
    }

    /// `POST /containers/{id}/update`.
    pub async fn container_update(
        &self,
        id: &str,
        update: &UpdateConfig,
    ) -> Result<UpdateResponse, Error> {
        self.post(format!("/containers/{}/update", seg(id)))
            .json_body(update)?
            .json()
            .await
    }

    /// `GET /containers/{id}/changes`.
    pub async fn container_changes(&self, id: &str) -> Result<Vec<ChangeItem>, Error> {
        let v: Option<Vec<ChangeItem>> = self
            .get(format!("/containers/{}/changes", seg(id)))
            .json()
            .await?;
        Ok(v.unwrap_or_default())
    }

    /// `POST /containers/prune`.
    pub async fn container_prune(&self, filters: &Filters) -> Result<PruneResponse, Error> {
        self.post("/containers/prune")
            .query_opt("filters", filters_param(filters))
            .json()
            .await
    }

    /// `POST /containers/{id}/exec`.
    pub async fn exec_create(
        &self,
        id: &str,
        req: &exec::CreateRequest,
    ) -> Result<exec::IdResponse, Error> {
        self.post(format!("/containers/{}/exec", seg(id)))
            .json_body(req)?
            .json()
            .await
    }

    /// `POST /exec/{id}/start` with `Detach: true` (no stream).
    pub async fn exec_start_detached(&self, id: &str, tty: bool) -> Result<(), Error> {
        let req = exec::StartRequest {
            detach: true,
            tty,
            console_size: None,
        };
        self.post(format!("/exec/{}/start", seg(id)))
            .json_body(&req)?
            .discard()
            .await
    }

    /// `POST /exec/{id}/start`, hijacked.
    pub async fn exec_start_attached(&self, id: &str, tty: bool) -> Result<Hijacked, Error> {
        let req = exec::StartRequest {
            detach: false,
            tty,
            console_size: None,
        };
        self.post(format!("/exec/{}/start", seg(id)))
            .json_body(&req)?
            .hijack()
            .await
    }

    /// `POST /exec/{id}/resize`.
    pub async fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<(), Error> {
        self.post(format!("/exec/{}/resize", seg(id)))
            .query("h", height)
            .query("w", width)
            .discard()
            .await
    }

    /// `GET /exec/{id}/json`.
    pub async fn exec_inspect(&self, id: &str) -> Result<exec::InspectResponse, Error> {
        self.get(format!("/exec/{}/json", seg(id))).json().await
    }

    /// `GET /images/json`.
    pub async fn image_list(
        &self,
        all: bool,
        digests: bool,
        filters: &Filters,
    ) -> Result<Vec<image::Summary>, Error> {
        self.get("/images/json")
            .flag("all", all)
            .flag("digests", digests)
            .query_opt("filters", filters_param(filters))
            .json()
            .await
    }

    /// `GET /images/{name}/json`.
    pub async fn image_inspect(&self, name: &str) -> Result<image::InspectResponse, Error> {
        self.get(format!("/images/{}/json", image_seg(name)))
            .json()
            .await
    }

    /// `GET /images/{name}/json` as raw JSON.
    pub async fn image_inspect_raw(&self, name: &str) -> Result<Value, Error> {
        self.get(format!("/images/{}/json", image_seg(name)))
            .json()
            .await
    }

    /// `GET /images/{name}/history`.
    pub async fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>, Error> {
        self.get(format!("/images/{}/history", image_seg(name)))
            .json()
            .await
    }

    /// `DELETE /images/{name}`.
    pub async fn image_remove(
        &self,
        name: &str,
        force: bool,
        no_prune: bool,
    ) -> Result<Vec<DeleteItem>, Error> {
        self.delete(format!("/images/{}", image_seg(name)))
            .flag("force", force)
            .flag("noprune", no_prune)
            .json()
            .await
    }

    /// `POST /images/{name}/tag`.
    pub async fn image_tag(&self, name: &str, repo: &str, tag: &str) -> Result<(), Error> {
        self.post(format!("/images/{}/tag", image_seg(name)))
            .query("repo", repo)
            .query_opt("tag", (!tag.is_empty()).then_some(tag))
            .discard()
            .await
    }

    /// `POST /images/prune`.
    pub async fn image_prune(&self, filters: &Filters) -> Result<image::PruneResponse, Error> {
        self.post("/images/prune")
            .query_opt("filters", filters_param(filters))
            .json()
            .await
    }
}

/// What [`Client::image_pull`] and [`Client::image_push`] send besides the name.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions<'a> {
    /// The tag or digest (`tag` parameter); `None` for every tag of the repository.
    pub tag: Option<&'a str>,
    /// `os[/arch[/variant]]`, or for a push docker's JSON platform object.
    pub platform: Option<&'a str>,
    /// The `X-Registry-Auth` value ([`AuthConfig::to_header_value`]); `e30=` (`{}`)
    /// when there are no credentials.
    pub auth: &'a str,
}

impl Client {
    /// `POST /images/create?fromImage=&tag=&platform=`: a pull. The response is the
    /// JSON-message stream (read it with [`crate::stream::JsonStream`]); a 401 means
    /// the registry wants credentials (the caller may ask for some and retry).
    pub async fn image_pull(
        &self,
        from_image: &str,
        o: &RegistryOptions<'_>,
    ) -> Result<http::Response<Incoming>, Error> {
        self.post("/images/create")
            .query("fromImage", from_image)
            .query_opt("tag", o.tag)
            .query_opt("platform", o.platform)
            .header(REGISTRY_AUTH_HEADER, o.auth)
            .send()
            .await
    }

    /// `POST /images/{name}/push?tag=&platform=`: a push, answered like
    /// [`Client::image_pull`].
    pub async fn image_push(
        &self,
        name: &str,
        o: &RegistryOptions<'_>,
    ) -> Result<http::Response<Incoming>, Error> {
        self.post(format!("/images/{}/push", image_seg(name)))
            .query_opt("tag", o.tag)
            .query_opt("platform", o.platform)
            .header(REGISTRY_AUTH_HEADER, o.auth)
            .send()
            .await
    }

    /// `POST /auth`: checks credentials with the registry (through the daemon).
    pub async fn registry_login(&self, auth: &AuthConfig) -> Result<AuthResponse, Error> {
        self.post("/auth").json_body(auth)?.json().await
    }
}

/// Reads the [`WaitResponse`] of a wait begun with [`Client::container_wait_begin`].
pub async fn wait_result(resp: http::Response<Incoming>) -> Result<WaitResponse, Error> {
    let bytes = crate::read_body(resp, "/containers/wait").await?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Decode {
        path: "/containers/wait".to_string(),
        source,
    })
}

/// A path segment: the characters a URL path cannot hold literally are escaped.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An image reference in a path: its slashes stay (the daemon's routes take them), the
/// rest is escaped like [`seg`].
pub fn image_seg(s: &str) -> String {
    s.split('/').map(seg).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(seg("web"), "web");
        assert_eq!(seg("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(
            image_seg("localhost:5000/a/b:tag"),
            "localhost:5000/a/b:tag"
        );
        assert_eq!(image_seg("x y"), "x%20y");
    }
}
