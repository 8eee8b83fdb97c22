//! `version`, `info`, `system df`, `system prune` and `events`, laid out as docker
//! prints them.

use berth_client::types::system::{DiskUsage, Info};
use clap::Args;
use serde_json::{Value, json};

use super::{Ctx, lifecycle::confirm, out, outln, parse_filters, ps};
use crate::cli::Arity;
use crate::error::{CliError, CliResult};
use crate::fmt::{Format, goshape_system, object, tabwriter, units};

/// `version` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct VersionArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    format: Option<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

pub async fn version(ctx: &Ctx, a: &VersionArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::None)?;
    // docker parses the template before it asks the daemon.
    let tmpl = (a.format.as_deref().filter(|f| !f.is_empty()))
        .map(|f| goshape_system::template("version", f))
        .transpose()
        .map_err(|e| CliError::with_code(e, 64))?;
    let server = ctx.client.get("/version").json::<Value>().await;
    let api = ctx
        .client
        .known_api_version()
        .unwrap_or(berth_client::CLIENT_API_VERSION)
        .to_string();
    let client = goshape_system::client_version(Some(&api), &ctx.context.name);
    if let Some(t) = tmpl {
        let data = goshape_system::version_view(&client, server.as_ref().ok());
        let (text, err) = goshape_system::execute(&t, &data, "system.versionInfo");
        // docker writes through a tabwriter (min width 20, padding 1).
        out(&tabwriter::format(&format!("{text}\n"), 20, 1));
        // It reports the daemon's error rather than the template's (which a
        // missing Server causes).
        server.map_err(CliError::from)?;
        return err.map_or(Ok(()), |e| Err(CliError::new(e)));
    }
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let mut text = String::from("Client:");
    let name = s(&client["Platform"], "Name");
    if !name.is_empty() {
        text.push(' ');
        text.push_str(&name);
    }
    text.push('\n');
    let downgraded = if api != berth_client::CLIENT_API_VERSION {
        format!(" (downgraded from {})", berth_client::CLIENT_API_VERSION)
    } else {
        String::new()
    };
    for (k, v) in [
        ("Version", s(&client, "Version")),
        ("API version", format!("{api}{downgraded}")),
        ("Go version", s(&client, "GoVersion")),
        ("Git commit", s(&client, "GitCommit")),
        ("Built", s(&client, "BuildTime")),
        (
            "OS/Arch",
            format!("{}/{}", s(&client, "Os"), s(&client, "Arch")),
        ),
        ("Context", s(&client, "Context")),
    ] {
        text.push_str(&format!(" {k}:\t{v}\n"));
    }
    if let Ok(sv) = &server {
        text.push_str("\nServer:");
        let pname = s(&sv["Platform"], "Name");
        if !pname.is_empty() {
            text.push(' ');
            text.push_str(&pname);
        }
        for c in sv["Components"].as_array().into_iter().flatten() {
            let cname = s(c, "Name");
            let d = &c["Details"];
            text.push_str(&format!("\n {cname}:"));
            if cname == "Engine" {
                text.push_str(&format!("\n  Version:\t{}", s(c, "Version")));
                text.push_str(&format!(
                    "\n  API version:\t{} (minimum version {})",
                    s(d, "ApiVersion"),
                    s(d, "MinAPIVersion")
                ));
                for (k, key) in [
                    ("Go version", "GoVersion"),
                    ("Git commit", "GitCommit"),
                    ("Built", "BuildTime"),
                ] {
                    text.push_str(&format!("\n  {k}:\t{}", s(d, key)));
                }
                text.push_str(&format!("\n  OS/Arch:\t{}/{}", s(d, "Os"), s(d, "Arch")));
                text.push_str(&format!("\n  Experimental:\t{}", s(d, "Experimental")));
            } else {
                text.push_str(&format!("\n  Version:\t{}", s(c, "Version")));
                // docker lists GitCommit first, then the other keys sorted.
                let mut keys: Vec<&String> = d
                    .as_object()
                    .map(|m| m.keys().collect())
                    .unwrap_or_default();
                keys.sort_by_key(|k| (k.as_str() != "GitCommit", k.to_string()));
                for k in keys {
                    text.push_str(&format!("\n  {k}:\t{}", s(d, k)));
                }
            }
        }
    }
    text.push('\n');
    out(&tabwriter::format(&text, 20, 1));
    server.map(drop).map_err(CliError::from)
}

