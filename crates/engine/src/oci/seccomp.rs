//! Seccomp profiles in docker's format and their reduction to the OCI
//! filter of one container.
//!
//! Docker's profile format extends the OCI one: an `archMap` (the native
//! architecture and its sub-architectures) and, per rule, `includes` and
//! `excludes` conditions on the container's capabilities, the
//! architecture and the kernel version. A rule is kept when no exclude
//! condition holds and every include condition holds; capability
//! conditions look at the container's final bounding set, so e.g.
//! `--cap-add SYS_ADMIN` brings in `mount`, `unshare` and friends.

use std::path::Path;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall,
};
use serde::Deserialize;

use super::{Host, SpecError, blank};

/// moby's `profiles/seccomp/default.json` as of docker 20.10.24.
const DEFAULT_PROFILE: &str = include_str!("../../data/seccomp-default.json");

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    #[serde(default)]
    default_action: String,
    #[serde(default)]
    architectures: Option<Vec<Arch>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMapEntry>>,
    #[serde(default)]
    syscalls: Option<Vec<Rule>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMapEntry {
    architecture: Arch,
    #[serde(default)]
    sub_architectures: Option<Vec<Arch>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    name: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    action: LinuxSeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<Arg>>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: usize,
    #[serde(default)]
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: LinuxSeccompOperator,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default, deserialize_with = "kernel_version")]
    min_kernel: Option<(u64, u64)>,
}

/// "<kernel>.<major>" (e.g. "4.8"); "" is no condition.
fn kernel_version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<(u64, u64)>, D::Error> {
    use serde::de::Error;
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        D::Error::custom(format!(
            "invalid kernel version: {text:?}, expected \"<kernel>.<major>\""
        ))
    };
    let (kernel, major) = text.split_once('.').ok_or_else(invalid)?;
    let kernel: u8 = kernel.parse().map_err(|_| invalid())?;
    let major: u8 = major.parse().map_err(|_| invalid())?;
    if kernel == 0 && major == 0 {
        return Err(invalid());
    }
    Ok(Some((kernel.into(), major.into())))
}

/// The container's seccomp filter: docker's default profile, none for
/// `seccomp=unconfined`, or the given profile (its JSON, or the path of a
/// file holding it), reduced for `caps` (the bounding set) and the host.
pub(crate) fn profile(
    option: Option<&String>,
    caps: &[String],
    host: &Host,
) -> Result<Option<LinuxSeccomp>, SpecError> {
    let profile: Profile = match option.map(String::as_str) {
        Some("unconfined") => return Ok(None),
        None => serde_json::from_str(DEFAULT_PROFILE).map_err(SpecError::SeccompDefaultProfile)?,
        Some(value) => {
            // The docker CLI reads a profile file itself and sends its
            // content; a value that is not JSON is a path on this host.
            let text = if value.trim_start().starts_with('{') {
                value.to_string()
            } else {
                std::fs::read_to_string(value).map_err(|source| SpecError::SeccompProfileRead {
                    path: Path::new(value).to_path_buf(),
                    source,
                })?
            };
            serde_json::from_str(&text).map_err(SpecError::SeccompProfileDecode)?
        }
    };
    reduce(profile, caps, host)
}

/// The seccomp name of docker's native architecture name.
fn seccomp_arch(native: &str) -> Option<Arch> {
    Some(match native {
        "x86" => Arch::ScmpArchX86,
        "amd64" => Arch::ScmpArchX86_64,
        "arm" => Arch::ScmpArchArm,
        "arm64" => Arch::ScmpArchAarch64,
        "mips64" => Arch::ScmpArchMips64,
        "mips64n32" => Arch::ScmpArchMips64n32,
        "mipsel64" => Arch::ScmpArchMipsel64,
        "mipsel" => Arch::ScmpArchMipsel,
        "ppc" => Arch::ScmpArchPpc,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "s390" => Arch::ScmpArchS390,
        "s390x" => Arch::ScmpArchS390x,
        _ => return None,
    })
}

