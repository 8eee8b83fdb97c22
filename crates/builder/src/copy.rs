//! COPY and ADD: which files a step copies (sources, globs, heredocs,
//! downloads), their checksum for the cache, and the copy itself into a
//! mounted build rootfs, with the classic builder's rules.
//!
//! Rules (docker's):
//! - Sources are relative to the context (or to the root of the `--from`
//!   image); a path that leaves it is refused. What `.dockerignore`
//!   excludes does not exist. Wildcards follow Go's `filepath.Match` on
//!   the whole relative path; no match is an error.
//! - A directory source copies its contents, not itself.
//! - The destination is relative to WORKDIR. With several sources it must
//!   end in `/`. A file goes *into* the destination when that ends in `/`
//!   or is an existing directory, else it *is* the destination.
//! - Copied files keep their mode and mtime; owner is 0:0 unless
//!   `--chown`; directories created on the way get 0755 and that owner.
//! - ADD unpacks a local tar (plain or gzip) into the destination
//!   directory; a URL is downloaded (mode 0600), never unpacked.
//!
//! Every path written is resolved inside the rootfs (symlinks in the image
//! never lead outside it).

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::context::{Context, in_root};
use crate::dockerignore::{clean_path, compile_glob};

/// Errors of COPY and ADD; the messages are docker's where docker has one.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("forbidden path outside the build context: {0} ()")]
    OutsideContext(String),
    #[error(
        "file not found in build context or excluded by .dockerignore: stat {0}: file does not exist"
    )]
    NotFound(String),
    #[error("no source files were specified")]
    NoSources,
    #[error(
        "When using {0} with more than one source file, the destination must be a directory and end with a /"
    )]
    DestNotDir(&'static str),
    #[error("bad source pattern {pattern:?}: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot copy to non-directory: {0}")]
    NotADirectory(String),
    #[error("failed to GET {url} with status {status}")]
    HttpStatus { url: String, status: String },
    #[error("download {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("invalid checksum digest format: {0}")]
    BadChecksum(String),
    #[error("digest mismatch {got}: {want}")]
    ChecksumMismatch { got: String, want: String },
    #[error("a symlink loop at {0}")]
    Loop(String),
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CopyError {
    let path = path.to_path_buf();
    move |source| CopyError::Io { op, path, source }
}

/// Where sources are read from.
#[derive(Clone, Copy)]
pub enum SourceRoot<'a> {
    Context(&'a Context),
    /// The root of an image's filesystem (`--from`).
    Rootfs(&'a Path),
}

impl SourceRoot<'_> {
    fn root(&self) -> &Path {
        match self {
            SourceRoot::Context(c) => c.root(),
            SourceRoot::Rootfs(p) => p,
        }
    }

    fn excluded(&self, rel: &str) -> bool {
        match self {
            SourceRoot::Context(c) => c.excluded(rel),
            SourceRoot::Rootfs(_) => false,
        }
    }
}

/// One thing to copy.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file, directory or symlink of the source root.
    Path {
        /// Relative to the source root, cleaned.
        rel: String,
        abs: PathBuf,
        is_dir: bool,
    },
    /// Bytes with a name (a heredoc, a download).
    Content {
        name: String,
        data: Vec<u8>,
        mode: u32,
        mtime: Option<i64>,
    },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Path { rel, .. } => rel.rsplit('/').next().unwrap_or(rel).to_string(),
            Source::Content { name, .. } => name.clone(),
        }
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The sources the (expanded) source words name.
pub fn resolve_sources(root: SourceRoot<'_>, words: &[String]) -> Result<Vec<Source>, CopyError> {
    let mut out = Vec::new();
    for w in words {
        let rel = clean_path(w.trim_start_matches('/'));
        if rel == ".." || rel.starts_with("../") {
            return Err(CopyError::OutsideContext(w.clone()));
        }
        if has_wildcard(&rel) {
            let found = glob(root, &rel)?;
            out.extend(found);
            continue;
        }
        out.push(path_source(root, &rel, w)?);
    }
    if out.is_empty() {
        return Err(CopyError::NoSources);
    }
    Ok(out)
}

