//! Flags of `run`/`create` and `network` whose values docker sends to any daemon:
//! `--gpus` (device requests the daemon fails at start, as dockerd without a device
//! driver), `--use-api-socket` (the daemon's socket and the CLI's credentials in the
//! container), `network connect --gw-priority` and `network create --aux-address`,
//! `--config-only`, `--config-from`, `--ipv4` (refused by berthd with a 400, never
//! ignored), with docker's client-side checks of the IPAM flags.

use crate::harness::{DOCKER, Daemon, Seen, berth_bin, ok, same, same_pair, seen, started};

/// Runs `args` with `env` through both CLIs and asserts the same output and status.
fn same_env(d: &Daemon, args: &[&str], env: &[(&str, &str)]) -> Seen {
    let b = seen(&d.cli_env(berth_bin(), args, None, env), true);
    let k = seen(&d.cli_env(DOCKER, args, None, env), false);
    assert_eq!(
        b, k,
        "berth and docker differ for {args:?} with {env:?} (left berth)"
    );
    b
}

#[test]
fn gpu_requests_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    // No device driver serves them: the create passes, the start fails (500).
    let s = same(&d, &["run", "--rm", "--gpus", "all", "busybox", "true"]);
    assert_eq!(s.code, Some(125));
    assert!(
        s.stderr
            .contains("could not select device driver \"\" with capabilities: [[gpu]]"),
        "{s:?}"
    );
    let gpus = "driver=nvidia,\"capabilities=compute,utility\",\"options=a=b\"";
    let names = [("kg", "bg")];
    let pair = |b: &[&str], k: &[&str]| same_pair(&d, b, k, &names, None);
    pair(
        &["create", "--gpus", gpus, "--name", "bg", "busybox", "true"],
        &["create", "--gpus", gpus, "--name", "kg", "busybox", "true"],
    );
    let s = pair(&["start", "bg"], &["start", "kg"]);
    assert_eq!(s.code, Some(1));
    let state = "{{json .HostConfig.DeviceRequests}} {{.State.ExitCode}} {{.State.Error}}";
    let s = pair(
        &["inspect", "--format", state, "bg"],
        &["inspect", "--format", state, "kg"],
    );
    assert_eq!(
        s.stdout,
        "[{\"Driver\":\"nvidia\",\"Count\":1,\"DeviceIDs\":null,\"Capabilities\":[[\"compute\",\"utility\",\"gpu\"]],\"Options\":{\"a\":\"b\"}}] 128 could not select device driver \"nvidia\" with capabilities: [[compute utility gpu]]\n"
    );
    // Values pflag refuses, with docker's words.
    for bad in ["two", "foo=1", "2,count=3", "", "\"device=1"] {
        let s = same(&d, &["run", "--rm", "--gpus", bad, "busybox", "true"]);
        assert_eq!(s.code, Some(125), "{bad:?}: {s:?}");
    }
}

