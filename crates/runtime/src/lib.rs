//! berth's OCI runtime library.
//!
//! Vocabulary, following the OCI runtime spec and runc:
//! - a *bundle* is a directory with `config.json` and (usually) the root filesystem;
//! - the *state directory* (`--root`, one subdirectory per container id) holds what
//!   later commands need to find a container again: `state.json` and `exec.fifo`;
//! - *init* is the container's first process; after `create` it is blocked on the
//!   exec fifo, `start` releases it and it `execve`s the user's program.

pub mod capabilities;
pub mod cgroups;
pub mod channel;
pub mod console;
pub mod container;
pub mod exec;
pub mod hooks;
pub mod namespaces;
pub mod process;
pub mod seccomp;
mod setup;
pub mod spec;
pub mod state;

pub use container::{ContainerError, CreateOptions, Created, Runtime};
pub use exec::{ExecOptions, Execed};
pub mod rootfs;
