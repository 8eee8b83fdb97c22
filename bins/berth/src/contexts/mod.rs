//! The docker CLI's context store, kept in the same files so that docker and berth
//! read each other's contexts.
//!
//! Layout below the configuration directory (`contexts/`):
//! - `meta/<sha256 of the name>/meta.json`: the context, as Go's `json.Marshal` of
//!   `{"Name", "Metadata", "Endpoints"}` writes it; `Metadata` holds the
//!   `Description` and any other fields, `Endpoints.docker` the daemon's address
//!   (`Host`) and `SkipTLSVerify`;
//! - `tls/<sha256 of the name>/<endpoint>/{ca,cert,key}.pem`: the TLS material the
//!   context was created with (copies, 0600 in 0700 directories).
//!
//! The context named `default` is not stored: it is what the flags and the
//! environment say (see `connection`). [`Store`] reads and writes the stored ones;
//! [`export`] and [`import`] move one as docker's tar stream (`meta.json`, then
//! `tls/<endpoint>/<file>`).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

mod archive;

pub use archive::{export, import};
use sha2::{Digest as _, Sha256};

use crate::cmd::parse::io_text;

/// The reserved name of the context the flags and the environment make.
pub const DEFAULT: &str = "default";
/// How `context ls` describes the default context.
pub const DEFAULT_DESCRIPTION: &str = "Current DOCKER_HOST based configuration";
/// The endpoint of the Docker Engine API in a context.
pub const DOCKER_ENDPOINT: &str = "docker";
/// docker's rule for context names.
const NAME_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$";
pub(crate) const META_FILE: &str = "meta.json";

/// TLS files by endpoint, then by file name.
pub type TlsFiles = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

/// Failures of the store, worded as docker's context store words them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("context name cannot be empty")]
    EmptyName,
    #[error("\"default\" is a reserved context name")]
    ReservedName,
    #[error("context name {0:?} is invalid, names are validated against regexp \"{NAME_PATTERN}\"")]
    InvalidName(String),
    /// No `meta.json` for the name.
    #[error("context {name:?}: context not found: open {}: {}", path.display(), io_text(source))]
    NotFound {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `meta.json` is there but does not read.
    #[error("context {name:?}: open {}: {}", path.display(), io_text(source))]
    ReadMeta {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `meta.json` is not a context.
    #[error("context {name:?}: parsing {}: {detail}", path.display())]
    Parse {
        name: String,
        path: PathBuf,
        detail: String,
    },
    /// A file or directory of the store could not be read or written.
    #[error("{op} {}: {}", path.display(), io_text(source))]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The context's TLS directory does not list.
    #[error("failed to list TLS files for context {name}: open {}: {}", path.display(), io_text(source))]
    ListTls {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A stored TLS file is not there.
    #[error("TLS data for {name}/{endpoint}/{file} does not exist")]
    NoTlsData {
        name: String,
        endpoint: String,
        file: String,
    },
    /// An imported archive without `meta.json`.
    #[error("invalid context: no metadata found")]
    NoMetadata,
    /// An imported archive's entry that is not `meta.json` or `tls/…`.
    #[error("{0}: unexpected context file")]
    UnexpectedFile(String),
    #[error("{0}: unexpected path format")]
    UnexpectedPath(String),
    #[error("{0}: unexpected '\\' in path")]
    Backslash(String),
    /// A TLS entry not two levels below `tls/`.
    #[error("archive format is invalid")]
    TlsLayout,
    /// The archive's `meta.json` is not JSON.
    #[error("{0}")]
    ImportJson(String),
    /// The archive does not read as tar.
    #[error("{0}")]
    Archive(#[source] std::io::Error),
    /// docker imports zip archives too; berth reads tar only.
    #[error("zip archives are not supported: export the context as tar")]
    Zip,
}

/// A context as stored: its name, its metadata (`None` when absent) and its endpoints
/// (each as its JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub name: String,
    pub metadata: Option<Map<String, Value>>,
    pub endpoints: BTreeMap<String, Value>,
}

/// The Docker endpoint of a context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// The daemon's address as given (`unix:///…`, `tcp://…`); empty for the default.
    pub host: String,
    pub skip_tls_verify: bool,
}

impl Endpoint {
    /// The endpoint as docker stores it (`Host` left out when empty).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if !self.host.is_empty() {
            m.insert("Host".into(), self.host.clone().into());
        }
        m.insert("SkipTLSVerify".into(), self.skip_tls_verify.into());
        Value::Object(m)
    }
}

