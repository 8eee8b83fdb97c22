//! Blobs: HEAD (is it there?), GET as a resumable stream, and uploads
//! (monolithic or chunked, with cross-repository mounts).
//!
//! A download that breaks off is resumed where it stopped with
//! `Range: bytes=<n>-` (RFC 9110 §14.2); a registry that ignores the range
//! and answers 200 has the bytes already received skipped. The stream never
//! yields more than the descriptor's size. By default the stream retries
//! on its own; [`BlobStream::caller_retries`] hands each failure to the
//! caller instead (a pull counting `max-download-attempts`), and the next
//! call resumes.
//!
//! A foreign layer (its descriptor lists `urls`) is fetched from the
//! registry when it has it, else from the first of its URLs that answers,
//! without the registry's credentials (dockerd's Windows pull does this;
//! the digest check covers whatever served it). Verifying the digest is the
//! consumer's part: it hashes what it stores (the content store does while
//! writing), so a resumed download is verified over all its bytes.

use std::io::{self, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use berth_content::Digest;
use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use tokio::io::AsyncReadExt;

use crate::auth::{Access, repository_scope};
use crate::client::{Request, Session, error_from, go_method};
use crate::error::Error;

/// Reports bytes done so far (of one blob).
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uploaded {
    /// The repository already had the blob.
    Exists,
    /// The registry mounted it from another repository (its path).
    Mounted { from: String },
    /// The bytes were sent.
    Pushed,
}

/// A blob download in progress. See the module docs.
pub struct BlobStream {
    session: Session,
    digest: Digest,
    size: u64,
    pos: u64,
    /// Bytes of the current answer still to drop (a 200 to a ranged GET).
    skip: u64,
    resp: Option<Response>,
    /// Consecutive failures without progress.
    failures: u32,
    /// Reconnections so far (bounded whatever the progress).
    reconnects: u32,
    /// Whether failures are retried here (else each is the caller's).
    retry_inside: bool,
    /// Where a foreign blob may be fetched when the registry lacks it.
    urls: Vec<String>,
}

const MAX_RECONNECTS: u32 = 100;

impl BlobStream {
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The blob's size (from its descriptor).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes yielded so far, counting the starting offset.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Each failure (a connection that fails or breaks off, a 5xx) ends
    /// [`BlobStream::next_chunk`] with the error after one request; the
    /// next call reconnects and resumes at [`BlobStream::position`].
    pub fn caller_retries(mut self) -> BlobStream {
        self.retry_inside = false;
        self
    }

    /// URLs to fetch the blob from when the registry does not serve it (a
    /// foreign layer's `urls`; only `http` and `https` ones are used).
    pub fn with_urls(mut self, urls: &[String]) -> BlobStream {
        self.urls = urls
            .iter()
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .cloned()
            .collect();
        self
    }

    /// `GET` of the blob at the registry, from the current position.
    async fn open_registry(&self) -> Result<Response, Error> {
        let path = self.session.path(&format!("blobs/{}", self.digest));
        let pos = self.pos;
        let build = move |rb: RequestBuilder| {
            Ok(if pos > 0 {
                rb.header(RANGE, format!("bytes={pos}-"))
            } else {
                rb
            })
        };
        let resp = self
            .session
            .send(&Request {
                method: Method::GET,
                target: &path,
                build: &build,
                extra_scopes: &[],
                retry: self.retry_inside,
            })
            .await?;
        match resp.status() {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => Ok(resp),
            _ => Err(error_from(resp, "Get").await),
        }
    }

    /// `GET` of the blob at a foreign URL: plain HTTP(S) with verified
    /// TLS and no credentials (they are the registry's, not the URL's).
    async fn open_url(&self, url: &str) -> Result<Response, Error> {
        let mut rb = self.session.client().http(false).get(url);
        if self.pos > 0 {
            rb = rb.header(RANGE, format!("bytes={}-", self.pos));
        }
        let resp = rb.send().await.map_err(|source| Error::Transport {
            method: "Get",
            url: url.to_owned(),
            source,
        })?;
        match resp.status() {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => Ok(resp),
            _ => Err(error_from(resp, "Get").await),
        }
    }

    async fn open(&mut self) -> Result<(), Error> {
        let mut resp = self.open_registry().await;
        if resp.is_err() {
            // The URLs in order; the last failure is the one reported.
            for url in &self.urls {
                resp = self.open_url(url).await;
                if resp.is_ok() {
                    break;
                }
            }
        }
        let resp = resp?;
        let pos = self.pos;
        match resp.status() {
            StatusCode::OK => self.skip = pos,
            StatusCode::PARTIAL_CONTENT => {
                self.skip = 0;
                let start = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse::<u64>().ok());
                if let Some(start) = start.filter(|s| *s != pos) {
                    return Err(Error::BadRange {
                        digest: self.digest,
                        got: start,
                        want: pos,
                    });
                }
            }
            _ => return Err(error_from(resp, "Get").await),
        }
        self.resp = Some(resp);
        Ok(())
    }

    /// A failure of the current answer: reconnect after a back-off, or give
    /// up with `e`.
    async fn failed(&mut self, e: Error) -> Result<(), Error> {
        self.resp = None;
        if !self.retry_inside {
            return Err(e);
        }
        self.failures += 1;
        self.reconnects += 1;
        let attempts = self.session.config().attempts.max(1);
        if self.failures >= attempts || self.reconnects > MAX_RECONNECTS {
            return Err(e);
        }
        let delay = self.session.config().backoff * 2u32.saturating_pow(self.failures - 1);
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// The next bytes of the blob; `None` once `size` bytes were yielded.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            if self.pos >= self.size {
                self.resp = None;
                return Ok(None);
            }
            if self.resp.is_none() {
                if let Err(e) = self.open().await {
                    if e.is_retryable() {
                        self.failed(e).await?;
                        continue;
                    }
                    return Err(e);
                }
            }
            let Some(resp) = self.resp.as_mut() else {
                continue;
            };
            match resp.chunk().await {
                Ok(Some(mut c)) => {
                    if self.skip > 0 {
                        let n = (self.skip as usize).min(c.len());
                        self.skip -= n as u64;
                        c = c.slice(n..);
                        if c.is_empty() {
                            continue;
                        }
                    }
                    let end = self.pos + c.len() as u64;
                    if end > self.size {
                        self.resp = None;
                        return Err(Error::SizeMismatch {
                            what: "blob",
                            digest: self.digest,
                            size: end,
                            expected: self.size,
                        });
                    }
                    self.pos = end;
                    self.failures = 0;
                    return Ok(Some(c));
                }
                Ok(None) => {
                    // The answer ended short of the size: the connection
                    // was cut (or the registry misbehaves); resume.
                    let e = Error::Truncated {
                        digest: self.digest,
                        at: self.pos,
                        expected: self.size,
                    };
                    self.failed(e).await?;
                }
                Err(source) => {
                    let e = Error::Transport {
                        method: "Get",
                        url: resp.url().to_string(),
                        source,
                    };
                    self.failed(e).await?;
                }
            }
        }
    }
}

