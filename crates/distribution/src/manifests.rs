//! Manifests: GET/HEAD/PUT `/v2/<name>/manifests/<reference>` with the
//! Accept list of what berth can run (OCI manifest and index, Docker v2
//! schema 2 and manifest list), digest checks, and platform selection
//! from indexes.
//!
//! The bytes are kept as the registry sent them: they are what the digest
//! covers and what gets stored.

use berth_content::Digest;
use berth_image::manifest::{
    self, Descriptor, MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_INDEX, MT_OCI_MANIFEST, Manifest,
    Parsed, Platform,
};
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};

use crate::client::{Request, Session, error_from, go_method, read_limited};
use crate::error::Error;

/// The most a manifest may weigh (distribution's default limit is 4 MiB).
pub const MANIFEST_LIMIT: u64 = 4 << 20;

/// What manifest GETs and HEADs accept, preferred first.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A manifest or index as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Bytes,
}

impl Fetched {
    /// Its descriptor (no platform).
    pub fn descriptor(&self) -> Descriptor {
        berth_image::import::blob_descriptor(&self.media_type, self.digest, self.bytes.len() as u64)
    }

    pub fn parse(&self) -> Result<Parsed, Error> {
        manifest::parse(&self.digest, Some(&self.media_type), &self.bytes).map_err(|source| {
            Error::Parse {
                what: format!("manifest {}", self.digest),
                source,
            }
        })
    }
}

/// An image resolved for one platform: what the reference named (`top`,
/// a manifest or an index) and the manifest chosen from it.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    pub top: Fetched,
    /// The platform's manifest (the same as `top` for a plain manifest).
    pub manifest: Fetched,
    pub parsed: Manifest,
}

fn content_type(h: &HeaderMap) -> Option<String> {
    h.get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        // A registry that does not know the type says JSON or nothing;
        // the document's own mediaType (or shape) decides then.
        .filter(|v| !v.is_empty() && v != "application/json" && v != "text/plain")
}

