//! `GET /containers/{id}/stats`: resource usage read from the container's
//! cgroups, in docker's `StatsJSON` shape.
//!
//! The cgroups are found from the container's init: `/proc/<pid>/cgroup`
//! names its cgroup per hierarchy, `/proc/self/mountinfo` where each
//! hierarchy is mounted (and which part of it: a mount's root may be a
//! sub-cgroup). cgroup v1 is used when the init has v1 controller lines
//! (`memory`, `cpuacct`), otherwise the v2 unified hierarchy. The files
//! are read directly (the engine does not link the runtime's cgroup code).
//!
//! The `networks` counters come from `/proc/<pid>/net/dev` of the init:
//! `/proc/<pid>/net` shows the network namespace of that process (proc(5)),
//! so the container's interfaces are read without entering it. Loopback is
//! left out and a container in the host's namespace has none, as dockerd
//! reports only the interfaces it put in the sandbox.
//!
//! A sample is a [`StatsResponse`] without `precpu_stats`/`preread`; the
//! stream fills those from the previous sample, which is how the client
//! computes the CPU percentage (`docker stats`). The stream keeps a
//! one-second cadence from a fixed start (a slow sample does not push the
//! next ones back), as dockerd's collector ticks every second.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_api_types::container::{
    BlkioStatEntry, BlkioStats, CpuUsage, MemoryStats, NetworkStats, PidsStats, StatsResponse,
    ThrottlingData,
};
use tokio::sync::mpsc;

use super::Error;
use super::store::Container;
use crate::Engine;

/// Where a container's cgroups are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupDirs {
    /// cgroup v1: directory per controller name (`memory`, `cpuacct`,
    /// `cpu`, `pids`, `blkio`).
    V1(BTreeMap<String, PathBuf>),
    /// The v2 unified directory.
    V2(PathBuf),
}

/// One line of mountinfo that mounts a cgroup hierarchy.
#[derive(Debug, Clone)]
pub(super) struct CgroupMount {
    pub root: String,
    pub mount_point: PathBuf,
    /// v1 controllers (super options), empty for cgroup2.
    pub controllers: Vec<String>,
    pub v2: bool,
}

/// The cgroup and cgroup2 mounts of a mountinfo text.
pub(super) fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        // proc_pid_mountinfo(5): fields up to " - ", then fstype, source,
        // super options.
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let (root, mount_point) = (unescape(l[3]), PathBuf::from(unescape(l[4])));
        match r[0] {
            "cgroup2" => out.push(CgroupMount {
                root,
                mount_point,
                controllers: Vec::new(),
                v2: true,
            }),
            "cgroup" => out.push(CgroupMount {
                root,
                mount_point,
                controllers: r[2].split(',').map(str::to_string).collect(),
                v2: false,
            }),
            _ => {}
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `mount point + (cgroup path relative to the mount's root)`.
fn under_mount(m: &CgroupMount, cgroup: &str) -> PathBuf {
    let rel = cgroup
        .strip_prefix(m.root.trim_end_matches('/'))
        .unwrap_or(cgroup)
        .trim_start_matches('/');
    m.mount_point.join(rel)
}

/// The cgroup directories of a process from its `/proc/<pid>/cgroup` and
/// the host's mountinfo (both as text).
pub fn cgroup_dirs(proc_cgroup: &str, mountinfo: &str) -> Option<CgroupDirs> {
    let mounts = parse_mountinfo(mountinfo);
    let mut v1 = BTreeMap::new();
    let mut unified = None;
    for line in proc_cgroup.lines() {
        // cgroups(7): hierarchy-ID:controller-list:cgroup-path
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            if let Some(m) = mounts.iter().find(|m| m.v2) {
                unified = Some(under_mount(m, path));
            }
            continue;
        }
        for ctrl in ctrls.split(',') {
            if let Some(m) = mounts
                .iter()
                .find(|m| !m.v2 && m.controllers.iter().any(|c| c == ctrl))
            {
                v1.insert(ctrl.to_string(), under_mount(m, path));
            }
        }
    }
    if v1.contains_key("memory") || v1.contains_key("cpuacct") {
        Some(CgroupDirs::V1(v1))
    } else {
        unified.map(CgroupDirs::V2)
    }
}

fn read(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file)).ok()
}

fn read_u64(dir: &Path, file: &str) -> u64 {
    read(dir, file)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat).
fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A v1 blkio file: `MAJ:MIN Op value` lines (the `Total` line skipped).
fn blkio_v1(text: &str) -> Option<Vec<BlkioStatEntry>> {
    let v: Vec<BlkioStatEntry> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let [dev, op, value] = f[..] else { return None };
            let (maj, min) = dev.split_once(':')?;
            Some(BlkioStatEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect();
    (!v.is_empty()).then_some(v)
}

/// v2 `io.stat` (`MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..`) as
/// docker reports it: bytes and ios with ops `read`/`write`.
fn io_stat_v2(text: &str) -> (Option<Vec<BlkioStatEntry>>, Option<Vec<BlkioStatEntry>>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "read"),
                "wbytes" => (&mut bytes, "write"),
                "rios" => (&mut ios, "read"),
                "wios" => (&mut ios, "write"),
                _ => continue,
            };
            list.push(BlkioStatEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    let some = |v: Vec<BlkioStatEntry>| (!v.is_empty()).then_some(v);
    (some(bytes), some(ios))
}

/// Host CPU time in nanoseconds (the first line of /proc/stat, user
/// through steal, in USER_HZ ticks; proc_stat(5)) and the online CPUs.
fn system_cpu() -> (u64, u32) {
    let text = fs::read_to_string("/proc/stat").unwrap_or_default();
    let mut total = 0;
    let mut cpus = 0;
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("cpu ") {
            let ticks: u64 = rest
                .split_whitespace()
                .take(8)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum();
            total = ticks * (1_000_000_000 / clock_ticks());
        } else if l.starts_with("cpu") {
            cpus += 1;
        }
    }
    (total, cpus)
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf reads a constant and has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// MemTotal of the host in bytes: docker reports it as the limit of a
/// container without one.
fn host_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            let l = t.lines().find(|l| l.starts_with("MemTotal:"))?;
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// One sample (without the `pre*` fields) of the cgroups `dirs`.
pub fn sample(dirs: &CgroupDirs) -> StatsResponse {
    let mut s = StatsResponse {
        read: format!("{:.9}", jiff::Timestamp::now()),
        ..StatsResponse::default()
    };
    let (system, cpus) = system_cpu();
    s.cpu_stats.system_cpu_usage = system;
    s.cpu_stats.online_cpus = cpus;
    let host_mem = host_memory();
    match dirs {
        CgroupDirs::V1(map) => {
            let none = PathBuf::new();
            let d = |c: &str| map.get(c).unwrap_or(&none);
            let acct = d("cpuacct");
            let ticks_ns = 1_000_000_000 / clock_ticks();
            let st = flat_keyed(&read(acct, "cpuacct.stat").unwrap_or_default());
            let percpu: Vec<u64> = read(acct, "cpuacct.usage_percpu")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            s.cpu_stats.cpu_usage = CpuUsage {
                total_usage: read_u64(acct, "cpuacct.usage"),
                percpu_usage: (!percpu.is_empty()).then_some(percpu),
                usage_in_kernelmode: st.get("system").copied().unwrap_or(0) * ticks_ns,
                usage_in_usermode: st.get("user").copied().unwrap_or(0) * ticks_ns,
            };
            let cs = flat_keyed(&read(d("cpu"), "cpu.stat").unwrap_or_default());
            s.cpu_stats.throttling_data = throttling(&cs, "throttled_time", 1);
            let mem = d("memory");
            let limit = read_u64(mem, "memory.limit_in_bytes");
            s.memory_stats = MemoryStats {
                usage: read_u64(mem, "memory.usage_in_bytes"),
                max_usage: read_u64(mem, "memory.max_usage_in_bytes"),
                stats: Some(flat_keyed(&read(mem, "memory.stat").unwrap_or_default())),
                failcnt: read_u64(mem, "memory.failcnt"),
                limit: cap(limit, host_mem),
            };
            s.pids_stats = pids(d("pids"));
            let b = d("blkio");
            // The throttle files count IO of every scheduler; the
            // scheduler-specific ones are empty without CFQ/BFQ.
            let f = |name: &str| {
                read(b, &format!("blkio.{name}_recursive"))
                    .and_then(|t| blkio_v1(&t))
                    .or_else(|| {
                        read(b, &format!("blkio.throttle.{name}")).and_then(|t| blkio_v1(&t))
                    })
            };
            s.blkio_stats = BlkioStats {
                io_service_bytes_recursive: f("io_service_bytes"),
                io_serviced_recursive: f("io_serviced"),
                ..BlkioStats::default()
            };
        }
        CgroupDirs::V2(dir) => {
            let cs = flat_keyed(&read(dir, "cpu.stat").unwrap_or_default());
            let us = |k: &str| cs.get(k).copied().unwrap_or(0) * 1000;
            s.cpu_stats.cpu_usage = CpuUsage {
                total_usage: us("usage_usec"),
                percpu_usage: None,
                usage_in_kernelmode: us("system_usec"),
                usage_in_usermode: us("user_usec"),
            };
            s.cpu_stats.throttling_data = throttling(&cs, "throttled_usec", 1000);
            let limit = read(dir, "memory.max")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(u64::MAX);
            s.memory_stats = MemoryStats {
                usage: read_u64(dir, "memory.current"),
                max_usage: 0,
                stats: Some(flat_keyed(&read(dir, "memory.stat").unwrap_or_default())),
                failcnt: 0,
                limit: cap(limit, host_mem),
            };
            s.pids_stats = pids(dir);
            let (bytes, ios) = io_stat_v2(&read(dir, "io.stat").unwrap_or_default());
            s.blkio_stats = BlkioStats {
                io_service_bytes_recursive: bytes,
                io_serviced_recursive: ios,
                ..BlkioStats::default()
            };
        }
    }
    s
}

