//! Root tests: mounts, devices, pivot and finalize doing their job.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use serde_json::json;

use super::*;

#[test]
fn prepare_pivot_finalize() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    let volume = f.dir.path().join("volume");
    fs::create_dir(&volume).unwrap();
    fs::write(volume.join("hello"), "from the host").unwrap();
    fs::write(f.rootfs.join("secret"), "top secret").unwrap();
    fs::create_dir(f.rootfs.join("secretdir")).unwrap();
    fs::write(f.rootfs.join("secretdir/file"), "x").unwrap();
    let mut mounts = runc_mounts();
    mounts.as_array_mut().unwrap().extend([
        json!({"destination": "/data", "type": "bind", "source": "volume",
               "options": ["rbind", "ro", "rprivate"]}),
        json!({"destination": "/sized", "type": "tmpfs", "options": ["size=1m"]}),
        json!({"destination": "/flags", "type": "tmpfs", "options": ["nosuid", "nodev", "noexec"]}),
    ]);
    let s = spec(json!({
        "root": {"path": "rootfs"},
        "mounts": mounts,
        "linux": {
            "sysctl": {"kernel.hostname": "berth-rootfs-test"},
            "readonlyPaths": ["/proc/sys", "/proc/berth-missing"],
            "maskedPaths": ["/secret", "/secretdir", "/proc/berth-missing"]
        }
    }));
    let host_dir = fs::canonicalize(f.dir.path()).unwrap();
    let result = in_child(CloneFlags::CLONE_NEWUTS, || {
        setup(&s, f.bundle(), false)?;
        check_container(&host_dir)
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}

/// What `prepare_pivot_finalize` checks from inside the container.
fn check_container(host_dir: &Path) -> Check {
    ensure!(
        !host_dir.exists(),
        "the host's {} is still visible",
        host_dir.display()
    );
    ensure!(
        fs_type("/proc")? == rustix::fs::PROC_SUPER_MAGIC,
        "/proc is not a procfs"
    );
    ensure!(
        fs_type("/dev/mqueue")? == MQUEUE_MAGIC,
        "/dev/mqueue is not an mqueue fs"
    );

    let sized = rustix::fs::statvfs("/sized").map_err(|e| e.to_string())?;
    ensure!(
        sized.f_blocks * sized.f_frsize == 1 << 20,
        "size=1m gave {} blocks",
        sized.f_blocks
    );

    let hello = fs::read_to_string("/data/hello").map_err(|e| format!("read /data/hello: {e}"))?;
    ensure!(hello == "from the host", "bind mount shows {hello:?}");
    ensure!(
        errno(fs::write("/data/new", "x")) == Some(libc::EROFS),
        "ro bind mount is writable"
    );
    ensure!(
        mount_at("/data")?.has_mount_option("ro"),
        "/data is not ro in mountinfo"
    );
    let flags = mount_at("/flags")?;
    for option in ["nosuid", "nodev", "noexec"] {
        ensure!(
            flags.has_mount_option(option),
            "/flags lacks {option}: {flags:?}"
        );
    }

    let secret = fs::read_to_string("/secret").map_err(|e| format!("read /secret: {e}"))?;
    ensure!(secret.is_empty(), "masked file reads {secret:?}");
    let entries = fs::read_dir("/secretdir")
        .map_err(|e| e.to_string())?
        .count();
    ensure!(entries == 0, "masked directory has {entries} entries");
    ensure!(
        errno(fs::write("/secretdir/new", "x")) == Some(libc::EROFS),
        "mask is writable"
    );

    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").map_err(|e| e.to_string())?;
    ensure!(
        hostname == "berth-rootfs-test\n",
        "sysctl not written: {hostname:?}"
    );
    let uts = nix::unistd::gethostname().map_err(|e| e.to_string())?;
    ensure!(uts == "berth-rootfs-test", "hostname is {uts:?}");
    let write = fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/kernel/hostname");
    ensure!(errno(write) == Some(libc::EROFS), "/proc/sys is writable");

    for (path, major, minor) in [("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/tty", 5, 0)] {
        let meta = fs::metadata(path).map_err(|e| format!("stat {path}: {e}"))?;
        ensure!(
            meta.file_type().is_char_device(),
            "{path} is not a char device"
        );
        ensure!(
            meta.rdev() == rustix::fs::makedev(major, minor),
            "{path} has rdev {}",
            meta.rdev()
        );
        ensure!(
            meta.permissions().mode() & 0o7777 == 0o666,
            "{path} mode {:o}",
            meta.mode()
        );
    }
    let links = [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ];
    for (link, target) in links {
        let read = fs::read_link(link).map_err(|e| format!("readlink {link}: {e}"))?;
        ensure!(read == Path::new(target), "{link} -> {}", read.display());
    }
    let flags = rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY;
    rustix::pty::openpt(flags).map_err(|e| format!("open /dev/ptmx: {e}"))?;

    let sys = rustix::fs::statvfs("/sys").map_err(|e| e.to_string())?;
    ensure!(
        sys.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
        "/sys is writable"
    );
    check_cgroups()
}

fn check_cgroups() -> Check {
    let pid = std::process::id().to_string();
    let procs = if fs_type("/sys/fs/cgroup")? == TMPFS_MAGIC {
        ensure!(
            errno(fs::create_dir("/sys/fs/cgroup/x")) == Some(libc::EROFS),
            "tmpfs is writable"
        );
        "/sys/fs/cgroup/memory/cgroup.procs"
    } else {
        "/sys/fs/cgroup/cgroup.procs"
    };
    let members = fs::read_to_string(procs).map_err(|e| format!("read {procs}: {e}"))?;
    ensure!(
        members.lines().any(|l| l == pid),
        "{procs} does not list this process"
    );
    let write = fs::OpenOptions::new().write(true).open(procs);
    ensure!(errno(write) == Some(libc::EROFS), "{procs} is writable");
    Ok(())
}

#[test]
fn no_pivot_moves_the_rootfs_onto_slash() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    fs::write(f.rootfs.join("marker"), "inside").unwrap();
    let s = spec(json!({
        "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc"}]
    }));
    let host_dir = fs::canonicalize(f.dir.path()).unwrap();
    let result = in_child(CloneFlags::empty(), || {
        setup(&s, f.bundle(), true)?;
        let marker = fs::read_to_string("/marker").map_err(|e| format!("read /marker: {e}"))?;
        ensure!(marker == "inside", "/ is not the rootfs");
        ensure!(
            !host_dir.exists(),
            "the host's {} is visible",
            host_dir.display()
        );
        ensure!(
            fs_type("/proc")? == rustix::fs::PROC_SUPER_MAGIC,
            "/proc is not a procfs"
        );
        let root = mount_at("/")?;
        ensure!(root.fstype != "rootfs", "/ is the initial rootfs");
        Ok(())
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}

#[test]
fn readonly_root_and_deferred_readonly_mounts() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    let s = spec(json!({
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/dev", "type": "tmpfs", "options": ["ro", "mode=755"]},
            {"destination": "/ro", "type": "tmpfs", "options": ["ro", "size=1m"]},
            // Needs its mount point created inside the read-only tmpfs above.
            {"destination": "/ro/sub", "type": "tmpfs"}
        ],
        "linux": {"rootfsPropagation": "rshared"}
    }));
    let result = in_child(CloneFlags::empty(), || {
        setup(&s, f.bundle(), false)?;
        ensure!(
            errno(fs::write("/marker", "x")) == Some(libc::EROFS),
            "/ is writable"
        );
        ensure!(
            errno(fs::create_dir("/ro/x")) == Some(libc::EROFS),
            "/ro is writable"
        );
        fs::write("/ro/sub/file", "x").map_err(|e| format!("write /ro/sub/file: {e}"))?;
        ensure!(
            errno(fs::write("/dev/x", "x")) == Some(libc::EROFS),
            "/dev is writable"
        );
        fs::write("/dev/null", "x").map_err(|e| format!("write /dev/null: {e}"))?;
        Ok(())
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}

#[test]
fn stdio_on_dev_null_is_reopened_inside() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    let s = pty_spec();
    let result = in_child(CloneFlags::empty(), || {
        let host_null = fs::OpenOptions::new()
            .read(true)
            .open("/dev/null")
            .map_err(|e| e.to_string())?;
        rustix::stdio::dup2_stdin(&host_null).map_err(|e| e.to_string())?;
        let host_dev = rustix::fs::fstat(rustix::stdio::stdin())
            .map_err(|e| e.to_string())?
            .st_dev;
        setup(&s, f.bundle(), false)?;
        reopen_dev_null().map_err(|e| format!("reopen_dev_null: {e}"))?;
        let stdin = rustix::fs::fstat(rustix::stdio::stdin()).map_err(|e| e.to_string())?;
        let inside = fs::metadata("/dev/null").map_err(|e| e.to_string())?;
        ensure!(
            stdin.st_dev != host_dev,
            "stdin is still the host's /dev/null"
        );
        ensure!(
            stdin.st_dev == inside.dev() && stdin.st_ino == inside.ino(),
            "stdin is not /dev/null"
        );
        Ok(())
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}

#[test]
fn tmpcopyup_copies_the_covered_directory() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    fs::create_dir_all(f.rootfs.join("etc/sub")).unwrap();
    fs::write(f.rootfs.join("etc/sub/conf"), "setting").unwrap();
    fs::set_permissions(f.rootfs.join("etc"), fs::Permissions::from_mode(0o751)).unwrap();
    let s = spec(json!({
        "root": {"path": "rootfs"},
        "mounts": [{"destination": "/etc", "type": "tmpfs", "options": ["tmpcopyup", "nosuid"]}]
    }));
    let rootfs = f.rootfs.clone();
    let result = in_child(CloneFlags::empty(), || {
        prepare(&s, f.bundle()).map_err(|e| format!("prepare: {e}"))?;
        let etc = rootfs.join("etc");
        ensure!(is_mount_point(&etc)?, "/etc is not a mount point");
        let conf = fs::read_to_string(etc.join("sub/conf")).map_err(|e| e.to_string())?;
        ensure!(conf == "setting", "copied file reads {conf:?}");
        let mode = fs::metadata(&etc)
            .map_err(|e| e.to_string())?
            .permissions()
            .mode();
        ensure!(
            mode & 0o7777 == 0o751,
            "tmpfs root has mode {mode:o}, not the directory's"
        );
        fs::write(etc.join("new"), "x").map_err(|e| e.to_string())?;
        Ok(())
    });
    assert_eq!(result, Ok(()));
    assert!(
        !f.rootfs.join("etc/new").exists(),
        "the write went to the host directory"
    );
    f.assert_no_mounts_left();
}

#[test]
fn cgroup_v2_host_gets_a_cgroup2_mount() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    let s = spec(json!({
        "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc"},
                   {"destination": "/sys/fs/cgroup", "type": "cgroup",
                    "options": ["nosuid", "noexec", "nodev", "ro"]}]
    }));
    let result = in_child(CloneFlags::empty(), || {
        const CGROUP2_MAGIC: rustix::fs::FsWord = 0x6367_7270;
        if fs_type("/sys/fs/cgroup")? != CGROUP2_MAGIC {
            // A v1 or hybrid host: make it look like a v2 one, in this namespace only.
            let unified = mount_at("/sys/fs/cgroup/unified")
                .map_err(|e| format!("this host has no cgroup2 mount: {e}"))?;
            let bind = MsFlags::MS_BIND;
            nix::mount::mount(
                Some(&unified.mount_point),
                "/sys/fs/cgroup",
                None::<&str>,
                bind,
                None::<&str>,
            )
            .map_err(|e| format!("bind cgroup2 over /sys/fs/cgroup: {e}"))?;
        }
        setup(&s, f.bundle(), false)?;
        ensure!(
            fs_type("/sys/fs/cgroup")? == CGROUP2_MAGIC,
            "/sys/fs/cgroup is not cgroup2"
        );
        ensure!(
            mount_at("/sys/fs/cgroup")?.has_mount_option("ro"),
            "cgroup2 mount is not ro"
        );
        let procs = fs::read_to_string("/sys/fs/cgroup/cgroup.procs").map_err(|e| e.to_string())?;
        let own = fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
        // Without a cgroup namespace the whole hierarchy shows: find our own cgroup in it.
        let path = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .ok_or("no cgroup2 line")?;
        let procs = if path == "/" {
            procs
        } else {
            let file = format!("/sys/fs/cgroup{path}/cgroup.procs");
            fs::read_to_string(&file).map_err(|e| format!("read {file}: {e}"))?
        };
        let pid = std::process::id().to_string();
        ensure!(
            procs.lines().any(|l| l == pid),
            "cgroup.procs does not list this process"
        );
        Ok(())
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}

/// Enters a new user namespace where root maps to root (a one-id map, which
/// the process may write itself), then a new mount namespace owned by it: the
/// mounts copied into that have their flags locked.
fn enter_user_namespace() -> Check {
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("unshare user: {e}"))?;
    let writes = [
        ("/proc/self/uid_map", "0 0 1\n"),
        ("/proc/self/setgroups", "deny\n"),
        ("/proc/self/gid_map", "0 0 1\n"),
    ];
    for (file, content) in writes {
        fs::write(file, content).map_err(|e| format!("write {file}: {e}"))?;
    }
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare mount: {e}"))
}