fn reduce(
    profile: Profile,
    caps: &[String],
    host: &Host,
) -> Result<Option<LinuxSeccomp>, SpecError> {
    let rules = profile.syscalls.unwrap_or_default();
    // No default action and no rules: seccomp disabled.
    if profile.default_action.is_empty() && rules.is_empty() {
        return Ok(None);
    }
    let arch_map = profile.arch_map.unwrap_or_default();
    let mut architectures = profile.architectures.unwrap_or_default();
    if !architectures.is_empty() && !arch_map.is_empty() {
        return Err(SpecError::SeccompArchitecturesAndArchMap);
    }
    let native = seccomp_arch(host.arch);
    if let Some(entry) = arch_map.iter().find(|e| Some(e.architecture) == native) {
        architectures.push(entry.architecture);
        architectures.extend(entry.sub_architectures.iter().flatten().copied());
    }
    let default_action: LinuxSeccompAction = blank(
        "seccomp default action",
        serde_json::Value::String(profile.default_action),
    )
    .map_err(|e| match e {
        SpecError::OciModel { source, .. } => SpecError::SeccompProfileDecode(source),
        other => other,
    })?;

    let has_cap = |c: &String| caps.contains(c);
    let has_arch = |list: &Option<Vec<String>>| list.iter().flatten().any(|a| a == host.arch);
    let mut syscalls = Vec::new();
    for rule in rules {
        let (inc, exc) = (&rule.includes, &rule.excludes);
        let excluded = has_arch(&exc.arches)
            || exc.caps.iter().flatten().any(has_cap)
            || exc.min_kernel.is_some_and(|v| host.kernel >= v);
        let included = (inc.arches.as_ref().is_none_or(Vec::is_empty) || has_arch(&inc.arches))
            && inc.caps.iter().flatten().all(has_cap)
            && inc.min_kernel.is_none_or(|v| host.kernel >= v);
        if excluded || !included {
            continue;
        }
        let names = match (rule.name.is_empty(), rule.names) {
            (false, Some(names)) if !names.is_empty() => {
                return Err(SpecError::SeccompNameAndNames);
            }
            (false, _) => vec![rule.name],
            (true, names) => names.unwrap_or_default(),
        };
        let args: Vec<serde_json::Value> = rule
            .args
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                let mut json =
                    serde_json::json!({ "index": a.index, "value": a.value, "op": a.op });
                // Go's omitempty on valueTwo.
                if a.value_two != 0 {
                    json["valueTwo"] = a.value_two.into();
                }
                json
            })
            .collect();
        let mut json = serde_json::json!({ "names": names, "action": rule.action });
        if let Some(errno) = rule.errno_ret {
            json["errnoRet"] = errno.into();
        }
        if !args.is_empty() {
            json["args"] = args.into();
        }
        syscalls.push(blank::<LinuxSyscall>("seccomp rule", json)?);
    }

    let mut seccomp: LinuxSeccomp = blank(
        "seccomp",
        serde_json::json!({ "defaultAction": default_action }),
    )?;
    seccomp.set_architectures((!architectures.is_empty()).then_some(architectures));
    seccomp.set_syscalls((!syscalls.is_empty()).then_some(syscalls));
    Ok(Some(seccomp))
}

#[cfg(test)]
mod tests {
    use super::super::caps;
    use super::*;

    fn host() -> Host {
        super::super::tests::capture_host()
    }

