//! bench-client: a closed-loop HTTP/1.1 load generator over a unix socket,
//! the part of wrk the Engine API benchmark needs (wrk itself speaks only
//! TCP, and both daemons are measured on their private unix sockets).
//!
//! `bench-client --unix SOCK [-c 16] [-d 5] [-w 1] URI` opens `-c`
//! keep-alive connections to SOCK; each sends `GET URI`, reads the whole
//! body, and sends the next request at once (one request in flight per
//! connection, as wrk does). Requests that complete during the first `-w`
//! seconds warm up the daemon and are not counted; the next `-d` seconds
//! are. It prints one line of `key=value` fields: requests, errors,
//! seconds, rps, p50_ms, p90_ms, p99_ms, max_ms (latency percentiles by
//! nearest rank). Any failed request (connect, protocol, non-2xx status)
//! makes the exit status 1, with the first failure on stderr: a benchmark
//! of a failing server is no benchmark.
//!
//! The client runs on one thread, like `wrk -t1`: on a small machine the
//! other cores stay with the daemon under test.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

#[derive(Parser, Debug)]
#[command(name = "bench-client", about = "HTTP load over a unix socket")]
struct Cli {
    /// The server's unix socket.
    #[arg(long)]
    unix: PathBuf,
    /// Concurrent keep-alive connections.
    #[arg(short = 'c', long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    connections: u16,
    /// Measured seconds.
    #[arg(short = 'd', long, default_value_t = 5.0)]
    duration: f64,
    /// Warm-up seconds before the measured window.
    #[arg(short = 'w', long, default_value_t = 1.0)]
    warmup: f64,
    /// Request target (path and query), e.g. /v1.41/containers/json.
    uri: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("connect to {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("http handshake on {path}: {source}")]
    Handshake {
        path: PathBuf,
        #[source]
        source: hyper::Error,
    },
    #[error("GET {uri}: {source}")]
    Request {
        uri: String,
        #[source]
        source: hyper::Error,
    },
    #[error("GET {uri}: build request: {source}")]
    BuildRequest {
        uri: String,
        #[source]
        source: http::Error,
    },
    #[error("GET {uri}: status {status}")]
    Status { uri: String, status: StatusCode },
    #[error("GET {uri}: read body: {source}")]
    Body {
        uri: String,
        #[source]
        source: hyper::Error,
    },
    #[error("start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("invalid duration {what} {value}: must be finite and not negative")]
    Duration { what: &'static str, value: f64 },
}

/// One connection's results: latencies (µs) of the requests that completed
/// in the measured window, the number of failures, the first failure.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: u64,
    first_error: Option<BenchError>,
}

impl Tally {
    fn fail(&mut self, e: BenchError) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

/// A keep-alive connection ready to send.
type Sender = http1::SendRequest<Empty<Bytes>>;

async fn connect(path: &Path) -> Result<Sender, BenchError> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| BenchError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| BenchError::Handshake {
            path: path.to_path_buf(),
            source,
        })?;
    // The connection's I/O runs beside the requests; its end (server close,
    // error) surfaces as the next request's error.
    tokio::spawn(conn);
    Ok(sender)
}

async fn one_request(sender: &mut Sender, uri: &str) -> Result<(), BenchError> {
    let req = Request::get(uri)
        // A unix socket has no authority; dockerd and berthd accept any Host.
        .header(http::header::HOST, "docker")
        .body(Empty::new())
        .map_err(|source| BenchError::BuildRequest {
            uri: uri.to_string(),
            source,
        })?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|source| BenchError::Request {
            uri: uri.to_string(),
            source,
        })?;
    let status = resp.status();
    // Read the whole body: its size is part of what the server costs.
    resp.into_body()
        .collect()
        .await
        .map_err(|source| BenchError::Body {
            uri: uri.to_string(),
            source,
        })?;
    if !status.is_success() {
        return Err(BenchError::Status {
            uri: uri.to_string(),
            status,
        });
    }
    Ok(())
}

/// One connection's closed loop until `end`; counts what completes after
/// `start`.
async fn worker(path: PathBuf, uri: String, start: Instant, end: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut sender: Option<Sender> = None;
    while Instant::now() < end {
        let s = match sender.as_mut() {
            Some(s) => s,
            None => match connect(&path).await {
                Ok(s) => sender.insert(s),
                Err(e) => {
                    tally.fail(e);
                    // Do not spin on a server that refuses connections.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let t0 = Instant::now();
        let res = one_request(s, &uri).await;
        let t1 = Instant::now();
        match res {
            Ok(()) if t1 >= start && t1 <= end => {
                let us = u64::try_from(t1.duration_since(t0).as_micros()).unwrap_or(u64::MAX);
                tally.latencies_us.push(us);
            }
            Ok(()) => {}
            Err(e) => {
                tally.fail(e);
                // A failed exchange leaves the connection's state unknown.
                sender = None;
            }
        }
    }
    tally
}

/// The nearest-rank `p`-quantile of sorted `v`, in milliseconds.
fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank: the smallest value with at least p of the sample at or
    // below it.
    let rank = (p * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn seconds(what: &'static str, value: f64) -> Result<Duration, BenchError> {
    Duration::try_from_secs_f64(value).map_err(|_| BenchError::Duration { what, value })
}

async fn bench(cli: Cli) -> Result<Tally, BenchError> {
    let warmup = seconds("--warmup", cli.warmup)?;
    let duration = seconds("--duration", cli.duration)?;
    let start = Instant::now() + warmup;
    let end = start + duration;
    let tasks: Vec<_> = (0..cli.connections)
        .map(|_| tokio::spawn(worker(cli.unix.clone(), cli.uri.clone(), start, end)))
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        // A worker does not panic (no unwraps); a join error would mean the
        // runtime is going away, and then there is nothing to count.
        if let Ok(mut t) = t.await {
            all.latencies_us.append(&mut t.latencies_us);
            all.errors += t.errors;
            if all.first_error.is_none() {
                all.first_error = t.first_error;
            }
        }
    }
    Ok(all)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let duration = cli.duration;
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-client: {}", BenchError::Runtime(e));
            return ExitCode::FAILURE;
        }
    };
    let mut tally = match rt.block_on(bench(cli)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench-client: {e}");
            return ExitCode::FAILURE;
        }
    };
    tally.latencies_us.sort_unstable();
    let n = tally.latencies_us.len();
    let rps = if duration > 0.0 {
        n as f64 / duration
    } else {
        0.0
    };
    println!(
        "requests={n} errors={} seconds={duration} rps={rps:.1} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        tally.errors,
        percentile_ms(&tally.latencies_us, 0.50),
        percentile_ms(&tally.latencies_us, 0.90),
        percentile_ms(&tally.latencies_us, 0.99),
        percentile_ms(&tally.latencies_us, 1.0),
    );
    match tally.first_error {
        Some(e) => {
            eprintln!("bench-client: {} failed requests; first: {e}", tally.errors);
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::percentile_ms;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.50), 50.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&v, 1.0), 100.0);
        assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
        // Ten samples: the 99th percentile is the largest.
        let w: Vec<u64> = (1..=10).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&w, 0.99), 10.0);
        assert_eq!(percentile_ms(&w, 0.90), 9.0);
    }
}
