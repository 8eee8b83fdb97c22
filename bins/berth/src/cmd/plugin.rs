//! `plugin` subcommands over the daemon's `/plugins` endpoints, as docker's CLI
//! drives them. (berthd has no managed plugins: it lists none, finds none and
//! refuses to install one; the commands relay its answers as docker does.)

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::progress::{self, Renderer};
use super::reference::{Named, parse_normalized_named};
use super::{Ctx, out, outln, parse_filters};
use crate::cli::Arity;
use crate::config::AuthStore;
use crate::error::{CliError, CliResult, join_errors};
use crate::fmt::{self, Format, Template};

/// `berth plugin …`.
#[derive(Debug, Subcommand)]
pub enum PluginCmd {
    // clap drops a doc comment's final period; docker's text has it.
    #[command(
        about = "Create a plugin from a rootfs and configuration. Plugin data directory must contain config.json and rootfs directory."
    )]
    Create(CreateArgs),
    /// Disable a plugin
    Disable(DisableArgs),
    /// Enable a plugin
    Enable(EnableArgs),
    /// Display detailed information on one or more plugins
    Inspect(InspectArgs),
    /// Install a plugin
    Install(InstallArgs),
    /// List plugins
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Push a plugin to a registry
    Push(PushArgs),
    /// Remove one or more plugins
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Change settings for a plugin
    Set(SetArgs),
    /// Upgrade an existing plugin
    Upgrade(UpgradeArgs),
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] PLUGIN PLUGIN-DATA-DIR")]
pub struct CreateArgs {
    /// Compress the context using gzip
    #[arg(long)]
    compress: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] PLUGIN")]
pub struct DisableArgs {
    /// Force the disable of an active plugin
    #[arg(short, long)]
    force: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] PLUGIN")]
pub struct EnableArgs {
    /// HTTP client timeout (in seconds)
    #[arg(
        long,
        value_name = "int",
        default_value = "30",
        allow_negative_numbers = true
    )]
    timeout: i64,
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] PLUGIN [PLUGIN...]")]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    format: Option<String>,
    #[arg(hide = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] PLUGIN [KEY=VALUE...]")]
