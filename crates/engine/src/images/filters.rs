//! The `filters` of `GET /images/json` and `POST /images/prune`, checked
//! and typed. Input is the filter map as the API layer parsed it (key ->
//! values); the matching rules are docker's: every `label` value must
//! match (`key` or `key=value`), `reference` is a glob (Go's `path.Match`)
//! over the familiar `name:tag` or the name alone, `until` is a duration
//! ago, Unix seconds or an RFC 3339 time.

use std::collections::BTreeMap;

use berth_image::Reference;

use super::Error;

/// Filter key -> values.
pub(crate) type Raw = BTreeMap<String, Vec<String>>;

fn validate(raw: &Raw, accepted: &[&str]) -> Result<(), Error> {
    match raw.keys().find(|k| !accepted.contains(&k.as_str())) {
        Some(k) => Err(Error::UnknownFilter(k.clone())),
        None => Ok(()),
    }
}

/// The filters of `GET /images/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListFilters {
    /// `dangling=true|false`; None when not given.
    pub dangling: Option<bool>,
    pub labels: Vec<String>,
    pub before: Vec<String>,
    pub since: Vec<String>,
    pub references: Vec<String>,
}

impl ListFilters {
    pub fn parse(raw: &Raw) -> Result<ListFilters, Error> {
        validate(raw, &["dangling", "label", "before", "since", "reference"])?;
        let get = |k: &str| raw.get(k).cloned().unwrap_or_default();
        let dangling = match raw.get("dangling").map(Vec::as_slice) {
            None | Some([]) => None,
            Some([v]) if v == "true" => Some(true),
            Some([v]) if v == "false" => Some(false),
            Some(vs) => {
                return Err(Error::InvalidFilter {
                    name: "dangling".into(),
                    value: vs.join(" "),
                });
            }
        };
        for p in get("reference") {
            // A malformed pattern is refused up front rather than
            // silently matching nothing.
            glob_match(&p, "").map_err(|()| Error::InvalidFilter {
                name: "reference".into(),
                value: p.clone(),
            })?;
        }
        Ok(ListFilters {
            dangling,
            labels: get("label"),
            before: get("before"),
            since: get("since"),
            references: get("reference"),
        })
    }
}

/// The filters of `POST /images/prune` (besides `dangling`, which the
/// caller passes as a flag).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PruneFilters {
    pub labels: Vec<String>,
    pub not_labels: Vec<String>,
    /// Only images created before this instant (seconds since the epoch).
    pub until: Option<i64>,
}

impl PruneFilters {
    pub fn parse(raw: &Raw, now: jiff::Timestamp) -> Result<PruneFilters, Error> {
        validate(raw, &["dangling", "label", "label!", "until"])?;
        let get = |k: &str| raw.get(k).cloned().unwrap_or_default();
        let until = match raw.get("until").map(Vec::as_slice) {
            None | Some([]) => None,
            Some([v]) => Some(parse_until(v, now).ok_or_else(|| Error::InvalidFilter {
                name: "until".into(),
                value: v.clone(),
            })?),
            Some(vs) => {
                return Err(Error::InvalidFilter {
                    name: "until".into(),
                    value: vs.join(" "),
                });
            }
        };
        Ok(PruneFilters {
            labels: get("label"),
            not_labels: get("label!"),
            until,
        })
    }

    /// docker's `matchLabels`: every `label` matches and not every
    /// `label!` does.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match_kv_list(&self.labels, labels)
            && (self.not_labels.is_empty() || !match_kv_list(&self.not_labels, labels))
    }
}

/// True when every `key` / `key=value` in `wanted` is in `labels` (and
/// trivially when nothing is wanted).
pub(crate) fn match_kv_list(wanted: &[String], labels: Option<&BTreeMap<String, String>>) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let Some(labels) = labels.filter(|l| !l.is_empty()) else {
        return false;
    };
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(w),
    })
}

