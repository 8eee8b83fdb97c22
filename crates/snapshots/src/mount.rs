//! Mounts as data, and the helper that performs them.
//!
//! A snapshotter describes how to present a snapshot as a list of
//! [`Mount`]s (containerd's shape: type, source, options); the caller
//! decides where and when to mount them. Overlay mounts use the new mount
//! API: fsopen("overlay"), one `fsconfig(FSCONFIG_SET_STRING, "lowerdir+")`
//! per layer (Linux 6.8+), so the lower-dir list is not bounded by the one
//! page that mount(2)'s data string may occupy. Older kernels fall back to
//! mount(2) with a `lowerdir=a:b:...` string.

use std::io;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags, UnmountFlags,
    fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, mount, mount_bind,
    mount_remount, move_mount, unmount,
};
use serde::{Deserialize, Serialize};

/// One mount: `kind` is "bind" or "overlay"; `options` as for mount(8):
/// "ro"/"rw", "rbind", and for overlay "lowerdir=a:b" (topmost first),
/// "upperdir=…", "workdir=…".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: String,
    pub source: PathBuf,
    pub options: Vec<String>,
}

impl Mount {
    pub fn bind(source: PathBuf, readonly: bool) -> Mount {
        Mount {
            kind: "bind".into(),
            source,
            options: vec!["rbind".into(), if readonly { "ro" } else { "rw" }.into()],
        }
    }

    pub fn readonly(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }

    fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find_map(|o| o.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
    }

    /// The lower directories of an overlay mount, topmost first.
    pub fn lowerdirs(&self) -> Vec<&str> {
        self.option("lowerdir")
            .map(|l| l.split(':').collect())
            .unwrap_or_default()
    }

    pub fn upperdir(&self) -> Option<&str> {
        self.option("upperdir")
    }

    pub fn workdir(&self) -> Option<&str> {
        self.option("workdir")
    }
}

/// Errors performing mounts.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("mount {kind} at {target}: unsupported mount type")]
    Unsupported { kind: String, target: PathBuf },
    #[error("mount overlay at {target}: no lowerdir option")]
    NoLower { target: PathBuf },
    #[error("mount {kind} at {target}: {step}: {source}")]
    Mount {
        kind: String,
        target: PathBuf,
        step: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("unmount {target}: {source}")]
    Unmount {
        target: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Which system calls mount an overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayMethod {
    /// fsopen/fsconfig with "lowerdir+", falling back to mount(2) when the
    /// kernel lacks either (ENOSYS, or EINVAL for the "lowerdir+" key).
    Auto,
    /// Only the new mount API.
    NewApi,
    /// Only mount(2) with a lowerdir= string (bounded by one page).
    Legacy,
}

/// Mounts stacked on one target; unmounted (lazily, top first) on drop.
#[derive(Debug)]
pub struct MountGuard {
    target: PathBuf,
    count: usize,
}

impl MountGuard {
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Unmounts now, reporting failure (drop does the same silently).
    pub fn unmount(mut self) -> Result<(), MountError> {
        let r = self.unmount_all();
        self.count = 0;
        r
    }

    fn unmount_all(&mut self) -> Result<(), MountError> {
        while self.count > 0 {
            // MNT_DETACH: a process still holding a file open must not make
            // the teardown fail half-way; the mount goes once unused.
            unmount(&self.target, UnmountFlags::DETACH).map_err(|e| MountError::Unmount {
                target: self.target.clone(),
                source: e.into(),
            })?;
            self.count -= 1;
        }
        Ok(())
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        // Nothing to report to in drop; `unmount` is the checked path.
        let _ = self.unmount_all();
    }
}

/// Performs `mounts` in order on `target`.
pub fn mount_all(mounts: &[Mount], target: &Path) -> Result<MountGuard, MountError> {
    mount_all_with(mounts, target, OverlayMethod::Auto)
}

/// [`mount_all`] with a chosen overlay method.
pub fn mount_all_with(
    mounts: &[Mount],
    target: &Path,
    method: OverlayMethod,
) -> Result<MountGuard, MountError> {
    let mut guard = MountGuard {
        target: target.to_owned(),
        count: 0,
    };
    for m in mounts {
        match m.kind.as_str() {
            "bind" => mount_bind_one(m, target)?,
            "overlay" => mount_overlay(m, target, method)?,
            other => {
                return Err(MountError::Unsupported {
                    kind: other.to_owned(),
                    target: target.to_owned(),
                });
            }
        }
        guard.count += 1;
    }
    Ok(guard)
}

fn fail(m: &Mount, target: &Path, step: &'static str) -> impl FnOnce(Errno) -> MountError {
    let (kind, target) = (m.kind.clone(), target.to_owned());
    move |e| MountError::Mount {
        kind,
        target,
        step,
        source: e.into(),
    }
}

fn mount_bind_one(m: &Mount, target: &Path) -> Result<(), MountError> {
    mount_bind(&m.source, target).map_err(fail(m, target, "bind"))?;
    if m.readonly() {
        // A bind mount ignores MS_RDONLY on creation; read-only takes a
        // remount of the new mount (mount(2), "Creating a bind mount").
        if let Err(e) = mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "") {
            let err = fail(m, target, "remount read-only")(e);
            // Leaving a writable bind behind would be worse than failing.
            return match unmount(target, UnmountFlags::DETACH) {
                Ok(()) => Err(err),
                Err(u) => Err(MountError::Mount {
                    kind: m.kind.clone(),
                    target: target.to_owned(),
                    step: "remount read-only (and unmount after it failed)",
                    source: io::Error::other(format!("{err}; unmount: {u}")),
                }),
            };
        }
    }
    Ok(())
}

