//! The Linux section's cgroup and namespace parts: resources, the cgroups
//! path and the namespace list, as dockerd 20.10 fills them in.

use std::path::PathBuf;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNamespace, LinuxPids, LinuxResources,
    LinuxThrottleDevice, LinuxWeightDevice,
};

use super::{Host, NetNs, Ns, Resources, SpecError, SpecInput, blank, mounts};

/// Docker's resource mapping (`WithResources`): memory and CPU always
/// present, block IO weight always present, pids only when set.
pub(crate) fn resources(r: &Resources) -> Result<LinuxResources, SpecError> {
    if r.cpu_shares < 0 {
        return Err(SpecError::NegativeCpuShares);
    }
    let mut memory: LinuxMemory = blank("memory resources", serde_json::json!({}))?;
    if r.memory > 0 {
        memory.set_limit(Some(r.memory));
    }
    if r.memory_reservation > 0 {
        memory.set_reservation(Some(r.memory_reservation));
    }
    // dockerd's default when only a memory limit is given: swap as large
    // as the memory limit (memory+swap = 2 x memory).
    let swap = if r.memory > 0 && r.memory_swap == 0 {
        r.memory * 2
    } else {
        r.memory_swap
    };
    if swap > 0 {
        memory.set_swap(Some(swap));
    }
    if let Some(swappiness) = r.memory_swappiness.filter(|s| *s != -1) {
        memory.set_swappiness(Some(swappiness as u64));
    }
    memory.set_disable_oom_killer(Some(r.oom_kill_disable.unwrap_or(false)));

    let mut cpu: LinuxCpu = blank("cpu resources", serde_json::json!({}))?;
    cpu.set_shares(Some(r.cpu_shares as u64));
    if !r.cpuset_cpus.is_empty() {
        cpu.set_cpus(Some(r.cpuset_cpus.clone()));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.set_mems(Some(r.cpuset_mems.clone()));
    }
    if r.nano_cpus > 0 {
        // CFS bandwidth over docker's 100 ms period (sched-bwc.txt).
        let period: u64 = 100_000;
        cpu.set_period(Some(period));
        cpu.set_quota(Some(r.nano_cpus * period as i64 / 1_000_000_000));
    }
    if r.cpu_period != 0 {
        cpu.set_period(Some(r.cpu_period as u64));
    }
    if r.cpu_quota != 0 {
        cpu.set_quota(Some(r.cpu_quota));
    }

    // Lists only when given (Go's omitempty on nil slices); the weight
    // always, as dockerd writes it.
    let given =
        |l: &[(String, u64)]| -> Option<Vec<(String, u64)>> { (!l.is_empty()).then(|| l.to_vec()) };
    let block_io = block_io(&BlockIoChange {
        weight: Some(r.blkio_weight),
        weight_device: (!r.blkio_weight_device.is_empty()).then(|| r.blkio_weight_device.clone()),
        read_bps: given(&r.blkio_device_read_bps),
        write_bps: given(&r.blkio_device_write_bps),
        read_iops: given(&r.blkio_device_read_iops),
        write_iops: given(&r.blkio_device_write_iops),
    })?;

    let mut resources: LinuxResources = blank("resources", serde_json::json!({}))?;
    resources.set_memory(Some(memory));
    resources.set_cpu(Some(cpu));
    resources.set_block_io(Some(block_io));
    if let Some(limit) = r.pids_limit {
        // 0 and negative values mean unlimited; runc wants -1 for that.
        let limit = if limit <= 0 { -1 } else { limit };
        resources.set_pids(Some(blank::<LinuxPids>(
            "pids resources",
            serde_json::json!({ "limit": limit }),
        )?));
    }
    Ok(resources)
}