/// `info` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct InfoArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    format: Option<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

pub async fn info(ctx: &Ctx, a: &InfoArgs, debug: bool) -> CliResult {
    ctx.arity(a.args.len(), Arity::None)?;
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        return info_format(ctx, f, debug).await;
    }
    out(&format!(
        "Client:\n Version:    {}\n Context:    {}\n Debug Mode: {debug}\n\nServer:\n",
        env!("CARGO_PKG_VERSION"),
        ctx.context.name
    ));
    let i: Info = match ctx.client.info().await {
        Ok(i) => i,
        Err(e) => {
            outln(&format!("ERROR: {e}"));
            return Err(CliError::new("errors pretty printing info"));
        }
    };
    out(&server_info(&i, debug));
    for w in i.warnings.iter().flatten() {
        eprintln!("{w}");
    }
    Ok(())
}

/// `info --format`: the template over docker's `dockerInfo`, asking the daemon only
/// when the template needs more than the client's half. An unreachable daemon
/// leaves the daemon's half zero and fails the command after the output; another
/// daemon error is printed and listed in `ServerErrors`.
async fn info_format(ctx: &Ctx, f: &str, debug: bool) -> CliResult {
    let mut client = goshape_system::client_version(None, &ctx.context.name);
    client["Debug"] = debug.into();
    client["Plugins"] = json!([]);
    let (mut info, mut conn_err, mut server_errors) = (None, None, Vec::new());
    if goshape_system::info_needs_server(f, &client) {
        match ctx.client.get("/info").json::<Value>().await {
            Ok(v) => info = Some(v),
            Err(e @ berth_client::Error::Connect { .. }) => conn_err = Some(e.to_string()),
            Err(e) => {
                eprintln!("{e}");
                server_errors.push(e.to_string());
            }
        }
    }
    let t = goshape_system::template("", f).map_err(|e| CliError::with_code(e, 64))?;
    let data = goshape_system::info_view(info.as_ref(), &client, &server_errors);
    let (text, err) = goshape_system::execute(&t, &data, "system.dockerInfo");
    outln(&text);
    crate::error::join_errors(conn_err.into_iter().chain(err).collect())
}

