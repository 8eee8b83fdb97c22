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
mod tests {
    use super::*;
    use berth_api_types::container::{BindOptions, TmpfsOptions, VolumeOptions};

    fn sources<'a>(binds: &'a [String], mounts: &'a [Mount]) -> Sources<'a> {
        Sources {
            binds,
            mounts,
            daemon_root: Some(Path::new("/var/lib/berth")),
            ..Sources::default()
        }
    }

    #[test]
    fn binds_and_volumes_from_v() {
        let b = parse_bind("/src/:/dst/sub/:ro,rslave,z", "").unwrap();
        assert_eq!(b.volume, None);
        assert_eq!(
            (
                b.point.source.as_str(),
                b.point.destination.as_str(),
                b.point.rw,
                b.point.propagation.as_str(),
                b.point.mode.as_str()
            ),
            ("/src", "/dst/sub", false, "rslave", "ro,rslave,z")
        );
        let v = parse_bind("data:/data", "").unwrap();
        assert_eq!(v.point.mode, "z");
        assert!(v.point.copy_data && !v.point.anonymous && v.point.rw);
        assert!(matches!(v.volume, Some(Want::Create { name: Some(ref n), .. }) if n == "data"));
        let v = parse_bind("data:/data:ro,nocopy", "").unwrap();
        assert_eq!(v.point.mode, "ro,nocopy");
        assert!(!v.point.copy_data && !v.point.rw);
        let a = parse_bind("/data", "").unwrap();
        assert!(a.point.anonymous && a.point.mode.is_empty());
        assert!(matches!(a.volume, Some(Want::Create { name: None, .. })));

        for (spec, want) in [
            ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
            (":/b", "invalid volume specification: ':/b'"),
            ("/foo:rw", "invalid volume specification: '/foo:rw'"),
            ("v:/b:ro,rw", "invalid mode: ro,rw"),
            ("v:/b:bogus", "invalid mode: bogus"),
            (
                "/a:/",
                "invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'",
            ),
            (
                "vv:rel",
                "invalid volume specification: 'vv:rel': invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute",
            ),
            (
                "/tmp:/x:nocopy",
                "invalid volume specification: '/tmp:/x:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified",
            ),
            (
                "v:/x:shared",
                "invalid volume specification: 'v:/x:shared': invalid mount config for type \"volume\": field BindOptions must not be specified",
            ),
        ] {
            let e = parse_bind(spec, "").unwrap_err();
            assert_eq!(e.to_string(), want, "{spec}");
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn mounts_follow_dockers_rules() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().display().to_string();
        let bind = Mount {
            r#type: "bind".into(),
            source: src.clone(),
            target: "/x".into(),
            read_only: true,
            bind_options: Some(BindOptions {
                propagation: String::new(),
                non_recursive: true,
            }),
            ..Mount::default()
        };
        let p = parse_mount(&bind).unwrap();
        assert!(p.point.skip_mountpoint_creation && p.point.non_recursive && !p.point.rw);
        assert_eq!(p.point.propagation, "rprivate");
        assert_eq!(p.point.mode, "");

        let missing = Mount {
            source: format!("{src}/nosuch"),
            ..bind.clone()
        };
        assert_eq!(
            parse_mount(&missing).unwrap_err().to_string(),
            format!(
                "invalid mount config for type \"bind\": bind source path does not exist: {src}/nosuch"
            )
        );
        let tmpfs = Mount {
            r#type: "tmpfs".into(),
            target: "/t".into(),
            tmpfs_options: Some(TmpfsOptions {
                size_bytes: 1 << 20,
                mode: 0o1700,
            }),
            ..Mount::default()
        };
        assert_eq!(
            parse_mount(&tmpfs).unwrap().point.tmpfs_data,
            "mode=1700,size=1m"
        );
        let vol = Mount {
            r#type: "volume".into(),
            source: "named2".into(),
            target: "/nv".into(),
            volume_options: Some(VolumeOptions {
                no_copy: true,
                ..VolumeOptions::default()
            }),
            ..Mount::default()
        };
        let p = parse_mount(&vol).unwrap();
        assert_eq!(p.point.mode, "z");
        assert!(!p.point.copy_data);

        for (m, want) in [
            (
                Mount {
                    source: String::new(),
                    ..bind.clone()
                },
                "invalid mount config for type \"bind\": field Source must not be empty",
            ),
            (
                Mount {
                    source: "rel".into(),
                    bind_options: None,
                    ..bind.clone()
                },
                "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute",
            ),
            (
                Mount {
                    bind_options: Some(BindOptions {
                        propagation: "bogus".into(),
                        non_recursive: false,
                    }),
                    ..bind.clone()
                },
                "invalid mount config for type \"bind\": invalid propagation mode: bogus",
            ),
            (
                Mount {
                    source: "foo".into(),
                    ..tmpfs.clone()
                },
                "invalid mount config for type \"tmpfs\": field Source must not be specified",
            ),
            (
                Mount {
                    source: String::new(),
                    read_only: true,
                    ..vol.clone()
                },
                "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes",
            ),
            (
                Mount {
                    bind_options: Some(BindOptions::default()),
                    ..vol.clone()
                },
                "invalid mount config for type \"volume\": field BindOptions must not be specified",
            ),
            (
                Mount {
                    target: "/".into(),
                    ..vol.clone()
                },
                "invalid mount config for type \"volume\": invalid specification: destination can't be '/'",
            ),
            (
                Mount {
                    r#type: "bogus".into(),
                    ..vol.clone()
                },
                "invalid mount config for type \"bogus\": mount type unknown",
            ),
        ] {
            assert_eq!(parse_mount(&m).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn volumes_from_modes() {
        assert_eq!(parse_volumes_from("c").unwrap(), ("c", "rw"));
        assert_eq!(parse_volumes_from("c:ro").unwrap(), ("c", "ro"));
        assert_eq!(parse_volumes_from("c:ro,z").unwrap(), ("c", "ro,z"));
        for bad in ["c:nocopy", "c:rshared", "c:bogus"] {
            assert!(matches!(
                parse_volumes_from(bad),
                Err(Error::InvalidMode(_))
            ));
        }
        assert_eq!(
            parse_volumes_from("").unwrap_err().to_string(),
            "volumes-from specification cannot be an empty string"
        );
    }

    #[test]
    fn plan_orders_and_refuses_duplicates() {
        let binds = vec!["/a:/x".to_string(), "/b:/x".to_string()];
        assert_eq!(
            plan(&sources(&binds, &[])).unwrap_err().to_string(),
            "Duplicate mount point: /x"
        );
        let binds = vec!["v1:/x".to_string()];
        let mut s = sources(&binds, &[]);
        s.tmpfs = vec!["/x"];
        assert_eq!(
            plan(&s).unwrap_err().to_string(),
            "Duplicate mount point: /x"
        );
        let mounts = vec![Mount {
            r#type: "volume".into(),
            target: "/x/".into(),
            ..Mount::default()
        }];
        let binds = vec!["/tmp:/x".to_string()];
        assert_eq!(
            plan(&sources(&binds, &mounts)).unwrap_err().to_string(),
            "Duplicate mount point: /x/"
        );

        // volumes-from is overridden by a bind; Config.Volumes skips
        // covered paths and makes anonymous volumes of the others.
        let from = vec![
            MountPoint {
                r#type: "volume".into(),
                name: "nm".into(),
                source: "/var/lib/berth/volumes/nm/_data".into(),
                destination: "/n".into(),
                driver: "local".into(),
                rw: true,
                mode: "z".into(),
                copy_data: true,
                ..MountPoint::default()
            },
            MountPoint {
                r#type: "bind".into(),
                source: "/srv".into(),
                destination: "/b".into(),
                rw: true,
                propagation: "rprivate".into(),
                ..MountPoint::default()
            },
        ];
        let binds = vec!["/other:/b".to_string()];
        let mut s = sources(&binds, &[]);
        s.volumes_from = vec![("ro".to_string(), from)];
        s.config_volumes = vec!["/n", "/data/"];
        let p = plan(&s).unwrap();
        let dests: Vec<&str> = p.iter().map(|p| p.point.destination.as_str()).collect();
        assert_eq!(dests, ["/n", "/b", "/data"]);
        assert!(!p[0].point.rw && p[0].point.mode.is_empty() && !p[0].point.copy_data);
        assert_eq!(
            p[0].volume,
            Some(Want::Existing {
                name: "nm".to_string()
            })
        );
        assert_eq!(p[1].point.source, "/other");
        assert!(p[2].point.anonymous && p[2].point.copy_data);

        let mut s = sources(&[], &[]);
        s.tmpfs = vec!["rel"];
        assert_eq!(
            plan(&s).unwrap_err().to_string(),
            "invalid mount path: 'rel' mount path must be absolute"
        );
    }

    #[test]
    fn binds_of_the_daemon_root_become_slaves() {
        let binds = vec!["/var/lib:/x".to_string()];
        let p = plan(&sources(&binds, &[])).unwrap();
        assert_eq!(p[0].point.propagation, "rslave");
        let binds = vec!["/var/lib/berth/volumes:/x:rprivate".to_string()];
        assert_eq!(
            plan(&sources(&binds, &[])).unwrap_err().to_string(),
            "invalid mount config: must use either propagation mode \"rslave\" or \"rshared\" when mount source is within the daemon root, daemon root: \"/var/lib/berth\", bind mount source: \"/var/lib/berth/volumes\", propagation: \"rprivate\""
        );
        let binds = vec!["/var/lib2:/x".to_string()];
        assert_eq!(
            plan(&sources(&binds, &[])).unwrap()[0].point.propagation,
            "rprivate"
        );
    }
}
