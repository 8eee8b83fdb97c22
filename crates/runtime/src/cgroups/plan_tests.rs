//! Unit tests of the write plans (no root needed).

use std::collections::HashMap;

use oci_spec::runtime::LinuxResources;

use super::*;

const MB: i64 = 1 << 20;

/// Builds resources from OCI JSON, the form specs arrive in.
fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// `controller/file=value` strings, for compact assertions.
fn flat(plan: &[Write]) -> Vec<String> {
    plan.iter()
        .map(|w| format!("{}/{}={}", w.controller, w.file, w.value))
        .collect()
}

fn probe_with_limit(limit: u64) -> V1Probe {
    V1Probe {
        memory_limit: Some(limit),
        memsw: true,
        ..V1Probe::default()
    }
}

#[test]
fn v1_memsw_goes_first_when_raising() {
    let r = res(&format!(
        r#"{{"memory":{{"limit":{},"swap":{}}}}}"#,
        300 * MB,
        400 * MB
    ));
    let plan = v1_plan(&r, &probe_with_limit(100 * MB as u64)).unwrap();
    assert_eq!(
        flat(&plan),
        [
            format!("memory/memory.memsw.limit_in_bytes={}", 400 * MB),
            format!("memory/memory.limit_in_bytes={}", 300 * MB),
        ]
    );
    assert_eq!(plan[0].mode, WriteMode::SkipIfMissing);
    assert_eq!(plan[1].mode, WriteMode::Required);
}

#[test]
fn v1_memory_goes_first_when_lowering() {
    let r = res(&format!(
        r#"{{"memory":{{"limit":{},"swap":{}}}}}"#,
        100 * MB,
        200 * MB
    ));
    let plan = v1_plan(&r, &probe_with_limit(300 * MB as u64)).unwrap();
    assert_eq!(
        flat(&plan),
        [
            format!("memory/memory.limit_in_bytes={}", 100 * MB),
            format!("memory/memory.memsw.limit_in_bytes={}", 200 * MB),
        ]
    );
    // A fresh cgroup reports "unlimited" (a huge number): memory first too.
    let plan = v1_plan(&r, &probe_with_limit(9223372036854771712)).unwrap();
    assert_eq!(plan[0].file, "memory.limit_in_bytes");
}

#[test]
fn v1_unlimited_memory_implies_unlimited_swap_when_accounted() {
    let r = res(r#"{"memory":{"limit":-1}}"#);
    let plan = v1_plan(&r, &probe_with_limit(100)).unwrap();
    assert_eq!(
        flat(&plan),
        [
            "memory/memory.memsw.limit_in_bytes=-1",
            "memory/memory.limit_in_bytes=-1"
        ]
    );
    let no_swap_accounting = V1Probe::default();
    let plan = v1_plan(&r, &no_swap_accounting).unwrap();
    assert_eq!(flat(&plan), ["memory/memory.limit_in_bytes=-1"]);
}

#[test]
fn v1_full_plan_in_runc_order() {
    let r = res(r#"{
        "memory": {"reservation": 1048576, "swappiness": 10, "disableOOMKiller": true, "kernel": 5},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "realtimeRuntime": 950, "realtimePeriod": 1000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 64},
        "blockIO": {"weight": 300, "leafWeight": 200,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 400}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 20}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
        "rdma": {"mlx5_1": {"hcaHandles": 3}, "mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}}
    }"#);
    let probe = V1Probe {
        blkio_weight: BlkioWeight::Bfq,
        ..V1Probe::default()
    };
    let plan = v1_plan(&r, &probe).unwrap();
    assert_eq!(
        flat(&plan),
        [
            "cpuset/cpuset.cpus=0",
            "cpuset/cpuset.mems=0",
            "memory/memory.soft_limit_in_bytes=1048576",
            "memory/memory.oom_control=1",
            "memory/memory.swappiness=10",
            "cpu/cpu.shares=512",
            "cpu/cpu.cfs_period_us=100000",
            "cpu/cpu.cfs_quota_us=50000",
            "cpu/cpu.cfs_period_us=100000",
            "cpu/cpu.rt_period_us=1000",
            "cpu/cpu.rt_runtime_us=950",
            "pids/pids.max=64",
            "blkio/blkio.bfq.weight=300",
            "blkio/blkio.leaf_weight=200",
            "blkio/blkio.bfq.weight_device=8:0 400",
            "blkio/blkio.throttle.read_bps_device=8:0 1000",
            "blkio/blkio.throttle.write_iops_device=8:16 20",
            "hugetlb/hugetlb.2MB.limit_in_bytes=4194304",
            "net_cls/net_cls.classid=1048577",
            "net_prio/net_prio.ifpriomap=eth0 5",
            "rdma/rdma.max=mlx4_0 hca_handle=2 hca_object=2000",
            "rdma/rdma.max=mlx5_1 hca_handle=3",
        ]
    );
    let modes: HashMap<&str, WriteMode> = plan.iter().map(|w| (w.file.as_str(), w.mode)).collect();
    assert_eq!(modes["cpu.shares"], WriteMode::ReadBack);
    assert_eq!(plan[6].mode, WriteMode::TolerateEinval);
    assert_eq!(plan[8].mode, WriteMode::Required);
    assert_eq!(modes["cpu.rt_runtime_us"], WriteMode::SkipIfMissing);
    assert_eq!(modes["blkio.bfq.weight"], WriteMode::SkipIfMissing);
}

