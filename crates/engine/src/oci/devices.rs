//! Device nodes and device cgroup rules: docker's default rules,
//! `--device` mappings, `--device-cgroup-rule`s and, for privileged
//! containers, every device of the host's /dev.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup};
use rustix::fs::FileType;

use super::{SpecError, blank};

/// Docker's default device cgroup rules, in its order: deny everything,
/// allow zero, null, urandom, random, tty and console, and deny fuse
/// (10:229) explicitly.
const DEFAULT_RULES: [(bool, Option<Node>); 8] = [
    (false, None),
    (true, Some(('c', 1, 5))),
    (true, Some(('c', 1, 3))),
    (true, Some(('c', 1, 9))),
    (true, Some(('c', 1, 8))),
    (true, Some(('c', 5, 0))),
    (true, Some(('c', 5, 1))),
    (false, Some(('c', 10, 229))),
];

/// A device cgroup rule's node: type ('b', 'c' or 'p'), major, minor.
type Node = (char, i64, i64);

/// Directories of /dev whose contents are not host devices to pass on
/// (runc's list: mounts of their own, and LXD/udev internals).
const SKIPPED_DEV_DIRS: [&str; 7] = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// A device node on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostDevice {
    pub path: PathBuf,
    /// 'b', 'c' or 'p'.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    /// Permission bits (no file type bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A parsed `--device` value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mapping {
    host: String,
    container: String,
    permissions: String,
}

/// "rwm", "r", "mw"...: each of r, w, m at most once.
fn valid_mode(mode: &str) -> bool {
    !mode.is_empty()
        && mode.len() <= 3
        && mode.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && !mode.chars().enumerate().any(|(i, c)| mode[..i].contains(c))
}

/// "host[:container][:permissions]", the docker CLI's parse.
fn parse(spec: &str) -> Result<Mapping, SpecError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, second, third) = match parts.as_slice() {
        [host] => (*host, None, None),
        [host, second] => (*host, Some(*second), None),
        [host, second, third] => (*host, Some(*second), Some(*third)),
        _ => return Err(SpecError::InvalidDeviceSpec(spec.to_string())),
    };
    let mut permissions = third.unwrap_or("rwm").to_string();
    let mut container = host;
    if let Some(second) = second {
        if valid_mode(second) {
            permissions = second.to_string();
        } else {
            container = second;
        }
    }
    if !valid_mode(&permissions) {
        return Err(SpecError::InvalidDeviceMode(permissions));
    }
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(SpecError::InvalidDeviceSpec(spec.to_string()));
    }
    Ok(Mapping {
        host: host.to_string(),
        container: container.to_string(),
        permissions,
    })
}

/// The device at `path` (not following a final symlink); `Ok(None)` when
/// it is no device node.
fn device_at(path: &Path) -> std::io::Result<Option<HostDevice>> {
    let stat = rustix::fs::lstat(path)?;
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::BlockDevice => 'b',
        FileType::CharacterDevice => 'c',
        FileType::Fifo => 'p',
        _ => return Ok(None),
    };
    Ok(Some(HostDevice {
        path: path.to_path_buf(),
        kind,
        major: i64::from(rustix::fs::major(stat.st_rdev)),
        minor: i64::from(rustix::fs::minor(stat.st_rdev)),
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        gid: stat.st_gid,
    }))
}

