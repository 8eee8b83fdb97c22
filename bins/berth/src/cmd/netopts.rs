//! The network attachments of `run` and `create`, as docker builds them: each
//! `--network` value is a network name or the long form
//! `name=N,alias=A,ip=…,ip6=…,mac-address=…,link-local-ip=…,driver-opt=k=v,gw-priority=N`;
//! the first network also takes the flags `--network-alias`, `--link`, `--ip`,
//! `--ip6`, `--mac-address` and `--link-local-ip`. Every network gets an endpoint
//! entry in `NetworkingConfig` (the daemon connects them all at create), except a
//! lone network with nothing to say, whose entry docker leaves out.

use std::collections::BTreeMap;

use berth_client::types::network::{EndpointIpamConfig, EndpointSettings};

/// One `--network` value (docker's `NetworkAttachmentOpts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub links: Vec<String>,
    pub ipv4: String,
    pub ipv6: String,
    pub link_local_ips: Vec<String>,
    pub mac: String,
    pub gw_priority: i64,
}

/// The container-wide flags that apply to the first network.
#[derive(Debug, Clone, Default)]
pub struct FirstNetworkFlags<'a> {
    pub aliases: &'a [String],
    pub links: &'a [String],
    pub ip: &'a str,
    pub ip6: &'a str,
    pub mac: &'a str,
    pub link_local_ips: &'a [String],
}

/// Go's `\w+=\w+` anywhere in the value: docker's test for the long form.
fn is_long_syntax(v: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = v.as_bytes();
    (1..b.len().saturating_sub(1)).any(|i| b[i] == b'=' && word(b[i - 1]) && word(b[i + 1]))
}

/// Fields of one CSV record (Go's `encoding/csv`: commas, double quotes).
pub fn csv_fields(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = v.chars().peekable();
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if at_start => quoted = true,
            '"' => {
                return Err(format!(
                    "parse error on line 1, column {}: bare \" in non-quoted-field",
                    v.find('"').map_or(0, |i| i + 1)
                ));
            }
            ',' if !quoted => {
                out.push(std::mem::take(&mut cur));
                at_start = true;
                continue;
            }
            c => cur.push(c),
        }
        at_start = false;
    }
    if quoted {
        // Go's reader reports the end of the input (1-based byte column).
        return Err(format!(
            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
            v.len() + 1
        ));
    }
    out.push(cur);
    Ok(out)
}

/// Parses one `--network` value (docker's `NetworkOpt.Set`); the error is the text
/// after `invalid argument "…" for "--network" flag: `.
pub fn parse_attachment(value: &str) -> Result<Attachment, String> {
    if !is_long_syntax(value) {
        return Ok(Attachment {
            target: value.to_string(),
            ..Default::default()
        });
    }
    let mut a = Attachment::default();
    for field in csv_fields(value)? {
        // docker lowercases the whole field, value included.
        let lower = field.to_lowercase();
        let Some((k, v)) = lower.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let (k, v) = (k.trim(), v.trim().to_string());
        match k {
            "name" => a.target = v,
            "alias" => a.aliases.push(v),
            "ip" => a.ipv4 = v,
            "ip6" => a.ipv6 = v,
            "mac-address" => a.mac = v,
            "link-local-ip" => a.link_local_ips.push(v),
            "driver-opt" => {
                let (dk, dv) = v
                    .split_once('=')
                    .filter(|(dk, _)| !dk.is_empty())
                    .ok_or_else(|| "invalid key value pair format in driver options".to_string())?;
                a.driver_opts
                    .insert(dk.trim().to_string(), dv.trim().to_string());
            }
            "gw-priority" => {
                a.gw_priority = v.parse().map_err(|_| {
                    let why = if v
                        .trim_start_matches('-')
                        .chars()
                        .all(|c| c.is_ascii_digit())
                        && !v.is_empty()
                    {
                        "value out of range"
                    } else {
                        "invalid syntax"
                    };
                    format!("invalid gw-priority ({v}): {why}")
                })?;
            }
            other => return Err(format!("invalid field key {other}")),
        }
    }
    if a.target.is_empty() {
        return Err("network name/id is not specified".into());
    }
    Ok(a)
}

/// Docker's `NetworkMode.IsUserDefined`.
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