pub struct InstallArgs {
    /// Local name for plugin
    #[arg(long, value_name = "string")]
    alias: Option<String>,
    /// Do not enable the plugin on install
    #[arg(long)]
    disable: bool,
    /// Skip image verification
    #[arg(long)]
    disable_content_trust: bool,
    /// Grant all permissions necessary to run the plugin
    #[arg(long)]
    grant_all_permissions: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct LsArgs {
    /// Provide filter values (e.g. "enabled=true")
    #[arg(short, long, value_name = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only display plugin IDs
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] PLUGIN[:TAG]")]
pub struct PushArgs {
    /// Skip image signing
    #[arg(long)]
    disable_content_trust: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] PLUGIN [PLUGIN...]")]
pub struct RmArgs {
    /// Force the removal of an active plugin
    #[arg(short, long)]
    force: bool,
    #[arg(hide = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "PLUGIN KEY=VALUE [KEY=VALUE...]")]
pub struct SetArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] PLUGIN [REMOTE]")]
pub struct UpgradeArgs {
    /// Skip image verification
    #[arg(long)]
    disable_content_trust: bool,
    /// Grant all permissions necessary to run the plugin
    #[arg(long)]
    grant_all_permissions: bool,
    /// Do not check if specified remote plugin matches existing plugin image
    #[arg(long)]
    skip_remote_check: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

pub async fn run(ctx: &Ctx, c: &PluginCmd) -> CliResult {
    use berth_client::api::seg;
    match c {
        PluginCmd::Create(a) => create(ctx, a).await,
        PluginCmd::Disable(a) => {
            ctx.arity(a.args.len(), Arity::Exact(1))?;
            let name = &a.args[0];
            ctx.client
                .post(format!("/plugins/{}/disable", seg(name)))
                .flag("force", a.force)
                .discard()
                .await?;
            outln(name);
            Ok(())
        }
        PluginCmd::Enable(a) => {
            ctx.arity(a.args.len(), Arity::Exact(1))?;
            let name = &a.args[0];
            if a.timeout < 0 {
                return Err(CliError::new(format!(
                    "negative timeout {} is invalid",
                    a.timeout
                )));
            }
            ctx.client
                .post(format!("/plugins/{}/enable", seg(name)))
                .query("timeout", a.timeout)
                .discard()
                .await?;
            outln(name);
            Ok(())
        }
        PluginCmd::Inspect(a) => inspect(ctx, a).await,
        PluginCmd::Install(a) => install(ctx, a).await,
        PluginCmd::Ls(a) => ls(ctx, a).await,
        PluginCmd::Push(a) => push(ctx, a).await,
        PluginCmd::Rm(a) => {
            ctx.arity(a.names.len(), Arity::Min(1))?;
            let mut errs = Vec::new();
            for n in &a.names {
                let r = ctx
                    .client
                    .delete(format!("/plugins/{}", seg(n)))
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
        PluginCmd::Set(a) => {
            ctx.arity(a.args.len(), Arity::Min(2))?;
            ctx.client
                .post(format!("/plugins/{}/set", seg(&a.args[0])))
                .json_body(&a.args[1..])?
                .discard()
                .await?;
            Ok(())
        }
        PluginCmd::Upgrade(a) => upgrade(ctx, a).await,
    }
}

async fn ls(ctx: &Ctx, a: &LsArgs) -> CliResult {
    let filters = parse_filters(&a.filter).map_err(|e| ctx.usage_error(&e.message))?;
    let plugins: Vec<Value> = ctx
        .client
        .get("/plugins")
        .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
        .json()
        .await?;
    let source = a.format.clone().filter(|f| !f.is_empty());
    let format = Format(match source.as_deref() {
        _ if a.quiet => "{{.ID}}".into(),
        None | Some("table") => "table {{.ID}}\t{{.Name}}\t{{.Description}}\t{{.Enabled}}".into(),
        Some(s) => s.to_string(),
    });
    let rows: Vec<Value> = plugins
        .iter()
        .map(|p| {
            let id = p["Id"].as_str().unwrap_or("");
            let mut desc = p["Config"]["Description"]
                .as_str()
                .unwrap_or("")
                .replace('\n', "");
            if !a.no_trunc && desc.chars().count() > 45 {
                desc = desc.chars().take(44).collect::<String>() + "…";
            }
            fmt::object([
                (
                    "ID",
                    Value::from(if a.no_trunc {
                        id.to_string()
                    } else {
                        super::short_id(id)
                    }),
                ),
                ("Name", p["Name"].as_str().unwrap_or("").into()),
                ("Description", desc.into()),
                ("Enabled", p["Enabled"].as_bool().unwrap_or(false).into()),
                (
                    "PluginReference",
                    p["PluginReference"].as_str().unwrap_or("").into(),
                ),
            ])
        })
        .collect();
    let header = json!({"ID": "ID", "Name": "NAME", "Description": "DESCRIPTION", "Enabled": "ENABLED", "PluginReference": "PLUGIN REFERENCE"});
    out(&format.render_for("*formatter.pluginContext", &header, &rows)?);
    Ok(())
}

async fn inspect(ctx: &Ctx, a: &InspectArgs) -> CliResult {
    ctx.arity(a.names.len(), Arity::Min(1))?;
    let tmpl = match a
        .format
        .as_deref()
        .filter(|f| !f.is_empty() && *f != "json")
    {
        Some(f) => Some(
            Template::parse(f)
                .map_err(|e| CliError::with_code(format!("template parsing error: {e}"), 64))?,
        ),
        None => None,
    };
    let mut raws = Vec::new();
    let mut errs = Vec::new();
    for n in &a.names {
        let r = ctx
            .client
            .get(format!("/plugins/{}/json", berth_client::api::seg(n)))
            .bytes()
            .await;
        match r {
            Ok(b) => raws.push(b.to_vec()),
            Err(e) => errs.push(e.to_string()),
        }
    }
    let mut text = String::new();
    match tmpl {
        Some(t) => {
            for raw in &raws {
                let v: Value = serde_json::from_slice(raw)
                    .map_err(|e| CliError::new(format!("unable to read inspect data: {e}")))?;
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
        None => {
            let mut all = b"[".to_vec();
            all.extend(raws.join(&b","[..]));
            all.push(b']');
            text = fmt::json_indent(&all, "    ");
            text.push('\n');
        }
    }
    out(&text);
    join_errors(errs)
}

/// The stored credentials for the registry of `n`, as `X-Registry-Auth`.
fn auth_for(ctx: &Ctx, n: &Named) -> Result<String, CliError> {
    let s = AuthStore::open(&ctx.config_dir).map_err(CliError::new)?;
    Ok(s.get(&super::registry::auth_key(&n.domain))
        .to_header_value())
}

fn parse_name(s: &str) -> Result<Named, CliError> {
    parse_normalized_named(s).map_err(CliError::new)
}

/// docker's `reference.String()` without a default tag.
fn full(n: &Named) -> String {
    super::registry::full_string(n)
}

/// Shows a JSON-message stream on stdout.
async fn show(resp: http::Response<hyper::body::Incoming>, path: &str) -> CliResult {
    let stdout = std::io::stdout();
    let width = progress::width_of(&stdout);
    let mut r: Renderer<Box<dyn Write>> =
        Renderer::new(Box::new(stdout), super::tty::stdout_is_tty(), width);
    progress::display(resp, path, &mut r, &mut |_| {}).await
}

/// The privileges the plugin `remote` asks for; accepted when `grant_all` or when
/// there are none, else asked.
async fn privileges(
    ctx: &Ctx,
    remote: &str,
    auth: &str,
    grant_all: bool,
    shown: &str,
) -> Result<Value, CliError> {
    let privs: Value = ctx
        .client
        .get("/plugins/privileges")
        .query("remote", remote)
        .header("X-Registry-Auth", auth)
        .json()
        .await?;
    let list = privs.as_array().cloned().unwrap_or_default();
    if !grant_all && !list.is_empty() {
        let mut text = format!("Plugin {shown:?} is requesting the following privileges:\n");
        for p in &list {
            let value: Vec<String> = p["Value"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect();
            text.push_str(&format!(
                " - {}: [{}]\n",
                p["Name"].as_str().unwrap_or(""),
                value.join(" ")
            ));
        }
        out(&text);
        if !super::lifecycle::confirm("Do you grant the above permissions?") {
            return Err(CliError::new("permission denied"));
        }
    }
    Ok(privs)
}

async fn install(ctx: &Ctx, a: &InstallArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Min(1))?;
    let local = match &a.alias {
        Some(al) if !al.is_empty() => {
            let n = parse_name(al)?;
            if n.digest.is_some() {
                return Err(CliError::new(format!("invalid name: {al}")));
            }
            format!("{}:{}", n.familiar_name(), n.tag_or_latest())
        }
        _ => String::new(),
    };
    let n = parse_name(&a.args[0])?;
    let remote = full(&n);
    let auth = auth_for(ctx, &n)?;
    let privs = privileges(ctx, &remote, &auth, a.grant_all_permissions, &a.args[0]).await?;
    let resp = ctx
        .client
        .post("/plugins/pull")
        .query("remote", &remote)
        .query_opt("name", (!local.is_empty()).then_some(&local))
        .header("X-Registry-Auth", &auth)
        .json_body(&privs)?
        .send()
        .await?;
    show(resp, "/plugins/pull").await?;
    if !a.disable {
        let name = if local.is_empty() { &remote } else { &local };
        ctx.client
            .post(format!("/plugins/{}/enable", berth_client::api::seg(name)))
            .query("timeout", 0)
            .discard()
            .await?;
    }
    outln(&format!("Installed plugin {}", a.args[0]));
    Ok(())
}

async fn push(ctx: &Ctx, a: &PushArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(1))?;
    let n = parse_name(&a.args[0])?;
    if n.digest.is_some() {
        return Err(CliError::new(format!("invalid name: {}", a.args[0])));
    }
    let name = format!("{}:{}", n.familiar_name(), n.tag_or_latest());
    let auth = auth_for(ctx, &n)?;
    let resp = ctx
        .client
        .post(format!("/plugins/{}/push", berth_client::api::seg(&name)))
        .header("X-Registry-Auth", &auth)
        .send()
        .await?;
    show(resp, "/plugins/push").await
}

async fn upgrade(ctx: &Ctx, a: &UpgradeArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Range(1, 2))?;
    let p: Value = ctx
        .client
        .get(format!(
            "/plugins/{}/json",
            berth_client::api::seg(&a.args[0])
        ))
        .json()
        .await
        .map_err(|e| CliError::new(format!("error reading plugin data: {e}")))?;
    if p["Enabled"].as_bool() == Some(true) {
        return Err(CliError::new(
            "the plugin must be disabled before upgrading",
        ));
    }
    let local = p["Name"].as_str().unwrap_or("").to_string();
    let current = p["PluginReference"].as_str().unwrap_or("").to_string();
    let remote_text = a.args.get(1).cloned().unwrap_or_else(|| current.clone());
    let remote = parse_name(&remote_text).map_err(|e| {
        CliError::new(format!(
            "error parsing remote upgrade image reference: {}",
            e.message
        ))
    })?;
    let old = parse_name(&current).map_err(|e| {
        CliError::new(format!(
            "error parsing current image reference: {}",
            e.message
        ))
    })?;
    let tagged = |n: &Named| format!("{}:{}", n.familiar_name(), n.tag_or_latest());
    outln(&format!(
        "Upgrading plugin {local} from {} to {}",
        tagged(&old),
        tagged(&remote)
    ));
    if !a.skip_remote_check
        && tagged(&remote) != tagged(&old)
        && !super::lifecycle::confirm("Plugin images do not match, are you sure?")
    {
        return Ok(());
    }
    let auth = auth_for(ctx, &remote)?;
    let privs = privileges(
        ctx,
        &full(&remote),
        &auth,
        a.grant_all_permissions,
        &remote_text,
    )
    .await?;
    let resp = ctx
        .client
        .post(format!(
            "/plugins/{}/upgrade",
            berth_client::api::seg(&local)
        ))
        .query("remote", full(&remote))
        .header("X-Registry-Auth", &auth)
        .json_body(&privs)?
        .send()
        .await?;
    show(resp, "/plugins/upgrade").await?;
    outln(&format!("Upgraded plugin {local} to {remote_text}"));
    Ok(())
}

async fn create(ctx: &Ctx, a: &CreateArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(2))?;
    let (name, dir) = (&a.args[0], &a.args[1]);
    parse_name(name)?;
    let abs = std::path::absolute(dir).map_err(|e| CliError::new(e.to_string()))?;
    let io = |op: &str, p: &std::path::Path, e: std::io::Error| {
        CliError::new(format!(
            "{op} {}: {}",
            p.display(),
            super::parse::io_text(&e)
        ))
    };
    let meta = std::fs::symlink_metadata(&abs).map_err(|e| io("lstat", &abs, e))?;
    if !meta.is_dir() {
        return Err(CliError::new("context must be a directory"));
    }
    let config = abs.join("config.json");
    std::fs::File::open(&config).map_err(|e| io("open", &config, e))?;
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", &abs)
        .map_err(|e| CliError::new(format!("archive {}: {e}", abs.display())))?;
    let mut body = tar
        .into_inner()
        .map_err(|e| CliError::new(format!("archive {}: {e}", abs.display())))?;
    if a.compress {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&body)
            .and_then(|()| gz.try_finish())
            .map_err(|e| CliError::new(format!("compress {}: {e}", abs.display())))?;
        body = gz.get_ref().clone();
    }
    ctx.client
        .post("/plugins/create")
        .query("name", name)
        .body("application/x-tar", berth_client::full_body(body))
        .discard()
        .await?;
    outln(name);
    Ok(())
}
