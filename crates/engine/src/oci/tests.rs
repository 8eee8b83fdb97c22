//! The generated spec as data, variant by variant (no root needed).

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde_json::{Value, json};

use super::*;

/// The container id the captured configs were normalized to.
pub(crate) const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The host the dockerd configs were captured on.
pub(crate) fn capture_host() -> Host {
    Host {
        kernel: (6, 18),
        arch: "amd64",
        cgroup2: false,
        ping_group_range: true,
        unprivileged_port_start: true,
        in_user_ns: false,
        apparmor: false,
    }
}

/// A rootfs with the test passwd and group files.
pub(crate) fn rootfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(
        etc.join("passwd"),
        include_str!("../../tests/data/oci/passwd"),
    )
    .unwrap();
    std::fs::write(
        etc.join("group"),
        include_str!("../../tests/data/oci/group"),
    )
    .unwrap();
    dir
}

/// What `docker run --network none <image> true` amounts to.
pub(crate) fn base_input(rootfs: &Path) -> SpecInput {
    let files = PathBuf::from(format!("/var/lib/docker/containers/{ID}"));
    SpecInput {
        id: ID.to_string(),
        args: vec!["true".to_string()],
        env: vec![DEFAULT_PATH_ENV.to_string()],
        hostname: ID[..12].to_string(),
        rootfs: rootfs.to_path_buf(),
        hostname_file: files.join("hostname"),
        hosts_file: files.join("hosts"),
        resolv_file: files.join("resolv.conf"),
        ..SpecInput::default()
    }
}

fn build(input: &SpecInput) -> Value {
    serde_json::to_value(build_spec_on(input, &capture_host()).unwrap()).unwrap()
}

fn build_err(input: &SpecInput) -> SpecError {
    build_spec_on(input, &capture_host()).unwrap_err()
}

fn mount<'a>(spec: &'a Value, destination: &str) -> Option<&'a Value> {
    spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == destination)
}

