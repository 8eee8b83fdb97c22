//! `network` subcommands, passed through to the `/networks` endpoints.

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_client::types::network::{
    ConfigReference, EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, Network,
    NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Ctx, lifecycle::confirm, out, outln, parse, parse_filters, short_id};
use crate::cli::Arity;
use crate::error::{CliError, CliResult};
use crate::fmt::{Format, object};

/// `berth network …`.
#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Create a network
    Create(CreateArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// Display detailed information on one or more networks
    Inspect(super::inspect::NetworkInspectArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] NETWORK CONTAINER")]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long, value_name = "strings")]
    alias: Vec<String>,
    /// driver options for the network
    #[arg(long, value_name = "strings")]
    driver_opt: Vec<String>,
    /// Highest gw-priority provides the default gateway. Accepts positive and negative values.
    #[arg(
        long,
        value_name = "int",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    gw_priority: i64,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long, value_name = "string", default_value = "")]
    ip: String,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long, value_name = "string", default_value = "")]
    ip6: String,
    /// Add link to another container
    #[arg(long, value_name = "list")]
    link: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long, value_name = "strings")]
    link_local_ip: Vec<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] NETWORK")]
pub struct CreateArgs {
    /// Enable manual container attachment
    #[arg(long)]
    attachable: bool,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long, value_name = "map")]
    aux_address: Vec<String>,
    /// The network from which to copy the configuration
    #[arg(long, value_name = "string", default_value = "")]
    config_from: String,
    /// Create a configuration only network
    #[arg(long)]
    config_only: bool,
    /// Driver to manage the Network
    #[arg(short, long, value_name = "string", default_value = "bridge")]
    driver: String,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long, value_name = "strings")]
    gateway: Vec<String>,
    /// Create swarm routing-mesh network
    #[arg(long)]
    ingress: bool,
    /// Restrict external access to the network
    #[arg(long)]
    internal: bool,
    /// Allocate container ip from a sub-range
    #[arg(long, value_name = "strings")]
    ip_range: Vec<String>,
    /// IP Address Management Driver
    #[arg(long, value_name = "string", default_value = "default")]
    ipam_driver: String,
    /// Set IPAM driver specific options
    #[arg(long, value_name = "map")]
    ipam_opt: Vec<String>,
    /// Enable or disable IPv4 address assignment (sent only when given)
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "", value_parser = parse::go_bool)]
    ipv4: Option<bool>,
    /// Enable or disable IPv6 address assignment (sent only when given)
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "", value_parser = parse::go_bool)]
    ipv6: Option<bool>,
    /// Set metadata on a network
    #[arg(long, value_name = "list")]
    label: Vec<String>,
    /// Set driver specific options
    #[arg(short, long, value_name = "map")]
    opt: Vec<String>,
    /// Control the network's scope
    #[arg(long, value_name = "string", default_value = "")]
    scope: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_name = "strings")]
    subnet: Vec<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] NETWORK CONTAINER")]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    force: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct LsArgs {
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short, long, value_name = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Do not truncate the output
    #[arg(long)]
    no_trunc: bool,
    /// Only display network IDs
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long, value_name = "filter")]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

#[derive(Debug, Args)]
#[command(override_usage = "NETWORK [NETWORK...]")]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short, long)]
    force: bool,
    #[arg(hide = true)]
    names: Vec<String>,
}

