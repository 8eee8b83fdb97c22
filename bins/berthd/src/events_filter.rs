//! Which events a `GET /events?filters=...` stream passes, and its
//! `since`/`until` bounds, as dockerd decides them (daemon/events/filter.go).
//!
//! Filter semantics: values of one key are alternatives (OR), keys combine
//! with AND, except `label`, where every given label must match. `container`
//! matches the container's id by prefix or its name; `image` matches the
//! image reference with or without its tag; `event` matches the action (the
//! `exec_start: ...` family by its prefix).

use berth_api_types::filters::Filters;
use berth_engine::events::Event;

use crate::api::ApiError;

const KEYS: &[&str] = &[
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "plugin",
    "scope",
    "type",
    "volume",
];

/// A validated filter set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EventFilter {
    f: Filters,
}

impl EventFilter {
    pub fn new(f: Filters) -> Result<EventFilter, ApiError> {
        f.validate(KEYS)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(EventFilter { f })
    }

    /// `pred` holds for one of `key`'s values, or `key` is not given.
    fn any(&self, key: &str, pred: impl Fn(&str) -> bool) -> bool {
        let vals = self.f.get(key);
        vals.is_empty() || vals.into_iter().any(pred)
    }

    pub fn matches(&self, ev: &Event) -> bool {
        let attr = |k: &str| ev.actor.attributes.get(k).map(String::as_str).unwrap_or("");
        let named = |typ: &str, key: &str| {
            !self.f.contains(key)
                || ev.typ == typ
                    && (self.f.fuzzy_match(key, &ev.actor.id)
                        || self.f.exact_match(key, attr("name")))
        };
        self.f.exact_match("type", &ev.typ)
            && self.any("event", |e| {
                ev.action == e || ev.action.starts_with(&format!("{e}:"))
            })
            && self.f.exact_match("scope", &ev.scope)
            && named("container", "container")
            && named("network", "network")
            && named("daemon", "daemon")
            && named("plugin", "plugin")
            && (!self.f.contains("volume")
                || ev.typ == "volume" && self.f.exact_match("volume", &ev.actor.id))
            && self.any("image", |i| image_matches(ev, i))
            && self.f.match_kv_list("label", &ev.actor.attributes)
    }
}

fn image_matches(ev: &Event, want: &str) -> bool {
    let image = match ev.typ.as_str() {
        "container" => ev
            .actor
            .attributes
            .get("image")
            .cloned()
            .unwrap_or_default(),
        "image" => ev
            .actor
            .attributes
            .get("name")
            .cloned()
            .unwrap_or_else(|| ev.actor.id.clone()),
        _ => return false,
    };
    image == want || ev.actor.id == want || !has_tag(want) && strip_tag(&image) == want
}

fn has_tag(r: &str) -> bool {
    let last = r.rsplit('/').next().unwrap_or(r);
    last.contains(':') || r.contains('@')
}

fn strip_tag(r: &str) -> &str {
    let r = r.split('@').next().unwrap_or(r);
    let slash = r.rfind('/').map(|i| i + 1).unwrap_or(0);
    match r[slash..].find(':') {
        Some(i) => &r[..slash + i],
        None => r,
    }
}

/// docker's timetypes: `SECONDS[.NANOS]` (what the CLI sends after turning
/// `--since 10m` into a time), or RFC 3339. Returns nanoseconds.
pub fn parse_timestamp(key: &str, s: &str) -> Result<i64, ApiError> {
    let bad =
        || ApiError::bad_request(format!("invalid value for {key}: {s:?} is not a timestamp"));
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_nanosecond() as i64);
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let mut nanos: i64 = 0;
    if !frac.is_empty() {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        nanos = format!("{frac:0<9}").parse().map_err(|_| bad())?;
    }
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(nanos))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(typ: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        let attrs = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Event::new(typ, action, id, attrs)
    }

    fn filter(pairs: &[(&str, &[&str])]) -> EventFilter {
        let mut f = Filters::new();
        for (k, vals) in pairs {
            for v in *vals {
                f.add(*k, *v);
            }
        }
        EventFilter::new(f).unwrap()
    }

    #[test]
    fn keys_and_values_combine_like_dockerd() {
        let start = ev(
            "container",
            "start",
            "abcdef",
            &[("name", "web"), ("image", "busybox:latest")],
        );
        let exec = ev(
            "container",
            "exec_start: sh -c true",
            "abcdef",
            &[("name", "web")],
        );
        let tag = ev("image", "tag", "sha256:1", &[("name", "busybox:latest")]);
        assert!(filter(&[]).matches(&start));
        assert!(filter(&[("container", &["abc"])]).matches(&start));
        assert!(filter(&[("container", &["web"])]).matches(&start));
        assert!(!filter(&[("container", &["we"])]).matches(&start));
        assert!(filter(&[("event", &["stop", "start"])]).matches(&start));
        assert!(filter(&[("event", &["exec_start"])]).matches(&exec));
        assert!(!filter(&[("event", &["start"]), ("type", &["image"])]).matches(&start));
        assert!(filter(&[("image", &["busybox"])]).matches(&start));
        assert!(filter(&[("image", &["busybox:latest"])]).matches(&tag));
        assert!(!filter(&[("image", &["busybox:1"])]).matches(&start));
        assert!(filter(&[("label", &["name=web"])]).matches(&start));
        assert!(filter(&[("label", &["name"])]).matches(&start));
        assert!(!filter(&[("label", &["name=x"])]).matches(&start));
        // Every label must match.
        assert!(!filter(&[("label", &["name=web", "other"])]).matches(&start));
        let mut bogus = Filters::new();
        bogus.add("bogus", "x");
        assert!(EventFilter::new(bogus).is_err());
    }

    #[test]
    fn timestamps_parse_like_timetypes() {
        assert_eq!(parse_timestamp("since", "12").unwrap(), 12_000_000_000);
        assert_eq!(parse_timestamp("since", "12.5").unwrap(), 12_500_000_000);
        assert_eq!(
            parse_timestamp("since", "12.000000001").unwrap(),
            12_000_000_001
        );
        assert_eq!(
            parse_timestamp("since", "1970-01-01T00:00:01Z").unwrap(),
            1_000_000_000
        );
        assert!(parse_timestamp("since", "soon").is_err());
        assert!(parse_timestamp("since", "1.x").is_err());
    }

    #[test]
    fn tags_strip_only_from_the_last_component() {
        assert_eq!(strip_tag("reg:5000/a/b:1"), "reg:5000/a/b");
        assert_eq!(strip_tag("reg:5000/a/b"), "reg:5000/a/b");
        assert!(!has_tag("reg:5000/a"));
        assert!(has_tag("a:1"));
    }
}
