//! End-to-end tests of berthd: each test starts its own daemon (temp data
//! and exec roots, temp socket) and drives it with the real docker CLI and
//! with raw HTTP for what the CLI does not reach.
//!
//! The daemon needs root; as root tests they skip with a notice otherwise.
//! Container tests also need `berth-shim` and `berth-runc` built next to
//! berthd (`cargo build --bins`).

mod attach_ws;
mod build;
mod build_cache_from;
mod commit_restart;
mod container_fs;
mod containers;
mod daemon;
mod harness;
mod http;
mod images;
mod init_health;
mod interactive;
mod network_options;
mod networks;
mod pty;
mod registry;
mod registry_config;
mod registry_foreign;
mod registry_interop;
mod registry_reload;
mod resources;
mod resources_devices;
mod stats_stream;
mod system;
mod tls;
mod volumes;
