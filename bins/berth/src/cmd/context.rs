//! `context` subcommands: the docker CLI's named endpoints, kept in its context store
//! (see `contexts`) so that docker and berth share them. None of them talks to the
//! daemon; the connection of a run is picked from the store by `connection`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Ctx, out, outln};
use crate::cli::Arity;
use crate::config::AuthStore;
use crate::connection::Connection;
use crate::contexts::{self, DEFAULT, Endpoint, Meta, Store, StoreError, TlsFiles};
use crate::error::{CliError, CliResult, join_errors};
use crate::fmt::{self, Format};

/// The context a run uses and what the default context is, for the commands.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The current context's name (`--context`, `DOCKER_CONTEXT`, `currentContext`,
    /// or `default`).
    pub name: String,
    /// The default context's connection (flags and environment), or why it does not
    /// resolve.
    pub default: Result<Connection, String>,
    /// The host variable that overrides the configured context, if one is set.
    pub host_variable: Option<&'static str>,
}

/// `berth context …`.
#[derive(Debug, Subcommand)]
pub enum ContextCmd {
    /// Create a context
    Create(CreateArgs),
    // clap drops a doc comment's final period; docker's text has it.
    #[command(about = "Export a context to a tar archive FILE or a tar stream on STDOUT.")]
    Export(ExportArgs),
    /// Import a context from a tar or zip file
    Import(ImportArgs),
    /// Display detailed information on one or more contexts
    Inspect(InspectArgs),
    /// List contexts
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove one or more contexts
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Print the name of the current context
    Show(NoArgs),
    /// Update a context
    Update(UpdateArgs),
    /// Set the current docker context
    Use(UseArgs),
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTEXT")]
pub struct CreateArgs {
    /// Description of the context
    #[arg(long, value_name = "string")]
    description: Option<String>,
    /// set the docker endpoint
    #[arg(long, value_name = "stringToString")]
    docker: Vec<String>,
    /// create context from a named context
    #[arg(long, value_name = "string")]
    from: Option<String>,
    #[arg(hide = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTEXT")]
pub struct UpdateArgs {
    /// Description of the context
    #[arg(long, value_name = "string")]
    description: Option<String>,
    /// set the docker endpoint
    #[arg(long, value_name = "stringToString")]
    docker: Vec<String>,
    #[arg(hide = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTEXT [FILE|-]")]
pub struct ExportArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "CONTEXT FILE|-")]
pub struct ImportArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] [CONTEXT] [CONTEXT...]")]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    pub(super) format: Option<String>,
    #[arg(hide = true)]
    pub(super) names: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct LsArgs {
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Only show context names
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Args)]
#[command(override_usage = "CONTEXT [CONTEXT...]")]
pub struct RmArgs {
    /// Force the removal of a context in use
    #[arg(short, long)]
    force: bool,
    #[arg(hide = true)]
    names: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "")]
pub struct NoArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "CONTEXT")]
pub struct UseArgs {
    #[arg(hide = true)]
    names: Vec<String>,
}

pub async fn run(ctx: &Ctx, c: &ContextCmd) -> CliResult {
    let v = View {
        store: Store::new(&ctx.config_dir),
        sel: &ctx.context,
    };
    match c {
        ContextCmd::Create(a) => create(ctx, &v, a),
        ContextCmd::Export(a) => export(ctx, &v, a),
        ContextCmd::Import(a) => import(ctx, &v, a),
        ContextCmd::Inspect(a) => super::context_inspect::inspect(&v, a),
        ContextCmd::Ls(a) => ls(&v, a),
        ContextCmd::Rm(a) => rm(ctx, &v, a),
        ContextCmd::Show(a) => {
            ctx.arity(a.args.len(), Arity::None)?;
            outln(&v.sel.name);
            Ok(())
        }
        ContextCmd::Update(a) => update(ctx, &v, a),
        ContextCmd::Use(a) => use_context(ctx, &v, a),
    }
}

/// The store with the default context in it (docker's `ContextStoreWithDefault`).
pub(super) struct View<'a> {
    pub(super) store: Store,
    pub(super) sel: &'a Selected,
}

