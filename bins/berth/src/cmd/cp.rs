//! `cp` (both ways, through the archive endpoints, the tar streamed).
//!
//! The copy rules are docker's (moby's `pkg/archive` copy helpers): each side is
//! described by a [`CopyInfo`] (path, exists, is a directory, name to rebase to);
//! [`prepare_copy`] decides, as a value, which directory the archive is extracted in
//! and how its first path element is renamed:
//! - to an existing directory, the source goes inside under its own name (a source
//!   ending in `/.` gives its content);
//! - to a path that does not exist (its parent must), the source takes that name;
//! - a file over an existing file replaces it; a directory over a file, or a file to
//!   a path asserting a directory (`dst/`), is refused.
//!
//! Local paths are made absolute first, keeping a trailing `/` or `/.`, as docker
//! does; messages name them absolute too. Extracted entries must stay below the
//! destination directory, through symlinks included.

use std::path::{Component, Path, PathBuf};

use berth_client::types::container::{PATH_STAT_HEADER, PathStat, file_mode};
use bytes::Bytes;
use clap::Args;
use http_body_util::BodyExt;

use super::outfile::{go_abs, go_base, go_clean, go_dir, path_error};
use super::{Ctx, tty};
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
    /// Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached
    #[arg(short, long)]
    quiet: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// One side of a copy (moby's `archive.CopyInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyInfo {
    pub path: String,
    pub exists: bool,
    pub is_dir: bool,
    /// The name the source's entries take instead of its base name (set when a
    /// followed link changed the last element).
    pub rebase_name: String,
}

/// Where an archive of the source is extracted, and the renaming of its first
/// element (`(old, new)`), as [`prepare_copy`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyPlan {
    pub dst_dir: String,
    pub rebase: Option<(String, String)>,
}

fn specifies_current_dir(p: &str) -> bool {
    go_base(p) == "."
}

fn has_trailing_separator(p: &str) -> bool {
    p.ends_with('/')
}

/// Whether `p` can only name a directory (`x/` or `x/.`).
fn asserts_directory(p: &str) -> bool {
    has_trailing_separator(p) || specifies_current_dir(p)
}

/// moby's `SplitPathDirEntry`: the parent and the last element, `.` kept.
pub fn split_path_dir_entry(p: &str) -> (String, String) {
    let mut cleaned = go_clean(p);
    if specifies_current_dir(p) {
        cleaned.push_str("/.");
    }
    (go_dir(&cleaned), go_base(&cleaned))
}

/// `abs` with the trailing `/` or `/.` of `orig` put back.
fn preserve_trailing(abs: &str, orig: &str) -> String {
    if orig.ends_with("/.") && !abs.ends_with("/.") {
        if abs.ends_with('/') {
            format!("{abs}.")
        } else {
            format!("{abs}/.")
        }
    } else if orig.ends_with('/') && !abs.ends_with('/') {
        format!("{abs}/")
    } else {
        abs.to_string()
    }
}

/// moby's `PrepareArchiveCopy`, as a plan. The source's entries are named by its
/// `rebase_name` when set (the caller renames them so).
pub fn prepare_copy(src: &CopyInfo, dst: &CopyInfo) -> Result<CopyPlan, &'static str> {
    let (dst_dir, dst_base) = split_path_dir_entry(&dst.path);
    let (_, mut src_base) = split_path_dir_entry(&src.path);
    if !src.rebase_name.is_empty() {
        src_base = src.rebase_name.clone();
    }
    let renamed = |dir: String| CopyPlan {
        dst_dir: dir,
        rebase: Some((src_base.clone(), dst_base.clone())),
    };
    if dst.exists && dst.is_dir {
        return Ok(CopyPlan {
            dst_dir: dst.path.clone(),
            rebase: None,
        });
    }
    if dst.exists && src.is_dir {
        return Err("cannot copy directory");
    }
    if dst.exists || src.is_dir {
        return Ok(renamed(dst_dir));
    }
    if asserts_directory(&dst.path) {
        return Err("no such directory");
    }
    Ok(renamed(dst_dir))
}

/// moby's `GetRebaseName`: the resolved path with `path`'s trailing `/` or `/.`,
/// and the name to rebase to when the last element changed.
fn rebase_name(path: &str, resolved: &str) -> (String, String) {
    let mut r = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&r) {
        r.push_str("/.");
    }
    if has_trailing_separator(path) && !has_trailing_separator(&r) {
        r.push('/');
    }
    let name = if go_base(path) != go_base(&r) {
        go_base(path)
    } else {
        String::new()
    };
    (r, name)
}

