//! The container service (being written).

use std::sync::Arc;

use crate::{Engine, EngineConfig};

/// Errors of the container service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container store: {0}")]
    Store(String),
}

pub struct ContainerService {}

impl ContainerService {
    pub fn open(_cfg: &EngineConfig) -> Result<Self, Error> {
        Ok(ContainerService {})
    }
}

/// Reattaches to the shims of containers found on disk (live restore).
pub async fn restore(_engine: &Arc<Engine>) {}

/// Stops running containers for a daemon shutdown without live restore.
pub async fn stop_all_for_shutdown(_engine: &Arc<Engine>) {}