impl View<'_> {
    /// The default context: its endpoint and TLS files from the flags and the
    /// environment.
    fn default(&self) -> Result<(Meta, TlsFiles), CliError> {
        let conn = self.sel.default.clone().map_err(CliError::new)?;
        let ep = Endpoint {
            host: conn.host.to_string(),
            skip_tls_verify: conn.tls.as_ref().is_some_and(|t| !t.verify),
        };
        let mut files = BTreeMap::new();
        if let Some(t) = &conn.tls {
            for (name, path) in [
                ("ca.pem", &t.ca),
                ("cert.pem", &t.cert),
                ("key.pem", &t.key),
            ] {
                if let Some(p) = path {
                    files.insert(name.to_string(), read_file(p)?);
                }
            }
        }
        let mut tls = TlsFiles::new();
        if !files.is_empty() {
            tls.insert(contexts::DOCKER_ENDPOINT.to_string(), files);
        }
        Ok((Meta::new(DEFAULT, "", &ep), tls))
    }

    pub(super) fn get(&self, name: &str) -> Result<Meta, CliError> {
        if name == DEFAULT {
            return Ok(self.default()?.0);
        }
        self.store.get(name).map_err(store_err)
    }

    pub(super) fn tls_all(&self, name: &str) -> Result<TlsFiles, CliError> {
        if name == DEFAULT {
            return Ok(self.default()?.1);
        }
        self.store.tls_all(name).map_err(store_err)
    }

    /// docker's `checkContextNameForCreation`.
    fn check_new_name(&self, name: &str) -> Result<(), CliError> {
        contexts::validate_name(name).map_err(store_err)?;
        match self.store.get(name) {
            Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(CliError::new(format!(
                "error while getting existing contexts: {e}"
            ))),
            Ok(_) => Err(CliError::new(format!("context {name:?} already exists"))),
        }
    }

    /// Writes a context and replaces its TLS material.
    fn save(&self, meta: &Meta, tls: &TlsFiles) -> Result<(), CliError> {
        self.store.create_or_update(meta).map_err(store_err)?;
        self.store.reset_tls(&meta.name, tls).map_err(store_err)
    }
}

pub(super) fn store_err(e: StoreError) -> CliError {
    CliError::new(e.to_string())
}

fn read_file(p: &std::path::Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(p).map_err(|e| {
        CliError::new(format!(
            "open {}: {}",
            p.display(),
            super::parse::io_text(&e)
        ))
    })
}

/// The `--docker` values as pflag's `stringToString` reads them: `key=value`, or a
/// comma-separated (CSV) list of them when there is more than one `=`.
fn docker_flag(ctx: &Ctx, values: &[String]) -> Result<Option<BTreeMap<String, String>>, CliError> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut m = BTreeMap::new();
    for val in values {
        let bad = |pair: &str| {
            ctx.usage_error(&format!(
                "invalid argument {val:?} for \"--docker\" flag: {pair} must be formatted as key=value"
            ))
        };
        let pairs = match val.matches('=').count() {
            0 => return Err(bad(val)),
            1 => vec![val.trim_matches('"').to_string()],
            _ => csv_fields(val),
        };
        for p in pairs {
            match p.split_once('=') {
                Some((k, v)) => {
                    m.insert(k.to_string(), v.to_string());
                }
                None => return Err(bad(&p)),
            }
        }
    }
    Ok(Some(m))
}

