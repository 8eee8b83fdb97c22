//! The `filters` query parameter of list endpoints (`/containers/json`, `/images/json`,
//! `/events`, prune endpoints): a JSON object mapping a filter name to its values, either
//! as a map of booleans (`{"status":{"running":true}}`, what clients send) or, in the
//! legacy form, as a list (`{"status":["running"]}`).
//!
//! Values of one key are alternatives (any may match); different keys must all match.
//! The matching helpers follow dockerd's: a key that is absent matches everything.

use std::collections::{BTreeMap, BTreeSet};

/// Parsed filters: key -> set of values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<String, BTreeSet<String>>,
}

/// Errors of parsing and validating filters (both are client errors, HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum FiltersError {
    /// The parameter is not JSON of either form. dockerd 20.10 answers 500 with Go's
    /// JSON parser message here, which cannot be reproduced; this is the wording (and
    /// the 400) of later dockerd versions, the parser's error kept as the source.
    #[error("invalid filter")]
    Malformed(#[source] serde_json::Error),
    /// A key the endpoint does not know (dockerd's wording).
    #[error("Invalid filter '{0}'")]
    InvalidFilter(String),
    /// A value the endpoint cannot take for a key, e.g. `status=sleeping`.
    #[error("Invalid filter '{key}={value}'")]
    InvalidValue { key: String, value: String },
}

impl Filters {
    /// No filter.
    pub fn new() -> Filters {
        Filters::default()
    }

    /// Parses the `filters` query parameter; an empty string is no filter. In the map
    /// form, a value's boolean is not looked at (dockerd only looks at the keys too).
    pub fn parse(param: &str) -> Result<Filters, FiltersError> {
        if param.is_empty() {
            return Ok(Filters::new());
        }
        // Like dockerd, the error reported is the one of the current (map) form.
        let map_err = match serde_json::from_str::<BTreeMap<String, BTreeMap<String, bool>>>(param)
        {
            Ok(m) => {
                let fields = m
                    .into_iter()
                    .map(|(k, v)| (k, v.into_keys().collect()))
                    .collect();
                return Ok(Filters { fields });
            }
            Err(e) => e,
        };
        let legacy: BTreeMap<String, Vec<String>> =
            serde_json::from_str(param).map_err(|_| FiltersError::Malformed(map_err))?;
        let fields = legacy
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        Ok(Filters { fields })
    }

    /// The map-of-booleans JSON form (`{}` when empty).
    pub fn to_json(&self) -> String {
        let m: BTreeMap<&str, BTreeMap<&str, bool>> = self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(|s| (s.as_str(), true)).collect()))
            .collect();
        // A map of strings to maps of booleans always serializes.
        serde_json::to_string(&m).unwrap_or_else(|_| "{}".to_string())
    }

    /// Adds `value` to `key`.
    pub fn add(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.fields
            .entry(key.into())
            .or_default()
            .insert(value.into());
    }

    /// Whether there is no filter at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The filter keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// The values of `key`, sorted; empty if the key is absent.
    pub fn get(&self, key: &str) -> Vec<&str> {
        self.fields
            .get(key)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether `key` is given (even with no value).
    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    /// Refuses any key not in `accepted`, with dockerd's message.
    pub fn validate(&self, accepted: &[&str]) -> Result<(), FiltersError> {
        match self.fields.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(FiltersError::InvalidFilter(k.clone())),
            None => Ok(()),
        }
    }

    /// Refuses a value of `key` not in `accepted` (`status` of `docker ps`, for example).
    pub fn validate_values(&self, key: &str, accepted: &[&str]) -> Result<(), FiltersError> {
        match self.get(key).into_iter().find(|v| !accepted.contains(v)) {
            Some(v) => Err(FiltersError::InvalidValue {
                key: key.to_string(),
                value: v.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// `source` equals one of `key`'s values, or `key` has none.
    pub fn exact_match(&self, key: &str, source: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(v) => v.is_empty() || v.contains(source),
        }
    }

    /// Like [`Filters::exact_match`], but `key` must have exactly one value.
    pub fn unique_exact_match(&self, key: &str, source: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(v) if v.is_empty() => true,
            Some(v) => v.len() == 1 && v.contains(source),
        }
    }

    /// `source` equals or starts with one of `key`'s values (ID prefixes), or `key`
    /// has none.
    pub fn fuzzy_match(&self, key: &str, source: &str) -> bool {
        self.exact_match(key, source)
            || self
                .fields
                .get(key)
                .is_some_and(|v| v.iter().any(|p| source.starts_with(p.as_str())))
    }

    /// `source` equals or contains a match of one of `key`'s values taken as regular
    /// expressions (the `name` filter of `docker ps`), or `key` has none. Values that are
    /// not valid expressions only match exactly, as in dockerd.
    pub fn regex_match(&self, key: &str, source: &str) -> bool {
        self.exact_match(key, source)
            || self.fields.get(key).is_some_and(|v| {
                v.iter()
                    .any(|p| regex::Regex::new(p).is_ok_and(|re| re.is_match(source)))
            })
    }

    /// Every value of `key` (`k` or `k=v`) matches `labels` (see [`match_label`]), or
    /// `key` has none. This is how the `label` filter works: all given labels must match.
    pub fn match_kv_list(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(v) => v.iter().all(|f| match_label(f, labels)),
        }
    }
}

