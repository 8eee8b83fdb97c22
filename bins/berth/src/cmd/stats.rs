//! `stats`: docker's resource table, computed from the daemon's stats samples
//! (CPU % from the deltas to the previous sample, memory without the page cache).
//! `--no-stream` prints one table; otherwise the table is redrawn as samples arrive.

use berth_client::types::container::StatsResponse;
use clap::Args;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{Ctx, out, short_id};
use crate::error::{CliError, CliResult};
use crate::fmt::{Format, object, units};

const DEFAULT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// `stats` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] [CONTAINER...]")]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    no_trunc: bool,
    #[arg(hide = true)]
    containers: Vec<String>,
}

fn header() -> Value {
    json!({
        "ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

/// One row of the table from a sample (docker's Linux calculations).
pub fn row(container: &str, s: &StatsResponse, trunc: bool) -> Value {
    let cpu = &s.cpu_stats;
    let pre = &s.precpu_stats;
    let cpu_delta = cpu.cpu_usage.total_usage as f64 - pre.cpu_usage.total_usage as f64;
    let sys_delta = cpu.system_cpu_usage as f64 - pre.system_cpu_usage as f64;
    let mut online = cpu.online_cpus as f64;
    if online == 0.0 {
        online = cpu.cpu_usage.percpu_usage.as_ref().map_or(0, Vec::len) as f64;
    }
    let cpu_perc = if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let m = &s.memory_stats;
    let stat = |k: &str| {
        m.stats
            .as_ref()
            .and_then(|st| st.get(k))
            .copied()
            .unwrap_or(0)
    };
    // cgroup v1 reports total_inactive_file, v2 inactive_file.
    let cache = if stat("total_inactive_file") > 0 {
        stat("total_inactive_file")
    } else {
        stat("inactive_file")
    };
    let usage = if cache < m.usage {
        m.usage - cache
    } else {
        m.usage
    } as f64;
    let limit = m.limit as f64;
    let mem_perc = if limit > 0.0 {
        usage / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0f64, 0f64);
    for n in s.networks.iter().flat_map(|n| n.values()) {
        rx += n.rx_bytes as f64;
        tx += n.tx_bytes as f64;
    }
    let (mut rd, mut wr) = (0f64, 0f64);
    for e in s.blkio_stats.io_service_bytes_recursive.iter().flatten() {
        match e.op.to_ascii_lowercase().as_str() {
            "read" => rd += e.value as f64,
            "write" => wr += e.value as f64,
            _ => {}
        }
    }
    let name = s.name.strip_prefix('/').unwrap_or(&s.name).to_string();
    let id = if trunc { short_id(&s.id) } else { s.id.clone() };
    let h3 = |v: f64| units::human_size_prec(v, 3);
    object([
        ("ID", Value::from(id)),
        ("Container", container.into()),
        ("Name", name.into()),
        ("CPUPerc", format!("{cpu_perc:.2}%").into()),
        (
            "MemUsage",
            format!(
                "{} / {}",
                units::bytes_size(usage),
                units::bytes_size(limit)
            )
            .into(),
        ),
        ("MemPerc", format!("{mem_perc:.2}%").into()),
        ("NetIO", format!("{} / {}", h3(rx), h3(tx)).into()),
        ("BlockIO", format!("{} / {}", h3(rd), h3(wr)).into()),
        ("PIDs", s.pids_stats.current.to_string().into()),
    ])
}

pub async fn run(ctx: &Ctx, a: &StatsArgs) -> CliResult {
    let names: Vec<String> = if a.containers.is_empty() {
        let opts = berth_client::api::ContainerListOptions {
            all: a.all,
            limit: -1,
            ..Default::default()
        };
        ctx.client
            .container_list(&opts)
            .await?
            .into_iter()
            // docker names each listed container by its short ID (`Container`
            // of `--format`); only containers given as arguments keep their name.
            .map(|c| short_id(&c.id))
            .collect()
    } else {
        a.containers.clone()
    };
    let source = a
        .format
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| {
            if ctx.config.stats_format.is_empty() {
                "table".into()
            } else {
                ctx.config.stats_format.clone()
            }
        });
    let fmt = Format(if source == "table" {
        DEFAULT.to_string()
    } else {
        source
    });
    let compiled = fmt.parse_for("*container.statsContext")?;
    let trunc = !a.no_trunc;
    if a.no_stream {
        let mut rows = Vec::new();
        let mut errs = Vec::new();
        for n in &names {
            let r: Result<StatsResponse, _> = ctx
                .client
                .get(format!("/containers/{}/stats", berth_client::api::seg(n)))
                .query("stream", "0")
                .json()
                .await;
            match r {
                Ok(s) => rows.push(row(n, &s, trunc)),
                Err(e) => errs.push(e.to_string()),
            }
        }
        // docker prints nothing when any container fails.
        crate::error::join_errors(errs)?;
        out(&compiled.render(&header(), &rows)?);
        return Ok(());
    }
    let mut streams = Vec::new();
    let mut errs = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let resp = ctx
            .client
            .get(format!("/containers/{}/stats", berth_client::api::seg(n)))
            .query("stream", "1")
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                errs.push(e.to_string());
                continue;
            }
        };
        let js = berth_client::stream::JsonStream::<StatsResponse>::new(resp, "/containers/stats");
        streams.push(
            futures_util::stream::unfold(js, |mut js| async move {
                js.next().await.ok().flatten().map(|v| (v, js))
            })
            .map(move |v| (i, v))
            .boxed_local(),
        );
    }
    crate::error::join_errors(errs)?;
    let mut all = futures_util::stream::select_all(streams);
    let mut latest: Vec<Option<Value>> = vec![None; names.len()];
    // Like docker, the first frame waits for a sample of every container (or its
    // stream's end).
    let mut open = names.len();
    while latest.iter().any(Option::is_none) && open > 0 {
        match all.next().await {
            Some((i, s)) => latest[i] = Some(row(&names[i], &s, trunc)),
            None => open = 0,
        }
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            next = all.next() => match next {
                Some((i, s)) => latest[i] = Some(row(&names[i], &s, trunc)),
                None => return Ok(()),
            },
            _ = tick.tick() => {
                let rows: Vec<Value> = latest.iter().flatten().cloned().collect();
                let text = compiled.render(&header(), &rows).map_err(CliError::from)?;
                out(&frame(&text));
            }
        }
    }
}

/// One redraw of the live table, byte for byte what docker 28 writes: cursor home,
/// the table, then the table again with each line erased to its end, then the rest
/// of the screen erased.
fn frame(table: &str) -> String {
    let first = format!("\x1b[H{table}");
    let mut s = first.clone();
    for line in first.split('\n') {
        s.push_str(line);
        s.push_str(" \x1b[K\n");
    }
    s.push_str("\x1b[J");
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn frames_like_docker() {
        assert_eq!(
            super::frame("A\nb\n"),
            "\x1b[HA\nb\n\x1b[HA \x1b[K\nb \x1b[K\n \x1b[K\n\x1b[J"
        );
    }
}
