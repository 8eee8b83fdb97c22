//! The child side of container setup: stage 1 and the container process.
//!
//! Lifecycle (runc's, with the parent in `container.rs`):
//! 1. the parent forks **stage 1**, puts it in the container's cgroup and
//!    tells it to proceed;
//! 2. stage 1 enters or creates the user namespace (the parent writes the id
//!    maps), joins the namespaces given by path, creates the others with one
//!    `unshare(2)`, and clones the **container process** with `CLONE_PARENT`
//!    (so it is the parent's child, pid 1 of a new pid namespace), reports
//!    its pid and exits;
//! 3. the container process sets itself up — for *init*: mounts, hooks,
//!    pivot_root, terminal, hostname, sysctls, masked paths; for an *exec*
//!    process, none of that — then, for both: rlimits, privileges, seccomp,
//!    the exec fifo (init only), and `execve`.
//!
//! Everything here runs in a freshly forked, single-threaded process: no
//! threads are started, and errors travel to the parent as messages.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use crate::channel::{ChannelError, ChildEnd};
use crate::namespaces::{self, NamespaceError, NamespacePlan};

/// Errors while setting up a container process (reported to the parent).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    #[error(transparent)]
    Console(#[from] crate::console::ConsoleError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error(transparent)]
    Capabilities(#[from] crate::capabilities::CapabilitiesError),
    #[error("{op}: {source}")]
    Sys {
        op: String,
        #[source]
        source: nix::Error,
    },
    #[error("exec: {0:?}: executable file not found in $PATH")]
    NotFound(String),
    /// The words engines look for: "no such file or directory" (docker
    /// exit code 127) and "permission denied" (126), as runc words them.
    #[error("exec: {0:?}: stat {0}: no such file or directory")]
    NoSuchFile(String),
    #[error("exec: {0:?}: permission denied")]
    NotExecutable(String),
    #[error("exec: {path:?}: {source}")]
    Exec {
        path: String,
        #[source]
        source: nix::Error,
    },
    #[error("cwd {0:?} is outside the container root")]
    CwdEscape(PathBuf),
    #[error("process.args must not be empty")]
    NoArgs,
}

fn sys(op: impl Into<String>) -> impl FnOnce(nix::Error) -> SetupError {
    let op = op.into();
    move |source| SetupError::Sys { op, source }
}

/// What distinguishes init from an exec process.
pub enum Role<'a> {
    Init(InitContext<'a>),
    Exec,
}

/// What init needs beyond its process: the full spec and where things are.
pub struct InitContext<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub fifo: OwnedFd,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub id: &'a str,
    /// State JSON (status `creating`, pid filled in by the parent) is not
    /// known here; createContainer hooks get this template with our own pid.
    pub state_template: serde_json::Value,
}

/// Everything the container process needs, prepared before forking.
pub struct ProcessContext<'a> {
    pub process: &'a Process,
    /// The container's seccomp profile (exec processes get the container's).
    /// The seccomp filter, compiled by the parent before forking.
    pub seccomp: Option<crate::seccomp::Filter>,
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: i32,
    pub role: Role<'a>,
}

/// Stage 1: runs right after the parent's fork. Never returns.
pub fn stage1(
    chan: ChildEnd,
    cgroup: &crate::cgroups::Cgroup,
    in_unified: bool,
    plan: &NamespacePlan,
    joins: Vec<(LinuxNamespaceType, PathBuf, std::fs::File)>,
    ctx: ProcessContext<'_>,
) -> ! {
    let code = match stage1_inner(&chan, cgroup, in_unified, plan, joins) {
        Ok(()) => {
            // SAFETY: clone(2) with CLONE_PARENT and no new stack behaves like
            // fork(2): the child continues here on a copy of our memory. This
            // process is single-threaded, so no lock is held by another thread.
            let pid = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    libc::CLONE_PARENT | libc::SIGCHLD,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                )
            };
            if pid == 0 {
                container_main(chan, plan, ctx);
            }
            if pid < 0 {
                chan.error(format!(
                    "clone container process: {}",
                    std::io::Error::last_os_error()
                ));
                1
            } else {
                match chan.send_pid(pid as i32) {
                    Ok(()) => 0,
                    Err(_) => 1,
                }
            }
        }
        Err(e) => {
            chan.error(error_chain(&e));
            1
        }
    };
    // SAFETY: _exit skips atexit handlers and stdio flushing, which belong
    // to the parent process image we were forked from.
    unsafe { libc::_exit(code) }
}

