//! The daemon's pid file: refuses to start when another daemon's pid is
//! in it, and is removed at exit.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PidfileError {
    #[error("pid file found, ensure berthd is not running or delete {0}")]
    Running(PathBuf),
    #[error("create directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("write pid file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Removes the file when dropped.
pub struct Pidfile {
    path: PathBuf,
}

impl Pidfile {
    pub fn create(path: &Path) -> Result<Pidfile, PidfileError> {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                // A pid that is alive and not ours: another daemon (or a
                // recycled pid, which dockerd also refuses).
                if pid != std::process::id() as i32 && Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(PidfileError::Running(path.to_path_buf()));
                }
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| PidfileError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(path, format!("{}", std::process::id())).map_err(|source| {
            PidfileError::Write {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(Pidfile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            crate::warn!("remove pid file {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_pid_blocks_and_a_stale_one_does_not() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/berthd.pid");
        {
            let _f = Pidfile::create(&p).unwrap();
            assert_eq!(
                std::fs::read_to_string(&p).unwrap(),
                std::process::id().to_string()
            );
        }
        assert!(!p.exists());
        // pid 1 is always alive.
        std::fs::write(&p, "1").unwrap();
        assert!(matches!(Pidfile::create(&p), Err(PidfileError::Running(_))));
        // No process has pid 0 in /proc.
        std::fs::write(&p, "999999999").unwrap();
        assert!(Pidfile::create(&p).is_ok());
    }
}
