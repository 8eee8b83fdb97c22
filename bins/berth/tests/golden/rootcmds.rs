//! The root commands around the engine: `context` (docker's context store, shared
//! by the two CLIs), and the commands that only relay the daemon's answer
//! (`search`, `plugin`, the swarm family), compared with the docker CLI v28.
//!
//! Context runs use a configuration directory of their own per CLI (each CLI keeps
//! its own store through the same sequence of commands) and compare with that
//! directory's path written `CFG`. Without `DOCKER_HOST` the default context is each
//! CLI's default socket, which differs (docker's `/var/run/docker.sock`); runs whose
//! output shows it set `DOCKER_HOST` to the daemon's socket, which both then warn
//! about.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::harness::{DOCKER, Daemon, Seen, as_docker, berth_bin, same, same_in, wait_output};

/// One CLI with its own configuration directory.
struct Cli<'a> {
    prog: &'a str,
    config: &'a Path,
}

impl Cli<'_> {
    /// Runs `args` with `env`; `DOCKER_HOST` and `DOCKER_CONTEXT` only as `env` says.
    fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&Path>) -> Output {
        let mut c = Command::new(self.prog);
        c.args(args)
            .env_remove("DOCKER_HOST")
            .env_remove("BERTH_HOST")
            .env_remove("BERTH_CONFIG")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION")
            .env("DOCKER_CONFIG", self.config)
            .envs(env.iter().copied())
            .stdin(match stdin {
                Some(p) => Stdio::from(std::fs::File::open(p).expect("open stdin file")),
                None => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.prog));
        wait_output(child, &format!("{} {args:?}", self.prog))
    }

    fn seen(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&Path>) -> Seen {
        let o = self.run(args, env, stdin);
        let berth = self.prog != DOCKER;
        let cfg = self.config.display().to_string();
        let fix = |b: &[u8]| {
            let s = String::from_utf8_lossy(b).replace(&cfg, "CFG");
            if berth { as_docker(&s) } else { s }
        };
        Seen {
            code: o.status.code(),
            stdout: fix(&o.stdout),
            stderr: fix(&o.stderr),
        }
    }
}

/// The two CLIs, each with a fresh configuration directory below `root`.
struct Pair {
    _dir: tempfile::TempDir,
    berth_cfg: std::path::PathBuf,
    docker_cfg: std::path::PathBuf,
}

impl Pair {
    fn new() -> Pair {
        let dir = tempfile::tempdir().expect("create config dirs");
        let berth_cfg = dir.path().join("b");
        let docker_cfg = dir.path().join("d");
        Pair {
            _dir: dir,
            berth_cfg,
            docker_cfg,
        }
    }

    fn berth(&self) -> Cli<'_> {
        Cli {
            prog: berth_bin(),
            config: &self.berth_cfg,
        }
    }

    fn docker(&self) -> Cli<'_> {
        Cli {
            prog: DOCKER,
            config: &self.docker_cfg,
        }
    }

    /// Runs `args` through both, each on its own store, and asserts the same output.
    fn same(&self, args: &[&str], env: &[(&str, &str)]) -> Seen {
        let b = self.berth().seen(args, env, None);
        let k = self.docker().seen(args, env, None);
        assert_eq!(
            b, k,
            "berth and docker differ for {args:?} {env:?} (left berth)"
        );
        b
    }
}

fn sock(d: &Daemon) -> String {
    format!("unix://{}", d.sock.display())
}

