//! What pull, push and login share: the registry client of the image
//! service, credentials from the Engine API's `AuthConfig`, progress
//! messages in dockerd's shapes, and the errors of registry operations
//! with dockerd's wording.

use std::time::{Duration, Instant};

use berth_api_types::jsonmessage::{JsonMessage, ProgressDetail, render_progress};
use berth_api_types::system::AuthConfig;
use berth_content::ContentError;
use berth_distribution::{Credentials, Error as DistError};
use berth_image::ReferenceError;
use berth_image::config::ConfigError;
use berth_image::unpack::UnpackError;
use tokio::sync::mpsc;

use super::Error;
use crate::{Engine, ErrorKind, RegistrySettings};

/// Where pull and push progress goes: one JSON message per item.
pub type ProgressTx = mpsc::Sender<JsonMessage>;

/// The permits of a transfer limit: `max-concurrent-downloads/uploads`
/// of 0 means no limit (dockerd's transfer manager).
pub(crate) fn concurrency(limit: usize) -> usize {
    if limit == 0 {
        tokio::sync::Semaphore::MAX_PERMITS
    } else {
        limit
    }
}

/// The registry settings in force and the client built from them. A
/// reload replaces both at once; pulls and pushes under way keep the
/// client they started with, the next ones get the new one.
#[derive(Clone)]
pub(crate) struct RegistryState {
    pub settings: RegistrySettings,
    pub client: berth_distribution::Client,
}

impl RegistryState {
    /// Builds the client for `settings` (fresh endpoint and token caches:
    /// whether a registry is insecure decides how it was pinged).
    pub fn new(settings: RegistrySettings) -> Result<RegistryState, DistError> {
        let client = berth_distribution::Client::new(berth_distribution::ClientConfig {
            insecure_registries: settings.insecure_registries.clone(),
            mirrors: settings.registry_mirrors.clone(),
            allow_nondistributable: settings.allow_nondistributable.clone(),
            ..Default::default()
        })?;
        Ok(RegistryState { settings, client })
    }
}

