//! berth's OCI distribution client: what a daemon needs to pull images
//! from and push them to registries (the OCI distribution spec v1.1, and
//! Docker's registry API v2 it grew from).
//!
//! Lifecycle: one [`Client`] per daemon holds connection pools, the
//! endpoint of each registry host (found by pinging `/v2/`: scheme and
//! authentication challenges) and cached bearer tokens. Each pull or push
//! opens a [`Session`] on one [`Repository`] with the caller's
//! [`Credentials`] and [`Access`]; its requests authenticate themselves
//! (see [`auth`]) and retry transient failures with back-off.
//!
//! A pull: [`Session::resolve_image`] fetches what a tag or digest names
//! and picks the platform's manifest from an index; [`Session::fetch_blob`]
//! gets the config; [`Session::blob_stream`] downloads each layer,
//! resuming broken transfers with `Range`. A push: [`Session::push_blob`]
//! for the layers and config (skipped when present, mounted from another
//! repository when possible), then [`Session::put_manifest`].
//!
//! Registries on loopback addresses, and those configured as insecure, are
//! reached over HTTPS without verification or plain HTTP ([`endpoint`]).
//! Pulls of Docker Hub repositories may go through configured mirrors
//! first ([`Client::mirror_sites`]); [`Session::tags`] lists a repository's
//! tags for `--all-tags` pulls.

pub mod auth;
pub mod blobs;
pub mod client;
pub mod endpoint;
pub mod error;
pub mod manifests;
pub mod tags;

pub use auth::{Access, Challenge, Credentials, parse_challenges};
pub use blobs::{BlobStream, Progress, Uploaded};
pub use client::{Client, ClientConfig, Session, login_host};
pub use endpoint::{
    DEFAULT_INSECURE_CIDR, Repository, Site, is_insecure, is_insecure_resolved, registry_host,
};
pub use error::{Error, RegistryError};
pub use manifests::{ACCEPT_MANIFESTS, Fetched, ResolvedImage};
