//! One function per command: arguments → runtime call → runc's output.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use berth_runtime::{CreateOptions, ExecOptions, Runtime};
use clap::Args;
use nix::sys::signal::Signal;
use oci_spec::runtime::{LinuxResources, Process};

use crate::{Cli, Cmd, CreateArgs, foreground, logging};

type Res = Result<i32, String>;

fn chain(e: &dyn std::error::Error) -> String {
    berth_runtime::process::error_chain(e)
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    pub id: String,
    /// Command and arguments (unless --process is given)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Path to the process.json
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Set the asm process label for the process commonly used with selinux
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Set the apparmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set the no new privileges value for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the bounding set for the process
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Pass N additional file descriptors to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    pub id: String,
    /// Path to a file with the resources to update (JSON), or "-" for stdin
    #[arg(short, long)]
    pub resources: Option<String>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Kernel memory limits are deprecated and ignored, as in runc
    #[arg(long = "kernel-memory", hide = true)]
    pub kernel_memory: Option<String>,
    #[arg(long = "kernel-memory-tcp", hide = true)]
    pub kernel_memory_tcp: Option<String>,
}

pub fn dispatch(cli: &Cli, cmd: Cmd) -> Res {
    if cli.systemd_cgroup {
        return Err("systemd cgroup driver is not supported by berth-runc".into());
    }
    let rt = Runtime::new(cli.root.clone(), false);
    match cmd {
        Cmd::Create(a) => create(&rt, &a, false).map(|_| 0),
        Cmd::Start { id } => rt.start(&id).map(|_| 0).map_err(|e| chain(&e)),
        Cmd::Run {
            create: a,
            detach,
            keep,
            ..
        } => run(&rt, &a, detach, keep),
        Cmd::State { id } => {
            let st = rt.state(&id).map_err(|e| chain(&e))?;
            println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
            Ok(0)
        }
        Cmd::Kill { id, signal, all } => {
            let sig = parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            rt.kill(&id, sig, all).map(|_| 0).map_err(|e| chain(&e))
        }
        Cmd::Delete { id, force } => {
            for w in rt.delete(&id, force).map_err(|e| chain(&e))? {
                logging::warn(&w);
            }
            Ok(0)
        }
        Cmd::List { format, quiet } => list(&rt, &format, quiet),
        Cmd::Ps {
            id,
            format,
            ps_args,
        } => ps(&rt, &id, &format, &ps_args),
        Cmd::Exec(a) => exec(&rt, a),
        Cmd::Pause { id } => rt.pause(&id).map(|_| 0).map_err(|e| chain(&e)),
        Cmd::Resume { id } => rt.resume(&id).map(|_| 0).map_err(|e| chain(&e)),
        Cmd::Events {
            id,
            stats,
            interval,
        } => events(&rt, &id, stats, &interval),
        Cmd::Update(a) => update(&rt, a),
        Cmd::Spec { bundle, rootless } => spec(&bundle, rootless),
        Cmd::Features => {
            let f = berth_runtime::spec::features();
            println!("{}", serde_json::to_string_pretty(&f).unwrap_or_default());
            Ok(0)
        }
    }
}

fn create(
    rt: &Runtime,
    a: &CreateArgs,
    foreground: bool,
) -> Result<berth_runtime::Created, String> {
    let opts = CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        foreground,
    };
    let c = rt.create(&opts).map_err(|e| chain(&e))?;
    for w in &c.warnings {
        logging::warn(w);
    }
    Ok(c)
}

fn run(rt: &Runtime, a: &CreateArgs, detach: bool, keep: bool) -> Res {
    let c = create(rt, a, !detach)?;
    if let Err(e) = rt.start(&a.id) {
        let _ = rt.delete(&a.id, true);
        return Err(chain(&e));
    }
    if detach {
        return Ok(0);
    }
    let code =
        foreground::supervise(c.pid, c.console).map_err(|e| format!("wait for container: {e}"))?;
    if !keep {
        if let Err(e) = rt.delete(&a.id, true) {
            logging::warn(&chain(&e));
        }
    }
    Ok(code)
}