/// Whether `labels` satisfies one label filter: `k` (the label exists) or `k=v` (it has
/// that value).
pub fn match_label(filter: &str, labels: &BTreeMap<String, String>) -> bool {
    match filter.split_once('=') {
        None => labels.contains_key(filter),
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_both_json_forms() {
        let a = Filters::parse(r#"{"status":{"running":true,"paused":true},"label":{"a=b":true}}"#)
            .unwrap();
        let b = Filters::parse(r#"{"status":["running","paused"],"label":["a=b"]}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.get("status"), ["paused", "running"]);
        assert!(a.contains("label") && !a.contains("name"));
        assert!(a.get("name").is_empty());
        assert!(Filters::parse("").unwrap().is_empty());
        assert!(Filters::parse("{}").unwrap().is_empty());
        assert_eq!(
            Filters::parse(&a.to_json()).unwrap(),
            a,
            "to_json writes what parse reads"
        );
        assert_eq!(Filters::new().to_json(), "{}");
    }

    #[test]
    fn malformed_json_is_refused() {
        for bad in [
            "{",
            "[]",
            r#"{"status":"running"}"#,
            r#"{"status":{"running":"yes"}}"#,
            "x",
        ] {
            let err = Filters::parse(bad).unwrap_err();
            assert!(matches!(err, FiltersError::Malformed(_)), "{bad}");
            assert_eq!(err.to_string(), "invalid filter");
            assert!(std::error::Error::source(&err).is_some());
        }
    }

    #[test]
    fn validate_uses_dockerd_message() {
        let f = Filters::parse(r#"{"status":{"running":true},"colour":{"red":true}}"#).unwrap();
        let err = f.validate(&["status", "label", "name"]).unwrap_err();
        assert_eq!(err.to_string(), "Invalid filter 'colour'");
        f.validate(&["status", "colour"]).unwrap();
        let err = f
            .validate_values("status", &["created", "exited"])
            .unwrap_err();
        assert_eq!(err.to_string(), "Invalid filter 'status=running'");
        f.validate_values("status", &["running"]).unwrap();
    }

    #[test]
    fn matching_follows_dockerd() {
        let f = Filters::parse(r#"{"id":{"ab":true},"name":{"^/web[0-9]$":true,"(":true},"before":{"x":true,"y":true}}"#).unwrap();
        // Absent keys match everything.
        assert!(f.exact_match("status", "exited") && f.fuzzy_match("ancestor", "busybox"));
        assert!(f.fuzzy_match("id", "abcdef") && !f.fuzzy_match("id", "cdab"));
        assert!(f.exact_match("id", "ab") && !f.exact_match("id", "abc"));
        assert!(f.regex_match("name", "/web1") && !f.regex_match("name", "/web10"));
        // An invalid expression still matches itself exactly.
        assert!(f.regex_match("name", "("));
        assert!(!f.unique_exact_match("before", "x"));
        assert!(f.unique_exact_match("id", "ab"));
    }

    #[test]
    fn label_filters_need_every_label() {
        let l = labels(&[("a", "1"), ("b", "")]);
        assert!(match_label("a", &l) && match_label("a=1", &l) && match_label("b=", &l));
        assert!(!match_label("a=2", &l) && !match_label("c", &l));
        let f = Filters::parse(r#"{"label":{"a":true,"b=":true}}"#).unwrap();
        assert!(f.match_kv_list("label", &l));
        assert!(!f.match_kv_list("label", &labels(&[("a", "1")])));
        assert!(f.match_kv_list("other", &BTreeMap::new()));
    }
}
