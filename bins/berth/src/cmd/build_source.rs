//! Where a build's context comes from: a directory (with `.dockerignore`, and a
//! Dockerfile from stdin or from outside it added under a random name), stdin (a
//! tar, or a Dockerfile alone), or bytes fetched from a URL. Each becomes the tar
//! that `berth build` sends and the Dockerfile's path in it, as the docker CLI
//! makes them.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::build_context::{self, GoTar};
use super::parse;
use crate::error::CliError;

/// What is sent: the context tar (in a temporary file) and the Dockerfile's path in it.
pub(super) struct Context {
    pub(super) tar: std::fs::File,
    pub(super) dockerfile: String,
}

pub(super) fn prepare_err(e: impl std::fmt::Display) -> CliError {
    CliError::new(format!("unable to prepare context: {e}"))
}

/// Go's `%q` of a path.
pub(super) fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Go's `filepath.EvalSymlinks` error wording (`lstat /x/Dockerfile: no such file or
/// directory`) for the first missing component of `p`.
fn eval_symlinks(p: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(p).map_err(|e| {
        let mut cur = PathBuf::new();
        for c in p.components() {
            cur.push(c);
            if std::fs::symlink_metadata(&cur).is_err() {
                break;
            }
        }
        format!("lstat {}: {}", cur.display(), parse::io_text(&e))
    })
}

/// `-f`'s path relative to the context `dir` (docker's `getDockerfileRelPath`).
fn dockerfile_rel(dir: &Path, file: Option<&str>) -> Result<String, CliError> {
    let abs = match file {
        Some(f) => {
            let p = Path::new(f);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir()
                    .map_err(|e| prepare_err(e.to_string()))?
                    .join(p)
            }
        }
        None => {
            let d = dir.join("Dockerfile");
            let lower = dir.join("dockerfile");
            if std::fs::symlink_metadata(&d).is_err() && std::fs::symlink_metadata(&lower).is_ok() {
                lower
            } else {
                d
            }
        }
    };
    let abs = eval_symlinks(&abs).map_err(|e| {
        prepare_err(format!(
            "unable to evaluate symlinks in Dockerfile path: {e}"
        ))
    })?;
    Ok(relative(dir, &abs))
}

/// Go's `filepath.Rel` for two clean absolute paths.
fn relative(base: &Path, target: &Path) -> String {
    let b: Vec<_> = base.components().collect();
    let t: Vec<_> = target.components().collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Whether `head` starts an archive: a compressed stream, or a tar header whose
/// checksum holds (docker's `IsArchive`).
pub(super) fn is_archive(head: &[u8]) -> bool {
    const MAGICS: [&[u8]; 4] = [
        &[0x1f, 0x8b, 0x08],
        b"BZh",
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
        &[0x28, 0xb5, 0x2f, 0xfd],
    ];
    if MAGICS.iter().any(|m| head.starts_with(m)) {
        return true;
    }
    if head.len() < 512 {
        return false;
    }
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&head[..512]);
    h.cksum().is_ok_and(|c| {
        let sum: u32 = head[..512]
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(*b)
                }
            })
            .sum();
        c == sum
    })
}

pub(super) fn temp_file() -> Result<std::fs::File, CliError> {
    tempfile::tempfile().map_err(|e| CliError::new(format!("create a temporary file: {e}")))
}

pub(super) fn rewind(mut f: std::fs::File) -> Result<std::fs::File, CliError> {
    f.rewind()
        .map_err(|e| CliError::new(format!("read the build context: {e}")))?;
    Ok(f)
}

/// The context from stdin: a tar (maybe compressed) as it is, or a Dockerfile put in
/// a context of its own.
pub(super) fn context_from_stdin(file: Option<&str>) -> Result<Context, CliError> {
    let mut data = Vec::new();
    std::io::stdin()
        .read_to_end(&mut data)
        .map_err(|e| prepare_err(format!("failed to peek context header from STDIN: {e}")))?;
    context_from_bytes(data, file)
}

