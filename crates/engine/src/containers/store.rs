//! Container records on disk and in memory.
//!
//! Each container has a directory `<data-root>/containers/<id>/` holding its
//! record `config.v2.json` (this module), its json-file log (written by the
//! shim), and the hostname, hosts and resolv.conf files it gets mounted.
//! The record is rewritten atomically (temp file, fsync, rename, fsync of
//! the directory) on every state change, so a daemon killed at any instant
//! finds either the old or the new record, never a torn one. A `--rm`
//! container's files skip the fsyncs ([`needs_durability`] says why).
//!
//! In memory a container is a [`Container`]: its record behind a short
//! std mutex (readers such as list and inspect never wait for a slow
//! operation, nor for the disk), an operation lock (tokio mutex) that
//! serializes state changes (start, stop, kill, remove, ...), and a watch
//! channel that tells waiters about exits and removal.
//!
//! # Record writes
//!
//! A change is applied to the record under its mutex and numbered there;
//! the write happens after the mutex is released, under a second mutex
//! that serializes the writes of one container. A writer serializes the
//! record as it is *then* (so it carries every change numbered so far)
//! and notes the newest number it made durable; a writer whose change is
//! already covered by a durable write returns at once. So the file never
//! goes back to an older record, concurrent updates share one fsync, and
//! an update returns only once its change is on disk. The fsync blocks
//! the calling thread: on a worker of tokio's multi-thread runtime the
//! write runs under `block_in_place`, so the worker's other tasks move to
//! another thread instead of waiting for the disk.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use berth_api_types::container::{Config, HostConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Error;

/// The record file's name inside a container's directory.
pub const RECORD_FILE: &str = "config.v2.json";

/// A container as persisted: its configuration (as created, after the
/// image's defaults were merged in) and its run state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerRecord {
    #[serde(rename = "ID")]
    pub id: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub created: String,
    /// The process to run: `Path` + `Args` (the merged entrypoint and cmd).
    pub path: String,
    pub args: Vec<String>,
    pub config: Config,
    pub host_config: HostConfig,
    /// The image ID (`sha256:<hex>`).
    pub image: String,
    /// Stored form, with the leading `/`.
    pub name: String,
    pub restart_count: i64,
    /// The storage driver's name, for inspect.
    pub driver: String,
    pub state: RunState,
    /// Set by stop and kill so restart policies leave the container alone
    /// (`unless-stopped` also across daemon restarts); cleared by start.
    pub has_been_manually_stopped: bool,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    /// Empty when the log driver is `none`.
    pub log_path: String,
    /// True from the spawn of a shim until its `delete` answered: a shim
    /// process may exist and must be found again (restore) or deleted.
    pub shim_active: bool,
    /// Network name -> the container's endpoint settings on it: what
    /// create asked for (aliases, static address), and while it runs what
    /// it got (address, gateway, MAC, endpoint id).
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, berth_api_types::network::EndpointSettings>,
    /// The host ports actually published while it runs (`80/tcp` ->
    /// bindings), kept so a restarted daemon takes the same ports back.
    #[serde(default)]
    pub ports: std::collections::BTreeMap<String, Vec<berth_api_types::container::PortBinding>>,
    /// Network id -> the host end of its veth pair, while it runs.
    #[serde(default)]
    pub host_veths: std::collections::BTreeMap<String, String>,
    /// The container's binds, volumes and `--mount`s, decided at create
    /// (`None` in records older than volumes: rebuilt from `host_config`).
    #[serde(default)]
    pub mount_points: Option<Vec<crate::volumes::MountPoint>>,
    /// The health check's state (status, failing streak, last results),
    /// kept across daemon restarts as dockerd keeps it in its state file;
    /// `None` until a run with a health check (see `health`).
    #[serde(default)]
    pub health: Option<berth_api_types::container::Health>,
}

