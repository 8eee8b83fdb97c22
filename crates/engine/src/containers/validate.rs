//! What berth accepts in a create request.
//!
//! Every field of `Config` and `HostConfig` is either honoured or, when
//! set to anything but its zero value, refused with a 400 naming it: a
//! request is never half-applied. The docker CLI sends many fields with
//! zero values on every create (`"BlkioWeightDevice":[]`,
//! `"MemorySwappiness":-1`, `"NetworkMode":"default"`, ...); those pass.

use berth_api_types::container::{Config, HostConfig, NetworkingConfig};

use super::Error;

fn unsupported(field: &str) -> Error {
    Error::Unsupported {
        field: field.to_string(),
    }
}

fn empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(Vec::is_empty)
}

/// Checks the host config: unsupported fields unset, modes known.
pub fn host_config(h: &HostConfig) -> Result<(), Error> {
    let r = &h.resources;
    // (is the field at its zero value, its name)
    let zero_checks: &[(bool, &str)] = &[
        (h.cgroup.is_empty(), "HostConfig.Cgroup"),
        (empty(&h.links), "HostConfig.Links"),
        (
            h.storage_opt.as_ref().is_none_or(|m| m.is_empty()),
            "HostConfig.StorageOpt",
        ),
        (
            h.userns_mode.is_empty() || h.userns_mode == "host",
            "HostConfig.UsernsMode",
        ),
        (
            h.isolation.is_empty() || h.isolation == "default",
            "HostConfig.Isolation",
        ),
        (
            empty(&r.blkio_weight_device),
            "HostConfig.BlkioWeightDevice",
        ),
        (
            empty(&r.blkio_device_read_bps),
            "HostConfig.BlkioDeviceReadBps",
        ),
        (
            empty(&r.blkio_device_write_bps),
            "HostConfig.BlkioDeviceWriteBps",
        ),
        (
            empty(&r.blkio_device_read_iops),
            "HostConfig.BlkioDeviceReadIOps",
        ),
        (
            empty(&r.blkio_device_write_iops),
            "HostConfig.BlkioDeviceWriteIOps",
        ),
        (r.cpu_realtime_period == 0, "HostConfig.CpuRealtimePeriod"),
        (r.cpu_realtime_runtime == 0, "HostConfig.CpuRealtimeRuntime"),
        (
            empty(&r.device_cgroup_rules),
            "HostConfig.DeviceCgroupRules",
        ),
        (empty(&r.device_requests), "HostConfig.DeviceRequests"),
        (r.kernel_memory == 0, "HostConfig.KernelMemory"),
        (r.kernel_memory_tcp == 0, "HostConfig.KernelMemoryTCP"),
        (r.cpu_count == 0, "HostConfig.CpuCount"),
        (r.cpu_percent == 0, "HostConfig.CpuPercent"),
        (r.io_maximum_iops == 0, "HostConfig.IOMaximumIOps"),
        (r.io_maximum_bandwidth == 0, "HostConfig.IOMaximumBandwidth"),
        (
            h.cgroupns_mode.is_empty() || h.cgroupns_mode == "host",
            "HostConfig.CgroupnsMode \"private\"",
        ),
    ];
    if let Some((_, field)) = zero_checks.iter().find(|(zero, _)| !zero) {
        return Err(unsupported(field));
    }
    match h.network_mode.as_str() {
        "" | "default" | "bridge" | "none" | "host" => {}
        m if m.starts_with("container:") && m.len() > "container:".len() => {}
        // A user-defined network: create checks that it exists.
        _ => {}
    }
    match h.ipc_mode.as_str() {
        "" | "private" | "shareable" | "host" | "none" => {}
        m if m.starts_with("container:") && m.len() > "container:".len() => {}
        other => {
            return Err(Error::InvalidConfig {
                message: format!("invalid IPC mode: {other}"),
            });
        }
    }
    match h.pid_mode.as_str() {
        "" | "host" => {}
        m if m.starts_with("container:") && m.len() > "container:".len() => {}
        other => {
            return Err(Error::InvalidConfig {
                message: format!("invalid PID mode: {other}"),
            });
        }
    }
    match h.uts_mode.as_str() {
        "" | "host" => {}
        other => {
            return Err(Error::InvalidConfig {
                message: format!("invalid UTS mode: {other}"),
            });
        }
    }
    // dockerd checks `--mount`s first (a bind's source must exist); the
    // rest of the mounts is checked with the volumes they need, at create.
    for m in h.mounts.iter().flatten() {
        crate::volumes::mountpoints::parse_mount(m).map_err(Error::Volume)?;
    }
    if h.shm_size < 0 {
        return Err(Error::InvalidConfig {
            message: "SHM size can not be less than 0".to_string(),
        });
    }
    if r.memory != 0 && r.memory < 6 * 1024 * 1024 {
        return Err(Error::InvalidConfig {
            message: "Minimum memory limit allowed is 6MB".to_string(),
        });
    }
    if r.memory_swap > 0 && r.memory > 0 && r.memory_swap < r.memory {
        return Err(Error::InvalidConfig {
            message: "Minimum memoryswap limit should be larger than memory limit, see usage"
                .to_string(),
        });
    }
    if let Some(s) = r.memory_swappiness {
        if s != -1 && !(0..=100).contains(&s) {
            return Err(Error::InvalidConfig {
                message: format!("Invalid value: {s}, valid memory swappiness range is 0-100"),
            });
        }
    }
    if r.nano_cpus != 0 && (r.cpu_quota != 0 || r.cpu_period != 0) {
        return Err(Error::InvalidConfig {
            message: "Conflicting options: Nano CPUs and CPU Period cannot both be set".to_string(),
        });
    }
    Ok(())
}

