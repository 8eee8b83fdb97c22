//! Which namespaces a container process joins and which it creates, as a
//! value computed before anything is forked.
//!
//! Order matters and follows runc: the user namespace is joined (or created)
//! first, so every namespace created afterwards is owned by it; the others
//! are joined next; the remaining ones are created with one `unshare(2)` by
//! stage 1, and the pid and time namespaces take effect for its child only.

use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

/// Errors in the namespace list.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("namespace {0} is listed more than once")]
    Duplicate(String),
    #[error("open {kind} namespace {path}: {source}")]
    Open {
        kind: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("join {kind} namespace {path}: {source}")]
    Join {
        kind: String,
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("create namespaces {flags:?}: {source}")]
    Unshare {
        flags: CloneFlags,
        #[source]
        source: nix::Error,
    },
}

/// The name of a namespace type as `/proc/<pid>/ns/` and the spec spell it.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME (0x80) is not in nix's CloneFlags on every version.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The plan: joins (user first) then one unshare.
#[derive(Debug, Clone)]
pub struct NamespacePlan {
    /// Namespaces to join, by path, user namespace first.
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// Create a new user namespace (the parent writes its id maps).
    pub new_user: bool,
    /// Every other namespace to create.
    pub unshare: CloneFlags,
    /// Types the container has apart from the host's (new or joined).
    pub all: Vec<LinuxNamespaceType>,
}

impl Default for NamespacePlan {
    fn default() -> Self {
        NamespacePlan {
            join: Vec::new(),
            new_user: false,
            unshare: CloneFlags::empty(),
            all: Vec::new(),
        }
    }
}

impl NamespacePlan {
    /// From the container's `linux.namespaces`.
    pub fn for_create(list: &[LinuxNamespace]) -> Result<Self, NamespaceError> {
        let mut plan = NamespacePlan::default();
        for ns in list {
            let t = ns.typ();
            if plan.all.contains(&t) {
                return Err(NamespaceError::Duplicate(proc_name(t).to_string()));
            }
            plan.all.push(t);
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => plan.join.push((t, p.clone())),
                _ if t == LinuxNamespaceType::User => plan.new_user = true,
                _ => plan.unshare |= clone_flag(t),
            }
        }
        plan.join
            .sort_by_key(|(t, _)| if *t == LinuxNamespaceType::User { 0 } else { 1 });
        Ok(plan)
    }

    /// For `exec`: join every namespace the container has, through its init.
    pub fn for_exec(list: &[LinuxNamespace], init_pid: i32) -> Result<Self, NamespaceError> {
        let created = Self::for_create(list)?;
        let mut plan = NamespacePlan {
            all: created.all.clone(),
            ..Default::default()
        };
        for t in created.all {
            plan.join.push((
                t,
                PathBuf::from(format!("/proc/{init_pid}/ns/{}", proc_name(t))),
            ));
        }
        plan.join
            .sort_by_key(|(t, _)| if *t == LinuxNamespaceType::User { 0 } else { 1 });
        Ok(plan)
    }

    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.all.contains(&t)
    }

    /// True when `t` is created (not joined) for this container.
    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        if t == LinuxNamespaceType::User {
            self.new_user
        } else {
            self.unshare.contains(clone_flag(t))
        }
    }

    /// Opens every namespace to join. Done in the parent before forking, so a
    /// bad path fails `create` before anything is set up, and so the user
    /// namespace can be entered before the others are opened.
    pub fn open_joins(
        &self,
    ) -> Result<Vec<(LinuxNamespaceType, PathBuf, std::fs::File)>, NamespaceError> {
        self.join
            .iter()
            .map(|(t, p)| {
                std::fs::File::open(p)
                    .map(|f| (*t, p.clone(), f))
                    .map_err(|source| NamespaceError::Open {
                        kind: proc_name(*t).to_string(),
                        path: p.clone(),
                        source,
                    })
            })
            .collect()
    }
}

/// Joins one opened namespace.
pub fn join(
    t: LinuxNamespaceType,
    path: &std::path::Path,
    f: &std::fs::File,
) -> Result<(), NamespaceError> {
    nix::sched::setns(f, clone_flag(t)).map_err(|source| NamespaceError::Join {
        kind: proc_name(t).to_string(),
        path: path.to_path_buf(),
        source,
    })
}

pub fn unshare(flags: CloneFlags) -> Result<(), NamespaceError> {
    if flags.is_empty() {
        return Ok(());
    }
    nix::sched::unshare(flags).map_err(|source| NamespaceError::Unshare { flags, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: serde_json::Value) -> Vec<LinuxNamespace> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn create_plan_joins_user_first_and_unshares_the_rest() {
        let l = list(serde_json::json!([
            {"type": "pid"},
            {"type": "network", "path": "/run/netns/x"},
            {"type": "user", "path": "/proc/1/ns/user"},
            {"type": "mount"},
        ]));
        let p = NamespacePlan::for_create(&l).unwrap();
        assert_eq!(p.join[0].0, LinuxNamespaceType::User);
        assert_eq!(p.join[1].0, LinuxNamespaceType::Network);
        assert!(!p.new_user);
        assert_eq!(
            p.unshare,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS
        );
        assert!(p.creates(LinuxNamespaceType::Mount));
        assert!(!p.creates(LinuxNamespaceType::Network));
    }

    #[test]
    fn duplicate_namespace_is_refused() {
        let l = list(serde_json::json!([{"type": "pid"}, {"type": "pid"}]));
        assert!(matches!(
            NamespacePlan::for_create(&l),
            Err(NamespaceError::Duplicate(_))
        ));
    }

    #[test]
    fn exec_plan_joins_everything_through_init() {
        let l = list(serde_json::json!([{"type": "pid"}, {"type": "user"}, {"type": "uts"}]));
        let p = NamespacePlan::for_exec(&l, 77).unwrap();
        assert!(p.unshare.is_empty());
        assert_eq!(p.join[0].1, PathBuf::from("/proc/77/ns/user"));
        assert_eq!(p.join.len(), 3);
    }
}
