//! The flags `run` and `create` share, and their translation into the body of
//! `POST /containers/create` the way docker's `opts.go` does it: attach defaults,
//! binds vs anonymous volumes, published ports, env and label files, health
//! settings, resource limits and the endpoint of the network.

use std::collections::BTreeMap;

use berth_client::types::container::{
    Config, CreateRequest, DeviceMapping, HealthConfig, HostConfig, LogConfig, NetworkingConfig,
    Resources, RestartPolicy,
};
use clap::Args;

use super::{netopts, parse, tty};

/// Container flags of `run` and `create` (docker's `containerOptions`).
#[derive(Debug, Args, Default)]
pub struct ContainerOpts {
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "list")]
    pub add_host: Vec<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long, value_name = "list")]
    pub attach: Vec<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long, value_name = "uint16", default_value_t = 0)]
    pub blkio_weight: u16,
    /// Block IO weight (relative device weight)
    #[arg(long, value_name = "list")]
    pub blkio_weight_device: Vec<String>,
    /// Add Linux capabilities
    #[arg(long, value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long, value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Optional parent cgroup for the container
    #[arg(long, value_name = "string", default_value = "")]
    pub cgroup_parent: String,
    /// Cgroup namespace to use (host|private)
    #[arg(long, value_name = "string", default_value = "")]
    pub cgroupns: String,
    /// Write the container ID to the file
    #[arg(long, value_name = "string", default_value = "")]
    pub cidfile: String,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub cpu_period: i64,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub cpu_quota: i64,
    /// Limit CPU real-time period in microseconds
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub cpu_rt_period: i64,
    /// Limit CPU real-time runtime in microseconds
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub cpu_rt_runtime: i64,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "int", default_value_t = 0)]
    pub cpu_shares: i64,
    /// Number of CPUs
    #[arg(long, value_name = "decimal")]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string", default_value = "")]
    pub cpuset_cpus: String,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string", default_value = "")]
    pub cpuset_mems: String,
    /// Add a host device to the container
    #[arg(long, value_name = "list")]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long, value_name = "list")]
    pub device_cgroup_rule: Vec<String>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long, value_name = "list")]
    pub device_read_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long, value_name = "list")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long, value_name = "list")]
    pub device_write_bps: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long, value_name = "list")]
    pub device_write_iops: Vec<String>,
    /// Skip image verification (accepted; berth verifies no signatures either way)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "")]
    pub disable_content_trust: bool,
    /// Set custom DNS servers
    #[arg(long, value_name = "list")]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "list")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long, value_name = "list")]
    pub dns_search: Vec<String>,
    /// Container NIS domain name
    #[arg(long, value_name = "string", default_value = "")]
    pub domainname: String,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "string")]
    pub entrypoint: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long, value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "list")]
    pub env_file: Vec<String>,
    /// Expose a port or a range of ports
    #[arg(long, value_name = "list")]
    pub expose: Vec<String>,
    /// GPU devices to add to the container ('all' to pass all GPUs)
    #[arg(long, value_name = "gpu-request")]
    pub gpus: Vec<String>,
    /// Add additional groups to join
    #[arg(long, value_name = "list")]
    pub group_add: Vec<String>,
    /// Command to run to check health
    #[arg(long, value_name = "string", default_value = "")]
    pub health_cmd: String,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration")]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub health_retries: i64,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration")]
    pub health_start_period: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration")]
    pub health_timeout: Option<String>,
    /// Container host name
    #[arg(short = 'h', long, value_name = "string", default_value = "")]
    pub hostname: String,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "")]
    pub init: Option<bool>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long, value_name = "string", default_value = "")]
    pub ip: String,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long, value_name = "string", default_value = "")]
    pub ip6: String,
    /// IPC mode to use
    #[arg(long, value_name = "string", default_value = "")]
    pub ipc: String,
    /// Container isolation technology
    #[arg(long, value_name = "string", default_value = "")]
    pub isolation: String,
    /// Kernel memory limit (passed on; the daemon decides whether it is supported)
    #[arg(long, value_name = "bytes")]
    pub kernel_memory: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long, value_name = "list")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long, value_name = "list")]
    pub label_file: Vec<String>,
    /// Add link to another container
    #[arg(long, value_name = "list")]
    pub link: Vec<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long, value_name = "list")]
    pub link_local_ip: Vec<String>,
    /// Logging driver for the container
    #[arg(long, value_name = "string", default_value = "")]
    pub log_driver: String,
    /// Log driver options
    #[arg(long, value_name = "list")]
    pub log_opt: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long, value_name = "string", default_value = "")]
    pub mac_address: String,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes")]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long, value_name = "bytes")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_name = "bytes")]
    pub memory_swap: Option<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long, value_name = "int", default_value_t = -1)]
    pub memory_swappiness: i64,
    /// Attach a filesystem mount to the container
    #[arg(long, value_name = "mount")]
    pub mount: Vec<String>,
    /// Assign a name to the container
    #[arg(long, value_name = "string", default_value = "")]
    pub name: String,
    /// Connect a container to a network
    #[arg(long, alias = "net", value_name = "network")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long, alias = "net-alias", value_name = "list")]
    pub network_alias: Vec<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Disable OOM Killer
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub oom_score_adj: i64,
    /// PID namespace to use
    #[arg(long, value_name = "string", default_value = "")]
    pub pid: String,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub pids_limit: i64,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string", default_value = "")]
    pub platform: String,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long, value_name = "list")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, value_name = "string", default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "string", default_value = "no")]
    pub restart: String,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Runtime to use for this container
    #[arg(long, value_name = "string", default_value = "")]
    pub runtime: String,
    /// Security Options
    #[arg(long, value_name = "list")]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm
    #[arg(long, value_name = "bytes")]
    pub shm_size: Option<String>,
    /// Signal to stop the container
    #[arg(long, value_name = "string", default_value = "")]
    pub stop_signal: String,
    /// Timeout (in seconds) to stop a container
    #[arg(long, value_name = "int")]
    pub stop_timeout: Option<i64>,
    /// Storage driver options for the container
    #[arg(long, value_name = "list")]
    pub storage_opt: Vec<String>,
    /// Sysctl options
    #[arg(long, value_name = "map")]
    pub sysctl: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long, value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Ulimit options
    #[arg(long, value_name = "ulimit")]
    pub ulimit: Vec<String>,
    /// Bind mount Docker API socket and required auth
    #[arg(long)]
    pub use_api_socket: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long, value_name = "string", default_value = "")]
    pub user: String,
    /// User namespace to use
    #[arg(long, value_name = "string", default_value = "")]
    pub userns: String,
    /// UTS namespace to use
    #[arg(long, value_name = "string", default_value = "")]
    pub uts: String,
    /// Bind mount a volume
    #[arg(short = 'v', long, value_name = "list")]
    pub volume: Vec<String>,
    /// Optional volume driver for the container
    #[arg(long, value_name = "string", default_value = "")]
    pub volume_driver: String,
    /// Mount volumes from the specified container(s)
    #[arg(long, value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string", default_value = "")]
    pub workdir: String,
}

