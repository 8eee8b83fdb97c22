//! Configuration: a YAML file (`--config`) overridden by flags.
//!
//! ```yaml
//! addr: 127.0.0.1:5000
//! root: /var/lib/berth-registry
//! delete_enabled: true
//! tls: { cert: /etc/berth-registry/cert.pem, key: /etc/berth-registry/key.pem }
//! auth:
//!   mode: token            # none | basic | token
//!   htpasswd: /etc/berth-registry/htpasswd
//!   token:
//!     realm: https://registry.example/token   # default: <scheme>://<Host>/token
//!     service: berth-registry
//!     issuer: berth-registry
//!     key_file: /etc/berth-registry/token.key # default: a random key per start
//!     ttl_secs: 300
//!   access:                # default: authenticated accounts may do everything
//!     - { account: alice, repository: "team/*", actions: [pull, push, delete] }
//!     - { account: anonymous, repository: "public/*", actions: [pull] }
//! gc:
//!   grace_minutes: 60
//!   upload_max_age_hours: 168
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::policy::Rule;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse config {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub addr: Option<String>,
    pub root: Option<PathBuf>,
    pub delete_enabled: Option<bool>,
    pub tls: Option<TlsConfig>,
    pub auth: AuthConfig,
    pub gc: GcConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    #[default]
    None,
    Basic,
    Token,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub mode: Option<AuthMode>,
    pub htpasswd: Option<PathBuf>,
    pub realm: Option<String>,
    pub token: TokenConfig,
    pub access: Vec<Rule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    pub realm: Option<String>,
    pub service: Option<String>,
    pub issuer: Option<String>,
    pub key_file: Option<PathBuf>,
    pub ttl_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcConfig {
    pub grace_minutes: Option<u64>,
    pub upload_max_age_hours: Option<u64>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        if text.trim().is_empty() {
            return Ok(FileConfig::default());
        }
        serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::Action;

    #[test]
    fn parses_the_documented_example() {
        let text = r#"
addr: 127.0.0.1:5000
root: /srv/registry
tls: { cert: c.pem, key: k.pem }
auth:
  mode: token
  htpasswd: users
  token:
    service: svc
    ttl_secs: 60
  access:
    - { account: alice, repository: "team/*", actions: [pull, push] }
gc:
  grace_minutes: 5
"#;
        let c = FileConfig::parse(text, Path::new("c.yml")).unwrap();
        assert_eq!(c.addr.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(c.auth.mode, Some(AuthMode::Token));
        assert_eq!(c.auth.token.ttl_secs, Some(60));
        assert_eq!(c.auth.access[0].actions, vec![Action::Pull, Action::Push]);
        assert_eq!(c.gc.grace_minutes, Some(5));
        assert_eq!(c.tls.unwrap().key, PathBuf::from("k.pem"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = FileConfig::parse("adr: x\n", Path::new("c.yml")).unwrap_err();
        assert!(e.to_string().contains("c.yml"), "{e}");
        assert_eq!(
            FileConfig::parse("", Path::new("c.yml")).unwrap(),
            FileConfig::default()
        );
    }
}