/// A streaming body of `len` bytes of the file at `path` from `offset`,
/// reporting `offset + sent` to `progress`.
fn file_body(
    path: &Path,
    offset: u64,
    len: u64,
    progress: Option<Progress>,
) -> Result<reqwest::Body, Error> {
    let io_err = |op| {
        move |source| Error::Io {
            op,
            path: path.to_owned(),
            source,
        }
    };
    let mut f = std::fs::File::open(path).map_err(io_err("open blob"))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(io_err("seek blob"))?;
    let f = tokio::fs::File::from_std(f);
    let state = (f, len, offset, progress);
    let stream = futures_util::stream::unfold(state, |(mut f, rem, at, p)| async move {
        if rem == 0 {
            return None;
        }
        let mut buf = vec![0u8; rem.min(1 << 20) as usize];
        match f.read(&mut buf).await {
            Ok(0) => Some((
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob file shorter than its size",
                )),
                (f, 0, at, p),
            )),
            Ok(n) => {
                buf.truncate(n);
                let at = at + n as u64;
                if let Some(p) = &p {
                    p(at);
                }
                Some((Ok(Bytes::from(buf)), (f, rem - n as u64, at, p)))
            }
            Err(e) => Some((Err(e), (f, 0, at, p))),
        }
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

/// `location` with `?digest=` (or `&digest=`) added.
fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

fn location_of(resp: &Response) -> Result<String, Error> {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Error::NoLocation {
            url: resp.url().to_string(),
        })
}

