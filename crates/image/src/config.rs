//! Image configs (Docker's and OCI's share one JSON shape), chain IDs, and
//! image IDs.
//!
//! The image ID is the digest of the config bytes exactly as stored;
//! [`ImageConfig`] keeps fields it does not model in `extra` so that a
//! config built from a parsed one (commit, import) loses nothing.

use std::collections::BTreeMap;

use berth_content::{Digest, Hasher};
use serde::{Deserialize, Serialize};

/// Errors reading configs.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("parse image config {digest}: {source}")]
    Json {
        digest: Digest,
        #[source]
        source: serde_json::Error,
    },
    #[error("image config {digest}: rootfs type {kind:?}, expected \"layers\"")]
    RootfsType { digest: Digest, kind: String },
    #[error("image config {digest}: {diff_ids} diff IDs for {layers} layers")]
    LayerCount {
        digest: Digest,
        diff_ids: usize,
        layers: usize,
    },
}

/// Healthcheck settings (durations in nanoseconds, as Docker stores them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// The runtime defaults of an image (`config` in the JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `rootfs`: the layers as diff IDs, bottom first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

/// One history entry; `empty_layer` ones have no layer in `rootfs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// An image config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RunConfig>,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ImageConfig {
    /// Parses config bytes whose digest is `digest` (the image ID).
    pub fn parse(digest: &Digest, bytes: &[u8]) -> Result<ImageConfig, ConfigError> {
        let c: ImageConfig = serde_json::from_slice(bytes).map_err(|source| ConfigError::Json {
            digest: *digest,
            source,
        })?;
        if c.rootfs.kind != "layers" {
            return Err(ConfigError::RootfsType {
                digest: *digest,
                kind: c.rootfs.kind,
            });
        }
        Ok(c)
    }

    /// Checks the config describes exactly `layers` layers.
    pub fn check_layers(&self, digest: &Digest, layers: usize) -> Result<(), ConfigError> {
        if self.rootfs.diff_ids.len() != layers {
            return Err(ConfigError::LayerCount {
                digest: *digest,
                diff_ids: self.rootfs.diff_ids.len(),
                layers,
            });
        }
        Ok(())
    }

    /// Canonical bytes of a config built here (commit, import): compact
    /// JSON, as Docker writes. Never used to re-hash a config read from
    /// elsewhere.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain data with string keys cannot fail to serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The chain IDs of a stack of diff IDs: the first is the first diff ID;
/// each next one is `sha256(previous + " " + diff_id)` over their string
/// forms. Equal chain IDs mean equal layer stacks, so a snapshot keyed by
/// chain ID is shared by every image that has that stack.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => *d,
            Some(prev) => {
                let mut h = Hasher::new();
                h.update(format!("{prev} {d}").as_bytes());
                h.finish()
            }
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = chain_ids(&[a, b]);
        assert_eq!(c[0], a);
        assert_eq!(c[1], Digest::of(format!("{a} {b}").as_bytes()));
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn config_round_trips_unknown_fields() {
        let raw = br#"{"architecture":"amd64","os":"linux","docker_version":"20.10.24","config":{"Env":["A=1"],"Cmd":["sh"],"WorkingDir":"/w","Labels":{"k":"v"},"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT","Healthcheck":{"Test":["CMD","true"],"Interval":1000000000},"OnBuild":["RUN x"],"Shell":["/bin/sh","-c"],"Hostname":""},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created_by":"x","empty_layer":true}]}"#;
        let d = Digest::of(raw);
        let c = ImageConfig::parse(&d, raw).unwrap();
        let rc = c.config.as_ref().unwrap();
        assert_eq!(rc.env.as_deref(), Some(&["A=1".to_owned()][..]));
        assert_eq!(rc.stop_signal, "SIGQUIT");
        assert_eq!(rc.healthcheck.as_ref().unwrap().interval, 1_000_000_000);
        assert!(c.history[0].empty_layer);
        let back: serde_json::Value = serde_json::from_slice(&c.to_bytes()).unwrap();
        assert_eq!(back["docker_version"], "20.10.24");
        assert_eq!(back["config"]["Hostname"], "");
        let bad =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"nope","diff_ids":[]}}"#;
        let e = ImageConfig::parse(&Digest::of(bad), bad).unwrap_err();
        assert!(e.to_string().contains("rootfs type \"nope\""), "{e}");
    }
}