/// Builds the create request for `image` and `cmd` (docker's `parse`). `Init` is sent
/// only when `--init` was on the command line.
pub fn create_request(
    o: &ContainerOpts,
    image: &str,
    cmd: &[String],
) -> Result<CreateRequest, String> {
    // pflag quotes the value with Go's %q.
    let flag =
        |name: &str, v: &str, e: String| format!("invalid argument {v:?} for \"{name}\" flag: {e}");
    // pflag parses `--gpus` values as it meets them, before anything is checked.
    let device_requests = o
        .gpus
        .iter()
        .map(|g| parse::gpu_request(g).map_err(|e| flag("--gpus", g, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut attach_stdin = o.attach.iter().any(|a| a.eq_ignore_ascii_case("stdin"));
    let mut attach_stdout = o.attach.iter().any(|a| a.eq_ignore_ascii_case("stdout"));
    let mut attach_stderr = o.attach.iter().any(|a| a.eq_ignore_ascii_case("stderr"));
    for a in &o.attach {
        if !matches!(a.to_lowercase().as_str(), "stdin" | "stdout" | "stderr") {
            return Err(flag(
                "-a, --attach",
                a,
                "valid streams are STDIN, STDOUT and STDERR".into(),
            ));
        }
    }
    if o.interactive {
        attach_stdin = true;
    }
    if o.attach.is_empty() {
        attach_stdout = true;
        attach_stderr = true;
    }
    if o.memory_swappiness != -1 && !(0..=100).contains(&o.memory_swappiness) {
        return Err(format!(
            "invalid value: {}. Valid memory swappiness range is 0-100",
            o.memory_swappiness
        ));
    }
    // -v: a source makes a bind, a lone path an anonymous volume.
    let mut binds = Vec::new();
    let mut volumes = BTreeMap::new();
    for v in &o.volume {
        match v.split_once(':') {
            Some((src, rest)) if !src.is_empty() => {
                let src = if src.starts_with('.') {
                    std::path::absolute(src)
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| src.to_string())
                } else {
                    src.to_string()
                };
                binds.push(format!("{src}:{rest}"));
            }
            Some(_) => return Err(format!("invalid spec: {v}: empty section between colons")),
            None => {
                volumes.insert(v.clone(), berth_client::types::de::Empty {});
            }
        }
    }
    let tmpfs: BTreeMap<String, String> = o
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    let (mut exposed, bindings) = parse::port_specs(&o.publish)?;
    for e in &o.expose {
        if e.contains(':') {
            return Err(format!("invalid port format for --expose: {e}"));
        }
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let (a, b) = parse::port_range(port)
            .map_err(|err| format!("invalid range format for --expose: {e}, error: {err}"))?;
        for p in a..=b {
            exposed.insert(format!("{p}/{proto}"), berth_client::types::de::Empty {});
        }
    }
    let mut devices = Vec::new();
    for d in &o.device {
        let parts: Vec<&str> = d.split(':').collect();
        let (host, cont, perms) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, c] if c.chars().all(|x| "rwm".contains(x)) && !c.starts_with('/') => (*h, *h, *c),
            [h, c] => (*h, *c, "rwm"),
            [h, c, p] => (*h, *c, *p),
            _ => return Err(format!("invalid device specification: {d}")),
        };
        devices.push(DeviceMapping {
            path_on_host: host.to_string(),
            path_in_container: cont.to_string(),
            cgroup_permissions: perms.to_string(),
        });
    }
    let mut env = Vec::new();
    for f in &o.env_file {
        env.extend(parse::kv_file(f, true)?);
    }
    env.extend(o.env.iter().map(|e| parse::env_value(e)));
    let mut labels = Vec::new();
    for f in &o.label_file {
        labels.extend(parse::kv_file(f, false)?);
    }
    labels.extend(o.label.iter().cloned());
    for (name, v) in [
        ("--pid", &o.pid),
        ("--uts", &o.uts),
        ("--userns", &o.userns),
        ("--cgroupns", &o.cgroupns),
    ] {
        let ok = match name {
            "--pid" => v.is_empty() || v == "host" || v.starts_with("container:"),
            "--uts" => v.is_empty() || v == "host",
            "--userns" => v.is_empty() || v == "host",
            _ => v.is_empty() || v == "host" || v == "private",
        };
        if !ok {
            let what = match name {
                "--pid" => "PID",
                "--uts" => "UTS",
                "--userns" => "USER",
                _ => "CGROUP",
            };
            return Err(format!("{name}: invalid {what} mode"));
        }
    }
    let restart = restart_policy(&o.restart)?;
    if o.rm && !(restart.name.is_empty() || restart.name == "no") {
        return Err("conflicting options: cannot specify both --restart and --rm".into());
    }
    let log_opts = parse::kv_map(&o.log_opt);
    let (security_opt, masked, readonly) = security_opts(&o.security_opt)?;
    let health = health(o)?;
    let size =
        |n: &str, v: &Option<String>, f: fn(&str) -> Result<i64, String>| -> Result<i64, String> {
            v.as_deref()
                .map_or(Ok(0), |s| f(s).map_err(|e| flag(n, s, e)))
        };
    fn each<T>(
        name: &str,
        v: &[String],
        f: fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        v.iter()
            .map(|s| f(s).map_err(|e| format!("invalid argument {s:?} for \"{name}\" flag: {e}")))
            .collect()
    }
    let resources = Resources {
        cgroup_parent: o.cgroup_parent.clone(),
        memory: size("-m, --memory", &o.memory, parse::ram_in_bytes)?,
        memory_reservation: size(
            "--memory-reservation",
            &o.memory_reservation,
            parse::ram_in_bytes,
        )?,
        memory_swap: size("--memory-swap", &o.memory_swap, parse::mem_swap_bytes)?,
        memory_swappiness: Some(o.memory_swappiness),
        oom_kill_disable: Some(o.oom_kill_disable),
        nano_cpus: size("--cpus", &o.cpus, parse::nano_cpus)?,
        cpu_shares: o.cpu_shares,
        cpu_period: o.cpu_period,
        cpu_quota: o.cpu_quota,
        cpu_realtime_period: o.cpu_rt_period,
        cpu_realtime_runtime: o.cpu_rt_runtime,
        cpuset_cpus: o.cpuset_cpus.clone(),
        cpuset_mems: o.cpuset_mems.clone(),
        pids_limit: Some(o.pids_limit),
        blkio_weight: o.blkio_weight,
        blkio_weight_device: Some(each(
            "--blkio-weight-device",
            &o.blkio_weight_device,
            parse::weight_device,
        )?),
        blkio_device_read_bps: Some(each(
            "--device-read-bps",
            &o.device_read_bps,
            parse::throttle_bps_device,
        )?),
        blkio_device_write_bps: Some(each(
            "--device-write-bps",
            &o.device_write_bps,
            parse::throttle_bps_device,
        )?),
        blkio_device_read_iops: Some(each(
            "--device-read-iops",
            &o.device_read_iops,
            parse::throttle_iops_device,
        )?),
        blkio_device_write_iops: Some(each(
            "--device-write-iops",
            &o.device_write_iops,
            parse::throttle_iops_device,
        )?),
        kernel_memory: size("--kernel-memory", &o.kernel_memory, parse::ram_in_bytes)?,
        ulimits: Some(
            o.ulimit
                .iter()
                .map(|u| parse::ulimit(u))
                .collect::<Result<_, _>>()?,
        ),
        device_cgroup_rules: (!o.device_cgroup_rule.is_empty())
            .then(|| o.device_cgroup_rule.clone()),
        devices: Some(devices),
        device_requests: (!device_requests.is_empty()).then_some(device_requests),
        ..Default::default()
    };
    let entrypoint = o.entrypoint.as_ref().map(|e| vec![e.clone()]);
    let nets = o
        .network
        .iter()
        .map(|n| {
            netopts::parse_attachment(n)
                .map_err(|e| format!("invalid argument {n:?} for \"--network\" flag: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (network_mode, endpoints) = netopts::endpoints(
        &nets,
        &netopts::FirstNetworkFlags {
            aliases: &o.network_alias,
            links: &o.link,
            ip: &o.ip,
            ip6: &o.ip6,
            mac: &o.mac_address,
            link_local_ips: &o.link_local_ip,
        },
    )?;
    let config = Config {
        hostname: o.hostname.clone(),
        domainname: o.domainname.clone(),
        exposed_ports: Some(exposed),
        user: o.user.clone(),
        tty: o.tty,
        open_stdin: o.interactive,
        stdin_once: o.interactive && attach_stdin,
        attach_stdin,
        attach_stdout,
        attach_stderr,
        env: Some(env),
        cmd: (!cmd.is_empty()).then(|| cmd.to_vec()),
        image: image.to_string(),
        volumes: Some(volumes),
        mac_address: o.mac_address.clone(),
        entrypoint,
        working_dir: o.workdir.clone(),
        labels: Some(parse::kv_map(&labels)),
        stop_signal: o.stop_signal.clone(),
        stop_timeout: o.stop_timeout,
        healthcheck: health,
        ..Default::default()
    };
    let host_config = HostConfig {
        binds: (!binds.is_empty()).then_some(binds),
        container_id_file: o.cidfile.clone(),
        oom_score_adj: o.oom_score_adj,
        auto_remove: o.rm,
        privileged: o.privileged,
        port_bindings: Some(bindings),
        links: (!o.link.is_empty()).then(|| o.link.clone()),
        publish_all_ports: o.publish_all,
        dns: Some(o.dns.clone()),
        dns_search: Some(o.dns_search.clone()),
        dns_options: Some(o.dns_option.clone()),
        extra_hosts: (!o.add_host.is_empty())
            .then(|| o.add_host.iter().map(|h| h.replacen('=', ":", 1)).collect()),
        volumes_from: (!o.volumes_from.is_empty()).then(|| o.volumes_from.clone()),
        ipc_mode: o.ipc.clone(),
        network_mode: network_mode.clone(),
        pid_mode: o.pid.clone(),
        uts_mode: o.uts.clone(),
        userns_mode: o.userns.clone(),
        cgroupns_mode: o.cgroupns.clone(),
        cap_add: (!o.cap_add.is_empty()).then(|| o.cap_add.clone()),
        cap_drop: (!o.cap_drop.is_empty()).then(|| o.cap_drop.clone()),
        group_add: (!o.group_add.is_empty()).then(|| o.group_add.clone()),
        restart_policy: restart,
        security_opt,
        storage_opt: Some(parse::kv_map(&o.storage_opt)),
        readonly_rootfs: o.read_only,
        log_config: LogConfig {
            r#type: o.log_driver.clone(),
            config: Some(log_opts),
        },
        volume_driver: o.volume_driver.clone(),
        isolation: o.isolation.clone(),
        shm_size: size("--shm-size", &o.shm_size, parse::ram_in_bytes)?,
        resources,
        tmpfs: Some(tmpfs),
        sysctls: Some(parse::kv_map(&o.sysctl)),
        runtime: o.runtime.clone(),
        mounts: Some(
            o.mount
                .iter()
                .map(|m| parse::mount(m))
                .collect::<Result<_, _>>()?,
        ),
        masked_paths: masked,
        readonly_paths: readonly,
        init: o.init,
        // The terminal's size at create, as the docker CLI sends it: the
        // container's pty starts with it instead of being resized after start.
        console_size: match (o.tty, tty::size()) {
            (true, Some((h, w))) => [u64::from(h), u64::from(w)],
            _ => [0, 0],
        },
        ..Default::default()
    };
    Ok(CreateRequest {
        config,
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(endpoints),
        }),
    })
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
pub fn restart_policy(s: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match s.split_once(':') {
        Some(("", _)) => {
            return Err("invalid restart policy format: no policy provided before colon".into());
        }
        Some((n, c)) => {
            let c: i64 = c
                .parse()
                .map_err(|_| format!("invalid restart policy format: maximum retry count must be an integer: strconv.Atoi: parsing \"{c}\": invalid syntax"))?;
            (n, c)
        }
        None => (s, 0),
    };
    Ok(RestartPolicy {
        name: name.to_string(),
        maximum_retry_count: count,
    })
}

type SecurityOpts = (
    Option<Vec<String>>,
    Option<Vec<String>>,
    Option<Vec<String>>,
);

/// `--security-opt`: a seccomp profile file is read and sent inline (as docker does);
/// `systempaths=unconfined` becomes empty masked and read-only path lists.
fn security_opts(opts: &[String]) -> Result<SecurityOpts, String> {
    let mut out = Vec::new();
    let (mut masked, mut readonly) = (None, None);
    for o in opts {
        if o == "systempaths=unconfined" {
            masked = Some(vec![]);
            readonly = Some(vec![]);
            continue;
        }
        let (k, v) = match o.split_once(['=', ':']) {
            Some((k, v)) => (k, v),
            None if o == "no-new-privileges" => {
                out.push(o.clone());
                continue;
            }
            None => return Err(format!("Invalid --security-opt: {o:?}")),
        };
        if k == "seccomp" && v != "unconfined" && v != "builtin" {
            let text = std::fs::read(v).map_err(|e| {
                format!(
                    "opening seccomp profile ({v}) failed: open {v}: {}",
                    parse::io_text(&e)
                )
            })?;
            let json: serde_json::Value = serde_json::from_slice(&text)
                .map_err(|e| format!("compacting json for seccomp profile ({v}) failed: {e}"))?;
            out.push(format!("seccomp={json}"));
        } else {
            out.push(o.clone());
        }
    }
    Ok(((!out.is_empty()).then_some(out), masked, readonly))
}

fn health(o: &ContainerOpts) -> Result<Option<HealthConfig>, String> {
    let d = |n: &str, v: &Option<String>| -> Result<i64, String> {
        v.as_deref().map_or(Ok(0), |s| {
            parse::go_duration(s)
                .map_err(|e| format!("invalid argument {s:?} for \"{n}\" flag: {e}"))
        })
    };
    let interval = d("--health-interval", &o.health_interval)?;
    let timeout = d("--health-timeout", &o.health_timeout)?;
    let start = d("--health-start-period", &o.health_start_period)?;
    let have = !o.health_cmd.is_empty()
        || interval != 0
        || timeout != 0
        || start != 0
        || o.health_retries != 0;
    if o.no_healthcheck {
        if have {
            return Err("--no-healthcheck conflicts with --health-* options".into());
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }));
    }
    if !have {
        return Ok(None);
    }
    for (v, n) in [
        (interval, "--health-interval"),
        (timeout, "--health-timeout"),
        (o.health_retries, "--health-retries"),
        (start, "--health-start-period"),
    ] {
        if v < 0 {
            return Err(format!("{n} cannot be negative"));
        }
    }
    Ok(Some(HealthConfig {
        test: (!o.health_cmd.is_empty()).then(|| vec!["CMD-SHELL".into(), o.health_cmd.clone()]),
        interval,
        timeout,
        start_period: start,
        retries: o.health_retries,
    }))
}

#[cfg(test)]
#[path = "container_opts_tests.rs"]
mod tests;
