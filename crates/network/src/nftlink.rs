//! Published ports on the hot path: nftables map elements added and
//! deleted over netlink (NETLINK_NETFILTER), in one batch, without
//! running nft(8).
//!
//! The table and its maps are made by [`crate::firewall::apply`]; a start
//! that publishes ports only adds elements to the maps its rules look up,
//! and its exit deletes them. The messages follow the kernel's nf_tables
//! netlink interface (include/uapi/linux/netfilter/nf_tables.h): a batch
//! (NFNL_MSG_BATCH_BEGIN … NFNL_MSG_BATCH_END) holding one
//! NFT_MSG_NEWSETELEM or NFT_MSG_DELSETELEM per map, each element a key
//! and (for maps) a data value, in network byte order, every field padded
//! to 4 bytes as nftables' registers are.

use netlink_sys::{Socket, protocols::NETLINK_NETFILTER};

use crate::firewall::{PortMap, Proto};

/// Errors of changing map elements.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("open netfilter netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("send nftables batch: {0}")]
    Send(#[source] std::io::Error),
    #[error("read nftables reply: {0}")]
    Recv(#[source] std::io::Error),
    #[error("{op} elements of map {table}/{map}: {source}")]
    Kernel {
        op: &'static str,
        table: String,
        map: String,
        #[source]
        source: std::io::Error,
    },
}

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFPROTO_IPV4: u8 = 2;

/// Add or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Delete,
}

/// One map element as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub map: String,
    pub key: Vec<u8>,
    pub data: Vec<u8>,
}

/// A port in a register: two bytes, big-endian, padded to four.
fn port_reg(p: u16) -> [u8; 4] {
    let b = p.to_be_bytes();
    [b[0], b[1], 0, 0]
}

/// The element a published port is in its map (`ports_tcp` for any host
/// address, `addr_ports_tcp` for one; `_udp` likewise), as the table made
/// by [`crate::firewall::Ruleset::script`] types them.
pub fn element(m: &PortMap) -> Element {
    let proto = match m.proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    let mut data = m.container_ip.octets().to_vec();
    data.extend_from_slice(&port_reg(m.container_port));
    match m.host_ip {
        // A single-field key has the field's own length (two bytes for
        // inet_service); only concatenations pad each field to a register.
        None => Element {
            map: format!("ports_{proto}"),
            key: m.host_port.to_be_bytes().to_vec(),
            data,
        },
        Some(ip) => {
            let mut key = ip.octets().to_vec();
            key.extend_from_slice(&port_reg(m.host_port));
            Element {
                map: format!("addr_ports_{proto}"),
                key,
                data,
            }
        }
    }
}

