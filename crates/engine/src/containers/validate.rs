//! What berth accepts in a create or update request.
//!
//! Every field of `Config` and `HostConfig` is either honoured or, when
//! set to anything but its zero value, refused with a 400 naming it: a
//! request is never half-applied. The docker CLI sends many fields with
//! zero values on every create (`"BlkioWeightDevice":[]`,
//! `"MemorySwappiness":-1`, `"NetworkMode":"default"`, ...); those pass.
//!
//! Resource limits are checked as dockerd checks them, with its messages:
//! values out of range are refused (400), limits the host's cgroups cannot
//! apply are discarded with dockerd's warning (see [`SysInfo`]). Where
//! berth differs on purpose: device cgroup rules are parsed at create (400)
//! rather than at start (dockerd's 500, same message); an update's merged
//! limits must also pass create's checks (dockerd lets e.g. a reservation
//! above the limit through to the runtime); BFQ's weight files count as
//! block IO weight support (dockerd only looks for CFQ's), so
//! `--blkio-weight` applies on BFQ hosts instead of being discarded.

use berth_api_types::container::{Config, HostConfig, NetworkingConfig, Resources};

use super::Error;
use super::sysinfo::{self, SysInfo};

fn unsupported(field: &str) -> Error {
    Error::Unsupported {
        field: field.to_string(),
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidConfig {
        message: message.into(),
    }
}

fn empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(Vec::is_empty)
}

/// docker's smallest memory limit and reservation (`linuxMinMemory`).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The first resource field berth does not implement that is set.
pub fn unsupported_resource(r: &Resources) -> Option<&'static str> {
    // (is the field at its zero value, its name)
    let zero_checks: [(bool, &str); 6] = [
        (r.cpu_realtime_period == 0, "HostConfig.CpuRealtimePeriod"),
        (r.cpu_realtime_runtime == 0, "HostConfig.CpuRealtimeRuntime"),
        (empty(&r.device_requests), "HostConfig.DeviceRequests"),
        (r.kernel_memory == 0, "HostConfig.KernelMemory"),
        (r.kernel_memory_tcp == 0, "HostConfig.KernelMemoryTCP"),
        (r.cpu_count == 0, "HostConfig.CpuCount"),
    ];
    zero_checks
        .iter()
        .find(|(zero, _)| !zero)
        .map(|(_, field)| *field)
}

/// Checks the host config of a create, in dockerd's order: unsupported
/// fields unset, `--mount`s, the resources (see [`resources`]: limits the
/// host cannot apply are discarded from `h`), namespace modes, sizes, the
/// OOM score and the device cgroup rules. Returns docker's warnings.
pub fn host_config(h: &mut HostConfig, sys: &SysInfo) -> Result<Vec<String>, Error> {
    // (is the field at its zero value, its name)
    let zero_checks: &[(bool, &str)] = &[
        (h.cgroup.is_empty(), "HostConfig.Cgroup"),
        (empty(&h.links), "HostConfig.Links"),
        (
            h.storage_opt.as_ref().is_none_or(|m| m.is_empty()),
            "HostConfig.StorageOpt",
        ),
        (
            h.userns_mode.is_empty() || h.userns_mode == "host",
            "HostConfig.UsernsMode",
        ),
        (
            h.isolation.is_empty() || h.isolation == "default",
            "HostConfig.Isolation",
        ),
        (
            h.cgroupns_mode.is_empty() || h.cgroupns_mode == "host",
            "HostConfig.CgroupnsMode \"private\"",
        ),
    ];
    if let Some((_, field)) = zero_checks.iter().find(|(zero, _)| !zero) {
        return Err(unsupported(field));
    }
    // Device requests (`--gpus`) pass create and fail at start, as on a dockerd
    // without a device driver for them (see `spec::check_device_requests`).
    let without_device_requests = Resources {
        device_requests: None,
        ..h.resources.clone()
    };
    if let Some(field) = unsupported_resource(&without_device_requests) {
        return Err(unsupported(field));
    }
    // dockerd checks `--mount`s first (a bind's source must exist); the
    // rest of the mounts is checked with the volumes they need, at create.
    for m in h.mounts.iter().flatten() {
        crate::volumes::mountpoints::parse_mount(m).map_err(Error::Volume)?;
    }
    let warnings = resources(&mut h.resources, sys, false)?;
    match h.network_mode.as_str() {
        "" | "default" | "bridge" | "none" | "host" => {}
        m if m.starts_with("container:") && m.len() > "container:".len() => {}
        // A user-defined network: create checks that it exists.
        _ => {}
    }
    match h.ipc_mode.as_str() {
        "" | "private" | "shareable" | "host" | "none" => {}
        m if m.starts_with("container:") && m.len() > "container:".len() => {}
        other => return Err(invalid(format!("invalid IPC mode: {other}"))),
    }
    match h.pid_mode.as_str() {
        "" | "host" => {}
        m if m.starts_with("container:") && m.len() > "container:".len() => {}
        other => return Err(invalid(format!("invalid PID mode: {other}"))),
    }
    if h.shm_size < 0 {
        return Err(invalid("SHM size can not be less than 0"));
    }
    match h.uts_mode.as_str() {
        "" | "host" => {}
        other => return Err(invalid(format!("invalid UTS mode: {other}"))),
    }
    if !(-1000..=1000).contains(&h.oom_score_adj) {
        return Err(invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            h.oom_score_adj
        )));
    }
    // dockerd parses the rules when it builds the spec (a failed start);
    // berth refuses them here, with the same message, so that nothing is
    // created.
    for rule in h.resources.device_cgroup_rules.iter().flatten() {
        crate::oci::parse_device_cgroup_rule(rule).map_err(|e| invalid(e.to_string()))?;
    }
    Ok(warnings)
}