/// Errors of pull, push and login. Messages are dockerd's where clients
/// show them.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    InvalidReference(#[source] ReferenceError),
    #[error("invalid platform {0:?}")]
    InvalidPlatform(String),
    #[error("manifest for {reference} not found: {source}")]
    ManifestUnknown {
        reference: String,
        #[source]
        source: DistError,
    },
    #[error(
        "pull access denied for {name}, repository does not exist or may require 'docker login': {source}"
    )]
    Denied {
        name: String,
        #[source]
        source: DistError,
    },
    #[error("repository {name} not found: {source}")]
    NameUnknown {
        name: String,
        #[source]
        source: DistError,
    },
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoPlatform(String),
    /// Any other failure talking to the registry.
    #[error("{0}")]
    Registry(#[source] DistError),
    #[error("filesystem layer verification failed for digest {0}")]
    Verification(berth_content::Digest),
    /// A layer whose every download attempt failed (`max-download-attempts`).
    #[error("download layer {digest}: {}: {source}", failed_attempts(*attempts))]
    Download {
        digest: berth_content::Digest,
        attempts: u32,
        #[source]
        source: Box<RegistryError>,
    },
    #[error("{0}")]
    Config(#[source] ConfigError),
    #[error("failed to register layer: {0}")]
    Unpack(#[source] Box<UnpackError>),
    #[error("store {what}: {source}")]
    Content {
        what: String,
        #[source]
        source: ContentError,
    },
    #[error("pull lease: {0}")]
    Lease(#[source] berth_content::LeaseError),
    #[error("An image does not exist locally with the tag: {0}")]
    NoLocalImage(String),
    #[error("tag does not exist: {0}")]
    NoSuchTag(String),
    #[error("cannot push a digest reference")]
    PushDigest,
    #[error("read layer {layer}: {source}")]
    Compress {
        layer: berth_content::Digest,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Images(#[source] Error),
    /// A blocking task of the operation panicked.
    #[error("registry task: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// "1 attempt failed", "3 attempts failed".
fn failed_attempts(n: u32) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} attempt{s} failed")
}

impl RegistryError {
    /// The Engine API class (401s are [`RegistryError::is_unauthorized`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::InvalidReference(_)
            | RegistryError::InvalidPlatform(_)
            | RegistryError::PushDigest => ErrorKind::InvalidArgument,
            RegistryError::ManifestUnknown { .. }
            | RegistryError::Denied { .. }
            | RegistryError::NameUnknown { .. }
            | RegistryError::NoPlatform(_)
            | RegistryError::NoLocalImage(_)
            | RegistryError::NoSuchTag(_) => ErrorKind::NotFound,
            RegistryError::Images(e) => e.kind(),
            _ => ErrorKind::Internal,
        }
    }

    /// Whether the registry refused the credentials (HTTP 401 for the
    /// Engine API, as dockerd answers).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, RegistryError::Registry(e) if e.is_unauthorized())
    }
}

/// dockerd's translation of a pull failure (`reference` in familiar form).
pub(crate) fn pull_error(e: DistError, reference: &berth_image::Reference) -> RegistryError {
    let mut name_only = reference.clone();
    name_only.tag = None;
    name_only.digest = None;
    match e.code() {
        Some("MANIFEST_UNKNOWN") => RegistryError::ManifestUnknown {
            reference: reference.familiar_string(),
            source: e,
        },
        Some("DENIED") => RegistryError::Denied {
            name: name_only.familiar_name(),
            source: e,
        },
        Some("NAME_UNKNOWN") => RegistryError::NameUnknown {
            name: name_only.familiar_name(),
            source: e,
        },
        _ => match e {
            DistError::Platform(berth_image::manifest::ManifestError::NoPlatform {
                want, ..
            }) => RegistryError::NoPlatform(want),
            e => RegistryError::Registry(e),
        },
    }
}

/// The credentials an `X-Registry-Auth` or `/auth` body carries: username
/// and password, else the `auth` field (base64 of `user:password`), and
/// the identity and registry tokens.
pub(crate) fn credentials(a: &AuthConfig) -> Credentials {
    use base64::Engine as _;
    let (mut username, mut password) = (a.username.clone(), a.password.clone());
    if username.is_empty() && !a.auth.is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(a.auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some((u, p)) = decoded.as_deref().and_then(|s| s.split_once(':')) {
            username = u.to_owned();
            password = p.to_owned();
        }
    }
    Credentials {
        username,
        password,
        identity_token: a.identity_token.clone(),
        registry_token: a.registry_token.clone(),
    }
}

/// A per-layer status line (`progressDetail` is `{}` as dockerd sends it).
pub(crate) fn layer_status(id: &str, status: &str) -> JsonMessage {
    JsonMessage {
        id: id.to_owned(),
        status: status.to_owned(),
        progress_detail: Some(ProgressDetail::default()),
        ..JsonMessage::default()
    }
}

/// A progress line of `id`: `action` at `current` of `total` bytes.
pub(crate) fn layer_progress(id: &str, action: &str, current: u64, total: u64) -> JsonMessage {
    let detail = ProgressDetail {
        current: current as i64,
        total: total as i64,
        ..ProgressDetail::default()
    };
    JsonMessage {
        id: id.to_owned(),
        status: action.to_owned(),
        progress: render_progress(&detail),
        progress_detail: Some(detail),
        ..JsonMessage::default()
    }
}

/// Sends progress lines, dropping them silently once nobody listens (the
/// operation goes on: dockerd's pulls outlive an impatient client too).
#[derive(Clone)]
pub(crate) struct Out(pub ProgressTx);

impl Out {
    pub async fn send(&self, m: JsonMessage) {
        let _ = self.0.send(m).await;
    }

    /// From a blocking thread.
    pub fn blocking(&self, m: JsonMessage) {
        let _ = self.0.blocking_send(m);
    }
}

/// Rate-limits progress lines of one transfer (dockerd sends at most one
/// per 100 ms per layer); the last one always goes out.
pub(crate) struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    pub fn new() -> Throttle {
        Throttle { last: None }
    }

    pub fn due(&mut self, done: bool) -> bool {
        let now = Instant::now();
        let due = done
            || self
                .last
                .is_none_or(|l| now.duration_since(l) >= Duration::from_millis(100));
        if due {
            self.last = Some(now);
        }
        due
    }
}

