//! The swarm family (`swarm`, `node`, `service`, `stack`, `secret`, `config`): docker's
//! commands and flags, each making docker's first request of the daemon and
//! reporting its answer as docker does.
//!
//! berth does not implement swarm mode: berthd answers these endpoints as a dockerd
//! outside any swarm (503 "This node is not a swarm manager…", "This node is not part
//! of a swarm") and refuses `swarm init`/`swarm join`. What the commands would show
//! from a swarm manager (tables, task trees, `--pretty` views) is therefore not
//! rendered: a request that unexpectedly succeeds is reported as unsupported.
//! Client-side checks docker makes before its first request (argument counts, the
//! role of `join-token`, scale specifiers, the content of `secret create`, a compose
//! file for `stack deploy`) are made the same way.

mod args_config;
mod args_node;
mod args_secret;
mod args_service;
mod args_service_update;
mod args_stack;
mod args_swarm;

pub use args_config::ConfigCmd;
pub use args_node::NodeCmd;
pub use args_secret::SecretCmd;
pub use args_service::ServiceCmd;
pub use args_stack::StackCmd;
pub use args_swarm::SwarmCmd;

use berth_client::api::seg;
use serde_json::Value;

use super::{Ctx, out, outln};
use crate::cli::{self, Arity};
use crate::error::{CliError, CliResult, join_errors};
use crate::fmt;

/// What the generated argument structs share.
pub trait Leaf {
    /// The positional arguments.
    fn args(&self) -> &[String];
    /// Whether any flag was given.
    fn changed(&self) -> bool;
}

impl<T: Leaf> Leaf for Box<T> {
    fn args(&self) -> &[String] {
        (**self).args()
    }
    fn changed(&self) -> bool {
        (**self).changed()
    }
}

/// The flags of `node ps`, `service ps` and `stack ps` (docker v28 gives
/// the three task listings the same set; each variant sets its usage).
#[derive(Debug, clap::Args)]
pub struct TaskListArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long, value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print tasks using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Do not map IDs to Names
    #[arg(long)]
    pub no_resolve: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only display task IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for TaskListArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.filter.is_empty()
            || self.format.is_some()
            || self.no_resolve
            || self.no_trunc
            || self.quiet
    }
}

/// A request's answer that berth cannot show (a daemon in swarm mode).
const UNSUPPORTED: &str = "berth does not implement swarm mode";

fn unsupported() -> CliError {
    CliError::new(UNSUPPORTED)
}

/// `GET path` as JSON.
async fn get(ctx: &Ctx, path: String) -> Result<Value, CliError> {
    Ok(ctx.client.get(path).json::<Value>().await?)
}

/// docker's first request of a command that shows what it gets: its error, or
/// berth's refusal to render a swarm's objects.
async fn first(ctx: &Ctx, path: String) -> CliResult {
    get(ctx, path).await?;
    Err(unsupported())
}

/// Checks the positional count of `a`.
fn arity(ctx: &Ctx, a: &dyn Leaf, n: Arity) -> CliResult {
    ctx.arity(a.args().len(), n)
}

/// docker's `inspect` over objects under `base` (`/nodes`, `/services`, …): the
/// found objects as indented JSON (`[]` when none) or through `format`, then the
/// errors; with `pretty`, the first error alone.
async fn inspect(
    ctx: &Ctx,
    base: &str,
    names: &[String],
    format: Option<&str>,
    pretty: bool,
) -> CliResult {
    let mut found = Vec::new();
    let mut errs = Vec::new();
    for n in names {
        match ctx.client.get(format!("{base}/{}", seg(n))).bytes().await {
            Ok(b) => found.push(b.to_vec()),
            Err(e) if pretty => return Err(e.into()),
            Err(e) => errs.push(e.to_string()),
        }
    }
    if pretty && !found.is_empty() {
        return Err(unsupported());
    }
    let text = match format.filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => {
            let t = fmt::Template::parse(f)
                .map_err(|e| CliError::with_code(format!("template parsing error: {e}"), 64))?;
            let mut s = String::new();
            for raw in &found {
                let v: Value = serde_json::from_slice(raw)
                    .map_err(|e| CliError::new(format!("unable to read inspect data: {e}")))?;
                match t.execute(&v, &mut s) {
                    Ok(()) => s.push('\n'),
                    Err(e) => errs.push(format!("template parsing error: {e}")),
                }
            }
            if s.is_empty() {
                s.push('\n');
            }
            s
        }
        None => {
            let mut all = b"[".to_vec();
            all.extend(found.join(&b","[..]));
            all.push(b']');
            fmt::json_indent(&all, "    ") + "\n"
        }
    };
    out(&text);
    join_errors(errs)
}

