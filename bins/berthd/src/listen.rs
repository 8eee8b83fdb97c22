//! The API's listening sockets: `-H unix://PATH`, `-H tcp://HOST:PORT`
//! and `-H fd://[N]` (systemd socket activation), several at once.
//!
//! A unix socket is created mode 0660 and group `berth` when that group
//! exists (root and the group's members may use the daemon). Plain TCP
//! hands root-equivalent power to anyone who can connect, so without TLS a
//! TCP address must resolve to loopback addresses only; with TLS (see
//! `tls.rs`) any address is allowed, and its default port is 2376.

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One `-H` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    /// Host (name or literal, IPv6 without brackets) and port.
    Tcp(String, u16),
    /// Sockets passed by systemd: all of them, or the one with this fd.
    Fd(Option<RawFd>),
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("Invalid bind address format: {0}")]
    Format(String),
    #[error("invalid unix socket path {0:?}: it must be absolute")]
    RelativeUnix(String),
    #[error("invalid port in {0:?}")]
    Port(String),
}

/// dockerd's default plain-TCP port.
const DEFAULT_TCP_PORT: u16 = 2375;
/// dockerd's default TLS port.
pub const DEFAULT_TLS_PORT: u16 = 2376;

impl Host {
    /// Parses one `-H` value; `unix://` alone is the default socket under
    /// `exec_root`.
    pub fn parse(spec: &str, exec_root: &Path) -> Result<Host, HostError> {
        let spec_t = spec.trim();
        if let Some(path) = spec_t.strip_prefix("unix://") {
            if path.is_empty() {
                return Ok(Host::Unix(exec_root.join("berth.sock")));
            }
            if !path.starts_with('/') {
                return Err(HostError::RelativeUnix(path.to_string()));
            }
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = spec_t.strip_prefix("fd://") {
            if rest.is_empty() {
                return Ok(Host::Fd(None));
            }
            return rest
                .parse::<RawFd>()
                .ok()
                .filter(|fd| *fd >= 3)
                .map(|fd| Host::Fd(Some(fd)))
                .ok_or_else(|| HostError::Format(spec.to_string()));
        }
        if let Some(rest) = spec_t.strip_prefix("tcp://") {
            if rest.contains('/') {
                return Err(HostError::Format(spec.to_string()));
            }
            let (host, port) =
                split_host_port(rest).ok_or_else(|| HostError::Format(spec.to_string()))?;
            let port = match port {
                None | Some("") => DEFAULT_TCP_PORT,
                Some(p) => p.parse().map_err(|_| HostError::Port(spec.to_string()))?,
            };
            return Ok(Host::Tcp(host.to_string(), port));
        }
        Err(HostError::Format(spec.to_string()))
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp(h, p) if h.contains(':') => write!(f, "tcp://[{h}]:{p}"),
            Host::Tcp(h, p) => write!(f, "tcp://{h}:{p}"),
            Host::Fd(None) => write!(f, "fd://"),
            Host::Fd(Some(n)) => write!(f, "fd://{n}"),
        }
    }
}

/// `host`, `host:port`, `[v6]:port`, `[v6]`.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        return match tail {
            "" => Some((host, None)),
            t => Some((host, Some(t.strip_prefix(':')?))),
        };
    }
    match s.rsplit_once(':') {
        // A bare IPv6 literal without brackets has several colons.
        Some((h, _)) if h.contains(':') => None,
        Some((h, p)) => Some((h, Some(p))),
        None => Some((s, None)),
    }
}

/// A bound listening socket.
pub enum Listener {
    /// A unix socket and its path; `owned` when the daemon created the
    /// file (and removes it at exit), not when systemd passed the socket.
    Unix {
        listener: tokio::net::UnixListener,
        path: PathBuf,
        owned: bool,
    },
    Tcp(tokio::net::TcpListener),
}

impl Listener {
    pub fn describe(&self) -> String {
        match self {
            Listener::Unix { path, .. } => format!("unix://{}", path.display()),
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("tcp://{a}"),
                Err(_) => "tcp://?".to_string(),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("create directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("remove stale socket {path}: {source}")]
    Stale {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} exists and is not a socket")]
    NotASocket { path: PathBuf },
    #[error("listen on unix://{path}: {source}")]
    BindUnix {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("set permissions of {path}: {source}")]
    Perms {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing to listen on tcp://{host}:{port} ({addr}): plain TCP without TLS is only allowed on loopback addresses (use --tlsverify with --tlscacert, --tlscert and --tlskey)"
    )]
    NotLoopback {
        host: String,
        port: u16,
        addr: SocketAddr,
    },
    #[error("listen on tcp://{addr}: {source}")]
    BindTcp {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("fd:// given but no sockets were passed by systemd (LISTEN_FDS/LISTEN_PID unset)")]
    NoActivation,
    #[error("fd://{0} was not passed by systemd")]
    NoSuchFd(RawFd),
    #[error("inspect passed socket fd {fd}: {source}")]
    PassedFd {
        fd: RawFd,
        #[source]
        source: std::io::Error,
    },
}

/// The sockets systemd passed (`sd_listen_fds(3)`): fds 3..3+LISTEN_FDS when
/// LISTEN_PID is this process. The variables are cleared so a child does
/// not believe the sockets are meant for it.
///
/// Call it once, before any other thread exists (it edits the environment).
pub fn take_activation_fds() -> Vec<RawFd> {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let n = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<RawFd>().ok())
        .unwrap_or(0);
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: remove_var races only with other threads touching the
        // environment, and the caller runs this before starting any thread.
        unsafe { std::env::remove_var(var) };
    }
    if !pid_ok || n <= 0 {
        return Vec::new();
    }
    (3..3 + n).collect()
}

