//! The client configuration file, docker's `config.json` in the configuration directory
//! (`--config`, else `BERTH_CONFIG`, else `DOCKER_CONFIG`, else `~/.docker`). The CLI
//! reads the output formats and the detach keys; the credentials in `auths` are read
//! and written through [`AuthStore`].

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use berth_client::types::system::AuthConfig;
use serde::Deserialize;

/// The fields of `config.json` the CLI uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConfigFile {
    #[serde(rename = "psFormat")]
    pub ps_format: String,
    #[serde(rename = "imagesFormat")]
    pub images_format: String,
    #[serde(rename = "statsFormat")]
    pub stats_format: String,
    #[serde(rename = "detachKeys")]
    pub detach_keys: String,
    #[serde(rename = "credsStore")]
    pub creds_store: String,
    #[serde(rename = "credHelpers")]
    pub cred_helpers: BTreeMap<String, String>,
    /// The context `context use` selected; empty for the default.
    #[serde(rename = "currentContext")]
    pub current_context: String,
}

/// The configuration directory.
pub fn dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    for var in ["BERTH_CONFIG", "DOCKER_CONFIG"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return PathBuf::from(v);
        }
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".docker")
}

/// Loads `config.json` from `dir`. A missing file is the empty configuration; a file
/// that does not parse is reported (as docker does, a warning) and ignored.
pub fn load(dir: &Path) -> ConfigFile {
    let path = dir.join("config.json");
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ConfigFile::default(),
        Err(e) => {
            eprintln!(
                "WARNING: Error loading config file: {}: {e}",
                path.display()
            );
            return ConfigFile::default();
        }
    };
    match serde_json::from_slice(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "WARNING: Error loading config file: {}: {e}",
                path.display()
            );
            ConfigFile::default()
        }
    }
}

/// The key docker keeps Docker Hub's credentials under.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

/// docker's `ConvertToHostname`: `https://host:port/path` and `host/path` are `host`
/// (with the port).
pub fn convert_to_hostname(s: &str) -> String {
    let rest = match s.split_once("://") {
        Some((_, rest)) => rest,
        None => s,
    };
    rest.split('/').next().unwrap_or("").to_string()
}

/// The `auths` of `config.json`: read it, change it, write it back. The other keys of
/// the file are kept as they are. docker's credential helpers (`credsStore`,
/// `credHelpers`) are not run: berth warns and keeps the credentials in the file.
pub struct AuthStore {
    path: PathBuf,
    /// The whole file.
    doc: serde_json::Map<String, serde_json::Value>,
    /// `auths` decoded: the key's credentials, `auth` split into user and password.
    auths: BTreeMap<String, AuthConfig>,
    /// A credential helper is configured (see [`AuthStore::helper_warning`]).
    helper: Option<String>,
}

