//! One layer of a pull into the content store, with dockerd's retries.
//!
//! An attempt streams the blob into an ingest named by its digest and
//! commits it (the content store verifies size and digest). An attempt
//! that fails on the way (the connection fails or breaks off, the registry
//! answers 5xx) is followed by another after `attempt × 5` seconds,
//! counted down in the layer's progress line ("Retrying in 5 seconds"), up
//! to `max-download-attempts` attempts in all (moby's download manager;
//! 24.0 fixed 20.10's one attempt too many). The ingest keeps what arrived,
//! so each attempt resumes with a `Range` request where the last one
//! stopped. A digest that does not match after a resumed attempt has the
//! ingest started over and counts as a failed attempt; after a download
//! from the first byte it is final, as are refusals (4xx) and local
//! failures.

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use berth_content::{ContentError, Resource};
use berth_distribution::Session;
use berth_image::manifest::Descriptor;

use super::ImageService;
use super::remote::{Out, RegistryError, Throttle, layer_progress, layer_status};

/// The unit of dockerd's back-off: attempt N waits N × 5 of them.
const RETRY_TICK: Duration = Duration::from_secs(1);

/// How one attempt ended.
enum Attempt {
    Done,
    /// The pull gave up meanwhile (another layer failed).
    Cancelled,
    /// `retry`: whether another attempt may help.
    Failed {
        error: RegistryError,
        retry: bool,
    },
}

/// The seconds dockerd waits before attempt `next` (2, 3, …).
pub(crate) fn retry_delay(next: u32) -> u64 {
    u64::from(next.saturating_sub(1)) * 5
}

/// "Retrying in 5 seconds", "Retrying in 1 second".
pub(crate) fn retry_text(secs: u64) -> String {
    let s = if secs == 1 { "" } else { "s" };
    format!("Retrying in {secs} second{s}")
}

/// Whether a failed attempt may be tried again (moby's `retryOnError`:
/// transport failures and broken-off answers, 5xx; not refusals).
fn retryable(e: &RegistryError) -> bool {
    matches!(e, RegistryError::Registry(d) if d.is_retryable())
}

impl ImageService {
    /// Downloads `layer` (blocking; drives the transfer on the calling
    /// thread's runtime) with up to `attempts` attempts, and adds it to
    /// `lease`. See the module docs. A concurrent pull of the same layer
    /// is waited for.
    pub(crate) fn download(
        &self,
        session: &Session,
        layer: &Descriptor,
        lease: &str,
        out: &Out,
        cancel: &AtomicBool,
        attempts: u32,
    ) -> Result<(), RegistryError> {
        let id = layer.digest.short();
        let attempts = attempts.max(1);
        let mut attempt = 1;
        let mut fresh = false;
        loop {
            match self.download_attempt(session, layer, out, cancel, fresh) {
                Attempt::Done => break,
                Attempt::Cancelled => return Ok(()),
                Attempt::Failed { error, retry } => {
                    if !retry {
                        return Err(error);
                    }
                    if attempt >= attempts {
                        return Err(RegistryError::Download {
                            digest: layer.digest,
                            attempts: attempt,
                            source: Box::new(error),
                        });
                    }
                    fresh = matches!(error, RegistryError::Verification(_));
                    attempt += 1;
                    if !count_down(out, &id, retry_delay(attempt), cancel) {
                        return Ok(());
                    }
                }
            }
        }
        self.inner
            .leases
            .add(lease, Resource::Content { id: layer.digest })
            .map_err(RegistryError::Lease)?;
        out.blocking(layer_status(&id, "Download complete"));
        Ok(())
    }

