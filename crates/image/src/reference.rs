//! Image references, parsed and normalised as Docker does:
//! `busybox` → `docker.io/library/busybox:latest`, `host:5000/x/y:tag`,
//! `name@sha256:…`. Error messages are Docker's, word for word, since
//! clients match on them.
//!
//! Grammar (from the distribution reference spec):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component ( "/" path-component )*
//! domain     := host [ ":" port ]     host := label ( "." label )* | "[" ipv6 "]"
//! path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ":" hex
//! ```

use std::fmt;

/// The registry that names without a domain refer to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const NAME_MAX: usize = 255;

/// Why a string is not a valid reference (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
    #[error("invalid checksum digest length")]
    DigestLength,
    #[error("invalid checksum digest format")]
    DigestFormat,
}

/// A normalised reference: always a domain and a path, optionally a tag
/// and/or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    /// `algorithm:hex`, validated.
    pub digest: Option<String>,
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut rest) = match name.find('/') {
        Some(i) => {
            let first = &name[..i];
            if !first.contains(['.', ':']) && first != "localhost" && first.to_lowercase() == first
            {
                (DEFAULT_DOMAIN.to_owned(), name.to_owned())
            } else {
                (first.to_owned(), name[i + 1..].to_owned())
            }
        }
        None => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
    };
    if domain == LEGACY_DOMAIN {
        domain = DEFAULT_DOMAIN.to_owned();
    }
    if domain == DEFAULT_DOMAIN && !rest.contains('/') {
        rest = format!("{OFFICIAL_PREFIX}{rest}");
    }
    (domain, rest)
}

fn valid_label(l: &str) -> bool {
    let b = l.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        // [ipv6]:port
        let Some(end) = rest.find(']') else {
            return false;
        };
        let ip = &rest[..end];
        if ip.is_empty() || !ip.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(p) => ("", Some(p)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    host.is_empty() && d.starts_with('[') || host.split('.').all(valid_label)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|x| word(*x) || *x == b'.' || *x == b'-')
}

fn check_digest(d: &str) -> Result<(), ReferenceError> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Err(ReferenceError::InvalidFormat);
    };
    let alg_ok = !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|p| {
            let b = p.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphabetic()
                && b.iter().all(|c| c.is_ascii_alphanumeric())
        });
    if !alg_ok || hex.len() < 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(ReferenceError::InvalidFormat);
    }
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(ReferenceError::DigestUnsupported),
    };
    if hex.len() != want {
        return Err(ReferenceError::DigestLength);
    }
    if hex.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err(ReferenceError::DigestFormat);
    }
    Ok(())
}

