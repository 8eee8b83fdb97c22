//! Disk usage per image, as `docker system df -v` reports it: an image's
//! size is the sum of its layers' snapshots; the part in layers that some
//! other image also uses is shared, the rest unique.

use std::collections::HashMap;

use berth_content::Digest;
use berth_snapshots::{SnapshotError, Snapshotter};

/// One image's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    pub image: Digest,
    pub size: u64,
    pub shared_size: u64,
    pub unique_size: u64,
}

/// Usage of each image, given as (image ID, chain IDs bottom first).
/// Layers not unpacked count as 0 bytes.
pub fn disk_usage(
    sn: &dyn Snapshotter,
    images: &[(Digest, Vec<Digest>)],
) -> Result<Vec<ImageUsage>, SnapshotError> {
    let mut users: HashMap<Digest, usize> = HashMap::new();
    let mut sizes: HashMap<Digest, u64> = HashMap::new();
    for (_, chains) in images {
        for c in chains {
            *users.entry(*c).or_default() += 1;
            if !sizes.contains_key(c) {
                let size = match sn.usage(&c.to_string()) {
                    Ok(u) => u.size,
                    Err(SnapshotError::NotFound(_)) => 0,
                    Err(e) => return Err(e),
                };
                sizes.insert(*c, size);
            }
        }
    }
    Ok(images
        .iter()
        .map(|(id, chains)| {
            let size: u64 = chains.iter().map(|c| sizes[c]).sum();
            let shared: u64 = chains
                .iter()
                .filter(|c| users[*c] > 1)
                .map(|c| sizes[c])
                .sum();
            ImageUsage {
                image: *id,
                size,
                shared_size: shared,
                unique_size: size - shared,
            }
        })
        .collect())
}
