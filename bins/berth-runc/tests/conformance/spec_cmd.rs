//! `spec`: writes a default config.json into the bundle, like runc's.

use serde_json::Value;
use testkit::Runtime;

fn spec(rt: &Runtime, dir: &std::path::Path, extra: &[&str]) -> testkit::CmdOutput {
    let d = dir.to_str().unwrap();
    let mut args = vec!["spec", "--bundle", d];
    args.extend_from_slice(extra);
    rt.cmd(args)
}

#[test]
fn spec_writes_a_runnable_default_and_refuses_to_overwrite() {
    let Some(rt) = crate::runtime() else { return };
    let dir = tempfile::tempdir().unwrap();
    spec(&rt, dir.path(), &[]).ok();
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["ociVersion"], "1.0.2-dev");
    assert_eq!(cfg["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(cfg["process"]["terminal"], true);
    assert_eq!(cfg["root"]["path"], "rootfs");
    let types: Vec<&str> = cfg["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for t in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(types.contains(&t), "{types:?}");
    }
    assert!(!types.contains(&"user"), "{types:?}");
    let again = spec(&rt, dir.path(), &[]).fails();
    assert!(again.stderr.contains("exists"), "{again}");
}

#[test]
fn spec_rootless_adds_a_user_namespace_with_mappings() {
    let Some(rt) = crate::runtime() else { return };
    let dir = tempfile::tempdir().unwrap();
    spec(&rt, dir.path(), &["--rootless"]).ok();
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    let ns = cfg["linux"]["namespaces"].as_array().unwrap();
    assert!(ns.iter().any(|n| n["type"] == "user"), "{ns:?}");
    assert!(ns.iter().all(|n| n["type"] != "network"), "{ns:?}");
    assert_eq!(cfg["linux"]["uidMappings"][0]["containerID"], 0);
    assert_eq!(cfg["linux"]["uidMappings"][0]["size"], 1);
}
