//! Image commands that change things: rmi, tag, save, load, import, image prune,
//! commit. Archives stream through (never held whole in memory).

use clap::Args;

use super::{Ctx, lifecycle::confirm, out, outln, parse_filters};
use crate::cli::Arity;
use crate::error::{CliError, CliResult, join_errors};
use crate::fmt::units;

/// `rmi` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] IMAGE [IMAGE...]")]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    no_prune: bool,
    #[arg(hide = true)]
    images: Vec<String>,
}

pub async fn rmi(ctx: &Ctx, a: &RmiArgs) -> CliResult {
    ctx.arity(a.images.len(), Arity::Min(1))?;
    let mut errs = Vec::new();
    for img in &a.images {
        match ctx.client.image_remove(img, a.force, a.no_prune).await {
            Ok(items) => {
                for i in items {
                    if !i.deleted.is_empty() {
                        outln(&format!("Deleted: {}", i.deleted));
                    } else {
                        outln(&format!("Untagged: {}", i.untagged));
                    }
                }
            }
            Err(e) => errs.push(e.to_string()),
        }
    }
    join_errors(errs)
}

/// `tag` arguments.
#[derive(Debug, Args)]
#[command(override_usage = "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")]
pub struct TagArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `name:tag` → (`name`, `tag`), the registry port's colon kept in the name.
pub fn split_ref(r: &str) -> (String, String) {
    if let Some((n, _digest)) = r.split_once('@') {
        return (n.to_string(), String::new());
    }
    match r.rfind(':') {
        Some(i) if !r[i + 1..].contains('/') => (r[..i].to_string(), r[i + 1..].to_string()),
        _ => (r.to_string(), String::new()),
    }
}

pub async fn tag(ctx: &Ctx, a: &TagArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(2))?;
    let (source, target) = (&a.args[0], &a.args[1]);
    let bad = |r: &str, e: String| {
        CliError::new(format!(
            "Error parsing reference: \"{r}\" is not a valid repository/tag: {e}"
        ))
    };
    super::reference::parse_any_reference(source).map_err(|e| bad(source, e))?;
    let n = super::reference::parse_normalized_named(target).map_err(|e| bad(target, e))?;
    if n.digest.is_some() {
        return Err(CliError::new(
            "refusing to create a tag with a digest reference",
        ));
    }
    ctx.client
        .image_tag(source, &n.name(), &n.tag_or_latest())
        .await?;
    Ok(())
}

/// `save` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] IMAGE [IMAGE...]")]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "string")]
    output: Option<String>,
    /// Save only the given platform(s)
    #[arg(long, value_name = "stringSlice")]
    platform: Vec<String>,
    #[arg(hide = true)]
    images: Vec<String>,
}

pub async fn save(ctx: &Ctx, a: &SaveArgs) -> CliResult {
    ctx.arity(a.images.len(), Arity::Min(1))?;
    if a.output.is_none() && super::tty::stdout_is_tty() {
        return Err(CliError::new(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    // Like docker, the output file is validated and opened before the request; it
    // appears only once something was written to it.
    let file = match &a.output {
        Some(path) => Some(
            super::outfile::AtomicFile::create(path)
                .map_err(|e| CliError::new(format!("failed to save image: {e}")))?,
        ),
        None => None,
    };
    let mut req = ctx.client.get("/images/get");
    for i in &a.images {
        req = req.query("names", i);
    }
    super::outfile::deliver(req.send().await, file, "/images/get").await
}

/// A request body streamed from a file or stdin.
fn file_body(path: Option<&str>) -> Result<berth_client::Body, CliError> {
    use futures_util::StreamExt;
    use http_body_util::BodyExt;
    let reader: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match path {
        Some(p) if p != "-" => {
            let f = std::fs::File::open(p)
                .map_err(|e| CliError::new(format!("open {p}: {}", super::parse::io_text(&e))))?;
            Box::new(tokio::fs::File::from_std(f))
        }
        _ => Box::new(tokio::io::stdin()),
    };
    let stream = futures_util::stream::unfold(reader, |mut r| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 * 1024];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(hyper::body::Frame::data(bytes::Bytes::from(buf))), r))
            }
            Err(e) => Some((Err(e), r)),
        }
    });
    Ok(BodyExt::boxed_unsync(http_body_util::StreamBody::new(
        stream.boxed(),
    )))
}

