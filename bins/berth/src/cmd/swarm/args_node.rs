//! Generated from docker v28's help of `node`: the subcommands and their flags.
//! (berth parses them as docker does; the daemon refuses what needs a swarm.)

use clap::{Args, Subcommand};

use super::Leaf;

/// `berth node …`.
#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// Demote one or more nodes from manager in the swarm
    Demote(NodeDemoteArgs),
    /// Display detailed information on one or more nodes
    Inspect(NodeInspectArgs),
    /// List nodes in the swarm
    #[command(alias = "list")]
    Ls(NodeLsArgs),
    /// Promote one or more nodes to manager in the swarm
    Promote(NodePromoteArgs),
    /// List tasks running on one or more nodes, defaults to current node
    #[command(override_usage = "[OPTIONS] [NODE...]")]
    Ps(super::TaskListArgs),
    /// Remove one or more nodes from the swarm
    #[command(alias = "remove")]
    Rm(NodeRmArgs),
    /// Update a node
    Update(NodeUpdateArgs),
}

/// `node demote` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "NODE [NODE...]")]
pub struct NodeDemoteArgs {
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for NodeDemoteArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        false
    }
}

/// `node inspect` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] self|NODE [NODE...]")]
pub struct NodeInspectArgs {
    /// Format output using a custom template:
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Print the information in a human friendly format
    #[arg(long)]
    pub pretty: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for NodeInspectArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.format.is_some() || self.pretty
    }
}

/// `node ls` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct NodeLsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long, value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template:
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for NodeLsArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.filter.is_empty() || self.format.is_some() || self.quiet
    }
}

/// `node promote` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "NODE [NODE...]")]
pub struct NodePromoteArgs {
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for NodePromoteArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        false
    }
}

/// `node rm` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] NODE [NODE...]")]
pub struct NodeRmArgs {
    /// Force remove a node from the swarm
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for NodeRmArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.force
    }
}

/// `node update` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] NODE")]
pub struct NodeUpdateArgs {
    /// Availability of the node ("active", "pause", "drain")
    #[arg(long, value_name = "string")]
    pub availability: Option<String>,
    /// Add or update a node label ("key=value")
    #[arg(long, value_name = "list")]
    pub label_add: Vec<String>,
    /// Remove a node label if exists
    #[arg(long, value_name = "list")]
    pub label_rm: Vec<String>,
    /// Role of the node ("worker", "manager")
    #[arg(long, value_name = "string")]
    pub role: Option<String>,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for NodeUpdateArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.availability.is_some()
            || !self.label_add.is_empty()
            || !self.label_rm.is_empty()
            || self.role.is_some()
    }
}
