//! The registry settings: `insecure-registries`, `registry-mirrors` and
//! `allow-nondistributable-artifacts` (`--insecure-registry`,
//! `--registry-mirror`, `--allow-nondistributable-artifacts`), validated
//! and normalized as dockerd's registry service does it, and shown as
//! `docker info`'s `RegistryConfig`.
//!
//! Insecure entries are CIDRs (`10.0.0.0/8`, masked to their network) or
//! `host[:port]` names (dockerd's per-index configurations); 127.0.0.0/8
//! is always added. Mirrors are `http[s]://host[:port]` URLs, kept with a
//! trailing `/`; they serve Docker Hub's repositories only. Entries allowed
//! nondistributable artifacts are CIDRs or `host[:port]` names too, without
//! a scheme and without a default.

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_api_types::system::{IndexInfo, RegistryConfig};

/// The index name of Docker Hub (`IndexConfigs` key).
const HUB_INDEX: &str = "docker.io";

/// Always insecure: dockerd's registry service appends it to the list
/// ("a stop-gap for people running a private registry on localhost").
const LOOPBACK_CIDR: &str = "127.0.0.0/8";

/// Errors of the registry settings, in dockerd's words.
#[derive(Debug, thiserror::Error)]
pub enum RegistryOptionError {
    #[error("invalid mirror: {0:?} is not a valid URI")]
    MirrorUri(String),
    #[error("invalid mirror: unsupported scheme {scheme:?} in {uri:?}")]
    MirrorScheme { scheme: String, uri: String },
    #[error("invalid mirror: path, query, or fragment at end of the URI {0:?}")]
    MirrorPath(String),
    #[error("invalid mirror: username/password not allowed in URI {0:?}")]
    MirrorUser(String),
    #[error("invalid index name ({0}). Cannot begin or end with a hyphen")]
    IndexName(String),
    #[error("insecure registry {0} should not contain '://'")]
    InsecureScheme(String),
    #[error("insecure registry {entry} is not valid: {reason}")]
    InsecureEntry {
        entry: String,
        reason: HostPortError,
    },
    #[error("allow-nondistributable-artifacts registry {0} should not contain '://'")]
    NondistributableScheme(String),
    #[error("allow-nondistributable-artifacts registry {entry} is not valid: {reason}")]
    NondistributableEntry {
        entry: String,
        reason: HostPortError,
    },
}

/// Why a `host[:port]` entry is refused (Go's messages).
#[derive(Debug, thiserror::Error)]
pub enum HostPortError {
    #[error("invalid host {0:?}")]
    Host(String),
    #[error("strconv.Atoi: parsing {0:?}: invalid syntax")]
    PortSyntax(String),
    #[error("invalid port {0:?}")]
    Port(String),
}

/// The three lists as configured (by flags or the file), before
/// normalization: what a reload keeps when the file leaves one out, and
/// what dockerd's reload event reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryLists {
    pub insecure: Vec<String>,
    pub mirrors: Vec<String>,
    pub nondistributable: Vec<String>,
}

/// The validated registry settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryOptions {
    /// What they were made from.
    pub lists: RegistryLists,
    /// Mirror URLs, deduplicated, each ending in `/`.
    pub mirrors: Vec<String>,
    /// Insecure networks in the order given, deduplicated, with
    /// 127.0.0.0/8 last unless given earlier.
    pub insecure_cidrs: Vec<String>,
    /// Insecure `host[:port]` entries, scheme removed.
    pub insecure_hosts: Vec<String>,
    /// Networks whose registries get foreign layers' bytes, deduplicated.
    pub nondistributable_cidrs: Vec<String>,
    /// `host[:port]` registries that get foreign layers' bytes.
    pub nondistributable_hosts: Vec<String>,
}

