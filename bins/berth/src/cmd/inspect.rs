//! `inspect` (any object, or one `--type`), `container inspect`, `image inspect`, and
//! the small per-container views `top`, `port` and `diff`.
//!
//! Without `--format`, inspect prints the daemon's JSON as it came (field order kept),
//! indented like Go's `json.Indent`; with one, the template runs over each object.

use berth_client::types::container::ChangeKind;
use clap::Args;
use serde_json::Value;

use super::{Ctx, out, outln};
use crate::cli::Arity;
use crate::error::{CliError, CliResult};
use crate::fmt::template::MissingKey;
use crate::fmt::{self, Template, goshape, goshape_image, tabwriter};

/// `inspect` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] NAME|ID [NAME|ID...]")]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    size: bool,
    /// Only inspect objects of the given type
    #[arg(long = "type", value_name = "string")]
    kind: Option<String>,
    #[arg(hide = true)]
    names: Vec<String>,
}

/// `container inspect` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER [CONTAINER...]")]
pub struct ContainerInspectArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    format: Option<String>,
    /// Display total file sizes
    #[arg(short, long)]
    size: bool,
    #[arg(hide = true)]
    names: Vec<String>,
}

/// `image inspect` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] IMAGE [IMAGE...]")]
pub struct ImageInspectArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    format: Option<String>,
    /// Inspect a specific platform of the multi-platform image
    #[arg(long, value_name = "string")]
    platform: Option<String>,
    #[arg(hide = true)]
    names: Vec<String>,
}

/// `network inspect` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] NETWORK [NETWORK...]")]
pub struct NetworkInspectArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short, long)]
    verbose: bool,
    #[arg(hide = true)]
    names: Vec<String>,
}

/// `volume inspect` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] VOLUME [VOLUME...]")]
pub struct VolumeInspectArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    format: Option<String>,
    #[arg(hide = true)]
    names: Vec<String>,
}

/// The object kinds `inspect` knows, in the order it tries them.
const KINDS: &[&str] = &["container", "image", "volume", "network"];

/// Fetches one object of `kind` as raw JSON; `detail` is `size` for a container,
/// `verbose` for a network.
async fn fetch(
    ctx: &Ctx,
    kind: &str,
    name: &str,
    detail: bool,
) -> Result<Vec<u8>, berth_client::Error> {
    use berth_client::api::{image_seg, seg};
    let req = match kind {
        "container" => ctx
            .client
            .get(format!("/containers/{}/json", seg(name)))
            .flag("size", detail),
        "image" => ctx.client.get(format!("/images/{}/json", image_seg(name))),
        "volume" => ctx.client.get(format!("/volumes/{}", seg(name))),
        _ => ctx
            .client
            .get(format!("/networks/{}", seg(name)))
            .flag("verbose", detail),
    };
    req.bytes().await.map(|b| b.to_vec())
}

/// Shared by all the inspect commands: `kinds` are tried in order for each name.
async fn inspect(
    ctx: &Ctx,
    names: &[String],
    kinds: &[&str],
    format: Option<&str>,
    size: bool,
    generic: bool,
) -> CliResult {
    let tmpl = match format.filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => Some(
            Template::parse(f)
                .map_err(|e| CliError::with_code(format!("template parsing error: {e}"), 64))?
                // Docker falls back to the raw JSON with missingkey=error when the
                // typed object lacks a field; over raw JSON that is the only mode.
                .with_missing_key(MissingKey::Error),
        ),
        None => None,
    };
    let mut raws = Vec::new();
    let mut errs = Vec::new();
    for name in names {
        let mut found = None;
        let mut last_err = None;
        for kind in kinds {
            match fetch(ctx, kind, name, size).await {
                Ok(raw) => {
                    found = Some((*kind, raw));
                    break;
                }
                Err(e) if e.is_not_found() => last_err = Some(e),
                Err(e) => {
                    last_err = Some(e);
                    break;
                }
            }
        }
        match (found, last_err) {
            (Some(found), _) => raws.push(found),
            (None, Some(e)) if generic && e.is_not_found() => {
                errs.push(format!("Error: No such object: {name}"))
            }
            (None, Some(e)) => errs.push(e.to_string()),
            (None, None) => errs.push(format!("Error: No such object: {name}")),
        }
    }
    let mut text = String::new();
    match &tmpl {
        Some(t) => {
            // docker runs the template over the Go type first, and over the raw JSON
            // when that fails (a field the type lacks).
            let typed_tmpl = t.clone().with_missing_key(MissingKey::Default);
            for (kind, raw) in &raws {
                let mut v: Value = serde_json::from_slice(raw)
                    .map_err(|e| CliError::new(format!("unable to read inspect data: {e}")))?;
                let shape = match *kind {
                    "container" => Some(&goshape::CONTAINER),
                    "network" => Some(&goshape::NETWORK),
                    "image" => Some(&goshape_image::IMAGE),
                    _ => None,
                };
                if let Some(shape) = shape {
                    let mut s = String::new();
                    if typed_tmpl
                        .execute_data(&goshape::reshape(&v, shape), &mut s)
                        .is_ok()
                    {
                        text.push_str(&s);
                        text.push('\n');
                        continue;
                    }
                }
                if shape.is_none() {
                    // No typed view of this kind: the raw JSON answers to the Go
                    // names too.
                    fmt::add_go_names(&mut v, format.unwrap_or(""));
                }
                let mut s = String::new();
                match t.execute(&v, &mut s) {
                    Ok(()) => {
                        text.push_str(&s);
                        text.push('\n');
                    }
                    Err(e) => errs.push(format!("template parsing error: {e}")),
                }
            }
            if text.is_empty() {
                text.push('\n');
            }
        }
        None if raws.is_empty() => text.push_str("[]\n"),
        None => {
            let mut all = b"[".to_vec();
            for (i, (_, r)) in raws.iter().enumerate() {
                if i > 0 {
                    all.push(b',');
                }
                all.extend_from_slice(r);
            }
            all.push(b']');
            if format == Some("json") {
                let v: Value = serde_json::from_slice(&all)
                    .map_err(|e| CliError::new(format!("unable to read inspect data: {e}")))?;
                text.push_str(&serde_json::to_string(&v).unwrap_or_default());
            } else {
                text.push_str(&fmt::json_indent(&all, "    "));
            }
            text.push('\n');
        }
    }
    out(&text);
    crate::error::join_errors(errs)
}

