//! The userland proxy: a published port's listening socket on the host,
//! forwarding to the container.
//!
//! The kernel's DNAT rules cannot serve connections to 127.0.0.1 (a
//! packet to a loopback address never leaves `lo`, so it cannot be routed
//! to a bridge without `route_localnet`), so, as dockerd does by default,
//! the daemon listens on the published address itself. The listening
//! socket also reserves the port: a port another program holds fails at
//! bind, which is the clear error at start the user gets.
//!
//! Lifecycle: [`bind`] takes the port (synchronously, so the error reaches
//! the start that asked), [`BoundPort::serve`] forwards until the returned
//! [`Proxy`] is dropped.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use crate::firewall::Proto;

/// How long a UDP flow with no traffic keeps its upstream socket.
const UDP_IDLE: Duration = Duration::from_secs(90);

/// Errors of taking a port.
///
/// Worded as Go's net package words them (`listen tcp4 0.0.0.0:80: bind:
/// address already in use`), which is what dockerd's users see.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listen {proto}4 {addr}: bind: {}", go_errno(source))]
    Bind {
        proto: &'static str,
        addr: SocketAddrV4,
        #[source]
        source: std::io::Error,
    },
}

/// An errno's text as Go prints it: strerror(3), lowercase.
fn go_errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// A host port taken, not yet forwarding.
pub enum BoundPort {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Takes `host_ip:host_port` (all addresses when `host_ip` is `None`; a
/// kernel-chosen port when `host_port` is 0). Needs a tokio runtime.
pub fn bind(proto: Proto, host_ip: Option<Ipv4Addr>, host_port: u16) -> Result<BoundPort, Error> {
    let addr = SocketAddrV4::new(host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED), host_port);
    let err = |source| Error::Bind {
        proto: proto.as_str(),
        addr,
        source,
    };
    match proto {
        Proto::Tcp => {
            let s = TcpSocket::new_v4().map_err(err)?;
            // Lets a restarted daemon take the port back while old
            // connections linger in TIME_WAIT, as any server does.
            s.set_reuseaddr(true).map_err(err)?;
            s.bind(addr.into()).map_err(err)?;
            Ok(BoundPort::Tcp(s.listen(1024).map_err(err)?))
        }
        Proto::Udp => {
            let s = std::net::UdpSocket::bind(addr).map_err(err)?;
            s.set_nonblocking(true).map_err(err)?;
            Ok(BoundPort::Udp(UdpSocket::from_std(s).map_err(err)?))
        }
    }
}

impl BoundPort {
    /// The port actually taken (the kernel's choice for port 0).
    pub fn port(&self) -> u16 {
        let addr = match self {
            BoundPort::Tcp(l) => l.local_addr(),
            BoundPort::Udp(s) => s.local_addr(),
        };
        addr.map(|a| a.port()).unwrap_or(0)
    }

    /// Forwards to `backend` until the returned handle is dropped.
    pub fn serve(self, backend: SocketAddrV4) -> Proxy {
        let task = match self {
            BoundPort::Tcp(l) => tokio::spawn(serve_tcp(l, backend)),
            BoundPort::Udp(s) => tokio::spawn(serve_udp(s, backend)),
        };
        Proxy { task }
    }
}

/// A forwarding port; dropping it closes the port and every flow.
pub struct Proxy {
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_tcp(listener: TcpListener, backend: SocketAddrV4) {
    let mut flows = tokio::task::JoinSet::new();
    loop {
        let (mut client, _) = match listener.accept().await {
            Ok(c) => c,
            // EMFILE and friends: back off instead of spinning.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Finished flows are reaped so the set does not grow.
        while flows.try_join_next().is_some() {}
        flows.spawn(async move {
            let Ok(mut upstream) = TcpStream::connect(backend).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });
    }
}

async fn serve_udp(socket: UdpSocket, backend: SocketAddrV4) {
    let socket = Arc::new(socket);
    // One upstream socket per client address, so replies find their way
    // back; each flow's task ends after UDP_IDLE without replies.
    let mut flows: HashMap<SocketAddr, (Arc<UdpSocket>, JoinHandle<()>)> = HashMap::new();
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        flows.retain(|_, (_, t)| !t.is_finished());
        let upstream = match flows.get(&client) {
            Some((u, _)) => u.clone(),
            None => {
                let Ok(u) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await else {
                    continue;
                };
                if u.connect(backend).await.is_err() {
                    continue;
                }
                let u = Arc::new(u);
                let (reply_to, from, back) = (socket.clone(), u.clone(), client);
                let task = tokio::spawn(async move {
                    let mut buf = vec![0u8; 65535];
                    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, from.recv(&mut buf)).await
                    {
                        let _ = reply_to.send_to(&buf[..n], back).await;
                    }
                });
                flows.insert(client, (u.clone(), task));
                u
            }
        };
        let _ = upstream.send(&buf[..n]).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tcp_forwards_and_closes_on_drop() {
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let SocketAddr::V4(baddr) = backend.local_addr().unwrap() else {
            unreachable!()
        };
        tokio::spawn(async move {
            let (mut s, _) = backend.accept().await.unwrap();
            let mut b = [0u8; 5];
            s.read_exact(&mut b).await.unwrap();
            s.write_all(&b.to_ascii_uppercase()).await.unwrap();
        });
        let bound = bind(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), 0).unwrap();
        let port = bound.port();
        assert_ne!(port, 0);
        // The port is taken: a second bind fails with a clear error.
        let again = bind(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), port)
            .err()
            .unwrap();
        assert_eq!(
            again.to_string(),
            format!("listen tcp4 127.0.0.1:{port}: bind: address already in use")
        );
        let proxy = bound.serve(baddr);
        let mut c = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut got = [0u8; 5];
        c.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"HELLO");
        drop(proxy);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn udp_forwards_replies_to_the_client() {
        let backend = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let SocketAddr::V4(baddr) = backend.local_addr().unwrap() else {
            unreachable!()
        };
        tokio::spawn(async move {
            let mut b = [0u8; 64];
            let (n, from) = backend.recv_from(&mut b).await.unwrap();
            backend
                .send_to(&b[..n].to_ascii_uppercase(), from)
                .await
                .unwrap();
        });
        let bound = bind(Proto::Udp, Some(Ipv4Addr::LOCALHOST), 0).unwrap();
        let port = bound.port();
        let _proxy = bound.serve(baddr);
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        c.send_to(b"ping", (Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let mut b = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&b[..n], b"PING");
    }
}
