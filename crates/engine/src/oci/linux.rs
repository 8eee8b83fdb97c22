//! The Linux section's cgroup and namespace parts: resources, the cgroups
//! path and the namespace list, as dockerd 20.10 fills them in.

use std::path::PathBuf;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNamespace, LinuxPids, LinuxResources,
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

    let mut block_io: LinuxBlockIo = blank("block IO resources", serde_json::json!({}))?;
    block_io.set_weight(Some(r.blkio_weight));

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
}
