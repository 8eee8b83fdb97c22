//! The Engine API's volume endpoints (`impl Engine`), called by berthd:
//!
//! | endpoint | method |
//! |---|---|
//! | `POST /volumes/create` | [`Engine::volume_create`]`(VolumeCreateBody) -> Volume` |
//! | `GET /volumes?filters=` | [`Engine::volume_list`]`(&Filters) -> VolumeListResponse` |
//! | `GET /volumes/{name}` | [`Engine::volume_inspect`]`(name) -> Volume` |
//! | `DELETE /volumes/{name}?force=` | [`Engine::volume_remove`]`(name, force)` |
//! | `POST /volumes/prune?filters=` | [`Engine::volume_prune`]`(&PruneOptions) -> VolumePruneReport` |
//! | `GET /system/df` (volumes) | [`Engine::volume_disk_usage`]`() -> Vec<Volume>` |

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use berth_api_types::filters::{Filters, FiltersError};
use berth_api_types::volume::{
    UsageData, Volume, VolumeCreateBody, VolumeListResponse, VolumePruneReport,
};

use super::Error;
use super::service::VolumeInfo;
use crate::Engine;

/// What `POST /volumes/prune` removes.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// `label`, `label!` and `all` filters.
    pub filters: Filters,
    /// API before 1.42: every unused volume, not only anonymous ones
    /// (dockerd adds `all=true` for those clients).
    pub legacy_all: bool,
}

fn non_empty(m: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!m.is_empty()).then(|| m.clone())
}

