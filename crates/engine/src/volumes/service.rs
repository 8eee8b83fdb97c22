//! The volume service's state: the volumes by name, which containers refer
//! to each, and which running containers use it (see the module
//! documentation of `volumes` for the lifecycle).
//!
//! One std mutex guards the whole map; it is held for lookups, for the
//! create of a volume (directories and a record) and for the decision to
//! remove one (its record goes, its directory is renamed aside), never
//! while a removed volume's data is deleted or a size is computed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::mountpoints::{MountPoint, Planned, Want};
use super::store::{self, VolumeRecord};
use super::{Error, LOCAL, local, validate_name};
use crate::EngineConfig;

/// A volume in memory.
#[derive(Debug)]
struct Vol {
    rec: VolumeRecord,
    /// Containers whose mount points name the volume.
    refs: BTreeSet<String>,
    /// Running containers that have it mounted.
    users: BTreeSet<String>,
}

/// A volume as the API shows it, with the containers referring to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub rec: VolumeRecord,
    pub mountpoint: PathBuf,
    pub refs: Vec<String>,
}

/// The volume service of one engine.
pub struct VolumeService {
    /// `<data-root>/volumes`.
    root: PathBuf,
    /// The data root (binds of it need slave propagation).
    pub(crate) daemon_root: PathBuf,
    state: Mutex<BTreeMap<String, Vol>>,
}

/// Prefix of a removed volume's directory while its data is deleted; a
/// volume name cannot start with a dot.
const TRASH: &str = ".trash-";

/// Mount points at or below `path` (mountinfo(5) field 5, octal escapes
/// undone).
fn mounts_under(path: &Path) -> Vec<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|f| {
            let mut out = Vec::new();
            let b = f.as_bytes();
            let mut i = 0;
            while i < b.len() {
                let octal = b
                    .get(i + 1..i + 4)
                    .filter(|_| b[i] == b'\\')
                    .and_then(|d| std::str::from_utf8(d).ok())
                    .and_then(|d| u8::from_str_radix(d, 8).ok());
                match octal {
                    Some(v) => {
                        out.push(v);
                        i += 4;
                    }
                    None => {
                        out.push(b[i]);
                        i += 1;
                    }
                }
            }
            PathBuf::from(String::from_utf8_lossy(&out).into_owned())
        })
        .filter(|m| m.starts_with(path))
        .collect()
}