/// Block IO settings to write: each `Some` field is set (an empty list
/// too, which clears an update's list), `None` ones are left out. Devices
/// are paths, resolved to their major:minor by [`block_io`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BlockIoChange {
    pub weight: Option<u16>,
    pub weight_device: Option<Vec<(String, u16)>>,
    pub read_bps: Option<Vec<(String, u64)>>,
    pub write_bps: Option<Vec<(String, u64)>>,
    pub read_iops: Option<Vec<(String, u64)>>,
    pub write_iops: Option<Vec<(String, u64)>>,
}

/// The device numbers of the node at `path`, following symlinks as
/// stat(2) does (docker's `unix.Stat`). Any node type passes, as in
/// docker: the kernel refuses a non-block device when the runtime writes
/// the limit.
fn device_numbers(path: &str) -> Result<(i64, i64), SpecError> {
    let stat = rustix::fs::stat(path).map_err(|e| SpecError::BlkioDeviceStat {
        path: path.to_string(),
        source: e.into(),
    })?;
    Ok((
        i64::from(rustix::fs::major(stat.st_rdev)),
        i64::from(rustix::fs::minor(stat.st_rdev)),
    ))
}

fn throttles(list: &[(String, u64)]) -> Result<Vec<LinuxThrottleDevice>, SpecError> {
    list.iter()
        .map(|(path, rate)| {
            let (major, minor) = device_numbers(path)?;
            blank(
                "block IO throttle",
                serde_json::json!({"major": major, "minor": minor, "rate": rate}),
            )
        })
        .collect()
}

