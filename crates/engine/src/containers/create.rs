//! `POST /containers/create`: validation, merging with the image's
//! defaults, and the container's first on-disk state.
//!
//! Order: everything is validated and computed first (request fields,
//! image, runtime, name), then the container is created: name reserved,
//! directory, rw snapshot, hostname/hosts/resolv.conf, record. A failure
//! half-way undoes what was done, in reverse.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api_types::container::{Config, CreateRequest, CreateResponse, HostConfig};
use berth_image::config::RunConfig;

use super::files::{self, DnsSettings};
use super::names::{self, validate_name};
use super::restart::Policy;
use super::store::{
    Container, ContainerRecord, RunState, needs_durability, write_new_file, write_record,
};
use super::sysinfo::SysInfo;
use super::validate;
use super::{Error, signal};
use crate::{Engine, LogDriver};

/// Docker's default size of /dev/shm.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// The image's run defaults merged under the request's config, with
/// docker's rules (its `merge`): the request wins field by field; image
/// env entries and labels whose key the request lacks are added; an
/// entrypoint given in the request drops the image's cmd.
pub fn merge_image_config(user: &mut Config, image: &RunConfig) {
    if user.user.is_empty() {
        user.user = image.user.clone();
    }
    if let Some(ports) = &image.exposed_ports {
        let mine = user.exposed_ports.get_or_insert_with(BTreeMap::new);
        for p in ports.keys() {
            mine.entry(p.clone()).or_default();
        }
    }
    match (&mut user.env, &image.env) {
        (Some(env), Some(img)) if !env.is_empty() => {
            for entry in img {
                let key = entry.split('=').next().unwrap_or("");
                if !env.iter().any(|e| e.split('=').next() == Some(key)) {
                    env.push(entry.clone());
                }
            }
        }
        (env, img) => {
            if img.is_some() {
                *env = img.clone();
            }
        }
    }
    let labels = user.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in image.labels.iter().flatten() {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if user.entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if user.cmd.as_ref().is_none_or(Vec::is_empty) {
            user.cmd = image.cmd.clone();
        }
        if user.entrypoint.is_none() {
            user.entrypoint = image.entrypoint.clone();
        }
    }
    if let Some(img_hc) = &image.healthcheck {
        let hc = user.healthcheck.get_or_insert_with(Default::default);
        if hc.test.as_ref().is_none_or(Vec::is_empty) {
            hc.test = (!img_hc.test.is_empty()).then(|| img_hc.test.clone());
        }
        for (mine, theirs) in [
            (&mut hc.interval, img_hc.interval),
            (&mut hc.timeout, img_hc.timeout),
            (&mut hc.start_period, img_hc.start_period),
            (&mut hc.retries, img_hc.retries),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
    }
    if user.working_dir.is_empty() {
        user.working_dir = image.working_dir.clone();
    }
    if let Some(vols) = &image.volumes {
        let mine = user.volumes.get_or_insert_with(BTreeMap::new);
        for k in vols.keys() {
            mine.entry(k.clone()).or_default();
        }
    }
    if user.stop_signal.is_empty() {
        user.stop_signal = image.stop_signal.clone();
    }
    if user.shell.as_ref().is_none_or(Vec::is_empty) && image.shell.is_some() {
        user.shell = image.shell.clone();
    }
    if user.on_build.is_none() {
        user.on_build = image.on_build.clone();
    }
}

/// The process of a merged config: docker's `Path` and `Args`. An
/// entrypoint of `[""]` (`--entrypoint ""`) means none.
pub fn entrypoint_and_args(config: &Config) -> Result<(String, Vec<String>), Error> {
    let entrypoint: Vec<String> = match config.entrypoint.as_deref() {
        Some([only]) if only.is_empty() => Vec::new(),
        Some(e) => e.to_vec(),
        None => Vec::new(),
    };
    let cmd = config.cmd.clone().unwrap_or_default();
    let mut all = entrypoint.into_iter().chain(cmd);
    let path = all.next().ok_or(Error::NoCommand)?;
    Ok((path, all.collect()))
}

/// The json-file rotation of a container, `(max size, max files)`, from
/// its `LogConfig` (the daemon's default driver when it names none);
/// `None` when its driver is `none` (nothing is logged). Unknown drivers
/// and options are refused.
pub fn log_settings(host: &HostConfig, default: &LogDriver) -> Result<Option<(u64, u32)>, Error> {
    let opts = host.log_config.config.clone().unwrap_or_default();
    let driver = match host.log_config.r#type.as_str() {
        "" => match default {
            LogDriver::JsonFile { .. } => "json-file",
            LogDriver::Local => "local",
            LogDriver::None => "none",
        },
        other => other,
    };
    let (mut max_size, mut max_file) = match (driver, default) {
        ("json-file", LogDriver::JsonFile { max_size, max_file })
            if host.log_config.r#type.is_empty() =>
        {
            (max_size.unwrap_or(0), *max_file)
        }
        ("json-file", _) => (0, 1),
        // docker's `local` driver defaults: 20 MB per file, 5 files.
        ("local", _) => (20 << 20, 5),
        ("none", _) => {
            if let Some(k) = opts.keys().next() {
                return Err(Error::InvalidConfig {
                    message: format!("unknown log opt '{k}' for none log driver"),
                });
            }
            return Ok(None);
        }
        (other, _) => {
            return Err(Error::Unsupported {
                field: format!(
                    "HostConfig.LogConfig.Type {other:?} (log drivers: json-file, local, none)"
                ),
            });
        }
    };
    for (k, v) in &opts {
        match k.as_str() {
            "max-size" => {
                max_size = validate::parse_bytes(v).ok_or_else(|| Error::InvalidConfig {
                    message: format!("invalid value for max-size: {v}"),
                })?
            }
            "max-file" => {
                max_file = v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Error::InvalidConfig {
                        message: format!("invalid value for max-file: {v}"),
                    }
                })?
            }
            other => {
                return Err(Error::InvalidConfig {
                    message: format!("unknown log opt '{other}' for {driver} log driver"),
                });
            }
        }
    }
    if max_file > 1 && max_size == 0 {
        return Err(Error::InvalidConfig {
            message: "max-file cannot be set without max-size".to_string(),
        });
    }
    Ok(Some((max_size, max_file.max(1))))
}

