//! Golden tests of the berth CLI: the same command through `berth` and through the
//! docker CLI v28, against the same private berthd, must print the same bytes and exit
//! with the same status (berth's own name in usage lines written as docker's).
//!
//! They need root (the daemon runs containers) and the workspace's binaries
//! (`cargo build --bins`); without root they skip with a notice.

mod harness;
mod outputs;
mod pty;