pub async fn run(ctx: &Ctx, cmd: &NetworkCmd) -> CliResult {
    match cmd {
        NetworkCmd::Connect(a) => {
            ctx.arity(a.args.len(), Arity::Exact(2))?;
            let ep = EndpointSettings {
                aliases: (!a.alias.is_empty()).then(|| a.alias.clone()),
                links: (!a.link.is_empty()).then(|| a.link.clone()),
                driver_opts: (!a.driver_opt.is_empty()).then(|| parse::kv_map(&a.driver_opt)),
                ipam_config: (!a.ip.is_empty() || !a.ip6.is_empty() || !a.link_local_ip.is_empty())
                    .then(|| EndpointIpamConfig {
                        ipv4_address: a.ip.clone(),
                        ipv6_address: a.ip6.clone(),
                        link_local_ips: (!a.link_local_ip.is_empty())
                            .then(|| a.link_local_ip.clone()),
                    }),
                gw_priority: a.gw_priority,
                ..Default::default()
            };
            let body = NetworkConnectRequest {
                container: a.args[1].clone(),
                endpoint_config: Some(ep),
            };
            ctx.client
                .post(format!(
                    "/networks/{}/connect",
                    berth_client::api::seg(&a.args[0])
                ))
                .json_body(&body)?
                .discard()
                .await?;
            Ok(())
        }
        NetworkCmd::Disconnect(a) => {
            ctx.arity(a.args.len(), Arity::Exact(2))?;
            let body = NetworkDisconnectRequest {
                container: a.args[1].clone(),
                force: a.force,
            };
            ctx.client
                .post(format!(
                    "/networks/{}/disconnect",
                    berth_client::api::seg(&a.args[0])
                ))
                .json_body(&body)?
                .discard()
                .await?;
            Ok(())
        }
        NetworkCmd::Create(a) => create(ctx, a).await,
        NetworkCmd::Inspect(a) => super::inspect::network(ctx, a).await,
        NetworkCmd::Ls(a) => ls(ctx, a).await,
        NetworkCmd::Rm(a) => {
            ctx.arity(a.names.len(), Arity::Min(1))?;
            // docker prints each failure as it happens and ends with its own
            // "exit status 1".
            let mut failed = false;
            for n in &a.names {
                let r = ctx
                    .client
                    .delete(format!("/networks/{}", berth_client::api::seg(n)))
                    .discard()
                    .await;
                match r {
                    Ok(()) => outln(n),
                    Err(e) if a.force && e.is_not_found() => {}
                    Err(e) => {
                        eprintln!("{e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Err(CliError::new("exit status 1"));
            }
            Ok(())
        }
        NetworkCmd::Prune(a) => {
            let filters = parse_filters(&a.filter)?;
            if !a.force
                && !confirm(
                    "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?",
                )
            {
                return Ok(());
            }
            let v: Value = ctx
                .client
                .post("/networks/prune")
                .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
                .json()
                .await?;
            if let Some(d) = v["NetworksDeleted"].as_array().filter(|d| !d.is_empty()) {
                let names: Vec<&str> = d.iter().filter_map(Value::as_str).collect();
                outln(&format!("Deleted Networks:\n{}\n", names.join("\n")));
            }
            Ok(())
        }
    }
}

async fn create(ctx: &Ctx, a: &CreateArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Exact(1))?;
    let config = ipam_config(
        &a.subnet,
        &a.ip_range,
        &a.gateway,
        &parse::kv_map(&a.aux_address),
    )
    .map_err(CliError::new)?;
    let req = NetworkCreateRequest {
        name: a.args[0].clone(),
        check_duplicate: true,
        driver: a.driver.clone(),
        scope: a.scope.clone(),
        internal: a.internal,
        attachable: a.attachable,
        ingress: a.ingress,
        config_only: a.config_only,
        config_from: (!a.config_from.is_empty()).then(|| ConfigReference {
            network: a.config_from.clone(),
        }),
        enable_ipv4: a.ipv4,
        enable_ipv6: a.ipv6.unwrap_or(false),
        // The daemon judges the IPAM driver and its options.
        ipam: Some(Ipam {
            driver: a.ipam_driver.clone(),
            options: Some(parse::kv_map(&a.ipam_opt)),
            config: Some(config),
        }),
        options: Some(parse::kv_map(&a.opt)),
        labels: Some(parse::kv_map(&a.label)),
    };
    let v: Value = ctx
        .client
        .post("/networks/create")
        .json_body(&req)?
        .json()
        .await?;
    outln(v["Id"].as_str().unwrap_or(""));
    Ok(())
}

async fn ls(ctx: &Ctx, a: &LsArgs) -> CliResult {
    let filters = parse_filters(&a.filter)?;
    let nets: Vec<Network> = ctx
        .client
        .get("/networks")
        .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
        .json()
        .await?;
    let source = a
        .format
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "table".into());
    let fmt = Format(match source.as_str() {
        "table" | "" if a.quiet => "{{.ID}}".into(),
        "table" => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}".into(),
        _ if a.quiet => "{{.ID}}".into(),
        s => s.to_string(),
    });
    let mut nets = nets;
    nets.sort_by(|x, y| crate::fmt::units::natural_cmp(&x.name, &y.name));
    let rows: Vec<Value> = nets
        .iter()
        .map(|n| {
            let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            object([
                (
                    "ID",
                    Value::from(if a.no_trunc {
                        n.id.clone()
                    } else {
                        short_id(&n.id)
                    }),
                ),
                ("Name", n.name.clone().into()),
                ("Driver", n.driver.clone().into()),
                ("Scope", n.scope.clone().into()),
                // API 1.41 has no EnableIPv4: docker shows its zero value.
                ("IPv4", "false".into()),
                ("IPv6", n.enable_ipv6.to_string().into()),
                ("Internal", n.internal.to_string().into()),
                ("Labels", labels.join(",").into()),
                ("CreatedAt", go_time_string(&n.created).into()),
            ])
        })
        .collect();
    let header = json!({"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"});
    out(&fmt.render_for("*network.networkContext", &header, &rows)?);
    Ok(())
}

