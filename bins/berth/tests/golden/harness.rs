//! A private berthd for the golden tests (temp data and exec roots, its own socket),
//! and runs of the same command through `berth` and through the docker CLI v28.
//!
//! The daemon, the shim and the runtime are the workspace's binaries next to `berth`
//! in the target dir (`cargo build --bins`). Teardown kills the daemon and whatever
//! names the temp dir (the shims), force-deletes the containers left in the
//! runtime's state dir, unmounts what is mounted below the temp dir, and removes it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The docker CLI the outputs are compared with.
pub const DOCKER: &str = "/usr/local/bin/docker";

pub fn berth_bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

/// A binary of the workspace next to `berth`.
pub fn sibling(name: &str) -> PathBuf {
    Path::new(berth_bin()).with_file_name(name)
}

/// A running private daemon.
pub struct Daemon {
    child: Option<Child>,
    dir: Option<TempDir>,
    pub root: PathBuf,
    pub sock: PathBuf,
    pub docker_config: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Starts berthd and waits for `/_ping`. Panics naming the missing binaries.
    pub fn start() -> Daemon {
        Daemon::start_with(&[])
    }

    /// [`Daemon::start`] with `extra` daemon arguments (more `-H` sockets, TLS).
    pub fn start_with(extra: &[&str]) -> Daemon {
        for b in ["berthd", "berth-shim", "berth-runc"] {
            assert!(
                sibling(b).exists(),
                "{} is missing: build the workspace's binaries first (cargo build --bins)",
                sibling(b).display()
            );
        }
        // Short: socket paths below it must fit in a sockaddr_un.
        let dir = tempfile::Builder::new()
            .prefix("g")
            .rand_bytes(5)
            .tempdir_in("/tmp")
            .expect("create temp dir");
        let root = dir.path().to_path_buf();
        std::fs::write(root.join("daemon.json"), "{}\n").expect("write daemon.json");
        let log = root.join("berthd.log");
        let logf = std::fs::File::create(&log).expect("create daemon log");
        let sock = root.join("d.sock");
        let child = Command::new(sibling("berthd"))
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("x"))
            .arg("--pidfile")
            .arg(root.join("berthd.pid"))
            .arg("--config-file")
            .arg(root.join("daemon.json"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            // Its own bridge, subnet and firewall table.
            .args(testkit::daemonnet::daemon_args(&root))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("dup log"))
            .stderr(logf)
            .spawn()
            .expect("spawn berthd");
        let docker_config = root.join("docker-config");
        std::fs::create_dir_all(&docker_config).expect("create docker config dir");
        let d = Daemon {
            child: Some(child),
            dir: Some(dir),
            root,
            sock,
            docker_config,
            log,
        };
        let deadline = Instant::now() + testkit::HANG_GUARD;
        loop {
            let ok = d.sock.exists()
                && d.cli(
                    DOCKER,
                    &["version", "--format", "{{.Server.Version}}"],
                    None,
                )
                .status
                .success();
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "berthd did not start; log:\n{}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `prog` (berth or docker) against this daemon, with `stdin` as input.
    pub fn cli(&self, prog: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        self.cli_env(prog, args, stdin, &[])
    }

    /// [`Daemon::cli`] with `env` set as well.
    pub fn cli_env(
        &self,
        prog: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
        env: &[(&str, &str)],
    ) -> Output {
        let mut c = Command::new(prog);
        c.args(args)
            .envs(env.iter().copied())
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("BERTH_HOST")
            .env_remove("BERTH_CONFIG")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_API_VERSION")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {prog}: {e}"));
        if let Some(data) = stdin {
            let mut input = child.stdin.take().expect("stdin");
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = input.write_all(&data);
            });
        }
        wait_output(child, &format!("{prog} {args:?}"))
    }

    pub fn berth(&self, args: &[&str]) -> Output {
        self.cli(berth_bin(), args, None)
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.cli(DOCKER, args, None)
    }

    /// Imports the busybox rootfs as `busybox:latest`.
    pub fn import_busybox(&self) {
        let rootfs = self.root.join("busybox-rootfs");
        testkit::rootfs::populate(&rootfs);
        let tar = self.root.join("busybox.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(st.success(), "tar the busybox rootfs");
        let out = self.berth(&[
            "import",
            tar.to_str().expect("utf-8 path"),
            "busybox:latest",
        ]);
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("sha256:"),
            "berth import: {out:?}"
        );
    }
}

/// A daemon with busybox imported.
pub fn started() -> Daemon {
    let d = Daemon::start();
    d.import_busybox();
    d
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- berthd log ----\n{}", self.log_text());
        }
        cleanup(&self.root);
        testkit::daemonnet::remove_leftovers(&self.root);
        drop(self.dir.take());
    }
}

fn cleanup(root: &Path) {
    let needle = root.display().to_string();
    let me = std::process::id().to_string();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if pid.parse::<i32>().is_err() || pid == me {
            continue;
        }
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(&needle) {
                let _ = Command::new("kill").args(["-9", &pid]).status();
            }
        }
    }
    let runtimes = root.join("x").join("runtime");
    for rt in std::fs::read_dir(&runtimes).into_iter().flatten().flatten() {
        let name = rt.file_name().to_string_lossy().into_owned();
        let bin = if name == "berth-runc" {
            sibling("berth-runc")
        } else {
            PathBuf::from(&name)
        };
        for c in std::fs::read_dir(rt.path()).into_iter().flatten().flatten() {
            let _ = Command::new(&bin)
                .arg("--root")
                .arg(rt.path())
                .args(["delete", "--force", &c.file_name().to_string_lossy()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&needle))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = Command::new("umount").args(["-l", m]).status();
    }
}