/// Parses `KILL`, `SIGKILL`, `kill` or `9`.
fn parse_signal(s: &str) -> Result<Signal, String> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("unknown signal {s:?}"));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>()
        .map_err(|_| format!("unknown signal {s:?}"))
}

/// Go's text/tabwriter as runc configures it: min width 12, padding 3.
fn tabulate(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count() + 3).max(12);
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

fn list(rt: &Runtime, format: &str, quiet: bool) -> Res {
    let states = rt.list().map_err(|e| chain(&e))?;
    if quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match format {
        "json" => {
            if states.is_empty() {
                println!("null");
            } else {
                println!("{}", serde_json::to_string(&states).unwrap_or_default());
            }
        }
        "table" => {
            let mut rows = vec![
                ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                    .map(String::from)
                    .to_vec(),
            ];
            for s in &states {
                rows.push(vec![
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]);
            }
            print!("{}", tabulate(&rows));
        }
        f => return Err(format!("invalid format option {f:?}")),
    }
    Ok(0)
}

fn ps(rt: &Runtime, id: &str, format: &str, ps_args: &[String]) -> Res {
    let pids = rt.pids(id).map_err(|e| chain(&e))?;
    match format {
        "json" => {
            println!("{}", serde_json::to_string(&pids).unwrap_or_default());
            Ok(0)
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                ps_args.to_vec()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| format!("run ps: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or("couldn't find PID field in ps output")?;
            println!("{header}");
            for l in lines {
                let pid = l
                    .split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{l}");
                }
            }
            Ok(0)
        }
        f => Err(format!("invalid format option {f:?}")),
    }
}

fn exec(rt: &Runtime, a: ExecArgs) -> Res {
    let process = exec_process(rt, &a)?;
    let foreground = !a.detach;
    let e = rt
        .exec(
            &a.id,
            ExecOptions {
                process,
                console_socket: a.console_socket.clone(),
                pid_file: a.pid_file.clone(),
                preserve_fds: a.preserve_fds,
                foreground,
                ignore_paused: a.ignore_paused,
            },
        )
        .map_err(|e| chain(&e))?;
    for w in &e.warnings {
        logging::warn(w);
    }
    if a.detach {
        return Ok(0);
    }
    foreground::supervise(e.pid, e.console).map_err(|e| format!("wait for process: {e}"))
}

