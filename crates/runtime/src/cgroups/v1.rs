//! cgroup v1: one directory per controller hierarchy.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

use super::detect::NAME_SYSTEMD;
use super::devices::{DeviceState, rules_from_oci};
use super::plan::{V1Probe, v1_plan};
use super::stats::{self, BlkioEntry, MemoryEntry, Stats};
use super::{CgroupConfig, CgroupError, UNIFIED_KEY, execute, fsutil, write_pid};

/// Hierarchies that are joined but never limited; as in runc, failing to
/// create or join them does not fail the container.
fn join_only(key: &str) -> bool {
    key == NAME_SYSTEMD || key == UNIFIED_KEY
}

/// Distinct directories (co-mounted controllers share one) in key order.
fn unique_paths(cfg: &CgroupConfig) -> Vec<(&str, &Path)> {
    let mut seen: Vec<&Path> = Vec::new();
    let mut out = Vec::new();
    for (k, p) in &cfg.paths {
        if !seen.contains(&p.as_path()) {
            seen.push(p);
            out.push((k.as_str(), p.as_path()));
        }
    }
    out
}

fn dir_of<'a>(cfg: &'a CgroupConfig) -> impl Fn(&str) -> Option<&'a Path> {
    move |c: &str| cfg.paths.get(c).map(PathBuf::as_path)
}

fn controller_dir<'a>(cfg: &'a CgroupConfig, controller: &str) -> Result<&'a Path, CgroupError> {
    cfg.paths
        .get(controller)
        .map(PathBuf::as_path)
        .ok_or_else(|| CgroupError::ControllerNotMounted {
            controller: controller.to_owned(),
        })
}

fn mkdir_all(path: &Path) -> Result<(), CgroupError> {
    std::fs::create_dir_all(path).map_err(|source| CgroupError::Mkdir {
        path: path.to_owned(),
        source,
    })
}

pub fn create(cfg: &CgroupConfig) -> Result<(), CgroupError> {
    for (key, path) in unique_paths(cfg) {
        let result = if cfg.paths.get("cpuset").is_some_and(|p| p == path) {
            let mountpoint = cfg
                .mountpoints
                .get("cpuset")
                .ok_or(CgroupError::IncompleteConfig { key: "cpuset" })?;
            create_cpuset(path, mountpoint)
        } else {
            mkdir_all(path)
        };
        match result {
            Err(_) if join_only(key) => {}
            other => other?,
        }
    }
    Ok(())
}

/// Creates a cpuset cgroup and its missing ancestors, copying `cpuset.cpus`
/// and `cpuset.mems` from each parent where they are empty: a new cpuset
/// cgroup starts with none, and a task cannot join it until both are set
/// (ENOSPC; cgroup-v1/cpusets.rst).
fn create_cpuset(path: &Path, mountpoint: &Path) -> Result<(), CgroupError> {
    let rel = path
        .strip_prefix(mountpoint)
        .map_err(|_| CgroupError::IncompleteConfig { key: "cpuset" })?;
    let mut parent = mountpoint.to_path_buf();
    for part in rel.components() {
        let current = parent.join(part);
        match std::fs::create_dir(&current) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(CgroupError::Mkdir {
                    path: current,
                    source: e,
                });
            }
            _ => {}
        }
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if fsutil::read(&current, file)?.trim().is_empty() {
                let from_parent = fsutil::read(&parent, file)?;
                fsutil::write(&current, file, from_parent.trim())?;
            }
        }
        parent = current;
    }
    Ok(())
}

pub fn apply(cfg: &CgroupConfig, r: &LinuxResources) -> Result<(), CgroupError> {
    let probe = V1Probe::read(r, dir_of(cfg))?;
    let plan = v1_plan(r, &probe)?;
    execute(&plan, dir_of(cfg))?;
    if let Some(list) = r.devices() {
        // runc's final check: the kernel's view must be exactly the target
        // for an allow-list, and at least in the same mode for a deny-list.
        let dir = controller_dir(cfg, "devices")?;
        let target = DeviceState::from_rules(&rules_from_oci(list)?)?;
        let text = fsutil::read(dir, "devices.list")?;
        let now = DeviceState::from_list(&text).map_err(|e| CgroupError::Parse {
            path: dir.join("devices.list"),
            line: e.line,
            reason: e.reason,
        })?;
        let ok = if target.is_deny_list() {
            now.is_deny_list()
        } else {
            now == target
        };
        if !ok {
            return Err(CgroupError::DevicesMismatch {
                path: dir.to_owned(),
            });
        }
    }
    Ok(())
}