/// `DELETE base/<name>` for each name: the names removed, then the errors.
async fn remove_each(ctx: &Ctx, base: &str, names: &[String], force: bool) -> CliResult {
    let mut errs = Vec::new();
    for n in names {
        let r = ctx
            .client
            .delete(format!("{base}/{}", seg(n)))
            .flag("force", force)
            .discard()
            .await;
        match r {
            Ok(()) => outln(n),
            Err(e) => errs.push(e.to_string()),
        }
    }
    join_errors(errs)
}

/// The content of `secret create` and `config create` (docker's `readSecretData`):
/// a file, or stdin for `-`, never empty.
fn read_content(file: &str, what: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    const MAX: u64 = 2 * 500 * 1024;
    let data = match file {
        "" => return Err(format!("{what} file is required")),
        "-" => {
            let mut buf = Vec::new();
            std::io::stdin()
                .take(MAX)
                .read_to_end(&mut buf)
                .map_err(|e| format!("error reading from STDIN: {}", super::parse::io_text(&e)))?;
            if buf.is_empty() {
                return Err("error reading from STDIN: data is empty".into());
            }
            return Ok(buf);
        }
        path => {
            let f = std::fs::File::open(path).map_err(|e| {
                format!(
                    "error reading from {path}: open {path}: {}",
                    super::parse::io_text(&e)
                )
            })?;
            let mut buf = Vec::new();
            f.take(MAX).read_to_end(&mut buf).map_err(|e| {
                format!(
                    "error reading from {path}: read {path}: {}",
                    super::parse::io_text(&e)
                )
            })?;
            buf
        }
    };
    if data.is_empty() {
        return Err(format!("error reading from {file}: data is empty"));
    }
    Ok(data)
}

/// docker's check of `--availability`.
fn check_availability(a: Option<&str>) -> CliResult {
    match a {
        None | Some("active" | "pause" | "drain") => Ok(()),
        Some(v) => Err(CliError::new(format!(
            "invalid availability {v:?}, only active, pause and drain are supported"
        ))),
    }
}

