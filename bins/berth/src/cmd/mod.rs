//! The commands, one module per group. Each module defines its clap arguments and an
//! async `run` over a [`Ctx`].

pub mod api_socket;
pub mod build;
pub mod build_context;
pub mod build_fetch;
pub mod build_remote;
pub mod build_source;
pub mod builder;
pub mod container_opts;
pub mod context;
pub mod context_inspect;
pub mod cp;
pub mod export;
pub mod image_ops;
pub mod images;
pub mod inspect;
pub mod lifecycle;
pub mod netopts;
pub mod network;
pub mod outfile;
pub mod parse;
pub mod plugin;
pub mod progress;
pub mod ps;
pub mod reference;
pub mod registry;
pub mod run;
pub mod search;
pub mod stats;
pub mod streams;
pub mod swarm;
pub mod system;
pub mod timestamp;
pub mod tty;
pub mod volume;

use std::io::Write;

use berth_client::Client;
use berth_client::types::filters::Filters;

use crate::cli::{self, Arity};
use crate::config::ConfigFile;
use crate::error::CliError;

/// What every command gets.
pub struct Ctx {
    pub client: Client,
    pub config: ConfigFile,
    /// The configuration directory (`config.json` and its credentials).
    pub config_dir: std::path::PathBuf,
    /// The command as typed, for messages (`berth container ls`).
    pub path: String,
    /// The clap command, for usage lines.
    pub cmd: clap::Command,
    /// The current context and the default one.
    pub context: context::Selected,
}

impl Ctx {
    /// Checks the number of positional arguments.
    pub fn arity(&self, n: usize, arity: Arity) -> Result<(), CliError> {
        cli::check_arity(n, arity, &self.path, &self.cmd)
    }

    /// A usage error of this command (status 125).
    pub fn usage_error(&self, msg: &str) -> CliError {
        cli::usage_error(msg, &self.path, &self.cmd)
    }
}

/// Writes `text` to stdout. A closed stdout ends the process as SIGPIPE does for the
/// docker CLI (see `main`), so errors are not reported here.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// Writes a line to stdout.
pub fn outln(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.write_all(b"\n");
    let _ = o.flush();
}

/// Parses `--filter k=v` values into filters; a value without `=` is docker's error.
pub fn parse_filters(values: &[String]) -> Result<Filters, CliError> {
    let mut f = Filters::new();
    for v in values {
        match v.split_once('=') {
            Some((k, val)) => f.add(k.trim().to_lowercase(), val.trim()),
            None => {
                return Err(CliError::with_code(
                    format!(
                        "invalid argument \"{v}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
                    ),
                    125,
                ));
            }
        }
    }
    Ok(f)
}

/// Docker's 12-character short ID of `id` (with any `sha256:` prefix removed).
pub fn short_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

/// Runs `f` over every name, printing each name that succeeded (docker's output for
/// stop, rm, kill, ...) and collecting failures.
pub async fn for_each<F, Fut>(names: &[String], mut f: F) -> Result<(), CliError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), berth_client::Error>>,
{
    let mut errs = Vec::new();
    for n in names {
        match f(n.clone()).await {
            Ok(()) => outln(n),
            Err(e) => errs.push(e.to_string()),
        }
    }
    crate::error::join_errors(errs)
}
