//! The parent's half of container setup: forking stage 1 (straight into
//! the container's cgroup when possible) and driving the setup protocol
//! (see `channel.rs` for the messages and `process.rs` for the children).

use std::fs;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroups::Cgroup;
use crate::channel::{self, ChannelError, ParentEnd, ToParent};
use crate::container::ContainerError;
use crate::namespaces::NamespacePlan;
use crate::process::{self, ProcessContext};

fn sys(op: impl Into<String>) -> impl FnOnce(nix::Error) -> ContainerError {
    let op = op.into();
    move |source| ContainerError::Sys { op, source }
}

/// Forks stage 1; returns its pid. The child never returns from here.
///
/// When the container has a cgroup v2 directory, stage 1 is cloned straight
/// into it (clone3(2) with `CLONE_INTO_CGROUP`, Linux 5.7), which is cheap;
/// otherwise (old kernel, no unified hierarchy) stage 1 joins it itself.
pub(crate) fn spawn_stage1(
    child: channel::ChildEnd,
    cgroup: &Cgroup,
    plan: &NamespacePlan,
    joins: Vec<(LinuxNamespaceType, PathBuf, fs::File)>,
    ctx: ProcessContext<'_>,
) -> Result<i32, ContainerError> {
    if let Some(fd) = cgroup.open_unified() {
        match clone_into_cgroup(fd.as_fd()) {
            Ok(0) => {
                drop(fd);
                process::stage1(child, cgroup, true, plan, joins, ctx)
            }
            Ok(pid) => return Ok(pid),
            // Fall back to fork(2) below.
            Err(_) => {}
        }
    }
    // SAFETY: berth-runc is single-threaded (no thread is ever started in
    // it), so the child may allocate and run arbitrary code after fork(2).
    match unsafe { nix::unistd::fork() }.map_err(sys("fork stage 1"))? {
        ForkResult::Child => process::stage1(child, cgroup, false, plan, joins, ctx),
        ForkResult::Parent { child: pid } => Ok(pid.as_raw()),
    }
}

/// `struct clone_args` of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// fork(2) into the cgroup v2 directory `dir`: returns 0 in the child.
fn clone_into_cgroup(dir: std::os::fd::BorrowedFd<'_>) -> Result<i32, nix::Error> {
    use std::os::fd::AsRawFd;
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: dir.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM and with no stack behaves like
    // fork(2) (the child runs on a copy of our memory and stack); `args` is
    // a valid clone_args of the size we pass. This process is
    // single-threaded, so no lock is held by another thread in the child.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r < 0 {
        return Err(nix::Error::last());
    }
    Ok(r as i32)
}

/// The parent's half of the setup protocol. `pids` gets the container
/// process's pid as soon as it is known (for cleanup). `hooks` runs when
/// init asks for prestart/createRuntime hooks. Returns the container pid.
pub(crate) fn drive_setup(
    chan: &mut ParentEnd,
    stage1: i32,
    spec: &Spec,
    pids: &mut Vec<i32>,
    mut hooks: impl FnMut(i32) -> Result<(), ContainerError>,
) -> Result<i32, ContainerError> {
    let pid = loop {
        match chan.expect("stage-1", "the container pid")? {
            ToParent::MapUsers => {
                write_id_maps(stage1, spec)?;
                chan.users_mapped()?;
            }
            ToParent::Pid(p) => break p,
            other => {
                return Err(ChannelError::Unexpected {
                    peer: "stage-1",
                    got: format!("{other:?}"),
                    expected: "the container pid",
                }
                .into());
            }
        }
    };
    pids.push(pid);
    match waitpid(Pid::from_raw(stage1), None) {
        Ok(WaitStatus::Exited(_, 0)) => {}
        Ok(ws) => {
            return Err(ChannelError::Child(format!("stage-1 failed: {ws:?}")).into());
        }
        Err(e) => return Err(sys("wait for stage-1")(e)),
    }
    pids.retain(|p| *p != stage1);
    chan.proceed("container process")?;
    loop {
        match chan.expect("container process", "ready")? {
            ToParent::RunHooks => {
                hooks(pid)?;
                chan.hooks_done()?;
            }
            ToParent::Ready => return Ok(pid),
            other => {
                return Err(ChannelError::Unexpected {
                    peer: "container process",
                    got: format!("{other:?}"),
                    expected: "ready",
                }
                .into());
            }
        }
    }
}

/// The host uid and gid that the container's root maps to (0 and 0
/// without a user namespace).
pub(crate) fn host_root_ids(
    linux: &oci_spec::runtime::Linux,
) -> (nix::unistd::Uid, nix::unistd::Gid) {
    let find = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.into_iter()
            .flatten()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
            .unwrap_or(0)
    };
    (
        nix::unistd::Uid::from_raw(find(linux.uid_mappings().as_ref())),
        nix::unistd::Gid::from_raw(find(linux.gid_mappings().as_ref())),
    )
}

/// Writes uid_map and gid_map of a process that made a new user namespace.
fn write_id_maps(pid: i32, spec: &Spec) -> Result<(), ContainerError> {
    let linux = spec.linux().clone().unwrap_or_default();
    let fmt = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| -> String {
        maps.into_iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    let uid = fmt(linux.uid_mappings().as_ref());
    let gid = fmt(linux.gid_mappings().as_ref());
    for (file, data) in [("uid_map", uid), ("gid_map", gid)] {
        let p = PathBuf::from(format!("/proc/{pid}/{file}"));
        // The whole map must go in one write(2) (user_namespaces(7)).
        fs::write(&p, data.as_bytes()).map_err(|source| ContainerError::Io {
            op: "write",
            path: p.clone(),
            source,
        })?;
    }
    Ok(())
}
