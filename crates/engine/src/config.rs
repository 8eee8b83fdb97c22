//! The engine's configuration, resolved by berthd from flags and daemon.json.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// An OCI runtime the daemon can use (`--runtime NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSpec {
    pub path: PathBuf,
    pub args: Vec<String>,
}

/// The log driver for containers that do not choose one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDriver {
    /// json-file, written by the shim, rotated at `max_size` bytes keeping
    /// `max_file` files (docker's defaults: no limit, 1 file).
    JsonFile {
        max_size: Option<u64>,
        max_file: u32,
    },
    /// Docker's `local` driver is served as json-file with rotation on
    /// (20 MB x 5, docker's defaults for it).
    Local,
    None,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    /// Name of the default runtime; a key of `runtimes`.
    pub default_runtime: String,
    pub runtimes: BTreeMap<String, RuntimeSpec>,
    /// The berth-shim binary.
    pub shim_path: PathBuf,
    /// The init binary of `--init` (`berth-init`, statically linked: it
    /// runs inside images of any libc); `None` refuses `--init`.
    pub init_path: Option<PathBuf>,
    pub log_driver: LogDriver,
    /// "overlay" or "native".
    pub storage_driver: String,
    /// Default ulimits: name -> (soft, hard).
    pub default_ulimits: BTreeMap<String, (i64, i64)>,
    pub labels: Vec<String>,
    pub live_restore: bool,
    pub debug: bool,
    /// Seconds `stop` waits before SIGKILL when the container sets none.
    pub shutdown_timeout: u64,
    /// The default bridge and the firewall table.
    pub bridge: crate::networks::BridgeSettings,
    /// The registry settings the engine starts with (a reload replaces
    /// them while it runs: see [`crate::Engine::set_registry_settings`]).
    pub registry: RegistrySettings,
}

impl EngineConfig {
    /// A configuration with dockerd's defaults under the given roots; the
    /// default runtime is `berth-runc` found next to the running binary or
    /// on PATH.
    pub fn with_roots(data_root: PathBuf, exec_root: PathBuf) -> Self {
        let mut runtimes = BTreeMap::new();
        runtimes.insert(
            "berth-runc".to_string(),
            RuntimeSpec {
                path: sibling_or_path("berth-runc"),
                args: Vec::new(),
            },
        );
        runtimes.insert(
            "runc".to_string(),
            RuntimeSpec {
                path: PathBuf::from("runc"),
                args: Vec::new(),
            },
        );
        EngineConfig {
            data_root,
            exec_root,
            default_runtime: "berth-runc".to_string(),
            runtimes,
            shim_path: sibling_or_path("berth-shim"),
            init_path: Some(sibling_or_path("berth-init")).filter(|p| p.is_absolute()),
            log_driver: LogDriver::JsonFile {
                max_size: None,
                max_file: 1,
            },
            storage_driver: "overlay".to_string(),
            default_ulimits: BTreeMap::new(),
            labels: Vec::new(),
            live_restore: false,
            debug: false,
            shutdown_timeout: 15,
            bridge: Default::default(),
            registry: RegistrySettings::default(),
        }
    }
}

/// How pulls and pushes reach registries: dockerd's registry options and
/// transfer settings, all of which its configuration reload applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    /// Registries reached without verified TLS or over plain HTTP besides
    /// 127.0.0.0/8: `host[:port]` entries and CIDRs (`insecure-registries`,
    /// already validated and without schemes).
    pub insecure_registries: Vec<String>,
    /// Docker Hub's mirrors (`registry-mirrors`, validated URLs ending in
    /// `/`), tried in order by pulls of `docker.io` images.
    pub registry_mirrors: Vec<String>,
    /// Registries that receive the bytes of foreign (non-distributable)
    /// layers on push: `host[:port]` entries and CIDRs
    /// (`allow-nondistributable-artifacts`, validated). Other registries
    /// get only the layer's descriptor, as dockerd pushes it.
    pub allow_nondistributable: Vec<String>,
    /// Layers a pull downloads at once (`max-concurrent-downloads`, 3 by
    /// default; 0 sets no limit, as in dockerd's transfer manager).
    pub max_concurrent_downloads: usize,
    /// Layers a push uploads at once (`max-concurrent-uploads`, 5 by
    /// default; 0 sets no limit).
    pub max_concurrent_uploads: usize,
    /// Attempts at each layer download before the pull fails
    /// (`max-download-attempts`, 5 by default, at least 1).
    pub max_download_attempts: u32,
}

impl Default for RegistrySettings {
    /// dockerd's defaults.
    fn default() -> Self {
        RegistrySettings {
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            allow_nondistributable: Vec::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            max_download_attempts: 5,
        }
    }
}

/// `name` next to the current executable when it exists there (a build
/// tree or an install prefix), else the bare name for a PATH lookup.
pub fn sibling_or_path(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}