fn destinations(spec: &Value) -> Vec<String> {
    spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["destination"].as_str().unwrap().to_string())
        .collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn default_spec() {
    let root = rootfs();
    let spec = build(&base_input(root.path()));
    assert_eq!(spec["ociVersion"], "1.0.2-dev");
    assert_eq!(spec["root"], json!({ "path": root.path() }));
    assert_eq!(spec["hostname"], "0123456789ab");
    let process = &spec["process"];
    assert_eq!(process["args"], json!(["true"]));
    assert_eq!(process["cwd"], "/");
    assert_eq!(
        process["env"],
        json!([DEFAULT_PATH_ENV, "HOSTNAME=0123456789ab"])
    );
    assert_eq!(
        process["user"],
        json!({"uid": 0, "gid": 0, "additionalGids": [0]})
    );
    assert_eq!(process["oomScoreAdj"], 0);
    assert!(process.get("terminal").is_none() && process.get("noNewPrivileges").is_none());
    assert!(process.get("rlimits").is_none() && process.get("apparmorProfile").is_none());
    for set in ["bounding", "effective", "permitted"] {
        let mut names: Vec<String> =
            serde_json::from_value(process["capabilities"][set].clone()).unwrap();
        names.sort();
        let mut want = caps::DEFAULT.map(String::from).to_vec();
        want.sort();
        assert_eq!(names, want, "{set}");
    }
    assert!(process["capabilities"].get("inheritable").is_none());
    assert!(process["capabilities"].get("ambient").is_none());

    assert_eq!(
        destinations(&spec),
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts"
        ]
    );
    assert_eq!(
        mount(&spec, "/dev/shm").unwrap()["options"],
        json!(["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"])
    );
    assert_eq!(
        mount(&spec, "/etc/hosts").unwrap(),
        &json!({
            "destination": "/etc/hosts",
            "type": "bind",
            "source": format!("/var/lib/docker/containers/{ID}/hosts"),
            "options": ["rbind", "rprivate"]
        })
    );

    let linux = &spec["linux"];
    assert_eq!(linux["cgroupsPath"], format!("/berth/{ID}"));
    assert_eq!(
        linux["namespaces"],
        json!([{"type": "mount"}, {"type": "network"}, {"type": "uts"}, {"type": "pid"}, {"type": "ipc"}])
    );
    assert_eq!(
        linux["sysctl"],
        json!({"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"})
    );
    assert_eq!(linux["maskedPaths"], json!(DEFAULT_MASKED_PATHS));
    assert_eq!(linux["readonlyPaths"], json!(DEFAULT_READONLY_PATHS));
    assert_eq!(
        linux["resources"]["memory"],
        json!({"disableOOMKiller": false})
    );
    assert_eq!(linux["resources"]["cpu"], json!({"shares": 0}));
    assert_eq!(linux["resources"]["blockIO"], json!({"weight": 0}));
    assert!(linux["resources"].get("pids").is_none());
    assert_eq!(linux["resources"]["devices"].as_array().unwrap().len(), 8);
    assert_eq!(
        linux["resources"]["devices"][0],
        json!({"allow": false, "access": "rwm"})
    );
    assert!(linux.get("devices").is_none());
    assert_eq!(linux["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert!(linux.get("rootfsPropagation").is_none());
    assert!(spec.get("annotations").is_none());
}

#[test]
fn input_errors_are_invalid_arguments_with_dockers_words() {
    let root = rootfs();
    let base = base_input(root.path());
    let cases: Vec<(SpecInput, &str)> = vec![
        (
            SpecInput {
                args: vec![],
                ..base.clone()
            },
            "No command specified",
        ),
        (
            SpecInput {
                cwd: "tmp".into(),
                ..base.clone()
            },
            "the working directory 'tmp' is invalid, it needs to be an absolute path",
        ),
        (
            SpecInput {
                oom_score_adj: 1001,
                ..base.clone()
            },
            "Invalid value 1001, range for oom score adj is [-1000, 1000]",
        ),
        (
            SpecInput {
                security_opt: strings(&["bogus"]),
                ..base.clone()
            },
            "invalid --security-opt 1: \"bogus\"",
        ),
        (
            SpecInput {
                security_opt: strings(&["foo=bar"]),
                ..base.clone()
            },
            "invalid --security-opt 2: \"foo=bar\"",
        ),
        (
            SpecInput {
                security_opt: strings(&["no-new-privileges=maybe"]),
                ..base.clone()
            },
            "invalid --security-opt 2: \"no-new-privileges=maybe\"",
        ),
        (
            SpecInput {
                cap_add: strings(&["CAP_NOTHING"]),
                ..base.clone()
            },
            "unknown capability: \"CAP_NOTHING\"",
        ),
        (
            SpecInput {
                ulimits: vec![("nofiles".into(), 1, 1)],
                ..base.clone()
            },
            "invalid ulimit type: nofiles",
        ),
        (
            SpecInput {
                ulimits: vec![("nofile".into(), 10, 5)],
                ..base.clone()
            },
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5",
        ),
        (
            SpecInput {
                user: "nobody".into(),
                ..base.clone()
            },
            "unable to find user nobody: no matching entries in passwd file",
        ),
        (
            SpecInput {
                binds: strings(&["/a:/x", "/b:/x/"]),
                ..base.clone()
            },
            "Duplicate mount point: /x",
        ),
        (
            SpecInput {
                resources: Resources {
                    cpu_shares: -1,
                    ..Resources::default()
                },
                ..base.clone()
            },
            "shares: invalid argument",
        ),
        (
            SpecInput {
                devices: strings(&["/dev/null:/x:rwmx"]),
                ..base.clone()
            },
            "invalid device mode: rwmx",
        ),
    ];
    for (input, message) in cases {
        let err = build_err(&input);
        assert_eq!(err.to_string(), message);
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{message}");
    }
    let tmpfs_root = SpecInput {
        tmpfs: [("/".to_string(), String::new())].into_iter().collect(),
        ..base
    };
    assert!(matches!(
        build_err(&tmpfs_root),
        SpecError::InvalidTmpfsPath(_)
    ));
}

#[test]
fn init_needs_a_private_pid_namespace() {
    let root = rootfs();
    let with_init = SpecInput {
        init: Some("/usr/libexec/tini".into()),
        ..base_input(root.path())
    };
    let spec = build(&with_init);
    assert_eq!(
        spec["process"]["args"],
        json!(["/sbin/docker-init", "--", "true"])
    );
    assert_eq!(
        mount(&spec, "/sbin/docker-init").unwrap(),
        &json!({"destination": "/sbin/docker-init", "type": "bind", "source": "/usr/libexec/tini", "options": ["bind", "ro"]})
    );
    // Sharing the host's (or another container's) PID namespace: there is
    // an init already.
    let spec = build(&SpecInput {
        pid: Ns::Host,
        ..with_init.clone()
    });
    assert_eq!(spec["process"]["args"], json!(["true"]));
    assert!(mount(&spec, "/sbin/docker-init").is_none());
    let spec = build(&SpecInput {
        pid: Ns::Path("/proc/1/ns/pid".into()),
        ..with_init
    });
    assert_eq!(spec["process"]["args"], json!(["true"]));
}

#[test]
fn non_root_users_get_only_the_bounding_set() {
    let root = rootfs();
    let spec = build(&SpecInput {
        user: "alice".into(),
        ..base_input(root.path())
    });
    let caps = spec["process"]["capabilities"].as_object().unwrap();
    assert_eq!(caps.keys().collect::<Vec<_>>(), ["bounding"]);
    assert_eq!(
        spec["process"]["user"],
        json!({"uid": 1000, "gid": 1000, "additionalGids": [1000, 100, 29]})
    );
    // uid 0 under another name is root.
    let spec = build(&SpecInput {
        user: "0:50".into(),
        ..base_input(root.path())
    });
    assert!(spec["process"]["capabilities"].get("effective").is_some());
}

#[test]
fn readonly_and_privileged_mount_flags() {
    let root = rootfs();
    let base = base_input(root.path());
    let ro = build(&SpecInput {
        readonly_rootfs: true,
        binds: strings(&["/srv/data:/data"]),
        init: Some("/usr/bin/docker-init".into()),
        ..base.clone()
    });
    assert_eq!(ro["root"]["readonly"], true);
    for untouched in ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/dev/shm"] {
        let options = mount(&ro, untouched).unwrap()["options"]
            .as_array()
            .unwrap();
        assert!(!options.contains(&json!("ro")), "{untouched}");
    }
    // The network files follow the rootfs; a user bind keeps its own mode.
    assert_eq!(
        mount(&ro, "/etc/hosts").unwrap()["options"],
        json!(["rbind", "ro", "rprivate"])
    );
    assert_eq!(
        mount(&ro, "/data").unwrap()["options"],
        json!(["rbind", "rprivate"])
    );
    assert_eq!(
        mount(&ro, "/sbin/docker-init").unwrap()["options"],
        json!(["bind", "ro"])
    );

    let privileged = build(&SpecInput {
        privileged: true,
        readonly_rootfs: true,
        ..base
    });
    assert_eq!(
        mount(&privileged, "/sys").unwrap()["options"],
        json!(["nosuid", "noexec", "nodev"])
    );
    assert_eq!(
        mount(&privileged, "/sys/fs/cgroup").unwrap()["options"],
        json!(["nosuid", "noexec", "nodev"])
    );
    let linux = &privileged["linux"];
    assert!(linux.get("seccomp").is_none() && linux.get("maskedPaths").is_none());
    assert!(linux.get("readonlyPaths").is_none());
    assert_eq!(
        linux["resources"]["devices"],
        json!([{"allow": true, "access": "rwm"}])
    );
    let bounding = privileged["process"]["capabilities"]["bounding"]
        .as_array()
        .unwrap();
    let held = caps::ALL.iter().filter(|c| caps::held_by_daemon(c)).count();
    assert_eq!(bounding.len(), held);
}