#[test]
fn v1_period_alone_is_required_and_weights_need_a_scheduler() {
    let r =
        res(r#"{"cpu": {"period": 100000}, "blockIO": {"weight": 300}, "pids": {"limit": -1}}"#);
    let plan = v1_plan(&r, &V1Probe::default()).unwrap();
    assert_eq!(
        flat(&plan),
        ["cpu/cpu.cfs_period_us=100000", "pids/pids.max=max"]
    );
    assert_eq!(plan[0].mode, WriteMode::Required);
}

#[test]
fn v1_rejects_invalid_values_before_writing() {
    assert!(matches!(
        v1_plan(
            &res(r#"{"memory": {"swappiness": 101}}"#),
            &V1Probe::default()
        ),
        Err(CgroupError::InvalidSwappiness(101))
    ));
    // -1 as u64: the kernel default.
    let plan = v1_plan(
        &res(r#"{"memory": {"swappiness": 18446744073709551615}}"#),
        &V1Probe::default(),
    )
    .unwrap();
    assert!(plan.is_empty());
    assert!(matches!(
        v1_plan(
            &res(r#"{"unified": {"memory.high": "1"}}"#),
            &V1Probe::default()
        ),
        Err(CgroupError::UnifiedOnV1)
    ));
    assert!(
        v1_plan(&res(r#"{"unified": {}}"#), &V1Probe::default())
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        v1_plan(
            &res(r#"{"hugepageLimits": [{"pageSize": "../2MB", "limit": 1}]}"#),
            &V1Probe::default()
        ),
        Err(CgroupError::InvalidHugepageSize { .. })
    ));
    assert!(matches!(
        v1_plan(
            &res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": -1}]}"#),
            &V1Probe::default()
        ),
        Err(CgroupError::InvalidHugepageLimit { .. })
    ));
    assert!(matches!(
        v1_plan(
            &res(r#"{"devices": [{"allow": true, "access": ""}]}"#),
            &V1Probe::default()
        ),
        Err(CgroupError::InvalidDeviceRule { .. })
    ));
}

#[test]
fn v1_devices_transition_is_planned() {
    let r = res(
        r#"{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]}"#,
    );
    let plan = v1_plan(&r, &V1Probe::default()).unwrap();
    assert_eq!(
        flat(&plan),
        [
            "devices/devices.deny=a *:* rwm",
            "devices/devices.allow=c 1:3 rw"
        ]
    );
    let probe = V1Probe {
        devices: Some(DeviceState::from_list("c 1:3 rw\n").unwrap()),
        ..V1Probe::default()
    };
    assert!(v1_plan(&r, &probe).unwrap().is_empty());
}

#[test]
fn conversions_match_runc() {
    assert_eq!(shares_to_weight(0), 0);
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(262144), 10000);
    assert_eq!(blkio_weight_to_io_weight(10), 1);
    assert_eq!(blkio_weight_to_io_weight(500), 4950);
    assert_eq!(blkio_weight_to_io_weight(1000), 10000);
    assert_eq!(swap_to_v2(0, 0).unwrap(), 0);
    assert_eq!(swap_to_v2(0, -1).unwrap(), -1);
    assert_eq!(swap_to_v2(-1, 100).unwrap(), -1);
    assert_eq!(swap_to_v2(300, 100).unwrap(), 200);
    assert_eq!(swap_to_v2(100, 100).unwrap(), 0);
    assert!(matches!(
        swap_to_v2(100, 0),
        Err(CgroupError::SwapWithoutMemory)
    ));
    assert!(matches!(
        swap_to_v2(100, 200),
        Err(CgroupError::SwapBelowMemory { .. })
    ));
    assert!(matches!(
        swap_to_v2(100, -5),
        Err(CgroupError::InvalidMemory(-5))
    ));
}

#[test]
fn v2_plan_converts_v1_values() {
    let r = res(&format!(
        r#"{{
        "memory": {{"limit": {}, "swap": {}, "reservation": {}, "swappiness": 60, "disableOOMKiller": true}},
        "cpu": {{"shares": 1024, "quota": 50000, "cpus": "0-1"}},
        "pids": {{"limit": -1}},
        "blockIO": {{"weight": 500, "weightDevice": [{{"major": 8, "minor": 0, "weight": 100}}],
                    "throttleReadBpsDevice": [{{"major": 8, "minor": 0, "rate": 1000}}],
                    "throttleWriteIOPSDevice": [{{"major": 8, "minor": 0, "rate": 7}}]}},
        "hugepageLimits": [{{"pageSize": "1GB", "limit": 0}}],
        "unified": {{"memory.high": "max", "cgroup.type": "threaded"}}
    }}"#,
        100 * MB,
        300 * MB,
        50 * MB
    ));
    let probe = V2Probe {
        bfq: None,
        controllers: ["memory", "cpu"].iter().map(|s| s.to_string()).collect(),
    };
    let plan = v2_plan(&r, &probe).unwrap();
    assert_eq!(
        flat(&plan),
        [
            "/pids.max=max".to_owned(),
            format!("/memory.swap.max={}", 200 * MB),
            format!("/memory.max={}", 100 * MB),
            format!("/memory.low={}", 50 * MB),
            "/io.weight=4950".to_owned(),
            "/io.max=8:0 rbps=1000".to_owned(),
            "/io.max=8:0 wiops=7".to_owned(),
            "/cpu.weight=39".to_owned(),
            "/cpu.max=50000 100000".to_owned(),
            "/cpuset.cpus=0-1".to_owned(),
            "/hugetlb.1GB.max=0".to_owned(),
            "/cgroup.type=threaded".to_owned(),
            "/memory.high=max".to_owned(),
        ]
    );
    assert_eq!(plan[1].mode, WriteMode::SkipIfMissing);
    assert_eq!(plan[11].mode, WriteMode::Unified { available: true });
    assert_eq!(plan[12].mode, WriteMode::Unified { available: true });
}

#[test]
fn v2_plan_edge_cases() {
    let none = V2Probe::default();
    // Equal memory and memory+swap: swap disabled, written as 0.
    let plan = v2_plan(&res(r#"{"memory": {"limit": 1000, "swap": 1000}}"#), &none).unwrap();
    assert_eq!(flat(&plan), ["/memory.swap.max=0", "/memory.max=1000"]);
    // Unlimited memory: swap unlimited too.
    let plan = v2_plan(&res(r#"{"memory": {"limit": -1}}"#), &none).unwrap();
    assert_eq!(flat(&plan), ["/memory.swap.max=max", "/memory.max=max"]);
    // Quota -1 with a period keeps the period.
    let plan = v2_plan(&res(r#"{"cpu": {"quota": -1, "period": 250000}}"#), &none).unwrap();
    assert_eq!(flat(&plan), ["/cpu.max=max 250000"]);
    // BFQ with per-device weights.
    let bfq = V2Probe {
        bfq: Some(true),
        ..V2Probe::default()
    };
    let r = res(
        r#"{"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 100}]}}"#,
    );
    assert_eq!(
        flat(&v2_plan(&r, &bfq).unwrap()),
        ["/io.bfq.weight=500", "/io.bfq.weight=8:0 100"]
    );
    // Unified keys: controller availability is recorded, bad keys refused.
    let plan = v2_plan(&res(r#"{"unified": {"pids.max": "5"}}"#), &none).unwrap();
    assert_eq!(plan[0].mode, WriteMode::Unified { available: false });
    for bad in ["nodot", "../memory.max", ".max", "memory."] {
        let r = res(&format!(r#"{{"unified": {{"{bad}": "1"}}}}"#));
        assert!(
            matches!(
                v2_plan(&r, &none),
                Err(CgroupError::UnifiedKeyInvalid { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        v2_plan(&res(r#"{"memory": {"limit": 100, "swap": 50}}"#), &none),
        Err(CgroupError::SwapBelowMemory { .. })
    ));
    assert!(matches!(
        v2_plan(&res(r#"{"cpu": {"realtimeRuntime": 5}}"#), &none),
        Err(CgroupError::NotSupportedOnV2 { .. })
    ));
    assert!(matches!(
        v2_plan(&res(r#"{"network": {"classID": 5}}"#), &none),
        Err(CgroupError::NotSupportedOnV2 { .. })
    ));
}
