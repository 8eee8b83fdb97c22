//! Responses captured from dockerd 20.10.24 (API 1.41) are read into our models and
//! written back: the bytes must be identical (same fields, order, `null`s and omissions).
//! Host paths in the captures were rewritten to docker's defaults.

use berth_api_types::{container, exec, image, system};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn same_bytes<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let path = format!(
        "{}/tests/data/dockerd-20.10/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.trim_end();
    let parsed: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let ours = serde_json::to_string(&parsed).unwrap();
    if ours != text {
        let at = ours
            .bytes()
            .zip(text.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let from = at.saturating_sub(60);
        panic!(
            "{name} differs at byte {at}:\n dockerd: ...{}\n    ours: ...{}",
            &text[from..(at + 60).min(text.len())],
            &ours[from..(at + 60).min(ours.len())]
        );
    }
    parsed
}

#[test]
fn container_inspect() {
    let running: container::InspectResponse = same_bytes("inspect-running.json");
    assert!(running.state.running);
    assert_eq!(running.host_config.resources.pids_limit, None);
    let created: container::InspectResponse = same_bytes("inspect-created.json");
    assert_eq!(created.state.status, "created");
    assert_eq!(created.host_config.resources.memory, 64 << 20);
    let exited: container::InspectResponse = same_bytes("inspect-exited.json");
    assert_eq!(exited.state.exit_code, 3);
}

#[test]
fn container_list_and_small_responses() {
    let ps: Vec<container::Summary> = same_bytes("ps.json");
    assert_eq!(ps.len(), 3);
    let _: container::TopResponse = same_bytes("top.json");
    let _: container::WaitResponse = same_bytes("wait.json");
    let _: container::CreateResponse = same_bytes("create.json");
    let changes: Vec<container::ChangeItem> = same_bytes("changes.json");
    assert_eq!(changes[1].kind, container::ChangeKind::Added);
    let _: container::PruneResponse = same_bytes("cprune.json");
    let stats: container::StatsResponse = same_bytes("stats.json");
    assert_eq!(stats.cpu_stats.online_cpus, 2);
}

#[test]
fn images() {
    let _: Vec<image::Summary> = same_bytes("images.json");
    let _: image::InspectResponse = same_bytes("image-inspect.json");
    let _: Vec<image::HistoryItem> = same_bytes("history.json");
    let _: Vec<image::DeleteItem> = same_bytes("rmi.json");
}

#[test]
fn system() {
    let info: system::Info = same_bytes("info.json");
    assert_eq!(info.swarm.local_node_state, "inactive");
    let _: system::Version = same_bytes("version.json");
    let _: system::DiskUsage = same_bytes("df.json");
}

#[test]
fn exec_inspect() {
    let created: exec::InspectResponse = same_bytes("exec-inspect-created.json");
    assert_eq!(created.exit_code, None);
    let done: exec::InspectResponse = same_bytes("exec-inspect-done.json");
    assert_eq!(done.exit_code, Some(0));
}

#[test]
fn path_stat_headers() {
    // HEAD /containers/web/archive?path=/etc/passwd and ?path=/bin/sh (a symlink).
    let file = container::PathStat::from_header_value(
        "eyJuYW1lIjoicGFzc3dkIiwic2l6ZSI6MzAsIm1vZGUiOjQyMCwibXRpbWUiOiIyMDI2LTExLTI4VDA3OjM4OjE2WiIsImxpbmtUYXJnZXQiOiIifQ==",
    )
    .unwrap();
    assert_eq!(
        (file.name.as_str(), file.size, file.mode),
        ("passwd", 30, 0o644)
    );
    let link = "eyJuYW1lIjoic2giLCJzaXplIjo3LCJtb2RlIjoxMzQyMTgyMzksIm10aW1lIjoiMjAyNi0xMS0yOFQwNzozODoxNloiLCJsaW5rVGFyZ2V0IjoiL2Jpbi9idXN5Ym94In0=";
    let stat = container::PathStat::from_header_value(link).unwrap();
    assert_eq!(stat.mode, container::file_mode::SYMLINK | 0o777);
    assert_eq!(stat.link_target, "/bin/busybox");
    assert_eq!(stat.to_header_value(), link);
}