/// The interfaces of a `/proc/<pid>/net/dev` text but `lo`, in docker's
/// `networks` shape. proc(5): two header lines, then `name: ` and sixteen
/// counters, receive (bytes packets errs drop fifo frame compressed
/// multicast) then transmit (bytes packets errs drop fifo colls carrier
/// compressed).
pub fn net_dev(text: &str) -> BTreeMap<String, NetworkStats> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name == "lo" {
            continue;
        }
        let v: Vec<u64> = counters
            .split_whitespace()
            .map_while(|c| c.parse().ok())
            .collect();
        if v.len() < 16 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
                ..NetworkStats::default()
            },
        );
    }
    out
}

/// The counters of the network namespace of `pid`, `None` when it is the
/// daemon's own (host networking) or cannot be read.
fn networks_of(pid: i64) -> Option<BTreeMap<String, NetworkStats>> {
    use std::os::unix::fs::MetadataExt;
    let theirs = fs::metadata(format!("/proc/{pid}/ns/net")).ok()?;
    let ours = fs::metadata("/proc/self/ns/net").ok()?;
    // A namespace is identified by the device and inode of its nsfs file
    // (namespaces(7)).
    if (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()) {
        return None;
    }
    let text = fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let nets = net_dev(&text);
    (!nets.is_empty()).then_some(nets)
}

/// docker caps a limit larger than the host's memory at the host's memory.
fn cap(limit: u64, host: u64) -> u64 {
    if host > 0 && limit > host {
        host
    } else {
        limit
    }
}

fn throttling(cs: &BTreeMap<String, u64>, time_key: &str, scale: u64) -> ThrottlingData {
    let g = |k: &str| cs.get(k).copied().unwrap_or(0);
    ThrottlingData {
        periods: g("nr_periods"),
        throttled_periods: g("nr_throttled"),
        throttled_time: g(time_key) * scale,
    }
}

fn pids(dir: &Path) -> PidsStats {
    PidsStats {
        current: read_u64(dir, "pids.current"),
        // "max" (no limit) parses as nothing: 0, which is omitted.
        limit: read_u64(dir, "pids.max"),
    }
}

/// The pid of the running container's init, `None` when not running.
fn running_pid(c: &Container) -> Option<i64> {
    let r = c.record();
    if !r.state.running || r.state.restarting || r.state.pid <= 0 {
        return None;
    }
    Some(r.state.pid)
}

/// The cgroups of the process `pid`.
fn cgroups_of(pid: i64) -> Option<CgroupDirs> {
    let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    cgroup_dirs(&own, &mountinfo)
}

/// The cgroup directories of a stream's container, found once per init
/// process: finding them reads `/proc/self/mountinfo`, which the kernel
/// renders anew on every read and which holds a line (with the long
/// overlay options) for every running container's rootfs — per sample of
/// each of 100 streamed containers that text dominated the stats cost.
#[derive(Default)]
struct DirsCache {
    pid: i64,
    dirs: Option<CgroupDirs>,
}

/// A sample of `c`, `None` when it is not running.
fn sample_container(c: &Container, cache: &mut DirsCache) -> Option<StatsResponse> {
    let pid = running_pid(c)?;
    if cache.pid != pid || cache.dirs.is_none() {
        *cache = DirsCache {
            pid,
            dirs: cgroups_of(pid),
        };
    }
    let mut s = sample(cache.dirs.as_ref()?);
    s.networks = networks_of(pid);
    let r = c.record();
    s.name = r.name.clone();
    s.id = r.id.clone();
    Some(s)
}

async fn sample_blocking(
    c: &Arc<Container>,
    cache: DirsCache,
) -> Result<(Option<StatsResponse>, DirsCache), Error> {
    let c = c.clone();
    tokio::task::spawn_blocking(move || {
        let mut cache = cache;
        let s = sample_container(&c, &mut cache);
        (s, cache)
    })
    .await
    .map_err(|source| Error::Task {
        op: "read container stats",
        source,
    })
}