/// The IPAM pools of `network create`, checked as the docker CLI checks them
/// (`createIPAMConfig`): subnets that do not overlap, each range, gateway and
/// auxiliary address inside one of them, at most one range and one gateway per
/// subnet. The pools are in the subnets' order.
fn ipam_config(
    subnets: &[String],
    ranges: &[String],
    gateways: &[String],
    aux: &BTreeMap<String, String>,
) -> Result<Vec<IpamConfig>, String> {
    if subnets.len() < ranges.len() || subnets.len() < gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let mut pools: Vec<IpamConfig> = Vec::new();
    for s in subnets {
        for k in &pools {
            if subnet_matches(s, &k.subnet)? || subnet_matches(&k.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        pools.push(IpamConfig {
            subnet: s.clone(),
            ..Default::default()
        });
    }
    // Each value goes to every subnet that holds it; the subnets do not overlap, so
    // pool i is subnet i's.
    for r in ranges {
        let mut matched = false;
        for (i, s) in subnets.iter().enumerate() {
            parse_cidr(r)?;
            if !subnet_matches(s, r)? {
                continue;
            }
            let p = &mut pools[i];
            if !p.ip_range.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({s})",
                    p.ip_range
                ));
            }
            p.ip_range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in gateways {
        let mut matched = false;
        for (i, s) in subnets.iter().enumerate() {
            if !subnet_matches(s, g)? {
                continue;
            }
            let p = &mut pools[i];
            if !p.gateway.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({s})",
                    p.gateway
                ));
            }
            p.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (key, addr) in aux {
        let mut matched = false;
        for (i, s) in subnets.iter().enumerate() {
            if !subnet_matches(s, addr)? {
                continue;
            }
            let p = &mut pools[i];
            p.aux_address
                .get_or_insert_with(BTreeMap::new)
                .insert(key.clone(), addr.clone());
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
    }
    Ok(pools)
}

/// Go's `net.ParseCIDR`: the address as written and the network's prefix length.
fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("invalid CIDR address: {s}");
    let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits: u8 = bits
        .parse()
        .ok()
        .filter(|b| *b <= max && !bits.starts_with('+'))
        .ok_or_else(bad)?;
    Ok((ip, bits))
}

/// docker's `subnetMatches`: whether `subnet` holds `data`, an address or the
/// address of a CIDR.
fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let (net, bits) = parse_cidr(subnet).map_err(|e| format!("invalid subnet: {e}"))?;
    let ip = if data.contains('/') {
        Some(parse_cidr(data)?.0)
    } else {
        data.parse::<IpAddr>().ok()
    };
    // Go's IPNet.Contains: an IPv4-mapped address is IPv4; families must agree.
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let masked = |ip: IpAddr| -> Option<u128> {
        let (v, width) = match canon(ip) {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        };
        let shift = width - u32::from(bits);
        Some(if shift >= 128 { 0 } else { v >> shift })
    };
    Ok(match ip {
        Some(ip) if canon(ip).is_ipv4() == canon(net).is_ipv4() => masked(ip) == masked(net),
        _ => false,
    })
}