pub async fn run(ctx: &Ctx, a: &InspectArgs) -> CliResult {
    ctx.arity(a.names.len(), Arity::Min(1))?;
    let kinds: Vec<&str> = match a.kind.as_deref() {
        None | Some("") => KINDS.to_vec(),
        Some(k) if KINDS.contains(&k) => vec![k],
        Some(k) => {
            return Err(CliError::new(format!(
                "\"{k}\" is not a valid value for --type"
            )));
        }
    };
    let generic = kinds.len() > 1;
    inspect(ctx, &a.names, &kinds, a.format.as_deref(), a.size, generic).await
}

pub async fn container(ctx: &Ctx, a: &ContainerInspectArgs) -> CliResult {
    typed(ctx, &a.names, a.format.as_deref(), a.size, "container").await
}

pub async fn image(ctx: &Ctx, a: &ImageInspectArgs) -> CliResult {
    ctx.arity(a.names.len(), Arity::Min(1))?;
    if a.platform.is_some() {
        // docker's check of the daemon's API version; berthd's is older.
        let version = ctx.client.api_version().await?;
        if berth_client::types::error::compare_versions(version, "1.49").is_lt() {
            return Err(CliError::new(format!(
                "\"--platform\" requires API version 1.49, but the Docker daemon API version is {version}"
            )));
        }
    }
    typed(ctx, &a.names, a.format.as_deref(), false, "image").await
}

pub async fn network(ctx: &Ctx, a: &NetworkInspectArgs) -> CliResult {
    typed(ctx, &a.names, a.format.as_deref(), a.verbose, "network").await
}

pub async fn volume(ctx: &Ctx, a: &VolumeInspectArgs) -> CliResult {
    typed(ctx, &a.names, a.format.as_deref(), false, "volume").await
}

/// The inspect of one kind of object.
async fn typed(
    ctx: &Ctx,
    names: &[String],
    format: Option<&str>,
    detail: bool,
    kind: &str,
) -> CliResult {
    ctx.arity(names.len(), Arity::Min(1))?;
    inspect(ctx, names, &[kind], format, detail, false).await
}

/// `top` arguments.
#[derive(Debug, Args)]
#[command(override_usage = "CONTAINER [ps OPTIONS]")]
pub struct TopArgs {
    #[arg(hide = true, trailing_var_arg = true)]
    args: Vec<String>,
}

pub async fn top(ctx: &Ctx, a: &TopArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Min(1))?;
    let ps_args = a.args[1..].join(" ");
    let t = ctx.client.container_top(&a.args[0], Some(&ps_args)).await?;
    let mut text = t.titles.unwrap_or_default().join("\t");
    text.push('\n');
    for p in t.processes.unwrap_or_default() {
        text.push_str(&p.join("\t"));
        text.push('\n');
    }
    out(&tabwriter::format(&text, 20, 3));
    Ok(())
}

/// `port` arguments.
#[derive(Debug, Args)]
#[command(override_usage = "CONTAINER [PRIVATE_PORT[/PROTO]]")]
pub struct PortArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

pub async fn port(ctx: &Ctx, a: &PortArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Range(1, 2))?;
    let c = ctx.client.container_inspect(&a.args[0], false).await?;
    let ports = c.network_settings.ports.unwrap_or_default();
    let addr = |b: &berth_client::types::container::PortBinding| {
        if b.host_ip.contains(':') {
            format!("[{}]:{}", b.host_ip, b.host_port)
        } else {
            format!("{}:{}", b.host_ip, b.host_port)
        }
    };
    if let Some(want) = a.args.get(1) {
        let (p, proto) = want.split_once('/').unwrap_or((want, "tcp"));
        let key = format!("{p}/{proto}");
        if let Some(Some(bindings)) = ports.get(&key) {
            for b in bindings {
                outln(&addr(b));
            }
            return Ok(());
        }
        return Err(CliError::new(format!(
            "Error: No public port '{key}' published for {}",
            a.args[0]
        )));
    }
    let mut lines = Vec::new();
    for (k, v) in &ports {
        for b in v.iter().flatten() {
            lines.push(format!("{k} -> {}", addr(b)));
        }
    }
    for l in lines {
        outln(&l);
    }
    Ok(())
}

/// `diff` arguments.
#[derive(Debug, Args)]
#[command(override_usage = "CONTAINER")]
pub struct DiffArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

pub async fn diff(ctx: &Ctx, a: &DiffArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(1))?;
    for c in ctx.client.container_changes(&a.args[0]).await? {
        let k = match c.kind {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        };
        outln(&format!("{k} {}", c.path));
    }
    Ok(())
}
