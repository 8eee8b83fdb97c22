//! Generated from docker v28's help of `service`: the subcommands and their flags.
//! (berth parses them as docker does; the daemon refuses what needs a swarm.)

use clap::{Args, Subcommand};

use super::Leaf;
pub use super::args_service_update::ServiceUpdateArgs;

/// `berth service …`.
#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// Create a new service
    Create(Box<ServiceCreateArgs>),
    /// Display detailed information on one or more services
    Inspect(ServiceInspectArgs),
    /// Fetch the logs of a service or task
    Logs(ServiceLogsArgs),
    /// List services
    #[command(alias = "list")]
    Ls(ServiceLsArgs),
    /// List the tasks of one or more services
    #[command(override_usage = "[OPTIONS] SERVICE [SERVICE...]")]
    Ps(super::TaskListArgs),
    /// Remove one or more services
    #[command(alias = "remove")]
    Rm(ServiceRmArgs),
    /// Revert changes to a service's configuration
    Rollback(ServiceRollbackArgs),
    /// Scale one or multiple replicated services
    Scale(ServiceScaleArgs),
    /// Update a service
    Update(Box<ServiceUpdateArgs>),
}

/// `service create` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]")]
pub struct ServiceCreateArgs {
    /// Add Linux capabilities
    #[arg(long, value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long, value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Specify configurations to expose to the service
    #[arg(long, value_name = "config")]
    pub config: Vec<String>,
    /// Placement constraints
    #[arg(long, value_name = "list")]
    pub constraint: Vec<String>,
    /// Container labels
    #[arg(long, value_name = "list")]
    pub container_label: Vec<String>,
    /// Credential spec for managed service account (Windows only)
    #[arg(long, value_name = "credential-spec")]
    pub credential_spec: Option<String>,
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set custom DNS servers
    #[arg(long, value_name = "list")]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long, value_name = "list")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long, value_name = "list")]
    pub dns_search: Vec<String>,
    /// Endpoint mode (vip or dnsrr) (default "vip")
    #[arg(long, value_name = "string")]
    pub endpoint_mode: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "command")]
    pub entrypoint: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long, value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "list")]
    pub env_file: Vec<String>,
    /// User defined resources
    #[arg(long, value_name = "list")]
    pub generic_resource: Vec<String>,
    /// Set one or more supplementary user groups for the container
    #[arg(long, value_name = "list")]
    pub group: Vec<String>,
    /// Command to run to check health
    #[arg(long, value_name = "string")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, value_name = "int", allow_negative_numbers = true)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub health_start_period: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub health_timeout: Option<String>,
    /// Set one or more custom host-to-IP mappings (host:ip)
    #[arg(long, value_name = "list")]
    pub host: Vec<String>,
    /// Container hostname
    #[arg(long, value_name = "string")]
    pub hostname: Option<String>,
    /// Use an init inside each service container to forward signals and reap processes
    #[arg(long)]
    pub init: bool,
    /// Service container isolation mode
    #[arg(long, value_name = "string")]
    pub isolation: Option<String>,
    /// Service labels
    #[arg(short = 'l', long, value_name = "list")]
    pub label: Vec<String>,
    /// Limit CPUs
    #[arg(long, value_name = "decimal")]
    pub limit_cpu: Option<String>,
    /// Limit Memory
    #[arg(long, value_name = "bytes")]
    pub limit_memory: Option<String>,
    /// Limit maximum number of processes (default 0 = unlimited)
    #[arg(long, value_name = "int", allow_negative_numbers = true)]
    pub limit_pids: Option<i64>,
    /// Logging driver for service
    #[arg(long, value_name = "string")]
    pub log_driver: Option<String>,
    /// Logging driver options
    #[arg(long, value_name = "list")]
    pub log_opt: Vec<String>,
    /// Number of job tasks to run concurrently (default equal to --replicas)
    #[arg(long, value_name = "uint")]
    pub max_concurrent: Option<String>,
    /// Service mode ("replicated", "global", "replicated-job", "global-job") (default "replicated")
    #[arg(long, value_name = "string")]
    pub mode: Option<String>,
    /// Attach a filesystem mount to the service
    #[arg(long, value_name = "mount")]
    pub mount: Vec<String>,
    /// Service name
    #[arg(long, value_name = "string")]
    pub name: Option<String>,
    /// Network attachments
    #[arg(long, value_name = "network")]
    pub network: Vec<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Do not query the registry to resolve image digest and supported platforms
    #[arg(long)]
    pub no_resolve_image: bool,
    /// Add a placement preference
    #[arg(long, value_name = "pref")]
    pub placement_pref: Vec<String>,
    /// Publish a port as a node port
    #[arg(short = 'p', long, value_name = "port")]
    pub publish: Vec<String>,
    /// Suppress progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Number of tasks
    #[arg(long, value_name = "uint")]
    pub replicas: Option<String>,
    /// Maximum number of tasks per node (default 0 = unlimited)
    #[arg(long, value_name = "uint")]
    pub replicas_max_per_node: Option<String>,
    /// Reserve CPUs
    #[arg(long, value_name = "decimal")]
    pub reserve_cpu: Option<String>,
    /// Reserve Memory
    #[arg(long, value_name = "bytes")]
    pub reserve_memory: Option<String>,
    /// Restart when condition is met ("none", "on-failure", "any") (default "any")
    #[arg(long, value_name = "string")]
    pub restart_condition: Option<String>,
    /// Delay between restart attempts (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration")]
    pub restart_delay: Option<String>,
    /// Maximum number of restarts before giving up
    #[arg(long, value_name = "uint")]
    pub restart_max_attempts: Option<String>,
    /// Window used to evaluate the restart policy (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub restart_window: Option<String>,
    /// Delay between task rollbacks (ns|us|ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration")]
    pub rollback_delay: Option<String>,
    /// Action on rollback failure ("pause", "continue") (default "pause")
    #[arg(long, value_name = "string")]
    pub rollback_failure_action: Option<String>,
    /// Failure rate to tolerate during a rollback (default 0)
    #[arg(long, value_name = "float")]
    pub rollback_max_failure_ratio: Option<String>,
    /// Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration")]
    pub rollback_monitor: Option<String>,
    /// Rollback order ("start-first", "stop-first") (default "stop-first")
    #[arg(long, value_name = "string")]
    pub rollback_order: Option<String>,
    /// Maximum number of tasks rolled back simultaneously (0 to roll back all at once) (default 1)
    #[arg(long, value_name = "uint")]
    pub rollback_parallelism: Option<String>,
    /// Specify secrets to expose to the service
    #[arg(long, value_name = "secret")]
    pub secret: Vec<String>,
    /// Time to wait before force killing a container (ns|us|ms|s|m|h) (default 10s)
    #[arg(long, value_name = "duration")]
    pub stop_grace_period: Option<String>,
    /// Signal to stop the container
    #[arg(long, value_name = "string")]
    pub stop_signal: Option<String>,
    /// Sysctl options
    #[arg(long, value_name = "list")]
    pub sysctl: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Ulimit options (default [])
    #[arg(long, value_name = "ulimit")]
    pub ulimit: Vec<String>,
    /// Delay between updates (ns|us|ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration")]
    pub update_delay: Option<String>,
    /// Action on update failure ("pause", "continue", "rollback") (default "pause")
    #[arg(long, value_name = "string")]
    pub update_failure_action: Option<String>,
    /// Failure rate to tolerate during an update (default 0)
    #[arg(long, value_name = "float")]
    pub update_max_failure_ratio: Option<String>,
    /// Duration after each task update to monitor for failure (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration")]
    pub update_monitor: Option<String>,
    /// Update order ("start-first", "stop-first") (default "stop-first")
    #[arg(long, value_name = "string")]
    pub update_order: Option<String>,
    /// Maximum number of tasks updated simultaneously (0 to update all at once) (default 1)
    #[arg(long, value_name = "uint")]
    pub update_parallelism: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,
    /// Send registry authentication details to swarm agents
    #[arg(long)]
    pub with_registry_auth: bool,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string")]
    pub workdir: Option<String>,
    #[arg(hide = true, trailing_var_arg = true)]
    pub operands: Vec<String>,
}

