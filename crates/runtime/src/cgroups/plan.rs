//! Resource limits as data: `LinuxResources` becomes an ordered list of
//! file writes, one list for v1 and one for v2, following runc 1.1's
//! cgroupfs (`fs`) and unified (`fs2`) drivers. The few facts a plan depends
//! on (current memory limit, which optional files exist, current device
//! rules) are read first into a probe, so building a plan has no side effect
//! and every validation error comes before the first write.

use std::collections::BTreeSet;
use std::path::Path;

use oci_spec::runtime::{LinuxResources, LinuxThrottleDevice};

use super::devices::{DeviceState, rules_from_oci};
use super::{CgroupError, fsutil};

/// One write of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// Hierarchy key: a v1 controller name, or `""` for the v2 cgroup.
    pub controller: &'static str,
    /// File name inside the cgroup directory.
    pub file: String,
    pub value: String,
    pub mode: WriteMode,
}

/// How a failed write is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Any failure is an error.
    Required,
    /// The file depends on kernel configuration (swap accounting,
    /// CONFIG_RT_GROUP_SCHED, the block I/O scheduler): when it (or the
    /// whole controller) is absent, the write is skipped.
    SkipIfMissing,
    /// `cpu.cfs_period_us` before the quota: the kernel may refuse a smaller
    /// period with EINVAL while the old quota no longer fits the parent's
    /// limit; the plan writes the period again after the quota.
    TolerateEinval,
    /// The kernel clamps `cpu.shares` silently: read it back and fail when
    /// it differs, as runc does.
    ReadBack,
    /// A `linux.resources.unified` entry; `available` is whether its
    /// controller is enabled, to explain a missing file.
    Unified { available: bool },
}

impl Write {
    fn new(controller: &'static str, file: impl Into<String>, value: impl Into<String>) -> Write {
        Write {
            controller,
            file: file.into(),
            value: value.into(),
            mode: WriteMode::Required,
        }
    }
    fn mode(mut self, mode: WriteMode) -> Write {
        self.mode = mode;
        self
    }
}

/// Which blkio weight files a v1 cgroup has: CFQ's `blkio.weight`, BFQ's
/// `blkio.bfq.weight`, or neither (other schedulers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BlkioWeight {
    Plain,
    Bfq,
    #[default]
    Missing,
}

/// Facts about a v1 cgroup that its plan depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct V1Probe {
    /// Current `memory.limit_in_bytes` (decides the memsw write order).
    pub memory_limit: Option<u64>,
    /// Whether `memory.memsw.limit_in_bytes` exists (swap accounting on).
    pub memsw: bool,
    pub blkio_weight: BlkioWeight,
    /// Current rules from `devices.list`; `None` is taken as allow-all,
    /// which makes the transition start with a full reset.
    pub devices: Option<DeviceState>,
}

impl V1Probe {
    /// Reads the facts from the cgroup directories (`dir_of` maps a
    /// controller to its directory). Only what `r` needs is read.
    pub fn read<'a>(
        r: &LinuxResources,
        dir_of: impl Fn(&str) -> Option<&'a Path>,
    ) -> Result<V1Probe, CgroupError> {
        let mut probe = V1Probe::default();
        if let (Some(m), Some(dir)) = (r.memory(), dir_of("memory")) {
            probe.memsw = dir.join("memory.memsw.limit_in_bytes").exists();
            if m.limit().unwrap_or(0) != 0 && m.swap().unwrap_or(0) != 0 {
                probe.memory_limit = Some(fsutil::read_u64(dir, "memory.limit_in_bytes")?);
            }
        }
        if let Some(dir) = dir_of("blkio") {
            probe.blkio_weight = if dir.join("blkio.weight").exists() {
                BlkioWeight::Plain
            } else if dir.join("blkio.bfq.weight").exists() {
                BlkioWeight::Bfq
            } else {
                BlkioWeight::Missing
            };
        }
        if let (Some(_), Some(dir)) = (r.devices(), dir_of("devices")) {
            let text = fsutil::read(dir, "devices.list")?;
            let state = DeviceState::from_list(&text).map_err(|e| CgroupError::Parse {
                path: dir.join("devices.list"),
                line: e.line,
                reason: e.reason,
            })?;
            probe.devices = Some(state);
        }
        Ok(probe)
    }
}

