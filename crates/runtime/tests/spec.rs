//! Tests of `berth_runtime::spec` against bundles on disk and runc's own
//! output (`runc spec`, `runc spec --rootless` and `runc features` of runc
//! 1.1.5, kept under tests/data).

use std::path::Path;

use berth_runtime::spec::{self, SpecError};
use serde_json::{Value, json};

/// A bundle directory with a `rootfs/` and the given `config.json`.
fn bundle(config: &Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    write_config(dir.path(), config);
    dir
}

fn write_config(dir: &Path, config: &Value) {
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
}

/// runc's example, with the changes `edit` makes.
fn config(edit: impl FnOnce(&mut Value)) -> Value {
    let mut config = spec::default_spec(false);
    edit(&mut config);
    config
}

fn load_err(config: &Value) -> SpecError {
    let dir = bundle(config);
    spec::load(dir.path()).unwrap_err()
}

fn validate(config: &Value) -> Result<(), SpecError> {
    let dir = bundle(config);
    let spec = spec::load(dir.path()).expect("loads");
    spec::validate(&spec, dir.path())
}

fn validate_err(config: &Value) -> String {
    validate(config).unwrap_err().to_string()
}

#[test]
fn spec_default_is_byte_identical_to_runc_spec() {
    let expected = include_str!("data/runc-spec.json");
    assert_eq!(spec::default_spec_json(false), expected);
    let parsed: Value = serde_json::from_str(expected).unwrap();
    assert_eq!(spec::default_spec(false), parsed);
}

#[test]
fn spec_rootless_default_matches_runc_spec_rootless() {
    // runc maps the caller's effective ids; the stored output was written by root.
    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    let stored = include_str!("data/runc-spec-rootless.json");
    let mut expected: Value = serde_json::from_str(stored).unwrap();
    expected["linux"]["uidMappings"][0]["hostID"] = euid.into();
    expected["linux"]["gidMappings"][0]["hostID"] = egid.into();
    assert_eq!(spec::default_spec(true), expected);
    if euid == 0 && egid == 0 {
        assert_eq!(spec::default_spec_json(true), stored);
    }
}

#[test]
fn spec_default_loads_and_validates() {
    for rootless in [false, true] {
        let dir = bundle(&spec::default_spec(rootless));
        let loaded = spec::load(dir.path()).unwrap();
        assert_eq!(loaded.hostname().as_deref(), Some("runc"));
        spec::validate(&loaded, dir.path()).unwrap();
    }
}

#[test]
fn spec_load_reports_missing_and_malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = spec::load(dir.path()).unwrap_err().to_string();
    let path = dir.path().join("config.json");
    assert!(
        err.starts_with(&format!("open {}: ", path.display())),
        "{err}"
    );

    std::fs::write(
        &path,
        "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {,\n}",
    )
    .unwrap();
    let err = spec::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("parse {}: ", path.display())),
        "{err}"
    );
    assert!(err.contains("line 3 column"), "{err}");
}

#[test]
fn spec_load_requires_root_process_and_version() {
    let err = load_err(&config(|c| {
        drop(c.as_object_mut().unwrap().remove("process"))
    }));
    assert_eq!(err.to_string(), "process property must not be empty");
    let err = load_err(&config(|c| drop(c.as_object_mut().unwrap().remove("root"))));
    assert_eq!(err.to_string(), "root must be specified");
    let err = load_err(&config(|c| c["process"]["cwd"] = json!("relative")));
    assert_eq!(err.to_string(), "cwd relative must be an absolute path");
    let err = load_err(&config(|c| c["process"]["args"] = json!([])));
    assert_eq!(err.to_string(), "args must not be empty");

    let err = load_err(&config(|c| {
        drop(c.as_object_mut().unwrap().remove("ociVersion"))
    }));
    assert_eq!(err.to_string(), "ociVersion must not be empty");
    for bad in ["2.0.0", "1.0", "latest"] {
        let err = load_err(&config(|c| c["ociVersion"] = json!(bad)));
        assert!(
            matches!(err, SpecError::OciVersion(ref v) if v == bad),
            "{err}"
        );
    }
    for good in ["1.0.0", "1.2.1", "1.0.2-dev", "1.1.0-rc.1+build"] {
        let dir = bundle(&config(|c| c["ociVersion"] = json!(good)));
        spec::load(dir.path()).unwrap();
    }
}

#[test]
fn spec_load_names_unknown_enum_values() {
    let err = load_err(&config(|c| {
        c["linux"]["namespaces"][0]["type"] = json!("bogus")
    }));
    assert!(matches!(err, SpecError::Parse { .. }));
    assert!(err.to_string().contains("`bogus`"), "{err}");

    let err = load_err(&config(|c| {
        c["linux"]["seccomp"] = json!({ "defaultAction": "SCMP_ACT_NOPE" })
    }));
    assert!(err.to_string().contains("SCMP_ACT_NOPE"), "{err}");
}