impl Meta {
    /// A context of `name` with a description (none when empty) and a Docker endpoint.
    pub fn new(name: &str, description: &str, ep: &Endpoint) -> Meta {
        let mut md = Map::new();
        if !description.is_empty() {
            md.insert("Description".into(), description.into());
        }
        Meta {
            name: name.to_string(),
            metadata: Some(md),
            endpoints: BTreeMap::from([(DOCKER_ENDPOINT.to_string(), ep.to_value())]),
        }
    }

    /// The description, empty when there is none.
    pub fn description(&self) -> String {
        self.metadata
            .as_ref()
            .and_then(|m| m.get("Description"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    /// Sets the description (an empty one is dropped, as docker's marshaller drops it).
    pub fn set_description(&mut self, d: &str) {
        let m = self.metadata.get_or_insert_with(Map::new);
        if d.is_empty() {
            m.remove("Description");
        } else {
            m.insert("Description".into(), d.into());
        }
    }

    /// The Docker endpoint (docker's `EndpointFromContext`).
    pub fn docker(&self) -> Result<Endpoint, String> {
        let Some(v) = self.endpoints.get(DOCKER_ENDPOINT) else {
            return Err("cannot find docker endpoint in context".into());
        };
        let Value::Object(m) = v else {
            return Err(format!(
                "endpoint {DOCKER_ENDPOINT:?} is not of type EndpointMeta"
            ));
        };
        Ok(Endpoint {
            host: get_ci(m, "Host")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            skip_tls_verify: get_ci(m, "SkipTLSVerify")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// The JSON docker's `json.Marshal` writes for the context: the fields in its
    /// struct's order, empty ones left out, maps with sorted keys, `<>&` escaped.
    pub fn to_json(&self) -> String {
        let mut parts = Vec::new();
        if !self.name.is_empty() {
            parts.push(format!(
                "\"Name\":{}",
                go_json(&Value::from(self.name.clone()))
            ));
        }
        if let Some(m) = &self.metadata {
            parts.push(format!(
                "\"Metadata\":{}",
                go_json(&Value::Object(m.clone()))
            ));
        }
        if !self.endpoints.is_empty() {
            let eps: Map<String, Value> = self.endpoints.clone().into_iter().collect();
            parts.push(format!("\"Endpoints\":{}", go_json(&Value::Object(eps))));
        }
        format!("{{{}}}", parts.join(","))
    }

    /// Parses a `meta.json` as docker's store reads it: field names in any case, the
    /// metadata and the Docker endpoint typed (a wrong type is an error), other
    /// endpoints kept as they are.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Meta, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let Value::Object(top) = v else {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type store.untypedContextMetadata",
                go_kind(&v)
            ));
        };
        let name = match get_ci(&top, "Name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go struct field untypedContextMetadata.name of type string",
                    go_kind(other)
                ));
            }
        };
        let metadata = match get_ci(&top, "Metadata") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                let mut m = m.clone();
                match m.get("Description") {
                    Some(Value::String(d)) if d.is_empty() => {
                        m.remove("Description");
                    }
                    Some(Value::String(_)) | None => {}
                    Some(_) => return Err("context metadata: Description is not a string".into()),
                }
                Some(m)
            }
            Some(other) => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    go_kind(other)
                ));
            }
        };
        let mut endpoints = BTreeMap::new();
        match get_ci(&top, "Endpoints") {
            None | Some(Value::Null) => {}
            Some(Value::Object(eps)) => {
                for (k, v) in eps {
                    let v = if k == DOCKER_ENDPOINT {
                        typed_endpoint(v)?
                    } else {
                        v.clone()
                    };
                    endpoints.insert(k.clone(), v);
                }
            }
            Some(other) => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go struct field untypedContextMetadata.endpoints of type map[string]json.RawMessage",
                    go_kind(other)
                ));
            }
        }
        Ok(Meta {
            name,
            metadata,
            endpoints,
        })
    }
}

/// The Docker endpoint as Go's `EndpointMeta` reads it.
fn typed_endpoint(v: &Value) -> Result<Value, String> {
    let m = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type context.EndpointMetaBase",
                go_kind(other)
            ));
        }
    };
    let host = match get_ci(m, "Host") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "json: cannot unmarshal {} into Go struct field EndpointMetaBase.Host of type string",
                go_kind(other)
            ));
        }
    };
    let skip = match get_ci(m, "SkipTLSVerify") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "json: cannot unmarshal {} into Go struct field EndpointMetaBase.SkipTLSVerify of type bool",
                go_kind(other)
            ));
        }
    };
    Ok(Endpoint {
        host,
        skip_tls_verify: skip,
    }
    .to_value())
}

/// Go's encoding/json matches field names without regard to case (an exact match
/// first).
fn get_ci<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's `json.Marshal` of a value: compact, sorted keys, HTML characters escaped.
pub fn go_json(v: &Value) -> String {
    crate::fmt::go_json(v)
}

