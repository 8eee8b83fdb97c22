//! The fuzz targets of `fuzz/` (berthd's) as ordinary tests: each
//! body (tests/fuzzing) runs over seeded pseudo-random inputs and over
//! mutations of real requests, a fixed number of times, so `cargo test`
//! exercises them everywhere; the coverage-guided versions run under
//! cargo-fuzz.
//!
//! `BERTH_FUZZ_ITERS` scales the budget (default 3000 inputs per target:
//! the bodies take microseconds);
//! `BERTH_FUZZ_SEED` picks another sequence. A failure prints the input.

mod fuzzing;

fn iters() -> u64 {
    std::env::var("BERTH_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn seed() -> u64 {
    std::env::var("BERTH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x00be_7fd0)
}

/// Runs `body` over random bytes and mutations of `seeds`.
fn run(name: &str, seeds: &[Vec<u8>], dict: &[&[u8]], max: usize, body: fn(&[u8])) {
    let mut rng = fuzzing::Rng::new(seed() ^ name.len() as u64);
    for s in seeds {
        body(s);
    }
    for i in 0..iters() {
        let input = if i % 4 == 0 {
            rng.bytes(max)
        } else {
            let s = &seeds[rng.below(seeds.len())];
            rng.mutate(s, dict)
        };
        let shown = String::from_utf8_lossy(&input).into_owned();
        if let Err(e) = std::panic::catch_unwind(|| body(&input)) {
            eprintln!("{name}: failing input {input:?} ({shown:?})");
            std::panic::resume_unwind(e);
        }
    }
}

/// A seed: the selector byte, then the text.
fn seed_of(first: u8, text: &str) -> Vec<u8> {
    let mut v = vec![first];
    v.extend_from_slice(text.as_bytes());
    v
}

#[test]
fn fuzz_route() {
    // First byte: 0 GET, 1 POST, 2 DELETE, 3 HEAD, 4 PUT; past 224 the
    // method is read from the bytes.
    let seeds = vec![
        seed_of(
            0,
            "/v1.41/containers/json?all=1&filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%7D",
        ),
        seed_of(
            0,
            "/v1.41/containers/abc/logs?stdout=1&since=1700000000.5&until=2024-01-01T00:00:00Z&tail=10",
        ),
        seed_of(1, "/v1.41/containers/abc/wait?condition=next-exit"),
        seed_of(
            1,
            "/containers/abc/attach?stream=1&stdin=1&detachKeys=ctrl-p,ctrl-q",
        ),
        seed_of(
            0,
            "/v1.27/containers/abc/attach/ws?logs=1&detachKeys=ctrl-x",
        ),
        seed_of(1, "/v1.41/containers/abc/resize?h=24&w=80"),
        seed_of(0, "/v1.41/images/docker.io/library/busybox:latest/json"),
        seed_of(2, "/images/reg:5000/a/b?force=1&noprune=1"),
        seed_of(
            1,
            "/v1.41/build?t=a:b&buildargs=%7B%22A%22%3A%221%22%7D&memory=1024&labels=%7B%7D",
        ),
        seed_of(
            0,
            "/events?since=1&until=2&filters=%7B%22type%22%3A%5B%22container%22%5D%7D",
        ),
        seed_of(3, "/v1.50/_ping"),
        seed_of(4, "/v1.41/containers/x/archive?path=%2Fetc"),
        seed_of(0, "/plugins/vieux/sshfs:latest/json"),
        seed_of(240, "PROPFIND /v1.41/info"),
    ];
    let dict: &[&[u8]] = &[
        b"/v1.41",
        b"/v1.23",
        b"/containers/",
        b"/images/",
        b"/exec/",
        b"/networks/",
        b"/volumes/",
        b"/json",
        b"?",
        b"&",
        b"=",
        b"%2F",
        b"%",
        b"+",
        b"filters=",
        b"{\"label\":[\"a=b\"]}",
        b"{\"until\":{\"10m\":true}}",
        b"since=",
        b"ctrl-",
        b"condition=",
    ];
    run("route", &seeds, dict, 96, fuzzing::route);
}

#[test]
fn fuzz_body() {
    // First byte: 0 container create, 1 exec create, 2 network create,
    // 3 volume create, 4 container update, 5 build query.
    let seeds = vec![
        seed_of(
            0,
            r#"{"Hostname":"","User":"","AttachStdin":false,"AttachStdout":true,"Tty":false,"OpenStdin":false,"Env":["A=1"],"Cmd":["sh","-c","echo hi"],"Image":"busybox","Labels":{"k":"v"},"ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000},"HostConfig":{"Binds":["/a:/b:ro"],"NetworkMode":"default","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"Memory":67108864,"MemorySwappiness":-1,"Ulimits":[{"Name":"nofile","Soft":10,"Hard":20}],"Mounts":[{"Type":"volume","Source":"v","Target":"/v"}]},"NetworkingConfig":{"EndpointsConfig":{"n":{"Aliases":["a"]}}}}"#,
        ),
        seed_of(
            1,
            r#"{"User":"","Privileged":false,"Tty":true,"AttachStdin":true,"AttachStdout":true,"Env":["X=y"],"WorkingDir":"/","Cmd":["sh"],"DetachKeys":"ctrl-a,b"}"#,
        ),
        seed_of(
            2,
            r#"{"Name":"net1","CheckDuplicate":true,"Driver":"bridge","Internal":false,"Attachable":false,"IPAM":{"Driver":"default","Config":[{"Subnet":"10.9.0.0/24","Gateway":"10.9.0.1"}]},"Options":{"com.docker.network.bridge.name":"b0"},"Labels":{}}"#,
        ),
        seed_of(
            3,
            r#"{"Name":"vol","Driver":"local","DriverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=1m"},"Labels":{"a":"b"}}"#,
        ),
        seed_of(
            4,
            r#"{"CpuShares":512,"Memory":104857600,"MemorySwap":-1,"PidsLimit":10,"RestartPolicy":{"Name":"always"}}"#,
        ),
        seed_of(
            5,
            "t=a:b&t=c&dockerfile=Dockerfile&buildargs=%7B%22A%22%3Anull%7D&labels=%7B%22k%22%3A%22v%22%7D&cachefrom=%5B%22x%22%5D&rm=0&memory=5&extrahosts=a:1.2.3.4,b:5.6.7.8&version=1",
        ),
        seed_of(0, ""),
        seed_of(4, "null"),
    ];
    let dict: &[&[u8]] = &[
        b"null",
        b"{}",
        b"[]",
        b"\"\"",
        b"-1",
        b"1e400",
        b"18446744073709551616",
        b"\"HostConfig\":{",
        b"\"Cmd\":",
        b"\"DetachKeys\":\"ctrl-",
        b"\\u0000",
        b"\\ud800",
        b"%7B",
        b"=",
        b"&",
    ];
    run("body", &seeds, dict, 256, fuzzing::body);
}