impl AuthStore {
    /// Reads `config.json` in `dir`; a missing file is an empty store.
    pub fn open(dir: &Path) -> Result<AuthStore, String> {
        let path = dir.join("config.json");
        let doc = match std::fs::read(&path) {
            Ok(t) if t.iter().all(u8::is_ascii_whitespace) => serde_json::Map::new(),
            Ok(t) => serde_json::from_slice(&t)
                .map_err(|e| format!("Error loading config file: {}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
            Err(e) => {
                return Err(format!(
                    "Error loading config file: {}: {}",
                    path.display(),
                    crate::cmd::parse::io_text(&e)
                ));
            }
        };
        let mut auths = BTreeMap::new();
        if let Some(serde_json::Value::Object(m)) = doc.get("auths") {
            for (key, v) in m {
                let mut a: AuthConfig = serde_json::from_value(v.clone()).unwrap_or_default();
                if !a.auth.is_empty() {
                    let (u, p) = decode_auth(&a.auth).map_err(|e| {
                        format!("Error loading config file: {}: {e}", path.display())
                    })?;
                    a.username = u;
                    a.password = p;
                }
                a.auth.clear();
                a.server_address = key.clone();
                auths.insert(key.clone(), a);
            }
        }
        let text = |k: &str| {
            doc.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let helper = Some(text("credsStore"))
            .filter(|s| !s.is_empty())
            .or_else(|| {
                doc.get("credHelpers")
                    .and_then(|v| v.as_object())
                    .filter(|m| !m.is_empty())
                    .map(|_| "credHelpers".to_string())
            });
        Ok(AuthStore {
            path,
            doc,
            auths,
            helper,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A warning to print when credentials are used while a credential helper is
    /// configured.
    pub fn helper_warning(&self) -> Option<String> {
        self.helper.as_ref().map(|h| {
            format!(
                "WARNING: credential helpers are not supported ({h} in {}): credentials are read from and stored in the file",
                self.path.display()
            )
        })
    }

    /// The credentials for `key` (docker's file store: the exact key, else a key
    /// whose host name is `key`); empty when there are none.
    pub fn get(&self, key: &str) -> AuthConfig {
        if let Some(a) = self.auths.get(key) {
            return a.clone();
        }
        self.auths
            .iter()
            .find(|(k, _)| convert_to_hostname(k) == key)
            .map(|(_, a)| a.clone())
            .unwrap_or_default()
    }

    /// Every stored credential by key (docker's `GetAllCredentials`, for a build's
    /// `X-Registry-Config`).
    pub fn all(&self) -> BTreeMap<String, AuthConfig> {
        self.auths.clone()
    }

    /// Stores `a` under its server address. Returns false when the same credentials
    /// were already stored (nothing is written then).
    pub fn store(&mut self, a: &AuthConfig) -> Result<bool, String> {
        if self.auths.get(&a.server_address) == Some(a) {
            return Ok(false);
        }
        self.auths.insert(a.server_address.clone(), a.clone());
        self.save()?;
        Ok(true)
    }

    /// The context `context use` selected (`currentContext`), empty for the default.
    pub fn current_context(&self) -> &str {
        self.doc
            .get("currentContext")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    /// Sets `currentContext` (empty: removes it, as docker's `omitempty` does) and
    /// writes the file, unless nothing changes (docker then leaves a missing file
    /// missing).
    pub fn set_current_context(&mut self, name: &str) -> Result<(), String> {
        if self.current_context() == name {
            return Ok(());
        }
        if name.is_empty() {
            self.doc.remove("currentContext");
        } else {
            self.doc
                .insert("currentContext".into(), serde_json::Value::from(name));
        }
        self.save_as("Error saving config file")
    }

    /// Removes the credentials stored under exactly `key`, if any.
    pub fn erase(&mut self, key: &str) -> Result<(), String> {
        if self.auths.remove(key).is_none() {
            return Ok(());
        }
        self.save()
    }

    /// The file as docker writes it: tab-indented, `auths` first, each entry with
    /// `auth` (base64 of `user:password`) instead of the user and password.
    pub fn render(&self) -> String {
        let mut auths = serde_json::Map::new();
        for (k, a) in &self.auths {
            let mut e = a.clone();
            e.auth = encode_auth(&e.username, &e.password);
            e.username.clear();
            e.password.clear();
            e.server_address.clear();
            auths.insert(
                k.clone(),
                serde_json::to_value(&e).unwrap_or(serde_json::Value::Null),
            );
        }
        let mut out = String::from("{\n\t\"auths\": ");
        out.push_str(&pretty(&serde_json::Value::Object(auths), 1));
        for (k, v) in self.doc.iter().filter(|(k, _)| *k != "auths") {
            out.push_str(&format!(
                ",\n\t{}: {}",
                serde_json::Value::String(k.clone()),
                pretty(v, 1)
            ));
        }
        out.push_str("\n}");
        out
    }

    /// Writes the file through a temporary file and a rename (0600 for a new file, the
    /// old file's mode otherwise), creating the directory (0700) if needed.
    fn save(&self) -> Result<(), String> {
        self.save_as("Error saving credentials")
    }

    fn save_as(&self, what: &str) -> Result<(), String> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let err = |e: std::io::Error| format!("{what}: {}", e);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        // Through a symlinked config.json to its target, as docker does.
        let target = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        let mut tmp = tempfile::Builder::new()
            .prefix("config.json")
            .tempfile_in(dir)
            .map_err(err)?;
        tmp.write_all(self.render().as_bytes()).map_err(err)?;
        if let Ok(m) = std::fs::metadata(&target) {
            let mode = m.permissions().mode() & 0o7777;
            let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode));
        }
        tmp.persist(&target).map_err(|e| err(e.error))?;
        Ok(())
    }
}

/// `value` as Go's `json.MarshalIndent(v, "", "\t")` writes it at `depth`.
fn pretty(value: &serde_json::Value, depth: usize) -> String {
    use serde::Serialize;
    let indent = "\t".repeat(depth);
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if value.serialize(&mut ser).is_err() {
        return "null".into();
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    // Go escapes <, > and & in strings; serde_json does not.
    let text = text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("{indent}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// base64 of `user:password`, empty when both are.
pub fn encode_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    if user.is_empty() && password.is_empty() {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// `auth` back into user and password (docker's `decodeAuth` and its errors).
pub fn decode_auth(auth: &str) -> Result<(String, String), String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    match text.split_once(':') {
        Some((u, p)) if !u.is_empty() => Ok((u.to_string(), p.trim_matches('\0').to_string())),
        _ => Err("Invalid auth configuration file".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_in_dockers_shape() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("cfg");
        let mut s = AuthStore::open(&dir).unwrap();
        assert_eq!(s.get("127.0.0.1:5000"), AuthConfig::default());
        let a = AuthConfig {
            username: "alice".into(),
            password: "wonder".into(),
            server_address: "127.0.0.1:5000".into(),
            ..AuthConfig::default()
        };
        assert!(s.store(&a).unwrap());
        assert!(
            !s.store(&a).unwrap(),
            "the same credentials again: no write"
        );
        let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
        assert_eq!(
            text,
            "{\n\t\"auths\": {\n\t\t\"127.0.0.1:5000\": {\n\t\t\t\"auth\": \"YWxpY2U6d29uZGVy\"\n\t\t}\n\t}\n}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let s = AuthStore::open(&dir).unwrap();
        assert_eq!(s.get("127.0.0.1:5000"), a);
        // A key stored as a URL is found by its host name.
        let mut s2 = s;
        s2.erase("127.0.0.1:5000").unwrap();
        let url = AuthConfig {
            server_address: "https://r.example:443/v2/".into(),
            ..a.clone()
        };
        s2.store(&url).unwrap();
        assert_eq!(s2.get("r.example:443").username, "alice");
    }

    #[test]
    fn other_keys_are_kept_and_bad_auth_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("config.json"),
            r#"{"psFormat":"{{.ID}}","auths":{},"credsStore":"desktop"}"#,
        )
        .unwrap();
        let mut s = AuthStore::open(d.path()).unwrap();
        assert!(s.helper_warning().is_some());
        s.store(&AuthConfig {
            username: "u".into(),
            password: "p".into(),
            server_address: "h".into(),
            ..AuthConfig::default()
        })
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(v["psFormat"], "{{.ID}}");
        assert_eq!(v["credsStore"], "desktop");
        assert_eq!(v["auths"]["h"]["auth"], "dTpw");
        std::fs::write(
            d.path().join("config.json"),
            r#"{"auths":{"h":{"auth":"!!"}}}"#,
        )
        .unwrap();
        assert!(AuthStore::open(d.path()).is_err());
        assert!(decode_auth("Onk=").is_err(), "empty user");
    }

    #[test]
    fn reads_docker_fields_and_ignores_the_rest() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("config.json"),
            r#"{"auths":{"x":{}},"psFormat":"table {{.ID}}","detachKeys":"ctrl-a"}"#,
        )
        .unwrap();
        let c = load(d.path());
        assert_eq!(c.ps_format, "table {{.ID}}");
        assert_eq!(c.detach_keys, "ctrl-a");
        assert_eq!(c.images_format, "");
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(load(empty.path()).ps_format, "");
    }
}