/// Checks the portable config.
pub fn config(c: &Config) -> Result<(), Error> {
    if !c.mac_address.is_empty() && berth_network::ipam::parse_mac(&c.mac_address).is_none() {
        return Err(Error::InvalidConfig {
            message: format!("invalid MAC address: {}", c.mac_address),
        });
    }
    if let Some(hc) = &c.healthcheck {
        super::health::validate(hc)?;
    }
    if let Some(t) = c.stop_timeout {
        if t < -1 {
            return Err(Error::InvalidConfig {
                message: format!("invalid stop timeout {t}"),
            });
        }
    }
    Ok(())
}

/// Checks the networking config: endpoint settings only for the network
/// the container is in, and without static addresses.
pub fn networking(h: &HostConfig, n: Option<&NetworkingConfig>) -> Result<(), Error> {
    let Some(endpoints) = n.and_then(|n| n.endpoints_config.as_ref()) else {
        return Ok(());
    };
    let mode = if h.network_mode.is_empty() {
        "default"
    } else {
        h.network_mode.as_str()
    };
    for (net, ep) in endpoints {
        let static_ip = ep.ipam_config.as_ref().is_some_and(|c| {
            !c.ipv4_address.is_empty()
                || !c.ipv6_address.is_empty()
                || c.link_local_ips.as_ref().is_some_and(|l| !l.is_empty())
        });
        let default_bridge = matches!(net.as_str(), "default" | "bridge");
        // dockerd's wording for what only user-defined networks support.
        if default_bridge && static_ip {
            return Err(Error::InvalidConfig {
                message: "user specified IP address is supported on user defined networks only"
                    .to_string(),
            });
        }
        if default_bridge && !empty(&ep.aliases) {
            return Err(Error::InvalidConfig {
                message: "network-scoped alias is supported only for containers in user defined networks".to_string(),
            });
        }
        if matches!(mode, "host" | "none") || mode.starts_with("container:") {
            let same = net == mode;
            if !same {
                return Err(Error::InvalidConfig {
                    message: format!(
                        "container sharing network namespace with another container or host cannot be connected to any other network ({net})"
                    ),
                });
            }
        }
        if !empty(&ep.links) {
            return Err(unsupported(&format!(
                "NetworkingConfig.EndpointsConfig[{net:?}].Links (legacy links)"
            )));
        }
    }
    Ok(())
}

/// Parses a size as docker's `RAMInBytes` does: a number with an optional
/// unit b, k, m, g, t, p (binary multiples, an optional trailing `b` or
/// `ib`, any case).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api_types::container::CreateRequest;

    /// The body docker CLI 28 sends for `docker run --rm busybox echo hi`.
    const CLI_RUN: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["echo","hi"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}"#;

    fn cli_request() -> CreateRequest {
        serde_json::from_str(CLI_RUN).unwrap()
    }

    #[test]
    fn the_clis_zero_values_pass() {
        let req = cli_request();
        let h = req.host_config.clone().unwrap();
        host_config(&h).unwrap();
        config(&req.config).unwrap();
        networking(&h, req.networking_config.as_ref()).unwrap();
    }

    #[test]
    fn unsupported_fields_are_named() {
        let mut h = cli_request().host_config.unwrap();
        h.resources.kernel_memory = 1 << 20;
        assert_eq!(
            host_config(&h).unwrap_err().to_string(),
            "HostConfig.KernelMemory is not supported by berth"
        );
        let mut h = cli_request().host_config.unwrap();
        h.mounts = Some(vec![berth_api_types::container::Mount {
            r#type: "bind".into(),
            source: "/nonexistent/berth-source".into(),
            target: "/x".into(),
            ..Default::default()
        }]);
        assert_eq!(
            host_config(&h).unwrap_err().to_string(),
            "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent/berth-source"
        );
        let mut c = cli_request().config;
        c.mac_address = "02:42:ac:11:00".into();
        assert_eq!(
            config(&c).unwrap_err().to_string(),
            "invalid MAC address: 02:42:ac:11:00"
        );
    }

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_bytes("10m"), Some(10 << 20));
        assert_eq!(parse_bytes("1k"), Some(1024));
        assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("512"), Some(512));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("10x"), None);
        assert_eq!(parse_bytes(""), None);
    }
}
