//! Generated from docker v28's help of `service update` (its flags are many).

use clap::Args;

use super::Leaf;

/// `service update` flags (docker v28's).
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] SERVICE")]
pub struct ServiceUpdateArgs {
    /// Service command args
    #[arg(long, value_name = "command")]
    pub args: Option<String>,
    /// Add Linux capabilities
    #[arg(long, value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long, value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Add or update a config file on a service
    #[arg(long, value_name = "config")]
    pub config_add: Vec<String>,
    /// Remove a configuration file
    #[arg(long, value_name = "list")]
    pub config_rm: Vec<String>,
    /// Add or update a placement constraint
    #[arg(long, value_name = "list")]
    pub constraint_add: Vec<String>,
    /// Remove a constraint
    #[arg(long, value_name = "list")]
    pub constraint_rm: Vec<String>,
    /// Add or update a container label
    #[arg(long, value_name = "list")]
    pub container_label_add: Vec<String>,
    /// Remove a container label by its key
    #[arg(long, value_name = "list")]
    pub container_label_rm: Vec<String>,
    /// Credential spec for managed service account (Windows only)
    #[arg(long, value_name = "credential-spec")]
    pub credential_spec: Option<String>,
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Add or update a custom DNS server
    #[arg(long, value_name = "list")]
    pub dns_add: Vec<String>,
    /// Add or update a DNS option
    #[arg(long, value_name = "list")]
    pub dns_option_add: Vec<String>,
    /// Remove a DNS option
    #[arg(long, value_name = "list")]
    pub dns_option_rm: Vec<String>,
    /// Remove a custom DNS server
    #[arg(long, value_name = "list")]
    pub dns_rm: Vec<String>,
    /// Add or update a custom DNS search domain
    #[arg(long, value_name = "list")]
    pub dns_search_add: Vec<String>,
    /// Remove a DNS search domain
    #[arg(long, value_name = "list")]
    pub dns_search_rm: Vec<String>,
    /// Endpoint mode (vip or dnsrr)
    #[arg(long, value_name = "string")]
    pub endpoint_mode: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "command")]
    pub entrypoint: Option<String>,
    /// Add or update an environment variable
    #[arg(long, value_name = "list")]
    pub env_add: Vec<String>,
    /// Remove an environment variable
    #[arg(long, value_name = "list")]
    pub env_rm: Vec<String>,
    /// Force update even if no changes require it
    #[arg(long)]
    pub force: bool,
    /// Add a Generic resource
    #[arg(long, value_name = "list")]
    pub generic_resource_add: Vec<String>,
    /// Remove a Generic resource
    #[arg(long, value_name = "list")]
    pub generic_resource_rm: Vec<String>,
    /// Add an additional supplementary user group to the container
    #[arg(long, value_name = "list")]
    pub group_add: Vec<String>,
    /// Remove a previously added supplementary user group from the container
    #[arg(long, value_name = "list")]
    pub group_rm: Vec<String>,
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
    /// Add a custom host-to-IP mapping ("host:ip")
    #[arg(long, value_name = "list")]
    pub host_add: Vec<String>,
    /// Remove a custom host-to-IP mapping ("host:ip")
    #[arg(long, value_name = "list")]
    pub host_rm: Vec<String>,
    /// Container hostname
    #[arg(long, value_name = "string")]
    pub hostname: Option<String>,
    /// Service image tag
    #[arg(long, value_name = "string")]
    pub image: Option<String>,
    /// Use an init inside each service container to forward signals and reap processes
    #[arg(long)]
    pub init: bool,
    /// Service container isolation mode
    #[arg(long, value_name = "string")]
    pub isolation: Option<String>,
    /// Add or update a service label
    #[arg(long, value_name = "list")]
    pub label_add: Vec<String>,
    /// Remove a label by its key
    #[arg(long, value_name = "list")]
    pub label_rm: Vec<String>,
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
    /// Add or update a mount on a service
    #[arg(long, value_name = "mount")]
    pub mount_add: Vec<String>,
    /// Remove a mount by its target path
    #[arg(long, value_name = "list")]
    pub mount_rm: Vec<String>,
    /// Add a network
    #[arg(long, value_name = "network")]
    pub network_add: Vec<String>,
    /// Remove a network
    #[arg(long, value_name = "list")]
    pub network_rm: Vec<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Do not query the registry to resolve image digest and supported platforms
    #[arg(long)]
    pub no_resolve_image: bool,
    /// Add a placement preference
    #[arg(long, value_name = "pref")]
    pub placement_pref_add: Vec<String>,
    /// Remove a placement preference
    #[arg(long, value_name = "pref")]
    pub placement_pref_rm: Vec<String>,
    /// Add or update a published port
    #[arg(long, value_name = "port")]
    pub publish_add: Vec<String>,
    /// Remove a published port by its target port
    #[arg(long, value_name = "port")]
    pub publish_rm: Vec<String>,
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
    /// Restart when condition is met ("none", "on-failure", "any")
    #[arg(long, value_name = "string")]
    pub restart_condition: Option<String>,
    /// Delay between restart attempts (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub restart_delay: Option<String>,
    /// Maximum number of restarts before giving up
    #[arg(long, value_name = "uint")]
    pub restart_max_attempts: Option<String>,
    /// Window used to evaluate the restart policy (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub restart_window: Option<String>,
    /// Rollback to previous specification
    #[arg(long)]
    pub rollback: bool,
    /// Delay between task rollbacks (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub rollback_delay: Option<String>,
    /// Action on rollback failure ("pause", "continue")
    #[arg(long, value_name = "string")]
    pub rollback_failure_action: Option<String>,
    /// Failure rate to tolerate during a rollback
    #[arg(long, value_name = "float")]
    pub rollback_max_failure_ratio: Option<String>,
    /// Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub rollback_monitor: Option<String>,
    /// Rollback order ("start-first", "stop-first")
    #[arg(long, value_name = "string")]
    pub rollback_order: Option<String>,
    /// Maximum number of tasks rolled back simultaneously (0 to roll back all at once)
    #[arg(long, value_name = "uint")]
    pub rollback_parallelism: Option<String>,
    /// Add or update a secret on a service
    #[arg(long, value_name = "secret")]
    pub secret_add: Vec<String>,
    /// Remove a secret
    #[arg(long, value_name = "list")]
    pub secret_rm: Vec<String>,
    /// Time to wait before force killing a container (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub stop_grace_period: Option<String>,
    /// Signal to stop the container
    #[arg(long, value_name = "string")]
    pub stop_signal: Option<String>,
    /// Add or update a Sysctl option
    #[arg(long, value_name = "list")]
    pub sysctl_add: Vec<String>,
    /// Remove a Sysctl option
    #[arg(long, value_name = "list")]
    pub sysctl_rm: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Add or update a ulimit option (default [])
    #[arg(long, value_name = "ulimit")]
    pub ulimit_add: Vec<String>,
    /// Remove a ulimit option
    #[arg(long, value_name = "list")]
    pub ulimit_rm: Vec<String>,
    /// Delay between updates (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub update_delay: Option<String>,
    /// Action on update failure ("pause", "continue", "rollback")
    #[arg(long, value_name = "string")]
    pub update_failure_action: Option<String>,
    /// Failure rate to tolerate during an update
    #[arg(long, value_name = "float")]
    pub update_max_failure_ratio: Option<String>,
    /// Duration after each task update to monitor for failure (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration")]
    pub update_monitor: Option<String>,
    /// Update order ("start-first", "stop-first")
    #[arg(long, value_name = "string")]
    pub update_order: Option<String>,
    /// Maximum number of tasks updated simultaneously (0 to update all at once)
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
    #[arg(hide = true)]
    pub operands: Vec<String>,
}