/// The OCI block IO section of `change` (dockerd's `getBlkioWeightDevices`
/// and `getBlkioThrottleDevices`): the runtime writes the weights to
/// `blkio.weight_device` (CFQ) or `blkio.bfq.weight_device` on cgroup v1,
/// `io.bfq.weight` on v2, the throttles to `blkio.throttle.*` (v1) or
/// `io.max` (v2).
pub(crate) fn block_io(change: &BlockIoChange) -> Result<LinuxBlockIo, SpecError> {
    let mut block_io: LinuxBlockIo = blank("block IO resources", serde_json::json!({}))?;
    block_io.set_weight(change.weight);
    if let Some(list) = &change.weight_device {
        let devices = list
            .iter()
            .map(|(path, weight)| {
                let (major, minor) = device_numbers(path)?;
                blank::<LinuxWeightDevice>(
                    "block IO weight device",
                    serde_json::json!({"major": major, "minor": minor, "weight": weight}),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        block_io.set_weight_device(Some(devices));
    }
    if let Some(list) = &change.read_bps {
        block_io.set_throttle_read_bps_device(Some(throttles(list)?));
    }
    if let Some(list) = &change.write_bps {
        block_io.set_throttle_write_bps_device(Some(throttles(list)?));
    }
    if let Some(list) = &change.read_iops {
        block_io.set_throttle_read_iops_device(Some(throttles(list)?));
    }
    if let Some(list) = &change.write_iops {
        block_io.set_throttle_write_iops_device(Some(throttles(list)?));
    }
    Ok(block_io)
}

/// `<parent>/<id>` for the cgroupfs driver, parent `/berth` by default.
pub(crate) fn cgroups_path(input: &SpecInput) -> PathBuf {
    let parent = input
        .cgroup_parent
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("/berth");
    PathBuf::from(mounts::clean_path(&format!("{parent}/{}", input.id)))
}

/// Docker's namespace list: mount, network, uts, pid, ipc in that order,
/// each private unless shared with the host (removed) or joined by path;
/// plus a private cgroup namespace on cgroup v2 hosts (docker's default
/// there, for privileged containers too).
pub(crate) fn namespaces(input: &SpecInput, host: &Host) -> Result<Vec<LinuxNamespace>, SpecError> {
    let entry = |typ: &str, path: Option<&PathBuf>| -> Result<LinuxNamespace, SpecError> {
        let mut json = serde_json::json!({ "type": typ });
        if let Some(path) = path {
            json["path"] = serde_json::Value::String(path.to_string_lossy().into_owned());
        }
        blank("namespace", json)
    };
    let mut list = vec![entry("mount", None)?];
    match &input.netns {
        NetNs::New => list.push(entry("network", None)?),
        NetNs::Host => {}
        NetNs::Path(path) => list.push(entry("network", Some(path))?),
    }
    if !input.uts_host {
        list.push(entry("uts", None)?);
    }
    for (typ, ns) in [("pid", &input.pid), ("ipc", &input.ipc)] {
        match ns {
            Ns::New => list.push(entry(typ, None)?),
            Ns::Host => {}
            Ns::Path(path) => list.push(entry(typ, Some(path))?),
        }
    }
    if host.cgroup2 {
        list.push(entry("cgroup", None)?);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapped(r: Resources) -> serde_json::Value {
        serde_json::to_value(resources(&r).unwrap()).unwrap()
    }

    #[test]
    fn resource_mapping() {
        let r = mapped(Resources {
            nano_cpus: 250_000_000,
            memory: 100,
            memory_swap: -1,
            memory_swappiness: Some(-1),
            pids_limit: Some(0),
            blkio_weight: 500,
            ..Resources::default()
        });
        assert_eq!(
            r,
            json!({
                "cpu": {"shares": 0, "period": 100000, "quota": 25000},
                "memory": {"limit": 100, "disableOOMKiller": false},
                "pids": {"limit": -1},
                "blockIO": {"weight": 500}
            })
        );
        // An explicit period/quota overrides the one --cpus implies.
        let r = mapped(Resources {
            nano_cpus: 2_000_000_000,
            cpu_period: 50_000,
            ..Resources::default()
        });
        assert_eq!(
            r["cpu"],
            json!({"shares": 0, "period": 50000, "quota": 200000})
        );
        // Memory without swap: docker's twice-the-memory default.
        let r = mapped(Resources {
            memory: 10 << 20,
            memory_reservation: 6 << 20,
            ..Resources::default()
        });
        assert_eq!(
            r["memory"],
            json!({"limit": 10 << 20, "reservation": 6 << 20, "swap": 20 << 20, "disableOOMKiller": false})
        );
        assert!(matches!(
            resources(&Resources {
                cpu_shares: -2,
                ..Resources::default()
            }),
            Err(SpecError::NegativeCpuShares)
        ));
    }

    /// Device paths become the major:minor of their node (/dev/null is
    /// 1:3 on every Linux, devices.txt); a missing node is docker's stat
    /// error.
    #[test]
    fn block_io_devices_are_resolved() {
        let r = mapped(Resources {
            blkio_weight: 300,
            blkio_weight_device: vec![("/dev/null".into(), 200)],
            blkio_device_read_bps: vec![("/dev/null".into(), 1 << 20)],
            blkio_device_write_iops: vec![("/dev/null".into(), 50)],
            ..Resources::default()
        });
        assert_eq!(
            r["blockIO"],
            json!({
                "weight": 300,
                "weightDevice": [{"major": 1, "minor": 3, "weight": 200}],
                "throttleReadBpsDevice": [{"major": 1, "minor": 3, "rate": 1 << 20}],
                "throttleWriteIOPSDevice": [{"major": 1, "minor": 3, "rate": 50}]
            })
        );
        let err = resources(&Resources {
            blkio_device_write_bps: vec![("/dev/berth-no-such-disk".into(), 1)],
            ..Resources::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "stat /dev/berth-no-such-disk: no such file or directory"
        );
        assert_eq!(err.kind(), crate::ErrorKind::Internal);
        // An update's change: only what is given, an empty list included.
        let update = block_io(&BlockIoChange {
            read_iops: Some(Vec::new()),
            ..BlockIoChange::default()
        })
        .unwrap();
        assert_eq!(
            serde_json::to_value(update).unwrap(),
            json!({"throttleReadIOPSDevice": []})
        );
    }
}