impl Engine {
    /// The registry settings in force (those the engine started with,
    /// or the last ones a reload set).
    pub fn registry_settings(&self) -> RegistrySettings {
        self.images.registry_state().settings
    }

    /// Applies new registry settings to the pulls, pushes and logins that
    /// start from now on (dockerd's configuration reload). The client is
    /// built first: on failure nothing changes.
    pub fn set_registry_settings(&self, settings: RegistrySettings) -> Result<(), RegistryError> {
        let state = RegistryState::new(settings).map_err(RegistryError::Registry)?;
        self.images.set_registry_state(state);
        Ok(())
    }

    /// The labels of the image `name` names, for event attributes.
    pub(crate) async fn registry_labels(
        &self,
        name: &str,
    ) -> std::collections::BTreeMap<String, String> {
        let (svc, name) = (self.images.clone(), name.to_owned());
        tokio::task::spawn_blocking(move || svc.labels(&name))
            .await
            .unwrap_or_default()
    }

    /// `POST /auth`: checks the credentials against the registry
    /// (`serveraddress`, Docker Hub when empty) and returns the identity
    /// token the registry handed out (empty for most registries).
    pub async fn registry_login(&self, auth: &AuthConfig) -> Result<String, RegistryError> {
        let server = if auth.server_address.is_empty() {
            "https://index.docker.io/v1/"
        } else {
            auth.server_address.as_str()
        };
        self.images
            .registry()
            .login(server, &credentials(auth))
            .await
            .map_err(RegistryError::Registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_either_form() {
        let a = AuthConfig {
            auth: "dTpwOnc=".into(), // u:p:w
            ..AuthConfig::default()
        };
        let c = credentials(&a);
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p:w"));
        let a = AuthConfig {
            username: "x".into(),
            password: "y".into(),
            auth: "dTpwOnc=".into(),
            identity_token: "t".into(),
            ..AuthConfig::default()
        };
        let c = credentials(&a);
        assert_eq!((c.username.as_str(), c.identity_token.as_str()), ("x", "t"));
    }

    #[test]
    fn pull_errors_read_like_dockerds() {
        let r = berth_image::Reference::parse_normalized("127.0.0.1:5000/t/b:nope").unwrap();
        let e = DistError::Registry {
            method: "Get",
            url: "u".into(),
            status: 404,
            errors: vec![berth_distribution::RegistryError {
                code: "MANIFEST_UNKNOWN".into(),
                message: "manifest unknown".into(),
                detail: serde_json::Value::Null,
            }],
        };
        let e = pull_error(e, &r);
        assert_eq!(
            e.to_string(),
            "manifest for 127.0.0.1:5000/t/b:nope not found: manifest unknown: manifest unknown"
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let r = berth_image::Reference::parse_normalized("busybox:1").unwrap();
        let e = DistError::Registry {
            method: "Get",
            url: "u".into(),
            status: 403,
            errors: vec![berth_distribution::RegistryError {
                code: "DENIED".into(),
                message: "requested access to the resource is denied".into(),
                detail: serde_json::Value::Null,
            }],
        };
        assert_eq!(
            pull_error(e, &r).to_string(),
            "pull access denied for busybox, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
        );
        let m = layer_progress("abc", "Downloading", 5, 10);
        assert_eq!(m.progress_detail.unwrap().total, 10);
        assert!(m.progress.starts_with("[====="));
    }
}
