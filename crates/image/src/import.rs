//! `docker import`: a rootfs tarball (plain, gzip or zstd) becomes a
//! one-layer image, with `--change` instructions applied to its config and
//! `--message` as its history comment.
//!
//! The tarball is decompressed, parsed as a tar (so garbage is refused) and
//! stored as the layer blob in the same single pass; the layer's digest is
//! its diff ID.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use berth_content::{ContentError, Digest, LeaseError, Leases, Resource, Store};

use crate::compression::{self, CompressionError};
use crate::config::{History, ImageConfig, RootFs, RunConfig};
use crate::manifest::{
    Descriptor, MT_DOCKER_CONFIG, MT_DOCKER_LAYER, MT_DOCKER_MANIFEST, Manifest, Platform,
};
use crate::reference::{Reference, ReferenceError};
use crate::store::{ImageRecord, ImageStore, ImageStoreError};

/// Errors importing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("import: {0}")]
    Compression(#[source] CompressionError),
    #[error("import: read rootfs tarball: {0}")]
    Read(#[source] io::Error),
    #[error("import: store {what}: {source}")]
    Content {
        what: &'static str,
        #[source]
        source: ContentError,
    },
    #[error("import: {0} is not a valid change command")]
    InvalidChange(String),
    #[error("import: change {change:?}: {reason}")]
    BadChange {
        change: String,
        reason: &'static str,
    },
    #[error("import: repository {name:?}: {source}")]
    Name {
        name: String,
        #[source]
        source: ReferenceError,
    },
    #[error("import lease: {0}")]
    Lease(#[source] LeaseError),
    #[error("import: {0}")]
    Records(#[source] ImageStoreError),
}

/// What to import as.
#[derive(Debug, Clone)]
pub struct ImportOptions<'a> {
    /// Dockerfile-style instructions (`CMD ["sh"]`, `ENV A=1`, ...).
    pub changes: &'a [String],
    /// The history comment; Docker's default is "Imported from -".
    pub message: Option<&'a str>,
    /// The repository[:tag] to record, or none (then only the ID names it).
    pub name: Option<&'a str>,
    pub platform: Platform,
}

/// An imported image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub id: Digest,
    pub manifest: Descriptor,
    pub names: Vec<String>,
}

/// Copies what is read from `r` into `w` as well.
struct Tee<'w, R> {
    r: R,
    w: &'w mut berth_content::Writer,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.w.write_all(&buf[..n])?;
        Ok(n)
    }
}

pub fn unique() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{n}", std::process::id())
}

/// A descriptor of a blob without urls, annotations or platform.
pub fn blob_descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        urls: vec![],
        annotations: BTreeMap::new(),
        platform: None,
    }
}

/// Writes an image's `config`, then a Docker v2 schema 2 manifest over it
/// and `layers`, into the content store (ingest refs `<prefix>-config-…`,
/// `<prefix>-manifest-…`). Returns the config's blob (its digest is the
/// image ID) and the manifest's descriptor, platform unset. On failure,
/// which blob failed ("config" or "manifest") and why. Shared by import and
/// the engine's commit.
pub fn write_config_and_manifest(
    content: &Store,
    config: &ImageConfig,
    layers: Vec<Descriptor>,
    prefix: &str,
) -> Result<(berth_content::Committed, Descriptor), (&'static str, ContentError)> {
    let cbytes = config.to_bytes();
    let c = content
        .write_blob(
            &format!("{prefix}-config-{}", unique()),
            &cbytes[..],
            None,
            None,
        )
        .map_err(|e| ("config", e))?;
    let m = Manifest {
        schema_version: 2,
        media_type: Some(MT_DOCKER_MANIFEST.into()),
        config: blob_descriptor(MT_DOCKER_CONFIG, c.digest, c.size),
        layers,
        annotations: BTreeMap::new(),
    };
    // A manifest is plain data: it always serializes.
    let mbytes = serde_json::to_vec(&m).unwrap_or_default();
    let mc = content
        .write_blob(
            &format!("{prefix}-manifest-{}", unique()),
            &mbytes[..],
            None,
            None,
        )
        .map_err(|e| ("manifest", e))?;
    Ok((c, blob_descriptor(MT_DOCKER_MANIFEST, mc.digest, mc.size)))
}

