//! The build context: the tar the client sends (plain or gzip), unpacked
//! into a private directory, with its `.dockerignore` and Dockerfile.
//!
//! The docker CLI applies `.dockerignore` before sending, but always sends
//! the Dockerfile and `.dockerignore` themselves; a raw API client may
//! send everything. So the context keeps the patterns and every lookup of
//! a COPY/ADD source goes through them: what they exclude does not exist
//! for the build, the Dockerfile and `.dockerignore` included when they
//! are excluded (dockerd removes them from the context after reading the
//! Dockerfile).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::dockerignore::{Ignore, IgnoreError, clean_path};

/// Errors of reading the context.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("create build context directory: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("read build context: {0}")]
    Read(#[source] std::io::Error),
    #[error("unpack {path} of the build context: {source}")]
    Unpack {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Cannot locate specified Dockerfile: {0}")]
    NoDockerfile(String),
    #[error("read {path}: {source}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("parse .dockerignore: {0}")]
    Ignore(#[source] IgnoreError),
    #[error("the Dockerfile ({0}) cannot be empty")]
    EmptyDockerfile(String),
}

/// An unpacked build context.
#[derive(Debug)]
pub struct Context {
    dir: tempfile::TempDir,
    ignore: Ignore,
    /// The Dockerfile's name in the context, cleaned.
    pub dockerfile_name: String,
    /// The Dockerfile's text.
    pub dockerfile: String,
}

impl Context {
    /// Unpacks the tar `body` under a new directory in `tmp_root` and reads
    /// `dockerfile` (a path in the context; `Dockerfile` when empty, then
    /// `dockerfile` as docker falls back to).
    pub fn unpack(
        body: impl Read,
        tmp_root: &Path,
        dockerfile: &str,
    ) -> Result<Context, ContextError> {
        std::fs::create_dir_all(tmp_root).map_err(ContextError::TempDir)?;
        let dir = tempfile::Builder::new()
            .prefix("context-")
            .tempdir_in(tmp_root)
            .map_err(ContextError::TempDir)?;
        let mut reader = BufReader::new(body);
        let gz = {
            let head = reader.fill_buf().map_err(ContextError::Read)?;
            head.starts_with(&[0x1f, 0x8b])
        };
        let input: Box<dyn Read> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        unpack_tar(PadToBlocks::new(input), dir.path())?;
        let ignore = match std::fs::read_to_string(dir.path().join(".dockerignore")) {
            Ok(t) => Ignore::parse(&t).map_err(ContextError::Ignore)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ignore::default(),
            Err(source) => {
                return Err(ContextError::ReadFile {
                    path: ".dockerignore".into(),
                    source,
                });
            }
        };
        let (name, text) = read_dockerfile(dir.path(), dockerfile)?;
        if text.trim().is_empty() {
            return Err(ContextError::EmptyDockerfile(name));
        }
        Ok(Context {
            dir,
            ignore,
            dockerfile_name: name,
            dockerfile: text,
        })
    }

    /// The context's root directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn ignore(&self) -> &Ignore {
        &self.ignore
    }

    /// Whether `rel` (relative to the root) is hidden by `.dockerignore`.
    pub fn excluded(&self, rel: &str) -> bool {
        let rel = clean_path(rel);
        rel != "." && self.ignore.excludes(&rel)
    }
}

fn read_dockerfile(root: &Path, requested: &str) -> Result<(String, String), ContextError> {
    let candidates: Vec<String> = if requested.is_empty() {
        vec!["Dockerfile".into(), "dockerfile".into()]
    } else {
        vec![requested.to_string()]
    };
    for c in &candidates {
        let rel = clean_path(c.trim_start_matches('/'));
        if rel == ".." || rel.starts_with("../") {
            return Err(ContextError::NoDockerfile(c.clone()));
        }
        // Resolved inside the root: a Dockerfile that is a symlink must
        // not read a file of the host.
        let p = match in_root(root, &rel) {
            Some(p) => p,
            None => continue,
        };
        match std::fs::read(&p) {
            Ok(bytes) => return Ok((rel, String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(ContextError::ReadFile {
                    path: rel.clone(),
                    source,
                });
            }
        }
    }
    Err(ContextError::NoDockerfile(
        candidates.first().cloned().unwrap_or_default(),
    ))
}

/// `rel` with its symlinks resolved inside `root` (an absolute link
/// target is taken from the root); `None` when a loop is found.
pub fn in_root(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut done: Vec<String> = Vec::new();
    let mut todo: std::collections::VecDeque<String> = rel.split('/').map(str::to_string).collect();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let mut cur = root.to_path_buf();
        cur.extend(&done);
        cur.push(&c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return None;
                }
                let target = std::fs::read_link(&cur).ok()?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    done.clear();
                }
                for (i, t) in target.split('/').enumerate() {
                    todo.insert(i, t.to_string());
                }
            }
            _ => done.push(c),
        }
    }
    let mut p = root.to_path_buf();
    p.extend(&done);
    Some(p)
}