    /// One attempt (see the module docs); `fresh` starts the ingest over.
    fn download_attempt(
        &self,
        session: &Session,
        layer: &Descriptor,
        out: &Out,
        cancel: &AtomicBool,
        fresh: bool,
    ) -> Attempt {
        let handle = tokio::runtime::Handle::current();
        let content = &self.inner.content;
        let id = layer.digest.short();
        let reference = format!("pull-layer-{}", layer.digest.hex());
        let cerr = |source| RegistryError::Content {
            what: format!("layer {}", layer.digest),
            source,
        };
        let final_err = |error| Attempt::Failed {
            error,
            retry: false,
        };
        let ingest_err = |e: std::io::Error| {
            cerr(ContentError::Io {
                op: "write ingest",
                path: content.root().join("ingest").join(&reference),
                source: e,
            })
        };
        let mut w = loop {
            match content.writer(&reference, Some(&layer.digest)) {
                Ok(w) => break w,
                Err(ContentError::AlreadyExists(_)) => return Attempt::Done,
                Err(ContentError::Locked(_)) => {
                    // Another pull is fetching it.
                    if cancel.load(Ordering::SeqCst) {
                        return Attempt::Cancelled;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return final_err(cerr(e)),
            }
        };
        if fresh || w.offset() > layer.size {
            if let Err(e) = w.reset() {
                return final_err(cerr(e));
            }
        }
        let resumed = w.offset() > 0;
        let mut stream = session
            .blob_stream(layer.digest, layer.size, w.offset())
            .with_urls(&layer.urls)
            .caller_retries();
        let mut throttle = Throttle::new();
        let mut bw = BufWriter::with_capacity(1 << 20, &mut w);
        loop {
            if cancel.load(Ordering::SeqCst) {
                // Keep what arrived: a later pull resumes it.
                let _ = bw.flush();
                return Attempt::Cancelled;
            }
            let chunk = match handle.block_on(stream.next_chunk()) {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    // What arrived stays in the ingest for the next attempt.
                    let error = match bw.flush() {
                        Ok(()) => RegistryError::Registry(e),
                        Err(io) => return final_err(ingest_err(io)),
                    };
                    let retry = retryable(&error);
                    return Attempt::Failed { error, retry };
                }
            };
            if let Err(e) = bw.write_all(&chunk) {
                return final_err(ingest_err(e));
            }
            let pos = stream.position();
            if throttle.due(pos == layer.size) {
                out.blocking(layer_progress(&id, "Downloading", pos, layer.size));
            }
        }
        if let Err(e) = bw.flush() {
            return final_err(ingest_err(e));
        }
        drop(bw);
        out.blocking(layer_status(&id, "Verifying Checksum"));
        match w.commit(Some(layer.size), Some(&layer.digest)) {
            Ok(_) | Err(ContentError::AlreadyExists(_)) => Attempt::Done,
            // Bytes from before the break may not belong with the rest:
            // one more attempt from the first byte (moby does the same).
            Err(ContentError::DigestMismatch { .. } | ContentError::SizeMismatch { .. }) => {
                Attempt::Failed {
                    error: RegistryError::Verification(layer.digest),
                    retry: resumed,
                }
            }
            Err(e) => final_err(cerr(e)),
        }
    }
}

/// Waits `secs` seconds, showing the countdown on the layer's line; false
/// when the pull was cancelled meanwhile.
fn count_down(out: &Out, id: &str, secs: u64, cancel: &AtomicBool) -> bool {
    for left in (1..=secs).rev() {
        out.blocking(layer_status(id, &retry_text(left)));
        let until = Instant::now() + RETRY_TICK;
        while Instant::now() < until {
            if cancel.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_is_dockerds() {
        assert_eq!(retry_delay(2), 5);
        assert_eq!(retry_delay(3), 10);
        assert_eq!(retry_delay(5), 20);
        assert_eq!(retry_text(5), "Retrying in 5 seconds");
        assert_eq!(retry_text(1), "Retrying in 1 second");
        let e = berth_distribution::Error::Truncated {
            digest: berth_content::Digest::of(b"x"),
            at: 1,
            expected: 2,
        };
        assert!(retryable(&RegistryError::Registry(e)));
        let e = berth_distribution::Error::Status {
            method: "Get",
            url: "u".into(),
            status: 404,
        };
        assert!(!retryable(&RegistryError::Registry(e)));
        assert!(!retryable(&RegistryError::NoSuchTag("x".into())));
    }
}