#[test]
fn spec_validate_checks_the_rootfs() {
    let dir = bundle(&spec::default_spec(false));
    let loaded = spec::load(dir.path()).unwrap();
    let rootfs = dir.path().join("rootfs");
    assert_eq!(
        spec::rootfs(&loaded, dir.path()).unwrap(),
        std::fs::canonicalize(&rootfs).unwrap()
    );

    std::fs::remove_dir(&rootfs).unwrap();
    let err = spec::validate(&loaded, dir.path()).unwrap_err();
    assert!(matches!(err, SpecError::Rootfs { .. }), "{err}");

    std::fs::write(&rootfs, "").unwrap();
    let err = spec::validate(&loaded, dir.path()).unwrap_err();
    assert!(matches!(err, SpecError::RootfsNotDir(_)), "{err}");
    std::fs::remove_file(&rootfs).unwrap();

    std::fs::create_dir(dir.path().join("real")).unwrap();
    std::os::unix::fs::symlink("real", &rootfs).unwrap();
    let err = spec::validate(&loaded, dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("not an absolute path, or a symlink"),
        "{err}"
    );

    // An absolute root path is taken as is; `..` is resolved lexically.
    let outside = tempfile::tempdir().unwrap();
    let abs = config(|c| c["root"]["path"] = json!(outside.path()));
    validate(&abs).unwrap();
    let up = config(|c| c["root"]["path"] = json!("x/../rootfs"));
    validate(&up).unwrap();
}

#[test]
fn spec_validate_checks_namespaces() {
    let twice = config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "type": "ipc" }))
    });
    assert_eq!(
        validate_err(&twice),
        "malformed spec file: duplicated ns \"ipc\""
    );

    let missing = config(|c| c["linux"]["namespaces"][1]["path"] = json!("/nonexistent/netns"));
    assert!(
        validate_err(&missing).starts_with("network namespace path /nonexistent/netns: "),
        "{}",
        validate_err(&missing)
    );

    let user_without_maps = config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "type": "user" }))
    });
    assert_eq!(
        validate_err(&user_without_maps),
        "user namespaces enabled, but no namespace path to join nor mappings to apply specified"
    );
    let maps_without_user = config(|c| {
        c["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 1000, "size": 1 }])
    });
    assert_eq!(
        validate_err(&maps_without_user),
        "user namespace mappings specified, but user namespace isn't enabled in the config"
    );

    let cgroup = config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "type": "cgroup" }))
    });
    validate(&cgroup).unwrap();
}

/// `config` with only the listed namespaces.
fn with_namespaces(kinds: &[&str], edit: impl FnOnce(&mut Value)) -> Value {
    config(|c| {
        c["linux"]["namespaces"] = kinds.iter().map(|k| json!({ "type": k })).collect();
        edit(c)
    })
}

#[test]
fn spec_validate_needs_private_namespaces_for_hostname_and_paths() {
    let no_uts = with_namespaces(&["pid", "mount"], |_| {});
    assert_eq!(
        validate_err(&no_uts),
        "unable to set hostname without a private UTS namespace"
    );
    let domain = with_namespaces(&["mount"], |c| {
        c.as_object_mut().unwrap().remove("hostname");
        c["domainname"] = json!("example.org");
    });
    assert_eq!(
        validate_err(&domain),
        "unable to set domainname without a private UTS namespace"
    );
    let no_mount = with_namespaces(&["uts"], |_| {});
    assert_eq!(
        validate_err(&no_mount),
        "unable to restrict sys entries without a private MNT namespace"
    );
}

#[test]
fn spec_lsm_labels_are_not_errors_without_the_lsm() {
    let label = config(|c| {
        c["process"]["selinuxLabel"] = json!("system_u:system_r:svirt_lxc_net_t:s0");
        c["process"]["apparmorProfile"] = json!("docker-default");
    });
    validate(&label).unwrap();
}

fn with_sysctl(kinds: &[&str], key: &str) -> Result<(), SpecError> {
    let mut all = vec!["mount"];
    all.extend_from_slice(kinds);
    validate(&with_namespaces(&all, |c| {
        if !kinds.contains(&"uts") {
            c.as_object_mut().unwrap().remove("hostname");
        }
        c["linux"]["sysctl"] = json!({ key: "1" });
    }))
}

