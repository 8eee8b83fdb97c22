//! A container record as the OCI spec builder's input, and the bundle's
//! `config.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_api_types::container::{ThrottleDevice, WeightDevice};

use super::Error;
use super::store::ContainerRecord;
use crate::Engine;
use crate::oci::{self, BindMount, NetNs, Ns, Resources, SpecInput};

/// The namespace mode strings of docker (`container:<ref>`) resolved to
/// the other container's namespace file, which must be running.
fn join_ns(engine: &Engine, mode: &str, kind: &'static str) -> Result<Option<PathBuf>, Error> {
    let Some(other) = mode.strip_prefix("container:") else {
        return Ok(None);
    };
    let c = engine.containers.get(other)?;
    let rec = c.record();
    if !rec.state.running || rec.state.pid <= 0 {
        return Err(Error::JoinStopped {
            kind,
            name: rec.name.trim_start_matches('/').to_string(),
        });
    }
    Ok(Some(PathBuf::from(format!(
        "/proc/{}/ns/{kind}",
        rec.state.pid
    ))))
}

/// The container's binds (its bind and volume mount points, a volume as a
/// bind of its data directory without propagation option, as dockerd
/// mounts it) and tmpfs mounts (`--tmpfs` and `--mount type=tmpfs`).
fn user_mounts(
    engine: &Engine,
    rec: &ContainerRecord,
) -> (Vec<BindMount>, BTreeMap<String, String>) {
    let mut tmpfs: BTreeMap<String, String> = rec.host_config.tmpfs.clone().unwrap_or_default();
    let mut binds = Vec::new();
    for p in crate::volumes::mount_points_of(rec) {
        match p.r#type.as_str() {
            "tmpfs" => {
                tmpfs.insert(p.destination, p.tmpfs_data);
            }
            "volume" => binds.push(BindMount {
                source: engine.volumes.data_path(&p.name).display().to_string(),
                destination: p.destination,
                writable: p.rw,
                propagation: None,
                non_recursive: false,
            }),
            _ => binds.push(BindMount {
                source: p.source,
                destination: p.destination,
                writable: p.rw,
                propagation: Some(if p.propagation.is_empty() {
                    "rprivate".to_string()
                } else {
                    p.propagation
                }),
                non_recursive: p.non_recursive,
            }),
        }
    }
    (binds, tmpfs)
}

/// What a start does to mounts before the spec is built: docker creates
/// a missing bind source directory for `-v` (not for `--mount`, whose
/// source create checked), the container's volumes are mounted for it and
/// new ones filled from the image (the record keeps that done).
fn prepare_mounts(engine: &Engine, rec: &ContainerRecord, rootfs: &Path) -> Result<(), Error> {
    for p in crate::volumes::mount_points_of(rec) {
        if p.r#type != "bind" || p.skip_mountpoint_creation || Path::new(&p.source).exists() {
            continue;
        }
        std::fs::create_dir_all(&p.source).map_err(|source| Error::Io {
            op: "create bind source",
            path: PathBuf::from(&p.source),
            source,
        })?;
    }
    let (points, copied) = engine
        .volumes_for_start(rec, rootfs)
        .map_err(Error::Volume)?;
    if copied {
        engine
            .containers
            .get(&rec.id)?
            .update(|r| r.mount_points = Some(points))?;
    }
    Ok(())
}

