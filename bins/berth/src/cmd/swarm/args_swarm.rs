//! Generated from docker v28's help of `swarm`: the subcommands and their flags.
//! (berth parses them as docker does; the daemon refuses what needs a swarm.)

use clap::{Args, Subcommand};

use super::Leaf;

/// `berth swarm …`.
#[derive(Debug, Subcommand)]
pub enum SwarmCmd {
    /// Display and rotate the root CA
    Ca(SwarmCaArgs),
    /// Initialize a swarm
    Init(SwarmInitArgs),
    /// Join a swarm as a node and/or manager
    Join(SwarmJoinArgs),
    /// Manage join tokens
    JoinToken(SwarmJoinTokenArgs),
    /// Leave the swarm
    Leave(SwarmLeaveArgs),
    /// Unlock swarm
    Unlock(SwarmUnlockArgs),
    /// Manage the unlock key
    UnlockKey(SwarmUnlockKeyArgs),
    /// Update the swarm
    Update(SwarmUpdateArgs),
}

/// `swarm ca` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct SwarmCaArgs {
    /// Path to the PEM-formatted root CA certificate to use for the new cluster
    #[arg(long, value_name = "pem-file")]
    pub ca_cert: Option<String>,
    /// Path to the PEM-formatted root CA key to use for the new cluster
    #[arg(long, value_name = "pem-file")]
    pub ca_key: Option<String>,
    /// Validity period for node certificates (ns|us|ms|s|m|h) (default 2160h0m0s)
    #[arg(long, value_name = "duration")]
    pub cert_expiry: Option<String>,
    /// Exit immediately instead of waiting for the root rotation to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Specifications of one or more certificate signing endpoints
    #[arg(long, value_name = "external-ca")]
    pub external_ca: Vec<String>,
    /// Suppress progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Rotate the swarm CA - if no certificate or key are provided, new ones will be generated
    #[arg(long)]
    pub rotate: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SwarmCaArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.ca_cert.is_some()
            || self.ca_key.is_some()
            || self.cert_expiry.is_some()
            || self.detach
            || !self.external_ca.is_empty()
            || self.quiet
            || self.rotate
    }
}

/// `swarm init` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct SwarmInitArgs {
    /// Advertised address (format: "<ip|interface>[:port]")
    #[arg(long, value_name = "string")]
    pub advertise_addr: Option<String>,
    /// Enable manager autolocking (requiring an unlock key to start a stopped manager)
    #[arg(long)]
    pub autolock: bool,
    /// Availability of the node ("active", "pause", "drain") (default "active")
    #[arg(long, value_name = "string")]
    pub availability: Option<String>,
    /// Validity period for node certificates (ns|us|ms|s|m|h) (default 2160h0m0s)
    #[arg(long, value_name = "duration")]
    pub cert_expiry: Option<String>,
    /// Address or interface to use for data path traffic (format: "<ip|interface>")
    #[arg(long, value_name = "string")]
    pub data_path_addr: Option<String>,
    /// Port number to use for data path traffic (1024 - 49151). If no value is set or is set to 0, the default port (4789) is used.
    #[arg(long, value_name = "uint32")]
    pub data_path_port: Option<String>,
    /// default address pool in CIDR format (default [])
    #[arg(long, value_name = "ipNetSlice")]
    pub default_addr_pool: Vec<String>,
    /// default address pool subnet mask length (default 24)
    #[arg(long, value_name = "uint32")]
    pub default_addr_pool_mask_length: Option<String>,
    /// Dispatcher heartbeat period (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration")]
    pub dispatcher_heartbeat: Option<String>,
    /// Specifications of one or more certificate signing endpoints
    #[arg(long, value_name = "external-ca")]
    pub external_ca: Vec<String>,
    /// Force create a new cluster from current state
    #[arg(long)]
    pub force_new_cluster: bool,
    /// Listen address (format: "<ip|interface>[:port]") (default 0.0.0.0:2377)
    #[arg(long, value_name = "node-addr")]
    pub listen_addr: Option<String>,
    /// Number of additional Raft snapshots to retain
    #[arg(long, value_name = "uint")]
    pub max_snapshots: Option<String>,
    /// Number of log entries between Raft snapshots (default 10000)
    #[arg(long, value_name = "uint")]
    pub snapshot_interval: Option<String>,
    /// Task history retention limit (default 5)
    #[arg(long, value_name = "int", allow_negative_numbers = true)]
    pub task_history_limit: Option<i64>,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SwarmInitArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.advertise_addr.is_some()
            || self.autolock
            || self.availability.is_some()
            || self.cert_expiry.is_some()
            || self.data_path_addr.is_some()
            || self.data_path_port.is_some()
            || !self.default_addr_pool.is_empty()
            || self.default_addr_pool_mask_length.is_some()
            || self.dispatcher_heartbeat.is_some()
            || !self.external_ca.is_empty()
            || self.force_new_cluster
            || self.listen_addr.is_some()
            || self.max_snapshots.is_some()
            || self.snapshot_interval.is_some()
            || self.task_history_limit.is_some()
    }
}

