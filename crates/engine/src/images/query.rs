//! Read-only views in the Engine API's shapes: `GET /images/json`,
//! `/images/{name}/json`, `/images/{name}/history`, and the image part of
//! `GET /system/df`. Field values follow dockerd 20.10 (`Containers` and
//! `SharedSize` are -1 outside disk usage; `<none>:<none>` for images
//! without references; newest first).
//!
//! An image's size is what its layer snapshots occupy on disk (each
//! snapshot's own directory; the snapshotter records it at commit).

use std::collections::{BTreeMap, HashMap};

use berth_api_types::container::{Config, GraphDriver};
use berth_api_types::image::{HistoryItem, InspectResponse, Metadata, RootFs, Summary};
use berth_content::Digest;
use berth_snapshots::SnapshotError;

use super::catalog::{Catalog, Image};
use super::filters::{ListFilters, match_kv_list, reference_matches};
use super::remove::Users;
use super::{Error, ImageService};

/// Go's zero `time.Time` in Unix seconds, which dockerd reports for a
/// history entry without a creation time.
const GO_ZERO_UNIX: i64 = -62_135_596_800;
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The image part of `GET /system/df`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Bytes of every image layer, each counted once.
    pub layers_size: i64,
    /// Every image, with `Containers` and `SharedSize` computed.
    pub images: Vec<Summary>,
}

impl ImageService {
    /// On-disk size of each chain ID's snapshot; layers not unpacked
    /// count 0.
    fn layer_sizes<'a>(
        &self,
        images: impl Iterator<Item = &'a Image>,
    ) -> Result<HashMap<Digest, u64>, Error> {
        let mut sizes = HashMap::new();
        for img in images {
            for c in img.chain_ids() {
                if sizes.contains_key(&c) {
                    continue;
                }
                let size = match self.sn().usage(&c.to_string()) {
                    Ok(u) => u.size,
                    Err(SnapshotError::NotFound(_)) => 0,
                    Err(e) => return Err(Error::snapshot("measure", c.to_string(), e)),
                };
                sizes.insert(c, size);
            }
        }
        Ok(sizes)
    }

    /// `GET /images/json`.
    pub(crate) fn list(&self, filters: &ListFilters) -> Result<Vec<Summary>, Error> {
        let cat = self.catalog()?;
        let sizes = self.layer_sizes(cat.images.iter())?;
        summaries(&cat, filters, &sizes)
    }

    /// The image part of `GET /system/df`.
    pub(crate) fn disk_usage(&self, users: &Users) -> Result<DiskUsage, Error> {
        let cat = self.catalog()?;
        let sizes = self.layer_sizes(cat.images.iter())?;
        let mut refs: HashMap<Digest, usize> = HashMap::new();
        for img in &cat.images {
            for c in img.chain_ids() {
                *refs.entry(c).or_default() += 1;
            }
        }
        let mut images = summaries(&cat, &ListFilters::default(), &sizes)?;
        for s in &mut images {
            let Some(img) = s.id.parse().ok().and_then(|d| cat.by_id(&d)) else {
                continue;
            };
            s.containers = users.get(&s.id).map_or(0, |u| u.len() as i64);
            s.shared_size = img
                .chain_ids()
                .iter()
                .filter(|c| refs[*c] > 1)
                .map(|c| sizes[c] as i64)
                .sum();
        }
        Ok(DiskUsage {
            layers_size: sizes.values().map(|s| *s as i64).sum(),
            images,
        })
    }

    /// `GET /images/{name}/json`.
    pub(crate) fn inspect(&self, name: &str) -> Result<InspectResponse, Error> {
        let cat = self.catalog()?;
        let (img, _) = cat.lookup(name)?;
        let sizes = self.layer_sizes(std::iter::once(img))?;
        let size = image_size(img, &sizes);
        let c = img.config();
        let extra = |k: &str| {
            c.extra
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let corrupt = |e: serde_json::Error| Error::Corrupt {
            image: img.id_string(),
            reason: format!("config: {e}"),
        };
        let config = c
            .config
            .as_ref()
            .map(|rc| serde_json::to_value(rc).and_then(serde_json::from_value::<Config>))
            .transpose()
            .map_err(corrupt)?;
        // dockerd always has a container config (zero when the image was
        // not committed from a container).
        let container_config = c
            .extra
            .get("container_config")
            .map(|v| serde_json::from_value::<Config>(v.clone()))
            .transpose()
            .map_err(corrupt)?
            .unwrap_or_default();
        Ok(InspectResponse {
            id: img.id_string(),
            repo_tags: Some(img.repo_tags()),
            repo_digests: Some(img.repo_digests()),
            parent: extra("parent"),
            comment: extra("comment"),
            created: c.created.clone().unwrap_or_else(|| ZERO_TIME.to_string()),
            container: extra("container"),
            container_config: Some(container_config),
            docker_version: extra("docker_version"),
            author: c.author.clone().unwrap_or_default(),
            config,
            architecture: c.architecture.clone(),
            variant: c.variant.clone().unwrap_or_default(),
            os: c.os.clone(),
            os_version: extra("os.version"),
            size,
            virtual_size: size,
            graph_driver: GraphDriver {
                data: None,
                name: self.graph_driver_name().to_string(),
            },
            root_fs: RootFs {
                r#type: c.rootfs.kind.clone(),
                layers: Some(c.rootfs.diff_ids.iter().map(Digest::to_string).collect()),
                base_layer: String::new(),
            },
            metadata: Metadata {
                last_tag_time: img
                    .last_tagged
                    .and_then(|s| jiff::Timestamp::from_second(s).ok())
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| ZERO_TIME.to_string()),
            },
        })
    }

    /// `GET /images/{name}/history`: newest first; the newest entry
    /// carries the image's ID and tags, the others `<missing>`.
    pub(crate) fn history(&self, name: &str) -> Result<Vec<HistoryItem>, Error> {
        let cat = self.catalog()?;
        let (img, _) = cat.lookup(name)?;
        let sizes = self.layer_sizes(std::iter::once(img))?;
        let chains = img.chain_ids();
        let mut layer = 0;
        let mut out = Vec::new();
        for h in &img.config().history {
            let mut size = 0;
            if !h.empty_layer {
                let c = chains.get(layer).ok_or_else(|| Error::Corrupt {
                    image: img.id_string(),
                    reason: "too many non-empty layers in History section".into(),
                })?;
                size = sizes.get(c).copied().unwrap_or(0) as i64;
                layer += 1;
            }
            out.push(HistoryItem {
                comment: h.comment.clone().unwrap_or_default(),
                created: h
                    .created
                    .as_deref()
                    .and_then(|c| c.parse::<jiff::Timestamp>().ok())
                    .map_or(GO_ZERO_UNIX, |t| t.as_second()),
                created_by: h.created_by.clone().unwrap_or_default(),
                id: "<missing>".into(),
                size,
                tags: None,
            });
        }
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = img.id_string();
            let tags = img.repo_tags();
            top.tags = (!tags.is_empty()).then_some(tags);
        }
        Ok(out)
    }
}

