//! `volume` subcommands, passed through to the `/volumes` endpoints.

use berth_client::types::volume::{
    Volume, VolumeCreateBody, VolumeListResponse, VolumePruneReport,
};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Ctx, lifecycle::confirm, out, outln, parse, parse_filters};
use crate::cli::Arity;
use crate::error::{CliError, CliResult, join_errors};
use crate::fmt::{Format, object, units};

/// `berth volume …`.
#[derive(Debug, Subcommand)]
pub enum VolumeCmd {
    /// Create a volume
    Create(CreateArgs),
    /// Display detailed information on one or more volumes
    Inspect(super::inspect::VolumeInspectArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] [VOLUME]")]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short, long, value_name = "string", default_value = "local")]
    driver: String,
    /// Set metadata for a volume
    #[arg(long, value_name = "list")]
    label: Vec<String>,
    /// Specify volume name
    #[arg(long, value_name = "string")]
    name: Option<String>,
    /// Set driver specific options
    #[arg(short, long, value_name = "map")]
    opt: Vec<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct LsArgs {
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short, long, value_name = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Only display volume names
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    all: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long, value_name = "filter")]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] VOLUME [VOLUME...]")]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short, long)]
    force: bool,
    #[arg(hide = true)]
    names: Vec<String>,
}

pub async fn run(ctx: &Ctx, cmd: &VolumeCmd) -> CliResult {
    match cmd {
        VolumeCmd::Create(a) => {
            ctx.arity(a.args.len(), Arity::Range(0, 1))?;
            let name = match (&a.name, a.args.first()) {
                (Some(n), Some(p)) if n != p => {
                    return Err(crate::error::CliError::new(
                        "conflicting options: cannot specify a volume-name through both --name and as a positional arg",
                    ));
                }
                (Some(n), _) => n.clone(),
                (None, Some(p)) => p.clone(),
                (None, None) => String::new(),
            };
            let body = VolumeCreateBody {
                name,
                driver: a.driver.clone(),
                driver_opts: Some(parse::kv_map(&a.opt)),
                labels: Some(parse::kv_map(&a.label)),
            };
            let v: Volume = ctx
                .client
                .post("/volumes/create")
                .json_body(&body)?
                .json()
                .await?;
            outln(&v.name);
            Ok(())
        }
        VolumeCmd::Inspect(a) => super::inspect::volume(ctx, a).await,
        VolumeCmd::Ls(a) => ls(ctx, a).await,
        VolumeCmd::Rm(a) => {
            ctx.arity(a.names.len(), Arity::Min(1))?;
            let mut errs = Vec::new();
            for n in &a.names {
                let r = ctx
                    .client
                    .delete(format!("/volumes/{}", berth_client::api::seg(n)))
                    .flag("force", a.force)
                    .discard()
                    .await;
                match r {
                    Ok(()) => outln(n),
                    Err(e) => errs.push(e.to_string()),
                }
            }
            join_errors(errs)
        }
        VolumeCmd::Prune(a) => {
            let mut filters = parse_filters(&a.filter)?;
            // docker's version gates: --all needs API 1.42; before it, prune removes
            // named volumes too, and the warning says so.
            let version = ctx.client.api_version().await?.to_string();
            let old_api = berth_client::types::error::compare_versions(&version, "1.42").is_lt();
            if a.all && old_api {
                return Err(CliError::new(format!(
                    "\"--all\" requires API version 1.42, but the Docker daemon API version is {version}"
                )));
            }
            if a.all {
                if filters.contains("all") {
                    return Err(CliError::new(
                        "conflicting options: cannot specify both --all and --filter all=1",
                    ));
                }
                filters.add("all", "true");
            }
            let warning = if a.all || old_api {
                "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?"
            } else {
                "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?"
            };
            if !a.force && !confirm(warning) {
                return Ok(());
            }
            let r: VolumePruneReport = ctx
                .client
                .post("/volumes/prune")
                .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
                .json()
                .await?;
            let deleted = r.volumes_deleted.unwrap_or_default();
            let mut space = 0;
            if !deleted.is_empty() {
                outln(&format!("Deleted Volumes:\n{}\n", deleted.join("\n")));
                space = r.space_reclaimed;
            }
            outln(&format!(
                "Total reclaimed space: {}",
                units::human_size(space as f64)
            ));
            Ok(())
        }
    }
}

async fn ls(ctx: &Ctx, a: &LsArgs) -> CliResult {
    let filters = parse_filters(&a.filter)?;
    let resp: VolumeListResponse = ctx
        .client
        .get("/volumes")
        .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
        .json()
        .await?;
    for w in resp.warnings.iter().flatten() {
        eprintln!("{w}");
    }
    let mut vols = resp.volumes.unwrap_or_default();
    vols.sort_by(|x, y| units::natural_cmp(&x.name, &y.name));
    let source = a
        .format
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "table".into());
    let fmt = Format(match source.as_str() {
        _ if a.quiet => "{{.Name}}".into(),
        "table" => "table {{.Driver}}\t{{.Name}}".into(),
        s => s.to_string(),
    });
    let rows: Vec<Value> = vols
        .iter()
        .map(|v| {
            let labels: Vec<String> = v
                .labels
                .iter()
                .flatten()
                .map(|(k, x)| format!("{k}={x}"))
                .collect();
            let u = v
                .usage_data
                .unwrap_or(berth_client::types::volume::UsageData {
                    ref_count: -1,
                    size: -1,
                });
            object([
                // Cluster-volume fields: docker's "N/A" for a local volume.
                ("Group", Value::from("N/A")),
                ("Availability", "N/A".into()),
                ("Status", "N/A".into()),
                ("Name", Value::from(v.name.clone())),
                ("Driver", v.driver.clone().into()),
                ("Scope", v.scope.clone().into()),
                ("Mountpoint", v.mountpoint.clone().into()),
                ("Labels", labels.join(",").into()),
                (
                    "Links",
                    (if u.ref_count == -1 {
                        "N/A".into()
                    } else {
                        u.ref_count.to_string()
                    })
                    .into(),
                ),
                (
                    "Size",
                    (if u.size == -1 {
                        "N/A".into()
                    } else {
                        units::human_size(u.size as f64)
                    })
                    .into(),
                ),
            ])
        })
        .collect();
    let header = json!({"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS"});
    out(&fmt.render_for("*formatter.volumeContext", &header, &rows)?);
    Ok(())
}
