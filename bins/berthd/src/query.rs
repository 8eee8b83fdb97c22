//! Query strings, parsed as Go's url.ParseQuery does (`+` is a space,
//! `%XX` escapes, repeated keys kept in order) and read with docker's
//! helpers (httputils.BoolValue and friends).

use std::collections::BTreeMap;

use crate::api::ApiError;

#[derive(Debug, Default, Clone)]
pub struct Query {
    params: BTreeMap<String, Vec<String>>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.entry(decode(k)).or_default().push(decode(v));
        }
        Query { params }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The first value of `key`, absent when empty.
    pub fn nonempty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|s| !s.is_empty())
    }

    /// Every value of `key` (`?names=a&names=b`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.params
            .get(key)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// docker's BoolValue: false when absent, empty, `0`, `no`, `false` or
    /// `none` (any case), true otherwise.
    pub fn bool(&self, key: &str) -> bool {
        let s = self.get(key).unwrap_or("").trim().to_ascii_lowercase();
        !matches!(s.as_str(), "" | "0" | "no" | "false" | "none")
    }

    /// docker's BoolValueOrDefault: `default` when the key is absent or empty.
    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        match self.get(key) {
            None | Some("") => default,
            Some(_) => self.bool(key),
        }
    }

    /// An integer parameter; absent or empty is `None`.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.nonempty(key) {
            None => Ok(None),
            Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {key}: {s:?} is not an integer"))
            }),
        }
    }
}

/// Percent-decoding with `+` as space; malformed escapes stay literal and
/// invalid UTF-8 is replaced, so no input fails to parse.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a path segment (no `+` rule in paths).
pub fn decode_path(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    decode(&s.replace('+', "%2B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let q = Query::parse(Some(
            "a=1&b=x+y&c=%7B%22k%22%3A1%7D&names=a&names=b&flag&bad=%zz&end=%4",
        ));
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y"));
        assert_eq!(q.get("c"), Some("{\"k\":1}"));
        assert_eq!(q.all("names"), vec!["a", "b"]);
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(q.get("end"), Some("%4"));
        assert!(q.get("missing").is_none());
    }

    #[test]
    fn bools_follow_docker() {
        let q = Query::parse(Some("a=1&b=0&c=False&d=none&e=yes&f="));
        assert!(q.bool("a"));
        assert!(!q.bool("b"));
        assert!(!q.bool("c"));
        assert!(!q.bool("d"));
        assert!(q.bool("e"));
        assert!(!q.bool("f"));
        assert!(!q.bool("zz"));
        assert!(q.bool_or("zz", true));
        assert!(q.bool_or("f", true));
        assert!(!q.bool_or("b", true));
    }

    #[test]
    fn ints_are_checked() {
        let q = Query::parse(Some("t=5&u=x&v="));
        assert_eq!(q.int("t").unwrap(), Some(5));
        assert_eq!(q.int("v").unwrap(), None);
        assert!(q.int("u").is_err());
    }

    #[test]
    fn path_segments_keep_plus() {
        assert_eq!(decode_path("a+b%2Fc"), "a+b/c");
    }
}