fn mount_overlay(m: &Mount, target: &Path, method: OverlayMethod) -> Result<(), MountError> {
    if m.lowerdirs().is_empty() {
        return Err(MountError::NoLower {
            target: target.to_owned(),
        });
    }
    match method {
        OverlayMethod::Legacy => overlay_legacy(m, target),
        OverlayMethod::NewApi => {
            overlay_new_api(m, target).map_err(|(step, e)| fail(m, target, step)(e))
        }
        OverlayMethod::Auto => match overlay_new_api(m, target) {
            Ok(()) => Ok(()),
            Err(("fsopen", Errno::NOSYS)) | Err(("fsconfig lowerdir+", Errno::INVAL)) => {
                overlay_legacy(m, target)
            }
            Err((step, e)) => Err(fail(m, target, step)(e)),
        },
    }
}

fn overlay_new_api(m: &Mount, target: &Path) -> Result<(), (&'static str, Errno)> {
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| ("fsopen", e))?;
    for l in m.lowerdirs() {
        fsconfig_set_string(&fs, "lowerdir+", l).map_err(|e| ("fsconfig lowerdir+", e))?;
    }
    if let Some(u) = m.upperdir() {
        fsconfig_set_string(&fs, "upperdir", u).map_err(|e| ("fsconfig upperdir", e))?;
    }
    if let Some(w) = m.workdir() {
        fsconfig_set_string(&fs, "workdir", w).map_err(|e| ("fsconfig workdir", e))?;
    }
    if m.readonly() {
        fsconfig_set_flag(&fs, "ro").map_err(|e| ("fsconfig ro", e))?;
    }
    fsconfig_create(&fs).map_err(|e| ("fsconfig create", e))?;
    let attrs = if m.readonly() {
        MountAttrFlags::MOUNT_ATTR_RDONLY
    } else {
        MountAttrFlags::empty()
    };
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(|e| ("fsmount", e))?;
    move_mount(
        &mnt,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| ("move_mount", e))
}

/// The mount(2) data string for an overlay mount.
pub fn overlay_data(m: &Mount) -> String {
    let mut parts = vec![format!("lowerdir={}", m.lowerdirs().join(":"))];
    if let Some(u) = m.upperdir() {
        parts.push(format!("upperdir={u}"));
    }
    if let Some(w) = m.workdir() {
        parts.push(format!("workdir={w}"));
    }
    parts.join(",")
}

fn overlay_legacy(m: &Mount, target: &Path) -> Result<(), MountError> {
    let flags = if m.readonly() {
        MountFlags::RDONLY
    } else {
        MountFlags::empty()
    };
    let data = std::ffi::CString::new(overlay_data(m)).map_err(|e| MountError::Mount {
        kind: m.kind.clone(),
        target: target.to_owned(),
        step: "mount(2) data",
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    mount("overlay", target, "overlay", flags, data.as_c_str()).map_err(fail(m, target, "mount(2)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_round_trip() {
        let m = Mount {
            kind: "overlay".into(),
            source: "overlay".into(),
            options: vec![
                "workdir=/w".into(),
                "upperdir=/u".into(),
                "lowerdir=/a:/b".into(),
            ],
        };
        assert_eq!(m.lowerdirs(), vec!["/a", "/b"]);
        assert_eq!(overlay_data(&m), "lowerdir=/a:/b,upperdir=/u,workdir=/w");
        assert!(!m.readonly());
        assert!(Mount::bind("/x".into(), true).readonly());
    }
}