/// dockerd's `ValidateMirror`: an `http` or `https` URL with nothing after
/// the authority but `/`, and no credentials; returns it ending in `/`.
pub fn validate_mirror(val: &str) -> Result<String, RegistryOptionError> {
    let Some(scheme) = go_scheme(val)? else {
        // Go reads a colon in the first segment of a scheme-less URL as an
        // error, and the rest as a path with an empty scheme.
        let first = val.split('/').next().unwrap_or("");
        if first.contains(':') {
            return Err(RegistryOptionError::MirrorUri(val.to_owned()));
        }
        return Err(RegistryOptionError::MirrorScheme {
            scheme: String::new(),
            uri: val.to_owned(),
        });
    };
    let lower = scheme.to_ascii_lowercase();
    // Go lowercases the scheme when it prints the URL back.
    let shown = format!("{lower}{}", &val[scheme.len()..]);
    if lower != "http" && lower != "https" {
        return Err(RegistryOptionError::MirrorScheme {
            scheme: lower,
            uri: shown,
        });
    }
    let url = url::Url::parse(val).map_err(|_| RegistryOptionError::MirrorUri(val.to_owned()))?;
    let query = url.query().is_some_and(|q| !q.is_empty());
    let fragment = url.fragment().is_some_and(|f| !f.is_empty());
    if url.path() != "/" || query || fragment {
        return Err(RegistryOptionError::MirrorPath(shown));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // The password is never echoed back.
        let rest = &shown[lower.len() + 3..];
        let (userinfo, host) = rest.rsplit_once('@').unwrap_or(("", rest));
        let user = userinfo.split(':').next().unwrap_or("");
        return Err(RegistryOptionError::MirrorUser(format!(
            "{lower}://{user}:xxxxx@{host}"
        )));
    }
    Ok(format!("{}/", val.trim_end_matches('/')))
}

/// Go's `url.Parse` scheme split: `Some(scheme)` when `val` starts with
/// one, `None` when it has none, an error when it starts with `:`.
fn go_scheme(val: &str) -> Result<Option<&str>, RegistryOptionError> {
    for (i, c) in val.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(RegistryOptionError::MirrorUri(val.to_owned())),
            ':' => return Ok(Some(&val[..i])),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// dockerd's `ValidateIndexName`: `index.docker.io` is `docker.io`; no
/// name begins or ends with a hyphen.
pub fn validate_index_name(val: &str) -> Result<String, RegistryOptionError> {
    let val = if val == "index.docker.io" {
        HUB_INDEX
    } else {
        val
    };
    if val.starts_with('-') || val.ends_with('-') {
        return Err(RegistryOptionError::IndexName(val.to_owned()));
    }
    Ok(val.to_owned())
}

/// A CIDR as Go's `net.ParseCIDR` reads it, printed as its network
/// (`10.1.2.3/8` is `10.0.0.0/8`).
fn parse_cidr(s: &str) -> Option<String> {
    let (addr, bits) = s.split_once('/')?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u32 = bits.parse().ok()?;
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            let net = std::net::Ipv4Addr::from(u32::from(a) & mask);
            Some(format!("{net}/{bits}"))
        }
        IpAddr::V6(a) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            let net = std::net::Ipv6Addr::from(u128::from(a) & mask);
            Some(format!("{net}/{bits}"))
        }
        _ => None,
    }
}

/// Whether `s` is a domain with an optional port (the reference grammar's
/// domain: dot-separated components of letters, digits and inner hyphens).
fn is_domain(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let component = |c: &str| {
        !c.is_empty()
            && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !c.starts_with('-')
            && !c.ends_with('-')
    };
    port_ok && host.split('.').all(component)
}

/// Go's `net.SplitHostPort`, or `None` when `s` is not `host:port`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?));
    }
    let (host, port) = s.rsplit_once(':')?;
    (!host.contains(':')).then_some((host, port))
}

/// dockerd's `validateHostPort` for an insecure `host[:port]` entry.
fn validate_host_port(s: &str) -> Result<(), HostPortError> {
    let (host, port) = split_host_port(s).unwrap_or((s, ""));
    if !is_domain(s) && host.parse::<IpAddr>().is_err() {
        return Err(HostPortError::Host(host.to_owned()));
    }
    if !port.is_empty() {
        let n: i64 = port
            .parse()
            .map_err(|_| HostPortError::PortSyntax(port.to_owned()))?;
        if !(0..=65535).contains(&n) {
            return Err(HostPortError::Port(port.to_owned()));
        }
    }
    Ok(())
}

