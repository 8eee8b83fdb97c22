//! `network …` and `volume …`, and the prune commands over them.

use crate::harness::{ok, same, same_pair, started};

#[test]
fn networks_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let names = [("kn", "bn")];
    let pair = |b: &[&str], k: &[&str]| same_pair(&d, b, k, &names, None);
    pair(&["network", "create", "bn"], &["network", "create", "kn"]);
    pair(&["network", "create", "bn"], &["network", "create", "kn"]);
    pair(
        &[
            "network",
            "create",
            "--subnet",
            "10.197.1.0/24",
            "--label",
            "x=y",
            "bn2",
        ],
        &[
            "network",
            "create",
            "--subnet",
            "10.197.2.0/24",
            "--label",
            "x=y",
            "kn2",
        ],
    );
    ok(
        &d,
        &["run", "-d", "--name", "ctr", "busybox", "sleep", "300"],
    );
    for (b, k) in [
        (
            &["network", "connect", "bn", "ctr"][..],
            &["network", "connect", "kn", "ctr"][..],
        ),
        (
            &["network", "connect", "bn", "ctr"],
            &["network", "connect", "kn", "ctr"],
        ),
        (
            &["network", "disconnect", "bn", "ctr"],
            &["network", "disconnect", "kn", "ctr"],
        ),
        (
            &["network", "disconnect", "bn", "ctr"],
            &["network", "disconnect", "kn", "ctr"],
        ),
        (
            &[
                "network",
                "inspect",
                "-f",
                "{{.Name}} {{.Driver}} {{.Internal}}",
                "bn",
            ],
            &[
                "network",
                "inspect",
                "-f",
                "{{.Name}} {{.Driver}} {{.Internal}}",
                "kn",
            ],
        ),
    ] {
        pair(b, k);
    }
    for args in [
        &["network", "ls"][..],
        &["network", "ls", "-q"],
        &["network", "ls", "--no-trunc"],
        &["network", "ls", "--format", "{{json .}}"],
        &[
            "network",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Driver}}\t{{.IPv4}}\t{{.IPv6}}\t{{.Labels}}",
        ],
        &["network", "ls", "--filter", "name=bn"],
        &[
            "network",
            "ls",
            "--filter",
            "label=x=y",
            "--format",
            "{{.Name}}",
        ],
        &["network", "list", "--filter", "driver=bridge", "-q"],
        &["network", "inspect", "bridge"],
        &["network", "inspect", "bn", "kn"],
        &["network", "inspect", "nope"],
        &["network", "inspect", "bn", "nope"],
        &[
            "network",
            "inspect",
            "-f",
            "{{.IPAM.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}",
            "bn2",
        ],
        &["network", "rm", "nope"],
        &["network", "rm", "-f", "nope"],
        &["network", "create"],
        &["network", "connect", "nope", "ctr"],
        &["network", "disconnect", "nope", "ctr"],
        &["network", "ls", "--filter", "foo=bar"],
        &["network", "ls", "--format", "{{.Nope}}"],
        &["network", "frob"],
        &["network", "prune"],
    ] {
        same(&d, args);
    }
    pair(
        &["network", "rm", "bn", "nope"],
        &["network", "rm", "kn", "nope"],
    );
    // Unused networks go with prune: bn2 for berth, kn2 for docker.
    let b = d.berth(&["network", "prune", "-f"]);
    ok(&d, &["network", "create", "kn3"]);
    let k = d.docker(&["network", "prune", "-f"]);
    let (bo, ko) = (
        String::from_utf8_lossy(&b.stdout).into_owned(),
        String::from_utf8_lossy(&k.stdout).into_owned(),
    );
    assert!(
        bo.starts_with("Deleted Networks:\n") && bo.contains("bn2\n"),
        "{bo}"
    );
    assert_eq!(ko, "Deleted Networks:\nkn3\n\n");
    assert_eq!(b.status.code(), k.status.code());
}

#[test]
fn volumes_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let names = [("kv", "bv")];
    let pair = |b: &[&str], k: &[&str]| same_pair(&d, b, k, &names, None);
    pair(&["volume", "create", "bv"], &["volume", "create", "kv"]);
    pair(&["volume", "create", "bv"], &["volume", "create", "kv"]);
    pair(
        &["volume", "create", "--label", "a=b", "-d", "local", "bv2"],
        &["volume", "create", "--label", "a=b", "-d", "local", "kv2"],
    );
    let s = same_pair(&d, &["volume", "create"], &["volume", "create"], &[], None);
    assert_eq!(s.stdout, "<id>\n");
    ok(
        &d,
        &[
            "run", "-d", "--name", "ctr", "-v", "bv:/b", "-v", "kv:/k", "busybox", "sleep", "300",
        ],
    );
    for args in [
        &["volume", "ls"][..],
        &["volume", "ls", "-q"],
        &["volume", "ls", "--format", "{{json .}}"],
        &[
            "volume",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Driver}}\t{{.Labels}}",
        ],
        &["volume", "ls", "--filter", "name=bv"],
        &["volume", "ls", "--filter", "dangling=true", "-q"],
        &["volume", "ls", "--filter", "label=a=b"],
        &["volume", "inspect", "bv"],
        &["volume", "inspect", "bv", "nope"],
        &[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{json .Labels}}",
            "bv2",
        ],
        &["volume", "rm", "nope"],
        &["volume", "rm", "bv"],
        &["volume", "create", "a/b"],
        &["volume", "ls", "--filter", "foo=bar"],
        &["volume", "ls", "--format", "{{.Nope}}"],
        &["volume", "prune"],
        &["volume", "prune", "-a", "-f"],
        &["volume", "prune", "-a", "--filter", "all=1", "-f"],
        &["volume", "frob"],
        &["system", "prune"],
        &[
            "system",
            "prune",
            "-a",
            "--volumes",
            "--filter",
            "label=a=b",
            "--filter",
            "until=1h",
        ],
        &["system", "prune", "--volumes", "--filter", "until=1h"],
    ] {
        same(&d, args);
    }
    pair(
        &["volume", "rm", "bv2", "nope"],
        &["volume", "rm", "kv2", "nope"],
    );
    // What prune removes on API 1.41: every unused volume, named ones too.
    ok(&d, &["volume", "create", "bv3"]);
    let b = d.berth(&["volume", "prune", "-f"]);
    ok(&d, &["volume", "create", "bv4"]);
    let k = d.docker(&["volume", "prune", "-f"]);
    let text = |o: &std::process::Output| {
        crate::harness::normalize(&String::from_utf8_lossy(&o.stdout), &[("bv4", "bv3")])
    };
    assert_eq!(b.status.code(), k.status.code());
    assert!(text(&b).contains("bv3"), "{}", text(&b));
    assert!(text(&k).contains("bv3"), "{}", text(&k));
}
