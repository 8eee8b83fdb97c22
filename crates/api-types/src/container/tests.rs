use serde_json::{Value, json};

use super::*;

/// The body docker CLI 28.2.2 sent for `docker create -it --name x -e A=1 busybox sh`.
const CLI_CREATE_IT: &str = include_str!("../../tests/data/cli28-create-it.json");
/// The body docker CLI 28.2.2 sent for `docker run -d --rm --name y -e B=2 -w /tmp -u 1000
/// --entrypoint /bin/sh -l k=v --read-only busybox -c 'echo hi'`.
const CLI_RUN_D_RM: &str = include_str!("../../tests/data/cli28-run-d-rm.json");

/// Fields CLI 28 sends that API v1.41 does not have; dockerd 20.10 ignores them.
const NEWER_FIELDS: &[&str] = &["GwPriority", "DNSNames"];

/// Asserts every field of `sent` (except [`NEWER_FIELDS`]) is in `ours` with the same value.
fn assert_keeps(sent: &Value, ours: &Value, path: &str) {
    match (sent, ours) {
        (Value::Object(s), Value::Object(o)) => {
            for (k, v) in s {
                if NEWER_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let Some(ov) = o.get(k) else {
                    panic!("{path}.{k} was dropped");
                };
                assert_keeps(v, ov, &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(sent, ours, "{path}"),
    }
}

#[test]
fn cli28_create_body_is_read_and_echoed() {
    let req: CreateRequest = serde_json::from_str(CLI_CREATE_IT).unwrap();
    let c = &req.config;
    assert!(c.tty && c.open_stdin && c.stdin_once && c.attach_stdin);
    assert_eq!(c.env.as_deref(), Some(&["A=1".to_string()][..]));
    assert_eq!(c.cmd.as_deref(), Some(&["sh".to_string()][..]));
    assert_eq!(c.entrypoint, None);
    assert_eq!(c.image, "busybox");
    assert_eq!(c.volumes, Some(Default::default()));
    let hc = req.host_config.as_ref().unwrap();
    assert_eq!(hc.network_mode, "default");
    assert_eq!(hc.restart_policy.name, "no");
    assert_eq!(hc.dns, Some(vec![]));
    assert_eq!(hc.cap_add, None);
    assert_eq!(hc.resources.memory_swappiness, Some(-1));
    assert_eq!(hc.resources.oom_kill_disable, Some(false));
    assert_eq!(hc.resources.pids_limit, Some(0));
    assert_eq!(hc.resources.ulimits, Some(vec![]));
    assert_eq!(hc.init, None);
    let eps = req
        .networking_config
        .as_ref()
        .unwrap()
        .endpoints_config
        .as_ref()
        .unwrap();
    assert_eq!(eps["default"], crate::network::EndpointSettings::default());

    let sent: Value = serde_json::from_str(CLI_CREATE_IT).unwrap();
    let ours = serde_json::to_value(&req).unwrap();
    assert_keeps(&sent, &ours, "");
    let again: CreateRequest = serde_json::from_value(ours).unwrap();
    assert_eq!(again, req);
}

#[test]
fn cli28_run_body_is_read_and_echoed() {
    let req: CreateRequest = serde_json::from_str(CLI_RUN_D_RM).unwrap();
    let c = &req.config;
    assert!(!c.tty && !c.attach_stdout);
    assert_eq!(c.user, "1000");
    assert_eq!(c.working_dir, "/tmp");
    assert_eq!(c.entrypoint.as_deref(), Some(&["/bin/sh".to_string()][..]));
    assert_eq!(
        c.cmd.as_deref(),
        Some(&["-c".to_string(), "echo hi".to_string()][..])
    );
    assert_eq!(c.labels.as_ref().unwrap()["k"], "v");
    let hc = req.host_config.as_ref().unwrap();
    assert!(hc.auto_remove && hc.readonly_rootfs);
    let sent: Value = serde_json::from_str(CLI_RUN_D_RM).unwrap();
    assert_keeps(&sent, &serde_json::to_value(&req).unwrap(), "");
}

#[test]
fn create_body_takes_go_leniencies() {
    // Strings for StrSlice fields, null for plain fields, unknown fields, a missing HostConfig.
    let req: CreateRequest = serde_json::from_value(json!({
        "Image": "busybox", "Cmd": "sh", "Entrypoint": null, "Hostname": null,
        "Tty": null, "SomethingNew": {"x": 1},
        "HostConfig": {"CapAdd": "NET_ADMIN", "Memory": null, "ConsoleSize": null,
                       "PidsLimit": null, "Init": true, "RestartPolicy": null}
    }))
    .unwrap();
    assert_eq!(req.config.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(req.config.hostname, "");
    let hc = req.host_config.unwrap();
    assert_eq!(hc.cap_add, Some(vec!["NET_ADMIN".to_string()]));
    assert_eq!(hc.resources.memory, 0);
    assert_eq!(hc.resources.pids_limit, None);
    assert_eq!(hc.init, Some(true));
    let bare: CreateRequest = serde_json::from_str(r#"{"Image":"x"}"#).unwrap();
    assert_eq!(bare.host_config, None);
    // Wrong types are refused, as dockerd refuses them.
    assert!(serde_json::from_str::<CreateRequest>(r#"{"Image":"x","Tty":"yes"}"#).is_err());
    assert!(serde_json::from_str::<CreateRequest>(r#"{"HostConfig":{"Memory":"1g"}}"#).is_err());
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn default_inspect_response_writes_every_always_present_field() {
    let v = serde_json::to_value(InspectResponse::default()).unwrap();
    // serde_json's Map keeps insertion order only with "preserve_order"; compare as sets.
    let mut top = keys(&v);
    top.sort_unstable();
    let mut want = vec![
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "ResolvConfPath",
        "HostnamePath",
        "HostsPath",
        "LogPath",
        "Name",
        "RestartCount",
        "Driver",
        "Platform",
        "MountLabel",
        "ProcessLabel",
        "AppArmorProfile",
        "ExecIDs",
        "HostConfig",
        "GraphDriver",
        "Mounts",
        "Config",
        "NetworkSettings",
    ];
    want.sort_unstable();
    assert_eq!(top, want);
    assert_eq!(v["Args"], Value::Null);
    assert_eq!(v["GraphDriver"], json!({"Data": null, "Name": ""}));
    assert_eq!(
        v["State"],
        json!({"Status": "created", "Running": false, "Paused": false, "Restarting": false,
               "OOMKilled": false, "Dead": false, "Pid": 0, "ExitCode": 0, "Error": "",
               "StartedAt": "0001-01-01T00:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z"})
    );
    let mut config = keys(&v["Config"]);
    config.sort_unstable();
    let mut want = vec![
        "Hostname",
        "Domainname",
        "User",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Env",
        "Cmd",
        "Image",
        "Volumes",
        "WorkingDir",
        "Entrypoint",
        "OnBuild",
        "Labels",
    ];
    want.sort_unstable();
    assert_eq!(config, want);
    let hc = v["HostConfig"].as_object().unwrap();
    assert_eq!(hc.len(), 64, "{:?}", hc.keys().collect::<Vec<_>>());
    for k in [
        "StorageOpt",
        "Tmpfs",
        "Sysctls",
        "Runtime",
        "Mounts",
        "Init",
    ] {
        assert!(!hc.contains_key(k), "{k} is omitempty");
    }
    assert_eq!(hc["ConsoleSize"], json!([0, 0]));
    assert_eq!(hc["LogConfig"], json!({"Type": "", "Config": null}));
    assert_eq!(hc["MemorySwappiness"], Value::Null);
    assert_eq!(v["NetworkSettings"].as_object().unwrap().len(), 18);
}

#[test]
fn summary_omits_zero_sizes_and_empty_network_mode() {
    let s = Summary {
        id: "abc".into(),
        ..Default::default()
    };
    let v = serde_json::to_value(&s).unwrap();
    assert!(v.get("SizeRw").is_none() && v.get("SizeRootFs").is_none());
    assert_eq!(v["HostConfig"], json!({}));
    assert_eq!(v["NetworkSettings"], json!({"Networks": null}));
    assert_eq!(v["Ports"], Value::Null);
}

#[test]
fn small_responses_match_dockerd() {
    let w = WaitResponse {
        error: None,
        status_code: 3,
    };
    assert_eq!(
        serde_json::to_string(&w).unwrap(),
        r#"{"Error":null,"StatusCode":3}"#
    );
    let c = CreateResponse {
        id: "abc".into(),
        warnings: Some(vec![]),
    };
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"Id":"abc","Warnings":[]}"#
    );
    let ch = ChangeItem {
        path: "/a".into(),
        kind: ChangeKind::Added,
    };
    assert_eq!(
        serde_json::to_string(&ch).unwrap(),
        r#"{"Path":"/a","Kind":1}"#
    );
    assert!(serde_json::from_str::<ChangeItem>(r#"{"Kind":7,"Path":"/a"}"#).is_err());
    let p = PruneResponse {
        containers_deleted: None,
        space_reclaimed: 0,
    };
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        r#"{"ContainersDeleted":null,"SpaceReclaimed":0}"#
    );
}

#[test]
fn path_stat_header_round_trips() {
    let st = PathStat {
        name: "hosts".into(),
        size: 174,
        mode: 0o644,
        mtime: "2024-01-02T03:04:05.123456789Z".into(),
        link_target: String::new(),
    };
    let h = st.to_header_value();
    assert_eq!(PathStat::from_header_value(&h).unwrap(), st);
    let json = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &h).unwrap(),
    )
    .unwrap();
    assert_eq!(
        json,
        r#"{"name":"hosts","size":174,"mode":420,"mtime":"2024-01-02T03:04:05.123456789Z","linkTarget":""}"#
    );
    assert!(PathStat::from_header_value("%%%").is_err());
}

#[test]
fn stats_sample_uses_snake_case_and_omits_zeroes() {
    let v = serde_json::to_value(StatsResponse::default()).unwrap();
    let mut k = keys(&v);
    k.sort_unstable();
    assert_eq!(
        k,
        [
            "blkio_stats",
            "cpu_stats",
            "memory_stats",
            "num_procs",
            "pids_stats",
            "precpu_stats",
            "preread",
            "read",
            "storage_stats"
        ]
    );
    assert_eq!(
        v["cpu_stats"],
        json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
               "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}})
    );
    assert_eq!(v["memory_stats"], json!({}));
}
