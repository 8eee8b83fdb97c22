//! The daemon's firewall rules, built as a value and applied in one batch.
//!
//! berth keeps all its rules in one nftables table of its own (`ip berth`
//! by default), so they never interleave with the host's or Docker's
//! iptables rules and can be replaced atomically: [`Ruleset::script`]
//! renders the whole table, and [`apply`] hands it to nft(8) as a single
//! transaction (delete and recreate the table), so a packet sees either
//! the old rules or the new ones, never a half-made set. Published ports
//! are elements of maps that fixed rules look up, so a start that
//! publishes a port changes map elements, not rules.
//!
//! What the table does, per bridge network (Docker's iptables rules,
//! expressed for nftables):
//! - masquerade traffic from the network's subnet leaving through any
//!   other interface (outbound access);
//! - drop forwarding between two different berth bridges (isolation) and,
//!   for `--internal` networks, any forwarding in or out of the bridge;
//! - DNAT a published port, on traffic arriving for a local address from
//!   outside (prerouting) and from the host itself to its non-loopback
//!   addresses (output). Loopback is served by the userland proxy, as
//!   with dockerd's default `userland-proxy: true`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;

/// Errors of applying rules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("run nft: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("apply firewall rules (nft): {stderr}")]
    Nft { stderr: String },
    #[error("invalid firewall table name {0:?}")]
    TableName(String),
}

/// Transport protocols a port can be published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One published port: traffic for `host_ip:host_port` (any local address
/// when `host_ip` is `None`) goes to `container_ip:container_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortMap {
    pub proto: Proto,
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

/// The rules of one bridge network.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// `--internal`: no traffic in or out of the bridge but between its
    /// own ports.
    pub internal: bool,
    /// `com.docker.network.bridge.enable_ip_masquerade` (true by default).
    pub masquerade: bool,
}

/// Everything berth's table holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub bridges: Vec<BridgeRules>,
    pub ports: BTreeSet<PortMap>,
}

/// Interface names go into nft strings: refuse anything that is not a
/// plain Linux interface name (IFNAMSIZ, no quotes or spaces).
fn valid_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() < 16
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Table names: nft identifiers.
pub fn valid_table(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Ruleset {
    /// The nft script that replaces table `ip <table>` with this ruleset.
    pub fn script(&self, table: &str) -> Result<String, Error> {
        if !valid_table(table) {
            return Err(Error::TableName(table.to_string()));
        }
        let bridges: Vec<&BridgeRules> = self
            .bridges
            .iter()
            .filter(|b| valid_ifname(&b.bridge))
            .collect();
        let mut s = String::new();
        // Creating the table first makes the delete valid when it does
        // not exist yet; both run in the same transaction as the rebuild.
        let _ = writeln!(s, "table ip {table} {{}}\ndelete table ip {table}");
        let _ = writeln!(s, "table ip {table} {{");
        for proto in [Proto::Tcp, Proto::Udp] {
            let p = proto.as_str();
            let any: Vec<String> = self
                .ports
                .iter()
                .filter(|m| m.proto == proto && m.host_ip.is_none())
                .map(|m| {
                    format!(
                        "{} : {} . {}",
                        m.host_port, m.container_ip, m.container_port
                    )
                })
                .collect();
            let addr: Vec<String> = self
                .ports
                .iter()
                .filter(|m| m.proto == proto)
                .filter_map(|m| {
                    Some(format!(
                        "{} . {} : {} . {}",
                        m.host_ip?, m.host_port, m.container_ip, m.container_port
                    ))
                })
                .collect();
            let _ = writeln!(
                s,
                "  map ports_{p} {{ type inet_service : ipv4_addr . inet_service;{} }}",
                elements(&any)
            );
            let _ = writeln!(
                s,
                "  map addr_ports_{p} {{ type ipv4_addr . inet_service : ipv4_addr . inet_service;{} }}",
                elements(&addr)
            );
        }
        let names: Vec<String> = bridges
            .iter()
            .map(|b| format!("\"{}\"", b.bridge))
            .collect();
        let _ = writeln!(s, "  set bridges {{ type ifname;{} }}", elements(&names));
        s.push_str(
            "  chain publish {\n\
             \x20   dnat ip to ip daddr . tcp dport map @addr_ports_tcp\n\
             \x20   dnat ip to ip daddr . udp dport map @addr_ports_udp\n\
             \x20   dnat ip to tcp dport map @ports_tcp\n\
             \x20   dnat ip to udp dport map @ports_udp\n\
             \x20 }\n\
             \x20 chain prerouting {\n\
             \x20   type nat hook prerouting priority dstnat; policy accept;\n\
             \x20   fib daddr type local jump publish\n\
             \x20 }\n\
             \x20 chain output {\n\
             \x20   type nat hook output priority -100; policy accept;\n\
             \x20   ip daddr != 127.0.0.0/8 fib daddr type local jump publish\n\
             \x20 }\n",
        );
        s.push_str(
            "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n",
        );
        for b in &bridges {
            if b.masquerade && !b.internal {
                let _ = writeln!(
                    s,
                    "    ip saddr {} oifname != \"{}\" masquerade",
                    b.subnet, b.bridge
                );
            }
        }
        s.push_str("  }\n");
        s.push_str(
            "  chain forward {\n    type filter hook forward priority filter; policy accept;\n",
        );
        for b in &bridges {
            if b.internal {
                let _ = writeln!(
                    s,
                    "    iifname \"{0}\" oifname != \"{0}\" drop\n    oifname \"{0}\" iifname != \"{0}\" drop",
                    b.bridge
                );
            } else {
                let _ = writeln!(
                    s,
                    "    iifname \"{0}\" oifname @bridges oifname != \"{0}\" drop",
                    b.bridge
                );
            }
        }
        s.push_str("  }\n}\n");
        Ok(s)
    }
}

fn elements(items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!(" elements = {{ {} }};", items.join(", "))
    }
}

