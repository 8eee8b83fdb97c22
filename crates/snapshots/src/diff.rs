//! Diffs of a snapshot against its parent, as layer tars.
//!
//! - [`overlay_diff`]: an overlay upper directory *is* the change set; it
//!   is walked and its whiteout devices (0:0 character devices) and opaque
//!   directories (`trusted.overlay.opaque=y`) are turned back into
//!   `.wh.NAME` and `.wh..wh..opq` entries.
//! - [`tree_diff`]: two full trees (native snapshotter) are compared entry
//!   by entry; what vanished becomes a `.wh.NAME` entry.
//!
//! Output is deterministic (names sorted, directories before their
//! contents), so the same change yields the same diff ID.
//!
//! An [`Exclude`] leaves paths out (with what is below them), and the
//! directories that would be in the diff only because of them: such a
//! directory is held back until something kept is found inside it. This
//! is how a commit leaves out the mount points a runtime created (docker
//! keeps them in an "init" layer below the container's). File contents are
//! opened with openat2 `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` below the
//! tree's root, so a symlink swapped in by a running container cannot make
//! the diff read a file from elsewhere.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags, openat, openat2};
use tar::{EntryType, Header};

use crate::copy::xattrs;

/// Errors producing a diff.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write tar entry {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read {path}: file changed size while being archived")]
    Changed { path: PathBuf },
}

fn ioerr<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> DiffError + 'a {
    move |source| DiffError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Paths a diff leaves out, relative to the snapshot's root (see the
/// module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclude {
    paths: BTreeSet<PathBuf>,
}

impl Exclude {
    /// Excludes `paths` (`/etc/hosts` and `etc/hosts` alike; `.` and `..`
    /// components are dropped).
    pub fn new<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Exclude {
        let paths = paths
            .into_iter()
            .map(|p| {
                p.as_ref()
                    .components()
                    .filter_map(|c| match c {
                        std::path::Component::Normal(n) => Some(n),
                        _ => None,
                    })
                    .collect::<PathBuf>()
            })
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        Exclude { paths }
    }

    /// Whether `rel` is excluded (itself or below an excluded path).
    pub fn excludes(&self, rel: &Path) -> bool {
        self.paths.iter().any(|p| rel.starts_with(p))
    }

    /// Whether an excluded path lies strictly below `rel`.
    fn holds(&self, rel: &Path) -> bool {
        self.paths.iter().any(|p| p != rel && p.starts_with(rel))
    }
}

struct TarOut<'w> {
    b: tar::Builder<&'w mut dyn Write>,
    root_fd: OwnedFd,
    root: PathBuf,
    links: HashMap<(u64, u64), PathBuf>,
    exclude: Exclude,
    /// Directories held back (with their metadata and whether they are
    /// opaque), outermost first, until something inside them is kept.
    deferred: Vec<(PathBuf, fs::Metadata, bool)>,
}