fn stage1_inner(
    chan: &ChildEnd,
    cgroup: &crate::cgroups::Cgroup,
    in_unified: bool,
    plan: &NamespacePlan,
    joins: Vec<(LinuxNamespaceType, PathBuf, std::fs::File)>,
) -> Result<(), SetupError> {
    set_pdeathsig(true)?;
    // Into the cgroup first, by ourselves (see Cgroup::join_self for why not
    // from the parent): everything we create inherits it, and a cgroup
    // namespace made before this would be rooted at the wrong cgroup.
    cgroup.join_self(in_unified)?;
    let mut joins = joins.into_iter().peekable();
    if let Some((t, p, f)) = joins.next_if(|(t, _, _)| *t == LinuxNamespaceType::User) {
        namespaces::join(t, &p, &f)?;
        become_root();
    } else if plan.new_user {
        namespaces::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)?;
        // Only a process outside the new namespace may write its maps; the
        // parent does it. The maps must exist before we create the other
        // namespaces so that they are owned by (and usable in) this one.
        chan.request_user_map()?;
        become_root();
    }
    for (t, p, f) in joins {
        namespaces::join(t, &p, &f)?;
    }
    namespaces::unshare(plan.unshare)?;
    Ok(())
}

/// Takes uid/gid 0 in a user namespace we entered, when 0 is mapped there
/// (user_namespaces(7): capabilities are kept across this in the new ns).
fn become_root() {
    let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
    let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
}

fn set_pdeathsig(on: bool) -> Result<(), SetupError> {
    let sig = if on {
        Some(nix::sys::signal::Signal::SIGKILL)
    } else {
        None
    };
    nix::sys::prctl::set_pdeathsig(sig).map_err(sys("set parent death signal"))
}

/// Formats an error with its sources, `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let cs = c.to_string();
        if !s.ends_with(&cs) {
            s.push_str(": ");
            s.push_str(&cs);
        }
        cur = c.source();
    }
    s
}

fn container_main(chan: ChildEnd, plan: &NamespacePlan, ctx: ProcessContext<'_>) -> ! {
    let err = match container_setup(&chan, plan, ctx) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    chan.error(error_chain(&err));
    // SAFETY: see stage1.
    unsafe { libc::_exit(1) }
}

