//! The embedded DNS server of user-defined networks.
//!
//! Inside each container on a user-defined network the server listens on
//! `127.0.0.11:53` (UDP and TCP), the address dockerd uses; the container's
//! resolv.conf names it. The sockets are made in the container's network
//! namespace (by a short-lived thread that joined it), and served by the
//! daemon's runtime. Queries for the names in the container's [`Table`]
//! (the containers sharing a network with it, by name, short id and alias)
//! are answered here; anything else is relayed unchanged to the upstream
//! servers, from the daemon's own namespace, so a resolver on the host's
//! loopback works too.
//!
//! Lifecycle: [`DnsServer::start`] binds and serves; [`DnsServer::update`]
//! replaces the table (containers came or went); dropping the server
//! closes its sockets.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The address the server listens on inside a container.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// TTL of answers for container names, as dockerd gives them.
const TTL: u32 = 600;

/// How long an upstream server gets to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// Lowercase names without the trailing dot -> addresses.
pub type Table = BTreeMap<String, Vec<Ipv4Addr>>;

/// Errors of starting a server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("join network namespace: {0}")]
    Setns(#[source] nix::Error),
    #[error("listen on {proto} {ADDRESS}:53 in the container: {source}")]
    Bind {
        proto: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// A running server; see the module docs.
pub struct DnsServer {
    table: watch::Sender<Arc<Table>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds the server's sockets inside namespace `ns` on `port` (53 in
/// containers; tests may pick another).
fn bind_in(
    ns: BorrowedFd<'_>,
    port: u16,
) -> Result<(std::net::UdpSocket, std::net::TcpListener), Error> {
    let raw = ns.as_raw_fd();
    std::thread::scope(|s| {
        s.spawn(move || {
            // SAFETY: `ns` outlives this scoped thread; the fd is only
            // borrowed for the setns call.
            let fd = unsafe { BorrowedFd::borrow_raw(raw) };
            // The thread ends right after the sockets are made.
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).map_err(Error::Setns)?;
            let udp = std::net::UdpSocket::bind((ADDRESS, port)).map_err(|source| Error::Bind {
                proto: "udp",
                source,
            })?;
            let tcp =
                std::net::TcpListener::bind((ADDRESS, port)).map_err(|source| Error::Bind {
                    proto: "tcp",
                    source,
                })?;
            for r in [udp.set_nonblocking(true), tcp.set_nonblocking(true)] {
                r.map_err(|source| Error::Bind {
                    proto: "udp",
                    source,
                })?;
            }
            Ok((udp, tcp))
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

impl DnsServer {
    /// Starts a server in namespace `ns`; needs a tokio runtime.
    pub fn start(
        ns: BorrowedFd<'_>,
        port: u16,
        table: Table,
        upstreams: Vec<SocketAddr>,
    ) -> Result<DnsServer, Error> {
        let (udp, tcp) = bind_in(ns, port)?;
        let udp = UdpSocket::from_std(udp).map_err(|source| Error::Bind {
            proto: "udp",
            source,
        })?;
        let tcp = TcpListener::from_std(tcp).map_err(|source| Error::Bind {
            proto: "tcp",
            source,
        })?;
        let (tx, rx) = watch::channel(Arc::new(table));
        let upstreams = Arc::new(upstreams);
        let tasks = vec![
            tokio::spawn(serve_udp(udp, rx.clone(), upstreams.clone())),
            tokio::spawn(serve_tcp(tcp, rx, upstreams)),
        ];
        Ok(DnsServer { table: tx, tasks })
    }

    /// Replaces the names the server answers.
    pub fn update(&self, table: Table) {
        self.table.send_replace(Arc::new(table));
    }
}

async fn serve_udp(sock: UdpSocket, table: watch::Receiver<Arc<Table>>, up: Arc<Vec<SocketAddr>>) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..n].to_vec();
        let (sock, table, up) = (sock.clone(), table.borrow().clone(), up.clone());
        tokio::spawn(async move {
            if let Some(reply) = answer(&query, &table, &up).await {
                let _ = sock.send_to(&reply, from).await;
            }
        });
    }
}

async fn serve_tcp(l: TcpListener, table: watch::Receiver<Arc<Table>>, up: Arc<Vec<SocketAddr>>) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            continue;
        };
        let (table, up) = (table.clone(), up.clone());
        tokio::spawn(async move {
            // RFC 1035 4.2.2: each message is preceded by its length.
            loop {
                let Ok(len) = s.read_u16().await else { return };
                let mut q = vec![0u8; usize::from(len)];
                if s.read_exact(&mut q).await.is_err() {
                    return;
                }
                let t = table.borrow().clone();
                let Some(reply) = answer(&q, &t, &up).await else {
                    return;
                };
                let Ok(len) = u16::try_from(reply.len()) else {
                    return;
                };
                if s.write_u16(len).await.is_err() || s.write_all(&reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// What to do with a query: answer from the table, or relay.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// A complete reply.
    Reply(Vec<u8>),
    /// Not ours: relay the query upstream.
    Forward,
    /// Malformed: no reply.
    Drop,
}

/// Decides on one query (pure, for tests).
pub fn decide(query: &[u8], table: &Table) -> Decision {
    let Ok(msg) = Message::from_vec(query) else {
        return Decision::Drop;
    };
    if msg.metadata.message_type != MessageType::Query {
        return Decision::Drop;
    }
    let reply_with = |code: ResponseCode, answers: Vec<Record>| {
        let mut r = Message::response(msg.metadata.id, msg.metadata.op_code);
        r.metadata.response_code = code;
        r.metadata.recursion_desired = msg.metadata.recursion_desired;
        r.metadata.recursion_available = true;
        r.add_queries(msg.queries.iter().cloned());
        r.add_answers(answers);
        r.to_vec().map(Decision::Reply).unwrap_or(Decision::Drop)
    };
    if msg.metadata.op_code != OpCode::Query || msg.queries.len() != 1 {
        return reply_with(ResponseCode::NotImp, vec![]);
    }
    let q = &msg.queries[0];
    let name = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let Some(addrs) = table.get(&name) else {
        return Decision::Forward;
    };
    if q.query_class() != DNSClass::IN {
        return Decision::Forward;
    }
    match q.query_type() {
        RecordType::A | RecordType::ANY => {
            let answers = addrs
                .iter()
                .map(|ip| Record::from_rdata(q.name().clone(), TTL, RData::A(A(*ip))))
                .collect();
            reply_with(ResponseCode::NoError, answers)
        }
        // The name exists, with no address of that type: NOERROR, empty.
        _ => reply_with(ResponseCode::NoError, vec![]),
    }
}

async fn answer(query: &[u8], table: &Table, upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    match decide(query, table) {
        Decision::Reply(r) => Some(r),
        Decision::Drop => None,
        Decision::Forward => {
            for up in upstreams {
                if let Some(r) = relay(query, *up).await {
                    return Some(r);
                }
            }
            let msg = Message::from_vec(query).ok()?;
            let mut r = Message::error_msg(
                msg.metadata.id,
                msg.metadata.op_code,
                ResponseCode::ServFail,
            );
            r.add_queries(msg.queries.iter().cloned());
            r.to_vec().ok()
        }
    }
}

async fn relay(query: &[u8], upstream: SocketAddr) -> Option<Vec<u8>> {
    let bind: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let s = UdpSocket::bind(bind).await.ok()?;
    s.connect(upstream).await.ok()?;
    s.send(query).await.ok()?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(UPSTREAM_TIMEOUT, s.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 77;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    fn table() -> Table {
        BTreeMap::from([("web".to_string(), vec![Ipv4Addr::new(172, 18, 0, 2)])])
    }

    #[test]
    fn known_names_are_answered_case_insensitively() {
        let Decision::Reply(r) = decide(&query("WEB.", RecordType::A), &table()) else {
            panic!("no reply")
        };
        let m = Message::from_vec(&r).unwrap();
        assert_eq!(m.metadata.id, 77);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, RData::A(A(Ipv4Addr::new(172, 18, 0, 2))));
        // AAAA of a known name: no error, no answer (no IPv6 here).
        let Decision::Reply(r) = decide(&query("web.", RecordType::AAAA), &table()) else {
            panic!("no reply")
        };
        assert!(Message::from_vec(&r).unwrap().answers.is_empty());
    }

    #[test]
    fn other_names_are_forwarded_and_garbage_dropped() {
        assert_eq!(
            decide(&query("example.org.", RecordType::A), &table()),
            Decision::Forward
        );
        assert_eq!(decide(b"\x00\x01garbage", &table()), Decision::Drop);
        assert_eq!(decide(&[], &table()), Decision::Drop);
    }

    /// A real server in a private namespace, asked over UDP and TCP.
    #[tokio::test]
    async fn serves_in_a_namespace() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        // A namespace of our own, with loopback up (127.0.0.11 is on lo).
        let ns: std::os::fd::OwnedFd = std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let st = std::process::Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status();
            assert!(st.unwrap().success());
            std::fs::File::open("/proc/thread-self/ns/net")
                .unwrap()
                .into()
        })
        .join()
        .unwrap();
        let server = DnsServer::start(std::os::fd::AsFd::as_fd(&ns), 53, table(), vec![]).unwrap();
        let raw = ns.as_raw_fd();
        // A thread of its own joins the namespace (never a pool thread,
        // which would stay there).
        let got = tokio::task::spawn_blocking(move || {
            std::thread::spawn(move || {
                // SAFETY: `ns` lives until the end of the test.
                let fd = unsafe { BorrowedFd::borrow_raw(raw) };
                nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s.send_to(&query("web.", RecordType::A), (ADDRESS, 53))
                    .unwrap();
                let mut b = [0u8; 512];
                let n = s.recv(&mut b).unwrap();
                let udp = Message::from_vec(&b[..n]).unwrap();
                // An unknown name with no upstream: SERVFAIL.
                s.send_to(&query("nope.", RecordType::A), (ADDRESS, 53))
                    .unwrap();
                let n = s.recv(&mut b).unwrap();
                let fail = Message::from_vec(&b[..n]).unwrap();
                use std::io::{Read, Write};
                let mut t = std::net::TcpStream::connect((ADDRESS, 53)).unwrap();
                let q = query("web.", RecordType::A);
                t.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
                t.write_all(&q).unwrap();
                let mut len = [0u8; 2];
                t.read_exact(&mut len).unwrap();
                let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
                t.read_exact(&mut r).unwrap();
                (udp, fail, Message::from_vec(&r).unwrap())
            })
            .join()
            .unwrap()
        })
        .await
        .unwrap();
        assert_eq!(got.0.answers.len(), 1);
        assert_eq!(got.1.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(got.2.answers.len(), 1);
        server.update(Table::new());
        drop(server);
    }
}
