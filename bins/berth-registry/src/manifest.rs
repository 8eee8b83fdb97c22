//! Manifests as the registry sees them: which media type, which blobs and
//! manifests they reference, and what the referrers API needs (subject,
//! artifact type, annotations). The bytes themselves are stored and served
//! exactly as pushed; this module only reads them.

use std::collections::BTreeMap;

use berth_content::Digest;
use serde::Deserialize;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Why a manifest is refused (MANIFEST_INVALID, or DIGEST_INVALID for a
/// descriptor naming an unusable digest).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("unsupported manifest media type {0:?}")]
    MediaType(String),
    #[error("manifest mediaType {body:?} differs from Content-Type {header:?}")]
    MediaTypeMismatch { body: String, header: String },
    #[error("schemaVersion must be 2")]
    SchemaVersion,
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("descriptor digest {0:?} is not a sha256 digest")]
    Digest(String),
}

/// What a descriptor points at, for the existence check on PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A blob that must be in the repository (config, layer).
    Blob { digest: Digest, size: u64 },
    /// A manifest that must be in the repository (index entry).
    Manifest { digest: Digest },
}

/// A parsed, validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub media_type: String,
    pub targets: Vec<Target>,
    pub subject: Option<Digest>,
    pub artifact_type: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<u64>,
    #[serde(default)]
    urls: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    schema_version: Option<u64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// The media type without parameters (`; charset=utf-8`).
pub fn bare_media_type(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}

fn digest_of(d: &Descriptor, what: &'static str) -> Result<Digest, ManifestError> {
    let s = d.digest.as_deref().ok_or(ManifestError::Missing(what))?;
    s.parse().map_err(|_| ManifestError::Digest(s.to_owned()))
}

/// Parses `bytes` pushed with `content_type` (the request's Content-Type,
/// if any).
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Parsed, ManifestError> {
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
    let header = content_type.map(bare_media_type).filter(|c| !c.is_empty());
    // The type is the body's own `mediaType` when present; OCI manifests may
    // omit it, and then Content-Type says (OCI distribution spec, "Pushing
    // Manifests"). A client that sends both must send the same.
    let media_type = match (&doc.media_type, header) {
        (Some(body), Some(h)) if body != h => {
            return Err(ManifestError::MediaTypeMismatch {
                body: body.clone(),
                header: h.to_owned(),
            });
        }
        (Some(body), _) => body.clone(),
        (None, Some(h)) => h.to_owned(),
        (None, None) if doc.manifests.is_some() => OCI_INDEX.to_owned(),
        (None, None) => OCI_MANIFEST.to_owned(),
    };
    if doc.schema_version != Some(2) {
        return Err(ManifestError::SchemaVersion);
    }
    let mut targets = Vec::new();
    let mut artifact_type = doc.artifact_type.clone();
    match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = doc
                .config
                .as_ref()
                .ok_or(ManifestError::Missing("config"))?;
            let layers = doc
                .layers
                .as_ref()
                .ok_or(ManifestError::Missing("layers"))?;
            for (d, what) in std::iter::once((config, "config.digest"))
                .chain(layers.iter().map(|l| (l, "layers[].digest")))
            {
                let digest = digest_of(d, what)?;
                let size = d.size.ok_or(ManifestError::Missing("descriptor size"))?;
                // Foreign and non-distributable layers live at their `urls`,
                // not in this registry, so they need not be pushed first.
                if d.urls.is_empty() {
                    targets.push(Target::Blob { digest, size });
                }
            }
            // OCI 1.1: an image manifest's artifact type defaults to its
            // config's media type in referrers listings.
            if artifact_type.is_none() {
                artifact_type = config.media_type.clone();
            }
        }
        OCI_INDEX | DOCKER_LIST => {
            let manifests = doc
                .manifests
                .as_ref()
                .ok_or(ManifestError::Missing("manifests"))?;
            for m in manifests {
                let digest = digest_of(m, "manifests[].digest")?;
                targets.push(Target::Manifest { digest });
            }
        }
        other => return Err(ManifestError::MediaType(other.to_owned())),
    }
    let subject = doc
        .subject
        .as_ref()
        .map(|s| digest_of(s, "subject.digest"))
        .transpose()?;
    Ok(Parsed {
        media_type,
        targets,
        subject,
        artifact_type,
        annotations: doc.annotations,
    })
}

/// Whether a client's Accept header admits `media_type`. No header, or a
/// wildcard, admits everything.
pub fn accepts(accept: &[&str], media_type: &str) -> bool {
    let mut any = false;
    for value in accept {
        for item in value.split(',') {
            let t = bare_media_type(item);
            if t.is_empty() {
                continue;
            }
            any = true;
            if t == media_type || t == "*/*" || t == "application/*" {
                return true;
            }
        }
    }
    !any
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &[u8]) -> String {
        Digest::of(s).to_string()
    }

    #[test]
    fn image_manifest_targets_and_artifact_type() {
        let body = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(b"c"), "size": 1},
            "layers": [
                {"mediaType": "l", "digest": d(b"l"), "size": 1},
                {"mediaType": "foreign", "digest": d(b"f"), "size": 1, "urls": ["https://example.com/f"]}
            ],
            "subject": {"mediaType": OCI_MANIFEST, "digest": d(b"s"), "size": 1}
        });
        let p = parse(body.to_string().as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(p.targets.len(), 2);
        assert_eq!(p.subject, Some(Digest::of(b"s")));
        assert_eq!(
            p.artifact_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
    }

    #[test]
    fn refusals() {
        let index = serde_json::json!({"schemaVersion": 2, "manifests": []}).to_string();
        assert_eq!(parse(index.as_bytes(), None).unwrap().media_type, OCI_INDEX);
        assert!(matches!(
            parse(index.as_bytes(), Some("text/plain")),
            Err(ManifestError::MediaType(_))
        ));
        assert!(matches!(parse(b"{", None), Err(ManifestError::Json(_))));
        let v1 = serde_json::json!({"schemaVersion": 1, "mediaType": DOCKER_MANIFEST}).to_string();
        assert_eq!(
            parse(v1.as_bytes(), None),
            Err(ManifestError::SchemaVersion)
        );
        let mismatch =
            serde_json::json!({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": []})
                .to_string();
        assert!(matches!(
            parse(mismatch.as_bytes(), Some(OCI_INDEX)),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        let bad = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"digest": "sha256:nope", "size": 1}, "layers": []})
        .to_string();
        assert!(matches!(
            parse(bad.as_bytes(), None),
            Err(ManifestError::Digest(_))
        ));
    }

    #[test]
    fn accept_negotiation() {
        assert!(accepts(&[], OCI_INDEX));
        assert!(accepts(&["application/json, */*"], OCI_INDEX));
        assert!(!accepts(&[DOCKER_MANIFEST], OCI_INDEX));
        assert!(accepts(
            &[
                DOCKER_MANIFEST,
                "application/vnd.oci.image.index.v1+json; q=0.5"
            ],
            OCI_INDEX
        ));
    }
}
