//! Volume records on disk.
//!
//! Each volume is a directory `<data-root>/volumes/<name>/` holding the
//! data directory `_data` (what containers mount) and the record
//! `volume.json` (driver, labels, options, creation time, anonymity).
//! A volume exists when its record does: create makes the directory and
//! `_data`, then writes the record atomically and durably (temp file,
//! fsync, rename, fsync of the directory, then of the volumes directory);
//! remove deletes the record first (and fsyncs), then the data. A
//! directory without a readable record is therefore a create or a remove
//! that a crash interrupted: [`load_all`] reports it and the service
//! removes it (the service also renames a removed volume's directory
//! aside before deleting its data, so a create of the same name never
//! reuses a directory being deleted).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;

/// The record's file name inside a volume's directory.
pub const RECORD_FILE: &str = "volume.json";

/// The data directory's name inside a volume's directory (docker's).
pub const DATA_DIR: &str = "_data";

/// A volume as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeRecord {
    pub name: String,
    /// Always `local` (the only driver).
    pub driver: String,
    /// RFC 3339, seconds precision, UTC.
    pub created_at: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The local driver's options as given (`type`, `device`, `o`, `size`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Created for a container without a name (`-v /path`, an image's
    /// `VOLUME`): removed with the container by `rm -v` and `--rm`.
    #[serde(default)]
    pub anonymous: bool,
}

/// `<volumes dir>/<name>`.
pub fn volume_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name)
}

/// `<volumes dir>/<name>/_data`.
pub fn data_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name).join(DATA_DIR)
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates the directories of volume `rec` and writes its record. An
/// existing directory without a record (a create or remove cut short) is
/// reused.
pub fn create(root: &Path, rec: &VolumeRecord) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = volume_dir(root, &rec.name);
    // docker's modes: the volume's directory is traversable only (0701),
    // its data directory is the container-visible 0755.
    match fs::DirBuilder::new().mode(0o701).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io("create", &dir)(e)),
    }
    let data = data_dir(root, &rec.name);
    match fs::DirBuilder::new().create(&data) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io("create", &data)(e)),
    }
    // The umask must not decide the data directory's mode.
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).map_err(io("chmod", &data))?;
    write(root, rec)?;
    berth_content::atomic::sync_dir(root).map_err(|e| Error::Io {
        op: e.op,
        path: e.path,
        source: e.source,
    })
}

/// Rewrites the record of `rec` atomically and durably.
pub fn write(root: &Path, rec: &VolumeRecord) -> Result<(), Error> {
    // Plain data with string keys: serialization cannot fail.
    let bytes = serde_json::to_vec(rec).unwrap_or_default();
    let path = volume_dir(root, &rec.name).join(RECORD_FILE);
    berth_content::atomic::write_file(&path, &bytes).map_err(|e| Error::Io {
        op: e.op,
        path: e.path,
        source: e.source,
    })
}

/// Deletes the record of volume `name` durably: from then on the volume
/// does not exist, whatever happens to its data.
pub fn delete_record(root: &Path, name: &str) -> Result<(), Error> {
    let dir = volume_dir(root, name);
    let path = dir.join(RECORD_FILE);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove", &path)(e)),
    }
    berth_content::atomic::sync_dir(&dir).map_err(|e| Error::Io {
        op: e.op,
        path: e.path,
        source: e.source,
    })
}

/// The records read, and the volume directories without a readable one.
pub type Loaded = (Vec<VolumeRecord>, Vec<(String, Error)>);

/// Reads every record under `root`; directories whose record is missing,
/// unreadable or names another volume are returned in the second list.
pub fn load_all(root: &Path) -> Result<Loaded, Error> {
    let mut records = Vec::new();
    let mut broken = Vec::new();
    for entry in fs::read_dir(root).map_err(io("read directory", root))? {
        let entry = entry.map_err(io("read directory", root))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path().join(RECORD_FILE);
        let parsed = fs::read(&path)
            .map_err(io("read", &path))
            .and_then(|bytes| {
                serde_json::from_slice::<VolumeRecord>(&bytes).map_err(|source| {
                    Error::RecordParse {
                        path: path.clone(),
                        source,
                    }
                })
            });
        match parsed {
            Ok(rec) if rec.name == name => records.push(rec),
            Ok(rec) => broken.push((
                name,
                Error::RecordMismatch {
                    path,
                    name: rec.name,
                },
            )),
            Err(e) => broken.push((name, e)),
        }
    }
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((records, broken))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> VolumeRecord {
        VolumeRecord {
            name: name.to_string(),
            driver: "local".to_string(),
            created_at: "2024-01-01T00:00:00Z".to_string(),
            labels: BTreeMap::from([("a".to_string(), "b".to_string())]),
            options: BTreeMap::new(),
            anonymous: false,
        }
    }

    #[test]
    fn records_round_trip_and_broken_dirs_are_reported() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        create(root, &record("data1")).unwrap();
        let md = fs::metadata(data_dir(root, "data1")).unwrap();
        assert_eq!(md.permissions().mode() & 0o7777, 0o755);
        // Create again (a retried create): the record is rewritten.
        create(root, &record("data1")).unwrap();
        // A create cut short before the record, and a torn record.
        fs::create_dir_all(data_dir(root, "half")).unwrap();
        fs::create_dir(root.join("torn")).unwrap();
        fs::write(root.join("torn").join(RECORD_FILE), b"{\"Name\":").unwrap();
        fs::write(root.join("stray-file"), b"x").unwrap();
        let (records, broken) = load_all(root).unwrap();
        assert_eq!(records, vec![record("data1")]);
        let mut names: Vec<&str> = broken.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        assert_eq!(names, ["half", "torn"]);

        delete_record(root, "data1").unwrap();
        let (records, broken) = load_all(root).unwrap();
        assert!(records.is_empty());
        assert_eq!(broken.len(), 3);
    }
}
