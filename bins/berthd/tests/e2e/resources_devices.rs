//! Device resources through the docker CLI: device throttles slow reads
//! of a loop device the test makes (and reach the cgroup files), and
//! `--device-cgroup-rule` opens a device to the container.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{Berthd, started};
use crate::resources::{Cgroup, inspect, pid_of};

/// A read-only loop device over a temp file, detached on drop (its IO
/// scheduler put back first, when a test changed it).
struct Loop {
    dev: String,
    scheduler: Option<String>,
    _file: tempfile::NamedTempFile,
}

impl Loop {
    fn new(content: &[u8]) -> Loop {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), content).expect("write backing file");
        let out = Command::new("losetup")
            .args(["--find", "--show", "--read-only"])
            .arg(file.path())
            .output()
            .expect("run losetup");
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Loop {
            dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            scheduler: None,
            _file: file,
        }
    }

    fn scheduler_file(&self) -> PathBuf {
        let name = Path::new(&self.dev).file_name().unwrap().to_string_lossy();
        PathBuf::from(format!("/sys/class/block/{name}/queue/scheduler"))
    }

    /// Switches the device to the BFQ scheduler (per-device weights need
    /// it); false when the kernel has no BFQ.
    fn use_bfq(&mut self) -> bool {
        let file = self.scheduler_file();
        let Ok(current) = std::fs::read_to_string(&file) else {
            return false;
        };
        // "[none] mq-deadline kyber bfq": the bracketed one is in use.
        let in_use = current
            .split_whitespace()
            .find_map(|s| s.strip_prefix('[')?.strip_suffix(']'))
            .unwrap_or("none")
            .to_string();
        if std::fs::write(&file, "bfq").is_err() {
            return false;
        }
        self.scheduler = Some(in_use);
        true
    }

    /// "major:minor".
    fn numbers(&self) -> String {
        let name = Path::new(&self.dev).file_name().unwrap().to_string_lossy();
        std::fs::read_to_string(format!("/sys/class/block/{name}/dev"))
            .expect("read the device numbers")
            .trim()
            .to_string()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        if let Some(old) = &self.scheduler {
            let _ = std::fs::write(self.scheduler_file(), old);
        }
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// How long `docker exec <name> dd` takes to read 3 MiB of the device
/// with O_DIRECT (the page cache would hide the throttle).
fn timed_read(d: &Berthd, name: &str) -> Duration {
    let t = Instant::now();
    d.docker([
        "exec",
        name,
        "dd",
        "if=/dev/blk",
        "of=/dev/null",
        "bs=64k",
        "count=48",
        "iflag=direct",
    ])
    .ok();
    t.elapsed()
}

#[test]
fn device_throttles_reach_the_cgroup_and_slow_reads() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let lo = Loop::new(&vec![7u8; 4 << 20]);
    let numbers = lo.numbers();
    let device = format!("{}:/dev/blk:r", lo.dev);
    d.docker([
        "run",
        "-d",
        "--name",
        "slow",
        "--device",
        &device,
        "--device-read-bps",
        &format!("{}:1mb", lo.dev),
        "--device-write-bps",
        &format!("{}:2mb", lo.dev),
        "--device-read-iops",
        &format!("{}:1000", lo.dev),
        "--device-write-iops",
        &format!("{}:5", lo.dev),
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    d.docker([
        "run", "-d", "--name", "fast", "--device", &device, "busybox", "sleep", "1000",
    ])
    .ok();
    let cg = Cgroup::of(pid_of(&d, "slow"));
    match &cg {
        Cgroup::V1(_) => {
            for (file, value) in [
                ("blkio.throttle.read_bps_device", "1048576"),
                ("blkio.throttle.write_bps_device", "2097152"),
                ("blkio.throttle.read_iops_device", "1000"),
                ("blkio.throttle.write_iops_device", "5"),
            ] {
                assert_eq!(
                    cg.read(("blkio", file), ""),
                    format!("{numbers} {value}"),
                    "{file}"
                );
            }
        }
        Cgroup::V2(_) => assert_eq!(
            cg.read(("", ""), "io.max"),
            format!("{numbers} rbps=1048576 wbps=2097152 riops=1000 wiops=5")
        ),
    }
    let slow = timed_read(&d, "slow");
    let fast = timed_read(&d, "fast");
    // 3 MiB at 1 MiB/s: about 3 s (the first slice may run ahead).
    assert!(
        slow >= Duration::from_millis(1800),
        "throttled read took {slow:?}"
    );
    assert!(
        fast < Duration::from_millis(1500),
        "unthrottled read took {fast:?}"
    );

    // An update through the API throttles the other container too.
    let body = format!(
        r#"{{"BlkioDeviceReadBps":[{{"Path":"{}","Rate":1048576}}]}}"#,
        lo.dev
    );
    let r = d.request(
        "POST",
        "/containers/fast/update",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let now_slow = timed_read(&d, "fast");
    assert!(
        now_slow >= Duration::from_millis(1800),
        "updated read took {now_slow:?}"
    );
    assert_eq!(
        inspect(&d, "fast")["HostConfig"]["BlkioDeviceReadBps"][0]["Rate"],
        1048576
    );

    d.docker(["rm", "-f", "slow", "fast"]).ok();

    // Weights: the whole container's, and one for the device (BFQ's
    // per-device weights need the device to use BFQ).
    let mut lo = lo;
    let bfq = lo.use_bfq();
    let run = d.docker([
        "run",
        "-d",
        "--name",
        "weighted",
        "--blkio-weight",
        "300",
        "--blkio-weight-device",
        &format!("{}:200", lo.dev),
        "busybox",
        "sleep",
        "1000",
    ]);
    let out = run.ok();
    let discarded = run.stderr().contains("Weight discarded.");
    if !discarded {
        assert!(bfq, "weights accepted on a kernel without BFQ: {out}");
        let cg = Cgroup::of(pid_of(&d, "weighted"));
        let device_line = format!("{numbers} 200");
        match &cg {
            Cgroup::V1(dirs) if dirs["blkio"].join("blkio.weight").exists() => {
                assert_eq!(cg.read(("blkio", "blkio.weight"), ""), "300");
                let devices = cg.read(("blkio", "blkio.weight_device"), "");
                assert!(devices.contains(&device_line), "{devices}");
            }
            Cgroup::V1(_) => {
                assert_eq!(cg.read(("blkio", "blkio.bfq.weight"), ""), "300");
                let devices = cg.read(("blkio", "blkio.bfq.weight_device"), "");
                assert!(devices.lines().any(|l| l == device_line), "{devices}");
            }
            Cgroup::V2(_) => {
                let weights = cg.read(("", ""), "io.bfq.weight");
                assert!(weights.lines().any(|l| l == "default 300"), "{weights}");
                assert!(weights.lines().any(|l| l == device_line), "{weights}");
            }
        }
    }
    d.docker(["rm", "-f", "weighted"]).ok();

    // A missing device fails the start with dockerd's stat error.
    let err = d
        .docker([
            "run",
            "--device-read-bps",
            "/dev/berth-no-such-disk:1mb",
            "busybox",
            "true",
        ])
        .fails();
    assert!(
        err.contains("stat /dev/berth-no-such-disk: no such file or directory"),
        "{err}"
    );
}

#[test]
fn device_cgroup_rules_open_a_device_to_the_container() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    // A loop device's size is whole 512-byte sectors of its file.
    let mut content = b"berth device rule".to_vec();
    content.resize(4096, b'\n');
    let lo = Loop::new(&content);
    let (major, minor) = {
        let n = lo.numbers();
        let (a, b) = n.split_once(':').unwrap();
        (a.to_string(), b.to_string())
    };
    // mknod of any block device is allowed by the runtime's defaults;
    // opening it is what a rule grants.
    let script = format!("mknod /dev/blk b {major} {minor} && head -c 17 /dev/blk");
    let run = |rules: &[&str]| {
        let mut args = vec!["run", "--rm"];
        for r in rules {
            args.extend(["--device-cgroup-rule", r]);
        }
        args.extend(["busybox", "sh", "-c", &script]);
        d.docker(&args)
    };
    let denied = run(&[]);
    assert!(
        !denied.out.status.success() && denied.stderr().contains("Operation not permitted"),
        "without a rule: {} / {}",
        denied.stdout(),
        denied.stderr()
    );
    let exact = format!("b {major}:{minor} r");
    assert_eq!(run(&[&exact]).ok(), "berth device rule");
    assert_eq!(run(&["b *:* rwm"]).ok(), "berth device rule");
    let mknod_only = format!("b {major}:* m");
    let err = run(&[&mknod_only]).fails();
    assert!(err.contains("Operation not permitted"), "{err}");

    // Kept in the container's config, as docker shows it.
    d.docker([
        "create",
        "--name",
        "ruled",
        "--device-cgroup-rule",
        "c 1:3 mr",
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(
        inspect(&d, "ruled")["HostConfig"]["DeviceCgroupRules"],
        serde_json::json!(["c 1:3 mr"])
    );
}
