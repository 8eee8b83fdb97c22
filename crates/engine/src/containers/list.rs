//! `GET /containers/json`: containers as docker lists them.

use berth_api_types::container::{Port, Summary, SummaryHostConfig, SummaryNetworkSettings};
use berth_api_types::filters::{Filters, FiltersError};

use super::Error;
use super::store::{ContainerRecord, RunState};
use crate::Engine;

/// The query of the list endpoint.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Also stopped containers.
    pub all: bool,
    /// The newest `limit` containers (stopped ones included); `None` or 0:
    /// no limit.
    pub limit: Option<usize>,
    /// Compute `SizeRw` and `SizeRootFs`.
    pub size: bool,
    pub filters: Filters,
}

/// The filter keys `docker ps` accepts.
const FILTERS: &[&str] = &[
    "ancestor",
    "before",
    "expose",
    "exited",
    "health",
    "id",
    "isolation",
    "is-task",
    "label",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
];

const STATES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Go's `units.HumanDuration`, which docker's status texts use.
pub fn human_duration(d: std::time::Duration) -> String {
    let seconds = d.as_secs();
    let minutes = seconds / 60;
    // Hours are rounded, as docker does.
    let hours = (d.as_secs_f64() / 3600.0 + 0.5) as u64;
    if seconds < 1 {
        "Less than a second".to_string()
    } else if seconds == 1 {
        "1 second".to_string()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".to_string()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", seconds / 3600 / 24 / 365)
    }
}

fn since(t: &str, now: jiff::Timestamp) -> std::time::Duration {
    t.parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| now.duration_since(t).try_into().ok())
        .unwrap_or_default()
}

/// Docker's status text: "Up 2 seconds", "Exited (0) 3 seconds ago",
/// "Created", "Up 1 minute (Paused)", "Restarting (1) 2 seconds ago".
pub fn status_text(s: &RunState, now: jiff::Timestamp) -> String {
    if s.running {
        if s.paused {
            return format!("Up {} (Paused)", human_duration(since(&s.started_at, now)));
        }
        if s.restarting {
            return format!(
                "Restarting ({}) {} ago",
                s.exit_code,
                human_duration(since(&s.finished_at, now))
            );
        }
        return format!("Up {}", human_duration(since(&s.started_at, now)));
    }
    if s.removing {
        return "Removal In Progress".to_string();
    }
    if s.dead {
        return "Dead".to_string();
    }
    if s.started_at.is_empty() {
        return "Created".to_string();
    }
    if s.finished_at.is_empty() {
        return String::new();
    }
    format!(
        "Exited ({}) {} ago",
        s.exit_code,
        human_duration(since(&s.finished_at, now))
    )
}

/// The `Command` column: path and args, args containing a space quoted
/// with single quotes (docker's list does exactly this).
pub fn command_text(path: &str, args: &[String]) -> String {
    if args.is_empty() {
        return path.to_string();
    }
    let quoted: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{path} {}", quoted.join(" "))
}

fn created_secs(rec: &ContainerRecord) -> i64 {
    rec.created
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .unwrap_or(0)
}

fn created_nanos(rec: &ContainerRecord) -> i128 {
    rec.created
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_nanosecond())
        .unwrap_or(0)
}

fn filter_error(e: FiltersError) -> Error {
    Error::InvalidFilter(e)
}

/// The network name a container shows for its mode.
pub(crate) fn network_name(mode: &str) -> &str {
    match mode {
        "" | "default" => "bridge",
        m => m,
    }
}

/// The `Ports` of a container: its exposed ports (none is published
/// until networking lands).
pub(crate) fn ports(rec: &ContainerRecord) -> Vec<Port> {
    rec.config
        .exposed_ports
        .iter()
        .flatten()
        .filter_map(|(p, _)| {
            let (num, proto) = p.split_once('/').unwrap_or((p.as_str(), "tcp"));
            Some(Port {
                ip: String::new(),
                private_port: num.parse().ok()?,
                public_port: 0,
                r#type: proto.to_string(),
            })
        })
        .collect()
}

