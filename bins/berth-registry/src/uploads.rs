//! Blob upload sessions (OCI distribution spec, "Pushing blobs").
//!
//! A session is an ingest of the content store named by the session's
//! UUID, plus a record in its repository (`_uploads/<uuid>`) that ties the
//! UUID to the repository. Its bytes are on disk from the moment they
//! arrive, so a session survives a restart of the registry: the client
//! asks for the upload's status (the `Range` it has) and continues.
//!
//! Between requests the open [`Writer`] is kept in memory with its hash
//! state, so a chunked upload hashes each byte once; after a restart the
//! writer is reopened, which reads the partial data once to rebuild the
//! hash. One request at a time works on a session (a per-session lock).

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::sync::{Arc, Mutex};

use berth_content::{Committed, ContentError, Digest, Writer};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use crate::errors::{ApiError, Code};
use crate::storage::Storage;

/// Buffer between the socket and the ingest file.
const WRITE_BUFFER: usize = 1 << 20;

type Slot = Arc<tokio::sync::Mutex<Option<Writer>>>;

/// The open sessions of a server.
#[derive(Debug, Clone)]
pub struct Uploads {
    storage: Storage,
    open: Arc<Mutex<HashMap<String, Slot>>>,
}

/// How a write into a session ended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("read request body: {0}")]
    Body(#[source] hyper::Error),
    #[error("write upload: {0}")]
    Write(#[source] io::Error),
}

fn internal(context: &str, e: &dyn std::error::Error) -> ApiError {
    ApiError::internal(context, e)
}

impl Uploads {
    pub fn new(storage: Storage) -> Uploads {
        Uploads {
            storage,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // The map only caches writers; after a panic elsewhere its entries
        // are still valid.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session in `name`; returns its UUID.
    pub async fn start(&self, name: &str) -> Result<String, ApiError> {
        let uuid = crate::new_uuid();
        let storage = self.storage.clone();
        let (n, u) = (name.to_owned(), uuid.clone());
        blocking(move || {
            storage.create_upload(&n, &u)?;
            // Creating the ingest now makes an empty session resumable and
            // visible to status requests right away.
            storage.content().writer(&u, None).map(drop)?;
            Ok::<_, crate::storage::StorageError>(())
        })
        .await?
        .map_err(|e| internal("start upload", &e))?;
        Ok(uuid)
    }

    /// The session's lock, after checking it belongs to `name`.
    async fn slot(&self, name: &str, uuid: &str) -> Result<Slot, ApiError> {
        if !valid_uuid(uuid) || !self.storage.upload_exists(name, uuid) {
            return Err(ApiError::new(Code::BlobUploadUnknown).detail(uuid.to_owned()));
        }
        let slot = self.slots().entry(uuid.to_owned()).or_default().clone();
        Ok(slot)
    }

    /// Locks the session and makes sure its writer is open.
    async fn lock(
        &self,
        name: &str,
        uuid: &str,
    ) -> Result<tokio::sync::OwnedMutexGuard<Option<Writer>>, ApiError> {
        let slot = self.slot(name, uuid).await?;
        let mut guard = slot.lock_owned().await;
        if guard.is_none() {
            let store = self.storage.content().clone();
            let u = uuid.to_owned();
            let w = blocking(move || store.writer(&u, None)).await?;
            match w {
                Ok(w) => *guard = Some(w),
                Err(ContentError::Locked(_)) => {
                    // Another process (an older registry still running on
                    // the same root) holds it.
                    return Err(ApiError::new(Code::BlobUploadInvalid)
                        .message("upload is in use by another writer"));
                }
                Err(e) => return Err(internal("open upload", &e)),
            }
        }
        Ok(guard)
    }

    /// The session's offset (bytes received so far).
    pub async fn status(&self, name: &str, uuid: &str) -> Result<u64, ApiError> {
        let guard = self.lock(name, uuid).await?;
        Ok(guard.as_ref().map(Writer::offset).unwrap_or(0))
    }

    /// Appends a request body. With `range` (from Content-Range), the chunk
    /// must start at the current offset and be exactly that long
    /// (416 RANGE_INVALID otherwise, nothing written).
    pub async fn append(
        &self,
        name: &str,
        uuid: &str,
        body: Incoming,
        range: Option<(u64, u64)>,
        content_length: Option<u64>,
    ) -> Result<u64, ApiError> {
        let mut guard = self.lock(name, uuid).await?;
        let offset = guard.as_ref().map(Writer::offset).unwrap_or(0);
        if let Some((start, end)) = range {
            let len = end.checked_sub(start).map(|l| l + 1);
            if start != offset
                || len.is_none()
                || (content_length.is_some() && content_length != len)
            {
                return Err(range_invalid(name, uuid, offset));
            }
        }
        let Some(w) = guard.take() else {
            return Err(ApiError::new(Code::BlobUploadUnknown));
        };
        let (w, result) = pump(body, w).await?;
        let offset = w.offset();
        *guard = Some(w);
        match result {
            Ok(()) => Ok(offset),
            Err(AppendError::Write(e)) => Err(internal("write upload", &e)),
            // The client went away mid-body: what arrived is kept, and a
            // status request tells it where to resume.
            Err(e @ AppendError::Body(_)) => Err(ApiError::new(Code::BlobUploadInvalid)
                .message(e.to_string())
                .detail(offset)),
        }
    }

    /// Appends the final body (if any), verifies the digest and commits;
    /// the session ends either way except when the body broke off.
    pub async fn finish(
        &self,
        name: &str,
        uuid: &str,
        body: Incoming,
        digest: Digest,
    ) -> Result<Committed, ApiError> {
        let mut guard = self.lock(name, uuid).await?;
        let Some(w) = guard.take() else {
            return Err(ApiError::new(Code::BlobUploadUnknown));
        };
        let (w, result) = pump(body, w).await?;
        if let Err(e) = result {
            *guard = Some(w);
            return Err(match e {
                AppendError::Write(e) => internal("write upload", &e),
                e @ AppendError::Body(_) => {
                    ApiError::new(Code::BlobUploadInvalid).message(e.to_string())
                }
            });
        }
        let storage = self.storage.clone();
        let (n, u) = (name.to_owned(), uuid.to_owned());
        let outcome = blocking(move || -> Result<Committed, ApiError> {
            let _gc = crate::gc::GcLock::shared(storage.content().root())
                .map_err(|e| internal("lock against garbage collection", &e))?;
            let committed = match w.commit(None, Some(&digest)) {
                Ok(c) => c,
                Err(ContentError::AlreadyExists(d)) => {
                    let info = storage
                        .content()
                        .info(&d)
                        .map_err(|e| internal("stat blob", &e))?;
                    Committed {
                        digest: d,
                        size: info.size,
                        created: false,
                    }
                }
                Err(ContentError::DigestMismatch { actual, .. }) => {
                    // The content store discarded the bytes: they can never
                    // become the blob asked for. The session is over.
                    let _ = storage.remove_upload(&n, &u);
                    return Err(ApiError::new(Code::DigestInvalid)
                        .detail(format!("expected {digest}, uploaded content is {actual}")));
                }
                Err(e) => return Err(internal("commit upload", &e)),
            };
            storage
                .link_blob(&n, &committed.digest)
                .map_err(|e| internal("link blob", &e))?;
            storage
                .remove_upload(&n, &u)
                .map_err(|e| internal("remove upload record", &e))?;
            Ok(committed)
        })
        .await?;
        self.slots().remove(uuid);
        outcome
    }

    /// Cancels a session: its bytes and record are removed.
    pub async fn cancel(&self, name: &str, uuid: &str) -> Result<(), ApiError> {
        let mut guard = self.lock(name, uuid).await?;
        let w = guard.take();
        let storage = self.storage.clone();
        let (n, u) = (name.to_owned(), uuid.to_owned());
        blocking(move || {
            // The store refuses to abort an ingest a writer holds; ours is
            // the holder, so let it go first.
            drop(w);
            match storage.content().abort(&u) {
                Ok(()) | Err(ContentError::IngestNotFound(_)) => {}
                Err(e) => return Err(internal("remove upload data", &e)),
            }
            storage
                .remove_upload(&n, &u)
                .map_err(|e| internal("remove upload record", &e))
        })
        .await??;
        self.slots().remove(uuid);
        Ok(())
    }

    /// A one-shot upload (POST with `?digest=`): no session record, the
    /// body is committed when it ends.
    pub async fn monolithic(
        &self,
        name: &str,
        body: Incoming,
        digest: Digest,
    ) -> Result<Committed, ApiError> {
        let reference = crate::new_uuid();
        let store = self.storage.content().clone();
        let r = reference.clone();
        let w = blocking(move || store.writer(&r, None))
            .await?
            .map_err(|e| internal("open upload", &e))?;
        let (w, result) = pump(body, w).await?;
        let storage = self.storage.clone();
        let n = name.to_owned();
        blocking(move || -> Result<Committed, ApiError> {
            if let Err(e) = result {
                // Nobody can resume a session without a UUID: drop the bytes.
                drop(w);
                let _ = storage.content().abort(&reference);
                return Err(match e {
                    AppendError::Write(e) => internal("write upload", &e),
                    e @ AppendError::Body(_) => {
                        ApiError::new(Code::BlobUploadInvalid).message(e.to_string())
                    }
                });
            }
            let _gc = crate::gc::GcLock::shared(storage.content().root())
                .map_err(|e| internal("lock against garbage collection", &e))?;
            let committed = match w.commit(None, Some(&digest)) {
                Ok(c) => c,
                Err(ContentError::AlreadyExists(d)) => Committed {
                    digest: d,
                    size: storage
                        .content()
                        .info(&d)
                        .map_err(|e| internal("stat blob", &e))?
                        .size,
                    created: false,
                },
                Err(ContentError::DigestMismatch { actual, .. }) => {
                    return Err(ApiError::new(Code::DigestInvalid)
                        .detail(format!("expected {digest}, uploaded content is {actual}")));
                }
                Err(e) => return Err(internal("commit upload", &e)),
            };
            storage
                .link_blob(&n, &committed.digest)
                .map_err(|e| internal("link blob", &e))?;
            Ok(committed)
        })
        .await?
    }
}

/// The 416 answer that tells the client where the session stands.
pub fn range_invalid(name: &str, uuid: &str, offset: u64) -> ApiError {
    ApiError::new(Code::RangeInvalid)
        .header(http::header::LOCATION, upload_location(name, uuid))
        .header(http::header::RANGE, range_header(offset))
        .header(
            http::HeaderName::from_static("docker-upload-uuid"),
            uuid.to_owned(),
        )
}

pub fn upload_location(name: &str, uuid: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{uuid}")
}

/// `Range: 0-<last byte>` as Docker's registry writes it (`0-0` when
/// nothing arrived yet, as it does too).
pub fn range_header(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

/// UUIDs this server hands out: 32 lowercase hex digits with dashes.
fn valid_uuid(s: &str) -> bool {
    s.len() == 36 && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal("blocking task", &e))
}

/// Streams `body` into `w` through a blocking thread; returns the writer in
/// every case so the session can go on.
async fn pump(
    mut body: Incoming,
    mut w: Writer,
) -> Result<(Writer, Result<(), AppendError>), ApiError> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(16);
    let writer = tokio::task::spawn_blocking(move || {
        let mut buf = BufWriter::with_capacity(WRITE_BUFFER, &mut w);
        let mut result = Ok(());
        while let Some(chunk) = rx.blocking_recv() {
            if let Err(e) = buf.write_all(&chunk) {
                result = Err(e);
                break;
            }
        }
        let flushed = buf.flush();
        drop(buf);
        (w, result.and(flushed))
    });
    let mut body_err = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    if tx.send(data).await.is_err() {
                        // The writer stopped on an error; it reports it.
                        break;
                    }
                }
            }
            Err(e) => {
                body_err = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let (w, written) = writer
        .await
        .map_err(|e| internal("upload writer task", &e))?;
    let result = match (written, body_err) {
        (Err(e), _) => Err(AppendError::Write(e)),
        (Ok(()), Some(e)) => Err(AppendError::Body(e)),
        (Ok(()), None) => Ok(()),
    };
    Ok((w, result))
}
