//! cgroup v2: one directory in the unified hierarchy.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

use super::plan::{V2Probe, v2_plan};
use super::stats::{self, Stats};
use super::{CgroupConfig, CgroupError, UNIFIED_KEY, execute, fsutil, write_pid};

fn dir(cfg: &CgroupConfig) -> Result<&Path, CgroupError> {
    cfg.paths
        .get(UNIFIED_KEY)
        .map(PathBuf::as_path)
        .ok_or(CgroupError::IncompleteConfig { key: UNIFIED_KEY })
}

/// Creates the cgroup and its missing ancestors. With `enable_controllers`,
/// every controller an ancestor has available is enabled in its
/// `cgroup.subtree_control`, from the mount point down, so that the new
/// cgroup has all of them (runc enables everything the root offers; here
/// each level offers what its own `cgroup.controllers` lists). A controller
/// that cannot be enabled is left out: the failure shows when a limit for
/// it is written.
pub fn create(cfg: &CgroupConfig, enable_controllers: bool) -> Result<(), CgroupError> {
    let path = dir(cfg)?;
    let mountpoint = cfg
        .mountpoints
        .get(UNIFIED_KEY)
        .ok_or(CgroupError::IncompleteConfig { key: UNIFIED_KEY })?;
    let rel = path
        .strip_prefix(mountpoint)
        .map_err(|_| CgroupError::IncompleteConfig { key: UNIFIED_KEY })?;
    let mut current = mountpoint.clone();
    for part in rel.components() {
        if enable_controllers {
            enable_all_controllers(&current)?;
        }
        current.push(part);
        if let Err(e) = std::fs::create_dir(&current)
            && e.kind() != io::ErrorKind::AlreadyExists
        {
            return Err(CgroupError::Mkdir {
                path: current,
                source: e,
            });
        }
    }
    Ok(())
}

fn enable_all_controllers(dir: &Path) -> Result<(), CgroupError> {
    let available = fsutil::read(dir, "cgroup.controllers")?;
    let enabled = fsutil::read(dir, "cgroup.subtree_control")?;
    let missing: Vec<&str> = available
        .split_whitespace()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let all = missing
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    if fsutil::write_raw(dir, "cgroup.subtree_control", &all).is_err() {
        // One write enables all or none; retry one by one so that one
        // refused controller (e.g. cpu with realtime tasks present) does
        // not keep the others away.
        for c in missing {
            let _ = fsutil::write_raw(dir, "cgroup.subtree_control", &format!("+{c}"));
        }
    }
    Ok(())
}

pub fn apply(cfg: &CgroupConfig, r: &LinuxResources) -> Result<(), CgroupError> {
    let d = dir(cfg)?;
    let probe = V2Probe::read(d)?;
    let plan = v2_plan(r, &probe)?;
    // Device rules are validated before any write.
    let program = match r.devices() {
        Some(list) => Some(super::ebpf::DeviceProgram::compile(list)?),
        None => None,
    };
    execute(&plan, |c| (c == UNIFIED_KEY).then_some(d))?;
    if let Some(program) = program {
        program.attach(d)?;
    }
    Ok(())
}

pub fn add_process(cfg: &CgroupConfig, pid: i32) -> Result<(), CgroupError> {
    write_pid(dir(cfg)?, pid)
}

pub fn pids(cfg: &CgroupConfig) -> Result<Vec<i32>, CgroupError> {
    fsutil::read_procs_recursive(dir(cfg)?)
}

/// Polls `cgroup.events` until `frozen` reads `want` (the kernel freezes
/// asynchronously; cgroup-v2.rst "cgroup.freeze").
fn wait_frozen(d: &Path, want: bool) -> Result<(), CgroupError> {
    const ATTEMPTS: u32 = 1000;
    let want = if want { 1 } else { 0 };
    for i in 0..ATTEMPTS {
        if fsutil::read_keyed_u64(d, "cgroup.events", "frozen")? == want {
            return Ok(());
        }
        if i + 1 < ATTEMPTS {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Err(CgroupError::FreezeTimeout {
        path: d.to_owned(),
        state: format!("frozen {}", 1 - want),
    })
}

pub fn freeze(cfg: &CgroupConfig) -> Result<(), CgroupError> {
    let d = dir(cfg)?;
    fsutil::write(d, "cgroup.freeze", "1")?;
    let result = wait_frozen(d, true);
    if result.is_err() {
        // Do not leave the container half frozen; the timeout is the error
        // the caller needs.
        let _ = fsutil::write(d, "cgroup.freeze", "0");
    }
    result
}

pub fn thaw(cfg: &CgroupConfig) -> Result<(), CgroupError> {
    fsutil::write(dir(cfg)?, "cgroup.freeze", "0")
}

/// Whether the cgroup is asked to be frozen and has become so; like runc, a
/// freeze in progress is waited for.
pub fn is_frozen(cfg: &CgroupConfig) -> Result<bool, CgroupError> {
    let d = dir(cfg)?;
    let state = match fsutil::read_raw(d, "cgroup.freeze") {
        Ok(s) => s,
        // Before kernel 5.2 there is no v2 freezer: nothing can be frozen.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(CgroupError::Read {
                path: d.join("cgroup.freeze"),
                source,
            });
        }
    };
    match state.trim() {
        "0" => Ok(false),
        "1" => wait_frozen(d, true).map(|()| true),
        other => Err(CgroupError::FreezerState {
            path: d.join("cgroup.freeze"),
            state: other.to_owned(),
        }),
    }
}

