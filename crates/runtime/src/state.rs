//! The state directory: what `create` leaves behind so that later commands
//! (`start`, `state`, `kill`, `exec`, `delete`, …) find a container again.
//!
//! Layout, one directory per container under the runtime root (`--root`):
//! ```text
//! <root>/<id>/state.json   StateFile: pid, its start time, bundle, cgroup, created
//! <root>/<id>/config.json  the bundle's config as it was at create (exec uses it)
//! <root>/<id>/exec.fifo    exists from create until start (runc's exec fifo)
//! ```
//! Every file is written atomically (temp file, fsync, rename, fsync the dir),
//! so a crash leaves either the old or the new version, never a torn one.
//!
//! The container's *status* is not stored: it is derived each time from the
//! init process (alive? same start time, so not a recycled pid?), the exec
//! fifo (still there → `created`) and the freezer (`paused`), as runc does.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cgroups::{Cgroup, CgroupConfig};

/// The runtime-spec version berth-runc reports in `state`, like runc 1.1.
pub const OCI_VERSION: &str = "1.0.2-dev";

/// Name of the exec fifo inside a container's state directory.
pub const EXEC_FIFO: &str = "exec.fifo";

/// Errors of the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container with given ID already exists")]
    Exists(String),
    #[error("container does not exist")]
    NotFound(String),
    #[error("invalid container ID format")]
    InvalidId(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("parse {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Container status as the OCI runtime spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `state.json` records. Written once by `create`; never rewritten.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateFile {
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (`/proc/<pid>/stat`
    /// field 22): a pid whose start time differs is a recycled pid.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 with nanoseconds, UTC, as runc prints it.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    pub cgroup: CgroupConfig,
    /// True when the container has its own pid namespace: then killing init
    /// kills everything, else `delete` must signal every process in the cgroup.
    pub own_pid_ns: bool,
}

/// The JSON `state` prints (runc's containerState shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// Checks a container id as runc does: no path separators, no `.`/`..`.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

/// A container's directory under the runtime root.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub id: String,
    pub path: PathBuf,
}

impl StateDir {
    /// The directory of an existing container.
    pub fn open(root: &Path, id: &str) -> Result<Self, StateError> {
        validate_id(id)?;
        let path = root.join(id);
        if !path.join("state.json").exists() {
            return Err(StateError::NotFound(id.to_string()));
        }
        Ok(StateDir {
            id: id.to_string(),
            path,
        })
    }

    /// Makes the directory of a new container; an existing one, even a stale
    /// leftover of a crashed create, is `Exists` (the caller may remove a
    /// stale one with `delete`).
    pub fn create(root: &Path, id: &str) -> Result<Self, StateError> {
        validate_id(id)?;
        fs::create_dir_all(root).map_err(io_err("create state root", root))?;
        let path = root.join(id);
        match fs::DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => Ok(StateDir {
                id: id.to_string(),
                path,
            }),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(StateError::Exists(id.to_string()))
            }
            Err(e) => Err(io_err("create state dir", &path)(e)),
        }
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.json")
    }

    pub fn load(&self) -> Result<StateFile, StateError> {
        let p = self.path.join("state.json");
        let data = fs::read(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StateError::NotFound(self.id.clone())
            } else {
                io_err("read", &p)(e)
            }
        })?;
        serde_json::from_slice(&data).map_err(|source| StateError::Parse { path: p, source })
    }

    pub fn save(&self, state: &StateFile) -> Result<(), StateError> {
        let data = serde_json::to_vec(state).map_err(|source| StateError::Parse {
            path: self.path.join("state.json"),
            source,
        })?;
        atomic_write(&self.path.join("state.json"), &data)
    }

    /// Derives the status (see the module docs) and the pid to report
    /// (0 once stopped, as runc prints it).
    pub fn status(&self, st: &StateFile) -> Status {
        if !process_alive(st.pid, st.pid_start_time) {
            return Status::Stopped;
        }
        if self.fifo_path().exists() {
            return Status::Created;
        }
        match Cgroup::from_config(&st.cgroup).is_frozen() {
            Ok(true) => Status::Paused,
            _ => Status::Running,
        }
    }

    pub fn oci_state(&self, st: &StateFile) -> OciState {
        let status = self.status(st);
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: st.id.clone(),
            pid: if status == Status::Stopped { 0 } else { st.pid },
            status,
            bundle: st.bundle.clone(),
            rootfs: st.rootfs.clone(),
            created: st.created.clone(),
            owner: st.owner.clone(),
            annotations: st.annotations.clone(),
        }
    }

    /// Removes the whole directory; a missing one is fine.
    pub fn remove(&self) -> Result<(), StateError> {
        match fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_err("remove state dir", &self.path)(e))
            }
            _ => Ok(()),
        }
    }
}

/// Writes `data` to `path` atomically: a temp file in the same directory,
/// renamed over `path`, so a reader (or a crash of this process) sees the
/// old file or the new one, never a torn one.
///
/// No fsync, on purpose: this is runtime state about live processes (it
/// lives on a tmpfs like /run in every normal setup). Durability across
/// power loss would be meaningless, since the processes it describes do not
/// survive a reboot either; a killed runtime loses nothing, because the
/// data is in the page cache once `rename` returns. Persistent state (the
/// daemon's data root) is a different matter and is fsynced there.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(data)?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("write", path)(e)
    })
}

/// Start time of a process in clock ticks since boot, from `/proc/<pid>/stat`
/// field 22, or None when the process does not exist or is a zombie.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: the
    // fields after it start after the *last* ')'. See proc_pid_stat(5).
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3 (state); field 22 is 19 further on.
    fields.nth(18)?.parse().ok()
}

/// True when `pid` is alive, not a zombie, and is the same process that
/// started at `start_time` (not a recycled pid).
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    pid > 0 && process_start_time(pid) == Some(start_time)
}

/// All container ids under the runtime root, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>, StateError> {
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read state root", root)(e)),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("state.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_like_runc() {
        for good in ["a", "abc-123_x.y+z", "A"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "a b", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn own_process_is_alive_and_recycled_pid_is_not() {
        let me = std::process::id() as i32;
        let t = process_start_time(me).expect("own start time");
        assert!(process_alive(me, t));
        assert!(!process_alive(me, t + 1));
        assert!(!process_alive(0, 0));
    }

    #[test]
    fn atomic_write_replaces_content() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1, "no temp left");
    }

    #[test]
    fn create_twice_is_exists() {
        let d = tempfile::tempdir().unwrap();
        StateDir::create(d.path(), "c1").unwrap();
        assert!(matches!(
            StateDir::create(d.path(), "c1"),
            Err(StateError::Exists(_))
        ));
        assert!(matches!(
            StateDir::open(d.path(), "nope"),
            Err(StateError::NotFound(_))
        ));
    }
}
