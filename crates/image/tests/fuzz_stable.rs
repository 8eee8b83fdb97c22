//! The fuzz targets of `fuzz/` (the image library's) as ordinary tests: each
//! body (tests/fuzzing) runs over seeded pseudo-random inputs and over
//! mutations of valid seeds, a fixed number of times, so `cargo test`
//! exercises them everywhere; `scripts/fuzz.sh` (in CI too) runs the
//! coverage-guided versions.
//!
//! `BERTH_FUZZ_ITERS` scales the budget (default 300 inputs per target);
//! `BERTH_FUZZ_SEED` picks another sequence. A failure prints the input.

mod fuzzing;

fn iters() -> u64 {
    std::env::var("BERTH_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn seed() -> u64 {
    std::env::var("BERTH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x00be_7f00)
}

/// Runs `body` over random bytes and mutations of `seeds`.
fn run(name: &str, seeds: &[Vec<u8>], dict: &[&[u8]], max: usize, body: fn(&[u8])) {
    let mut rng = fuzzing::Rng::new(seed() ^ name.len() as u64);
    for s in seeds {
        body(s);
    }
    for i in 0..iters() {
        let input = if seeds.is_empty() || i % 2 == 0 {
            rng.bytes(max)
        } else {
            let s = &seeds[rng.below(seeds.len())];
            rng.mutate(s, dict)
        };
        body(&input);
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn fuzz_apply_layer() {
    if !is_root() {
        eprintln!("skipped: applying layers (device nodes, owners) needs root");
        return;
    }
    // Inputs that reach the interesting paths at once: a symlink to / then
    // a file through it; a hardlink to the sentinel; a climbing name.
    let seeds = vec![
        vec![
            4, 3, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9,
        ],
        vec![6, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 6, 1, 0, 6, 7],
        vec![4, 0, 1, 3, 0, 1, 0, 0, 0, 0, 0, 0, 5, b'x', b'y'],
        vec![
            2, 3, 1, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        ],
    ];
    run("apply", &seeds, &[], 256, fuzzing::apply_layer);
}

#[test]
fn fuzz_manifests() {
    let seeds: Vec<Vec<u8>> = [
        r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":3}]}"#,
        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v6"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}"#,
        r#"{"architecture":"amd64","os":"linux","config":{"Env":["A=1"],"Cmd":["sh"],"Healthcheck":{"Test":["CMD","true"],"Interval":1}},"rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},"history":[{"created_by":"x","empty_layer":true}],"n":1e300}"#,
        "linux/arm64/v8",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let dict: &[&[u8]] = &[
        b"\"schemaVersion\":2",
        b"\"manifests\":[]",
        b"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}",
        b"\"variant\":\"v7\"",
        b"\"mediaType\":\"application/vnd.oci.image.index.v1+json\"",
        b"{}",
        b"[]",
        b"null",
        b"\\u0000",
    ];
    run("manifests", &seeds, dict, 512, fuzzing::manifests);
}

#[test]
fn fuzz_references() {
    let seeds: Vec<Vec<u8>> = [
        "busybox",
        "library/busybox:latest",
        "localhost:5000/a/b:t",
        "[::1]:5000/x@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "docker.io/library/a.b__c-d:v1.0",
        "index.docker.io/x",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let dict: &[&[u8]] = &[
        b":",
        b"/",
        b"@",
        b"sha256:",
        b"docker.io",
        b"library/",
        b".",
        b"-",
    ];
    run("references", &seeds, dict, 64, fuzzing::references);
}

#[test]
fn fuzz_load_archive() {
    let seeds = vec![
        vec![
            40, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 2, 0, 1, 1, 0, 2, 2, 0, 0,
        ],
        vec![0, 1, 0, 1, 2, 1, 2, 3, 0, 4, 0, 0, 1],
    ];
    run("load", &seeds, &[], 384, fuzzing::load_archive);
}