/// Go's `strings.Replace(name, old, new, 1)`, which is how moby renames entries.
fn rebase_entry(name: &str, rebases: &[(String, String)]) -> String {
    let mut n = name.to_string();
    for (old, new) in rebases {
        n = n.replacen(old.as_str(), new, 1);
    }
    n
}

/// `CONTAINER:PATH` → (container, path); a local path (absolute, or starting with
/// `.`, or without a colon) is `None`.
fn split_container_path(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') {
        return None;
    }
    let (c, p) = s.split_once(':')?;
    (!c.starts_with('.')).then_some((c, p))
}

pub async fn cp(ctx: &Ctx, a: &CpArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(2))?;
    let (src, dst) = (&a.args[0], &a.args[1]);
    if src.is_empty() {
        return Err(CliError::new("source can not be empty"));
    }
    if dst.is_empty() {
        return Err(CliError::new("destination can not be empty"));
    }
    // docker shows progress only to a terminal unless told to be quiet.
    let quiet = a.quiet || !tty::stdout_is_tty();
    match (split_container_path(src), split_container_path(dst)) {
        (Some(_), Some(_)) => Err(CliError::new("copying between containers is not supported")),
        (None, None) => Err(CliError::new("must specify at least one container source")),
        (Some((c, p)), None) => from_container(ctx, a, quiet, c, p, dst).await,
        (None, Some((c, p))) => to_container(ctx, a, quiet, src, c, p).await,
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
    Ok(stat_header(resp.headers()))
}

fn stat_header(h: &http::HeaderMap) -> PathStat {
    let v = h
        .get(PATH_STAT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    PathStat::from_header_value(v).unwrap_or_default()
}

/// docker's `ValidateOutputPath` for a local destination.
fn validate_output_path(path: &str) -> Result<(), String> {
    let dir = go_dir(&go_clean(path));
    if dir != "." && !Path::new(&dir).exists() {
        return Err(format!(
            "invalid output path: directory \"{dir}\" does not exist"
        ));
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(path_error("stat", path, &e)),
        Ok(m) if m.is_dir() || m.is_file() => Ok(()),
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            let ft = m.file_type();
            if ft.is_block_device() || ft.is_char_device() {
                Err(format!(
                    "invalid output path: \"{path}\" must be a directory or a regular file: got a device"
                ))
            } else {
                Err(format!(
                    "invalid output path: \"{path}\" must be a directory or a regular file: got an irregular file"
                ))
            }
        }
    }
}

/// moby's `CopyInfoDestinationPath`: a local destination, links followed; when it
/// does not exist its parent must be a directory.
fn local_dest_info(path: &str) -> Result<CopyInfo, String> {
    let mut path = path.to_string();
    let mut meta = std::fs::symlink_metadata(&path);
    let mut n = 0;
    while let Ok(m) = &meta {
        if !m.file_type().is_symlink() {
            break;
        }
        n += 1;
        if n > 10 {
            return Err(format!("too many symlinks in {path}"));
        }
        let target = std::fs::read_link(&path)
            .map_err(|e| path_error("readlink", &path, &e))?
            .display()
            .to_string();
        path = if target.starts_with('/') {
            target
        } else {
            go_clean(&format!("{}/{target}", split_path_dir_entry(&path).0))
        };
        meta = std::fs::symlink_metadata(&path);
    }
    match meta {
        Ok(m) => Ok(CopyInfo {
            path,
            exists: true,
            is_dir: m.is_dir(),
            rebase_name: String::new(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (parent, _) = split_path_dir_entry(&path);
            let pm = std::fs::metadata(&parent).map_err(|e| path_error("stat", &parent, &e))?;
            if !pm.is_dir() {
                return Err("not a directory".into());
            }
            Ok(CopyInfo {
                path,
                ..Default::default()
            })
        }
        Err(e) => Err(path_error("lstat", &path, &e)),
    }
}

/// Go's `filepath.EvalSymlinks` error wording: the first element that is missing.
fn eval_symlinks(path: &str) -> Result<String, String> {
    std::fs::canonicalize(path)
        .map(|p| p.display().to_string())
        .map_err(|e| {
            let mut cur = String::new();
            for c in go_clean(path).split('/').filter(|c| !c.is_empty()) {
                cur.push('/');
                cur.push_str(c);
                if let Err(e) = std::fs::symlink_metadata(&cur) {
                    return path_error("lstat", &cur, &e);
                }
            }
            path_error("lstat", path, &e)
        })
}

/// moby's `CopyInfoSourcePath` for a local source.
fn local_source_info(path: &str, follow: bool) -> Result<CopyInfo, String> {
    let (resolved, rebase) = if follow {
        let r = eval_symlinks(path)?;
        rebase_name(path, &r)
    } else {
        let (dir, base) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("", path),
        };
        let rdir = eval_symlinks(if dir.is_empty() { "." } else { dir })?;
        let resolved = format!("{}/{base}", rdir.trim_end_matches('/'));
        let rebase = if has_trailing_separator(path) && go_base(path) != go_base(&resolved) {
            go_base(path)
        } else {
            String::new()
        };
        (resolved, rebase)
    };
    let m = std::fs::symlink_metadata(&resolved).map_err(|e| path_error("lstat", &resolved, &e))?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: m.is_dir(),
        rebase_name: rebase,
    })
}