/// The server section of `docker info`.
fn server_info(i: &Info, debug: bool) -> String {
    let mut o = String::new();
    let mut line = |s: String| {
        o.push_str(&s);
        o.push('\n');
    };
    line(format!(" Containers: {}", i.containers));
    line(format!("  Running: {}", i.containers_running));
    line(format!("  Paused: {}", i.containers_paused));
    line(format!("  Stopped: {}", i.containers_stopped));
    line(format!(" Images: {}", i.images));
    let non_empty = |k: &str, v: &str| (!v.is_empty()).then(|| format!(" {k}: {v}"));
    if let Some(l) = non_empty("Server Version", &i.server_version) {
        line(l)
    }
    if let Some(l) = non_empty("Storage Driver", &i.driver) {
        line(l)
    }
    for [k, v] in i.driver_status.iter().flatten() {
        line(format!("  {k}: {v}"));
    }
    for [k, v] in i.system_status.iter().flatten() {
        line(format!(" {k}: {v}"));
    }
    if let Some(l) = non_empty("Logging Driver", &i.logging_driver) {
        line(l)
    }
    if let Some(l) = non_empty("Cgroup Driver", &i.cgroup_driver) {
        line(l)
    }
    if let Some(l) = non_empty("Cgroup Version", &i.cgroup_version) {
        line(l)
    }
    let join = |v: &Option<Vec<String>>| v.as_deref().unwrap_or(&[]).join(" ");
    line(" Plugins:".into());
    line(format!("  Volume: {}", join(&i.plugins.volume)));
    line(format!("  Network: {}", join(&i.plugins.network)));
    if i.plugins
        .authorization
        .as_ref()
        .is_some_and(|a| !a.is_empty())
    {
        line(format!(
            "  Authorization: {}",
            join(&i.plugins.authorization)
        ));
    }
    line(format!("  Log: {}", join(&i.plugins.log)));
    line(format!(" Swarm: {}", i.swarm.local_node_state));
    if let Some(r) = i.runtimes.as_ref().filter(|r| !r.is_empty()) {
        line(format!(
            " Runtimes: {}",
            r.keys().cloned().collect::<Vec<_>>().join(" ")
        ));
        line(format!(" Default Runtime: {}", i.default_runtime));
    }
    if i.os_type == "linux" {
        line(format!(" Init Binary: {}", i.init_binary));
        line(format!(" containerd version: {}", i.containerd_commit.id));
        line(format!(" runc version: {}", i.runc_commit.id));
        line(format!(" init version: {}", i.init_commit.id));
        if let Some(opts) = i.security_options.as_ref().filter(|o| !o.is_empty()) {
            line(" Security Options:".into());
            for so in opts {
                let mut name = String::new();
                let mut profile = None;
                for kv in so.split(',') {
                    match kv.split_once('=') {
                        Some(("name", n)) => name = n.to_string(),
                        Some(("profile", p)) => profile = Some(p.to_string()),
                        _ => {}
                    }
                }
                line(format!("  {name}"));
                if let Some(p) = profile {
                    line(format!("   Profile: {p}"));
                }
            }
        }
    }
    for (k, v) in [
        ("Kernel Version", &i.kernel_version),
        ("Operating System", &i.operating_system),
        ("OSType", &i.os_type),
        ("Architecture", &i.architecture),
    ] {
        if let Some(l) = non_empty(k, v) {
            line(l)
        }
    }
    line(format!(" CPUs: {}", i.ncpu));
    line(format!(
        " Total Memory: {}",
        units::bytes_size(i.mem_total as f64)
    ));
    if let Some(l) = non_empty("Name", &i.name) {
        line(l)
    }
    if let Some(l) = non_empty("ID", &i.id) {
        line(l)
    }
    line(format!(" Docker Root Dir: {}", i.docker_root_dir));
    line(format!(" Debug Mode: {}", i.debug));
    if i.debug || debug {
        line(format!("  File Descriptors: {}", i.nfd));
        line(format!("  Goroutines: {}", i.ngoroutines));
        line(format!("  System Time: {}", i.system_time));
        line(format!("  EventsListeners: {}", i.nevents_listener));
    }
    for (k, v) in [
        ("HTTP Proxy", &i.http_proxy),
        ("HTTPS Proxy", &i.https_proxy),
        ("No Proxy", &i.no_proxy),
    ] {
        if let Some(l) = non_empty(k, v) {
            line(l)
        }
    }
    if let Some(labels) = i.labels.as_ref().filter(|l| !l.is_empty()) {
        line(" Labels:".into());
        for l in labels {
            line(format!("  {l}"));
        }
    }
    line(format!(" Experimental: {}", i.experimental_build));
    if let Some(rc) = &i.registry_config {
        let cidrs = rc.insecure_registry_cidrs.as_deref().unwrap_or(&[]);
        let idx = rc.index_configs.as_ref();
        if !cidrs.is_empty() || idx.is_some_and(|m| !m.is_empty()) {
            line(" Insecure Registries:".into());
            for c in idx
                .into_iter()
                .flat_map(|m| m.values())
                .filter(|c| !c.secure)
            {
                line(format!("  {}", c.name));
            }
            for c in cidrs {
                line(format!("  {c}"));
            }
        }
        if let Some(m) = rc.mirrors.as_ref().filter(|m| !m.is_empty()) {
            line(" Registry Mirrors:".into());
            for x in m {
                line(format!("  {x}"));
            }
        }
    }
    line(format!(" Live Restore Enabled: {}", i.live_restore_enabled));
    line(String::new());
    o
}

/// `system df` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct DfArgs {
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short, long)]
    verbose: bool,
}

fn pct(part: i64, total: i64) -> String {
    if total > 0 {
        format!(
            "{} ({}%)",
            units::human_size(part as f64),
            part * 100 / total
        )
    } else {
        units::human_size(part as f64)
    }
}

