//! `search TERM`: the daemon's `GET /images/search`, printed as docker prints it.
//! (berthd answers with no results and never reaches a registry.)

use berth_client::types::image::SearchResult;
use clap::Args;
use serde_json::{Value, json};

use super::{Ctx, out, parse_filters};
use crate::cli::Arity;
use crate::config::AuthStore;
use crate::error::{CliError, CliResult};
use crate::fmt::{Format, object};

/// `search` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] TERM")]
pub struct SearchArgs {
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "filter")]
    filter: Vec<String>,
    /// Pretty-print search using a Go template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Max number of search results
    #[arg(long, value_name = "int", allow_negative_numbers = true)]
    limit: Option<i64>,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    #[arg(hide = true)]
    terms: Vec<String>,
}

/// The registry a search term names (docker's `ParseSearchIndexInfo`): a first
/// component that looks like a host (a `.` or `:`, or `localhost`), else Docker Hub.
fn index_of(term: &str) -> &str {
    match term.split_once('/') {
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => host,
        _ => "docker.io",
    }
}

pub async fn search(ctx: &Ctx, a: &SearchArgs) -> CliResult {
    // A malformed filter is a flag error: docker's usage follows it.
    let filters = parse_filters(&a.filter).map_err(|e| ctx.usage_error(&e.message))?;
    ctx.arity(a.terms.len(), Arity::Exact(1))?;
    let term = &a.terms[0];
    if filters.contains("is-automated") {
        eprintln!(
            "WARNING: the \"is-automated\" filter is deprecated, and searching for \"is-automated=true\" will not yield any results in future."
        );
    }
    let auth = AuthStore::open(&ctx.config_dir)
        .map(|s| {
            s.get(&super::registry::auth_key(index_of(term)))
                .to_header_value()
        })
        .map_err(CliError::new)?;
    let results: Vec<SearchResult> = ctx
        .client
        .get("/images/search")
        .query("term", term)
        .query_opt("limit", a.limit.filter(|l| *l > 0))
        .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
        .header("X-Registry-Auth", &auth)
        .json()
        .await?;
    let format = Format(match a.format.as_deref().unwrap_or("") {
        "" | "table" => "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}".into(),
        s => s.to_string(),
    });
    let json_rows = format.0 == "json" || format.contains("json .");
    let rows: Vec<Value> = results
        .iter()
        .map(|r| row(r, !a.no_trunc, json_rows))
        .collect();
    let header = json!({"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL"});
    out(&format.render_for("*registry.searchContext", &header, &rows)?);
    Ok(())
}

/// One result as docker's search context shows it: the description on one line and
/// cut to 45 columns, the stars as text, `[OK]` for an official image (`true` and
/// `false` in JSON).
fn row(r: &SearchResult, trunc: bool, json: bool) -> Value {
    let mut desc = r.description.replace(['\n', '\r'], " ");
    if trunc && desc.chars().count() > 45 {
        desc = desc.chars().take(44).collect::<String>() + "…";
    }
    let flag = |b: bool| match (b, json) {
        (true, true) => "true",
        (true, false) => "[OK]",
        (false, true) => "false",
        (false, false) => "",
    };
    object([
        ("Name", Value::from(r.name.clone())),
        ("Description", desc.into()),
        ("StarCount", r.star_count.to_string().into()),
        ("IsOfficial", flag(r.is_official).into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_indexes_as_docker() {
        assert_eq!(index_of("busybox"), "docker.io");
        assert_eq!(index_of("me/app"), "docker.io");
        assert_eq!(index_of("127.0.0.1:5000/app"), "127.0.0.1:5000");
        assert_eq!(index_of("localhost/app"), "localhost");
        let r = SearchResult {
            star_count: 7,
            is_official: true,
            name: "busybox".into(),
            is_automated: false,
            description: "a\nvery long description that goes on and on past the limit".into(),
        };
        let v = row(&r, true, false);
        assert_eq!(
            v["Description"],
            "a very long description that goes on and on …"
        );
        assert_eq!(v["IsOfficial"], "[OK]");
        assert_eq!(v["StarCount"], "7");
        assert_eq!(row(&r, false, true)["IsOfficial"], "true");
    }
}