impl Leaf for ServiceUpdateArgs {
    fn args(&self) -> &[String] {
        &self.operands
    }
    fn changed(&self) -> bool {
        self.args.is_some()
            || !self.cap_add.is_empty()
            || !self.cap_drop.is_empty()
            || !self.config_add.is_empty()
            || !self.config_rm.is_empty()
            || !self.constraint_add.is_empty()
            || !self.constraint_rm.is_empty()
            || !self.container_label_add.is_empty()
            || !self.container_label_rm.is_empty()
            || self.credential_spec.is_some()
            || self.detach
            || !self.dns_add.is_empty()
            || !self.dns_option_add.is_empty()
            || !self.dns_option_rm.is_empty()
            || !self.dns_rm.is_empty()
            || !self.dns_search_add.is_empty()
            || !self.dns_search_rm.is_empty()
            || self.endpoint_mode.is_some()
            || self.entrypoint.is_some()
            || !self.env_add.is_empty()
            || !self.env_rm.is_empty()
            || self.force
            || !self.generic_resource_add.is_empty()
            || !self.generic_resource_rm.is_empty()
            || !self.group_add.is_empty()
            || !self.group_rm.is_empty()
            || self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some()
            || self.health_timeout.is_some()
            || !self.host_add.is_empty()
            || !self.host_rm.is_empty()
            || self.hostname.is_some()
            || self.image.is_some()
            || self.init
            || self.isolation.is_some()
            || !self.label_add.is_empty()
            || !self.label_rm.is_empty()
            || self.limit_cpu.is_some()
            || self.limit_memory.is_some()
            || self.limit_pids.is_some()
            || self.log_driver.is_some()
            || !self.log_opt.is_empty()
            || self.max_concurrent.is_some()
            || !self.mount_add.is_empty()
            || !self.mount_rm.is_empty()
            || !self.network_add.is_empty()
            || !self.network_rm.is_empty()
            || self.no_healthcheck
            || self.no_resolve_image
            || !self.placement_pref_add.is_empty()
            || !self.placement_pref_rm.is_empty()
            || !self.publish_add.is_empty()
            || !self.publish_rm.is_empty()
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
            || self.rollback
            || self.rollback_delay.is_some()
            || self.rollback_failure_action.is_some()
            || self.rollback_max_failure_ratio.is_some()
            || self.rollback_monitor.is_some()
            || self.rollback_order.is_some()
            || self.rollback_parallelism.is_some()
            || !self.secret_add.is_empty()
            || !self.secret_rm.is_empty()
            || self.stop_grace_period.is_some()
            || self.stop_signal.is_some()
            || !self.sysctl_add.is_empty()
            || !self.sysctl_rm.is_empty()
            || self.tty
            || !self.ulimit_add.is_empty()
            || !self.ulimit_rm.is_empty()
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
