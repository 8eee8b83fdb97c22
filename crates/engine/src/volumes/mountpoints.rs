//! A container's mounts, decided at create from its `-v` binds
//! (`HostConfig.Binds`), `--mount`s (`HostConfig.Mounts`),
//! `--volumes-from`, the image's and the request's `Config.Volumes` and
//! its `--tmpfs` paths, with docker's rules (moby's linux mount parser
//! and `registerMountPoints`).
//!
//! Precedence, as in dockerd: volumes from other containers first, then
//! binds and mounts, which replace a volumes-from mount on the same path
//! but may not repeat each other or a `--tmpfs` path ("Duplicate mount
//! point"); `Config.Volumes` paths already covered get no anonymous
//! volume. [`plan`] only reads the host (bind sources, for `--mount`);
//! the volume service then creates the volumes it asks for.

use std::collections::BTreeMap;
use std::path::Path;

use berth_api_types::container::Mount;
use serde::{Deserialize, Serialize};

use super::{Error, MountConfigError};
use crate::oci::clean_path;

/// A mount of a container as its record keeps it (docker's `MountPoint`
/// in `config.v2.json`); inspect shows it as `Mounts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    pub r#type: String,
    /// The host path: the bind's source or the volume's data directory;
    /// empty for tmpfs.
    pub source: String,
    pub destination: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    /// The volume's name.
    pub name: String,
    /// The volume's driver.
    pub driver: String,
    /// The mode given with `-v` (`ro,z`); `z` for a named local volume
    /// given without one.
    pub mode: String,
    /// Binds only: `rprivate` unless given.
    pub propagation: String,
    /// A volume made for this container (no name given): `rm -v` and
    /// `--rm` remove it.
    pub anonymous: bool,
    /// Fill the volume with the image's content at this path when the
    /// container first starts (cleared then).
    pub copy_data: bool,
    /// A `--mount` bind: its source must exist (`-v` creates it).
    pub skip_mountpoint_creation: bool,
    /// `bind-recursive=disabled`: no submounts.
    pub non_recursive: bool,
    /// tmpfs mount(8) options of a `--mount type=tmpfs`.
    pub tmpfs_data: String,
}

/// What a planned volume mount needs from the volume service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// The volume `name` (a new random name when `None`), created with
    /// these options and labels if it does not exist.
    Create {
        name: Option<String>,
        driver: String,
        options: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    },
    /// An existing volume (`--volumes-from`).
    Existing { name: String },
}

/// A mount decided at create; `volume` says which volume it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub point: MountPoint,
    pub volume: Option<Want>,
}

/// The mount sources of a create request.
#[derive(Debug, Default)]
pub struct Sources<'a> {
    pub binds: &'a [String],
    pub mounts: &'a [Mount],
    /// `--volumes-from`: the mode given and the other container's mounts.
    pub volumes_from: Vec<(String, Vec<MountPoint>)>,
    /// `Config.Volumes` keys (the image's `VOLUME`s and `-v /path`).
    pub config_volumes: Vec<&'a str>,
    /// `HostConfig.Tmpfs` keys.
    pub tmpfs: Vec<&'a str>,
    /// `HostConfig.VolumeDriver`.
    pub volume_driver: &'a str,
    /// The daemon's data root: binds of it (or of a parent) need slave
    /// propagation (`None`: no such check).
    pub daemon_root: Option<&'a Path>,
}

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// Each option of a `-v` mode may appear once per class.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut seen = [0u8; 5];
    for option in mode.split(',') {
        let class = match option {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            o if PROPAGATIONS.contains(&o) => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        seen[class] += 1;
        if seen[class] > 1 {
            return false;
        }
    }
    true
}

fn has(mode: &str, option: &str) -> bool {
    mode.split(',').any(|o| o == option)
}

fn propagation_of(mode: &str) -> Option<&str> {
    mode.split(',').find(|o| PROPAGATIONS.contains(o))
}

