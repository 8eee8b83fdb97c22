//! Output files of `save -o` and `export -o`, written as docker writes them: the
//! destination is validated first (a regular file or nothing; never a device, a
//! directory, a link, a FIFO or a socket, so `-o /dev/null` cannot replace the device
//! node), the data goes to a temp file next to it, which is synced, given mode 0600
//! and renamed over the destination only when the whole stream arrived.
//!
//! Also Go's lexical path helpers (`filepath.Clean`, `filepath.Dir`), since docker's
//! messages name paths the way Go prints them.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::parse::io_text;

/// Go's `filepath.Clean`: one separator at a time, no `.` elements, `..` resolved
/// lexically; the empty path is `.`.
pub fn go_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Go's `filepath.Dir`: everything before the last separator, cleaned.
pub fn go_dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => go_clean(&p[..=i]),
        None => ".".into(),
    }
}

/// Go's `filepath.Base`: the last element, trailing separators removed.
pub fn go_base(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// Go's `filepath.Abs`: joined to the working directory and cleaned.
pub fn go_abs(p: &str) -> String {
    if p.starts_with('/') {
        return go_clean(p);
    }
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "/".into());
    go_clean(&format!("{cwd}/{p}"))
}

/// `stat {path}: {errno text}`, Go's `*PathError` text.
pub fn path_error(op: &str, path: &str, e: &std::io::Error) -> String {
    format!("{op} {path}: {}", io_text(e))
}

/// Docker's check of an output file name (moby's `atomicwriter`), before anything is
/// created.
pub fn validate_destination(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("file name is empty".into());
    }
    let dir = go_dir(name);
    if dir != "." && dir != ".." {
        match fs::metadata(&dir) {
            Err(e) => {
                return Err(format!(
                    "invalid output path: {}",
                    path_error("stat", &dir, &e)
                ));
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!("invalid output path: stat {dir}: not a directory"));
            }
            Ok(_) => {}
        }
    }
    let meta = match fs::symlink_metadata(name) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "failed to stat output path: {}",
                path_error("lstat", name, &e)
            ));
        }
    };
    let ft = meta.file_type();
    let mode = meta.permissions().mode();
    let refusal = if ft.is_file() {
        // Go reports set-id and sticky bits as part of the file's mode.
        if mode & 0o4000 != 0 {
            "cannot write to a setuid file"
        } else if mode & 0o2000 != 0 {
            "cannot write to a setgid file"
        } else if mode & 0o1000 != 0 {
            "cannot write to a sticky bit file"
        } else {
            return Ok(());
        }
    } else if ft.is_dir() {
        "cannot write to a directory"
    } else if ft.is_symlink() {
        "cannot write to a symbolic link directly"
    } else if ft.is_fifo() {
        "cannot write to a named pipe (FIFO)"
    } else if ft.is_socket() {
        "cannot write to a socket"
    } else if ft.is_char_device() {
        "cannot write to a character device file"
    } else {
        "cannot write to a block device file"
    };
    Err(refusal.into())
}

/// A file being written under a temp name next to its destination.
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    pub file: tokio::fs::File,
}

impl AtomicFile {
    /// Validates `name` and creates the temp file (`.tmp-<name><n>` in its directory).
    pub fn create(name: &str) -> Result<AtomicFile, String> {
        validate_destination(name)?;
        let dest = PathBuf::from(go_abs(name));
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = go_base(name);
        let mut n = std::process::id();
        loop {
            let tmp = dir.join(format!(".tmp-{base}{n}"));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
            {
                Ok(f) => {
                    return Ok(AtomicFile {
                        tmp,
                        dest,
                        file: tokio::fs::File::from_std(f),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n = n.wrapping_add(1),
                Err(e) => return Err(path_error("open", &tmp.display().to_string(), &e)),
            }
        }
    }

    /// Syncs the data and renames the temp file over the destination.
    pub async fn commit(self) -> Result<(), String> {
        let synced = self.file.sync_all().await;
        drop(self.file);
        let tmp = self.tmp.display().to_string();
        let done = synced
            .map_err(|e| path_error("sync", &tmp, &e))
            .and_then(|()| {
                fs::set_permissions(&self.tmp, fs::Permissions::from_mode(0o600))
                    .map_err(|e| path_error("chmod", &tmp, &e))
            })
            .and_then(|()| {
                fs::rename(&self.tmp, &self.dest)
                    .map_err(|e| format!("rename {tmp} {}: {}", self.dest.display(), io_text(&e)))
            });
        if done.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        done
    }

    /// Removes the temp file; the destination is untouched.
    pub fn abort(self) {
        drop(self.file);
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Streams a tar response (`export`, `save`) to `file` (committed only
/// once the whole stream arrived) or to stdout. A failed request or copy
/// aborts the file, so nothing half-written replaces the destination.
pub async fn deliver(
    resp: Result<http::Response<hyper::body::Incoming>, berth_client::Error>,
    mut file: Option<AtomicFile>,
    path: &str,
) -> crate::error::CliResult {
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            if let Some(f) = file {
                f.abort();
            }
            return Err(e.into());
        }
    };
    let mut body = berth_client::stream::BodyStream::new(resp, path);
    match file.take() {
        Some(mut f) => {
            if let Err(e) = body.copy_to(&mut f.file).await {
                f.abort();
                return Err(e.into());
            }
            f.commit().await.map_err(crate::error::CliError::new)?;
        }
        None => {
            body.copy_to(&mut tokio::io::stdout()).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_paths() {
        assert_eq!(go_clean("a//b/./c/.."), "a/b");
        assert_eq!(go_clean("/../x"), "/x");
        assert_eq!(go_clean("../x"), "../x");
        assert_eq!(go_clean(""), ".");
        assert_eq!(go_dir("x"), ".");
        assert_eq!(go_dir("/x"), "/");
        assert_eq!(go_dir("a/b/"), "a/b");
        assert_eq!(go_dir("/nonexist/x"), "/nonexist");
        assert_eq!(go_base("a/b/"), "b");
        assert_eq!(go_base("/"), "/");
    }

    #[test]
    fn devices_links_and_dirs_are_refused() {
        assert_eq!(
            validate_destination("/dev/null").unwrap_err(),
            "cannot write to a character device file"
        );
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().display().to_string();
        assert_eq!(
            validate_destination(&dir).unwrap_err(),
            "cannot write to a directory"
        );
        let link = d.path().join("l");
        std::os::unix::fs::symlink("x", &link).unwrap();
        assert_eq!(
            validate_destination(&link.display().to_string()).unwrap_err(),
            "cannot write to a symbolic link directly"
        );
        assert_eq!(
            validate_destination("/nonexist/x").unwrap_err(),
            "invalid output path: stat /nonexist: no such file or directory"
        );
        let file = d.path().join("f");
        assert!(validate_destination(&file.display().to_string()).is_ok());
        std::fs::write(&file, "x").unwrap();
        assert!(validate_destination(&file.display().to_string()).is_ok());
    }

    #[tokio::test]
    async fn written_whole_or_not_at_all() {
        use tokio::io::AsyncWriteExt;
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("out.tar");
        let name = dest.display().to_string();
        let mut f = AtomicFile::create(&name).unwrap();
        f.file.write_all(b"data").await.unwrap();
        assert!(!dest.exists(), "visible before commit");
        f.commit().await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"data");
        assert_eq!(
            std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let f = AtomicFile::create(&name).unwrap();
        f.abort();
        assert_eq!(std::fs::read(&dest).unwrap(), b"data");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