/// Facts about a v2 cgroup that its plan depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct V2Probe {
    /// `io.bfq.weight` exists; `Some(true)` when it also takes per-device
    /// weights (kernel 5.4+: it reads `default N` instead of a bare number).
    pub bfq: Option<bool>,
    /// Controllers in the cgroup's `cgroup.controllers`.
    pub controllers: BTreeSet<String>,
}

impl V2Probe {
    pub fn read(dir: &Path) -> Result<V2Probe, CgroupError> {
        let controllers = fsutil::read(dir, "cgroup.controllers")?
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let bfq = match fsutil::read_raw(dir, "io.bfq.weight") {
            Ok(text) => Some(text.trim().parse::<u64>().is_err()),
            Err(_) => None,
        };
        Ok(V2Probe { bfq, controllers })
    }
}

/// A checked hugepage size such as `2MB` or `1GB`: digits and a unit, so
/// that it cannot form a path.
fn hugepage_file(page_size: &str, suffix: &str) -> Result<String, CgroupError> {
    let digits = page_size.trim_end_matches(['K', 'M', 'G', 'B']);
    let unit = &page_size[digits.len()..];
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !matches!(unit, "KB" | "MB" | "GB")
    {
        return Err(CgroupError::InvalidHugepageSize {
            page_size: page_size.to_owned(),
        });
    }
    Ok(format!("hugetlb.{page_size}.{suffix}"))
}

fn nonzero<T: Default + PartialEq + Copy>(v: Option<T>) -> Option<T> {
    v.filter(|v| *v != T::default())
}

fn throttle_lines(list: &Option<Vec<LinuxThrottleDevice>>) -> impl Iterator<Item = String> + '_ {
    list.iter()
        .flatten()
        .map(|t| format!("{}:{} {}", t.major(), t.minor(), t.rate()))
}

fn rdma_writes(r: &LinuxResources, controller: &'static str, out: &mut Vec<Write>) {
    let Some(rdma) = r.rdma() else { return };
    let mut devices: Vec<_> = rdma.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, l) in devices {
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        out.push(Write::new(controller, "rdma.max", line));
    }
}

fn hugepage_limits(r: &LinuxResources) -> Result<Vec<(String, u64)>, CgroupError> {
    r.hugepage_limits()
        .iter()
        .flatten()
        .map(|h| {
            let limit =
                u64::try_from(h.limit()).map_err(|_| CgroupError::InvalidHugepageLimit {
                    page_size: h.page_size().clone(),
                    limit: h.limit(),
                })?;
            Ok((h.page_size().clone(), limit))
        })
        .collect()
}