impl Reference {
    /// Parses a name as the docker CLI does, filling in `docker.io` and
    /// `library/`. No default tag is added (see [`Reference::with_default_tag`]).
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if is_hex64(s) {
            return Err(ReferenceError::HexName(s.to_owned()));
        }
        let (domain, remainder) = split_domain(s);
        let remote = remainder.split(':').next().unwrap_or("");
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::Uppercase(remote.to_owned()));
        }
        Self::parse_full(&domain, &remainder)
    }

    fn parse_full(domain: &str, remainder: &str) -> Result<Reference, ReferenceError> {
        let (name_tag, digest) = match remainder.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (remainder, None),
        };
        let slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match name_tag[slash..].find(':') {
            Some(i) => (&name_tag[..slash + i], Some(&name_tag[slash + i + 1..])),
            None => (name_tag, None),
        };
        if !valid_domain(domain) || !path.split('/').all(valid_component) {
            return Err(ReferenceError::InvalidFormat);
        }
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::InvalidFormat);
            }
        }
        if let Some(d) = digest {
            check_digest(d)?;
        }
        if domain.len() + 1 + path.len() > NAME_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(Reference {
            domain: domain.to_owned(),
            path: path.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// Adds the tag `latest` when there is neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".to_owned());
        }
        self
    }

    /// `domain/path`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short form the docker CLI shows: `busybox`, `user/app`,
    /// `host:5000/x/y`. As in Docker, `library/` is dropped only from a
    /// two-component path (`docker.io/library/a/b` is `library/a/b`, which
    /// reads back as the same name; `a/b` would not).
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The familiar form with tag and digest (`busybox:latest`).
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse_normalized(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse_normalized(s)
            .unwrap()
            .with_default_tag()
            .to_string()
    }

    #[test]
    fn normalises_like_docker() {
        let d = format!("sha256:{}", "a".repeat(64));
        for (input, want) in [
            ("busybox", "docker.io/library/busybox:latest".to_owned()),
            ("busybox:1.36", "docker.io/library/busybox:1.36".to_owned()),
            ("user/app", "docker.io/user/app:latest".to_owned()),
            (
                "index.docker.io/library/busybox",
                "docker.io/library/busybox:latest".to_owned(),
            ),
            (
                "docker.io/busybox",
                "docker.io/library/busybox:latest".to_owned(),
            ),
            ("host:5000/x/y:tag", "host:5000/x/y:tag".to_owned()),
            ("localhost/app", "localhost/app:latest".to_owned()),
            ("localhost:5000/app", "localhost:5000/app:latest".to_owned()),
            (
                "registry.example.com/a/b/c",
                "registry.example.com/a/b/c:latest".to_owned(),
            ),
            ("[::1]:5000/app:v1", "[::1]:5000/app:v1".to_owned()),
            (
                "a__b/c-d--e/f.g_h",
                "docker.io/a__b/c-d--e/f.g_h:latest".to_owned(),
            ),
            (
                &format!("busybox@{d}"),
                format!("docker.io/library/busybox@{d}"),
            ),
            (
                &format!("busybox:1@{d}"),
                format!("docker.io/library/busybox:1@{d}"),
            ),
        ] {
            assert_eq!(norm(input), want, "{input}");
        }
        let r = Reference::parse_normalized("busybox")
            .unwrap()
            .with_default_tag();
        assert_eq!(r.familiar_string(), "busybox:latest");
        assert_eq!(
            Reference::parse_normalized("host:5000/x/y")
                .unwrap()
                .familiar_name(),
            "host:5000/x/y"
        );
        assert_eq!(
            Reference::parse_normalized("user/app")
                .unwrap()
                .familiar_name(),
            "user/app"
        );
        // Docker drops `library/` only from two-component paths.
        assert_eq!(
            Reference::parse_normalized("library/a/b")
                .unwrap()
                .familiar_name(),
            "library/a/b"
        );
    }

    #[test]
    fn rejects_with_dockers_messages() {
        let err = |s: &str| Reference::parse_normalized(s).unwrap_err().to_string();
        assert_eq!(
            err("Busybox"),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert_eq!(
            err("x/Y:tag"),
            "invalid reference format: repository name (x/Y) must be lowercase"
        );
        let hex = "f".repeat(64);
        assert_eq!(
            err(&hex),
            format!("invalid repository name ({hex}), cannot specify 64-byte hexadecimal strings")
        );
        for bad in [
            "",
            ":tag",
            "busybox:",
            "busybox:-x",
            "bad..name",
            "a/-b",
            "a_/b",
            "a___b",
            "-host.com/x",
            "host:port/x",
            "busybox@sha256:abc",
            "name:tag:more",
            "sp ace",
        ] {
            assert_eq!(err(bad), "invalid reference format", "{bad:?}");
        }
        assert_eq!(
            err(&format!("b@sha256:{}", "a".repeat(63))),
            "invalid checksum digest length"
        );
        assert_eq!(
            err(&format!("b@md5:{}", "a".repeat(32))),
            "unsupported digest algorithm"
        );
        assert_eq!(
            err(&format!("b:{}", "t".repeat(129))),
            "invalid reference format"
        );
        assert_eq!(
            err(&format!("x/{}", "a".repeat(250))),
            "repository name must not be more than 255 characters"
        );
    }
}
