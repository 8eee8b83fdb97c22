//! Running from a sealed in-memory copy of our own binary (CVE-2019-5736).
//!
//! A process that enters a container is, until it `execve`s the user's
//! program, an image of this binary; a malicious container could open
//! `/proc/<pid>/exe` and, once we exit, write through it to replace the
//! runtime on the host. So `create`, `run` and `exec` first copy the binary
//! into a memfd, seal it against every write, and re-exec from there: the
//! only binary a container can reach is that immutable copy.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;

use rustix::fs::{MemfdFlags, SealFlags, fcntl_add_seals, fcntl_get_seals, memfd_create};

/// Errors while cloning the binary.
#[derive(Debug, thiserror::Error)]
pub enum SelfExeError {
    #[error("clone runtime binary: {op}: {source}")]
    Clone {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

fn err(op: &'static str) -> impl FnOnce(rustix::io::Errno) -> SelfExeError {
    move |e| SelfExeError::Clone {
        op,
        source: e.into(),
    }
}

const SEALS: SealFlags = SealFlags::SEAL
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::WRITE);

/// Returns when this process runs from a sealed memfd; otherwise makes one
/// and re-executes itself from it (and so never returns on success).
pub fn ensure_cloned() -> Result<(), SelfExeError> {
    let exe = File::open("/proc/self/exe").map_err(|source| SelfExeError::Clone {
        op: "open /proc/self/exe",
        source,
    })?;
    // F_GET_SEALS fails (EINVAL) on anything but a memfd.
    if fcntl_get_seals(&exe).is_ok_and(|s| s.contains(SEALS)) {
        return Ok(());
    }
    let mfd = memfd_create(
        "berth-runc",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(err("memfd_create"))?;
    let size = exe
        .metadata()
        .map_err(|source| SelfExeError::Clone {
            op: "stat /proc/self/exe",
            source,
        })?
        .len();
    let mut copied = 0u64;
    while copied < size {
        // sendfile(2) copies inside the kernel, from the page cache.
        let n = rustix::fs::sendfile(mfd.as_fd(), exe.as_fd(), None, (size - copied) as usize)
            .map_err(err("copy into memfd"))?;
        if n == 0 {
            break;
        }
        copied += n as u64;
    }
    fcntl_add_seals(&mfd, SEALS).map_err(err("seal memfd"))?;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_vec()).unwrap_or_default())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    let e = nix::unistd::fexecve(&mfd, &args, &env).unwrap_err();
    Err(SelfExeError::Clone {
        op: "execute sealed copy",
        source: e.into(),
    })
}