impl<'w> TarOut<'w> {
    fn new(
        root: &Path,
        out: &'w mut dyn Write,
        exclude: &Exclude,
    ) -> Result<TarOut<'w>, DiffError> {
        let root_fd = openat(
            rustix::fs::CWD,
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ioerr("open", root)(e.into()))?;
        let mut b = tar::Builder::new(out);
        b.mode(tar::HeaderMode::Complete);
        Ok(TarOut {
            b,
            root_fd,
            root: root.to_owned(),
            links: HashMap::new(),
            exclude: exclude.clone(),
            deferred: Vec::new(),
        })
    }

    /// Holds the directory `rel` back when an excluded path lies below it
    /// (true: the caller walks it and calls [`TarOut::undefer`] after);
    /// else adds it now.
    fn add_dir(&mut self, rel: &Path, md: &fs::Metadata, opaque: bool) -> Result<bool, DiffError> {
        if self.exclude.holds(rel) {
            self.deferred.push((rel.to_owned(), md.clone(), opaque));
            return Ok(true);
        }
        self.add(rel, md)?;
        if opaque {
            self.marker(rel, ".wh..wh..opq", md.uid(), md.gid())?;
        }
        Ok(false)
    }

    /// Drops the held-back `rel` if nothing inside it was kept.
    fn undefer(&mut self, rel: &Path) {
        if self.deferred.last().is_some_and(|(p, _, _)| p == rel) {
            self.deferred.pop();
        }
    }

    /// Writes the held-back directories: something inside them is kept.
    fn flush(&mut self) -> Result<(), DiffError> {
        for (rel, md, opaque) in std::mem::take(&mut self.deferred) {
            self.add_now(&rel, &md)?;
            if opaque {
                self.marker(&rel, ".wh..wh..opq", md.uid(), md.gid())?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), DiffError> {
        let root = self.root.clone();
        self.b
            .into_inner()
            .map(|_| ())
            .map_err(|source| DiffError::Write { path: root, source })
    }

    /// Adds `rel` (relative to the root) with metadata `md`, after the
    /// directories held back above it.
    fn add(&mut self, rel: &Path, md: &fs::Metadata) -> Result<(), DiffError> {
        self.flush()?;
        self.add_now(rel, md)
    }

    fn add_now(&mut self, rel: &Path, md: &fs::Metadata) -> Result<(), DiffError> {
        let abs = self.root.join(rel);
        let werr = |source| DiffError::Write {
            path: rel.to_owned(),
            source,
        };
        let ft = md.file_type();
        let mut h = Header::new_gnu();
        h.set_mode(md.mode() & 0o7777);
        h.set_uid(u64::from(md.uid()));
        h.set_gid(u64::from(md.gid()));
        h.set_mtime(md.mtime().max(0) as u64);
        h.set_size(0);
        if !ft.is_dir() && md.nlink() > 1 {
            if let Some(first) = self.links.get(&(md.dev(), md.ino())).cloned() {
                h.set_entry_type(EntryType::Link);
                return self.b.append_link(&mut h, rel, &first).map_err(werr);
            }
            self.links.insert((md.dev(), md.ino()), rel.to_owned());
        }
        let xs: Vec<(String, Vec<u8>)> = xattrs(&abs)
            .map_err(ioerr("read xattrs", &abs))?
            .into_iter()
            // Overlay's own bookkeeping is not part of the layer.
            .filter(|(k, _)| !k.starts_with("trusted.overlay."))
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v))
            .collect();
        if !xs.is_empty() {
            self.b
                .append_pax_extensions(xs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                .map_err(werr)?;
        }
        if ft.is_dir() {
            h.set_entry_type(EntryType::Directory);
            self.b.append_data(&mut h, rel, io::empty()).map_err(werr)
        } else if ft.is_symlink() {
            h.set_entry_type(EntryType::Symlink);
            let target = fs::read_link(&abs).map_err(ioerr("read symlink", &abs))?;
            self.b.append_link(&mut h, rel, &target).map_err(werr)
        } else if ft.is_file() {
            h.set_entry_type(EntryType::Regular);
            h.set_size(md.len());
            let fd = openat2(
                &self.root_fd,
                rel,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
            )
            .map_err(|e| ioerr("open", &abs)(e.into()))?;
            let mut counted = Counted {
                inner: File::from(fd).take(md.len()),
                n: 0,
            };
            self.b
                .append_data(&mut h, rel, &mut counted)
                .map_err(werr)?;
            if counted.n != md.len() {
                return Err(DiffError::Changed { path: abs });
            }
            Ok(())
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            h.set_entry_type(if ft.is_fifo() {
                EntryType::Fifo
            } else if ft.is_char_device() {
                EntryType::Char
            } else {
                EntryType::Block
            });
            if !ft.is_fifo() {
                let (maj, min) = (libc::major(md.rdev()), libc::minor(md.rdev()));
                h.set_device_major(maj).map_err(werr)?;
                h.set_device_minor(min).map_err(werr)?;
            }
            self.b.append_data(&mut h, rel, io::empty()).map_err(werr)
        } else {
            // Sockets are not archived (as with tar(1) and Docker).
            Ok(())
        }
    }

    /// Adds a `.wh.`-style marker `name` in directory `dir_rel`.
    fn marker(&mut self, dir_rel: &Path, name: &str, uid: u32, gid: u32) -> Result<(), DiffError> {
        self.flush()?;
        let rel = dir_rel.join(name);
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o600);
        h.set_uid(u64::from(uid));
        h.set_gid(u64::from(gid));
        h.set_mtime(0);
        h.set_size(0);
        self.b
            .append_data(&mut h, &rel, io::empty())
            .map_err(|source| DiffError::Write { path: rel, source })
    }
}

struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

