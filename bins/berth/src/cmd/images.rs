//! `berth images` / `berth image ls` and `berth history`: docker's image list (one row
//! per repository and tag, `<none>` for dangling images) and layer history, with their
//! `--format` contexts.

use std::collections::BTreeMap;

use berth_client::types::image::{HistoryItem, Summary};
use clap::Args;
use serde_json::{Value, json};

use super::{Ctx, out, parse_filters, ps::ellipsis, short_id};
use crate::cli::Arity;
use crate::error::{CliError, CliResult};
use crate::fmt::{Format, object, units};

const DEFAULT_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";
const DEFAULT_TABLE_DIGEST: &str = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";
/// What the stand-in template engine can run of the default tables (no `if`): the
/// output is the same while `CreatedSince` is never empty, which holds for any image
/// created after 1970.
const SIMPLE_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const SIMPLE_TABLE_DIGEST: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// `images` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] [REPOSITORY[:TAG]]")]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    all: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    #[arg(hide = true)]
    reference: Vec<String>,
}

/// Column titles of the image context.
fn header() -> Value {
    json!({
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "Containers": "CONTAINERS", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
        "UniqueSize": "UNIQUE SIZE",
    })
}

pub async fn run(ctx: &Ctx, a: &ImagesArgs) -> CliResult {
    ctx.arity(a.reference.len(), Arity::Range(0, 1))?;
    let mut filters = parse_filters(&a.filter)?;
    if let Some(r) = a.reference.first() {
        filters.add("reference", r.clone());
    }
    let images = ctx.client.image_list(a.all, false, &filters).await?;
    let mut source = a.format.clone().unwrap_or_default();
    if source.is_empty() {
        source = if !ctx.config.images_format.is_empty() && !a.quiet {
            ctx.config.images_format.clone()
        } else {
            "table".to_string()
        };
    }
    let fmt = image_format(&source, a.quiet, a.digests);
    let need_digest = a.digests || fmt.contains("{{.Digest}}");
    let mut rows = Vec::new();
    for img in &images {
        for (repo, tag, digest) in rows_of(img, need_digest, a.digests) {
            rows.push(context(img, &repo, &tag, &digest, !a.no_trunc));
        }
    }
    let text = fmt.render_for("*formatter.imageContext", &header(), &rows)?;
    out(&text);
    Ok(())
}

/// docker's `NewImageFormat`.
pub fn image_format(source: &str, quiet: bool, digest: bool) -> Format {
    let f = match source {
        "table" if quiet => "{{.ID}}".to_string(),
        "table" if digest => table(true),
        "table" => table(false),
        "raw" if quiet => "image_id: {{.ID}}".to_string(),
        "raw" if digest => "repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n".to_string(),
        "raw" => "repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n".to_string(),
        s => {
            let mut s = s.to_string();
            if s.starts_with("table") && digest && !s.contains("{{.Digest}}") {
                s.push_str("\t{{.Digest}}");
            }
            s
        }
    };
    Format(f)
}

fn table(digest: bool) -> String {
    let full = if digest {
        DEFAULT_TABLE_DIGEST
    } else {
        DEFAULT_TABLE
    };
    if crate::fmt::Template::parse(full).is_ok() {
        full.to_string()
    } else if digest {
        SIMPLE_TABLE_DIGEST.to_string()
    } else {
        SIMPLE_TABLE.to_string()
    }
}

/// The `(repository, tag, digest)` rows of one image, as docker's image formatter
/// makes them: one per tag (times digests when they are shown), one per digest-only
/// repository, and one `<none>` row for a dangling image.
fn rows_of(img: &Summary, need_digest: bool, show_digests: bool) -> Vec<(String, String, String)> {
    let tags = img.repo_tags.as_deref().unwrap_or(&[]);
    let digests = img.repo_digests.as_deref().unwrap_or(&[]);
    let dangling = (tags.is_empty() && digests.is_empty())
        || (tags.len() == 1
            && tags[0] == "<none>:<none>"
            && digests.len() == 1
            && digests[0] == "<none>@<none>");
    if dangling {
        return vec![("<none>".into(), "<none>".into(), "<none>".into())];
    }
    let mut repo_tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for t in tags {
        if let Some((repo, tag)) = split_tag(t) {
            let repo = super::ps::familiar(&repo);
            if !repo_tags.contains_key(&repo) {
                order.push(repo.clone());
            }
            repo_tags.entry(repo).or_default().push(tag);
        }
    }
    let mut repo_digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in digests {
        if let Some((repo, dg)) = d.split_once('@') {
            if repo == "<none>" {
                continue;
            }
            repo_digests
                .entry(super::ps::familiar(repo))
                .or_default()
                .push(dg.to_string());
        }
    }
    let mut rows = Vec::new();
    for repo in &order {
        let digests = repo_digests.remove(repo).unwrap_or_default();
        let digests = if need_digest { digests } else { Vec::new() };
        for tag in &repo_tags[repo] {
            if digests.is_empty() {
                rows.push((repo.clone(), tag.clone(), "<none>".to_string()));
            }
            for d in &digests {
                rows.push((repo.clone(), tag.clone(), d.clone()));
            }
        }
    }
    for (repo, digests) in repo_digests {
        if show_digests {
            for d in digests {
                rows.push((repo.clone(), "<none>".to_string(), d));
            }
        } else {
            rows.push((repo, "<none>".to_string(), String::new()));
        }
    }
    rows
}

