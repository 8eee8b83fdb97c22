//! Writing a tree of a container's filesystem as tar entries, the way
//! docker's archive package names them (see the parent module).
//!
//! Trees are walked with `*at` calls relative to directory fds, never
//! following a symlink; hardlinked files become links to their first
//! name. Mounts hidden by the view (see `view`) are not entered: the root
//! of one is written as an empty directory, anything else on one is left
//! out.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, openat, statat};
use rustix::io::Errno;

use super::view::{MountState, mount_state};
use super::{ArchiveError, errno};

/// Writes trees as tar entries, hardlinks as links to their first name.
pub(crate) struct TarWriter<W: Write> {
    b: tar::Builder<W>,
    links: HashMap<(u64, u64), String>,
    hidden: HashSet<u64>,
}

impl<W: Write> TarWriter<W> {
    pub fn new(out: W) -> Self {
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        TarWriter {
            b,
            links: HashMap::new(),
            hidden: HashSet::new(),
        }
    }

    /// Leaves out the mounts with these ids (a view's hidden mounts).
    pub fn hiding(mut self, hidden: &HashSet<u64>) -> Self {
        self.hidden = hidden.clone();
        self
    }

    pub fn finish(self) -> Result<W, ArchiveError> {
        self.b.into_inner().map_err(ArchiveError::WriteTar)
    }

    /// Appends an entry named exactly `name` (the builder's own path
    /// setters drop `./` components, which docker's client needs on the
    /// entries of a `/.` copy: it rebases them by replacing the first
    /// `.`). Names and link targets longer than the header's 100 bytes go
    /// in GNU long-name entries before it.
    fn append(
        &mut self,
        mut h: tar::Header,
        name: &str,
        link: Option<&str>,
        data: impl Read,
    ) -> Result<(), ArchiveError> {
        if name.len() > 100 {
            self.long_name(tar::EntryType::GNULongName, name)?;
        }
        if let Some(l) = link.filter(|l| l.len() > 100) {
            self.long_name(tar::EntryType::GNULongLink, l)?;
        }
        let old = h.as_old_mut();
        set_raw(&mut old.name, name);
        if let Some(l) = link {
            set_raw(&mut old.linkname, l);
        }
        h.set_cksum();
        self.b.append(&h, data).map_err(ArchiveError::WriteTar)
    }

    fn long_name(&mut self, kind: tar::EntryType, value: &str) -> Result<(), ArchiveError> {
        let mut h = tar::Header::new_gnu();
        set_raw(&mut h.as_old_mut().name, "././@LongLink");
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(kind);
        let mut data = value.as_bytes().to_vec();
        data.push(0);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.b.append(&h, &data[..]).map_err(ArchiveError::WriteTar)
    }

    /// Adds `name` of directory `parent` (`.`: `parent` itself) as
    /// `arch`, and everything below it.
    pub fn add(&mut self, parent: &OwnedFd, name: &str, arch: &str) -> Result<(), ArchiveError> {
        let st = match statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Gone since the directory was listed: a running container
            // changes its files while they are archived.
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(errno("stat", arch)(e)),
        };
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(u64::from(st.st_uid));
        h.set_gid(u64::from(st.st_gid));
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        let wr = ArchiveError::WriteTar;
        let state = mount_state(&self.hidden, parent.as_fd(), name).map_err(errno("stat", arch))?;
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        match state {
            MountState::Shown => {}
            MountState::HiddenRoot if is_dir => {}
            MountState::HiddenRoot | MountState::Hidden => return Ok(()),
        }
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                h.set_entry_type(tar::EntryType::Directory);
                // The root of an export has no entry of its own.
                if !arch.is_empty() {
                    let dir_name = format!("{}/", arch.trim_end_matches('/'));
                    self.append(h, &dir_name, None, io::empty())?;
                }
                if state == MountState::HiddenRoot {
                    return Ok(());
                }
                let d = openat(
                    parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(errno("open directory", arch))?;
                let mut names = Vec::new();
                for e in rustix::fs::Dir::read_from(&d).map_err(errno("read directory", arch))? {
                    let e = e.map_err(errno("read directory", arch))?;
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n != "." && n != ".." {
                        names.push(n);
                    }
                }
                names.sort();
                for n in names {
                    let child = if arch.is_empty() {
                        n.clone()
                    } else {
                        format!("{}/{n}", arch.trim_end_matches('/'))
                    };
                    self.add(&d, &n, &child)?;
                }
            }
            FileType::RegularFile => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key) {
                        h.set_entry_type(tar::EntryType::Link);
                        let first = first.clone();
                        return self.append(h, arch, Some(&first), io::empty());
                    }
                    self.links.insert(key, arch.to_string());
                }
                // A running container may swap the file for a fifo (open
                // would block) or a device node it made (berthd, outside the
                // device cgroup, would read a host device) since the stat:
                // open without blocking and only read the very inode that
                // was stat'ed as a regular file.
                let f = match openat(
                    parent,
                    name,
                    OFlags::RDONLY
                        | OFlags::NOFOLLOW
                        | OFlags::NOCTTY
                        | OFlags::NONBLOCK
                        | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(f) => f,
                    Err(Errno::NOENT) => return Ok(()),
                    Err(e) => return Err(errno("open", arch)(e)),
                };
                let now = rustix::fs::fstat(&f).map_err(errno("stat", arch))?;
                if FileType::from_raw_mode(now.st_mode) != FileType::RegularFile
                    || (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino)
                {
                    return Err(errno("open", arch)(Errno::AGAIN));
                }
                h.set_entry_type(tar::EntryType::Regular);
                let size = st.st_size.max(0) as u64;
                h.set_size(size);
                // Exactly `size` bytes whatever the file does meanwhile:
                // a shrunk file is padded with zeros, a grown one cut.
                let data = std::fs::File::from(f).chain(io::repeat(0)).take(size);
                self.append(h, arch, None, data)?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(parent, name, Vec::new())
                    .map_err(errno("readlink", arch))?;
                h.set_entry_type(tar::EntryType::Symlink);
                self.append(h, arch, Some(&target.to_string_lossy()), io::empty())?;
            }
            t @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                h.set_entry_type(match t {
                    FileType::CharacterDevice => tar::EntryType::Char,
                    FileType::BlockDevice => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                if t != FileType::Fifo {
                    let dev = st.st_rdev;
                    h.set_device_major(rustix::fs::major(dev)).map_err(wr)?;
                    h.set_device_minor(rustix::fs::minor(dev)).map_err(wr)?;
                }
                self.append(h, arch, None, io::empty())?;
            }
            // Sockets cannot be archived (docker skips them too).
            _ => {}
        }
        Ok(())
    }
}

/// Copies `s` into a NUL-padded header field, cut at its size.
fn set_raw(field: &mut [u8; 100], s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(field.len());
    field.fill(0);
    field[..n].copy_from_slice(&b[..n]);
}
