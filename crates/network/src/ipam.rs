//! IP address management: choosing a network's subnet and a container's
//! address in it, as values (no side effects).
//!
//! Vocabulary: a network's [`Pool`] is its subnet, its gateway (the bridge's
//! address) and the range containers' addresses come from (`--ip-range`,
//! the whole subnet by default). The set of addresses in use belongs to the
//! caller (the engine keeps it with the network's endpoints); the pool only
//! decides.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// Errors of address management, worded as dockerd words them where the
/// Engine API shows them to users.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("invalid subnet {0}: it must be a network address with a prefix length")]
    InvalidSubnet(String),
    #[error("invalid CIDR address: {0}")]
    InvalidCidr(String),
    #[error("no matching subnet for gateway {gateway}")]
    GatewayOutside { gateway: Ipv4Addr },
    #[error("no matching subnet for range {range}")]
    RangeOutside { range: Ipv4Net },
    #[error("subnet {subnet} is too small: it has no address for containers")]
    TooSmall { subnet: Ipv4Net },
    #[error("no available IPv4 address in subnet {subnet}")]
    Exhausted { subnet: Ipv4Net },
    #[error("no configured subnet or ip-range contain the IP address {ip}")]
    AddressOutside { ip: Ipv4Addr },
    #[error("Address already in use")]
    AddressInUse { ip: Ipv4Addr },
    #[error(
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
    )]
    NoPool,
}

/// Parses a CIDR such as `172.18.0.0/16`; host bits must be zero, as
/// dockerd requires for `--subnet`.
pub fn parse_subnet(s: &str) -> Result<Ipv4Net, Error> {
    let net: Ipv4Net = s.parse().map_err(|_| Error::InvalidCidr(s.to_string()))?;
    if net.network() != net.addr() {
        return Err(Error::InvalidSubnet(s.to_string()));
    }
    Ok(net)
}

/// Docker's default local address pools, in the order dockerd tries them:
/// 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/20 … 192.168.240.0/20.
pub fn default_pools() -> impl Iterator<Item = Ipv4Net> {
    let class_b = (17u8..=31).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16));
    let class_c = (0u8..16).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20));
    class_b
        .chain(class_c)
        .map(|n| n.expect("prefix lengths are valid"))
}

/// Whether two subnets share an address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first default pool that overlaps none of `taken` (the host's routes
/// and the other networks' subnets): a bridge on a subnet the host already
/// routes elsewhere would cut the host off from it.
pub fn choose_subnet(taken: &[Ipv4Net]) -> Result<Ipv4Net, Error> {
    default_pools()
        .find(|p| !taken.iter().any(|t| overlaps(p, t)))
        .ok_or(Error::NoPool)
}

/// A network's IPv4 configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// Where containers' addresses come from; `None` is the whole subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Ipv4Net>,
}

impl Pool {
    /// Validates a configuration; the gateway defaults to the first host
    /// address of the subnet, as in dockerd.
    pub fn new(
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
        ip_range: Option<Ipv4Net>,
    ) -> Result<Pool, Error> {
        if subnet.prefix_len() > 30 {
            return Err(Error::TooSmall { subnet });
        }
        let gateway = match gateway {
            Some(g) if !subnet.contains(&g) => return Err(Error::GatewayOutside { gateway: g }),
            Some(g) => g,
            None => first_host(&subnet),
        };
        if let Some(r) = ip_range {
            if r.network() != r.addr() {
                return Err(Error::InvalidSubnet(r.to_string()));
            }
            if !subnet.contains(&r) {
                return Err(Error::RangeOutside { range: r });
            }
        }
        Ok(Pool {
            subnet,
            gateway,
            ip_range,
        })
    }

    /// Whether `ip` can be a container's address here (in the subnet, not
    /// its network or broadcast address, not the gateway).
    fn assignable(&self, ip: Ipv4Addr) -> bool {
        self.subnet.contains(&ip)
            && ip != self.subnet.network()
            && ip != self.subnet.broadcast()
            && ip != self.gateway
    }

