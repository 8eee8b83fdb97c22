//! Lifecycle commands on twin containers: create, start (-a, -i), pause/unpause,
//! kill -s, restart, rename, update, wait, stop, rm, container prune, and create
//! with several networks.

use crate::harness::{ok, same, same_pair, started};

/// `docker <args>` for docker's twin: the berth twin's name swapped for docker's.
fn twin<'a>(args: &[&'a str], b: &str, k: &'a str) -> Vec<&'a str> {
    args.iter().map(|a| if *a == b { k } else { *a }).collect()
}

#[test]
fn lifecycle_matches_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let names = [("k1", "b1")];
    let pair = |args: &[&str]| {
        let k = twin(args, "b1", "k1");
        same_pair(&d, args, &k, &names, None)
    };
    pair(&["create", "--name", "b1", "busybox", "sleep", "300"]);
    pair(&["start", "b1"]);
    for args in [
        &["pause", "b1"][..],
        &["pause", "b1"],
        &["unpause", "b1"],
        &["unpause", "b1"],
        &["kill", "-s", "USR1", "b1"],
        &["kill", "-s", "SIGFOO", "b1"],
        &["update", "--memory", "64m", "--cpus", "0.5", "b1"],
        &["update", "b1"],
        &["update", "--restart", "always", "b1"],
        &["update", "--restart", "no", "b1"],
        &["restart", "-t", "1", "b1"],
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.HostConfig.Memory}}",
            "b1",
        ],
        &["rename", "b1", "nope/x"],
        &["stop", "-t", "1", "b1"],
        &["wait", "b1"],
        &["start", "-a", "b1", "b1"],
        &["rm", "b1"],
        &["rm", "b1"],
    ] {
        pair(args);
    }
    // Errors and statuses that involve no twin.
    for args in [
        &["pause", "nope"][..],
        &["unpause", "nope"],
        &["restart", "nope"],
        &["wait", "nope"],
        &["rename", "nope", "x"],
        &["rename", "a"],
        &["rename", "a", " "],
        &["update", "--cpus", "x", "nope"],
        &["update", "--memory", "64m", "nope"],
        &["kill", "nope"],
        &["start", "nope"],
        &["start", "-a", "nope"],
        &["create", "--pull", "never", "nosuch", "true"],
        &[
            "create",
            "--cidfile",
            "/nonexistent/dir/cid",
            "busybox",
            "true",
        ],
        &["create", "--memory", "lots", "busybox", "true"],
        &["run", "--memory", "lots", "busybox", "true"],
        &["create", "Bad", "true"],
        &["run", "--rm", "a b", "true"],
        &["create", "--network", "name=n,foo=1", "busybox", "true"],
        &[
            "create",
            "--network",
            "n1",
            "--network",
            "host",
            "busybox",
            "true",
        ],
        &[
            "create",
            "--network",
            "n1",
            "--network",
            "n1",
            "busybox",
            "true",
        ],
        &["create", "--pull", "sometimes", "busybox", "true"],
    ] {
        same(&d, args);
    }
    // A rename, each to its own new name.
    pair(&["create", "--name", "b1", "busybox", "true"]);
    same_pair(
        &d,
        &["rename", "b1", "b2"],
        &["rename", "k1", "k2"],
        &[("k2", "b2")],
        None,
    );
    // A name already taken: the daemon's error, then docker's summary.
    ok(&d, &["create", "--name", "taken", "busybox", "true"]);
    same_pair(
        &d,
        &["rename", "b2", "taken"],
        &["rename", "k2", "taken"],
        &[("k2", "b2")],
        None,
    );
    // start -a: the container's output, its status; start -ai: stdin reaches it.
    same_pair(
        &d,
        &[
            "create",
            "--name",
            "b3",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 4",
        ],
        &[
            "create",
            "--name",
            "k3",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 4",
        ],
        &[],
        None,
    );
    let s = same_pair(
        &d,
        &["start", "-a", "b3"],
        &["start", "-a", "k3"],
        &[],
        None,
    );
    assert_eq!(
        (s.code, s.stdout.as_str(), s.stderr.as_str()),
        (Some(4), "out\n", "err\n")
    );
    same_pair(
        &d,
        &[
            "create", "-i", "--name", "b4", "busybox", "tr", "a-z", "A-Z",
        ],
        &[
            "create", "-i", "--name", "k4", "busybox", "tr", "a-z", "A-Z",
        ],
        &[],
        None,
    );
    let s = same_pair(
        &d,
        &["start", "-ai", "b4"],
        &["start", "-ai", "k4"],
        &[],
        Some(b"hello\n"),
    );
    assert_eq!(s.stdout, "HELLO\n");
    // wait prints each status.
    same_pair(
        &d,
        &["run", "--name", "b5", "busybox", "sh", "-c", "exit 6"],
        &["run", "--name", "k5", "busybox", "sh", "-c", "exit 6"],
        &[],
        None,
    );
    let s = same_pair(&d, &["wait", "b5", "b3"], &["wait", "k5", "k3"], &[], None);
    assert_eq!(s.stdout, "6\n4\n");
    // The cidfile holds the ID.
    let dir = tempfile::tempdir().expect("temp dir");
    let (bc, kc) = (dir.path().join("b.cid"), dir.path().join("k.cid"));
    let (bc, kc) = (bc.to_str().expect("utf-8"), kc.to_str().expect("utf-8"));
    let s = same_pair(
        &d,
        &["create", "--cidfile", bc, "busybox", "true"],
        &["create", "--cidfile", kc, "busybox", "true"],
        &[],
        None,
    );
    assert_eq!(std::fs::read_to_string(bc).expect("cidfile").len(), 64);
    assert_eq!(s.stdout, "<id>\n");
    same_pair(
        &d,
        &["create", "--cidfile", bc, "busybox", "true"],
        &["create", "--cidfile", kc, "busybox", "true"],
        &[(kc, bc)],
        None,
    );
    // container prune: everything stopped goes (the lists are the daemon's).
    ok(
        &d,
        &["rm", "-f", "b2", "k2", "b3", "k3", "b4", "k4", "b5", "k5"],
    );
    ok(&d, &["container", "prune", "-f"]);
    for who in ["b", "k"] {
        ok(
            &d,
            &["create", "--name", &format!("{who}6"), "busybox", "true"],
        );
    }
    let b = d.berth(&["container", "prune", "-f"]);
    for who in ["b", "k"] {
        ok(
            &d,
            &["create", "--name", &format!("{who}7"), "busybox", "true"],
        );
    }
    let k = d.docker(&["container", "prune", "-f"]);
    let count = |o: &std::process::Output| {
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        crate::harness::normalize(&s, &[])
    };
    assert_eq!(count(&b), count(&k));
    assert!(count(&b).starts_with("Deleted Containers:\n<id>\n<id>\n\nTotal reclaimed space: "));
    // Declined or unanswered prompts change nothing.
    same(&d, &["container", "prune"]);
    same(&d, &["container", "prune", "--filter", "until=1h", "-f"]);
    same(&d, &["container", "prune", "--filter", "foo=bar", "-f"]);
}

