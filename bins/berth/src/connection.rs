//! Where and how the CLI reaches the daemon: the address and the TLS settings, from the
//! global options and the environment, resolved as the docker CLI resolves them.
//!
//! - TLS is on with `--tls`, `DOCKER_TLS` or `DOCKER_TLS_VERIFY` (any non-empty value),
//!   and whenever `--tlsverify` is given, even as `--tlsverify=false`; a flag's value
//!   overrides its variable. The daemon's certificate is verified with `--tlsverify`
//!   or `DOCKER_TLS_VERIFY`, otherwise accepted whatever it is (docker's
//!   cli/flags `SetDefaultOptions`).
//! - Verified without a CA (`--tlscacert ""`), the system's roots are trusted; verified
//!   with no file at all, the connection is plain HTTP, as docker's is.
//! - The files default to `ca.pem`, `cert.pem` and `key.pem` in `DOCKER_CERT_PATH`,
//!   else in the configuration directory (`DOCKER_CONFIG`, else `~/.docker`). A default
//!   certificate or key that does not exist is left out (no client certificate); the
//!   CA and any file named by a flag must exist.
//! - The address is `-H` (once), else `BERTH_HOST`, else `DOCKER_HOST`, else the default
//!   socket, or `tcp://localhost:2376` with TLS. A `tcp://host` without a port gets
//!   2375, with TLS as without, as the docker CLI does.
//!
//! - A context (docker's `context` store, see `contexts`) names the address and the
//!   TLS material instead: `--context`, else `DOCKER_CONTEXT`, else the
//!   configuration's `currentContext`; `-H` and a host variable select the
//!   `default` context (the flags and environment above), `--context` beats a host
//!   variable, and `--context` with `-H` is refused ([`context_name`]).
//!
//! [`resolve`] computes the plan as a value (unit-tested); [`endpoint`] picks the
//! context's; [`client`] reads the TLS files and makes the API client.

use std::path::{Path, PathBuf};

use berth_client::{Client, Host, TlsMaterial, TlsOptions};

use crate::cli::Cli;
use crate::contexts::{self, Store};
use crate::error::CliError;

/// The environment the resolution reads.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub berth_host: Option<String>,
    pub docker_host: Option<String>,
    /// `DOCKER_TLS` is set and not empty.
    pub docker_tls: bool,
    /// `DOCKER_TLS_VERIFY` is set and not empty.
    pub docker_tls_verify: bool,
    /// `DOCKER_CERT_PATH`, when not empty.
    pub cert_path: Option<PathBuf>,
    /// The configuration directory without `--config` (docker computes the TLS
    /// defaults before it parses its flags).
    pub config_dir: PathBuf,
    /// `DOCKER_CONTEXT`, when not empty.
    pub docker_context: Option<String>,
}

impl Env {
    /// The process's environment.
    pub fn from_process() -> Env {
        let text = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        Env {
            berth_host: text("BERTH_HOST"),
            docker_host: text("DOCKER_HOST"),
            docker_tls: set("DOCKER_TLS"),
            docker_tls_verify: set("DOCKER_TLS_VERIFY"),
            cert_path: std::env::var_os("DOCKER_CERT_PATH")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            config_dir: crate::config::dir(None),
            docker_context: text("DOCKER_CONTEXT"),
        }
    }

    /// The host variable that is set (`BERTH_HOST` first), for docker's warning that
    /// it overrides the current context.
    pub fn host_variable(&self) -> Option<&'static str> {
        if self.berth_host.is_some() {
            Some("BERTH_HOST")
        } else if self.docker_host.is_some() {
            Some("DOCKER_HOST")
        } else {
            None
        }
    }
}

/// The context a run uses, as docker's `resolveContextName` picks it: `--context`,
/// else `default` when `-H` or a host variable is given, else `DOCKER_CONTEXT`, else
/// `current` (the configuration's `currentContext`), else `default`. Whether it
/// exists is not checked here.
pub fn context_name(c: &Cli, env: &Env, current: &str) -> Result<String, CliError> {
    let flag = c.context.as_deref().filter(|n| !n.is_empty());
    if flag.is_some() && !c.host.is_empty() {
        return Err(CliError::new(
            "conflicting options: cannot specify both --host and --context",
        ));
    }
    let name = match flag {
        Some(n) => n,
        None if !c.host.is_empty() || env.host_variable().is_some() => contexts::DEFAULT,
        None => match env.docker_context.as_deref() {
            Some(n) => n,
            None if !current.is_empty() => current,
            None => contexts::DEFAULT,
        },
    };
    Ok(name.to_string())
}