/// docker's `reference.FamiliarMatch`: the pattern matches the familiar
/// `name:tag` or the familiar name.
pub(crate) fn reference_matches(pattern: &str, r: &Reference) -> bool {
    glob_match(pattern, &r.familiar_string()).unwrap_or(false)
        || glob_match(pattern, &r.familiar_name()).unwrap_or(false)
}

/// Go's `path.Match`: `*` is any run of non-`/` characters, `?` one
/// non-`/` character, `[…]` a class (`^` negates, `a-z` ranges), `\`
/// escapes. `Err` for a malformed pattern.
pub(crate) fn glob_match(pattern: &str, name: &str) -> Result<bool, ()> {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    let matched = glob_at(&p, &s)?;
    // Go checks the whole pattern's syntax even after a mismatch.
    check_syntax(&p)?;
    Ok(matched)
}

fn check_syntax(p: &[char]) -> Result<(), ()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(());
                }
                i += 2;
            }
            '[' => {
                let (_, next) = class(&p[i + 1..], None)?;
                i += 1 + next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Parses a class body after `[`; returns whether `c` matches and how many
/// pattern characters the body and its `]` took.
fn class(p: &[char], c: Option<char>) -> Result<(bool, usize), ()> {
    let mut i = 0;
    let negate = p.first() == Some(&'^');
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let Some(&ch) = p.get(i) else {
            return Err(());
        };
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = escaped(p, &mut i)?;
        let hi = if p.get(i) == Some(&'-') {
            i += 1;
            escaped(p, &mut i)?
        } else {
            lo
        };
        if c.is_some_and(|c| lo <= c && c <= hi) {
            hit = true;
        }
    }
    Ok((hit != negate, i))
}

fn escaped(p: &[char], i: &mut usize) -> Result<char, ()> {
    let ch = *p.get(*i).ok_or(())?;
    if ch == '-' || ch == ']' {
        return Err(());
    }
    *i += 1;
    if ch == '\\' {
        let e = *p.get(*i).ok_or(())?;
        *i += 1;
        return Ok(e);
    }
    Ok(ch)
}

fn glob_at(p: &[char], s: &[char]) -> Result<bool, ()> {
    let Some(&first) = p.first() else {
        return Ok(s.is_empty());
    };
    match first {
        '*' => {
            // Try every split of the non-'/' run.
            let mut k = 0;
            loop {
                if glob_at(&p[1..], &s[k..])? {
                    return Ok(true);
                }
                if k == s.len() || s[k] == '/' {
                    return Ok(false);
                }
                k += 1;
            }
        }
        '?' => match s.first() {
            Some(&c) if c != '/' => glob_at(&p[1..], &s[1..]),
            _ => Ok(false),
        },
        '[' => {
            let (hit, used) = class(&p[1..], s.first().copied().filter(|c| *c != '/'))?;
            Ok(hit && !s.is_empty() && glob_at(&p[1 + used..], &s[1..])?)
        }
        '\\' => {
            let &e = p.get(1).ok_or(())?;
            Ok(s.first() == Some(&e) && glob_at(&p[2..], &s[1..])?)
        }
        c => Ok(s.first() == Some(&c) && glob_at(&p[1..], &s[1..])?),
    }
}

/// docker's `timetypes.GetTimestamp` for `until`: a Go duration (`24h`,
/// `1h30m`) before `now`, Unix seconds (`1700000000`, with an optional
/// fraction), or an RFC 3339 time or date (`2024-01-02`,
/// `2024-01-02T15:04:05`, taken as UTC without a zone). Seconds since the
/// epoch.
pub(crate) fn parse_until(v: &str, now: jiff::Timestamp) -> Option<i64> {
    if let Some(nanos) = go_duration_nanos(v) {
        return Some((now.as_nanosecond() - nanos).div_euclid(1_000_000_000) as i64);
    }
    if let Some((secs, frac)) = v.split_once('.').or(Some((v, "0"))) {
        if !secs.is_empty()
            && secs.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
        {
            return secs.parse().ok();
        }
    }
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    if let Ok(dt) = v.parse::<jiff::civil::DateTime>() {
        return jiff::tz::TimeZone::UTC
            .to_timestamp(dt)
            .ok()
            .map(|t| t.as_second());
    }
    None
}

