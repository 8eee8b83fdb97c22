//! The volume service: named and anonymous volumes of the `local` driver,
//! and the mounts of containers that use them.
//!
//! # Vocabulary and lifecycle
//!
//! A *volume* is a directory `<data-root>/volumes/<name>/_data` with a
//! record (`store`); with driver options (`-o type=tmpfs`, `o=bind`, ...)
//! it is a mount made on that directory (`local`). Volumes are *created*
//! by `volume create` or by a container create that names a volume that
//! does not exist (`-v name:/path`, `--mount`), or made *anonymous* for
//! a container (`-v /path`, the image's `VOLUME`s, a `--mount` without a
//! source); anonymous ones have a random 64-hex name and go with their
//! container on `rm -v` and `--rm`.
//!
//! A container *refers* to the volumes in its mount points from its create
//! to its removal (a referenced volume is "in use": `volume rm` refuses,
//! prune skips it). While it runs it *uses* them: the first user of a
//! volume with options mounts it, the last one to stop unmounts it. Users
//! are counted in memory; a daemon that starts unmounts what a previous
//! one left mounted (containers still running keep their own mounts).
//! The first start of a container fills each of its new volumes that is
//! empty with what the image has at the mount point (*copy-up*), unless
//! `nocopy` was asked for.
//!
//! # Files
//!
//! `store` (records), `local` (driver options and mounts), `mountpoints`
//! (a create request's mounts, docker's parsing rules), `copyup`,
//! `service` (the in-memory state and its operations), `api` (the Engine
//! API's volume endpoints), `containers` (what container create, start,
//! stop and remove ask of volumes).

mod api;
mod containers;
mod copyup;
mod local;
pub mod mountpoints;
mod service;
mod store;

use std::path::PathBuf;

use crate::ErrorKind;

pub use api::PruneOptions;
pub use containers::{CreatedMounts, mount_points_of};
pub use mountpoints::MountPoint;
pub use service::VolumeService;

/// The only volume driver.
pub const LOCAL: &str = "local";

/// Why a mount configuration is refused (the text after docker's
/// `invalid mount config for type "<type>": `).
#[derive(Debug, thiserror::Error)]
pub enum MountConfigError {
    #[error("field {0} must not be empty")]
    MissingField(&'static str),
    #[error("field {0} must not be specified")]
    ExtraField(&'static str),
    #[error("invalid mount path: '{0}' mount path must be absolute")]
    RelativePath(String),
    #[error("invalid specification: destination can't be '/'")]
    TargetIsRoot,
    #[error("bind source path does not exist: {0}")]
    BindSourceMissing(String),
    #[error("stat {path}: {source}")]
    Stat {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("mount type unknown")]
    UnknownType,
    #[error("invalid propagation mode: {0}")]
    Propagation(String),
    #[error("must not set ReadOnly mode when using anonymous volumes")]
    ReadOnlyAnonymous,
}

/// Errors of the volume service. Messages clients show are docker's
/// (moby's `OpErr`: "<op> <name>: <reason>").
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "create {name}: volume name is too short, names should be at least two alphanumeric characters"
    )]
    NameTooShort { name: String },
    #[error(
        "create {name}: {name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    )]
    InvalidName { name: String },
    #[error("create {name}: error looking up volume plugin {driver}: plugin {driver:?} not found")]
    UnknownDriver { name: String, driver: String },
    #[error("create {name}: invalid option: {option:?}")]
    InvalidOption { name: String, option: String },
    #[error("create {name}: missing required option: {option:?}")]
    MissingOption { name: String, option: &'static str },
    #[error("create {name}: invalid size: '{value}'")]
    InvalidSize { name: String, value: String },
    #[error("create {name}: quota size requested but no quota support")]
    NoQuota { name: String },
    #[error("get {name}: no such volume")]
    NotFound { name: String },
    #[error("remove {name}: volume is in use - [{}]", ids.join(", "))]
    InUse { name: String, ids: Vec<String> },
    #[error("{0}")]
    InvalidFilter(#[source] berth_api_types::filters::FiltersError),
    #[error("invalid volume specification: '{0}'")]
    InvalidSpec(String),
    #[error("invalid mode: {0}")]
    InvalidMode(String),
    #[error("invalid volume specification: '{spec}': {source}")]
    InvalidVolumeSpec {
        spec: String,
        #[source]
        source: Box<Error>,
    },
    #[error("invalid mount config for type {typ:?}: {reason}")]
    MountConfig {
        typ: String,
        #[source]
        reason: MountConfigError,
    },
    #[error("Duplicate mount point: {0}")]
    DuplicateMountPoint(String),
    #[error(
        "invalid mount config: must use either propagation mode \"rslave\" or \"rshared\" when mount source is within the daemon root, daemon root: {root:?}, bind mount source: {bind_source:?}, propagation: {propagation:?}"
    )]
    DaemonRootPropagation {
        root: String,
        bind_source: String,
        propagation: String,
    },
    #[error("volumes-from specification cannot be an empty string")]
    VolumesFromEmpty,
    /// `--volumes-from` naming no container: docker's text, as a 400.
    #[error("No such container: {0}")]
    VolumesFromNotFound(String),
    #[error("invalid mount path: '{0}' mount path must be absolute")]
    TmpfsPath(String),
    #[error("invalid specification: destination can't be '/'")]
    TmpfsRoot,
    #[error("mount volume {name}: {step}: {source}")]
    Mount {
        name: String,
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("copy image content at {destination} into volume {name}: {source}")]
    CopyUp {
        name: String,
        destination: String,
        #[source]
        source: berth_snapshots::copy::CopyError,
    },
    #[error(
        "copy image content at {destination} into volume {name}: open {destination} in the container's rootfs: {source}"
    )]
    CopyUpOpen {
        name: String,
        destination: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse volume record {path}: {source}")]
    RecordParse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("volume record {path} names volume {name}")]
    RecordMismatch { path: PathBuf, name: String },
    #[error("{op}: {source}")]
    Task {
        op: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// A failure and the failure of undoing it, both reported.
    #[error("{primary} (and cleaning up: {cleanup})")]
    WithCleanup {
        #[source]
        primary: Box<Error>,
        cleanup: Box<Error>,
    },
}

