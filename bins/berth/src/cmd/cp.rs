//! `cp` (both ways, through the archive endpoints, the tar streamed) and `export`.
//!
//! Copy rules (docker's): a source copied to a path that does not exist takes that
//! name; to an existing directory it goes inside under its own name; a source ending
//! in `/.` copies a directory's content. Tar entries are extracted with their paths
//! checked to stay below the destination.

use std::path::{Component, Path, PathBuf};

use berth_client::types::container::{PATH_STAT_HEADER, PathStat, file_mode};
use bytes::Bytes;
use clap::Args;
use http_body_util::BodyExt;

use super::{Ctx, parse::io_text, tty};
use crate::cli::Arity;
use crate::error::{CliError, CliResult};
use crate::fmt::units;

/// `cp` flags.
#[derive(Debug, Args)]
#[command(
    override_usage = "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n[OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"
)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// Suppress progress output during copy
    #[arg(short, long)]
    quiet: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `CONTAINER:PATH` → (container, path); a local path (or one starting with `/` or
/// `.`) is `None`.
fn split_container_path(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    let (c, p) = s.split_once(':')?;
    (!c.is_empty()).then_some((c, p))
}

pub async fn cp(ctx: &Ctx, a: &CpArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(2))?;
    let (src, dst) = (&a.args[0], &a.args[1]);
    match (split_container_path(src), split_container_path(dst)) {
        (Some(_), Some(_)) => Err(CliError::new("copying between containers is not supported")),
        (None, None) => Err(CliError::new("must specify at least one container source")),
        (Some((c, p)), None) => from_container(ctx, a, c, p, dst).await,
        (None, Some((c, p))) => to_container(ctx, a, src, c, p).await,
    }
}

/// The stat of `path` in container `c` (HEAD on the archive endpoint).
async fn stat(ctx: &Ctx, c: &str, path: &str) -> Result<PathStat, berth_client::Error> {
    let resp = ctx
        .client
        .request(
            http::Method::HEAD,
            format!("/containers/{}/archive", berth_client::api::seg(c)),
        )
        .query("path", path)
        .send()
        .await?;
    let h = resp
        .headers()
        .get(PATH_STAT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(PathStat::from_header_value(h).unwrap_or_default())
}

async fn from_container(ctx: &Ctx, a: &CpArgs, c: &str, src: &str, dst: &str) -> CliResult {
    let resp = ctx
        .client
        .get(format!("/containers/{}/archive", berth_client::api::seg(c)))
        .query("path", src)
        .send()
        .await?;
    let mut body = berth_client::stream::BodyStream::new(resp, "/containers/archive");
    if dst == "-" {
        body.copy_to(&mut tokio::io::stdout()).await?;
        return Ok(());
    }
    let dst_path = PathBuf::from(dst);
    let dst_exists_dir = dst_path.is_dir();
    if !dst_exists_dir && (dst.ends_with('/') || dst.ends_with("/.")) {
        return Err(CliError::new(format!(
            "destination \"{dst}\" must be a directory"
        )));
    }
    let contents_only = src.ends_with("/.");
    // What the archive's first component (the source's name) becomes locally.
    let (base, rename) = if dst_exists_dir && !contents_only {
        (dst_path.clone(), None)
    } else if dst_exists_dir {
        (dst_path.clone(), Some(PathBuf::new()))
    } else {
        let parent = dst_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        if !parent.is_dir() {
            return Err(CliError::new(format!(
                "no such directory: {}",
                parent.display()
            )));
        }
        let name = dst_path.file_name().map(PathBuf::from).unwrap_or_default();
        (parent, Some(name))
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(8);
    let extract = tokio::task::spawn_blocking(move || {
        extract(
            ChannelReader {
                rx,
                buf: Bytes::new(),
            },
            &base,
            rename.as_deref(),
        )
    });
    let mut total = 0u64;
    while let Some(chunk) = body.next_chunk().await? {
        total += chunk.len() as u64;
        if tx.send(chunk).is_err() {
            break;
        }
    }
    drop(tx);
    extract
        .await
        .map_err(|e| CliError::new(format!("extract archive: {e}")))??;
    if !a.quiet && tty::stdout_is_tty() {
        eprintln!(
            "Successfully copied {} to {dst}",
            units::human_size_prec(total as f64, 3)
        );
    }
    Ok(())
}

/// Reads chunks handed over from the async side.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Bytes>,
    buf: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.buf = b,
                Err(_) => return Ok(0),
            }
        }
        let n = self.buf.len().min(out.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// Extracts a tar below `base`, the first path component replaced by `rename` when
/// given (an empty rename drops it). Paths that would leave `base` are refused.
fn extract(r: impl std::io::Read, base: &Path, rename: Option<&Path>) -> Result<(), CliError> {
    let mut ar = tar::Archive::new(r);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    let entries = ar
        .entries()
        .map_err(|e| CliError::new(format!("read archive: {e}")))?;
    for e in entries {
        let mut e = e.map_err(|e| CliError::new(format!("read archive: {e}")))?;
        let path = e
            .path()
            .map_err(|e| CliError::new(format!("read archive: {e}")))?
            .into_owned();
        let mut comps = path
            .components()
            .filter(|c| !matches!(c, Component::CurDir));
        let first = comps.next();
        let rest: PathBuf = comps.collect();
        let rel = match (rename, first) {
            (Some(r), Some(_)) => r.join(&rest),
            (None, Some(f)) => Path::new(f.as_os_str()).join(&rest),
            (_, None) => continue,
        };
        if rel.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        }) {
            return Err(CliError::new(format!(
                "archive entry {} leaves the destination",
                path.display()
            )));
        }
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = base.join(&rel);
        e.unpack(&target)
            .map_err(|err| CliError::new(format!("extract {}: {err}", target.display())))?;
    }
    Ok(())
}

