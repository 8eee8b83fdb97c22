//! `GET /containers/{id}/changes` (`docker diff`): the paths the
//! container's rw layer changed against its image.
//!
//! With the overlay snapshotter the upper directory *is* the change set:
//! a whiteout (a 0:0 character device) is a deletion, anything else is an
//! addition when no lower layer has the path and a modification when one
//! does. The lower layers are probed topmost first with openat2(2)
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so a symlink in a layer never
//! makes the probe look outside it; a whiteout in a higher lower layer
//! hides the path of the layers below.
//!
//! Other snapshotters: the rw layer's diff tar is read instead; `.wh.`
//! entries are deletions, directories modifications and everything else
//! additions (the tar does not say what the image had).
//!
//! docker creates the mount points the runtime needs (`/proc`, `/sys`,
//! `/dev/...`, `/etc/hosts`, ...) in an "init" layer below the rw layer,
//! so `docker diff` never shows them. berth's runtime creates them in the
//! rw layer; they are left out here (with the `C /etc`, `C /dev` their
//! creation implies, when nothing else changed below those).

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_api_types::container::{ChangeItem, ChangeKind};
use rustix::fs::{Mode, OFlags, ResolveFlags, openat2};

use super::Error;
use crate::Engine;

/// Paths docker's init layer holds.
pub(crate) const INIT_PATHS: &[&str] = &[
    "/.dockerenv",
    "/dev/console",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/dev",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/mtab",
    "/etc/resolv.conf",
    "/proc",
    "/sys",
];

/// Parents docker's init layer modifies.
const INIT_PARENTS: &[&str] = &["/", "/etc", "/dev"];