pub async fn swarm(ctx: &Ctx, c: &SwarmCmd) -> CliResult {
    use SwarmCmd as S;
    match c {
        S::Ca(a) => {
            arity(ctx, a, Arity::None)?;
            first(ctx, "/swarm".into()).await
        }
        S::Init(a) => {
            arity(ctx, a, Arity::None)?;
            check_availability(a.availability.as_deref())?;
            let body = serde_json::json!({
                "ListenAddr": a.listen_addr.clone().unwrap_or_else(|| "0.0.0.0:2377".into()),
                "AdvertiseAddr": a.advertise_addr.clone().unwrap_or_default(),
                "ForceNewCluster": a.force_new_cluster,
                "AutoLockManagers": a.autolock,
                "Availability": a.availability.clone().unwrap_or_else(|| "active".into()),
            });
            ctx.client
                .post("/swarm/init")
                .json_body(&body)?
                .discard()
                .await?;
            Err(unsupported())
        }
        S::Join(a) => {
            arity(ctx, a, Arity::Exact(1))?;
            check_availability(a.availability.as_deref())?;
            let body = serde_json::json!({
                "ListenAddr": a.listen_addr.clone().unwrap_or_else(|| "0.0.0.0:2377".into()),
                "AdvertiseAddr": a.advertise_addr.clone().unwrap_or_default(),
                "RemoteAddrs": [a.operands[0]],
                "JoinToken": a.token.clone().unwrap_or_default(),
                "Availability": a.availability.clone().unwrap_or_else(|| "active".into()),
            });
            ctx.client
                .post("/swarm/join")
                .json_body(&body)?
                .discard()
                .await?;
            Err(unsupported())
        }
        S::JoinToken(a) => {
            arity(ctx, a, Arity::Exact(1))?;
            let role = &a.operands[0];
            if role != "worker" && role != "manager" {
                return Err(CliError::new(format!("unknown role {role}")));
            }
            first(ctx, "/swarm".into()).await
        }
        S::Leave(a) => {
            arity(ctx, a, Arity::None)?;
            ctx.client
                .post("/swarm/leave")
                .flag("force", a.force)
                .discard()
                .await?;
            outln("Node left the swarm.");
            Ok(())
        }
        S::Unlock(a) => {
            arity(ctx, a, Arity::None)?;
            let info = get(ctx, "/info".into()).await?;
            match info["Swarm"]["LocalNodeState"].as_str().unwrap_or("") {
                "" | "inactive" => Err(CliError::new("Error: This node is not part of a swarm")),
                "locked" => Err(unsupported()),
                _ => Err(CliError::new("Error: swarm is not locked")),
            }
        }
        S::UnlockKey(a) => {
            arity(ctx, a, Arity::None)?;
            if a.rotate {
                return first(ctx, "/swarm".into()).await;
            }
            get(ctx, "/swarm/unlockkey".into())
                .await
                .map_err(|e| CliError::new(format!("could not fetch unlock key: {}", e.message)))?;
            Err(unsupported())
        }
        S::Update(a) => {
            arity(ctx, a, Arity::None)?;
            if !a.changed() {
                // docker shows the command's help when nothing is to be updated.
                out(&cli::help::render(
                    &["swarm".into(), "update".into()],
                    &ctx.cmd,
                ));
                return Ok(());
            }
            first(ctx, "/swarm".into()).await
        }
    }
}

pub async fn node(ctx: &Ctx, c: &NodeCmd) -> CliResult {
    use NodeCmd as N;
    match c {
        N::Demote(a) => {
            arity(ctx, a, Arity::Min(1))?;
            first(ctx, format!("/nodes/{}", seg(&a.operands[0]))).await
        }
        N::Promote(a) => {
            arity(ctx, a, Arity::Min(1))?;
            first(ctx, format!("/nodes/{}", seg(&a.operands[0]))).await
        }
        N::Update(a) => {
            arity(ctx, a, Arity::Exact(1))?;
            first(ctx, format!("/nodes/{}", seg(&a.operands[0]))).await
        }
        N::Inspect(a) => {
            arity(ctx, a, Arity::Min(1))?;
            let names = self_to_id(ctx, &a.operands).await?;
            inspect(ctx, "/nodes", &names, a.format.as_deref(), a.pretty).await
        }
        N::Ls(a) => {
            arity(ctx, a, Arity::None)?;
            first(ctx, "/nodes".into()).await
        }
        N::Ps(a) => {
            let given = if a.operands.is_empty() {
                vec!["self".to_string()]
            } else {
                a.operands.clone()
            };
            let names = self_to_id(ctx, &given).await?;
            let mut errs = Vec::new();
            for n in &names {
                if let Err(e) = get(ctx, format!("/nodes/{}", seg(n))).await {
                    errs.push(e.message);
                }
            }
            if errs.is_empty() {
                return Err(unsupported());
            }
            join_errors(errs)
        }
        N::Rm(a) => {
            arity(ctx, a, Arity::Min(1))?;
            remove_each(ctx, "/nodes", &a.operands, a.force).await
        }
    }
}