#[test]
fn spec_validate_allows_sysctls_only_with_their_namespace() {
    let msg = |r: Result<(), SpecError>| r.map_err(|e| e.to_string());
    // IPC namespace sysctls.
    for key in [
        "kernel.shmmax",
        "kernel.msgmnb",
        "kernel.sem",
        "fs.mqueue.msg_max",
    ] {
        assert_eq!(
            with_sysctl(&["ipc"], key).map_err(|e| e.to_string()),
            Ok(())
        );
        assert_eq!(
            msg(with_sysctl(&["network"], key)),
            Err(format!(
                "sysctl {key:?} is not allowed in the hosts ipc namespace"
            ))
        );
    }
    // Network sysctls, in both spellings.
    for key in ["net.ipv4.ip_forward", "net/ipv4/conf/eth0.100/rp_filter"] {
        assert_eq!(msg(with_sysctl(&["network"], key)), Ok(()));
        assert!(
            msg(with_sysctl(&["ipc"], key))
                .unwrap_err()
                .ends_with("not allowed in host network namespace")
        );
    }
    // UTS: domainname is namespaced, hostname has its own field.
    assert_eq!(msg(with_sysctl(&["uts"], "kernel.domainname")), Ok(()));
    assert_eq!(
        msg(with_sysctl(&["uts"], "kernel.hostname")),
        Err("sysctl \"kernel.hostname\" is not allowed as it conflicts with the OCI \"hostname\" field".into())
    );
    assert_eq!(
        msg(with_sysctl(&["uts", "ipc", "network"], "vm.swappiness")),
        Err("sysctl \"vm.swappiness\" is not in a separate kernel namespace".into())
    );
}

#[test]
fn spec_validate_treats_joining_the_current_netns_as_host() {
    let joined_host = with_namespaces(&["mount", "uts", "network"], |c| {
        c["linux"]["namespaces"][2]["path"] = json!("/proc/self/ns/net");
        c["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" });
    });
    assert_eq!(
        validate_err(&joined_host),
        "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
    );

    // A network namespace of its own, held by a child process.
    let child = std::process::Command::new("unshare")
        .args(["--net", "sleep", "30"])
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let netns = format!("/proc/{}/ns/net", child.0.id());
    // Wait until unshare has switched namespaces (it execs sleep afterwards).
    let host = std::fs::metadata("/proc/self/ns/net").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&netns).is_ok_and(|m| {
        std::os::unix::fs::MetadataExt::ino(&m) == std::os::unix::fs::MetadataExt::ino(&host)
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "unshare did not switch netns"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let joined_own = with_namespaces(&["mount", "uts", "network"], |c| {
        c["linux"]["namespaces"][2]["path"] = json!(netns);
        c["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" });
    });
    validate(&joined_own).unwrap();
    child.0.kill().unwrap();
    child.0.wait().unwrap();
}

/// Kills the child if the test fails half-way.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn spec_features_describe_berth() {
    let ours = spec::features();
    let features: oci_spec::runtime::Features = serde_json::from_value(ours.clone()).unwrap();
    assert_eq!(features.oci_version_max(), "1.0.2-dev");

    let runc: Value = serde_json::from_str(include_str!("data/runc-features.json")).unwrap();
    // The same shape as runc's document, with the same vocabulary lists.
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&ours), keys(&runc));
    assert_eq!(keys(&ours["linux"]), keys(&runc["linux"]));
    for field in ["hooks", "mountOptions"] {
        assert_eq!(ours[field], runc[field], "{field}");
    }
    for field in ["namespaces", "capabilities"] {
        assert_eq!(ours["linux"][field], runc["linux"][field], "{field}");
    }
    assert_eq!(
        ours["linux"]["seccomp"]["operators"],
        runc["linux"]["seccomp"]["operators"]
    );
    // What berth does differently: no systemd cgroups, no seccomp notify, no
    // AppArmor or SELinux.
    assert_eq!(
        ours["linux"]["cgroup"],
        json!({ "v1": true, "v2": true, "systemd": false, "systemdUser": false })
    );
    let actions = ours["linux"]["seccomp"]["actions"].as_array().unwrap();
    assert!(!actions.contains(&json!("SCMP_ACT_NOTIFY")));
    assert_eq!(actions.len(), 8);
    for arch in runc["linux"]["seccomp"]["archs"].as_array().unwrap() {
        assert!(
            ours["linux"]["seccomp"]["archs"]
                .as_array()
                .unwrap()
                .contains(arch),
            "{arch}"
        );
    }
    assert_eq!(ours["linux"]["apparmor"]["enabled"], json!(false));
    assert_eq!(ours["linux"]["selinux"]["enabled"], json!(false));
    assert_eq!(
        ours["annotations"]["io.github.seccomp.libseccomp.version"],
        runc["annotations"]["io.github.seccomp.libseccomp.version"]
    );
}
