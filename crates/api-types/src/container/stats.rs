//! The items of `GET /containers/{id}/stats` (Go `types.StatsJSON`), one JSON object per
//! line when streaming. Names are snake_case on this endpoint, unlike the rest of the API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::de::{ZERO_TIME, is_empty_str, is_none_or_empty, is_zero_u64};

/// One stats sample of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsResponse {
    /// When this sample was read (RFC 3339 with nanoseconds).
    pub read: String,
    /// When the previous sample was read; Go's zero time for the first one.
    pub preread: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub num_procs: u32,
    pub storage_stats: StorageStats,
    pub cpu_stats: CpuStats,
    /// The previous sample's CPU stats (the client computes the CPU % from both).
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    /// The container's name with its leading slash.
    #[serde(skip_serializing_if = "is_empty_str")]
    pub name: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub id: String,
    /// Interface name -> counters.
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub networks: Option<BTreeMap<String, NetworkStats>>,
}

impl Default for StatsResponse {
    fn default() -> Self {
        StatsResponse {
            read: ZERO_TIME.to_string(),
            preread: ZERO_TIME.to_string(),
            pids_stats: PidsStats::default(),
            blkio_stats: BlkioStats::default(),
            num_procs: 0,
            storage_stats: StorageStats::default(),
            cpu_stats: CpuStats::default(),
            precpu_stats: CpuStats::default(),
            memory_stats: MemoryStats::default(),
            name: String::new(),
            id: String::new(),
            networks: None,
        }
    }
}

/// Number of processes in the container's pids cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub limit: u64,
}

/// Block IO counters (cgroup v1 blkio files, recursive variants); `null` lists when the
/// controller reports nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_serviced_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_queue_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_service_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_wait_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_merged_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub sectors_recursive: Option<Vec<BlkioStatEntry>>,
}

/// One line of a blkio file: a device, an operation (`Read`, `Write`, ...) and a value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStatEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// Windows-only storage counters; always empty (`{}`) on Linux.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageStats {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub read_count_normalized: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub read_size_bytes: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub write_count_normalized: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub write_size_bytes: u64,
}

/// CPU counters of the container and of the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    /// Host CPU time in nanoseconds (from /proc/stat), for the percentage's denominator.
    #[serde(rename = "system_cpu_usage", skip_serializing_if = "is_zero_u64")]
    pub system_cpu_usage: u64,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub online_cpus: u32,
    pub throttling_data: ThrottlingData,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// The container's CPU time in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    pub total_usage: u64,
    /// Per CPU (cgroup v1 only).
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub percpu_usage: Option<Vec<u64>>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

/// CFS throttling counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottlingData {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

/// Memory counters; `stats` holds the raw memory.stat keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub max_usage: u64,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub stats: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub failcnt: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub limit: u64,
}

/// Counters of one network interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub endpoint_id: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub instance_id: String,
}
