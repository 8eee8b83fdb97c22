//! Generated from docker v28's help of `secret`: the subcommands and their flags.
//! (berth parses them as docker does; the daemon refuses what needs a swarm.)

use clap::{Args, Subcommand};

use super::Leaf;

/// `berth secret …`.
#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Create a secret from a file or STDIN as content
    Create(SecretCreateArgs),
    /// Display detailed information on one or more secrets
    Inspect(SecretInspectArgs),
    /// List secrets
    #[command(alias = "list")]
    Ls(SecretLsArgs),
    /// Remove one or more secrets
    #[command(alias = "remove")]
    Rm(SecretRmArgs),
}

/// `secret create` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] SECRET [file|-]")]
pub struct SecretCreateArgs {
    /// Secret driver
    #[arg(short = 'd', long, value_name = "string")]
    pub driver: Option<String>,
    /// Secret labels
    #[arg(short = 'l', long, value_name = "list")]
    pub label: Vec<String>,
    /// Template driver
    #[arg(long, value_name = "string")]
    pub template_driver: Option<String>,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SecretCreateArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.driver.is_some() || !self.label.is_empty() || self.template_driver.is_some()
    }
}

/// `secret inspect` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] SECRET [SECRET...]")]
pub struct SecretInspectArgs {
    /// Format output using a custom template:
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Print the information in a human friendly format
    #[arg(long)]
    pub pretty: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SecretInspectArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.format.is_some() || self.pretty
    }
}

/// `secret ls` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct SecretLsArgs {
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

impl Leaf for SecretLsArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.filter.is_empty() || self.format.is_some() || self.quiet
    }
}

/// `secret rm` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "SECRET [SECRET...]")]
pub struct SecretRmArgs {
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for SecretRmArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        false
    }
}