/// `name:tag` → (`name`, `tag`); the colon of a registry port is not a tag.
fn split_tag(r: &str) -> Option<(String, String)> {
    let i = r.rfind(':')?;
    if r[i + 1..].contains('/') {
        return None;
    }
    Some((r[..i].to_string(), r[i + 1..].to_string()))
}

fn context(img: &Summary, repo: &str, tag: &str, digest: &str, trunc: bool) -> Value {
    let id = if trunc {
        short_id(&img.id)
    } else {
        img.id.clone()
    };
    let created_since = if img.created == 0 {
        // Go's zero time check is on the year 1, so 1970 still prints; keep docker's.
        units::ago(0)
    } else {
        units::ago(img.created)
    };
    let na_or = |v: i64, s: String| if v == -1 { "N/A".to_string() } else { s };
    object([
        ("ID", Value::from(id)),
        ("Repository", repo.into()),
        ("Tag", tag.into()),
        ("Digest", digest.into()),
        ("CreatedSince", created_since.into()),
        ("CreatedAt", units::go_time_string(img.created).into()),
        ("Size", units::human_size_prec(img.size as f64, 3).into()),
        (
            "Containers",
            na_or(img.containers, img.containers.to_string()).into(),
        ),
        ("VirtualSize", units::human_size(img.size as f64).into()),
        (
            "SharedSize",
            na_or(img.shared_size, units::human_size(img.shared_size as f64)).into(),
        ),
        (
            "UniqueSize",
            (if img.size == -1 || img.shared_size == -1 {
                "N/A".to_string()
            } else {
                units::human_size((img.size - img.shared_size) as f64)
            })
            .into(),
        ),
    ])
}

/// `history` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] IMAGE")]
pub struct HistoryArgs {
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "")]
    human: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Show history for the given platform
    #[arg(long, value_name = "string")]
    platform: Option<String>,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    #[arg(hide = true)]
    image: Vec<String>,
}

pub async fn history(ctx: &Ctx, a: &HistoryArgs) -> CliResult {
    ctx.arity(a.image.len(), Arity::Exact(1))?;
    let items = ctx.client.image_history(&a.image[0]).await?;
    let source = a
        .format
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "table".into());
    let fmt = Format(match source.as_str() {
        "table" if a.quiet => "{{.ID}}".to_string(),
        "table" if !a.human => {
            "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".to_string()
        }
        "table" => {
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".to_string()
        }
        s => s.to_string(),
    });
    let header = json!({
        "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
    });
    let rows: Vec<Value> = items
        .iter()
        .map(|h| history_context(h, !a.no_trunc, a.human))
        .collect();
    out(&fmt
        .render_for("*image.historyContext", &header, &rows)
        .map_err(CliError::from)?);
    Ok(())
}

fn history_context(h: &HistoryItem, trunc: bool, human: bool) -> Value {
    // 2000-01-01: older creation times are placeholders.
    const EPOCH: i64 = 946_684_800;
    let id = if trunc { short_id(&h.id) } else { h.id.clone() };
    let created_at = units::rfc3339_local(h.created);
    let since = if !human {
        created_at.clone()
    } else if h.created <= EPOCH {
        "N/A".to_string()
    } else {
        units::ago(h.created)
    };
    let mut by = h.created_by.replace('\t', " ");
    if trunc {
        by = ellipsis(&by, 45);
    }
    let size = if human {
        units::human_size_prec(h.size as f64, 3)
    } else {
        h.size.to_string()
    };
    object([
        ("ID", Value::from(id)),
        ("CreatedSince", since.into()),
        ("CreatedAt", created_at.into()),
        ("CreatedBy", by.into()),
        ("Size", size.into()),
        ("Comment", h.comment.clone().into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(tags: &[&str], digests: &[&str]) -> Summary {
        Summary {
            repo_tags: Some(tags.iter().map(|s| s.to_string()).collect()),
            repo_digests: Some(digests.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn rows_follow_docker() {
        assert_eq!(
            rows_of(&img(&[], &[]), false, false),
            [("<none>".into(), "<none>".into(), "<none>".into())]
        );
        assert_eq!(
            rows_of(&img(&["busybox:latest", "busybox:1"], &[]), false, false),
            [
                ("busybox".into(), "latest".into(), "<none>".into()),
                ("busybox".into(), "1".into(), "<none>".into())
            ]
        );
        assert_eq!(
            rows_of(&img(&["localhost:5000/a:t"], &["x@sha256:ab"]), true, true),
            [
                ("localhost:5000/a".into(), "t".into(), "<none>".into()),
                ("x".into(), "<none>".into(), "sha256:ab".into())
            ]
        );
    }
}
