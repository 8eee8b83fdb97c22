//! `run`/`create --use-api-socket`, as the docker CLI 28 does it: the daemon's unix
//! socket is bind-mounted at `/var/run/docker.sock`, and the CLI's registry
//! credentials are written into the container as a `config.json` of their own, with
//! `DOCKER_CONFIG` pointing at its directory, so a CLI inside can pull and push as
//! the user.
//!
//! Lifecycle: [`prepare`] changes the create request (the mount, the variable) and
//! returns the credentials to inject, before anything is sent; after the create,
//! [`inject`] copies them in (`PUT /containers/{id}/archive` at `/`). The credentials
//! come from `DOCKER_AUTH_CONFIG` when it holds any, else from `config.json`; none, or
//! a `DOCKER_CONFIG` the user set on the container, means no file and no variable.

use std::collections::BTreeMap;

use berth_client::Host;
use berth_client::types::container::{BindOptions, CreateRequest, Mount};
use berth_client::types::system::AuthConfig;

use super::Ctx;
use crate::config::{self, AuthStore};

/// Where the daemon's socket is mounted in the container.
pub const SOCKET_TARGET: &str = "/var/run/docker.sock";

/// Where the credentials are written in the container; `DOCKER_CONFIG` names its
/// directory.
pub const CONFIG_PATH: &str = "/run/secrets/docker/config.json";

/// The credentials to copy into the container after its create, by registry key.
pub type Credentials = BTreeMap<String, AuthConfig>;

/// Adds the socket's mount and, with credentials, `DOCKER_CONFIG` to `req`; returns
/// the credentials (empty: nothing to inject). `host` is the daemon's address,
/// `env_auth` the value of `DOCKER_AUTH_CONFIG`, `store` the CLI's `config.json`.
/// Nothing in `req` changes on an error.
pub fn prepare(
    host: &Host,
    req: &mut CreateRequest,
    env_auth: Option<&str>,
    store: &AuthStore,
) -> Result<Credentials, String> {
    let Host::Unix(socket) = host else {
        return Err(format!(
            "flag --use-api-socket can only be used with unix sockets: docker endpoint {host} incompatible"
        ));
    };
    let env = req.config.env.get_or_insert_with(Vec::new);
    // A DOCKER_CONFIG of the user's own: the CLI assumes they know what they are
    // doing and injects nothing.
    let user_config = env.iter().any(|e| e.starts_with("DOCKER_CONFIG="));
    let creds = if user_config {
        Credentials::new()
    } else {
        read_credentials(env_auth, store)?
    };
    if !creds.is_empty() {
        let dir = CONFIG_PATH.rsplit_once('/').map_or("/", |(d, _)| d);
        env.push(format!("DOCKER_CONFIG={dir}"));
    }
    let host_config = req.host_config.get_or_insert_with(Default::default);
    host_config.mounts.get_or_insert_with(Vec::new).push(Mount {
        r#type: "bind".into(),
        source: socket.display().to_string(),
        target: SOCKET_TARGET.into(),
        bind_options: Some(BindOptions::default()),
        ..Default::default()
    });
    Ok(creds)
}

/// docker's `readCredentials`: `DOCKER_AUTH_CONFIG` when it is set and holds
/// credentials, else every credential of the configuration file.
fn read_credentials(env_auth: Option<&str>, store: &AuthStore) -> Result<Credentials, String> {
    if let Some(text) = env_auth.filter(|v| !v.is_empty()) {
        let auths = auths_of_config(text).map_err(|e| {
            format!("resolving credentials failed: failed to read credentials from DOCKER_AUTH_CONFIG: {e}")
        })?;
        if !auths.is_empty() {
            return Ok(auths);
        }
    }
    if let Some(w) = store.helper_warning() {
        eprintln!("{w}");
    }
    Ok(store.all())
}

/// The `auths` of a configuration file's text, each `auth` decoded into the user
/// and password (docker's `LoadFromReader`).
fn auths_of_config(text: &str) -> Result<Credentials, String> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct File {
        auths: BTreeMap<String, AuthConfig>,
    }
    let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = Credentials::new();
    for (key, mut a) in file.auths {
        if !a.auth.is_empty() {
            (a.username, a.password) = config::decode_auth(&a.auth)?;
        }
        a.auth.clear();
        a.server_address = key.clone();
        out.insert(key, a);
    }
    Ok(out)
}