/// The process to exec: `--process` as given, or the container's own
/// process with the command line and flags applied (runc's rules).
fn exec_process(rt: &Runtime, a: &ExecArgs) -> Result<Process, String> {
    if let Some(p) = &a.process {
        let data =
            std::fs::read(p).map_err(|e| format!("open process file {}: {e}", p.display()))?;
        return serde_json::from_slice(&data)
            .map_err(|e| format!("parse process file {}: {e}", p.display()));
    }
    if a.command.is_empty() {
        return Err("exec: no command given (args or --process required)".into());
    }
    let spec = rt.saved_spec(&a.id).map_err(|e| chain(&e))?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        p.set_env(Some(env));
    }
    if let Some(ap) = &a.apparmor {
        p.set_apparmor_profile(Some(ap.clone()));
    }
    if let Some(l) = &a.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        user.set_uid(
            uid.parse()
                .map_err(|_| format!("parsing {uid} as int for uid failed"))?,
        );
        if let Some(g) = gid {
            user.set_gid(
                g.parse()
                    .map_err(|_| format!("parsing {g} as int for gid failed"))?,
            );
        }
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for c in &a.cap {
            let cap: oci_spec::runtime::Capability =
                c.parse().map_err(|_| format!("unknown capability {c:?}"))?;
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
            ]
            .into_iter()
            .enumerate()
            {
                let (i, s) = set;
                let mut s = s.unwrap_or_default();
                s.insert(cap);
                match i {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    _ => caps.set_permitted(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

fn events(rt: &Runtime, id: &str, once: bool, interval: &str) -> Res {
    let every = parse_duration(interval)?;
    let mut last_oom = None;
    loop {
        let (_, status, cg) = match rt.cgroup(id) {
            Ok(x) => x,
            Err(e) if once => return Err(chain(&e)),
            // The container went away: the stream ends.
            Err(_) => return Ok(0),
        };
        if once && status == berth_runtime::state::Status::Stopped {
            return Err("container not running".into());
        }
        let stats = cg.stats().map_err(|e| chain(&e))?;
        let ev = serde_json::json!({"type": "stats", "id": id, "data": stats});
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{ev}");
        let _ = out.flush();
        if once {
            return Ok(0);
        }
        if let Ok(n) = cg.oom_kill_count() {
            if last_oom.is_some_and(|l| n > l) {
                let _ = writeln!(out, "{}", serde_json::json!({"type": "oom", "id": id}));
            }
            last_oom = Some(n);
        }
        std::thread::sleep(every);
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid interval {s:?}");
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Bytes with docker's RAM units (`512m`, `1g`, plain numbers); -1 is kept.
fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    Ok((n * mult as f64) as i64)
}

fn update(rt: &Runtime, a: UpdateArgs) -> Res {
    let mut r: serde_json::Value = match a.resources.as_deref() {
        Some("-") => {
            let mut buf = String::new();
            std::io::stdin()
                .read_to_string(&mut buf)
                .map_err(|e| format!("read resources from stdin: {e}"))?;
            serde_json::from_str(&buf).map_err(|e| format!("parse resources: {e}"))?
        }
        Some(path) => {
            let data = std::fs::read(path).map_err(|e| format!("open {path}: {e}"))?;
            serde_json::from_slice(&data).map_err(|e| format!("parse resources {path}: {e}"))?
        }
        None => serde_json::json!({}),
    };
    let mut set = |path: &[&str], v: serde_json::Value| {
        let mut cur = &mut r;
        for k in &path[..path.len() - 1] {
            if !cur.get(*k).is_some_and(|x| x.is_object()) {
                cur[*k] = serde_json::json!({});
            }
            cur = &mut cur[*k];
        }
        cur[path[path.len() - 1]] = v;
    };
    if let Some(v) = a.blkio_weight {
        set(&["blockIO", "weight"], v.into());
    }
    if let Some(v) = a.cpu_period {
        set(&["cpu", "period"], v.into());
    }
    if let Some(v) = a.cpu_quota {
        set(&["cpu", "quota"], v.into());
    }
    if let Some(v) = a.cpu_share {
        set(&["cpu", "shares"], v.into());
    }
    if let Some(v) = a.cpu_rt_period {
        set(&["cpu", "realtimePeriod"], v.into());
    }
    if let Some(v) = a.cpu_rt_runtime {
        set(&["cpu", "realtimeRuntime"], v.into());
    }
    if let Some(v) = &a.cpuset_cpus {
        set(&["cpu", "cpus"], v.clone().into());
    }
    if let Some(v) = &a.cpuset_mems {
        set(&["cpu", "mems"], v.clone().into());
    }
    if let Some(v) = &a.memory {
        set(&["memory", "limit"], parse_bytes(v)?.into());
    }
    if let Some(v) = &a.memory_reservation {
        set(&["memory", "reservation"], parse_bytes(v)?.into());
    }
    if let Some(v) = &a.memory_swap {
        set(&["memory", "swap"], parse_bytes(v)?.into());
    }
    if let Some(v) = a.pids_limit {
        set(&["pids", "limit"], v.into());
    }
    let res: LinuxResources =
        serde_json::from_value(r).map_err(|e| format!("invalid resources: {e}"))?;
    rt.update(&a.id, &res).map_err(|e| chain(&e))?;
    Ok(0)
}

fn spec(bundle: &std::path::Path, rootless: bool) -> Res {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err("File config.json exists. Remove it first".into());
    }
    let data = berth_runtime::spec::default_spec_json(rootless);
    std::fs::write(&path, data).map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("x").is_err());
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn table_matches_runc_layout() {
        let t = tabulate(&[
            vec!["ID".into(), "PID".into(), "OWNER".into()],
            vec!["t9".into(), "0".into(), "root".into()],
        ]);
        assert_eq!(
            t,
            "ID          PID         OWNER\nt9          0           root\n"
        );
    }
}