/// Replaces the table with `rules` in one nft transaction.
pub fn apply(table: &str, rules: &Ruleset) -> Result<(), Error> {
    let script = rules.script(table)?;
    run_nft(&script)
}

/// Deletes the table (daemon cleanup, tests); a missing table is fine.
pub fn remove(table: &str) -> Result<(), Error> {
    if !valid_table(table) {
        return Err(Error::TableName(table.to_string()));
    }
    run_nft(&format!("table ip {table} {{}}\ndelete table ip {table}\n"))
}

fn run_nft(script: &str) -> Result<(), Error> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Error::Spawn)?;
    let written = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(script.as_bytes());
    let out = child.wait_with_output().map_err(Error::Spawn)?;
    if !out.status.success() {
        return Err(Error::Nft {
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    written.map_err(Error::Spawn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ruleset {
        Ruleset {
            bridges: vec![
                BridgeRules {
                    bridge: "berth0".into(),
                    subnet: "172.17.0.0/16".parse().unwrap(),
                    internal: false,
                    masquerade: true,
                },
                BridgeRules {
                    bridge: "br-int".into(),
                    subnet: "172.18.0.0/16".parse().unwrap(),
                    internal: true,
                    masquerade: true,
                },
            ],
            ports: [
                PortMap {
                    proto: Proto::Tcp,
                    host_ip: None,
                    host_port: 8080,
                    container_ip: "172.17.0.2".parse().unwrap(),
                    container_port: 80,
                },
                PortMap {
                    proto: Proto::Udp,
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    host_port: 5353,
                    container_ip: "172.17.0.3".parse().unwrap(),
                    container_port: 53,
                },
            ]
            .into(),
        }
    }

    #[test]
    fn script_has_maps_masquerade_and_isolation() {
        let s = sample().script("berth").unwrap();
        assert!(s.starts_with("table ip berth {}\ndelete table ip berth\n"));
        assert!(s.contains(
            "map ports_tcp { type inet_service : ipv4_addr . inet_service; elements = { 8080 : 172.17.0.2 . 80 }; }"
        ));
        assert!(s.contains("elements = { 127.0.0.1 . 5353 : 172.17.0.3 . 53 }"));
        assert!(s.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"));
        // An internal network is not masqueraded and is cut off.
        assert!(!s.contains("172.18.0.0/16 oifname"));
        assert!(s.contains("iifname \"br-int\" oifname != \"br-int\" drop"));
        assert!(s.contains("iifname \"berth0\" oifname @bridges oifname != \"berth0\" drop"));
        assert!(s.contains("set bridges { type ifname; elements = { \"berth0\", \"br-int\" }; }"));
    }

    #[test]
    fn names_that_could_inject_are_refused_or_skipped() {
        assert!(sample().script("berth; flush ruleset").is_err());
        let mut r = sample();
        r.bridges[0].bridge = "x\" drop".into();
        assert!(!r.script("berth").unwrap().contains("x\\\" drop"));
        assert!(!r.script("berth").unwrap().contains("\"x"));
    }

    /// The script is accepted by the kernel: applied in a private network
    /// namespace, listed back, then replaced by an empty ruleset.
    #[test]
    fn script_applies_in_a_private_namespace() {
        if !nix::unistd::geteuid().is_root() || Command::new("nft").arg("-v").output().is_err() {
            eprintln!("skipped: needs root and nft");
            return;
        }
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            apply("berth_t", &sample()).unwrap();
            let out = Command::new("nft")
                .args(["list", "table", "ip", "berth_t"])
                .output()
                .unwrap();
            let listed = String::from_utf8_lossy(&out.stdout);
            assert!(listed.contains("8080 : 172.17.0.2 . 80"), "{listed}");
            apply("berth_t", &Ruleset::default()).unwrap();
            let out = Command::new("nft")
                .args(["list", "table", "ip", "berth_t"])
                .output()
                .unwrap();
            assert!(!String::from_utf8_lossy(&out.stdout).contains("8080"));
            remove("berth_t").unwrap();
            remove("berth_t").unwrap();
        })
        .join()
        .unwrap();
    }
}
