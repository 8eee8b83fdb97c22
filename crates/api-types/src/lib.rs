//! Docker Engine API v1.41 models, stream framing and error classes.
//!
//! The types here are the wire format only: their JSON is what dockerd 20.10 reads and
//! writes (same names, same field order, same `null`/omitted zero values), so that the
//! docker CLI cannot tell the difference. They hold no behaviour beyond encoding.
//!
//! - [`container`], [`image`], [`exec`], [`system`], [`network`], [`volume`]: request and response bodies.
//! - [`stdcopy`]: the 8-byte-header multiplexed stream of attach, exec and logs.
//! - [`jsonmessage`]: the progress/status stream of pull, push, build, load and import.
//! - [`filters`]: the `filters` query parameter.
//! - [`error`]: the error body and API version negotiation.
//! - [`de`]: serde helpers reproducing Go's `encoding/json` conventions.

pub mod container;
pub mod de;
pub mod error;
pub mod exec;
pub mod filters;
pub mod image;
pub mod jsonmessage;
pub mod network;
pub mod stdcopy;
pub mod system;
pub mod volume;
