//! The parent ↔ child protocol used while a container process is being set up.
//!
//! berth-runc (the *parent*) forks a *stage-1* process that joins and creates
//! namespaces, which clones the container process (*init*, or an *exec*
//! process) as a sibling and exits. Both children talk to the parent over a
//! `SOCK_SEQPACKET` socketpair (one datagram per message, so no framing), with
//! serde-encoded messages. Each side has its own typed end whose methods are
//! the protocol's steps, so a step cannot be skipped or taken out of order
//! without it showing in the code.
//!
//! Both ends are `O_CLOEXEC`: when the container process `execve`s, its end
//! closes and the parent reads end-of-file, which is how the parent learns
//! that `execve` succeeded (an exec error is sent as a message first).

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{
    AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, recv, send, socketpair,
};
use serde::{Deserialize, Serialize};

/// Errors of the setup channel.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("create setup socketpair: {0}")]
    Socketpair(#[source] io::Error),
    #[error("send {what} to {peer}: {source}")]
    Send {
        what: &'static str,
        peer: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("receive from {peer}: {source}")]
    Recv {
        peer: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{peer} exited before {expected}")]
    Closed {
        peer: &'static str,
        expected: &'static str,
    },
    #[error("{peer}: unexpected message {got} while waiting for {expected}")]
    Unexpected {
        peer: &'static str,
        got: String,
        expected: &'static str,
    },
    #[error("decode message from {peer}: {source}")]
    Decode {
        peer: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The child reported a setup failure; the message is its error chain.
    #[error("{0}")]
    Child(String),
}

/// Messages from the stage-1 and container processes to the parent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToParent {
    /// Stage 1 made a new user namespace: the parent must write its
    /// uid_map and gid_map (only a process in the parent namespace may).
    MapUsers,
    /// Stage 1 cloned the container process; its pid in the parent's pid
    /// namespace.
    Pid(i32),
    /// The container's mounts are done and it has not pivoted yet: the time
    /// for prestart and createRuntime hooks.
    RunHooks,
    /// Setup is complete; the process now waits on the exec fifo (init) or
    /// is about to `execve` (exec).
    Ready,
    /// A non-fatal note for the runtime's log (for example a missing LSM).
    Warning(String),
    /// Setup failed; the process exits after sending this.
    Error(String),
}

/// Messages from the parent to its children.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum ToChild {
    /// The child is in the cgroup (and may create a cgroup namespace).
    Proceed,
    /// uid_map/gid_map were written.
    UsersMapped,
    /// prestart/createRuntime hooks ran.
    HooksDone,
}

const MAX_MSG: usize = 64 * 1024;

fn send_msg<T: Serialize>(
    fd: &OwnedFd,
    msg: &T,
    what: &'static str,
    peer: &'static str,
) -> Result<(), ChannelError> {
    let buf = serde_json::to_vec(msg).map_err(|source| ChannelError::Decode { peer, source })?;
    send(fd.as_fd(), &buf, SendFlags::NOSIGNAL).map_err(|e| ChannelError::Send {
        what,
        peer,
        source: e.into(),
    })?;
    Ok(())
}

fn recv_msg<T: for<'de> Deserialize<'de>>(
    fd: &OwnedFd,
    peer: &'static str,
) -> Result<Option<T>, ChannelError> {
    let mut buf = vec![0u8; MAX_MSG];
    let n = loop {
        match recv(fd.as_fd(), &mut buf, RecvFlags::empty()) {
            Ok((n, _)) => break n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return Err(ChannelError::Recv {
                    peer,
                    source: e.into(),
                });
            }
        }
    };
    if n == 0 {
        return Ok(None);
    }
    serde_json::from_slice(&buf[..n])
        .map(Some)
        .map_err(|source| ChannelError::Decode { peer, source })
}

/// Creates the pair: the parent's end and the child's end.
pub fn pair() -> Result<(ParentEnd, ChildEnd), ChannelError> {
    let (a, b) = socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| ChannelError::Socketpair(e.into()))?;
    Ok((
        ParentEnd {
            fd: a,
            warnings: Vec::new(),
        },
        ChildEnd { fd: b },
    ))
}

/// The parent's end: waits for the child's steps and answers them.
#[derive(Debug)]
pub struct ParentEnd {
    fd: OwnedFd,
    /// Warnings received so far, for the caller to log.
    pub warnings: Vec<String>,
}

