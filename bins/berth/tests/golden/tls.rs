//! The CLI over TCP with TLS, against a berthd serving `--tlsverify` on 127.0.0.1: the
//! same commands through berth and through the docker CLI with the same TLS flags or
//! environment (`DOCKER_HOST` + `DOCKER_TLS_VERIFY` + `DOCKER_CERT_PATH`, the defaults
//! of the configuration directory, `--tls` alone), streams included, and the failures
//! (unknown CA, no client certificate, a plain-HTTP daemon, no TLS for a TLS daemon,
//! missing or bad material) with docker's messages and statuses; the flags' values as
//! docker reads them (`--tlsverify=false` still TLS, `--tls=false` over `DOCKER_TLS`,
//! `--tlscacert ""` for the system's roots, no file at all for plain HTTP). The PKI is
//! `testkit::pki`'s.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::harness::{DOCKER, Daemon, Seen, berth_bin, ok, seen, wait_output};
use crate::pty::OnPty;

/// Environment variables a run sets.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local address")
        .port()
}

/// The PKI of a test: `testkit::pki::make`'s files, a CA that signed none of them
/// (`other-ca.pem`), and `certs/` laid out as `DOCKER_CERT_PATH` wants it (`ca.pem`,
/// `cert.pem`, `key.pem`: the CA and the client pair).
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn make() -> Pki {
        let dir = tempfile::tempdir().expect("create PKI dir");
        testkit::pki::make(dir.path());
        testkit::pki::make_ca(dir.path(), "other-ca", "other-ca");
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).expect("create certs dir");
        for (from, to) in [
            ("ca.pem", "ca.pem"),
            ("client.pem", "cert.pem"),
            ("client-key.pem", "key.pem"),
        ] {
            std::fs::copy(dir.path().join(from), certs.join(to))
                .unwrap_or_else(|e| panic!("copy {from}: {e}"));
        }
        Pki { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }

    fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }
}

/// Root and openssl, or a skip notice.
fn can_run() -> bool {
    if !testkit::require_root() {
        return false;
    }
    if !testkit::pki::available() {
        eprintln!("skipped: openssl is not installed");
        return false;
    }
    true
}

/// A daemon serving the API on its socket and, with `tlsverify`, on `tcp` (otherwise
/// plain HTTP there).
fn daemon(pki: &Pki, tcp: &str, tlsverify: bool) -> Daemon {
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("server.pem"),
        pki.path("server-key.pem"),
    );
    let mut args = vec!["-H", tcp];
    if tlsverify {
        args.extend([
            "--tlsverify",
            "--tlscacert",
            ca.as_str(),
            "--tlscert",
            cert.as_str(),
            "--tlskey",
            key.as_str(),
        ]);
    }
    Daemon::start_with(&args)
}