/// One CSV record (RFC 4180 quoting), as Go's `encoding/csv` reads a line.
fn csv_fields(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// One endpoint's TLS files by name.
type EndpointFiles = BTreeMap<String, Vec<u8>>;

/// The keys `--docker` takes.
const DOCKER_KEYS: &[&str] = &["from", "host", "ca", "cert", "key", "skip-tls-verify"];

/// docker's `getDockerEndpointMetadataAndTLS`: the endpoint and its TLS files from the
/// `--docker` keys, checked as docker checks them (the files must read; for a TCP
/// host, the material must parse and the host must be an address).
fn endpoint_from(
    v: &View,
    cfg: &BTreeMap<String, String>,
) -> Result<(Endpoint, Option<EndpointFiles>), String> {
    let unknown: Vec<String> = cfg
        .keys()
        .filter(|k| !DOCKER_KEYS.contains(&k.as_str()))
        .map(|k| format!("unrecognized config key: {k}"))
        .collect();
    if !unknown.is_empty() {
        return Err(unknown.join("\n"));
    }
    if let Some(from) = cfg.get("from") {
        let m = v.get(from).map_err(|e| e.message)?;
        let ep = m
            .docker()
            .map_err(|_| format!("unable to get endpoint from context {from:?}"))?;
        return Ok((ep, None));
    }
    let mut files = BTreeMap::new();
    for (key, file) in [("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")] {
        if let Some(p) = cfg.get(key).filter(|p| !p.is_empty()) {
            files.insert(
                file.to_string(),
                read_file(std::path::Path::new(p)).map_err(|e| e.message)?,
            );
        }
    }
    let skip = match cfg.get("skip-tls-verify") {
        None => false,
        Some(s) => super::parse::go_bool(s)
            .map_err(|_| format!("skip-tls-verify: parsing {s:?}: invalid syntax"))?,
    };
    let host = cfg.get("host").cloned().unwrap_or_default();
    if !host.is_empty() {
        let (proto, addr) = host.split_once("://").unwrap_or(("", ""));
        let socket = matches!(proto, "unix" | "npipe" | "fd");
        if !socket && proto != "ssh" && (!files.is_empty() || skip) {
            let path = |k: &str| cfg.get(k).filter(|p| !p.is_empty()).map(PathBuf::from);
            let opts = berth_client::TlsOptions {
                verify: !skip,
                ca: path("ca"),
                cert: path("cert"),
                key: path("key"),
            };
            berth_client::TlsMaterial::read(&opts)
                .and_then(|m| m.connector())
                .map_err(|e| format!("invalid docker endpoint options: {e}"))?;
        }
        if proto.is_empty() || addr.is_empty() {
            return Err(format!(
                "unable to apply docker endpoint options: unable to parse docker host `{host}`"
            ));
        }
    }
    let ep = Endpoint {
        host,
        skip_tls_verify: skip,
    };
    Ok((ep, (!files.is_empty()).then_some(files)))
}

fn create(ctx: &Ctx, v: &View, a: &CreateArgs) -> CliResult {
    let docker = docker_flag(ctx, &a.docker)?;
    ctx.arity(a.names.len(), Arity::Exact(1))?;
    let name = &a.names[0];
    v.check_new_name(name)?;
    let description = a.description.clone().unwrap_or_default();
    let from = a.from.clone().filter(|f| !f.is_empty());
    let (meta, tls) = match (&from, &docker) {
        (None, Some(cfg)) => {
            let (ep, files) = endpoint_from(v, cfg).map_err(|e| {
                CliError::new(format!("unable to create docker endpoint config: {e}"))
            })?;
            let mut tls = TlsFiles::new();
            if let Some(f) = files {
                tls.insert(contexts::DOCKER_ENDPOINT.to_string(), f);
            }
            (Meta::new(name, &description, &ep), tls)
        }
        (_, Some(cfg)) if !cfg.is_empty() => {
            return Err(CliError::new("cannot use --docker flag when --from is set"));
        }
        _ => {
            // A copy of the named (else the current) context, through docker's
            // export and import: the default context's copy is described as the
            // default is listed.
            let src = from.unwrap_or_else(|| v.sel.name.clone());
            let mut meta = v.get(&src)?;
            let tls = v.tls_all(&src)?;
            if src == DEFAULT {
                meta.set_description(contexts::DEFAULT_DESCRIPTION);
            }
            if !description.is_empty() {
                meta.set_description(&description);
            }
            meta.name = name.clone();
            (meta, tls)
        }
    };
    v.save(&meta, &tls)?;
    outln(name);
    eprintln!("Successfully created context {name:?}");
    Ok(())
}

fn update(ctx: &Ctx, v: &View, a: &UpdateArgs) -> CliResult {
    let docker = docker_flag(ctx, &a.docker)?;
    ctx.arity(a.names.len(), Arity::Exact(1))?;
    let name = &a.names[0];
    contexts::validate_name(name).map_err(store_err)?;
    let mut meta = v.store.get(name).map_err(store_err)?;
    if let Some(d) = a.description.as_deref().filter(|d| !d.is_empty()) {
        meta.set_description(d);
    }
    let mut tls = None;
    if let Some(cfg) = &docker {
        let (ep, files) = endpoint_from(v, cfg)
            .map_err(|e| CliError::new(format!("unable to create docker endpoint config: {e}")))?;
        meta.endpoints
            .insert(contexts::DOCKER_ENDPOINT.to_string(), ep.to_value());
        tls = Some(files);
    }
    v.store.create_or_update(&meta).map_err(store_err)?;
    if let Some(files) = tls {
        v.store
            .reset_endpoint_tls(name, contexts::DOCKER_ENDPOINT, files.as_ref())
            .map_err(store_err)?;
    }
    outln(name);
    eprintln!("Successfully updated context {name:?}");
    Ok(())
}

fn use_context(ctx: &Ctx, v: &View, a: &UseArgs) -> CliResult {
    if a.names.len() != 1 {
        // cobra's ExactArgs, without a usage.
        return Err(CliError::new(format!(
            "accepts 1 arg(s), received {}",
            a.names.len()
        )));
    }
    let name = &a.names[0];
    let mut value = "";
    if name != DEFAULT {
        contexts::validate_name(name).map_err(store_err)?;
        v.store.get(name).map_err(store_err)?;
        value = name;
    }
    let mut cfg = AuthStore::open(&ctx.config_dir).map_err(CliError::new)?;
    cfg.set_current_context(value).map_err(CliError::new)?;
    outln(name);
    eprintln!("Current context is now {name:?}");
    if let Some(var) = v.sel.host_variable.filter(|_| name != DEFAULT) {
        eprintln!(
            "Warning: {var} environment variable overrides the active context. To use {name:?}, either set the global --context flag, or unset {var} environment variable."
        );
    }
    Ok(())
}

fn rm(ctx: &Ctx, v: &View, a: &RmArgs) -> CliResult {
    ctx.arity(a.names.len(), Arity::Min(1))?;
    let mut errs = Vec::new();
    for name in &a.names {
        if name == DEFAULT {
            errs.push("context \"default\" cannot be removed".to_string());
            continue;
        }
        match remove_one(ctx, v, name, a.force) {
            Ok(()) => outln(name),
            Err(e) => errs.push(e),
        }
    }
    join_errors(errs)
}

fn remove_one(ctx: &Ctx, v: &View, name: &str, force: bool) -> Result<(), String> {
    if name == v.sel.name {
        if !force {
            return Err(format!(
                "context {name:?} is in use, set -f flag to force remove"
            ));
        }
        // Back to the default (DOCKER_HOST) for later runs.
        let mut cfg = AuthStore::open(&ctx.config_dir)?;
        cfg.set_current_context("")?;
    }
    if !force && !v.store.meta_dir(name).exists() {
        return Err(format!("context {name:?} does not exist"));
    }
    v.store
        .remove(name)
        .map_err(|e| format!("failed to remove context {name}: {e}"))
}

fn export(ctx: &Ctx, v: &View, a: &ExportArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Range(1, 2))?;
    let name = &a.args[0];
    if name != DEFAULT {
        contexts::validate_name(name).map_err(store_err)?;
    }
    let dest = a
        .args
        .get(1)
        .cloned()
        .unwrap_or_else(|| format!("{name}.dockercontext"));
    // The context is read before anything is written (docker creates the file
    // first and leaves it empty when the context does not exist).
    let meta = v.get(name)?;
    let tls = v.tls_all(name)?;
    let bytes = contexts::export(&meta, &tls).map_err(store_err)?;
    if dest == "-" {
        use std::io::IsTerminal;
        if std::io::stdout().is_terminal() {
            return Err(CliError::new(
                "cowardly refusing to export to a terminal, specify a file path",
            ));
        }
        use std::io::Write;
        let mut o = std::io::stdout().lock();
        return o.write_all(&bytes).and_then(|()| o.flush()).map_err(|e| {
            CliError::new(format!("write /dev/stdout: {}", super::parse::io_text(&e)))
        });
    }
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = PathBuf::from(&dest);
    let io_err =
        |e: std::io::Error| CliError::new(format!("open {dest}: {}", super::parse::io_text(&e)));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err)?;
    f.write_all(&bytes)
        .map_err(|e| CliError::new(format!("write {dest}: {}", super::parse::io_text(&e))))?;
    eprintln!("Written file {dest:?}");
    Ok(())
}

