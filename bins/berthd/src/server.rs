//! The HTTP/1.1 server: an accept loop per listening socket, one hyper
//! connection per client with upgrades on (attach and exec hijack the
//! connection), and a graceful stop: no new connections, idle ones closed,
//! busy ones given a grace period.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::add_common_headers;
use crate::daemon::Daemon;
use crate::handlers::dispatch;
use crate::listen::Listener;

/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request head (and read buffer) accepted; larger heads get 431.
const MAX_HEAD: usize = 256 << 10;

/// The running servers.
pub struct Servers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Starts serving on every listener; TCP connections go through `tls`
/// first when it is set.
pub fn start(
    listeners: Vec<Listener>,
    daemon: Arc<Daemon>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Servers {
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for l in listeners {
        tasks.spawn(accept_loop(l, daemon.clone(), stop_rx.clone(), tls.clone()));
    }
    Servers { stop, tasks }
}

impl Servers {
    /// Stops accepting (the unix sockets are removed) and closes idle
    /// connections; requests in flight go on.
    pub fn stop_accepting(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits up to `grace` for the connections still busy (event streams
    /// and attaches end when their containers stop); then drops them.
    pub async fn drain(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            crate::warn!("connections still open after {grace:?}; closing them");
            self.tasks.abort_all();
        }
    }
}

async fn accept_loop(
    l: Listener,
    daemon: Arc<Daemon>,
    mut stop: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            a = accept(&l) => a,
        };
        match accepted {
            Ok(Conn::Unix(s)) => {
                conns.spawn(serve_conn(s, daemon.clone(), stop.clone()));
            }
            Ok(Conn::Tcp(s)) => {
                let _ = s.set_nodelay(true);
                match &tls {
                    None => {
                        conns.spawn(serve_conn(s, daemon.clone(), stop.clone()));
                    }
                    Some(acceptor) => {
                        // The handshake runs in the connection's task, so a
                        // slow or silent client holds up nobody else.
                        let (acceptor, daemon, stop) =
                            (acceptor.clone(), daemon.clone(), stop.clone());
                        conns.spawn(async move {
                            let handshake =
                                tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(s)).await;
                            match handshake {
                                Ok(Ok(t)) => serve_conn(t, daemon, stop).await,
                                Ok(Err(e)) => crate::debug!("tls handshake: {e}"),
                                Err(_) => crate::debug!("tls handshake: timed out"),
                            }
                        });
                    }
                }
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                crate::error!("accept on {}: {e}", l.describe());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    if let Listener::Unix {
        path, owned: true, ..
    } = &l
    {
        let _ = std::fs::remove_file(path);
    }
    while conns.join_next().await.is_some() {}
}

enum Conn {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

async fn accept(l: &Listener) -> std::io::Result<Conn> {
    match l {
        Listener::Unix { listener, .. } => listener.accept().await.map(|(s, _)| Conn::Unix(s)),
        Listener::Tcp(t) => t.accept().await.map(|(s, _)| Conn::Tcp(s)),
    }
}

async fn serve_conn<S>(stream: S, daemon: Arc<Daemon>, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let daemon = daemon.clone();
        async move {
            let mut resp = dispatch(&daemon, req).await;
            add_common_headers(resp.headers_mut());
            Ok::<_, Infallible>(resp)
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Clients hanging up mid-request are routine; log for debugging only.
        crate::debug!("http connection: {e}");
    }
}
