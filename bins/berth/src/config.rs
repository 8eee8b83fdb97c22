//! The client configuration file, docker's `config.json` in the configuration directory
//! (`--config`, else `BERTH_CONFIG`, else `DOCKER_CONFIG`, else `~/.docker`). The CLI
//! reads the output formats and the detach keys; credentials belong to `login`.

use std::path::{Path, PathBuf};

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

#[cfg(test)]
mod tests {
    use super::*;

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