impl Engine {
    /// Creates a container (`POST /containers/create?name=`).
    ///
    /// `name` is optional (a random `adjective_surname` otherwise). Errors:
    /// 400 for an invalid name or an unsupported or invalid field (the
    /// message names it), 404 "No such image: x" (the CLI then pulls), 409
    /// for a name in use. Publishes `create`.
    pub async fn container_create(
        self: &Arc<Self>,
        name: Option<String>,
        req: CreateRequest,
    ) -> Result<CreateResponse, Error> {
        let svc = &self.containers;
        if svc.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::ShuttingDown);
        }
        // Validate everything before anything changes.
        let name = match name.as_deref() {
            Some(n) if !n.is_empty() => Some(validate_name(n)?),
            _ => None,
        };
        let CreateRequest {
            mut config,
            host_config,
            networking_config,
        } = req;
        let mut host = host_config.unwrap_or_default();
        let warnings = validate::host_config(&mut host, SysInfo::host())?;
        super::init::init_for(&host, self.config().init_path.as_deref())?;
        validate::config(&config)?;
        validate::networking(&host, networking_config.as_ref())?;
        for mode in [&host.network_mode, &host.ipc_mode, &host.pid_mode] {
            if let Some(other) = mode.strip_prefix("container:") {
                svc.get(other)?;
            }
        }
        if config.image.is_empty() {
            return Err(Error::InvalidConfig {
                message: "No image specified".to_string(),
            });
        }
        let image = self.images.resolve(&config.image).map_err(Error::Image)?;
        if let Some(run) = &image.config.config {
            merge_image_config(&mut config, run);
        }
        let (path, args) = entrypoint_and_args(&config)?;
        if !config.stop_signal.is_empty() {
            signal::parse_signal(&config.stop_signal)?;
        }
        if !config.working_dir.is_empty() && !config.working_dir.starts_with('/') {
            return Err(Error::InvalidConfig {
                message: format!(
                    "the working directory '{}' is invalid, it needs to be an absolute path",
                    config.working_dir
                ),
            });
        }
        let policy = Policy::parse(&host.restart_policy)?;
        if host.auto_remove && !policy.is_no() {
            return Err(Error::InvalidConfig {
                message: "can't create 'AutoRemove' container with restart policy".to_string(),
            });
        }
        if host.runtime.is_empty() {
            host.runtime = self.config().default_runtime.clone();
        }
        if !self.config().runtimes.contains_key(&host.runtime) {
            return Err(Error::UnknownRuntime {
                name: host.runtime.clone(),
            });
        }
        let log = log_settings(&host, &self.config().log_driver)?;
        if host.log_config.r#type.is_empty() {
            // The daemon's driver and options become the container's (as
            // dockerd does), so later daemon changes do not alter it.
            let (name, opts) = match self.config().log_driver {
                LogDriver::JsonFile { max_size, max_file } => {
                    let mut opts = std::collections::BTreeMap::new();
                    if let Some(size) = max_size {
                        opts.insert("max-size".to_string(), size.to_string());
                        opts.insert("max-file".to_string(), max_file.to_string());
                    }
                    ("json-file", opts)
                }
                LogDriver::Local => ("local", Default::default()),
                LogDriver::None => ("none", Default::default()),
            };
            host.log_config.r#type = name.to_string();
            if host.log_config.config.as_ref().is_none_or(|c| c.is_empty()) {
                host.log_config.config = Some(opts);
            }
        }
        let host_network = host.network_mode == "host";
        let mut extra_hosts = String::new();
        let resolved = crate::networks::container::resolve_host_gateway(
            host.extra_hosts.as_deref().unwrap_or(&[]),
            self.networks.default_gateway(),
        );
        files::append_extra_hosts(&mut extra_hosts, &resolved)?;
        // Docker's create-time defaults, so inspect shows what applies.
        validate::adapt_resources(&mut host.resources);
        if host.shm_size == 0 {
            host.shm_size = DEFAULT_SHM_SIZE;
        }
        if host.cgroupns_mode.is_empty() {
            host.cgroupns_mode = "host".to_string();
        }
        if host.network_mode.is_empty() {
            host.network_mode = "default".to_string();
        }
        let networks = self
            .initial_networks(&host, networking_config.as_ref())
            .map_err(Error::Network)?;

        // Reserve the id and the name.
        let id = names::new_id();
        if config.hostname.is_empty() {
            config.hostname = if host_network {
                nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| id[..12].to_string())
            } else {
                id[..12].to_string()
            };
        }
        let dir = svc.data_dir.join(&id);
        let log_path = log
            .map(|_| dir.join(format!("{id}-json.log")).display().to_string())
            .unwrap_or_default();
        let record = ContainerRecord {
            id: id.clone(),
            created: jiff::Timestamp::now().to_string(),
            path,
            args,
            config,
            host_config: host,
            image: image.id.clone(),
            name: String::new(),
            restart_count: 0,
            driver: match self.images.driver() {
                "overlay" => "overlay2".to_string(),
                other => other.to_string(),
            },
            state: RunState::default(),
            has_been_manually_stopped: false,
            resolv_conf_path: dir.join("resolv.conf").display().to_string(),
            hostname_path: dir.join("hostname").display().to_string(),
            hosts_path: dir.join("hosts").display().to_string(),
            log_path,
            shim_active: false,
            networks,
            ports: Default::default(),
            host_veths: Default::default(),
            mount_points: None,
            health: None,
        };
        let stored_name = {
            let mut reg = svc.write();
            match name {
                Some(n) => {
                    reg.names.insert(&id, &n)?;
                    n
                }
                None => {
                    let mut n = format!("/{}", names::random_name(0));
                    for retry in 1..=10 {
                        if !reg.names.name_taken(&n) {
                            break;
                        }
                        n = format!("/{}", names::random_name(retry));
                    }
                    reg.names.insert(&id, &n)?;
                    n
                }
            }
        };
        let mut record = record;
        record.name = stored_name.clone();
        // The mounts, checked, then the volumes they need (created now).
        let mounts = match self.volumes_for_create(&id, &record.config, &record.host_config) {
            Ok(m) => m,
            Err(e) => {
                svc.write().names.remove(&id, &stored_name);
                return Err(Error::Volume(e));
            }
        };
        record.mount_points = Some(mounts.points.clone());

        let made = self
            .create_on_disk(&record, &extra_hosts, host_network)
            .and_then(|()| self.populate_volumes(&mut record));
        if let Err(e) = made {
            let cleanup = self.undo_create(&id).and(
                self.volumes_undo_create(&id, &mounts)
                    .map_err(Error::Volume),
            );
            svc.write().names.remove(&id, &stored_name);
            return Err(e.with_cleanup(cleanup));
        }
        let container = Arc::new(Container::new(record, dir));
        svc.write().by_id.insert(id.clone(), container.clone());
        self.container_event(&container, "create", &[]);
        Ok(CreateResponse {
            id,
            warnings: Some(warnings),
        })
    }

    /// The container's directory, rw snapshot, files and record.
    fn create_on_disk(
        &self,
        rec: &ContainerRecord,
        extra_hosts: &str,
        host_network: bool,
    ) -> Result<(), Error> {
        let dir = self.containers.data_dir.join(&rec.id);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            op: "create",
            path: dir.clone(),
            source,
        })?;
        self.images
            .prepare_rootfs(&rec.image, &rec.id)
            .map_err(Error::Image)?;
        let host = &rec.host_config;
        let hosts = if host_network {
            let mut h = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            h.push_str(extra_hosts);
            h
        } else {
            let mut h = files::hosts_file(&[])?;
            h.push_str(extra_hosts);
            h
        };
        let dns = DnsSettings {
            servers: host.dns.clone().unwrap_or_default(),
            search: host.dns_search.clone().unwrap_or_default(),
            options: host.dns_options.clone().unwrap_or_default(),
        };
        let resolv = files::resolv_conf(&files::host_resolv_conf(), &dns, host_network);
        let hostname = format!("{}\n", rec.config.hostname);
        for (file, content) in [
            ("hostname", hostname.as_bytes()),
            ("hosts", hosts.as_bytes()),
            ("resolv.conf", resolv.as_bytes()),
        ] {
            // The directory is new: no reader can see a half-written file
            // before the record exists, and the record's write fsyncs the
            // directory, which makes these names durable with it.
            write_new_file(&dir.join(file), content, needs_durability(rec))?;
        }
        write_record(&dir, rec)
    }

    /// Fills the new container's volumes from its image, with its rootfs
    /// mounted for the copy (as dockerd does at create, so a container
    /// never started can lend its volumes with `--volumes-from`).
    fn populate_volumes(&self, rec: &mut ContainerRecord) -> Result<(), Error> {
        let Some(points) = rec.mount_points.as_mut() else {
            return Ok(());
        };
        if !points.iter().any(|p| p.copy_data) {
            return Ok(());
        }
        let target = super::rootfs::rootfs_path(&self.containers.data_dir, &rec.id);
        super::rootfs::mount(&self.images, &rec.id, &target)?;
        let copied = self
            .volumes_populate(points, &target)
            .map_err(Error::Volume);
        let unmounted = super::rootfs::unmount(&target);
        let changed = match copied {
            Ok(changed) => changed,
            Err(e) => return Err(e.with_cleanup(unmounted)),
        };
        unmounted?;
        if changed {
            write_record(&self.containers.data_dir.join(&rec.id), rec)?;
        }
        Ok(())
    }

    /// Undoes a create that failed half-way.
    fn undo_create(&self, id: &str) -> Result<(), Error> {
        let snapshot = self.images.remove_rootfs(id).map_err(Error::Image);
        let dir = self.containers.data_dir.join(id);
        let files = match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io {
                op: "remove",
                path: dir,
                source,
            }),
        };
        snapshot.and(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> RunConfig {
        RunConfig {
            user: "daemon".into(),
            env: Some(vec!["PATH=/bin".into(), "A=image".into()]),
            entrypoint: None,
            cmd: Some(vec!["sh".into()]),
            working_dir: "/srv".into(),
            labels: Some(BTreeMap::from([
                ("a".to_string(), "image".to_string()),
                ("b".to_string(), "image".to_string()),
            ])),
            stop_signal: "SIGQUIT".into(),
            ..RunConfig::default()
        }
    }

    #[test]
    fn request_wins_and_image_fills_the_rest() {
        let mut c = Config {
            env: Some(vec!["A=user".into()]),
            labels: Some(BTreeMap::from([("a".to_string(), "user".to_string())])),
            cmd: Some(vec!["echo".into(), "hi".into()]),
            ..Config::default()
        };
        merge_image_config(&mut c, &image());
        assert_eq!(c.user, "daemon");
        assert_eq!(c.env.as_deref().unwrap(), ["A=user", "PATH=/bin"]);
        assert_eq!(c.labels.as_ref().unwrap()["a"], "user");
        assert_eq!(c.labels.as_ref().unwrap()["b"], "image");
        assert_eq!(c.working_dir, "/srv");
        assert_eq!(c.stop_signal, "SIGQUIT");
        assert_eq!(
            entrypoint_and_args(&c).unwrap(),
            ("echo".to_string(), vec!["hi".to_string()])
        );
    }

    #[test]
    fn entrypoint_in_request_drops_image_cmd() {
        let mut c = Config {
            entrypoint: Some(vec!["ls".into()]),
            ..Config::default()
        };
        merge_image_config(&mut c, &image());
        assert_eq!(c.cmd, None);
        assert_eq!(entrypoint_and_args(&c).unwrap(), ("ls".to_string(), vec![]));

        let mut c = Config::default();
        merge_image_config(&mut c, &image());
        assert_eq!(c.cmd.as_deref().unwrap(), ["sh"]);
        assert_eq!(c.env.as_deref().unwrap(), ["PATH=/bin", "A=image"]);

        // `--entrypoint ""` with no cmd: nothing to run.
        let mut c = Config {
            entrypoint: Some(vec![String::new()]),
            ..Config::default()
        };
        merge_image_config(&mut c, &image());
        assert_eq!(
            entrypoint_and_args(&c).unwrap_err().to_string(),
            "No command specified"
        );
        c.cmd = Some(vec!["true".into()]);
        assert_eq!(entrypoint_and_args(&c).unwrap().0, "true");
    }

    #[test]
    fn log_settings_follow_driver_and_options() {
        let mut h = HostConfig::default();
        let json = LogDriver::JsonFile {
            max_size: Some(1000),
            max_file: 2,
        };
        assert_eq!(log_settings(&h, &json).unwrap(), Some((1000, 2)));
        assert_eq!(log_settings(&h, &LogDriver::None).unwrap(), None);
        h.log_config.r#type = "json-file".into();
        h.log_config.config = Some(BTreeMap::from([
            ("max-size".to_string(), "10m".to_string()),
            ("max-file".to_string(), "3".to_string()),
        ]));
        assert_eq!(log_settings(&h, &json).unwrap(), Some((10 << 20, 3)));
        h.log_config.config = Some(BTreeMap::from([(
            "compress".to_string(),
            "true".to_string(),
        )]));
        assert_eq!(
            log_settings(&h, &json).unwrap_err().to_string(),
            "unknown log opt 'compress' for json-file log driver"
        );
        h.log_config = Default::default();
        h.log_config.r#type = "syslog".into();
        assert!(matches!(
            log_settings(&h, &json),
            Err(Error::Unsupported { .. })
        ));
        h.log_config.r#type = "local".into();
        assert_eq!(log_settings(&h, &json).unwrap(), Some((20 << 20, 5)));
    }
}