pub fn add_process(cfg: &CgroupConfig, pid: i32) -> Result<(), CgroupError> {
    for (key, path) in unique_paths(cfg) {
        match write_pid(path, pid) {
            Err(_) if join_only(key) => {}
            other => other?,
        }
    }
    Ok(())
}

/// Moves the calling single-threaded process in, through each hierarchy's
/// `tasks` file with pid 0 (see [`super::Cgroup::join_self`]); the unified
/// hierarchy, which has no `tasks` file, through `cgroup.procs` unless the
/// process was cloned into it.
pub fn join_self(cfg: &CgroupConfig, in_unified: bool) -> Result<(), CgroupError> {
    for (key, path) in unique_paths(cfg) {
        let r = if key == UNIFIED_KEY {
            if in_unified {
                continue;
            }
            write_pid(path, 0)
        } else {
            fsutil::write(path, "tasks", "0")
        };
        match r {
            Err(_) if join_only(key) => {}
            other => other?,
        }
    }
    Ok(())
}

/// The hierarchy whose `cgroup.procs` lists the container's processes:
/// devices (runc's choice; it is mandatory), else another one.
fn procs_dir(cfg: &CgroupConfig) -> Result<&Path, CgroupError> {
    ["devices", "freezer", "pids", "memory", "cpu"]
        .iter()
        .find_map(|c| cfg.paths.get(*c))
        .map(PathBuf::as_path)
        .ok_or_else(|| CgroupError::ControllerNotMounted {
            controller: "devices".to_owned(),
        })
}

pub fn pids(cfg: &CgroupConfig) -> Result<Vec<i32>, CgroupError> {
    fsutil::read_procs_recursive(procs_dir(cfg)?)
}

fn freezer_state(dir: &Path) -> Result<String, CgroupError> {
    Ok(fsutil::read(dir, "freezer.state")?.trim().to_owned())
}

pub fn freeze(cfg: &CgroupConfig) -> Result<(), CgroupError> {
    let dir = controller_dir(cfg, "freezer")?;
    let result = freeze_loop(dir);
    if result.is_err() {
        // A cgroup left FREEZING or half frozen hangs the container; thaw
        // it back. The freeze error is what matters to the caller.
        let _ = fsutil::write(dir, "freezer.state", "THAWED");
    }
    result
}

/// Writes FROZEN until the state reads back FROZEN. On v1 the kernel can
/// stay in FREEZING while tasks keep forking; as runc does, retry, with an
/// occasional thaw and short sleeps to let new tasks settle.
fn freeze_loop(dir: &Path) -> Result<(), CgroupError> {
    const ATTEMPTS: u32 = 1000;
    let mut state = String::new();
    for i in 0..ATTEMPTS {
        if i % 50 == 49 {
            fsutil::write(dir, "freezer.state", "THAWED")?;
            std::thread::sleep(Duration::from_millis(10));
        }
        fsutil::write(dir, "freezer.state", "FROZEN")?;
        if i % 25 == 24 {
            std::thread::sleep(Duration::from_micros(10));
        }
        state = freezer_state(dir)?;
        match state.as_str() {
            "FROZEN" => return Ok(()),
            "FREEZING" => continue,
            _ => {
                return Err(CgroupError::FreezerState {
                    path: dir.join("freezer.state"),
                    state,
                });
            }
        }
    }
    Err(CgroupError::FreezeTimeout {
        path: dir.to_owned(),
        state,
    })
}

pub fn thaw(cfg: &CgroupConfig) -> Result<(), CgroupError> {
    fsutil::write(controller_dir(cfg, "freezer")?, "freezer.state", "THAWED")
}

