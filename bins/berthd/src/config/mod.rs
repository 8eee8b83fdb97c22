//! berthd's configuration: command-line flags with dockerd's names, merged
//! with a daemon configuration file with dockerd's `daemon.json` keys.
//!
//! The rules are dockerd's: a key the file does not know is an error, and
//! so is a setting given both as a flag and in the file. A missing file is
//! fine at the default location and an error when `--config-file` names it.
//! The merge produces a [`DaemonConfig`]; [`DaemonConfig::engine_config`]
//! turns it into the engine's configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use berth_engine::{EngineConfig, LogDriver, RegistrySettings, RuntimeSpec};
use clap::{ArgAction, Parser};
use serde_json::{Map, Value};

use crate::listen::{Host, HostError};
use crate::log::Level;

mod file;
pub mod registry;
#[cfg(test)]
mod tests;
mod values;

use file::{FileConfig, check_file, read_file};
use registry::{
    RegistryLists, RegistryOptionError, RegistryOptions, validate_index_name, validate_mirror,
};
use values::{check_ulimit, log_driver, parse_ulimit};

pub const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_EXEC_ROOT: &str = "/run/berth";
pub const DEFAULT_PIDFILE: &str = "/run/berthd.pid";
/// The runtime containers use unless `--default-runtime` says otherwise.
pub const DEFAULT_RUNTIME: &str = "berth-runc";
/// Runtimes the daemon always registers; `--add-runtime` cannot redefine them.
const BUILTIN_RUNTIMES: &[&str] = &["berth-runc", "runc"];
/// The daemon's command line (dockerd's flag names for what berth supports).
#[derive(Debug, Default, Clone, Parser)]
#[command(
    name = "berthd",
    about = "A self-sufficient runtime for containers (berth daemon)",
    version,
    disable_version_flag = true,
    // pflag semantics: a repeated single-value flag takes the last value.
    args_override_self = true
)]
pub struct Flags {
    /// Print version information and quit
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
    /// Daemon configuration file
    #[arg(long = "config-file", value_name = "PATH")]
    pub config_file: Option<PathBuf>,
    /// Root directory of persistent state
    #[arg(long = "data-root", value_name = "PATH")]
    pub data_root: Option<PathBuf>,
    /// Root directory for execution state files
    #[arg(long = "exec-root", value_name = "PATH")]
    pub exec_root: Option<PathBuf>,
    /// Path to use for the daemon PID file
    #[arg(short = 'p', long = "pidfile", value_name = "PATH")]
    pub pidfile: Option<PathBuf>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool)]
    pub debug: Option<bool>,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Daemon socket(s) to connect to (unix://PATH, tcp://HOST:PORT, fd://[N])
    #[arg(short = 'H', long = "host", value_name = "ADDR")]
    pub hosts: Vec<String>,
    /// Default OCI runtime for containers
    #[arg(long = "default-runtime", value_name = "NAME")]
    pub default_runtime: Option<String>,
    /// Register an additional OCI compatible runtime (NAME=PATH)
    #[arg(long = "add-runtime", value_name = "NAME=PATH")]
    pub add_runtime: Vec<String>,
    /// Enable live restore of containers when the daemon stops
    #[arg(long = "live-restore", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool)]
    pub live_restore: Option<bool>,
    /// Default driver for container logs (json-file, local, none)
    #[arg(long = "log-driver", value_name = "NAME")]
    pub log_driver: Option<String>,
    /// Default log driver options for containers (KEY=VALUE)
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opts: Vec<String>,
    /// Storage driver to use (overlay, native)
    #[arg(short = 's', long = "storage-driver", value_name = "NAME")]
    pub storage_driver: Option<String>,
    /// Default ulimits for containers (NAME=SOFT[:HARD])
    #[arg(long = "default-ulimit", value_name = "ULIMIT")]
    pub default_ulimits: Vec<String>,
    /// Set key=value labels to the daemon
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Default shutdown timeout in seconds
    #[arg(long = "shutdown-timeout", value_name = "SECONDS")]
    pub shutdown_timeout: Option<u64>,
    /// Attach containers to a network bridge (the default bridge's device)
    #[arg(short = 'b', long = "bridge", value_name = "NAME")]
    pub bridge: Option<String>,
    /// Specify network bridge IP (its address with the prefix length)
    #[arg(long = "bip", value_name = "CIDR")]
    pub bip: Option<String>,
    /// Set the containers network MTU
    #[arg(long = "mtu", value_name = "BYTES")]
    pub mtu: Option<u32>,
    /// Use TLS; implied by --tlsverify
    #[arg(long = "tls", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool)]
    pub tls: Option<bool>,
    /// Use TLS and verify the remote
    #[arg(long = "tlsverify", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool)]
    pub tlsverify: Option<bool>,
    /// Trust certs signed only by this CA
    #[arg(long = "tlscacert", value_name = "PATH")]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file
    #[arg(long = "tlscert", value_name = "PATH")]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file
    #[arg(long = "tlskey", value_name = "PATH")]
    pub tlskey: Option<PathBuf>,
    /// Enable insecure registry communication (HOST[:PORT] or CIDR)
    #[arg(long = "insecure-registry", value_name = "REGISTRY",
          value_parser = flag_index_name, allow_hyphen_values = true)]
    pub insecure_registries: Vec<String>,
    /// Preferred Docker registry mirror (http[s]://HOST[:PORT])
    #[arg(long = "registry-mirror", value_name = "URL", value_parser = flag_mirror)]
    pub registry_mirrors: Vec<String>,
    /// Set the max concurrent downloads
    #[arg(
        long = "max-concurrent-downloads",
        value_name = "INT",
        allow_negative_numbers = true
    )]
    pub max_concurrent_downloads: Option<i64>,
    /// Set the max concurrent uploads
    #[arg(
        long = "max-concurrent-uploads",
        value_name = "INT",
        allow_negative_numbers = true
    )]
    pub max_concurrent_uploads: Option<i64>,
    /// Set the max download attempts for each pull
    #[arg(
        long = "max-download-attempts",
        value_name = "INT",
        allow_negative_numbers = true
    )]
    pub max_download_attempts: Option<i64>,
    /// Allow push of nondistributable artifacts to registry (HOST[:PORT] or CIDR)
    #[arg(long = "allow-nondistributable-artifacts", value_name = "REGISTRY",
          value_parser = flag_index_name, allow_hyphen_values = true)]
    pub allow_nondistributable_artifacts: Vec<String>,
}

