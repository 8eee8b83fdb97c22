//! Output, error and exit-status comparisons with the docker CLI.

use crate::harness::{Daemon, same, started};

#[test]
fn listings_and_inspect_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    // Empty lists: headers only.
    same(&d, &["ps"]);
    same(&d, &["ps", "-a"]);
    let out = d.berth(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "tier=front",
        "busybox",
        "sleep",
        "300",
    ]);
    assert!(out.status.success(), "berth run -d: {out:?}");
    let out = d.berth(&["run", "--name", "done", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = d.berth(&[
        "create",
        "--name",
        "fresh",
        "busybox",
        "echo",
        "a very long command line to be cut",
    ]);
    assert!(out.status.success(), "berth create: {out:?}");
    for args in [
        &["ps"][..],
        &["ps", "-a"],
        &["ps", "-a", "--no-trunc"],
        &["ps", "-a", "-s"],
        &["ps", "-q"],
        &["ps", "-aq"],
        &["ps", "-n", "1"],
        &["ps", "-l"],
        &["ps", "-a", "--filter", "status=exited"],
        &[
            "ps",
            "-a",
            "--filter",
            "label=tier=front",
            "--format",
            "{{.Names}}",
        ],
        &["ps", "-a", "--format", "{{json .}}"],
        &[
            "ps",
            "-a",
            "--format",
            "table {{.ID}}\t{{.Names}}\t{{.State}}\t{{.Labels}}",
        ],
        &[
            "ps",
            "-a",
            "--format",
            "{{.Names}}: {{upper .State}} {{.Command}}",
        ],
        &["container", "ls", "-a"],
        &["container", "list", "--format", "{{.Image}}"],
        &["images"],
        &["images", "-q"],
        &["images", "--no-trunc"],
        &["images", "--digests"],
        &["images", "--format", "{{json .}}"],
        &[
            "images",
            "--format",
            "table {{.Repository}}:{{.Tag}}\t{{.Size}}",
        ],
        &["image", "ls", "busybox"],
        &["history", "busybox"],
        &["history", "--no-trunc", "busybox"],
        &["history", "-H=false", "busybox"],
        &["history", "--format", "{{json .}}", "busybox"],
        &["image", "history", "-q", "busybox"],
        &["inspect", "web"],
        &["inspect", "busybox"],
        &[
            "inspect",
            "--format",
            "{{.State.Status}} {{.Config.Image}} {{json .Config.Labels}}",
            "web",
            "done",
        ],
        &[
            "inspect",
            "--type",
            "image",
            "--format",
            "{{.Id}} {{.Os}}",
            "busybox",
        ],
        &["container", "inspect", "-f", "{{.State.ExitCode}}", "done"],
        &["image", "inspect", "-f", "{{index .RepoTags 0}}", "busybox"],
        &["system", "df"],
        &["system", "df", "-v"],
        &["system", "df", "--format", "{{.Type}}={{.TotalCount}}"],
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}",
        ],
        &[
            "inspect",
            "--format",
            "{{.ID}} {{.HostConfig.NanoCPUs}}",
            "web",
        ],
        &[
            "info",
            "--format",
            "{{.Containers}} {{.ContainersRunning}} {{.Images}} {{.Driver}} {{.OSType}}",
        ],
        &["top", "web"],
        &["port", "web"],
        &["diff", "fresh"],
        &["logs", "done"],
    ] {
        same(&d, args);
    }
    // The server half of `info` (the client half names each CLI).
    let b = String::from_utf8_lossy(&d.berth(&["info"]).stdout).into_owned();
    let k = String::from_utf8_lossy(&d.docker(&["info"]).stdout).into_owned();
    // docker prints the runtimes in Go's map order, which varies run to
    // run: the line is compared as a set.
    let server = |s: &str| {
        s.split_once("\nServer:\n").map(|(_, r)| {
            r.lines()
                .map(|l| match l.strip_prefix(" Runtimes:") {
                    Some(names) => {
                        let mut n: Vec<&str> = names.split_whitespace().collect();
                        n.sort();
                        format!(" Runtimes: {}", n.join(" "))
                    }
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    assert!(server(&b).is_some(), "berth info: {b}");
    assert_eq!(server(&b), server(&k));
}

#[test]
fn errors_and_statuses_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let out = d.berth(&["run", "-d", "--name", "web", "busybox", "sleep", "300"]);
    assert!(out.status.success(), "berth run -d: {out:?}");
    for args in [
        &["rm", "nope"][..],
        &["stop", "nope", "web2"],
        &["inspect", "nope"],
        &["inspect", "web", "nope"],
        &["container", "inspect", "nope"],
        &["image", "inspect", "nope"],
        &["history", "nope"],
        &["rmi", "nope"],
        &["logs", "nope"],
        &["top", "nope"],
        &["kill", "-s", "FOO", "web"],
        &["ps", "--filter", "foo=bar"],
        &["images", "--filter", "x=y"],
        &["run", "--foo", "busybox"],
        &["run", "-Z", "busybox"],
        &["ps", "-n", "abc"],
        &["ps", "--format"],
        &["ps", "x"],
        &["run"],
        &["rm"],
        &["logs"],
        &["exec", "web"],
        &["rename", "a"],
        &["cp", "a"],
        &["frob"],
        &["container", "frob"],
        &["image", "frob"],
        &["ps", "--format", "{{.Nope}}"],
        &["ps", "--format", "{{"],
        &["images", "--format", "{{.Nope}}"],
        &["inspect", "-f", "{{.Nope}}", "web"],
        &["inspect", "-f", "{{", "web"],
    ] {
        same(&d, args);
    }
    // The daemon is unreachable: the wording names berth and says to start it.
    let out = std::process::Command::new(crate::harness::berth_bin())
        .args(["-H", "unix:///nonexistent/berth.sock", "ps"])
        .output()
        .expect("run berth");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Cannot connect to the berth daemon at unix:///nonexistent/berth.sock. Is the daemon running?\n"
    );
}

#[test]
fn run_exit_statuses_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d: Daemon = started();
    for (args, code) in [
        (&["run", "--rm", "busybox", "true"][..], 0),
        (
            &[
                "run",
                "--rm",
                "busybox",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 3",
            ],
            3,
        ),
        (&["run", "--rm", "busybox", "/nonexistent"], 127),
        (&["run", "--rm", "busybox", "/etc"], 126),
        (
            &["run", "--rm", "--pull", "never", "nosuchimage:1", "true"],
            125,
        ),
        (
            &["run", "--rm", "--restart", "always", "busybox", "true"],
            125,
        ),
        (
            &[
                "run",
                "--rm",
                "-e",
                "A=1",
                "-w",
                "/tmp",
                "-u",
                "65534",
                "busybox",
                "sh",
                "-c",
                "echo $A $(pwd) $(id -u)",
            ],
            0,
        ),
        (
            &[
                "run",
                "--rm",
                "--entrypoint",
                "echo",
                "busybox",
                "via",
                "entrypoint",
            ],
            0,
        ),
        (&["run", "--rm", "-i", "busybox", "cat"], 0),
    ] {
        let s = same(&d, args);
        assert_eq!(s.code, Some(code), "{args:?}: {s:?}");
    }
    // stdin reaches the container and its end closes the container's stdin.
    let out = d.cli(
        crate::harness::berth_bin(),
        &["run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z"],
        Some(b"hello\n"),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\n");
    assert_eq!(out.status.code(), Some(0));
}