#[test]
fn api_socket_matches_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    std::fs::write(
        d.docker_config.join("config.json"),
        r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwdw=="},"r.test":{"auth":"YTpi","identitytoken":"<tok>"}}}"#,
    )
    .expect("write config.json");
    let look = "ls -ln /var/run/docker.sock | cut -c1-10; \
                stat -c '%a %u %g %s %n' /run/secrets/docker /run/secrets/docker/config.json; \
                cat /run/secrets/docker/config.json; echo; echo \"[$DOCKER_CONFIG]\"";
    let s = same(
        &d,
        &[
            "run",
            "--rm",
            "--use-api-socket",
            "busybox",
            "sh",
            "-c",
            look,
        ],
    );
    assert_eq!(s.code, Some(0), "{s:?}");
    assert!(s.stdout.starts_with("srw"), "the socket is mounted: {s:?}");
    assert!(
        s.stdout
            .contains("\"identitytoken\": \"\\u003ctok\\u003e\"")
    );
    assert!(s.stdout.ends_with("[/run/secrets/docker]\n"), "{s:?}");
    // DOCKER_AUTH_CONFIG wins when it holds credentials; the user's DOCKER_CONFIG
    // means nothing is injected.
    let from_env = [(
        "DOCKER_AUTH_CONFIG",
        r#"{"auths":{"e.test":{"auth":"ZTpm"}}}"#,
    )];
    let s = same_env(
        &d,
        &[
            "run",
            "--rm",
            "--use-api-socket",
            "busybox",
            "cat",
            "/run/secrets/docker/config.json",
        ],
        &from_env,
    );
    assert_eq!(
        s.stdout,
        "{\n\t\"auths\": {\n\t\t\"e.test\": {\n\t\t\t\"auth\": \"ZTpm\"\n\t\t}\n\t}\n}"
    );
    let s = same(
        &d,
        &[
            "run",
            "--rm",
            "-e",
            "DOCKER_CONFIG=/x",
            "--use-api-socket",
            "busybox",
            "sh",
            "-c",
            "echo \"[$DOCKER_CONFIG]\"; ls /run/secrets",
        ],
    );
    assert_eq!(s.stdout, "[/x]\n");
    std::fs::remove_file(d.docker_config.join("config.json")).expect("remove config.json");
    let s = same(
        &d,
        &[
            "run",
            "--rm",
            "--use-api-socket",
            "busybox",
            "sh",
            "-c",
            "echo \"[$DOCKER_CONFIG]\"; ls /run/secrets",
        ],
    );
    assert_eq!(s.stdout, "[]\n");
    // Only over a unix socket (refused before any connection).
    for cmd in ["run", "create"] {
        let s = same(
            &d,
            &[
                "-H",
                "tcp://127.0.0.1:1",
                cmd,
                "--use-api-socket",
                "busybox",
                "true",
            ],
        );
        assert!(s.stderr.contains("flag --use-api-socket can only be used with unix sockets: docker endpoint tcp://127.0.0.1:1 incompatible"), "{s:?}");
    }
    // Credentials that do not parse: docker's words up to the JSON decoder's own.
    let bad = [("DOCKER_AUTH_CONFIG", "nope")];
    let prefix =
        "resolving credentials failed: failed to read credentials from DOCKER_AUTH_CONFIG: ";
    for (cmd, code) in [("run", 125), ("create", 1)] {
        let args = [cmd, "--use-api-socket", "busybox", "true"];
        let b = seen(&d.cli_env(berth_bin(), &args, None, &bad), true);
        let k = seen(&d.cli_env(DOCKER, &args, None, &bad), false);
        for s in [&b, &k] {
            assert_eq!(s.code, Some(code), "{s:?}");
            assert!(s.stderr.contains(prefix), "{s:?}");
        }
    }
}