/// Whether this cgroup itself is frozen; one frozen only through an
/// ancestor (`freezer.self_freezing` 0) counts as not frozen, like runc.
pub fn is_frozen(cfg: &CgroupConfig) -> Result<bool, CgroupError> {
    let dir = controller_dir(cfg, "freezer")?;
    for _ in 0..10_000 {
        let state = freezer_state(dir)?;
        match state.as_str() {
            "THAWED" => return Ok(false),
            "FROZEN" => {
                return match fsutil::read_raw(dir, "freezer.self_freezing") {
                    Ok(s) => Ok(s.trim() == "1"),
                    // Kernels before 3.11 have no self_freezing.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
                    Err(source) => Err(CgroupError::Read {
                        path: dir.join("freezer.self_freezing"),
                        source,
                    }),
                };
            }
            // A transition is under way; it settles quickly.
            "FREEZING" => std::thread::sleep(Duration::from_millis(1)),
            _ => {
                return Err(CgroupError::FreezerState {
                    path: dir.join("freezer.state"),
                    state,
                });
            }
        }
    }
    Err(CgroupError::FreezeTimeout {
        path: dir.to_owned(),
        state: "FREEZING".to_owned(),
    })
}

pub fn oom_kill_count(cfg: &CgroupConfig) -> Result<u64, CgroupError> {
    fsutil::read_keyed_u64(
        controller_dir(cfg, "memory")?,
        "memory.oom_control",
        "oom_kill",
    )
}

pub fn destroy(cfg: &CgroupConfig) -> Result<(), CgroupError> {
    let dirs: Vec<&Path> = unique_paths(cfg).into_iter().map(|(_, p)| p).collect();
    fsutil::remove_all(&dirs)
}

/// Reads a file that older kernels or configurations may lack.
fn read_opt(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    match fsutil::read_raw(dir, file) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read {
            path: dir.join(file),
            source,
        }),
    }
}

fn read_opt_u64(dir: &Path, file: &str) -> Result<Option<u64>, CgroupError> {
    match read_opt(dir, file)? {
        None => Ok(None),
        Some(text) => fsutil::parse_u64(&text)
            .map(Some)
            .ok_or_else(|| CgroupError::Parse {
                path: dir.join(file),
                line: text.trim().to_owned(),
                reason: "expected a number",
            }),
    }
}

/// `memory[.name].{usage_in_bytes,max_usage_in_bytes,failcnt,limit_in_bytes}`;
/// swap (memsw) and kmem counters are optional.
fn memory_entry(dir: &Path, name: &str) -> Result<MemoryEntry, CgroupError> {
    let prefix = if name.is_empty() {
        "memory".to_owned()
    } else {
        format!("memory.{name}")
    };
    let Some(usage) = read_opt_u64(dir, &format!("{prefix}.usage_in_bytes"))? else {
        if name.is_empty() {
            return Err(CgroupError::Read {
                path: dir.join("memory.usage_in_bytes"),
                source: io::Error::from_raw_os_error(libc::ENOENT),
            });
        }
        return Ok(MemoryEntry::default());
    };
    Ok(MemoryEntry {
        usage,
        max: fsutil::read_u64(dir, &format!("{prefix}.max_usage_in_bytes"))?,
        failcnt: fsutil::read_u64(dir, &format!("{prefix}.failcnt"))?,
        limit: fsutil::read_u64(dir, &format!("{prefix}.limit_in_bytes"))?,
    })
}

type BlkioField = fn(&mut stats::Blkio) -> &mut Vec<BlkioEntry>;