/// Drops the init layer's paths (see the module doc).
pub fn without_init_paths(mut changes: Vec<ChangeItem>) -> Vec<ChangeItem> {
    changes.retain(|c| !INIT_PATHS.contains(&c.path.as_str()) || c.kind == ChangeKind::Deleted);
    let has_descendant = |dir: &str, all: &[ChangeItem]| {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        all.iter().any(|c| c.path.starts_with(&prefix))
    };
    let snapshot = changes.clone();
    changes.retain(|c| {
        !(c.kind == ChangeKind::Modified
            && INIT_PARENTS.contains(&c.path.as_str())
            && !has_descendant(&c.path, &snapshot))
    });
    changes
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `rel` exists in the merged lower layers `lowers` (topmost
/// first).
fn in_lowers(lowers: &[std::os::fd::OwnedFd], rel: &str) -> bool {
    let rel = rel.trim_start_matches('/');
    for fd in lowers {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match openat2(
            fd,
            rel,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            how,
        ) {
            Ok(f) => {
                return match rustix::fs::fstat(&f) {
                    Ok(st) => !is_whiteout(st.st_mode, st.st_rdev),
                    Err(_) => true,
                };
            }
            // A symlinked parent in this layer: the path cannot be probed
            // below it safely; count it as existing (a modification).
            Err(rustix::io::Errno::LOOP) | Err(rustix::io::Errno::XDEV) => return true,
            Err(_) => continue,
        }
    }
    false
}

fn is_whiteout(mode: u32, rdev: u64) -> bool {
    mode & libc::S_IFMT == libc::S_IFCHR && rdev == 0
}

/// The changes recorded in overlay upper dir `upper` over `lowers`.
pub fn overlay_changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<ChangeItem>, Error> {
    let mut fds = Vec::new();
    for l in lowers {
        let fd = rustix::fs::open(
            l,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::Io {
            op: "open lower layer",
            path: l.clone(),
            source: e.into(),
        })?;
        fds.push(fd);
    }
    let mut out = Vec::new();
    let mut stack = vec![(upper.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io("read directory", &dir))? {
            let entry = entry.map_err(io("read directory", &dir))?;
            let name = entry.file_name();
            let path = format!("{rel}/{}", name.to_string_lossy());
            let md = entry.metadata().map_err(io("stat", &entry.path()))?;
            let kind = if md.file_type().is_char_device() && md.rdev() == 0 {
                ChangeKind::Deleted
            } else if in_lowers(&fds, &path) {
                ChangeKind::Modified
            } else {
                ChangeKind::Added
            };
            if md.is_dir() {
                stack.push((entry.path(), path.clone()));
            }
            out.push(ChangeItem { path, kind });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The changes in a layer tar (see the module doc for the limits).
pub fn tar_changes(tar: impl Read) -> Result<Vec<ChangeItem>, std::io::Error> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(tar);
    for e in archive.entries()? {
        let e = e?;
        let name = e
            .path()?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let name = format!("/{}", name.trim_start_matches("./").trim_start_matches('/'));
        let (dir, base) = name.rsplit_once('/').unwrap_or(("", &name));
        if base == ".wh..wh..opq" {
            continue;
        }
        let item = if let Some(deleted) = base.strip_prefix(".wh.") {
            ChangeItem {
                path: format!("{dir}/{deleted}"),
                kind: ChangeKind::Deleted,
            }
        } else if e.header().entry_type().is_dir() {
            ChangeItem {
                path: name.clone(),
                kind: ChangeKind::Modified,
            }
        } else {
            ChangeItem {
                path: name.clone(),
                kind: ChangeKind::Added,
            }
        };
        if item.path != "/" {
            out.push(item);
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

impl Engine {
    /// `GET /containers/{id}/changes`: the container's changes, sorted
    /// by path.
    pub async fn container_changes(&self, reference: &str) -> Result<Vec<ChangeItem>, Error> {
        let c = self.containers.get(reference)?;
        let mounts = self.images.rootfs_mounts(&c.id).map_err(Error::Image)?;
        let overlay = mounts.iter().find(|m| m.kind == "overlay").and_then(|m| {
            let upper = PathBuf::from(m.upperdir()?);
            let lowers: Vec<PathBuf> = m.lowerdirs().into_iter().map(PathBuf::from).collect();
            Some((upper, lowers))
        });
        let images = self.images.clone();
        let id = c.id.clone();
        let changes = tokio::task::spawn_blocking(move || match overlay {
            Some((upper, lowers)) => overlay_changes(&upper, &lowers),
            None => {
                let mut tar = Vec::new();
                images.diff_rootfs(&id, &mut tar).map_err(Error::Image)?;
                tar_changes(&tar[..]).map_err(|source| Error::Io {
                    op: "read rw layer diff of container",
                    path: PathBuf::from(&id),
                    source,
                })
            }
        })
        .await
        .map_err(|source| Error::Task {
            op: "container changes",
            source,
        })??;
        Ok(without_init_paths(changes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, kind: ChangeKind) -> ChangeItem {
        ChangeItem {
            path: path.into(),
            kind,
        }
    }

    #[test]
    fn init_layer_paths_are_hidden_but_real_changes_below_them_stay() {
        use ChangeKind::*;
        let got = without_init_paths(vec![
            item("/dev", Modified),
            item("/dev/console", Added),
            item("/etc", Modified),
            item("/etc/hostname", Added),
            item("/etc/passwd", Modified),
            item("/proc", Added),
        ]);
        assert_eq!(
            got,
            vec![item("/etc", Modified), item("/etc/passwd", Modified)]
        );
    }

    #[test]
    fn overlay_upper_dir_whiteouts_additions_modifications() {
        let t = tempfile::tempdir().unwrap();
        let (upper, lower) = (t.path().join("upper"), t.path().join("lower"));
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/passwd"), "x").unwrap();
        std::fs::write(lower.join("etc/group"), "x").unwrap();
        std::fs::write(upper.join("etc/passwd"), "y").unwrap();
        std::fs::write(upper.join("etc/new"), "y").unwrap();
        // A whiteout is a 0:0 character device (overlayfs(5)).
        rustix::fs::mknodat(
            rustix::fs::CWD,
            upper.join("etc/group"),
            rustix::fs::FileType::CharacterDevice,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // A symlink in the lower layer is never followed out of it.
        std::os::unix::fs::symlink("/", lower.join("host")).unwrap();
        std::fs::create_dir_all(upper.join("host/etc")).unwrap();
        let got = overlay_changes(&upper, &[lower]).unwrap();
        use ChangeKind::*;
        assert_eq!(
            got,
            vec![
                item("/etc", Modified),
                item("/etc/group", Deleted),
                item("/etc/new", Added),
                item("/etc/passwd", Modified),
                item("/host", Modified),
                item("/host/etc", Modified),
            ]
        );
    }

    #[test]
    fn tar_whiteouts_and_entries() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        b.append_data(&mut h.clone(), "etc/", &[][..]).unwrap();
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h.clone(), "etc/.wh.group", &[][..])
            .unwrap();
        b.append_data(&mut h, "etc/new", &[][..]).unwrap();
        let got = tar_changes(&b.into_inner().unwrap()[..]).unwrap();
        use ChangeKind::*;
        assert_eq!(
            got,
            vec![
                item("/etc", Modified),
                item("/etc/group", Deleted),
                item("/etc/new", Added)
            ]
        );
    }
}