impl Engine {
    /// Lists containers (`GET /containers/json?all&limit&size&filters`),
    /// newest first. Filters: id, name, label, status, exited, ancestor,
    /// before, since (and network, volume, health, publish, expose,
    /// is-task, isolation with what berth has). A `status` filter implies
    /// `all`, as in docker.
    pub fn container_list(&self, opts: &ListOptions) -> Result<Vec<Summary>, Error> {
        let f = &opts.filters;
        f.validate(FILTERS).map_err(filter_error)?;
        f.validate_values("status", STATES).map_err(filter_error)?;
        f.validate_values("health", &["starting", "healthy", "unhealthy", "none"])
            .map_err(filter_error)?;
        let mut exited = Vec::new();
        for v in f.get("exited") {
            exited.push(v.parse::<i64>().map_err(|_| {
                Error::InvalidFilter(FiltersError::InvalidValue {
                    key: "exited".to_string(),
                    value: v.to_string(),
                })
            })?);
        }
        let all = opts.all || f.contains("status") || opts.limit.is_some_and(|l| l > 0);
        // Reference points of before/since: creation times.
        let bound = |key: &str| -> Result<Option<i128>, Error> {
            match f.get(key).first() {
                None => Ok(None),
                Some(r) => Ok(Some(created_nanos(&self.containers.get(r)?.record()))),
            }
        };
        let before = bound("before")?;
        let since_bound = bound("since")?;
        let mut ancestors = Vec::new();
        for a in f.get("ancestor") {
            // An image that does not exist matches nothing (docker).
            if let Ok(img) = self.images.resolve(a) {
                ancestors.push(img.id);
            }
        }

        let mut recs: Vec<ContainerRecord> =
            self.containers.all().iter().map(|c| c.snapshot()).collect();
        recs.sort_by_key(|r| std::cmp::Reverse(created_nanos(r)));
        let now = jiff::Timestamp::now();
        let mut out = Vec::new();
        for rec in recs {
            let s = &rec.state;
            if !all && !s.running {
                continue;
            }
            let labels = rec.config.labels.clone().unwrap_or_default();
            let health = self.containers.health.get(&rec.id);
            let matches = f.fuzzy_match("id", &rec.id)
                && f.regex_match("name", &rec.name)
                && f.match_kv_list("label", &labels)
                && f.exact_match("status", s.status())
                && (exited.is_empty()
                    || (!s.running && !s.started_at.is_empty() && exited.contains(&s.exit_code)))
                && (!f.contains("ancestor")
                    || ancestors.contains(&rec.image)
                    || f.get("ancestor").contains(&rec.config.image.as_str()))
                && before.is_none_or(|b| created_nanos(&rec) < b)
                && since_bound.is_none_or(|b| created_nanos(&rec) > b)
                && (!f.contains("network")
                    || f.exact_match("network", network_name(&rec.host_config.network_mode))
                    || rec.networks.iter().any(|(name, s)| {
                        f.get("network")
                            .iter()
                            .any(|v| v == name || (!v.is_empty() && s.network_id.starts_with(v)))
                    }))
                && f.exact_match(
                    "health",
                    health.as_ref().map_or("none", |h| h.status.as_str()),
                )
                && f.exact_match("is-task", "false")
                && !f.contains("volume")
                && !f.contains("publish")
                && (!f.contains("expose") || {
                    let exposed: Vec<String> = ports(&rec)
                        .iter()
                        .map(|p| format!("{}/{}", p.private_port, p.r#type))
                        .collect();
                    f.get("expose").iter().any(|e| {
                        exposed
                            .iter()
                            .any(|x| x == e || x.starts_with(&format!("{e}/")))
                    })
                })
                && f.exact_match("isolation", "default");
            if !matches {
                continue;
            }
            let (size_rw, size_root) = if opts.size {
                self.container_sizes(&rec)
            } else {
                (0, 0)
            };
            out.push(Summary {
                id: rec.id.clone(),
                names: Some(vec![rec.name.clone()]),
                image: rec.config.image.clone(),
                image_id: rec.image.clone(),
                command: command_text(&rec.path, &rec.args),
                created: created_secs(&rec),
                ports: Some(crate::networks::container::summary_ports(&rec)),
                size_rw,
                size_root_fs: size_root,
                labels: Some(labels),
                state: s.status().to_string(),
                status: match &health {
                    // "Up 5 seconds (healthy)", as docker's State.String.
                    Some(h) if s.running && !s.paused && !s.restarting => format!(
                        "{} ({})",
                        status_text(s, now),
                        super::health::status_suffix(h)
                    ),
                    _ => status_text(s, now),
                },
                host_config: SummaryHostConfig {
                    network_mode: rec.host_config.network_mode.clone(),
                },
                network_settings: SummaryNetworkSettings {
                    networks: Some(crate::networks::container::networks_view(&rec)),
                },
                mounts: Some(super::inspect::mount_points(&rec)),
            });
            if opts.limit.is_some_and(|l| l > 0 && out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    /// (rw layer size, rw layer + image size) of a container, in bytes:
    /// the rw layer is measured by walking its upper directory.
    pub(crate) fn container_sizes(&self, rec: &ContainerRecord) -> (i64, i64) {
        let mounts = self.images.rootfs_mounts(&rec.id).unwrap_or_default();
        let upper = mounts
            .iter()
            .find_map(|m| m.upperdir().map(std::path::PathBuf::from));
        let rw = upper.map(|u| dir_size(&u)).unwrap_or(0);
        let lowers: u64 = mounts
            .iter()
            .flat_map(|m| m.lowerdirs())
            .map(|l| dir_size(std::path::Path::new(l)))
            .sum();
        (rw as i64, (rw + lowers) as i64)
    }
}

/// Bytes used by the regular files under `dir` (not following symlinks,
/// counting hard-linked files once per link, like `du --apparent-size`).
fn dir_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_like_dockers() {
        let cases = [
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (3599, "59 minutes"),
            (3600, "About an hour"),
            (2 * 3600, "2 hours"),
            (47 * 3600, "47 hours"),
            (48 * 3600, "2 days"),
            (15 * 24 * 3600, "2 weeks"),
            (70 * 24 * 3600, "2 months"),
            (800 * 24 * 3600, "2 years"),
        ];
        for (secs, text) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), text, "{secs}s");
        }
    }

    #[test]
    fn status_texts() {
        let now: jiff::Timestamp = "2024-01-01T00:01:00Z".parse().unwrap();
        let mut s = RunState::default();
        assert_eq!(status_text(&s, now), "Created");
        s.running = true;
        s.started_at = "2024-01-01T00:00:58Z".into();
        assert_eq!(status_text(&s, now), "Up 2 seconds");
        s.paused = true;
        assert_eq!(status_text(&s, now), "Up 2 seconds (Paused)");
        s.paused = false;
        s.restarting = true;
        s.exit_code = 1;
        s.finished_at = "2024-01-01T00:00:57Z".into();
        assert_eq!(status_text(&s, now), "Restarting (1) 3 seconds ago");
        s.running = false;
        s.restarting = false;
        assert_eq!(status_text(&s, now), "Exited (1) 3 seconds ago");
    }

    #[test]
    fn commands_quote_args_with_spaces() {
        assert_eq!(command_text("sh", &[]), "sh");
        assert_eq!(
            command_text("sh", &["-c".into(), "echo hi".into()]),
            "sh -c 'echo hi'"
        );
    }
}