#[test]
fn explicit_masked_and_readonly_paths_apply_even_when_privileged() {
    let root = rootfs();
    let spec = build(&SpecInput {
        privileged: true,
        masked_paths: Some(strings(&["/proc/kcore"])),
        readonly_paths: Some(strings(&["/proc/sys"])),
        ..base_input(root.path())
    });
    assert_eq!(spec["linux"]["maskedPaths"], json!(["/proc/kcore"]));
    assert_eq!(spec["linux"]["readonlyPaths"], json!(["/proc/sys"]));
}

#[test]
fn user_mounts_replace_defaults_and_sort_by_depth() {
    let root = rootfs();
    let base = base_input(root.path());
    let spec = build(&SpecInput {
        binds: strings(&["/srv/a:/a/b/c", "/srv/dev:/dev", "/srv/b:/b"]),
        tmpfs: [("/t".to_string(), "size=1m".to_string())]
            .into_iter()
            .collect(),
        ..base.clone()
    });
    // A user /dev removes every default under /dev.
    assert_eq!(
        destinations(&spec),
        [
            "/proc",
            "/sys",
            "/sys/fs/cgroup",
            "/dev",
            "/b",
            "/t",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts",
            "/a/b/c"
        ]
    );
    assert_eq!(mount(&spec, "/dev").unwrap()["type"], "bind");
    assert_eq!(
        mount(&spec, "/t").unwrap()["options"],
        json!(["noexec", "nosuid", "nodev", "rprivate", "size=1m"])
    );
    // A tmpfs on a bind's path wins; empty network file paths are skipped.
    let spec = build(&SpecInput {
        binds: strings(&["/srv/a:/run"]),
        tmpfs: [("/run".to_string(), String::new())].into_iter().collect(),
        hostname_file: PathBuf::new(),
        hosts_file: PathBuf::new(),
        resolv_file: PathBuf::new(),
        ..base
    });
    assert_eq!(mount(&spec, "/run").unwrap()["type"], "tmpfs");
    assert!(mount(&spec, "/etc/hosts").is_none());
}

