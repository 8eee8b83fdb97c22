//! Golden tests of the berth CLI: the same command through `berth` and through the
//! docker CLI v28, against the same private berthd, must print the same bytes and exit
//! with the same status (berth's own name in usage lines written as docker's).
//! Commands that change things run on twin objects (one made for each CLI) and are
//! compared with IDs and the twins' names normalized.
//!
//! They need root (the daemon runs containers) and the workspace's binaries
//! (`cargo build --bins`); without root they skip with a notice.

mod archives;
mod build;
mod build_remote;
mod flags;
mod goviews;
mod harness;
mod help;
mod lifecycle;
mod netvol;
mod outputs;
mod pty;
mod registry;
mod rootcmds;
mod streams;
mod tls;