/// The API's view of a volume.
fn to_api(v: &VolumeInfo) -> Volume {
    Volume {
        created_at: v.rec.created_at.clone(),
        driver: v.rec.driver.clone(),
        labels: non_empty(&v.rec.labels),
        mountpoint: v.mountpoint.display().to_string(),
        name: v.rec.name.clone(),
        options: non_empty(&v.rec.options),
        scope: "local".to_string(),
        status: None,
        usage_data: None,
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The one boolean value of filter `key`, if given (dockerd's message
/// for anything else).
fn bool_filter(f: &Filters, key: &str) -> Result<Option<bool>, Error> {
    let values = f.get(key);
    if values.is_empty() {
        return Ok(None);
    }
    let parsed: Vec<Option<bool>> = values.iter().map(|v| parse_bool(v)).collect();
    match parsed.as_slice() {
        [Some(b)] => Ok(Some(*b)),
        // `dangling=true&dangling=1` agree; disagreeing values are refused.
        _ if parsed.iter().all(|p| *p == parsed[0]) && parsed[0].is_some() => Ok(parsed[0]),
        _ => Err(Error::InvalidFilter(FiltersError::InvalidValue {
            key: key.to_string(),
            value: format!("[{}]", values.join(" ")),
        })),
    }
}

/// `label` (all must match) and `label!` (excluded when all match), as
/// dockerd's volume filters have them.
fn labels_match(f: &Filters, labels: &BTreeMap<String, String>) -> bool {
    f.match_kv_list("label", labels) && !(f.contains("label!") && f.match_kv_list("label!", labels))
}

/// The bytes under `dir`: sizes of everything but directories, hard links
/// counted once (docker's `directory.Size`).
fn dir_size(dir: &Path) -> i64 {
    fn walk(dir: &Path, seen: &mut HashSet<(u64, u64)>, total: &mut i64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                walk(&e.path(), seen, total);
                continue;
            }
            if md.nlink() > 1 && !seen.insert((md.dev(), md.ino())) {
                continue;
            }
            *total += md.size() as i64;
        }
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    walk(dir, &mut seen, &mut total);
    total
}

impl Engine {
    /// Creates a volume (`POST /volumes/create`), or returns the one of
    /// that name. 400 for a bad name or option, 404 for a driver other
    /// than `local`. Publishes `create`.
    pub fn volume_create(&self, body: VolumeCreateBody) -> Result<Volume, Error> {
        let (rec, _) = self.volumes.create(
            &body.name,
            &body.driver,
            &body.driver_opts.unwrap_or_default(),
            &body.labels.unwrap_or_default(),
        )?;
        self.volume_event("create", &rec.name, &[]);
        self.volume_inspect(&rec.name)
    }

    /// Lists volumes (`GET /volumes?filters=`): filters `dangling`,
    /// `driver`, `label`, `name` (a regular expression).
    pub fn volume_list(&self, filters: &Filters) -> Result<VolumeListResponse, Error> {
        filters
            .validate(&["dangling", "name", "driver", "label"])
            .map_err(Error::InvalidFilter)?;
        let dangling = bool_filter(filters, "dangling")?;
        let volumes = self
            .volumes
            .all()
            .iter()
            .filter(|v| {
                filters.exact_match("driver", &v.rec.driver)
                    && filters.regex_match("name", &v.rec.name)
                    && labels_match(filters, &v.rec.labels)
                    && dangling.is_none_or(|d| d == v.refs.is_empty())
            })
            .map(to_api)
            .collect();
        Ok(VolumeListResponse {
            volumes: Some(volumes),
            warnings: None,
        })
    }

    /// Inspects a volume (`GET /volumes/{name}`); 404 "get x: no such
    /// volume".
    pub fn volume_inspect(&self, name: &str) -> Result<Volume, Error> {
        Ok(to_api(&self.volumes.get(name)?))
    }

    /// Removes a volume (`DELETE /volumes/{name}?force=`). 409 "remove x:
    /// volume is in use - [ids]" while a container refers to it (`force`
    /// does not change that, it only makes a missing volume no error).
    /// Publishes `destroy`.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), Error> {
        if let Some(rec) = self.volumes.remove(name, force)? {
            self.volume_event("destroy", &rec.name, &[]);
        }
        Ok(())
    }

    /// Removes unused local volumes without driver options
    /// (`POST /volumes/prune?filters=`): anonymous ones, or all of them
    /// with `all=true` or for API clients before 1.42. Filters `label`,
    /// `label!`, `all`. Publishes `destroy` per volume and `prune`.
    pub async fn volume_prune(&self, opts: &PruneOptions) -> Result<VolumePruneReport, Error> {
        let f = &opts.filters;
        f.validate(&["label", "label!", "all"])
            .map_err(Error::InvalidFilter)?;
        let all = opts.legacy_all || bool_filter(f, "all")?.unwrap_or(false);
        let candidates: Vec<VolumeInfo> = self
            .volumes
            .all()
            .into_iter()
            .filter(|v| {
                v.refs.is_empty()
                    && v.rec.options.is_empty()
                    && (all || v.rec.anonymous)
                    && labels_match(f, &v.rec.labels)
            })
            .collect();
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for v in candidates {
            let path = v.mountpoint.clone();
            let size = tokio::task::spawn_blocking(move || dir_size(&path))
                .await
                .map_err(|source| Error::Task {
                    op: "measure volume",
                    source,
                })?;
            if let Some(rec) = self.volumes.remove_if_unused(&v.rec.name)? {
                self.volume_event("destroy", &rec.name, &[]);
                deleted.push(rec.name);
                reclaimed += size.max(0) as u64;
            }
        }
        self.events().publish(crate::events::Event::new(
            "volume",
            "prune",
            "",
            BTreeMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
        ));
        Ok(VolumePruneReport {
            volumes_deleted: Some(deleted),
            space_reclaimed: reclaimed,
        })
    }

    /// The volumes of `GET /system/df`: local volumes without driver
    /// options (a tmpfs or bind volume's content is not the daemon's
    /// disk), with their size and how many containers refer to them.
    pub async fn volume_disk_usage(&self) -> Result<Vec<Volume>, Error> {
        let infos: Vec<VolumeInfo> = self
            .volumes
            .all()
            .into_iter()
            .filter(|v| v.rec.options.is_empty())
            .collect();
        tokio::task::spawn_blocking(move || {
            infos
                .iter()
                .map(|v| Volume {
                    usage_data: Some(UsageData {
                        ref_count: v.refs.len() as i64,
                        size: dir_size(&v.mountpoint),
                    }),
                    ..to_api(v)
                })
                .collect()
        })
        .await
        .map_err(|source| Error::Task {
            op: "measure volumes",
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_filters_are_gos() {
        let f = Filters::parse(r#"{"dangling":["true"]}"#).unwrap();
        assert_eq!(bool_filter(&f, "dangling").unwrap(), Some(true));
        let f = Filters::parse(r#"{"dangling":["0"]}"#).unwrap();
        assert_eq!(bool_filter(&f, "dangling").unwrap(), Some(false));
        let f = Filters::parse(r#"{"dangling":["maybe"]}"#).unwrap();
        assert_eq!(
            bool_filter(&f, "dangling").unwrap_err().to_string(),
            "Invalid filter 'dangling=[maybe]'"
        );
        assert_eq!(bool_filter(&Filters::new(), "all").unwrap(), None);
    }

    #[test]
    fn label_filters() {
        let labels = BTreeMap::from([("a".to_string(), "b".to_string())]);
        let f = Filters::parse(r#"{"label":["a"]}"#).unwrap();
        assert!(labels_match(&f, &labels));
        let f = Filters::parse(r#"{"label":["a=c"]}"#).unwrap();
        assert!(!labels_match(&f, &labels));
        let f = Filters::parse(r#"{"label!":["a"]}"#).unwrap();
        assert!(!labels_match(&f, &labels));
        assert!(labels_match(&f, &BTreeMap::new()));
    }

    #[test]
    fn sizes_count_hardlinks_once() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        std::fs::write(tmp.path().join("d/a"), vec![0u8; 1000]).unwrap();
        std::fs::hard_link(tmp.path().join("d/a"), tmp.path().join("b")).unwrap();
        std::fs::write(tmp.path().join("c"), b"xyz").unwrap();
        assert_eq!(dir_size(tmp.path()), 1003);
    }
}