/// The offset an upload's `Range: 0-<last>` header says comes next.
fn next_offset(resp: &Response) -> Option<u64> {
    let v = resp.headers().get(RANGE)?.to_str().ok()?;
    let last = v.strip_prefix("bytes=").unwrap_or(v).split('-').nth(1)?;
    last.parse::<u64>().ok().map(|l| l + 1)
}

impl Session {
    /// HEADs the blob: its size when the repository has it.
    pub async fn blob_exists(&self, digest: &Digest) -> Result<Option<u64>, Error> {
        let path = self.path(&format!("blobs/{digest}"));
        let resp = self
            .send(&Request {
                method: Method::HEAD,
                target: &path,
                build: &Ok,
                extra_scopes: &[],
                retry: true,
            })
            .await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(crate::client::header_length(&resp).unwrap_or(0))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(error_from(resp, "Head").await),
        }
    }

    /// A download of the blob `digest` of `size` bytes, starting at
    /// `offset` (what an earlier attempt already stored).
    pub fn blob_stream(&self, digest: Digest, size: u64, offset: u64) -> BlobStream {
        BlobStream {
            session: self.clone(),
            digest,
            size,
            pos: offset.min(size),
            skip: 0,
            resp: None,
            failures: 0,
            reconnects: 0,
            retry_inside: true,
            urls: Vec::new(),
        }
    }

    /// Downloads a small blob (a config) whole and checks its digest.
    pub async fn fetch_blob(&self, digest: Digest, size: u64, limit: u64) -> Result<Bytes, Error> {
        if size > limit {
            return Err(Error::TooLarge {
                what: format!("blob {digest}"),
                limit,
            });
        }
        let mut s = self.blob_stream(digest, size, 0);
        let mut buf = Vec::with_capacity(size as usize);
        while let Some(c) = s.next_chunk().await? {
            buf.extend_from_slice(&c);
        }
        let actual = Digest::of(&buf);
        if actual != digest {
            return Err(Error::DigestMismatch {
                what: "blob",
                digest: digest.to_string(),
                actual,
            });
        }
        Ok(Bytes::from(buf))
    }

    /// Starts an upload; with `mount` (a digest and a repository path on
    /// the same registry) asks for a cross-repository mount first. `Ok(None)`
    /// means the mount was made.
    async fn start_upload(&self, mount: Option<(&Digest, &str)>) -> Result<Option<String>, Error> {
        let (target, extra) = match mount {
            Some((d, from)) => (
                self.path(&format!("blobs/uploads/?mount={d}&from={from}")),
                vec![repository_scope(from, Access::Pull)],
            ),
            None => (self.path("blobs/uploads/"), Vec::new()),
        };
        let build = |rb: RequestBuilder| Ok(rb.header(CONTENT_LENGTH, "0"));
        let resp = self
            .send(&Request {
                method: Method::POST,
                target: &target,
                build: &build,
                extra_scopes: &extra,
                retry: true,
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED if mount.is_some() => Ok(None),
            StatusCode::ACCEPTED => location_of(&resp).map(Some),
            _ => Err(error_from(resp, "Post").await),
        }
    }

    /// Sends the file's bytes to the upload at `location` and finishes it:
    /// one PUT, or PATCH chunks then an empty PUT.
    async fn send_upload(
        &self,
        mut location: String,
        digest: &Digest,
        size: u64,
        path: &Path,
        progress: &Progress,
    ) -> Result<(), Error> {
        let chunk = self.config().chunk_size.max(1);
        let mut offset = 0;
        if size > chunk {
            while offset < size {
                let len = chunk.min(size - offset);
                let p = progress.clone();
                let build = |rb: RequestBuilder| {
                    Ok(rb
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_RANGE, format!("{offset}-{}", offset + len - 1))
                        .header(CONTENT_LENGTH, len.to_string())
                        .body(file_body(path, offset, len, Some(p.clone()))?))
                };
                let resp = self
                    .send(&Request {
                        method: Method::PATCH,
                        target: &location,
                        build: &build,
                        extra_scopes: &[],
                        retry: false,
                    })
                    .await;
                match resp {
                    Ok(r) if r.status() == StatusCode::ACCEPTED => {
                        let next = next_offset(&r).unwrap_or(offset + len);
                        location = location_of(&r)?;
                        offset = next;
                    }
                    Ok(r) => return Err(error_from(r, "Patch").await),
                    Err(e) if e.is_retryable() => {
                        // Ask where the registry stands and go on from
                        // there (distribution spec, "Upload Progress").
                        offset = self.upload_status(&location).await.map_err(|_| e)?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let target = with_digest(&location, digest);
        let rest = size - offset;
        let p = progress.clone();
        let build = |rb: RequestBuilder| {
            let rb = rb
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, rest.to_string());
            Ok(if rest > 0 {
                rb.body(file_body(path, offset, rest, Some(p.clone()))?)
            } else {
                rb
            })
        };
        let resp = self
            .send(&Request {
                method: Method::PUT,
                target: &target,
                build: &build,
                extra_scopes: &[],
                retry: false,
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(error_from(resp, go_method(&Method::PUT)).await);
        }
        Ok(())
    }

    /// The offset an unfinished upload continues at.
    async fn upload_status(&self, location: &str) -> Result<u64, Error> {
        let resp = self
            .send(&Request {
                method: Method::GET,
                target: location,
                build: &Ok,
                extra_scopes: &[],
                retry: true,
            })
            .await?;
        if resp.status() != StatusCode::NO_CONTENT {
            return Err(error_from(resp, "Get").await);
        }
        Ok(next_offset(&resp).unwrap_or(0))
    }

    /// Pushes the blob `digest` (`size` bytes, stored at `path`) unless the
    /// repository has it; tries a mount from each of `mount_from` (paths of
    /// repositories on the same registry that have it) before sending bytes.
    /// A failed upload is started over, up to the configured attempts.
    pub async fn push_blob(
        &self,
        digest: &Digest,
        size: u64,
        path: &Path,
        mount_from: &[String],
        progress: Progress,
    ) -> Result<Uploaded, Error> {
        if self.blob_exists(digest).await?.is_some() {
            return Ok(Uploaded::Exists);
        }
        let mut location = None;
        for from in mount_from.iter().filter(|f| **f != self.repository().path) {
            match self.start_upload(Some((digest, from))).await {
                Ok(None) => return Ok(Uploaded::Mounted { from: from.clone() }),
                // Not mounted, but an upload was started: use it.
                Ok(Some(l)) => {
                    location = Some(l);
                    break;
                }
                // No access to the source, or no mount support: upload.
                Err(_) => {}
            }
        }
        let attempts = self.config().attempts.max(1);
        let mut attempt = 0;
        loop {
            let loc = match location.take() {
                Some(l) => l,
                None => self
                    .start_upload(None)
                    .await?
                    .ok_or_else(|| Error::NoLocation {
                        url: self.path("blobs/uploads/"),
                    })?,
            };
            match self.send_upload(loc, digest, size, path, &progress).await {
                Ok(()) => return Ok(Uploaded::Pushed),
                Err(e) if e.is_retryable() && attempt + 1 < attempts => {
                    tokio::time::sleep(self.config().backoff * 2u32.pow(attempt.min(10))).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_query_is_appended() {
        let d = Digest::of(b"x");
        assert_eq!(
            with_digest("/v2/a/blobs/uploads/u1", &d),
            format!("/v2/a/blobs/uploads/u1?digest={d}")
        );
        assert_eq!(
            with_digest("http://h/v2/a/blobs/uploads/u1?_state=s", &d),
            format!("http://h/v2/a/blobs/uploads/u1?_state=s&digest={d}")
        );
    }
}
