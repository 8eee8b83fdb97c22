//! Root tests: the rootfs and the host stay apart, whatever the image holds.

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use serde_json::json;

use super::*;

#[test]
fn symlinks_cannot_escape_the_rootfs() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    let name = testkit::unique_name("berth-escape");
    symlink("/etc", f.rootfs.join("evil")).unwrap();
    symlink("../../../../../../../..", f.rootfs.join("up")).unwrap();
    fs::write(f.dir.path().join("payload"), "payload").unwrap();
    let s = spec(json!({
        "root": {"path": "rootfs"},
        "mounts": [
            {"destination": format!("/evil/{name}"), "type": "tmpfs"},
            {"destination": format!("/up/tmp/{name}"), "type": "bind",
             "source": "payload", "options": ["bind"]},
            {"destination": format!("/../../{name}-dotdot"), "type": "tmpfs"}
        ]
    }));
    let rootfs = f.rootfs.clone();
    let result = in_child(CloneFlags::empty(), || {
        prepare(&s, f.bundle()).map_err(|e| format!("prepare: {e}"))?;
        for host in [Path::new("/etc").join(&name), Path::new("/tmp").join(&name)] {
            ensure!(!host.exists(), "{} was created on the host", host.display());
        }
        let etc = rootfs.join("etc").join(&name);
        ensure!(
            is_mount_point(&etc)?,
            "{} is not a mount point",
            etc.display()
        );
        let file = rootfs.join("tmp").join(&name);
        let payload =
            fs::read_to_string(&file).map_err(|e| format!("read {}: {e}", file.display()))?;
        ensure!(payload == "payload", "bind mount shows {payload:?}");
        let dotdot = rootfs.join(format!("{name}-dotdot"));
        ensure!(
            is_mount_point(&dotdot)?,
            "{} is not a mount point",
            dotdot.display()
        );
        Ok(())
    });
    assert_eq!(result, Ok(()));
    assert!(!Path::new("/etc").join(&name).exists());
    assert!(!Path::new("/tmp").join(&name).exists());
    f.assert_no_mounts_left();
}

