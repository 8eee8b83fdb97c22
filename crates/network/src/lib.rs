//! berth's container networking.
//!
//! - [`ipam`]: subnets and addresses, as values;
//! - [`link`]: bridges, veth pairs, macvlan/ipvlan links, addresses and
//!   routes through rtnetlink, in the host's or a container's namespace.

pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod nftlink;
pub mod proxy;