/// The run state, with docker's flags (its `State` struct): `running`
/// stays true while `paused` or `restarting` are set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunState {
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    pub removing: bool,
    pub dead: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    /// RFC 3339 with nanoseconds; empty before the first start.
    pub started_at: String,
    /// RFC 3339 with nanoseconds; empty before the first exit.
    pub finished_at: String,
}

impl RunState {
    /// Docker's state word: `created`, `running`, `paused`, `restarting`,
    /// `removing`, `exited` or `dead`.
    pub fn status(&self) -> &'static str {
        if self.running {
            if self.paused {
                return "paused";
            }
            if self.restarting {
                return "restarting";
            }
            return "running";
        }
        if self.removing {
            return "removing";
        }
        if self.dead {
            return "dead";
        }
        if self.started_at.is_empty() {
            return "created";
        }
        "exited"
    }
}

/// What waiters observe of a container: `exits` counts the exits seen by
/// this daemon process (so "next exit" is a change of the counter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Init is running (false during a restart policy's back-off).
    pub running: bool,
    /// A restart policy will start the container again.
    pub restarting: bool,
    pub exits: u64,
    pub exit_code: i64,
    pub removed: bool,
}

/// Restart-policy bookkeeping that does not survive the daemon (docker's
/// restart manager): the back-off delay and whether a kill cancelled it.
#[derive(Debug, Clone, Default)]
pub struct RestartState {
    /// The current back-off; zero before the first policy restart.
    pub delay: std::time::Duration,
    /// A stop or kill cancelled restarts until the next explicit start.
    pub cancelled: bool,
}

/// A container in memory.
pub struct Container {
    pub id: String,
    /// Held across a state-changing operation.
    pub op: tokio::sync::Mutex<()>,
    record: Mutex<ContainerRecord>,
    /// The container's directory under the data root.
    pub dir: PathBuf,
    pub lifecycle: watch::Sender<Lifecycle>,
    pub restart: Mutex<RestartState>,
    /// Attach clients waiting for the next start (docker's `run` attaches
    /// before it starts, `start -a` too).
    pub pending_attach: Mutex<Vec<super::attach::PendingAttach>>,
    /// Counts starts: an exit handler acts only on the run it watched.
    pub generation: std::sync::atomic::AtomicU64,
    /// Wakes a restart policy's back-off when a stop or kill cancels it.
    pub restart_wake: tokio::sync::Notify,
    /// Held shared by each `docker cp` / export while it uses the
    /// container's filesystem (taken under `op`, kept after `op` is
    /// released, so a slow client never holds `op`); a start and a removal
    /// take it exclusively, under `op`, before they mount or delete the
    /// rootfs: two overlay mounts of one upper directory at a time are
    /// undefined behaviour (overlayfs), and a removal must not delete files
    /// under a copy.
    pub fs_pin: tokio::sync::RwLock<()>,
    /// Numbers the record changes (see the module doc); bumped under the
    /// record's mutex.
    changes: AtomicU64,
    /// Serializes record writes; what they put on disk.
    disk: Mutex<DiskMark>,
}

/// The newest record change in the file, and in the file durably.
#[derive(Debug, Default)]
struct DiskMark {
    written: u64,
    durable: u64,
}