fn container_setup(
    chan: &ChildEnd,
    plan: &NamespacePlan,
    mut ctx: ProcessContext<'_>,
) -> Result<Infallible, SetupError> {
    set_pdeathsig(true)?;
    // The parent sends this once it knows our pid: from here on our messages
    // cannot be confused with stage 1's.
    chan.wait_proceed()?;
    let process = ctx.process;
    let terminal = process.terminal().unwrap_or(false);
    if matches!(ctx.role, Role::Init(_)) || terminal {
        // A new session: init leads its own, and a terminal needs one for
        // TIOCSCTTY (setsid(2)).
        nix::unistd::setsid().map_err(sys("setsid"))?;
    }
    let mut pty = None;
    if let Role::Init(init) = &ctx.role {
        let spec = init.spec;
        let new_mnt = plan.creates(LinuxNamespaceType::Mount);
        if new_mnt {
            crate::rootfs::prepare(spec, init.bundle)?;
        }
        chan.run_hooks()?;
        if let Some(hooks) = spec
            .hooks()
            .as_ref()
            .and_then(|h| h.create_container().clone())
        {
            let mut st = init.state_template.clone();
            st["pid"] = serde_json::json!(std::process::id());
            crate::hooks::run(&hooks, st.to_string().as_bytes(), "createContainer")?;
        }
        if new_mnt {
            crate::rootfs::pivot(init.rootfs, init.no_pivot)?;
            // stdio that is the host's /dev/null becomes the container's.
            crate::rootfs::reopen_dev_null()?;
        } else {
            nix::unistd::chroot(init.rootfs).map_err(sys("chroot to rootfs"))?;
            nix::unistd::chdir("/").map_err(sys("chdir to /"))?;
        }
        if let Some(sock) = ctx.console_socket.take() {
            let p = crate::console::allocate_and_send(sock, console_size(process))?;
            crate::rootfs::bind_console(&p.slave_path)?;
            pty = Some(p);
        }
        if plan.creates(LinuxNamespaceType::Uts) {
            if let Some(h) = spec.hostname() {
                nix::unistd::sethostname(h).map_err(sys(format!("set hostname {h:?}")))?;
            }
            if let Some(d) = spec.domainname() {
                set_domainname(d)?;
            }
        }
        if new_mnt {
            crate::rootfs::finalize(spec)?;
        }
        // A missing cwd is created (as root, 0755), as runc does for init.
        let cwd = process.cwd();
        if cwd.is_absolute() && !cwd.exists() {
            std::fs::create_dir_all(cwd).map_err(|e| SetupError::Sys {
                op: format!("create cwd {}", cwd.display()),
                source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            })?;
        }
        if !init.no_new_keyring {
            join_session_keyring(init.id);
        }
    } else if let Some(sock) = ctx.console_socket.take() {
        pty = Some(crate::console::allocate_and_send(
            sock,
            console_size(process),
        )?);
    }
    if let Some(p) = &pty {
        crate::console::make_controlling(&p.slave)?;
    }
    apply_lsm_labels(chan, process);
    apply_rlimits(process)?;
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
            SetupError::Sys {
                op: format!("write oom_score_adj {adj}"),
                source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            }
        })?;
    }
    let nnp = process.no_new_privileges().unwrap_or(false);
    if nnp {
        nix::sys::prctl::set_no_new_privs().map_err(sys("set no_new_privs"))?;
    }
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        // Like runc (and login(1)): HOME from the container's passwd entry
        // for the process's uid, "/" when there is none.
        env.push(format!("HOME={}", home_dir(process.user().uid())));
    }
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(SetupError::NoArgs);
    }
    let cwd = process.cwd().clone();
    // Look the program up now (inside the container root, with the
    // container's PATH) so that a missing binary fails `create`, as in runc.
    let path = lookup(&args[0], &env, &cwd)?;
    let filter = ctx.seccomp.take();
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it must
    // happen before privileges are dropped (seccomp(2)); with it, as late as
    // possible, so the filter need not allow the runtime's own syscalls.
    let mut late_filter = None;
    if let Some(f) = filter {
        if nnp {
            late_filter = Some(f);
        } else {
            f.load()?;
        }
    }
    finalize_privileges(chan, process, ctx.preserve_fds)?;
    chdir_inside_root(&cwd)?;
    set_pdeathsig(false)?;
    if let Role::Init(init) = &ctx.role {
        chan.ready()?;
        wait_exec_fifo(&init.fifo)?;
        if let Some(hooks) = init
            .spec
            .hooks()
            .as_ref()
            .and_then(|h| h.start_container().clone())
        {
            let mut st = init.state_template.clone();
            st["pid"] = serde_json::json!(std::process::id());
            st["status"] = serde_json::json!("running");
            crate::hooks::run(&hooks, st.to_string().as_bytes(), "startContainer")?;
        }
    } else {
        chan.ready()?;
    }
    if let Some(f) = late_filter {
        f.load()?;
    }
    reset_signals();
    exec(&path, &args, &env)
}

/// Undoes what execve(2) would pass on from us and from whoever started the
/// runtime: ignored signals stay ignored across execve and the signal mask
/// is inherited (signal(7)). The Rust runtime itself ignores SIGPIPE, and a
/// caller may ignore or block others; the container's program must start
/// with every signal at its default and none blocked.
fn reset_signals() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting a disposition to SIG_DFL touches no memory of
        // ours; this process is single-threaded. Errors (signals reserved
        // by the C library) are irrelevant.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
}

