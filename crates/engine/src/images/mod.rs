//! The image service (being written).

use crate::EngineConfig;

/// Errors of the image service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("image store: {0}")]
    Store(String),
}

pub struct ImageService {}

impl ImageService {
    pub fn open(_cfg: &EngineConfig) -> Result<Self, Error> {
        Ok(ImageService {})
    }
}