async fn from_container(
    ctx: &Ctx,
    a: &CpArgs,
    quiet: bool,
    c: &str,
    src: &str,
    dst: &str,
) -> CliResult {
    let dst = if dst == "-" {
        dst.to_string()
    } else {
        preserve_trailing(&go_abs(dst), dst)
    };
    if dst != "-" {
        validate_output_path(&dst).map_err(CliError::new)?;
    }
    let mut src_path = src.to_string();
    let mut rebases = Vec::new();
    let mut link_rebase = String::new();
    if a.follow_link {
        if let Ok(st) = stat(ctx, c, src).await {
            if st.mode & file_mode::SYMLINK != 0 {
                let mut target = st.link_target.clone();
                if !target.starts_with('/') {
                    target = go_clean(&format!("{}/{target}", split_path_dir_entry(src).0));
                }
                let (t, name) = rebase_name(src, &target);
                src_path = t;
                link_rebase = name;
            }
        }
    }
    let resp = ctx
        .client
        .get(format!("/containers/{}/archive", berth_client::api::seg(c)))
        .query("path", &src_path)
        .send()
        .await?;
    let st = stat_header(resp.headers());
    let mut body = berth_client::stream::BodyStream::new(resp, "/containers/archive");
    if dst == "-" {
        body.copy_to(&mut tokio::io::stdout()).await?;
        return Ok(());
    }
    if !link_rebase.is_empty() {
        rebases.push((split_path_dir_entry(&src_path).1, link_rebase.clone()));
    }
    let src_info = CopyInfo {
        path: src_path,
        exists: true,
        is_dir: st.mode & file_mode::DIR != 0,
        rebase_name: link_rebase,
    };
    let dst_info = local_dest_info(&dst).map_err(CliError::new)?;
    let plan = prepare_copy(&src_info, &dst_info).map_err(CliError::new)?;
    rebases.extend(plan.rebase.clone());
    let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(8);
    let base = PathBuf::from(&plan.dst_dir);
    let extract = tokio::task::spawn_blocking(move || {
        extract(
            ChannelReader {
                rx,
                buf: Bytes::new(),
            },
            &base,
            &rebases,
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
    let res = extract
        .await
        .map_err(|e| CliError::new(format!("extract archive: {e}")))?;
    if !quiet {
        eprintln!(
            "Successfully copied {} to {dst}",
            units::human_size_prec(total as f64, 3)
        );
    }
    res
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

/// Extracts a tar below `base`, each entry renamed by `rebases`. Entries that would
/// leave `base` (by `..`, or through a symlink among their parents) are refused; a
/// directory never replaces a file nor a file a directory (moby's
/// `NoOverwriteDirNonDir`).
fn extract(
    r: impl std::io::Read,
    base: &Path,
    rebases: &[(String, String)],
) -> Result<(), CliError> {
    let fail = |what: String| CliError::new(what);
    let mut ar = tar::Archive::new(r);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    let root = std::fs::canonicalize(base)
        .map_err(|e| fail(path_error("stat", &base.display().to_string(), &e)))?;
    let entries = ar
        .entries()
        .map_err(|e| fail(format!("read archive: {e}")))?;
    for e in entries {
        let mut e = e.map_err(|e| fail(format!("read archive: {e}")))?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let rel = PathBuf::from(rebase_entry(&name, rebases));
        if rel.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        }) {
            return Err(fail(format!("archive entry {name} leaves the destination")));
        }
        let rel: PathBuf = rel
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect();
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = root.join(&rel);
        let parent = target.parent().unwrap_or(&root);
        std::fs::create_dir_all(parent)
            .map_err(|err| fail(path_error("mkdir", &parent.display().to_string(), &err)))?;
        let real_parent = std::fs::canonicalize(parent)
            .map_err(|err| fail(path_error("stat", &parent.display().to_string(), &err)))?;
        if !real_parent.starts_with(&root) {
            return Err(fail(format!("archive entry {name} leaves the destination")));
        }
        let is_dir = e.header().entry_type().is_dir();
        if let Ok(m) = std::fs::symlink_metadata(&target) {
            let t = target.display().to_string();
            if m.is_dir() && !is_dir {
                return Err(fail(format!(
                    "cannot overwrite directory \"{t}\" with non-directory \"{}\"",
                    root.display()
                )));
            }
            if !m.is_dir() && is_dir {
                return Err(fail(format!(
                    "cannot overwrite non-directory \"{t}\" with directory \"{}\"",
                    root.display()
                )));
            }
        }
        e.unpack(&target)
            .map_err(|err| fail(format!("extract {}: {err}", target.display())))?;
    }
    Ok(())
}

/// Writes what a blocking tar builder produces into a request body channel, counting.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<hyper::body::Frame<Bytes>, std::io::Error>>,
    total: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(hyper::body::Frame::data(Bytes::copy_from_slice(b))))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "upload closed"))?;
        self.total
            .fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The container side of a copy into it: the destination stat'ed, a link at the