#[test]
fn user_namespace_binds_devices_and_keeps_locked_flags() {
    if !testkit::require_root() {
        return;
    }
    let f = Fixture::new();
    let locked = f.dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    let s = spec(json!({
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/dev", "type": "tmpfs", "options": ["mode=755"]},
            {"destination": "/locked", "type": "bind", "source": "locked", "options": ["bind", "ro"]}
        ]
    }));
    let result = in_child(CloneFlags::empty(), || {
        // A nosuid,nodev,noexec mount made here (still as the host's root) and
        // then inherited by the less privileged namespace, where it is locked.
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        nix::mount::mount(Some("tmpfs"), &locked, Some("tmpfs"), flags, None::<&str>)
            .map_err(|e| format!("mount the locked tmpfs: {e}"))?;
        fs::write(locked.join("file"), "locked").map_err(|e| e.to_string())?;
        enter_user_namespace()?;
        setup(&s, f.bundle(), false)?;
        let null = fs::metadata("/dev/null").map_err(|e| format!("stat /dev/null: {e}"))?;
        ensure!(
            null.file_type().is_char_device(),
            "/dev/null is not a char device"
        );
        ensure!(
            null.rdev() == rustix::fs::makedev(1, 3),
            "/dev/null is not 1:3"
        );
        ensure!(
            is_mount_point(Path::new("/dev/null"))?,
            "/dev/null is not the host's bind-mounted node"
        );
        // No /proc here (this pid namespace is not the user namespace's): statvfs.
        let locked = rustix::fs::statvfs("/locked")
            .map_err(|e| e.to_string())?
            .f_flag;
        use rustix::fs::StatVfsMountFlags as St;
        let wanted = St::RDONLY | St::NOSUID | St::NODEV | St::NOEXEC;
        ensure!(locked.contains(wanted), "/locked has flags {locked:?}");
        let content = fs::read_to_string("/locked/file").map_err(|e| e.to_string())?;
        ensure!(content == "locked", "/locked/file reads {content:?}");
        ensure!(
            errno(fs::write("/marker", "x")) == Some(libc::EROFS),
            "/ is writable"
        );
        Ok(())
    });
    assert_eq!(result, Ok(()));
    f.assert_no_mounts_left();
}
