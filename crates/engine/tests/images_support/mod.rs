//! Fixtures shared by the image service's test files: an engine on a
//! temp data root, rootfs tarballs, event and archive helpers.
#![allow(dead_code, unused_imports)] // each test file uses its own subset

pub use std::collections::BTreeMap;
pub use std::fs;
pub use std::io::{Cursor, Read};
pub use std::path::Path;
pub use std::sync::Arc;

pub use berth_api_types::filters::Filters;
pub use berth_engine::events::Event;
pub use berth_engine::images::{Error, ReadBridge};
pub use berth_engine::{Engine, EngineConfig, ErrorKind};
pub use berth_snapshots::mount::mount_all;
pub use berth_snapshots::testsuite::in_private_mount_namespace;
pub use tempfile::TempDir;

/// A busybox rootfs tarball (as `docker export` would give one).
pub fn busybox_tar() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    testkit::rootfs::populate(dir.path());
    tar_of(dir.path())
}

pub fn tar_of(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

/// A one-file rootfs tarball, a different image for each `content`.
pub fn tiny_tar(content: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("hello"), content).unwrap();
    tar_of(dir.path())
}

pub struct Env {
    pub _tmp: TempDir,
    pub data: std::path::PathBuf,
    pub engine: Arc<Engine>,
}

pub async fn engine_with(driver: &str) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut cfg = EngineConfig::with_roots(data.clone(), tmp.path().join("exec"));
    // No host networking for these tests (see containers_support).
    cfg.bridge.bridge = "none".to_string();
    cfg.storage_driver = driver.to_string();
    let engine = Engine::new(cfg).await.unwrap();
    Env {
        _tmp: tmp,
        data,
        engine,
    }
}

pub async fn engine() -> Env {
    engine_with("overlay").await
}

pub async fn import(e: &Engine, tar: Vec<u8>, repo: Option<&str>, tag: Option<&str>) -> String {
    e.image_import(
        Cursor::new(tar),
        repo.map(String::from),
        tag.map(String::from),
        vec![r#"CMD ["sh"]"#.to_string(), "LABEL team=berth".to_string()],
        None,
    )
    .await
    .unwrap()
}

pub fn filters(pairs: &[(&str, &str)]) -> Filters {
    let mut f = Filters::new();
    for (k, v) in pairs {
        f.add(*k, *v);
    }
    f
}

/// (action, actor ID, name attribute) of the events published so far.
pub fn drain(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        assert_eq!(ev.typ, "image");
        let name = ev.actor.attributes.get("name").cloned().unwrap_or_default();
        out.push((ev.action, ev.actor.id, name));
    }
    out
}

pub fn ev(action: &str, id: &str, name: &str) -> (String, String, String) {
    (action.into(), id.into(), name.into())
}

pub fn files_under(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// The tests, in a module so that `cargo test images` selects them all.
/// The entries of a tar, by name (directories end with '/').
pub fn tar_entries(data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        out.insert(name, buf);
    }
    out
}
