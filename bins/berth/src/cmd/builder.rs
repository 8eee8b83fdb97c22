//! `builder` subcommands: `builder build` (docker's third name for `build`) and
//! `builder prune`, the daemon's `POST /build/prune`. docker prints its legacy
//! builder notice before any `builder` command (see `main`).

use clap::{Args, Subcommand};

use super::lifecycle::confirm;
use super::{Ctx, outln, parse, parse_filters};
use crate::cli::Arity;
use crate::error::CliResult;
use crate::fmt::units;

/// `berth builder …`.
#[derive(Debug, Subcommand)]
pub enum BuilderCmd {
    /// Build an image from a Dockerfile
    Build(Box<super::build::BuildArgs>),
    /// Remove build cache
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
#[command(override_usage = "")]
pub struct PruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Provide filter values (e.g. "until=24h")
    #[arg(long, value_name = "filter")]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Amount of disk space to keep for cache
    #[arg(long, value_name = "bytes")]
    keep_storage: Option<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// The answer of `POST /build/prune`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct PruneReport {
    caches_deleted: Option<Vec<String>>,
    space_reclaimed: u64,
}

pub async fn run(ctx: &Ctx, c: &BuilderCmd) -> CliResult {
    match c {
        BuilderCmd::Build(a) => super::build::build(ctx, a).await,
        BuilderCmd::Prune(a) => prune(ctx, a).await,
    }
}

async fn prune(ctx: &Ctx, a: &PruneArgs) -> CliResult {
    // Flag values first (pflag parses them before the arguments are counted).
    let keep = match a.keep_storage.as_deref() {
        Some(s) => parse::ram_in_bytes(s).map_err(|e| {
            ctx.usage_error(&format!(
                "invalid argument \"{s}\" for \"--keep-storage\" flag: {e}"
            ))
        })?,
        None => 0,
    };
    let filters = parse_filters(&a.filter).map_err(|e| ctx.usage_error(&e.message))?;
    ctx.arity(a.args.len(), Arity::None)?;
    let warning = if a.all {
        "WARNING! This will remove all build cache. Are you sure you want to continue?"
    } else {
        "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
    };
    if !a.force && !confirm(warning) {
        // docker's "builder prune has been cancelled" ends the run quietly.
        return Ok(());
    }
    let r: PruneReport = ctx
        .client
        .post("/build/prune")
        .flag("all", a.all)
        .query_opt("keep-storage", (keep > 0).then_some(keep))
        .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
        .json()
        .await?;
    let deleted = r.caches_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        let mut text = String::from("Deleted build cache objects:\n");
        for id in &deleted {
            text.push_str(id);
            text.push('\n');
        }
        outln(&text);
    }
    outln(&format!(
        "Total reclaimed space: {}",
        units::human_size(r.space_reclaimed as f64)
    ));
    Ok(())
}
