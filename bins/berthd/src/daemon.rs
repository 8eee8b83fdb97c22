//! The state every request handler shares: the engine, the daemon's
//! configuration (replaced on SIGHUP), and a few counters `/info` reports.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use berth_engine::Engine;

use crate::config::{DaemonConfig, Flags};

pub struct Daemon {
    pub engine: Arc<Engine>,
    /// The flags the daemon was started with (a reload merges them again).
    pub flags: Flags,
    config: RwLock<DaemonConfig>,
    /// The engine's persistent identity (`docker info`'s ID).
    pub id: String,
    /// Open `/events` streams.
    pub event_listeners: AtomicI64,
    /// Addresses served, as `docker info` warnings need them.
    pub listen_addrs: Vec<String>,
}

impl Daemon {
    pub fn new(
        engine: Arc<Engine>,
        flags: Flags,
        config: DaemonConfig,
        id: String,
        listen_addrs: Vec<String>,
    ) -> Arc<Daemon> {
        Arc::new(Daemon {
            engine,
            flags,
            config: RwLock::new(config),
            id,
            event_listeners: AtomicI64::new(0),
            listen_addrs,
        })
    }

    /// A copy of the current configuration.
    pub fn config(&self) -> DaemonConfig {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the configuration after a reload; returns the old one.
    pub fn replace_config(&self, new: DaemonConfig) -> DaemonConfig {
        let mut c = self.config.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *c, new)
    }

    /// Counts an `/events` stream for as long as the guard lives.
    pub fn event_listener(self: &Arc<Self>) -> ListenerGuard {
        self.event_listeners.fetch_add(1, Ordering::Relaxed);
        ListenerGuard(self.clone())
    }
}

pub struct ListenerGuard(Arc<Daemon>);

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        self.0.event_listeners.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdError {
    #[error("read engine id {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("write engine id {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The engine's identity, kept in `<data-root>/engine-id` (dockerd keeps
/// one too): created once from random bytes, stable across restarts.
pub fn engine_id(data_root: &Path) -> Result<String, IdError> {
    let path = data_root.join("engine-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(IdError::Read { path, source }),
    }
    let write = |source| IdError::Write {
        path: path.clone(),
        source,
    };
    let mut b = [0u8; 16];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(write)?;
    // An RFC 4122 version 4 UUID, the shape dockerd uses.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let id = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    std::fs::create_dir_all(data_root).map_err(write)?;
    // Temp file and rename, so a crash never leaves a half-written id.
    let tmp = data_root.join(".engine-id.tmp");
    std::fs::write(&tmp, format!("{id}\n")).map_err(write)?;
    std::fs::rename(&tmp, &path).map_err(write)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_id_is_stable() {
        let d = tempfile::tempdir().unwrap();
        let a = engine_id(d.path()).unwrap();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_eq!(engine_id(d.path()).unwrap(), a);
    }
}