/// The spec input of container `rec` with its rootfs mounted at `rootfs`.
pub fn spec_input(
    engine: &Engine,
    rec: &ContainerRecord,
    rootfs: &Path,
) -> Result<SpecInput, Error> {
    let c = &rec.config;
    let h = &rec.host_config;
    let r = &h.resources;
    let netns = match h.network_mode.as_str() {
        "host" => NetNs::Host,
        m => match join_ns(engine, m, "net")? {
            Some(p) => NetNs::Path(p),
            // "default", "bridge", "none": a new namespace with only
            // loopback until networking lands.
            None => NetNs::New,
        },
    };
    let ns = |mode: &str, kind: &'static str| -> Result<Ns, Error> {
        Ok(match mode {
            "host" => Ns::Host,
            m => match join_ns(engine, m, kind)? {
                Some(p) => Ns::Path(p),
                None => Ns::New,
            },
        })
    };
    let (bind_mounts, tmpfs) = user_mounts(engine, rec);
    let mut ulimits: BTreeMap<String, (i64, i64)> = engine.config().default_ulimits.clone();
    for u in r.ulimits.iter().flatten() {
        ulimits.insert(u.name.clone(), (u.soft, u.hard));
    }
    let devices = r
        .devices
        .iter()
        .flatten()
        .map(|d| {
            let mut s = d.path_on_host.clone();
            if !d.path_in_container.is_empty() {
                s.push(':');
                s.push_str(&d.path_in_container);
            }
            if !d.cgroup_permissions.is_empty() {
                if d.path_in_container.is_empty() {
                    s.push(':');
                    s.push_str(&d.path_on_host);
                }
                s.push(':');
                s.push_str(&d.cgroup_permissions);
            }
            s
        })
        .collect();
    let mut args = vec![rec.path.clone()];
    args.extend(rec.args.iter().cloned());
    Ok(SpecInput {
        id: rec.id.clone(),
        args,
        env: c.env.clone().unwrap_or_default(),
        cwd: c.working_dir.clone(),
        user: c.user.clone(),
        tty: c.tty,
        console_size: match h.console_size {
            [height @ 1..=65535, width @ 1..=65535] => Some((height as u16, width as u16)),
            _ => None,
        },
        open_stdin: c.open_stdin,
        hostname: c.hostname.clone(),
        domainname: c.domainname.clone(),
        rootfs: rootfs.to_path_buf(),
        readonly_rootfs: h.readonly_rootfs,
        privileged: h.privileged,
        cap_add: h.cap_add.clone().unwrap_or_default(),
        cap_drop: h.cap_drop.clone().unwrap_or_default(),
        security_opt: h.security_opt.clone().unwrap_or_default(),
        netns,
        ipc: ns(&h.ipc_mode, "ipc")?,
        pid: ns(&h.pid_mode, "pid")?,
        uts_host: h.uts_mode == "host",
        binds: Vec::new(),
        tmpfs,
        bind_mounts,
        hostname_file: PathBuf::from(&rec.hostname_path),
        hosts_file: PathBuf::from(&rec.hosts_path),
        resolv_file: PathBuf::from(&rec.resolv_conf_path),
        shm_size: (h.shm_size > 0).then_some(h.shm_size),
        ipc_shm: None,
        init: super::init::init_for(h, engine.config().init_path.as_deref())?,
        resources: Resources {
            memory: r.memory,
            memory_swap: r.memory_swap,
            memory_reservation: r.memory_reservation,
            nano_cpus: r.nano_cpus,
            cpu_shares: r.cpu_shares,
            cpu_quota: r.cpu_quota,
            cpu_period: r.cpu_period,
            cpuset_cpus: r.cpuset_cpus.clone(),
            cpuset_mems: r.cpuset_mems.clone(),
            pids_limit: r.pids_limit,
            blkio_weight: r.blkio_weight,
            blkio_weight_device: weight_devices(&r.blkio_weight_device),
            blkio_device_read_bps: throttle_devices(&r.blkio_device_read_bps),
            blkio_device_write_bps: throttle_devices(&r.blkio_device_write_bps),
            blkio_device_read_iops: throttle_devices(&r.blkio_device_read_iops),
            blkio_device_write_iops: throttle_devices(&r.blkio_device_write_iops),
            oom_kill_disable: r.oom_kill_disable,
            memory_swappiness: r.memory_swappiness,
        },
        ulimits: ulimits
            .into_iter()
            .map(|(name, (soft, hard))| (name, soft, hard))
            .collect(),
        oom_score_adj: h.oom_score_adj,
        sysctls: h.sysctls.clone().unwrap_or_default(),
        devices,
        device_cgroup_rules: r.device_cgroup_rules.clone().unwrap_or_default(),
        group_add: h.group_add.clone().unwrap_or_default(),
        stop_signal: (!c.stop_signal.is_empty()).then(|| c.stop_signal.clone()),
        masked_paths: h.masked_paths.clone(),
        readonly_paths: h.readonly_paths.clone(),
        cgroup_parent: (!r.cgroup_parent.is_empty()).then(|| r.cgroup_parent.clone()),
        annotations: BTreeMap::new(),
    })
}