#[test]
fn procfs_destinations_are_checked() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    fs::create_dir(f.rootfs.join("elsewhere")).unwrap();
    symlink("/elsewhere", f.rootfs.join("proc")).unwrap();
    symlink("/proc", f.rootfs.join("pp")).unwrap();
    let proc_on_symlink = spec(json!({"root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc"}]}));
    let result = in_child(CloneFlags::empty(), || {
        match prepare(&proc_on_symlink, f.bundle()) {
            Err(RootfsError::SymlinkRefused { .. }) => Ok(()),
            other => Err(format!("procfs on a symlink: {other:?}")),
        }
    });
    assert_eq!(result, Ok(()));

    // With /proc a real directory, /pp/sys is lexically outside /proc but
    // resolves into it: the check must look at the resolved path.
    fs::remove_file(f.rootfs.join("proc")).unwrap();
    fs::create_dir(f.rootfs.join("proc")).unwrap();
    let into_proc = spec(json!({"root": {"path": "rootfs"},
        "mounts": [{"destination": "/pp/sys", "type": "tmpfs"}]}));
    let result = in_child(CloneFlags::empty(), || {
        match prepare(&into_proc, f.bundle()) {
            Err(RootfsError::ProcDestination { resolved, .. })
                if resolved == Path::new("/proc/sys") =>
            {
                Ok(())
            }
            other => Err(format!("tmpfs through a symlink into /proc: {other:?}")),
        }
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}

#[test]
fn masking_refuses_a_fake_dev_null() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    fs::write(f.rootfs.join("secret"), "top secret").unwrap();
    let s = spec(json!({
        "root": {"path": "rootfs"},
        "mounts": [{"destination": "/dev", "type": "tmpfs", "options": ["mode=755"]}],
        "linux": {"maskedPaths": ["/secret"]}
    }));
    let result = in_child(CloneFlags::empty(), || {
        prepare(&s, f.bundle()).map_err(|e| format!("prepare: {e}"))?;
        let rootfs = rootfs_path(&s, f.bundle()).map_err(|e| e.to_string())?;
        pivot(&rootfs, false).map_err(|e| format!("pivot: {e}"))?;
        // What a malicious container process racing with the runtime would do.
        fs::write("/decoy", "decoy").map_err(|e| e.to_string())?;
        fs::remove_file("/dev/null").map_err(|e| e.to_string())?;
        symlink("/decoy", "/dev/null").map_err(|e| e.to_string())?;
        match finalize(&s) {
            Err(RootfsError::NotDevNull { .. }) => {}
            other => return Err(format!("finalize with a fake /dev/null: {other:?}")),
        }
        let secret = fs::read_to_string("/secret").map_err(|e| e.to_string())?;
        ensure!(
            secret == "top secret",
            "/secret was covered with {secret:?}"
        );
        Ok(())
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}

#[test]
fn console_is_a_bind_mount_of_the_pty() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    let s = pty_spec();
    let result = in_child(CloneFlags::empty(), || {
        setup(&s, f.bundle(), false)?;
        let (_master, slave) = open_pty()?;
        bind_console(&slave).map_err(|e| format!("bind_console: {e}"))?;
        let console = fs::metadata("/dev/console").map_err(|e| e.to_string())?;
        let pty = fs::metadata(&slave).map_err(|e| e.to_string())?;
        ensure!(
            console.rdev() == pty.rdev(),
            "/dev/console is not {}",
            slave.display()
        );
        match bind_console(Path::new("/dev/null")) {
            Err(RootfsError::NotPty { .. }) => Ok(()),
            other => Err(format!("bind_console(/dev/null): {other:?}")),
        }
    });
    assert_eq!(result, Ok(()));

    let result = in_child(CloneFlags::empty(), || {
        setup(&s, f.bundle(), false)?;
        let (_master, slave) = open_pty()?;
        symlink("/proc/sys/kernel/core_pattern", "/dev/console").map_err(|e| e.to_string())?;
        match bind_console(&slave) {
            Err(RootfsError::SymlinkRefused { .. }) => Ok(()),
            other => Err(format!("bind_console onto a symlink: {other:?}")),
        }
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}

#[test]
fn sysctl_writes_are_not_redirected() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    let with_proc = spec(json!({
        "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc"}],
        "linux": {"sysctl": {"kernel.hostname": "redirected"}}
    }));
    let result = in_child(CloneFlags::CLONE_NEWUTS, || {
        prepare(&with_proc, f.bundle()).map_err(|e| format!("prepare: {e}"))?;
        let rootfs = rootfs_path(&with_proc, f.bundle()).map_err(|e| e.to_string())?;
        pivot(&rootfs, false).map_err(|e| format!("pivot: {e}"))?;
        // A file bind-mounted over the sysctl, as a hostile mount would.
        fs::write("/decoy", "").map_err(|e| e.to_string())?;
        let none = None::<&str>;
        nix::mount::mount(
            Some("/decoy"),
            "/proc/sys/kernel/hostname",
            none,
            MsFlags::MS_BIND,
            none,
        )
        .map_err(|e| format!("bind over the sysctl: {e}"))?;
        match finalize(&with_proc) {
            Err(RootfsError::Io { op: "open", .. }) => {}
            other => return Err(format!("sysctl through an overmount: {other:?}")),
        }
        let decoy = fs::read_to_string("/decoy").map_err(|e| e.to_string())?;
        ensure!(
            decoy.is_empty(),
            "the value went to the overmount: {decoy:?}"
        );
        Ok(())
    });
    assert_eq!(result, Ok(()));

    // /proc is now a plain directory in the rootfs (made for the mount above).
    assert!(f.rootfs.join("proc").is_dir());
    let without_proc = spec(json!({
        "root": {"path": "rootfs"},
        "linux": {"sysctl": {"kernel.hostname": "redirected"}}
    }));
    let result = in_child(CloneFlags::CLONE_NEWUTS, || {
        prepare(&without_proc, f.bundle()).map_err(|e| format!("prepare: {e}"))?;
        let rootfs = rootfs_path(&without_proc, f.bundle()).map_err(|e| e.to_string())?;
        pivot(&rootfs, false).map_err(|e| format!("pivot: {e}"))?;
        match finalize(&without_proc) {
            Err(RootfsError::NotProcfs { .. }) => Ok(()),
            other => Err(format!("sysctl without a procfs: {other:?}")),
        }
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}