fn check_target(target: &str) -> Result<(), MountConfigError> {
    if target.is_empty() {
        return Err(MountConfigError::MissingField("Target"));
    }
    if clean_path(target) == "/" {
        return Err(MountConfigError::TargetIsRoot);
    }
    if !target.starts_with('/') {
        return Err(MountConfigError::RelativePath(target.to_string()));
    }
    Ok(())
}

fn config_error(typ: &str, reason: MountConfigError) -> Error {
    Error::MountConfig {
        typ: typ.to_string(),
        reason,
    }
}

/// Parses one `-v` value (moby's `ParseMountRaw`).
pub fn parse_bind(raw: &str, volume_driver: &str) -> Result<Planned, Error> {
    let invalid = || Error::InvalidSpec(raw.to_string());
    let parts: Vec<&str> = raw.splitn(4, ':').collect();
    if parts[0].is_empty() {
        return Err(invalid());
    }
    let (source, target, mode) = match parts.as_slice() {
        [target] => ("", *target, ""),
        // "/foo:rw" is a destination with a mode: not valid.
        [_, second] if valid_mode(second) => return Err(invalid()),
        [source, target] => (*source, *target, ""),
        [source, target, mode] => (*source, *target, *mode),
        _ => return Err(invalid()),
    };
    if !valid_mode(mode) {
        return Err(Error::InvalidMode(mode.to_string()));
    }
    let is_bind = source.starts_with('/');
    let typ = if is_bind { "bind" } else { "volume" };
    let wrap = |reason| Error::InvalidVolumeSpec {
        spec: raw.to_string(),
        source: Box::new(config_error(typ, reason)),
    };
    check_target(target).map_err(wrap)?;
    let rw = !has(mode, "ro");
    let destination = clean_path(target);
    if is_bind {
        if has(mode, "nocopy") {
            return Err(wrap(MountConfigError::ExtraField("VolumeOptions")));
        }
        return Ok(Planned {
            point: MountPoint {
                r#type: "bind".to_string(),
                source: clean_path(source),
                destination,
                rw,
                mode: mode.to_string(),
                propagation: propagation_of(mode).unwrap_or("rprivate").to_string(),
                ..MountPoint::default()
            },
            volume: None,
        });
    }
    if propagation_of(mode).is_some() {
        return Err(wrap(MountConfigError::ExtraField("BindOptions")));
    }
    let anonymous = source.is_empty();
    Ok(Planned {
        point: MountPoint {
            r#type: "volume".to_string(),
            destination,
            rw,
            // docker's default relabel mode of a named local volume.
            mode: if mode.is_empty() && !anonymous {
                "z".to_string()
            } else {
                mode.to_string()
            },
            anonymous,
            copy_data: !has(mode, "nocopy"),
            ..MountPoint::default()
        },
        volume: Some(Want::Create {
            name: (!anonymous).then(|| source.to_string()),
            driver: volume_driver.to_string(),
            options: BTreeMap::new(),
            labels: BTreeMap::new(),
        }),
    })
}

/// The tmpfs mount(8) data of a `--mount type=tmpfs` (moby's
/// `ConvertTmpfsOptions`): `ro`, `mode=<octal>`, `size=<n>[kmg]`.
pub fn tmpfs_data(m: &Mount) -> String {
    let mut opts = Vec::new();
    if m.read_only {
        opts.push("ro".to_string());
    }
    if let Some(t) = &m.tmpfs_options {
        if t.mode != 0 {
            opts.push(format!("mode={:o}", t.mode));
        }
        if t.size_bytes != 0 {
            let mut size = t.size_bytes;
            let mut suffix = "";
            for (s, d) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
                if size % d == 0 {
                    size /= d;
                    suffix = s;
                    break;
                }
            }
            opts.push(format!("size={size}{suffix}"));
        }
    }
    opts.join(",")
}

