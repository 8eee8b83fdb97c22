//! SIGHUP: the configuration file is read again (with the original flags)
//! and what can change while the daemon runs is applied, as dockerd's
//! `Reload` does:
//!
//! - debug, log level, labels, live-restore and shutdown-timeout as
//!   `/info` reports them (the engine keeps the values it started with);
//! - the registry settings, for the pulls, pushes and logins that start
//!   afterwards: `insecure-registries`, `registry-mirrors` and
//!   `allow-nondistributable-artifacts` change when the file names them
//!   and stay as they were when it does not; `max-concurrent-downloads`,
//!   `max-concurrent-uploads` and `max-download-attempts` take the file's
//!   value, or dockerd's default when the file leaves them out (dockerd
//!   "always resets" them, a flag's value included).
//!
//! Settings that need a restart are named in a warning. An invalid file
//! changes nothing. The reload is announced as a `daemon` `reload` event
//! whose attributes carry the settings in force, in dockerd's formats.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::registry::{RegistryLists, RegistryOptions};
use crate::config::{
    ConfigError, DEFAULT_MAX_DOWNLOAD_ATTEMPTS, DEFAULT_MAX_DOWNLOADS, DEFAULT_MAX_UPLOADS,
    DaemonConfig,
};
use crate::daemon::Daemon;
use crate::{error, host, info, log, warn};

/// What a reload does, worked out before anything changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The configuration to run with from now on.
    pub config: DaemonConfig,
    /// The settings that differ but need a restart (daemon.json names).
    pub fixed: Vec<&'static str>,
    /// The `reload` event's attributes, but for the host's `name`.
    pub attributes: BTreeMap<String, String>,
}