impl Engine {
    /// `GET /containers/{id}/stats?stream=&one-shot=`: samples on the
    /// returned channel, one per second while `stream`; otherwise one
    /// (after a second sample's wait for `precpu_stats`, unless
    /// `one_shot`). A container that is not running yields one empty
    /// sample (name and id only) without `stream`, and nothing while it
    /// stays stopped with it (docker's behaviour). The sender stops when
    /// the receiver is dropped.
    pub fn container_stats(
        &self,
        reference: &str,
        stream: bool,
        one_shot: bool,
    ) -> Result<mpsc::Receiver<StatsResponse>, Error> {
        let c = self.containers.get(reference)?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut prev: Option<StatsResponse> = None;
            let mut cache = DirsCache::default();
            // The first tick is immediate. A late tick (a slow sample, a
            // busy host) is not made up for with a burst of samples: the
            // next one is a second after it (`Delay`).
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = tx.closed() => return,
                }
                let s = match sample_blocking(&c, std::mem::take(&mut cache)).await {
                    Ok((s, kept)) => {
                        cache = kept;
                        s
                    }
                    Err(e) => {
                        super::warn(format_args!("stats of container {}: {e}", c.id));
                        return;
                    }
                };
                let Some(mut s) = s else {
                    if !stream {
                        let empty = {
                            let r = c.record();
                            StatsResponse {
                                name: r.name.clone(),
                                id: r.id.clone(),
                                ..StatsResponse::default()
                            }
                        };
                        let _ = tx.send(empty).await;
                        return;
                    }
                    prev = None;
                    continue;
                };
                if let Some(p) = prev.take() {
                    s.precpu_stats = p.cpu_stats;
                    s.preread = p.read;
                } else if !stream && !one_shot {
                    // The first sample only primes precpu.
                    prev = Some(s);
                    continue;
                }
                prev = Some(s.clone());
                if tx.send(s).await.is_err() || !stream {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 /sub /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_dirs_under_each_controllers_mount_and_its_root() {
        let own = "4:memory:/sub/berth/abc\n2:cpuacct:/berth/abc\n1:cpu:/berth/abc\n0::/\n";
        let Some(CgroupDirs::V1(m)) = cgroup_dirs(own, MOUNTINFO) else {
            panic!("expected v1");
        };
        assert_eq!(m["memory"], Path::new("/sys/fs/cgroup/memory/berth/abc"));
        assert_eq!(m["cpuacct"], Path::new("/sys/fs/cgroup/cpuacct/berth/abc"));
        assert_eq!(m["cpu"], Path::new("/sys/fs/cgroup/cpu/berth/abc"));
    }

    #[test]
    fn v2_when_no_v1_controller_is_listed() {
        assert_eq!(
            cgroup_dirs("0::/berth/abc\n", MOUNTINFO),
            Some(CgroupDirs::V2(PathBuf::from(
                "/sys/fs/cgroup/unified/berth/abc"
            )))
        );
        assert_eq!(cgroup_dirs("0::/x\n", ""), None);
    }

    #[test]
    fn blkio_and_io_stat_lines() {
        let v1 = blkio_v1("8:0 Read 4096\n8:0 Write 512\nTotal 4608\n").unwrap();
        assert_eq!(v1.len(), 2);
        assert_eq!(
            (v1[1].major, v1[1].op.as_str(), v1[1].value),
            (8, "Write", 512)
        );
        let (bytes, ios) = io_stat_v2("259:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0\n");
        let bytes = bytes.unwrap();
        assert_eq!((bytes[0].op.as_str(), bytes[0].value), ("read", 10));
        assert_eq!((bytes[1].op.as_str(), bytes[1].value), ("write", 20));
        assert_eq!(ios.unwrap()[1].value, 2);
        assert_eq!(unescape("/a\\040b"), "/a b");
    }

    #[test]
    fn net_dev_counters_by_interface_without_loopback() {
        let text = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    1296      16    1    2    0     0          0         0      746       9    3    4    0     0       0          0
";
        let n = net_dev(text);
        assert_eq!(n.len(), 1, "{n:?}");
        let e = &n["eth0"];
        assert_eq!(
            (e.rx_bytes, e.rx_packets, e.rx_errors, e.rx_dropped),
            (1296, 16, 1, 2)
        );
        assert_eq!(
            (e.tx_bytes, e.tx_packets, e.tx_errors, e.tx_dropped),
            (746, 9, 3, 4)
        );
        assert!(net_dev("garbage\n\nwlan0: 1 2 3\n").is_empty());
    }
}
