//! File access inside cgroup directories.
//!
//! Every file is opened with `O_NOFOLLOW` and checked to be on a cgroup
//! filesystem (fstatfs(2)) before it is used, so a path that was swapped for
//! a symlink or a non-cgroup mount cannot redirect a write to a host file
//! (runc's `cgroups.OpenFile` makes the same check).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::CgroupError;

/// Opens `dir/file` for reading or writing, refusing anything that is not a
/// file of cgroupfs or cgroup2.
pub fn open(dir: &Path, file: &str, write: bool) -> io::Result<File> {
    debug_assert!(!file.contains('/'), "cgroup file names have no slash");
    let f = OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(file))?;
    let st = rustix::fs::fstatfs(&f)?;
    // f_type's width and signedness differ between targets; the magics fit
    // in 32 bits.
    let magic = st.f_type as u64;
    if magic != libc::CGROUP_SUPER_MAGIC as u64 && magic != libc::CGROUP2_SUPER_MAGIC as u64 {
        return Err(io::Error::other("not on a cgroup filesystem"));
    }
    Ok(f)
}

/// Reads `dir/file` whole; the raw I/O error is kept for callers that
/// tolerate a missing file.
pub fn read_raw(dir: &Path, file: &str) -> io::Result<String> {
    let mut s = String::new();
    open(dir, file, false)?.read_to_string(&mut s)?;
    Ok(s)
}

/// Reads `dir/file` whole.
pub fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    read_raw(dir, file).map_err(|source| CgroupError::Read {
        path: dir.join(file),
        source,
    })
}

/// Writes `value` to `dir/file` in a single write(2), as the kernel parses
/// one value (or one device rule) per write.
pub fn write_raw(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    let mut f = open(dir, file, true)?;
    // std retries EINTR; a short write cannot happen on cgroupfs.
    let n = f.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}

/// Writes `value` to `dir/file`.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    write_raw(dir, file, value).map_err(|source| CgroupError::Write {
        path: dir.join(file),
        value: value.to_owned(),
        source,
    })
}

/// Parses a cgroup number the way runc's `GetCgroupParamUint` does: `max`
/// is `u64::MAX`, and a negative number (memory.soft_limit_in_bytes of
/// older kernels) is clamped to 0.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "max" {
        return Some(u64::MAX);
    }
    match s.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => s.parse::<i64>().ok().filter(|v| *v < 0).map(|_| 0),
    }
}

/// Reads a file holding one number.
pub fn read_u64(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    let text = read(dir, file)?;
    parse_u64(&text).ok_or_else(|| CgroupError::Parse {
        path: dir.join(file),
        line: text.trim().to_owned(),
        reason: "expected an unsigned number or \"max\"",
    })
}

/// Reads a number from a flat-keyed file (`key value` lines); a missing key
/// is 0, as in runc's `GetValueByKey` (older kernels lack some keys).
pub fn read_keyed_u64(dir: &Path, file: &str, key: &str) -> Result<u64, CgroupError> {
    let text = read(dir, file)?;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        if it.next() == Some(key) {
            let v = it.next().unwrap_or_default();
            return parse_u64(v).ok_or_else(|| CgroupError::Parse {
                path: dir.join(file),
                line: line.to_owned(),
                reason: "expected an unsigned number",
            });
        }
    }
    Ok(0)
}

/// Process ids listed in `dir/cgroup.procs`.
pub fn read_procs(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let text = read(dir, "cgroup.procs")?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.trim().parse::<i32>().map_err(|_| CgroupError::Parse {
                path: dir.join("cgroup.procs"),
                line: l.to_owned(),
                reason: "expected a process id",
            })
        })
        .collect()
}

/// Process ids of `dir` and of every cgroup below it.
pub fn read_procs_recursive(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut pids = read_procs(dir)?;
    for sub in subdirs(dir)? {
        match read_procs_recursive(&sub) {
            Ok(more) => pids.extend(more),
            // A child cgroup removed while we walk is not an error.
            Err(CgroupError::Read { source, .. })
                if source.kind() == io::ErrorKind::NotFound && !sub.exists() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(pids)
}

/// The child cgroups (subdirectories) of `dir`.
pub fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let rd = std::fs::read_dir(dir).map_err(|source| CgroupError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| CgroupError::Read {
            path: dir.to_owned(),
            source,
        })?;
        // cgroupfs never has symlinks, so d_type is exact.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Removes a cgroup directory and any child cgroups, deepest first. A
/// missing directory is success.
fn remove_tree(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes every directory in `dirs` (with their children), retrying with a
/// growing delay: after its last task exits, the kernel takes the cgroup
/// offline asynchronously and rmdir(2) fails with EBUSY for a short while.
pub fn remove_all(dirs: &[&Path]) -> Result<(), CgroupError> {
    // 10ms doubling, 8 tries: up to ~1.3s in total.
    const TRIES: u32 = 8;
    let mut delay = Duration::from_millis(10);
    let mut left: Vec<&Path> = dirs.to_vec();
    let mut last_err = None;
    for attempt in 0..TRIES {
        if attempt > 0 {
            std::thread::sleep(delay);
            delay *= 2;
        }
        let mut still = Vec::new();
        for dir in left {
            if let Err(e) = remove_tree(dir) {
                last_err = Some(e);
                still.push(dir);
            }
        }
        left = still;
        if left.is_empty() {
            return Ok(());
        }
    }
    Err(CgroupError::Remove {
        paths: left.iter().map(|p| p.to_path_buf()).collect(),
        source: last_err.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EBUSY)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_u64_like_runc() {
        assert_eq!(parse_u64("42\n"), Some(42));
        assert_eq!(parse_u64("max\n"), Some(u64::MAX));
        assert_eq!(parse_u64("-1"), Some(0));
        assert_eq!(parse_u64("x"), None);
        assert_eq!(parse_u64(""), None);
    }

    #[test]
    fn open_refuses_files_outside_cgroupfs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.max"), "1").unwrap();
        let err = read_raw(dir.path(), "memory.max").unwrap_err();
        assert!(
            err.to_string().contains("not on a cgroup filesystem"),
            "{err}"
        );
        // A symlink is not followed.
        std::os::unix::fs::symlink(dir.path().join("memory.max"), dir.path().join("link")).unwrap();
        let err = write_raw(dir.path(), "link", "2").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("memory.max")).unwrap(),
            "1"
        );
    }
}
