//! berth-init: the init process of `docker run --init` containers.
//!
//! The engine bind-mounts this binary read-only at `/sbin/docker-init`
//! and makes the container's process `/sbin/docker-init -- CMD ARGS...`.
//! As pid 1 of the container's pid namespace it:
//!
//! - spawns `CMD ARGS...` (looked up on `PATH`) in a process group of its
//!   own, made the terminal's foreground group when stdin is a terminal,
//!   so job-control signals from the tty reach the command;
//! - forwards every signal it receives (TERM, INT, HUP, QUIT, USR1, USR2,
//!   WINCH, CONT, ALRM, ...) to that child: a pid 1 that ignores SIGTERM
//!   is why `docker stop` waits for its timeout, since the kernel drops
//!   signals to a namespace's init that has no handler for them
//!   (pid_namespaces(7));
//! - reaps every zombie, including orphans re-parented to it;
//! - exits with the child's exit status, or 128 + the signal that killed
//!   it. The kernel then kills what is left in the namespace.
//!
//! Started outside a pid namespace (not pid 1), it makes itself a child
//! subreaper (PR_SET_CHILD_SUBREAPER, prctl(2)) so orphans still come to
//! it.
//!
//! The binary is mounted into images of any libc (or none), so it must
//! be linked statically: build it with
//! `cargo rustc -p berth-init --release -- -C target-feature=+crt-static`.
//!
//! Signals are handled synchronously: all asynchronous signals are
//! blocked and taken with sigwait(2), so there are no handlers and no
//! races between a SIGCHLD and the wait loop.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::process::ExitCode;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, execvp, fork, getpgrp, setpgid, tcsetpgrp};

/// Exit status for a usage error or a failure to start the command
/// (tini's; docker reports it as the container's exit code).
const EXIT_USAGE: u8 = 1;

/// The command to run, from berth-init's arguments: everything after an
/// optional leading `--`. `None` when there is no command.
fn command(args: Vec<OsString>) -> Option<Vec<OsString>> {
    let mut args = args.into_iter().peekable();
    if args.peek().is_some_and(|a| a == "--") {
        args.next();
    }
    let cmd: Vec<OsString> = args.collect();
    (!cmd.is_empty()).then_some(cmd)
}

/// The signals berth-init leaves unblocked: the synchronous ones (a
/// fault in berth-init itself must kill it, not hang it) and the
/// terminal stop signals, which a pid 1 never acts on anyway.
const NOT_FORWARDED: [Signal; 9] = [
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

/// The set berth-init blocks and waits for: every signal but
/// [`NOT_FORWARDED`] (SIGKILL and SIGSTOP cannot be blocked; the kernel
/// ignores them in the set).
fn waited_signals() -> SigSet {
    let mut set = SigSet::all();
    for s in NOT_FORWARDED {
        set.remove(s);
    }
    set
}

/// The container's exit status for a wait status of the child: its exit
/// code, or 128 + the number of the signal that killed it (the shell's
/// and docker's convention). `None` for statuses that are not an end.
fn exit_status(ws: WaitStatus) -> Option<u8> {
    match ws {
        WaitStatus::Exited(_, code) => Some(code as u8),
        WaitStatus::Signaled(_, sig, _) => Some(128u8.wrapping_add(sig as i32 as u8)),
        _ => None,
    }
}

/// Reaps every child that has exited; returns the exit status of
/// `child` if it was among them.
fn reap_all(child: Pid) -> Option<u8> {
    let mut status = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return status,
            Ok(ws) => {
                if ws.pid() == Some(child) {
                    if let Some(code) = exit_status(ws) {
                        status = Some(code);
                    }
                }
            }
            // ECHILD: nothing left to reap. EINTR cannot happen with
            // WNOHANG; treat anything else as "nothing now".
            Err(_) => return status,
        }
    }
}

