//! Container identity: ids, names, and the lookup of a user's reference.
//!
//! Vocabulary:
//! - *id*: 64 lowercase hex characters, random; its first 12 are the
//!   "short id" (and the default hostname).
//! - *name*: unique among containers, stored with a leading `/` as docker
//!   does (`/web`); users may write it with or without the slash.
//! - *reference*: what a user types to designate a container: a full id,
//!   a name, or a unique id prefix, tried in that order (docker's order, so
//!   a container named like another one's id prefix is found by name).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use super::Error;

/// The characters docker allows in a container name, as its error
/// message quotes them.
pub const NAME_CHARS: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

/// Checks a user-given name and returns it in stored form (`/name`).
///
/// Docker's pattern is `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`: note the `+`,
/// which makes one-character names invalid (a docker quirk kept for
/// compatibility). The message quotes the name as the user wrote it.
pub fn validate_name(given: &str) -> Result<String, Error> {
    let bare = given.strip_prefix('/').unwrap_or(given);
    let mut chars = bare.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest: Vec<char> = chars.collect();
    let rest_ok = !rest.is_empty()
        && rest
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c));
    if !(first_ok && rest_ok) {
        return Err(Error::InvalidName {
            name: given.to_string(),
        });
    }
    Ok(format!("/{bare}"))
}

/// `n` random bytes from the kernel's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // /dev/urandom never blocks once the pool is initialized (random(4)),
    // which it is long before a daemon starts. A failure here means a
    // broken host; fall back to the clock so ids stay distinct rather
    // than panic.
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_ok();
    if !ok {
        let nanos = jiff::Timestamp::now().as_nanosecond().to_le_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = nanos[i % nanos.len()] ^ (i as u8).wrapping_mul(151);
        }
    }
    buf
}

