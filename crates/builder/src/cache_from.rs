//! `--cache-from` (the `cachefrom` query): images whose build steps a
//! build may take although they were loaded or pulled, with no local
//! parent chain: dockerd 20.10's classic builder and its image cache.
//!
//! With cache sources given, a step hits when
//! - the local cache ([`crate::cache`]) has it and that image is one of
//!   the sources or an ancestor of one (through the `parent` each built
//!   image's config names): other local entries are not used; else
//! - a source's history and layers begin with all of the parent image's,
//!   entry for entry (times included), and the source's next history
//!   entry was made by the same command (its `created_by` is the step's).
//!   When that entry is the source's last, the step's image is the source
//!   itself; otherwise a new image is made of the parent's layers and
//!   history plus that entry and its layer, and from then on only that
//!   source is considered (dockerd keeps to one source once it restored a
//!   step from it).
//!
//! Only history text is compared, as dockerd does: a step's run config
//! (the environment, for one) is not part of the match. Sources that do
//! not exist are skipped, as dockerd skips them (it only logs them); with
//! sources given and none found, nothing hits.

use berth_engine::Engine;
use berth_engine::images::CachedStep;
use berth_image::config::ImageConfig;

use crate::build::{BuildError, Runner, StageState};

/// A cache source: an image ID and its config.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub config: ImageConfig,
}

/// The cache sources of one build.
#[derive(Debug, Clone, Default)]
pub struct CacheSources {
    sources: Vec<Source>,
}

/// Where a source has the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The step is the source's last: the source is the step's image.
    Image(String),
    /// The step is history entry `index` of `source`, not its last.
    Entry { source: String, index: usize },
}

/// Whether `img`'s history and layers begin with all of `parent`'s
/// (`None`: scratch, which every image with a history extends).
pub fn valid_parent(img: &ImageConfig, parent: Option<&ImageConfig>) -> bool {
    if img.history.is_empty() {
        return false;
    }
    let Some(p) = parent else {
        return true;
    };
    if p.history.is_empty() && p.rootfs.diff_ids.is_empty() {
        return true;
    }
    p.history.len() < img.history.len()
        && p.rootfs.diff_ids.len() <= img.rootfs.diff_ids.len()
        && img.history.starts_with(&p.history)
        && img.rootfs.diff_ids.starts_with(&p.rootfs.diff_ids)
}

/// Whether history entry `index` of `img` has the layer it claims: an
/// `empty_layer` entry needs none; another needs one more diff ID than
/// the non-empty entries before it.
fn entry_consistent(img: &ImageConfig, index: usize) -> bool {
    let Some(h) = img.history.get(index) else {
        return false;
    };
    if h.empty_layer {
        return true;
    }
    let before = img.history[..index]
        .iter()
        .filter(|h| !h.empty_layer)
        .count();
    before < img.rootfs.diff_ids.len()
}

/// Whether `id` is `source` or one of its ancestors, following
/// `parent_of` (at most `limit` steps: an image's ID is the hash of a
/// config naming its parent, so a chain cannot loop, but a store may be
/// corrupt).
pub fn is_ancestor(source: &str, id: &str, parent_of: impl Fn(&str) -> Option<String>) -> bool {
    const LIMIT: usize = 10_000;
    let mut cur = source.to_string();
    for _ in 0..LIMIT {
        if cur == id {
            return true;
        }
        match parent_of(&cur) {
            Some(p) => cur = p,
            None => return false,
        }
    }
    false
}

impl CacheSources {
    pub fn new(sources: Vec<Source>) -> CacheSources {
        CacheSources { sources }
    }

