//! Where the daemon listens: the `-H/--host` value and the `DOCKER_HOST`/`BERTH_HOST`
//! variables, in docker's syntax (`unix:///run/berth/berth.sock`, `tcp://127.0.0.1:2375`,
//! a bare `/path.sock` or `host:port`).

use std::fmt;
use std::path::PathBuf;

/// The socket the CLI talks to when no host is given.
pub const DEFAULT_UNIX_SOCKET: &str = "/run/berth/berth.sock";

/// The port of a `tcp://host` without one (docker's plain-HTTP port; the docker CLI
/// keeps it with TLS too).
pub const DEFAULT_TCP_PORT: u16 = 2375;

/// The port of the host the docker CLI uses with TLS when none is given
/// (`tcp://localhost:2376`).
pub const DEFAULT_TLS_PORT: u16 = 2376;

/// A daemon address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A unix stream socket.
    Unix(PathBuf),
    /// A TCP endpoint, `host:port` (a name, an IPv4 address or a bracketed IPv6 one).
    Tcp(String),
}

/// A host string that does not parse (docker's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("Invalid bind address format: {0}")]
    InvalidFormat(String),
    #[error("invalid proto, expected tcp: {0}")]
    InvalidProto(String),
}

impl Default for Host {
    fn default() -> Self {
        Host::Unix(PathBuf::from(DEFAULT_UNIX_SOCKET))
    }
}

impl Host {
    /// The daemon when no host is given: the default socket, or with TLS
    /// `tcp://localhost:2376` (docker's `ParseHost` with `defaultToTLS`).
    pub fn default_for(tls: bool) -> Host {
        if tls {
            Host::Tcp(format!("localhost:{DEFAULT_TLS_PORT}"))
        } else {
            Host::default()
        }
    }

    /// Parses a host as docker's `-H` takes it. An empty string is the default socket.
    pub fn parse(s: &str) -> Result<Host, HostError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Host::default());
        }
        let (proto, rest) = match s.split_once("://") {
            Some((p, r)) => (p, r),
            None if s.starts_with('/') => ("unix", s),
            None => ("tcp", s),
        };
        match proto {
            "unix" => {
                let path = if rest.is_empty() {
                    DEFAULT_UNIX_SOCKET
                } else {
                    rest
                };
                Ok(Host::Unix(PathBuf::from(path)))
            }
            // docker accepts http(s):// as tcp for the client.
            "tcp" | "http" | "https" => {
                let hostport = rest.split('/').next().unwrap_or("");
                if hostport.is_empty() {
                    return Err(HostError::InvalidFormat(s.to_string()));
                }
                Ok(Host::Tcp(with_default_port(hostport)))
            }
            _ => Err(HostError::InvalidFormat(s.to_string())),
        }
    }
}

/// `host` → `host:2375`; `[::1]` → `[::1]:2375`; a given port is kept.
fn with_default_port(hostport: &str) -> String {
    let has_port = match hostport.rfind(':') {
        Some(i) => {
            let closing = hostport.rfind(']');
            closing.is_none_or(|c| c < i)
        }
        None => false,
    };
    if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:{DEFAULT_TCP_PORT}")
    }
}

impl fmt::Display for Host {
    /// The URL form docker prints in messages (`unix:///run/berth/berth.sock`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_host_forms() {
        assert_eq!(
            Host::parse("unix:///tmp/d.sock").unwrap(),
            Host::Unix("/tmp/d.sock".into())
        );
        assert_eq!(
            Host::parse("/tmp/d.sock").unwrap(),
            Host::Unix("/tmp/d.sock".into())
        );
        assert_eq!(Host::parse("").unwrap(), Host::default());
        assert_eq!(Host::parse("unix://").unwrap(), Host::default());
        assert_eq!(
            Host::parse("tcp://127.0.0.1:2376").unwrap(),
            Host::Tcp("127.0.0.1:2376".into())
        );
        assert_eq!(
            Host::parse("tcp://localhost").unwrap(),
            Host::Tcp("localhost:2375".into())
        );
        assert_eq!(
            Host::parse("[::1]").unwrap(),
            Host::Tcp("[::1]:2375".into())
        );
        assert_eq!(
            Host::parse("tcp://[::1]:9/").unwrap(),
            Host::Tcp("[::1]:9".into())
        );
        assert_eq!(Host::default().to_string(), "unix:///run/berth/berth.sock");
        assert_eq!(Host::default_for(false), Host::default());
        assert_eq!(Host::default_for(true).to_string(), "tcp://localhost:2376");
    }

    #[test]
    fn refuses_unknown_schemes() {
        assert_eq!(
            Host::parse("ssh://x").unwrap_err().to_string(),
            "Invalid bind address format: ssh://x"
        );
        assert!(Host::parse("tcp://").is_err());
    }
}