/// Runs `prog` with `args`, the connection given by `env` and the arguments alone: the
/// harness's own `DOCKER_HOST` and every TLS variable of the test's environment are
/// removed first.
fn cli(
    d: &Daemon,
    prog: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Output {
    let mut c = Command::new(prog);
    c.args(args).env("DOCKER_CONFIG", &d.docker_config);
    for k in [
        "DOCKER_HOST",
        "BERTH_HOST",
        "BERTH_CONFIG",
        "DOCKER_CONTEXT",
        "DOCKER_TLS",
        "DOCKER_TLS_VERIFY",
        "DOCKER_CERT_PATH",
        "DOCKER_API_VERSION",
        // The system's roots come from the default bundle unless a test says otherwise.
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        c.env_remove(k);
    }
    c.envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {prog}: {e}"));
    if let Some(data) = stdin {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
    }
    wait_output(child, &format!("{prog} {args:?}"))
}

/// `s` with the API version of request URLs written `v<api>`: the docker CLI v28 asks
/// for 1.50 when its ping fails, berth for its own newest version.
fn api_neutral(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("/v1.") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with('/') {
            out.push_str("/v<api>");
            rest = &after[digits..];
        } else {
            out.push_str("/v1.");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Runs `args` with `env` through both CLIs and asserts the same stdout, stderr and
/// status (API versions in URLs aside). Relative times can tick between the runs, so a
/// difference is retried twice.
fn same(d: &Daemon, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Seen {
    let fix = |s: Seen| Seen {
        code: s.code,
        stdout: api_neutral(&s.stdout),
        stderr: api_neutral(&s.stderr),
    };
    let mut last = None;
    for _ in 0..3 {
        let b = fix(seen(&cli(d, berth_bin(), args, env, stdin), true));
        let k = fix(seen(&cli(d, DOCKER, args, env, stdin), false));
        if b == k {
            return b;
        }
        last = Some((b, k));
        std::thread::sleep(Duration::from_millis(300));
    }
    let (b, k) = last.expect("compared at least once");
    panic!(
        "berth and docker differ for {args:?} with {env:?}\n--- berth\n{b:?}\n--- docker\n{k:?}"
    );
}

/// `args` after `prefix`.
fn with<'a>(prefix: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    prefix.iter().chain(args).copied().collect()
}

#[test]
fn commands_over_tls_match_docker() {
    if !can_run() {
        return;
    }
    let pki = Pki::make();
    let tcp = format!("tcp://127.0.0.1:{}", free_port());
    let d = daemon(&pki, &tcp, true);
    d.import_busybox();
    ok(&d, &["create", "--name", "tlsweb", "busybox", "true"]);
    let files = [
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client-key.pem"),
        pki.path("other-ca.pem"),
        pki.certs().display().to_string(),
    ];
    let [ca, cert, key, other, certs] = files.each_ref().map(String::as_str);
    let tcp = tcp.as_str();
    let flags = [
        "-H",
        tcp,
        "--tlsverify",
        "--tlscacert",
        ca,
        "--tlscert",
        cert,
        "--tlskey",
        key,
    ];
    let env_vars = [
        ("DOCKER_HOST", tcp),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", certs),
    ];
    // --tls alone verifies nothing: a CA that signed nothing here does not matter.
    let unverified = [
        "-H",
        tcp,
        "--tls",
        "--tlscacert",
        other,
        "--tlscert",
        cert,
        "--tlskey",
        key,
    ];
    let ways: [(&str, &[&str], Vars); 4] = [
        ("flags", &flags, &[]),
        ("environment", &[], &env_vars),
        (
            "configuration directory",
            &["--tlsverify", "-H", tcp],
            &[("DOCKER_CONFIG", certs)],
        ),
        ("--tls alone", &unverified, &[]),
    ];
    for (way, prefix, env) in ways {
        let v = same(
            &d,
            &with(
                prefix,
                &[
                    "version",
                    "--format",
                    "{{.Server.APIVersion}} {{.Server.Os}}",
                ],
            ),
            env,
            None,
        );
        assert_eq!(
            (v.code, v.stdout.as_str()),
            (Some(0), "1.41 linux\n"),
            "{way}"
        );
        let ps = same(&d, &with(prefix, &["ps", "-a"]), env, None);
        assert!(ps.stdout.contains("tlsweb"), "{way}: {ps:?}");
        let run = same(
            &d,
            &with(prefix, &["run", "--rm", "busybox", "echo", "hi"]),
            env,
            None,
        );
        assert_eq!((run.code, run.stdout.as_str()), (Some(0), "hi\n"), "{way}");
    }
    // Streams over TLS: stdin to the container and its end (half-close), an exec.
    let cat = same(
        &d,
        &with(&flags, &["run", "-i", "--rm", "busybox", "cat"]),
        &[],
        Some(b"over tls\n"),
    );
    assert_eq!(cat.stdout, "over tls\n");
    ok(
        &d,
        &["run", "-d", "--name", "tlsrun", "busybox", "sleep", "60"],
    );
    let exec = same(
        &d,
        &with(&flags, &["exec", "-i", "tlsrun", "sh", "-c", "cat; exit 4"]),
        &[],
        Some(b"in exec\n"),
    );
    assert_eq!((exec.code, exec.stdout.as_str()), (Some(4), "in exec\n"));
    // exec -it on a terminal, through the environment's TLS settings.
    for prog in [berth_bin(), DOCKER] {
        let mut t = OnPty::spawn_env(&d, prog, &["exec", "-it", "tlsrun", "sh"], &env_vars);
        t.expect("# ");
        t.send(b"echo tty=$((6*7)); exit 3\r");
        t.expect("tty=42");
        assert_eq!(t.status(), Some(3), "{prog} exec -it over TLS");
    }
}

#[test]
fn tls_failures_match_docker() {
    if !can_run() {
        return;
    }
    let pki = Pki::make();
    let tcp = format!("tcp://127.0.0.1:{}", free_port());
    let d = daemon(&pki, &tcp, true);
    std::fs::write(pki.dir.path().join("garbage.pem"), "not a certificate\n")
        .expect("write garbage.pem");
    let empty = tempfile::tempdir().expect("create empty cert dir");
    let files = [
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client-key.pem"),
        pki.path("other-ca.pem"),
        pki.path("server-key.pem"),
        pki.path("garbage.pem"),
        empty.path().display().to_string(),
        pki.path("other-ca-key.pem"),
    ];
    let [
        ca,
        cert,
        key,
        other,
        server_key,
        garbage,
        empty_path,
        other_key,
    ] = files.each_ref().map(String::as_str);
    let tcp = tcp.as_str();
    let version = ["version", "--format", "{{.Server.Version}}"];
    let cert_path_env = [
        ("DOCKER_HOST", tcp),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", empty_path),
    ];
    let cases: Vec<(Vec<&str>, Vars, &str)> = vec![
        // The daemon's certificate is signed by another CA.
        (
            vec![
                "-H",
                tcp,
                "--tlsverify",
                "--tlscacert",
                other,
                "--tlscert",
                cert,
                "--tlskey",
                key,
            ],
            &[],
            "certificate signed by unknown authority",
        ),
        // No client certificate for a daemon that requires one.
        (
            vec!["-H", tcp, "--tlsverify", "--tlscacert", ca],
            &[],
            "remote error: tls: certificate required",
        ),
        // A client pair the daemon's CA did not sign: Go offers it to no daemon that
        // names other CAs, and neither does berth.
        (
            vec![
                "-H",
                tcp,
                "--tlsverify",
                "--tlscacert",
                ca,
                "--tlscert",
                other,
                "--tlskey",
                other_key,
            ],
            &[],
            "remote error: tls: certificate required",
        ),
        // DOCKER_CERT_PATH without the CA.
        (vec![], &cert_path_env, "ca.pem: no such file or directory"),
        // No TLS for a daemon that speaks nothing else.
        (
            vec!["-H", tcp],
            &[],
            "* Are you trying to connect to a TLS-enabled daemon without TLS?",
        ),
        // A CA file with no certificate in it.
        (
            vec!["-H", tcp, "--tlsverify", "--tlscacert", garbage],
            &[],
            "ca.pem seems invalid",
        ),
        // A certificate where the key should be.
        (
            vec![
                "-H",
                tcp,
                "--tlsverify",
                "--tlscacert",
                ca,
                "--tlscert",
                cert,
                "--tlskey",
                ca,
            ],
            &[],
            "found a certificate rather than a key",
        ),
        // A client certificate with another key.
        (
            vec![
                "-H",
                tcp,
                "--tlsverify",
                "--tlscacert",
                ca,
                "--tlscert",
                cert,
                "--tlskey",
                server_key,
            ],
            &[],
            "private key does not match public key",
        ),
    ];
    for (prefix, env, needle) in &cases {
        for cmd in [&version[..], &["ps"][..]] {
            let s = same(&d, &with(prefix, cmd), env, None);
            assert_eq!(s.code, Some(1), "{prefix:?} {env:?}: {s:?}");
            assert!(s.stderr.contains(needle), "{needle:?} in {s:?}");
        }
    }
}

#[test]
fn tls_flag_values_match_docker() {
    if !can_run() {
        return;
    }
    let pki = Pki::make();
    let tcp = format!("tcp://127.0.0.1:{}", free_port());
    let d = daemon(&pki, &tcp, true);
    let no_roots = tempfile::tempdir().expect("create empty roots dir");
    let files = [
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client-key.pem"),
        pki.path("other-ca.pem"),
        no_roots.path().display().to_string(),
        no_roots.path().join("none.pem").display().to_string(),
    ];
    let [ca, cert, key, other, empty_dir, missing] = files.each_ref().map(String::as_str);
    let tcp = tcp.as_str();
    let version = ["version", "--format", "{{.Server.Os}}"];
    let trust_ca = [("SSL_CERT_FILE", ca)];
    let trust_nothing = [("SSL_CERT_FILE", missing), ("SSL_CERT_DIR", empty_dir)];
    let verify_env = [("DOCKER_TLS_VERIFY", "1")];
    let tls_env = [("DOCKER_TLS", "1")];
    let pair = ["--tlscert", cert, "--tlskey", key];
    let served: Vec<(Vec<&str>, Vars)> = vec![
        // Given at all, --tlsverify turns TLS on; false, nothing is verified (the CA
        // here signed nothing), whatever DOCKER_TLS_VERIFY says.
        (
            with(
                &["-H", tcp, "--tlsverify=false", "--tlscacert", other],
                &pair,
            ),
            &[],
        ),
        (
            with(&["-H", tcp, "--tlsverify=0", "--tlscacert", other], &pair),
            &verify_env,
        ),
        // --tls=false does not undo --tlsverify.
        (
            with(
                &["-H", tcp, "--tls=false", "--tlsverify", "--tlscacert", ca],
                &pair,
            ),
            &[],
        ),
        // No CA: the system's roots, here the test's CA through SSL_CERT_FILE.
        (
            with(&["-H", tcp, "--tlsverify", "--tlscacert", ""], &pair),
            &trust_ca,
        ),
    ];
    for (args, env) in &served {
        let s = same(&d, &with(args, &version), env, None);
        assert_eq!(
            (s.code, s.stdout.as_str()),
            (Some(0), "linux\n"),
            "{args:?} {env:?}"
        );
    }
    let refused: Vec<(Vec<&str>, Vars, &str)> = vec![
        // The system's roots do not hold the test's CA, and an empty store holds
        // nothing.
        (
            with(&["-H", tcp, "--tlsverify", "--tlscacert", ""], &pair),
            &[],
            "x509: certificate signed by unknown authority",
        ),
        (
            with(&["-H", tcp, "--tlsverify", "--tlscacert", ""], &pair),
            &trust_nothing,
            "x509: certificate signed by unknown authority",
        ),
        // --tls=false overrides DOCKER_TLS: plain HTTP to a TLS daemon.
        (
            vec!["-H", tcp, "--tls=false"],
            &tls_env,
            "* Are you trying to connect to a TLS-enabled daemon without TLS?",
        ),
        // Verified with no file at all, docker's client speaks plain HTTP.
        (
            vec![
                "-H",
                tcp,
                "--tlsverify",
                "--tlscacert",
                "",
                "--tlscert",
                "",
                "--tlskey",
                "",
            ],
            &[],
            "* Are you trying to connect to a TLS-enabled daemon without TLS?",
        ),
    ];
    for (args, env, needle) in &refused {
        let s = same(&d, &with(args, &version), env, None);
        assert_eq!(s.code, Some(1), "{args:?} {env:?}: {s:?}");
        assert!(s.stderr.contains(needle), "{needle:?} in {s:?}");
    }
}

#[test]
fn tls_to_a_plain_daemon_matches_docker() {
    if !can_run() {
        return;
    }
    let pki = Pki::make();
    let tcp = format!("tcp://127.0.0.1:{}", free_port());
    let d = daemon(&pki, &tcp, false);
    let files = [
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client-key.pem"),
    ];
    let [ca, cert, key] = files.each_ref().map(String::as_str);
    let tcp = tcp.as_str();
    for prefix in [
        &[
            "-H",
            tcp,
            "--tlsverify",
            "--tlscacert",
            ca,
            "--tlscert",
            cert,
            "--tlskey",
            key,
        ][..],
        &["-H", tcp, "--tls", "--tlscacert", ca][..],
    ] {
        let s = same(&d, &with(prefix, &["ps"]), &[], None);
        assert_eq!(s.code, Some(1));
        assert!(
            s.stderr
                .contains("http: server gave HTTP response to HTTPS client"),
            "{s:?}"
        );
    }
    // The plain socket itself serves both, and so does TLS that is to be verified
    // but names no file (an empty certificate directory without a CA flag).
    let no_certs = tempfile::tempdir().expect("create empty cert dir");
    let no_certs = no_certs.path().display().to_string();
    let plain: [(&[&str], Vars); 3] = [
        (&["-H", tcp], &[]),
        (
            &["-H", tcp, "--tlsverify", "--tlscacert", ""],
            &[("DOCKER_CERT_PATH", &no_certs)],
        ),
        (
            &["--tlsverify", "--tlscacert=", "--tlscert=", "--tlskey="],
            &[("DOCKER_HOST", tcp)],
        ),
    ];
    for (prefix, env) in plain {
        let s = same(
            &d,
            &with(prefix, &["version", "--format", "{{.Server.Os}}"]),
            env,
            None,
        );
        assert_eq!(
            (s.code, s.stdout.as_str()),
            (Some(0), "linux\n"),
            "{prefix:?}"
        );
    }
}

#[test]
fn api_versions_in_urls_are_neutralized() {
    assert_eq!(
        api_neutral("Get \"https://127.0.0.1:9/v1.50/version\": x /v1.x/ v1.41/"),
        "Get \"https://127.0.0.1:9/v<api>/version\": x /v1.x/ v1.41/"
    );
    assert_eq!(api_neutral("/v1.41/"), "/v<api>/");
}
