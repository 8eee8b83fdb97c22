//! Resource limits through the docker CLI: limits reach the container's
//! cgroup (v1 or v2 files, read on the host), `update` changes them on a
//! running container, bad values get dockerd's errors and create nothing,
//! an OOM kill is reported (State.OOMKilled, exit 137, `oom` event), a
//! fork bomb stops at `--pids-limit`. Devices (throttles, cgroup rules)
//! are in `resources_devices`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::{Berthd, started};

/// A container's cgroup directories, found on the host from its init's
/// `/proc/<pid>/cgroup` and this process's mountinfo.
pub(crate) enum Cgroup {
    /// Directory per v1 controller.
    V1(BTreeMap<String, PathBuf>),
    /// The unified directory.
    V2(PathBuf),
}

impl Cgroup {
    pub(crate) fn of(pid: i64) -> Cgroup {
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read cgroup");
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
        // (root, mount point, controllers; empty for cgroup2)
        let mut mounts: Vec<(String, PathBuf, Vec<String>)> = Vec::new();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            match r[0] {
                "cgroup2" => mounts.push((l[3].into(), l[4].into(), Vec::new())),
                "cgroup" => mounts.push((
                    l[3].into(),
                    l[4].into(),
                    r[2].split(',').map(str::to_string).collect(),
                )),
                _ => {}
            }
        }
        let under = |root: &str, mp: &Path, path: &str| {
            let rel = path
                .strip_prefix(root.trim_end_matches('/'))
                .unwrap_or(path)
                .trim_start_matches('/');
            mp.join(rel)
        };
        let mut v1 = BTreeMap::new();
        let mut v2 = None;
        for line in own.lines() {
            let mut f = line.splitn(3, ':');
            let (_, ctrls, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
            if ctrls.is_empty() {
                if let Some((root, mp, _)) = mounts.iter().find(|m| m.2.is_empty()) {
                    v2 = Some(under(root, mp, path));
                }
                continue;
            }
            for ctrl in ctrls.split(',') {
                if let Some((root, mp, _)) = mounts.iter().find(|m| m.2.iter().any(|c| c == ctrl)) {
                    v1.insert(ctrl.to_string(), under(root, mp, path));
                }
            }
        }
        if v1.contains_key("memory") {
            Cgroup::V1(v1)
        } else {
            Cgroup::V2(v2.expect("a unified cgroup"))
        }
    }

    /// The trimmed content of `v1` (controller, file) or `v2` (file).
    pub(crate) fn read(&self, v1: (&str, &str), v2: &str) -> String {
        let path = match self {
            Cgroup::V1(dirs) => dirs[v1.0].join(v1.1),
            Cgroup::V2(dir) => dir.join(v2),
        };
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .trim()
            .to_string()
    }

    pub(crate) fn is_v1(&self) -> bool {
        matches!(self, Cgroup::V1(_))
    }
}

pub(crate) fn inspect(d: &Berthd, name: &str) -> Value {
    let out = d.docker(["inspect", name]).ok();
    let v: Value = serde_json::from_str(&out).expect("inspect prints JSON");
    v[0].clone()
}

pub(crate) fn pid_of(d: &Berthd, name: &str) -> i64 {
    inspect(d, name)["State"]["Pid"]
        .as_i64()
        .expect("State.Pid")
}

/// CPUs this process may run on, as the daemon counts them.
fn ncpu() -> u32 {
    let out = Command::new("nproc").output().expect("run nproc");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("nproc prints a number")
}