/// The writes for a v1 host, in runc's controller order: cpuset, devices,
/// memory, cpu, pids, blkio, hugetlb, net_cls, net_prio, rdma.
pub fn v1_plan(r: &LinuxResources, probe: &V1Probe) -> Result<Vec<Write>, CgroupError> {
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(CgroupError::UnifiedOnV1);
    }
    let mut out = Vec::new();
    let cpu = r.cpu().as_ref();

    // cpuset
    if let Some(cpus) = cpu.and_then(|c| c.cpus().clone()).filter(|s| !s.is_empty()) {
        out.push(Write::new("cpuset", "cpuset.cpus", cpus));
    }
    if let Some(mems) = cpu.and_then(|c| c.mems().clone()).filter(|s| !s.is_empty()) {
        out.push(Write::new("cpuset", "cpuset.mems", mems));
    }

    // devices
    if let Some(list) = r.devices() {
        let target = DeviceState::from_rules(&rules_from_oci(list)?)?;
        let current = probe.devices.clone().unwrap_or_else(DeviceState::allow_all);
        for rule in current.transition(&target) {
            out.push(Write::new("devices", rule.v1_file(), rule.v1_line()));
        }
    }

    // memory
    if let Some(m) = r.memory() {
        let limit = m.limit().unwrap_or(0);
        let mut swap = m.swap().unwrap_or(0);
        // Unlimited memory with no swap given means unlimited swap too, when
        // swap is accounted at all (runc setMemoryAndSwap).
        if limit == -1 && swap == 0 && probe.memsw {
            swap = -1;
        }
        let mem_w = Write::new("memory", "memory.limit_in_bytes", limit.to_string());
        // Without swap accounting the file is absent; the kernel then has
        // nothing to limit.
        let swap_w = Write::new("memory", "memory.memsw.limit_in_bytes", swap.to_string())
            .mode(WriteMode::SkipIfMissing);
        // The kernel requires memsw >= memory at every step, so when the
        // new memory+swap exceeds the current memory limit (raising), memsw
        // goes first; when lowering, memory goes first.
        let swap_first = limit != 0
            && swap != 0
            && (swap == -1 || probe.memory_limit.unwrap_or(0) < swap as u64);
        match (limit != 0, swap != 0, swap_first) {
            (true, true, true) => out.extend([swap_w, mem_w]),
            (true, true, false) => out.extend([mem_w, swap_w]),
            (true, false, _) => out.push(mem_w),
            (false, true, _) => out.push(swap_w),
            (false, false, _) => {}
        }
        // kernel and kernelTCP are ignored, as in runc 1.1 (deprecated by
        // the kernel in 5.4 and rejected since 6.x).
        if let Some(res) = nonzero(m.reservation()) {
            out.push(Write::new(
                "memory",
                "memory.soft_limit_in_bytes",
                res.to_string(),
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            out.push(Write::new("memory", "memory.oom_control", "1"));
        }
        match m.swappiness() {
            // -1 (as u64) means "leave the kernel default".
            None | Some(u64::MAX) => {}
            Some(s) if s <= 100 => {
                out.push(Write::new("memory", "memory.swappiness", s.to_string()))
            }
            Some(s) => return Err(CgroupError::InvalidSwappiness(s)),
        }
    }

    // cpu
    if let Some(c) = cpu {
        if let Some(shares) = nonzero(c.shares()) {
            out.push(Write::new("cpu", "cpu.shares", shares.to_string()).mode(WriteMode::ReadBack));
        }
        let period = nonzero(c.period());
        let quota = nonzero(c.quota());
        if let Some(p) = period {
            let mode = if quota.is_some() {
                WriteMode::TolerateEinval
            } else {
                WriteMode::Required
            };
            out.push(Write::new("cpu", "cpu.cfs_period_us", p.to_string()).mode(mode));
        }
        if let Some(q) = quota {
            out.push(Write::new("cpu", "cpu.cfs_quota_us", q.to_string()));
            if let Some(p) = period {
                out.push(Write::new("cpu", "cpu.cfs_period_us", p.to_string()));
            }
        }
        // Real-time bandwidth exists only with CONFIG_RT_GROUP_SCHED.
        if let Some(p) = nonzero(c.realtime_period()) {
            out.push(
                Write::new("cpu", "cpu.rt_period_us", p.to_string()).mode(WriteMode::SkipIfMissing),
            );
        }
        if let Some(rt) = nonzero(c.realtime_runtime()) {
            out.push(
                Write::new("cpu", "cpu.rt_runtime_us", rt.to_string())
                    .mode(WriteMode::SkipIfMissing),
            );
        }
        // idle and burst are not supported by runc 1.1 and are ignored.
    }

    // pids
    if let Some(p) = r.pids().as_ref().filter(|p| p.limit() != 0) {
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".to_owned()
        };
        out.push(Write::new("pids", "pids.max", v));
    }

    // blkio
    if let Some(b) = r.block_io() {
        let (weight_file, weight_device_file) = match probe.blkio_weight {
            BlkioWeight::Plain => (Some("blkio.weight"), Some("blkio.weight_device")),
            BlkioWeight::Bfq => (Some("blkio.bfq.weight"), Some("blkio.bfq.weight_device")),
            // No proportional-weight scheduler: weights do not exist.
            BlkioWeight::Missing => (None, None),
        };
        let skip = WriteMode::SkipIfMissing;
        if let (Some(w), Some(f)) = (nonzero(b.weight()), weight_file) {
            out.push(Write::new("blkio", f, w.to_string()).mode(skip));
        }
        if let Some(lw) = nonzero(b.leaf_weight()) {
            out.push(Write::new("blkio", "blkio.leaf_weight", lw.to_string()).mode(skip));
        }
        for wd in b.weight_device().iter().flatten() {
            if let (Some(w), Some(f)) = (nonzero(wd.weight()), weight_device_file) {
                out.push(
                    Write::new("blkio", f, format!("{}:{} {w}", wd.major(), wd.minor())).mode(skip),
                );
            }
            if let Some(lw) = nonzero(wd.leaf_weight()) {
                let v = format!("{}:{} {lw}", wd.major(), wd.minor());
                out.push(Write::new("blkio", "blkio.leaf_weight_device", v).mode(skip));
            }
        }
        for (file, list) in [
            (
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ] {
            for line in throttle_lines(list) {
                out.push(Write::new("blkio", file, line));
            }
        }
    }

    // hugetlb
    for (size, limit) in hugepage_limits(r)? {
        out.push(Write::new(
            "hugetlb",
            hugepage_file(&size, "limit_in_bytes")?,
            limit.to_string(),
        ));
    }

    // net_cls, net_prio
    if let Some(n) = r.network() {
        if let Some(id) = nonzero(n.class_id()) {
            out.push(Write::new("net_cls", "net_cls.classid", id.to_string()));
        }
        for p in n.priorities().iter().flatten() {
            out.push(Write::new(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            ));
        }
    }

    rdma_writes(r, "rdma", &mut out);
    Ok(out)
}

/// runc's conversion of cpu shares [2, 262144] to cpu.weight [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

/// runc's conversion of blkio weight [10, 1000] to io.weight [1, 10000].
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10)) * 9999 / 990
}

