//! Where and how the CLI reaches the daemon: the address and the TLS settings, from the
//! global options and the environment, resolved as the docker CLI resolves them.
//!
//! - TLS is on with `--tls`, `--tlsverify`, `DOCKER_TLS` or `DOCKER_TLS_VERIFY` (any
//!   non-empty value); the daemon's certificate is verified with `--tlsverify` or
//!   `DOCKER_TLS_VERIFY`, otherwise accepted whatever it is.
//! - The files default to `ca.pem`, `cert.pem` and `key.pem` in `DOCKER_CERT_PATH`,
//!   else in the configuration directory (`DOCKER_CONFIG`, else `~/.docker`). A default
//!   certificate or key that does not exist is left out (no client certificate); the
//!   CA and any file named by a flag must exist.
//! - The address is `-H` (once), else `BERTH_HOST`, else `DOCKER_HOST`, else the default
//!   socket, or `tcp://localhost:2376` with TLS. A `tcp://host` without a port gets
//!   2375, with TLS as without, as the docker CLI does.
//!
//! [`resolve`] computes the plan as a value (unit-tested); [`client`] reads the TLS
//! files and makes the API client.

use std::path::{Path, PathBuf};

use berth_client::{Client, Host, TlsMaterial, TlsOptions};

use crate::cli::Cli;
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
        }
    }
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
    let verify = c.tlsverify || env.docker_tls_verify;
    let tls_on = verify || c.tls || env.docker_tls;
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
    Ok(client.with_tls(connector))
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
