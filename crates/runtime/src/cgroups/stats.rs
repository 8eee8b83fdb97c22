//! Resource usage in the shape `runc events --stats` prints under `"data"`
//! (runc's `types.Stats`), including its JSON quirks: zero numbers marked
//! `omitempty` in Go are left out, nested structs are always present.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CgroupError, fsutil};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Everything runc reports for a container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    #[serde(default)]
    pub cpu: Cpu,
    #[serde(default)]
    pub cpuset: CpuSet,
    #[serde(default)]
    pub memory: Memory,
    #[serde(default)]
    pub pids: Pids,
    #[serde(default)]
    pub blkio: Blkio,
    #[serde(default)]
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT is not managed here; runc prints an empty object for it.
    #[serde(default)]
    pub intel_rdt: IntelRdt,
    /// runc only fills this for libcontainer-managed veths; OCI containers
    /// get `null`.
    #[serde(default)]
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct IntelRdt {}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Cpu {
    #[serde(default)]
    pub usage: CpuUsage,
    #[serde(default)]
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuUsage {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    #[serde(default)]
    pub kernel: u64,
    #[serde(default)]
    pub user: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuSet {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    #[serde(default)]
    pub cpu_exclusive: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    #[serde(default)]
    pub mem_hardwall: u64,
    #[serde(default)]
    pub mem_exclusive: u64,
    #[serde(default)]
    pub memory_migrate: u64,
    #[serde(default)]
    pub memory_spread_page: u64,
    #[serde(default)]
    pub memory_spread_slab: u64,
    #[serde(default)]
    pub memory_pressure: u64,
    #[serde(default)]
    pub sched_load_balance: u64,
    #[serde(default)]
    pub sched_relax_domain_level: i64,
}

/// Usage, peak, limit and failure count of one memory counter, in bytes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryEntry {
    #[serde(default)]
    pub limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    #[serde(default)]
    pub failcnt: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    #[serde(default)]
    pub usage: MemoryEntry,
    /// memory+swap, on v2 too (runc adds memory to swap for v1 parity).
    #[serde(default)]
    pub swap: MemoryEntry,
    #[serde(default)]
    pub kernel: MemoryEntry,
    #[serde(default, rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// The raw `memory.stat` counters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Pids {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct BlkioEntry {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// runc's JSON name really is `ioQueueRecursive`.
    #[serde(
        default,
        rename = "ioQueueRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Hugetlb {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    #[serde(default)]
    pub failcnt: u64,
}

/// Parses `key value` lines (memory.stat, cpu.stat, memory.events).
pub fn parse_flat_keyed(path: &Path, text: &str) -> Result<Vec<(String, u64)>, CgroupError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut it = line.split_whitespace();
            match (it.next(), it.next().and_then(fsutil::parse_u64), it.next()) {
                (Some(k), Some(v), None) => Ok((k.to_owned(), v)),
                _ => Err(CgroupError::Parse {
                    path: path.to_owned(),
                    line: line.to_owned(),
                    reason: "expected \"key value\"",
                }),
            }
        })
        .collect()
}

/// Parses a v1 blkio statistics file: `major:minor [op] value` lines and a
/// final `Total n` line, which is skipped.
pub fn parse_blkio_v1(path: &Path, text: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || CgroupError::Parse {
            path: path.to_owned(),
            line: line.to_owned(),
            reason: "expected \"major:minor [op] value\"",
        };
        let f: Vec<&str> = line.split([' ', ':']).filter(|s| !s.is_empty()).collect();
        if f.len() == 2 && f[0] == "Total" {
            continue;
        }
        let (op, value) = match f.len() {
            3 => ("", f[2]),
            4 => (f[2], f[3]),
            _ => return Err(bad()),
        };
        let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
        out.push(BlkioEntry {
            major: num(f[0])?,
            minor: num(f[1])?,
            op: op.to_owned(),
            value: num(value)?,
        });
    }
    Ok(out)
}

/// Parses v2 `io.stat` into runc's v1-shaped tables: rbytes/wbytes into
/// service bytes, rios/wios into serviced, with ops Read/Write.
pub fn parse_io_stat(path: &Path, text: &str) -> Result<Blkio, CgroupError> {
    let mut out = Blkio::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some((major, minor)) = fields.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let bad = || CgroupError::Parse {
            path: path.to_owned(),
            line: line.to_owned(),
            reason: "expected \"major:minor key=value...\"",
        };
        let major: u64 = major.parse().map_err(|_| bad())?;
        let minor: u64 = minor.parse().map_err(|_| bad())?;
        for kv in fields {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let (op, table) = match k {
                "rbytes" => ("Read", &mut out.io_service_bytes_recursive),
                "wbytes" => ("Write", &mut out.io_service_bytes_recursive),
                "rios" => ("Read", &mut out.io_serviced_recursive),
                "wios" => ("Write", &mut out.io_serviced_recursive),
                _ => continue,
            };
            table.push(BlkioEntry {
                major,
                minor,
                op: op.to_owned(),
                value: v.parse().map_err(|_| bad())?,
            });
        }
    }
    Ok(out)
}