#[test]
fn limits_reach_the_cgroup_and_update_changes_them_live() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker([
        "run",
        "-d",
        "--name",
        "lim",
        "--memory",
        "32m",
        "--memory-reservation",
        "16m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "50",
        "--oom-score-adj",
        "100",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let pid = pid_of(&d, "lim");
    let cg = Cgroup::of(pid);
    let mb = |n: u64| (n << 20).to_string();
    assert_eq!(
        cg.read(("memory", "memory.limit_in_bytes"), "memory.max"),
        mb(32)
    );
    assert_eq!(
        cg.read(("memory", "memory.soft_limit_in_bytes"), "memory.low"),
        mb(16)
    );
    if cg.is_v1() {
        assert_eq!(cg.read(("cpu", "cpu.cfs_quota_us"), ""), "50000");
        assert_eq!(cg.read(("cpu", "cpu.cfs_period_us"), ""), "100000");
        assert_eq!(cg.read(("cpu", "cpu.shares"), ""), "512");
    } else {
        assert_eq!(cg.read(("", ""), "cpu.max"), "50000 100000");
    }
    assert_eq!(cg.read(("cpuset", "cpuset.cpus"), "cpuset.cpus"), "0");
    assert_eq!(cg.read(("pids", "pids.max"), "pids.max"), "50");
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
            .unwrap()
            .trim(),
        "100"
    );
    // dockerd's create-time defaults: swap as large as the memory.
    let hc = &inspect(&d, "lim")["HostConfig"];
    assert_eq!(hc["MemorySwap"], 64 << 20);
    assert_eq!(hc["OomKillDisable"], false);
    assert_eq!(hc["MemorySwappiness"], Value::Null);

    let cpus = if ncpu() > 1 { "0-1" } else { "0" };
    d.docker([
        "update",
        "--memory",
        "48m",
        "--memory-swap",
        "96m",
        "--cpus",
        "1.5",
        "--cpu-shares",
        "1024",
        "--cpuset-cpus",
        cpus,
        "--pids-limit",
        "20",
        "lim",
    ])
    .ok();
    assert_eq!(
        cg.read(("memory", "memory.limit_in_bytes"), "memory.max"),
        mb(48)
    );
    if cg.is_v1() {
        assert_eq!(cg.read(("cpu", "cpu.cfs_quota_us"), ""), "150000");
        assert_eq!(cg.read(("cpu", "cpu.shares"), ""), "1024");
    } else {
        assert_eq!(cg.read(("", ""), "cpu.max"), "150000 100000");
    }
    assert_eq!(cg.read(("cpuset", "cpuset.cpus"), "cpuset.cpus"), cpus);
    assert_eq!(cg.read(("pids", "pids.max"), "pids.max"), "20");
    let hc = &inspect(&d, "lim")["HostConfig"];
    assert_eq!(
        (
            &hc["Memory"],
            &hc["MemorySwap"],
            &hc["NanoCpus"],
            &hc["PidsLimit"]
        ),
        (
            &Value::from(48 << 20),
            &Value::from(96 << 20),
            &Value::from(1_500_000_000i64),
            &Value::from(20)
        )
    );

    // Refused updates, with dockerd's words, change nothing.
    let id = inspect(&d, "lim")["Id"].as_str().unwrap().to_string();
    for (args, message) in [
        (
            vec!["--memory", "4m"],
            "Minimum memory limit allowed is 6MB".to_string(),
        ),
        (
            vec!["--cpu-quota", "50000"],
            format!(
                "Cannot update container {id}: Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
            ),
        ),
        (
            vec!["--memory", "100m"],
            format!(
                "Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
            ),
        ),
        (
            vec!["--memory-reservation", "64m"],
            "Minimum memory limit can not be less than memory reservation limit, see usage"
                .to_string(),
        ),
        (
            vec!["--memory-swap", "40m"],
            "Minimum memoryswap limit should be larger than memory limit, see usage".to_string(),
        ),
        (
            vec!["--cpus", "1000"],
            format!(
                "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available",
                n = ncpu()
            ),
        ),
        (
            vec!["--cpuset-cpus", "0-8000"],
            "Requested CPUs are not available - requested 0-8000, available: ".to_string(),
        ),
    ] {
        let mut full = vec!["update"];
        full.extend(&args);
        full.push("lim");
        let err = d.docker(&full).fails();
        assert!(
            err.contains(&format!("Error response from daemon: {message}")),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        cg.read(("memory", "memory.limit_in_bytes"), "memory.max"),
        mb(48)
    );
    assert_eq!(inspect(&d, "lim")["HostConfig"]["Memory"], 48 << 20);
    // The conflict is a 409, as in dockerd.
    let r = d.request(
        "POST",
        "/containers/lim/update",
        &[("Content-Type", "application/json")],
        Some(br#"{"CpuPeriod":50000}"#),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    d.docker(["rm", "-f", "lim"]).ok();
}

#[test]
fn bad_limits_are_refused_at_create_with_dockers_errors() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let n = ncpu();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--cpuset-cpus", "0-8000"],
            "Requested CPUs are not available - requested 0-8000, available: ".into(),
        ),
        (
            vec!["--cpuset-cpus", "0-x"],
            "Invalid value 0-x for cpuset cpus: invalid format: 0-x".into(),
        ),
        (
            vec!["--cpuset-mems", "0-300"],
            "Requested memory nodes are not available - requested 0-300, available: ".into(),
        ),
        (
            vec!["--cpu-period", "500"],
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        ),
        (
            vec!["--cpu-quota", "500"],
            "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
        ),
        (
            vec!["--cpus", "1000"],
            format!("Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"),
        ),
        (
            vec!["--cpus", "1", "--cpu-period", "100000"],
            "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
        ),
        (
            vec!["--memory", "10m", "--memory-reservation", "20m"],
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        ),
        (
            vec!["--memory", "4m"],
            "Minimum memory limit allowed is 6MB".into(),
        ),
        (
            vec!["--memory-reservation", "4m"],
            "Minimum memory reservation allowed is 6MB".into(),
        ),
        (
            vec!["--memory", "10m", "--memory-swap", "5m"],
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        ),
        (
            vec!["--memory-swap", "20m"],
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        ),
        (
            vec!["--oom-score-adj", "1001"],
            "Invalid value 1001, range for oom score adj is [-1000, 1000]".into(),
        ),
    ];
    for (args, message) in cases {
        let mut full = vec!["create"];
        full.extend(&args);
        full.extend(["busybox", "true"]);
        let err = d.docker(&full).fails();
        assert!(
            err.contains(&format!("Error response from daemon: {message}")),
            "{args:?}: {err}"
        );
    }
    // A blkio weight is range-checked where the kernel has weights, and
    // discarded with dockerd's warning where it has none.
    let run = d.docker(["create", "--blkio-weight", "5", "busybox", "true"]);
    if run.out.status.success() {
        assert!(
            run.stderr().contains(
                "WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
            ),
            "{}",
            run.stderr()
        );
        d.docker(["rm", run.stdout().trim()]).ok();
    } else {
        assert!(
            run.stderr()
                .contains("Error response from daemon: Range of blkio weight is from 10 to 1000"),
            "{}",
            run.stderr()
        );
    }

    // What the CLI checks itself, sent raw: the daemon refuses it too.
    for (host_config, message) in [
        (
            r#"{"MemorySwappiness":101}"#,
            "Invalid value: 101, valid memory swappiness range is 0-100",
        ),
        (
            r#"{"DeviceCgroupRules":["a"]}"#,
            "invalid device cgroup rule format: 'a'",
        ),
        (
            r#"{"BlkioWeightDevice":[{"Path":"/dev/null","Weight":5}]}"#,
            "invalid weight for device: /dev/null:5",
        ),
        (
            r#"{"IOMaximumIOps":5}"#,
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps",
        ),
    ] {
        let body = format!(r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{host_config}}}"#);
        let r = d.request(
            "POST",
            "/containers/create",
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 400, "{host_config}: {}", r.text());
        assert_eq!(r.json()["message"], message, "{host_config}");
    }
    assert_eq!(d.docker(["ps", "-aq"]).ok(), "", "nothing was created");
}

