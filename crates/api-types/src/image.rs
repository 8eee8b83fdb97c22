//! Image models of Engine API v1.41: list items, inspect, history, delete and prune
//! reports, and search results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::{Config, GraphDriver};
use crate::de::{ZERO_TIME, is_empty_str, is_none_or_empty};

/// An item of `GET /images/json` (Go `types.ImageSummary`; swagger-generated, so its
/// fields are in alphabetical order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Summary {
    /// Number of containers using the image; -1 when not computed (the default).
    pub containers: i64,
    /// Unix seconds.
    pub created: i64,
    #[serde(rename = "Id")]
    pub id: String,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "ParentId")]
    pub parent_id: String,
    /// `name@sha256:...`; `["<none>@<none>"]` for an image with no reference at all.
    pub repo_digests: Option<Vec<String>>,
    /// `name:tag`; `["<none>:<none>"]` for an image with no reference at all.
    pub repo_tags: Option<Vec<String>>,
    /// Bytes shared with other images; -1 when not computed (the default).
    pub shared_size: i64,
    pub size: i64,
    pub virtual_size: i64,
}

/// The response of `GET /images/{name}/json` (Go `types.ImageInspect`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InspectResponse {
    /// `sha256:<hex>` of the image config.
    #[serde(rename = "Id")]
    pub id: String,
    pub repo_tags: Option<Vec<String>>,
    pub repo_digests: Option<Vec<String>>,
    pub parent: String,
    pub comment: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    pub container: String,
    pub container_config: Option<Config>,
    pub docker_version: String,
    pub author: String,
    pub config: Option<Config>,
    pub architecture: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub variant: String,
    pub os: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub os_version: String,
    pub size: i64,
    pub virtual_size: i64,
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    pub metadata: Metadata,
}

/// The image's layers as diff IDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RootFs {
    /// Always `layers`.
    pub r#type: String,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub layers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub base_layer: String,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            r#type: "layers".to_string(),
            layers: None,
            base_layer: String::new(),
        }
    }
}

/// Local facts about an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Metadata {
    /// When the image was last tagged (RFC 3339 with nanoseconds); Go's zero time
    /// when never (Go's `omitempty` does not apply to a struct, so it is always written).
    pub last_tag_time: String,
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata {
            last_tag_time: ZERO_TIME.to_string(),
        }
    }
}

/// An item of `GET /images/{name}/history`, newest layer first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HistoryItem {
    pub comment: String,
    /// Unix seconds.
    pub created: i64,
    pub created_by: String,
    /// The image ID for the top of a local image, `<missing>` for other entries.
    #[serde(rename = "Id")]
    pub id: String,
    pub size: i64,
    pub tags: Option<Vec<String>>,
}

/// An item of the `DELETE /images/{name}` response (and of the image prune report):
/// exactly one of the two fields is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteItem {
    #[serde(skip_serializing_if = "is_empty_str")]
    pub deleted: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub untagged: String,
}

impl DeleteItem {
    /// A removed reference (`busybox:latest`).
    pub fn untagged(reference: impl Into<String>) -> DeleteItem {
        DeleteItem {
            untagged: reference.into(),
            ..Default::default()
        }
    }

    /// A removed image or layer (`sha256:...`).
    pub fn deleted(id: impl Into<String>) -> DeleteItem {
        DeleteItem {
            deleted: id.into(),
            ..Default::default()
        }
    }
}

/// The response of `POST /images/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PruneResponse {
    pub images_deleted: Option<Vec<DeleteItem>>,
    pub space_reclaimed: u64,
}

/// An item of `GET /images/search`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchResult {
    pub star_count: i64,
    pub is_official: bool,
    pub name: String,
    pub is_automated: bool,
    pub description: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn delete_items_write_one_field() {
        let v = vec![
            DeleteItem::untagged("busybox:latest"),
            DeleteItem::deleted("sha256:ab"),
        ];
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:ab"}]"#
        );
    }

    #[test]
    fn default_inspect_writes_dockerd_zero_values() {
        let v = serde_json::to_value(InspectResponse::default()).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), 18, "{:?}", o.keys().collect::<Vec<_>>());
        assert!(!o.contains_key("Variant") && !o.contains_key("OsVersion"));
        assert_eq!(v["RootFS"], json!({"Type": "layers"}));
        assert_eq!(
            v["Metadata"],
            json!({"LastTagTime": "0001-01-01T00:00:00Z"})
        );
        assert_eq!(v["ContainerConfig"], serde_json::Value::Null);
        assert_eq!(v["RepoTags"], serde_json::Value::Null);
    }

    #[test]
    fn summary_reads_what_it_writes() {
        let s = Summary {
            containers: -1,
            created: 1_700_000_000,
            id: "sha256:ab".into(),
            labels: None,
            parent_id: String::new(),
            repo_digests: Some(vec![]),
            repo_tags: Some(vec!["busybox:latest".into()]),
            shared_size: -1,
            size: 4_261_550,
            virtual_size: 4_261_550,
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            text,
            r#"{"Containers":-1,"Created":1700000000,"Id":"sha256:ab","Labels":null,"ParentId":"","RepoDigests":[],"RepoTags":["busybox:latest"],"SharedSize":-1,"Size":4261550,"VirtualSize":4261550}"#
        );
        assert_eq!(serde_json::from_str::<Summary>(&text).unwrap(), s);
    }
}