/// Parses one `--mount` (moby's `ParseMountSpec`, which also checks that
/// a bind's source exists).
pub fn parse_mount(m: &Mount) -> Result<Planned, Error> {
    let typ = m.r#type.as_str();
    let fail = |reason| config_error(typ, reason);
    check_target(&m.target).map_err(fail)?;
    let destination = clean_path(&m.target);
    match typ {
        "bind" => {
            if m.source.is_empty() {
                return Err(fail(MountConfigError::MissingField("Source")));
            }
            let propagation = m
                .bind_options
                .as_ref()
                .map(|b| b.propagation.as_str())
                .unwrap_or("");
            if !propagation.is_empty() && !PROPAGATIONS.contains(&propagation) {
                return Err(fail(MountConfigError::Propagation(propagation.to_string())));
            }
            if m.volume_options.is_some() {
                return Err(fail(MountConfigError::ExtraField("VolumeOptions")));
            }
            if !m.source.starts_with('/') {
                return Err(fail(MountConfigError::RelativePath(m.source.clone())));
            }
            match std::fs::symlink_metadata(&m.source) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(fail(MountConfigError::BindSourceMissing(m.source.clone())));
                }
                Err(source) => {
                    return Err(fail(MountConfigError::Stat {
                        path: m.source.clone(),
                        source,
                    }));
                }
            }
            Ok(Planned {
                point: MountPoint {
                    r#type: "bind".to_string(),
                    source: clean_path(&m.source),
                    destination,
                    rw: !m.read_only,
                    propagation: if propagation.is_empty() {
                        "rprivate"
                    } else {
                        propagation
                    }
                    .to_string(),
                    skip_mountpoint_creation: true,
                    non_recursive: m.bind_options.as_ref().is_some_and(|b| b.non_recursive),
                    ..MountPoint::default()
                },
                volume: None,
            })
        }
        "volume" => {
            if m.bind_options.is_some() {
                return Err(fail(MountConfigError::ExtraField("BindOptions")));
            }
            let anonymous = m.source.is_empty();
            if anonymous && m.read_only {
                return Err(fail(MountConfigError::ReadOnlyAnonymous));
            }
            let vo = m.volume_options.clone().unwrap_or_default();
            let driver = vo.driver_config.clone().unwrap_or_default();
            Ok(Planned {
                point: MountPoint {
                    r#type: "volume".to_string(),
                    destination,
                    rw: !m.read_only,
                    mode: "z".to_string(),
                    anonymous,
                    copy_data: !vo.no_copy,
                    ..MountPoint::default()
                },
                volume: Some(Want::Create {
                    name: (!anonymous).then(|| m.source.clone()),
                    driver: driver.name,
                    options: driver.options.unwrap_or_default(),
                    labels: vo.labels.unwrap_or_default(),
                }),
            })
        }
        "tmpfs" => {
            if m.bind_options.is_some() {
                return Err(fail(MountConfigError::ExtraField("BindOptions")));
            }
            if !m.source.is_empty() {
                return Err(fail(MountConfigError::ExtraField("Source")));
            }
            Ok(Planned {
                point: MountPoint {
                    r#type: "tmpfs".to_string(),
                    destination,
                    rw: !m.read_only,
                    tmpfs_data: tmpfs_data(m),
                    ..MountPoint::default()
                },
                volume: None,
            })
        }
        _ => Err(fail(MountConfigError::UnknownType)),
    }
}

/// Splits a `--volumes-from` value into the container and the mode
/// (`rw` when none; propagation and copy modes are refused).
pub fn parse_volumes_from(spec: &str) -> Result<(&str, &str), Error> {
    if spec.is_empty() {
        return Err(Error::VolumesFromEmpty);
    }
    let (id, mode) = spec.split_once(':').unwrap_or((spec, ""));
    if mode.is_empty() {
        return Ok((id, "rw"));
    }
    if !valid_mode(mode) || propagation_of(mode).is_some() || has(mode, "nocopy") {
        return Err(Error::InvalidMode(mode.to_string()));
    }
    Ok((id, mode))
}