/// Imports `tarball` as a new image.
pub fn import_rootfs(
    content: &Store,
    leases: &Leases,
    images: &ImageStore,
    tarball: impl Read,
    opts: &ImportOptions<'_>,
) -> Result<Imported, ImportError> {
    // Everything that can be refused without touching the store first.
    let mut run = RunConfig::default();
    apply_changes(&mut run, opts.changes)?;
    let name = opts
        .name
        .map(|n| {
            Reference::parse_normalized(n)
                .map(|r| r.with_default_tag().to_string())
                .map_err(|source| ImportError::Name {
                    name: n.to_owned(),
                    source,
                })
        })
        .transpose()?;
    let lease = format!("import-{}", unique());
    leases
        .create(&lease, Some(24 * 3600), BTreeMap::new())
        .map_err(ImportError::Lease)?;
    let r = import_inner(content, leases, &lease, images, tarball, opts, run, name);
    let _ = leases.delete(&lease);
    r
}

#[allow(clippy::too_many_arguments)]
fn import_inner(
    content: &Store,
    leases: &Leases,
    lease: &str,
    images: &ImageStore,
    tarball: impl Read,
    opts: &ImportOptions<'_>,
    run: RunConfig,
    name: Option<String>,
) -> Result<Imported, ImportError> {
    let cerr = |what| move |source| ImportError::Content { what, source };
    let reference = format!("import-{}", unique());
    let mut w = content.writer(&reference, None).map_err(cerr("layer"))?;
    w.reset().map_err(cerr("layer"))?;
    let parsed = (|| {
        let dec = compression::auto_decoder(tarball).map_err(ImportError::Compression)?;
        let mut tee = Tee { r: dec, w: &mut w };
        let mut ar = tar::Archive::new(&mut tee);
        for e in ar.entries().map_err(ImportError::Read)? {
            let mut e = e.map_err(ImportError::Read)?;
            io::copy(&mut e, &mut io::sink()).map_err(ImportError::Read)?;
        }
        io::copy(ar.into_inner(), &mut io::sink()).map_err(ImportError::Read)?;
        Ok(())
    })();
    if let Err(e) = parsed {
        drop(w);
        // The ingest holds a refused tarball: nothing to resume.
        let _ = content.abort(&reference);
        return Err(e);
    }
    let layer = match w.commit(None, None) {
        Ok(c) => c,
        Err(ContentError::AlreadyExists(d)) => {
            let size = content.info(&d).map_err(cerr("layer"))?.size;
            berth_content::Committed {
                digest: d,
                size,
                created: false,
            }
        }
        Err(e) => return Err(cerr("layer")(e)),
    };
    leases
        .add(lease, Resource::Content { id: layer.digest })
        .map_err(ImportError::Lease)?;
    let created = jiff::Timestamp::now().to_string();
    let comment = opts.message.unwrap_or("Imported from -").to_owned();
    let mut extra = serde_json::Map::new();
    extra.insert("comment".into(), comment.clone().into());
    let config = ImageConfig {
        created: Some(created.clone()),
        author: None,
        architecture: opts.platform.architecture.clone(),
        os: opts.platform.os.clone(),
        variant: opts.platform.variant.clone(),
        config: Some(run),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![layer.digest],
        },
        history: vec![History {
            created: Some(created),
            comment: Some(comment),
            ..History::default()
        }],
        extra,
    };
    let (c, mut target) = write_config_and_manifest(
        content,
        &config,
        vec![blob_descriptor(MT_DOCKER_LAYER, layer.digest, layer.size)],
        "import",
    )
    .map_err(|(what, source)| ImportError::Content { what, source })?;
    leases
        .add(lease, Resource::Content { id: c.digest })
        .map_err(ImportError::Lease)?;
    target.platform = Some(opts.platform.clone());
    let names = vec![name.unwrap_or_else(|| c.digest.to_string())];
    let records = names
        .iter()
        .map(|n| ImageRecord {
            name: n.clone(),
            target: target.clone(),
            created_at: crate::store::now(),
        })
        .collect();
    images.put_all(records).map_err(ImportError::Records)?;
    Ok(Imported {
        id: c.digest,
        manifest: target,
        names,
    })
}

/// Splits on whitespace, keeping double-quoted runs together (quotes
/// removed, `\"` kept as a quote).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn json_or_shell(change: &str, rest: &str) -> Result<Vec<String>, ImportError> {
    if rest.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<String>>(rest.trim()).map_err(|_| ImportError::BadChange {
            change: change.to_owned(),
            reason: "expected a JSON array of strings",
        })
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), rest.trim().to_owned()])
    }
}

fn key_values(change: &str, rest: &str) -> Result<Vec<(String, String)>, ImportError> {
    let ws = words(rest);
    if ws.is_empty() {
        return Err(ImportError::BadChange {
            change: change.to_owned(),
            reason: "missing arguments",
        });
    }
    if !ws[0].contains('=') {
        // Legacy form: `ENV KEY value with spaces`.
        let (k, v) = rest
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((rest.trim(), ""));
        return Ok(vec![(k.to_owned(), v.trim().to_owned())]);
    }
    ws.into_iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| ImportError::BadChange {
                    change: change.to_owned(),
                    reason: "expected KEY=VALUE",
                })
        })
        .collect()
}