fn header_digest(h: &HeaderMap) -> Option<Digest> {
    h.get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn is_digest(reference: &str) -> bool {
    reference.contains(':')
}

impl Session {
    /// GETs the manifest `reference` (a tag or a digest). A digest
    /// reference must match the bytes; a tag's bytes must match the
    /// registry's `Docker-Content-Digest` when it sends one.
    pub async fn get_manifest(&self, reference: &str) -> Result<Fetched, Error> {
        let path = self.path(&format!("manifests/{reference}"));
        let build = |rb: reqwest::RequestBuilder| Ok(rb.header(ACCEPT, ACCEPT_MANIFESTS));
        let resp = self
            .send(&Request {
                method: Method::GET,
                target: &path,
                build: &build,
                extra_scopes: &[],
                retry: true,
            })
            .await?;
        if resp.status() != StatusCode::OK {
            return Err(manifest_error(error_from(resp, "Get").await));
        }
        let hint = content_type(resp.headers());
        let announced = header_digest(resp.headers());
        let url = resp.url().to_string();
        let bytes = read_limited(resp, MANIFEST_LIMIT, "manifest", "Get", &url).await?;
        let actual = Digest::of(&bytes);
        let expected = if is_digest(reference) {
            Some(reference.to_owned())
        } else {
            announced.map(|d| d.to_string())
        };
        if let Some(want) = expected {
            if want != actual.to_string() {
                return Err(Error::DigestMismatch {
                    what: "manifest",
                    digest: want,
                    actual,
                });
            }
        }
        let media_type = match hint {
            Some(h) => h,
            None => match manifest::parse(&actual, None, &bytes) {
                Ok(Parsed::Index(i)) => i.media_type.unwrap_or_else(|| MT_OCI_INDEX.to_owned()),
                Ok(Parsed::Manifest(m)) => {
                    m.media_type.unwrap_or_else(|| MT_OCI_MANIFEST.to_owned())
                }
                Err(source) => {
                    return Err(Error::Parse {
                        what: format!("manifest {reference}"),
                        source,
                    });
                }
            },
        };
        Ok(Fetched {
            digest: actual,
            media_type,
            bytes,
        })
    }

    /// HEADs the manifest `reference`: its descriptor, or `None` when the
    /// registry does not have it.
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<Descriptor>, Error> {
        let path = self.path(&format!("manifests/{reference}"));
        let build = |rb: reqwest::RequestBuilder| Ok(rb.header(ACCEPT, ACCEPT_MANIFESTS));
        let resp = self
            .send(&Request {
                method: Method::HEAD,
                target: &path,
                build: &build,
                extra_scopes: &[],
                retry: true,
            })
            .await?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(error_from(resp, "Head").await),
        }
        let digest = header_digest(resp.headers()).ok_or_else(|| Error::Status {
            method: "Head",
            url: resp.url().to_string(),
            status: 200,
        })?;
        let media_type = content_type(resp.headers()).unwrap_or_default();
        let size = crate::client::header_length(&resp).unwrap_or(0);
        Ok(Some(berth_image::import::blob_descriptor(
            &media_type,
            digest,
            size,
        )))
    }

    /// PUTs `bytes` as the manifest `reference` (a tag, or its digest) of
    /// type `media_type`; returns its digest after checking the registry
    /// agrees on it.
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest, Error> {
        let path = self.path(&format!("manifests/{reference}"));
        let digest = Digest::of(&bytes);
        let build = |rb: reqwest::RequestBuilder| {
            Ok(rb
                .header(CONTENT_TYPE, media_type)
                .body(reqwest::Body::from(bytes.clone())))
        };
        let resp = self
            .send(&Request {
                method: Method::PUT,
                target: &path,
                build: &build,
                extra_scopes: &[],
                retry: true,
            })
            .await?;
        if resp.status() != StatusCode::CREATED && resp.status() != StatusCode::OK {
            return Err(error_from(resp, go_method(&Method::PUT)).await);
        }
        if let Some(d) = header_digest(resp.headers()) {
            if d != digest {
                return Err(Error::DigestMismatch {
                    what: "pushed manifest",
                    digest: digest.to_string(),
                    actual: d,
                });
            }
        }
        Ok(digest)
    }

    /// Fetches what `reference` names and, for an index, the manifest
    /// `platform` selects from it (the best variant match, index order on
    /// ties).
    pub async fn resolve_image(
        &self,
        reference: &str,
        platform: &Platform,
    ) -> Result<ResolvedImage, Error> {
        let top = self.get_manifest(reference).await?;
        let (manifest, parsed) = match top.parse()? {
            Parsed::Manifest(m) => (top.clone(), *m),
            Parsed::Index(i) => {
                let desc = i.select(&top.digest, platform).map_err(Error::Platform)?;
                let m = self.get_manifest(&desc.digest.to_string()).await?;
                if m.bytes.len() as u64 != desc.size {
                    return Err(Error::SizeMismatch {
                        what: "manifest",
                        digest: desc.digest,
                        size: m.bytes.len() as u64,
                        expected: desc.size,
                    });
                }
                let m = Fetched {
                    media_type: desc.media_type.clone(),
                    ..m
                };
                match m.parse()? {
                    Parsed::Manifest(p) => (m, *p),
                    Parsed::Index(_) => {
                        return Err(Error::Parse {
                            what: format!("manifest {}", desc.digest),
                            source: manifest::ManifestError::UnknownMediaType {
                                digest: desc.digest,
                                media_type: MT_OCI_INDEX.to_owned(),
                            },
                        });
                    }
                }
            }
        };
        Ok(ResolvedImage {
            top,
            manifest,
            parsed,
        })
    }
}

/// A manifest GET's 404 without an error document is MANIFEST_UNKNOWN, as
/// Docker's client reports it.
fn manifest_error(e: Error) -> Error {
    match e {
        Error::Status {
            method,
            url,
            status: 404,
        } => Error::Registry {
            method,
            url,
            status: 404,
            errors: vec![crate::error::RegistryError {
                code: "MANIFEST_UNKNOWN".into(),
                message: "manifest unknown".into(),
                detail: serde_json::Value::Null,
            }],
        },
        e => e,
    }
}

/// Whether `mt` is a Docker (not OCI) manifest or list type.
pub fn is_docker_media_type(mt: &str) -> bool {
    mt == MT_DOCKER_MANIFEST || mt == MT_DOCKER_LIST
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn content_types_and_digests_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(content_type(&h), None);
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
        );
        assert_eq!(content_type(&h).as_deref(), Some(MT_OCI_MANIFEST));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(content_type(&h), None);
        let d = Digest::of(b"x");
        h.insert(
            "Docker-Content-Digest",
            HeaderValue::from_str(&d.to_string()).unwrap(),
        );
        assert_eq!(header_digest(&h), Some(d));
        assert!(is_digest(&d.to_string()));
        assert!(!is_digest("latest"));
        let e = manifest_error(Error::Status {
            method: "Get",
            url: "u".into(),
            status: 404,
        });
        assert_eq!(e.to_string(), "manifest unknown: manifest unknown");
    }
}