fn import(ctx: &Ctx, v: &View, a: &ImportArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(2))?;
    let (name, source) = (&a.args[0], &a.args[1]);
    v.check_new_name(name)?;
    let data = if source == "-" {
        use std::io::Read;
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| {
            CliError::new(format!("read /dev/stdin: {}", super::parse::io_text(&e)))
        })?;
        buf
    } else {
        read_file(std::path::Path::new(source))?
    };
    let (meta, tls) = contexts::import(name, &data).map_err(store_err)?;
    v.save(&meta, &tls)?;
    outln(name);
    eprintln!("Successfully imported context {name:?}");
    Ok(())
}

fn ls(v: &View, a: &LsArgs) -> CliResult {
    let mut metas = v.store.list().map_err(store_err)?;
    metas.push(v.get(DEFAULT)?);
    let cur = &v.sel.name;
    let mut rows: Vec<(String, Value)> = Vec::new();
    let mut found = false;
    for m in &metas {
        let current = &m.name == cur;
        found |= current;
        let (host, error) = match m.docker() {
            Ok(ep) => (ep.host, String::new()),
            Err(e) => (String::new(), e),
        };
        let description = if m.name == DEFAULT {
            contexts::DEFAULT_DESCRIPTION.to_string()
        } else {
            m.description()
        };
        rows.push((
            m.name.clone(),
            row(&m.name, current, &description, &host, &error),
        ));
    }
    if !found {
        // The current context is not there: a row with the reason.
        let error = v
            .store
            .get(cur)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        rows.push((cur.clone(), row(cur, true, "", "", &error)));
    }
    rows.sort_by(|x, y| fmt::units::natural_cmp(&x.0, &y.0));
    let rows: Vec<Value> = rows.into_iter().map(|(_, r)| r).collect();
    let source = a
        .format
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "table".into());
    let format = Format(match source.as_str() {
        _ if a.quiet => "{{.Name}}".into(),
        "table" => "table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}".into(),
        s => s.to_string(),
    });
    // The header row has no `Current` (docker's header is a map without it: false
    // in `if`, `<no value>` printed).
    let header = json!({"Name": "NAME", "Description": "DESCRIPTION", "DockerEndpoint": "DOCKER ENDPOINT", "Error": "ERROR", "Current": null});
    out(&format.render_for("*formatter.clientContextContext", &header, &rows)?);
    if let Some(var) = v.sel.host_variable {
        eprintln!(
            "Warning: {var} environment variable overrides the active context. To use a context, either set the global --context flag, or unset {var} environment variable."
        );
    }
    Ok(())
}

fn row(name: &str, current: bool, description: &str, host: &str, error: &str) -> Value {
    fmt::object([
        ("Name", Value::from(name)),
        ("Current", current.into()),
        ("Description", description.into()),
        ("DockerEndpoint", host.into()),
        ("Error", ellipsis(error, 45).into()),
    ])
}

/// docker's `Ellipsis`: `s` cut to `max` columns, the last one an ellipsis.
fn ellipsis(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max {
        return s.to_string();
    }
    let mut t: String = chars[..max - 1].iter().collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_ellipsis() {
        assert_eq!(
            csv_fields("host=a,\"ca=b,c\",key=k"),
            vec!["host=a", "ca=b,c", "key=k"]
        );
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(ellipsis("abc", 4), "abc");
    }
}