/// A context read whole (stdin, a download): a tar as it is, or a Dockerfile put in
/// a context of its own (docker's `GetContextFromReader`).
pub(super) fn context_from_bytes(data: Vec<u8>, file: Option<&str>) -> Result<Context, CliError> {
    let mut f = temp_file()?;
    if is_archive(&data[..data.len().min(1024)]) {
        f.write_all(&data)
            .map_err(|e| CliError::new(format!("write the build context: {e}")))?;
        return Ok(Context {
            tar: rewind(f)?,
            dockerfile: file.unwrap_or_default().to_string(),
        });
    }
    if file == Some("-") {
        return Err(prepare_err("build context is not an archive"));
    }
    if file.is_some() {
        return Err(prepare_err(
            "ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles",
        ));
    }
    let now = jiff::Timestamp::now().as_second().max(0) as u64;
    let mut t = GoTar::new(&mut f);
    let mode = 0o666 & !current_umask();
    t.add_bytes_mode("Dockerfile", &data, now, mode)
        .and_then(|_| t.finish().map(drop))
        .map_err(|e| CliError::new(format!("write the build context: {e}")))?;
    Ok(Context {
        tar: rewind(f)?,
        dockerfile: "Dockerfile".into(),
    })
}

fn current_umask() -> u32 {
    // umask(2) can only be read by setting it; it is put back at once.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    rustix::process::umask(old);
    old.bits()
}

/// A random name for a Dockerfile added to the context (docker's
/// `.dockerfile.<20 hex digits>`).
fn random_dockerfile_name() -> String {
    let mut b = [0u8; 10];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let n = jiff::Timestamp::now().as_nanosecond();
        b.copy_from_slice(&n.to_le_bytes()[..10]);
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(".dockerfile.{hex}")
}

/// The context from directory `dir`; `stdin_dockerfile` is a Dockerfile read from
/// stdin or from outside the context, added under a random name.
pub(super) fn context_from_dir(
    dir: &str,
    file: Option<&str>,
    outside: Option<Vec<u8>>,
) -> Result<Context, CliError> {
    let abs = Path::new(&super::outfile::go_abs(dir)).to_path_buf();
    let abs = eval_symlinks(&abs)
        .map_err(|e| prepare_err(format!("unable to evaluate symlinks in context path: {e}")))?;
    if !abs.is_dir() {
        return Err(prepare_err(format!(
            "context must be a directory: {}",
            abs.display()
        )));
    }
    let from_stdin = file == Some("-");
    let mut rel = if from_stdin {
        "-".to_string()
    } else {
        dockerfile_rel(&abs, file)?
    };
    let outside = if from_stdin {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| CliError::new(format!("read the Dockerfile from stdin: {e}")))?;
        Some(data)
    } else if rel.starts_with("../") {
        let f = file.unwrap_or_default();
        Some(std::fs::read(f).map_err(|e| {
            CliError::new(format!("unable to open Dockerfile: {}", parse::io_text(&e)))
        })?)
    } else {
        outside
    };
    let excludes = build_context::read_dockerignore(&abs).map_err(CliError::new)?;
    let excludes = build_context::keep_build_files(excludes, &rel, from_stdin);
    let extra = outside.map(|data| {
        let name = random_dockerfile_name();
        rel = name.clone();
        (name, data)
    });
    let mut f = temp_file()?;
    let (_, unsent) = build_context::write_context_with(&abs, &excludes, extra.as_ref(), &mut f)
        .map_err(|e| CliError::new(format!("error checking context: {e}")))?;
    if unsent > 0 {
        let len = f
            .metadata()
            .map_err(|e| CliError::new(format!("write the build context: {e}")))?
            .len();
        f.set_len(len.saturating_sub(unsent))
            .map_err(|e| CliError::new(format!("write the build context: {e}")))?;
    }
    Ok(Context {
        tar: rewind(f)?,
        dockerfile: rel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_told_from_dockerfiles() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_path("Dockerfile").unwrap();
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
        let t = b.into_inner().unwrap();
        assert!(is_archive(&t));
        assert!(is_archive(&[0x1f, 0x8b, 0x08, 0]));
        assert!(!is_archive(b"FROM busybox\nRUN true\n"));
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b/c/D")), "c/D");
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/x")), "../x");
    }
}