/// The connection of the context `name`: for `default`, what the flags and the
/// environment say ([`resolve`]); otherwise the stored Docker endpoint, with TLS
/// when the context has TLS files or skips verification (docker's endpoint
/// `tlsConfig`).
pub fn endpoint(
    c: &Cli,
    env: &Env,
    store: &Store,
    name: &str,
    exists: &dyn Fn(&Path) -> bool,
) -> Result<Connection, CliError> {
    if name == contexts::DEFAULT {
        return resolve(c, env, exists);
    }
    let fail = |e: String| {
        CliError::new(format!(
            "Failed to initialize: unable to resolve docker endpoint: {e}"
        ))
    };
    let meta = store.get(name).map_err(|e| fail(e.to_string()))?;
    let ep = meta.docker().map_err(fail)?;
    let host = Host::parse(&ep.host).map_err(|e| fail(e.to_string()))?;
    let files = store.list_tls(name).map_err(|e| {
        fail(format!(
            "failed to retrieve TLS files for context {name:?}: {e}"
        ))
    })?;
    let files = files.get(contexts::DOCKER_ENDPOINT);
    let file = |f: &str| {
        files
            .filter(|l| l.iter().any(|x| x == f))
            .map(|_| store.tls_file(name, contexts::DOCKER_ENDPOINT, f))
    };
    let tls = (files.is_some() || ep.skip_tls_verify).then(|| TlsOptions {
        verify: !ep.skip_tls_verify,
        ca: file("ca.pem"),
        cert: file("cert.pem"),
        key: file("key.pem"),
    });
    Ok(Connection { host, tls })
}

/// The resolved connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub host: Host,
    /// The TLS material to use, when TLS is on.
    pub tls: Option<TlsOptions>,
}

/// Resolves the connection of `c` in `env`; `exists` says whether a default file is
/// there (docker drops a missing default certificate or key, nothing else).
pub fn resolve(c: &Cli, env: &Env, exists: &dyn Fn(&Path) -> bool) -> Result<Connection, CliError> {
    // pflag: a flag's value replaces the environment's default, and docker turns TLS
    // on when --tlsverify was given at all (`flags.Changed`), true or false.
    let verify = c.tlsverify.unwrap_or(env.docker_tls_verify);
    let tls_on = c.tlsverify.is_some() || verify || c.tls.unwrap_or(env.docker_tls);
    if c.host.len() > 1 {
        return Err(CliError::new("Please specify only one -H"));
    }
    let given = c
        .host
        .first()
        .cloned()
        .or_else(|| env.berth_host.clone())
        .or_else(|| env.docker_host.clone())
        .unwrap_or_default();
    let host = if given.trim().is_empty() {
        Host::default_for(tls_on)
    } else {
        Host::parse(&given).map_err(|e| CliError::new(e.to_string()))?
    };
    if !tls_on {
        return Ok(Connection { host, tls: None });
    }
    let dir = env.cert_path.as_deref().unwrap_or(&env.config_dir);
    // A flag given empty names no file (docker reads only non-empty paths).
    let named = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
    let or_default = |flag: &Option<PathBuf>, file: &str, keep_missing: bool| match flag {
        Some(_) => named(flag),
        None => {
            let p = dir.join(file);
            (keep_missing || exists(&p)).then_some(p)
        }
    };
    Ok(Connection {
        host,
        tls: Some(TlsOptions {
            verify,
            ca: or_default(&c.tlscacert, "ca.pem", true),
            cert: or_default(&c.tlscert, "cert.pem", false),
            key: or_default(&c.tlskey, "key.pem", false),
        }),
    })
}