impl Container {
    pub fn new(record: ContainerRecord, dir: PathBuf) -> Container {
        let lifecycle = Lifecycle {
            running: record.state.running && !record.state.restarting,
            restarting: record.state.restarting,
            exits: 0,
            exit_code: record.state.exit_code,
            removed: false,
        };
        Container {
            id: record.id.clone(),
            op: tokio::sync::Mutex::new(()),
            record: Mutex::new(record),
            dir,
            lifecycle: watch::Sender::new(lifecycle),
            restart: Mutex::new(RestartState::default()),
            pending_attach: Mutex::new(Vec::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
            restart_wake: tokio::sync::Notify::new(),
            fs_pin: tokio::sync::RwLock::new(()),
            changes: AtomicU64::new(0),
            disk: Mutex::new(DiskMark::default()),
        }
    }

    /// The record, for reading; changes go through [`Container::update`]
    /// and its variants, which number them for the writer. Never held
    /// across an await.
    pub fn record(&self) -> MutexGuard<'_, ContainerRecord> {
        // A panic while holding the lock leaves a record that is still
        // well-formed data; keep serving it.
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the record.
    pub fn snapshot(&self) -> ContainerRecord {
        self.record().clone()
    }

    /// Applies `change` to the record and writes it to disk, durably
    /// unless the container is `--rm` (see [`needs_durability`]), without
    /// holding the record's mutex during the write (see the module doc).
    pub fn update<T>(&self, change: impl FnOnce(&mut ContainerRecord) -> T) -> Result<T, Error> {
        let (out, seq) = self.change(change);
        let durable = needs_durability(&self.record());
        off_worker(|| self.persist(seq, durable))?;
        Ok(out)
    }

    /// Applies `change` under the record's mutex and numbers it.
    fn change<T>(&self, change: impl FnOnce(&mut ContainerRecord) -> T) -> (T, u64) {
        let mut rec = self.record();
        let out = change(&mut rec);
        (out, self.changes.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Makes change `seq` reach the file (`durable`: and the disk), by
    /// writing the record as it is now unless a write that covers `seq`
    /// was done already.
    fn persist(&self, seq: u64, durable: bool) -> Result<(), Error> {
        let mut disk = self.disk.lock().unwrap_or_else(|e| e.into_inner());
        if disk.durable >= seq || (!durable && disk.written >= seq) {
            return Ok(());
        }
        let (bytes, newest) = {
            let rec = self.record();
            // Records are plain data with string keys: serialization
            // cannot fail.
            let bytes = serde_json::to_vec(&*rec).unwrap_or_default();
            (bytes, self.changes.load(Ordering::SeqCst))
        };
        let path = self.dir.join(RECORD_FILE);
        if durable {
            write_atomic(&path, &bytes)?;
            disk.durable = newest;
        } else {
            replace_unsynced(&path, &bytes)?;
        }
        disk.written = newest;
        Ok(())
    }

    /// Applies `change` to the record and writes it to disk atomically but
    /// without fsync: the new record survives the daemon's death (kill -9
    /// leaves the page cache to the kernel), while a power loss may bring
    /// back the previous record. Only for changes whose older value restore
    /// handles, such as `shim_active` going false after the shim's delete
    /// (restore finds the shim gone and deletes again, which is idempotent).
    pub fn update_unsynced<T>(
        &self,
        change: impl FnOnce(&mut ContainerRecord) -> T,
    ) -> Result<T, Error> {
        let (out, seq) = self.change(change);
        // It may wait for another update's fsync.
        off_worker(|| self.persist(seq, false))?;
        Ok(out)
    }

    /// Applies `change` to the record in memory only; the next
    /// [`Container::update`] writes it. For a change that is part of a
    /// transition whose own record write follows (start's
    /// `has_been_manually_stopped` goes with the `shim_active` write), so
    /// one transition costs one durable write.
    pub fn update_in_memory<T>(&self, change: impl FnOnce(&mut ContainerRecord) -> T) -> T {
        change(&mut self.record())
    }

    /// Tells waiters about the current run state.
    pub fn notify(&self, change: impl FnOnce(&mut Lifecycle)) {
        self.lifecycle.send_modify(change);
    }
}

/// Runs the blocking `f` so that it does not hold up other tasks: under
/// `block_in_place` on tokio's multi-thread runtime, directly elsewhere
/// (a plain thread, the blocking pool, a current-thread runtime, where
/// `block_in_place` is not allowed).
fn off_worker<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Whether the files of the container of `rec` must reach the disk
/// before a change is acknowledged. Not for a `--rm` container: a daemon
/// killed at any instant loses none of its writes (they are in the page
/// cache), and after a power loss, the one case fsync guards against, the
/// container has stopped and the daemon removes it at its next start
/// whatever its record said (as dockerd does with stopped `--rm`
/// containers). This saves every `run --rm` its record's fsyncs.
pub fn needs_durability(rec: &ContainerRecord) -> bool {
    !rec.host_config.auto_remove
}

/// Writes `rec` to `<dir>/config.v2.json` atomically, and durably as
/// [`needs_durability`] says.
pub fn write_record(dir: &Path, rec: &ContainerRecord) -> Result<(), Error> {
    // Records are plain data with string keys: serialization cannot fail.
    let bytes = serde_json::to_vec(rec).unwrap_or_default();
    let path = dir.join(RECORD_FILE);
    if needs_durability(rec) {
        write_atomic(&path, &bytes)
    } else {
        replace_unsynced(&path, &bytes)
    }
}

/// Replaces `path` with `bytes` atomically and durably (the content
/// store's crash-safe write: temp file, fsync, rename, fsync the dir).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    berth_content::atomic::write_file(path, bytes).map_err(|e| Error::Io {
        op: e.op,
        path: e.path,
        source: e.source,
    })
}

