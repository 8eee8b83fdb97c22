//! Applying a layer tar onto a directory, safely.
//!
//! The tar crate only parses entries here (`Archive::entries`); every
//! entry is created by this module with *at syscalls relative to a
//! directory fd that was resolved inside the layer root with openat2(2)
//! `RESOLVE_IN_ROOT` (see [`crate::fsat`]). So:
//!
//! - an absolute name (`/etc/x`) lands at `<root>/etc/x`;
//! - a name whose `..` components climb above the root (`../x`,
//!   `a/../../x`) is refused with [`ApplyError::Breakout`], as Docker does;
//! - a symlink in a parent position (`a -> /`, then `a/etc/x`) is followed
//!   as if chrooted, so it resolves inside the root;
//! - the final component is never followed: an existing non-directory is
//!   unlinked and the new entry created with `O_EXCL | O_NOFOLLOW`;
//! - a hardlink target is normalised like a name (escapes are refused) and
//!   its parent resolved inside the root; `linkat` without
//!   `AT_SYMLINK_FOLLOW` links a symlink itself, never what it points to.
//!
//! The diff ID (sha256 of the uncompressed tar, trailing padding
//! included) is computed in the same pass.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use berth_content::{Digest, HashingReader};
use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags, chmodat, chownat, fchmod,
    fchown, fsetxattr, futimens, linkat, lsetxattr, makedev, mkdirat, mknodat, openat, symlinkat,
    utimensat,
};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use tar::EntryType;

use crate::compression::{self, Compression, CompressionError};
use crate::fsat::{Root, clear_dir_at, join, lstat_type, proc_path, remove_all_at};

/// How whiteouts in the layer are materialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// Into overlayfs form, for a layer directory that will be an overlay
    /// lower/upper dir: `.wh.NAME` becomes a 0:0 character device `NAME`,
    /// `.wh..wh..opq` becomes `trusted.overlay.opaque=y` on its directory.
    Overlay,
    /// Applied to a full copy of the parent tree (native snapshotter):
    /// `.wh.NAME` removes `NAME`; `.wh..wh..opq` removes every child of its
    /// directory that this layer did not itself create.
    Delete,
}

/// Options of [`apply_tar`].
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    pub whiteouts: WhiteoutMode,
}

/// What applying produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Length of the uncompressed tar stream.
    pub tar_size: u64,
    /// Entries processed (whiteouts included).
    pub entries: u64,
}