#[test]
fn create_with_several_networks_matches_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    ok(&d, &["network", "create", "n1"]);
    ok(&d, &["network", "create", "n2"]);
    let names = [("k1", "b1")];
    same_pair(
        &d,
        &[
            "create",
            "--name",
            "b1",
            "--network",
            "n1",
            "--network",
            "name=n2,alias=x",
            "--network-alias",
            "web",
            "busybox",
            "true",
        ],
        &[
            "create",
            "--name",
            "k1",
            "--network",
            "n1",
            "--network",
            "name=n2,alias=x",
            "--network-alias",
            "web",
            "busybox",
            "true",
        ],
        &names,
        None,
    );
    let f = "{{.HostConfig.NetworkMode}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.Aliases}} {{end}}";
    let s = same_pair(
        &d,
        &["inspect", "-f", f, "b1"],
        &["inspect", "-f", f, "k1"],
        &names,
        None,
    );
    assert_eq!(s.stdout, "n1 n1=[web] n2=[x] \n");
    // Started, the container is on both networks.
    same_pair(&d, &["start", "b1"], &["start", "k1"], &names, None);
    let f = "{{len .NetworkSettings.Networks}}";
    let s = same_pair(
        &d,
        &["inspect", "-f", f, "b1"],
        &["inspect", "-f", f, "k1"],
        &names,
        None,
    );
    assert_eq!(s.stdout, "2\n");
}