/// A list as dockerd's reload event shows it: JSON, `[]` when empty.
fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Works out a reload from the running configuration `old` and the one
/// just read, `new` (see the module docs).
pub fn plan(old: &DaemonConfig, new: DaemonConfig) -> Result<Plan, ConfigError> {
    let mut fixed = Vec::new();
    if new.data_root != old.data_root {
        fixed.push("data-root");
    }
    if new.exec_root != old.exec_root {
        fixed.push("exec-root");
    }
    if new.hosts != old.hosts {
        fixed.push("hosts");
    }
    if new.storage_driver != old.storage_driver {
        fixed.push("storage-driver");
    }
    if new.runtimes != old.runtimes || new.default_runtime != old.default_runtime {
        fixed.push("runtimes");
    }
    if new.log_driver != old.log_driver {
        fixed.push("log-driver");
    }

    let in_file = |key: &str| new.file_keys.contains(key);
    let pick = |key: &str, new: &Vec<String>, old: &Vec<String>| {
        if in_file(key) { new } else { old }.clone()
    };
    let (nl, ol) = (&new.registry.lists, &old.registry.lists);
    let registry = RegistryOptions::load(RegistryLists {
        insecure: pick("insecure-registries", &nl.insecure, &ol.insecure),
        mirrors: pick("registry-mirrors", &nl.mirrors, &ol.mirrors),
        nondistributable: pick(
            "allow-nondistributable-artifacts",
            &nl.nondistributable,
            &ol.nondistributable,
        ),
    })?;
    let or_default = |key: &str, value: usize, default: usize| {
        if in_file(key) { value } else { default }
    };

    let mut applied = old.clone();
    applied.debug = new.debug;
    applied.log_level = new.log_level;
    applied.labels = new.labels.clone();
    applied.live_restore = new.live_restore;
    applied.shutdown_timeout = new.shutdown_timeout;
    applied.registry = registry;
    applied.max_concurrent_downloads = or_default(
        "max-concurrent-downloads",
        new.max_concurrent_downloads,
        DEFAULT_MAX_DOWNLOADS,
    );
    applied.max_concurrent_uploads = or_default(
        "max-concurrent-uploads",
        new.max_concurrent_uploads,
        DEFAULT_MAX_UPLOADS,
    );
    applied.max_download_attempts = if in_file("max-download-attempts") {
        new.max_download_attempts
    } else {
        DEFAULT_MAX_DOWNLOAD_ATTEMPTS
    };
    applied.file_keys = new.file_keys;

    let lists = &applied.registry.lists;
    let attributes = [
        ("debug", applied.debug.to_string()),
        ("labels", json_list(&applied.labels)),
        ("live-restore", applied.live_restore.to_string()),
        ("shutdown-timeout", applied.shutdown_timeout.to_string()),
        (
            "max-concurrent-downloads",
            applied.max_concurrent_downloads.to_string(),
        ),
        (
            "max-concurrent-uploads",
            applied.max_concurrent_uploads.to_string(),
        ),
        (
            "max-download-attempts",
            applied.max_download_attempts.to_string(),
        ),
        (
            "allow-nondistributable-artifacts",
            json_list(&lists.nondistributable),
        ),
        ("insecure-registries", json_list(&lists.insecure)),
        ("registry-mirrors", json_list(&lists.mirrors)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Ok(Plan {
        config: applied,
        fixed,
        attributes,
    })
}

/// Reloads the daemon's configuration (see the module docs). Failures are
/// logged; the running configuration then stays.
pub fn reload(daemon: &Arc<Daemon>) {
    let old = daemon.config();
    let plan = match DaemonConfig::load(&daemon.flags).and_then(|new| plan(&old, new)) {
        Ok(p) => p,
        Err(e) => {
            error!("Error reconfiguring the daemon: {e}");
            return;
        }
    };
    // The one step that can fail goes first: a new registry client.
    if let Err(e) = daemon
        .engine
        .set_registry_settings(plan.config.registry_settings())
    {
        error!("Error reconfiguring the daemon: {e}");
        return;
    }
    if !plan.fixed.is_empty() {
        warn!(
            "Configuration reload: {} cannot change while the daemon runs; restart it to apply",
            plan.fixed.join(", ")
        );
    }
    let applied = plan.config;
    log::set_level(applied.log_level);
    let a = &plan.attributes;
    info!(
        "Reloaded configuration: debug={} log-level={} labels={} live-restore={} shutdown-timeout={} insecure-registries={} registry-mirrors={} allow-nondistributable-artifacts={} max-concurrent-downloads={} max-concurrent-uploads={} max-download-attempts={}",
        a["debug"],
        applied.log_level.as_str(),
        a["labels"],
        a["live-restore"],
        a["shutdown-timeout"],
        a["insecure-registries"],
        a["registry-mirrors"],
        a["allow-nondistributable-artifacts"],
        a["max-concurrent-downloads"],
        a["max-concurrent-uploads"],
        a["max-download-attempts"],
    );
    let mut attrs = plan.attributes;
    attrs.insert("name".to_string(), host::hostname());
    daemon
        .engine
        .events()
        .publish(berth_engine::events::Event::new(
            "daemon", "reload", &daemon.id, attrs,
        ));
    daemon.replace_config(applied);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Flags;
    use clap::Parser;

    /// The configuration of `args` and the file text `file`.
    fn load(args: &[&str], file: &str) -> DaemonConfig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        std::fs::write(&path, file).unwrap();
        let mut argv = vec!["berthd", "--config-file", path.to_str().unwrap()];
        argv.extend_from_slice(args);
        DaemonConfig::load(&Flags::try_parse_from(argv).unwrap()).unwrap()
    }

    #[test]
    fn registry_lists_change_only_when_the_file_names_them() {
        let old = load(
            &["--registry-mirror", "http://m1"],
            r#"{"insecure-registries": ["10.0.0.0/8", "reg:5000"],
                "allow-nondistributable-artifacts": ["reg:5000"],
                "max-concurrent-downloads": 7, "max-download-attempts": 2}"#,
        );
        assert_eq!(old.max_download_attempts, 2);
        // The file drops the insecure list and the limits, and names
        // another nondistributable registry.
        let new = load(
            &["--registry-mirror", "http://m1"],
            r#"{"allow-nondistributable-artifacts": ["192.168.0.0/16"],
                "max-concurrent-uploads": 1}"#,
        );
        let p = plan(&old, new).unwrap();
        let c = &p.config;
        assert_eq!(
            c.registry.lists.insecure,
            ["10.0.0.0/8", "reg:5000"].map(String::from)
        );
        assert_eq!(c.registry.insecure_hosts, ["reg:5000"].map(String::from));
        assert_eq!(
            c.registry.nondistributable_cidrs,
            ["192.168.0.0/16"].map(String::from)
        );
        assert!(c.registry.nondistributable_hosts.is_empty());
        assert_eq!(c.registry.mirrors, ["http://m1/"].map(String::from));
        // Limits not in the file go back to dockerd's defaults.
        assert_eq!(
            (
                c.max_concurrent_downloads,
                c.max_concurrent_uploads,
                c.max_download_attempts
            ),
            (3, 1, 5)
        );
        let a = &p.attributes;
        assert_eq!(a["insecure-registries"], r#"["10.0.0.0/8","reg:5000"]"#);
        assert_eq!(a["registry-mirrors"], r#"["http://m1/"]"#);
        assert_eq!(
            a["allow-nondistributable-artifacts"],
            r#"["192.168.0.0/16"]"#
        );
        assert_eq!(a["max-concurrent-downloads"], "3");
        assert_eq!(a["max-concurrent-uploads"], "1");
        assert_eq!(a["max-download-attempts"], "5");
        assert_eq!(a["labels"], "[]");
        assert!(p.fixed.is_empty());
        let s = c.registry_settings();
        assert_eq!(
            s.allow_nondistributable,
            ["192.168.0.0/16"].map(String::from)
        );
        assert_eq!(s.max_download_attempts, 5);
    }

    #[test]
    fn a_file_naming_the_lists_replaces_them() {
        let old = load(&[], r#"{"insecure-registries": ["reg:5000"]}"#);
        let new = load(
            &[],
            r#"{"insecure-registries": [], "registry-mirrors": ["https://m2"], "max-download-attempts": 3}"#,
        );
        let p = plan(&old, new).unwrap();
        assert!(p.config.registry.insecure_hosts.is_empty());
        assert_eq!(
            p.config.registry.insecure_cidrs,
            ["127.0.0.0/8"].map(String::from)
        );
        assert_eq!(p.config.registry.mirrors, ["https://m2/"].map(String::from));
        assert_eq!(p.config.max_download_attempts, 3);
        assert_eq!(p.attributes["insecure-registries"], "[]");
        assert_eq!(p.attributes["registry-mirrors"], r#"["https://m2"]"#);
    }
}
