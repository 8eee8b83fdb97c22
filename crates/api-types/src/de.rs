//! Serde helpers that reproduce how dockerd (Go's `encoding/json`) reads and writes bodies.
//!
//! Go decodes a JSON `null` into a non-pointer field as "leave the zero value", so a
//! client may send `"Memory": null` or `"Hostname": null`; [`nullable`] accepts that.
//! Go's `omitempty` drops zero values when encoding; the `is_*` predicates are the
//! matching `skip_serializing_if` tests. Fields without `omitempty` are always written,
//! and a nil slice or map is written as `null`, which is why such fields are
//! `Option<Vec<_>>` / `Option<BTreeMap<_, _>>` here (`None` is nil, `Some(vec![])` is `[]`).

use serde::{Deserialize, Deserializer, Serialize};

/// Deserializes `null` (or an absent field, with `#[serde(default)]`) as `T::default()`.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Deserializes docker's `strslice.StrSlice`: `null`, a single string (taken as a
/// one-element list) or a list of strings.
pub fn str_slice<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

/// `omitempty` for strings.
pub fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}

/// `omitempty` for booleans.
pub fn is_false(b: &bool) -> bool {
    !*b
}

/// `omitempty` for signed integers.
pub fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// `omitempty` for unsigned integers.
pub fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// `omitempty` for optional slices and maps: Go omits both nil and empty ones.
pub fn is_none_or_empty<T: IsEmpty>(v: &Option<T>) -> bool {
    v.as_ref().is_none_or(IsEmpty::is_empty)
}

/// Collections for which Go's `omitempty` tests the length.
pub trait IsEmpty {
    /// Whether the collection has no element.
    fn is_empty(&self) -> bool;
}

impl<T> IsEmpty for Vec<T> {
    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
}

impl<K, V> IsEmpty for std::collections::BTreeMap<K, V> {
    fn is_empty(&self) -> bool {
        std::collections::BTreeMap::is_empty(self)
    }
}

/// Go's `struct{}`, the value type of docker's sets (`ExposedPorts`, `Volumes`): it is
/// written as `{}` and any object is accepted when reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The zero `time.Time` as Go prints it, which dockerd writes for times that never happened
/// (`State.StartedAt` of a created container, for example).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Default)]
    struct T {
        #[serde(default, deserialize_with = "nullable")]
        n: i64,
        #[serde(default, deserialize_with = "str_slice")]
        s: Option<Vec<String>>,
    }

    #[test]
    fn null_reads_as_zero_value() {
        let t: T = serde_json::from_str(r#"{"n":null,"s":null}"#).unwrap();
        assert_eq!(t.n, 0);
        assert_eq!(t.s, None);
        let t: T = serde_json::from_str(r#"{"n":7}"#).unwrap();
        assert_eq!(t.n, 7);
    }

    #[test]
    fn str_slice_takes_a_string_or_a_list() {
        let t: T = serde_json::from_str(r#"{"s":"sh"}"#).unwrap();
        assert_eq!(t.s, Some(vec!["sh".to_string()]));
        let t: T = serde_json::from_str(r#"{"s":["sh","-c"]}"#).unwrap();
        assert_eq!(t.s, Some(vec!["sh".to_string(), "-c".to_string()]));
        let t: T = serde_json::from_str(r#"{"s":[]}"#).unwrap();
        assert_eq!(t.s, Some(vec![]));
        assert!(serde_json::from_str::<T>(r#"{"s":3}"#).is_err());
    }
}