/// The home directory of `uid` in the container's /etc/passwd, or "/".
fn home_dir(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse::<u32>() == Ok(uid))
        .map(|f| f[5].to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

fn console_size(p: &Process) -> Option<(u16, u16)> {
    p.console_size()
        .as_ref()
        .map(|b| (b.height() as u16, b.width() as u16))
}

fn set_domainname(d: &str) -> Result<(), SetupError> {
    // SAFETY: pointer and length describe the live &str for the call.
    let r = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
    if r < 0 {
        return Err(SetupError::Sys {
            op: format!("set domainname {d:?}"),
            source: nix::Error::last(),
        });
    }
    Ok(())
}

/// A new session keyring named after the container, so containers do not
/// share the host's keys (keyrings(7)); failures (no keyring support, or
/// EDQUOT under many containers) are not fatal, as in runc.
fn join_session_keyring(id: &str) {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = CString::new(format!("_ses.{id}")).unwrap_or_default();
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, name) reads a NUL-terminated
    // string that outlives the call.
    unsafe {
        libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr());
    }
}

/// AppArmor and SELinux: berth-runc applies neither yet; on a host that has
/// neither enabled (like these), runc also goes on, so we warn and go on.
fn apply_lsm_labels(chan: &ChildEnd, p: &Process) {
    if let Some(profile) = p.apparmor_profile().as_ref().filter(|s| !s.is_empty()) {
        chan.warning(format!(
            "apparmor profile {profile:?} requested but apparmor is not supported here; ignored"
        ));
    }
    if let Some(label) = p.selinux_label().as_ref().filter(|s| !s.is_empty()) {
        chan.warning(format!(
            "selinux label {label:?} requested but selinux is not supported here; ignored"
        ));
    }
}

fn apply_rlimits(p: &Process) -> Result<(), SetupError> {
    for rl in p.rlimits().iter().flatten() {
        let res = rlimit_resource(rl.typ());
        let lim = libc::rlimit {
            rlim_cur: rl.soft(),
            rlim_max: rl.hard(),
        };
        // SAFETY: setrlimit reads the struct we pass by reference.
        let r = unsafe { libc::setrlimit(res, &lim) };
        if r < 0 {
            return Err(SetupError::Sys {
                op: format!("set rlimit {:?}", rl.typ()),
                source: nix::Error::last(),
            });
        }
    }
    Ok(())
}

fn rlimit_resource(t: oci_spec::runtime::PosixRlimitType) -> libc::__rlimit_resource_t {
    use oci_spec::runtime::PosixRlimitType as T;
    match t {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// fds, capabilities and the user, in runc's order: close inherited fds,
/// shrink the bounding set, switch user keeping capabilities, then set the
/// final capability sets (capabilities(7), "Effect of user ID changes").
fn finalize_privileges(chan: &ChildEnd, p: &Process, preserve_fds: i32) -> Result<(), SetupError> {
    // CVE-2024-21626: no fd of the runtime may reach the container. Mark all
    // beyond stdio and the preserved ones close-on-exec (close_range(2)); the
    // ones we still use until execve are close-on-exec already.
    let first = 3 + preserve_fds.max(0) as u32;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on fds.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(SetupError::Sys {
            op: "mark inherited fds close-on-exec".into(),
            source: nix::Error::last(),
        });
    }
    let caps = p.capabilities().as_ref().map(|c| {
        let (caps, unknown) = crate::capabilities::Capabilities::from_spec(c);
        for w in unknown {
            chan.warning(w);
        }
        caps
    });
    if let Some(c) = &caps {
        c.apply_bounding()?;
    }
    crate::capabilities::set_keep_caps(true)?;
    let user = p.user();
    let gids: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // setgroups(2) is refused in a user namespace whose setgroups file says
    // "deny"; runc skips it there, and so do we when no groups were asked for.
    if !gids.is_empty() || !in_user_ns_with_setgroups_denied() {
        nix::unistd::setgroups(&gids).map_err(sys("setgroups"))?;
    }
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).map_err(sys(format!("setgid {gid}")))?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).map_err(sys(format!("setuid {uid}")))?;
    crate::capabilities::set_keep_caps(false)?;
    if let Some(c) = &caps {
        // Ambient capabilities that cannot be raised are skipped silently,
        // as runc does: its own default spec asks for some (they would
        // need to be inheritable too), and a warning on stderr here would
        // land in the container's output.
        let _skipped = c.apply()?;
    }
    let mask = user.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        mask as libc::mode_t,
    ));
    Ok(())
}