    /// Looks up each of `refs` in the engine's store; names not found are
    /// skipped.
    pub fn load(engine: &Engine, refs: &[String]) -> CacheSources {
        let svc = engine.image_service();
        let sources = refs
            .iter()
            .filter_map(|r| svc.resolve(r).ok())
            .map(|r| Source {
                id: r.id,
                config: r.config,
            })
            .collect();
        CacheSources { sources }
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|s| s.id.as_str())
    }

    /// The first source (in the order given) that has the step made by
    /// `created_by` on `parent`, and where.
    pub fn find(&self, parent: Option<&ImageConfig>, created_by: &str) -> Option<(usize, Found)> {
        let index = parent.map_or(0, |p| p.history.len());
        self.sources.iter().enumerate().find_map(|(i, s)| {
            let c = &s.config;
            let ok = valid_parent(c, parent)
                && c.history.get(index).and_then(|h| h.created_by.as_deref()) == Some(created_by)
                && entry_consistent(c, index);
            if !ok {
                return None;
            }
            let found = if index + 1 == c.history.len() {
                Found::Image(s.id.clone())
            } else {
                Found::Entry {
                    source: s.id.clone(),
                    index,
                }
            };
            Some((i, found))
        })
    }

    /// Keeps only source `i`.
    pub fn keep_only(&mut self, i: usize) {
        if i < self.sources.len() {
            let s = self.sources.swap_remove(i);
            self.sources = vec![s];
        }
    }
}

impl Runner {
    /// The image of the step with cache key `key` and history text
    /// `created_by` (`None` when it is not known before the step runs: only
    /// the local cache is asked then), if the cache has it; `None` with
    /// `--no-cache`. A hit from a cache source is not added to the local
    /// cache: dockerd's local cache does not find such images either (a
    /// plain rebuild uses what plain builds made).
    pub(crate) async fn probe(
        &mut self,
        st: &StageState,
        key: &str,
        created_by: Option<&str>,
    ) -> Result<Option<String>, BuildError> {
        if self.opts.no_cache {
            return Ok(None);
        }
        let svc = self.engine.image_service();
        let local = self
            .cache_new
            .get(key)
            .or_else(|| self.cache_old.get(key))
            .and_then(|id| svc.resolve(id).ok())
            .map(|r| r.id);
        let Some(sources) = &self.sources else {
            return Ok(local);
        };
        if let Some(id) = local {
            let parent_of = |i: &str| {
                let c = svc.resolve(i).ok()?.config;
                c.extra.get("parent")?.as_str().map(str::to_string)
            };
            if sources.ids().any(|s| is_ancestor(s, &id, parent_of)) {
                return Ok(Some(id));
            }
        }
        let Some(created_by) = created_by else {
            return Ok(None);
        };
        let parent = match &st.image {
            Some(id) => Some(svc.resolve(id).map_err(BuildError::Image)?.config),
            None => None,
        };
        let Some((i, found)) = sources.find(parent.as_ref(), created_by) else {
            return Ok(None);
        };
        let id = match found {
            Found::Image(id) => id,
            Found::Entry { source, index } => {
                let id = self
                    .engine
                    .build_commit_cached(CachedStep {
                        parent: st.image.clone(),
                        source,
                        index,
                        config: st.config.clone(),
                    })
                    .await?;
                if let Some(s) = self.sources.as_mut() {
                    s.keep_only(i);
                }
                id
            }
        };
        Ok(Some(id))
    }
}

#[cfg(test)]
mod tests {
    use berth_content::Digest;
    use berth_image::config::{History, RootFs};

    use super::*;

    fn entry(by: &str, empty: bool) -> History {
        History {
            created: Some(format!("2024-01-01T00:00:0{}Z", by.len() % 10)),
            created_by: Some(by.to_string()),
            empty_layer: empty,
            ..Default::default()
        }
    }

