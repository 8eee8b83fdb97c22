//! The configuration file: its keys (dockerd's `daemon.json` names), its
//! shape, and dockerd's checks of unknown keys and flag conflicts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::ConfigError;

/// The keys the configuration file may hold.
pub(super) const FILE_KEYS: &[&str] = &[
    "data-root",
    "exec-root",
    "pidfile",
    "debug",
    "log-level",
    "hosts",
    "default-runtime",
    "runtimes",
    "live-restore",
    "log-driver",
    "log-opts",
    "storage-driver",
    "default-ulimits",
    "labels",
    "shutdown-timeout",
    "bridge",
    "bip",
    "mtu",
    "tls",
    "tlsverify",
    "tlscacert",
    "tlscert",
    "tlskey",
    "insecure-registries",
    "registry-mirrors",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "allow-nondistributable-artifacts",
];

/// The configuration file's shape (after the unknown-key check).
#[derive(Debug, Default, Deserialize)]
pub(super) struct FileConfig {
    #[serde(rename = "data-root")]
    pub(super) data_root: Option<PathBuf>,
    #[serde(rename = "exec-root")]
    pub(super) exec_root: Option<PathBuf>,
    pub(super) pidfile: Option<PathBuf>,
    pub(super) debug: Option<bool>,
    #[serde(rename = "log-level")]
    pub(super) log_level: Option<String>,
    pub(super) hosts: Option<Vec<String>>,
    #[serde(rename = "default-runtime")]
    pub(super) default_runtime: Option<String>,
    pub(super) runtimes: Option<BTreeMap<String, FileRuntime>>,
    #[serde(rename = "live-restore")]
    pub(super) live_restore: Option<bool>,
    #[serde(rename = "log-driver")]
    pub(super) log_driver: Option<String>,
    #[serde(rename = "log-opts")]
    pub(super) log_opts: Option<BTreeMap<String, String>>,
    #[serde(rename = "storage-driver")]
    pub(super) storage_driver: Option<String>,
    #[serde(rename = "default-ulimits")]
    pub(super) default_ulimits: Option<BTreeMap<String, FileUlimit>>,
    pub(super) labels: Option<Vec<String>>,
    #[serde(rename = "shutdown-timeout")]
    pub(super) shutdown_timeout: Option<u64>,
    pub(super) bridge: Option<String>,
    pub(super) bip: Option<String>,
    pub(super) mtu: Option<u32>,
    pub(super) tls: Option<bool>,
    pub(super) tlsverify: Option<bool>,
    pub(super) tlscacert: Option<PathBuf>,
    pub(super) tlscert: Option<PathBuf>,
    pub(super) tlskey: Option<PathBuf>,
    #[serde(rename = "insecure-registries")]
    pub(super) insecure_registries: Option<Vec<String>>,
    #[serde(rename = "registry-mirrors")]
    pub(super) registry_mirrors: Option<Vec<String>>,
    #[serde(rename = "max-concurrent-downloads")]
    pub(super) max_concurrent_downloads: Option<i64>,
    #[serde(rename = "max-concurrent-uploads")]
    pub(super) max_concurrent_uploads: Option<i64>,
    #[serde(rename = "max-download-attempts")]
    pub(super) max_download_attempts: Option<i64>,
    #[serde(rename = "allow-nondistributable-artifacts")]
    pub(super) allow_nondistributable_artifacts: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct FileRuntime {
    pub(super) path: Option<PathBuf>,
    #[serde(rename = "runtimeArgs", default)]
    pub(super) runtime_args: Vec<String>,
}

/// `{"Name": "nofile", "Soft": 1024, "Hard": 2048}`, docker's units.Ulimit.
#[derive(Debug, Deserialize)]
pub(super) struct FileUlimit {
    #[serde(rename = "Name")]
    pub(super) name: Option<String>,
    #[serde(rename = "Soft")]
    pub(super) soft: i64,
    #[serde(rename = "Hard")]
    pub(super) hard: i64,
}

/// A file value as dockerd prints it in a conflict: strings bare, lists
/// as `[a b]`, the rest as JSON.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

/// Reads the configuration file: `None` when it does not exist and was not
/// asked for explicitly.
pub(super) fn read_file(
    path: &Path,
    explicit: bool,
) -> Result<Option<Map<String, Value>>, ConfigError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(source) => {
            return Err(ConfigError::ReadFile {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // An empty file configures nothing.
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Map::new()));
    }
    let value: Value = serde_json::from_slice(&text).map_err(|source| ConfigError::ParseFile {
        path: path.to_path_buf(),
        source,
    })?;
    match value {
        Value::Object(m) => Ok(Some(m)),
        _ => Err(ConfigError::NotAnObject {
            path: path.to_path_buf(),
        }),
    }
}

/// dockerd's two file checks, in its order: unknown keys, then keys also
/// given as flags.
pub(super) fn check_file(
    path: &Path,
    file: &Map<String, Value>,
    given: &BTreeMap<&'static str, String>,
) -> Result<(), ConfigError> {
    let unknown: Vec<&str> = file
        .keys()
        .map(String::as_str)
        .filter(|k| !FILE_KEYS.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(ConfigError::UnknownKeys {
            path: path.to_path_buf(),
            keys: unknown.join(", "),
        });
    }
    let conflicts: Vec<String> = file
        .iter()
        .filter_map(|(k, v)| {
            given
                .get(k.as_str())
                .map(|f| format!("{k}: (from flag: {f}, from file: {})", show(v)))
        })
        .collect();
    if !conflicts.is_empty() {
        return Err(ConfigError::Conflicts {
            path: path.to_path_buf(),
            conflicts: conflicts.join(", "),
        });
    }
    Ok(())
}
