//! Unix socket paths of any length.
//!
//! `sun_path` holds at most 107 bytes (unix(7)), and a state directory under
//! a long data or exec root (a temp dir, a 64-hex container id) can exceed
//! it. A socket in such a directory is reached through the directory's file
//! descriptor instead: `/proc/self/fd/N/NAME` is short, and the kernel
//! resolves it to the same socket inode.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Longest path used as is (leaves room for the terminating NUL).
const MAX_DIRECT: usize = 100;

/// A socket path shortened when needed; the directory stays open (and the
/// short path valid) for as long as this value lives.
#[derive(Debug)]
pub struct SocketPath {
    short: PathBuf,
    /// For another process (the OCI runtime connecting to a console socket):
    /// `/proc/<our pid>/fd/N/NAME`, or the original path.
    for_others: PathBuf,
    _dir: Option<OwnedFd>,
}

impl SocketPath {
    pub fn new(path: &Path) -> io::Result<SocketPath> {
        if path.as_os_str().len() <= MAX_DIRECT {
            return Ok(SocketPath {
                short: path.to_path_buf(),
                for_others: path.to_path_buf(),
                _dir: None,
            });
        }
        let (dir, name) = match (path.parent(), path.file_name()) {
            (Some(d), Some(n)) => (d, n),
            _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
        };
        let fd: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags_dir()
            .open(dir)?
            .into();
        let n = fd.as_raw_fd();
        Ok(SocketPath {
            short: PathBuf::from(format!("/proc/self/fd/{n}")).join(name),
            for_others: PathBuf::from(format!("/proc/{}/fd/{n}", std::process::id())).join(name),
            _dir: Some(fd),
        })
    }

    /// The path for this process's own bind/connect.
    pub fn as_path(&self) -> &Path {
        &self.short
    }

    /// The path to hand to another process while this one is alive.
    pub fn for_others(&self) -> &Path {
        &self.for_others
    }
}

trait DirFlags {
    fn custom_flags_dir(&mut self) -> &mut Self;
}

impl DirFlags for std::fs::OpenOptions {
    fn custom_flags_dir(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
    }
}

/// `UnixStream::connect` for a path of any length.
pub fn connect(path: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(SocketPath::new(path)?.as_path())
}

/// `UnixListener::bind` for a path of any length.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    UnixListener::bind(SocketPath::new(path)?.as_path())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn long_paths_bind_and_connect() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("x".repeat(60)).join("y".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let sock = deep.join("shim.sock");
        assert!(sock.as_os_str().len() > 108);
        assert!(UnixListener::bind(&sock).is_err(), "the limit is real");
        let l = bind(&sock).unwrap();
        assert!(sock.exists(), "the socket is in the long directory");
        let mut c = connect(&sock).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        let p = SocketPath::new(&sock).unwrap();
        assert!(
            p.for_others()
                .starts_with(format!("/proc/{}/fd", std::process::id()))
        );
        assert!(UnixStream::connect(p.for_others()).is_ok());
    }
}