/// Deletes a volume directory, unless something is mounted in it: a
/// bind volume's data directory would be the host's directory.
fn remove_tree(dir: &Path) -> Result<(), Error> {
    if let Some(m) = mounts_under(dir).first() {
        return Err(Error::Io {
            op: "remove",
            path: dir.to_path_buf(),
            source: std::io::Error::other(format!("{} is still mounted", m.display())),
        });
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            op: "remove",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn now_seconds() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

impl VolumeService {
    /// Loads the volumes under `<data-root>/volumes`, removes what a crash
    /// left of creates and removes, and unmounts volumes a previous daemon
    /// left mounted.
    pub fn open(cfg: &EngineConfig) -> Result<VolumeService, Error> {
        use std::os::unix::fs::PermissionsExt;
        let root = cfg.data_root.join("volumes");
        std::fs::create_dir_all(&root).map_err(|source| Error::Io {
            op: "create",
            path: root.clone(),
            source,
        })?;
        // Traversable, not listable, by others (docker's 0701).
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o701)).map_err(
            |source| Error::Io {
                op: "chmod",
                path: root.clone(),
                source,
            },
        )?;
        let (records, broken) = store::load_all(&root)?;
        for (name, err) in broken {
            let dir = store::volume_dir(&root, &name);
            let data = store::data_dir(&root, &name);
            // Only what berth itself left half-done goes: a trash
            // directory or a volume without record whose data is empty.
            let empty = std::fs::read_dir(&data).map_or(true, |mut d| d.next().is_none());
            if !name.starts_with(TRASH) && !empty {
                warn(format_args!(
                    "skipping volume directory {}: {err}",
                    dir.display()
                ));
                continue;
            }
            let _ = local::unmount(&name, &data);
            if let Err(e) = remove_tree(&dir) {
                warn(format_args!("remove incomplete volume {name}: {e}"));
            }
        }
        let mut map = BTreeMap::new();
        for rec in records {
            let data = store::data_dir(&root, &rec.name);
            if local::needs_mount(&rec.options) {
                if let Err(e) = local::unmount(&rec.name, &data) {
                    warn(format_args!("{e}"));
                }
            }
            map.insert(
                rec.name.clone(),
                Vol {
                    rec,
                    refs: BTreeSet::new(),
                    users: BTreeSet::new(),
                },
            );
        }
        Ok(VolumeService {
            root,
            daemon_root: cfg.data_root.clone(),
            state: Mutex::new(map),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Vol>> {
        // Plain data: a panic elsewhere left it whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where volume `name`'s data is.
    pub fn data_path(&self, name: &str) -> PathBuf {
        store::data_dir(&self.root, name)
    }

    /// Records that container `id` refers to `names` (the containers found
    /// at start). Names of volumes that do not exist are returned.
    pub(crate) fn add_refs<'a>(
        &self,
        id: &str,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let mut state = self.lock();
        let mut missing = Vec::new();
        for n in names {
            match state.get_mut(n) {
                Some(v) => {
                    v.refs.insert(id.to_string());
                }
                None => missing.push(n.to_string()),
            }
        }
        missing
    }

    /// Takes the references of the containers found at start.
    pub(crate) fn seed_refs(&self, containers: &crate::containers::ContainerService) {
        for c in containers.all() {
            let rec = c.record();
            let points = super::mount_points_of(&rec);
            let names = points
                .iter()
                .filter(|p| p.r#type == "volume")
                .map(|p| p.name.as_str());
            for missing in self.add_refs(&rec.id, names) {
                warn(format_args!(
                    "container {} refers to volume {missing}, which does not exist",
                    rec.id
                ));
            }
        }
    }

    /// Checks a create of volume `name` with `driver` and `options`
    /// (nothing changes).
    fn check_create(
        name: &str,
        driver: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        validate_name(name)?;
        if !(driver.is_empty() || driver == LOCAL) {
            return Err(Error::UnknownDriver {
                name: name.to_string(),
                driver: driver.to_string(),
            });
        }
        local::validate(name, options)
    }

    /// Creates volume `name` unless it exists; returns its record and
    /// whether it is new. Must be called with the state locked.
    fn create_locked(
        &self,
        state: &mut BTreeMap<String, Vol>,
        name: &str,
        options: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<(VolumeRecord, bool), Error> {
        if let Some(v) = state.get(name) {
            return Ok((v.rec.clone(), false));
        }
        let rec = VolumeRecord {
            name: name.to_string(),
            driver: LOCAL.to_string(),
            created_at: now_seconds(),
            labels: labels.clone(),
            options: options.clone(),
            anonymous,
        };
        if let Err(e) = store::create(&self.root, &rec) {
            let cleanup = remove_tree(&store::volume_dir(&self.root, name));
            return Err(e.with_cleanup(cleanup));
        }
        state.insert(
            name.to_string(),
            Vol {
                rec: rec.clone(),
                refs: BTreeSet::new(),
                users: BTreeSet::new(),
            },
        );
        Ok((rec, true))
    }

    /// `volume create`: a new volume, or the existing one of that name
    /// (docker returns it as it is). `name` empty: a random 64-hex name.
    pub(crate) fn create(
        &self,
        name: &str,
        driver: &str,
        options: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> Result<(VolumeRecord, bool), Error> {
        let anonymous = name.is_empty();
        let name = if anonymous {
            crate::containers::names::new_id()
        } else {
            name.to_string()
        };
        Self::check_create(&name, driver, options)?;
        let mut state = self.lock();
        self.create_locked(&mut state, &name, options, labels, false)
    }

    /// Gives container `id` the volumes its planned mounts need: checks
    /// them all, then creates the missing ones and takes references.
    /// Returns the final mount points and the records of the volumes it
    /// created; on failure nothing is left changed.
    pub(crate) fn acquire(
        &self,
        id: &str,
        planned: Vec<Planned>,
    ) -> Result<(Vec<MountPoint>, Vec<VolumeRecord>), Error> {
        // Names first (anonymous volumes get theirs now), then checks.
        let mut named: Vec<(MountPoint, Option<(String, Want)>)> = Vec::new();
        for p in planned {
            let want = p.volume.map(|w| {
                let name = match &w {
                    Want::Create { name: Some(n), .. } | Want::Existing { name: n } => n.clone(),
                    Want::Create { name: None, .. } => crate::containers::names::new_id(),
                };
                (name, w)
            });
            named.push((p.point, want));
        }
        {
            let state = self.lock();
            for (name, want) in named.iter().filter_map(|(_, w)| w.as_ref()) {
                match want {
                    Want::Create {
                        driver, options, ..
                    } => Self::check_create(name, driver, options)?,
                    Want::Existing { .. } if !state.contains_key(name) => {
                        return Err(Error::NotFound { name: name.clone() });
                    }
                    Want::Existing { .. } => {}
                }
            }
        }
        let mut state = self.lock();
        let mut points = Vec::new();
        let mut created = Vec::new();
        let mut referenced = Vec::new();
        for (mut point, want) in named {
            let Some((name, want)) = want else {
                points.push(point);
                continue;
            };
            let got = match &want {
                Want::Create {
                    options, labels, ..
                } => self.create_locked(&mut state, &name, options, labels, point.anonymous),
                Want::Existing { .. } => match state.get(&name) {
                    Some(v) => Ok((v.rec.clone(), false)),
                    None => Err(Error::NotFound { name: name.clone() }),
                },
            };
            let (rec, new) = match got {
                Ok(r) => r,
                Err(e) => {
                    let cleanup = self.undo_acquire(&mut state, id, &referenced, &created);
                    return Err(e.with_cleanup(cleanup));
                }
            };
            if new {
                created.push(rec.clone());
            }
            if let Some(v) = state.get_mut(&name) {
                if v.refs.insert(id.to_string()) {
                    referenced.push(name.clone());
                }
            }
            point.name = name.clone();
            point.driver = rec.driver.clone();
            point.source = self.data_path(&name).display().to_string();
            points.push(point);
        }
        Ok((points, created))
    }

    /// Undoes a failed [`VolumeService::acquire`] (state locked).
    fn undo_acquire(
        &self,
        state: &mut BTreeMap<String, Vol>,
        id: &str,
        referenced: &[String],
        created: &[VolumeRecord],
    ) -> Result<(), Error> {
        for name in referenced {
            if let Some(v) = state.get_mut(name) {
                v.refs.remove(id);
            }
        }
        let mut result = Ok(());
        for rec in created {
            if let Err(e) = self
                .destroy_locked(state, &rec.name)
                .and_then(|t| remove_tree(&t))
            {
                result = result.and(Err(e));
            }
        }
        result
    }

    /// Drops container `id`'s references to `names`.
    pub(crate) fn release_refs<'a>(&self, id: &str, names: impl IntoIterator<Item = &'a str>) {
        let mut state = self.lock();
        for n in names {
            if let Some(v) = state.get_mut(n) {
                v.refs.remove(id);
            }
        }
    }

    /// Takes the volume out (state locked): unmounts it, deletes its
    /// record, renames its directory aside and returns where it went (the
    /// caller deletes that without the lock).
    fn destroy_locked(
        &self,
        state: &mut BTreeMap<String, Vol>,
        name: &str,
    ) -> Result<PathBuf, Error> {
        let data = self.data_path(name);
        local::unmount(name, &data)?;
        store::delete_record(&self.root, name)?;
        state.remove(name);
        let dir = store::volume_dir(&self.root, name);
        let trash = self.root.join(format!(
            "{TRASH}{name}-{}",
            &crate::containers::names::new_id()[..12]
        ));
        match std::fs::rename(&dir, &trash) {
            Ok(()) => Ok(trash),
            // Deleted in place then, still under the lock, so no create
            // of the same name can reuse the directory meanwhile.
            Err(_) => remove_tree(&dir).map(|()| dir),
        }
    }

    /// Removes volume `name` if no container refers to it; `force` makes a
    /// missing volume no error. Returns the removed volume's record.
    pub(crate) fn remove(&self, name: &str, force: bool) -> Result<Option<VolumeRecord>, Error> {
        let (rec, trash) = {
            let mut state = self.lock();
            let Some(v) = state.get(name) else {
                return if force {
                    Ok(None)
                } else {
                    Err(Error::NotFound {
                        name: name.to_string(),
                    })
                };
            };
            if !v.refs.is_empty() {
                return Err(Error::InUse {
                    name: name.to_string(),
                    ids: v.refs.iter().cloned().collect(),
                });
            }
            let rec = v.rec.clone();
            (rec, self.destroy_locked(&mut state, name)?)
        };
        // The volume is gone; a failure to free its space is the next
        // daemon start's to retry (it removes trash directories).
        if let Err(e) = remove_tree(&trash) {
            warn(format_args!("delete data of removed volume {name}: {e}"));
        }
        Ok(Some(rec))
    }

    /// A volume with the containers referring to it.
    pub(crate) fn get(&self, name: &str) -> Result<VolumeInfo, Error> {
        let state = self.lock();
        let v = state.get(name).ok_or_else(|| Error::NotFound {
            name: name.to_string(),
        })?;
        Ok(self.info(v))
    }

    fn info(&self, v: &Vol) -> VolumeInfo {
        VolumeInfo {
            rec: v.rec.clone(),
            mountpoint: self.data_path(&v.rec.name),
            refs: v.refs.iter().cloned().collect(),
        }
    }

    /// All volumes, by name.
    pub(crate) fn all(&self) -> Vec<VolumeInfo> {
        self.lock().values().map(|v| self.info(v)).collect()
    }

    /// Container `id` starts using volume `name`: mounts it if it is the
    /// first user of a volume with options. Returns whether `id` was not
    /// a user yet.
    pub(crate) fn use_volume(&self, id: &str, name: &str) -> Result<bool, Error> {
        let mut state = self.lock();
        let v = state.get_mut(name).ok_or_else(|| Error::NotFound {
            name: name.to_string(),
        })?;
        let new = v.users.insert(id.to_string());
        let data = store::data_dir(&self.root, name);
        if local::needs_mount(&v.rec.options) && !local::is_mounted(&data) {
            if let Err(e) = local::mount(name, &v.rec.options, &data) {
                if new {
                    v.users.remove(id);
                }
                return Err(e);
            }
        }
        Ok(new)
    }

    /// Container `id` stopped using volume `name`: the last user of a
    /// volume with options unmounts it. Returns whether `id` was a user.
    pub(crate) fn unuse(&self, id: &str, name: &str) -> Result<bool, Error> {
        let mut state = self.lock();
        let Some(v) = state.get_mut(name) else {
            return Ok(false);
        };
        let was = v.users.remove(id);
        if was && v.users.is_empty() && local::needs_mount(&v.rec.options) {
            local::unmount(name, &store::data_dir(&self.root, name))?;
        }
        Ok(was)
    }

    /// Removes the volumes among `names` that are unreferenced (a
    /// container's anonymous volumes at `rm -v`); volumes another
    /// container still refers to are kept, as docker does. Returns the
    /// removed ones.
    pub(crate) fn remove_unreferenced(&self, names: &[String]) -> (Vec<VolumeRecord>, Vec<Error>) {
        let mut removed = Vec::new();
        let mut errors = Vec::new();
        for name in names {
            let in_use = self.lock().get(name).is_none_or(|v| !v.refs.is_empty());
            if in_use {
                continue;
            }
            match self.remove(name, true) {
                Ok(Some(rec)) => removed.push(rec),
                Ok(None) | Err(Error::InUse { .. }) => {}
                Err(e) => errors.push(e),
            }
        }
        (removed, errors)
    }

    /// Removes volume `name` if it is still unreferenced (prune: the
    /// choice was made without the lock).
    pub(crate) fn remove_if_unused(&self, name: &str) -> Result<Option<VolumeRecord>, Error> {
        match self.remove(name, true) {
            Err(Error::InUse { .. }) => Ok(None),
            r => r,
        }
    }
}

/// Reports a failure no caller waits for, on the daemon's stderr.
pub(crate) fn warn(msg: std::fmt::Arguments<'_>) {
    eprintln!(
        "time=\"{:.9}\" level=warning msg={:?}",
        jiff::Timestamp::now(),
        msg.to_string()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::mountpoints::{Sources, plan};

    fn service(tmp: &Path) -> VolumeService {
        let cfg = EngineConfig::with_roots(tmp.to_path_buf(), tmp.join("exec"));
        VolumeService::open(&cfg).unwrap()
    }

    #[test]
    fn create_get_remove_and_refs() {
        let tmp = tempfile::tempdir().unwrap();
        let svc = service(tmp.path());
        let labels = BTreeMap::from([("a".to_string(), "b".to_string())]);
        let (rec, new) = svc.create("data", "", &BTreeMap::new(), &labels).unwrap();
        assert!(new && !rec.anonymous);
        assert_eq!(rec.created_at.len(), "2024-01-01T00:00:00Z".len());
        let (again, new) = svc
            .create("data", "local", &BTreeMap::new(), &BTreeMap::new())
            .unwrap();
        assert!(!new);
        assert_eq!(again.labels, labels);
        let (anon, _) = svc
            .create("", "", &BTreeMap::new(), &BTreeMap::new())
            .unwrap();
        assert_eq!(anon.name.len(), 64);
        assert!(
            svc.create("x", "", &BTreeMap::new(), &BTreeMap::new())
                .is_err()
        );
        assert_eq!(
            svc.create("v2", "nope", &BTreeMap::new(), &BTreeMap::new())
                .unwrap_err()
                .to_string(),
            "create v2: error looking up volume plugin nope: plugin \"nope\" not found"
        );
        assert!(!tmp.path().join("volumes/v2").exists());

        assert!(svc.add_refs("c1", ["data", "gone"]) == vec!["gone".to_string()]);
        assert_eq!(
            svc.remove("data", true).unwrap_err().to_string(),
            "remove data: volume is in use - [c1]"
        );
        svc.release_refs("c1", ["data"]);
        assert_eq!(svc.remove("data", false).unwrap().unwrap().name, "data");
        assert!(!tmp.path().join("volumes/data").exists());
        assert_eq!(
            svc.remove("data", false).unwrap_err().to_string(),
            "get data: no such volume"
        );
        assert!(svc.remove("data", true).unwrap().is_none());

        // A new service finds what is on disk.
        drop(svc);
        let svc = service(tmp.path());
        let names: Vec<String> = svc.all().into_iter().map(|v| v.rec.name).collect();
        assert_eq!(names, vec![anon.name]);
    }

    #[test]
    fn acquire_is_all_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let svc = service(tmp.path());
        let binds = vec!["named:/a".to_string(), "/b".to_string()];
        let mut s = Sources {
            binds: &binds,
            daemon_root: Some(tmp.path()),
            ..Sources::default()
        };
        s.config_volumes = vec!["/c"];
        let planned = plan(&s).unwrap();
        let (points, created) = svc.acquire("c1", planned).unwrap();
        assert_eq!(created.len(), 3);
        assert_eq!(points[0].name, "named");
        assert!(!points[0].anonymous);
        assert!(points[1].anonymous && points[2].anonymous);
        assert_eq!(
            points[0].source,
            tmp.path().join("volumes/named/_data").display().to_string()
        );
        assert_eq!(svc.get("named").unwrap().refs, ["c1"]);
        assert!(svc.get(&points[1].name).unwrap().rec.anonymous);

        // A bad name in the second mount: the first one is not created.
        let binds = vec!["fresh:/a".to_string(), "_bad:/b".to_string()];
        let planned = plan(&Sources {
            binds: &binds,
            daemon_root: Some(tmp.path()),
            ..Sources::default()
        })
        .unwrap();
        assert!(matches!(
            svc.acquire("c2", planned),
            Err(Error::InvalidName { .. })
        ));
        assert!(svc.get("fresh").is_err());
        assert!(!tmp.path().join("volumes/fresh").exists());

        let names: Vec<String> = points.iter().skip(1).map(|p| p.name.clone()).collect();
        svc.release_refs("c1", points.iter().map(|p| p.name.as_str()));
        let (removed, errors) = svc.remove_unreferenced(&names);
        assert!(errors.is_empty());
        assert_eq!(removed.len(), 2);
        assert!(svc.get("named").is_ok());
    }
}