/// Writes what a blocking tar builder produces into a request body channel.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<hyper::body::Frame<Bytes>, std::io::Error>>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(hyper::body::Frame::data(Bytes::copy_from_slice(b))))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "upload closed"))?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn to_container(ctx: &Ctx, a: &CpArgs, src: &str, c: &str, dst: &str) -> CliResult {
    use futures_util::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let body_stream =
        futures_util::stream::unfold(rx, |mut rx: tokio::sync::mpsc::Receiver<_>| async move {
            rx.recv().await.map(|f| (f, rx))
        });
    let body = BodyExt::boxed_unsync(http_body_util::StreamBody::new(body_stream.boxed()));
    let (path, builder) = if src == "-" {
        // stdin is already a tar stream; it goes to the destination directory as is.
        let tx2 = tx.clone();
        let t = tokio::task::spawn_blocking(move || -> Result<(), CliError> {
            let mut w = ChannelWriter { tx: tx2 };
            std::io::copy(&mut std::io::stdin(), &mut w)
                .map_err(|e| CliError::new(format!("read stdin: {e}")))?;
            Ok(())
        });
        (dst.to_string(), t)
    } else {
        let meta = std::fs::symlink_metadata(src)
            .map_err(|e| CliError::new(format!("lstat {src}: {}", io_text(&e))))?;
        let st = match stat(ctx, c, dst).await {
            Ok(s) => Some(s),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        let (dir, name) = match st {
            Some(s) if s.mode & file_mode::DIR != 0 => {
                let base = Path::new(src.trim_end_matches("/."))
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (
                    dst.to_string(),
                    if src.ends_with("/.") {
                        String::new()
                    } else {
                        base
                    },
                )
            }
            Some(_) if meta.is_dir() => {
                return Err(CliError::new(format!(
                    "cannot copy directory to file: {dst}"
                )));
            }
            _ => {
                let p = Path::new(dst);
                let parent = p
                    .parent()
                    .map(|x| x.display().to_string())
                    .filter(|x| !x.is_empty())
                    .unwrap_or_else(|| "/".into());
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (parent, name)
            }
        };
        let src_owned = src.to_string();
        let follow = a.follow_link;
        let tx2 = tx.clone();
        let t = tokio::task::spawn_blocking(move || -> Result<(), CliError> {
            let mut b = tar::Builder::new(ChannelWriter { tx: tx2 });
            b.follow_symlinks(follow);
            let src_path = Path::new(src_owned.trim_end_matches("/."));
            let err = |e: std::io::Error| CliError::new(format!("archive {src_owned}: {e}"));
            if meta.is_dir() {
                b.append_dir_all(
                    if name.is_empty() {
                        Path::new(".")
                    } else {
                        Path::new(&name)
                    },
                    src_path,
                )
                .map_err(err)?;
            } else {
                b.append_path_with_name(src_path, &name).map_err(err)?;
            }
            b.finish().map_err(err)?;
            Ok(())
        });
        (dir, t)
    };
    drop(tx);
    let put = ctx
        .client
        .request(
            http::Method::PUT,
            format!("/containers/{}/archive", berth_client::api::seg(c)),
        )
        .query("path", &path)
        .flag("copyUIDGID", a.archive)
        .body("application/x-tar", body)
        .discard();
    let (put_res, build_res) = tokio::join!(put, builder);
    put_res?;
    build_res.map_err(|e| CliError::new(format!("archive: {e}")))??;
    Ok(())
}

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
    let resp = ctx
        .client
        .get(format!(
            "/containers/{}/export",
            berth_client::api::seg(&a.args[0])
        ))
        .send()
        .await?;
    let mut body = berth_client::stream::BodyStream::new(resp, "/containers/export");
    match &a.output {
        Some(p) => {
            let mut f = tokio::fs::File::create(p)
                .await
                .map_err(|e| CliError::new(format!("failed to export container: {e}")))?;
            body.copy_to(&mut f).await?;
        }
        None => {
            body.copy_to(&mut tokio::io::stdout()).await?;
        }
    }
    Ok(())
}