/// Replaces `path` with `bytes` atomically (temp file and rename(2)) but
/// without fsync; see [`Container::update_unsynced`].
pub(crate) fn replace_unsynced(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-unsynced-{}", std::process::id()));
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    // Callers serialize the writes of one path (the record's under the
    // container's write mutex, its derived files under its op lock), so
    // one temp name per process cannot be written twice at once.
    let written = fs::write(&tmp, bytes).map_err(io("write", &tmp));
    let renamed = written.and_then(|()| fs::rename(&tmp, path).map_err(io("rename into", path)));
    if renamed.is_err() {
        // Best effort: the temporary is invisible to readers either way,
        // and the original error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    renamed
}

/// Removes the tree at `dir`; one that is not there is fine. `op` names
/// the step in the error.
pub(crate) fn remove_dir_if_present(dir: &Path, op: &'static str) -> Result<(), Error> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            op,
            path: dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path`, a file that must not exist yet, and (when
/// `durable`) fsyncs its data. Its name becomes durable with the next
/// fsync of its directory (a [`write_record`] in the same directory does
/// that), which is how a create makes its files and its record durable
/// with one directory fsync.
pub fn write_new_file(path: &Path, bytes: &[u8], durable: bool) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |op: &'static str| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(io("create"))?;
    f.write_all(bytes).map_err(io("write"))?;
    if durable {
        f.sync_data().map_err(io("fsync"))?;
    }
    Ok(())
}

/// The records read, and the record files that could not be read.
pub type Loaded = (Vec<ContainerRecord>, Vec<(PathBuf, Error)>);

/// Reads every record under `containers_dir`. A directory without a
/// readable record (a create that died half-way) is reported in the
/// second list and skipped, so one bad directory never stops the daemon.
pub fn load_all(containers_dir: &Path) -> Result<Loaded, Error> {
    let mut records = Vec::new();
    let mut broken = Vec::new();
    let entries = match fs::read_dir(containers_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((records, broken)),
        Err(source) => {
            return Err(Error::Io {
                op: "read directory",
                path: containers_dir.to_path_buf(),
                source,
            });
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            op: "read directory",
            path: containers_dir.to_path_buf(),
            source,
        })?;
        let path = entry.path().join(RECORD_FILE);
        match read_record(&path) {
            Ok(rec) if entry.file_name().to_str() == Some(rec.id.as_str()) => records.push(rec),
            Ok(rec) => broken.push((path.clone(), Error::RecordMismatch { path, id: rec.id })),
            Err(e) => broken.push((path, e)),
        }
    }
    Ok((records, broken))
}

fn read_record(path: &Path) -> Result<ContainerRecord, Error> {
    let bytes = fs::read(path).map_err(|source| Error::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| Error::RecordParse {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.to_string(),
            created: "2024-01-01T00:00:00Z".to_string(),
            path: "sh".to_string(),
            args: vec!["-c".to_string(), "true".to_string()],
            config: Config::default(),
            host_config: HostConfig::default(),
            image: "sha256:00".to_string(),
            name: "/x".to_string(),
            restart_count: 0,
            driver: "overlay2".to_string(),
            state: RunState::default(),
            has_been_manually_stopped: false,
            resolv_conf_path: String::new(),
            hostname_path: String::new(),
            hosts_path: String::new(),
            log_path: String::new(),
            shim_active: false,
            networks: Default::default(),
            ports: Default::default(),
            host_veths: Default::default(),
            mount_points: None,
            health: None,
        }
    }

    #[test]
    fn records_round_trip_and_bad_ones_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let good = tmp.path().join("aaa");
        fs::create_dir(&good).unwrap();
        let mut rec = record("aaa");
        rec.state.running = true;
        rec.state.pid = 42;
        write_record(&good, &rec).unwrap();
        assert!(!good.join("config.v2.tmp").exists());
        let torn = tmp.path().join("bbb");
        fs::create_dir(&torn).unwrap();
        fs::write(torn.join(RECORD_FILE), b"{\"ID\":").unwrap();
        let empty = tmp.path().join("ccc");
        fs::create_dir(&empty).unwrap();
        let (records, broken) = load_all(tmp.path()).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].state.pid, 42);
        assert_eq!(records[0].state.status(), "running");
        assert_eq!(broken.len(), 2);
        let (none, _) = load_all(&tmp.path().join("missing")).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn in_memory_changes_ride_on_the_next_write() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("aaa");
        fs::create_dir(&dir).unwrap();
        let mut rec = record("aaa");
        rec.has_been_manually_stopped = true;
        write_record(&dir, &rec).unwrap();
        let c = Container::new(rec, dir.clone());
        c.update_in_memory(|r| r.has_been_manually_stopped = false);
        let (on_disk, _) = load_all(tmp.path()).unwrap();
        assert!(on_disk[0].has_been_manually_stopped);
        c.update_unsynced(|r| r.shim_active = true).unwrap();
        let (on_disk, broken) = load_all(tmp.path()).unwrap();
        assert!(broken.is_empty());
        assert!(!on_disk[0].has_been_manually_stopped);
        assert!(on_disk[0].shim_active);
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(RECORD_FILE)]);
    }

    /// A small ext4 filesystem on a loop device, mounted on a temp dir,
    /// that can be frozen (fsfreeze(8)): every write and fsync on it then
    /// waits until it is thawed, like a disk that stopped answering.
    /// Thawed and unmounted on drop.
    struct FreezableFs {
        _tmp: tempfile::TempDir,
        mnt: PathBuf,
    }

    fn run(cmd: &str, args: &[&std::ffi::OsStr]) -> bool {
        std::process::Command::new(cmd)
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    impl FreezableFs {
        fn new() -> FreezableFs {
            let tmp = tempfile::tempdir().unwrap();
            let img = tmp.path().join("fs.img");
            let mnt = tmp.path().join("mnt");
            fs::create_dir(&mnt).unwrap();
            fs::File::create(&img).unwrap().set_len(32 << 20).unwrap();
            assert!(run(
                "mkfs.ext4",
                &["-q".as_ref(), "-F".as_ref(), img.as_ref()]
            ));
            assert!(run(
                "mount",
                &["-o".as_ref(), "loop".as_ref(), img.as_ref(), mnt.as_ref()]
            ));
            FreezableFs { _tmp: tmp, mnt }
        }

        fn freeze(&self, frozen: bool) {
            let flag = if frozen { "-f" } else { "-u" };
            assert!(run("fsfreeze", &[flag.as_ref(), self.mnt.as_ref()]));
        }
    }

    impl Drop for FreezableFs {
        fn drop(&mut self) {
            // Not frozen (any more) is fine: thawing is best effort here.
            run("fsfreeze", &["-u".as_ref(), self.mnt.as_ref()]);
            // The loop device goes with the mount (autoclear).
            run("umount", &["-l".as_ref(), self.mnt.as_ref()]);
        }
    }

    #[test]
    fn a_stalled_disk_holds_up_neither_readers_nor_the_runtime() {
        if !testkit::require_root() {
            return;
        }
        use std::sync::Arc;
        use std::sync::mpsc::channel;
        use std::time::Duration;
        // Declared before the filesystem: dropped after its thaw, so a
        // failing run still lets the blocked write finish.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let disk = FreezableFs::new();
        let dir = disk.mnt.join("aaa");
        fs::create_dir(&dir).unwrap();
        write_record(&dir, &record("aaa")).unwrap();
        let c = Arc::new(Container::new(record("aaa"), dir.clone()));

        disk.freeze(true);
        // An update on the runtime's only worker: its write waits for the
        // thaw.
        let writer = {
            let c = c.clone();
            rt.spawn(async move { c.update(|r| r.restart_count = 7) })
        };
        // A reader sees the change without waiting for the disk.
        let (tx, rx) = channel();
        let reader = {
            let c = c.clone();
            std::thread::spawn(move || {
                while c.record().restart_count != 7 {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let _ = tx.send(());
            })
        };
        let read = rx.recv_timeout(Duration::from_secs(5));
        // Another task of the runtime still runs.
        let (tx, rx) = channel();
        rt.spawn(async move {
            let _ = tx.send(());
        });
        let ran = rx.recv_timeout(Duration::from_secs(5));
        let waiting = !writer.is_finished();
        disk.freeze(false);
        read.expect("a reader of the record waited for the disk");
        ran.expect("the runtime stalled behind a record write");
        assert!(waiting, "the write did not wait for the frozen disk");
        rt.block_on(writer).unwrap().unwrap();
        reader.join().unwrap();
        let (on_disk, _) = load_all(&disk.mnt).unwrap();
        assert_eq!(on_disk[0].restart_count, 7);
    }

    #[test]
    fn concurrent_updates_leave_the_newest_record_on_disk() {
        use std::sync::Arc;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("aaa");
        fs::create_dir(&dir).unwrap();
        write_record(&dir, &record("aaa")).unwrap();
        let c = Arc::new(Container::new(record("aaa"), dir.clone()));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        if (t + i) % 3 == 0 {
                            c.update_unsynced(|r| r.restart_count += 1).unwrap();
                        } else {
                            c.update(|r| r.restart_count += 1).unwrap();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (on_disk, broken) = load_all(tmp.path()).unwrap();
        assert!(broken.is_empty());
        assert_eq!(on_disk[0].restart_count, 200);
        assert_eq!(c.record().restart_count, 200);
        // An unsynced write followed by an older durable one: the durable
        // write carries the newest record, never the older snapshot.
        c.update_unsynced(|r| r.restart_count = 1000).unwrap();
        c.update(|r| r.restart_count += 1).unwrap();
        let (on_disk, _) = load_all(tmp.path()).unwrap();
        assert_eq!(on_disk[0].restart_count, 1001);
    }

    #[test]
    fn new_files_are_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("hostname");
        write_new_file(&p, b"box\n", true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"box\n");
        assert!(write_new_file(&p, b"other\n", true).is_err());
        assert_eq!(fs::read(&p).unwrap(), b"box\n");
    }

    #[test]
    fn status_words_follow_dockers_precedence() {
        let mut s = RunState::default();
        assert_eq!(s.status(), "created");
        s.started_at = "2024-01-01T00:00:00Z".into();
        assert_eq!(s.status(), "exited");
        s.running = true;
        assert_eq!(s.status(), "running");
        s.restarting = true;
        assert_eq!(s.status(), "restarting");
        s.paused = true;
        assert_eq!(s.status(), "paused");
        s = RunState {
            removing: true,
            dead: true,
            ..RunState::default()
        };
        assert_eq!(s.status(), "removing");
    }
}
