//! Removing snapshots that nothing references.
//!
//! The content store's collection marks snapshot keys (from image records,
//! containers and leases); [`sweep`] keeps those and all their ancestors,
//! and removes everything else, children before parents.

use std::collections::{BTreeSet, HashMap};

use crate::{SnapshotError, Snapshotter};

/// Removes every snapshot not in `live` and not an ancestor of one;
/// returns the removed keys in removal order.
pub fn sweep(sn: &dyn Snapshotter, live: &BTreeSet<String>) -> Result<Vec<String>, SnapshotError> {
    let all = sn.list()?;
    let parent: HashMap<&str, Option<&str>> = all
        .iter()
        .map(|i| (i.name.as_str(), i.parent.as_deref()))
        .collect();
    let mut keep = BTreeSet::new();
    for k in live {
        let mut cur = Some(k.as_str());
        while let Some(c) = cur {
            if !parent.contains_key(c) || !keep.insert(c.to_owned()) {
                break;
            }
            cur = parent[c];
        }
    }
    let mut doomed: BTreeSet<&str> = all
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| !keep.contains(*n))
        .collect();
    let mut removed = Vec::new();
    // Leaves first: a snapshot goes once no remaining snapshot names it as
    // parent. Kept snapshots never have doomed parents (ancestors of kept
    // ones are kept), so this always makes progress.
    while !doomed.is_empty() {
        let leaves: Vec<&str> = doomed
            .iter()
            .copied()
            .filter(|d| !doomed.iter().any(|o| parent[o] == Some(*d)))
            .collect();
        for l in leaves {
            sn.remove(l)?;
            doomed.remove(l);
            removed.push(l.to_owned());
        }
    }
    Ok(removed)
}
