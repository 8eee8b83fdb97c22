//! berth's content store: blobs addressed by their sha256 digest.
//!
//! Layout under the store root:
//!
//! ```text
//! blobs/sha256/<hex>   committed blobs, read-only, never modified
//! ingest/<ref>/data    partial writes, resumable, renamed into blobs/ on commit
//! ```
//!
//! Leases ([`lease`]) keep in-progress work alive; [`gc::collect`] removes
//! what no root and no lease references.

pub mod atomic;
pub mod batch;
pub mod digest;
pub mod gc;
pub mod lease;
pub mod store;
pub mod trash;
pub mod writer;

pub use batch::Batch;
pub use digest::{Digest, DigestError, Hasher, HashingReader};
pub use lease::{Lease, LeaseError, Leases, Resource};
pub use store::{Committed, ContentError, Info, IngestStatus, ReaderAt, Store};
pub use writer::Writer;