/// dockerd's `verifyPlatformContainerResources`: refuses values out of
/// range, and discards (sets to their zero value) the limits `sys` says
/// the kernel cannot apply, with docker's warning for each. `update` is
/// an update's partial resources (a swap limit without a memory limit is
/// then fine). Messages are docker's, word for word.
pub fn resources(r: &mut Resources, sys: &SysInfo, update: bool) -> Result<Vec<String>, Error> {
    let mut warnings = Vec::new();
    let mut warn = |w: &str| warnings.push(w.to_string());
    // The CLI sends -1 for "not set".
    if r.memory_swappiness == Some(-1) {
        r.memory_swappiness = None;
    }

    // Memory.
    if r.memory != 0 && r.memory < MIN_MEMORY {
        return Err(invalid("Minimum memory limit allowed is 6MB"));
    }
    if r.memory > 0 && !sys.memory_limit {
        warn(
            "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.",
        );
        r.memory = 0;
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap != -1 && !sys.swap_limit {
        warn(
            "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
        );
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
        return Err(invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if r.memory == 0 && r.memory_swap > 0 && !update {
        return Err(invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if r.memory_swappiness.is_some() && !sys.memory_swappiness {
        warn(
            "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.",
        );
        r.memory_swappiness = None;
    }
    if let Some(s) = r.memory_swappiness {
        if !(0..=100).contains(&s) {
            return Err(invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    if r.memory_reservation > 0 && !sys.memory_reservation {
        warn(
            "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.",
        );
        r.memory_reservation = 0;
    }
    if r.memory_reservation > 0 && r.memory_reservation < MIN_MEMORY {
        return Err(invalid("Minimum memory reservation allowed is 6MB"));
    }
    if r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation {
        return Err(invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if r.oom_kill_disable.is_some() && !sys.oom_kill_disable {
        // Only a request to disable it is worth a warning.
        if r.oom_kill_disable == Some(true) {
            warn("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
        }
        r.oom_kill_disable = None;
    }
    if r.oom_kill_disable == Some(true) && r.memory == 0 {
        warn(
            "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.",
        );
    }
    if r.pids_limit.is_some() && !sys.pids_limit {
        if r.pids_limit.is_some_and(|p| p > 0) {
            warn(
                "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.",
            );
        }
        r.pids_limit = None;
    }

    // CPU.
    if r.nano_cpus > 0 && r.cpu_period > 0 {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if r.nano_cpus > 0 && r.cpu_quota > 0 {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    if r.nano_cpus > 0 && !sys.cpu_cfs {
        return Err(invalid(
            "NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted",
        ));
    }
    // sched-bwc.txt allows 0.001 CPUs (a 1 ms quota over a 1 s period);
    // docker names 0.01 as the bottom and leaves it to the kernel.
    let ncpu = i64::from(sys.ncpu);
    if r.nano_cpus < 0 || r.nano_cpus > ncpu * 1_000_000_000 {
        return Err(invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if r.cpu_shares > 0 && !sys.cpu_shares {
        warn(
            "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.",
        );
        r.cpu_shares = 0;
    }
    if (r.cpu_period != 0 || r.cpu_quota != 0) && !sys.cpu_cfs {
        warn("Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.");
        r.cpu_period = 0;
        r.cpu_quota = 0;
    }
    if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
        return Err(invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        return Err(invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    if r.cpu_percent > 0 {
        warn("linux does not support CPU percent. Percent discarded.");
        r.cpu_percent = 0;
    }

    // Cpuset.
    if (!r.cpuset_cpus.is_empty() || !r.cpuset_mems.is_empty()) && !sys.cpuset {
        warn("Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.");
        r.cpuset_cpus.clear();
        r.cpuset_mems.clear();
    }
    let cpus_ok = sysinfo::cpuset_available(&r.cpuset_cpus, &sys.cpus).map_err(|e| {
        invalid(format!(
            "Invalid value {} for cpuset cpus: {e}",
            r.cpuset_cpus
        ))
    })?;
    if !cpus_ok {
        return Err(invalid(format!(
            "Requested CPUs are not available - requested {}, available: {}",
            r.cpuset_cpus, sys.cpus
        )));
    }
    let mems_ok = sysinfo::cpuset_available(&r.cpuset_mems, &sys.mems).map_err(|e| {
        invalid(format!(
            "Invalid value {} for cpuset mems: {e}",
            r.cpuset_mems
        ))
    })?;
    if !mems_ok {
        return Err(invalid(format!(
            "Requested memory nodes are not available - requested {}, available: {}",
            r.cpuset_mems, sys.mems
        )));
    }

    // Block IO.
    if r.blkio_weight > 0 && !sys.blkio_weight {
        warn(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
        );
        r.blkio_weight = 0;
    }
    if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
        return Err(invalid("Range of blkio weight is from 10 to 1000"));
    }
    if r.io_maximum_bandwidth != 0 || r.io_maximum_iops != 0 {
        return Err(invalid(
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps",
        ));
    }
    // The docker CLI's check of `--blkio-weight-device` (the kernel takes
    // nothing else), so that a raw API request fails here and not at start.
    for d in r.blkio_weight_device.iter().flatten() {
        if d.weight > 0 && !(10..=1000).contains(&d.weight) {
            return Err(invalid(format!(
                "invalid weight for device: {}:{}",
                d.path, d.weight
            )));
        }
    }
    let device_lists: [(&mut Option<Vec<_>>, bool, &str); 4] = [
        (
            &mut r.blkio_device_read_bps,
            sys.blkio_read_bps_device,
            "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
        ),
        (
            &mut r.blkio_device_write_bps,
            sys.blkio_write_bps_device,
            "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.",
        ),
        (
            &mut r.blkio_device_read_iops,
            sys.blkio_read_iops_device,
            "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.",
        ),
        (
            &mut r.blkio_device_write_iops,
            sys.blkio_write_iops_device,
            "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.",
        ),
    ];
    if !empty(&r.blkio_weight_device) && !sys.blkio_weight_device {
        warn(
            "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.",
        );
        r.blkio_weight_device = Some(Vec::new());
    }
    for (list, supported, warning) in device_lists {
        if !empty(list) && !supported {
            warn(warning);
            *list = Some(Vec::new());
        }
    }
    Ok(warnings)
}

/// dockerd's create-time defaults for resources (`adaptContainerSettings`),
/// so that inspect shows what applies: swap as large as the memory limit
/// (memory+swap twice the memory), the OOM killer on.
pub fn adapt_resources(r: &mut Resources) {
    if r.memory > 0 && r.memory_swap == 0 {
        r.memory_swap = r.memory * 2;
    }
    if r.oom_kill_disable.is_none() {
        r.oom_kill_disable = Some(false);
    }
}

/// dockerd's checks of an update against the container's current
/// resources (`Container.UpdateContainer`): a CFS bandwidth set one way
/// (`--cpus`, or period/quota) cannot be changed the other way, and a new
/// memory limit above the current memory+swap limit needs a new swap
/// limit too. The message is docker's (the caller adds "Cannot update
/// container <id>: ").
pub fn update_conflict(current: &Resources, update: &Resources) -> Option<&'static str> {
    if update.nano_cpus > 0 && current.cpu_period > 0 {
        return Some(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
        );
    }
    if update.nano_cpus > 0 && current.cpu_quota > 0 {
        return Some(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
        );
    }
    if update.cpu_period > 0 && current.nano_cpus > 0 {
        return Some(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
        );
    }
    if update.cpu_quota > 0 && current.nano_cpus > 0 {
        return Some(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
        );
    }
    // Docker compares with the stored swap limit as it is: 0 (no memory
    // limit yet) and -1 (unlimited swap) both make a swap value required.
    if update.memory != 0 && update.memory > current.memory_swap && update.memory_swap == 0 {
        return Some(
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
        );
    }
    None
}

/// Checks the portable config.
pub fn config(c: &Config) -> Result<(), Error> {
    if !c.mac_address.is_empty() && berth_network::ipam::parse_mac(&c.mac_address).is_none() {
        return Err(Error::InvalidConfig {
            message: format!("invalid MAC address: {}", c.mac_address),
        });
    }
    if let Some(hc) = &c.healthcheck {
        super::health::validate(hc)?;
    }
    if let Some(t) = c.stop_timeout {
        if t < -1 {
            return Err(Error::InvalidConfig {
                message: format!("invalid stop timeout {t}"),
            });
        }
    }
    Ok(())
}

/// Checks the networking config: endpoint settings only for the network
/// the container is in, and without static addresses.
pub fn networking(h: &HostConfig, n: Option<&NetworkingConfig>) -> Result<(), Error> {
    let Some(endpoints) = n.and_then(|n| n.endpoints_config.as_ref()) else {
        return Ok(());
    };
    let mode = if h.network_mode.is_empty() {
        "default"
    } else {
        h.network_mode.as_str()
    };
    for (net, ep) in endpoints {
        let static_ip = ep.ipam_config.as_ref().is_some_and(|c| {
            !c.ipv4_address.is_empty()
                || !c.ipv6_address.is_empty()
                || c.link_local_ips.as_ref().is_some_and(|l| !l.is_empty())
        });
        let default_bridge = matches!(net.as_str(), "default" | "bridge");
        // dockerd's wording for what only user-defined networks support.
        if default_bridge && static_ip {
            return Err(Error::InvalidConfig {
                message: "user specified IP address is supported on user defined networks only"
                    .to_string(),
            });
        }
        if default_bridge && !empty(&ep.aliases) {
            return Err(Error::InvalidConfig {
                message:
                    "network-scoped alias is supported only for containers in user defined networks"
                        .to_string(),
            });
        }
        if matches!(mode, "host" | "none") || mode.starts_with("container:") {
            let same = net == mode;
            if !same {
                return Err(Error::InvalidConfig {
                    message: format!(
                        "container sharing network namespace with another container or host cannot be connected to any other network ({net})"
                    ),
                });
            }
        }
        if !empty(&ep.links) {
            return Err(unsupported(&format!(
                "NetworkingConfig.EndpointsConfig[{net:?}].Links (legacy links)"
            )));
        }
    }
    Ok(())
}

/// Parses a size as docker's `RAMInBytes` does: a number with an optional
/// unit b, k, m, g, t, p (binary multiples, an optional trailing `b` or
/// `ib`, any case).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