impl Error {
    /// The Engine API class of the error.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind::*;
        match self {
            Error::NotFound { .. } | Error::UnknownDriver { .. } => NotFound,
            Error::InUse { .. } => Conflict,
            Error::NameTooShort { .. }
            | Error::InvalidName { .. }
            | Error::InvalidOption { .. }
            | Error::MissingOption { .. }
            | Error::InvalidSize { .. }
            | Error::NoQuota { .. }
            | Error::InvalidFilter(_)
            | Error::InvalidSpec(_)
            | Error::InvalidMode(_)
            | Error::InvalidVolumeSpec { .. }
            | Error::MountConfig { .. }
            | Error::DuplicateMountPoint(_)
            | Error::DaemonRootPropagation { .. }
            | Error::VolumesFromEmpty
            | Error::VolumesFromNotFound(_)
            | Error::TmpfsPath(_)
            | Error::TmpfsRoot => InvalidArgument,
            Error::WithCleanup { primary, .. } => primary.kind(),
            Error::Mount { .. }
            | Error::CopyUp { .. }
            | Error::CopyUpOpen { .. }
            | Error::Io { .. }
            | Error::RecordParse { .. }
            | Error::RecordMismatch { .. }
            | Error::Task { .. } => Internal,
        }
    }

    /// `self`, with the failure of the cleanup after it when there was one.
    pub(crate) fn with_cleanup(self, cleanup: Result<(), Error>) -> Error {
        match cleanup {
            Ok(()) => self,
            Err(c) => Error::WithCleanup {
                primary: Box::new(self),
                cleanup: Box::new(c),
            },
        }
    }
}

/// Checks a volume name of the local driver (docker's rules: at least two
/// characters of `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, so a name never escapes the
/// volumes directory nor starts with a dot).
pub fn validate_name(name: &str) -> Result<(), Error> {
    if name.chars().count() == 1 {
        return Err(Error::NameTooShort {
            name: name.to_string(),
        });
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !(first_ok && rest_ok) {
        return Err(Error::InvalidName {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Parses a size as docker's `RAMInBytes` (go-units): a decimal number,
/// an optional space, and an optional unit `k`, `m`, `g`, `t` or `p`
/// (binary multiples; any case; `b`, `ib` suffixes allowed).
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits_end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let mult: i64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    Some((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_pattern() {
        for ok in ["ab", "data", "my_vol.1-x", "0a", "A.", &"f".repeat(64)] {
            validate_name(ok).unwrap();
        }
        assert_eq!(
            validate_name("a").unwrap_err().to_string(),
            "create a: volume name is too short, names should be at least two alphanumeric characters"
        );
        for bad in ["_bad", "/abs", "a/b", ".x", "-x", "a b", "..", "é1"] {
            let e = validate_name(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidName { .. }), "{bad}: {e}");
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        }
        assert_eq!(
            validate_name("_bad").unwrap_err().to_string(),
            "create _bad: \"_bad\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        );
    }

    #[test]
    fn sizes_are_go_units() {
        assert_eq!(ram_in_bytes("10m"), Some(10 << 20));
        assert_eq!(ram_in_bytes("1 KiB"), Some(1024));
        assert_eq!(ram_in_bytes("1.5g"), Some(3 << 29));
        assert_eq!(ram_in_bytes("0"), Some(0));
        assert_eq!(ram_in_bytes("10q"), None);
        assert_eq!(ram_in_bytes(""), None);
        assert_eq!(ram_in_bytes("-1"), None);
    }

    #[test]
    fn in_use_lists_the_containers() {
        let e = Error::InUse {
            name: "foo".into(),
            ids: vec!["a1".into(), "b2".into()],
        };
        assert_eq!(e.to_string(), "remove foo: volume is in use - [a1, b2]");
        assert_eq!(e.kind(), ErrorKind::Conflict);
    }
}