impl RegistryOptions {
    /// Validates and normalizes the settings (dockerd's
    /// `loadAllowNondistributableArtifacts`, `loadMirrors` and
    /// `loadInsecureRegistries`, in that order).
    pub fn load(lists: RegistryLists) -> Result<RegistryOptions, RegistryOptionError> {
        let mut opts = RegistryOptions::default();
        for r in &lists.nondistributable {
            validate_index_name(r)?;
            if r.contains("://") {
                return Err(RegistryOptionError::NondistributableScheme(r.clone()));
            }
            if let Some(net) = parse_cidr(r) {
                if !opts.nondistributable_cidrs.contains(&net) {
                    opts.nondistributable_cidrs.push(net);
                }
                continue;
            }
            validate_host_port(r).map_err(|reason| RegistryOptionError::NondistributableEntry {
                entry: r.clone(),
                reason,
            })?;
            if !opts.nondistributable_hosts.contains(r) {
                opts.nondistributable_hosts.push(r.clone());
            }
        }
        for m in &lists.mirrors {
            let m = validate_mirror(m)?;
            if !opts.mirrors.contains(&m) {
                opts.mirrors.push(m);
            }
        }
        let all = lists
            .insecure
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(LOOPBACK_CIDR));
        for r in all {
            validate_index_name(r)?;
            let lower = r.to_ascii_lowercase();
            // dockerd removes these schemes (with a warning) and refuses
            // any other.
            let r = if lower.starts_with("http://") {
                &r[7..]
            } else if lower.starts_with("https://") {
                &r[8..]
            } else if r.contains("://") {
                return Err(RegistryOptionError::InsecureScheme(r.to_owned()));
            } else {
                r
            };
            if let Some(net) = parse_cidr(r) {
                if !opts.insecure_cidrs.contains(&net) {
                    opts.insecure_cidrs.push(net);
                }
                continue;
            }
            validate_host_port(r).map_err(|reason| RegistryOptionError::InsecureEntry {
                entry: r.to_owned(),
                reason,
            })?;
            if !opts.insecure_hosts.iter().any(|h| h == r) {
                opts.insecure_hosts.push(r.to_owned());
            }
        }
        opts.lists = lists;
        Ok(opts)
    }

    /// What the registry client takes for nondistributable artifacts:
    /// host entries and networks.
    pub fn nondistributable_entries(&self) -> Vec<String> {
        self.nondistributable_hosts
            .iter()
            .chain(&self.nondistributable_cidrs)
            .cloned()
            .collect()
    }

    /// What the registry client takes: host entries and networks.
    pub fn insecure_entries(&self) -> Vec<String> {
        self.insecure_hosts
            .iter()
            .chain(&self.insecure_cidrs)
            .cloned()
            .collect()
    }

    /// `docker info`'s `RegistryConfig`, as dockerd's registry service
    /// reports it.
    pub fn api(&self) -> RegistryConfig {
        let mut index_configs: BTreeMap<String, IndexInfo> = self
            .insecure_hosts
            .iter()
            .map(|h| {
                (
                    h.clone(),
                    IndexInfo {
                        name: h.clone(),
                        mirrors: Some(Vec::new()),
                        secure: false,
                        official: false,
                    },
                )
            })
            .collect();
        index_configs.insert(
            HUB_INDEX.to_owned(),
            IndexInfo {
                name: HUB_INDEX.to_owned(),
                mirrors: Some(self.mirrors.clone()),
                secure: true,
                official: true,
            },
        );
        RegistryConfig {
            allow_nondistributable_artifacts_cidrs: Some(self.nondistributable_cidrs.clone()),
            allow_nondistributable_artifacts_hostnames: Some(self.nondistributable_hosts.clone()),
            insecure_registry_cidrs: Some(self.insecure_cidrs.clone()),
            index_configs: Some(index_configs),
            mirrors: Some(self.mirrors.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn load(insecure: &[&str], mirrors: &[&str], nondist: &[&str]) -> RegistryOptions {
        try_load(insecure, mirrors, nondist).unwrap()
    }

    fn try_load(
        insecure: &[&str],
        mirrors: &[&str],
        nondist: &[&str],
    ) -> Result<RegistryOptions, RegistryOptionError> {
        RegistryOptions::load(RegistryLists {
            insecure: strings(insecure),
            mirrors: strings(mirrors),
            nondistributable: strings(nondist),
        })
    }

    #[test]
    fn nondistributable_entries_are_validated_like_dockerd() {
        let o = load(
            &[],
            &[],
            &["10.1.2.3/8", "reg:5000", "10.0.0.0/8", "reg:5000"],
        );
        assert_eq!(o.nondistributable_cidrs, strings(&["10.0.0.0/8"]));
        assert_eq!(o.nondistributable_hosts, strings(&["reg:5000"]));
        assert_eq!(
            o.nondistributable_entries(),
            strings(&["reg:5000", "10.0.0.0/8"])
        );
        let api = serde_json::to_value(o.api()).unwrap();
        assert_eq!(
            api["AllowNondistributableArtifactsCIDRs"],
            serde_json::json!(["10.0.0.0/8"])
        );
        assert_eq!(
            api["AllowNondistributableArtifactsHostnames"],
            serde_json::json!(["reg:5000"])
        );
        // The lists as given stay for the reload event.
        assert_eq!(o.lists.nondistributable.len(), 4);
        let err = |v: &str| try_load(&[], &[], &[v]).unwrap_err().to_string();
        assert_eq!(
            err("http://reg:5000"),
            "allow-nondistributable-artifacts registry http://reg:5000 should not contain '://'"
        );
        assert_eq!(
            err("bad host"),
            r#"allow-nondistributable-artifacts registry bad host is not valid: invalid host "bad host""#
        );
        assert_eq!(
            err("-x"),
            "invalid index name (-x). Cannot begin or end with a hyphen"
        );
    }

    #[test]
    fn mirrors_are_validated_like_dockerd() {
        let ok = |v: &str| validate_mirror(v).unwrap();
        assert_eq!(ok("http://127.0.0.1:5000"), "http://127.0.0.1:5000/");
        assert_eq!(
            ok("https://mirror.example.com/"),
            "https://mirror.example.com/"
        );
        let err = |v: &str| validate_mirror(v).unwrap_err().to_string();
        assert_eq!(
            err("127.0.0.1:5000"),
            r#"invalid mirror: "127.0.0.1:5000" is not a valid URI"#
        );
        assert_eq!(
            err("ftp://x"),
            r#"invalid mirror: unsupported scheme "ftp" in "ftp://x""#
        );
        assert_eq!(
            err("myhost:5000"),
            r#"invalid mirror: unsupported scheme "myhost" in "myhost:5000""#
        );
        assert_eq!(
            err("mirror.example.com"),
            r#"invalid mirror: unsupported scheme "" in "mirror.example.com""#
        );
        assert_eq!(
            err("http://x/path"),
            r#"invalid mirror: path, query, or fragment at end of the URI "http://x/path""#
        );
        assert_eq!(
            err("http://x/?q=1"),
            r#"invalid mirror: path, query, or fragment at end of the URI "http://x/?q=1""#
        );
        assert_eq!(
            err("http://u:p@x"),
            r#"invalid mirror: username/password not allowed in URI "http://u:xxxxx@x""#
        );
        assert_eq!(err(":x"), r#"invalid mirror: ":x" is not a valid URI"#);
    }

    #[test]
    fn insecure_entries_are_split_and_normalized_like_dockerd() {
        let o = load(
            &[
                "10.1.2.3/8",
                "myreg:5000",
                "http://other:80",
                "10.0.0.0/8",
                "127.0.0.1:5000",
                "myreg:5000",
                "fd00::1/8",
            ],
            &[
                "http://127.0.0.1:5999",
                "https://m.example.com/",
                "http://127.0.0.1:5999/",
            ],
            &[],
        );
        assert_eq!(
            o.insecure_cidrs,
            strings(&["10.0.0.0/8", "fd00::/8", "127.0.0.0/8"])
        );
        assert_eq!(
            o.insecure_hosts,
            strings(&["myreg:5000", "other:80", "127.0.0.1:5000"])
        );
        assert_eq!(
            o.mirrors,
            strings(&["http://127.0.0.1:5999/", "https://m.example.com/"])
        );
        let api = serde_json::to_value(o.api()).unwrap();
        assert_eq!(api["InsecureRegistryCIDRs"][2], "127.0.0.0/8");
        assert_eq!(
            api["IndexConfigs"]["docker.io"]["Mirrors"][0],
            "http://127.0.0.1:5999/"
        );
        assert_eq!(api["IndexConfigs"]["docker.io"]["Official"], true);
        assert_eq!(api["IndexConfigs"]["other:80"]["Secure"], false);
        assert_eq!(api["Mirrors"][1], "https://m.example.com/");

        let d = load(&[], &[], &[]);
        assert_eq!(d.insecure_cidrs, strings(&["127.0.0.0/8"]));
        assert!(d.insecure_hosts.is_empty());
    }

    #[test]
    fn bad_insecure_entries_read_like_dockerd() {
        let err = |v: &str| try_load(&[v], &[], &[]).unwrap_err().to_string();
        assert_eq!(
            err("ftp://x"),
            "insecure registry ftp://x should not contain '://'"
        );
        assert_eq!(
            err("-bad"),
            "invalid index name (-bad). Cannot begin or end with a hyphen"
        );
        assert_eq!(
            err("bad host"),
            r#"insecure registry bad host is not valid: invalid host "bad host""#
        );
        assert_eq!(
            err("h:99999"),
            r#"insecure registry h:99999 is not valid: invalid port "99999""#
        );
        assert_eq!(
            err("h:abc"),
            r#"insecure registry h:abc is not valid: invalid host "h""#
        );
        assert_eq!(
            err("[::1]:abc"),
            r#"insecure registry [::1]:abc is not valid: strconv.Atoi: parsing "abc": invalid syntax"#
        );
        // IPv6 addresses, with or without a port, are hosts.
        load(&["[::1]:5000", "::1", "1.2.3.4"], &[], &[]);
    }
}