#[test]
fn network_flags_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    // berthd refuses what it does not implement (the CLI's checks pass).
    for flags in [
        &["--subnet", "10.196.1.0/24", "--aux-address", "a=10.196.1.5"][..],
        &["--config-only"],
        &["--config-from", "base"],
        &["--ipv4=false"],
    ] {
        let args: Vec<&str> = ["network", "create"]
            .iter()
            .chain(flags)
            .chain(&["nope"])
            .copied()
            .collect();
        let s = same(&d, &args);
        assert_eq!(s.code, Some(1), "{flags:?}");
        assert!(s.stderr.contains("are not supported by berth"), "{s:?}");
    }
    // The CLI's own checks of the IPAM flags.
    for flags in [
        &["--subnet", "10.196.1.0/24", "--aux-address", "a=10.196.2.5"][..],
        &["--gateway", "10.196.1.1"],
        &["--subnet", "10.196.0.0/16", "--subnet", "10.196.1.0/24"],
        &["--subnet", "10.196.1.0/24", "--gateway", "10.196.2.1"],
        &["--subnet", "10.196.1.0/24", "--ip-range", "10.196.2.0/25"],
        &["--subnet", "10.196.1.0/24", "--ip-range", "nope"],
        &["--subnet", "bad", "--gateway", "10.196.1.1"],
        &["--ipv4=maybe"],
    ] {
        let args: Vec<&str> = ["network", "create"]
            .iter()
            .chain(flags)
            .chain(&["nope"])
            .copied()
            .collect();
        let s = same(&d, &args);
        assert_ne!(s.code, Some(0), "{flags:?}");
    }
    let names = [("kn", "bn"), ("kc", "bc")];
    let pair = |b: &[&str], k: &[&str]| same_pair(&d, b, k, &names, None);
    // IPv4 on (what berth does anyway) and IPv6 off are accepted.
    let s = pair(
        &[
            "network",
            "create",
            "--ipv4",
            "--ipv6=false",
            "--subnet",
            "10.196.3.0/24",
            "bn",
        ],
        &[
            "network",
            "create",
            "--ipv4",
            "--ipv6=false",
            "--subnet",
            "10.196.4.0/24",
            "kn",
        ],
    );
    assert_eq!(s.code, Some(0));
    ok(&d, &["create", "--name", "kc", "busybox", "true"]);
    let s = d.berth(&["create", "--name", "bc", "busybox", "true"]);
    assert!(s.status.success(), "{s:?}");
    // A gateway priority is refused, not ignored; 0 is what docker always sends.
    let s = pair(
        &["network", "connect", "--gw-priority", "5", "bn", "bc"],
        &["network", "connect", "--gw-priority", "5", "kn", "kc"],
    );
    assert!(
        s.stderr.contains("(GwPriority) are not supported by berth"),
        "{s:?}"
    );
    let s = pair(
        &["network", "connect", "--gw-priority=0", "bn", "bc"],
        &["network", "connect", "--gw-priority=0", "kn", "kc"],
    );
    assert_eq!(s.code, Some(0), "{s:?}");
    same(
        &d,
        &["network", "connect", "--gw-priority", "x", "bn", "bc"],
    );
    let s = pair(
        &[
            "run",
            "--rm",
            "--network",
            "name=bn,gw-priority=-3",
            "busybox",
            "true",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "name=kn,gw-priority=-3",
            "busybox",
            "true",
        ],
    );
    assert_eq!(s.code, Some(125));
    assert!(
        s.stderr.contains("(GwPriority) are not supported by berth"),
        "{s:?}"
    );
}

/// The keys of a JSON object's text in order, with the values of `keep`.
fn keys_and(json_line: &str, keep: &[&str]) -> (Vec<String>, Vec<String>) {
    let v: serde_json::Value = serde_json::from_str(json_line).expect("a JSON line");
    let mut keys = Vec::new();
    let mut rest = json_line;
    // Keys in the text's order (serde_json's map may sort them).
    while let Some(i) = rest.find("\":") {
        let head = &rest[..i];
        if let Some(q) = head.rfind(['{', ',']) {
            keys.push(head[q + 1..].trim_start_matches('"').to_string());
        }
        rest = &rest[i + 2..];
    }
    let kept = keep
        .iter()
        .map(|k| v[*k].as_str().unwrap_or_default().to_string())
        .collect();
    (keys, kept)
}

#[test]
fn stats_names_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    ok(
        &d,
        &["run", "-d", "--name", "st1", "busybox", "sleep", "300"],
    );
    let names = "{{.Container}}|{{.ID}}|{{.Name}}";
    for args in [
        &["stats", "--no-stream", "--format", names][..],
        &["stats", "--no-stream", "--no-trunc", "--format", names],
        &["stats", "--no-stream", "--format", names, "st1"],
    ] {
        let s = same(&d, args);
        assert_eq!(s.code, Some(0), "{s:?}");
    }
    let s = same(&d, &["stats", "--no-stream", "--format", "{{.Container}}"]);
    assert_eq!(s.stdout.trim().len(), 12, "the short ID: {s:?}");
    // `{{json .}}`: docker's keys in its order; the names and IDs alike (the
    // measures differ from one sample to the next).
    let keep = ["Container", "ID", "Name"];
    let json = |prog: &str| {
        let o = d.cli(
            prog,
            &["stats", "--no-stream", "--format", "{{json .}}"],
            None,
        );
        assert!(o.status.success(), "{prog}: {o:?}");
        keys_and(String::from_utf8_lossy(&o.stdout).trim(), &keep)
    };
    let (b, k) = (json(berth_bin()), json(DOCKER));
    assert_eq!(b, k, "left berth");
    assert_eq!(k.1[0].len(), 12, "{k:?}");
}
