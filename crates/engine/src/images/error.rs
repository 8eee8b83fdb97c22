//! The image service's errors. Messages that clients show or match are
//! docker's, word for word ("No such image: busybox:latest", the 409
//! conflicts of `rmi`); the others name the operation and the object.

use std::io;
use std::path::PathBuf;

use berth_content::ContentError;
use berth_image::ReferenceError;
use berth_image::archive::ArchiveError;
use berth_image::import::ImportError;
use berth_image::oci_layout::OciLayoutError;
use berth_image::store::ImageStoreError;
use berth_image::unpack::UnpackError;
use berth_snapshots::SnapshotError;

use crate::ErrorKind;

/// Why an image can't be deleted (the reason part of docker's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteConflict {
    /// Another image names it as its parent (made from it by commit or
    /// build); even `force` can't delete it.
    DependentChildren,
    /// A tag or digest reference is left and `force` was not given.
    Referenced,
    /// A running container uses it; even `force` can't delete it.
    RunningContainer(String),
    /// A stopped container uses it; `force` deletes it anyway.
    StoppedContainer(String),
}

impl DeleteConflict {
    /// Hard conflicts can't be forced.
    pub fn hard(&self) -> bool {
        matches!(
            self,
            DeleteConflict::RunningContainer(_) | DeleteConflict::DependentChildren
        )
    }

    /// Whether a container uses the image.
    pub fn used(&self) -> bool {
        matches!(
            self,
            DeleteConflict::RunningContainer(_) | DeleteConflict::StoppedContainer(_)
        )
    }
}

impl std::fmt::Display for DeleteConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeleteConflict::DependentChildren => write!(f, "image has dependent child images"),
            DeleteConflict::Referenced => write!(f, "image is referenced in multiple repositories"),
            DeleteConflict::RunningContainer(c) => {
                write!(f, "image is being used by running container {}", short(c))
            }
            DeleteConflict::StoppedContainer(c) => {
                write!(f, "image is being used by stopped container {}", short(c))
            }
        }
    }
}

