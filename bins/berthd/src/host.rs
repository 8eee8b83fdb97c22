//! Facts about the host that `/version` and `/info` report, read from
//! /proc and /sys (no process is spawned per request except the runtime's
//! `--version`, once).

use std::path::Path;

/// Go's GOARCH name for the machine (`docker version` shows it).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

fn read_trim(p: &str) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub fn kernel_version() -> String {
    read_trim("/proc/sys/kernel/osrelease")
}

pub fn hostname() -> String {
    read_trim("/proc/sys/kernel/hostname")
}

/// The `uname -m` name, which `docker info` shows as Architecture.
pub fn machine() -> &'static str {
    std::env::consts::ARCH
}

/// (PRETTY_NAME, VERSION_ID) from os-release(5).
pub fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let mut pretty = String::new();
    let mut version = String::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_string();
        match k.trim() {
            "PRETTY_NAME" => pretty = v,
            "VERSION_ID" => version = v,
            _ => {}
        }
    }
    if pretty.is_empty() {
        pretty = "Linux".to_string();
    }
    (pretty, version)
}

/// MemTotal from /proc/meminfo, in bytes.
pub fn mem_total() -> i64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// CPUs this process may run on (Go's runtime.NumCPU, which dockerd reports,
/// also honours the affinity mask).
pub fn ncpu() -> i64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1)
}

/// Open file descriptors of this process.
pub fn open_fds() -> i64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as i64)
        .unwrap_or(0)
}

/// Threads of this process (reported where dockerd reports goroutines).
pub fn threads() -> i64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// What the cgroup hierarchy lets the daemon limit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CgroupFeatures {
    /// "1" (v1 or hybrid) or "2" (unified).
    pub version: String,
    pub memory: bool,
    pub swap: bool,
    pub oom_kill_disable: bool,
    pub cpu_cfs: bool,
    pub cpu_shares: bool,
    pub cpuset: bool,
    pub pids: bool,
}

/// Probes /sys/fs/cgroup. On v1 (including the hybrid layout, where the
/// v2 mount has no controllers) each controller has its own directory;
/// on v2 the root's cgroup.controllers lists them.
pub fn cgroup_features() -> CgroupFeatures {
    cgroup_features_at(Path::new("/sys/fs/cgroup"))
}

fn cgroup_features_at(root: &Path) -> CgroupFeatures {
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers"));
    if let Ok(list) = controllers {
        let has = |c: &str| list.split_whitespace().any(|x| x == c);
        return CgroupFeatures {
            version: "2".to_string(),
            memory: has("memory"),
            // v2 accounts swap with the memory controller.
            swap: has("memory"),
            oom_kill_disable: false,
            cpu_cfs: has("cpu"),
            cpu_shares: has("cpu"),
            cpuset: has("cpuset"),
            pids: has("pids"),
        };
    }
    let f = |p: &str| root.join(p).exists();
    CgroupFeatures {
        version: "1".to_string(),
        memory: f("memory/memory.limit_in_bytes"),
        swap: f("memory/memory.memsw.limit_in_bytes"),
        oom_kill_disable: f("memory/memory.oom_control"),
        cpu_cfs: f("cpu/cpu.cfs_period_us") && f("cpu/cpu.cfs_quota_us"),
        cpu_shares: f("cpu/cpu.shares"),
        cpuset: f("cpuset/cpuset.cpus"),
        pids: f("pids"),
    }
}

/// `/proc/sys` switches shown by `docker info` (true when "1").
pub fn sysctl_on(path: &str) -> bool {
    read_trim(path) == "1"
}

/// The version line of an OCI runtime (`runc --version`): (version, commit).
pub fn runtime_version(path: &Path) -> (String, String) {
    let out = std::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(out) = out else {
        return (String::new(), String::new());
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut version = String::new();
    let mut commit = String::new();
    for line in text.lines() {
        if let Some(v) = line
            .split(" version ")
            .nth(1)
            .filter(|_| version.is_empty())
        {
            version = v.trim().to_string();
        } else if let Some(c) = line.strip_prefix("commit:") {
            commit = c.trim().to_string();
        }
    }
    (version, commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_controllers_are_found_per_directory() {
        let d = tempfile::tempdir().unwrap();
        for f in ["memory/memory.limit_in_bytes", "cpu/cpu.shares", "pids/x"] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let c = cgroup_features_at(d.path());
        assert_eq!(c.version, "1");
        assert!(c.memory && c.cpu_shares && c.pids);
        assert!(!c.swap && !c.cpu_cfs && !c.cpuset);
    }

    #[test]
    fn v2_controllers_come_from_the_root_list() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cgroup.controllers"), "cpuset cpu pids\n").unwrap();
        let c = cgroup_features_at(d.path());
        assert_eq!(c.version, "2");
        assert!(c.cpuset && c.cpu_cfs && c.pids && !c.memory);
    }

    #[test]
    fn host_facts_are_readable() {
        assert!(!kernel_version().is_empty());
        assert!(mem_total() > 0);
        assert!(ncpu() >= 1);
        assert!(threads() >= 1);
        assert!(open_fds() >= 3);
    }
}
