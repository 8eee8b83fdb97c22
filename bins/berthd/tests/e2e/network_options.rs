//! Networking options and bad input through the docker CLI: internal
//! networks, DNS flags and `--add-host host-gateway`, a container created
//! on two networks (with an API 1.41 fixed MAC), `-P`, static addresses in
//! use, and docker's errors for bad network input (nothing changed).
//!
//! Traffic goes only between the host and the containers these tests
//! start.

use std::net::Ipv4Addr;

use crate::harness::{eventually, started};
use crate::networks::http_get;

#[test]
fn bad_network_input_is_refused_and_changes_nothing() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let before = d.docker(["network", "ls", "-q"]).ok();
    for (args, msg) in [
        (
            vec!["network", "create", "--subnet", "10.253.0.0/33", "n1"],
            "invalid CIDR",
        ),
        (
            vec!["network", "create", "--subnet", "10.253.0.5/24", "n1"],
            "invalid subnet",
        ),
        (
            vec![
                "network",
                "create",
                "--subnet",
                "10.253.0.0/24",
                "--gateway",
                "10.9.9.1",
                "n1",
            ],
            "no matching subnet",
        ),
        (
            vec!["network", "create", "-d", "nosuchdriver", "n1"],
            "not found",
        ),
        (vec!["network", "rm", "bridge"], "pre-defined network"),
        (vec!["network", "rm", "nosuchnet"], "not found"),
    ] {
        let err = d.docker(args.clone()).fails();
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    d.docker(["network", "create", "--subnet", "10.253.1.0/24", "n2"])
        .ok();
    let err = d.docker(["network", "create", "n2"]).fails();
    assert!(err.contains("already exists"), "{err}");
    let err = d
        .docker(["network", "create", "--subnet", "10.253.1.0/25", "n3"])
        .fails();
    assert!(err.contains("overlaps"), "{err}");
    // (`--pull never`: the CLI takes any 404 of a create for a missing
    // image and would try to pull first, as it does with dockerd.)
    let err = d
        .docker([
            "run",
            "--rm",
            "--pull",
            "never",
            "--network",
            "nosuchnet",
            "busybox",
            "true",
        ])
        .fails();
    assert!(err.contains("network nosuchnet not found"), "{err}");
    let err = d
        .docker([
            "run",
            "--rm",
            "--network",
            "n2",
            "--ip",
            "10.99.0.2",
            "busybox",
            "true",
        ])
        .fails();
    assert!(err.contains("10.99.0.2"), "{err}");
    let err = d
        .docker(["run", "--rm", "--ip", "172.17.0.9", "busybox", "true"])
        .fails();
    assert!(err.contains("user defined networks only"), "{err}");
    // A static address on a user network is honoured.
    let out = d
        .docker([
            "run",
            "--rm",
            "--network",
            "n2",
            "--ip",
            "10.253.1.77",
            "busybox",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ])
        .ok();
    assert!(out.contains("10.253.1.77/24"), "{out}");
    d.docker(["network", "rm", "n2"]).ok();
    assert_eq!(d.docker(["network", "ls", "-q"]).ok(), before);
}

#[test]
fn internal_networks_dns_flags_hosts_and_a_fixed_mac() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker([
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.254.1.0/24",
        "inner",
    ])
    .ok();
    // No default route out of an internal network.
    let out = d
        .docker([
            "run",
            "--rm",
            "--network",
            "inner",
            "busybox",
            "ip",
            "route",
        ])
        .ok();
    assert!(!out.contains("default"), "{out}");
    assert!(out.contains("10.254.1.0/24"), "{out}");
    let internal = d
        .docker(["network", "inspect", "-f", "{{.Internal}}", "inner"])
        .ok();
    assert_eq!(internal.trim(), "true");
    // DNS flags on the default bridge go to resolv.conf; host-gateway
    // resolves to the bridge's gateway.
    let gw = d
        .docker([
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            "bridge",
        ])
        .ok();
    let out = d
        .docker([
            "run",
            "--rm",
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "example.test",
            "--dns-option",
            "ndots:2",
            "--add-host",
            "hostbox:host-gateway",
            "--add-host",
            "other:10.1.2.3",
            "busybox",
            "sh",
            "-c",
            "cat /etc/resolv.conf /etc/hosts",
        ])
        .ok();
    assert!(out.contains("nameserver 192.0.2.53"), "{out}");
    assert!(out.contains("search example.test"), "{out}");
    assert!(out.contains("options ndots:2"), "{out}");
    assert!(out.contains(&format!("{}\thostbox", gw.trim())), "{out}");
    assert!(out.contains("10.1.2.3\tother"), "{out}");
    d.docker(["network", "rm", "inner"]).ok();
}