/// The 12-character form docker prints of an ID (`sha256:` dropped).
pub(crate) fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// Errors of the image service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The name given (normalised, e.g. `busybox:latest`) names no image.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// `docker save repo:tag` of a tag that does not exist.
    #[error("reference does not exist")]
    NoSuchReference,
    #[error("{0}")]
    InvalidReference(#[source] ReferenceError),
    #[error("refusing to create a tag with a digest reference")]
    TagWithDigest,
    #[error("refusing to create an ambiguous tag using digest algorithm as name")]
    AmbiguousTag,
    #[error("cannot import digest reference")]
    ImportDigest,
    #[error("import from {0:?}: only a request body (fromSrc=-) can be imported for now")]
    ImportUrl(String),
    #[error(
        "conflict: unable to remove repository reference \"{reference}\" (must force) - container {container} is using its referenced image {image}",
        container = short(container),
        image = short(image)
    )]
    ReferenceInUse {
        reference: String,
        container: String,
        image: String,
    },
    #[error(
        "conflict: unable to delete {image} ({force}) - {conflict}",
        image = short(image),
        force = if conflict.hard() { "cannot be forced" } else { "must be forced" }
    )]
    DeleteConflict {
        image: String,
        conflict: DeleteConflict,
    },
    /// A filter key the endpoint does not know (docker's wording).
    #[error("Invalid filter '{0}'")]
    UnknownFilter(String),
    #[error("Invalid filter '{name}=[{value}]'")]
    InvalidFilter { name: String, value: String },
    #[error("rootfs {0:?}: already exists")]
    RootfsExists(String),
    #[error("rootfs {0:?}: not found")]
    NoSuchRootfs(String),
    #[error("{0}")]
    Import(#[source] Box<ImportError>),
    #[error("load: {0}")]
    Load(#[source] Box<OciLayoutError>),
    #[error("save: {0}")]
    Save(#[source] Box<ArchiveError>),
    #[error("image {image}: {source}")]
    Content {
        image: String,
        #[source]
        source: ContentError,
    },
    #[error("image {image}: {reason}")]
    Corrupt { image: String, reason: String },
    #[error("image records: {0}")]
    Records(#[source] ImageStoreError),
    #[error("{op} snapshot {key:?}: {source}")]
    Snapshot {
        op: &'static str,
        key: String,
        #[source]
        source: Box<SnapshotError>,
    },
    #[error("unpack image {image}: {source}")]
    Unpack {
        image: String,
        #[source]
        source: Box<UnpackError>,
    },
    #[error("open {what} at {path}: {source}")]
    Open {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("storage driver {0:?}: unsupported (use overlay or native)")]
    Driver(String),
    #[error("garbage collection: {0}")]
    Gc(#[source] Box<berth_content::gc::GcError>),
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// A blocking image task panicked or was cancelled.
    #[error("image task: {0}")]
    Task(#[source] tokio::task::JoinError),
}

impl Error {
    /// A snapshotter failure of `op` on `key`.
    pub(crate) fn snapshot(
        op: &'static str,
        key: impl Into<String>,
        source: SnapshotError,
    ) -> Error {
        Error::Snapshot {
            op,
            key: key.into(),
            source: Box::new(source),
        }
    }

    /// The Engine API class of the error.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind::*;
        match self {
            Error::NoSuchImage(_) | Error::NoSuchReference | Error::NoSuchRootfs(_) => NotFound,
            Error::InvalidReference(_)
            | Error::TagWithDigest
            | Error::AmbiguousTag
            | Error::ImportDigest
            | Error::ImportUrl(_)
            | Error::UnknownFilter(_)
            | Error::InvalidFilter { .. } => InvalidArgument,
            Error::ReferenceInUse { .. }
            | Error::DeleteConflict { .. }
            | Error::RootfsExists(_) => Conflict,
            Error::Import(e) => match &**e {
                // What the client sent is not a rootfs tarball or the
                // changes are malformed.
                ImportError::Compression(_)
                | ImportError::Read(_)
                | ImportError::InvalidChange(_)
                | ImportError::BadChange { .. }
                | ImportError::Name { .. } => InvalidArgument,
                ImportError::Content { .. } | ImportError::Lease(_) | ImportError::Records(_) => {
                    Internal
                }
            },
            Error::Load(e) => load_kind(e),
            // The client went away while the archive was being written.
            Error::Save(e) if matches!(**e, ArchiveError::Write(_)) => InvalidArgument,
            Error::Save(_) => Internal,
            Error::Content { .. }
            | Error::Corrupt { .. }
            | Error::Records(_)
            | Error::Snapshot { .. }
            | Error::Unpack { .. }
            | Error::Open { .. }
            | Error::Driver(_)
            | Error::Gc(_)
            | Error::Io { .. }
            | Error::Task(_) => Internal,
        }
    }
}

/// Archive problems are the client's (400); store failures are ours.
fn load_kind(e: &OciLayoutError) -> ErrorKind {
    match e {
        OciLayoutError::Archive(a) => match a {
            ArchiveError::Read(_)
            | ArchiveError::NoManifest
            | ArchiveError::Json { .. }
            | ArchiveError::MissingFile { .. }
            | ArchiveError::Config { .. }
            | ArchiveError::DiffId { .. }
            | ArchiveError::Compression { .. }
            | ArchiveError::Tag { .. } => ErrorKind::InvalidArgument,
            // A blob whose bytes do not match the digest it is named by.
            ArchiveError::Store {
                source: ContentError::DigestMismatch { .. } | ContentError::SizeMismatch { .. },
                ..
            } => ErrorKind::InvalidArgument,
            _ => ErrorKind::Internal,
        },
        OciLayoutError::MissingFile(_)
        | OciLayoutError::Json { .. }
        | OciLayoutError::Version(_)
        | OciLayoutError::MissingBlob(_)
        | OciLayoutError::Manifest(_)
        | OciLayoutError::Name { .. } => ErrorKind::InvalidArgument,
        _ => ErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_messages_are_dockers() {
        let id = format!("sha256:{}", "ab".repeat(32));
        let e = Error::ReferenceInUse {
            reference: "busybox".into(),
            container: "0123456789abcdef0123".into(),
            image: id.clone(),
        };
        assert_eq!(
            e.to_string(),
            "conflict: unable to remove repository reference \"busybox\" (must force) - container 0123456789ab is using its referenced image abababababab"
        );
        assert_eq!(e.kind(), ErrorKind::Conflict);
        let e = Error::DeleteConflict {
            image: id.clone(),
            conflict: DeleteConflict::Referenced,
        };
        assert_eq!(
            e.to_string(),
            "conflict: unable to delete abababababab (must be forced) - image is referenced in multiple repositories"
        );
        let e = Error::DeleteConflict {
            image: id,
            conflict: DeleteConflict::RunningContainer("fedcba9876543210".into()),
        };
        assert_eq!(
            e.to_string(),
            "conflict: unable to delete abababababab (cannot be forced) - image is being used by running container fedcba987654"
        );
        let e = Error::NoSuchImage("busybox:latest".into());
        assert_eq!(e.to_string(), "No such image: busybox:latest");
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
}
