//! `berth ps` / `berth container ls`: the container list with docker's columns, its
//! `--format` context (ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status,
//! Size, Labels, Mounts, Names, Networks, LocalVolumes, Platform) and its flags.

use berth_client::api::ContainerListOptions;
use berth_client::types::container::{Port, Summary};
use clap::Args;
use serde_json::{Value, json};

use super::{Ctx, out, parse_filters, short_id};
use crate::cli::Arity;
use crate::error::{CliError, CliResult};
use crate::fmt::{Format, object, units};

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

const RAW: &str = "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n";

/// `ps` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, value_name = "int", default_value_t = -1)]
    last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    latest: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Display total file sizes
    #[arg(short, long)]
    size: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// The column titles of the container context.
pub fn header() -> Value {
    json!({
        "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
        "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
        "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS",
        "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
        "Platform": "PLATFORM",
    })
}

/// The context with every field empty, which docker runs a custom template on before
/// listing.
fn empty_context() -> Value {
    let mut v = header();
    if let Some(m) = v.as_object_mut() {
        for (k, x) in m.iter_mut() {
            *x = if k == "Platform" {
                Value::Null
            } else {
                Value::from("")
            };
        }
    }
    v
}

/// Whether a template reads `.Size` (docker then asks the daemon for sizes). docker
/// decides on the `--format` text as given, before `json` means `{{json .}}`, so
/// `--format json` shows sizes only with `-s`.
fn uses_size(format: &str) -> bool {
    let f = format.replace(' ', "");
    f.contains(".Size") || f.contains("{{json.}}")
}

pub async fn run(ctx: &Ctx, a: &PsArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::None)?;
    let mut source = a.format.clone().unwrap_or_default();
    if source.is_empty() {
        source = ctx.config.ps_format.clone();
    } else if a.quiet {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    let mut size = a.size;
    if !source.is_empty() {
        // Docker runs the template once on an empty context before listing, so a
        // template that does not parse fails before any request.
        let probe = Format(source.clone())
            .parse_for("*formatter.ContainerContext")
            .map_err(|e| CliError::new(format!("failed to parse template: {e}")))?;
        probe
            .row(&empty_context())
            .map_err(|e| CliError::new(format!("failed to execute template: {e}")))?;
        if !a.quiet && !a.size && uses_size(&source) {
            size = true;
        }
    }
    let mut opts = ContainerListOptions {
        all: a.all,
        limit: a.last,
        size,
        filters: parse_filters(&a.filter)?,
    };
    if a.latest && a.last == -1 {
        opts.limit = 1;
    }
    let list = ctx.client.container_list(&opts).await?;
    let fmt = container_format(&source, a.quiet, size);
    let rows: Vec<Value> = list.iter().map(|c| context(c, !a.no_trunc)).collect();
    let text = fmt
        .render_for("*formatter.ContainerContext", &header(), &rows)
        .map_err(|e| CliError::new(format!("failed to execute template: {e}")))?;
    out(&text);
    Ok(())
}

/// docker's `NewContainerFormat`.
pub fn container_format(source: &str, quiet: bool, size: bool) -> Format {
    Format(match source {
        "" | "table" if quiet => "{{.ID}}".to_string(),
        "" | "table" => {
            let mut f = DEFAULT_TABLE.to_string();
            if size {
                f.push_str("\t{{.Size}}");
            }
            f
        }
        "raw" if quiet => "container_id: {{.ID}}".to_string(),
        "raw" => {
            let mut f = RAW.to_string();
            if size {
                f.push_str("size: {{.Size}}\n");
            }
            f
        }
        _ if quiet => "{{.ID}}".to_string(),
        s => s.to_string(),
    })
}

/// The `--format` context of one container.
pub fn context(c: &Summary, trunc: bool) -> Value {
    let id = if trunc { short_id(&c.id) } else { c.id.clone() };
    let mut names: Vec<String> = c
        .names
        .iter()
        .flatten()
        .map(|n| n.strip_prefix('/').unwrap_or(n).to_string())
        .collect();
    if trunc {
        if let Some(n) = names.iter().find(|n| !n.contains('/')) {
            names = vec![n.clone()];
        }
    }
    let mut command = c.command.clone();
    if trunc {
        command = ellipsis(&command, 20);
    }
    let srw = units::human_size_prec(c.size_rw as f64, 3);
    let size = if c.size_root_fs > 0 {
        format!(
            "{srw} (virtual {})",
            units::human_size_prec(c.size_root_fs as f64, 3)
        )
    } else {
        srw
    };
    let labels = c
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mounts = c
        .mounts
        .iter()
        .flatten()
        .map(|m| {
            let n = if m.name.is_empty() {
                &m.source
            } else {
                &m.name
            };
            if trunc { ellipsis(n, 15) } else { n.clone() }
        })
        .collect::<Vec<_>>()
        .join(",");
    let local_volumes = c
        .mounts
        .iter()
        .flatten()
        .filter(|m| m.driver == "local")
        .count();
    let networks = c
        .network_settings
        .networks
        .iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect::<Vec<_>>()
        .join(",");
    object([
        ("ID", Value::from(id)),
        ("Names", names.join(",").into()),
        ("Image", image_name(c, trunc).into()),
        ("Command", go_quote(&command).into()),
        ("CreatedAt", units::go_time_string(c.created).into()),
        ("RunningFor", units::ago(c.created).into()),
        (
            "Ports",
            displayable_ports(c.ports.as_deref().unwrap_or(&[])).into(),
        ),
        ("State", c.state.clone().into()),
        ("Status", c.status.clone().into()),
        ("Size", size.into()),
        ("Labels", labels.into()),
        ("Mounts", mounts.into()),
        ("LocalVolumes", local_volumes.to_string().into()),
        ("Networks", networks.into()),
        ("Platform", Value::Null),
    ])
}

