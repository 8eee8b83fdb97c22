//! OCI bundles for runtime tests.
//!
//! A [`Bundle`] is a temp dir with a busybox `rootfs/` and a `config.json`.
//! It starts from [`default_config`], a runc-`spec`-like document, and every
//! builder method edits the JSON and rewrites `config.json` at once, so the
//! file on disk always matches [`Bundle::config`]. A test that wants a broken
//! bundle builds a good one and then damages it (overwrite the file, remove
//! the rootfs).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::rootfs;

/// The capabilities of runc's default spec.
pub const DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The default `config.json`, modelled on the output of `runc spec`.
///
/// Differences from `runc spec`, all for testing: `terminal` is false (tests
/// read plain stdout), `root.readonly` is false (scratch writes to `/tmp`
/// work; [`Bundle::readonly_root`] turns it on) and the hostname is
/// `berth-test`.
pub fn default_config() -> Value {
    let caps = DEFAULT_CAPS;
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "berth-test",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// An OCI bundle in a temp dir, removed on drop.
pub struct Bundle {
    dir: TempDir,
    config: Value,
}

impl Default for Bundle {
    fn default() -> Self {
        Self::new()
    }
}

impl Bundle {
    /// A bundle with a busybox rootfs and [`default_config`] written out.
    ///
    /// The bundle dir is made 0755 (tempfile makes it 0700) so that a
    /// container in a user namespace, whose root is an unprivileged host uid,
    /// can still reach its rootfs.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-bundle-")
            .tempdir()
            .unwrap_or_else(|e| panic!("create bundle temp dir: {e}"));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.path().display()));
        rootfs::populate(&dir.path().join("rootfs"));
        let bundle = Bundle {
            dir,
            config: default_config(),
        };
        bundle.write_config();
        bundle
    }

    /// The bundle directory (what `--bundle` takes).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The rootfs directory on the host.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// The `config.json` path.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// The current config document.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Applies `f` to the config document and rewrites `config.json`.
    pub fn edit(mut self, f: impl FnOnce(&mut Value)) -> Self {
        f(&mut self.config);
        self.write_config();
        self
    }

    fn write_config(&self) {
        let path = self.config_path();
        let text = serde_json::to_vec_pretty(&self.config).expect("serialize config");
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Sets `process.args`.
    pub fn args(self, args: &[&str]) -> Self {
        self.edit(|c| c["process"]["args"] = json!(args))
    }

    /// Sets `process.args` to `sh -c script`.
    pub fn sh(self, script: &str) -> Self {
        self.args(&["sh", "-c", script])
    }

    /// Sets `process.terminal`.
    pub fn terminal(self, on: bool) -> Self {
        self.edit(|c| c["process"]["terminal"] = json!(on))
    }

    /// Appends `KEY=value` entries to `process.env`.
    pub fn env(self, vars: &[&str]) -> Self {
        self.edit(|c| {
            let env = c["process"]["env"]
                .as_array_mut()
                .expect("process.env is an array");
            env.extend(vars.iter().map(|v| json!(v)));
        })
    }

    /// Sets `process.cwd`.
    pub fn cwd(self, cwd: &str) -> Self {
        self.edit(|c| c["process"]["cwd"] = json!(cwd))
    }

    /// Sets `hostname`.
    pub fn hostname(self, name: &str) -> Self {
        self.edit(|c| c["hostname"] = json!(name))
    }

    /// Sets `process.user`.
    pub fn user(self, uid: u32, gid: u32, additional_gids: &[u32]) -> Self {
        self.edit(|c| {
            let mut user = json!({ "uid": uid, "gid": gid });
            if !additional_gids.is_empty() {
                user["additionalGids"] = json!(additional_gids);
            }
            c["process"]["user"] = user;
        })
    }

    /// Sets `process.user.umask`.
    pub fn umask(self, umask: u32) -> Self {
        self.edit(|c| c["process"]["user"]["umask"] = json!(umask))
    }

    /// Replaces `process.rlimits` by one entry per `(type, soft, hard)`.
    pub fn rlimits(self, limits: &[(&str, u64, u64)]) -> Self {
        self.edit(|c| {
            c["process"]["rlimits"] = limits
                .iter()
                .map(|(ty, soft, hard)| json!({ "type": ty, "soft": soft, "hard": hard }))
                .collect();
        })
    }

    /// Sets `process.noNewPrivileges`.
    pub fn no_new_privileges(self, on: bool) -> Self {
        self.edit(|c| c["process"]["noNewPrivileges"] = json!(on))
    }

    /// Sets every capability set (bounding, effective, permitted, inheritable,
    /// ambient) to `caps`.
    pub fn capabilities(self, caps: &[&str]) -> Self {
        self.edit(|c| {
            c["process"]["capabilities"] = json!({
                "bounding": caps, "effective": caps, "permitted": caps,
                "inheritable": caps, "ambient": caps
            });
        })
    }

    /// Sets `process.oomScoreAdj`.
    pub fn oom_score_adj(self, adj: i32) -> Self {
        self.edit(|c| c["process"]["oomScoreAdj"] = json!(adj))
    }

    /// Sets `root.readonly`.
    pub fn readonly_root(self, on: bool) -> Self {
        self.edit(|c| c["root"]["readonly"] = json!(on))
    }

    /// Appends a mount entry.
    pub fn mount(self, mount: Value) -> Self {
        self.edit(|c| {
            c["mounts"]
                .as_array_mut()
                .expect("mounts is an array")
                .push(mount)
        })
    }

    /// Appends a bind mount of host `source` at `destination`.
    pub fn bind(self, source: &Path, destination: &str, options: &[&str]) -> Self {
        let mut opts = vec!["rbind"];
        opts.extend_from_slice(options);
        self.mount(json!({
            "destination": destination, "type": "bind",
            "source": source, "options": opts
        }))
    }

    /// Removes every mount whose destination is `destination`.
    pub fn remove_mount(self, destination: &str) -> Self {
        self.edit(|c| {
            c["mounts"]
                .as_array_mut()
                .expect("mounts is an array")
                .retain(|m| m["destination"] != destination);
        })
    }

    /// Adds a namespace of `ty` (replacing one of the same type), joining
    /// `path` when given.
    pub fn namespace(self, ty: &str, path: Option<&Path>) -> Self {
        self.without_namespace(ty).edit(|c| {
            let mut ns = json!({ "type": ty });
            if let Some(path) = path {
                ns["path"] = json!(path);
            }
            c["linux"]["namespaces"]
                .as_array_mut()
                .expect("namespaces array")
                .push(ns);
        })
    }

    /// Removes the namespace of `ty`, so the container shares the host's.
    pub fn without_namespace(self, ty: &str) -> Self {
        self.edit(|c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .expect("namespaces array")
                .retain(|n| n["type"] != ty);
        })
    }

    /// Merges the keys of `resources` into `linux.resources`.
    pub fn resources(self, resources: Value) -> Self {
        self.edit(|c| {
            let target = c["linux"]["resources"]
                .as_object_mut()
                .expect("resources object");
            for (k, v) in resources.as_object().expect("resources must be an object") {
                target.insert(k.clone(), v.clone());
            }
        })
    }

    /// Sets `linux.cgroupsPath`.
    pub fn cgroups_path(self, path: &str) -> Self {
        self.edit(|c| c["linux"]["cgroupsPath"] = json!(path))
    }

    /// Appends a hook to `hooks.<kind>` (`prestart`, `createRuntime`,
    /// `createContainer`, `startContainer`, `poststart`, `poststop`).
    pub fn hook(self, kind: &str, path: &str, args: &[&str]) -> Self {
        self.edit(|c| {
            if c.get("hooks").is_none() {
                c["hooks"] = json!({});
            }
            let list = c["hooks"][kind].as_array().cloned().unwrap_or_default();
            let mut list = list;
            list.push(json!({ "path": path, "args": args }));
            c["hooks"][kind] = Value::Array(list);
        })
    }

    /// Sets `linux.seccomp`.
    pub fn seccomp(self, profile: Value) -> Self {
        self.edit(|c| c["linux"]["seccomp"] = profile)
    }

    /// Adds a user namespace mapping container ids `0..size` to host ids
    /// `host_id..host_id+size`, for both uids and gids.
    pub fn user_namespace(self, host_id: u32, size: u32) -> Self {
        self.namespace("user", None).edit(|c| {
            let map = json!([{ "containerID": 0, "hostID": host_id, "size": size }]);
            c["linux"]["uidMappings"] = map.clone();
            c["linux"]["gidMappings"] = map;
        })
    }

    /// Sets `linux.sysctl.<key>`.
    pub fn sysctl(self, key: &str, value: &str) -> Self {
        self.edit(|c| c["linux"]["sysctl"][key] = json!(value))
    }

    /// Appends a `linux.devices` entry and allows it in the device cgroup.
    pub fn device(self, path: &str, kind: &str, major: i64, minor: i64, mode: u32) -> Self {
        self.edit(|c| {
            if c["linux"]["devices"].is_null() {
                c["linux"]["devices"] = json!([]);
            }
            c["linux"]["devices"]
                .as_array_mut()
                .expect("devices array")
                .push(json!({
                    "path": path, "type": kind, "major": major, "minor": minor,
                    "fileMode": mode, "uid": 0, "gid": 0
                }));
            c["linux"]["resources"]["devices"]
                .as_array_mut()
                .expect("resources.devices array")
                .push(json!({
                    "allow": true, "type": kind, "major": major, "minor": minor,
                    "access": "rwm"
                }));
        })
    }

    /// Sets `linux.maskedPaths`.
    pub fn masked_paths(self, paths: &[&str]) -> Self {
        self.edit(|c| c["linux"]["maskedPaths"] = json!(paths))
    }

    /// Sets `linux.readonlyPaths`.
    pub fn readonly_paths(self, paths: &[&str]) -> Self {
        self.edit(|c| c["linux"]["readonlyPaths"] = json!(paths))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_reach_the_file() {
        let b = Bundle::new()
            .sh("echo hi")
            .hostname("h1")
            .without_namespace("network")
            .hook("prestart", "/bin/true", &["true"]);
        let on_disk: Value = serde_json::from_slice(&fs::read(b.config_path()).unwrap()).unwrap();
        assert_eq!(&on_disk, b.config());
        assert_eq!(on_disk["process"]["args"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(on_disk["hostname"], "h1");
        let types: Vec<&str> = on_disk["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert!(!types.contains(&"network"), "{types:?}");
        assert_eq!(on_disk["hooks"]["prestart"][0]["path"], "/bin/true");
    }

    #[test]
    fn namespace_replaces_same_type() {
        let b = Bundle::new().namespace("pid", Some(Path::new("/proc/1/ns/pid")));
        let pids: Vec<&Value> = b.config()["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] == "pid")
            .collect();
        assert_eq!(pids.len(), 1);
        assert_eq!(pids[0]["path"], "/proc/1/ns/pid");
    }
}