/// The addresses of every `tcp://` host, in order, after the checks that
/// refuse one (unresolvable; plain TCP off loopback). The daemon calls it
/// before it opens the engine, so a refused address changes nothing on the
/// host (no bridge, no firewall table), and hands the result to
/// [`bind_resolved`].
pub async fn resolve_all(hosts: &[Host], tls: bool) -> Result<Vec<Vec<SocketAddr>>, ListenError> {
    let mut tcp_addrs = Vec::new();
    for h in hosts {
        if let Host::Tcp(host, port) = h {
            // tokio resolves "" as no address: every interface is 0.0.0.0.
            let name = if host.is_empty() {
                "0.0.0.0"
            } else {
                host.as_str()
            };
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, *port))
                .await
                .map_err(|source| ListenError::Resolve {
                    host: host.clone(),
                    source,
                })?
                .collect();
            if addrs.is_empty() {
                return Err(ListenError::Resolve {
                    host: host.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
                });
            }
            // An empty host means every interface, which is not loopback.
            if !tls && (host.is_empty() || host == "0.0.0.0" || host == "::") {
                return Err(ListenError::NotLoopback {
                    host: host.clone(),
                    port: *port,
                    addr: addrs[0],
                });
            }
            if let Some(a) = addrs.iter().find(|a| !tls && !a.ip().is_loopback()) {
                return Err(ListenError::NotLoopback {
                    host: host.clone(),
                    port: *port,
                    addr: *a,
                });
            }
            tcp_addrs.push(addrs);
        }
    }
    Ok(tcp_addrs)
}

/// Binds every host. Validates all TCP addresses before binding anything,
/// so a refused address leaves no socket file behind. `passed` are the
/// sockets from [`take_activation_fds`], for `fd://`.
pub async fn bind_all(
    hosts: &[Host],
    passed: Vec<RawFd>,
    tls: bool,
) -> Result<Vec<Listener>, ListenError> {
    let tcp_addrs = resolve_all(hosts, tls).await?;
    bind_resolved(hosts, tcp_addrs, passed).await
}

/// Binds every host, the `tcp://` ones at `tcp_addrs` as [`resolve_all`]
/// found them (in the same order).
pub async fn bind_resolved(
    hosts: &[Host],
    tcp_addrs: Vec<Vec<SocketAddr>>,
    mut passed: Vec<RawFd>,
) -> Result<Vec<Listener>, ListenError> {
    let mut out = Vec::new();
    let mut tcp = tcp_addrs.into_iter();
    for h in hosts {
        match h {
            Host::Unix(path) => out.push(bind_unix(path)?),
            Host::Tcp(..) => {
                for addr in tcp.next().unwrap_or_default() {
                    let l = tokio::net::TcpListener::bind(addr)
                        .await
                        .map_err(|source| ListenError::BindTcp { addr, source })?;
                    out.push(Listener::Tcp(l));
                }
            }
            Host::Fd(which) => {
                let fds = &mut passed;
                if fds.is_empty() {
                    return Err(ListenError::NoActivation);
                }
                let chosen: Vec<RawFd> = match which {
                    None => std::mem::take(fds),
                    Some(n) => {
                        let i = fds
                            .iter()
                            .position(|f| f == n)
                            .ok_or(ListenError::NoSuchFd(*n))?;
                        vec![fds.remove(i)]
                    }
                };
                for fd in chosen {
                    out.push(adopt_fd(fd)?);
                }
            }
        }
    }
    Ok(out)
}

/// Wraps a socket passed by systemd.
fn adopt_fd(fd: RawFd) -> Result<Listener, ListenError> {
    // SAFETY: systemd passed `fd` to this process as an open listening
    // socket (LISTEN_PID matched); activation_fds hands each fd out once, so
    // nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let err = |source| ListenError::PassedFd { fd, source };
    let unix = std::os::unix::net::UnixListener::from(owned);
    match unix.local_addr() {
        Ok(addr) => {
            unix.set_nonblocking(true).map_err(err)?;
            let path = addr
                .as_pathname()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let l = tokio::net::UnixListener::from_std(unix).map_err(err)?;
            Ok(Listener::Unix {
                listener: l,
                path,
                owned: false,
            })
        }
        // Not an AF_UNIX socket: take it as TCP.
        Err(_) => {
            let tcp = std::net::TcpListener::from(OwnedFd::from(unix));
            tcp.set_nonblocking(true).map_err(err)?;
            Ok(Listener::Tcp(
                tokio::net::TcpListener::from_std(tcp).map_err(err)?,
            ))
        }
    }
}