/// Builds the spec of `rec` and writes it to `<bundle>/config.json`.
pub fn write_bundle(
    engine: &Engine,
    rec: &ContainerRecord,
    rootfs: &Path,
    bundle: &Path,
) -> Result<(), Error> {
    check_device_requests(&rec.host_config)?;
    prepare_mounts(engine, rec, rootfs)?;
    let input = spec_input(engine, rec, rootfs)?;
    let spec = oci::build_spec(&input).map_err(|source| Error::Spec {
        id: rec.id.clone(),
        source,
    })?;
    // A spec is plain data: serializing cannot fail. The bundle is runtime
    // state, rebuilt at every start and read once by the runtime: no fsync.
    let bytes = serde_json::to_vec(&spec).unwrap_or_default();
    let path = bundle.join("config.json");
    std::fs::write(&path, &bytes).map_err(|source| Error::Io {
        op: "write",
        path,
        source,
    })
}

/// dockerd's device selection for `HostConfig.DeviceRequests`: each request needs a
/// registered driver matching its capabilities. berth registers none (dockerd has
/// NVIDIA's only when `nvidia-container-runtime-hook` is installed, and AMD's or
/// CDI's only in later releases), so the first request fails the start.
fn check_device_requests(h: &berth_api_types::container::HostConfig) -> Result<(), Error> {
    let Some(req) = h.resources.device_requests.iter().flatten().next() else {
        return Ok(());
    };
    Err(Error::NoDeviceDriver {
        driver: req.driver.clone(),
        capabilities: go_list_of_lists(req.capabilities.as_deref().unwrap_or_default()),
    })
}

/// Go's `%v` of a `[][]string`: `[[a b] [c]]`.
fn go_list_of_lists(v: &[Vec<String>]) -> String {
    let inner: Vec<String> = v.iter().map(|l| format!("[{}]", l.join(" "))).collect();
    format!("[{}]", inner.join(" "))
}

/// `--blkio-weight-device` entries as (path, weight).
fn weight_devices(list: &Option<Vec<WeightDevice>>) -> Vec<(String, u16)> {
    list.iter()
        .flatten()
        .map(|d| (d.path.clone(), d.weight))
        .collect()
}

/// Throttle entries (`--device-read-bps` and friends) as (path, rate).
fn throttle_devices(list: &Option<Vec<ThrottleDevice>>) -> Vec<(String, u64)> {
    list.iter()
        .flatten()
        .map(|d| (d.path.clone(), d.rate))
        .collect()
}