#[test]
fn a_process_past_its_memory_limit_is_oom_killed_and_reported() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let since = unix_now();
    // dd's 64 MiB buffer is touched by the read from /dev/zero: far past
    // 8 MiB of memory and 8 MiB of swap.
    let run = d.docker([
        "run",
        "--name",
        "hog",
        "--memory",
        "8m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    assert_eq!(run.code(), Some(137), "{}", run.stderr());
    let state = &inspect(&d, "hog")["State"];
    assert_eq!(state["OOMKilled"], true, "{state}");
    assert_eq!(state["ExitCode"], 137);
    let until = (unix_now() + 1).to_string();
    let events = d
        .docker([
            "events",
            "--since",
            &since.to_string(),
            "--until",
            &until,
            "--filter",
            "container=hog",
            "--format",
            "{{.Action}}",
        ])
        .ok();
    let actions: Vec<&str> = events.lines().collect();
    let oom = actions.iter().position(|a| *a == "oom");
    let die = actions.iter().position(|a| *a == "die");
    assert!(
        oom.is_some() && die.is_some() && oom < die,
        "oom before die: {actions:?}"
    );
    // A process within its limit is not reported.
    d.docker([
        "run",
        "--name",
        "fine",
        "--memory",
        "64m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=1M",
        "count=1",
    ])
    .ok();
    assert_eq!(inspect(&d, "fine")["State"]["OOMKilled"], false);
}

/// Unix seconds now.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    // A subshell forks until refused (a failed fork ends it); then the
    // container's processes are counted with shell builtins only.
    let script =
        "(i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done); set -- /proc/[0-9]*; echo $#";
    let run = d.docker([
        "run",
        "--rm",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let count: usize = run
        .stdout()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("count: {:?} / {:?}", run.stdout(), run.stderr()));
    assert!(count <= 10, "{count} processes under a limit of 10");
    assert!(
        run.stderr().contains("Resource temporarily unavailable"),
        "forks were refused: {}",
        run.stderr()
    );
}
