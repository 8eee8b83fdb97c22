//! Manifests and indexes, OCI's and Docker's (v2 schema 2 and manifest
//! list share the OCI shapes), and platform selection.
//!
//! Parsed values are for reading only: the bytes that were hashed are
//! kept by the caller and are what gets stored and served. Re-serializing
//! a parsed manifest would change its digest.

use std::collections::BTreeMap;

use berth_content::Digest;
use serde::{Deserialize, Serialize};

pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MT_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MT_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const MT_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const MT_DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const MT_DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Errors reading manifests.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("parse manifest {digest}: {source}")]
    Json {
        digest: Digest,
        #[source]
        source: serde_json::Error,
    },
    #[error("parse manifest {digest}: media type {media_type:?} is not a manifest or index")]
    UnknownMediaType { digest: Digest, media_type: String },
    #[error("parse manifest {digest}: schema 1 manifests are not supported")]
    Schema1 { digest: Digest },
    #[error("parse manifest {digest}: schemaVersion {version}, expected 2")]
    SchemaVersion { digest: Digest, version: u32 },
    #[error("select platform {want} from index {digest}: no matching manifest")]
    NoPlatform { digest: Digest, want: String },
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// An OS/architecture pair with its refinements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
            ..Platform::default()
        }
    }

    /// The default: linux/amd64.
    pub fn default_linux() -> Platform {
        Platform::new("linux", "amd64", None)
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut it = s.split('/');
        let (os, arch, variant) = (it.next()?, it.next()?, it.next());
        if it.next().is_some() || os.is_empty() || arch.is_empty() {
            return None;
        }
        Some(Platform::new(os, arch, variant).normalized())
    }

    /// Canonical names: x86_64 → amd64, aarch64 → arm64 (variant v8),
    /// arm defaults to v7, amd64's v1 is no variant.
    pub fn normalized(&self) -> Platform {
        let mut p = self.clone();
        p.os = p.os.to_lowercase();
        let (arch, variant) = match (p.architecture.to_lowercase().as_str(), p.variant.as_deref()) {
            ("x86_64" | "x86-64" | "amd64", Some("v1") | None) => ("amd64".to_owned(), None),
            ("x86_64" | "x86-64" | "amd64", Some(v)) => ("amd64".to_owned(), Some(v.to_owned())),
            ("aarch64" | "arm64", None | Some("8") | Some("v8")) => {
                ("arm64".to_owned(), Some("v8".to_owned()))
            }
            ("aarch64" | "arm64", Some(v)) => ("arm64".to_owned(), Some(v.to_owned())),
            ("armhf", _) => ("arm".to_owned(), Some("v7".to_owned())),
            ("armel", _) => ("arm".to_owned(), Some("v6".to_owned())),
            ("arm", None) => ("arm".to_owned(), Some("v7".to_owned())),
            ("arm", Some(v)) => (
                "arm".to_owned(),
                Some(if v.starts_with('v') {
                    v.to_owned()
                } else {
                    format!("v{v}")
                }),
            ),
            ("i386" | "386", _) => ("386".to_owned(), None),
            (a, v) => (a.to_owned(), v.map(str::to_owned)),
        };
        p.architecture = arch;
        p.variant = variant;
        p
    }

    /// How well `self` (a wanted platform) accepts `have`: `None` when it
    /// cannot run it, lower is better. An arm/v7 host also runs v6 and v5
    /// images, amd64 variants run older ones, in that order of preference.
    pub fn rank(&self, have: &Platform) -> Option<u32> {
        let (w, h) = (self.normalized(), have.normalized());
        if w.os != h.os || w.architecture != h.architecture {
            return None;
        }
        let num = |v: &Option<String>| {
            v.as_deref()
                .and_then(|v| v.trim_start_matches('v').parse::<u32>().ok())
        };
        match (w.variant.as_deref(), h.variant.as_deref()) {
            (a, b) if a == b => Some(0),
            (None, _) => Some(1),
            _ => match (num(&w.variant), num(&h.variant)) {
                (Some(wv), Some(hv)) if hv < wv => Some(1 + wv - hv),
                // amd64 with no variant means v1, which every amd64 runs.
                (Some(_), None) if w.architecture == "amd64" => Some(10),
                _ => None,
            },
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image manifest (OCI or Docker v2s2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A parsed manifest or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Manifest(Box<Manifest>),
    Index(Index),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
}

/// Parses the manifest or index `bytes` (whose digest is `digest`, for
/// messages). The media type comes from `hint` (a descriptor or
/// Content-Type) or the document's own `mediaType`, else its shape.
pub fn parse(digest: &Digest, hint: Option<&str>, bytes: &[u8]) -> Result<Parsed, ManifestError> {
    let json = |source| ManifestError::Json {
        digest: *digest,
        source,
    };
    let probe: Probe = serde_json::from_slice(bytes).map_err(json)?;
    if probe.schema_version == Some(1) {
        return Err(ManifestError::Schema1 { digest: *digest });
    }
    let mt = hint.map(str::to_owned).or(probe.media_type.clone());
    let is_index = match mt.as_deref() {
        Some(MT_OCI_INDEX | MT_DOCKER_LIST) => true,
        Some(MT_OCI_MANIFEST | MT_DOCKER_MANIFEST) => false,
        Some(MT_DOCKER_SCHEMA1 | MT_DOCKER_SCHEMA1_SIGNED) => {
            return Err(ManifestError::Schema1 { digest: *digest });
        }
        Some(other) if !other.is_empty() && !other.ends_with("json") => {
            return Err(ManifestError::UnknownMediaType {
                digest: *digest,
                media_type: other.to_owned(),
            });
        }
        _ if probe.manifests.is_some() => true,
        _ if probe.config.is_some() => false,
        other => {
            return Err(ManifestError::UnknownMediaType {
                digest: *digest,
                media_type: other.unwrap_or_default().to_owned(),
            });
        }
    };
    match probe.schema_version {
        Some(2) => {}
        v => {
            return Err(ManifestError::SchemaVersion {
                digest: *digest,
                version: v.unwrap_or(0),
            });
        }
    }
    if is_index {
        serde_json::from_slice(bytes)
            .map(Parsed::Index)
            .map_err(json)
    } else {
        serde_json::from_slice(bytes)
            .map(Parsed::Manifest)
            .map_err(json)
    }
}

impl Index {
    /// The manifest for `want`: the best-ranked match, the first one on
    /// ties (index order is the publisher's preference).
    pub fn select(&self, digest: &Digest, want: &Platform) -> Result<&Descriptor, ManifestError> {
        self.manifests
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d.media_type.as_str(), MT_OCI_MANIFEST | MT_DOCKER_MANIFEST))
            .filter_map(|(i, d)| {
                d.platform
                    .as_ref()
                    .and_then(|p| want.rank(p))
                    .map(|r| (r, i, d))
            })
            .min_by_key(|(r, i, _)| (*r, *i))
            .map(|(_, _, d)| d)
            .ok_or_else(|| ManifestError::NoPlatform {
                digest: *digest,
                want: want.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn desc(n: u8, p: &str) -> String {
        let p = Platform::parse(p).unwrap();
        let variant = p
            .variant
            .map(|v| format!(r#","variant":"{v}""#))
            .unwrap_or_default();
        format!(
            r#"{{"mediaType":"{MT_OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"os":"{}","architecture":"{}"{variant}}}}}"#,
            d(n),
            p.os,
            p.architecture
        )
    }

    #[test]
    fn parses_by_media_type_or_shape() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MT_DOCKER_MANIFEST}","config":{{"mediaType":"{MT_DOCKER_CONFIG}","digest":"{}","size":7}},"layers":[]}}"#,
            d(1)
        );
        assert!(
            matches!(parse(&d(0), None, m.as_bytes()).unwrap(), Parsed::Manifest(x) if x.config.size == 7)
        );
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            desc(1, "linux/amd64")
        );
        assert!(matches!(
            parse(&d(0), None, idx.as_bytes()).unwrap(),
            Parsed::Index(_)
        ));
        let s1 = r#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        assert!(matches!(
            parse(&d(0), None, s1.as_bytes()),
            Err(ManifestError::Schema1 { .. })
        ));
        let e = parse(&d(0), Some("application/x-tar"), idx.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("is not a manifest or index"), "{e}");
        assert!(matches!(
            parse(&d(0), None, b"{"),
            Err(ManifestError::Json { .. })
        ));
    }

    #[test]
    fn selects_platforms_variant_aware() {
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{},{},{},{},{}]}}"#,
            desc(1, "linux/arm/v6"),
            desc(2, "linux/arm64/v8"),
            desc(3, "linux/amd64"),
            desc(4, "linux/arm/v7"),
            desc(5, "windows/amd64")
        );
        let Parsed::Index(i) = parse(&d(0), None, idx.as_bytes()).unwrap() else {
            panic!("index")
        };
        let pick = |p: &str| {
            i.select(&d(0), &Platform::parse(p).unwrap())
                .map(|x| x.digest)
        };
        assert_eq!(pick("linux/amd64").unwrap(), d(3));
        assert_eq!(
            i.select(&d(0), &Platform::default_linux()).unwrap().digest,
            d(3)
        );
        assert_eq!(
            pick("linux/arm/v7").unwrap(),
            d(4),
            "exact variant beats older"
        );
        assert_eq!(pick("linux/arm/v6").unwrap(), d(1));
        assert_eq!(pick("linux/aarch64").unwrap(), d(2));
        assert_eq!(
            pick("linux/arm/v8").unwrap(),
            d(4),
            "newest compatible older variant"
        );
        assert!(pick("linux/arm/v5").is_err());
        let e = pick("linux/s390x").unwrap_err();
        assert!(e.to_string().contains("linux/s390x"), "{e}");
    }
}