/// Whether a default TLS file may be there: only "does not exist" drops it (Go's
/// `os.IsNotExist` of a `stat`).
pub fn may_exist(p: &Path) -> bool {
    !matches!(std::fs::metadata(p), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// The API client of `conn`: the TLS files are read (for any host, as docker does) and,
/// for a TCP host, parsed into the connector. Failures are worded as docker's.
pub fn client(conn: Connection) -> Result<Client, CliError> {
    let client = Client::new(conn.host);
    let Some(opts) = conn.tls else {
        return Ok(client);
    };
    let material = TlsMaterial::read(&opts).map_err(|e| {
        CliError::new(format!(
            "Failed to initialize: unable to resolve docker endpoint: {e}"
        ))
    })?;
    // The docker CLI puts no TLS on a unix socket.
    if matches!(client.host(), Host::Unix(_)) {
        return Ok(client);
    }
    let connector = material
        .connector()
        .map_err(|e| CliError::new(format!("Failed to initialize: {e}")))?;
    Ok(match connector {
        Some(c) => client.with_tls(c),
        None => client,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["berth"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    }

    fn env() -> Env {
        Env {
            config_dir: PathBuf::from("/home/u/.docker"),
            ..Env::default()
        }
    }

    fn tls(c: &Connection) -> &TlsOptions {
        c.tls.as_ref().expect("tls on")
    }

    #[test]
    fn plain_unless_asked() {
        let c = resolve(&cli(&["ps"]), &env(), &|_| true).unwrap();
        assert_eq!(c.host, Host::default());
        assert_eq!(c.tls, None);
        let e = Env {
            docker_host: Some("tcp://10.0.0.1".into()),
            ..env()
        };
        let c = resolve(&cli(&["ps"]), &e, &|_| true).unwrap();
        assert_eq!(c.host, Host::Tcp("10.0.0.1:2375".into()));
    }

    #[test]
    fn tls_alone_does_not_verify_and_defaults_to_the_tls_port() {
        let c = resolve(&cli(&["--tls", "ps"]), &env(), &|_| true).unwrap();
        assert_eq!(c.host.to_string(), "tcp://localhost:2376");
        assert_eq!(
            tls(&c),
            &TlsOptions {
                verify: false,
                ca: Some("/home/u/.docker/ca.pem".into()),
                cert: Some("/home/u/.docker/cert.pem".into()),
                key: Some("/home/u/.docker/key.pem".into()),
            }
        );
        // An explicit host without a port keeps docker's 2375.
        let c = resolve(&cli(&["--tls", "-H", "tcp://h", "ps"]), &env(), &|_| true).unwrap();
        assert_eq!(c.host, Host::Tcp("h:2375".into()));
    }

    #[test]
    fn verify_comes_from_the_flag_or_the_environment() {
        let c = resolve(&cli(&["--tlsverify", "ps"]), &env(), &|_| true).unwrap();
        assert!(tls(&c).verify);
        let e = Env {
            docker_tls_verify: true,
            docker_host: Some("tcp://127.0.0.1:9".into()),
            cert_path: Some("/certs".into()),
            ..env()
        };
        let c = resolve(&cli(&["ps"]), &e, &|_| true).unwrap();
        assert_eq!(c.host, Host::Tcp("127.0.0.1:9".into()));
        assert!(tls(&c).verify);
        assert_eq!(tls(&c).ca, Some("/certs/ca.pem".into()));
        let e = Env {
            docker_tls: true,
            ..env()
        };
        let c = resolve(&cli(&["ps"]), &e, &|_| true).unwrap();
        assert!(!tls(&c).verify);
    }

    #[test]
    fn tlsverify_given_false_still_means_tls_unverified() {
        let c = resolve(&cli(&["--tlsverify=false", "ps"]), &env(), &|_| true).unwrap();
        assert_eq!(c.host.to_string(), "tcp://localhost:2376");
        assert!(!tls(&c).verify);
        // The flag overrides DOCKER_TLS_VERIFY, and --tls=false does not turn off
        // what --tlsverify turned on.
        let e = Env {
            docker_tls_verify: true,
            ..env()
        };
        let c = resolve(
            &cli(&["--tls=false", "--tlsverify=false", "ps"]),
            &e,
            &|_| true,
        )
        .unwrap();
        assert!(!tls(&c).verify);
        // --tls=false overrides DOCKER_TLS.
        let e = Env {
            docker_tls: true,
            ..env()
        };
        let c = resolve(&cli(&["--tls=false", "ps"]), &e, &|_| true).unwrap();
        assert_eq!(c.tls, None);
        let c = resolve(&cli(&["--tls=0", "--tlsverify=1", "ps"]), &e, &|_| true).unwrap();
        assert!(tls(&c).verify);
    }

    #[test]
    fn an_empty_ca_flag_names_no_file() {
        let c = resolve(
            &cli(&["--tlsverify", "--tlscacert", "", "ps"]),
            &env(),
            &|_| false,
        )
        .unwrap();
        assert_eq!(
            tls(&c),
            &TlsOptions {
                verify: true,
                ca: None,
                cert: None,
                key: None,
            }
        );
    }

    #[test]
    fn missing_default_pair_is_dropped_but_not_the_ca_or_flags() {
        let c = resolve(&cli(&["--tlsverify", "ps"]), &env(), &|_| false).unwrap();
        assert_eq!(tls(&c).ca, Some("/home/u/.docker/ca.pem".into()));
        assert_eq!(tls(&c).cert, None);
        assert_eq!(tls(&c).key, None);
        let c = resolve(
            &cli(&["--tlsverify", "--tlscert", "c.pem", "ps"]),
            &env(),
            &|_| false,
        )
        .unwrap();
        assert_eq!(tls(&c).cert, Some("c.pem".into()));
        assert_eq!(tls(&c).key, None);
    }

    #[test]
    fn the_context_is_picked_as_docker_picks_it() {
        let cur = "configured";
        let name = |args: &[&str], e: &Env| context_name(&cli(args), e, cur).unwrap();
        assert_eq!(name(&["-c", "flag", "ps"], &env()), "flag");
        assert_eq!(name(&["ps"], &env()), "configured");
        assert_eq!(context_name(&cli(&["ps"]), &env(), "").unwrap(), "default");
        let e = Env {
            docker_context: Some("var".into()),
            ..env()
        };
        assert_eq!(name(&["ps"], &e), "var");
        // -H and a host variable select the default; the flag still wins.
        assert_eq!(name(&["-H", "unix:///x", "ps"], &e), "default");
        let e = Env {
            docker_host: Some("tcp://h:1".into()),
            ..e
        };
        assert_eq!(name(&["ps"], &e), "default");
        assert_eq!(e.host_variable(), Some("DOCKER_HOST"));
        assert_eq!(name(&["--context", "flag", "ps"], &e), "flag");
        let err =
            context_name(&cli(&["-c", "x", "-H", "unix:///x", "ps"]), &env(), cur).unwrap_err();
        assert_eq!(
            err.message,
            "conflicting options: cannot specify both --host and --context"
        );
    }

    #[test]
    fn a_stored_context_gives_its_endpoint_and_tls_files() {
        use crate::contexts::{Endpoint, Meta};
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path());
        let ep = |host: &str, skip| Endpoint {
            host: host.into(),
            skip_tls_verify: skip,
        };
        store
            .create_or_update(&Meta::new("plain", "", &ep("tcp://10.0.0.1:2375", false)))
            .unwrap();
        let c = endpoint(&cli(&["ps"]), &env(), &store, "plain", &|_| true).unwrap();
        assert_eq!(c.host, Host::Tcp("10.0.0.1:2375".into()));
        assert_eq!(c.tls, None);
        store
            .create_or_update(&Meta::new("skip", "", &ep("tcp://h:1", true)))
            .unwrap();
        let c = endpoint(&cli(&["ps"]), &env(), &store, "skip", &|_| true).unwrap();
        assert_eq!(tls(&c), &TlsOptions::default());
        store
            .create_or_update(&Meta::new("tls", "", &ep("tcp://h:1", false)))
            .unwrap();
        let files = std::collections::BTreeMap::from([(
            "docker".to_string(),
            std::collections::BTreeMap::from([("ca.pem".to_string(), b"CA".to_vec())]),
        )]);
        store.reset_tls("tls", &files).unwrap();
        let c = endpoint(&cli(&["ps"]), &env(), &store, "tls", &|_| true).unwrap();
        assert!(tls(&c).verify);
        assert_eq!(tls(&c).ca, Some(store.tls_file("tls", "docker", "ca.pem")));
        assert_eq!(tls(&c).cert, None);
        let e = endpoint(&cli(&["ps"]), &env(), &store, "nope", &|_| true).unwrap_err();
        assert!(
            e.message.starts_with(
                "Failed to initialize: unable to resolve docker endpoint: context \"nope\": context not found: open "
            ),
            "{}",
            e.message
        );
    }

    #[test]
    fn one_host_only() {
        let e = resolve(&cli(&["-H", "a", "-H", "b", "ps"]), &env(), &|_| true).unwrap_err();
        assert_eq!(e.message, "Please specify only one -H");
    }

    #[test]
    fn unreadable_material_fails_before_any_connection() {
        let dir = tempfile::tempdir().unwrap();
        let e = Env {
            cert_path: Some(dir.path().to_path_buf()),
            ..env()
        };
        let c = resolve(&cli(&["--tlsverify", "ps"]), &e, &may_exist).unwrap();
        let Err(err) = client(c) else {
            panic!("the material loads")
        };
        assert_eq!(
            err.message,
            format!(
                "Failed to initialize: unable to resolve docker endpoint: open {}/ca.pem: no such file or directory",
                dir.path().display()
            )
        );
        std::fs::write(dir.path().join("ca.pem"), "garbage\n").unwrap();
        let c = resolve(&cli(&["--tlsverify", "ps"]), &e, &may_exist).unwrap();
        let Err(err) = client(c) else {
            panic!("the material loads")
        };
        assert_eq!(
            err.message,
            "Failed to initialize: failed to retrieve context tls info: ca.pem seems invalid"
        );
        // Over a unix socket the files are read but not parsed.
        let c = resolve(
            &cli(&["--tlsverify", "-H", "unix:///x.sock", "ps"]),
            &e,
            &may_exist,
        )
        .unwrap();
        assert!(client(c).is_ok());
    }
}