/// Binds a unix socket: a stale socket file from an earlier run is removed
/// (anything else at the path is refused), then 0660 and group `berth`.
fn bind_unix(path: &Path) -> Result<Listener, ListenError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ListenError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|source| ListenError::Stale {
                path: path.to_path_buf(),
                source,
            })?
        }
        Ok(_) => {
            return Err(ListenError::NotASocket {
                path: path.to_path_buf(),
            });
        }
        Err(_) => {}
    }
    let l = tokio::net::UnixListener::bind(path).map_err(|source| ListenError::BindUnix {
        path: path.to_path_buf(),
        source,
    })?;
    let perms = |source| ListenError::Perms {
        path: path.to_path_buf(),
        source,
    };
    // /etc/group read directly, as dockerd does for its `docker` group: a
    // getgrnam(3) would load the NSS modules into the daemon for good
    // (~0.4 MB resident) to answer one question at start.
    let gid = std::fs::read_to_string("/etc/group")
        .ok()
        .and_then(|text| group_gid(&text, "berth"));
    if let Some(gid) = gid {
        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)))
            .map_err(|e| perms(e.into()))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(perms)?;
    Ok(Listener::Unix {
        listener: l,
        path: path.to_path_buf(),
        owned: true,
    })
}

/// The gid of group `name` in the text of a group(5) file
/// (`name:password:gid:members`); the first matching line wins.
fn group_gid(text: &str, name: &str) -> Option<u32> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_file_lookup() {
        let text =
            "root:x:0:\n# berth:x:7:\nberthx:x:8:\nberth:x:998:alice,bob\nberth:x:5:\nbad:x:\n";
        assert_eq!(group_gid(text, "berth"), Some(998));
        assert_eq!(group_gid(text, "root"), Some(0));
        assert_eq!(group_gid(text, "bad"), None);
        assert_eq!(group_gid(text, "docker"), None);
        assert_eq!(group_gid("berth:x:notanumber:\n", "berth"), None);
    }

    fn parse(s: &str) -> Result<Host, HostError> {
        Host::parse(s, Path::new("/run/berth"))
    }

    #[test]
    fn hosts_parse_like_dockerd() {
        assert_eq!(
            parse("unix://").unwrap(),
            Host::Unix("/run/berth/berth.sock".into())
        );
        assert_eq!(
            parse("unix:///x.sock").unwrap(),
            Host::Unix("/x.sock".into())
        );
        assert_eq!(
            parse("tcp://127.0.0.1:2380").unwrap(),
            Host::Tcp("127.0.0.1".into(), 2380)
        );
        assert_eq!(
            parse("tcp://localhost").unwrap(),
            Host::Tcp("localhost".into(), 2375)
        );
        assert_eq!(parse("tcp://[::1]:5").unwrap(), Host::Tcp("::1".into(), 5));
        assert_eq!(parse("tcp://:2375").unwrap(), Host::Tcp("".into(), 2375));
        assert_eq!(parse("fd://").unwrap(), Host::Fd(None));
        assert_eq!(parse("fd://3").unwrap(), Host::Fd(Some(3)));
        for bad in [
            "ssh://x",
            "/x.sock",
            "tcp://a:b",
            "tcp://1.2.3.4:5/path",
            "fd://x",
            "unix://rel",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("tcp://[::1]:5").unwrap().to_string(), "tcp://[::1]:5");
    }

    #[tokio::test]
    async fn tcp_off_loopback_is_refused_before_anything_is_bound() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("a.sock");
        let hosts = [Host::Unix(sock.clone()), Host::Tcp("0.0.0.0".into(), 0)];
        let err = bind_all(&hosts, Vec::new(), false)
            .await
            .err()
            .expect("refused");
        assert!(matches!(err, ListenError::NotLoopback { .. }), "{err}");
        assert!(!sock.exists());
    }

    #[tokio::test]
    async fn unix_sockets_are_0660_and_replace_stale_ones() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("sub/a.sock");
        for _ in 0..2 {
            let ls = bind_all(
                &[Host::Unix(sock.clone()), Host::Tcp("127.0.0.1".into(), 0)],
                Vec::new(),
                false,
            )
            .await
            .unwrap();
            assert_eq!(ls.len(), 2);
            let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o660);
        }
        let file = dir.path().join("plain");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(
            bind_all(&[Host::Unix(file)], Vec::new(), false).await.err(),
            Some(ListenError::NotASocket { .. })
        ));
    }
}