/// `--insecure-registry` values are checked as dockerd's flag does (the
/// rest of the checks run with the file's entries).
fn flag_index_name(s: &str) -> Result<String, RegistryOptionError> {
    validate_index_name(s).map(|_| s.to_owned())
}

/// `--registry-mirror` values are validated and normalized as they parse.
fn flag_mirror(s: &str) -> Result<String, RegistryOptionError> {
    validate_mirror(s)
}

/// The default bridge's name: an interface name (IFNAMSIZ, no `/`,
/// whitespace or quotes), or `none` (no default bridge, as in dockerd).
fn bridge_name(name: Option<String>) -> Result<String, ConfigError> {
    let name = name.unwrap_or_else(|| "berth0".to_string());
    let ok = !name.is_empty()
        && name.len() < 16
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(name)
    } else {
        Err(ConfigError::BridgeName(name))
    }
}

/// Go's strconv.ParseBool, which pflag uses for `--debug=false`.
fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// The daemon's resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// The file that was read (it may not exist at the default location).
    pub config_file: PathBuf,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub pidfile: PathBuf,
    pub debug: bool,
    /// The effective level: debug mode forces `Debug`.
    pub log_level: Level,
    /// Where the API listens; never empty.
    pub hosts: Vec<Host>,
    pub default_runtime: String,
    /// Runtimes added by flags or the file (the built-in ones are not listed).
    pub runtimes: BTreeMap<String, RuntimeSpec>,
    pub live_restore: bool,
    pub log_driver: LogDriver,
    /// "overlay" or "native".
    pub storage_driver: String,
    pub default_ulimits: BTreeMap<String, (i64, i64)>,
    pub labels: Vec<String>,
    pub shutdown_timeout: u64,
    /// The default bridge's device name (`berth0`).
    pub bridge: String,
    /// TLS on the TCP sockets.
    pub tls: Option<crate::tls::TlsSettings>,
    pub bip: Option<String>,
    pub mtu: Option<u32>,
    /// `insecure-registries`, `registry-mirrors` and
    /// `allow-nondistributable-artifacts`.
    pub registry: RegistryOptions,
    /// Layers pulled at once (0: no limit).
    pub max_concurrent_downloads: usize,
    /// Layers pushed at once (0: no limit).
    pub max_concurrent_uploads: usize,
    /// Attempts at each layer download (at least 1).
    pub max_download_attempts: u32,
    /// The keys the configuration file set (a reload changes some
    /// settings only when the file names them, as dockerd's does).
    pub file_keys: BTreeSet<String>,
}

