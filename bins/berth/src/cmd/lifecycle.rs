//! Container lifecycle commands over many containers: stop, restart, kill, rm, pause,
//! unpause, wait, plus rename, update and container prune. Each prints the names it
//! acted on, and the daemon's errors one per line (status 1), as docker does.

use berth_client::types::container::UpdateConfig;
use clap::Args;

use super::container_opts::restart_policy;
use super::{Ctx, for_each, out, outln, parse, parse_filters};
use crate::cli::Arity;
use crate::error::{CliError, CliResult, join_errors};
use crate::fmt::units;

/// Commands that take only containers (pause, unpause, wait).
#[derive(Debug, Args)]
#[command(override_usage = "CONTAINER [CONTAINER...]")]
pub struct ContainersArgs {
    #[arg(hide = true)]
    containers: Vec<String>,
}

/// `stop`/`restart` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER [CONTAINER...]")]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short, long, value_name = "string")]
    signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long, visible_alias = "time", value_name = "int")]
    timeout: Option<i64>,
    #[arg(hide = true)]
    containers: Vec<String>,
}

/// `kill` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER [CONTAINER...]")]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, value_name = "string", default_value = "")]
    signal: String,
    #[arg(hide = true)]
    containers: Vec<String>,
}

/// `rm` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER [CONTAINER...]")]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    /// Remove the specified link
    #[arg(short, long)]
    link: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    volumes: bool,
    #[arg(hide = true)]
    containers: Vec<String>,
}

/// `rename` arguments.
#[derive(Debug, Args)]
#[command(override_usage = "CONTAINER NEW_NAME")]
pub struct RenameArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `container prune` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long, value_name = "filter")]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

/// `update` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER [CONTAINER...]")]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long, value_name = "uint16")]
    blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "int")]
    cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "int")]
    cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long, value_name = "int")]
    cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long, value_name = "int")]
    cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "int")]
    cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal")]
    cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string")]
    cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string")]
    cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes")]
    memory: Option<String>,
    /// Memory soft limit
    #[arg(long, value_name = "bytes")]
    memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, value_name = "bytes")]
    memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "int")]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "string")]
    restart: Option<String>,
    #[arg(hide = true)]
    containers: Vec<String>,
}

pub async fn stop(ctx: &Ctx, a: &StopArgs, restart: bool) -> CliResult {
    ctx.arity(a.containers.len(), Arity::Min(1))?;
    let sig = a.signal.as_deref();
    for_each(&a.containers, |n| async move {
        if restart {
            ctx.client.container_restart(&n, a.timeout, sig).await
        } else {
            ctx.client.container_stop(&n, a.timeout, sig).await
        }
    })
    .await
}

pub async fn kill(ctx: &Ctx, a: &KillArgs) -> CliResult {
    ctx.arity(a.containers.len(), Arity::Min(1))?;
    for_each(&a.containers, |n| async move {
        ctx.client.container_kill(&n, Some(&a.signal)).await
    })
    .await
}

pub async fn rm(ctx: &Ctx, a: &RmArgs) -> CliResult {
    ctx.arity(a.containers.len(), Arity::Min(1))?;
    let mut errs = Vec::new();
    for n in &a.containers {
        let name = n.trim_matches('/');
        if name.is_empty() {
            errs.push("Container name cannot be empty".to_string());
            continue;
        }
        match ctx
            .client
            .container_remove(name, a.force, a.volumes, a.link)
            .await
        {
            Ok(()) => outln(n),
            // docker rm -f on a missing container is silent.
            Err(e) if a.force && e.is_not_found() => {}
            Err(e) => errs.push(e.to_string()),
        }
    }
    join_errors(errs)
}

/// `pause` (or `unpause` with `resume`).
pub async fn pause(ctx: &Ctx, a: &ContainersArgs, resume: bool) -> CliResult {
    ctx.arity(a.containers.len(), Arity::Min(1))?;
    for_each(&a.containers, |n| async move {
        if resume {
            ctx.client.container_unpause(&n).await
        } else {
            ctx.client.container_pause(&n).await
        }
    })
    .await
}

pub async fn wait(ctx: &Ctx, a: &ContainersArgs) -> CliResult {
    ctx.arity(a.containers.len(), Arity::Min(1))?;
    let mut errs = Vec::new();
    for n in &a.containers {
        match ctx.client.container_wait(n, "").await {
            Ok(r) => outln(&r.status_code.to_string()),
            Err(e) => errs.push(e.to_string()),
        }
    }
    join_errors(errs)
}