fn apply_first(n: &mut Attachment, f: &FirstNetworkFlags<'_>) -> Result<(), String> {
    let conflict = |what: &str| format!("conflicting options: cannot specify both {what}");
    if !n.aliases.is_empty() && !f.aliases.is_empty() {
        return Err(conflict("--network-alias and per-network alias"));
    }
    if !n.links.is_empty() && !f.links.is_empty() {
        return Err(conflict("--link and per-network links"));
    }
    if !n.ipv4.is_empty() && !f.ip.is_empty() {
        return Err(conflict("--ip and per-network IPv4 address"));
    }
    if !n.ipv6.is_empty() && !f.ip6.is_empty() {
        return Err(conflict("--ip6 and per-network IPv6 address"));
    }
    if !n.mac.is_empty() && !f.mac.is_empty() {
        return Err(conflict("--mac-address and per-network MAC address"));
    }
    if !n.link_local_ips.is_empty() && !f.link_local_ips.is_empty() {
        return Err(conflict(
            "--link-local-ip and per-network link-local IP addresses",
        ));
    }
    if !f.aliases.is_empty() {
        n.aliases = f.aliases.to_vec();
    }
    // On a user-defined network a link is an endpoint alias; on the default bridge it
    // is a legacy link of the host config.
    if is_user_defined(&n.target) && !f.links.is_empty() {
        n.links = f.links.to_vec();
    }
    if !f.ip.is_empty() {
        n.ipv4 = f.ip.to_string();
    }
    if !f.ip6.is_empty() {
        n.ipv6 = f.ip6.to_string();
    }
    if !f.mac.is_empty() {
        n.mac = f.mac.to_string();
    }
    if !f.link_local_ips.is_empty() {
        n.link_local_ips = f.link_local_ips.to_vec();
    }
    Ok(())
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    matches!(parts.len(), 6 | 8 | 20)
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn endpoint(a: &Attachment) -> Result<EndpointSettings, String> {
    if a.target.trim().is_empty() {
        return Err("no name set for network".into());
    }
    if !is_user_defined(&a.target) {
        if !a.aliases.is_empty() {
            return Err(
                "network-scoped aliases are only supported for user-defined networks".into(),
            );
        }
        if !a.links.is_empty() {
            return Err("links are only supported for user-defined networks".into());
        }
    }
    if !a.mac.is_empty() && !is_mac(&a.mac) {
        return Err(format!("{} is not a valid mac address", a.mac));
    }
    let ipam = !a.ipv4.is_empty() || !a.ipv6.is_empty() || !a.link_local_ips.is_empty();
    Ok(EndpointSettings {
        aliases: (!a.aliases.is_empty()).then(|| a.aliases.clone()),
        links: (!a.links.is_empty()).then(|| a.links.clone()),
        driver_opts: (!a.driver_opts.is_empty()).then(|| a.driver_opts.clone()),
        ipam_config: ipam.then(|| EndpointIpamConfig {
            ipv4_address: a.ipv4.clone(),
            ipv6_address: a.ipv6.clone(),
            link_local_ips: (!a.link_local_ips.is_empty()).then(|| a.link_local_ips.clone()),
        }),
        mac_address: a.mac.clone(),
        gw_priority: a.gw_priority,
        ..Default::default()
    })
}

/// The network mode (the first network, or `default`) and the endpoints
/// (docker's `parseNetworkOpts`).
pub fn endpoints(
    nets: &[Attachment],
    first: &FirstNetworkFlags<'_>,
) -> Result<(String, BTreeMap<String, EndpointSettings>), String> {
    let mut out = BTreeMap::new();
    if nets.is_empty() {
        let mut n = Attachment {
            target: "default".into(),
            ..Default::default()
        };
        apply_first(&mut n, first)?;
        out.insert("default".to_string(), endpoint(&n)?);
        return Ok(("default".into(), out));
    }
    let (mut user, mut builtin) = (false, false);
    for (i, n) in nets.iter().enumerate() {
        if is_user_defined(&n.target) {
            user = true;
        } else {
            builtin = true;
        }
        let mut n = n.clone();
        if i == 0 {
            apply_first(&mut n, first)?;
        }
        let ep = endpoint(&n)?;
        if out.contains_key(&n.target) {
            return Err(format!(
                "network \"{}\" is specified multiple times",
                n.target
            ));
        }
        // A lone network without options gets no entry (the daemon makes one).
        if i == 0 && nets.len() == 1 && ep == EndpointSettings::default() {
            continue;
        }
        out.insert(n.target.clone(), ep);
    }
    if user && builtin {
        return Err(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        );
    }
    Ok((nets[0].target.clone(), out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_short_forms() {
        assert_eq!(parse_attachment("n1").unwrap().target, "n1");
        let a = parse_attachment("name=n1,alias=a,alias=b,ip=10.0.0.2,driver-opt=k=v").unwrap();
        assert_eq!(a.target, "n1");
        assert_eq!(a.aliases, ["a", "b"]);
        assert_eq!(a.ipv4, "10.0.0.2");
        assert_eq!(a.driver_opts.get("k").map(String::as_str), Some("v"));
        assert_eq!(
            parse_attachment("alias=a").unwrap_err(),
            "network name/id is not specified"
        );
        assert_eq!(
            parse_attachment("name=n,foo=1").unwrap_err(),
            "invalid field key foo"
        );
        assert_eq!(
            parse_attachment("name=n,gw-priority=x").unwrap_err(),
            "invalid gw-priority (x): invalid syntax"
        );
    }

    #[test]
    fn every_network_gets_an_endpoint() {
        let nets = [
            parse_attachment("n1").unwrap(),
            parse_attachment("n2").unwrap(),
        ];
        let aliases = ["web".to_string()];
        let first = FirstNetworkFlags {
            aliases: &aliases,
            ..Default::default()
        };
        let (mode, eps) = endpoints(&nets, &first).unwrap();
        assert_eq!(mode, "n1");
        assert_eq!(eps.len(), 2);
        assert_eq!(eps["n1"].aliases.as_deref(), Some(&aliases[..]));
        assert_eq!(eps["n2"], EndpointSettings::default());
        // One plain network: no entry; none: the default one.
        let (_, eps) = endpoints(&nets[..1], &FirstNetworkFlags::default()).unwrap();
        assert!(eps.is_empty());
        let (mode, eps) = endpoints(&[], &FirstNetworkFlags::default()).unwrap();
        assert_eq!((mode.as_str(), eps.len()), ("default", 1));
        let twice = [nets[0].clone(), nets[0].clone()];
        assert_eq!(
            endpoints(&twice, &FirstNetworkFlags::default()).unwrap_err(),
            "network \"n1\" is specified multiple times"
        );
        let mixed = [nets[0].clone(), parse_attachment("host").unwrap()];
        assert!(
            endpoints(&mixed, &FirstNetworkFlags::default())
                .unwrap_err()
                .contains("user-defined and non-user-defined")
        );
        let bad = FirstNetworkFlags {
            aliases: &aliases,
            ..Default::default()
        };
        assert!(endpoints(&[parse_attachment("bridge").unwrap()], &bad).is_err());
    }
}