fn in_user_ns_with_setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() == "deny")
        .unwrap_or(false)
}

/// chdir to the process's cwd and check that it really is inside our root:
/// a directory fd leaked from outside would make getcwd(3) report a path
/// starting with "(unreachable)" (CVE-2024-21626).
fn chdir_inside_root(cwd: &Path) -> Result<(), SetupError> {
    let target = if cwd.as_os_str().is_empty() {
        Path::new("/")
    } else {
        cwd
    };
    nix::unistd::chdir(target)
        .map_err(sys(format!("chdir to cwd {target:?} set in config.json")))?;
    let now = nix::unistd::getcwd().map_err(sys("getcwd"))?;
    if !now.starts_with("/") {
        return Err(SetupError::CwdEscape(now));
    }
    Ok(())
}

/// Waits on the exec fifo until `start` opens it for reading, then writes
/// the byte that tells `start` we are about to execve.
fn wait_exec_fifo(fifo: &OwnedFd) -> Result<(), SetupError> {
    // Re-open the O_PATH fd for writing through procfs: the fifo's own path
    // is outside our root by now. open(2) blocks until a reader appears.
    let p = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let fd = nix::fcntl::open(
        p.as_str(),
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(sys("open exec fifo"))?;
    nix::unistd::write(&fd, b"0").map_err(sys("write exec fifo"))?;
    Ok(())
}

/// Finds the program like execvp(3) with the container's PATH.
fn lookup(arg0: &str, env: &[String], cwd: &Path) -> Result<PathBuf, SetupError> {
    if arg0.contains('/') {
        // Like execvp(3) (and runc): a path is not searched, but it must
        // name an executable regular file, checked now so that `create`
        // fails rather than the container exiting later.
        let p = if Path::new(arg0).is_absolute() {
            PathBuf::from(arg0)
        } else {
            cwd.join(arg0)
        };
        return match std::fs::metadata(&p) {
            Err(_) => Err(SetupError::NoSuchFile(arg0.to_string())),
            Ok(_) if !is_executable(&p) => Err(SetupError::NotExecutable(arg0.to_string())),
            Ok(_) => Ok(PathBuf::from(arg0)),
        };
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(dir)
        };
        let cand = if dir.is_absolute() {
            dir.join(arg0)
        } else {
            cwd.join(dir).join(arg0)
        };
        if is_executable(&cand) {
            return Ok(cand);
        }
    }
    Err(SetupError::NotFound(arg0.to_string()))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn exec(path: &Path, args: &[String], env: &[String]) -> Result<Infallible, SetupError> {
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SetupError::NotFound(path.display().to_string()))?;
    let cargs: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let cenv: Vec<CString> = env
        .iter()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let e = nix::unistd::execve(&cpath, &cargs, &cenv).unwrap_err();
    Err(SetupError::Exec {
        path: path.display().to_string(),
        source: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_uses_the_container_path() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(
            lookup("sh", &env, Path::new("/")).unwrap(),
            PathBuf::from("/bin/sh")
        );
        assert_eq!(
            lookup("/bin/sh", &env, Path::new("/")).unwrap(),
            PathBuf::from("/bin/sh")
        );
        assert!(matches!(
            lookup("/etc", &env, Path::new("/")),
            Err(SetupError::NotExecutable(_))
        ));
        assert!(matches!(
            lookup("./no-such-file", &env, Path::new("/")),
            Err(SetupError::NoSuchFile(_))
        ));
        assert!(matches!(
            lookup("no-such-program-here", &env, Path::new("/")),
            Err(SetupError::NotFound(_))
        ));
    }

    #[test]
    fn error_chain_joins_sources() {
        let e = SetupError::Sys {
            op: "mount proc".into(),
            source: nix::Error::EPERM,
        };
        assert_eq!(
            error_chain(&e),
            "mount proc: EPERM: Operation not permitted"
        );
    }
}