impl Leaf for ServiceCreateArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.cap_add.is_empty()
            || !self.cap_drop.is_empty()
            || !self.config.is_empty()
            || !self.constraint.is_empty()
            || !self.container_label.is_empty()
            || self.credential_spec.is_some()
            || self.detach
            || !self.dns.is_empty()
            || !self.dns_option.is_empty()
            || !self.dns_search.is_empty()
            || self.endpoint_mode.is_some()
            || self.entrypoint.is_some()
            || !self.env.is_empty()
            || !self.env_file.is_empty()
            || !self.generic_resource.is_empty()
            || !self.group.is_empty()
            || self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some()
            || self.health_timeout.is_some()
            || !self.host.is_empty()
            || self.hostname.is_some()
            || self.init
            || self.isolation.is_some()
            || !self.label.is_empty()
            || self.limit_cpu.is_some()
            || self.limit_memory.is_some()
            || self.limit_pids.is_some()
            || self.log_driver.is_some()
            || !self.log_opt.is_empty()
            || self.max_concurrent.is_some()
            || self.mode.is_some()
            || !self.mount.is_empty()
            || self.name.is_some()
            || !self.network.is_empty()
            || self.no_healthcheck
            || self.no_resolve_image
            || !self.placement_pref.is_empty()
            || !self.publish.is_empty()
            || self.quiet
            || self.read_only
            || self.replicas.is_some()
            || self.replicas_max_per_node.is_some()
            || self.reserve_cpu.is_some()
            || self.reserve_memory.is_some()
            || self.restart_condition.is_some()
            || self.restart_delay.is_some()
            || self.restart_max_attempts.is_some()
            || self.restart_window.is_some()
            || self.rollback_delay.is_some()
            || self.rollback_failure_action.is_some()
            || self.rollback_max_failure_ratio.is_some()
            || self.rollback_monitor.is_some()
            || self.rollback_order.is_some()
            || self.rollback_parallelism.is_some()
            || !self.secret.is_empty()
            || self.stop_grace_period.is_some()
            || self.stop_signal.is_some()
            || !self.sysctl.is_empty()
            || self.tty
            || !self.ulimit.is_empty()
            || self.update_delay.is_some()
            || self.update_failure_action.is_some()
            || self.update_max_failure_ratio.is_some()
            || self.update_monitor.is_some()
            || self.update_order.is_some()
            || self.update_parallelism.is_some()
            || self.user.is_some()
            || self.with_registry_auth
            || self.workdir.is_some()
    }
}