fn sorted_names(dir: &Path) -> Result<Vec<std::ffi::OsString>, DiffError> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .map_err(ioerr("read directory", dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(ioerr("read directory", dir))?;
    v.sort();
    Ok(v)
}

fn is_opaque(p: &Path) -> bool {
    let mut v = [0u8; 4];
    matches!(rustix::fs::lgetxattr(p, "trusted.overlay.opaque", &mut v[..]), Ok(1) if v[0] == b'y')
}

/// Archives the overlay upper directory `upper` as a layer, without what
/// `exclude` names.
pub fn overlay_diff(upper: &Path, exclude: &Exclude, out: &mut dyn Write) -> Result<(), DiffError> {
    let mut t = TarOut::new(upper, out, exclude)?;
    walk_upper(&mut t, upper, Path::new(""))?;
    t.finish()
}

fn walk_upper(t: &mut TarOut<'_>, upper: &Path, rel: &Path) -> Result<(), DiffError> {
    let dir = upper.join(rel);
    for name in sorted_names(&dir)? {
        let r = rel.join(&name);
        if t.exclude.excludes(&r) {
            continue;
        }
        let abs = upper.join(&r);
        let md = fs::symlink_metadata(&abs).map_err(ioerr("stat", &abs))?;
        if md.file_type().is_char_device() && md.rdev() == 0 {
            t.marker(
                rel,
                &format!(".wh.{}", name.to_string_lossy()),
                md.uid(),
                md.gid(),
            )?;
            continue;
        }
        if md.is_dir() {
            let deferred = t.add_dir(&r, &md, is_opaque(&abs))?;
            walk_upper(t, upper, &r)?;
            if deferred {
                t.undefer(&r);
            }
        } else {
            t.add(&r, &md)?;
        }
    }
    Ok(())
}

/// Archives what differs in the full tree `upper` from the full tree
/// `lower` (or all of `upper` when there is no lower), without what
/// `exclude` names.
pub fn tree_diff(
    lower: Option<&Path>,
    upper: &Path,
    exclude: &Exclude,
    out: &mut dyn Write,
) -> Result<(), DiffError> {
    let mut t = TarOut::new(upper, out, exclude)?;
    walk_pair(&mut t, lower, upper, Path::new(""))?;
    t.finish()
}

fn walk_pair(
    t: &mut TarOut<'_>,
    lower: Option<&Path>,
    upper: &Path,
    rel: &Path,
) -> Result<(), DiffError> {
    let unames = sorted_names(&upper.join(rel))?;
    let lnames: Vec<_> = match lower {
        Some(l) => sorted_names(&l.join(rel))?,
        None => Vec::new(),
    };
    let uset: BTreeSet<_> = unames.iter().cloned().collect();
    let lset: BTreeSet<_> = lnames.iter().cloned().collect();
    for name in uset.union(&lset) {
        let r = rel.join(name);
        if t.exclude.excludes(&r) {
            continue;
        }
        let uabs = upper.join(&r);
        if !uset.contains(name) {
            let lmd = lower
                .map(|l| fs::symlink_metadata(l.join(&r)))
                .transpose()
                .ok()
                .flatten();
            let (uid, gid) = lmd.map(|m| (m.uid(), m.gid())).unwrap_or((0, 0));
            t.marker(rel, &format!(".wh.{}", name.to_string_lossy()), uid, gid)?;
            continue;
        }
        let umd = fs::symlink_metadata(&uabs).map_err(ioerr("stat", &uabs))?;
        let lmd = match (lower, lset.contains(name)) {
            (Some(l), true) => {
                let labs = l.join(&r);
                Some((
                    fs::symlink_metadata(&labs).map_err(ioerr("stat", &labs))?,
                    labs,
                ))
            }
            _ => None,
        };
        match lmd {
            Some((lmd, labs)) if umd.is_dir() && lmd.is_dir() => {
                let deferred = if same_meta(&umd, &lmd, &uabs, &labs)? {
                    false
                } else {
                    t.add_dir(&r, &umd, false)?
                };
                walk_pair(t, lower, upper, &r)?;
                if deferred {
                    t.undefer(&r);
                }
            }
            Some((lmd, labs)) if same_entry(&umd, &lmd, &uabs, &labs)? => {}
            _ if umd.is_dir() => {
                let deferred = t.add_dir(&r, &umd, false)?;
                walk_pair(t, None, upper, &r)?;
                if deferred {
                    t.undefer(&r);
                }
            }
            _ => t.add(&r, &umd)?,
        }
    }
    Ok(())
}

fn same_meta(a: &fs::Metadata, b: &fs::Metadata, ap: &Path, bp: &Path) -> Result<bool, DiffError> {
    Ok(a.mode() == b.mode()
        && a.uid() == b.uid()
        && a.gid() == b.gid()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && xattrs(ap).map_err(ioerr("read xattrs", ap))?
            == xattrs(bp).map_err(ioerr("read xattrs", bp))?)
}

fn same_entry(a: &fs::Metadata, b: &fs::Metadata, ap: &Path, bp: &Path) -> Result<bool, DiffError> {
    if a.is_dir() != b.is_dir()
        || a.rdev() != b.rdev()
        || a.len() != b.len()
        || !same_meta(a, b, ap, bp)?
    {
        return Ok(false);
    }
    if a.file_type().is_symlink() {
        return Ok(fs::read_link(ap).ok() == fs::read_link(bp).ok());
    }
    // Copies keep nanosecond mtimes, so equal times mean untouched; when a
    // filesystem stores whole seconds only, compare the bytes.
    if a.is_file() && a.mtime_nsec() == 0 {
        let x = fs::read(ap).map_err(ioerr("read", ap))?;
        let y = fs::read(bp).map_err(ioerr("read", bp))?;
        return Ok(x == y);
    }
    Ok(true)
}