fn main() -> ExitCode {
    let Some(cmd) = command(std::env::args_os().skip(1).collect()) else {
        eprintln!("usage: berth-init [--] COMMAND [ARG...]");
        return ExitCode::from(EXIT_USAGE);
    };
    // Converted before the fork: the child only execs.
    let argv: Vec<CString> = match cmd
        .into_iter()
        .map(|a| CString::new(a.into_vec()))
        .collect()
    {
        Ok(v) => v,
        Err(_) => {
            eprintln!("berth-init: an argument contains a NUL byte");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    if std::process::id() != 1 {
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            eprintln!("berth-init: warning: set child subreaper: {e}");
        }
    }

    let waited = waited_signals();
    let mut original_mask = SigSet::empty();
    if let Err(e) = sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&waited),
        Some(&mut original_mask),
    ) {
        eprintln!("berth-init: block signals: {e}");
        return ExitCode::from(EXIT_USAGE);
    }

    // SAFETY: berth-init is single-threaded here (no thread was spawned),
    // so the child may call any function; it only sets its process group
    // and terminal, restores the signal mask and execs.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // Own process group, foreground on the terminal if stdin is
            // one (tcsetpgrp(3) fails with ENOTTY otherwise: ignored).
            // SIGTTOU is still blocked, so tcsetpgrp from what is for a
            // moment a background group does not stop the child.
            let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
            let _ = tcsetpgrp(std::io::stdin(), getpgrp());
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&original_mask), None);
            let err = execvp(&argv[0], &argv).unwrap_err();
            eprintln!(
                "berth-init: exec {}: {}",
                argv[0].to_string_lossy(),
                err.desc()
            );
            // As a shell: 127 for a command not found, 126 for one that
            // cannot be run.
            let code = if err == nix::errno::Errno::ENOENT {
                127
            } else {
                126
            };
            // SAFETY: _exit(2) ends the forked child without running the
            // parent's atexit handlers or flushing its copied buffers.
            unsafe { nix::libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("berth-init: fork: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    loop {
        let sig = wait_signal(&waited);
        if sig == Signal::SIGCHLD as i32 {
            if let Some(code) = reap_all(child) {
                return ExitCode::from(code);
            }
            continue;
        }
        forward(child, sig);
    }
}

/// Waits for one signal of `set` (blocked) and returns its number.
/// By number, not as nix's `Signal`, so real-time signals are forwarded
/// too.
fn wait_signal(set: &SigSet) -> i32 {
    let mut sig: nix::libc::c_int = 0;
    loop {
        // SAFETY: `set` is an initialized sigset_t and `sig` a valid place
        // for the result, both alive for the call.
        let rc = unsafe { nix::libc::sigwait(set.as_ref(), &mut sig) };
        // sigwait(3) returns an error number only for an invalid set,
        // which `set` is not; retry rather than spin on anything else.
        if rc == 0 {
            return sig;
        }
    }
}

/// Sends signal `sig` to `child`. ESRCH (the child exited and its
/// SIGCHLD is on its way) is expected and ignored.
fn forward(child: Pid, sig: i32) {
    // SAFETY: kill(2) with a pid and a signal number has no memory
    // effects; an invalid number fails with EINVAL.
    let _ = unsafe { nix::libc::kill(child.as_raw(), sig) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_command_follows_an_optional_double_dash() {
        assert_eq!(
            command(os(&["--", "sh", "-c", "x"])),
            Some(os(&["sh", "-c", "x"]))
        );
        assert_eq!(command(os(&["sleep", "1"])), Some(os(&["sleep", "1"])));
        // Only the first `--` is berth-init's.
        assert_eq!(command(os(&["--", "--", "a"])), Some(os(&["--", "a"])));
        assert_eq!(command(os(&["--"])), None);
        assert_eq!(command(os(&[])), None);
    }

    #[test]
    fn exit_statuses_follow_the_shell_convention() {
        let p = Pid::from_raw(7);
        assert_eq!(exit_status(WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_status(WaitStatus::Signaled(p, Signal::SIGTERM, false)),
            Some(143)
        );
        assert_eq!(
            exit_status(WaitStatus::Signaled(p, Signal::SIGKILL, true)),
            Some(137)
        );
        assert_eq!(exit_status(WaitStatus::StillAlive), None);
    }

    #[test]
    fn faults_are_not_waited_for() {
        let set = waited_signals();
        assert!(set.contains(Signal::SIGTERM));
        assert!(set.contains(Signal::SIGWINCH));
        assert!(set.contains(Signal::SIGCHLD));
        assert!(!set.contains(Signal::SIGSEGV));
        assert!(!set.contains(Signal::SIGTTOU));
    }
}
