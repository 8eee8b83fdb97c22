//! Running from a sealed in-memory copy of our own binary (CVE-2019-5736).
//!
//! A process that enters a container is, until it `execve`s the user's
//! program, an image of this binary. If a process of the container can see
//! it, it can open `/proc/<pid>/exe` and, once we exit, write through it to
//! replace the runtime on the host. The classic trigger is a container
//! "binary" that is a script starting with `#!/proc/self/exe`: the kernel
//! then runs *our* binary as the container's process.
//!
//! So when a container process might be seen by another process of the
//! container, we first copy the binary into a memfd, seal it against every
//! write, and re-exec from there: the only binary a container can reach is
//! that immutable copy. That is the case for `exec` (it joins a running
//! container) and for `create`/`run` of a container that joins an existing
//! pid namespace or has none of its own.
//!
//! A container with a *new* pid namespace needs no copy: its init is pid 1
//! there and alone until it execs, and if it execs our binary through the
//! `#!/proc/self/exe` trick, that binary runs as pid 1, which holds it busy
//! (ETXTBSY for any writer) for as long as the namespace lives: when pid 1
//! exits, every process that could have opened it dies with it
//! (pid_namespaces(7)). Skipping the copy there saves copying several
//! megabytes and a second execve on every container start.

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
    // F_SEAL_WRITE fails with EBUSY while any page of the file holds an
    // extra reference (fcntl(2)); the kernel waits a little for pins, but
    // the copy's freshly written pages can still sit in another CPU's LRU
    // batch, which holds one until drained. That is transient: try again.
    let mut tries = 0;
    loop {
        match fcntl_add_seals(&mfd, SEALS) {
            Err(rustix::io::Errno::BUSY) if tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            r => break r.map_err(err("seal memfd"))?,
        }
    }
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

/// True when `<bundle>/config.json` gives the container a new pid namespace
/// (a `pid` entry without a path). Any doubt (unreadable or malformed
/// config) answers false, which means "copy": the safe side. The config is
/// validated properly later, after the copy.
pub fn gets_new_pid_namespace(bundle: &std::path::Path) -> bool {
    let Ok(data) = std::fs::read(bundle.join("config.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data) else {
        return false;
    };
    v["linux"]["namespaces"].as_array().is_some_and(|l| {
        l.iter()
            .any(|ns| ns["type"] == "pid" && ns["path"].as_str().is_none_or(|p| p.is_empty()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(config: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("config.json"), config).unwrap();
        d
    }

    #[test]
    fn only_a_new_pid_namespace_skips_the_copy() {
        let new = bundle_with(r#"{"linux":{"namespaces":[{"type":"mount"},{"type":"pid"}]}}"#);
        assert!(gets_new_pid_namespace(new.path()));
        let joined =
            bundle_with(r#"{"linux":{"namespaces":[{"type":"pid","path":"/proc/1/ns/pid"}]}}"#);
        assert!(!gets_new_pid_namespace(joined.path()));
        let none = bundle_with(r#"{"linux":{"namespaces":[{"type":"mount"}]}}"#);
        assert!(!gets_new_pid_namespace(none.path()));
        let bad = bundle_with("{");
        assert!(!gets_new_pid_namespace(bad.path()));
        assert!(!gets_new_pid_namespace(std::path::Path::new(
            "/nonexistent"
        )));
    }
}
