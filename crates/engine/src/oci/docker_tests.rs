//! `build_spec` against the config.json dockerd 20.10 wrote for the same
//! `docker run` variants (captured with tests/data/oci/capture.sh, on an
//! amd64 host with kernel 6.18, cgroup v1 and no AppArmor; the host facts
//! are pinned to those, so these run anywhere).
//!
//! What is normalized before comparing: the rootfs path, the cgroups path
//! prefix (docker's `/docker/`, berth's `/berth/`), the order of capability
//! sets (oci-spec keeps them as sets), the host network namespace entry
//! (docker names the host's namespace by path, berth leaves it out) and,
//! for `--privileged`, the host's device list (compared on its own in the
//! devices tests).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::tests::{ID, base_input, capture_host, rootfs};
use super::{NetNs, Ns, Resources, SpecInput, build_spec_on};

fn captured(name: &str) -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/oci/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn normalize(mut spec: Value) -> Value {
    spec["root"]["path"] = "<rootfs>".into();
    if let Some(path) = spec["linux"]["cgroupsPath"].as_str() {
        spec["linux"]["cgroupsPath"] = path.replacen("/docker/", "/berth/", 1).into();
    }
    if let Some(caps) = spec["process"]["capabilities"].as_object_mut() {
        for set in caps.values_mut() {
            let mut names: Vec<String> = set
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                // berth grants only what the daemon holds (dockerd asks for
                // all and fails where the host dropped one from its
                // bounding set): compare on what this host can grant.
                .filter(|n| super::caps::held_by_daemon(n))
                .collect();
            names.sort();
            names.dedup();
            *set = names.into();
        }
    }
    if let Some(namespaces) = spec["linux"]["namespaces"].as_array_mut() {
        namespaces.retain(|ns| {
            !(ns["type"] == "network"
                && ns["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/netns/default")))
        });
    }
    spec
}

/// Paths where two JSON values differ, for a readable failure.
fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let (va, vb) = (
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                );
                differences(&format!("{path}.{key}"), va, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if a != b => out.push(format!("{path}: berth {a} != docker {b}")),
        _ => {}
    }
}

fn check(name: &str, input: &SpecInput) -> (Value, Value) {
    let ours =
        normalize(serde_json::to_value(build_spec_on(input, &capture_host()).unwrap()).unwrap());
    let docker = normalize(captured(name));
    (ours, docker)
}

fn assert_same(name: &str, input: &SpecInput) {
    let (ours, docker) = check(name, input);
    assert_equal(name, &ours, &docker);
}

