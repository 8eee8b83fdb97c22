//! System endpoints: `/_ping`, `/version`, `/info`, `/events`,
//! `/system/df`, `/auth`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use berth_api_types::system::{ComponentVersion, Info, Platform, PluginsInfo, Runtime, Version};
use berth_engine::events::Event;
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, PRAGMA};
use tokio::sync::OnceCell;
use tokio::sync::broadcast::error::RecvError;

use crate::api::{self, ApiError, Resp, ok_json};
use crate::body::Body;
use crate::daemon::Daemon;
use crate::events_filter::{EventFilter, parse_timestamp};
use crate::handlers::Call;
use crate::host;

/// `GET|HEAD /_ping`: `OK`, never cached.
pub fn ping(call: &Call) -> Resp {
    let mut r = if call.req.method() == http::Method::HEAD {
        let mut r = api::status_only(StatusCode::OK);
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r.headers_mut()
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        r
    } else {
        api::text(StatusCode::OK, "OK")
    };
    r.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    r.headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// The default runtime's `--version`, asked once.
async fn runtime_version(daemon: &Daemon) -> &'static (String, String, String) {
    static CELL: OnceCell<(String, String, String)> = OnceCell::const_new();
    let cfg = daemon.engine.config();
    let name = cfg.default_runtime.clone();
    let path = cfg
        .runtimes
        .get(&name)
        .map(|r| r.path.clone())
        .unwrap_or_default();
    CELL.get_or_init(|| async move {
        let (v, c) = tokio::task::spawn_blocking(move || host::runtime_version(&path))
            .await
            .unwrap_or_default();
        (name, v, c)
    })
    .await
}