/// dockerd's default `max-concurrent-downloads`.
pub const DEFAULT_MAX_DOWNLOADS: usize = 3;
/// dockerd's default `max-concurrent-uploads`.
pub const DEFAULT_MAX_UPLOADS: usize = 5;
/// dockerd's default `max-download-attempts`.
pub const DEFAULT_MAX_DOWNLOAD_ATTEMPTS: u32 = 5;

/// Errors of reading and validating the configuration. Messages follow
/// dockerd's where it has one for the same mistake.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("read configuration file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unable to configure the berth daemon with file {path}: {source}")]
    ParseFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "unable to configure the berth daemon with file {path}: the configuration is not a JSON object"
    )]
    NotAnObject { path: PathBuf },
    #[error(
        "unable to configure the berth daemon with file {path}: the following directives don't match any configuration option: {keys}"
    )]
    UnknownKeys { path: PathBuf, keys: String },
    #[error(
        "unable to configure the berth daemon with file {path}: the following directives are specified both as a flag and in the configuration file: {conflicts}"
    )]
    Conflicts { path: PathBuf, conflicts: String },
    #[error("unable to parse logging level: {0}")]
    LogLevel(String),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("invalid runtime {0:?}: expected NAME=PATH")]
    RuntimeFormat(String),
    #[error("runtime name '{0}' is reserved")]
    RuntimeReserved(String),
    #[error("runtime {0:?} has no path")]
    RuntimeNoPath(String),
    #[error("specified default runtime '{0}' does not exist")]
    NoSuchDefaultRuntime(String),
    #[error("log driver {0:?} is not supported (supported: json-file, local, none)")]
    LogDriver(String),
    #[error("log opt {0:?} is not of the form KEY=VALUE")]
    LogOptFormat(String),
    #[error("unknown log opt '{key}' for {driver} log driver")]
    LogOpt { driver: String, key: String },
    #[error("invalid max-size {0:?}: expected a positive size such as 10m")]
    MaxSize(String),
    #[error("invalid max-file {0:?}: expected a positive integer")]
    MaxFile(String),
    #[error("max-file cannot be greater than one when max-size is not set")]
    MaxFileWithoutMaxSize,
    #[error("storage driver {0:?} is not supported (supported: overlay, native)")]
    StorageDriver(String),
    #[error("invalid ulimit {value:?}: {reason}")]
    Ulimit { value: String, reason: &'static str },
    #[error("invalid label {0:?}: expected KEY=VALUE")]
    Label(String),
    #[error("TLS needs {0}")]
    TlsMaterial(&'static str),
    #[error("invalid bridge name {0:?}: expected an interface name")]
    BridgeName(String),
    #[error(transparent)]
    Registry(#[from] RegistryOptionError),
    #[error("invalid max concurrent {what}: {value}")]
    MaxConcurrent { what: &'static str, value: i64 },
    #[error("invalid max download attempts: {0}")]
    MaxDownloadAttempts(i64),
    /// dockerd's wrapping of a value check that failed: `stage` says
    /// whether the file alone or the merge with the flags was checked.
    #[error("unable to configure the berth daemon with file {path}: {stage} failed: {source}")]
    Validation {
        path: PathBuf,
        stage: &'static str,
        #[source]
        source: Box<ConfigError>,
    },
}

/// dockerd's check of a transfer limit: negative is refused, 0 is no
/// limit.
fn max_concurrent(what: &'static str, value: i64) -> Result<usize, ConfigError> {
    usize::try_from(value).map_err(|_| ConfigError::MaxConcurrent { what, value })
}

/// dockerd 20.10's check of `max-download-attempts`: at least one.
fn max_download_attempts(value: i64) -> Result<u32, ConfigError> {
    u32::try_from(value)
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ConfigError::MaxDownloadAttempts(value))
}

impl Flags {
    /// The file keys of the settings given on the command line, each with
    /// its value as dockerd prints it in a conflict (`[a b]` for lists).
    fn given(&self) -> BTreeMap<&'static str, String> {
        fn list(v: &[String]) -> String {
            format!("[{}]", v.join(" "))
        }
        let mut m = BTreeMap::new();
        let mut put = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k, v);
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let nonempty = |v: &Vec<String>| (!v.is_empty()).then(|| list(v));
        put("data-root", path(&self.data_root));
        put("exec-root", path(&self.exec_root));
        put("pidfile", path(&self.pidfile));
        put("debug", self.debug.map(|b| b.to_string()));
        put("log-level", self.log_level.clone());
        put("hosts", nonempty(&self.hosts));
        put("default-runtime", self.default_runtime.clone());
        put("runtimes", nonempty(&self.add_runtime));
        put("live-restore", self.live_restore.map(|b| b.to_string()));
        put("log-driver", self.log_driver.clone());
        put("log-opts", nonempty(&self.log_opts));
        put("storage-driver", self.storage_driver.clone());
        put("default-ulimits", nonempty(&self.default_ulimits));
        put("labels", nonempty(&self.labels));
        put(
            "shutdown-timeout",
            self.shutdown_timeout.map(|t| t.to_string()),
        );
        put("bridge", self.bridge.clone());
        put("bip", self.bip.clone());
        put("mtu", self.mtu.map(|m| m.to_string()));
        put("tls", self.tls.map(|b| b.to_string()));
        put("tlsverify", self.tlsverify.map(|b| b.to_string()));
        put("tlscacert", path(&self.tlscacert));
        put("tlscert", path(&self.tlscert));
        put("tlskey", path(&self.tlskey));
        put("insecure-registries", nonempty(&self.insecure_registries));
        put("registry-mirrors", nonempty(&self.registry_mirrors));
        put(
            "max-concurrent-downloads",
            self.max_concurrent_downloads.map(|n| n.to_string()),
        );
        put(
            "max-concurrent-uploads",
            self.max_concurrent_uploads.map(|n| n.to_string()),
        );
        put(
            "max-download-attempts",
            self.max_download_attempts.map(|n| n.to_string()),
        );
        put(
            "allow-nondistributable-artifacts",
            nonempty(&self.allow_nondistributable_artifacts),
        );
        m
    }
}