/// The OCI swap value is memory+swap; cgroup v2's memory.swap.max is swap
/// alone. 0 is "unset" and -1 "unlimited", as in runc.
pub fn swap_to_v2(swap: i64, memory: i64) -> Result<i64, CgroupError> {
    // Unlimited memory and no swap given: unlimited swap too.
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if memory == 0 || memory == -1 {
        return Err(CgroupError::SwapWithoutMemory);
    }
    if memory < 0 {
        return Err(CgroupError::InvalidMemory(memory));
    }
    if swap < memory {
        return Err(CgroupError::SwapBelowMemory { memory, swap });
    }
    Ok(swap - memory)
}

/// A v2 limit value: 0 is unset (no write), -1 is `max`.
fn v2_num(v: i64) -> Option<String> {
    match v {
        0 => None,
        -1 => Some("max".to_owned()),
        v => Some(v.to_string()),
    }
}

/// The writes for a v2 cgroup, in runc's fs2 order: pids, memory, io, cpu,
/// cpuset, hugetlb, rdma, unified. Device rules are not file writes on v2
/// (see the module documentation of `cgroups`).
pub fn v2_plan(r: &LinuxResources, probe: &V2Probe) -> Result<Vec<Write>, CgroupError> {
    let mut out = Vec::new();
    let cpu = r.cpu().as_ref();

    if let Some(v) = r.pids().as_ref().and_then(|p| v2_num(p.limit())) {
        out.push(Write::new("", "pids.max", v));
    }

    if let Some(m) = r.memory() {
        let limit = m.limit().unwrap_or(0);
        let swap_total = m.swap().unwrap_or(0);
        let reservation = m.reservation().unwrap_or(0);
        if limit != 0 || swap_total != 0 || reservation != 0 {
            let swap = swap_to_v2(swap_total, limit)?;
            // memory == memory+swap: no swap at all, which is "0", not unset.
            let swap_str =
                v2_num(swap).or_else(|| (swap == 0 && swap_total > 0).then(|| "0".to_owned()));
            if let Some(s) = swap_str {
                // Absent without swap accounting (CONFIG_MEMCG_SWAP,
                // swapaccount=0).
                out.push(Write::new("", "memory.swap.max", s).mode(WriteMode::SkipIfMissing));
            }
            if let Some(v) = v2_num(limit) {
                out.push(Write::new("", "memory.max", v));
            }
            if let Some(v) = v2_num(reservation) {
                out.push(Write::new("", "memory.low", v));
            }
        }
        // swappiness, disableOOMKiller, kernel and kernelTCP have no v2
        // files; runc 1.1 ignores them there.
        match m.swappiness() {
            None | Some(u64::MAX) => {}
            Some(s) if s <= 100 => {}
            Some(s) => return Err(CgroupError::InvalidSwappiness(s)),
        }
    }

    if let Some(b) = r.block_io() {
        let skip = WriteMode::SkipIfMissing;
        if let Some(w) = nonzero(b.weight()) {
            match probe.bfq {
                Some(_) => out.push(Write::new("", "io.bfq.weight", w.to_string())),
                None => out.push(
                    Write::new("", "io.weight", blkio_weight_to_io_weight(w).to_string())
                        .mode(skip),
                ),
            }
        }
        // Per-device weights need BFQ's per-device file (kernel 5.4+);
        // runc drops them otherwise.
        if probe.bfq == Some(true) {
            for wd in b.weight_device().iter().flatten() {
                if let Some(w) = nonzero(wd.weight()) {
                    out.push(Write::new(
                        "",
                        "io.bfq.weight",
                        format!("{}:{} {w}", wd.major(), wd.minor()),
                    ));
                }
            }
        }
        for (key, list) in [
            ("rbps", b.throttle_read_bps_device()),
            ("wbps", b.throttle_write_bps_device()),
            ("riops", b.throttle_read_iops_device()),
            ("wiops", b.throttle_write_iops_device()),
        ] {
            for t in list.iter().flatten() {
                out.push(Write::new(
                    "",
                    "io.max",
                    format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                ));
            }
        }
    }

    if let Some(c) = cpu {
        if let Some(shares) = nonzero(c.shares()) {
            out.push(Write::new(
                "",
                "cpu.weight",
                shares_to_weight(shares).to_string(),
            ));
        }
        let quota = c.quota().unwrap_or(0);
        let period = c.period().unwrap_or(0);
        if quota != 0 || period != 0 {
            let q = if quota > 0 {
                quota.to_string()
            } else {
                "max".to_owned()
            };
            // 100ms is the kernel's default period (cgroup-v2.rst).
            let p = if period == 0 { 100_000 } else { period };
            out.push(Write::new("", "cpu.max", format!("{q} {p}")));
        }
        if nonzero(c.realtime_period()).is_some() || nonzero(c.realtime_runtime()).is_some() {
            return Err(CgroupError::NotSupportedOnV2 {
                resource: "cpu.realtimePeriod/realtimeRuntime",
            });
        }
        if let Some(cpus) = c.cpus().clone().filter(|s| !s.is_empty()) {
            out.push(Write::new("", "cpuset.cpus", cpus));
        }
        if let Some(mems) = c.mems().clone().filter(|s| !s.is_empty()) {
            out.push(Write::new("", "cpuset.mems", mems));
        }
    }

    for (size, limit) in hugepage_limits(r)? {
        out.push(Write::new(
            "",
            hugepage_file(&size, "max")?,
            limit.to_string(),
        ));
    }

    if let Some(n) = r.network()
        && (nonzero(n.class_id()).is_some()
            || n.priorities().as_ref().is_some_and(|p| !p.is_empty()))
    {
        return Err(CgroupError::NotSupportedOnV2 {
            resource: "network (net_cls/net_prio)",
        });
    }

    rdma_writes(r, "", &mut out);

    if let Some(unified) = r.unified() {
        let mut keys: Vec<_> = unified.iter().collect();
        keys.sort();
        for (key, value) in keys {
            let controller = match key.split_once('.') {
                Some((c, rest)) if !c.is_empty() && !rest.is_empty() && !key.contains('/') => c,
                _ => return Err(CgroupError::UnifiedKeyInvalid { key: key.clone() }),
            };
            let available = controller == "cgroup" || probe.controllers.contains(controller);
            out.push(
                Write::new("", key.clone(), value.clone()).mode(WriteMode::Unified { available }),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