/// runc's order of preference for blkio statistics: BFQ with debug files,
/// BFQ, CFQ, then the throttle counters (recursive, then not). The first
/// group whose first file has data wins.
const BLKIO_GROUPS: &[&[(&str, BlkioField)]] = &[
    &[
        ("blkio.bfq.sectors_recursive", |b| &mut b.sectors_recursive),
        ("blkio.bfq.io_service_time_recursive", |b| {
            &mut b.io_service_time_recursive
        }),
        ("blkio.bfq.io_wait_time_recursive", |b| {
            &mut b.io_wait_time_recursive
        }),
        ("blkio.bfq.io_merged_recursive", |b| {
            &mut b.io_merged_recursive
        }),
        ("blkio.bfq.io_queued_recursive", |b| {
            &mut b.io_queued_recursive
        }),
        ("blkio.bfq.time_recursive", |b| &mut b.io_time_recursive),
        ("blkio.bfq.io_serviced_recursive", |b| {
            &mut b.io_serviced_recursive
        }),
        ("blkio.bfq.io_service_bytes_recursive", |b| {
            &mut b.io_service_bytes_recursive
        }),
    ],
    &[
        ("blkio.bfq.io_serviced_recursive", |b| {
            &mut b.io_serviced_recursive
        }),
        ("blkio.bfq.io_service_bytes_recursive", |b| {
            &mut b.io_service_bytes_recursive
        }),
    ],
    &[
        ("blkio.sectors_recursive", |b| &mut b.sectors_recursive),
        ("blkio.io_service_time_recursive", |b| {
            &mut b.io_service_time_recursive
        }),
        ("blkio.io_wait_time_recursive", |b| {
            &mut b.io_wait_time_recursive
        }),
        ("blkio.io_merged_recursive", |b| &mut b.io_merged_recursive),
        ("blkio.io_queued_recursive", |b| &mut b.io_queued_recursive),
        ("blkio.time_recursive", |b| &mut b.io_time_recursive),
        ("blkio.io_serviced_recursive", |b| {
            &mut b.io_serviced_recursive
        }),
        ("blkio.io_service_bytes_recursive", |b| {
            &mut b.io_service_bytes_recursive
        }),
    ],
    &[
        ("blkio.throttle.io_serviced_recursive", |b| {
            &mut b.io_serviced_recursive
        }),
        ("blkio.throttle.io_service_bytes_recursive", |b| {
            &mut b.io_service_bytes_recursive
        }),
    ],
    &[
        ("blkio.throttle.io_serviced", |b| {
            &mut b.io_serviced_recursive
        }),
        ("blkio.throttle.io_service_bytes", |b| {
            &mut b.io_service_bytes_recursive
        }),
    ],
];

