//! `export`: a container's filesystem as a tar, to stdout (never a terminal) or to a
//! file written whole or not at all (see `outfile`).

use clap::Args;

use super::{Ctx, tty};
use crate::cli::Arity;
use crate::error::{CliError, CliResult};

/// `export` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER")]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "string")]
    output: Option<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

pub async fn export(ctx: &Ctx, a: &ExportArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(1))?;
    if a.output.is_none() && tty::stdout_is_tty() {
        return Err(CliError::new(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let file = match &a.output {
        Some(path) => Some(
            super::outfile::AtomicFile::create(path)
                .map_err(|e| CliError::new(format!("failed to export container: {e}")))?,
        ),
        None => None,
    };
    let resp = ctx
        .client
        .get(format!(
            "/containers/{}/export",
            berth_client::api::seg(&a.args[0])
        ))
        .send()
        .await;
    super::outfile::deliver(resp, file, "/containers/export").await
}