/// A netlink message under construction.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(kind: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        // struct nfgenmsg: family, version, res_id (big-endian).
        buf.push(family);
        buf.push(0);
        buf.extend_from_slice(&res_id.to_be_bytes());
        Msg { buf }
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    fn attr_str(&mut self, kind: u16, s: &str) {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.attr(kind, &b);
    }

    /// Opens a nested attribute; returns where its length goes.
    fn nest(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end_nest(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// The batch that applies `op` to `elements` of table `ip <table>`;
/// message `first_seq + 1 + i` changes the `i`-th map (in `maps` order).
pub fn batch(table: &str, op: Op, elements: &[Element], first_seq: u32) -> (Vec<u8>, Vec<String>) {
    let mut maps: Vec<String> = elements.iter().map(|e| e.map.clone()).collect();
    maps.sort();
    maps.dedup();
    // The batch markers name the subsystem in their res_id.
    let mut out = Msg::new(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        first_seq,
        0,
        NFNL_SUBSYS_NFTABLES,
    )
    .finish();
    let (kind, flags) = match op {
        Op::Add => (NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE),
        Op::Delete => (NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK),
    };
    for (i, map) in maps.iter().enumerate() {
        let mut m = Msg::new(
            (NFNL_SUBSYS_NFTABLES << 8) | kind,
            flags,
            first_seq + 1 + i as u32,
            NFPROTO_IPV4,
            0,
        );
        m.attr_str(NFTA_SET_ELEM_LIST_TABLE, table);
        m.attr_str(NFTA_SET_ELEM_LIST_SET, map);
        let list = m.nest(NFTA_SET_ELEM_LIST_ELEMENTS);
        for e in elements.iter().filter(|e| &e.map == map) {
            let item = m.nest(NFTA_LIST_ELEM);
            let key = m.nest(NFTA_SET_ELEM_KEY);
            m.attr(NFTA_DATA_VALUE, &e.key);
            m.end_nest(key);
            if op == Op::Add {
                let data = m.nest(NFTA_SET_ELEM_DATA);
                m.attr(NFTA_DATA_VALUE, &e.data);
                m.end_nest(data);
            }
            m.end_nest(item);
        }
        m.end_nest(list);
        out.extend_from_slice(&m.finish());
    }
    let end_seq = first_seq + 1 + maps.len() as u32;
    out.extend_from_slice(
        &Msg::new(
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            end_seq,
            0,
            NFNL_SUBSYS_NFTABLES,
        )
        .finish(),
    );
    (out, maps)
}

/// Applies `op` to the elements of `ports` in table `ip <table>`, in one
/// batch (all or nothing, as every nf_tables batch).
pub fn change(table: &str, op: Op, ports: &[PortMap]) -> Result<(), Error> {
    if ports.is_empty() {
        return Ok(());
    }
    let elements: Vec<Element> = ports.iter().map(element).collect();
    let mut sock = Socket::new(NETLINK_NETFILTER).map_err(Error::Socket)?;
    sock.bind_auto().map_err(Error::Socket)?;
    let (bytes, maps) = batch(table, op, &elements, 1);
    sock.send(&bytes, 0).map_err(Error::Send)?;
    // One ACK (an NLMSG_ERROR with errno 0, or the error) per map message.
    let mut pending = maps.len();
    let mut first_err = None;
    let mut buf = vec![0u8; 8192];
    while pending > 0 {
        buf.clear();
        let n = sock.recv(&mut buf, 0).map_err(Error::Recv)?;
        let mut off = 0;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().expect("4 bytes")) as usize;
            let kind = u16::from_ne_bytes(buf[off + 4..off + 6].try_into().expect("2 bytes"));
            let seq = u32::from_ne_bytes(buf[off + 8..off + 12].try_into().expect("4 bytes"));
            if len < 16 || off + len > n {
                break;
            }
            if kind == NLMSG_ERROR && off + 20 <= n {
                let code = i32::from_ne_bytes(buf[off + 16..off + 20].try_into().expect("4 bytes"));
                pending = pending.saturating_sub(1);
                if code != 0 && first_err.is_none() {
                    let i = seq.saturating_sub(2) as usize;
                    first_err = Some(Error::Kernel {
                        op: match op {
                            Op::Add => "add",
                            Op::Delete => "delete",
                        },
                        table: table.to_string(),
                        map: maps.get(i).cloned().unwrap_or_default(),
                        source: std::io::Error::from_raw_os_error(-code),
                    });
                }
            }
            off += (len + 3) & !3;
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// The elements' text as nft(8) lists them, for tests.
pub fn describe(m: &PortMap) -> String {
    match m.host_ip {
        None => format!(
            "{} : {} . {}",
            m.host_port, m.container_ip, m.container_port
        ),
        Some(ip) => format!(
            "{ip} . {} : {} . {}",
            m.host_port, m.container_ip, m.container_port
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{Ruleset, apply};
    use std::net::Ipv4Addr;

    fn map(port: u16, ip: Option<Ipv4Addr>, proto: Proto) -> PortMap {
        PortMap {
            proto,
            host_ip: ip,
            host_port: port,
            container_ip: Ipv4Addr::new(172, 17, 0, 9),
            container_port: 80,
        }
    }

    #[test]
    fn elements_are_padded_registers_in_network_order() {
        let e = element(&map(8081, None, Proto::Tcp));
        assert_eq!(e.map, "ports_tcp");
        assert_eq!(e.key, [0x1f, 0x91]);
        assert_eq!(e.data, [172, 17, 0, 9, 0, 80, 0, 0]);
        let e = element(&map(53, Some(Ipv4Addr::LOCALHOST), Proto::Udp));
        assert_eq!(e.map, "addr_ports_udp");
        assert_eq!(e.key, [127, 0, 0, 1, 0, 53, 0, 0]);
    }

    #[test]
    fn a_batch_is_begin_one_message_per_map_end() {
        let elements = [
            element(&map(1, None, Proto::Tcp)),
            element(&map(2, None, Proto::Tcp)),
            element(&map(3, None, Proto::Udp)),
        ];
        let (bytes, maps) = batch("berth", Op::Add, &elements, 1);
        assert_eq!(maps, ["ports_tcp", "ports_udp"]);
        // Walk the messages: lengths add up, types in order.
        let mut off = 0;
        let mut kinds = vec![];
        while off < bytes.len() {
            let len = u32::from_ne_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
            kinds.push(u16::from_ne_bytes(
                bytes[off + 4..off + 6].try_into().unwrap(),
            ));
            assert_eq!(len % 4, 0);
            off += len;
        }
        assert_eq!(off, bytes.len());
        let set = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM;
        assert_eq!(kinds, [NFNL_MSG_BATCH_BEGIN, set, set, NFNL_MSG_BATCH_END]);
    }

    /// Against the kernel: elements appear in nft's listing and go away;
    /// an error (a map that does not exist) is reported.
    #[test]
    fn elements_change_in_a_private_namespace() {
        if !nix::unistd::geteuid().is_root()
            || std::process::Command::new("nft")
                .arg("-v")
                .output()
                .is_err()
        {
            eprintln!("skipped: needs root and nft");
            return;
        }
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            apply("berth_nl", &Ruleset::default()).unwrap();
            let ports = [
                map(8080, None, Proto::Tcp),
                map(5353, Some(Ipv4Addr::LOCALHOST), Proto::Udp),
            ];
            change("berth_nl", Op::Add, &ports).unwrap();
            let list = || {
                let out = std::process::Command::new("nft")
                    .args(["list", "table", "ip", "berth_nl"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).to_string()
            };
            let l = list();
            assert!(l.contains(&describe(&ports[0])), "{l}");
            assert!(l.contains(&describe(&ports[1])), "{l}");
            change("berth_nl", Op::Delete, &ports[..1]).unwrap();
            let l = list();
            assert!(!l.contains(&describe(&ports[0])), "{l}");
            assert!(l.contains(&describe(&ports[1])), "{l}");
            // Adding an element that exists again is an error (EEXIST
            // without NLM_F_EXCL is accepted by the kernel, so delete a
            // missing one instead: ENOENT).
            let err = change("berth_nl", Op::Delete, &ports[..1]).unwrap_err();
            assert!(
                err.to_string()
                    .contains("delete elements of map berth_nl/ports_tcp"),
                "{err}"
            );
            crate::firewall::remove("berth_nl").unwrap();
            let err = change("berth_nl", Op::Add, &ports[..1]).unwrap_err();
            assert!(matches!(err, Error::Kernel { .. }), "{err}");
        })
        .join()
        .unwrap();
    }
}