    fn image(entries: &[(&str, bool)]) -> ImageConfig {
        let history: Vec<History> = entries.iter().map(|(b, e)| entry(b, *e)).collect();
        let diff_ids = entries
            .iter()
            .filter(|(_, e)| !e)
            .map(|(b, _)| Digest::of(b.as_bytes()))
            .collect();
        ImageConfig {
            created: None,
            author: None,
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
            config: None,
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids,
            },
            history,
            extra: serde_json::Map::new(),
        }
    }

    fn sources(imgs: &[(&str, ImageConfig)]) -> CacheSources {
        CacheSources::new(
            imgs.iter()
                .map(|(id, c)| Source {
                    id: id.to_string(),
                    config: c.clone(),
                })
                .collect(),
        )
    }

    const BASE: &[(&str, bool)] = &[("ADD rootfs", false), ("CMD sh", true)];

    fn built() -> ImageConfig {
        let mut e = BASE.to_vec();
        e.extend([("ENV A=1", true), ("RUN make", false), ("CMD run", true)]);
        image(&e)
    }

    #[test]
    fn a_source_extending_the_parent_has_the_next_step() {
        let base = image(BASE);
        let s = sources(&[("sha256:src", built())]);
        assert_eq!(
            s.find(Some(&base), "ENV A=1"),
            Some((
                0,
                Found::Entry {
                    source: "sha256:src".into(),
                    index: 2
                }
            ))
        );
        // Another command at that point is a miss.
        assert_eq!(s.find(Some(&base), "ENV A=2"), None);
        // The source's last step is the source.
        let mut e = BASE.to_vec();
        e.extend([("ENV A=1", true), ("RUN make", false)]);
        let parent = image(&e);
        assert_eq!(
            s.find(Some(&parent), "CMD run"),
            Some((0, Found::Image("sha256:src".into())))
        );
    }

    #[test]
    fn the_parent_must_be_a_prefix_entry_for_entry() {
        let src = built();
        // Same commands, another time: not the source's parent.
        let mut other = image(BASE);
        other.history[1].created = Some("2030-01-01T00:00:00Z".into());
        assert!(!valid_parent(&src, Some(&other)));
        // Other layers.
        let mut layers = image(BASE);
        layers.rootfs.diff_ids[0] = Digest::of(b"x");
        assert!(!valid_parent(&src, Some(&layers)));
        // As long as the source or longer: nothing left to take.
        assert!(!valid_parent(&src, Some(&src)));
        // Scratch, and an image with nothing, precede everything; an image
        // without history follows nothing.
        assert!(valid_parent(&src, None));
        assert!(valid_parent(&src, Some(&image(&[]))));
        assert!(!valid_parent(&image(&[]), None));
        assert!(valid_parent(&src, Some(&image(BASE))));
    }

    #[test]
    fn from_scratch_the_first_entry_is_compared() {
        let s = sources(&[("sha256:src", built())]);
        assert!(matches!(
            s.find(None, "ADD rootfs"),
            Some((0, Found::Entry { index: 0, .. }))
        ));
        assert_eq!(s.find(None, "CMD sh"), None);
    }

    #[test]
    fn a_source_missing_the_entry_layer_is_passed_over() {
        let mut broken = built();
        broken.rootfs.diff_ids.truncate(1);
        let mut e = BASE.to_vec();
        e.push(("ENV A=1", true));
        let parent = image(&e);
        let s = sources(&[("sha256:broken", broken), ("sha256:good", built())]);
        assert_eq!(
            s.find(Some(&parent), "RUN make"),
            Some((
                1,
                Found::Entry {
                    source: "sha256:good".into(),
                    index: 3
                }
            ))
        );
    }

    #[test]
    fn keeping_one_source() {
        let mut s = sources(&[("a", built()), ("b", built()), ("c", built())]);
        s.keep_only(1);
        assert_eq!(s.ids().collect::<Vec<_>>(), ["b"]);
        s.keep_only(5);
        assert_eq!(s.ids().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn ancestors_follow_parents() {
        let parent_of = |i: &str| match i {
            "c" => Some("b".to_string()),
            "b" => Some("a".to_string()),
            _ => None,
        };
        assert!(is_ancestor("c", "c", parent_of));
        assert!(is_ancestor("c", "a", parent_of));
        assert!(!is_ancestor("b", "c", parent_of));
        assert!(!is_ancestor("c", "z", parent_of));
        // A (corrupt) loop ends.
        assert!(!is_ancestor("x", "z", |_| Some("x".to_string())));
    }
}