    fn names_of(seccomp: &LinuxSeccomp) -> Vec<String> {
        seccomp
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|s| s.names().clone())
            .collect()
    }

    fn default_caps() -> Vec<String> {
        caps::DEFAULT.map(String::from).to_vec()
    }

    #[test]
    fn default_profile_matches_the_computed_amd64_copy_for_default_caps() {
        // The runtime crate keeps the default profile as docker computes it
        // for amd64 and the default capabilities (a newer docker; it adds
        // defaultErrnoRet, which 20.10 does not have).
        let reference: serde_json::Value = serde_json::from_str(include_str!(
            "../../../runtime/tests/data/docker-default-seccomp.json"
        ))
        .unwrap();
        let ours = profile(None, &default_caps(), &host()).unwrap().unwrap();
        let ours = serde_json::to_value(&ours).unwrap();
        assert_eq!(ours["defaultAction"], reference["defaultAction"]);
        assert_eq!(ours["architectures"], reference["architectures"]);
        let flat = |v: &serde_json::Value| -> Vec<String> {
            v["syscalls"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s["names"].as_array().unwrap().iter())
                .map(|n| n.as_str().unwrap().to_string())
                .collect()
        };
        let (mut a, mut b) = (flat(&ours), flat(&reference));
        a.sort();
        b.sort();
        let missing: Vec<_> = b.iter().filter(|n| !a.contains(n)).collect();
        let extra: Vec<_> = a.iter().filter(|n| !b.contains(n)).collect();
        // The newer profile knows a few syscalls 20.10's does not.
        assert!(extra.is_empty(), "not in the reference: {extra:?}");
        assert!(missing.len() < 10, "missing: {missing:?}");
    }

    #[test]
    fn capability_conditions_follow_the_bounding_set() {
        let base = profile(None, &default_caps(), &host()).unwrap().unwrap();
        let names = names_of(&base);
        assert!(
            names.contains(&"chroot".to_string()),
            "CAP_SYS_CHROOT is a default"
        );
        assert!(!names.contains(&"mount".to_string()));
        assert!(
            names.contains(&"clone3".to_string()),
            "ENOSYS rule without CAP_SYS_ADMIN"
        );

        let mut caps = default_caps();
        caps.push("CAP_SYS_ADMIN".to_string());
        let admin = profile(None, &caps, &host()).unwrap().unwrap();
        let rules = admin.syscalls().clone().unwrap();
        assert!(
            rules
                .iter()
                .any(|r| r.names().contains(&"mount".to_string()))
        );
        // The ENOSYS clone3 rule and the masked clone rule are excluded by
        // CAP_SYS_ADMIN; plain clone/clone3 come with the admin rule.
        assert!(!rules.iter().any(|r| r.errno_ret() == Some(38)));
        assert!(
            !rules
                .iter()
                .any(|r| r.names() == &["clone".to_string()] && r.args().is_some())
        );

        let without_chroot: Vec<String> = default_caps()
            .into_iter()
            .filter(|c| c != "CAP_SYS_CHROOT")
            .collect();
        let reduced = profile(None, &without_chroot, &host()).unwrap().unwrap();
        assert!(!names_of(&reduced).contains(&"chroot".to_string()));
    }

    #[test]
    fn arch_and_kernel_conditions() {
        let mut arm = host();
        arm.arch = "arm64";
        let p = profile(None, &default_caps(), &arm).unwrap().unwrap();
        let names = names_of(&p);
        assert!(!names.contains(&"arch_prctl".to_string()));
        assert!(names.contains(&"arm_fadvise64_64".to_string()));
        assert_eq!(
            p.architectures().clone().unwrap(),
            vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
        );
        // `ptrace` is allowed from kernel 4.8 on (CVE-2014-4699 fixed).
        let mut old = host();
        old.kernel = (4, 4);
        let p = profile(None, &default_caps(), &old).unwrap().unwrap();
        assert!(!names_of(&p).contains(&"ptrace".to_string()));
    }

    #[test]
    fn unconfined_custom_and_bad_profiles() {
        let h = host();
        assert!(
            profile(Some(&"unconfined".to_string()), &[], &h)
                .unwrap()
                .is_none()
        );
        let custom = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO","args":null},
                        {"names":["chmod"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
                         "args":[{"index":1,"value":511,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
                        {"names":["mount"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_ADMIN"]}}]}"#;
        let p = profile(Some(&custom.to_string()), &default_caps(), &h)
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [
                    {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                     "args": [{"index": 1, "value": 511, "op": "SCMP_CMP_MASKED_EQ"}]}
                ]
            })
        );
        // A path works like the content.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("profile.json");
        std::fs::write(&file, custom).unwrap();
        let from_file = profile(
            Some(&file.to_string_lossy().into_owned()),
            &default_caps(),
            &h,
        )
        .unwrap();
        assert_eq!(from_file, Some(p));

        let both = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
            "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":[]}]}"#;
        assert!(matches!(
            profile(Some(&both.to_string()), &[], &h),
            Err(SpecError::SeccompArchitecturesAndArchMap)
        ));
        let name_and_names = r#"{"defaultAction":"SCMP_ACT_ALLOW",
            "syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ERRNO"}]}"#;
        assert!(matches!(
            profile(Some(&name_and_names.to_string()), &[], &h),
            Err(SpecError::SeccompNameAndNames)
        ));
        let err = profile(Some(&"{not json".to_string()), &[], &h).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Decoding seccomp profile failed: "),
            "{err}"
        );
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        let err = profile(Some(&"/nonexistent/profile.json".to_string()), &[], &h).unwrap_err();
        assert!(matches!(err, SpecError::SeccompProfileRead { .. }), "{err}");
        let bad_kernel = r#"{"defaultAction":"SCMP_ACT_ALLOW",
            "syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"0.0"}}]}"#;
        assert!(matches!(
            profile(Some(&bad_kernel.to_string()), &[], &h),
            Err(SpecError::SeccompProfileDecode(_))
        ));
        // Empty profile: no filter at all.
        assert!(profile(Some(&"{}".to_string()), &[], &h).unwrap().is_none());
    }
}
