//! Where a repository lives: the host a reference's domain maps to, the
//! [`Site`] a session talks to (the registry, or a mirror of Docker Hub),
//! and whether a host may be spoken to without verified TLS.
//!
//! dockerd's rules: `docker.io` is served by `registry-1.docker.io`;
//! registries whose address is in 127.0.0.0/8 (`localhost` included) and
//! those listed in `insecure-registries` (exactly as `host[:port]`, or by
//! a CIDR holding their address; a name is resolved to decide) are
//! *insecure*: HTTPS is tried first without certificate verification, then
//! plain HTTP. Every other registry, Docker Hub always, is HTTPS only.

use std::net::IpAddr;

use berth_image::Reference;

/// The domain of Docker Hub in references.
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";

/// A repository on a registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    /// The domain as references name it (`docker.io`, `127.0.0.1:5000`).
    pub domain: String,
    /// The repository path (`library/busybox`, `t/busybox`).
    pub path: String,
}

impl Repository {
    pub fn new(domain: impl Into<String>, path: impl Into<String>) -> Repository {
        Repository {
            domain: domain.into(),
            path: path.into(),
        }
    }

    pub fn from_reference(r: &Reference) -> Repository {
        Repository::new(r.domain.clone(), r.path.clone())
    }

    /// The host (and port) the registry API is reached at.
    pub fn host(&self) -> &str {
        registry_host(&self.domain)
    }

    /// `domain/path`, as dockerd prints it ("The push refers to repository
    /// [...]").
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }
}

/// Where a session's requests go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Site {
    /// A registry's `host[:port]`: HTTPS, or for an insecure registry
    /// HTTP when HTTPS gets no answer (found by pinging).
    Registry(String),
    /// A mirror's URL (`http://127.0.0.1:5000/`): its scheme is used as
    /// configured; TLS to an insecure mirror host is not verified.
    Mirror(String),
}

impl Site {
    pub fn is_mirror(&self) -> bool {
        matches!(self, Site::Mirror(_))
    }

    /// The key of the site's endpoint (mirror URLs hold `://`, hosts
    /// never do, so the two kinds cannot collide).
    pub(crate) fn key(&self) -> &str {
        match self {
            Site::Registry(h) | Site::Mirror(h) => h,
        }
    }
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// The host serving the registry of `domain`.
pub fn registry_host(domain: &str) -> &str {
    if domain == DOCKER_HUB_DOMAIN || domain == "index.docker.io" {
        DOCKER_HUB_HOST
    } else {
        domain
    }
}

/// The host part of `host[:port]` (IPv6 literals keep no brackets).
pub(crate) fn hostname(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host_port,
    }
}

