//! `--help` of every command, the `help` command, usage errors, and `{{json}}` key
//! order, compared with the docker CLI byte for byte.
//!
//! docker's help lists a few flags and commands berth does not have; they are named
//! below ([`MISSING_FLAGS`], [`MISSING_COMMANDS`]) and cut from docker's text before
//! the comparison, which is otherwise exact (alignment and wrapping included: the
//! cut flags are never the widest of their command).

use crate::harness::{Daemon, Seen, same, seen, started};

/// Every command path berth has (the program itself is checked apart).
const COMMANDS: &[&str] = &[
    "run",
    "exec",
    "ps",
    "images",
    "version",
    "info",
    "build",
    "pull",
    "push",
    "login",
    "logout",
    "attach",
    "commit",
    "cp",
    "create",
    "diff",
    "events",
    "export",
    "history",
    "import",
    "inspect",
    "kill",
    "load",
    "logs",
    "pause",
    "port",
    "rename",
    "restart",
    "rm",
    "rmi",
    "save",
    "start",
    "stats",
    "stop",
    "tag",
    "top",
    "unpause",
    "update",
    "wait",
    "container",
    "container attach",
    "container commit",
    "container cp",
    "container create",
    "container diff",
    "container exec",
    "container export",
    "container inspect",
    "container kill",
    "container logs",
    "container ls",
    "container ps",
    "container list",
    "container pause",
    "container port",
    "container prune",
    "container rename",
    "container restart",
    "container rm",
    "container run",
    "container start",
    "container stats",
    "container stop",
    "container top",
    "container unpause",
    "container update",
    "container wait",
    "image",
    "image build",
    "image history",
    "image import",
    "image inspect",
    "image load",
    "image ls",
    "image list",
    "image prune",
    "image pull",
    "image push",
    "image rm",
    "image remove",
    "image save",
    "image tag",
    "network",
    "network connect",
    "network create",
    "network disconnect",
    "network inspect",
    "network ls",
    "network prune",
    "network rm",
    "volume",
    "volume create",
    "volume inspect",
    "volume ls",
    "volume prune",
    "volume rm",
    "system",
    "system df",
    "system events",
    "system info",
    "system prune",
    "search",
    "builder",
    "builder build",
    "builder prune",
    "context",
    "context create",
    "context export",
    "context import",
    "context inspect",
    "context ls",
    "context list",
    "context rm",
    "context remove",
    "context show",
    "context update",
    "context use",
    "plugin",
    "plugin create",
    "plugin disable",
    "plugin enable",
    "plugin inspect",
    "plugin install",
    "plugin ls",
    "plugin list",
    "plugin push",
    "plugin rm",
    "plugin remove",
    "plugin set",
    "plugin upgrade",
    "swarm",
    "swarm ca",
    "swarm init",
    "swarm join",
    "swarm join-token",
    "swarm leave",
    "swarm unlock",
    "swarm unlock-key",
    "swarm update",
    "node",
    "node demote",
    "node inspect",
    "node ls",
    "node list",
    "node promote",
    "node ps",
    "node rm",
    "node remove",
    "node update",
    "service",
    "service create",
    "service inspect",
    "service logs",
    "service ls",
    "service list",
    "service ps",
    "service rm",
    "service remove",
    "service rollback",
    "service scale",
    "service update",
    "stack",
    "stack config",
    "stack deploy",
    "stack up",
    "stack ls",
    "stack list",
    "stack ps",
    "stack rm",
    "stack remove",
    "stack down",
    "stack services",
    "secret",
    "secret create",
    "secret inspect",
    "secret ls",
    "secret list",
    "secret rm",
    "secret remove",
    "config",
    "config create",
    "config inspect",
    "config ls",
    "config list",
    "config rm",
    "config remove",
];

/// Flags docker lists that berth does not implement, by command.
const MISSING_FLAGS: &[(&str, &[&str])] = &[];

/// Commands docker has and berth does not.
const MISSING_COMMANDS: &[&str] = &["checkpoint", "manifest", "trust"];

/// docker's help of `path` without what berth lacks: the flag entries (a flag's line
/// and its continuation lines), the commands and the sections they leave empty.
fn docker_without_missing(path: &str, text: &str) -> String {
    let flags: &[&str] = MISSING_FLAGS
        .iter()
        .find(|(p, _)| *p == path)
        .map_or(&[], |(_, f)| f);
    let mut lines: Vec<&str> = Vec::new();
    let mut skipping = false;
    for l in text.split_inclusive('\n') {
        let flag = l
            .strip_prefix("      --")
            .or_else(|| {
                l.get(2..)
                    .filter(|_| l.starts_with("  -"))
                    .and_then(|r| r.get(6..))
            })
            .map(|r| r.split([' ', '\n']).next().unwrap_or(""));
        if let Some(name) = flag {
            skipping = flags.contains(&name);
        } else if !l.starts_with("       ") {
            skipping = false;
        }
        let command = l.strip_prefix("  ").and_then(|r| r.split(' ').next());
        let missing_command =
            path.is_empty() && command.is_some_and(|c| MISSING_COMMANDS.contains(&c));
        if !skipping && !missing_command {
            lines.push(l);
        }
    }
    // A section whose commands are all gone goes too.
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].ends_with("Commands:\n") && lines.get(i + 1) == Some(&"\n") {
            i += 2;
            continue;
        }
        out.push(lines[i]);
        i += 1;
    }
    out.concat()
}

