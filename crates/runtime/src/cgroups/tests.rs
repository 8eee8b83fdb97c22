//! Root tests on the real host: real cgroups, real processes. Each test
//! works under its own top-level cgroup name and removes it (in every
//! hierarchy) when it ends, also on failure, so tests run in parallel.

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::devices::runc_device_rules;
use super::*;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique top-level cgroup name for one test.
fn unique_name() -> String {
    format!(
        "berth-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Kills the test's processes and removes its cgroups when dropped.
struct Guard {
    /// `<mountpoint>/<unique name>` in every hierarchy the test uses.
    tops: Vec<PathBuf>,
    children: Vec<Child>,
}

impl Guard {
    fn new(cg: &Cgroup, top: &str) -> Guard {
        let mut tops: Vec<PathBuf> = cg
            .config()
            .mountpoints
            .values()
            .map(|m| m.join(top))
            .collect();
        tops.dedup();
        Guard {
            tops,
            children: Vec::new(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // A frozen cgroup would keep its killed tasks around: thaw first.
        for top in &self.tops {
            for file in ["freezer.state", "cgroup.freeze"] {
                let _ = std::fs::write(
                    top.join(file),
                    if file == "cgroup.freeze" {
                        "0"
                    } else {
                        "THAWED"
                    },
                );
            }
        }
        let tops: Vec<&Path> = self.tops.iter().map(PathBuf::as_path).collect();
        if let Err(e) = fsutil::remove_all(&tops) {
            eprintln!("test cleanup: {e}");
        }
    }
}

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
        .trim()
        .to_owned()
}

/// The runc device list for a spec that denies everything itself.
fn locked_down_devices() -> Vec<LinuxDeviceCgroup> {
    let mut deny_all = LinuxDeviceCgroup::default();
    deny_all.set_allow(false);
    deny_all.set_access(Some("rwm".to_owned()));
    runc_device_rules(&[deny_all], &[])
}

fn with_devices(mut r: LinuxResources, devices: Vec<LinuxDeviceCgroup>) -> LinuxResources {
    r.set_devices(Some(devices));
    r
}

/// Starts `sh -c script` paused on stdin, moves it into `cg`, lets it run,
/// and returns its output.
fn run_in(cg: &Cgroup, script: &str) -> String {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("read go; {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let joined = cg.add_process(child.id() as i32);
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(b"go\n");
    drop(stdin);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child.wait().unwrap();
    joined.unwrap();
    out
}

/// A script that reports whether /dev/kmsg (not in runc's default list)
/// and /dev/null (in it) can be opened.
const PROBE_DEVICES: &str = "( exec 3</dev/kmsg ) 2>/dev/null && echo kmsg-open || echo kmsg-denied; \
                             ( : >/dev/null ) && echo null-open";

fn host_is_v1() -> bool {
    !matches!(detect().unwrap(), Layout::Unified { .. })
}

#[test]
fn lifecycle_on_this_host() {
    let top = unique_name();
    // A nested path: the parent is created too (and, for cpuset, filled).
    let cg = Cgroup::new(Some(&format!("/{top}/ctr")), "ignored", false).unwrap();
    let mut guard = Guard::new(&cg, &top);
    let cfg = cg.config();
    assert_eq!(Cgroup::from_config(&cfg), cg);
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<CgroupConfig>(&json).unwrap(), cfg);

    cg.create().unwrap();
    for p in cfg.paths.values() {
        assert!(p.is_dir(), "{} missing", p.display());
    }

    let mb = 1 << 20;
    let limits = res(&format!(
        r#"{{"memory": {{"limit": {}, "swap": {}, "reservation": {}}},
             "cpu": {{"shares": 512, "quota": 20000, "period": 100000}},
             "pids": {{"limit": 32}}}}"#,
        64 * mb,
        128 * mb,
        32 * mb
    ));
    cg.apply(&with_devices(limits, locked_down_devices()))
        .unwrap();

    let v1 = cfg.version == CgroupVersion::V1;
    if v1 {
        let mem = cg.path("memory").unwrap();
        assert_eq!(read(mem, "memory.limit_in_bytes"), (64 * mb).to_string());
        assert_eq!(
            read(mem, "memory.soft_limit_in_bytes"),
            (32 * mb).to_string()
        );
        let memsw = mem.join("memory.memsw.limit_in_bytes").exists();
        if memsw {
            assert_eq!(
                read(mem, "memory.memsw.limit_in_bytes"),
                (128 * mb).to_string()
            );
        }
        let cpu = cg.path("cpu").unwrap();
        assert_eq!(read(cpu, "cpu.shares"), "512");
        assert_eq!(read(cpu, "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(cg.path("pids").unwrap(), "pids.max"), "32");
        let list = read(cg.path("devices").unwrap(), "devices.list");
        assert!(list.contains("c 1:3 rwm"), "{list}");
        assert!(!list.contains("a *:* rwm"), "{list}");
        // The cpuset cgroup and its new parent got cpus and mems.
        if let Some(cpuset) = cg.path("cpuset") {
            let root = &cfg.mountpoints["cpuset"];
            assert_eq!(read(cpuset, "cpuset.cpus"), read(root, "cpuset.cpus"));
            assert_eq!(
                read(cpuset.parent().unwrap(), "cpuset.mems"),
                read(root, "cpuset.mems")
            );
        }

        // Lowering needs memory before memsw, raising memsw before memory;
        // the wrong order fails with EINVAL.
        for (m, s) in [(32 * mb, 48 * mb), (256 * mb, 512 * mb)] {
            let r = res(&format!(r#"{{"memory": {{"limit": {m}, "swap": {s}}}}}"#));
            cg.apply(&r).unwrap();
            assert_eq!(read(mem, "memory.limit_in_bytes"), m.to_string());
            if memsw {
                assert_eq!(read(mem, "memory.memsw.limit_in_bytes"), s.to_string());
            }
        }
        // An update with the same device rules writes nothing.
        cg.apply(&with_devices(
            LinuxResources::default(),
            locked_down_devices(),
        ))
        .unwrap();
    } else {
        let d = cg.path(UNIFIED_KEY).unwrap();
        assert_eq!(read(d, "memory.max"), (64 * mb).to_string());
        assert_eq!(read(d, "memory.low"), (32 * mb).to_string());
        assert_eq!(read(d, "cpu.weight"), "20");
        assert_eq!(read(d, "cpu.max"), "20000 100000");
        assert_eq!(read(d, "pids.max"), "32");
    }

    // A process joins every hierarchy, then burns some cpu and execs sleep
    // (memory charged after joining counts in the cgroup).
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("read go; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo ran; exec sleep 30")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    guard.children.push(child);
    cg.add_process(pid).unwrap();
    stdin.write_all(b"go\n").unwrap();
    let mut ran = [0u8; 4];
    stdout.read_exact(&mut ran).unwrap();
    assert_eq!(&ran, b"ran\n");
    assert_eq!(cg.pids().unwrap(), [pid]);
    let own =
        detect::parse_proc_cgroup(&std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap())
            .unwrap();
    let expect = format!("/{top}/ctr");
    for key in cfg.paths.keys() {
        let seen = if key.is_empty() {
            own.unified.clone()
        } else {
            own.v1.get(key).cloned()
        };
        assert_eq!(seen.as_deref(), Some(expect.as_str()), "hierarchy {key:?}");
    }

    // Freeze and thaw.
    assert!(!cg.is_frozen().unwrap());
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    if v1 {
        assert_eq!(read(cg.path("freezer").unwrap(), "freezer.state"), "FROZEN");
    } else {
        assert!(read(cg.path(UNIFIED_KEY).unwrap(), "cgroup.events").contains("frozen 1"));
    }
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());

    // Stats.
    let stats = cg.stats().unwrap();
    assert_eq!(stats.pids.current, 1);
    assert_eq!(stats.pids.limit, 32);
    assert!(stats.memory.usage.usage > 0);
    assert!(stats.cpu.usage.total > 0);
    let limit = if v1 { 256 * mb } else { 64 * mb };
    assert_eq!(stats.memory.usage.limit, limit as u64);
    assert!(!stats.memory.raw.is_empty());
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["pids"], serde_json::json!({"current": 1, "limit": 32}));
    assert_eq!(cg.oom_kill_count().unwrap(), 0);

    // The cgroup cannot go while the process is in it...
    let mut child = guard.children.pop().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    // ...and goes right after it exited.
    cg.destroy().unwrap();
    for p in cfg.paths.values() {
        assert!(!p.exists(), "{} still exists", p.display());
    }
    // Destroying again is fine.
    cg.destroy().unwrap();
}

#[test]
fn device_rules_are_enforced() {
    let top = unique_name();
    let cg = Cgroup::new(Some(&format!("/{top}")), "x", false).unwrap();
    let _guard = Guard::new(&cg, &top);
    cg.create().unwrap();
    let before = run_in(&cg, PROBE_DEVICES);
    assert!(before.contains("kmsg-open"), "{before}");

    cg.apply(&with_devices(
        LinuxResources::default(),
        locked_down_devices(),
    ))
    .unwrap();
    let out = run_in(&cg, PROBE_DEVICES);
    assert!(out.contains("kmsg-denied"), "{out}");
    assert!(out.contains("null-open"), "{out}");

    // An update that allows /dev/kmsg takes effect.
    let mut kmsg = LinuxDeviceCgroup::default();
    kmsg.set_allow(true);
    kmsg.set_typ(Some(LinuxDeviceType::C));
    kmsg.set_major(Some(1));
    kmsg.set_minor(Some(11));
    kmsg.set_access(Some("r".to_owned()));
    let mut rules = locked_down_devices();
    rules.push(kmsg);
    cg.apply(&with_devices(LinuxResources::default(), rules))
        .unwrap();
    let out = run_in(&cg, PROBE_DEVICES);
    assert!(out.contains("kmsg-open"), "{out}");
}

#[test]
fn cpu_shares_clamped_by_the_kernel_are_errors() {
    if !host_is_v1() {
        return; // cpu.shares is v1 only; v2 converts to cpu.weight.
    }
    let top = unique_name();
    let cg = Cgroup::new(Some(&format!("/{top}")), "x", false).unwrap();
    let _guard = Guard::new(&cg, &top);
    cg.create().unwrap();
    let err = cg.apply(&res(r#"{"cpu": {"shares": 1}}"#)).unwrap_err();
    assert!(
        matches!(err, CgroupError::CpuSharesBelowMin { effective: 2, .. }),
        "{err}"
    );
    let err = cg
        .apply(&res(r#"{"cpu": {"shares": 1000000}}"#))
        .unwrap_err();
    assert!(
        matches!(
            err,
            CgroupError::CpuSharesAboveMax {
                effective: 262144,
                ..
            }
        ),
        "{err}"
    );
    // Limits of a controller that is not mounted are refused, not dropped.
    if cg.path("hugetlb").is_none() {
        let err = cg
            .apply(&res(
                r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]}"#,
            ))
            .unwrap_err();
        assert!(
            matches!(err, CgroupError::ControllerNotMounted { .. }),
            "{err}"
        );
    }
    let err = cg
        .apply(&res(r#"{"unified": {"memory.high": "1"}}"#))
        .unwrap_err();
    assert!(matches!(err, CgroupError::UnifiedOnV1), "{err}");
}

/// The v2 code paths, on the cgroup2 mount of a hybrid host. Its root
/// delegates no controllers here, and enabling any would change the host's
/// root cgroup, so creation skips that step; what v2 does without
/// controllers (membership, freezer, cpu.stat, device filters) is real.
#[test]
fn unified_hierarchy_of_a_hybrid_host() {
    let Layout::Hybrid { unified, .. } = detect().unwrap() else {
        return; // v1 without cgroup2, or v2 (covered by the lifecycle test).
    };
    let top = unique_name();
    let layout = Layout::Unified { unified };
    let cg = Cgroup::with_layout(
        &layout,
        &own_cgroups().unwrap(),
        Some(&format!("/{top}/ctr")),
        "x",
    )
    .unwrap();
    let mut guard = Guard::new(&cg, &top);
    assert_eq!(cg.config().version, CgroupVersion::V2);
    v2::create(&cg.config(), false).unwrap();
    let dir = cg.path(UNIFIED_KEY).unwrap().to_owned();
    assert!(dir.is_dir());

    let child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id() as i32;
    guard.children.push(child);
    cg.add_process(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), [pid]);

    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    assert!(read(&dir, "cgroup.events").contains("frozen 1"));
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());

    let stats = cg.stats().unwrap();
    assert_eq!(stats.pids.current, 1);
    // A controller that is not enabled cannot take limits.
    let err = cg.apply(&res(r#"{"pids": {"limit": 10}}"#)).unwrap_err();
    assert!(matches!(err, CgroupError::Write { .. }), "{err}");
    let err = cg
        .apply(&res(r#"{"unified": {"pids.max": "10"}}"#))
        .unwrap_err();
    assert!(
        matches!(err, CgroupError::UnifiedControllerUnavailable { .. }),
        "{err}"
    );

    let mut child = guard.children.pop().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    // Device filter: eBPF on the v2 cgroup, enforced even though the v1
    // devices cgroup of the process allows everything.
    cg.apply(&with_devices(
        LinuxResources::default(),
        locked_down_devices(),
    ))
    .unwrap();
    let out = run_in(&cg, PROBE_DEVICES);
    assert!(out.contains("kmsg-denied"), "{out}");
    assert!(out.contains("null-open"), "{out}");
    // An update replaces the filter rather than adding a second one.
    let mut all = LinuxDeviceCgroup::default();
    all.set_allow(true);
    all.set_access(Some("rwm".to_owned()));
    cg.apply(&with_devices(LinuxResources::default(), vec![all]))
        .unwrap();
    let out = run_in(&cg, PROBE_DEVICES);
    assert!(out.contains("kmsg-open"), "{out}");

    cg.destroy().unwrap();
    assert!(!dir.exists());
}