pub async fn df(ctx: &Ctx, a: &DfArgs) -> CliResult {
    let du: DiskUsage = ctx.client.disk_usage().await?;
    let images = du.images.clone().unwrap_or_default();
    let containers = du.containers.clone().unwrap_or_default();
    let volumes = du.volumes.clone().unwrap_or_default();
    let cache = du.build_cache.clone().unwrap_or_default();
    if a.verbose {
        return df_verbose(&du);
    }
    let used: i64 = images
        .iter()
        .filter(|i| i.containers != 0 && i.size != -1 && i.shared_size != -1)
        .map(|i| i.size - i.shared_size)
        .sum();
    let active = |s: &str| matches!(s, "running" | "paused" | "restarting");
    let csize: i64 = containers.iter().map(|c| c.size_rw).sum();
    let creclaim: i64 = containers
        .iter()
        .filter(|c| !active(&c.state))
        .map(|c| c.size_rw)
        .sum();
    let usage = |v: &berth_client::types::volume::Volume| v.usage_data.unwrap_or_default();
    let vsize: i64 = volumes
        .iter()
        .map(usage)
        .filter(|u| u.size != -1)
        .map(|u| u.size)
        .sum();
    let vreclaim: i64 = volumes
        .iter()
        .map(usage)
        .filter(|u| u.size != -1 && u.ref_count == 0)
        .map(|u| u.size)
        .sum();
    let in_use: i64 = cache
        .iter()
        .filter(|c| c.in_use && !c.shared)
        .map(|c| c.size)
        .sum();
    let rows = vec![
        object([
            ("Type", Value::from("Images")),
            ("TotalCount", images.len().to_string().into()),
            (
                "Active",
                images
                    .iter()
                    .filter(|i| i.containers > 0)
                    .count()
                    .to_string()
                    .into(),
            ),
            ("Size", units::human_size(du.layers_size as f64).into()),
            (
                "Reclaimable",
                pct(du.layers_size - used, du.layers_size).into(),
            ),
        ]),
        object([
            ("Type", Value::from("Containers")),
            ("TotalCount", containers.len().to_string().into()),
            (
                "Active",
                containers
                    .iter()
                    .filter(|c| active(&c.state))
                    .count()
                    .to_string()
                    .into(),
            ),
            ("Size", units::human_size(csize as f64).into()),
            ("Reclaimable", pct(creclaim, csize).into()),
        ]),
        object([
            ("Type", Value::from("Local Volumes")),
            ("TotalCount", volumes.len().to_string().into()),
            (
                "Active",
                volumes
                    .iter()
                    .filter(|v| usage(v).ref_count > 0)
                    .count()
                    .to_string()
                    .into(),
            ),
            ("Size", units::human_size(vsize as f64).into()),
            ("Reclaimable", pct(vreclaim, vsize).into()),
        ]),
        object([
            ("Type", Value::from("Build Cache")),
            ("TotalCount", cache.len().to_string().into()),
            (
                "Active",
                cache.iter().filter(|c| c.in_use).count().to_string().into(),
            ),
            ("Size", units::human_size(du.builder_size as f64).into()),
            (
                "Reclaimable",
                units::human_size((du.builder_size - in_use) as f64).into(),
            ),
        ]),
    ];
    let source = a
        .format
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "table".into());
    let fmt = Format(match source.as_str() {
        "table" => "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}".into(),
        "raw" => "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n".into(),
        s => s.to_string(),
    });
    let header = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    out(&fmt.render(&header, &rows)?);
    Ok(())
}