impl DaemonConfig {
    /// Reads the configuration file named by the flags (or the default
    /// one) and merges it with the flags. Called at start and on SIGHUP.
    pub fn load(flags: &Flags) -> Result<DaemonConfig, ConfigError> {
        let path = flags
            .config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        let file = read_file(&path, flags.config_file.is_some())?;
        Self::merge(flags, path, file)
    }

    /// Merges flags and an already-read file (`None`: no file).
    fn merge(
        flags: &Flags,
        path: PathBuf,
        file: Option<Map<String, Value>>,
    ) -> Result<DaemonConfig, ConfigError> {
        let read = file.is_some();
        let file_keys: BTreeSet<String> = file
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let file: FileConfig = match file {
            None => FileConfig::default(),
            Some(map) => {
                check_file(&path, &map, &flags.given())?;
                serde_json::from_value(Value::Object(map)).map_err(|source| {
                    ConfigError::ParseFile {
                        path: path.clone(),
                        source,
                    }
                })?
            }
        };

        // Transfer limits: dockerd checks the file's values, then the
        // merged ones, each failure wrapped with the file's name.
        let wrap = |stage: &'static str| {
            let path = path.clone();
            move |e: ConfigError| {
                if read {
                    ConfigError::Validation {
                        path,
                        stage,
                        source: Box::new(e),
                    }
                } else {
                    e
                }
            }
        };
        let from_file = "configuration validation from file";
        let merged = "merged configuration validation from file and command line flags";
        let limit = |what, flag: Option<i64>, file: Option<i64>, default: usize| {
            if let Some(v) = file {
                max_concurrent(what, v).map_err(wrap(from_file))?;
            }
            match flag.or(file) {
                Some(v) => max_concurrent(what, v).map_err(wrap(merged)),
                None => Ok(default),
            }
        };
        let max_concurrent_downloads = limit(
            "downloads",
            flags.max_concurrent_downloads,
            file.max_concurrent_downloads,
            DEFAULT_MAX_DOWNLOADS,
        )?;
        let max_concurrent_uploads = limit(
            "uploads",
            flags.max_concurrent_uploads,
            file.max_concurrent_uploads,
            DEFAULT_MAX_UPLOADS,
        )?;
        if let Some(v) = file.max_download_attempts {
            max_download_attempts(v).map_err(wrap(from_file))?;
        }
        let max_download_attempts = match flags.max_download_attempts.or(file.max_download_attempts)
        {
            Some(v) => max_download_attempts(v).map_err(wrap(merged))?,
            None => DEFAULT_MAX_DOWNLOAD_ATTEMPTS,
        };
        // A list comes from the flags or the file, never both (a conflict).
        let list = |flag: &Vec<String>, file: &Option<Vec<String>>| {
            if flag.is_empty() {
                file.clone().unwrap_or_default()
            } else {
                flag.clone()
            }
        };
        let registry = RegistryOptions::load(RegistryLists {
            insecure: list(&flags.insecure_registries, &file.insecure_registries),
            mirrors: list(&flags.registry_mirrors, &file.registry_mirrors),
            nondistributable: list(
                &flags.allow_nondistributable_artifacts,
                &file.allow_nondistributable_artifacts,
            ),
        })?;

