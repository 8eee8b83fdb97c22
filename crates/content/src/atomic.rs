//! Crash-safe file replacement: write a temporary file beside the target,
//! fsync it, rename it over the target, fsync the directory.
//!
//! After `write_file` returns, a crash at any instant leaves either the old
//! or the new content at `path`, never a mix (rename(2) is atomic within a
//! filesystem, and the directory fsync makes the rename itself durable).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A step of an atomic write that failed.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {source}")]
pub struct AtomicWriteError {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> AtomicWriteError + 'a {
    move |source| AtomicWriteError {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Atomically replaces `path` with `data` (mode 0644).
pub fn write_file(path: &Path, data: &[u8]) -> Result<(), AtomicWriteError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    // The pid and a counter keep concurrent writers of the same file apart;
    // the leading dot keeps the temporary out of directory listings that
    // skip hidden names.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(err("create", &tmp))?;
        f.write_all(data).map_err(err("write", &tmp))?;
        f.sync_all().map_err(err("fsync", &tmp))?;
        fs::rename(&tmp, path).map_err(err("rename into", path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: the temporary is invisible to readers either way, and
        // the original error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes the entries of `dir` (creations, renames, removals) durable.
pub fn sync_dir(dir: &Path) -> Result<(), AtomicWriteError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err("fsync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_file(&p, b"one").unwrap();
        write_file(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn missing_directory_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope/state.json");
        let e = write_file(&p, b"x").unwrap_err();
        assert_eq!(e.op, "create");
        assert!(e.to_string().contains("nope"));
    }
}