/// The container's `config.json`: the credentials alone, written as docker's
/// `SaveToWriter` writes a file (tab-indented, `auth` instead of user and password,
/// no server address, no final newline).
pub fn config_json(creds: &Credentials) -> String {
    use serde::Serialize;
    let auths: serde_json::Map<String, serde_json::Value> = creds
        .iter()
        .map(|(k, a)| {
            let e = AuthConfig {
                auth: config::encode_auth(&a.username, &a.password),
                username: String::new(),
                password: String::new(),
                server_address: String::new(),
                ..a.clone()
            };
            let v = serde_json::to_value(&e).unwrap_or(serde_json::Value::Null);
            (k.clone(), v)
        })
        .collect();
    let doc = serde_json::json!({ "auths": auths });
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Plain data: serializing into memory cannot fail.
    let _ = doc.serialize(&mut ser);
    // Go's encoder escapes <, > and & in strings; serde_json does not.
    String::from_utf8_lossy(&buf)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// A tar of one entry, [`CONFIG_PATH`] (its absolute name as docker writes it, mode
/// 0600, owned by root), holding `content`.
pub fn config_tar(content: &[u8]) -> Result<Vec<u8>, String> {
    let mut h = tar::Header::new_ustar();
    // tar's path setter refuses absolute names; docker's entry has one, and the
    // daemon extracts it below the destination directory anyway.
    let name = &mut h.as_old_mut().name;
    name[..CONFIG_PATH.len()].copy_from_slice(CONFIG_PATH.as_bytes());
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(content.len() as u64);
    h.set_mode(0o600);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, content)
        .and_then(|()| b.into_inner())
        .map_err(|e| format!("writing config to tar file for config copy: {e}"))
}

/// Copies the credentials into container `id` (docker's
/// `copyDockerConfigIntoContainer`); the error is worded as docker's.
pub async fn inject(ctx: &Ctx, id: &str, creds: &Credentials) -> Result<(), String> {
    let fail = |e: String| format!("injecting docker config.json into container failed: {e}");
    let tar = config_tar(config_json(creds).as_bytes()).map_err(fail)?;
    ctx.client
        .request(
            http::Method::PUT,
            format!("/containers/{}/archive", berth_client::api::seg(id)),
        )
        .query("path", "/")
        .query("noOverwriteDirNonDir", "true")
        .body("application/x-tar", berth_client::full_body(tar))
        .discard()
        .await
        .map_err(|e| fail(format!("copying config.json into container failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(json: &str) -> (tempfile::TempDir, AuthStore) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), json).unwrap();
        let s = AuthStore::open(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn only_unix_sockets() {
        let (_d, s) = store_with("{}");
        let mut req = CreateRequest::default();
        let e = prepare(&Host::Tcp("h:2375".into()), &mut req, None, &s).unwrap_err();
        assert_eq!(
            e,
            "flag --use-api-socket can only be used with unix sockets: docker endpoint tcp://h:2375 incompatible"
        );
        assert_eq!(req, CreateRequest::default());
    }

    #[test]
    fn mounts_the_socket_and_points_at_the_credentials() {
        let (_d, s) = store_with(r#"{"auths":{"r.test":{"auth":"dTpw"}}}"#);
        let mut req = CreateRequest::default();
        let host = Host::Unix("/run/d.sock".into());
        let creds = prepare(&host, &mut req, None, &s).unwrap();
        assert_eq!(creds["r.test"].username, "u");
        assert_eq!(
            req.config.env.as_deref(),
            Some(&["DOCKER_CONFIG=/run/secrets/docker".to_string()][..])
        );
        let m = &req.host_config.as_ref().unwrap().mounts.as_ref().unwrap()[0];
        assert_eq!(
            (m.r#type.as_str(), m.source.as_str(), m.target.as_str()),
            ("bind", "/run/d.sock", SOCKET_TARGET)
        );
        // DOCKER_AUTH_CONFIG wins when it holds credentials; the user's own
        // DOCKER_CONFIG means nothing is injected.
        let mut req = CreateRequest::default();
        let env = r#"{"auths":{"e.test":{"auth":"ZTpm"}}}"#;
        let creds = prepare(&host, &mut req, Some(env), &s).unwrap();
        assert_eq!(creds.keys().collect::<Vec<_>>(), ["e.test"]);
        let mut req = CreateRequest::default();
        req.config.env = Some(vec!["DOCKER_CONFIG=/x".into()]);
        assert!(prepare(&host, &mut req, Some(env), &s).unwrap().is_empty());
        assert_eq!(req.config.env.as_ref().unwrap().len(), 1);
        let e = prepare(&host, &mut CreateRequest::default(), Some("nope"), &s).unwrap_err();
        assert!(
            e.starts_with(
                "resolving credentials failed: failed to read credentials from DOCKER_AUTH_CONFIG: "
            ),
            "{e}"
        );
    }

    #[test]
    fn the_file_is_written_as_docker_writes_it() {
        let mut creds = Credentials::new();
        creds.insert(
            "r.test".into(),
            AuthConfig {
                username: "u".into(),
                password: "p".into(),
                server_address: "r.test".into(),
                identity_token: "<t>".into(),
                ..Default::default()
            },
        );
        assert_eq!(
            config_json(&creds),
            "{\n\t\"auths\": {\n\t\t\"r.test\": {\n\t\t\t\"auth\": \"dTpw\",\n\t\t\t\"identitytoken\": \"\\u003ct\\u003e\"\n\t\t}\n\t}\n}"
        );
        let tar = config_tar(b"{}").unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let mut entries = a.entries().unwrap();
        let e = entries.next().unwrap().unwrap();
        assert_eq!(e.path_bytes().as_ref(), CONFIG_PATH.as_bytes());
        assert_eq!(e.header().mode().unwrap(), 0o600);
        assert_eq!(e.header().size().unwrap(), 2);
        assert!(entries.next().is_none());
    }
}