/// `swarm join` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] HOST:PORT")]
pub struct SwarmJoinArgs {
    /// Advertised address (format: "<ip|interface>[:port]")
    #[arg(long, value_name = "string")]
    pub advertise_addr: Option<String>,
    /// Availability of the node ("active", "pause", "drain") (default "active")
    #[arg(long, value_name = "string")]
    pub availability: Option<String>,
    /// Address or interface to use for data path traffic (format: "<ip|interface>")
    #[arg(long, value_name = "string")]
    pub data_path_addr: Option<String>,
    /// Listen address (format: "<ip|interface>[:port]") (default 0.0.0.0:2377)
    #[arg(long, value_name = "node-addr")]
    pub listen_addr: Option<String>,
    /// Token for entry into the swarm
    #[arg(long, value_name = "string")]
    pub token: Option<String>,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SwarmJoinArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.advertise_addr.is_some()
            || self.availability.is_some()
            || self.data_path_addr.is_some()
            || self.listen_addr.is_some()
            || self.token.is_some()
    }
}

/// `swarm join-token` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] (worker|manager)")]
pub struct SwarmJoinTokenArgs {
    /// Only display token
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Rotate join token
    #[arg(long)]
    pub rotate: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SwarmJoinTokenArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.quiet || self.rotate
    }
}

/// `swarm leave` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct SwarmLeaveArgs {
    /// Force this node to leave the swarm, ignoring warnings
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SwarmLeaveArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.force
    }
}

/// `swarm unlock` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "")]
pub struct SwarmUnlockArgs {
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SwarmUnlockArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        false
    }
}

/// `swarm unlock-key` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct SwarmUnlockKeyArgs {
    /// Only display token
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Rotate unlock key
    #[arg(long)]
    pub rotate: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SwarmUnlockKeyArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.quiet || self.rotate
    }
}

/// `swarm update` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct SwarmUpdateArgs {
    /// Change manager autolocking setting (true|false)
    #[arg(long)]
    pub autolock: bool,
    /// Validity period for node certificates (ns|us|ms|s|m|h) (default 2160h0m0s)
    #[arg(long, value_name = "duration")]
    pub cert_expiry: Option<String>,
    /// Dispatcher heartbeat period (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration")]
    pub dispatcher_heartbeat: Option<String>,
    /// Specifications of one or more certificate signing endpoints
    #[arg(long, value_name = "external-ca")]
    pub external_ca: Vec<String>,
    /// Number of additional Raft snapshots to retain
    #[arg(long, value_name = "uint")]
    pub max_snapshots: Option<String>,
    /// Number of log entries between Raft snapshots (default 10000)
    #[arg(long, value_name = "uint")]
    pub snapshot_interval: Option<String>,
    /// Task history retention limit (default 5)
    #[arg(long, value_name = "int", allow_negative_numbers = true)]
    pub task_history_limit: Option<i64>,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SwarmUpdateArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.autolock
            || self.cert_expiry.is_some()
            || self.dispatcher_heartbeat.is_some()
            || !self.external_ca.is_empty()
            || self.max_snapshots.is_some()
            || self.snapshot_interval.is_some()
            || self.task_history_limit.is_some()
    }
}