impl ParentEnd {
    /// Next step message from the child. Warnings are collected on the way;
    /// an `Error` from the child becomes `ChannelError::Child`. `None` means the
    /// child closed its end (exited, or `execve` succeeded).
    pub fn next(
        &mut self,
        peer: &'static str,
        expected: &'static str,
    ) -> Result<Option<ToParent>, ChannelError> {
        loop {
            match recv_msg::<ToParent>(&self.fd, peer)? {
                Some(ToParent::Warning(w)) => self.warnings.push(w),
                Some(ToParent::Error(e)) => return Err(ChannelError::Child(e)),
                Some(m) => return Ok(Some(m)),
                None => {
                    let _ = expected;
                    return Ok(None);
                }
            }
        }
    }

    /// Like `next`, but end-of-file is an error naming what was expected.
    pub fn expect(
        &mut self,
        peer: &'static str,
        expected: &'static str,
    ) -> Result<ToParent, ChannelError> {
        self.next(peer, expected)?
            .ok_or(ChannelError::Closed { peer, expected })
    }

    pub fn proceed(&self, peer: &'static str) -> Result<(), ChannelError> {
        send_msg(&self.fd, &ToChild::Proceed, "proceed", peer)
    }

    pub fn users_mapped(&self) -> Result<(), ChannelError> {
        send_msg(&self.fd, &ToChild::UsersMapped, "users mapped", "stage-1")
    }

    pub fn hooks_done(&self) -> Result<(), ChannelError> {
        send_msg(
            &self.fd,
            &ToChild::HooksDone,
            "hooks done",
            "container process",
        )
    }
}

/// The child's end: sends its steps and waits for the parent's answers.
#[derive(Debug)]
pub struct ChildEnd {
    fd: OwnedFd,
}

impl ChildEnd {
    fn wait(&self, want: fn(&ToChild) -> bool, expected: &'static str) -> Result<(), ChannelError> {
        match recv_msg::<ToChild>(&self.fd, "parent")? {
            Some(m) if want(&m) => Ok(()),
            Some(m) => Err(ChannelError::Unexpected {
                peer: "parent",
                got: format!("{m:?}"),
                expected,
            }),
            None => Err(ChannelError::Closed {
                peer: "parent",
                expected,
            }),
        }
    }

    pub fn wait_proceed(&self) -> Result<(), ChannelError> {
        self.wait(|m| matches!(m, ToChild::Proceed), "proceed")
    }

    pub fn request_user_map(&self) -> Result<(), ChannelError> {
        send_msg(&self.fd, &ToParent::MapUsers, "user map request", "parent")?;
        self.wait(|m| matches!(m, ToChild::UsersMapped), "users mapped")
    }

    pub fn send_pid(&self, pid: i32) -> Result<(), ChannelError> {
        send_msg(&self.fd, &ToParent::Pid(pid), "pid", "parent")
    }

    pub fn run_hooks(&self) -> Result<(), ChannelError> {
        send_msg(&self.fd, &ToParent::RunHooks, "hooks request", "parent")?;
        self.wait(|m| matches!(m, ToChild::HooksDone), "hooks done")
    }

    pub fn ready(&self) -> Result<(), ChannelError> {
        send_msg(&self.fd, &ToParent::Ready, "ready", "parent")
    }

    pub fn warning(&self, w: String) {
        // A lost warning is not worth failing the container for.
        let _ = send_msg(&self.fd, &ToParent::Warning(w), "warning", "parent");
    }

    pub fn error(&self, e: String) {
        // Best effort: if the parent is gone there is no one to tell.
        let _ = send_msg(&self.fd, &ToParent::Error(e), "error", "parent");
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_and_eof_is_reported() {
        let (mut p, c) = pair().unwrap();
        c.warning("no apparmor".into());
        c.send_pid(42).unwrap();
        assert!(matches!(
            p.expect("init", "pid").unwrap(),
            ToParent::Pid(42)
        ));
        assert_eq!(p.warnings, vec!["no apparmor".to_string()]);
        c.error("mount proc: EPERM".into());
        match p.expect("init", "ready") {
            Err(ChannelError::Child(m)) => assert_eq!(m, "mount proc: EPERM"),
            other => panic!("{other:?}"),
        }
        drop(c);
        assert!(matches!(
            p.expect("init", "ready"),
            Err(ChannelError::Closed { .. })
        ));
    }
}