/// A new random id: 64 hex characters whose 12-character short form is
/// not all digits (docker regenerates those, so a short id is never
/// mistaken for a number by tools that parse it).
pub fn new_id() -> String {
    loop {
        let bytes: [u8; 32] = random_bytes();
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

const ADJECTIVES: &[&str] = &[
    "admiring",
    "affectionate",
    "amazing",
    "awesome",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "confident",
    "cool",
    "dazzling",
    "determined",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "happy",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "jolly",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "nice",
    "nifty",
    "nostalgic",
    "optimistic",
    "peaceful",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "relaxed",
    "reverent",
    "romantic",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "upbeat",
    "vibrant",
    "vigilant",
    "wizardly",
    "wonderful",
    "youthful",
    "zealous",
    "zen",
];

/// Surnames of notable scientists and engineers.
const SURNAMES: &[&str] = &[
    "agnesi",
    "allen",
    "archimedes",
    "babbage",
    "bardeen",
    "bartik",
    "bell",
    "bohr",
    "boole",
    "borg",
    "cannon",
    "carson",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goldberg",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hodgkin",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamarr",
    "lovelace",
    "lumiere",
    "maxwell",
    "mccarthy",
    "meitner",
    "mendel",
    "mirzakhani",
    "morse",
    "napier",
    "newton",
    "nobel",
    "noether",
    "pascal",
    "pasteur",
    "planck",
    "ramanujan",
    "ritchie",
    "shannon",
    "sinoussi",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "volta",
    "wilson",
    "wozniak",
    "wright",
];

/// A random name in docker's `adjective_surname` shape; `retry > 0` adds
/// a digit, as docker does once the plain names it drew were taken.
pub fn random_name(retry: u32) -> String {
    loop {
        let r: [u8; 3] = random_bytes();
        let adjective = ADJECTIVES[r[0] as usize % ADJECTIVES.len()];
        let surname = SURNAMES[r[1] as usize % SURNAMES.len()];
        // Steve Wozniak is not boring (docker skips this one pair).
        if adjective == "boring" && surname == "wozniak" {
            continue;
        }
        let mut name = format!("{adjective}_{surname}");
        if retry > 0 {
            name.push(char::from(b'0' + r[2] % 10));
        }
        return name;
    }
}

/// Ids and names of all containers: the answer to "which container does
/// this reference mean", and the guard of name uniqueness.
#[derive(Debug, Default)]
pub struct NameIndex {
    /// Stored name (`/x`) -> id.
    names: HashMap<String, String>,
    /// All ids, sorted, for prefix search.
    ids: BTreeMap<String, ()>,
}

impl NameIndex {
    /// Adds a container; `name` in stored form. Fails with docker's
    /// conflict message when the name is taken.
    pub fn insert(&mut self, id: &str, name: &str) -> Result<(), Error> {
        if let Some(owner) = self.names.get(name) {
            if owner != id {
                return Err(Error::NameConflict {
                    name: name.to_string(),
                    id: owner.clone(),
                });
            }
        }
        self.names.insert(name.to_string(), id.to_string());
        self.ids.insert(id.to_string(), ());
        Ok(())
    }

    pub fn remove(&mut self, id: &str, name: &str) {
        if self.names.get(name).is_some_and(|owner| owner == id) {
            self.names.remove(name);
        }
        self.ids.remove(id);
    }

    /// Moves `id` from `old` to `new` (both stored form); conflict when
    /// `new` belongs to another container.
    pub fn rename(&mut self, id: &str, old: &str, new: &str) -> Result<(), Error> {
        if let Some(owner) = self.names.get(new) {
            if owner != id {
                return Err(Error::NameConflict {
                    name: new.to_string(),
                    id: owner.clone(),
                });
            }
        }
        if self.names.get(old).is_some_and(|owner| owner == id) {
            self.names.remove(old);
        }
        self.names.insert(new.to_string(), id.to_string());
        Ok(())
    }

    pub fn name_taken(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// Resolves a reference: full id, then name (with or without `/`),
    /// then unique id prefix.
    pub fn resolve(&self, reference: &str) -> Result<String, Error> {
        if reference.is_empty() {
            return Err(Error::EmptyReference);
        }
        if self.ids.contains_key(reference) {
            return Ok(reference.to_string());
        }
        let stored = if reference.starts_with('/') {
            reference.to_string()
        } else {
            format!("/{reference}")
        };
        if let Some(id) = self.names.get(&stored) {
            return Ok(id.clone());
        }
        let mut matches = self
            .ids
            .range(reference.to_string()..)
            .map(|(id, ())| id)
            .take_while(|id| id.starts_with(reference));
        match (matches.next(), matches.next()) {
            (Some(id), None) => Ok(id.clone()),
            (Some(_), Some(_)) => Err(Error::AmbiguousPrefix {
                prefix: reference.to_string(),
            }),
            (None, _) => Err(Error::NoSuchContainer {
                reference: reference.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_pattern() {
        assert_eq!(validate_name("web").unwrap(), "/web");
        assert_eq!(validate_name("/web-1.a_b").unwrap(), "/web-1.a_b");
        for bad in ["a", "/a", "", "-x", "_x", "x y", "x/y", "é1"] {
            let err = validate_name(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "Invalid container name ({bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )
            );
        }
    }

    #[test]
    fn ids_are_hex_and_short_ids_not_numeric() {
        for _ in 0..50 {
            let id = new_id();
            assert_eq!(id.len(), 64);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(!id[..12].bytes().all(|b| b.is_ascii_digit()));
        }
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn random_names_are_valid() {
        for retry in 0..3 {
            for _ in 0..100 {
                let n = random_name(retry);
                assert_ne!(n, "boring_wozniak");
                validate_name(&n).unwrap();
                assert_eq!(n.ends_with(|c: char| c.is_ascii_digit()), retry > 0);
            }
        }
    }

    #[test]
    fn resolve_tries_id_then_name_then_prefix() {
        let mut idx = NameIndex::default();
        let a = format!("abc{}", "0".repeat(61));
        let b = format!("abd{}", "1".repeat(61));
        idx.insert(&a, "/first").unwrap();
        idx.insert(&b, "/abc").unwrap();
        assert_eq!(idx.resolve(&a).unwrap(), a);
        // A name wins over an id prefix.
        assert_eq!(idx.resolve("abc").unwrap(), b);
        assert_eq!(idx.resolve("/first").unwrap(), a);
        assert_eq!(idx.resolve("first").unwrap(), a);
        assert_eq!(idx.resolve("abd1").unwrap(), b);
        assert_eq!(
            idx.resolve("ab").unwrap_err().to_string(),
            "Multiple IDs found with provided prefix: ab"
        );
        assert_eq!(
            idx.resolve("zz").unwrap_err().to_string(),
            "No such container: zz"
        );
        let err = idx.insert(&b, "/first").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Conflict. The container name \"/first\" is already in use by container \"{a}\". \
                 You have to remove (or rename) that container to be able to reuse that name."
            )
        );
        idx.rename(&a, "/first", "/second").unwrap();
        assert!(!idx.name_taken("/first"));
        assert_eq!(idx.resolve("second").unwrap(), a);
        idx.remove(&a, "/second");
        assert!(idx.resolve(&a).is_err());
        assert!(idx.resolve("second").is_err());
    }
}