/// Every device under `dir`, in name order, like runc's `GetDevices`:
/// skips the directories in [`SKIPPED_DEV_DIRS`], `console` (the runtime
/// makes its own) and fifos.
pub(crate) fn host_devices(dir: &Path) -> Result<Vec<HostDevice>, SpecError> {
    let scan_err = |source| SpecError::HostDevices {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(scan_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(scan_err)?;
    entries.sort_by_key(|e| e.file_name());
    let mut out = Vec::new();
    for entry in entries {
        let name = entry.file_name();
        let path = entry.path();
        let file_type = entry.file_type().map_err(scan_err)?;
        if file_type.is_dir() {
            if !SKIPPED_DEV_DIRS.iter().any(|s| name == *s) {
                out.extend(host_devices(&path)?);
            }
            continue;
        }
        if name == "console" {
            continue;
        }
        match device_at(&path) {
            Ok(Some(device)) if device.kind != 'p' => out.push(device),
            Ok(_) => {}
            // Gone between listing and stat: fine.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SpecError::HostDevices { path, source });
            }
        }
    }
    Ok(out)
}

/// The devices of one mapping: the node itself, or every node below a
/// directory (paths rebased onto the container path), like docker's
/// `DevicesFromPath`.
fn mapped_devices(mapping: &Mapping) -> Result<Vec<HostDevice>, SpecError> {
    let host = Path::new(&mapping.host);
    // A symlink (e.g. /dev/disk/by-id/...) is the node it points to.
    let resolved = match std::fs::symlink_metadata(host) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(host).unwrap_or_else(|_| host.to_path_buf())
        }
        _ => host.to_path_buf(),
    };
    match device_at(&resolved) {
        Ok(Some(mut device)) => {
            device.path = PathBuf::from(&mapping.container);
            Ok(vec![device])
        }
        Ok(None) if resolved.is_dir() => {
            let mut devices = Vec::new();
            walk(&resolved, &mut devices);
            let prefix = resolved.to_string_lossy().into_owned();
            for device in &mut devices {
                let path = device
                    .path
                    .to_string_lossy()
                    .replacen(&prefix, &mapping.container, 1);
                device.path = PathBuf::from(path);
            }
            if devices.is_empty() {
                return Err(SpecError::NotADevice {
                    path: mapping.host.clone(),
                });
            }
            Ok(devices)
        }
        Ok(None) => Err(SpecError::NotADevice {
            path: mapping.host.clone(),
        }),
        Err(source) => Err(SpecError::DeviceStat {
            path: mapping.host.clone(),
            source,
        }),
    }
}

/// Go's `filepath.Walk` collecting device nodes (fifos included), errors
/// ignored, symlinks not followed.
fn walk(dir: &Path, out: &mut Vec<HostDevice>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if let Ok(Some(device)) = device_at(&path) {
            out.push(device);
        } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, out);
        }
    }
}

fn oci_device(device: &HostDevice) -> Result<LinuxDevice, SpecError> {
    blank(
        "device",
        serde_json::json!({
            "path": device.path,
            "type": device.kind.to_string(),
            "major": device.major,
            "minor": device.minor,
            "fileMode": device.mode,
            "uid": device.uid,
            "gid": device.gid,
        }),
    )
}

fn rule(allow: bool, device: Option<Node>, access: &str) -> Result<LinuxDeviceCgroup, SpecError> {
    let mut json = serde_json::json!({ "allow": allow, "access": access });
    if let Some((kind, major, minor)) = device {
        json["type"] = kind.to_string().into();
        json["major"] = major.into();
        json["minor"] = minor.into();
    }
    blank("device cgroup rule", json)
}

