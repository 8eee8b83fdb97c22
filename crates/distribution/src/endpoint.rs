//! Where a repository lives: the host a reference's domain maps to, and
//! whether that host may be spoken to without verified TLS.
//!
//! dockerd's rules: `docker.io` is served by `registry-1.docker.io`;
//! registries in 127.0.0.0/8 (and `localhost`, `::1`) and those listed in
//! `insecure-registries` (host[:port] or a CIDR) are *insecure*: HTTPS is
//! tried first without certificate verification, then plain HTTP. Every
//! other registry is HTTPS only.

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

/// The host serving the registry of `domain`.
pub fn registry_host(domain: &str) -> &str {
    if domain == DOCKER_HUB_DOMAIN || domain == "index.docker.io" {
        DOCKER_HUB_HOST
    } else {
        domain
    }
}

/// The host part of `host[:port]` (IPv6 literals keep no brackets).
fn hostname(host_port: &str) -> &str {
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

/// Whether `host` (`host[:port]`) is an insecure registry: loopback, or
/// listed in `configured` (exact `host[:port]`, or a CIDR holding its IP).
pub fn is_insecure(host: &str, configured: &[String]) -> bool {
    let name = hostname(host);
    let ip = name.parse::<IpAddr>().ok();
    if name == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    configured.iter().any(|c| {
        let c = c
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
        c == host || ip.is_some_and(|ip| in_cidr(ip, c))
    })
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
        for h in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
        ] {
            assert!(is_insecure(h, none), "{h}");
        }
        for h in ["registry-1.docker.io", "10.0.0.1:5000", "example.com:5000"] {
            assert!(!is_insecure(h, none), "{h}");
        }
        let cfg = vec![
            "example.com:5000".to_owned(),
            "10.0.0.0/8".to_owned(),
            "http://other:80/".to_owned(),
        ];
        assert!(is_insecure("example.com:5000", &cfg));
        assert!(!is_insecure("example.com", &cfg), "the port is part of it");
        assert!(is_insecure("10.1.2.3:5000", &cfg));
        assert!(!is_insecure("11.1.2.3:5000", &cfg));
        assert!(is_insecure("other:80", &cfg));
        assert!(in_cidr("::1".parse().unwrap(), "::/0"));
        assert!(!in_cidr("1.2.3.4".parse().unwrap(), "1.2.3.0/33"));
    }
}