pub async fn rename(ctx: &Ctx, a: &RenameArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(2))?;
    let (old, new) = (a.args[0].trim(), a.args[1].trim());
    if old.is_empty() || new.is_empty() {
        return Err(CliError::new(
            "Error: Neither old nor new names may be empty",
        ));
    }
    // docker prints the daemon's error, then its own summary.
    if let Err(e) = ctx.client.container_rename(old, new).await {
        eprintln!("{e}");
        return Err(CliError::new(format!(
            "Error: failed to rename container named {old}"
        )));
    }
    Ok(())
}

pub async fn update(ctx: &Ctx, a: &UpdateArgs) -> CliResult {
    ctx.arity(a.containers.len(), Arity::Min(1))?;
    let mut u = UpdateConfig::default();
    let mut any = false;
    let bad = |n: &str, v: &str, e: String| {
        ctx.usage_error(&format!("invalid argument \"{v}\" for \"{n}\" flag: {e}"))
    };
    macro_rules! set {
        ($field:expr, $v:expr) => {{
            $field = $v;
            any = true;
        }};
    }
    if let Some(v) = a.blkio_weight {
        set!(u.resources.blkio_weight, v)
    }
    if let Some(v) = a.cpu_period {
        set!(u.resources.cpu_period, v)
    }
    if let Some(v) = a.cpu_quota {
        set!(u.resources.cpu_quota, v)
    }
    if let Some(v) = a.cpu_rt_period {
        set!(u.resources.cpu_realtime_period, v)
    }
    if let Some(v) = a.cpu_rt_runtime {
        set!(u.resources.cpu_realtime_runtime, v)
    }
    if let Some(v) = a.cpu_shares {
        set!(u.resources.cpu_shares, v)
    }
    if let Some(v) = &a.cpus {
        set!(
            u.resources.nano_cpus,
            parse::nano_cpus(v).map_err(|e| bad("--cpus", v, e))?
        )
    }
    if let Some(v) = &a.cpuset_cpus {
        set!(u.resources.cpuset_cpus, v.clone())
    }
    if let Some(v) = &a.cpuset_mems {
        set!(u.resources.cpuset_mems, v.clone())
    }
    if let Some(v) = &a.memory {
        set!(
            u.resources.memory,
            parse::ram_in_bytes(v).map_err(|e| bad("-m, --memory", v, e))?
        )
    }
    if let Some(v) = &a.memory_reservation {
        set!(
            u.resources.memory_reservation,
            parse::ram_in_bytes(v).map_err(|e| bad("--memory-reservation", v, e))?
        )
    }
    if let Some(v) = &a.memory_swap {
        set!(
            u.resources.memory_swap,
            parse::mem_swap_bytes(v).map_err(|e| bad("--memory-swap", v, e))?
        )
    }
    if let Some(v) = a.pids_limit {
        set!(u.resources.pids_limit, Some(v))
    }
    if let Some(v) = &a.restart {
        set!(u.restart_policy, restart_policy(v).map_err(CliError::new)?)
    }
    if !any {
        return Err(CliError::new(
            "you must provide one or more flags when using this command",
        ));
    }
    let mut errs = Vec::new();
    for n in &a.containers {
        match ctx.client.container_update(n, &u).await {
            Ok(r) => {
                for w in r.warnings.iter().flatten() {
                    eprintln!("{w}");
                }
                outln(n);
            }
            Err(e) => errs.push(e.to_string()),
        }
    }
    join_errors(errs)
}

/// docker's confirmation prompt: true only for `y`/`Y`.
pub fn confirm(warning: &str) -> bool {
    out(&format!("{warning} [y/N] "));
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y")
}

pub async fn prune(ctx: &Ctx, a: &PruneArgs) -> CliResult {
    let filters = parse_filters(&a.filter)?;
    if !a.force
        && !confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?",
        )
    {
        return Ok(());
    }
    let r = ctx.client.container_prune(&filters).await?;
    let mut space = 0;
    let deleted = r.containers_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        let mut text = "Deleted Containers:\n".to_string();
        for id in &deleted {
            text.push_str(id);
            text.push('\n');
        }
        outln(&text);
        space = r.space_reclaimed;
    }
    outln(&format!(
        "Total reclaimed space: {}",
        units::human_size(space as f64)
    ));
    Ok(())
}