fn image_name(c: &Summary, trunc: bool) -> String {
    if c.image.is_empty() {
        return "<no image>".to_string();
    }
    if !trunc {
        return c.image.clone();
    }
    if short_id(&c.image_id) == short_id(&c.image) {
        return short_id(&c.image_id);
    }
    familiar(&c.image)
}

/// The familiar form of an image reference: `docker.io/library/` dropped, and a digest
/// dropped unless it is all there is besides the name.
pub fn familiar(r: &str) -> String {
    let (name_tag, _digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    let trimmed = name_tag
        .strip_prefix("docker.io/library/")
        .or_else(|| name_tag.strip_prefix("docker.io/"))
        .or_else(|| name_tag.strip_prefix("index.docker.io/library/"))
        .unwrap_or(name_tag);
    trimmed.to_string()
}

/// docker's `formatter.Ellipsis` for text of single-width characters: at most `max`
/// characters, the last one replaced by `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if max == 0 {
        return String::new();
    }
    if n <= max {
        return s.to_string();
    }
    if max == 1 {
        return s.chars().take(1).collect();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// docker's `DisplayablePorts`: consecutive ports grouped into ranges per
/// protocol/address, published ports as `ip:host->container/proto`.
pub fn displayable_ports(ports: &[Port]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_by(|i, j| {
        (i.private_port, &i.ip, i.public_port, &i.r#type).cmp(&(
            j.private_port,
            &j.ip,
            j.public_port,
            &j.r#type,
        ))
    });
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    for p in &ports {
        let current = p.private_port;
        let mut key = p.r#type.clone();
        if !p.ip.is_empty() {
            if p.public_port != current {
                host_mappings.push(format!(
                    "{}->{}/{}",
                    join_host_port(&p.ip, &p.public_port.to_string()),
                    p.private_port,
                    p.r#type
                ));
                continue;
            }
            key = format!("{}/{}", p.ip, p.r#type);
        }
        match groups.iter_mut().find(|g| g.0 == key) {
            None => groups.push((key, current, current)),
            Some(g) => {
                if current == g.2.wrapping_add(1) {
                    g.2 = current;
                } else {
                    result.push(form_group(&g.0, g.1, g.2));
                    g.1 = current;
                    g.2 = current;
                }
            }
        }
    }
    for g in &groups {
        result.push(form_group(&g.0, g.1, g.2));
    }
    result.extend(host_mappings);
    result.join(", ")
}

fn form_group(key: &str, first: u16, last: u16) -> String {
    let (ip, proto) = match key.rsplit_once('/') {
        Some((ip, proto)) => (ip, proto),
        None => ("", key),
    };
    let mut group = first.to_string();
    if first != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{}->{group}", join_host_port(ip, &group));
    }
    format!("{group}/{proto}")
}

fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(ip: &str, private: u16, public: u16, t: &str) -> Port {
        Port {
            ip: ip.into(),
            private_port: private,
            public_port: public,
            r#type: t.into(),
        }
    }

    #[test]
    fn ports_group_like_docker() {
        assert_eq!(displayable_ports(&[]), "");
        assert_eq!(
            displayable_ports(&[port("", 80, 0, "tcp"), port("", 81, 0, "tcp")]),
            "80-81/tcp"
        );
        assert_eq!(
            displayable_ports(&[port("0.0.0.0", 8080, 80, "tcp"), port("", 53, 0, "udp")]),
            "53/udp, 0.0.0.0:80->8080/tcp"
        );
        assert_eq!(
            displayable_ports(&[port("0.0.0.0", 80, 80, "tcp"), port("::", 80, 80, "tcp")]),
            "0.0.0.0:80->80/tcp, [::]:80->80/tcp"
        );
    }

    #[test]
    fn command_is_cut_and_quoted() {
        assert_eq!(
            go_quote(&ellipsis("sh -c 'exit 3'", 20)),
            "\"sh -c 'exit 3'\""
        );
        assert_eq!(
            go_quote(&ellipsis("sleep 1000 && echo done now", 20)),
            "\"sleep 1000 && echo …\""
        );
        assert_eq!(go_quote("a\"b\\\n"), "\"a\\\"b\\\\\\n\"");
    }

    #[test]
    fn formats_follow_docker_defaults() {
        assert_eq!(container_format("", true, false).0, "{{.ID}}");
        assert!(
            container_format("table", false, true)
                .0
                .ends_with("\t{{.Size}}")
        );
        assert_eq!(container_format("{{.Names}}", false, false).0, "{{.Names}}");
        assert!(uses_size("{{json .}}") && uses_size("table {{.Size}}"));
        assert!(!uses_size("{{.Names}}") && !uses_size("json"));
        assert_eq!(familiar("docker.io/library/busybox:1"), "busybox:1");
    }
}
