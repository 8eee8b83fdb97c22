//! Loads a `docker save` archive into a fresh berth store and unpacks every
//! image into overlay snapshots, printing the wall time; the counterpart of
//! timing `docker load -i ARCHIVE`.
//!
//! Usage: load_bench ARCHIVE DATA_ROOT

use std::time::Instant;

use berth_content::{Leases, Store};
use berth_image::manifest::{self, Parsed};
use berth_image::{ImageConfig, ImageStore, load_docker_archive, unpack};
use berth_snapshots::overlay::OverlaySnapshotter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, archive, root] = &args[..] else {
        return Err("usage: load_bench ARCHIVE DATA_ROOT".into());
    };
    let root = std::path::Path::new(root);
    let start = Instant::now();
    let content = Store::open(root.join("content"))?;
    let leases = Leases::open(root.join("leases"))?;
    let images = ImageStore::open(root.join("images.json"))?;
    let sn = OverlaySnapshotter::open(&root.join("overlay"))?;
    let f = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(archive)?);
    let loaded = load_docker_archive(&content, &leases, &images, f)?;
    let load_time = start.elapsed();
    let mut layers = 0;
    for l in &loaded {
        let bytes = content.read(&l.manifest.digest)?;
        let Parsed::Manifest(m) = manifest::parse(&l.manifest.digest, None, &bytes)? else {
            return Err("expected a manifest".into());
        };
        let cfg = ImageConfig::parse(&m.config.digest, &content.read(&m.config.digest)?)?;
        layers += unpack(&content, &sn, &m, &m.config.digest, &cfg)?.applied;
    }
    println!(
        "loaded {} images in {load_time:?}, applied {layers} layers, total {:?}",
        loaded.len(),
        start.elapsed()
    );
    Ok(())
}