/// docker's `self` is the node of the daemon (`Swarm.NodeID` of `/info`).
async fn self_to_id(ctx: &Ctx, names: &[String]) -> Result<Vec<String>, CliError> {
    if !names.iter().any(|n| n == "self") {
        return Ok(names.to_vec());
    }
    let info = get(ctx, "/info".into()).await?;
    let id = info["Swarm"]["NodeID"].as_str().unwrap_or("").to_string();
    Ok(names
        .iter()
        .map(|n| if n == "self" { id.clone() } else { n.clone() })
        .collect())
}

pub async fn service(ctx: &Ctx, c: &ServiceCmd) -> CliResult {
    use ServiceCmd as S;
    let one = |a: &dyn Leaf| format!("/services/{}", seg(&a.args()[0]));
    match c {
        S::Create(a) => {
            arity(ctx, a, Arity::Min(1))?;
            let body = serde_json::json!({
                "Name": a.name.clone().unwrap_or_default(),
                "TaskTemplate": {"ContainerSpec": {"Image": a.operands[0], "Args": &a.operands[1..]}},
            });
            ctx.client
                .post("/services/create")
                .json_body(&body)?
                .discard()
                .await?;
            Err(unsupported())
        }
        S::Inspect(a) => {
            arity(ctx, a, Arity::Min(1))?;
            inspect(ctx, "/services", &a.operands, a.format.as_deref(), a.pretty).await
        }
        S::Logs(a) => {
            arity(ctx, a, Arity::Exact(1))?;
            first(ctx, one(a)).await
        }
        S::Ls(a) => {
            arity(ctx, a, Arity::None)?;
            first(ctx, "/services".into()).await
        }
        S::Ps(a) => {
            arity(ctx, a, Arity::Min(1))?;
            first(ctx, "/services".into()).await
        }
        S::Rm(a) => {
            arity(ctx, a, Arity::Min(1))?;
            remove_each(ctx, "/services", &a.operands, false).await
        }
        S::Rollback(a) => {
            arity(ctx, a, Arity::Exact(1))?;
            first(ctx, one(a)).await
        }
        S::Scale(a) => scale(ctx, a).await,
        S::Update(a) => {
            arity(ctx, a, Arity::Exact(1))?;
            first(ctx, one(a)).await
        }
    }
}

/// `service scale SERVICE=REPLICAS…`: each specifier checked, then each service
/// looked up; the errors named by service.
async fn scale(ctx: &Ctx, a: &args_service::ServiceScaleArgs) -> CliResult {
    arity(ctx, a, Arity::Min(1))?;
    for arg in &a.operands {
        match arg.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {}
            _ => {
                let usage = cli::usage_line(&ctx.path, &ctx.cmd);
                return Err(CliError::new(format!(
                    "invalid scale specifier '{arg}'.\nSee '{} --help'.\n\nUsage:  {usage}\n\nScale one or multiple replicated services",
                    ctx.path
                )));
            }
        }
    }
    let mut errs = Vec::new();
    for arg in &a.operands {
        let (id, n) = arg.split_once('=').unwrap_or((arg, ""));
        if n.parse::<u64>().is_err() {
            errs.push(format!(
                "{id}: invalid replicas value {n}: strconv.ParseUint: parsing {n:?}: invalid syntax"
            ));
            continue;
        }
        match get(ctx, format!("/services/{}", seg(id))).await {
            Err(e) => errs.push(format!("{id}: {}", e.message)),
            Ok(_) => errs.push(format!("{id}: {UNSUPPORTED}")),
        }
    }
    join_errors(errs)
}