fn df_verbose(du: &DiskUsage) -> CliResult {
    let mut text = String::from("Images space usage:\n\n");
    let mut t = String::from(
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n",
    );
    for i in du.images.iter().flatten() {
        let (repo, tag) = i
            .repo_tags
            .as_ref()
            .and_then(|t| t.first())
            .filter(|t| *t != "<none>:<none>")
            .and_then(|t| t.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')))
            .map(|(r, t)| (ps::familiar(r), t.to_string()))
            .unwrap_or(("<none>".into(), "<none>".into()));
        let na = |v: i64, s: String| if v == -1 { "N/A".to_string() } else { s };
        t.push_str(&format!(
            "{repo}\t{tag}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            super::short_id(&i.id),
            units::ago(i.created),
            units::human_size_prec(i.size as f64, 3),
            na(i.shared_size, units::human_size(i.shared_size as f64)),
            if i.size == -1 || i.shared_size == -1 {
                "N/A".into()
            } else {
                units::human_size((i.size - i.shared_size) as f64)
            },
            na(i.containers, i.containers.to_string()),
        ));
    }
    text.push_str(&tabwriter::table(&t));
    text.push_str("\nContainers space usage:\n\n");
    let mut t =
        String::from("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n");
    for c in du.containers.iter().flatten() {
        let mut c = c.clone();
        c.size_root_fs = 0;
        let v = ps::context(&c, true);
        let g = |k: &str| v[k].as_str().unwrap_or("").to_string();
        t.push_str(
            &[
                g("ID"),
                g("Image"),
                g("Command"),
                g("LocalVolumes"),
                g("Size"),
                g("RunningFor"),
                g("Status"),
                g("Names"),
            ]
            .join("\t"),
        );
        t.push('\n');
    }
    text.push_str(&tabwriter::table(&t));
    text.push_str("\nLocal Volumes space usage:\n\n");
    let mut t = String::from("VOLUME NAME\tLINKS\tSIZE\n");
    for v in du.volumes.iter().flatten() {
        let u = v.usage_data.unwrap_or_default();
        let size = if u.size == -1 {
            "N/A".into()
        } else {
            units::human_size_prec(u.size as f64, 3)
        };
        let links = if u.ref_count == -1 {
            "N/A".into()
        } else {
            u.ref_count.to_string()
        };
        t.push_str(&format!("{}\t{links}\t{size}\n", v.name));
    }
    text.push_str(&tabwriter::table(&t));
    text.push_str(&format!(
        "\nBuild cache usage: {}\n\n",
        units::human_size(du.builder_size as f64)
    ));
    text.push_str(&tabwriter::table(
        "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n",
    ));
    out(&text);
    Ok(())
}

/// `system prune` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long, value_name = "filter")]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    volumes: bool,
}

pub async fn system_prune(ctx: &Ctx, a: &SystemPruneArgs) -> CliResult {
    let filters = parse_filters(&a.filter)?;
    if a.volumes && filters.contains("until") {
        return Err(CliError::new(
            "ERROR: The \"until\" filter is not supported with \"--volumes\"",
        ));
    }
    // docker prunes the build cache from API 1.31 on (it always has been, here).
    if !a.force {
        let mut w = String::from(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
        );
        if a.volumes {
            w.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        w.push_str(if a.all {
            "  - all images without at least one container associated to them\n"
        } else {
            "  - all dangling images\n"
        });
        w.push_str(if a.all {
            "  - all build cache\n"
        } else {
            "  - unused build cache\n"
        });
        let mut shown: Vec<String> = Vec::new();
        for name in ["label", "label!", "until"] {
            for v in filters.get(name) {
                shown.push(format!("{name}={v}"));
            }
        }
        if !shown.is_empty() {
            shown.sort();
            w.push_str("\n  Items to be pruned will be filtered with:\n");
            for f in &shown {
                w.push_str(&format!("  - {f}\n"));
            }
        }
        w.push_str("\nAre you sure you want to continue?");
        if !confirm(&w) {
            return Ok(());
        }
    }
    let mut total: u64 = 0;
    let c = ctx.client.container_prune(&filters).await?;
    if let Some(d) = c.containers_deleted.filter(|d| !d.is_empty()) {
        outln(&format!("Deleted Containers:\n{}\n", d.join("\n")));
        total += c.space_reclaimed;
    }
    let n: Value = ctx
        .client
        .post("/networks/prune")
        .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
        .json()
        .await?;
    if let Some(d) = n["NetworksDeleted"].as_array().filter(|d| !d.is_empty()) {
        let names: Vec<&str> = d.iter().filter_map(Value::as_str).collect();
        outln(&format!("Deleted Networks:\n{}\n", names.join("\n")));
    }
    if a.volumes {
        let v: Value = ctx
            .client
            .post("/volumes/prune")
            .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
            .json()
            .await?;
        if let Some(d) = v["VolumesDeleted"].as_array().filter(|d| !d.is_empty()) {
            let names: Vec<&str> = d.iter().filter_map(Value::as_str).collect();
            outln(&format!("Deleted Volumes:\n{}\n", names.join("\n")));
            total += v["SpaceReclaimed"].as_u64().unwrap_or(0);
        }
    }
    let mut f = filters.clone();
    f.add("dangling", if a.all { "false" } else { "true" });
    let i = ctx.client.image_prune(&f).await?;
    if let Some(d) = i.images_deleted.filter(|d| !d.is_empty()) {
        let mut s = String::from("Deleted Images:\n");
        for item in d {
            if !item.untagged.is_empty() {
                s.push_str(&format!("untagged: {}\n", item.untagged));
            } else {
                s.push_str(&format!("deleted: {}\n", item.deleted));
            }
        }
        outln(&s);
        total += i.space_reclaimed;
    }
    let b: Value = ctx
        .client
        .post("/build/prune")
        .flag("all", a.all)
        .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
        .json()
        .await?;
    if let Some(d) = b["CachesDeleted"].as_array().filter(|d| !d.is_empty()) {
        let mut s = String::from("Deleted build cache objects:\n");
        for id in d.iter().filter_map(Value::as_str) {
            s.push_str(id);
            s.push('\n');
        }
        outln(&s);
    }
    total += b["SpaceReclaimed"].as_u64().unwrap_or(0);
    outln(&format!(
        "Total reclaimed space: {}",
        units::human_size(total as f64)
    ));
    Ok(())
}

/// `events` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS]")]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long, value_name = "string")]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long, value_name = "string")]
    until: Option<String>,
}