/// destination followed once (as docker does).
async fn container_dest_info(ctx: &Ctx, c: &str, dst: &str) -> Result<(CopyInfo, u32), CliError> {
    let mut info = CopyInfo {
        path: dst.to_string(),
        ..Default::default()
    };
    let mut st = stat(ctx, c, dst).await;
    if let Ok(s) = &st {
        if s.mode & file_mode::SYMLINK != 0 {
            let mut target = s.link_target.clone();
            if !target.starts_with('/') {
                target = go_clean(&format!("{}/{target}", split_path_dir_entry(dst).0));
            }
            info.path = target.clone();
            st = stat(ctx, c, &target).await;
        }
    }
    let mode = st.as_ref().map(|s| s.mode).unwrap_or(0);
    if mode & (file_mode::DEVICE | file_mode::CHAR_DEVICE) != 0 {
        return Err(CliError::new(format!(
            "destination \"{c}:{dst}\" must be a directory or a regular file: got a device"
        )));
    }
    match st {
        Ok(s) => {
            info.exists = true;
            info.is_dir = s.mode & file_mode::DIR != 0;
        }
        Err(e) if e.is_not_found() => {}
        // docker ignores this error too: the copy itself reports what is wrong.
        Err(_) => {}
    }
    Ok((info, mode))
}