/// A `--device-cgroup-rule` ("c 1:3 mr", "b *:* rwm", "a *:* rwm") as the
/// allow rule docker makes of it: type `a`, `b` or `c`, numbers or `*`
/// (-1 in the rule, which runtimes take as any), one to three of r, w, m.
/// A bare "a" is refused, as docker's pattern refuses it.
pub(crate) fn parse_cgroup_rule(text: &str) -> Result<LinuxDeviceCgroup, SpecError> {
    let bad = || SpecError::InvalidDeviceCgroupRule(text.to_string());
    let fields: Vec<&str> = text.split(' ').collect();
    let [kind, numbers, access] = fields.as_slice() else {
        return Err(bad());
    };
    if !matches!(*kind, "a" | "b" | "c") {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let digits = |n: &str| n == "*" || (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    // docker's pattern is [rwm]{1,3}: repeats pass ("rr"), as there.
    let access_ok =
        !access.is_empty() && access.len() <= 3 && access.bytes().all(|b| b"rwm".contains(&b));
    if !digits(major) || !digits(minor) || !access_ok {
        return Err(bad());
    }
    // All digits, but too large for a number: docker's second message.
    let number = |n: &str, which: &'static str| -> Result<i64, SpecError> {
        if n == "*" {
            return Ok(-1);
        }
        n.parse::<i64>()
            .map_err(|_| SpecError::InvalidDeviceCgroupNumber {
                which,
                rule: text.to_string(),
            })
    };
    let (major, minor) = (number(major, "major")?, number(minor, "minor")?);
    blank(
        "device cgroup rule",
        serde_json::json!({
            "allow": true,
            "type": kind,
            "major": major,
            "minor": minor,
            "access": access,
        }),
    )
}

/// The container's device nodes and device cgroup rules (docker's
/// `WithDevices`). Privileged: every host device, the mappings whose
/// container path differs from the host path, and one allow-all rule.
/// Otherwise: the mapped devices, allowed with their permissions after
/// docker's default rules, then the `cgroup_rules` (see
/// [`parse_cgroup_rule`]).
pub(crate) fn devices(
    specs: &[String],
    cgroup_rules: &[String],
    privileged: bool,
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), SpecError> {
    let mappings = specs
        .iter()
        .map(|s| parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let cgroup_rules = cgroup_rules
        .iter()
        .map(|r| parse_cgroup_rule(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut devices = Vec::new();
    let mut rules = Vec::new();
    if privileged {
        for device in host_devices(Path::new("/dev"))? {
            devices.push(oci_device(&device)?);
        }
        // Custom permissions mean nothing here: everything is allowed.
        for mapping in mappings.iter().filter(|m| m.host != m.container) {
            for device in mapped_devices(mapping)? {
                devices.push(oci_device(&device)?);
            }
        }
        rules.push(rule(true, None, "rwm")?);
    } else {
        for (allow, device) in DEFAULT_RULES {
            rules.push(rule(allow, device, "rwm")?);
        }
        for mapping in &mappings {
            for device in mapped_devices(mapping)? {
                devices.push(oci_device(&device)?);
                rules.push(rule(
                    true,
                    Some((device.kind, device.major, device.minor)),
                    &mapping.permissions,
                )?);
            }
        }
        rules.extend(cgroup_rules);
    }
    Ok((devices, rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs_parse_like_the_docker_cli() {
        let m = parse("/dev/null").unwrap();
        assert_eq!(
            (
                m.host.as_str(),
                m.container.as_str(),
                m.permissions.as_str()
            ),
            ("/dev/null", "/dev/null", "rwm")
        );
        let m = parse("/dev/null:r").unwrap();
        assert_eq!(
            (m.container.as_str(), m.permissions.as_str()),
            ("/dev/null", "r")
        );
        let m = parse("/dev/null:/dev/mynull").unwrap();
        assert_eq!(
            (m.container.as_str(), m.permissions.as_str()),
            ("/dev/mynull", "rwm")
        );
        let m = parse("/dev/null:/dev/mynull:mw").unwrap();
        assert_eq!(
            (m.container.as_str(), m.permissions.as_str()),
            ("/dev/mynull", "mw")
        );
        for bad in ["/a:/b:r:x", "dev/null", "/dev/null:mynull"] {
            assert!(
                matches!(parse(bad), Err(SpecError::InvalidDeviceSpec(_))),
                "{bad}"
            );
        }
        for bad in ["/dev/null:/x:rr", "/dev/null:/x:q", "/dev/null:/x:"] {
            assert!(
                matches!(parse(bad), Err(SpecError::InvalidDeviceMode(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn host_devices_lists_real_nodes_and_skips_the_rest() {
        let devices = host_devices(Path::new("/dev")).unwrap();
        let null = devices
            .iter()
            .find(|d| d.path == Path::new("/dev/null"))
            .unwrap();
        assert_eq!(
            (null.kind, null.major, null.minor, null.mode),
            ('c', 1, 3, 0o666)
        );
        assert!(devices.iter().all(|d| d.kind == 'b' || d.kind == 'c'));
        assert!(!devices.iter().any(|d| d.path.starts_with("/dev/pts")));
        assert!(!devices.iter().any(|d| d.path == Path::new("/dev/console")));
        let mut sorted = devices.clone();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(sorted.len(), devices.len());
    }

    #[test]
    fn a_directory_maps_every_node_below_it() {
        // A directory with a symlink to /dev/null and a plain file: the
        // symlink is not a device node (it is not followed), the file is
        // skipped, so there is nothing to map.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.path().join("null")).unwrap();
        let spec = format!("{}:/dev/mine", dir.path().display());
        let err = devices(&[spec], &[], false).unwrap_err();
        assert!(matches!(err, SpecError::NotADevice { .. }), "{err}");
        // /dev itself has nodes: they are rebased onto the container path.
        let (nodes, rules) = devices(&["/dev:/hostdev".to_string()], &[], false).unwrap();
        assert!(nodes.iter().any(|d| d.path() == Path::new("/hostdev/null")));
        assert_eq!(rules.len(), DEFAULT_RULES.len() + nodes.len());
    }

    #[test]
    fn missing_device_is_an_invalid_argument() {
        let err = devices(&["/dev/does-not-exist".to_string()], &[], false).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "error gathering device information while adding custom device \"/dev/does-not-exist\": "
            ),
            "{err}"
        );
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }

    #[test]
    fn privileged_allows_everything_and_maps_renamed_devices() {
        let (nodes, rules) = devices(
            &[
                "/dev/null:/dev/other-null".to_string(),
                "/dev/zero".to_string(),
            ],
            &["c 1:3 r".to_string()],
            true,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&rules).unwrap(),
            serde_json::json!([{"allow": true, "access": "rwm"}])
        );
        assert!(
            nodes
                .iter()
                .any(|d| d.path() == Path::new("/dev/other-null"))
        );
        // /dev/zero maps onto itself: listed once, from the host scan.
        assert_eq!(
            nodes
                .iter()
                .filter(|d| d.path() == Path::new("/dev/zero"))
                .count(),
            1
        );
    }

    #[test]
    fn cgroup_rules_parse_like_docker() {
        let rule = |text: &str| serde_json::to_value(parse_cgroup_rule(text).unwrap()).unwrap();
        assert_eq!(
            rule("c 1:3 mr"),
            serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "mr"})
        );
        assert_eq!(
            rule("b *:* rwm"),
            serde_json::json!({"allow": true, "type": "b", "major": -1, "minor": -1, "access": "rwm"})
        );
        assert_eq!(
            rule("a 7:* w"),
            serde_json::json!({"allow": true, "type": "a", "major": 7, "minor": -1, "access": "w"})
        );
        for bad in [
            "a",
            "",
            "c 1:3",
            "x 1:3 r",
            "c 1-3 r",
            "c 1:3 rwmr",
            "c 1:3 q",
            "c  1:3 r",
            "c 1:3 r ",
            "c -1:3 r",
            "c :1 r",
        ] {
            let err = parse_cgroup_rule(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid device cgroup rule format: '{bad}'")
            );
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        }
        assert_eq!(
            parse_cgroup_rule("c 1:99999999999999999999 r")
                .unwrap_err()
                .to_string(),
            "invalid minor value in device cgroup rule format: 'c 1:99999999999999999999 r'"
        );
    }

    #[test]
    fn cgroup_rules_follow_the_defaults_and_mappings() {
        let (_, rules) = devices(
            &["/dev/null:/dev/n2:r".to_string()],
            &["c 10:237 rw".to_string()],
            false,
        )
        .unwrap();
        let rules = serde_json::to_value(&rules).unwrap();
        let rules = rules.as_array().unwrap();
        assert_eq!(rules.len(), DEFAULT_RULES.len() + 2);
        assert_eq!(
            rules[DEFAULT_RULES.len()],
            serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"})
        );
        assert_eq!(
            rules[DEFAULT_RULES.len() + 1],
            serde_json::json!({"allow": true, "type": "c", "major": 10, "minor": 237, "access": "rw"})
        );
        // A bad rule is refused before anything is read.
        assert!(matches!(
            devices(&[], &["c 1:3".to_string()], false),
            Err(SpecError::InvalidDeviceCgroupRule(_))
        ));
    }
}