/// Parses a cpuset list such as `0-3,8,10-11`.
pub fn parse_cpuset_list(path: &Path, text: &str) -> Result<Vec<u16>, CgroupError> {
    let text = text.trim();
    let bad = |reason| CgroupError::Parse {
        path: path.to_owned(),
        line: text.to_owned(),
        reason,
    };
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in text.split(',') {
        let num = |s: &str| s.parse::<u16>().map_err(|_| bad("expected a number"));
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (num(lo)?, num(hi)?);
                if lo > hi {
                    return Err(bad("range with min > max"));
                }
                out.extend(lo..=hi);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

/// Hugepage size names as cgroup files spell them, from the entries of
/// `/sys/kernel/mm/hugepages` (`hugepages-2048kB` → `2MB`).
pub fn hugepage_sizes_from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut sizes: Vec<(u64, String)> = names
        .into_iter()
        .filter_map(|n| {
            n.strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse::<u64>()
                .ok()
        })
        .map(|kb| {
            // Same units as mm/hugetlb_cgroup.c's file names.
            let name = if kb >= 1 << 20 {
                format!("{}GB", kb >> 20)
            } else if kb >= 1 << 10 {
                format!("{}MB", kb >> 10)
            } else {
                format!("{kb}KB")
            };
            (kb, name)
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, n)| n).collect()
}

/// The hugepage sizes this kernel supports.
pub fn hugepage_sizes() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    hugepage_sizes_from_names(names.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("/x")
    }

    #[test]
    fn json_shape_matches_runc() {
        let mut s = Stats::default();
        s.cpu.usage.total = 5;
        s.memory.usage.limit = 9;
        s.pids.current = 1;
        s.blkio.io_queued_recursive.push(BlkioEntry {
            major: 8,
            op: "Read".into(),
            ..BlkioEntry::default()
        });
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "cpu": {"usage": {"total": 5, "kernel": 0, "user": 0}, "throttling": {}},
                "cpuset": {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0,
                           "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0,
                           "memory_pressure": 0, "sched_load_balance": 0, "sched_relax_domain_level": 0},
                "memory": {"usage": {"limit": 9, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                           "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}},
                "pids": {"current": 1},
                "blkio": {"ioQueueRecursive": [{"major": 8, "op": "Read"}]},
                "hugetlb": {},
                "intel_rdt": {},
                "network_interfaces": null
            })
        );
        let back: Stats = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn blkio_v1_lines() {
        let text = "8:0 Read 1282048\n8:0 Write 2195456\n8:16 6792\nTotal 3477504\n";
        let e = parse_blkio_v1(p(), text).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].major, e[0].minor, e[0].op.as_str(), e[0].value),
            (8, 0, "Read", 1282048)
        );
        assert_eq!((e[2].minor, e[2].op.as_str(), e[2].value), (16, "", 6792));
        assert!(parse_blkio_v1(p(), "8:0 Read x\n").is_err());
        assert!(parse_blkio_v1(p(), "garbage\n").is_err());
    }

    #[test]
    fn io_stat_v2() {
        let text = "8:0 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n253:1 rbytes=5\n";
        let b = parse_io_stat(p(), text).unwrap();
        assert_eq!(b.io_service_bytes_recursive.len(), 3);
        assert_eq!(b.io_serviced_recursive.len(), 2);
        assert_eq!(b.io_service_bytes_recursive[1].op, "Write");
        assert_eq!(b.io_service_bytes_recursive[2].major, 253);
    }

    #[test]
    fn keyed_and_cpuset_and_hugepages() {
        let kv = parse_flat_keyed(
            p(),
            "cache 10\nrss 20\nhierarchical_memory_limit 9223372036854771712\n",
        )
        .unwrap();
        assert_eq!(kv[1], ("rss".to_owned(), 20));
        assert!(parse_flat_keyed(p(), "cache\n").is_err());
        assert_eq!(parse_cpuset_list(p(), "0-2,5\n").unwrap(), [0, 1, 2, 5]);
        assert_eq!(parse_cpuset_list(p(), "\n").unwrap(), Vec::<u16>::new());
        assert!(parse_cpuset_list(p(), "3-1").is_err());
        assert_eq!(
            hugepage_sizes_from_names([
                "hugepages-1048576kB",
                "hugepages-2048kB",
                "hugepages-64kB",
                "x"
            ]),
            ["64KB", "2MB", "1GB"]
        );
    }
}