#[test]
fn ipc_and_shm() {
    let root = rootfs();
    let base = base_input(root.path());
    let spec = build(&SpecInput {
        shm_size: Some(1 << 20),
        ..base.clone()
    });
    assert_eq!(
        mount(&spec, "/dev/shm").unwrap()["options"][4],
        "size=1048576"
    );
    let spec = build(&SpecInput {
        ipc: Ns::Host,
        ..base.clone()
    });
    assert_eq!(
        mount(&spec, "/dev/shm").unwrap(),
        &json!({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "rprivate"]})
    );
    assert!(
        !spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "ipc"}))
    );
    let spec = build(&SpecInput {
        ipc: Ns::Path("/proc/42/ns/ipc".into()),
        ipc_shm: Some("/var/lib/berth/containers/x/mounts/shm".into()),
        ..base.clone()
    });
    assert_eq!(
        mount(&spec, "/dev/shm").unwrap()["source"],
        "/var/lib/berth/containers/x/mounts/shm"
    );
    assert!(
        spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "ipc", "path": "/proc/42/ns/ipc"}))
    );
    // A user tmpfs on /dev/shm beats the shared one.
    let spec = build(&SpecInput {
        ipc: Ns::Host,
        tmpfs: [("/dev/shm".to_string(), String::new())]
            .into_iter()
            .collect(),
        ..base
    });
    assert_eq!(mount(&spec, "/dev/shm").unwrap()["type"], "tmpfs");
}

#[test]
fn namespaces_and_network_sysctls() {
    let root = rootfs();
    let base = base_input(root.path());
    let spec = build(&SpecInput {
        netns: NetNs::Path("/proc/7/ns/net".into()),
        ..base.clone()
    });
    assert_eq!(
        spec["linux"]["namespaces"][1],
        json!({"type": "network", "path": "/proc/7/ns/net"})
    );
    // Only a new network namespace gets docker's network sysctls.
    assert!(spec["linux"].get("sysctl").is_none());
    let spec = build(&SpecInput {
        uts_host: true,
        ..base.clone()
    });
    assert!(spec.get("hostname").is_none());
    assert_eq!(spec["process"]["env"][1], "HOSTNAME=0123456789ab");

    let v2 = Host {
        cgroup2: true,
        in_user_ns: true,
        ..capture_host()
    };
    let spec: Value = serde_json::to_value(
        build_spec_on(
            &SpecInput {
                privileged: true,
                ..base.clone()
            },
            &v2,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        &json!({"type": "cgroup"})
    );
    // In a user namespace there is no ping_group_range default.
    assert_eq!(
        spec["linux"]["sysctl"],
        json!({"net.ipv4.ip_unprivileged_port_start": "0"})
    );
    // User sysctls override the defaults.
    let spec = build(&SpecInput {
        sysctls: [(
            "net.ipv4.ip_unprivileged_port_start".to_string(),
            "80".to_string(),
        )]
        .into_iter()
        .collect(),
        ..base
    });
    assert_eq!(
        spec["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"],
        "80"
    );
}

#[test]
fn apparmor_only_when_the_host_has_it() {
    let root = rootfs();
    let base = base_input(root.path());
    let armored = Host {
        apparmor: true,
        ..capture_host()
    };
    let build_on = |input: &SpecInput, host: &Host| -> Spec { build_spec_on(input, host).unwrap() };
    let with_opt = SpecInput {
        security_opt: strings(&["apparmor=my-profile"]),
        ..base.clone()
    };
    assert_eq!(
        build_on(&with_opt, &armored)
            .process()
            .as_ref()
            .unwrap()
            .apparmor_profile()
            .as_deref(),
        Some("my-profile")
    );
    assert_eq!(
        build_on(&with_opt, &capture_host())
            .process()
            .as_ref()
            .unwrap()
            .apparmor_profile(),
        &None
    );
    let privileged = SpecInput {
        privileged: true,
        ..base.clone()
    };
    assert_eq!(
        build_on(&privileged, &armored)
            .process()
            .as_ref()
            .unwrap()
            .apparmor_profile()
            .as_deref(),
        Some("unconfined")
    );
    assert_eq!(
        build_on(&base, &armored)
            .process()
            .as_ref()
            .unwrap()
            .apparmor_profile(),
        &None
    );
}

#[test]
fn security_options() {
    let root = rootfs();
    let base = base_input(root.path());
    let spec = build(&SpecInput {
        security_opt: strings(&[
            "no-new-privileges:true",
            "label=disable",
            "seccomp:unconfined",
        ]),
        ..base.clone()
    });
    assert_eq!(spec["process"]["noNewPrivileges"], true);
    assert!(spec["linux"].get("seccomp").is_none());
    let spec = build(&SpecInput {
        security_opt: strings(&["no-new-privileges", "no-new-privileges=false"]),
        ..base.clone()
    });
    assert!(spec["process"].get("noNewPrivileges").is_none());
    // Capability-conditional rules follow --cap-add.
    let spec = build(&SpecInput {
        cap_add: strings(&["SYS_PTRACE"]),
        ..base
    });
    let names: Vec<&str> = spec["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["names"].as_array().unwrap())
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&"process_vm_readv") && names.contains(&"kcmp"));
}