/// The OCI `LinuxResources` JSON of an update (`runtime update -r -`):
/// only the fields the request sets (dockerd's `toContainerdResources`).
/// Block IO device paths are resolved here, as at start: a missing one
/// is docker's stat error.
pub fn update_resources(
    r: &berth_api_types::container::Resources,
) -> Result<serde_json::Value, oci::SpecError> {
    let mut out = serde_json::Map::new();
    let mut memory = serde_json::Map::new();
    if r.memory != 0 {
        memory.insert("limit".into(), r.memory.into());
    }
    if r.memory_reservation != 0 {
        memory.insert("reservation".into(), r.memory_reservation.into());
    }
    if r.memory_swap != 0 {
        memory.insert("swap".into(), r.memory_swap.into());
    }
    if !memory.is_empty() {
        out.insert("memory".into(), memory.into());
    }
    let mut cpu = serde_json::Map::new();
    if r.cpu_shares != 0 {
        cpu.insert("shares".into(), r.cpu_shares.into());
    }
    if r.nano_cpus != 0 {
        // docker: --cpus N is a CFS quota of N periods of 100 ms.
        let period: i64 = 100_000;
        cpu.insert("period".into(), period.into());
        cpu.insert(
            "quota".into(),
            (r.nano_cpus * period / 1_000_000_000).into(),
        );
    }
    if r.cpu_quota != 0 {
        cpu.insert("quota".into(), r.cpu_quota.into());
    }
    if r.cpu_period != 0 {
        cpu.insert("period".into(), r.cpu_period.into());
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), r.cpuset_cpus.clone().into());
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), r.cpuset_mems.clone().into());
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), cpu.into());
    }
    if let Some(p) = r.pids_limit {
        // 0 and negative values mean unlimited; runc wants -1 for that.
        let limit = if p <= 0 { -1 } else { p };
        out.insert("pids".into(), serde_json::json!({ "limit": limit }));
    }
    let given = |l: &Option<Vec<ThrottleDevice>>| l.as_ref().map(|_| throttle_devices(l));
    let change = oci::BlockIoChange {
        weight: (r.blkio_weight != 0).then_some(r.blkio_weight),
        weight_device: r
            .blkio_weight_device
            .as_ref()
            .map(|_| weight_devices(&r.blkio_weight_device)),
        read_bps: given(&r.blkio_device_read_bps),
        write_bps: given(&r.blkio_device_write_bps),
        read_iops: given(&r.blkio_device_read_iops),
        write_iops: given(&r.blkio_device_write_iops),
    };
    if change != oci::BlockIoChange::default() {
        let block_io = oci::block_io(&change)?;
        // Plain data: serializing cannot fail.
        out.insert(
            "blockIO".into(),
            serde_json::to_value(block_io).unwrap_or_default(),
        );
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_requests_name_driver_and_capabilities_as_dockerd() {
        assert_eq!(go_list_of_lists(&[]), "[]");
        let caps = vec![vec!["gpu".to_string()], vec!["a".into(), "gpu".into()]];
        assert_eq!(go_list_of_lists(&caps), "[[gpu] [a gpu]]");
        let mut h = berth_api_types::container::HostConfig::default();
        assert!(check_device_requests(&h).is_ok());
        h.resources.device_requests = Some(vec![berth_api_types::container::DeviceRequest {
            driver: "nvidia".into(),
            count: -1,
            capabilities: Some(vec![vec!["gpu".into()]]),
            ..Default::default()
        }]);
        let e = check_device_requests(&h).unwrap_err();
        assert_eq!(
            e.to_string(),
            "could not select device driver \"nvidia\" with capabilities: [[gpu]]"
        );
        assert_eq!(e.kind(), crate::ErrorKind::Internal);
    }

    #[test]
    fn update_resources_sets_only_given_fields() {
        let r = berth_api_types::container::Resources {
            memory: 64 << 20,
            nano_cpus: 1_500_000_000,
            pids_limit: Some(100),
            ..Default::default()
        };
        assert_eq!(
            update_resources(&r).unwrap(),
            serde_json::json!({
                "memory": {"limit": 64 << 20},
                "cpu": {"period": 100000, "quota": 150000},
                "pids": {"limit": 100},
            })
        );
        assert_eq!(
            update_resources(&Default::default()).unwrap(),
            serde_json::json!({})
        );
        // Unlimited pids is -1 for the runtime; block IO devices resolved.
        let r = berth_api_types::container::Resources {
            pids_limit: Some(0),
            blkio_weight: 500,
            blkio_device_read_bps: Some(vec![ThrottleDevice {
                path: "/dev/null".into(),
                rate: 4096,
            }]),
            ..Default::default()
        };
        assert_eq!(
            update_resources(&r).unwrap(),
            serde_json::json!({
                "pids": {"limit": -1},
                "blockIO": {
                    "weight": 500,
                    "throttleReadBpsDevice": [{"major": 1, "minor": 3, "rate": 4096}]
                },
            })
        );
    }
}
