//! Generated from docker v28's help of `stack`: the subcommands and their flags.
//! (berth parses them as docker does; the daemon refuses what needs a swarm.)

use clap::{Args, Subcommand};

use super::Leaf;

/// `berth stack …`.
#[derive(Debug, Subcommand)]
pub enum StackCmd {
    /// Outputs the final config file, after doing merges and interpolations
    Config(StackConfigArgs),
    /// Deploy a new stack or update an existing stack
    #[command(alias = "up")]
    Deploy(StackDeployArgs),
    /// List stacks
    #[command(alias = "list")]
    Ls(StackLsArgs),
    /// List the tasks in the stack
    #[command(override_usage = "[OPTIONS] STACK")]
    Ps(super::TaskListArgs),
    /// Remove one or more stacks
    #[command(alias = "remove", alias = "down")]
    Rm(StackRmArgs),
    /// List the services in the stack
    Services(StackServicesArgs),
}

/// `stack config` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct StackConfigArgs {
    /// Path to a Compose file, or "-" to read from stdin
    #[arg(short = 'c', long, value_name = "strings")]
    pub compose_file: Vec<String>,
    /// Skip interpolation and output only merged config
    #[arg(long)]
    pub skip_interpolation: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for StackConfigArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.compose_file.is_empty() || self.skip_interpolation
    }
}

/// `stack deploy` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] STACK")]
pub struct StackDeployArgs {
    /// Path to a Compose file, or "-" to read from stdin
    #[arg(short = 'c', long, value_name = "strings")]
    pub compose_file: Vec<String>,
    /// Exit immediately instead of waiting for the stack services to converge (default true)
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Prune services that are no longer referenced
    #[arg(long)]
    pub prune: bool,
    /// Suppress progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Query the registry to resolve image digest and supported platforms ("always", "changed", "never") (default "always")
    #[arg(long, value_name = "string")]
    pub resolve_image: Option<String>,
    /// Send registry authentication details to Swarm agents
    #[arg(long)]
    pub with_registry_auth: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for StackDeployArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.compose_file.is_empty()
            || self.detach
            || self.prune
            || self.quiet
            || self.resolve_image.is_some()
            || self.with_registry_auth
    }
}

/// `stack ls` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct StackLsArgs {
    /// Format output using a custom template:
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for StackLsArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.format.is_some()
    }
}

/// `stack rm` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] STACK [STACK...]")]
pub struct StackRmArgs {
    /// Do not wait for stack removal (default true)
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for StackRmArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.detach
    }
}

/// `stack services` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] STACK")]
pub struct StackServicesArgs {
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

impl Leaf for StackServicesArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.filter.is_empty() || self.format.is_some() || self.quiet
    }
}