/// Whether `ip` is in the CIDR `net` (`10.0.0.0/8`, `fd00::/8`).
fn in_cidr(ip: IpAddr, net: &str) -> bool {
    let Some((addr, bits)) = net.split_once('/') else {
        return false;
    };
    let (Ok(base), Ok(bits)) = (addr.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The range dockerd always treats as insecure (its registry service
/// appends it to `insecure-registries`).
pub const DEFAULT_INSECURE_CIDR: &str = "127.0.0.0/8";

/// An `insecure-registries` entry without the scheme dockerd strips.
fn entry(c: &str) -> &str {
    c.trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
}

/// Whether `host` (`host[:port]`) is an insecure registry, without name
/// resolution: see [`is_insecure_resolved`].
pub fn is_insecure(host: &str, configured: &[String]) -> bool {
    is_insecure_resolved(host, configured, &[])
}

/// Whether `host` (`host[:port]`) is an insecure registry by dockerd's
/// rules: an entry of `configured` naming it exactly (`host[:port]`, as
/// dockerd's per-index configuration), or its address — the literal one,
/// else the `resolved` ones — in 127.0.0.0/8 or a configured CIDR. Docker
/// Hub's registry is always secure; `localhost` is loopback even when
/// nothing was resolved.
pub fn is_insecure_resolved(host: &str, configured: &[String], resolved: &[IpAddr]) -> bool {
    if host == DOCKER_HUB_HOST {
        return false;
    }
    if configured.iter().any(|c| entry(c) == host) {
        return true;
    }
    let name = hostname(host);
    let ips: Vec<IpAddr> = match name.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) if name == "localhost" && resolved.is_empty() => {
            vec![IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)]
        }
        Err(_) => resolved.to_vec(),
    };
    let cidrs = configured
        .iter()
        .map(|c| entry(c))
        .filter(|c| c.contains('/'))
        .chain(std::iter::once(DEFAULT_INSECURE_CIDR));
    let cidrs: Vec<&str> = cidrs.collect();
    ips.iter()
        .any(|ip| cidrs.iter().any(|net| in_cidr(to_canonical(*ip), net)))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it stands for (Go's
/// `Unmap`).
fn to_canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Whether a push to the registry `domain` (`host[:port]` as references
/// name it) sends the bytes of foreign layers, by dockerd's rules for
/// `allow-nondistributable-artifacts`: an entry naming it exactly, or its
/// address (the literal one, else the `resolved` ones) in a listed CIDR.
/// Docker Hub never does; no range is allowed by default.
pub fn allows_nondistributable_resolved(
    domain: &str,
    configured: &[String],
    resolved: &[IpAddr],
) -> bool {
    if registry_host(domain) == DOCKER_HUB_HOST {
        return false;
    }
    if configured.iter().any(|c| c == domain) {
        return true;
    }
    let name = hostname(domain);
    let ips: Vec<IpAddr> = match name.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => resolved.to_vec(),
    };
    ips.iter().any(|ip| {
        configured
            .iter()
            .filter(|c| c.contains('/'))
            .any(|net| in_cidr(to_canonical(*ip), net))
    })
}

/// The addresses `host[:port]`'s name resolves to; none when resolution
/// fails or takes longer than `timeout` (Go's resolver errors count as no
/// match in dockerd's checks too).
pub(crate) async fn resolve(host: &str, timeout: std::time::Duration) -> Vec<IpAddr> {
    let lookup = tokio::net::lookup_host((hostname(host), 0));
    match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        _ => Vec::new(),
    }
}

impl crate::Client {
    /// Whether a push to the registry `domain` sends the bytes of foreign
    /// layers (see [`allows_nondistributable_resolved`]), resolving its
    /// name when a CIDR is configured and the name is not an address.
    pub async fn allows_nondistributable(&self, domain: &str) -> bool {
        let configured = &self.config().allow_nondistributable;
        let has_cidr = configured.iter().any(|c| c.contains('/'));
        let resolved = if has_cidr
            && hostname(domain).parse::<IpAddr>().is_err()
            && !configured.iter().any(|c| c == domain)
        {
            resolve(domain, self.config().connect_timeout).await
        } else {
            Vec::new()
        };
        allows_nondistributable_resolved(domain, configured, &resolved)
    }
}

/// Whether `host`'s name must be resolved to decide [`is_insecure_resolved`]:
/// it is a name (not an address, not `localhost`, not Docker Hub) that no
/// entry names exactly.
pub fn needs_resolution(host: &str, configured: &[String]) -> bool {
    let name = hostname(host);
    host != DOCKER_HUB_HOST
        && name != "localhost"
        && name.parse::<IpAddr>().is_err()
        && !configured.iter().any(|c| entry(c) == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_maps_to_its_api_host() {
        let r = Reference::parse_normalized("busybox").unwrap();
        let repo = Repository::from_reference(&r);
        assert_eq!(repo.host(), "registry-1.docker.io");
        assert_eq!(repo.path, "library/busybox");
        assert_eq!(repo.name(), "docker.io/library/busybox");
        let r = Reference::parse_normalized("127.0.0.1:5000/t/busybox:1").unwrap();
        let repo = Repository::from_reference(&r);
        assert_eq!(repo.host(), "127.0.0.1:5000");
        assert_eq!(repo.name(), "127.0.0.1:5000/t/busybox");
    }

    #[test]
    fn loopback_and_listed_registries_are_insecure() {
        let none: &[String] = &[];
        for h in ["127.0.0.1:5000", "127.1.2.3", "localhost", "localhost:5000"] {
            assert!(is_insecure(h, none), "{h}");
        }
        // dockerd 20.10's default is 127.0.0.0/8 only: IPv6 loopback is
        // secure unless configured.
        for h in [
            "registry-1.docker.io",
            "10.0.0.1:5000",
            "example.com:5000",
            "[::1]:5000",
        ] {
            assert!(!is_insecure(h, none), "{h}");
        }
        let cfg = vec![
            "example.com:5000".to_owned(),
            "10.0.0.0/8".to_owned(),
            "http://other:80/".to_owned(),
            "::1/128".to_owned(),
        ];
        assert!(is_insecure("example.com:5000", &cfg));
        assert!(!is_insecure("example.com", &cfg), "the port is part of it");
        assert!(is_insecure("10.1.2.3:5000", &cfg));
        assert!(!is_insecure("11.1.2.3:5000", &cfg));
        assert!(is_insecure("other:80", &cfg));
        assert!(is_insecure("[::1]:5000", &cfg));
        assert!(in_cidr("::1".parse().unwrap(), "::/0"));
        assert!(!in_cidr("1.2.3.4".parse().unwrap(), "1.2.3.0/33"));
    }

    #[test]
    fn nondistributable_artifacts_follow_the_list_only() {
        let cfg = vec!["10.0.0.0/8".to_owned(), "reg.lan:5000".to_owned()];
        let ten: IpAddr = "10.9.8.7".parse().unwrap();
        assert!(allows_nondistributable_resolved("reg.lan:5000", &cfg, &[]));
        assert!(!allows_nondistributable_resolved("reg.lan", &cfg, &[]));
        assert!(allows_nondistributable_resolved("10.1.1.1:5000", &cfg, &[]));
        assert!(allows_nondistributable_resolved("other:5000", &cfg, &[ten]));
        // No loopback default, unlike insecure registries.
        assert!(!allows_nondistributable_resolved(
            "127.0.0.1:5000",
            &cfg,
            &[]
        ));
        let all = vec!["0.0.0.0/0".to_owned()];
        assert!(!allows_nondistributable_resolved("docker.io", &all, &[ten]));
        assert!(allows_nondistributable_resolved(
            "127.0.0.1:5000",
            &all,
            &[]
        ));
    }

    #[test]
    fn names_are_decided_by_their_addresses() {
        let cfg = vec!["10.0.0.0/8".to_owned(), "named:5000".to_owned()];
        let ten: IpAddr = "10.9.8.7".parse().unwrap();
        let pub_ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(is_insecure_resolved("reg.lan:5000", &cfg, &[ten]));
        assert!(!is_insecure_resolved("reg.lan:5000", &cfg, &[pub_ip]));
        assert!(!is_insecure_resolved("reg.lan:5000", &cfg, &[]));
        // A name resolving to loopback (the host's own name in /etc/hosts).
        let lo: IpAddr = "127.0.1.1".parse().unwrap();
        assert!(is_insecure_resolved("myhost:5000", &[], &[lo]));
        let mapped: IpAddr = "::ffff:10.1.1.1".parse().unwrap();
        assert!(is_insecure_resolved("reg.lan", &cfg, &[mapped]));
        // Docker Hub is never insecure, whatever it resolves to.
        assert!(!is_insecure_resolved(DOCKER_HUB_HOST, &cfg, &[ten]));
        assert!(needs_resolution("reg.lan:5000", &cfg));
        assert!(!needs_resolution("named:5000", &cfg));
        assert!(!needs_resolution("10.0.0.1:5000", &cfg));
        assert!(!needs_resolution("localhost:5000", &cfg));
        assert!(!needs_resolution(DOCKER_HUB_HOST, &cfg));
    }
}
