//! The grammar of repository names, tags and references (OCI distribution
//! spec v1.1, "Pulling manifests" and "Listing tags").

use std::sync::LazyLock;

use berth_content::Digest;
use regex::Regex;

/// The spec's `<name>` regex: path components of lowercase alphanumerics
/// separated by `.`, `_`, `__` or runs of `-`, joined by `/`.
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
        .expect("static regex")
});

/// The spec's `<reference>` as a tag.
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").expect("static regex"));

/// Docker's registry limits the whole name to 255 characters (a hostname
/// plus the name must fit docker's reference grammar).
const MAX_NAME: usize = 255;

/// True when `name` is a valid repository name.
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME && NAME.is_match(name)
}

pub fn valid_tag(tag: &str) -> bool {
    TAG.is_match(tag)
}

/// What a manifest `<reference>` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

/// Why a reference is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadReference {
    /// Shaped like a digest (`alg:hex`) but not a sha256 one this
    /// registry can address.
    Digest,
    Tag,
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, BadReference> {
        if s.contains(':') {
            return s
                .parse::<Digest>()
                .map(Reference::Digest)
                .map_err(|_| BadReference::Digest);
        }
        if valid_tag(s) {
            Ok(Reference::Tag(s.to_owned()))
        } else {
            Err(BadReference::Tag)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "library/busybox", "a/b/c", "a.b_c__d---e/f0", "x-1/y"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a//b", "/a", "a/", "a..b", "_a", "a___b", "a/_x", "a:b", "a/../b", ".",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(!valid_name(&"a".repeat(256)));
    }

    #[test]
    fn references() {
        assert_eq!(
            Reference::parse("latest"),
            Ok(Reference::Tag("latest".into()))
        );
        assert_eq!(Reference::parse("-x"), Err(BadReference::Tag));
        assert_eq!(Reference::parse(&"a".repeat(129)), Err(BadReference::Tag));
        let d = Digest::of(b"x");
        assert_eq!(Reference::parse(&d.to_string()), Ok(Reference::Digest(d)));
        assert_eq!(Reference::parse("sha256:zz"), Err(BadReference::Digest));
        assert_eq!(
            Reference::parse(&format!("sha512:{}", "a".repeat(128))),
            Err(BadReference::Digest)
        );
    }
}