/// berth's output as docker would print it: the harness's renaming, and the aliases
/// line (`  berth container run, berth run`).
fn berth_as_docker(s: Seen) -> Seen {
    let fix = |t: String| {
        t.split_inclusive('\n')
            .map(|l| {
                if l.starts_with("  berth ") {
                    l.replace("berth ", "docker ")
                } else {
                    l.to_string()
                }
            })
            .collect()
    };
    Seen {
        code: s.code,
        stdout: fix(s.stdout),
        stderr: fix(s.stderr),
    }
}

/// Runs `args` through both CLIs and compares, docker's text cut as above.
fn same_help(d: &Daemon, path: &str, args: &[&str]) {
    let b = berth_as_docker(seen(&d.berth(args), true));
    let k = seen(&d.docker(args), false);
    let k = Seen {
        code: k.code,
        stdout: docker_without_missing(path, &k.stdout),
        stderr: docker_without_missing(path, &k.stderr),
    };
    assert_eq!(
        b, k,
        "berth and docker differ for {args:?} (left berth)\n--- berth stdout:\n{}\n--- docker stdout:\n{}",
        b.stdout, k.stdout
    );
}

#[test]
fn help_of_every_command_matches_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = Daemon::start();
    same_help(&d, "", &["--help"]);
    same_help(&d, "", &["help"]);
    // No command: the help, on stderr.
    same_help(&d, "", &[]);
    // The deprecated shorthand, with its notice (stderr for the program, stdout for
    // a command).
    same_help(&d, "", &["-h"]);
    for path in COMMANDS {
        let words: Vec<&str> = path.split(' ').collect();
        let mut args = words.clone();
        args.push("--help");
        same_help(&d, path, &args);
        let mut args = vec!["help"];
        args.extend(&words);
        same_help(&d, path, &args);
    }
    for args in [
        &["ps", "-h"][..],
        &["container", "ls", "-ah"],
        &["--help", "ps"],
        &["container", "--help", "ls"],
        &["volume", "bogus", "--help"],
        &["ps", "--help=true"],
        &["container"],
        &["network"],
    ] {
        let path = args
            .iter()
            .filter(|a| !a.starts_with('-') && **a != "bogus")
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        same_help(&d, &path, args);
    }
}

#[test]
fn usage_errors_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = Daemon::start();
    for args in [
        // Missing or extra arguments: the count, the usage line, the pointer to --help.
        &["run"][..],
        &["create"],
        &["rm"],
        &["rename", "a"],
        &["tag"],
        &["port"],
        &["wait"],
        &["exec", "x"],
        &["cp", "a"],
        &["container", "cp", "a"],
        &["container", "ps", "x"],
        &["image", "rm"],
        &["network", "create"],
        &["volume", "rm"],
        &["version", "x"],
        // A flag error comes before the help.
        &["ps", "-x", "--help"],
        &["ps", "--help", "--bogus"],
        &["container", "list", "-x"],
        &["run", "-h"],
        &["ps", "--format"],
        &["logs", "-fn"],
        &["container", "inspect", "--platform", "x", "c"],
        &["image", "inspect", "--size", "x"],
        &["image", "inspect", "--platform", "linux/amd64", "x"],
        &["network", "inspect", "-x", "bridge"],
        // The help command's own errors.
        &["help", "bogus"],
        &["help", "run", "x"],
        &["help", "container", "bogus"],
        &["help", "-a"],
        &["help", "--help"],
        &["help", "help"],
    ] {
        same(&d, args);
    }
}

#[test]
fn json_keys_in_docker_order() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let out = d.berth(&[
        "run",
        "-d",
        "--name",
        "j1",
        "-l",
        "b=2",
        "-l",
        "a=1",
        "-e",
        "X=1",
        "--expose",
        "80",
        "--health-cmd",
        "true",
        "--health-interval",
        "1h",
        "--stop-timeout",
        "5",
        "busybox",
        "sleep",
        "300",
    ]);
    assert!(out.status.success(), "berth run -d: {out:?}");
    let out = d.berth(&["create", "--name", "j2", "-w", "/tmp", "busybox", "true"]);
    assert!(out.status.success(), "berth create: {out:?}");
    for c in ["j1", "j2"] {
        for f in [
            "{{json .State}}",
            "{{json .Config}}",
            "{{json .NetworkSettings}}",
            "{{json .HostConfig}}",
            "{{json .HostConfig.LogConfig}}",
            "{{json .Mounts}}",
            "{{json .GraphDriver}}",
            "{{json .}}",
            "{{.ID}} {{.Id}} {{.Config.Labels.missing}}",
            "{{.NetworkSettings.Networks.bridge.GwPriority}}",
            "{{.HostConfig.CPUShares}}",
            "{{.HostConfig.CpuShares}}",
        ] {
            same(&d, &["inspect", "-f", f, c]);
            same(&d, &["container", "inspect", "--format", f, c]);
        }
    }
    // Go prints a struct's fields in order (a set health pointer would print as an
    // address, so the container without a healthcheck).
    same(&d, &["inspect", "-f", "{{.State}}", "j2"]);
    for f in [
        "{{json .}}",
        "{{json .IPAM}}",
        "{{json .Containers}}",
        "{{.ID}}",
    ] {
        same(&d, &["network", "inspect", "-f", f, "bridge"]);
    }
    for args in [
        &["ps", "-a", "--format", "{{json .}}"][..],
        &["ps", "-a", "--format", "json"],
        &["ps", "-a", "-s", "--format", "json"],
        &["container", "ls", "-a", "--format", "{{json .Labels}}"],
        &["images", "--format", "{{json .}}"],
        &["images", "--format", "json"],
        &["image", "ls", "--format", "{{json .Repository}}"],
    ] {
        same(&d, args);
    }
}
