//! Networking of a test's private berthd: its own default bridge, subnet
//! and firewall table (so daemons of tests running at once never share
//! them), and their removal afterwards.

use std::path::Path;
use std::process::{Command, Stdio};

/// The bridge name for the daemon rooted at `root`: `bt` and the last
/// characters of the (random) root directory name.
pub fn bridge_of(root: &Path) -> String {
    let name = root.file_name().unwrap_or_default().to_string_lossy();
    let tail: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("bt{}", &tail[tail.len().saturating_sub(8)..])
}

/// The firewall table the daemon names after its bridge.
pub fn table_of(root: &Path) -> String {
    format!("berth_{}", bridge_of(root).replace(['-', '.'], "_"))
}

/// `--bridge NAME --bip CIDR` for the daemon rooted at `root`: a /24 in
/// 10.200.0.0 - 10.249.255.0, from a hash of the root's path, away from
/// common host routes.
pub fn daemon_args(root: &Path) -> Vec<String> {
    let h = root
        .to_string_lossy()
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    vec![
        "--bridge".to_string(),
        bridge_of(root),
        "--bip".to_string(),
        format!("10.{}.{}.1/24", 200 + (h % 50), (h / 50) % 256),
    ]
}

/// Removes the bridges and the firewall table the daemon rooted at `root`
/// made: its default bridge and the bridge of every network it recorded
/// under `<root>/data/networks`.
pub fn remove_leftovers(root: &Path) {
    let mut devices = vec![bridge_of(root)];
    for f in std::fs::read_dir(root.join("data").join("networks"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(text) = std::fs::read_to_string(f.path()) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if v["driver"] == "bridge" {
            if let Some(d) = v["device"].as_str() {
                devices.push(d.to_string());
            }
        }
    }
    devices.sort();
    devices.dedup();
    // Only names this harness or the daemon made up: never a host bridge.
    for d in devices
        .iter()
        .filter(|d| d.starts_with("bt") || d.starts_with("br-"))
    {
        let _ = Command::new("ip")
            .args(["link", "del", d])
            .stderr(Stdio::null())
            .status();
    }
    let _ = Command::new("nft")
        .args(["delete", "table", "ip", &table_of(root)])
        .stderr(Stdio::null())
        .status();
}