/// A bind of the daemon's data root (or of a directory holding it) must
/// not be private: containers would pin the daemon's mounts. With no
/// propagation given it becomes `rslave` (dockerd's
/// `validateBindDaemonRoot`).
fn daemon_root_propagation(
    point: &mut MountPoint,
    explicit: bool,
    root: Option<&Path>,
) -> Result<(), Error> {
    let Some(root) = root else {
        return Ok(());
    };
    let source = Path::new(&point.source);
    if point.r#type != "bind" || !(source.starts_with(root) || root.starts_with(source)) {
        return Ok(());
    }
    if !explicit {
        point.propagation = "rslave".to_string();
        return Ok(());
    }
    match point.propagation.as_str() {
        "rslave" | "rshared" => Ok(()),
        other => Err(Error::DaemonRootPropagation {
            root: root.display().to_string(),
            bind_source: point.source.clone(),
            propagation: other.to_string(),
        }),
    }
}

/// The mounts of a new container (see the module documentation), in
/// order: volumes-from, binds, mounts, then `Config.Volumes`.
pub fn plan(s: &Sources<'_>) -> Result<Vec<Planned>, Error> {
    for dest in &s.tmpfs {
        if !dest.starts_with('/') {
            return Err(Error::TmpfsPath(dest.to_string()));
        }
        if clean_path(dest) == "/" {
            return Err(Error::TmpfsRoot);
        }
    }
    let tmpfs: Vec<String> = s.tmpfs.iter().map(|d| clean_path(d)).collect();
    let mut out: Vec<Planned> = Vec::new();
    let put = |out: &mut Vec<Planned>, p: Planned| {
        out.retain(|o| o.point.destination != p.point.destination);
        out.push(p);
    };
    for (mode, points) in &s.volumes_from {
        let rw = !has(mode, "ro");
        for m in points {
            let mut point = MountPoint {
                rw: m.rw && rw,
                mode: String::new(),
                copy_data: false,
                ..m.clone()
            };
            // A tmpfs of the other container is its own, not shared.
            if point.r#type == "tmpfs" {
                continue;
            }
            let volume = (point.r#type == "volume").then(|| Want::Existing {
                name: point.name.clone(),
            });
            point.source = if volume.is_some() {
                String::new()
            } else {
                point.source
            };
            put(&mut out, Planned { point, volume });
        }
    }
    let mut taken: Vec<String> = Vec::new();
    for raw in s.binds {
        let mut p = parse_bind(raw, s.volume_driver)?;
        let explicit = propagation_of(&p.point.mode).is_some();
        daemon_root_propagation(&mut p.point, explicit, s.daemon_root)?;
        let dest = p.point.destination.clone();
        if taken.contains(&dest) || tmpfs.contains(&dest) {
            return Err(Error::DuplicateMountPoint(dest));
        }
        taken.push(dest);
        put(&mut out, p);
    }
    for m in s.mounts {
        let mut p = parse_mount(m)?;
        let explicit = m
            .bind_options
            .as_ref()
            .is_some_and(|b| !b.propagation.is_empty());
        daemon_root_propagation(&mut p.point, explicit, s.daemon_root)?;
        let dest = p.point.destination.clone();
        if taken.contains(&dest) || tmpfs.contains(&dest) {
            return Err(Error::DuplicateMountPoint(m.target.clone()));
        }
        taken.push(dest);
        put(&mut out, p);
    }
    for v in &s.config_volumes {
        let destination = clean_path(v);
        if !destination.starts_with('/') {
            return Err(config_error(
                "volume",
                MountConfigError::RelativePath(v.to_string()),
            ));
        }
        if out.iter().any(|o| o.point.destination == destination) || tmpfs.contains(&destination) {
            continue;
        }
        out.push(Planned {
            point: MountPoint {
                r#type: "volume".to_string(),
                destination,
                rw: true,
                anonymous: true,
                copy_data: true,
                ..MountPoint::default()
            },
            volume: Some(Want::Create {
                name: None,
                driver: s.volume_driver.to_string(),
                options: BTreeMap::new(),
                labels: BTreeMap::new(),
            }),
        });
    }
    Ok(out)
}

#[cfg(test)]
#[path = "mountpoints_tests.rs"]
mod tests;
