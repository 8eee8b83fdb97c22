//! Copying a snapshot tree with everything a layer can carry: owners,
//! modes (setuid included), xattrs, times, hardlinks, symlinks, device
//! nodes and fifos. Used by the native snapshotter, whose parents are
//! committed and so never change while being copied.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, FileType, Mode, Timespec, Timestamps, XattrFlags, lsetxattr, mknodat, utimensat,
};

/// Errors copying a tree.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {source}")]
pub struct CopyError {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CopyError + 'a {
    move |source| CopyError {
        op,
        path: path.to_owned(),
        source,
    }
}

/// The extended attributes of `path` (not following a final symlink).
pub fn xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    let n = loop {
        match rustix::fs::llistxattr(path, &mut names[..]) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(rustix::io::Errno::OPNOTSUPP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut val = vec![0u8; 256];
        let len = loop {
            match rustix::fs::lgetxattr(path, name.as_str(), &mut val[..]) {
                Ok(len) => break len,
                Err(rustix::io::Errno::RANGE) => val.resize(val.len() * 4, 0),
                // Removed between list and get.
                Err(rustix::io::Errno::NODATA) => break usize::MAX,
                Err(e) => return Err(e.into()),
            }
        };
        if len != usize::MAX {
            val.truncate(len);
            out.push((name, val));
        }
    }
    out.sort();
    Ok(out)
}

fn times(md: &fs::Metadata) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: md.atime(),
            tv_nsec: md.atime_nsec() as _,
        },
        last_modification: Timespec {
            tv_sec: md.mtime(),
            tv_nsec: md.mtime_nsec() as _,
        },
    }
}

/// Copies the contents of directory `src` into the existing directory
/// `dst`, and `src`'s own metadata onto `dst`.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<(), CopyError> {
    let mut links = HashMap::new();
    copy_dir(src, dst, &mut links)?;
    let md = fs::symlink_metadata(src).map_err(err("stat", src))?;
    apply_meta(src, dst, &md, false)
}

fn copy_dir(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<(), CopyError> {
    let mut entries: Vec<_> = fs::read_dir(src)
        .map_err(err("read directory", src))?
        .collect::<Result<_, _>>()
        .map_err(err("read directory", src))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let s = e.path();
        let d = dst.join(e.file_name());
        let md = fs::symlink_metadata(&s).map_err(err("stat", &s))?;
        let ft = md.file_type();
        if !ft.is_dir() && md.nlink() > 1 {
            if let Some(first) = links.get(&(md.dev(), md.ino())) {
                fs::hard_link(first, &d).map_err(err("link", &d))?;
                continue;
            }
            links.insert((md.dev(), md.ino()), d.clone());
        }
        let symlink_entry = ft.is_symlink();
        match FileType::from_raw_mode(md.mode()) {
            FileType::Directory => {
                fs::create_dir(&d).map_err(err("create directory", &d))?;
                copy_dir(&s, &d, links)?;
            }
            FileType::RegularFile => {
                // fs::copy uses copy_file_range(2), which lets filesystems
                // share extents instead of copying bytes.
                fs::copy(&s, &d).map_err(err("copy file", &d))?;
            }
            FileType::Symlink => {
                let target = fs::read_link(&s).map_err(err("read symlink", &s))?;
                symlink(&target, &d).map_err(err("create symlink", &d))?;
            }
            t @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                mknodat(
                    rustix::fs::CWD,
                    &d,
                    t,
                    Mode::from_raw_mode(0o600),
                    md.rdev(),
                )
                .map_err(|e| err("create node", &d)(e.into()))?;
            }
            // Sockets belong to running processes, not to layers.
            _ => continue,
        }
        apply_meta(&s, &d, &md, symlink_entry)?;
    }
    Ok(())
}

/// Owner, then mode (chown clears setuid), then xattrs, then times.
fn apply_meta(src: &Path, dst: &Path, md: &fs::Metadata, symlink: bool) -> Result<(), CopyError> {
    std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid())).map_err(err("chown", dst))?;
    if !symlink {
        fs::set_permissions(dst, fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(err("chmod", dst))?;
    }
    for (k, v) in xattrs(src).map_err(err("read xattrs", src))? {
        match lsetxattr(dst, k.as_str(), &v, XattrFlags::empty()) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM | rustix::io::Errno::OPNOTSUPP) if symlink => {}
            Err(e) => return Err(err("set xattr", dst)(e.into())),
        }
    }
    utimensat(rustix::fs::CWD, dst, &times(md), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| err("set times", dst)(e.into()))
}