/// Applies Dockerfile-style `changes` to `c`, as `docker import --change`.
pub fn apply_changes(c: &mut RunConfig, changes: &[String]) -> Result<(), ImportError> {
    for change in changes {
        let t = change.trim();
        let (kw, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let need = |v: &str| {
            if v.trim().is_empty() {
                Err(ImportError::BadChange {
                    change: change.clone(),
                    reason: "missing arguments",
                })
            } else {
                Ok(v.trim().to_owned())
            }
        };
        match kw.to_ascii_uppercase().as_str() {
            "CMD" => c.cmd = Some(json_or_shell(change, &need(rest)?)?),
            "ENTRYPOINT" => c.entrypoint = Some(json_or_shell(change, &need(rest)?)?),
            "ENV" => {
                let env = c.env.get_or_insert_with(Vec::new);
                for (k, v) in key_values(change, rest)? {
                    env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                let labels = c.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in key_values(change, rest)? {
                    labels.insert(k, v);
                }
            }
            "EXPOSE" => {
                let ports = c.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in words(&need(rest)?) {
                    let p = if p.contains('/') {
                        p.to_ascii_lowercase()
                    } else {
                        format!("{p}/tcp")
                    };
                    let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                    let ok_num = num.split('-').all(|n| n.parse::<u16>().is_ok());
                    if !ok_num || !matches!(proto, "tcp" | "udp" | "sctp") {
                        return Err(ImportError::BadChange {
                            change: change.clone(),
                            reason: "invalid port",
                        });
                    }
                    ports.insert(p.clone(), serde_json::json!({}));
                }
            }
            "USER" => c.user = need(rest)?,
            "WORKDIR" => {
                let w = need(rest)?;
                // A relative WORKDIR continues the previous one.
                c.working_dir = if w.starts_with('/') {
                    w
                } else {
                    format!("{}/{w}", c.working_dir.trim_end_matches('/'))
                };
            }
            "VOLUME" => {
                let r = need(rest)?;
                let vols = if r.starts_with('[') {
                    serde_json::from_str::<Vec<String>>(&r).map_err(|_| ImportError::BadChange {
                        change: change.clone(),
                        reason: "expected a JSON array of strings",
                    })?
                } else {
                    words(&r)
                };
                let map = c.volumes.get_or_insert_with(BTreeMap::new);
                for v in vols {
                    map.insert(v, serde_json::json!({}));
                }
            }
            "ONBUILD" => c.on_build.get_or_insert_with(Vec::new).push(need(rest)?),
            "STOPSIGNAL" => c.stop_signal = need(rest)?,
            _ => return Err(ImportError::InvalidChange(kw.to_ascii_uppercase())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_fill_the_config() {
        let changes: Vec<String> = [
            r#"CMD ["/bin/sh", "-c", "echo hi"]"#,
            "ENTRYPOINT /entry --flag",
            r#"ENV A=1 B="two words""#,
            "ENV A 3",
            "EXPOSE 80 53/udp 8000-8001",
            r#"LABEL org.example="x y" z=1"#,
            "USER 1000:1000",
            "WORKDIR /app",
            "WORKDIR sub",
            r#"VOLUME ["/data", "/logs"]"#,
            "ONBUILD RUN make",
            "STOPSIGNAL SIGQUIT",
        ]
        .map(String::from)
        .to_vec();
        let mut c = RunConfig::default();
        apply_changes(&mut c, &changes).unwrap();
        assert_eq!(c.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/entry --flag"]);
        assert_eq!(c.env.unwrap(), ["B=two words", "A=3"]);
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000-8001/tcp"]);
        assert_eq!(c.labels.unwrap()["org.example"], "x y");
        assert_eq!(c.user, "1000:1000");
        assert_eq!(c.working_dir, "/app/sub");
        assert_eq!(c.volumes.unwrap().len(), 2);
        assert_eq!(c.on_build.unwrap(), ["RUN make"]);
        assert_eq!(c.stop_signal, "SIGQUIT");
    }

    #[test]
    fn invalid_changes_are_refused() {
        let mut c = RunConfig::default();
        let e = apply_changes(&mut c, &["FROM busybox".into()]).unwrap_err();
        assert_eq!(e.to_string(), "import: FROM is not a valid change command");
        assert!(apply_changes(&mut c, &["EXPOSE 99999".into()]).is_err());
        assert!(apply_changes(&mut c, &["CMD".into()]).is_err());
        assert!(apply_changes(&mut c, &["VOLUME [oops".into()]).is_err());
    }
}