fn path_source(root: SourceRoot<'_>, rel: &str, word: &str) -> Result<Source, CopyError> {
    if root.excluded(rel) {
        return Err(CopyError::NotFound(word.to_string()));
    }
    let abs = if rel == "." {
        root.root().to_path_buf()
    } else {
        in_root(root.root(), rel).ok_or_else(|| CopyError::Loop(word.to_string()))?
    };
    let meta = std::fs::metadata(&abs).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CopyError::NotFound(word.to_string())
        } else {
            CopyError::Io {
                op: "stat",
                path: abs.clone(),
                source: e,
            }
        }
    })?;
    Ok(Source::Path {
        rel: rel.to_string(),
        abs,
        is_dir: meta.is_dir(),
    })
}

/// Paths of the source root matching `pattern`, in sorted order.
fn glob(root: SourceRoot<'_>, pattern: &str) -> Result<Vec<Source>, CopyError> {
    let re = compile_glob(pattern, false).map_err(|e| CopyError::BadPattern {
        pattern: pattern.to_string(),
        reason: e.to_string(),
    })?;
    // Walk only below the literal prefix, as deep as the pattern goes.
    let comps: Vec<&str> = pattern.split('/').collect();
    let lit = comps.iter().take_while(|c| !has_wildcard(c)).count();
    let prefix = comps[..lit].join("/");
    let depth = comps.len() - lit;
    let mut out = Vec::new();
    let start = if prefix.is_empty() {
        root.root().to_path_buf()
    } else {
        match in_root(root.root(), &prefix) {
            Some(p) => p,
            None => return Ok(out),
        }
    };
    let mut stack = vec![(start, prefix, 0usize)];
    while let Some((dir, rel, d)) = stack.pop() {
        if d >= depth {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if root.excluded(&child_rel) {
                continue;
            }
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if d + 1 == depth && re.is_match(&child_rel) {
                out.push(path_source(root, &child_rel, &child_rel)?);
            }
            if is_dir {
                stack.push((e.path(), child_rel, d + 1));
            }
        }
    }
    out.sort_by_key(|s| match s {
        Source::Path { rel, .. } => rel.clone(),
        Source::Content { name, .. } => name.clone(),
    });
    Ok(out)
}

/// Hashes `sources` (names, types, modes, sizes, contents, link targets;
/// not owners or times, as docker's classic cache): the cache key part
/// and the history's `file:`/`dir:`/`multi:` label.
pub fn checksum(root: SourceRoot<'_>, sources: &[Source]) -> Result<String, CopyError> {
    let mut h = Sha256::new();
    for s in sources {
        match s {
            Source::Content {
                name, data, mode, ..
            } => {
                h.update(format!("content {name} {mode:o} {}\n", data.len()));
                h.update(data);
            }
            Source::Path { rel, abs, .. } => {
                h.update(format!("path {rel}\n"));
                hash_tree(root, rel, abs, &mut h)?;
            }
        }
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let kind = match sources {
        [Source::Path { is_dir: true, .. }] => "dir",
        [_] => "file",
        _ => "multi",
    };
    Ok(format!("{kind}:{hex}"))
}

fn hash_tree(root: SourceRoot<'_>, rel: &str, abs: &Path, h: &mut Sha256) -> Result<(), CopyError> {
    let meta = std::fs::symlink_metadata(abs).map_err(io_err("stat", abs))?;
    let ft = meta.file_type();
    h.update(format!("{rel} {:o} {}\n", meta.mode(), meta.len()));
    if ft.is_symlink() {
        let t = std::fs::read_link(abs).map_err(io_err("readlink", abs))?;
        h.update(t.to_string_lossy().as_bytes());
    } else if ft.is_file() {
        let mut f = std::fs::File::open(abs).map_err(io_err("open", abs))?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = f.read(&mut buf).map_err(io_err("read", abs))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    } else if ft.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(abs)
            .map_err(io_err("read", abs))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let child = if rel == "." {
                n.clone()
            } else {
                format!("{rel}/{n}")
            };
            if root.excluded(&child) {
                continue;
            }
            hash_tree(root, &child, &abs.join(&n), h)?;
        }
    }
    Ok(())
}

