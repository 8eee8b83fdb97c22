//! The files a container gets bind-mounted from its directory:
//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`. Their contents are
//! computed here as values (unit-tested), then written by create.

/// The `/etc/hosts` of a container with its own network namespace.
///
/// Networking is a later issue: a container in a new network namespace
/// has only loopback, so the file has the loopback entries (docker's
/// default set) and the user's `--add-host` entries, but no line for an
/// address of the container's own.
pub fn hosts_file(extra_hosts: &[String]) -> Result<String, super::Error> {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    append_extra_hosts(&mut out, extra_hosts)?;
    Ok(out)
}

/// Appends `--add-host name:ip` entries as `ip\tname` lines.
pub fn append_extra_hosts(out: &mut String, extra_hosts: &[String]) -> Result<(), super::Error> {
    for entry in extra_hosts {
        // The address may be IPv6 and contain colons: split at the first.
        let Some((name, ip)) = entry.split_once(':') else {
            return Err(super::Error::InvalidConfig {
                message: format!("invalid extra host entry: {entry:?}: expected host:ip"),
            });
        };
        if name.is_empty() || ip.parse::<std::net::IpAddr>().is_err() {
            return Err(super::Error::InvalidConfig {
                message: format!("invalid IP address in add-host: {ip:?}"),
            });
        }
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    Ok(())
}

/// The nameservers docker falls back to when the host has only local
/// ones, which a container in its own network namespace cannot reach.
const DEFAULT_NAMESERVERS: &[&str] = &["8.8.8.8", "8.8.4.4"];

/// The user's DNS settings (`--dns`, `--dns-search`, `--dns-option`).
#[derive(Debug, Clone, Default)]
pub struct DnsSettings {
    pub servers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// The container's resolv.conf from the host's (`host`, the content of the
/// host's file).
///
/// With the host's network the host's file is used as is. Otherwise,
/// loopback nameservers are dropped (127.0.0.0/8 and ::1 are the
/// container's own loopback, where nothing listens), and when none is left
/// docker's public defaults are used. User settings replace the host's
/// corresponding lines.
pub fn resolv_conf(host: &str, user: &DnsSettings, host_network: bool) -> String {
    if host_network && user.servers.is_empty() && user.search.is_empty() && user.options.is_empty()
    {
        return host.to_string();
    }
    let mut servers = Vec::new();
    let mut search = Vec::new();
    let mut options = Vec::new();
    let mut other = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(addr) = words.next() {
                    servers.push(addr.to_string());
                }
            }
            Some("search") | Some("domain") => search = words.map(str::to_string).collect(),
            Some("options") => options.extend(words.map(str::to_string)),
            _ => other.push(line.to_string()),
        }
    }
    if !user.servers.is_empty() {
        servers = user.servers.clone();
    } else if !host_network {
        servers.retain(|s| !is_loopback(s));
        if servers.is_empty() {
            servers = DEFAULT_NAMESERVERS.iter().map(|s| s.to_string()).collect();
        }
    }
    if !user.search.is_empty() {
        // "--dns-search ." means no search domains.
        search = user.search.iter().filter(|s| *s != ".").cloned().collect();
    }
    if !user.options.is_empty() {
        options = user.options.clone();
    }
    let mut out = String::new();
    for line in other.iter().filter(|l| !l.trim().is_empty()) {
        out.push_str(line);
        out.push('\n');
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for s in &servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

fn is_loopback(addr: &str) -> bool {
    // A zone suffix (fe80::1%eth0) does not parse as an address; such a
    // server is not loopback.
    addr.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The host's resolv.conf: systemd-resolved's stub file lists only
/// 127.0.0.53, so its upstream list is used instead when it exists
/// (as docker does).
pub fn host_resolv_conf() -> String {
    let main = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let only_stub = main
        .lines()
        .filter(|l| l.trim_start().starts_with("nameserver"))
        .all(|l| l.split_whitespace().nth(1) == Some("127.0.0.53"));
    if only_stub && main.contains("127.0.0.53") {
        if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return upstream;
        }
    }
    main
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_has_loopback_entries_and_extra_hosts() {
        let h = hosts_file(&["db:10.0.0.2".into(), "v6:fe80::1".into()]).unwrap();
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
        assert!(h.ends_with("10.0.0.2\tdb\nfe80::1\tv6\n"));
        assert!(hosts_file(&["nocolon".into()]).is_err());
        assert!(hosts_file(&["x:not-an-ip".into()]).is_err());
    }

    #[test]
    fn resolv_conf_drops_loopback_servers_and_applies_user_settings() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch a.example\noptions edns0\n";
        let none = DnsSettings::default();
        assert_eq!(
            resolv_conf(host, &none, false),
            "# generated\nsearch a.example\nnameserver 10.1.1.1\noptions edns0\n"
        );
        assert_eq!(resolv_conf(host, &none, true), host);
        let only_local = "nameserver 127.0.0.1\nnameserver ::1\n";
        assert_eq!(
            resolv_conf(only_local, &none, false),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let user = DnsSettings {
            servers: vec!["1.1.1.1".into()],
            search: vec![".".into()],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_conf(host, &user, false),
            "# generated\nnameserver 1.1.1.1\noptions ndots:2\n"
        );
    }
}
