//! The process section of the spec: security options, environment,
//! capability sets and rlimits, as dockerd 20.10 fills them in.

use oci_spec::runtime::{Capability, LinuxCapabilities, PosixRlimit};

use super::{DEFAULT_PATH_ENV, SpecError, SpecInput, blank, caps};

/// The security options dockerd understands, parsed like its
/// `parseSecurityOpt`.
#[derive(Debug, Default)]
pub(crate) struct SecurityOpts {
    pub no_new_privileges: bool,
    /// The `seccomp=` value: "unconfined", a profile, or a profile's path.
    pub seccomp: Option<String>,
    pub apparmor: Option<String>,
}

pub(crate) fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts, SpecError> {
    let mut parsed = SecurityOpts::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            parsed.no_new_privileges = true;
            continue;
        }
        if opt == "disable" {
            continue;
        }
        // `:` was the separator before docker 1.12 and still parses.
        let Some((key, value)) = opt.split_once('=').or_else(|| opt.split_once(':')) else {
            return Err(SpecError::SecurityOptFormat(opt.clone()));
        };
        match key {
            // SELinux labels: berth has no SELinux support; docker with
            // SELinux disabled ignores them the same way.
            "label" => {}
            "apparmor" => parsed.apparmor = Some(value.to_string()),
            "seccomp" => parsed.seccomp = Some(value.to_string()),
            "no-new-privileges" => {
                parsed.no_new_privileges = parse_go_bool(value)
                    .ok_or_else(|| SpecError::SecurityOptUnknown(opt.clone()))?;
            }
            _ => return Err(SpecError::SecurityOptUnknown(opt.clone())),
        }
    }
    Ok(parsed)
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// PATH, HOSTNAME and (with a tty) TERM first, then the container's env:
/// an entry replaces a default with its key or is appended; a bare `KEY`
/// removes the default KEY (docker's `ReplaceOrAppendEnvValues`, which only
/// looks keys up among the defaults).
pub(crate) fn environment(input: &SpecInput) -> Vec<String> {
    let mut env: Vec<Option<String>> = vec![
        Some(DEFAULT_PATH_ENV.to_string()),
        Some(format!("HOSTNAME={}", input.hostname)),
    ];
    let mut default_keys = vec!["PATH", "HOSTNAME"];
    if input.tty {
        env.push(Some("TERM=xterm".to_string()));
        default_keys.push("TERM");
    }
    for value in &input.env {
        let (key, unset) = match value.split_once('=') {
            Some((key, _)) => (key, false),
            None => (value.as_str(), true),
        };
        match (default_keys.iter().position(|k| *k == key), unset) {
            (Some(i), true) => env[i] = None,
            (Some(i), false) => env[i] = Some(value.clone()),
            (None, true) => {}
            (None, false) => env.push(Some(value.clone())),
        }
    }
    env.into_iter().flatten().collect()
}

pub(crate) fn capability_sets(
    names: &[String],
    root: bool,
) -> Result<LinuxCapabilities, SpecError> {
    let set = names
        .iter()
        .filter(|name| caps::held_by_daemon(name))
        .map(|name| caps::to_oci(name))
        .collect::<Result<std::collections::HashSet<Capability>, _>>()?;
    let mut sets: LinuxCapabilities = blank("capabilities", serde_json::json!({}))?;
    sets.set_bounding(Some(set.clone()));
    if root {
        sets.set_effective(Some(set.clone()));
        sets.set_permitted(Some(set));
    }
    // A non-root user gets only the bounding set, which is what execve(2)
    // leaves a non-root process with anyway.
    Ok(sets)
}

/// `--ulimit` (and daemon `default-ulimits`) names docker accepts (go-units).
pub const ULIMIT_NAMES: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

pub(crate) fn rlimits(ulimits: &[(String, i64, i64)]) -> Result<Vec<PosixRlimit>, SpecError> {
    ulimits
        .iter()
        .map(|(name, soft, hard)| {
            if !ULIMIT_NAMES.contains(&name.as_str()) {
                return Err(SpecError::UnknownUlimit(name.clone()));
            }
            // -1 is "unlimited" for either value.
            if *soft != -1 && *hard != -1 && soft > hard {
                return Err(SpecError::UlimitSoftAboveHard {
                    soft: *soft,
                    hard: *hard,
                });
            }
            // Go's uint64(int64): -1 becomes RLIM_INFINITY.
            let rlimit: PosixRlimit = blank(
                "rlimit",
                serde_json::json!({
                    "type": format!("RLIMIT_{}", name.to_uppercase()),
                    "soft": *soft as u64,
                    "hard": *hard as u64,
                }),
            )?;
            Ok(rlimit)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn environment_defaults_overrides_and_removals() {
        let input = SpecInput {
            hostname: "h".into(),
            tty: true,
            env: strings(&["A=1", "TERM=vt100", "HOSTNAME", "A=2", "B"]),
            ..SpecInput::default()
        };
        // TERM replaced in place, HOSTNAME removed, A appended twice (docker
        // only looks keys up among its defaults), B unknown and ignored.
        assert_eq!(
            environment(&input),
            [DEFAULT_PATH_ENV, "TERM=vt100", "A=1", "A=2"]
        );
        // No PATH in the image or the request: docker's default stays.
        let input = SpecInput {
            hostname: "h".into(),
            ..SpecInput::default()
        };
        assert_eq!(environment(&input), [DEFAULT_PATH_ENV, "HOSTNAME=h"]);
        let input = SpecInput {
            env: strings(&["PATH=/x", "PATH"]),
            ..SpecInput::default()
        };
        assert_eq!(environment(&input), ["HOSTNAME="]);
    }

    #[test]
    fn rlimit_values_and_names() {
        let limits = rlimits(&[
            ("core".into(), -1, -1),
            ("nofile".into(), 1, 2),
            ("as".into(), 5, -1),
        ])
        .unwrap();
        assert_eq!(
            serde_json::to_value(&limits).unwrap(),
            json!([
                {"type": "RLIMIT_CORE", "hard": u64::MAX, "soft": u64::MAX},
                {"type": "RLIMIT_NOFILE", "hard": 2, "soft": 1},
                {"type": "RLIMIT_AS", "hard": u64::MAX, "soft": 5}
            ])
        );
        for name in ULIMIT_NAMES {
            rlimits(&[(name.to_string(), 1, 1)]).unwrap();
        }
        assert!(matches!(
            rlimits(&[("NOFILE".into(), 1, 1)]),
            Err(SpecError::UnknownUlimit(_))
        ));
    }

    #[test]
    fn security_option_forms() {
        let opts = parse_security_opts(&strings(&[
            "no-new-privileges:true",
            "label=disable",
            "disable",
            "seccomp:unconfined",
            "apparmor=p",
        ]))
        .unwrap();
        assert!(opts.no_new_privileges);
        assert_eq!(opts.seccomp.as_deref(), Some("unconfined"));
        assert_eq!(opts.apparmor.as_deref(), Some("p"));
        let opts =
            parse_security_opts(&strings(&["no-new-privileges", "no-new-privileges=F"])).unwrap();
        assert!(!opts.no_new_privileges);
        // The profile JSON itself may contain ':' and '='.
        let opts =
            parse_security_opts(&strings(&[r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#]))
                .unwrap();
        assert_eq!(
            opts.seccomp.as_deref(),
            Some(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)
        );
    }
}
