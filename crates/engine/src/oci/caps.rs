//! Capability sets the way dockerd 20.10 computes them (`oci/caps`).

use std::str::FromStr;

use oci_spec::runtime::Capability;

use super::SpecError;

/// Every capability dockerd 20.10 grants, in the kernel's numbering order
/// (CAP_CHOWN = 0 ... CAP_AUDIT_READ = 37). Docker stops at CAP_AUDIT_READ
/// even on kernels that know CAP_PERFMON, CAP_BPF and
/// CAP_CHECKPOINT_RESTORE, so those are unknown to `--cap-add` and not in
/// `--privileged`.
pub(crate) const ALL: [&str; 38] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
];

/// Docker's default capabilities, in docker's order.
pub(crate) const DEFAULT: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The magic `--cap-add`/`--cap-drop` value.
const ALL_MAGIC: &str = "ALL";

/// Upper-cases and prefixes `CAP_` (keeping "ALL"), and rejects names
/// docker does not know: "unknown capability: \"CAP_FOO\"".
pub(crate) fn normalize(list: &[String]) -> Result<Vec<String>, SpecError> {
    list.iter()
        .map(|name| {
            let name = name.to_uppercase();
            if name == ALL_MAGIC {
                return Ok(name);
            }
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{name}")
            };
            if ALL.contains(&name.as_str()) {
                Ok(name)
            } else {
                Err(SpecError::UnknownCapability(name))
            }
        })
        .collect()
}

/// The container's capability list: all for a privileged container;
/// otherwise the defaults minus `drops` plus `adds`, where adding "ALL"
/// starts from every capability and dropping "ALL" from none. The names
/// are validated in every case (dockerd does it at create).
pub(crate) fn tweak(
    adds: &[String],
    drops: &[String],
    privileged: bool,
) -> Result<Vec<String>, SpecError> {
    let drops = normalize(drops)?;
    let adds = normalize(adds)?;
    let has = |list: &[String], name: &str| list.iter().any(|c| c == name);
    if privileged {
        return Ok(ALL.map(String::from).to_vec());
    }
    if has(&adds, ALL_MAGIC) {
        return Ok(ALL
            .iter()
            .filter(|c| !has(&drops, c))
            .map(|c| c.to_string())
            .collect());
    }
    if has(&drops, ALL_MAGIC) {
        return Ok(adds);
    }
    let mut caps: Vec<String> = DEFAULT
        .iter()
        .filter(|c| !has(&drops, c))
        .map(|c| c.to_string())
        .collect();
    // Docker appends adds as given, duplicates included; the OCI sets
    // dedupe them.
    caps.extend(adds);
    Ok(caps)
}

/// The daemon's own bounding set (`CapBnd` in /proc/self/status): a
/// process cannot be given a capability its creator does not hold
/// (capabilities(7)), so a daemon running with a reduced bounding set (a
/// container host that dropped CAP_SYS_RESOURCE, say) grants
/// `--privileged`, `--cap-add ALL` and `exec --privileged` what it has
/// instead of failing every such start with EPERM.
fn daemon_bounding() -> u64 {
    static BOUNDING: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BOUNDING.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("CapBnd:"))
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
            .unwrap_or(u64::MAX)
    })
}

/// Whether the daemon holds capability `name` (unknown names: yes, so
/// they fail with their own error later).
pub(crate) fn held_by_daemon(name: &str) -> bool {
    match ALL.iter().position(|c| *c == name) {
        Some(bit) => daemon_bounding() & (1u64 << bit) != 0,
        None => true,
    }
}

/// A validated capability name as oci-spec's type.
pub(crate) fn to_oci(name: &str) -> Result<Capability, SpecError> {
    let bare = name.strip_prefix("CAP_").unwrap_or(name);
    Capability::from_str(bare).map_err(|_| SpecError::UnknownCapability(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_known_capability_maps_to_the_oci_type() {
        for name in ALL {
            let cap = to_oci(name).unwrap();
            assert_eq!(serde_json::to_value(cap).unwrap(), name);
        }
    }

    #[test]
    fn names_are_normalized_case_insensitively_with_or_without_prefix() {
        assert_eq!(
            normalize(&strings(&["sys_admin", "CAP_net_admin", "Mknod", "all"])).unwrap(),
            strings(&["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_MKNOD", "ALL"])
        );
    }

    #[test]
    fn unknown_and_post_audit_read_capabilities_are_rejected() {
        for bad in ["foo", "CAP_BPF", "perfmon", "checkpoint_restore"] {
            let err = tweak(&strings(&[bad]), &[], false).unwrap_err();
            assert!(
                matches!(&err, SpecError::UnknownCapability(n) if n.ends_with(&bad.to_uppercase())),
                "{bad}: {err}"
            );
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        }
        assert_eq!(
            tweak(&[], &strings(&["nope"]), false)
                .unwrap_err()
                .to_string(),
            "unknown capability: \"CAP_NOPE\""
        );
        // Validated even when privileged makes them moot.
        assert!(tweak(&strings(&["nope"]), &[], true).is_err());
    }

    #[test]
    fn defaults_drops_adds_and_all() {
        assert_eq!(tweak(&[], &[], false).unwrap(), strings(&DEFAULT));
        let caps = tweak(
            &strings(&["NET_ADMIN"]),
            &strings(&["chown", "KILL"]),
            false,
        )
        .unwrap();
        assert_eq!(caps.len(), DEFAULT.len() - 2 + 1);
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
        assert_eq!(caps.last().unwrap(), "CAP_NET_ADMIN");
        // Dropping ALL keeps only the adds.
        assert_eq!(
            tweak(&strings(&["chown"]), &strings(&["ALL"]), false).unwrap(),
            strings(&["CAP_CHOWN"])
        );
        // Adding ALL wins over dropping ALL; drops still apply.
        let caps = tweak(&strings(&["ALL"]), &strings(&["mknod"]), false).unwrap();
        assert_eq!(caps.len(), ALL.len() - 1);
        assert!(!caps.contains(&"CAP_MKNOD".to_string()));
        // Privileged ignores adds and drops.
        assert_eq!(tweak(&[], &strings(&["ALL"]), true).unwrap(), strings(&ALL));
    }
}