fn blkio_stats(dir: &Path, out: &mut stats::Blkio) -> Result<(), CgroupError> {
    for group in BLKIO_GROUPS {
        for (i, (file, field)) in group.iter().enumerate() {
            let entries = match read_opt(dir, file)? {
                Some(text) => stats::parse_blkio_v1(&dir.join(file), &text)?,
                None => Vec::new(),
            };
            if entries.is_empty() {
                if i == 0 {
                    break;
                }
                return Ok(());
            }
            *field(out) = entries;
            if i == group.len() - 1 {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// `USER_HZ` is 100 on every Linux architecture (`sysconf(_SC_CLK_TCK)`).
const CLOCK_TICKS: u64 = 100;

fn cpuacct_stats(dir: &Path, usage: &mut stats::CpuUsage) -> Result<(), CgroupError> {
    let stat = fsutil::read(dir, "cpuacct.stat")?;
    for (k, v) in stats::parse_flat_keyed(&dir.join("cpuacct.stat"), &stat)? {
        match k.as_str() {
            "user" => usage.user = v * 1_000_000_000 / CLOCK_TICKS,
            "system" => usage.kernel = v * 1_000_000_000 / CLOCK_TICKS,
            _ => {}
        }
    }
    usage.total = fsutil::read_u64(dir, "cpuacct.usage")?;
    let percpu = fsutil::read(dir, "cpuacct.usage_percpu")?;
    usage.percpu = percpu
        .split_whitespace()
        .map(|v| {
            v.parse().map_err(|_| CgroupError::Parse {
                path: dir.join("cpuacct.usage_percpu"),
                line: percpu.trim().to_owned(),
                reason: "expected numbers",
            })
        })
        .collect::<Result<_, _>>()?;
    // "cpu user system" header, then one line per cpu (kernel 4.7+).
    if let Some(all) = read_opt(dir, "cpuacct.usage_all")? {
        for line in all.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let [_, user, system] = f[..] {
                let bad = || CgroupError::Parse {
                    path: dir.join("cpuacct.usage_all"),
                    line: line.to_owned(),
                    reason: "expected \"cpu user system\"",
                };
                usage.percpu_user.push(user.parse().map_err(|_| bad())?);
                usage.percpu_kernel.push(system.parse().map_err(|_| bad())?);
            }
        }
    }
    Ok(())
}

fn cpuset_stats(dir: &Path, s: &mut stats::CpuSet) -> Result<(), CgroupError> {
    if let Some(t) = read_opt(dir, "cpuset.cpus")? {
        s.cpus = stats::parse_cpuset_list(&dir.join("cpuset.cpus"), &t)?;
    }
    if let Some(t) = read_opt(dir, "cpuset.mems")? {
        s.mems = stats::parse_cpuset_list(&dir.join("cpuset.mems"), &t)?;
    }
    for (file, field) in [
        ("cpuset.cpu_exclusive", &mut s.cpu_exclusive),
        ("cpuset.mem_hardwall", &mut s.mem_hardwall),
        ("cpuset.mem_exclusive", &mut s.mem_exclusive),
        ("cpuset.memory_migrate", &mut s.memory_migrate),
        ("cpuset.memory_spread_page", &mut s.memory_spread_page),
        ("cpuset.memory_spread_slab", &mut s.memory_spread_slab),
        ("cpuset.memory_pressure", &mut s.memory_pressure),
        ("cpuset.sched_load_balance", &mut s.sched_load_balance),
    ] {
        *field = read_opt_u64(dir, file)?.unwrap_or(0);
    }
    if let Some(t) = read_opt(dir, "cpuset.sched_relax_domain_level")? {
        s.sched_relax_domain_level = t.trim().parse().map_err(|_| CgroupError::Parse {
            path: dir.join("cpuset.sched_relax_domain_level"),
            line: t.trim().to_owned(),
            reason: "expected a number",
        })?;
    }
    Ok(())
}

pub fn stats(cfg: &CgroupConfig) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    let existing = |c: &str| {
        cfg.paths
            .get(c)
            .map(PathBuf::as_path)
            .filter(|p| p.exists())
    };
    if let Some(dir) = existing("cpuset") {
        cpuset_stats(dir, &mut s.cpuset)?;
    }
    if let Some(dir) = existing("memory")
        && let Some(text) = read_opt(dir, "memory.stat")?
    {
        s.memory.raw = stats::parse_flat_keyed(&dir.join("memory.stat"), &text)?
            .into_iter()
            .collect();
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
        s.memory.usage = memory_entry(dir, "")?;
        s.memory.swap = memory_entry(dir, "memsw")?;
        s.memory.kernel = memory_entry(dir, "kmem")?;
        s.memory.kernel_tcp = memory_entry(dir, "kmem.tcp")?;
    }
    if let Some(dir) = existing("cpu")
        && let Some(text) = read_opt(dir, "cpu.stat")?
    {
        for (k, v) in stats::parse_flat_keyed(&dir.join("cpu.stat"), &text)? {
            match k.as_str() {
                "nr_periods" => s.cpu.throttling.periods = v,
                "nr_throttled" => s.cpu.throttling.throttled_periods = v,
                "throttled_time" => s.cpu.throttling.throttled_time = v,
                _ => {}
            }
        }
    }
    if let Some(dir) = existing("cpuacct") {
        cpuacct_stats(dir, &mut s.cpu.usage)?;
    }
    if let Some(dir) = existing("pids") {
        s.pids.current = fsutil::read_u64(dir, "pids.current")?;
        // Unlimited reads "max"; runc reports it as 0.
        s.pids.limit = match fsutil::read_u64(dir, "pids.max")? {
            u64::MAX => 0,
            v => v,
        };
    }
    if let Some(dir) = existing("blkio") {
        blkio_stats(dir, &mut s.blkio)?;
    }
    if let Some(dir) = existing("hugetlb") {
        for size in stats::hugepage_sizes() {
            let f = |suffix: &str| format!("hugetlb.{size}.{suffix}");
            let entry = stats::Hugetlb {
                usage: fsutil::read_u64(dir, &f("usage_in_bytes"))?,
                max: fsutil::read_u64(dir, &f("max_usage_in_bytes"))?,
                failcnt: fsutil::read_u64(dir, &f("failcnt"))?,
            };
            s.hugetlb.insert(size, entry);
        }
    }
    Ok(s)
}
