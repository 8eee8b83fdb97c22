//! Links, addresses and routes through rtnetlink.
//!
//! A [`Netlink`] is a connection to the kernel's routing netlink in one
//! network namespace: a netlink socket acts in the namespace it was opened
//! in (netlink(7)), so a connection for a container's namespace is opened
//! by a short-lived thread that has joined it (setns(2)) and then exits,
//! which leaves no thread of the daemon behind in a foreign namespace.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

use futures_util::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkFlags};
use rtnetlink::{LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

/// Errors of netlink operations, naming the operation and the object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("open netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("join network namespace: {0}")]
    Setns(#[source] nix::Error),
    #[error("{op} {name}: {source}")]
    Netlink {
        op: &'static str,
        name: String,
        /// Boxed: netlink errors carry the whole message that failed.
        #[source]
        source: Box<rtnetlink::Error>,
    },
    #[error("{op} {name}: no such link")]
    NoLink { op: &'static str, name: String },
}

impl Error {
    /// The errno the kernel answered with, if the error is a netlink reply.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Netlink { source, .. } => errno(source),
            _ => None,
        }
    }
}

/// The positive errno of a netlink error reply, if it is one.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

/// A container's side of an interface, as data: what [`Netlink::configure`]
/// sets inside the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// The name inside the container (`eth0`, `eth1`, …).
    pub name: String,
    pub address: Ipv4Net,
    /// Installs the default route through this gateway when set (the
    /// first network a container joins gets the default route).
    pub gateway: Option<Ipv4Addr>,
}

/// A connection to rtnetlink in one network namespace.
#[derive(Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

impl Netlink {
    /// A connection in the caller's namespace; its driver runs on the
    /// current tokio runtime.
    pub fn current() -> Result<Netlink, Error> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(Error::Socket)?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// A connection in the namespace `ns` (an open `/proc/PID/ns/net`).
    pub fn in_namespace(ns: BorrowedFd<'_>) -> Result<Netlink, Error> {
        let rt = tokio::runtime::Handle::current();
        let raw = ns.as_raw_fd();
        let (conn, handle) = std::thread::scope(|s| {
            s.spawn(move || -> Result<_, Error> {
                // SAFETY: `ns` outlives this scoped thread, so the fd is
                // open for the call; it is only borrowed.
                let fd = unsafe { BorrowedFd::borrow_raw(raw) };
                // This thread exits right after the socket is made, so it
                // never runs anything else in the container's namespace.
                nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(Error::Setns)?;
                let _enter = rt.enter();
                let (conn, handle, _) = rtnetlink::new_connection().map_err(Error::Socket)?;
                Ok((conn, handle))
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// The index of link `name`, if it exists.
    pub async fn index_of(&self, name: &str) -> Result<Option<u32>, Error> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(l)) => Ok(Some(l.header.index)),
            Ok(None) => Ok(None),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
            Err(source) => Err(Error::Netlink {
                op: "get link",
                name: name.to_string(),
                source: Box::new(source),
            }),
        }
    }

    /// Creates bridge `name` unless it exists, gives it `address` (the
    /// gateway with the subnet's prefix) unless it has it, and sets it up.
    /// Returns its index. Idempotent, so a daemon restart re-runs it.
    pub async fn ensure_bridge(
        &self,
        name: &str,
        address: Ipv4Net,
        mtu: Option<u32>,
    ) -> Result<u32, Error> {
        let nl = |op, source| Error::Netlink {
            op,
            name: name.to_string(),
            source: Box::new(source),
        };
        if self.index_of(name).await?.is_none() {
            let mut b = LinkBridge::new(name);
            if let Some(m) = mtu {
                b = b.mtu(m);
            }
            match self.handle.link().add(b.build()).execute().await {
                Ok(()) => {}
                // Made concurrently by another start: fine.
                Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                Err(e) => return Err(nl("create bridge", e)),
            }
        }
        let index = self.index_of(name).await?.ok_or(Error::NoLink {
            op: "create bridge",
            name: name.to_string(),
        })?;
        match self
            .handle
            .address()
            .add(index, address.addr().into(), address.prefix_len())
            .execute()
            .await
        {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(libc::EEXIST) => {}
            Err(e) => return Err(nl("add address to", e)),
        }
        self.set_up(index, name).await?;
        Ok(index)
    }

    async fn set_up(&self, index: u32, name: &str) -> Result<(), Error> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|source| Error::Netlink {
                op: "set up",
                name: name.to_string(),
                source: Box::new(source),
            })
    }

