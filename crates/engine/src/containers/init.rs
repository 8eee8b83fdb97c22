//! `--init` (`HostConfig.Init`): which init binary a container gets.
//!
//! The engine's init is `berth-init` ([`crate::EngineConfig::init_path`]),
//! bound read-only at `/sbin/docker-init` in the container and put in
//! front of its command by the spec builder. Because it runs inside the
//! container's image, which may have another libc or none at all, the
//! binary must be statically linked: one with an ELF interpreter
//! (`PT_INTERP`, a dynamic loader path such as `/lib64/ld-linux-x86-64.so.2`)
//! would fail with "no such file or directory" in most images, so create
//! refuses it with a message that says how to build it.

use std::io::Read;
use std::path::{Path, PathBuf};

use berth_api_types::container::HostConfig;

use super::Error;

/// ELF program header type of the interpreter path (elf(5)).
const PT_INTERP: u32 = 3;

/// The init binary a container with host config `h` runs under, checked:
/// `None` without `--init`; an error when `--init` is asked for and the
/// daemon has no usable init binary.
pub fn init_for(h: &HostConfig, init_path: Option<&Path>) -> Result<Option<PathBuf>, Error> {
    if h.init != Some(true) {
        return Ok(None);
    }
    let Some(path) = init_path else {
        return Err(Error::Unsupported {
            field: "HostConfig.Init (no berth-init binary installed)".to_string(),
        });
    };
    if has_interpreter(path)? {
        return Err(Error::InvalidConfig {
            message: format!(
                "init binary {} is dynamically linked and cannot run in a container's image; build it statically (cargo rustc -p berth-init --release -- -C target-feature=+crt-static)",
                path.display()
            ),
        });
    }
    Ok(Some(path.to_path_buf()))
}

/// Whether the ELF executable at `path` names an interpreter (is
/// dynamically linked). A file that is not a 64-bit little-endian ELF is
/// reported as having none: the runtime reports what it cannot execute.
fn has_interpreter(path: &Path) -> Result<bool, Error> {
    let io = |source| Error::Io {
        op: "read init binary",
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    // The header and the program headers are at the start of the file;
    // 64 KiB covers them for any real executable.
    let mut head = Vec::with_capacity(64 * 1024);
    file.by_ref()
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(io)?;
    Ok(elf_interpreter(&head))
}

/// Whether the ELF image starting with `head` has a `PT_INTERP` program
/// header (ELF64, little-endian: the layouts berth builds for).
fn elf_interpreter(head: &[u8]) -> bool {
    let u16_at = |o: usize| head.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        head.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        head.get(o..o + 8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    };
    // e_ident: magic, EI_CLASS 2 (64-bit), EI_DATA 1 (little-endian).
    if head.len() < 64 || head[..4] != *b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(32), u16_at(54), u16_at(56)) else {
        return false;
    };
    (0..usize::from(phnum)).any(|i| {
        let off = phoff as usize + i * usize::from(phentsize);
        u32_at(off) == Some(PT_INTERP)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_init(init: Option<bool>) -> HostConfig {
        HostConfig {
            init,
            ..Default::default()
        }
    }

    #[test]
    fn no_init_asked_needs_no_binary() {
        assert_eq!(init_for(&with_init(None), None).unwrap(), None);
        assert_eq!(init_for(&with_init(Some(false)), None).unwrap(), None);
    }

    #[test]
    fn init_without_a_binary_is_refused() {
        let err = init_for(&with_init(Some(true)), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HostConfig.Init (no berth-init binary installed) is not supported by berth"
        );
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }

    #[test]
    fn static_binaries_pass_and_dynamic_ones_are_refused() {
        // The test process itself is a dynamically linked Rust binary.
        let me = std::env::current_exe().unwrap();
        let err = init_for(&with_init(Some(true)), Some(&me)).unwrap_err();
        assert!(err.to_string().contains("dynamically linked"), "{err}");

        // An ELF header with no program headers has no interpreter.
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("init");
        std::fs::write(&p, &elf).unwrap();
        assert_eq!(
            init_for(&with_init(Some(true)), Some(&p)).unwrap(),
            Some(p.clone())
        );
        let missing = dir.path().join("missing");
        assert!(init_for(&with_init(Some(true)), Some(&missing)).is_err());
    }

    #[test]
    fn interpreters_are_found_in_program_headers() {
        // ELF64 LE header with two program headers at 64, the second
        // PT_INTERP.
        let mut elf = vec![0u8; 64 + 2 * 56];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[32..40].copy_from_slice(&64u64.to_le_bytes());
        elf[54..56].copy_from_slice(&56u16.to_le_bytes());
        elf[56..58].copy_from_slice(&2u16.to_le_bytes());
        elf[64..68].copy_from_slice(&1u32.to_le_bytes());
        elf[120..124].copy_from_slice(&PT_INTERP.to_le_bytes());
        assert!(elf_interpreter(&elf));
        elf[120..124].copy_from_slice(&6u32.to_le_bytes());
        assert!(!elf_interpreter(&elf));
        assert!(!elf_interpreter(b"#!/bin/sh\n"));
    }
}