/// Errors applying a layer.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("open layer root {path}: {source}")]
    OpenRoot {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read layer tar: {0}")]
    Read(#[source] io::Error),
    #[error("apply layer entry {entry:?}: path escapes the layer root")]
    Breakout { entry: String },
    #[error("apply layer entry {entry:?}: link target {target:?} escapes the layer root")]
    LinkBreakout { entry: String, target: String },
    #[error("apply layer entry {entry:?}: {reason}")]
    Invalid { entry: String, reason: &'static str },
    #[error("apply layer entry {entry:?}: unsupported entry type {kind}")]
    Unsupported { entry: String, kind: String },
    #[error("apply layer entry {entry:?}: {op}: {source}")]
    Entry {
        entry: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("apply layer: {0}")]
    Compression(#[source] CompressionError),
}

/// Decompresses `blob` per `compression` and applies it (see [`apply_tar`]).
pub fn apply_layer(
    root: &Path,
    blob: impl Read,
    compression: Compression,
    opts: &ApplyOptions,
) -> Result<Applied, ApplyError> {
    let r = compression::decoder(blob, compression).map_err(ApplyError::Compression)?;
    apply_tar(root, r, opts)
}

/// Applies the uncompressed tar `tar` onto the directory `root`.
///
/// On error the directory is left partially written: callers apply into
/// a fresh snapshot and remove it on failure.
pub fn apply_tar(root: &Path, tar: impl Read, opts: &ApplyOptions) -> Result<Applied, ApplyError> {
    let r = Root::open(root).map_err(|source| ApplyError::OpenRoot {
        path: root.to_owned(),
        source,
    })?;
    let mut hashing = HashingReader::new(tar);
    let mut st = State {
        root: r,
        mode: opts.whiteouts,
        cache: None,
        unpacked: HashSet::new(),
        dirs: Vec::new(),
    };
    let mut entries = 0u64;
    {
        let mut archive = tar::Archive::new(&mut hashing);
        for e in archive.entries().map_err(ApplyError::Read)? {
            let mut e = e.map_err(ApplyError::Read)?;
            st.entry(&mut e)?;
            entries += 1;
        }
        // The archive stops at the end-of-archive marker; the diff ID covers
        // the whole stream, including the padding writers add after it.
        // Draining also makes a decompressor verify its trailer (gzip CRC).
        io::copy(archive.into_inner(), &mut io::sink()).map_err(ApplyError::Read)?;
    }
    st.finish_dirs()?;
    let (_, diff_id, tar_size) = hashing.into_parts();
    Ok(Applied {
        diff_id,
        tar_size,
        entries,
    })
}

/// Splits `name` into components, dropping empty and `.` ones and
/// resolving `..` lexically; `None` when `..` climbs above the root.
pub(crate) fn normalize(name: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out: Vec<&[u8]> = Vec::new();
    for c in name.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// Metadata of an entry, from its header and PAX records.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    times: Timestamps,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

struct State {
    root: Root,
    mode: WhiteoutMode,
    /// The last resolved parent directory: entries come grouped by
    /// directory, so most lookups hit. Dropped whenever anything is
    /// removed, since a removed directory may be the cached one.
    cache: Option<(Vec<u8>, OwnedFd)>,
    /// Paths this layer created (only tracked in [`WhiteoutMode::Delete`]).
    unpacked: HashSet<Vec<u8>>,
    /// Directory mtimes, set last: creating children changes them.
    dirs: Vec<(Vec<u8>, Timestamps)>,
}

fn ts(secs: i64, nsec: i64) -> Timespec {
    Timespec {
        tv_sec: secs,
        tv_nsec: nsec as _,
    }
}

/// Parses a PAX time ("1700000000" or "1700000000.123456789").
fn pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nsec = 0i64;
    for (i, c) in frac.bytes().take(9).enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        nsec += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
    }
    Some(ts(secs, if secs < 0 { -nsec } else { nsec }))
}

/// A numeric header field; an empty one (all NUL or spaces, as some
/// writers leave fields they do not set) reads as 0, like GNU tar and Go's
/// archive/tar do.
fn numeric(parsed: io::Result<u64>, raw: &[u8]) -> Option<u64> {
    match parsed {
        Ok(v) => Some(v),
        Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Some(0),
        Err(_) => None,
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl State {
    fn err(entry: &[u8], op: &'static str) -> impl FnOnce(Errno) -> ApplyError {
        let entry = lossy(entry);
        move |e| ApplyError::Entry {
            entry,
            op,
            source: e.into(),
        }
    }

    fn meta<R: Read>(e: &mut tar::Entry<'_, R>, name: &[u8]) -> Result<Meta, ApplyError> {
        let h = e.header();
        let bad = |reason| ApplyError::Invalid {
            entry: lossy(name),
            reason,
        };
        let old = h.as_old();
        let mut uid = numeric(h.uid(), &old.uid).ok_or_else(|| bad("unreadable uid"))?;
        let mut gid = numeric(h.gid(), &old.gid).ok_or_else(|| bad("unreadable gid"))?;
        let mode = numeric(h.mode().map(u64::from), &old.mode)
            .ok_or_else(|| bad("unreadable mode"))? as u32
            & 0o7777;
        let mtime = numeric(h.mtime(), &old.mtime).ok_or_else(|| bad("unreadable mtime"))?;
        let mut m = ts(
            i64::try_from(mtime).map_err(|_| bad("mtime out of range"))?,
            0,
        );
        let mut a = None;
        let mut xattrs = Vec::new();
        if let Some(exts) = e.pax_extensions().map_err(ApplyError::Read)? {
            for ext in exts {
                let ext = ext.map_err(ApplyError::Read)?;
                let (Ok(key), v) = (ext.key(), ext.value_bytes()) else {
                    continue;
                };
                let num = || {
                    std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                };
                match key {
                    "uid" => uid = num().ok_or_else(|| bad("invalid pax uid"))?,
                    "gid" => gid = num().ok_or_else(|| bad("invalid pax gid"))?,
                    "mtime" => m = pax_time(v).ok_or_else(|| bad("invalid pax mtime"))?,
                    "atime" => a = pax_time(v),
                    k => {
                        if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
                            xattrs.push((x.as_bytes().to_vec(), v.to_vec()));
                        }
                    }
                }
            }
        }
        // u32::MAX is the "no change" id of chown(2): never a real owner.
        let uid = u32::try_from(uid)
            .ok()
            .filter(|u| *u != u32::MAX)
            .ok_or_else(|| bad("uid out of range"))?;
        let gid = u32::try_from(gid)
            .ok()
            .filter(|g| *g != u32::MAX)
            .ok_or_else(|| bad("gid out of range"))?;
        // overlayfs trusts its trusted.overlay.* xattrs (redirect, metacopy,
        // origin) to steer lookups; a layer must not be able to plant them.
        // Opaque directories come only from `.wh..wh..opq` entries.
        xattrs.retain(|(k, _)| !k.starts_with(b"trusted.overlay."));
        let times = Timestamps {
            last_access: a.unwrap_or(m),
            last_modification: m,
        };
        Ok(Meta {
            uid,
            gid,
            mode,
            times,
            xattrs,
        })
    }

    /// The parent directory `comps`, resolved inside the root and created
    /// if missing.
    fn parent(&mut self, comps: &[&[u8]], entry: &[u8]) -> Result<&OwnedFd, ApplyError> {
        let key = join(comps);
        let hit = matches!(&self.cache, Some((k, _)) if *k == key);
        if !hit {
            let fd = self
                .root
                .make_dirs(comps)
                .map_err(Self::err(entry, "resolve parent directory"))?;
            self.cache = Some((key, fd));
        }
        match &self.cache {
            Some((_, fd)) => Ok(fd),
            None => unreachable!("cache filled above"),
        }
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<(), ApplyError> {
        let raw = e.path_bytes().into_owned();
        let kind = e.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader) {
            return Ok(());
        }
        let meta = Self::meta(e, &raw)?;
        let comps = normalize(&raw).ok_or_else(|| ApplyError::Breakout { entry: lossy(&raw) })?;
        let Some((&base, parent)) = comps.split_last() else {
            // The root itself ("./"): its owner and mode belong to the
            // snapshot, not to the layer.
            return Ok(());
        };
        if let Some(target) = base.strip_prefix(b".wh.") {
            return self.whiteout(&raw, parent, target, &meta);
        }
        let existing = {
            let dir = self.parent(parent, &raw)?;
            lstat_type(dir, base).map_err(Self::err(&raw, "stat existing entry"))?
        };
        match existing {
            Some(FileType::Directory) if kind == EntryType::Directory => {}
            Some(_) => {
                let dir = self.parent(parent, &raw)?;
                remove_all_at(dir, base).map_err(Self::err(&raw, "remove existing entry"))?;
                self.cache = None;
            }
            None => {}
        }
        let created_dir = existing != Some(FileType::Directory) || kind != EntryType::Directory;
        let dir = self.parent(parent, &raw)?;
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let fd = openat(
                    dir,
                    base,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(Self::err(&raw, "create file"))?;
                let mut f = File::from(fd);
                copy_data(e, &mut f, &raw)?;
                fchown(
                    &f,
                    Some(Uid::from_raw(meta.uid)),
                    Some(Gid::from_raw(meta.gid)),
                )
                .map_err(Self::err(&raw, "chown"))?;
                fchmod(&f, Mode::from_raw_mode(meta.mode)).map_err(Self::err(&raw, "chmod"))?;
                for (k, v) in &meta.xattrs {
                    fsetxattr(&f, k.as_slice(), v, XattrFlags::empty())
                        .map_err(Self::err(&raw, "set xattr"))?;
                }
                futimens(&f, &meta.times).map_err(Self::err(&raw, "set times"))?;
            }
            EntryType::Directory => {
                if created_dir {
                    mkdirat(dir, base, Mode::from_raw_mode(0o700))
                        .map_err(Self::err(&raw, "create directory"))?;
                }
                chownat(
                    dir,
                    base,
                    Some(Uid::from_raw(meta.uid)),
                    Some(Gid::from_raw(meta.gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(Self::err(&raw, "chown"))?;
                let d = openat(
                    dir,
                    base,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(Self::err(&raw, "open directory"))?;
                fchmod(&d, Mode::from_raw_mode(meta.mode)).map_err(Self::err(&raw, "chmod"))?;
                for (k, v) in &meta.xattrs {
                    fsetxattr(&d, k.as_slice(), v, XattrFlags::empty())
                        .map_err(Self::err(&raw, "set xattr"))?;
                }
                self.dirs.push((join(&comps), meta.times));
            }
            EntryType::Symlink => {
                let target = link_name(e, &raw)?;
                symlinkat(target.as_slice(), dir, base)
                    .map_err(Self::err(&raw, "create symlink"))?;
                self.path_meta(parent, base, &raw, &meta, true)?;
            }
            EntryType::Link => {
                let target = link_name(e, &raw)?;
                let tcomps = normalize(&target);
                let Some((tbase, tparent)) = tcomps.as_deref().and_then(|c| c.split_last()) else {
                    return Err(ApplyError::LinkBreakout {
                        entry: lossy(&raw),
                        target: lossy(&target),
                    });
                };
                let tdir = self
                    .root
                    .open_dir(tparent, OFlags::PATH)
                    .map_err(Self::err(&raw, "resolve hardlink target"))?;
                let dir = self.parent(parent, &raw)?;
                // No AT_SYMLINK_FOLLOW: a link to a symlink links the
                // symlink, so a target like `evil -> /etc/shadow` yields a
                // second name for the symlink, not for the host's file.
                linkat(&tdir, *tbase, dir, base, AtFlags::empty())
                    .map_err(Self::err(&raw, "create hardlink"))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (ft, dev) = match kind {
                    EntryType::Fifo => (FileType::Fifo, 0),
                    _ => {
                        let h = e.header();
                        let bad = || ApplyError::Invalid {
                            entry: lossy(&raw),
                            reason: "unreadable device number",
                        };
                        let major = h.device_major().map_err(|_| bad())?.unwrap_or(0);
                        let minor = h.device_minor().map_err(|_| bad())?.unwrap_or(0);
                        let ft = if kind == EntryType::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (ft, makedev(major, minor))
                    }
                };
                mknodat(dir, base, ft, Mode::from_raw_mode(0o600), dev)
                    .map_err(Self::err(&raw, "create node"))?;
                self.path_meta(parent, base, &raw, &meta, false)?;
            }
            other => {
                return Err(ApplyError::Unsupported {
                    entry: lossy(&raw),
                    kind: format!("{other:?}"),
                });
            }
        }
        if self.mode == WhiteoutMode::Delete {
            self.unpacked.insert(join(&comps));
        }
        Ok(())
    }

    /// Owner, mode, xattrs and times of an entry that must not be opened
    /// (symlinks, device nodes, fifos).
    fn path_meta(
        &mut self,
        parent: &[&[u8]],
        base: &[u8],
        raw: &[u8],
        meta: &Meta,
        symlink: bool,
    ) -> Result<(), ApplyError> {
        let dir = self.parent(parent, raw)?;
        chownat(
            dir,
            base,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(Self::err(raw, "chown"))?;
        if !symlink {
            // Only reached for nodes this call just created, so the
            // following variant of fchmodat cannot be redirected.
            chmodat(dir, base, Mode::from_raw_mode(meta.mode), AtFlags::empty())
                .map_err(Self::err(raw, "chmod"))?;
        }
        for (k, v) in &meta.xattrs {
            match lsetxattr(proc_path(dir, base), k.as_slice(), v, XattrFlags::empty()) {
                Ok(()) => {}
                // The kernel refuses user.* xattrs on symlinks (xattr(7)).
                Err(Errno::PERM | Errno::OPNOTSUPP) if symlink => {}
                Err(e) => return Err(Self::err(raw, "set xattr")(e)),
            }
        }
        utimensat(dir, base, &meta.times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(Self::err(raw, "set times"))
    }

    fn whiteout(
        &mut self,
        raw: &[u8],
        parent: &[&[u8]],
        target: &[u8],
        meta: &Meta,
    ) -> Result<(), ApplyError> {
        if target == b".wh..opq" {
            return match self.mode {
                WhiteoutMode::Overlay => {
                    self.parent(parent, raw)?;
                    let d = self
                        .root
                        .open_dir(parent, OFlags::RDONLY)
                        .map_err(Self::err(raw, "open opaque directory"))?;
                    fsetxattr(&d, "trusted.overlay.opaque", b"y", XattrFlags::empty())
                        .map_err(Self::err(raw, "set trusted.overlay.opaque"))
                }
                WhiteoutMode::Delete => {
                    let prefix = join(parent);
                    let unpacked = &self.unpacked;
                    let mut keep = |child: &[u8]| {
                        let mut p = if parent.is_empty() {
                            Vec::new()
                        } else {
                            [prefix.as_slice(), b"/"].concat()
                        };
                        p.extend_from_slice(child);
                        unpacked.contains(&p)
                    };
                    let dir = self
                        .root
                        .make_dirs(parent)
                        .map_err(Self::err(raw, "resolve opaque directory"))?;
                    clear_dir_at(&dir, b".", &mut keep)
                        .map_err(Self::err(raw, "clear opaque directory"))?;
                    self.cache = None;
                    Ok(())
                }
            };
        }
        if target.starts_with(b".wh.") {
            // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): no meaning here.
            return Ok(());
        }
        if target.is_empty() || target == b"." || target == b".." {
            return Err(ApplyError::Invalid {
                entry: lossy(raw),
                reason: "whiteout names no file",
            });
        }
        let mode = self.mode;
        let dir = self.parent(parent, raw)?;
        remove_all_at(dir, target).map_err(Self::err(raw, "remove whited-out entry"))?;
        if mode == WhiteoutMode::Overlay {
            mknodat(
                dir,
                target,
                FileType::CharacterDevice,
                Mode::empty(),
                makedev(0, 0),
            )
            .map_err(Self::err(raw, "create whiteout device"))?;
            chownat(
                dir,
                target,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(Self::err(raw, "chown whiteout"))?;
        }
        self.cache = None;
        Ok(())
    }

    fn finish_dirs(&mut self) -> Result<(), ApplyError> {
        self.cache = None;
        // Deepest last in tar order; reverse so a parent's time is set
        // after its children's.
        for (path, times) in self.dirs.iter().rev() {
            let Some(comps) = normalize(path) else {
                continue;
            };
            let Some((base, parent)) = comps.split_last() else {
                continue;
            };
            let dir = match self.root.open_dir(parent, OFlags::PATH) {
                Ok(d) => d,
                // Removed later in the same layer (replaced or whited out).
                Err(Errno::NOENT | Errno::NOTDIR) => continue,
                Err(e) => return Err(Self::err(path, "resolve directory")(e)),
            };
            match utimensat(&dir, *base, times, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(Self::err(path, "set directory times")(e)),
            }
        }
        Ok(())
    }
}

fn link_name<R: Read>(e: &tar::Entry<'_, R>, raw: &[u8]) -> Result<Vec<u8>, ApplyError> {
    match e.link_name_bytes() {
        Some(t) if !t.is_empty() && !t.contains(&0) => Ok(t.into_owned()),
        _ => Err(ApplyError::Invalid {
            entry: lossy(raw),
            reason: "link without a target",
        }),
    }
}

/// Copies an entry's data, telling a short or unreadable archive (a read
/// error) from a failing disk (a write error).
fn copy_data(src: &mut impl Read, dst: &mut File, raw: &[u8]) -> Result<(), ApplyError> {
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ApplyError::Read(e)),
        };
        dst.write_all(&buf[..n])
            .map_err(|source| ApplyError::Entry {
                entry: lossy(raw),
                op: "write file",
                source,
            })?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_contains_or_refuses() {
        let n = |s: &str| {
            normalize(s.as_bytes())
                .map(|v| v.iter().map(|c| lossy(c)).collect::<Vec<_>>().join("/"))
        };
        assert_eq!(n("/etc/x").as_deref(), Some("etc/x"));
        assert_eq!(n("./a//b/./c/").as_deref(), Some("a/b/c"));
        assert_eq!(n("a/../b").as_deref(), Some("b"));
        assert_eq!(n("../x"), None);
        assert_eq!(n("a/../../x"), None);
        assert_eq!(n("/../x"), None);
        assert_eq!(n("./").as_deref(), Some(""));
    }

    #[test]
    fn pax_times() {
        let t = pax_time(b"1700000000.25").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 250_000_000));
        let t = pax_time(b"5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (5, 0));
        assert!(pax_time(b"x").is_none());
    }
}