pub async fn events(ctx: &Ctx, a: &EventsArgs) -> CliResult {
    let filters = parse_filters(&a.filter)?;
    let compiled = match a.format.as_deref().filter(|f| !f.is_empty()) {
        Some(f) => {
            let bad = |e: String| CliError::with_code(format!("Error parsing format: {e}"), 64);
            let fmt = Format(f.to_string());
            // Like docker, the template is tried on an empty event first, so a field
            // that does not exist fails before anything is streamed. Only struct
            // fields fail so: a key of `Actor.Attributes` (a Go map) is `<no value>`.
            let strict = fmt
                .parse_for("*events.Message")
                .map_err(|e| bad(e.to_string()))?;
            if let Err(e) = strict.row(&empty_event()) {
                if !e.to_string().contains("<.Actor.Attributes.") {
                    return Err(bad(e.to_string()));
                }
            }
            Some(fmt.parse()?)
        }
        None => None,
    };
    let now = jiff::ZonedDateTime::now();
    let time = |v: Option<&str>| -> Result<Option<String>, CliError> {
        v.map(|v| super::timestamp::get_timestamp(v, &now).map_err(CliError::new))
            .transpose()
    };
    let since = time(a.since.as_deref())?;
    let until = time(a.until.as_deref())?;
    let resp = ctx
        .client
        .get("/events")
        .query_opt("since", since)
        .query_opt("until", until)
        .query_opt("filters", (!filters.is_empty()).then(|| filters.to_json()))
        .send()
        .await?;
    let mut s = berth_client::stream::JsonStream::<Value>::new(resp, "/events");
    while let Some(ev) = s.next().await? {
        match &compiled {
            Some(c) => outln(&c.row(&ev)?),
            None => outln(&event_line(&ev)),
        }
    }
    Ok(())
}

/// Go's zero `events.Message` as a template sees it (omitted fields absent).
fn empty_event() -> Value {
    serde_json::json!({
        "Type": "", "Action": "", "Actor": {"ID": "", "Attributes": {}},
        "scope": "", "time": 0, "timeNano": 0,
        "status": "", "id": "", "from": ""
    })
}

/// docker's default event line: `<time> <type> <action> <id> (k=v, ...)`.
fn event_line(ev: &Value) -> String {
    let nanos = ev["timeNano"].as_i64().unwrap_or(0);
    let time = super::timestamp::rfc3339_nano_fixed(nanos as i128);
    let actor = &ev["Actor"];
    let mut line = format!(
        "{time} {} {} {}",
        ev["Type"].as_str().unwrap_or(""),
        ev["Action"].as_str().unwrap_or(""),
        actor["ID"].as_str().unwrap_or("")
    );
    if let Some(attrs) = actor["Attributes"].as_object().filter(|a| !a.is_empty()) {
        // docker sorts the attributes by key.
        let mut kv: Vec<(&String, &Value)> = attrs.iter().collect();
        kv.sort_by(|x, y| x.0.cmp(y.0));
        let kv: Vec<String> = kv
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        line.push_str(&format!(" ({})", kv.join(", ")));
    }
    line
}