/// The owner `--chown` names, resolved against the rootfs's
/// /etc/passwd and /etc/group.
pub fn resolve_owner(rootfs: &Path, spec: &str) -> Result<(u32, u32), CopyError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let read = |f: &str| -> String {
        in_root(rootfs, f)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    let lookup = |text: &str, name: &str| -> Option<(u32, u32)> {
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && f[0] == name)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().unwrap_or(0))))
                .flatten()
        })
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => {
            lookup(&read("etc/passwd"), user).ok_or_else(|| CopyError::NoUser(user.to_string()))?
        }
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(&read("etc/group"), g)
                .map(|(gid, _)| gid)
                .ok_or_else(|| CopyError::NoGroup(g.to_string()))?,
        },
    };
    Ok((uid, gid))
}

/// What the copy does with the resolved sources.
#[derive(Debug, Clone)]
pub struct CopyPlan {
    /// The destination, absolute, with its trailing `/` kept.
    pub dest: String,
    pub owner: (u32, u32),
    pub chmod: Option<u32>,
    /// ADD: unpack local archives.
    pub unpack_archives: bool,
    /// "COPY" or "ADD" (for messages).
    pub keyword: &'static str,
}

/// docker's `normalizeDest`: relative to WORKDIR, trailing `/` kept.
pub fn normalize_dest(workdir: &str, dest: &str) -> String {
    let slash = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    let joined = if dest.starts_with('/') {
        clean_path(dest)
    } else {
        clean_path(&format!("/{workdir}/{dest}"))
    };
    if slash && joined != "/" {
        format!("{joined}/")
    } else {
        joined
    }
}

/// Copies `sources` (read from `root`) into the rootfs mounted at
/// `rootfs`.
pub fn perform(
    rootfs: &Path,
    root: SourceRoot<'_>,
    plan: &CopyPlan,
    sources: &[Source],
) -> Result<(), CopyError> {
    if sources.len() > 1 && !plan.dest.ends_with('/') {
        return Err(CopyError::DestNotDir(plan.keyword));
    }
    let dest_rel = plan
        .dest
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string();
    let dest_is_dir = |rel: &str| -> bool { in_root(rootfs, rel).is_some_and(|p| p.is_dir()) };
    for s in sources {
        match s {
            Source::Path {
                abs,
                rel,
                is_dir: true,
            } => {
                let target = ensure_dir(rootfs, &dest_rel, plan.owner)?;
                let walk = Walk { root, rootfs, plan };
                walk.copy_dir_contents(rel, abs, &target, &dest_rel)?;
            }
            Source::Path { abs, .. } if plan.unpack_archives && is_archive(abs) => {
                let target = ensure_dir(rootfs, &dest_rel, plan.owner)?;
                unpack_archive(abs, &target)?;
            }
            _ => {
                let into =
                    plan.dest.ends_with('/') || dest_rel.is_empty() || dest_is_dir(&dest_rel);
                let file_rel = if into {
                    format!("{dest_rel}/{}", s.name())
                } else {
                    dest_rel.clone()
                };
                let (parent, _) = file_rel.rsplit_once('/').unwrap_or(("", &file_rel));
                ensure_dir(rootfs, parent, plan.owner)?;
                let target =
                    in_root(rootfs, &file_rel).ok_or_else(|| CopyError::Loop(file_rel.clone()))?;
                if target.is_dir() {
                    return Err(CopyError::NotADirectory(file_rel));
                }
                write_one(s, &target, plan)?;
            }
        }
    }
    Ok(())
}