/// A reader that, at the end of its input, adds the zeros a tar lacks:
/// the padding of the last entry to a 512-byte block and the two zero
/// blocks that end an archive. The docker CLI sends contexts it rewrote
/// (`-f -`, which adds the Dockerfile) without them; dockerd's Go tar
/// reader accepts that, tar-rs does not. A complete archive ends before
/// the added zeros are read.
struct PadToBlocks<R> {
    inner: R,
    read: u64,
    /// Zeros still to give once the input is at its end.
    pad: Option<u64>,
}

impl<R: Read> PadToBlocks<R> {
    fn new(inner: R) -> Self {
        PadToBlocks {
            inner,
            read: 0,
            pad: None,
        }
    }
}

impl<R: Read> Read for PadToBlocks<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pad.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.read += n as u64;
                return Ok(n);
            }
            self.pad = Some((512 - self.read % 512) % 512 + 1024);
        }
        let left = self.pad.unwrap_or(0);
        let n = (buf.len() as u64).min(left) as usize;
        buf[..n].fill(0);
        self.pad = Some(left - n as u64);
        Ok(n)
    }
}

/// Unpacks a tar under `dest`. Entries are placed only inside `dest`
/// (tar-rs refuses `..` and parents that leave it through a symlink);
/// device nodes are skipped; ownership, modes and times are kept.
fn unpack_tar(input: impl Read, dest: &Path) -> Result<(), ContextError> {
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(false);
    let entries = archive.entries().map_err(ContextError::Read)?;
    for e in entries {
        let mut e = e.map_err(ContextError::Read)?;
        let kind = e.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo
        ) {
            continue;
        }
        let path = e
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        e.unpack_in(dest)
            .map_err(|source| ContextError::Unpack { path, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn unpacks_and_reads_dockerfile_and_ignore() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tar_of(&[
            ("Dockerfile", b"FROM x\n"),
            (".dockerignore", b"secret\n*.log\n!keep.log\n"),
            ("secret", b"s"),
            ("a.log", b"l"),
            ("keep.log", b"k"),
        ]);
        let c = Context::unpack(&t[..], tmp.path(), "").unwrap();
        assert_eq!(c.dockerfile, "FROM x\n");
        assert_eq!(c.dockerfile_name, "Dockerfile");
        assert!(c.excluded("secret"));
        assert!(c.excluded("./a.log"));
        assert!(!c.excluded("keep.log"));
        assert!(!c.excluded("."));
        assert!(c.root().join("keep.log").exists());
    }

    #[test]
    fn gzip_contexts_and_named_dockerfiles() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tar_of(&[("sub/Build.df", b"FROM y\n")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &t).unwrap();
        let gz = gz.finish().unwrap();
        let c = Context::unpack(&gz[..], tmp.path(), "sub/Build.df").unwrap();
        assert_eq!(c.dockerfile, "FROM y\n");
        let e = Context::unpack(&t[..], tmp.path(), "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cannot locate specified Dockerfile: Dockerfile"
        );
        let e = Context::unpack(&t[..], tmp.path(), "../x").unwrap_err();
        assert!(matches!(e, ContextError::NoDockerfile(_)));
        let empty = tar_of(&[("Dockerfile", b"  \n")]);
        let e = Context::unpack(&empty[..], tmp.path(), "").unwrap_err();
        assert_eq!(e.to_string(), "the Dockerfile (Dockerfile) cannot be empty");
    }

    #[test]
    fn a_tar_cut_after_its_last_entry_data_is_read_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tar_of(&[("Dockerfile", b"FROM x\n"), ("last", b"abc")]);
        // Header and data of the last entry, no padding, no end blocks.
        let cut = &t[..512 + 512 + 512 + 3];
        let c = Context::unpack(cut, tmp.path(), "").unwrap();
        assert_eq!(std::fs::read(c.root().join("last")).unwrap(), b"abc");
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        std::fs::create_dir(r.join("d")).unwrap();
        std::os::unix::fs::symlink("/d", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", r.join("d/up")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        assert_eq!(in_root(r, "abs/f").unwrap(), r.join("d/f"));
        assert_eq!(in_root(r, "d/up/etc/passwd").unwrap(), r.join("etc/passwd"));
        assert_eq!(in_root(r, "loop"), None);
    }
}
