//! berth's daemon core: the container, image and event services behind the
//! Engine API.
//!
//! Layering: berthd (HTTP) parses a request into a typed call on [`Engine`]
//! and renders the result; the engine never sees HTTP. Each service is a
//! module that owns its state and its on-disk records:
//! - `images`: the image store (content store, snapshots, image records);
//! - `containers`: container records, their shims (one `berth-shim` process
//!   per container, the container's parent), logs, exec, restart policies;
//! - `volumes`: named and anonymous volumes (local driver) and the mounts
//!   of containers that use them;
//! - `events`: the event bus every service publishes to.
//!
//! Lifecycle: [`Engine::new`] opens the stores and reattaches to the shims
//! of containers that kept running while the daemon was down (live restore);
//! [`Engine::shutdown`] stops containers unless live restore is on.

pub mod config;
pub mod containers;
pub mod error;
pub mod events;
pub mod images;
pub mod networks;
pub mod oci;
pub mod volumes;

use std::sync::Arc;

pub use config::{EngineConfig, LogDriver, RegistrySettings, RuntimeSpec};
pub use error::ErrorKind;
pub use events::EventBus;

/// The daemon core; shared as `Arc<Engine>`, internally synchronized.
pub struct Engine {
    config: EngineConfig,
    events: EventBus,
    pub(crate) images: images::ImageService,
    pub(crate) containers: containers::ContainerService,
    pub(crate) networks: networks::NetworkService,
    pub(crate) volumes: volumes::VolumeService,
}

/// Errors of opening the engine.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("create {path}: {source}")]
    CreateDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("open image store: {0}")]
    Images(#[source] images::Error),
    #[error("open container store: {0}")]
    Containers(#[source] containers::Error),
    #[error("open networks: {0}")]
    Networks(#[source] networks::Error),
    #[error("open volumes: {0}")]
    Volumes(#[source] volumes::Error),
}

impl Engine {
    /// Opens the stores under the data root, creates the exec root, and
    /// restores the containers found on disk.
    pub async fn new(config: EngineConfig) -> Result<Arc<Engine>, OpenError> {
        for dir in [&config.data_root, &config.exec_root] {
            std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
                path: dir.clone(),
                source,
            })?;
        }
        let images = images::ImageService::open(&config).map_err(OpenError::Images)?;
        let containers =
            containers::ContainerService::open(&config).map_err(OpenError::Containers)?;
        let networks = networks::NetworkService::open(&config.data_root, config.bridge.clone())
            .map_err(OpenError::Networks)?;
        let volumes = volumes::VolumeService::open(&config).map_err(OpenError::Volumes)?;
        volumes.seed_refs(&containers);
        let engine = Arc::new(Engine {
            config,
            events: EventBus::new(),
            images,
            containers,
            networks,
            volumes,
        });
        containers::restore(&engine).await;
        // After restore: the endpoints and ports of the containers that
        // kept running are known, so the firewall table is complete.
        engine
            .networks
            .init_host()
            .await
            .map_err(OpenError::Networks)?;
        Ok(engine)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Daemon shutdown: stops running containers (with their stop timeout)
    /// unless live restore is on; shims and their containers are never
    /// killed by the daemon's exit itself.
    pub async fn shutdown(self: &Arc<Self>) {
        if !self.config.live_restore {
            containers::stop_all_for_shutdown(self).await;
        }
    }
}