    /// Deletes link `name`; a link that is already gone is not an error.
    pub async fn delete_link(&self, name: &str) -> Result<(), Error> {
        let Some(index) = self.index_of(name).await? else {
            return Ok(());
        };
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
            Err(source) => Err(Error::Netlink {
                op: "delete link",
                name: name.to_string(),
                source: Box::new(source),
            }),
        }
    }

    /// Creates a veth pair in one request: `host_name` enslaved to the
    /// bridge `bridge` and up, its peer created directly inside the
    /// namespace `ns` as `peer_name` with `mac` (so no interface of the
    /// container ever appears on the host under a temporary name).
    pub async fn add_veth(
        &self,
        host_name: &str,
        bridge: u32,
        mtu: Option<u32>,
        peer_name: &str,
        mac: [u8; 6],
        ns: BorrowedFd<'_>,
    ) -> Result<(), Error> {
        let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer_name.to_string())
            .address(mac.to_vec())
            .setns_by_fd(ns.as_raw_fd());
        let mut host = LinkVeth::new(host_name, peer_name).controller(bridge).up();
        if let Some(m) = mtu {
            peer = peer.mtu(m);
            host = host.mtu(m);
        }
        let host = host.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        self.handle
            .link()
            .add(host.build())
            .execute()
            .await
            .map_err(|source| Error::Netlink {
                op: "create veth",
                name: host_name.to_string(),
                source: Box::new(source),
            })
    }

    /// Creates a macvlan or ipvlan link on `parent` directly inside `ns`.
    pub async fn add_sublink(
        &self,
        kind: SubLink,
        parent: &str,
        name: &str,
        mac: Option<[u8; 6]>,
        ns: BorrowedFd<'_>,
    ) -> Result<(), Error> {
        let parent_index = self.index_of(parent).await?.ok_or(Error::NoLink {
            op: "find parent",
            name: parent.to_string(),
        })?;
        let mut msg = match kind {
            SubLink::Macvlan(mode) => {
                rtnetlink::LinkMacVlan::new(name, parent_index, mode.into()).build()
            }
            SubLink::Ipvlan(mode) => {
                rtnetlink::LinkIpVlan::new(name, parent_index, mode.into()).build()
            }
        };
        msg.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        if let Some(mac) = mac {
            msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|source| Error::Netlink {
                op: "create link",
                name: name.to_string(),
                source: Box::new(source),
            })
    }

    /// Inside a container's namespace: loopback up, then `iface` with its
    /// address, up, and its default route.
    pub async fn configure(&self, iface: &Interface) -> Result<(), Error> {
        // Loopback is always index 1 in a new namespace.
        self.set_up(1, "lo").await?;
        let index = self.index_of(&iface.name).await?.ok_or(Error::NoLink {
            op: "configure",
            name: iface.name.clone(),
        })?;
        let nl = |op, source| Error::Netlink {
            op,
            name: iface.name.clone(),
            source: Box::new(source),
        };
        self.handle
            .address()
            .add(
                index,
                iface.address.addr().into(),
                iface.address.prefix_len(),
            )
            .execute()
            .await
            .map_err(|e| nl("add address to", e))?;
        self.set_up(index, &iface.name).await?;
        if let Some(gw) = iface.gateway {
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build();
            self.handle
                .route()
                .add(route)
                .execute()
                .await
                .map_err(|e| nl("add default route via", e))?;
        }
        Ok(())
    }

    /// Whether link `name` is up (`IFF_UP`).
    pub async fn is_up(&self, name: &str) -> Result<bool, Error> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(l)) => Ok(l.header.flags.contains(LinkFlags::Up)),
            Ok(None) => Ok(false),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(source) => Err(Error::Netlink {
                op: "get link",
                name: name.to_string(),
                source: Box::new(source),
            }),
        }
    }
}

/// The kinds of link made on a parent interface of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubLink {
    Macvlan(MacvlanMode),
    Ipvlan(IpvlanMode),
}

/// macvlan modes (`-o macvlan_mode=`; bridge by default, as in dockerd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MacvlanMode {
    #[default]
    Bridge,
    Private,
    Vepa,
    Passthru,
}

impl MacvlanMode {
    pub fn parse(s: &str) -> Option<MacvlanMode> {
        Some(match s {
            "" | "bridge" => MacvlanMode::Bridge,
            "private" => MacvlanMode::Private,
            "vepa" => MacvlanMode::Vepa,
            "passthru" => MacvlanMode::Passthru,
            _ => return None,
        })
    }
}

impl From<MacvlanMode> for rtnetlink::packet_route::link::MacVlanMode {
    fn from(m: MacvlanMode) -> Self {
        use rtnetlink::packet_route::link::MacVlanMode as M;
        match m {
            MacvlanMode::Bridge => M::Bridge,
            MacvlanMode::Private => M::Private,
            MacvlanMode::Vepa => M::Vepa,
            MacvlanMode::Passthru => M::Passthrough,
        }
    }
}

/// ipvlan modes (`-o ipvlan_mode=`; l2 by default, as in dockerd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpvlanMode {
    #[default]
    L2,
    L3,
    L3s,
}

impl IpvlanMode {
    pub fn parse(s: &str) -> Option<IpvlanMode> {
        Some(match s {
            "" | "l2" => IpvlanMode::L2,
            "l3" => IpvlanMode::L3,
            "l3s" => IpvlanMode::L3s,
            _ => return None,
        })
    }
}

impl From<IpvlanMode> for rtnetlink::packet_route::link::IpVlanMode {
    fn from(m: IpvlanMode) -> Self {
        use rtnetlink::packet_route::link::IpVlanMode as M;
        match m {
            IpvlanMode::L2 => M::L2,
            IpvlanMode::L3 => M::L3,
            IpvlanMode::L3s => M::L3S,
        }
    }
}
