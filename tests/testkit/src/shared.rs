//! A host directory shared with a container, for checks from the inside.
//!
//! The container command writes what it sees into the directory (bind
//! mounted with [`crate::Bundle::bind`]) and the test reads it from the host.
//! A [`SharedDir::gate`] is a fifo that lets a test hold a container process
//! at a known point (`read _ < /shared/gate`) and release it, instead of
//! sleeping.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::stat::Mode;
use tempfile::TempDir;

use crate::HANG_GUARD;

/// A world-writable temp dir (so a container root mapped to an unprivileged
/// host uid can write it too), removed on drop.
pub struct SharedDir {
    dir: TempDir,
}

impl Default for SharedDir {
    fn default() -> Self {
        Self::new()
    }
}

impl SharedDir {
    /// A fresh shared dir.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-shared-")
            .tempdir()
            .unwrap_or_else(|e| panic!("create shared temp dir: {e}"));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.path().display()));
        SharedDir { dir }
    }

    /// The host path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The host path of `name` in the dir.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Reads `name`; panics when it is missing.
    #[track_caller]
    pub fn read(&self, name: &str) -> String {
        let p = self.file(name);
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    /// Polls until `name` exists and contains `needle`, returns its content.
    /// Panics after [`HANG_GUARD`].
    #[track_caller]
    pub fn wait_for(&self, name: &str, needle: &str) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let text = fs::read_to_string(self.file(name)).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never contained {needle:?}; has {text:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Creates a fifo `name` (mode 0666) that a container can block on.
    pub fn gate(&self, name: &str) -> Gate {
        let path = self.file(name);
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o666))
            .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        Gate { path, held: None }
    }
}

/// A fifo a container reads one line from; [`Gate::open`] lets it through.
pub struct Gate {
    path: PathBuf,
    held: Option<File>,
}

impl Gate {
    /// Writes a line into the fifo. The fifo is opened read-write, which
    /// never blocks on Linux (fifo(7)), and kept open until the gate is
    /// dropped, so the line stays buffered until the container opens and
    /// reads it.
    pub fn open(&mut self) {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .unwrap_or_else(|e| panic!("open {}: {e}", self.path.display()));
        f.write_all(b"go\n")
            .unwrap_or_else(|e| panic!("write {}: {e}", self.path.display()));
        self.held = Some(f);
    }
}