fn image_size(img: &Image, sizes: &HashMap<Digest, u64>) -> i64 {
    img.chain_ids()
        .iter()
        .map(|c| sizes.get(c).copied().unwrap_or(0) as i64)
        .sum()
}

/// docker's `Images()`: filters, `<none>` placeholders, newest first.
fn summaries(
    cat: &Catalog,
    f: &ListFilters,
    sizes: &HashMap<Digest, u64>,
) -> Result<Vec<Summary>, Error> {
    let created_of = |names: &[String]| -> Result<Option<i64>, Error> {
        // docker keeps the last value it walks.
        let mut t = None;
        for n in names {
            t = Some(cat.lookup(n)?.0.created());
        }
        Ok(t)
    };
    let before = created_of(&f.before)?;
    let since = created_of(&f.since)?;
    let dangling_only = f.dangling == Some(true);
    let mut out: Vec<Summary> = Vec::new();
    for img in &cat.images {
        let created = img.created();
        if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
            continue;
        }
        if !f.labels.is_empty() && !match_kv_list(&f.labels, img.labels()) {
            continue;
        }
        let size = image_size(img, sizes);
        let mut tags: Option<Vec<String>> = None;
        let mut digests: Option<Vec<String>> = None;
        for r in &img.refs {
            if !f.references.is_empty() && !f.references.iter().any(|p| reference_matches(p, r)) {
                continue;
            }
            if r.digest.is_some() {
                let mut r = r.clone();
                r.tag = None;
                digests
                    .get_or_insert_with(Vec::new)
                    .push(r.familiar_string());
            } else {
                tags.get_or_insert_with(Vec::new).push(r.familiar_string());
            }
        }
        if tags.is_none() && digests.is_none() {
            if f.dangling == Some(false) || !f.references.is_empty() {
                continue;
            }
            tags = Some(vec!["<none>:<none>".into()]);
            digests = Some(vec!["<none>@<none>".into()]);
        } else if dangling_only && tags.is_some() {
            continue;
        }
        out.push(Summary {
            containers: -1,
            created,
            id: img.id_string(),
            labels: img.labels().cloned().map(|l: BTreeMap<_, _>| l),
            parent_id: img
                .config()
                .extra
                .get("parent")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            repo_digests: digests,
            repo_tags: tags,
            shared_size: -1,
            size,
            virtual_size: size,
        });
    }
    // Newest first; the ID orders equal times so the listing is stable.
    out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}
