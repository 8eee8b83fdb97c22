//! What the host's cgroups can limit, probed the way dockerd's `sysinfo`
//! package does it: which control files exist at each hierarchy's mount
//! point, which CPUs and memory nodes the top cpuset has, and how many
//! CPUs this process may run on.
//!
//! Create and update consult a [`SysInfo`] (see `validate::resources`):
//! values the host cannot have (a cpuset naming a missing CPU) are refused,
//! limits the kernel cannot apply are discarded with docker's warning.
//! Probing reads `/proc/self/mountinfo` and stats a few files: cheap enough
//! to do per request, so CPU hotplug and module loads are seen.
//!
//! A hybrid host (v1 controllers plus a unified mount without them) is
//! probed as v1, like docker and the runtime treat it.

use std::path::{Path, PathBuf};

use super::stats::{CgroupMount, parse_mountinfo};

/// The limits the host's cgroups support, and its CPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysInfo {
    /// CPUs this process may run on (Go's `runtime.NumCPU`).
    pub ncpu: u32,
    /// The CPUs a cpuset may name, as the kernel lists them ("0-3,6").
    pub cpus: String,
    /// The memory nodes a cpuset may name.
    pub mems: String,
    pub memory_limit: bool,
    /// memory+swap limits (v1 needs swap accounting: `memory.memsw.*`).
    pub swap_limit: bool,
    pub memory_reservation: bool,
    pub memory_swappiness: bool,
    pub oom_kill_disable: bool,
    pub pids_limit: bool,
    pub cpu_shares: bool,
    /// CFS bandwidth control: period and quota.
    pub cpu_cfs: bool,
    pub cpuset: bool,
    pub blkio_weight: bool,
    pub blkio_weight_device: bool,
    pub blkio_read_bps_device: bool,
    pub blkio_write_bps_device: bool,
    pub blkio_read_iops_device: bool,
    pub blkio_write_iops_device: bool,
}

impl SysInfo {
    /// This host's, probed once per daemon (as dockerd keeps its `sysinfo`): the
    /// mounted controllers do not change while it runs, and probing reads
    /// /proc/self/mountinfo, which grows with every running container.
    pub fn host() -> &'static SysInfo {
        static HOST: std::sync::OnceLock<SysInfo> = std::sync::OnceLock::new();
        HOST.get_or_init(SysInfo::probe)
    }

    /// Probes this host.
    pub fn probe() -> SysInfo {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        // sched_getaffinity(2): the CPUs this process may use, as Go's
        // runtime.NumCPU counts them.
        let ncpu = rustix::thread::sched_getaffinity(None)
            .map(|set| set.count())
            .unwrap_or(1)
            .max(1);
        SysInfo::from_mounts(&parse_mountinfo(&mountinfo), ncpu)
    }

    /// Probes the hierarchies mounted as `mounts` say (their files are
    /// read from the file system).
    pub(crate) fn from_mounts(mounts: &[CgroupMount], ncpu: u32) -> SysInfo {
        let v1 = |controller: &str| -> Option<&Path> {
            mounts
                .iter()
                .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))
                .map(|m| m.mount_point.as_path())
        };
        let mut info = SysInfo {
            ncpu,
            ..SysInfo::default()
        };
        let has_v1 = ["memory", "cpu", "cpuset", "pids", "blkio"]
            .iter()
            .any(|c| v1(c).is_some());
        if has_v1 {
            if let Some(dir) = v1("memory") {
                info.memory_limit = true;
                info.swap_limit = has(dir, "memory.memsw.limit_in_bytes");
                info.memory_reservation = has(dir, "memory.soft_limit_in_bytes");
                info.memory_swappiness = has(dir, "memory.swappiness");
                info.oom_kill_disable = has(dir, "memory.oom_control");
            }
            if let Some(dir) = v1("cpu") {
                info.cpu_shares = has(dir, "cpu.shares");
                info.cpu_cfs = has(dir, "cpu.cfs_quota_us");
            }
            info.pids_limit = v1("pids").is_some();
            if let Some(dir) = v1("cpuset") {
                info.cpuset = true;
                info.cpus = read_trimmed(dir, "cpuset.cpus");
                info.mems = read_trimmed(dir, "cpuset.mems");
            }
            if let Some(dir) = v1("blkio") {
                // CFQ's weight files, or BFQ's. BFQ's weight files are not
                // on the root cgroup (the kernel's CFTYPE_NOT_ON_ROOT), but
                // its statistics files are, and come with them.
                let bfq = has(dir, "blkio.bfq.weight") || has(dir, "blkio.bfq.io_service_bytes");
                info.blkio_weight = has(dir, "blkio.weight") || bfq;
                info.blkio_weight_device = has(dir, "blkio.weight_device") || bfq;
                info.blkio_read_bps_device = has(dir, "blkio.throttle.read_bps_device");
                info.blkio_write_bps_device = has(dir, "blkio.throttle.write_bps_device");
                info.blkio_read_iops_device = has(dir, "blkio.throttle.read_iops_device");
                info.blkio_write_iops_device = has(dir, "blkio.throttle.write_iops_device");
            }
            return info;
        }
        let Some(root) = mounts.iter().find(|m| m.v2).map(|m| m.mount_point.clone()) else {
            return info;
        };
        let controllers = read_trimmed(&root, "cgroup.controllers");
        let enabled = |c: &str| controllers.split_whitespace().any(|x| x == c);
        // cgroup v2 has no swappiness and no OOM-killer switch (docker's
        // cgroup2 sysinfo leaves them off too).
        if enabled("memory") {
            info.memory_limit = true;
            info.swap_limit = true;
            info.memory_reservation = true;
        }
        if enabled("cpu") {
            info.cpu_shares = true;
            info.cpu_cfs = true;
        }
        info.pids_limit = enabled("pids");
        if enabled("cpuset") {
            info.cpuset = true;
            info.cpus = read_trimmed(&root, "cpuset.cpus.effective");
            info.mems = read_trimmed(&root, "cpuset.mems.effective");
        }
        if enabled("io") {
            info.blkio_weight = true;
            info.blkio_weight_device = true;
            info.blkio_read_bps_device = true;
            info.blkio_write_bps_device = true;
            info.blkio_read_iops_device = true;
            info.blkio_write_iops_device = true;
        }
        info
    }
}