/// Waits for a child with the hang guard.
pub fn wait_output(mut child: Child, what: &str) -> Output {
    let mut so = child.stdout.take();
    let mut se = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = se.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + testkit::HANG_GUARD;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait child") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} hung");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// berth's output with its own name written as docker's where the CLI names itself
/// (`Usage:  berth run`, `berth: 'berth rm' requires…`, `Run 'berth --help'…`), so it
/// can be compared with docker's byte for byte.
pub fn as_docker(s: &str) -> String {
    s.replace("Usage:  berth", "Usage:  docker")
        .replace("'berth ", "'docker ")
        .replace("\tberth ", "\tdocker ")
        .replace("unknown command: berth", "unknown command: docker")
        // Line by line, endings kept as they are (a TTY's "\r\n" included).
        .split_inclusive('\n')
        .map(|l| match l.strip_prefix("berth: ") {
            Some(rest) => format!("docker: {rest}"),
            None => l.to_string(),
        })
        .collect::<String>()
}

/// One CLI run, as compared.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn seen(o: &Output, berth: bool) -> Seen {
    let fix = |b: &[u8]| {
        let s = String::from_utf8_lossy(b).into_owned();
        if berth { as_docker(&s) } else { s }
    };
    Seen {
        code: o.status.code(),
        stdout: fix(&o.stdout),
        stderr: fix(&o.stderr),
    }
}

/// Runs `args` through both CLIs and asserts the same stdout, stderr and status.
/// Relative times can tick between the two runs, so a difference is retried twice.
pub fn same(d: &Daemon, args: &[&str]) -> Seen {
    let mut last = None;
    for _ in 0..3 {
        let b = seen(&d.berth(args), true);
        let k = seen(&d.docker(args), false);
        if b == k {
            return b;
        }
        last = Some((b, k));
        std::thread::sleep(Duration::from_millis(300));
    }
    let (b, k) = last.expect("compared at least once");
    panic!(
        "berth and docker differ for {args:?}\n--- berth ({:?})\nstdout:\n{}\nstderr:\n{}\n--- docker ({:?})\nstdout:\n{}\nstderr:\n{}\n--- escaped (berth, docker):\n{:?}\n{:?}",
        b.code, b.stdout, b.stderr, k.code, k.stdout, k.stderr, b, k
    );
}

/// Like [`same`] for listings whose row order is not defined: the docker CLI prints
/// the tags of one image grouped by repository in Go map order, which changes from
/// run to run, so the rows are compared as sorted sets.
pub fn same_rows(d: &Daemon, args: &[&str]) {
    let sorted = |s: Seen| {
        let mut rows: Vec<&str> = s.stdout.lines().collect();
        rows.sort_unstable();
        (s.code, rows.join("\n"), s.stderr.clone())
    };
    let b = sorted(seen(&d.berth(args), true));
    let k = sorted(seen(&d.docker(args), false));
    assert_eq!(b, k, "berth and docker differ for {args:?} (left berth)");
}

/// `s` with every run of 12 or 64 lowercase hex digits (IDs, digests) written `<id>`
/// and each `(from, to)` name replaced, so runs on twin objects compare.
pub fn normalize(s: &str, names: &[(&str, &str)]) -> String {
    let mut t = s.to_string();
    for (from, to) in names {
        t = t.replace(from, to);
    }
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    let mut i = 0;
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    while i < b.len() {
        if hex(b[i]) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && hex(b[j]) {
                j += 1;
            }
            let bounded = j == b.len() || !b[j].is_ascii_alphanumeric();
            if bounded && (j - i == 12 || j - i == 64) {
                out.push_str("<id>");
                i = j;
                continue;
            }
            out.push_str(&t[i..j]);
            i = j;
            continue;
        }
        let c = t[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Runs `b_args` through berth and `k_args` through docker (the same command on twin
/// objects), with `stdin` fed to both, and asserts equal output once IDs and the
/// twins' names are normalized (`names` maps docker's names to berth's).
pub fn same_pair(
    d: &Daemon,
    b_args: &[&str],
    k_args: &[&str],
    names: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Seen {
    let b = seen(&d.cli(berth_bin(), b_args, stdin), true);
    let k = seen(&d.cli(DOCKER, k_args, stdin), false);
    let fix = |s: Seen, n: &[(&str, &str)]| Seen {
        code: s.code,
        stdout: normalize(&s.stdout, n),
        stderr: normalize(&s.stderr, n),
    };
    // docker's cp may log a race of its own tar writer (logrus lines): not output.
    let k = Seen {
        stderr: k
            .stderr
            .lines()
            .filter(|l| !l.starts_with("time=\""))
            .map(|l| format!("{l}\n"))
            .collect(),
        ..k
    };
    let (b, k) = (fix(b, &[]), fix(k, names));
    assert_eq!(
        b, k,
        "berth {b_args:?} and docker {k_args:?} differ (left berth, right docker)"
    );
    b
}

/// Like [`same`], with `stdin` fed to both runs and no retry (for commands that
/// change nothing, or fail).
pub fn same_in(d: &Daemon, args: &[&str], stdin: &[u8]) -> Seen {
    let b = seen(&d.cli(berth_bin(), args, Some(stdin)), true);
    let k = seen(&d.cli(DOCKER, args, Some(stdin)), false);
    assert_eq!(b, k, "berth and docker differ for {args:?} (left berth)");
    b
}

/// Asserts success of a setup command run through docker.
pub fn ok(d: &Daemon, args: &[&str]) -> String {
    let o = d.docker(args);
    assert!(o.status.success(), "docker {args:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
