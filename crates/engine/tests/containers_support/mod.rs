//! Shared fixtures of the container tests: an engine on temp roots with
//! the workspace's `berth-runc` and `berth-shim` (and the reference runc as
//! runtime "runc"), a busybox image, and the checks that a test left
//! nothing behind. Each test binary uses a part of it.

#![allow(dead_code)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_api_types::container::{Config, CreateRequest, HostConfig};
use berth_engine::containers::{ListOptions, LogOptions, LogStream, WaitCondition};
use berth_engine::{Engine, EngineConfig, RuntimeSpec};
use berth_shim_proto::Stream;
use berth_shim_proto::frame::FrameDecoder;
use tokio::io::AsyncReadExt;

/// A guard against hangs, not a performance figure.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A binary of this workspace, from the target directory.
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    for profile in ["debug", "release"] {
        let p = target.join(profile).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not built: run `cargo build -p berth-runc -p berth-shim` first");
}

pub fn config(root: &Path) -> EngineConfig {
    // The exec root is the temp dir itself: the shim's socket paths under
    // it must stay within the 108 bytes of a socket address (unix(7)).
    let mut cfg = EngineConfig::with_roots(root.join("data"), root.to_path_buf());
    // No host networking for these tests: a bridge of the host's would be
    // shared between test engines (the e2e tests give each daemon its own).
    cfg.bridge.bridge = "none".to_string();
    cfg.runtimes.clear();
    cfg.runtimes.insert(
        "berth-runc".to_string(),
        RuntimeSpec {
            path: binary("berth-runc"),
            args: Vec::new(),
        },
    );
    // The reference runtime, for what berth-runc does differently.
    cfg.runtimes.insert(
        "runc".to_string(),
        RuntimeSpec {
            path: PathBuf::from("runc"),
            args: Vec::new(),
        },
    );
    cfg.default_runtime = "berth-runc".to_string();
    cfg.shim_path = binary("berth-shim");
    cfg
}

/// A busybox rootfs as a tar, imported as `busybox:latest`.
pub async fn import_busybox(engine: &Engine) {
    let dir = tempfile::tempdir().unwrap();
    testkit::rootfs::populate(dir.path());
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir.path()).unwrap();
    let bytes = tar.into_inner().unwrap();
    engine
        .image_import(
            Cursor::new(bytes),
            Some("busybox".into()),
            Some("latest".into()),
            vec![r#"CMD ["sh"]"#.to_string()],
            None,
        )
        .await
        .unwrap();
}

pub fn request(cmd: &[&str]) -> CreateRequest {
    CreateRequest {
        config: Config {
            image: "busybox".to_string(),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Config::default()
        },
        host_config: Some(HostConfig::default()),
        networking_config: None,
    }
}

/// Mount points under `root` (from this process's mount table).
pub fn mounts_under(root: &Path) -> Vec<String> {
    let root = root.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&root))
        .collect()
}

/// Processes whose command line mentions `root` (shims do: their state
/// dir is under the exec root).
pub fn processes_under(root: &Path) -> Vec<String> {
    let needle = root.display().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(&needle) {
            out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    out
}

/// Removes every container and checks nothing is left: no container, no
/// mount under the roots, no shim.
pub async fn clean_up(engine: &Arc<Engine>, root: &Path) {
    engine.shutdown().await;
    let all = engine
        .container_list(&ListOptions {
            all: true,
            ..ListOptions::default()
        })
        .unwrap();
    for c in &all {
        engine.container_remove(&c.id, true, true).await.unwrap();
    }
    assert!(
        engine
            .container_list(&ListOptions {
                all: true,
                ..ListOptions::default()
            })
            .unwrap()
            .is_empty()
    );
    let deadline = Instant::now() + LIMIT;
    loop {
        let mounts = mounts_under(root);
        let procs = processes_under(root);
        let cgroups: Vec<_> = all
            .iter()
            .flat_map(|c| testkit::cgroups::dirs_named(&c.id))
            .collect();
        if mounts.is_empty() && procs.is_empty() && cgroups.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left behind: mounts {mounts:?}, processes {procs:?}, cgroups {cgroups:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_exit(engine: &Engine, id: &str, condition: WaitCondition) -> i64 {
    let fut = engine.container_wait(id, condition).unwrap();
    tokio::time::timeout(LIMIT, fut)
        .await
        .expect("wait hung")
        .status_code
}

pub async fn logs_text(engine: &Engine, id: &str, stream: Option<LogStream>) -> String {
    let mut rx = engine
        .container_logs(
            id,
            LogOptions {
                stdout: stream != Some(LogStream::Stderr),
                stderr: stream != Some(LogStream::Stdout),
                ..LogOptions::default()
            },
        )
        .unwrap();
    let mut out = String::new();
    while let Some(m) = rx.recv().await {
        out.push_str(&String::from_utf8_lossy(&m.bytes));
    }
    out
}

/// Decodes a stdcopy stream into (stdout, stderr).
pub fn demux(bytes: &[u8]) -> (String, String) {
    let mut d = FrameDecoder::new();
    d.push(bytes);
    let (mut out, mut err) = (String::new(), String::new());
    while let Some(f) = d.next_frame().unwrap() {
        let text = String::from_utf8_lossy(&f.payload);
        match f.stream {
            Stream::Stdout => out.push_str(&text),
            Stream::Stderr => err.push_str(&text),
            Stream::Exit => panic!("an exit frame reached the client"),
        }
    }
    assert_eq!(d.pending(), 0, "stream cut inside a frame");
    (out, err)
}

pub async fn read_all(stream: &mut tokio::net::UnixStream) -> Vec<u8> {
    let mut buf = Vec::new();
    tokio::time::timeout(LIMIT, stream.read_to_end(&mut buf))
        .await
        .expect("stream hung")
        .unwrap();
    buf
}

/// The temp dir holding a test's roots, with a short path: the shim's
/// sockets live under the exec root, and a socket path must fit in 108
/// bytes (unix(7)). When a test fails half-way, dropping it still takes
/// down what the test started: containers (runtime `delete --force`, which
/// also removes their cgroups), shims, mounts.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let root = self.dir.path();
        for (runtime, bin) in [
            ("berth-runc", binary("berth-runc")),
            ("runc", "runc".into()),
        ] {
            let state = root.join("runtime").join(runtime);
            for e in std::fs::read_dir(&state).into_iter().flatten().flatten() {
                let _ = std::process::Command::new(&bin)
                    .arg("--root")
                    .arg(&state)
                    .args(["delete", "--force"])
                    .arg(e.file_name())
                    .status();
            }
        }
        for p in processes_under(root) {
            if let Some(pid) = p.split(':').next().and_then(|p| p.parse().ok()) {
                // Shims this test started; they hold nothing once their
                // container is deleted.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for m in mounts_under(root).iter().rev() {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

pub fn short_tempdir() -> Sandbox {
    Sandbox {
        dir: tempfile::Builder::new()
            .prefix("b")
            .tempdir_in("/tmp")
            .unwrap(),
    }
}

pub async fn engine_on(root: &Path) -> Arc<Engine> {
    Engine::new(config(root)).await.unwrap()
}