fn has(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

fn read_trimmed(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(PathBuf::from(dir).join(file))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Parses a cpuset list ("0-2,7", duplicates allowed) into its members,
/// as docker's `parseUintList`, sorted and without duplicates. Members above
/// `maximum` are an error (a huge range must not allocate a huge set:
/// CVE-2018-20699).
pub fn parse_cpuset(list: &str, maximum: u32) -> Result<Vec<u32>, CpusetError> {
    let mut out = Vec::new();
    if list.is_empty() {
        return Ok(out);
    }
    let invalid = || CpusetError::Format(list.to_string());
    for part in list.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (
                lo.parse::<u32>().map_err(|_| invalid())?,
                hi.parse::<u32>().map_err(|_| invalid())?,
            ),
            None => {
                let v = part.parse::<u32>().map_err(|_| invalid())?;
                (v, v)
            }
        };
        if hi < lo {
            return Err(invalid());
        }
        if maximum != 0 && hi > maximum {
            return Err(CpusetError::OutOfRange(maximum));
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Why a cpuset list does not parse (docker's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpusetError {
    #[error("invalid format: {0}")]
    Format(String),
    #[error("value of out range, maximum is {0}")]
    OutOfRange(u32),
}

/// docker's `isCpusetListAvailable`: every member of `requested` is in
/// `available`. The bound is the usual maximum of 8192 CPUs, or more when
/// the host has more.
pub fn cpuset_available(requested: &str, available: &str) -> Result<bool, CpusetError> {
    const DEFAULT_MAX_CPUS: u32 = 8192;
    let available = parse_cpuset(available, 0).unwrap_or_default();
    let maximum = available
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(DEFAULT_MAX_CPUS);
    let requested = parse_cpuset(requested, maximum)?;
    Ok(requested.iter().all(|c| available.binary_search(c).is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuset_lists_parse_like_docker() {
        assert_eq!(parse_cpuset("7", 0), Ok(vec![7]));
        assert_eq!(parse_cpuset("1-3", 0), Ok(vec![1, 2, 3]));
        assert_eq!(
            parse_cpuset("0,3-4,7,8-10", 0),
            Ok(vec![0, 3, 4, 7, 8, 9, 10])
        );
        assert_eq!(parse_cpuset("0-0,0,1-2", 0), Ok(vec![0, 1, 2]));
        assert_eq!(parse_cpuset("03,1-3", 0), Ok(vec![1, 2, 3]));
        assert_eq!(parse_cpuset("", 0), Ok(vec![]));
        for bad in ["1-0", "0-x", "a", "1,", "-1", "1-2-3"] {
            assert_eq!(
                parse_cpuset(bad, 0),
                Err(CpusetError::Format(bad.to_string())),
                "{bad}"
            );
        }
        assert_eq!(
            parse_cpuset("0-99999", 8192),
            Err(CpusetError::OutOfRange(8192))
        );
    }

    #[test]
    fn availability_against_the_hosts_list() {
        assert_eq!(cpuset_available("", "0-1"), Ok(true));
        assert_eq!(cpuset_available("1", "0-1"), Ok(true));
        assert_eq!(cpuset_available("0-64", "0-1"), Ok(false));
        assert_eq!(
            cpuset_available("0-99999", "0-1").unwrap_err().to_string(),
            "value of out range, maximum is 8192"
        );
    }

    /// A v1 layout built in a temp dir: the probe reports what exists.
    #[test]
    fn v1_probe_reads_the_mount_points() {
        let root = tempfile::tempdir().unwrap();
        let dir = |name: &str, files: &[(&str, &str)]| {
            let d = root.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            for (f, content) in files {
                std::fs::write(d.join(f), content).unwrap();
            }
            d
        };
        let memory = dir(
            "memory",
            &[
                ("memory.soft_limit_in_bytes", ""),
                ("memory.swappiness", ""),
            ],
        );
        let cpuset = dir(
            "cpuset",
            &[("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")],
        );
        let blkio = dir(
            "blkio",
            &[
                ("blkio.bfq.io_service_bytes", ""),
                ("blkio.throttle.read_bps_device", ""),
            ],
        );
        let m = |p: PathBuf, c: &str| CgroupMount {
            root: "/".into(),
            mount_point: p,
            controllers: vec![c.to_string()],
            v2: false,
        };
        let info = SysInfo::from_mounts(
            &[m(memory, "memory"), m(cpuset, "cpuset"), m(blkio, "blkio")],
            4,
        );
        assert_eq!(
            info,
            SysInfo {
                ncpu: 4,
                cpus: "0-3".into(),
                mems: "0".into(),
                memory_limit: true,
                memory_reservation: true,
                memory_swappiness: true,
                cpuset: true,
                blkio_weight: true,
                blkio_weight_device: true,
                blkio_read_bps_device: true,
                ..SysInfo::default()
            }
        );
    }

    #[test]
    fn v2_probe_reads_the_root_controllers() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        std::fs::write(root.path().join("cpuset.cpus.effective"), "0-7\n").unwrap();
        std::fs::write(root.path().join("cpuset.mems.effective"), "0-1\n").unwrap();
        let info = SysInfo::from_mounts(
            &[CgroupMount {
                root: "/".into(),
                mount_point: root.path().to_path_buf(),
                controllers: Vec::new(),
                v2: true,
            }],
            8,
        );
        assert!(info.memory_limit && info.swap_limit && info.cpu_cfs && info.pids_limit);
        assert!(!info.memory_swappiness && !info.oom_kill_disable);
        assert!(info.blkio_weight && info.blkio_write_iops_device);
        assert_eq!((info.cpus.as_str(), info.mems.as_str()), ("0-7", "0-1"));
    }

    /// This host, whatever it is: the probe finds its CPUs.
    #[test]
    fn the_host_has_cpus() {
        let info = SysInfo::probe();
        assert!(info.ncpu >= 1);
        if info.cpuset {
            let cpus = parse_cpuset(&info.cpus, 0).unwrap();
            assert!(!cpus.is_empty(), "{info:?}");
        }
    }
}
