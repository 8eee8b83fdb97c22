//! Volume models of Engine API v1.41: the volume object (`GET /volumes/{name}`,
//! the items of `GET /volumes` and of `GET /system/df`), the body of
//! `POST /volumes/create`, and the responses of list and prune.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::de::{is_empty_str, nullable as n};

/// A volume (Go `types.Volume`). dockerd 20.10 writes `null` for empty label and
/// option maps, and `UsageData` only in `GET /system/df`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Volume {
    /// RFC 3339, seconds precision.
    #[serde(skip_serializing_if = "is_empty_str", deserialize_with = "n")]
    pub created_at: String,
    /// The volume driver's name (`local`).
    #[serde(deserialize_with = "n")]
    pub driver: String,
    pub labels: Option<BTreeMap<String, String>>,
    /// Where the volume's data is on the host.
    #[serde(deserialize_with = "n")]
    pub mountpoint: String,
    #[serde(deserialize_with = "n")]
    pub name: String,
    /// The driver options it was created with (`type`, `device`, `o`).
    pub options: Option<BTreeMap<String, String>>,
    /// `local` or `global`.
    #[serde(deserialize_with = "n")]
    pub scope: String,
    /// Driver-specific status (none for the local driver).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<UsageData>,
}

/// How much a volume holds and how many containers refer to it; -1 when
/// not computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UsageData {
    pub ref_count: i64,
    pub size: i64,
}

/// The body of `POST /volumes/create` (Go `volume.CreateOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreateBody {
    /// Empty: a random 64-hex name.
    #[serde(deserialize_with = "n")]
    pub name: String,
    /// Empty: `local`.
    #[serde(deserialize_with = "n")]
    pub driver: String,
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

/// The response of `GET /volumes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeListResponse {
    pub volumes: Option<Vec<Volume>>,
    /// Volume drivers that could not be listed; dockerd writes `null`.
    pub warnings: Option<Vec<String>>,
}

/// The response of `POST /volumes/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumePruneReport {
    pub volumes_deleted: Option<Vec<String>>,
    pub space_reclaimed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_json_is_dockerds() {
        // `docker volume create foo` on dockerd 20.10, then GET /volumes/foo.
        let want = r#"{"CreatedAt":"2024-05-01T09:32:18Z","Driver":"local","Labels":null,"Mountpoint":"/var/lib/docker/volumes/foo/_data","Name":"foo","Options":null,"Scope":"local"}"#;
        let v: Volume = serde_json::from_str(want).unwrap();
        assert_eq!(v.name, "foo");
        assert_eq!(serde_json::to_string(&v).unwrap(), want);
        let with_usage = Volume {
            usage_data: Some(UsageData {
                ref_count: 1,
                size: 4096,
            }),
            ..v
        };
        assert!(
            serde_json::to_string(&with_usage)
                .unwrap()
                .ends_with(r#""Scope":"local","UsageData":{"RefCount":1,"Size":4096}}"#)
        );
        let list = VolumeListResponse {
            volumes: Some(vec![]),
            warnings: None,
        };
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"{"Volumes":[],"Warnings":null}"#
        );
    }

    #[test]
    fn create_body_takes_the_clis_json() {
        let b: VolumeCreateBody = serde_json::from_str(
            r#"{"Driver":"local","DriverOpts":{"type":"tmpfs"},"Labels":{},"Name":null}"#,
        )
        .unwrap();
        assert_eq!(b.driver, "local");
        assert_eq!(b.name, "");
        assert_eq!(b.driver_opts.unwrap()["type"], "tmpfs");
    }
}