#[test]
fn context_commands_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = Daemon::start();
    let p = Pair::new();
    let host = sock(&d);
    let with_host = [("DOCKER_HOST", host.as_str())];
    let docker_arg = format!("host={host}");
    // Creation: from --docker, from another context, from the current one, and
    // every refusal on the way.
    for args in [
        &[
            "context",
            "create",
            "c1",
            "--docker",
            &docker_arg,
            "--description",
            "my <ctx>",
        ][..],
        &["context", "create", "c1", "--docker", "host=unix:///x"],
        &["context", "create", "default"],
        &["context", "create", "bad name"],
        &["context", "create", "x"],
        &[
            "context",
            "create",
            "xx",
            "--docker",
            // One unknown key: docker lists several in Go's random map order.
            "host=unix:///x,foo=bar",
        ],
        &[
            "context",
            "create",
            "xx",
            "--docker",
            "host=unix:///x",
            "--from",
            "c1",
        ],
        &["context", "create", "xx", "--from", "nope"],
        &[
            "context",
            "create",
            "xx",
            "--docker",
            "ca=/nonexistent/ca.pem",
        ],
        &[
            "context",
            "create",
            "xx",
            "--docker",
            "skip-tls-verify=maybe",
        ],
        &["context", "create", "xx", "--docker", "host=foo"],
        &["context", "create", "xx", "--docker", "from=nope"],
        &["context", "create", "xx", "--docker", ""],
        &["context", "create", "xx", "--docker", "bogus"],
        &["context", "create"],
        &[
            "context",
            "create",
            "t1",
            "--docker",
            "host=tcp://127.0.0.1:9,skip-tls-verify=true",
        ],
        &[
            "context",
            "create",
            "c2",
            "--from",
            "c1",
            "--description",
            "other",
        ],
        &["context", "create", "c3", "--docker", "from=c1"],
        &["context", "create", "e1", "--docker", "host="],
    ] {
        p.same(args, &[]);
    }
    p.same(&["context", "create", "c4"], &with_host);
    for args in [
        &["context", "ls"][..],
        &["context", "list", "-q"],
        &["context", "ls", "--format", "json"],
        &["context", "ls", "--format", "table {{.Name}}\t{{.Current}}"],
        &["context", "ls", "--format", "{{.Nope}}"],
        &["context", "inspect", "c1", "c2", "t1"],
        &["context", "inspect", "c1", "nope"],
        &["context", "inspect", "nope"],
        &[
            "context",
            "inspect",
            "-f",
            "{{.Name}} {{json .Endpoints}} {{.Storage.TLSPath}}",
            "default",
            "c1",
        ],
        &[
            "context",
            "inspect",
            "-f",
            "{{.Metadata.Metadata.Description}}",
            "c1",
        ],
        &[
            "context",
            "inspect",
            "-f",
            "{{.Metadata.Description}}",
            "c1",
        ],
        &["context", "inspect", "-f", "{{.Nope}}", "c1"],
        &["context", "inspect", "-f", "{{", "c1"],
        &["context", "inspect"],
        &["context", "show"],
        &["context", "show", "x"],
        &["context", "ls", "x"],
    ] {
        p.same(args, &with_host);
    }
    // Selection: the flag, the variable, the configured one; -H and DOCKER_HOST.
    for (args, env) in [
        (&["-c", "c1", "context", "show"][..], &[][..]),
        (&["context", "show"], &[("DOCKER_CONTEXT", "c2")]),
        (&["-c", "c1", "ps"], &[]),
        (
            &[
                "--context",
                "c1",
                "version",
                "--format",
                "{{.Server.APIVersion}}",
            ],
            &[],
        ),
        (&["ps"], &[("DOCKER_CONTEXT", "c1")]),
        (&["-c", "nope", "ps"], &[]),
        (&["-c", "nope", "context", "show"], &[]),
        (&["-c", "c1", "-H", &host, "ps"], &[]),
        (
            &["-c", "c1", "ps"],
            &[("DOCKER_HOST", "unix:///nonexistent.sock")],
        ),
        (
            &["-c", "c1", "version", "--format", "{{.Client.Context}}"],
            &[],
        ),
        (
            &["info", "--format", "{{.ClientInfo.Context}}"],
            &[("DOCKER_CONTEXT", "c1")],
        ),
        (&["context", "ls", "-q"], &[("DOCKER_CONTEXT", "nope")]),
    ] {
        p.same(args, env);
    }
    // `use` writes currentContext into config.json, which then selects.
    p.same(&["context", "use", "c1"], &[]);
    let text = |dir: &Path| std::fs::read_to_string(dir.join("config.json")).expect("config.json");
    assert_eq!(text(&p.berth_cfg), text(&p.docker_cfg));
    assert!(text(&p.berth_cfg).contains("\"currentContext\": \"c1\""));
    for args in [
        &["context", "show"][..],
        &["ps"],
        &["context", "use", "c2"],
        &["context", "use", "nope"],
        &["context", "use", "bad name"],
        &["context", "use"],
    ] {
        p.same(args, &[]);
    }
    p.same(&["context", "use", "c1"], &with_host);
    for args in [
        &["context", "rm", "c1"][..],
        &["context", "rm", "xx", "nope", "default"],
        &["context", "rm", "-f", "nope"],
        &["context", "rm"],
        &["context", "update", "nope", "--description", "z"],
        &[
            "context",
            "update",
            "c2",
            "--description",
            "z",
            "--docker",
            "host=tcp://127.0.0.1:9",
        ],
        &["context", "update", "default"],
        &["context", "rm", "-f", "c1", "c3"],
        &["context", "show"],
    ] {
        p.same(args, &[]);
    }
    assert_eq!(text(&p.berth_cfg), text(&p.docker_cfg));
    p.same(&["context", "ls"], &with_host);
    p.same(&["context", "inspect", "c2", "e1", "c4"], &with_host);
    // The stores hold the same files.
    let metas = |dir: &Path| {
        let mut v: Vec<(String, String)> = std::fs::read_dir(dir.join("contexts/meta"))
            .expect("meta dir")
            .flatten()
            .map(|e| {
                let t = std::fs::read_to_string(e.path().join("meta.json")).expect("meta.json");
                (e.file_name().to_string_lossy().into_owned(), t)
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(metas(&p.berth_cfg), metas(&p.docker_cfg));
}

#[test]
fn contexts_are_shared_and_exported_alike() {
    if !testkit::require_root() {
        return;
    }
    let d = Daemon::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("cfg");
    let (berth, docker) = (
        Cli {
            prog: berth_bin(),
            config: &cfg,
        },
        Cli {
            prog: DOCKER,
            config: &cfg,
        },
    );
    let host = format!("host={}", sock(&d));
    let ok = |c: &Cli, args: &[&str]| {
        let o = c.run(args, &[], None);
        assert!(o.status.success(), "{} {args:?}: {o:?}", c.prog);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // Each CLI reads and uses what the other wrote.
    ok(
        &docker,
        &["context", "create", "by-docker", "--docker", &host],
    );
    ok(
        &berth,
        &[
            "context",
            "create",
            "by-berth",
            "--docker",
            &host,
            "--description",
            "b",
        ],
    );
    for (c, other) in [(&berth, "by-docker"), (&docker, "by-berth")] {
        let v = ok(
            c,
            &["-c", other, "version", "--format", "{{.Server.Version}}"],
        );
        assert!(v.contains("berth"), "{} -c {other}: {v}", c.prog);
    }
    assert_eq!(
        ok(&berth, &["context", "inspect", "by-docker", "by-berth"]),
        ok(&docker, &["context", "inspect", "by-docker", "by-berth"])
    );
    // Export: the same bytes; each imports the other's.
    let tb = dir.path().join("b.tar");
    let td = dir.path().join("d.tar");
    ok(
        &berth,
        &["context", "export", "by-berth", tb.to_str().expect("utf-8")],
    );
    ok(
        &docker,
        &["context", "export", "by-berth", td.to_str().expect("utf-8")],
    );
    assert_eq!(
        std::fs::read(&tb).expect("read"),
        std::fs::read(&td).expect("read")
    );
    let exists = seen_both(
        &berth,
        &docker,
        &["context", "export", "by-berth", tb.to_str().expect("utf-8")],
    );
    assert_eq!(exists.0, exists.1);
    ok(
        &berth,
        &[
            "context",
            "import",
            "from-docker",
            td.to_str().expect("utf-8"),
        ],
    );
    let o = docker.run(
        &["context", "import", "from-berth-stdin", "-"],
        &[],
        Some(&tb),
    );
    assert!(o.status.success(), "docker import from stdin: {o:?}");
    let o = berth.run(&["context", "import", "stdin-b", "-"], &[], Some(&td));
    assert!(o.status.success(), "berth import from stdin: {o:?}");
    let (b, k) = seen_both(
        &berth,
        &docker,
        &[
            "context",
            "inspect",
            "-f",
            "{{.Name}} {{.Metadata.Metadata.Description}} {{.Endpoints.docker.Host}}",
            "from-docker",
            "from-berth-stdin",
            "stdin-b",
        ],
    );
    assert_eq!(b, k);
    for args in [
        &["context", "import", "x2", "/nonexistent.tar"][..],
        &[
            "context",
            "import",
            "from-docker",
            td.to_str().expect("utf-8"),
        ],
        &["context", "import", "nm", "/dev/null"],
        &["context", "export", "nope", "-"],
        &["context", "export", "bad name"],
        &["context", "import", "a"],
        &["context", "export"],
    ] {
        let (b, k) = seen_both(&berth, &docker, args);
        assert_eq!(b, k, "{args:?} (left berth)");
    }
    // The default context exports as docker's.
    let (b, k) = seen_both(
        &berth,
        &docker,
        &["-H", &sock(&d), "context", "export", "default", "-"],
    );
    assert_eq!(b, k);
}

/// The same command through both CLIs on one store.
fn seen_both(berth: &Cli, docker: &Cli, args: &[&str]) -> (Seen, Seen) {
    (berth.seen(args, &[], None), docker.seen(args, &[], None))
}

#[test]
fn a_tls_context_reaches_a_tls_daemon() {
    if !testkit::require_root() || !testkit::pki::available() {
        return;
    }
    let pki = tempfile::tempdir().expect("pki dir");
    testkit::pki::make(pki.path());
    let f = |n: &str| pki.path().join(n).display().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let (ca, cert, key) = (f("ca.pem"), f("server.pem"), f("server-key.pem"));
    let d = Daemon::start_with(&[
        "-H",
        &tcp,
        "--tlsverify",
        "--tlscacert",
        &ca,
        "--tlscert",
        &cert,
        "--tlskey",
        &key,
    ]);
    let p = Pair::new();
    let ep = format!(
        "host={tcp},ca={},cert={},key={}",
        f("ca.pem"),
        f("client.pem"),
        f("client-key.pem")
    );
    p.same(&["context", "create", "tls", "--docker", &ep], &[]);
    p.same(
        &[
            "context",
            "create",
            "plain",
            "--docker",
            &format!("host={tcp}"),
        ],
        &[],
    );
    p.same(
        &[
            "context",
            "create",
            "bad",
            "--docker",
            &format!("host={tcp},ca={}", f("client-key.pem")),
        ],
        &[],
    );
    let s = p.same(&["-c", "tls", "version", "--format", "{{.Server.Os}}"], &[]);
    assert_eq!(s.stdout, "linux\n");
    p.same(
        &["context", "inspect", "-f", "{{json .TLSMaterial}}", "tls"],
        &[],
    );
    // Dropping the material: no TLS files left (the connection error of plain HTTP
    // to a TLS port is the TLS tests' business).
    p.same(
        &[
            "context",
            "update",
            "tls",
            "--docker",
            &format!("host={tcp}"),
        ],
        &[],
    );
    p.same(
        &["context", "inspect", "-f", "{{json .TLSMaterial}}", "tls"],
        &[],
    );
    // Skipping verification without a CA: TLS, any certificate, no client pair
    // (the daemon wants one: its refusal, worded alike, or a success alike).
    p.same(
        &[
            "context",
            "create",
            "skip",
            "--docker",
            &format!(
                "host={tcp},skip-tls-verify=true,cert={},key={}",
                f("client.pem"),
                f("client-key.pem")
            ),
        ],
        &[],
    );
    p.same(
        &["-c", "skip", "version", "--format", "{{.Server.Os}}"],
        &[],
    );
    drop(d);
}

#[test]
fn search_builder_and_plugin_commands_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = Daemon::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("plugin");
    std::fs::create_dir_all(data.join("rootfs")).expect("plugin dir");
    let data_dir = data.display().to_string();
    let no_config = same(&d, &["plugin", "create", "p1", &data_dir]);
    assert_eq!(no_config.code, Some(1));
    std::fs::write(data.join("config.json"), "{}").expect("config.json");
    let not_a_dir = data.join("config.json").display().to_string();
    for args in [
        // search: berthd has no registry to ask and answers with no results.
        &["search", "busybox"][..],
        &["search", "--limit", "5", "--no-trunc", "busybox"],
        &["search", "-f", "is-official=true", "-f", "stars=3", "x"],
        &["search", "-f", "is-automated=true", "x"],
        &["search", "-f", "bogus", "x"],
        &["search", "--format", "{{.Name}}", "x"],
        &["search", "--format", "json", "127.0.0.1:5000/x"],
        &["search", "--limit", "x", "y"],
        &["search", ""],
        &["search"],
        &["search", "a", "b"],
        // builder: the legacy builder's notice first, then the command.
        &["builder"],
        &["builder", "prune", "-f"],
        &["builder", "prune", "-a", "-f", "--filter", "until=1h"],
        &["builder", "prune", "--keep-storage", "1mb", "-f"],
        &["builder", "prune", "--keep-storage", "x", "-f"],
        &["builder", "prune", "-f", "x"],
        &["builder", "ls"],
        &["builder", "build"],
        // plugin: none installed, none installable.
        &["plugin"],
        &["plugin", "ls"],
        &["plugin", "list", "-q", "--no-trunc"],
        &["plugin", "ls", "--format", "json", "-f", "enabled=true"],
        &["plugin", "ls", "-f", "bogus"],
        &["plugin", "inspect", "x"],
        &[
            "plugin",
            "inspect",
            "-f",
            "{{.Name}}",
            "x",
            "vieux/sshfs:latest",
        ],
        &["plugin", "inspect"],
        &["plugin", "enable", "x"],
        &["plugin", "enable", "--timeout", "-1", "x"],
        &["plugin", "disable", "-f", "x"],
        &["plugin", "rm", "x", "y"],
        &["plugin", "remove", "-f", "x"],
        &["plugin", "install", "127.0.0.1:1/x"],
        &[
            "plugin",
            "install",
            "--grant-all-permissions",
            "--alias",
            "a",
            "127.0.0.1:1/x",
            "k=v",
        ],
        &["plugin", "install", "UPPER"],
        &["plugin", "set", "x", "a=b"],
        &["plugin", "set", "x"],
        &["plugin", "push", "x"],
        &["plugin", "push", "127.0.0.1:1/x:2"],
        &["plugin", "upgrade", "x", "127.0.0.1:1/y"],
        &["plugin", "create", "p1", "/nonexistent/dir"],
        &["plugin", "create", "p1", &not_a_dir],
        &["plugin", "create", "p1", &data_dir],
        &["plugin", "create", "--compress", "p1", &data_dir],
        &["plugin", "bogus"],
    ] {
        same(&d, args);
    }
    // A declined confirmation ends the prune quietly.
    same_in(&d, &["builder", "prune", "-a"], b"n\n");
}

#[test]
fn swarm_commands_relay_the_daemons_refusals() {
    if !testkit::require_root() {
        return;
    }
    let d = Daemon::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write file");
        p.display().to_string()
    };
    let (content, empty) = (file("content", "hi\n"), file("empty", ""));
    let compose = file("stack.yml", "services: {a: {image: busybox}}\n");
    let missing = dir.path().join("missing").display().to_string();
    for args in [
        &["swarm", "init"][..],
        &["swarm", "init", "--availability", "bogus"],
        &["swarm", "join", "127.0.0.1:2377"],
        &["swarm", "join"],
        &["swarm", "leave", "-f"],
        &["swarm", "update", "--autolock"],
        &["swarm", "update"],
        &["swarm", "unlock-key"],
        &["swarm", "unlock-key", "--rotate"],
        &["swarm", "unlock"],
        &["swarm", "ca"],
        &["swarm", "join-token", "worker"],
        &["swarm", "join-token", "bogus"],
        &["swarm", "bogus"],
        &["node", "ls"],
        &["node", "inspect", "self"],
        &["node", "inspect", "x", "y"],
        &["node", "inspect", "--pretty", "self"],
        &["node", "inspect", "-f", "{{.ID}}", "x"],
        &["node", "ps"],
        &["node", "ps", "a", "b"],
        &["node", "rm", "-f", "x", "y"],
        &["node", "promote", "x"],
        &["node", "demote", "x"],
        &["node", "update", "x"],
        &["node", "update"],
        &["service", "ls", "-q"],
        &["service", "create", "--name", "x", "busybox", "sleep", "1"],
        &["service", "create"],
        &["service", "inspect", "x"],
        &["service", "inspect", "--pretty", "x"],
        &["service", "logs", "-f", "x"],
        &["service", "ps", "x"],
        &["service", "rm", "x", "y"],
        &["service", "scale", "x=1", "y=z"],
        &["service", "scale", "x"],
        &["service", "update", "--args", "a b", "x"],
        &["service", "rollback", "x"],
        &["stack", "ls", "--format", "json"],
        &["stack", "ps", "x"],
        &["stack", "rm", "x"],
        &["stack", "services", "x"],
        &["stack", "deploy", "x"],
        &["stack", "deploy", "-c", &compose, "s"],
        &["secret", "ls"],
        &["secret", "create", "s", &empty],
        &["secret", "create", "s", &content],
        &["secret", "create", "s", &missing],
        &["secret", "create", "s"],
        &["secret", "create", "-d", "drv", "s", &content],
        &["secret", "create", "-d", "drv", "s"],
        &["secret", "inspect", "s"],
        &["secret", "rm", "s", "t"],
        &["config", "ls"],
        &["config", "create", "c", &empty],
        &["config", "create", "c", &content],
        &["config", "create", "c", &missing],
        &["config", "create", "c"],
        &["config", "inspect", "c"],
        &["config", "rm", "c"],
    ] {
        same(&d, args);
    }
    same_in(&d, &["secret", "create", "s", "-"], b"");
    same_in(&d, &["secret", "create", "s", "-"], b"data");
    same_in(&d, &["config", "create", "c", "-"], b"");
}