/// docker's `ValidateContextName`.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::EmptyName);
    }
    if name == DEFAULT {
        return Err(StoreError::ReservedName);
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest: Vec<char> = chars.collect();
    let rest_ok = !rest.is_empty()
        && rest
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(name.to_string()))
    }
}

/// The directory name of a context: the hex SHA-256 of its name (docker's
/// `digest.FromString(name).Encoded()`).
pub fn dir_of(name: &str) -> String {
    Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The stored contexts below a configuration directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store of the configuration directory `config_dir`.
    pub fn new(config_dir: &Path) -> Store {
        Store {
            root: config_dir.join("contexts"),
        }
    }

    /// Where the metadata of `name` is (whether or not it exists).
    pub fn meta_dir(&self, name: &str) -> PathBuf {
        self.root.join("meta").join(dir_of(name))
    }

    /// Where the TLS material of `name` is (whether or not it exists).
    pub fn tls_dir(&self, name: &str) -> PathBuf {
        self.root.join("tls").join(dir_of(name))
    }

    /// The context `name`.
    pub fn get(&self, name: &str) -> Result<Meta, StoreError> {
        let path = self.meta_dir(name).join(META_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    name: name.to_string(),
                    path,
                    source: e,
                });
            }
            Err(e) => {
                return Err(StoreError::ReadMeta {
                    name: name.to_string(),
                    path,
                    source: e,
                });
            }
        };
        Meta::parse(&bytes).map_err(|detail| StoreError::Parse {
            name: name.to_string(),
            path,
            detail,
        })
    }

    /// Every stored context, in natural order of their names. A directory below
    /// `meta/` counts when it has a `meta.json` file (docker looks at any depth).
    pub fn list(&self) -> Result<Vec<Meta>, StoreError> {
        let root = self.root.join("meta");
        let mut dirs = Vec::new();
        match meta_dirs(&root, &mut dirs) {
            Ok(()) => {}
            Err(StoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && dirs.is_empty() =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        }
        let mut out = Vec::new();
        for d in dirs {
            let path = d.join(META_FILE);
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(StoreError::Io {
                        op: "open",
                        path,
                        source: e,
                    });
                }
            };
            let m = Meta::parse(&bytes).map_err(|detail| StoreError::Parse {
                name: d.file_name().unwrap_or_default().to_string_lossy().into(),
                path,
                detail,
            })?;
            out.push(m);
        }
        out.sort_by(|a, b| crate::fmt::units::natural_cmp(&a.name, &b.name));
        Ok(out)
    }

    /// Writes the context (its directory 0755, `meta.json` 0644, replaced atomically).
    pub fn create_or_update(&self, m: &Meta) -> Result<(), StoreError> {
        let dir = self.meta_dir(&m.name);
        mkdir(&dir, 0o755)?;
        write_atomic(&dir.join(META_FILE), m.to_json().as_bytes(), 0o644)
    }

    /// Removes the context's metadata and TLS material.
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        remove_all(&self.meta_dir(name))?;
        remove_all(&self.tls_dir(name))
    }

    /// The TLS files of each endpoint of `name`, by name (empty when none).
    pub fn list_tls(&self, name: &str) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let dir = self.tls_dir(name);
        let list_err = |path: &Path, e| StoreError::ListTls {
            name: name.to_string(),
            path: path.to_path_buf(),
            source: e,
        };
        let eps = match std::fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(list_err(&dir, e)),
        };
        let mut out = BTreeMap::new();
        for ep in eps {
            let ep = ep.map_err(|e| list_err(&dir, e))?;
            if !ep.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let mut files: Vec<String> = Vec::new();
            let entries = match std::fs::read_dir(ep.path()) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(list_err(&ep.path(), e)),
            };
            for f in entries {
                let f = f.map_err(|e| list_err(&ep.path(), e))?;
                if !f.file_type().is_ok_and(|t| t.is_dir()) {
                    files.push(f.file_name().to_string_lossy().into_owned());
                }
            }
            files.sort();
            out.insert(ep.file_name().to_string_lossy().into_owned(), files);
        }
        Ok(out)
    }

    /// The path of a TLS file of an endpoint of `name` (whether or not it exists).
    pub fn tls_file(&self, name: &str, endpoint: &str, file: &str) -> PathBuf {
        self.tls_dir(name).join(endpoint).join(file)
    }

    /// The contents of a TLS file.
    pub fn tls_data(&self, name: &str, endpoint: &str, file: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.tls_file(name, endpoint, file);
        std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::NoTlsData {
                    name: name.to_string(),
                    endpoint: endpoint.to_string(),
                    file: file.to_string(),
                }
            } else {
                StoreError::Io {
                    op: "open",
                    path,
                    source: e,
                }
            }
        })
    }

    /// Every TLS file of `name`, read.
    pub fn tls_all(&self, name: &str) -> Result<TlsFiles, StoreError> {
        let mut out = TlsFiles::new();
        for (ep, files) in self.list_tls(name)? {
            let e = out.entry(ep.clone()).or_default();
            for f in files {
                e.insert(f.clone(), self.tls_data(name, &ep, &f)?);
            }
        }
        Ok(out)
    }

    /// Replaces all TLS material of `name` with `data`.
    pub fn reset_tls(&self, name: &str, data: &TlsFiles) -> Result<(), StoreError> {
        remove_all(&self.tls_dir(name))?;
        for (ep, files) in data {
            self.write_endpoint_tls(name, ep, files)?;
        }
        Ok(())
    }

    /// Replaces the TLS material of one endpoint of `name` (`None`: removes it).
    pub fn reset_endpoint_tls(
        &self,
        name: &str,
        endpoint: &str,
        files: Option<&BTreeMap<String, Vec<u8>>>,
    ) -> Result<(), StoreError> {
        remove_all(&self.tls_dir(name).join(endpoint))?;
        match files {
            Some(f) => self.write_endpoint_tls(name, endpoint, f),
            None => Ok(()),
        }
    }

    fn write_endpoint_tls(
        &self,
        name: &str,
        endpoint: &str,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Result<(), StoreError> {
        if files.is_empty() {
            return Ok(());
        }
        mkdir(&self.root, 0o755)?;
        let dir = self.tls_dir(name).join(endpoint);
        mkdir(&dir, 0o700)?;
        for (f, data) in files {
            write_atomic(&dir.join(f), data, 0o600)?;
        }
        Ok(())
    }
}

