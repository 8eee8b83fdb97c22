//! The streamed stats (`GET /containers/{id}/stats?stream=1`) read by
//! hand: one sample a second as it is taken (never held back and sent
//! in bursts: `docker stats` shows `--` when two seconds pass without
//! one), and the `networks` counters of the container's interfaces.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::started;

/// The samples of a stats stream, each with the time it arrived.
struct Samples {
    r: BufReader<std::os::unix::net::UnixStream>,
}

impl Samples {
    fn next(&mut self) -> (Instant, Value) {
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("read the stats stream");
            assert!(n > 0, "the stats stream ended");
            // Chunk-size lines and the chunks' CRLF are not samples; each
            // sample is one JSON line.
            if line.starts_with('{') {
                let v = serde_json::from_str(&line).expect("a sample is JSON");
                return (Instant::now(), v);
            }
        }
    }
}

#[test]
fn stats_stream_ticks_each_second_and_counts_network_traffic() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    d.docker(["run", "-d", "--name", "st", "busybox", "sleep", "300"])
        .ok();
    let ip = d
        .docker(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "st"])
        .ok();
    let ip = ip.trim().to_string();
    assert!(!ip.is_empty(), "the container has an address");

    let mut s = d.connect().unwrap();
    s.write_all(b"GET /v1.41/containers/st/stats?stream=1 HTTP/1.1\r\nHost: berthd\r\n\r\n")
        .unwrap();
    let mut samples = Samples {
        r: BufReader::new(s),
    };
    let mut status = String::new();
    samples.r.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    let (t0, first) = samples.next();
    let (t1, second) = samples.next();
    let (t2, _) = samples.next();
    for (a, b) in [(t0, t1), (t1, t2)] {
        let gap = b - a;
        assert!(
            gap > Duration::from_millis(600) && gap < Duration::from_millis(1800),
            "samples {gap:?} apart, not about a second"
        );
    }
    assert_eq!(second["preread"], first["read"], "precpu from the last one");
    let rx = |v: &Value| {
        v["networks"]["eth0"]["rx_bytes"]
            .as_u64()
            .unwrap_or_else(|| panic!("no networks.eth0.rx_bytes in {v}"))
    };
    assert!(
        first["networks"].get("lo").is_none(),
        "loopback is not reported: {}",
        first["networks"]
    );
    for key in [
        "rx_packets",
        "rx_errors",
        "rx_dropped",
        "tx_bytes",
        "tx_packets",
    ] {
        assert!(
            first["networks"]["eth0"][key].is_u64(),
            "{key} in {}",
            first["networks"]
        );
    }
    let before = rx(&second);

    // Traffic to the container: connection attempts to a closed port are
    // answered with resets, every SYN counted on its eth0.
    let addr: SocketAddr = format!("{ip}:9").parse().unwrap();
    for _ in 0..20 {
        let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
    }
    let mut grown = false;
    for _ in 0..5 {
        let (_, v) = samples.next();
        if rx(&v) >= before + 20 * 40 {
            grown = true;
            break;
        }
    }
    assert!(grown, "rx_bytes did not grow past {before} after traffic");

    // --network none: no interface but loopback, so no networks key.
    d.docker([
        "run",
        "-d",
        "--name",
        "isolated",
        "--network",
        "none",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let v = d.get_json("/containers/isolated/stats?stream=0&one-shot=1");
    assert!(v.get("networks").is_none(), "{}", v["networks"]);
}