pub fn oom_kill_count(cfg: &CgroupConfig) -> Result<u64, CgroupError> {
    fsutil::read_keyed_u64(dir(cfg)?, "memory.events", "oom_kill")
}

pub fn destroy(cfg: &CgroupConfig) -> Result<(), CgroupError> {
    fsutil::remove_all(&[dir(cfg)?])
}

fn read_opt(d: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    match fsutil::read_raw(d, file) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read {
            path: d.join(file),
            source,
        }),
    }
}

/// Statistics from whatever controllers are enabled; files of controllers
/// that are not enabled are absent and leave their section empty, as in
/// runc (cpu.stat is there even without the cpu controller).
pub fn stats(cfg: &CgroupConfig) -> Result<Stats, CgroupError> {
    let d = dir(cfg)?;
    let mut s = Stats::default();

    match read_opt(d, "pids.current")? {
        Some(_) => {
            s.pids.current = fsutil::read_u64(d, "pids.current")?;
            s.pids.limit = match fsutil::read_u64(d, "pids.max")? {
                u64::MAX => 0,
                v => v,
            };
        }
        // Without the pids controller, count the members.
        None => s.pids.current = fsutil::read_procs(d)?.len() as u64,
    }

    if let Some(text) = read_opt(d, "memory.stat")? {
        s.memory.raw = stats::parse_flat_keyed(&d.join("memory.stat"), &text)?
            .into_iter()
            .collect();
        s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
        s.memory.usage.usage = fsutil::read_u64(d, "memory.current")?;
        s.memory.usage.limit = fsutil::read_u64(d, "memory.max")?;
        // v1 reports memory+swap; runc adds memory to swap for parity.
        if let Some(swap) = read_opt(d, "memory.swap.current")? {
            let swap_usage = fsutil::parse_u64(&swap).unwrap_or(0);
            let swap_limit = fsutil::read_u64(d, "memory.swap.max")?;
            s.memory.swap.usage = swap_usage + s.memory.usage.usage;
            s.memory.swap.limit = if swap_limit == u64::MAX {
                u64::MAX
            } else {
                swap_limit.saturating_add(s.memory.usage.limit)
            };
        }
    }

    if let Some(text) = read_opt(d, "io.stat")? {
        s.blkio = stats::parse_io_stat(&d.join("io.stat"), &text)?;
    }

    if let Some(text) = read_opt(d, "cpu.stat")? {
        for (k, v) in stats::parse_flat_keyed(&d.join("cpu.stat"), &text)? {
            match k.as_str() {
                "usage_usec" => s.cpu.usage.total = v * 1000,
                "user_usec" => s.cpu.usage.user = v * 1000,
                "system_usec" => s.cpu.usage.kernel = v * 1000,
                "nr_periods" => s.cpu.throttling.periods = v,
                "nr_throttled" => s.cpu.throttling.throttled_periods = v,
                "throttled_usec" => s.cpu.throttling.throttled_time = v * 1000,
                _ => {}
            }
        }
    }

    for size in stats::hugepage_sizes() {
        let Some(current) = read_opt(d, &format!("hugetlb.{size}.current"))? else {
            continue;
        };
        let entry = stats::Hugetlb {
            usage: fsutil::parse_u64(&current).unwrap_or(0),
            max: 0,
            failcnt: fsutil::read_keyed_u64(d, &format!("hugetlb.{size}.events"), "max")?,
        };
        s.hugetlb.insert(size, entry);
    }
    Ok(s)
}
