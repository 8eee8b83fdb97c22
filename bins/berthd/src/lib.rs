//! berthd's modules as a library: the daemon binary (`main.rs`) is built
//! on them, and the fuzz targets (`fuzz/`, and the stable `fuzz_stable`
//! test) reach the router, the query parser and the request decoders
//! through them without starting a daemon.

pub mod api;
pub mod body;
pub mod config;
pub mod daemon;
pub mod events_filter;
pub mod handlers;
pub mod hijack;
pub mod host;
pub mod listen;
pub mod log;
pub mod pidfile;
pub mod query;
pub mod reload;
pub mod router;
pub mod server;
pub mod streams;
pub mod tls;
