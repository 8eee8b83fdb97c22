//! Unit tests of `validate`: docker's messages for each bad value.

use super::*;
use berth_api_types::container::CreateRequest;

/// The body docker CLI 28 sends for `docker run --rm busybox echo hi`.
const CLI_RUN: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["echo","hi"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}"#;

fn cli_request() -> CreateRequest {
    serde_json::from_str(CLI_RUN).unwrap()
}

/// A 2-CPU cgroup v1 host with every controller file.
fn full_host() -> SysInfo {
    SysInfo {
        ncpu: 2,
        cpus: "0-1".into(),
        mems: "0".into(),
        memory_limit: true,
        swap_limit: true,
        memory_reservation: true,
        memory_swappiness: true,
        oom_kill_disable: true,
        pids_limit: true,
        cpu_shares: true,
        cpu_cfs: true,
        cpuset: true,
        blkio_weight: true,
        blkio_weight_device: true,
        blkio_read_bps_device: true,
        blkio_write_bps_device: true,
        blkio_read_iops_device: true,
        blkio_write_iops_device: true,
    }
}

#[test]
fn the_clis_zero_values_pass() {
    let req = cli_request();
    let mut h = req.host_config.clone().unwrap();
    assert_eq!(
        host_config(&mut h, &full_host()).unwrap(),
        Vec::<String>::new()
    );
    // -1 is the CLI's "not set".
    assert_eq!(h.resources.memory_swappiness, None);
    config(&req.config).unwrap();
    networking(&h, req.networking_config.as_ref()).unwrap();
}

