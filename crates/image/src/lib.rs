//! berth's image library: references, manifests and configs, layer
//! application, unpacking into snapshots, and archive formats.

pub mod apply;
pub mod compression;
pub mod config;
pub(crate) mod fsat;
pub mod import;
pub mod manifest;
pub mod oci_layout;
pub mod reference;

pub use apply::{Applied, ApplyError, ApplyOptions, WhiteoutMode, apply_layer, apply_tar};
pub use compression::{Compression, CompressionError};
pub use config::{ImageConfig, chain_ids};
pub use manifest::{Descriptor, Index, Manifest, Parsed, Platform};
pub use reference::{Reference, ReferenceError};
pub mod archive;
pub mod archive_save;
pub mod store;
pub mod unpack;
pub mod usage;

pub use archive::{
    AnyLoaded, Loaded, SaveItem, load_any_archive, load_docker_archive, save_docker_archive,
    save_docker_archive_items,
};
pub use store::{ImageRecord, ImageStore};
pub use unpack::{Unpacked, unpack};
