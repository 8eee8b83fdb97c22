//! Networking through the docker CLI: the default bridge, user-defined
//! networks with the embedded DNS, isolation, published ports (from the
//! host on 127.0.0.1 and on the host's own address, and across a daemon
//! restart), connect/disconnect, host/none/container modes, macvlan and
//! ipvlan on a veth parent the test makes, bad input, and leftovers.
//!
//! Traffic goes only between the host and the containers these tests
//! start.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::Duration;

use crate::harness::{Berthd, bridge_of, eventually, started};

/// An HTTP GET from the host; the body, or `None` when nothing answers.
pub(crate) fn http_get(ip: Ipv4Addr, port: u16) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split("\r\n\r\n").nth(1).map(str::to_string)
}

/// The host's first non-loopback IPv4 address, if it has one.
fn host_address() -> Option<Ipv4Addr> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains(" bt") && !l.contains(" br-"))
        .find_map(|l| {
            let cidr = l.split_whitespace().nth(3)?;
            cidr.split('/').next()?.parse().ok()
        })
}

/// A detached busybox httpd container answering `body`; extra run flags
/// come before the image.
fn web(d: &Berthd, name: &str, body: &str, flags: &[&str]) {
    let script =
        format!("mkdir /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    d.docker(args).ok();
}

/// Links, addresses and firewall entries of the test's daemon, for the
/// leftovers checks: (host veths on its bridges, port map elements).
fn leftovers(d: &Berthd) -> (usize, String) {
    let bridge = bridge_of(&d.root);
    let out = Command::new("ip")
        .args(["-o", "link", "show", "master", &bridge])
        .output()
        .expect("run ip");
    let veths = String::from_utf8_lossy(&out.stdout).lines().count();
    let table = format!("berth_{bridge}");
    let out = Command::new("nft")
        .args(["list", "table", "ip", &table])
        .output()
        .expect("run nft");
    let text = String::from_utf8_lossy(&out.stdout);
    let elements = text
        .lines()
        .filter(|l| l.contains("elements") && !l.contains('"'))
        .collect::<Vec<_>>()
        .join("\n");
    (veths, elements)
}

#[test]
fn default_bridge_gives_an_address_route_and_hosts_entry() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let out = d
        .docker([
            "run",
            "--rm",
            "--hostname",
            "box",
            "busybox",
            "sh",
            "-c",
            "ip -4 addr show eth0; ip route; grep box /etc/hosts",
        ])
        .ok();
    let bip = d
        .docker([
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            "bridge",
        ])
        .ok();
    let gw = bip.trim();
    assert!(out.contains(&format!("default via {gw} dev eth0")), "{out}");
    let ip_line = out
        .lines()
        .find(|l| l.contains("inet "))
        .expect("an address on eth0");
    let ip = ip_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    assert!(out.contains(&format!("{ip}\tbox")), "{out}");
    // The host reaches a container on the bridge directly.
    web(&d, "web1", "direct", &[]);
    let ip: Ipv4Addr = d
        .docker(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web1"])
        .ok()
        .trim()
        .parse()
        .expect("an IPv4 address in inspect");
    let mut body = None;
    eventually("httpd to answer", || {
        body = http_get(ip, 80);
        body.is_some()
    });
    assert_eq!(body.unwrap().trim(), "direct");
    let mac = d
        .docker(["inspect", "-f", "{{.NetworkSettings.MacAddress}}", "web1"])
        .ok();
    let o = ip.octets();
    assert_eq!(
        mac.trim(),
        format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
    );
    d.docker(["rm", "-f", "web1"]).ok();
    eventually("the veth to go", || leftovers(&d).0 == 0);
}

#[test]
fn published_ports_answer_on_loopback_the_host_address_and_survive_a_restart() {
    if !testkit::require_root() {
        return;
    }
    let mut d = started();
    // A fixed port, and a kernel-chosen one on loopback only.
    let port = 20000 + (std::process::id() % 20000) as u16;
    let spec = format!("{port}:80");
    web(
        &d,
        "pub",
        "published",
        &["-p", &spec, "-p", "127.0.0.1::80"],
    );
    let ports = d.docker(["port", "pub"]).ok();
    assert!(
        ports.contains(&format!("80/tcp -> 0.0.0.0:{port}")),
        "{ports}"
    );
    let random: u16 = ports
        .lines()
        .find(|l| l.contains("127.0.0.1:"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .expect("a loopback binding");
    let mut body = None;
    eventually("the published port to answer", || {
        body = http_get(Ipv4Addr::LOCALHOST, port);
        body.is_some()
    });
    assert_eq!(body.unwrap().trim(), "published");
    assert_eq!(
        http_get(Ipv4Addr::LOCALHOST, random).unwrap().trim(),
        "published"
    );
    if let Some(host) = host_address() {
        assert_eq!(http_get(host, port).unwrap().trim(), "published");
    }
    let ps = d.docker(["ps", "--format", "{{.Ports}}"]).ok();
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    // Another container reaches it through the host port.
    let gw = d
        .docker([
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            "bridge",
        ])
        .ok();
    let fetched = d
        .docker([
            "run",
            "--rm",
            "busybox",
            "wget",
            "-qO-",
            &format!("http://{}:{port}/", gw.trim()),
        ])
        .ok();
    assert_eq!(fetched.trim(), "published");
    // The port is taken: a second container cannot publish it.
    let err = d
        .docker(["run", "--rm", "-p", &spec, "busybox", "true"])
        .fails();
    assert!(err.contains("address already in use"), "{err}");
    // kill -9 and a restart: the port answers again.
    d.kill9();
    d.restart();
    let mut body = None;
    eventually("the port to answer after the restart", || {
        body = http_get(Ipv4Addr::LOCALHOST, port);
        body.is_some()
    });
    assert_eq!(body.unwrap().trim(), "published");
    d.docker(["rm", "-f", "pub"]).ok();
    eventually("no veth and no port rule left", || {
        let (veths, elements) = leftovers(&d);
        veths == 0 && elements.is_empty()
    });
    assert!(http_get(Ipv4Addr::LOCALHOST, port).is_none());
}

#[test]
fn user_networks_resolve_names_and_aliases_and_are_isolated() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker([
        "network",
        "create",
        "--subnet",
        "10.251.1.0/24",
        "--label",
        "t=1",
        "front",
    ])
    .ok();
    d.docker(["network", "create", "--subnet", "10.251.2.0/24", "back"])
        .ok();
    web(
        &d,
        "api",
        "from-api",
        &["--network", "front", "--network-alias", "svc"],
    );
    let out = d
        .docker([
            "run",
            "--rm",
            "--network",
            "front",
            "busybox",
            "sh",
            "-c",
            "cat /etc/resolv.conf; nslookup api; nslookup svc; wget -qO- http://svc/",
        ])
        .ok();
    assert!(out.contains("nameserver 127.0.0.11"), "{out}");
    assert!(out.contains("Address: 10.251.1.2"), "{out}");
    assert!(out.ends_with("from-api\n"), "{out}");
    // From another network the address does not answer.
    let out = d
        .docker([
            "run",
            "--rm",
            "--network",
            "back",
            "busybox",
            "sh",
            "-c",
            "ping -c1 -W1 10.251.1.2 >/dev/null && echo reached || echo isolated",
        ])
        .ok();
    assert_eq!(out.trim(), "isolated");
    // Inspect lists the container with its address.
    let containers = d
        .docker([
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
            "front",
        ])
        .ok();
    assert_eq!(containers.trim(), "api 10.251.1.2/24");
    // In use: refused with dockerd's message.
    let err = d.docker(["network", "rm", "front"]).fails();
    assert!(err.contains("has active endpoints"), "{err}");
    // Connect live: a new interface, resolvable alias, and disconnect.
    d.docker([
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "back",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    d.docker(["network", "connect", "--alias", "late", "front", "c1"])
        .ok();
    let ifs = d.docker(["exec", "c1", "ip", "-4", "-o", "addr"]).ok();
    assert!(ifs.contains("eth1") && ifs.contains("10.251.1."), "{ifs}");
    let out = d
        .docker([
            "run",
            "--rm",
            "--network",
            "front",
            "busybox",
            "nslookup",
            "late",
        ])
        .ok();
    assert!(out.contains("Address: 10.251.1.3"), "{out}");
    let reach = d
        .docker(["exec", "c1", "wget", "-qO-", "http://10.251.1.2/"])
        .ok();
    assert_eq!(reach.trim(), "from-api");
    d.docker(["network", "disconnect", "front", "c1"]).ok();
    let ifs = d.docker(["exec", "c1", "ip", "-4", "-o", "addr"]).ok();
    assert!(!ifs.contains("eth1"), "{ifs}");
    let ls = d
        .docker([
            "network",
            "ls",
            "--filter",
            "label=t=1",
            "--format",
            "{{.Name}} {{.Driver}}",
        ])
        .ok();
    assert_eq!(ls, "front bridge\n");
    d.docker(["rm", "-f", "api", "c1"]).ok();
    d.docker(["network", "rm", "front", "back"]).ok();
    let ls = d.docker(["network", "ls", "--format", "{{.Name}}"]).ok();
    assert_eq!(ls, "bridge\nhost\nnone\n");
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let links = String::from_utf8_lossy(&links.stdout).to_string();
    assert!(!links.contains("10.251."), "{links}");
}

#[test]
fn host_none_and_container_modes() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let none = d
        .docker([
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ip",
            "-o",
            "link",
        ])
        .ok();
    assert_eq!(none.lines().count(), 1, "{none}");
    assert!(none.contains("lo"), "{none}");
    // The host's own default-route interface, with its MAC, is seen.
    let route = Command::new("ip")
        .args(["route", "show", "default"])
        .output()
        .unwrap();
    let route = String::from_utf8_lossy(&route.stdout).to_string();
    if let Some(dev) = route.split_whitespace().skip_while(|w| *w != "dev").nth(1) {
        let mac = std::fs::read_to_string(format!("/sys/class/net/{dev}/address")).unwrap();
        let host = d
            .docker([
                "run",
                "--rm",
                "--network",
                "host",
                "busybox",
                "ip",
                "-o",
                "link",
                "show",
                dev,
            ])
            .ok();
        assert!(host.contains(mac.trim()), "{host}");
    }
    d.docker(["run", "-d", "--name", "owner", "busybox", "sleep", "300"])
        .ok();
    let own = d
        .docker(["exec", "owner", "ip", "-4", "-o", "addr", "show", "eth0"])
        .ok();
    let joined = d
        .docker([
            "run",
            "--rm",
            "--network",
            "container:owner",
            "busybox",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ])
        .ok();
    assert_eq!(own, joined);
    d.docker(["rm", "-f", "owner"]).ok();
}

#[test]
fn macvlan_and_ipvlan_on_a_veth_parent() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let suffix = &bridge_of(&d.root)[2..];
    let (a, b) = (format!("bva{suffix}"), format!("bvb{suffix}"));
    let (a, b) = (&a[..a.len().min(15)], &b[..b.len().min(15)]);
    let st = Command::new("ip")
        .args(["link", "add", a, "type", "veth", "peer", "name", b])
        .status()
        .unwrap();
    assert!(st.success());
    struct DelLink(String);
    impl Drop for DelLink {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).status();
        }
    }
    let _guard = DelLink(a.to_string());
    Command::new("ip")
        .args(["link", "set", a, "up"])
        .status()
        .unwrap();
    let err = d
        .docker([
            "network",
            "create",
            "-d",
            "macvlan",
            "-o",
            "parent=nosuchlink0",
            "x",
        ])
        .fails();
    assert!(err.contains("parent interface was not found"), "{err}");
    let parent = format!("parent={a}");
    d.docker([
        "network",
        "create",
        "-d",
        "macvlan",
        "--subnet",
        "10.252.1.0/24",
        "-o",
        &parent,
        "mv",
    ])
    .ok();
    d.docker([
        "network",
        "create",
        "-d",
        "ipvlan",
        "--subnet",
        "10.252.2.0/24",
        "-o",
        &parent,
        "iv",
    ])
    .ok();
    let out = d
        .docker([
            "run",
            "--rm",
            "--network",
            "mv",
            "busybox",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ])
        .ok();
    assert!(out.contains("10.252.1.2/24"), "{out}");
    // Kernels built without ipvlan refuse the link type; berth says so.
    let probe = Command::new("ip")
        .args([
            "link",
            "add",
            "link",
            a,
            "name",
            &format!("{b}p"),
            "type",
            "ipvlan",
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    let run = d.docker([
        "run",
        "--rm",
        "--network",
        "iv",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    if probe.success() {
        let _ = Command::new("ip")
            .args(["link", "del", &format!("{b}p")])
            .status();
        let out = run.ok();
        assert!(out.contains("10.252.2.2/24"), "{out}");
    } else {
        eprintln!("this kernel has no ipvlan: checking the error only");
        let err = run.fails();
        assert!(
            err.contains("ipvlan driver is not supported by this kernel"),
            "{err}"
        );
    }
    d.docker(["network", "rm", "mv", "iv"]).ok();
}