    /// The lowest free address of the range.
    pub fn allocate(&self, used: &BTreeSet<Ipv4Addr>) -> Result<Ipv4Addr, Error> {
        let range = self.ip_range.unwrap_or(self.subnet);
        let (lo, hi) = (u32::from(range.network()), u32::from(range.broadcast()));
        (lo..=hi)
            .map(Ipv4Addr::from)
            .find(|ip| self.assignable(*ip) && !used.contains(ip))
            .ok_or(Error::Exhausted {
                subnet: self.subnet,
            })
    }

    /// Checks a static address (`--ip`): it may be anywhere in the subnet,
    /// inside or outside the range, as in dockerd.
    pub fn reserve(&self, ip: Ipv4Addr, used: &BTreeSet<Ipv4Addr>) -> Result<Ipv4Addr, Error> {
        if !self.assignable(ip) {
            return Err(Error::AddressOutside { ip });
        }
        if used.contains(&ip) {
            return Err(Error::AddressInUse { ip });
        }
        Ok(ip)
    }
}

/// The first host address of a subnet (`.1` of a /16).
pub fn first_host(subnet: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

/// The MAC address dockerd derives from an IPv4 address: `02:42` and the
/// four address bytes. Locally administered, unicast, and stable for a
/// given address, so ARP caches stay right when an address is reused.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// Formats a MAC address as `02:42:ac:11:00:02`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `02:42:ac:11:00:02`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The IPv4 destinations the host routes, from `/proc/net/route`: the
/// subnets a new network must not overlap. The default route is left
/// out (it overlaps everything).
pub fn host_routes() -> std::io::Result<Vec<Ipv4Net>> {
    let text = std::fs::read_to_string("/proc/net/route")?;
    Ok(parse_proc_route(&text)
        .into_iter()
        .map(|(_, n)| n)
        .collect())
}

/// The subnet the host routes through interface `iface`, if any: the
/// subnet of an existing bridge, which a daemon that lost its record (or
/// a second daemon on the same bridge) adopts instead of adding another
/// address to it.
pub fn subnet_of(iface: &str) -> Option<Ipv4Net> {
    let text = std::fs::read_to_string("/proc/net/route").ok()?;
    parse_proc_route(&text)
        .into_iter()
        .find(|(i, _)| i == iface)
        .map(|(_, n)| n)
}

fn parse_proc_route(text: &str) -> Vec<(String, Ipv4Net)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
            // with addresses as host-endian hex words.
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            let dest = Ipv4Addr::from(u32::from_be(dest));
            let prefix = u32::from_be(mask).leading_ones() as u8;
            let net = (prefix > 0).then(|| Ipv4Net::new(dest, prefix).ok())??;
            Some((f.first()?.to_string(), net))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn default_pools_follow_dockerd_order() {
        let p: Vec<_> = default_pools().collect();
        assert_eq!(p[0], net("172.17.0.0/16"));
        assert_eq!(p[14], net("172.31.0.0/16"));
        assert_eq!(p[15], net("192.168.0.0/20"));
        assert_eq!(p.last().unwrap(), &net("192.168.240.0/20"));
    }

    #[test]
    fn choose_subnet_skips_taken_and_overlapping() {
        assert_eq!(choose_subnet(&[]).unwrap(), net("172.17.0.0/16"));
        let taken = [net("172.17.0.0/16"), net("172.18.5.0/24")];
        assert_eq!(choose_subnet(&taken).unwrap(), net("172.19.0.0/16"));
        // A host route covering all of 172.16/12 pushes to 192.168.
        assert_eq!(
            choose_subnet(&[net("172.16.0.0/12")]).unwrap(),
            net("192.168.0.0/20")
        );
        let all: Vec<_> = default_pools().collect();
        assert_eq!(choose_subnet(&all), Err(Error::NoPool));
    }

    #[test]
    fn subnets_must_be_network_addresses() {
        assert_eq!(parse_subnet("10.1.0.0/16").unwrap(), net("10.1.0.0/16"));
        assert!(matches!(
            parse_subnet("10.1.2.3/16"),
            Err(Error::InvalidSubnet(_))
        ));
        assert!(matches!(
            parse_subnet("10.1.0.0"),
            Err(Error::InvalidCidr(_))
        ));
        assert!(matches!(
            parse_subnet("300.1.0.0/8"),
            Err(Error::InvalidCidr(_))
        ));
    }

    #[test]
    fn pool_validation() {
        let p = Pool::new(net("10.5.0.0/24"), None, None).unwrap();
        assert_eq!(p.gateway, Ipv4Addr::new(10, 5, 0, 1));
        assert_eq!(
            Pool::new(net("10.5.0.0/24"), Some(Ipv4Addr::new(10, 6, 0, 1)), None),
            Err(Error::GatewayOutside {
                gateway: Ipv4Addr::new(10, 6, 0, 1)
            })
        );
        assert!(matches!(
            Pool::new(net("10.5.0.0/24"), None, Some(net("10.6.0.0/28"))),
            Err(Error::RangeOutside { .. })
        ));
        assert!(matches!(
            Pool::new(net("10.5.0.0/31"), None, None),
            Err(Error::TooSmall { .. })
        ));
    }

    #[test]
    fn allocation_skips_gateway_network_broadcast_and_used() {
        let p = Pool::new(net("10.5.0.0/29"), None, None).unwrap();
        let mut used = BTreeSet::new();
        let mut got = vec![];
        while let Ok(ip) = p.allocate(&used) {
            used.insert(ip);
            got.push(ip.to_string());
        }
        assert_eq!(
            got,
            ["10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5", "10.5.0.6"]
        );
        assert!(matches!(p.allocate(&used), Err(Error::Exhausted { .. })));
        // A released address is reused.
        used.remove(&Ipv4Addr::new(10, 5, 0, 4));
        assert_eq!(p.allocate(&used).unwrap(), Ipv4Addr::new(10, 5, 0, 4));
    }

    #[test]
    fn allocation_stays_in_the_range_but_static_may_not() {
        let p = Pool::new(net("10.5.0.0/24"), None, Some(net("10.5.0.128/25"))).unwrap();
        let used = BTreeSet::new();
        assert_eq!(p.allocate(&used).unwrap(), Ipv4Addr::new(10, 5, 0, 128));
        assert_eq!(
            p.reserve(Ipv4Addr::new(10, 5, 0, 7), &used).unwrap(),
            Ipv4Addr::new(10, 5, 0, 7)
        );
        assert!(matches!(
            p.reserve(Ipv4Addr::new(10, 5, 0, 1), &used),
            Err(Error::AddressOutside { .. })
        ));
        assert!(matches!(
            p.reserve(Ipv4Addr::new(10, 9, 0, 7), &used),
            Err(Error::AddressOutside { .. })
        ));
        let used: BTreeSet<_> = [Ipv4Addr::new(10, 5, 0, 7)].into();
        assert!(matches!(
            p.reserve(Ipv4Addr::new(10, 5, 0, 7), &used),
            Err(Error::AddressInUse { .. })
        ));
    }

    #[test]
    fn macs_derive_from_addresses_like_dockerd() {
        let mac = mac_for(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(format_mac(&mac), "02:42:ac:11:00:02");
        assert_eq!(parse_mac("02:42:ac:11:00:02"), Some(mac));
        assert_eq!(parse_mac("02:42:ac:11:00"), None);
        assert_eq!(parse_mac("02:42:ac:11:00:02:03"), None);
        assert_eq!(parse_mac("zz:42:ac:11:00:02"), None);
    }

    #[test]
    fn proc_net_route_parses() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_proc_route(text),
            vec![("eth0".to_string(), net("192.0.2.0/24"))]
        );
    }
}