#[test]
fn cgroup_parent_and_annotations() {
    let root = rootfs();
    let spec = build(&SpecInput {
        cgroup_parent: Some("/mygroup/".into()),
        annotations: [("org.example.key".to_string(), "v".to_string())]
            .into_iter()
            .collect(),
        ..base_input(root.path())
    });
    assert_eq!(spec["linux"]["cgroupsPath"], format!("/mygroup/{ID}"));
    assert_eq!(spec["annotations"], json!({"org.example.key": "v"}));
    let spec = build(&SpecInput {
        cgroup_parent: Some("relative".into()),
        ..base_input(root.path())
    });
    assert_eq!(spec["linux"]["cgroupsPath"], format!("relative/{ID}"));
}

#[test]
fn slave_propagation_of_a_slave_or_shared_source_sets_rootfs_propagation() {
    // Whether / is shared, a slave or private depends on the host; the
    // outcome must be docker's for each case.
    let root = rootfs();
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root_line = table
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap();
    let shared_or_slave = root_line.contains(" shared:") || root_line.contains(" master:");
    let result = build_spec_on(
        &SpecInput {
            binds: strings(&["/:/host:rslave"]),
            ..base_input(root.path())
        },
        &capture_host(),
    );
    if shared_or_slave {
        let spec = serde_json::to_value(result.unwrap()).unwrap();
        assert_eq!(spec["linux"]["rootfsPropagation"], "rslave");
        assert_eq!(
            mount(&spec, "/host").unwrap()["options"],
            json!(["rbind", "rslave"])
        );
    } else {
        assert_eq!(
            result.unwrap_err().to_string(),
            "path / is mounted on / but it is not a shared or slave mount"
        );
    }
}

#[test]
fn build_spec_probes_this_host() {
    let root = rootfs();
    let spec = build_spec(&base_input(root.path())).unwrap();
    let host = Host::probe();
    assert!(host.kernel.0 >= 3, "{host:?}");
    let seccomp = spec.linux().as_ref().unwrap().seccomp().as_ref().unwrap();
    if host.arch == "amd64" {
        assert_eq!(seccomp.architectures().as_ref().unwrap().len(), 3);
    }
}

#[test]
fn kernel_release_parsing() {
    assert_eq!(parse_kernel_release("6.18.44-fc-v669"), (6, 18));
    assert_eq!(parse_kernel_release("5.4.0"), (5, 4));
    assert_eq!(parse_kernel_release("4.19-rc5"), (4, 19));
    assert_eq!(parse_kernel_release("garbage"), (0, 0));
}

#[test]
fn terminal_size_goes_to_the_runtime_only_with_a_tty() {
    let root = rootfs();
    let mut input = base_input(root.path());
    input.console_size = Some((33, 101));
    let spec = build(&input);
    assert!(spec["process"].get("consoleSize").is_none());
    input.tty = true;
    let spec = build(&input);
    assert_eq!(spec["process"]["terminal"], true);
    assert_eq!(
        spec["process"]["consoleSize"],
        json!({"height": 33, "width": 101})
    );
}