/// Shows a JSON-message stream on stdout as docker does (progress bars on a
/// terminal, plain lines otherwise); the stream's error is the command's error.
async fn print_messages(
    resp: http::Response<hyper::body::Incoming>,
    path: &str,
    quiet: bool,
) -> CliResult {
    let mut r = if quiet {
        super::progress::Renderer::new(
            Box::new(std::io::sink()) as Box<dyn std::io::Write>,
            false,
            200,
        )
    } else {
        let stdout = std::io::stdout();
        let width = super::progress::width_of(&stdout);
        super::progress::Renderer::new(
            Box::new(stdout) as Box<dyn std::io::Write>,
            super::tty::stdout_is_tty(),
            width,
        )
    };
    super::progress::display(resp, path, &mut r, &mut |_| {}).await
}

/// `load` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long, value_name = "string")]
    input: Option<String>,
    /// Load only the given platform(s)
    #[arg(long, value_name = "stringSlice")]
    platform: Vec<String>,
    /// Suppress the load output
    #[arg(short, long)]
    quiet: bool,
}

pub async fn load(ctx: &Ctx, a: &LoadArgs) -> CliResult {
    if a.input.is_none() && super::tty::stdin_is_tty() {
        return Err(CliError::new(
            "requested load from stdin, but stdin is empty",
        ));
    }
    let body = file_body(a.input.as_deref())?;
    let resp = ctx
        .client
        .post("/images/load")
        .flag("quiet", a.quiet || !super::tty::stdout_is_tty())
        .body("application/x-tar", body)
        .send()
        .await?;
    print_messages(resp, "/images/load", false).await
}

/// `import` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]")]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long, value_name = "list")]
    change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long, value_name = "string")]
    message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    platform: Option<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

pub async fn import(ctx: &Ctx, a: &ImportArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Range(1, 2))?;
    let src = &a.args[0];
    let mut req = ctx.client.post("/images/create");
    let body;
    if src.starts_with("http://") || src.starts_with("https://") {
        req = req.query("fromSrc", src);
        body = berth_client::empty_body();
    } else {
        req = req.query("fromSrc", "-");
        body = file_body(Some(src))?;
    }
    if let Some(r) = a.args.get(1) {
        // docker's client checks the reference before sending it.
        super::reference::parse_normalized_named(r).map_err(CliError::new)?;
        let (repo, tag) = split_ref(r);
        req = req.query("repo", repo);
        if !tag.is_empty() {
            req = req.query("tag", tag);
        }
    }
    req = req.query_opt("message", a.message.as_deref());
    req = req.query_opt("platform", a.platform.as_deref());
    for c in &a.change {
        req = req.query("changes", c);
    }
    let resp = req.body("application/x-tar", body).send().await?;
    print_messages(resp, "/images/create", false).await
}

/// `image prune` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long, value_name = "filter")]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub async fn image_prune(ctx: &Ctx, a: &ImagePruneArgs) -> CliResult {
    let mut filters = parse_filters(&a.filter)?;
    filters.add("dangling", if a.all { "false" } else { "true" });
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?"
    } else {
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
    };
    if !a.force && !confirm(warning) {
        return Ok(());
    }
    let r = ctx.client.image_prune(&filters).await?;
    let mut space = 0;
    let deleted = r.images_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        let mut s = String::from("Deleted Images:\n");
        for i in &deleted {
            if !i.untagged.is_empty() {
                s.push_str(&format!("untagged: {}\n", i.untagged));
            } else {
                s.push_str(&format!("deleted: {}\n", i.deleted));
            }
        }
        outln(&s);
        space = r.space_reclaimed;
    }
    outln(&format!(
        "Total reclaimed space: {}",
        units::human_size(space as f64)
    ));
    Ok(())
}

/// `commit` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]")]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long, value_name = "string")]
    author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long, value_name = "list")]
    change: Vec<String>,
    /// Commit message
    #[arg(short, long, value_name = "string")]
    message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "")]
    pause: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

pub async fn commit(ctx: &Ctx, a: &CommitArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Range(1, 2))?;
    let mut req = ctx
        .client
        .post("/commit")
        .query("container", &a.args[0])
        .query("pause", if a.pause { "1" } else { "0" })
        .query_opt("author", a.author.as_deref())
        .query_opt("comment", a.message.as_deref());
    if let Some(r) = a.args.get(1) {
        // As docker's client: the reference is checked here, a digest refused, the
        // tag defaulted.
        let n = super::reference::parse_normalized_named(r).map_err(CliError::new)?;
        if n.digest.is_some() {
            return Err(CliError::new(
                "refusing to create a tag with a digest reference",
            ));
        }
        req = req
            .query("repo", n.familiar_name())
            .query("tag", n.tag_or_latest());
    }
    for c in &a.change {
        req = req.query("changes", c);
    }
    let resp: berth_client::types::exec::IdResponse =
        req.json_body(&serde_json::json!({}))?.json().await?;
    out(&format!("{}\n", resp.id));
    Ok(())
}