        // TLS: --tlsverify implies --tls; both need the daemon's pair, and
        // verification needs the CA.
        let tlsverify = flags.tlsverify.or(file.tlsverify).unwrap_or(false);
        let tls_on = tlsverify || flags.tls.or(file.tls).unwrap_or(false);
        let tls = if tls_on {
            let cert = flags.tlscert.clone().or(file.tlscert.clone());
            let key = flags.tlskey.clone().or(file.tlskey.clone());
            let ca = flags.tlscacert.clone().or(file.tlscacert.clone());
            let (Some(cert), Some(key)) = (cert, key) else {
                return Err(ConfigError::TlsMaterial("--tlscert and --tlskey"));
            };
            if tlsverify && ca.is_none() {
                return Err(ConfigError::TlsMaterial("--tlscacert (with --tlsverify)"));
            }
            Some(crate::tls::TlsSettings {
                cert,
                key,
                client_ca: if tlsverify { ca } else { None },
            })
        } else {
            None
        };

        let data_root = flags
            .data_root
            .clone()
            .or(file.data_root)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_ROOT));
        let exec_root = flags
            .exec_root
            .clone()
            .or(file.exec_root)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_EXEC_ROOT));
        let pidfile = flags
            .pidfile
            .clone()
            .or(file.pidfile)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PIDFILE));
        let debug = flags.debug.or(file.debug).unwrap_or(false);
        let log_level = match flags.log_level.clone().or(file.log_level) {
            Some(l) => Level::parse(&l).ok_or(ConfigError::LogLevel(l))?,
            None => Level::Info,
        };
        let log_level = if debug { Level::Debug } else { log_level };

        let host_specs = if flags.hosts.is_empty() {
            file.hosts.unwrap_or_default()
        } else {
            flags.hosts.clone()
        };
        let mut hosts = Vec::new();
        for spec in &host_specs {
            let mut h = Host::parse(spec, &exec_root)?;
            // With TLS a TCP address without a port gets dockerd's TLS port.
            if let Host::Tcp(_, port) = &mut h {
                let explicit = spec
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                if tls.is_some() && !explicit {
                    *port = crate::listen::DEFAULT_TLS_PORT;
                }
            }
            hosts.push(h);
        }
        if hosts.is_empty() {
            hosts.push(Host::Unix(exec_root.join("berth.sock")));
        }

        let mut runtimes = BTreeMap::new();
        for spec in &flags.add_runtime {
            let (name, path) = spec
                .split_once('=')
                .filter(|(n, p)| !n.is_empty() && !p.is_empty())
                .ok_or_else(|| ConfigError::RuntimeFormat(spec.clone()))?;
            runtimes.insert(
                name.to_string(),
                RuntimeSpec {
                    path: PathBuf::from(path),
                    args: Vec::new(),
                },
            );
        }
        for (name, rt) in file.runtimes.unwrap_or_default() {
            let path = rt
                .path
                .ok_or_else(|| ConfigError::RuntimeNoPath(name.clone()))?;
            runtimes.insert(
                name,
                RuntimeSpec {
                    path,
                    args: rt.runtime_args,
                },
            );
        }
        if let Some(name) = runtimes
            .keys()
            .find(|n| BUILTIN_RUNTIMES.contains(&n.as_str()))
        {
            return Err(ConfigError::RuntimeReserved(name.clone()));
        }
        let default_runtime = flags
            .default_runtime
            .clone()
            .or(file.default_runtime)
            .unwrap_or_else(|| DEFAULT_RUNTIME.to_string());
        if !BUILTIN_RUNTIMES.contains(&default_runtime.as_str())
            && !runtimes.contains_key(&default_runtime)
        {
            return Err(ConfigError::NoSuchDefaultRuntime(default_runtime));
        }

        let mut log_opts = BTreeMap::new();
        for opt in &flags.log_opts {
            let (k, v) = opt
                .split_once('=')
                .ok_or_else(|| ConfigError::LogOptFormat(opt.clone()))?;
            log_opts.insert(k.to_string(), v.to_string());
        }
        log_opts.extend(file.log_opts.unwrap_or_default());
        let log_driver = log_driver(
            flags.log_driver.as_deref().or(file.log_driver.as_deref()),
            &log_opts,
        )?;

        let storage_driver = match flags
            .storage_driver
            .clone()
            .or(file.storage_driver)
            .as_deref()
        {
            // overlay2 and vfs are dockerd's names for the same two drivers.
            None | Some("overlay") | Some("overlay2") => "overlay".to_string(),
            Some("native") | Some("vfs") => "native".to_string(),
            Some(other) => return Err(ConfigError::StorageDriver(other.to_string())),
        };

        let mut default_ulimits = BTreeMap::new();
        for spec in &flags.default_ulimits {
            let (name, soft, hard) = parse_ulimit(spec)?;
            default_ulimits.insert(name, (soft, hard));
        }
        for (key, u) in file.default_ulimits.unwrap_or_default() {
            let name = u.name.unwrap_or_else(|| key.clone());
            let value = format!("{key}={}:{}", u.soft, u.hard);
            check_ulimit(&name, u.soft, u.hard, &value)?;
            default_ulimits.insert(name, (u.soft, u.hard));
        }

        let labels = if flags.labels.is_empty() {
            file.labels.unwrap_or_default()
        } else {
            flags.labels.clone()
        };
        if let Some(bad) = labels
            .iter()
            .find(|l| !l.contains('=') || l.starts_with('='))
        {
            return Err(ConfigError::Label(bad.clone()));
        }

        Ok(DaemonConfig {
            config_file: path,
            data_root,
            exec_root,
            pidfile,
            debug,
            log_level,
            hosts,
            default_runtime,
            runtimes,
            live_restore: flags.live_restore.or(file.live_restore).unwrap_or(false),
            log_driver,
            storage_driver,
            default_ulimits,
            labels,
            shutdown_timeout: flags
                .shutdown_timeout
                .or(file.shutdown_timeout)
                .unwrap_or(15),
            bridge: bridge_name(flags.bridge.clone().or(file.bridge.clone()))?,
            tls,
            bip: flags.bip.clone().or(file.bip.clone()),
            mtu: flags.mtu.or(file.mtu),
            registry,
            max_concurrent_downloads,
            max_concurrent_uploads,
            max_download_attempts,
            file_keys,
        })
    }

    /// The engine's registry settings (also what a reload applies).
    pub fn registry_settings(&self) -> RegistrySettings {
        RegistrySettings {
            insecure_registries: self.registry.insecure_entries(),
            registry_mirrors: self.registry.mirrors.clone(),
            allow_nondistributable: self.registry.nondistributable_entries(),
            max_concurrent_downloads: self.max_concurrent_downloads,
            max_concurrent_uploads: self.max_concurrent_uploads,
            max_download_attempts: self.max_download_attempts,
        }
    }

    /// The engine's configuration: the engine's defaults under our roots
    /// (berth-runc next to this binary, runc from PATH), plus our settings.
    pub fn engine_config(&self) -> EngineConfig {
        let mut cfg = EngineConfig::with_roots(self.data_root.clone(), self.exec_root.clone());
        cfg.default_runtime = self.default_runtime.clone();
        cfg.runtimes.extend(self.runtimes.clone());
        cfg.log_driver = self.log_driver.clone();
        cfg.storage_driver = self.storage_driver.clone();
        cfg.default_ulimits = self.default_ulimits.clone();
        cfg.labels = self.labels.clone();
        cfg.live_restore = self.live_restore;
        cfg.debug = self.debug;
        cfg.shutdown_timeout = self.shutdown_timeout;
        cfg.registry = self.registry_settings();
        cfg.bridge = berth_engine::networks::BridgeSettings {
            bridge: self.bridge.clone(),
            bip: self.bip.clone(),
            mtu: self.mtu,
            // One firewall table per default bridge, so daemons with their
            // own bridges (tests, several data roots) never share rules.
            table: if self.bridge == "berth0" {
                "berth".to_string()
            } else {
                format!("berth_{}", self.bridge.replace(['-', '.'], "_"))
            },
        };
        cfg
    }
}