pub async fn stack(ctx: &Ctx, c: &StackCmd) -> CliResult {
    use StackCmd as S;
    match c {
        S::Config(a) => {
            arity(ctx, a, Arity::None)?;
            Err(CliError::new("berth does not implement compose files"))
        }
        S::Deploy(a) => {
            arity(ctx, a, Arity::Exact(1))?;
            let Some(file) = a.compose_file.first() else {
                return Err(CliError::new(
                    "Specify a Compose file (with --compose-file)",
                ));
            };
            if file != "-" {
                std::fs::metadata(file).map_err(|e| {
                    CliError::new(format!("open {file}: {}", super::parse::io_text(&e)))
                })?;
            }
            if !a.detach {
                eprintln!(
                    "Since --detach=false was not specified, tasks will be created in the background.\nIn a future release, --detach=false will become the default."
                );
            }
            let info = get(ctx, "/info".into()).await?;
            if info["Swarm"]["ControlAvailable"].as_bool() != Some(true) {
                return Err(CliError::new(
                    "this node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again",
                ));
            }
            Err(unsupported())
        }
        S::Ls(a) => {
            arity(ctx, a, Arity::None)?;
            first(ctx, "/services".into()).await
        }
        S::Ps(a) => {
            arity(ctx, a, Arity::Exact(1))?;
            first(ctx, "/tasks".into()).await
        }
        S::Rm(a) => {
            arity(ctx, a, Arity::Min(1))?;
            first(ctx, "/services".into()).await
        }
        S::Services(a) => {
            arity(ctx, a, Arity::Exact(1))?;
            first(ctx, "/services".into()).await
        }
    }
}

pub async fn secret(ctx: &Ctx, c: &SecretCmd) -> CliResult {
    use SecretCmd as S;
    match c {
        S::Create(a) => {
            arity(ctx, a, Arity::Range(1, 2))?;
            let file = a.operands.get(1).cloned().unwrap_or_default();
            let data = match &a.driver {
                Some(d) if !d.is_empty() => {
                    if !file.is_empty() {
                        return Err(CliError::new(
                            "When using secret driver secret data must be empty",
                        ));
                    }
                    Vec::new()
                }
                _ => read_content(&file, "secret").map_err(CliError::new)?,
            };
            create(ctx, "/secrets/create", &a.operands[0], &data).await
        }
        S::Inspect(a) => {
            arity(ctx, a, Arity::Min(1))?;
            inspect(ctx, "/secrets", &a.operands, a.format.as_deref(), a.pretty).await
        }
        S::Ls(a) => {
            arity(ctx, a, Arity::None)?;
            first(ctx, "/secrets".into()).await
        }
        S::Rm(a) => {
            arity(ctx, a, Arity::Min(1))?;
            remove_each(ctx, "/secrets", &a.operands, false).await
        }
    }
}

pub async fn config(ctx: &Ctx, c: &ConfigCmd) -> CliResult {
    use ConfigCmd as C;
    match c {
        C::Create(a) => {
            arity(ctx, a, Arity::Exact(2))?;
            let file = &a.operands[1];
            let data = read_content(file, "config")
                .map_err(|e| CliError::new(format!("Error reading content from {file:?}: {e}")))?;
            create(ctx, "/configs/create", &a.operands[0], &data).await
        }
        C::Inspect(a) => {
            arity(ctx, a, Arity::Min(1))?;
            inspect(ctx, "/configs", &a.operands, a.format.as_deref(), a.pretty).await
        }
        C::Ls(a) => {
            arity(ctx, a, Arity::None)?;
            first(ctx, "/configs".into()).await
        }
        C::Rm(a) => {
            arity(ctx, a, Arity::Min(1))?;
            remove_each(ctx, "/configs", &a.operands, false).await
        }
    }
}

/// `POST path` with the spec of a secret or config; prints the new ID.
async fn create(ctx: &Ctx, path: &str, name: &str, data: &[u8]) -> CliResult {
    use base64::Engine as _;
    let body = serde_json::json!({
        "Name": name,
        "Data": base64::engine::general_purpose::STANDARD.encode(data),
    });
    let r: Value = ctx.client.post(path).json_body(&body)?.json().await?;
    outln(r["ID"].as_str().unwrap_or(""));
    Ok(())
}