/// `service inspect` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] SERVICE [SERVICE...]")]
pub struct ServiceInspectArgs {
    /// Format output using a custom template:
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Print the information in a human friendly format
    #[arg(long)]
    pub pretty: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for ServiceInspectArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.format.is_some() || self.pretty
    }
}

/// `service logs` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] SERVICE|TASK")]
pub struct ServiceLogsArgs {
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Do not map IDs to Names in output
    #[arg(long)]
    pub no_resolve: bool,
    /// Do not include task IDs in output
    #[arg(long)]
    pub no_task_ids: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Do not neatly format logs
    #[arg(long)]
    pub raw: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs (default "all")
    #[arg(short = 'n', long, value_name = "string")]
    pub tail: Option<String>,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for ServiceLogsArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.details
            || self.follow
            || self.no_resolve
            || self.no_task_ids
            || self.no_trunc
            || self.raw
            || self.since.is_some()
            || self.tail.is_some()
            || self.timestamps
    }
}

/// `service ls` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct ServiceLsArgs {
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

impl Leaf for ServiceLsArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        !self.filter.is_empty() || self.format.is_some() || self.quiet
    }
}

/// `service rm` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "SERVICE [SERVICE...]")]
pub struct ServiceRmArgs {
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for ServiceRmArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        false
    }
}

/// `service rollback` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] SERVICE")]
pub struct ServiceRollbackArgs {
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Suppress progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for ServiceRollbackArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.detach || self.quiet
    }
}

/// `service scale` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "SERVICE=REPLICAS [SERVICE=REPLICAS...]")]
pub struct ServiceScaleArgs {
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for ServiceScaleArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.detach
    }
}