fn meta_dirs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), StoreError> {
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::Io {
        op: "open",
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut subs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subs.sort();
    for s in subs {
        if s.join(META_FILE).metadata().is_ok_and(|m| !m.is_dir()) {
            out.push(s.clone());
        }
        meta_dirs(&s, out)?;
    }
    Ok(())
}

fn mkdir(dir: &Path, mode: u32) -> Result<(), StoreError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|e| StoreError::Io {
            op: "mkdir",
            path: dir.to_path_buf(),
            source: e,
        })
}

fn remove_all(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io {
            op: "remove",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Writes `path` through a temporary file in its directory and a rename, so a reader
/// never sees half a file (docker's atomicwriter).
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), StoreError> {
    let io = |op, e| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source: e,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| io("create", e))?;
    tmp.write_all(data).map_err(|e| io("write", e))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| io("chmod", e))?;
    tmp.persist(path).map_err(|e| io("rename", e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        assert!(validate_name("c1").is_ok());
        assert!(validate_name("a.b+c_d-e").is_ok());
        assert_eq!(
            validate_name("x").unwrap_err().to_string(),
            "context name \"x\" is invalid, names are validated against regexp \"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\""
        );
        assert!(validate_name("-ab").is_err());
        assert!(validate_name("a b").is_err());
        assert_eq!(
            validate_name("default").unwrap_err().to_string(),
            "\"default\" is a reserved context name"
        );
        assert_eq!(
            validate_name("").unwrap_err().to_string(),
            "context name cannot be empty"
        );
    }

    #[test]
    fn stored_as_docker_stores_it() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path());
        let m = Meta::new(
            "c1",
            "my <ctx>",
            &Endpoint {
                host: "unix:///x.sock".into(),
                skip_tls_verify: false,
            },
        );
        s.create_or_update(&m).unwrap();
        let path = d
            .path()
            .join("contexts/meta/d0f631ca1ddba8db3bcfcb9e057cdc98d0379f1bee00e75a545147a27dadd982/meta.json");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"Name":"c1","Metadata":{"Description":"my \u003cctx\u003e"},"Endpoints":{"docker":{"Host":"unix:///x.sock","SkipTLSVerify":false}}}"#
        );
        assert_eq!(s.get("c1").unwrap(), m);
        assert_eq!(s.list().unwrap(), vec![m.clone()]);
        let e = s.get("nope").unwrap_err().to_string();
        assert!(
            e.starts_with("context \"nope\": context not found: open ")
                && e.ends_with("/meta.json: no such file or directory"),
            "{e}"
        );
        let tls = TlsFiles::from([(
            "docker".to_string(),
            BTreeMap::from([("ca.pem".to_string(), b"CA".to_vec())]),
        )]);
        s.reset_tls("c1", &tls).unwrap();
        assert_eq!(s.tls_all("c1").unwrap(), tls);
        let mode = std::fs::metadata(s.tls_file("c1", "docker", "ca.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        s.remove("c1").unwrap();
        assert!(s.list().unwrap().is_empty());
        assert!(!s.tls_dir("c1").exists());
    }
}