/// Go's `time.ParseDuration`, in nanoseconds; None when `v` is not one.
fn go_duration_nanos(v: &str) -> Option<i128> {
    let (neg, mut rest) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += num * unit;
    }
    let t = total as i128;
    Some(if neg { -t } else { t })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> Raw {
        let mut m = Raw::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        m
    }

    #[test]
    fn list_filters_validate_like_docker() {
        let f = ListFilters::parse(&raw(&[("dangling", "true"), ("label", "a=b")])).unwrap();
        assert_eq!(f.dangling, Some(true));
        assert_eq!(f.labels, ["a=b"]);
        let e = ListFilters::parse(&raw(&[("status", "x")])).unwrap_err();
        assert_eq!(e.to_string(), "Invalid filter 'status'");
        let e = ListFilters::parse(&raw(&[("dangling", "maybe")])).unwrap_err();
        assert_eq!(e.to_string(), "Invalid filter 'dangling=[maybe]'");
        assert!(ListFilters::parse(&raw(&[("reference", "[a")])).is_err());
    }

    #[test]
    fn globs_follow_go_path_match() {
        let m = |p: &str, s: &str| glob_match(p, s).unwrap();
        assert!(m("busy*", "busybox"));
        assert!(m("busybox:*", "busybox:latest"));
        assert!(!m("*", "library/busybox"), "* stops at /");
        assert!(m("*/*", "user/app"));
        assert!(m("b?sybox", "busybox"));
        assert!(m("[a-c]usybox", "busybox"));
        assert!(!m("[^a-c]usybox", "busybox"));
        assert!(m("busy\\*", "busy*"));
        assert!(glob_match("[", "x").is_err());
        assert!(glob_match("a\\", "a").is_err());
        let r = Reference::parse_normalized("busybox:1.36").unwrap();
        assert!(reference_matches("busybox", &r));
        assert!(reference_matches("busybox:1.*", &r));
        assert!(!reference_matches("busybox:2*", &r));
    }

    #[test]
    fn labels_and_until() {
        let mut l = BTreeMap::new();
        l.insert("a".to_string(), "1".to_string());
        l.insert("b".to_string(), "2".to_string());
        assert!(match_kv_list(&["a".into(), "b=2".into()], Some(&l)));
        assert!(!match_kv_list(&["a=2".into()], Some(&l)));
        assert!(!match_kv_list(&["a".into()], None));
        assert!(match_kv_list(&[], None));
        let now: jiff::Timestamp = "2024-01-02T00:00:00Z".parse().unwrap();
        let f = PruneFilters::parse(&raw(&[("until", "24h"), ("label!", "a")]), now).unwrap();
        assert_eq!(f.until, Some(now.as_second() - 86400));
        assert!(!f.matches(Some(&l)));
        assert!(f.matches(None));
        assert_eq!(parse_until("1700000000.5", now), Some(1_700_000_000));
        assert_eq!(parse_until("1h30m", now), Some(now.as_second() - 5400));
        assert_eq!(
            parse_until("2024-01-01T00:00:00Z", now),
            Some(now.as_second() - 86400)
        );
        assert_eq!(
            parse_until("2024-01-01", now),
            Some(now.as_second() - 86400)
        );
        assert_eq!(parse_until("soon", now), None);
        let e = PruneFilters::parse(&raw(&[("until", "soon")]), now).unwrap_err();
        assert_eq!(e.to_string(), "Invalid filter 'until=[soon]'");
    }
}