/// `GET /version`.
pub async fn version(daemon: &Daemon) -> Resp {
    let (rt_name, rt_version, rt_commit) = runtime_version(daemon).await;
    let kernel = host::kernel_version();
    let details: BTreeMap<String, String> = [
        ("ApiVersion", api::API_VERSION),
        ("Arch", host::go_arch()),
        ("BuildTime", ""),
        ("Experimental", "false"),
        ("GitCommit", ""),
        ("GoVersion", ""),
        ("KernelVersion", kernel.as_str()),
        ("MinAPIVersion", api::MIN_API_VERSION),
        ("Os", "linux"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut components = vec![ComponentVersion {
        name: "Engine".to_string(),
        version: api::ENGINE_VERSION.to_string(),
        details: Some(details),
    }];
    if !rt_version.is_empty() {
        components.push(ComponentVersion {
            name: rt_name.clone(),
            version: rt_version.clone(),
            details: Some(BTreeMap::from([(
                "GitCommit".to_string(),
                rt_commit.clone(),
            )])),
        });
    }
    ok_json(&Version {
        platform: Platform {
            name: format!("berth {}", env!("CARGO_PKG_VERSION")),
        },
        components: Some(components),
        version: api::ENGINE_VERSION.to_string(),
        api_version: api::API_VERSION.to_string(),
        min_api_version: api::MIN_API_VERSION.to_string(),
        git_commit: String::new(),
        go_version: String::new(),
        os: "linux".to_string(),
        arch: host::go_arch().to_string(),
        kernel_version: kernel,
        experimental: false,
        build_time: String::new(),
    })
}

/// `GET /info`: what `docker info` prints, read from the engine and host.
pub async fn info(daemon: &Arc<Daemon>) -> Resp {
    let cfg = daemon.config();
    let ecfg = daemon.engine.config();
    let (_, rt_version, rt_commit) = runtime_version(daemon).await;
    let cg = host::cgroup_features();
    let (os, os_version) = host::os_release();
    let counts = crate::handlers::system_counts(daemon).await;
    let runtimes = ecfg
        .runtimes
        .iter()
        .map(|(name, r)| {
            (
                name.clone(),
                Runtime {
                    path: r.path.display().to_string(),
                    args: (!r.args.is_empty()).then(|| r.args.clone()),
                },
            )
        })
        .collect();
    let log_driver = match &cfg.log_driver {
        berth_engine::LogDriver::JsonFile { .. } => "json-file",
        berth_engine::LogDriver::Local => "local",
        berth_engine::LogDriver::None => "none",
    };
    let warnings: Vec<String> = daemon
        .listen_addrs
        .iter()
        .filter(|a| a.starts_with("tcp://"))
        .map(|a| {
            format!(
                "WARNING: API is accessible on http://{} without encryption.",
                a.trim_start_matches("tcp://")
            )
        })
        .collect();
    let now = jiff::ZonedDateTime::now();
    ok_json(&Info {
        id: daemon.id.clone(),
        containers: counts.containers,
        containers_running: counts.running,
        containers_paused: counts.paused,
        containers_stopped: counts.stopped,
        images: counts.images,
        driver: ecfg.storage_driver.clone(),
        driver_status: Some(daemon.engine.image_driver_status()),
        system_status: None,
        plugins: PluginsInfo {
            volume: Some(vec!["local".into()]),
            network: Some(vec!["bridge".into(), "host".into(), "null".into()]),
            authorization: None,
            log: Some(vec!["json-file".into(), "local".into()]),
        },
        memory_limit: cg.memory,
        swap_limit: cg.swap,
        kernel_memory: false,
        kernel_memory_tcp: false,
        cpu_cfs_period: cg.cpu_cfs,
        cpu_cfs_quota: cg.cpu_cfs,
        cpu_shares: cg.cpu_shares,
        cpu_set: cg.cpuset,
        pids_limit: cg.pids,
        ipv4_forwarding: host::sysctl_on("/proc/sys/net/ipv4/ip_forward"),
        bridge_nf_iptables: host::sysctl_on("/proc/sys/net/bridge/bridge-nf-call-iptables"),
        bridge_nf_ip6tables: host::sysctl_on("/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
        debug: cfg.debug,
        nfd: host::open_fds(),
        oom_kill_disable: cg.oom_kill_disable,
        ngoroutines: host::threads(),
        system_time: now.strftime("%Y-%m-%dT%H:%M:%S%.9f%:z").to_string(),
        logging_driver: log_driver.to_string(),
        cgroup_driver: "cgroupfs".to_string(),
        cgroup_version: cg.version,
        nevents_listener: daemon.event_listeners.load(Ordering::Relaxed),
        kernel_version: host::kernel_version(),
        operating_system: os,
        os_version,
        os_type: "linux".to_string(),
        architecture: host::machine().to_string(),
        index_server_address: "https://index.docker.io/v1/".to_string(),
        registry_config: Some(cfg.registry.api()),
        ncpu: host::ncpu(),
        mem_total: host::mem_total(),
        generic_resources: None,
        docker_root_dir: cfg.data_root.display().to_string(),
        http_proxy: std::env::var("HTTP_PROXY").unwrap_or_default(),
        https_proxy: std::env::var("HTTPS_PROXY").unwrap_or_default(),
        no_proxy: std::env::var("NO_PROXY").unwrap_or_default(),
        name: host::hostname(),
        labels: Some(cfg.labels.clone()),
        experimental_build: false,
        server_version: api::ENGINE_VERSION.to_string(),
        runtimes: Some(runtimes),
        default_runtime: ecfg.default_runtime.clone(),
        swarm: Default::default(),
        live_restore_enabled: cfg.live_restore,
        isolation: String::new(),
        init_binary: String::new(),
        containerd_commit: Default::default(),
        runc_commit: berth_api_types::system::Commit {
            id: if rt_commit.is_empty() {
                rt_version.clone()
            } else {
                rt_commit.clone()
            },
            expected: String::new(),
        },
        init_commit: Default::default(),
        security_options: Some(vec!["name=seccomp,profile=default".into()]),
        warnings: Some(warnings),
    })
}

/// `GET /events`: past events from `since`, then live ones, until `until`
/// or the client leaves. The head goes out at once (clients wait for it).
pub fn events(daemon: &Arc<Daemon>, call: &Call) -> Result<Resp, ApiError> {
    let q = &call.query;
    let since = q
        .nonempty("since")
        .map(|s| parse_timestamp("since", s))
        .transpose()?;
    let until = q
        .nonempty("until")
        .map(|s| parse_timestamp("until", s))
        .transpose()?;
    let filter = EventFilter::new(crate::handlers::filters(&call.query)?)?;
    let (past, mut rx) = daemon.engine.events().subscribe(since);
    let (tx, body) = Body::channel();
    let guard = daemon.event_listener();
    tokio::spawn(async move {
        let _guard = guard;
        let now = jiff::Timestamp::now().as_nanosecond() as i64;
        let before_until = |e: &Event| until.is_none_or(|u| e.time_nano <= u);
        for e in past.iter().filter(|e| filter.matches(e) && before_until(e)) {
            if tx.send_json_line(e).await.is_err() {
                return;
            }
        }
        // An `until` in the past ends the stream after the history.
        if until.is_some_and(|u| u <= now) {
            return;
        }
        let deadline = until.map(|u| {
            tokio::time::Instant::now()
                + std::time::Duration::from_nanos(u.saturating_sub(now) as u64)
        });
        loop {
            let next = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok(),
                    None => Some(rx.recv().await),
                }
            };
            let ev = tokio::select! {
                ev = next => ev,
                _ = tx.closed() => return,
            };
            match ev {
                None => return,
                Some(Ok(e)) => {
                    if !before_until(&e) {
                        return;
                    }
                    if filter.matches(&e) && tx.send_json_line(&e).await.is_err() {
                        return;
                    }
                }
                Some(Err(RecvError::Lagged(n))) => {
                    crate::warn!("events stream fell behind and skipped {n} events");
                }
                Some(Err(RecvError::Closed)) => return,
            }
        }
    });
    let mut r = http::Response::new(body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

/// `GET /system/df`.
pub async fn disk_usage(daemon: &Arc<Daemon>) -> Result<Resp, ApiError> {
    let du = crate::handlers::disk_usage(daemon).await?;
    Ok(ok_json(&du))
}

/// `POST /auth`: checks the credentials against the registry (`GET /v2/`
/// with Basic credentials or a token fetched with them); 401 with
/// dockerd's message when it refuses them.
pub async fn auth(daemon: &Arc<Daemon>, call: Call) -> Result<Resp, ApiError> {
    let (parts, body) = call.req.into_parts();
    let body: Option<berth_api_types::system::AuthConfig> =
        api::read_json_opt(&parts.headers, body).await?;
    let auth = body.unwrap_or_default();
    match daemon.engine.registry_login(&auth).await {
        Ok(identity_token) => Ok(ok_json(&berth_api_types::system::AuthResponse {
            identity_token,
            status: "Login Succeeded".to_string(),
        })),
        Err(e) => Err(crate::handlers::images::registry_error(&e)),
    }
}
