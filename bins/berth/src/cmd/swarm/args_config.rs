//! Generated from docker v28's help of `config`: the subcommands and their flags.
//! (berth parses them as docker does; the daemon refuses what needs a swarm.)

use clap::{Args, Subcommand};

use super::Leaf;

/// `berth config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Create a config from a file or STDIN
    Create(ConfigCreateArgs),
    /// Display detailed information on one or more configs
    Inspect(ConfigInspectArgs),
    /// List configs
    #[command(alias = "list")]
    Ls(ConfigLsArgs),
    /// Remove one or more configs
    #[command(alias = "remove")]
    Rm(ConfigRmArgs),
}

/// `config create` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONFIG file|-")]
pub struct ConfigCreateArgs {
    /// Config labels
    #[arg(short = 'l', long, value_name = "list")]
    pub label: Vec<String>,
    /// Template driver
    #[arg(long, value_name = "string")]
    pub template_driver: Option<String>,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for ConfigCreateArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.label.is_empty() || self.template_driver.is_some()
    }
}

/// `config inspect` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONFIG [CONFIG...]")]
pub struct ConfigInspectArgs {
    /// Format output using a custom template:
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Print the information in a human friendly format
    #[arg(long)]
    pub pretty: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for ConfigInspectArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.format.is_some() || self.pretty
    }
}

/// `config ls` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct ConfigLsArgs {
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

impl Leaf for ConfigLsArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.filter.is_empty() || self.format.is_some() || self.quiet
    }
}

/// `config rm` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "CONFIG [CONFIG...]")]
pub struct ConfigRmArgs {
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for ConfigRmArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        false
    }
}