#[test]
fn a_container_created_on_two_networks_gets_both() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker(["network", "create", "--subnet", "10.254.2.0/24", "one"])
        .ok();
    d.docker([
        "network",
        "create",
        "--subnet",
        "10.254.3.0/24",
        "--ip-range",
        "10.254.3.128/25",
        "two",
    ])
    .ok();
    // The Engine API's NetworkingConfig with two endpoints.
    let body = serde_json::json!({
        "Image": "busybox",
        "Cmd": ["sleep", "300"],
        // API 1.41's place for a fixed MAC (the CLI v28 only sends it
        // per network, from API 1.44 on).
        "MacAddress": "02:42:de:ad:be:ef",
        "HostConfig": {"NetworkMode": "one"},
        "NetworkingConfig": {"EndpointsConfig": {
            "one": {"Aliases": ["first"]},
            "two": {"IPAMConfig": {"IPv4Address": "10.254.3.200"}}
        }}
    });
    let r = d.request(
        "POST",
        "/v1.41/containers/create?name=both",
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    d.docker(["start", "both"]).ok();
    let ifs = d.docker(["exec", "both", "ip", "-4", "-o", "addr"]).ok();
    assert!(
        ifs.contains("eth0") && ifs.contains("10.254.2.2/24"),
        "{ifs}"
    );
    assert!(
        ifs.contains("eth1") && ifs.contains("10.254.3.200/24"),
        "{ifs}"
    );
    let mac = d
        .docker(["exec", "both", "cat", "/sys/class/net/eth0/address"])
        .ok();
    assert_eq!(mac, "02:42:de:ad:be:ef\n");
    let nets = d
        .docker([
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}",
            "both",
        ])
        .ok();
    assert_eq!(nets.trim(), "one=10.254.2.2 two=10.254.3.200");
    // A second container on `two` gets its address from the range.
    let out = d
        .docker([
            "run",
            "--rm",
            "--network",
            "two",
            "busybox",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ])
        .ok();
    assert!(out.contains("10.254.3.128/24"), "{out}");
    d.docker(["rm", "-f", "both"]).ok();
    d.docker(["network", "rm", "one", "two"]).ok();
}

#[test]
fn publish_all_and_a_taken_static_address() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    // -P publishes every exposed port on a kernel-chosen host port.
    d.docker([
        "run",
        "-d",
        "--name",
        "exposed",
        "--expose",
        "80",
        "--expose",
        "7000/udp",
        "-P",
        "busybox",
        "sh",
        "-c",
        "mkdir /www && echo all > /www/index.html && exec httpd -f -p 80 -h /www",
    ])
    .ok();
    let ports = d.docker(["port", "exposed"]).ok();
    assert!(ports.contains("80/tcp -> 0.0.0.0:"), "{ports}");
    assert!(ports.contains("7000/udp -> 0.0.0.0:"), "{ports}");
    let port: u16 = ports
        .lines()
        .find(|l| l.starts_with("80/tcp"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .expect("a tcp binding");
    let mut body = None;
    eventually("the -P port to answer", || {
        body = http_get(Ipv4Addr::LOCALHOST, port);
        body.is_some()
    });
    assert_eq!(body.unwrap().trim(), "all");
    d.docker(["rm", "-f", "exposed"]).ok();
    // A static address in use is refused; nothing is left running.
    d.docker(["network", "create", "--subnet", "10.254.9.0/24", "fixed"])
        .ok();
    d.docker([
        "run",
        "-d",
        "--name",
        "first",
        "--network",
        "fixed",
        "--ip",
        "10.254.9.9",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let err = d
        .docker([
            "run",
            "--rm",
            "--name",
            "second",
            "--network",
            "fixed",
            "--ip",
            "10.254.9.9",
            "busybox",
            "true",
        ])
        .fails();
    assert!(err.contains("Address already in use"), "{err}");
    d.docker(["rm", "-f", "first"]).ok();
    // Released: the address can be taken again.
    d.docker([
        "run",
        "--rm",
        "--network",
        "fixed",
        "--ip",
        "10.254.9.9",
        "busybox",
        "true",
    ])
    .ok();
    d.docker(["network", "rm", "fixed"]).ok();
}
