//! A minimal root filesystem made of the host's static busybox.
//!
//! Debian's `busybox-static` package ships a statically linked
//! `/usr/bin/busybox`, so the tree needs no shared libraries: `bin/busybox`
//! plus one `bin/<applet> -> busybox` symlink per applet, the usual empty
//! mount points, and `/etc/passwd` and `/etc/group` naming root and nobody.
//!
//! The applet list is read once per test process (`busybox --list`) and
//! cached; each bundle then gets its own copy of the binary. A copy, not a
//! hardlink: the container's root may be writable, and a container writing
//! `/bin/busybox` must not reach the host's file.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Where Debian's `busybox-static` installs the static binary.
pub const BUSYBOX: &str = "/usr/bin/busybox";

/// Empty directories of the tree, with their modes.
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("tmp", 0o1777),
    ("etc", 0o755),
    ("root", 0o700),
    ("var", 0o755),
    ("var/tmp", 0o1777),
];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";

/// The applets the host busybox provides, read once per process.
///
/// Panics naming the package when the binary is missing, since every
/// container test depends on it.
pub fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        if !Path::new(BUSYBOX).exists() {
            panic!(
                "{BUSYBOX} is missing: install the Debian package busybox-static \
                 (apt-get install -y busybox-static)"
            );
        }
        let out = Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .unwrap_or_else(|e| panic!("run {BUSYBOX} --list: {e}"));
        assert!(out.status.success(), "{BUSYBOX} --list failed: {:?}", out);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
            .map(str::to_owned)
            .collect()
    })
}

/// Builds the busybox tree at `dest`, which is created if missing.
pub fn populate(dest: &Path) {
    let applets = applets();
    for (dir, mode) in DIRS {
        let path = dest.join(dir);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        // create_dir_all applies the umask; the sticky bit of /tmp needs an
        // explicit chmod anyway.
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    }
    let bin = dest.join("bin/busybox");
    fs::copy(BUSYBOX, &bin).unwrap_or_else(|e| panic!("copy {BUSYBOX} to {}: {e}", bin.display()));
    for applet in applets {
        let link = dest.join("bin").join(applet);
        symlink("busybox", &link).unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
    }
    for (name, text) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
        let path = dest.join(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_has_shell_and_accounts() {
        let dir = tempfile::tempdir().expect("tempdir");
        populate(dir.path());
        assert!(dir.path().join("bin/busybox").is_file());
        assert_eq!(
            fs::read_link(dir.path().join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        let passwd = fs::read_to_string(dir.path().join("etc/passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"));
        assert!(passwd.contains("nobody:x:65534:65534:"));
        let tmp = fs::metadata(dir.path().join("tmp")).unwrap();
        assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
    }

    #[test]
    fn running_the_tree_shell_works() {
        let dir = tempfile::tempdir().expect("tempdir");
        populate(dir.path());
        let out = Command::new(dir.path().join("bin/sh"))
            .args(["-c", "echo ok"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    }
}