/// Go's `time.Time.String()` of an RFC 3339 time as the daemon sends it:
/// `2006-01-02 15:04:05.999999999 +0000 UTC` (fraction without trailing zeros; a
/// `Z` time is UTC, another offset is named by the local zone when it is the local
/// offset, else by itself).
pub fn go_time_string(rfc3339: &str) -> String {
    let Ok(ts) = rfc3339.parse::<jiff::Timestamp>() else {
        return rfc3339.to_string();
    };
    let utc = rfc3339.ends_with(['Z', 'z']);
    let offset_secs = if utc {
        0
    } else {
        let tail = &rfc3339[rfc3339.len().saturating_sub(6)..];
        let sign = if tail.starts_with('-') { -1 } else { 1 };
        let h: i32 = tail.get(1..3).and_then(|x| x.parse().ok()).unwrap_or(0);
        let m: i32 = tail.get(4..6).and_then(|x| x.parse().ok()).unwrap_or(0);
        sign * (h * 3600 + m * 60)
    };
    let offset = jiff::tz::Offset::from_seconds(offset_secs).unwrap_or(jiff::tz::Offset::UTC);
    let z = ts.to_zoned_datetime(jiff::tz::TimeZone::fixed(offset));
    let mut frac = format!("{:09}", z.subsec_nanosecond());
    while frac.ends_with('0') {
        frac.pop();
    }
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let a = offset_secs.abs();
    let numeric = format!("{sign}{:02}{:02}", a / 3600, (a % 3600) / 60);
    let name = if utc {
        "UTC".to_string()
    } else {
        let local = jiff::ZonedDateTime::now();
        if local.offset().seconds() == offset_secs {
            local.strftime("%Z").to_string()
        } else {
            numeric.clone()
        }
    };
    format!("{}{frac} {numeric} {name}", z.strftime("%Y-%m-%d %H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ipam_pools_are_checked_as_docker_checks_them() {
        let none = BTreeMap::new();
        let aux = BTreeMap::from([("a".to_string(), "10.9.0.5".to_string())]);
        let pools = ipam_config(
            &strings(&["10.9.0.0/24", "10.8.0.0/24"]),
            &strings(&["10.8.0.128/25"]),
            &strings(&["10.9.0.254"]),
            &aux,
        )
        .unwrap();
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].gateway, "10.9.0.254");
        assert_eq!(pools[0].aux_address, Some(aux.clone()));
        assert_eq!(pools[1].ip_range, "10.8.0.128/25");
        let err = |s: &[&str], r: &[&str], g: &[&str], a: &BTreeMap<String, String>| {
            ipam_config(&strings(s), &strings(r), &strings(g), a).unwrap_err()
        };
        assert_eq!(
            err(
                &["10.9.0.0/24"],
                &[],
                &[],
                &BTreeMap::from([("a".into(), "10.8.0.5".into())])
            ),
            "no matching subnet for aux-address 10.8.0.5"
        );
        assert_eq!(
            err(&[], &[], &["10.0.0.1"], &none),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            err(&["10.0.0.0/16", "10.0.1.0/24"], &[], &[], &none),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            err(&["10.0.0.0/24"], &[], &["10.0.1.1"], &none),
            "no matching subnet for gateway 10.0.1.1"
        );
        assert_eq!(
            err(
                &["10.0.0.0/24", "10.1.0.0/24"],
                &["10.0.0.0/25", "10.0.0.128/25"],
                &[],
                &none
            ),
            "cannot configure multiple ranges (10.0.0.128/25, 10.0.0.0/25) on the same subnet (10.0.0.0/24)"
        );
        assert_eq!(
            err(&["10.0.0.0/24"], &["nope"], &[], &none),
            "invalid CIDR address: nope"
        );
        assert_eq!(
            err(&["bad"], &[], &["10.0.0.1"], &none),
            "invalid subnet: invalid CIDR address: bad"
        );
        // IPv6 against IPv4 never matches.
        assert!(!subnet_matches("10.0.0.0/8", "fd00::1").unwrap());
        assert!(subnet_matches("fd00::/64", "fd00::1").unwrap());
        assert!(subnet_matches("0.0.0.0/0", "1.2.3.4").unwrap());
    }

    #[test]
    fn created_at_as_go_prints_it() {
        assert_eq!(
            super::go_time_string("2026-11-28T10:08:38.047347330Z"),
            "2026-11-28 10:08:38.04734733 +0000 UTC"
        );
        assert_eq!(
            super::go_time_string("2026-11-28T10:08:38Z"),
            "2026-11-28 10:08:38 +0000 UTC"
        );
    }
}