/// Makes directory `rel` (and its parents) inside the rootfs; new ones get
/// mode 0755 and `owner`. Returns its real path.
pub(crate) fn ensure_dir(
    rootfs: &Path,
    rel: &str,
    owner: (u32, u32),
) -> Result<PathBuf, CopyError> {
    let mut cur = String::new();
    for c in rel.split('/').filter(|c| !c.is_empty()) {
        if !cur.is_empty() {
            cur.push('/');
        }
        cur.push_str(c);
        let p = in_root(rootfs, &cur).ok_or_else(|| CopyError::Loop(cur.clone()))?;
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(CopyError::NotADirectory(format!("/{cur}"))),
            Err(_) => {
                // `p` is resolved: what exists of it is real directories,
                // and a symlink may have sent it elsewhere in the rootfs,
                // so create what is missing along `p` itself.
                let real = p.strip_prefix(rootfs).unwrap_or(&p).to_path_buf();
                let mut at = rootfs.to_path_buf();
                for comp in real.components() {
                    at.push(comp);
                    if std::fs::symlink_metadata(&at).is_ok() {
                        continue;
                    }
                    std::fs::create_dir(&at).map_err(io_err("create", &at))?;
                    std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755))
                        .map_err(io_err("chmod", &at))?;
                    std::os::unix::fs::lchown(&at, Some(owner.0), Some(owner.1))
                        .map_err(io_err("chown", &at))?;
                }
            }
        }
    }
    in_root(rootfs, rel).ok_or_else(|| CopyError::Loop(rel.to_string()))
}

fn write_one(s: &Source, target: &Path, plan: &CopyPlan) -> Result<(), CopyError> {
    match s {
        Source::Content {
            data, mode, mtime, ..
        } => {
            let _ = std::fs::remove_file(target);
            let mut f = std::fs::File::create(target).map_err(io_err("create", target))?;
            f.write_all(data).map_err(io_err("write", target))?;
            let mode = plan.chmod.unwrap_or(*mode);
            f.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(io_err("chmod", target))?;
            if let Some(t) = mtime {
                let when =
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs((*t).max(0) as u64);
                f.set_modified(when)
                    .map_err(io_err("set times of", target))?;
            }
            std::os::unix::fs::lchown(target, Some(plan.owner.0), Some(plan.owner.1))
                .map_err(io_err("chown", target))
        }
        Source::Path { abs, .. } => copy_entry(abs, target, plan),
    }
}

/// Copies one file or symlink (not a directory) to `target`.
fn copy_entry(src: &Path, target: &Path, plan: &CopyPlan) -> Result<(), CopyError> {
    let meta = std::fs::symlink_metadata(src).map_err(io_err("stat", src))?;
    let ft = meta.file_type();
    if std::fs::symlink_metadata(target).is_ok_and(|m| !m.is_dir()) {
        std::fs::remove_file(target).map_err(io_err("replace", target))?;
    }
    if ft.is_symlink() {
        let t = std::fs::read_link(src).map_err(io_err("readlink", src))?;
        std::os::unix::fs::symlink(&t, target).map_err(io_err("symlink", target))?;
    } else if ft.is_file() {
        std::fs::copy(src, target).map_err(io_err("copy to", target))?;
        let mode = plan.chmod.unwrap_or(meta.mode() & 0o7777);
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode))
            .map_err(io_err("chmod", target))?;
        let f = std::fs::File::options()
            .write(true)
            .open(target)
            .map_err(io_err("open", target))?;
        if let Ok(m) = meta.modified() {
            f.set_modified(m).map_err(io_err("set times of", target))?;
        }
    } else {
        // Sockets, fifos and devices are not copied (the context cannot
        // carry them).
        return Ok(());
    }
    std::os::unix::fs::lchown(target, Some(plan.owner.0), Some(plan.owner.1))
        .map_err(io_err("chown", target))
}

/// A recursive copy of a source directory's contents.
struct Walk<'a> {
    root: SourceRoot<'a>,
    rootfs: &'a Path,
    plan: &'a CopyPlan,
}