fn assert_equal(name: &str, ours: &Value, docker: &Value) {
    let mut diffs = Vec::new();
    differences("", ours, docker, &mut diffs);
    assert!(
        diffs.is_empty(),
        "{name}: {} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn same_as_dockerd_default_tty_entrypoint_env_oom() {
    let root = rootfs();
    let base = base_input(root.path());
    assert_same("default", &base);
    assert_same(
        "tty",
        &SpecInput {
            tty: true,
            ..base.clone()
        },
    );
    assert_same(
        "entrypoint",
        &SpecInput {
            args: strings(&["/bin/sh", "-c", "echo hi"]),
            ..base.clone()
        },
    );
    // The image's env merged with `-e` by the containers service.
    assert_same(
        "env",
        &SpecInput {
            cwd: "/tmp".into(),
            env: strings(&["PATH=/bin", "FOO=bar", "HOSTNAME=x"]),
            ..base.clone()
        },
    );
    assert_same(
        "oomscore",
        &SpecInput {
            oom_score_adj: 500,
            ..base
        },
    );
}

#[test]
fn same_as_dockerd_capabilities() {
    let root = rootfs();
    let base = base_input(root.path());
    assert_same(
        "capadd",
        &SpecInput {
            cap_add: strings(&["sys_admin", "CAP_NET_ADMIN", "chown"]),
            cap_drop: strings(&["chown", "CAP_KILL", "Mknod"]),
            ..base.clone()
        },
    );
    assert_same(
        "capall",
        &SpecInput {
            cap_add: strings(&["ALL"]),
            cap_drop: strings(&["MKNOD"]),
            ..base.clone()
        },
    );
    assert_same(
        "capdropall",
        &SpecInput {
            cap_add: strings(&["chown"]),
            cap_drop: strings(&["ALL"]),
            ..base.clone()
        },
    );
    assert_same(
        "security",
        &SpecInput {
            security_opt: strings(&["no-new-privileges", "seccomp=unconfined"]),
            ..base.clone()
        },
    );
    assert_same(
        "systempaths",
        &SpecInput {
            masked_paths: Some(vec![]),
            readonly_paths: Some(vec![]),
            ..base
        },
    );
}

#[test]
fn same_as_dockerd_privileged_except_host_devices() {
    let root = rootfs();
    let input = SpecInput {
        privileged: true,
        ..base_input(root.path())
    };
    let (mut ours, mut docker) = check("privileged", &input);
    let devices = ours["linux"]["devices"].as_array().unwrap();
    assert!(
        devices
            .iter()
            .any(|d| d["path"] == "/dev/null" && d["major"] == 1 && d["minor"] == 3)
    );
    ours["linux"].as_object_mut().unwrap().remove("devices");
    docker["linux"].as_object_mut().unwrap().remove("devices");
    assert_equal("privileged", &ours, &docker);
}

#[test]
fn same_as_dockerd_users() {
    let root = rootfs();
    let base = base_input(root.path());
    assert_same(
        "username",
        &SpecInput {
            user: "alice".into(),
            group_add: strings(&["video", "50"]),
            ..base.clone()
        },
    );
    assert_same(
        "useruidgid",
        &SpecInput {
            user: "1001:44".into(),
            ..base.clone()
        },
    );
    assert_same(
        "usernum",
        &SpecInput {
            user: "2000".into(),
            ..base.clone()
        },
    );
    assert_same(
        "usernamegroup",
        &SpecInput {
            user: "bob:staff".into(),
            ..base
        },
    );
}

#[test]
fn same_as_dockerd_mounts() {
    let root = rootfs();
    let base = base_input(root.path());
    let tmpfs = |list: &[(&str, &str)]| -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_same(
        "readonly",
        &SpecInput {
            readonly_rootfs: true,
            ..base.clone()
        },
    );
    // Docker takes tmpfs mounts from a Go map: their order among mounts of
    // the same depth is random there (berth's is the destinations').
    let (mut ours, mut docker) = check(
        "tmpfs",
        &SpecInput {
            tmpfs: tmpfs(&[
                ("/run", ""),
                ("/data", "rw,size=10m,mode=1700"),
                ("/x", "ro,noexec"),
            ]),
            ..base.clone()
        },
    );
    for spec in [&mut ours, &mut docker] {
        let mounts = spec["mounts"].as_array_mut().unwrap();
        mounts[7..10].sort_by_key(|m| m["destination"].as_str().unwrap().to_string());
    }
    assert_equal("tmpfs", &ours, &docker);
    assert_same(
        "binds",
        &SpecInput {
            binds: strings(&[
                "/srv/vol:/vol",
                "/srv/vol2:/vol2:ro",
                "/srv/myhosts:/etc/hosts:ro",
                "/srv/vol:/zz/ro:ro,rprivate",
            ]),
            ..base.clone()
        },
    );
    assert_same(
        "readonlytmpfs",
        &SpecInput {
            readonly_rootfs: true,
            tmpfs: tmpfs(&[("/run", "")]),
            binds: strings(&["/srv/vol:/vol"]),
            ..base.clone()
        },
    );
    assert_same(
        "shm",
        &SpecInput {
            shm_size: Some(128 << 20),
            ..base.clone()
        },
    );
    assert_same(
        "shmbind",
        &SpecInput {
            binds: strings(&["/srv/vol:/dev/shm"]),
            ..base.clone()
        },
    );
    assert_same(
        "init",
        &SpecInput {
            init: Some(PathBuf::from("/usr/bin/docker-init")),
            ..base.clone()
        },
    );
    assert_same(
        "ipcshareable",
        &SpecInput {
            ipc_shm: Some(PathBuf::from(format!(
                "/var/lib/docker/containers/{ID}/mounts/shm"
            ))),
            ..base
        },
    );
}

#[test]
fn same_as_dockerd_resources_ulimits_sysctls() {
    let root = rootfs();
    let base = base_input(root.path());
    assert_same(
        "resources",
        &SpecInput {
            resources: Resources {
                memory: 64 << 20,
                memory_swap: 128 << 20,
                memory_reservation: 32 << 20,
                nano_cpus: 1_500_000_000,
                cpu_shares: 512,
                cpuset_cpus: "0".into(),
                cpuset_mems: "0".into(),
                pids_limit: Some(100),
                oom_kill_disable: Some(true),
                memory_swappiness: Some(10),
                ..Resources::default()
            },
            ..base.clone()
        },
    );
    assert_same(
        "memory",
        &SpecInput {
            resources: Resources {
                memory: 64 << 20,
                ..Resources::default()
            },
            ..base.clone()
        },
    );
    assert_same(
        "cpuquota",
        &SpecInput {
            resources: Resources {
                cpu_quota: 50_000,
                cpu_period: 200_000,
                ..Resources::default()
            },
            ..base.clone()
        },
    );
    assert_same(
        "ulimit",
        &SpecInput {
            ulimits: vec![("nofile".into(), 1024, 2048), ("nproc".into(), 100, 100)],
            ..base.clone()
        },
    );
    assert_same(
        "sysctl",
        &SpecInput {
            sysctls: [("net.ipv4.ip_forward", "1"), ("kernel.msgmax", "65536")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..base.clone()
        },
    );
    assert_same(
        "device",
        &SpecInput {
            devices: strings(&["/dev/null:/dev/mynull:r", "/dev/zero"]),
            ..base
        },
    );
}

#[test]
fn same_as_dockerd_namespaces_and_names() {
    let root = rootfs();
    let base = base_input(root.path());
    assert_same(
        "hostname",
        &SpecInput {
            hostname: "myhost".into(),
            domainname: "example.com".into(),
            ..base.clone()
        },
    );
    assert_same(
        "nethost",
        &SpecInput {
            netns: NetNs::Host,
            hostname: "host-hostname".into(),
            ..base.clone()
        },
    );
    assert_same(
        "nsshost",
        &SpecInput {
            ipc: Ns::Host,
            pid: Ns::Host,
            uts_host: true,
            ..base
        },
    );
}
