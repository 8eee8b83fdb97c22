//! Image references checked on the client side, where docker's CLI checks them
//! (distribution's `reference` grammar): `[domain[:port]/]path[:tag][@digest]`, path
//! components lowercase, the Docker Hub's defaults (`docker.io`, `library/`) applied.

/// A parsed name (docker's `reference.Named`, normalized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub domain: String,
    /// The path (`library/busybox`).
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

const INVALID: &str = "invalid reference format";

impl Named {
    /// `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short form docker prints: `busybox`, `me/app`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == "docker.io" {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        }
    }

    /// The tag, `latest` when none was given (docker's `TagNameOnly`).
    pub fn tag_or_latest(&self) -> String {
        self.tag.clone().unwrap_or_else(|| "latest".into())
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !alnum_lower(b[0]) || !alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A domain: host components (`[a-zA-Z0-9]`, inner `-`) joined by dots, or a
/// bracketed IPv6 address, then an optional `:port`.
fn is_domain(s: &str) -> bool {
    let host_ok = |h: &str| {
        !h.is_empty()
            && h.split('.').all(|c| {
                let b = c.as_bytes();
                !b.is_empty()
                    && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
                    && b[0] != b'-'
                    && b[b.len() - 1] != b'-'
            })
    };
    let (ok, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return false;
        };
        let ip_ok = !ip.is_empty() && ip.bytes().all(|c| c.is_ascii_hexdigit() || c == b':');
        let port = match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(p) => Some(p),
                None => return false,
            },
        };
        (ip_ok, port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (host_ok(h), Some(p)),
            None => (host_ok(s), None),
        }
    };
    ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
}

/// `[\w][\w.-]{0,127}`
fn is_tag(s: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|c| word(*c) || *c == b'.' || *c == b'-')
}

/// `algorithm:hex` with at least 32 hex digits (sha256 exactly 64).
fn is_digest(s: &str) -> bool {
    let Some((alg, hex)) = s.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|p| {
        p.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
            && p.bytes().all(|c| c.is_ascii_alphanumeric())
    });
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|c| c.is_ascii_hexdigit());
    alg_ok && hex_ok && (alg != "sha256" || hex.len() == 64)
}

/// Whether the whole string follows the reference grammar (distribution's
/// `ReferenceRegexp`).
fn matches_grammar(s: &str) -> bool {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if digest.is_some_and(|d| !is_digest(d)) {
        return false;
    }
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) {
        return false;
    }
    let comps: Vec<&str> = name.split('/').collect();
    let first_ok = is_path_component(comps[0]) || (comps.len() > 1 && is_domain(comps[0]));
    first_ok && comps[1..].iter().all(|c| is_path_component(c))
}

/// docker's `ParseNormalizedNamed`.
pub fn parse_normalized_named(s: &str) -> Result<Named, String> {
    if is_hex64(s) {
        return Err(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    let (domain, mut remainder) = match s.split_once('/') {
        Some((d, r)) if d.contains(['.', ':']) || d == "localhost" || d.to_lowercase() != d => {
            (d.to_string(), r.to_string())
        }
        _ => ("docker.io".to_string(), s.to_string()),
    };
    if domain == "docker.io" && !remainder.contains('/') {
        remainder = format!("library/{remainder}");
    }
    let remote = remainder.split(':').next().unwrap_or(&remainder);
    if remote.to_lowercase() != remote {
        return Err(format!(
            "{INVALID}: repository name ({remote}) must be lowercase"
        ));
    }
    let full = format!("{domain}/{remainder}");
    if !matches_grammar(&full) {
        if s.is_empty() {
            return Err("repository name must have at least one component".into());
        }
        if matches_grammar(&full.to_lowercase()) {
            return Err("repository name must be lowercase".into());
        }
        return Err(INVALID.into());
    }
    let (rest, digest) = match full.split_once('@') {
        Some((r, d)) => (r.to_string(), Some(d.to_string())),
        None => (full.clone(), None),
    };
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => {
            (rest[..i].to_string(), Some(rest[i + 1..].to_string()))
        }
        _ => (rest, None),
    };
    if name.len() > 255 {
        return Err("repository name must not be more than 255 characters".into());
    }
    let path = name[domain.len() + 1..].to_string();
    Ok(Named {
        domain,
        path,
        tag,
        digest,
    })
}

/// docker's `ParseAnyReference`: an image ID (64 hex digits, or a digest) or a name.
pub fn parse_any_reference(s: &str) -> Result<(), String> {
    if is_hex64(s) || is_digest(s) {
        return Ok(());
    }
    parse_normalized_named(s).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_like_docker() {
        let n = parse_normalized_named("busybox").unwrap();
        assert_eq!(n.name(), "docker.io/library/busybox");
        assert_eq!(n.familiar_name(), "busybox");
        assert_eq!(n.tag_or_latest(), "latest");
        let n = parse_normalized_named("localhost:5000/a/b:v1").unwrap();
        assert_eq!(
            (n.domain.as_str(), n.path.as_str()),
            ("localhost:5000", "a/b")
        );
        assert_eq!(n.tag.as_deref(), Some("v1"));
        assert_eq!(n.familiar_name(), "localhost:5000/a/b");
        let n = parse_normalized_named(
            "me/app@sha256:e2e2b59a81cddfba6ce2f433322681809db49bef48a1a10599bc3b67682c58ac",
        )
        .unwrap();
        assert!(n.digest.is_some());
        assert_eq!(n.familiar_name(), "me/app");
    }

    #[test]
    fn bad_names_get_docker_wording() {
        assert_eq!(
            parse_normalized_named("Bad").unwrap_err(),
            "invalid reference format: repository name (library/Bad) must be lowercase"
        );
        assert_eq!(parse_normalized_named("a b").unwrap_err(), INVALID);
        assert_eq!(parse_normalized_named("a:").unwrap_err(), INVALID);
        assert_eq!(parse_normalized_named("-a").unwrap_err(), INVALID);
        assert!(parse_normalized_named(&"e".repeat(64)).is_err());
        assert!(parse_any_reference(&"e".repeat(64)).is_ok());
        assert!(parse_normalized_named("[::1]:5000/x").is_ok());
        assert!(parse_normalized_named("a__b/c.d-e:1.0").is_ok());
    }
}