impl Walk<'_> {
    /// Copies the entries of `src` (at `src_rel` in the source root) into
    /// `dst` (the real path of `dst_rel` in the rootfs); `.dockerignore`
    /// applies to each entry of a context directory.
    fn copy_dir_contents(
        &self,
        src_rel: &str,
        src: &Path,
        dst: &Path,
        dst_rel: &str,
    ) -> Result<(), CopyError> {
        let plan = self.plan;
        let rd = std::fs::read_dir(src).map_err(io_err("read", src))?;
        for e in rd {
            let e = e.map_err(io_err("read", src))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let child_src_rel = if src_rel == "." {
                name.clone()
            } else {
                format!("{src_rel}/{name}")
            };
            if self.root.excluded(&child_src_rel) {
                continue;
            }
            let from = e.path();
            let rel = if dst_rel.is_empty() {
                name.clone()
            } else {
                format!("{dst_rel}/{name}")
            };
            let meta = std::fs::symlink_metadata(&from).map_err(io_err("stat", &from))?;
            if !meta.is_dir() {
                copy_entry(&from, &dst.join(&name), plan)?;
                continue;
            }
            let to = in_root(self.rootfs, &rel).ok_or_else(|| CopyError::Loop(rel.clone()))?;
            match std::fs::symlink_metadata(&to) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    std::fs::remove_file(&to).map_err(io_err("replace", &to))?;
                    std::fs::create_dir(&to).map_err(io_err("create", &to))?;
                }
                Err(_) => std::fs::create_dir(&to).map_err(io_err("create", &to))?,
            }
            let mode = plan.chmod.unwrap_or(meta.mode() & 0o7777);
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))
                .map_err(io_err("chmod", &to))?;
            std::os::unix::fs::lchown(&to, Some(plan.owner.0), Some(plan.owner.1))
                .map_err(io_err("chown", &to))?;
            self.copy_dir_contents(&child_src_rel, &from, &to, &rel)?;
        }
        Ok(())
    }
}

/// Whether a local file is a tar archive ADD unpacks: gzip-compressed
/// (looked at after decompression) or plain, by the `ustar` magic.
fn is_archive(path: &Path) -> bool {
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 2];
    if f.read_exact(&mut head).is_err() {
        return false;
    }
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut r: Box<dyn Read> = if head == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut block = vec![0u8; 512];
    if r.read_exact(&mut block).is_err() {
        return false;
    }
    &block[257..262] == b"ustar"
}

fn unpack_archive(src: &Path, dst: &Path) -> Result<(), CopyError> {
    let f = std::fs::File::open(src).map_err(io_err("open", src))?;
    let mut head = [0u8; 2];
    let mut probe = std::fs::File::open(src).map_err(io_err("open", src))?;
    let _ = probe.read_exact(&mut head);
    let r: Box<dyn Read> = if head == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut a = tar::Archive::new(r);
    a.set_preserve_permissions(true);
    a.set_preserve_mtime(true);
    a.set_preserve_ownerships(true);
    a.set_overwrite(true);
    for e in a.entries().map_err(io_err("read archive", src))? {
        let mut e = e.map_err(io_err("read archive", src))?;
        // unpack_in keeps every entry inside `dst`.
        e.unpack_in(dst).map_err(io_err("unpack into", dst))?;
    }
    Ok(())
}

/// Downloads `url` for ADD: its bytes, file name (the URL's last path
/// segment) and Last-Modified time; `checksum` (`sha256:<hex>`) is
/// verified.
pub async fn download(url: &str, checksum: Option<&str>) -> Result<Source, CopyError> {
    let derr = |reason: String| CopyError::Download {
        url: url.to_string(),
        reason,
    };
    let want = match checksum {
        Some(c) => match c.strip_prefix("sha256:") {
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(c.to_string())
            }
            _ => return Err(CopyError::BadChecksum(c.to_string())),
        },
        None => None,
    };
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| derr(e.to_string()))?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| derr(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(CopyError::HttpStatus {
            url: url.to_string(),
            status: resp.status().to_string(),
        });
    }
    let mtime = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| jiff::fmt::rfc2822::parse(v).ok())
        .map(|z| z.timestamp().as_second());
    let data = resp
        .bytes()
        .await
        .map_err(|e| derr(e.to_string()))?
        .to_vec();
    if let Some(w) = want {
        let got: String = Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let got = format!("sha256:{got}");
        if got != w {
            return Err(CopyError::ChecksumMismatch { got, want: w });
        }
    }
    let name = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !n.contains(':'))
        .unwrap_or("__unnamed__")
        .to_string();
    Ok(Source::Content {
        name,
        data,
        mode: 0o600,
        mtime,
    })
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