/// Each bad value with dockerd 20.10's message (checked against it on
/// a 2-CPU host with one memory node).
#[test]
fn limits_out_of_range_get_dockers_errors() {
    let r = Resources::default;
    let mb = |n: i64| n << 20;
    let cases: Vec<(Resources, &str)> = vec![
        (
            Resources {
                memory: mb(4),
                ..r()
            },
            "Minimum memory limit allowed is 6MB",
        ),
        (
            Resources {
                memory: mb(10),
                memory_swap: mb(5),
                ..r()
            },
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            Resources {
                memory_swap: mb(20),
                ..r()
            },
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            Resources {
                memory_swappiness: Some(101),
                ..r()
            },
            "Invalid value: 101, valid memory swappiness range is 0-100",
        ),
        (
            Resources {
                memory_reservation: mb(4),
                ..r()
            },
            "Minimum memory reservation allowed is 6MB",
        ),
        (
            Resources {
                memory: mb(10),
                memory_reservation: mb(20),
                ..r()
            },
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ),
        (
            Resources {
                nano_cpus: 1_000_000_000,
                cpu_period: 100_000,
                ..r()
            },
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            Resources {
                nano_cpus: 1_000_000_000,
                cpu_quota: 50_000,
                ..r()
            },
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        (
            Resources {
                nano_cpus: 3_000_000_000,
                ..r()
            },
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
        ),
        (
            Resources {
                nano_cpus: -5,
                ..r()
            },
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
        ),
        (
            Resources {
                cpu_period: 500,
                ..r()
            },
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (
            Resources {
                cpu_period: 1_000_001,
                ..r()
            },
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (
            Resources {
                cpu_quota: 500,
                ..r()
            },
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ),
        (
            Resources {
                cpuset_cpus: "0-64".into(),
                ..r()
            },
            "Requested CPUs are not available - requested 0-64, available: 0-1",
        ),
        (
            Resources {
                cpuset_cpus: "0-x".into(),
                ..r()
            },
            "Invalid value 0-x for cpuset cpus: invalid format: 0-x",
        ),
        (
            Resources {
                cpuset_cpus: "0-99999".into(),
                ..r()
            },
            "Invalid value 0-99999 for cpuset cpus: value of out range, maximum is 8192",
        ),
        (
            Resources {
                cpuset_mems: "0-3".into(),
                ..r()
            },
            "Requested memory nodes are not available - requested 0-3, available: 0",
        ),
        (
            Resources {
                blkio_weight: 5,
                ..r()
            },
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            Resources {
                blkio_weight: 1001,
                ..r()
            },
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            Resources {
                io_maximum_iops: 5,
                ..r()
            },
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps",
        ),
        (
            Resources {
                blkio_weight_device: Some(vec![berth_api_types::container::WeightDevice {
                    path: "/dev/sda".into(),
                    weight: 5,
                }]),
                ..r()
            },
            "invalid weight for device: /dev/sda:5",
        ),
    ];
    for (mut res, message) in cases {
        let before = res.clone();
        let err = resources(&mut res, &full_host(), false).unwrap_err();
        assert_eq!(err.to_string(), message, "{before:?}");
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }
    // An update may set swap alone.
    resources(
        &mut Resources {
            memory_swap: mb(20),
            ..r()
        },
        &full_host(),
        true,
    )
    .unwrap();
    // In range: accepted as given.
    let mut ok = Resources {
        memory: mb(6),
        memory_reservation: mb(6),
        memory_swap: -1,
        memory_swappiness: Some(0),
        nano_cpus: 2_000_000_000,
        cpuset_cpus: "0,1".into(),
        cpuset_mems: "0".into(),
        blkio_weight: 10,
        cpu_shares: 2,
        pids_limit: Some(-1),
        oom_kill_disable: Some(false),
        ..r()
    };
    let before = ok.clone();
    assert_eq!(
        resources(&mut ok, &full_host(), false).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(ok, before);
}

#[test]
fn host_config_checks_oom_score_and_cgroup_rules() {
    let mut h = cli_request().host_config.unwrap();
    h.oom_score_adj = -1001;
    assert_eq!(
        host_config(&mut h, &full_host()).unwrap_err().to_string(),
        "Invalid value -1001, range for oom score adj is [-1000, 1000]"
    );
    let mut h = cli_request().host_config.unwrap();
    h.resources.device_cgroup_rules = Some(vec!["c 1:3 mr".into(), "a".into()]);
    assert_eq!(
        host_config(&mut h, &full_host()).unwrap_err().to_string(),
        "invalid device cgroup rule format: 'a'"
    );
    h.resources.device_cgroup_rules = Some(vec!["c 1:3 mr".into(), "b *:* rwm".into()]);
    host_config(&mut h, &full_host()).unwrap();
}

/// What the kernel cannot limit is discarded with docker's warning
/// (and an OOM killer turned off without a memory limit is warned of).
#[test]
fn unsupported_limits_are_discarded_with_a_warning() {
    let mut res = Resources {
        memory: 32 << 20,
        memory_swappiness: Some(10),
        oom_kill_disable: Some(true),
        blkio_weight: 5,
        blkio_device_read_bps: Some(vec![berth_api_types::container::ThrottleDevice {
            path: "/dev/sda".into(),
            rate: 1,
        }]),
        cpu_percent: 50,
        ..Resources::default()
    };
    let host = SysInfo {
        memory_limit: true,
        ncpu: 1,
        cpus: "0".into(),
        mems: "0".into(),
        cpuset: true,
        ..SysInfo::default()
    };
    let warnings = resources(&mut res, &host, false).unwrap();
    assert_eq!(
        warnings,
        [
            "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
            "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.",
            "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
            "linux does not support CPU percent. Percent discarded.",
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
            "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
        ]
    );
    assert_eq!(
        res,
        Resources {
            memory: 32 << 20,
            memory_swap: -1,
            blkio_device_read_bps: Some(Vec::new()),
            ..Resources::default()
        }
    );
    let mut res = Resources {
        oom_kill_disable: Some(true),
        ..Resources::default()
    };
    assert_eq!(
        resources(&mut res, &full_host(), false).unwrap(),
        [
            "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources."
        ]
    );
}

#[test]
fn create_defaults_and_update_conflicts() {
    let mut res = Resources {
        memory: 10 << 20,
        ..Resources::default()
    };
    adapt_resources(&mut res);
    assert_eq!(
        (res.memory_swap, res.oom_kill_disable),
        (20 << 20, Some(false))
    );
    let cpus = Resources {
        nano_cpus: 500_000_000,
        ..Resources::default()
    };
    let period = Resources {
        cpu_period: 50_000,
        ..Resources::default()
    };
    let quota = Resources {
        cpu_quota: 50_000,
        ..Resources::default()
    };
    assert_eq!(
        update_conflict(&period, &cpus),
        Some("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
    );
    assert_eq!(
        update_conflict(&quota, &cpus),
        Some("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
    );
    assert_eq!(
        update_conflict(&cpus, &period),
        Some("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
    );
    assert_eq!(
        update_conflict(&cpus, &quota),
        Some("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
    );
    let memory = Resources {
        memory: 64 << 20,
        ..Resources::default()
    };
    // No limit yet (swap 0) or unlimited swap (-1): swap required.
    for swap in [0, -1] {
        let current = Resources {
            memory_swap: swap,
            ..Resources::default()
        };
        assert_eq!(
            update_conflict(&current, &memory),
            Some(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
            )
        );
    }
    assert_eq!(
        update_conflict(&res, &memory),
        Some(
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
        )
    );
    let with_swap = Resources {
        memory: 64 << 20,
        memory_swap: 128 << 20,
        ..Resources::default()
    };
    assert_eq!(update_conflict(&res, &with_swap), None);
    assert_eq!(update_conflict(&cpus, &cpus), None);
}

#[test]
fn unsupported_fields_are_named() {
    let mut h = cli_request().host_config.unwrap();
    h.resources.kernel_memory = 1 << 20;
    assert_eq!(
        host_config(&mut h, &full_host()).unwrap_err().to_string(),
        "HostConfig.KernelMemory is not supported by berth"
    );
    let mut h = cli_request().host_config.unwrap();
    h.mounts = Some(vec![berth_api_types::container::Mount {
        r#type: "bind".into(),
        source: "/nonexistent/berth-source".into(),
        target: "/x".into(),
        ..Default::default()
    }]);
    assert_eq!(
        host_config(&mut h, &full_host()).unwrap_err().to_string(),
        "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent/berth-source"
    );
    let mut c = cli_request().config;
    c.mac_address = "02:42:ac:11:00".into();
    assert_eq!(
        config(&c).unwrap_err().to_string(),
        "invalid MAC address: 02:42:ac:11:00"
    );
}

#[test]
fn sizes_parse_like_docker() {
    assert_eq!(parse_bytes("10m"), Some(10 << 20));
    assert_eq!(parse_bytes("1k"), Some(1024));
    assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
    assert_eq!(parse_bytes("512"), Some(512));
    assert_eq!(parse_bytes("1.5k"), Some(1536));
    assert_eq!(parse_bytes("10x"), None);
    assert_eq!(parse_bytes(""), None);
}