async fn to_container(
    ctx: &Ctx,
    a: &CpArgs,
    quiet: bool,
    src: &str,
    c: &str,
    dst: &str,
) -> CliResult {
    use futures_util::StreamExt;
    let src = if src == "-" {
        src.to_string()
    } else {
        preserve_trailing(&go_abs(src), src)
    };
    let (dst_info, _) = container_dest_info(ctx, c, dst).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let body_stream =
        futures_util::stream::unfold(rx, |mut rx: tokio::sync::mpsc::Receiver<_>| async move {
            rx.recv().await.map(|f| (f, rx))
        });
    let body = BodyExt::boxed_unsync(http_body_util::StreamBody::new(body_stream.boxed()));
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (path, builder) = if src == "-" {
        if !dst_info.is_dir {
            return Err(CliError::new(format!(
                "destination \"{c}:{dst}\" must be a directory"
            )));
        }
        // stdin is already a tar stream; it goes to the destination directory as is.
        let mut w = ChannelWriter {
            tx: tx.clone(),
            total: total.clone(),
        };
        let t = tokio::task::spawn_blocking(move || -> Result<(), CliError> {
            std::io::copy(&mut std::io::stdin(), &mut w)
                .map_err(|e| CliError::new(format!("read stdin: {e}")))?;
            Ok(())
        });
        (dst_info.path.clone(), t)
    } else {
        let src_info = local_source_info(&src, a.follow_link).map_err(CliError::new)?;
        let plan = prepare_copy(&src_info, &dst_info).map_err(CliError::new)?;
        // The archive's first element: the source's name (or the name a followed
        // link was given), renamed the way the plan says.
        let first = if src_info.rebase_name.is_empty() {
            split_path_dir_entry(&src_info.path).1
        } else {
            src_info.rebase_name.clone()
        };
        let entry = rebase_entry(&first, plan.rebase.as_slice());
        let mut w = ChannelWriter {
            tx: tx.clone(),
            total: total.clone(),
        };
        let t = tokio::task::spawn_blocking(move || -> Result<(), CliError> {
            let err = |e: std::io::Error| CliError::new(format!("archive {}: {e}", src_info.path));
            let mut b = tar::Builder::new(&mut w);
            // Links below the source are archived as links; only the source itself is
            // followed, and only with -L (resolved above).
            b.follow_symlinks(false);
            let p = Path::new(&src_info.path);
            if src_info.is_dir {
                b.append_dir_all(&entry, p).map_err(err)?;
            } else {
                b.append_path_with_name(p, &entry).map_err(err)?;
            }
            b.finish().map_err(err)?;
            Ok(())
        });
        (plan.dst_dir, t)
    };
    drop(tx);
    let put = ctx
        .client
        .request(
            http::Method::PUT,
            format!("/containers/{}/archive", berth_client::api::seg(c)),
        )
        .query("path", &path)
        .query("noOverwriteDirNonDir", "true")
        .flag("copyUIDGID", a.archive)
        .body("application/x-tar", body)
        .discard();
    let (put_res, build_res) = tokio::join!(put, builder);
    let build_res = build_res.map_err(|e| CliError::new(format!("archive: {e}")))?;
    if !quiet {
        eprintln!(
            "Successfully copied {} to {c}:{}",
            units::human_size_prec(total.load(std::sync::atomic::Ordering::Relaxed) as f64, 3),
            dst_info.path
        );
    }
    put_res?;
    build_res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(path: &str, exists: bool, is_dir: bool) -> CopyInfo {
        CopyInfo {
            path: path.into(),
            exists,
            is_dir,
            rebase_name: String::new(),
        }
    }

    #[test]
    fn plans_follow_moby() {
        let file = info("/etc/hosts", true, false);
        let dir = info("/etc", true, true);
        let contents = info("/etc/.", true, true);
        // Into an existing directory: extracted there as is.
        assert_eq!(
            prepare_copy(&file, &info("/tmp/d", true, true)),
            Ok(CopyPlan {
                dst_dir: "/tmp/d".into(),
                rebase: None
            })
        );
        // To a new name: extracted in the parent, renamed.
        let p = prepare_copy(&dir, &info("/tmp/new", false, false)).unwrap();
        assert_eq!(p.dst_dir, "/tmp");
        assert_eq!(p.rebase, Some(("etc".into(), "new".into())));
        let p = prepare_copy(&contents, &info("/tmp/new", false, false)).unwrap();
        assert_eq!(p.rebase, Some((".".into(), "new".into())));
        // A file over a file takes its name.
        let p = prepare_copy(&file, &info("/tmp/f", true, false)).unwrap();
        assert_eq!(p.rebase, Some(("hosts".into(), "f".into())));
        assert_eq!(
            prepare_copy(&dir, &info("/tmp/f", true, false)),
            Err("cannot copy directory")
        );
        assert_eq!(
            prepare_copy(&file, &info("/tmp/nodir/", false, false)),
            Err("no such directory")
        );
    }

    #[test]
    fn paths_and_names() {
        assert_eq!(split_path_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split_path_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(preserve_trailing("/x/d", "d/."), "/x/d/.");
        assert_eq!(preserve_trailing("/x/d", "d/"), "/x/d/");
        assert_eq!(
            rebase_name("/a/link", "/a/target"),
            ("/a/target".into(), "link".into())
        );
        assert_eq!(rebase_name("/a/l/", "/b/t"), ("/b/t/".into(), "l".into()));
        assert_eq!(
            rebase_entry("etc/passwd", &[("etc".into(), "new".into())]),
            "new/passwd"
        );
        assert_eq!(split_container_path("c:/x"), Some(("c", "/x")));
        assert_eq!(split_container_path("./c:/x"), None);
        assert_eq!(split_container_path("/c:/x"), None);
        assert_eq!(split_container_path("plain"), None);
    }

    #[test]
    fn extraction_stays_inside() {
        let d = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "f", "/").unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, "f/evil", &b"x"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let e = extract(&data[..], d.path(), &[("f".into(), "g".into())]).unwrap_err();
        assert!(
            e.message.contains("leaves the destination"),
            "{}",
            e.message
        );
        assert!(std::fs::symlink_metadata(d.path().join("g")).is_ok());
    }
}
