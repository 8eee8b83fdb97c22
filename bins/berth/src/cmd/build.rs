//! `berth build`: the classic builder (`POST /build`), as `DOCKER_BUILDKIT=0 docker
//! build` drives it.
//!
//! Flow: the context is resolved (a directory, or `-` for a tar or a Dockerfile on
//! stdin; `-f -` reads the Dockerfile from stdin), written as a tar to a temporary
//! file (see `build_context`), sent with the flags as query parameters and the
//! stored credentials as `X-Registry-Config`; "Sending build context to Docker
//! daemon" counts it out; the daemon's JSON-message stream is printed as plain text
//! (docker never renders it as a terminal); an error message ends the command with
//! the message and the error's code as the exit status (a failing `RUN` exits with
//! the command's status). berth has no BuildKit, so it prints docker's notice that
//! the legacy builder is deprecated, worded as docker words it without buildx.

use std::io::Write;
use std::path::Path;

use clap::Args;

use super::build_remote;
use super::build_source::{
    context_from_bytes, context_from_dir, context_from_stdin, prepare_err, quoted, rewind,
    temp_file,
};
use super::progress::Renderer;
use super::{Ctx, out, parse, tty};
use crate::cli::Arity;
use crate::config::AuthStore;
use crate::error::{CliError, CliResult};
use crate::fmt::units::human_size;

/// `build` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] PATH | URL | -")]
pub struct BuildArgs {
    /// Add a custom host-to-IP mapping ("host:ip")
    #[arg(long, value_name = "list")]
    add_host: Vec<String>,
    /// Set build-time variables
    #[arg(long, value_name = "list")]
    build_arg: Vec<String>,
    /// Images to consider as cache sources
    #[arg(long, value_name = "strings")]
    cache_from: Vec<String>,
    /// Set the parent cgroup for the "RUN" instructions during build
    #[arg(long, value_name = "string")]
    cgroup_parent: Option<String>,
    /// Compress the build context using gzip
    #[arg(long)]
    compress: bool,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "int")]
    cpu_period: Option<i64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "int")]
    cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "int")]
    cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string")]
    cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string")]
    cpuset_mems: Option<String>,
    /// Skip image verification
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "")]
    disable_content_trust: bool,
    /// Name of the Dockerfile (Default is "PATH/Dockerfile")
    #[arg(short, long, value_name = "string")]
    file: Option<String>,
    /// Always remove intermediate containers
    #[arg(long)]
    force_rm: bool,
    /// Write the image ID to the file
    #[arg(long, value_name = "string")]
    iidfile: Option<String>,
    /// Container isolation technology
    #[arg(long, value_name = "string")]
    isolation: Option<String>,
    /// Set metadata for an image
    #[arg(long, value_name = "list")]
    label: Vec<String>,
    /// Memory limit
    #[arg(short, long, value_name = "bytes")]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, value_name = "bytes")]
    memory_swap: Option<String>,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long, value_name = "string", default_value = "default")]
    network: String,
    /// Do not use cache when building the image
    #[arg(long)]
    no_cache: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    platform: Option<String>,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    quiet: bool,
    /// Remove intermediate containers after a successful build
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "")]
    rm: bool,
    /// Security options
    #[arg(long, value_name = "stringSlice")]
    security_opt: Vec<String>,
    /// Size of "/dev/shm"
    #[arg(long, value_name = "bytes")]
    shm_size: Option<String>,
    /// Squash newly built layers into a single new layer
    #[arg(long)]
    squash: bool,
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short, long, value_name = "list")]
    tag: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long, value_name = "string")]
    target: Option<String>,
    /// Ulimit options
    #[arg(long, value_name = "ulimit")]
    ulimit: Vec<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

const BUILDKIT_DISABLED: &str =
    "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.
            BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0
            environment-variable.";

const BUILDX_MISSING: &str =
    "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.
            Install the buildx component to build images with BuildKit:
            https://docs.docker.com/go/buildx/";

/// docker's notice before a classic build (see the module's documentation).
pub fn legacy_notice() -> Result<&'static str, CliError> {
    let v = std::env::var("DOCKER_BUILDKIT").unwrap_or_default();
    if v.is_empty() {
        return Ok(BUILDX_MISSING);
    }
    match v.as_str() {
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(BUILDKIT_DISABLED),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(BUILDX_MISSING),
        _ => Err(CliError::new(format!(
            "DOCKER_BUILDKIT environment variable expects boolean value: strconv.ParseBool: parsing \"{v}\": invalid syntax"
        ))),
    }
}

/// `k=v` flags of `--build-arg`: a name alone takes its value from the environment
/// (docker's `ValidateEnv`), else it is sent as null.
fn build_args(values: &[String]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut m = serde_json::Map::new();
    for v in values {
        let (k, val) = match v.split_once('=') {
            Some((k, val)) => (k, Some(val.to_string())),
            None => (v.as_str(), std::env::var(v).ok()),
        };
        if k.is_empty() {
            return Err(format!(
                "invalid argument \"{v}\" for \"--build-arg\" flag: invalid environment variable: {v}"
            ));
        }
        m.insert(
            k.to_string(),
            val.map_or(serde_json::Value::Null, serde_json::Value::String),
        );
    }
    Ok(m)
}

/// `--label` values (docker's `ValidateLabel`, then `k=v` with `k` alone as empty).
fn labels(values: &[String]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut m = serde_json::Map::new();
    for v in values {
        let (k, val) = v.split_once('=').unwrap_or((v, ""));
        let key = k.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
        if key.is_empty() {
            return Err(format!(
                "invalid argument \"{v}\" for \"--label\" flag: invalid label '{v}': empty name"
            ));
        }
        if key.contains([' ', '\t', '\n', '\r', '\x0b', '\x0c']) {
            return Err(format!(
                "invalid argument \"{v}\" for \"--label\" flag: label '{key}' contains whitespaces"
            ));
        }
        m.insert(k.to_string(), serde_json::Value::String(val.to_string()));
    }
    Ok(m)
}

/// The body of the request: the context file read in chunks, counted out with docker's
/// "Sending build context to Docker daemon" line (every 512 KiB, at most ten times a
/// second, on a terminal; once at the end otherwise).
fn counted_body(
    file: std::fs::File,
    progress: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    quiet: bool,
) -> berth_client::Body {
    use futures_util::StreamExt;
    use http_body_util::BodyExt;
    let terminal = tty::stdout_is_tty();
    struct State {
        f: tokio::fs::File,
        current: u64,
        last: u64,
        last_shown: Option<std::time::Instant>,
        done: bool,
    }
    let show = move |text: String| {
        if quiet {
            if let Ok(mut b) = progress.lock() {
                b.extend_from_slice(text.as_bytes());
            }
        } else {
            out(&text);
        }
    };
    let line = |n: u64, end: &str| {
        format!(
            "Sending build context to Docker daemon {:>8}\r{end}",
            human_size(n as f64)
        )
    };
    let st = State {
        f: tokio::fs::File::from_std(file),
        current: 0,
        last: 0,
        last_shown: None,
        done: false,
    };
    let stream = futures_util::stream::unfold((st, show), move |(mut st, show)| async move {
        use tokio::io::AsyncReadExt;
        if st.done {
            return None;
        }
        let mut buf = vec![0u8; 256 * 1024];
        match st.f.read(&mut buf).await {
            Ok(0) => {
                st.done = true;
                show(line(st.current, "\r\n"));
                None
            }
            Ok(n) => {
                buf.truncate(n);
                st.current += n as u64;
                if terminal && st.current - st.last > 512 * 1024 {
                    let due = st
                        .last_shown
                        .is_none_or(|t| t.elapsed() >= std::time::Duration::from_millis(100));
                    if due {
                        show(line(st.current, ""));
                        st.last_shown = Some(std::time::Instant::now());
                    }
                    st.last = st.current;
                }
                Some((
                    Ok(hyper::body::Frame::data(bytes::Bytes::from(buf))),
                    (st, show),
                ))
            }
            Err(e) => Some((Err(e), (st, show))),
        }
    });
    BodyExt::boxed_unsync(http_body_util::StreamBody::new(stream.boxed()))
}

pub async fn build(ctx: &Ctx, a: &BuildArgs) -> CliResult {
    eprint!("{}\n\n", legacy_notice()?);
    ctx.arity(a.args.len(), Arity::Exact(1))?;
    for t in &a.tag {
        super::reference::parse_normalized_named(t).map_err(|e| {
            ctx.usage_error(&format!(
                "invalid argument \"{t}\" for \"-t, --tag\" flag: {e}"
            ))
        })?;
    }
    let build_args = build_args(&a.build_arg).map_err(|e| ctx.usage_error(&e))?;
    let labels = labels(&a.label).map_err(|e| ctx.usage_error(&e))?;
    let ulimits = a
        .ulimit
        .iter()
        .map(|u| parse::ulimit(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ctx.usage_error(&e))?;
    let bytes_flag =
        |name: &str, v: &Option<String>, swap: bool| -> Result<Option<i64>, CliError> {
            match v {
                None => Ok(None),
                Some(s) => {
                    let r = if swap {
                        parse::mem_swap_bytes(s)
                    } else {
                        parse::ram_in_bytes(s)
                    };
                    r.map(Some).map_err(|e| {
                        ctx.usage_error(&format!(
                            "invalid argument \"{s}\" for \"{name}\" flag: {e}"
                        ))
                    })
                }
            }
        };
    let memory = bytes_flag("-m, --memory", &a.memory, false)?;
    let memory_swap = bytes_flag("--memory-swap", &a.memory_swap, true)?;
    let shm_size = bytes_flag("--shm-size", &a.shm_size, false)?;
    let file = a.file.as_deref().filter(|f| !f.is_empty());
    let target = &a.args[0];
    if file == Some("-") && target == "-" {
        return Err(CliError::new(
            "invalid argument: can't use stdin for both build context and dockerfile",
        ));
    }
    if let Some(p) = &a.iidfile {
        match std::fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CliError::new(format!(
                    "Removing image ID file: {}",
                    super::outfile::path_error("remove", p, &e)
                )));
            }
        }
    }
    // Output that belongs before the upload (a remote context's download): shown,
    // or with -q kept to be printed only if the build fails, as docker does.
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut show = |text: &str| {
        if a.quiet {
            if let Ok(mut b) = progress.lock() {
                b.extend_from_slice(text.as_bytes());
            }
        } else {
            out(text);
        }
    };
    // Kept alive until the context is sent: a git checkout's temporary directory.
    let mut _checkout = None;
    let context = if target == "-" {
        context_from_stdin(file)?
    } else if Path::new(target).exists() {
        context_from_dir(target, file, None)?
    } else if build_remote::is_git_url(target) {
        let c = build_remote::clone(target).await?;
        let dir = c.dir.to_string_lossy().into_owned();
        _checkout = Some(c);
        context_from_dir(&dir, file, None)?
    } else if build_remote::is_url(target) {
        let data = build_remote::download(target, &mut show).await?;
        context_from_bytes(data, file)?
    } else {
        return Err(prepare_err(format!("path {} not found", quoted(target))));
    };
    let mut body_file = context.tar;
    if a.compress {
        body_file = gzip(body_file)?;
    }

    let mut req = ctx.client.post("/build");
    for t in &a.tag {
        req = req.query("t", t);
    }
    for s in &a.security_opt {
        req = req.query("securityopt", s);
    }
    for h in &a.add_host {
        req = req.query("extrahosts", h);
    }
    req = req
        .flag("q", a.quiet)
        .flag("nocache", a.no_cache)
        .query_opt("rm", (!a.rm).then_some("0"))
        .flag("forcerm", a.force_rm)
        .flag("pull", a.pull)
        .flag("squash", a.squash)
        .query_opt(
            "isolation",
            a.isolation
                .as_deref()
                .filter(|i| !i.is_empty() && *i != "default"),
        )
        .query_opt(
            "cpusetcpus",
            a.cpuset_cpus.as_deref().filter(|s| !s.is_empty()),
        )
        .query_opt(
            "networkmode",
            Some(a.network.as_str()).filter(|n| !n.is_empty() && *n != "default"),
        )
        .query_opt(
            "cpusetmems",
            a.cpuset_mems.as_deref().filter(|s| !s.is_empty()),
        )
        .query_opt("cpushares", a.cpu_shares.filter(|v| *v != 0))
        .query_opt("cpuquota", a.cpu_quota.filter(|v| *v != 0))
        .query_opt("cpuperiod", a.cpu_period.filter(|v| *v != 0))
        .query_opt("memory", memory.filter(|v| *v != 0))
        .query_opt("memswap", memory_swap.filter(|v| *v != 0))
        .query_opt(
            "cgroupparent",
            a.cgroup_parent.as_deref().filter(|s| !s.is_empty()),
        )
        .query_opt("shmsize", shm_size.filter(|v| *v != 0))
        .query_opt(
            "dockerfile",
            Some(context.dockerfile.as_str()).filter(|d| !d.is_empty()),
        )
        .query_opt("target", a.target.as_deref().filter(|s| !s.is_empty()));
    if !ulimits.is_empty() {
        req = req.query("ulimits", to_json(&ulimits));
    }
    if !build_args.is_empty() {
        req = req.query(
            "buildargs",
            serde_json::Value::Object(build_args).to_string(),
        );
    }
    if !labels.is_empty() {
        req = req.query("labels", serde_json::Value::Object(labels).to_string());
    }
    let cache_from: Vec<String> = a
        .cache_from
        .iter()
        .flat_map(|c| c.split(',').map(str::to_string))
        .collect();
    if !cache_from.is_empty() {
        req = req.query("cachefrom", to_json(&cache_from));
    }
    let platform = a
        .platform
        .clone()
        .or_else(|| std::env::var("DOCKER_DEFAULT_PLATFORM").ok())
        .filter(|p| !p.is_empty());
    req = req
        .query_opt("platform", platform.map(|p| p.to_lowercase()))
        .query("version", "1");
    // Every stored credential, for the registries the FROM lines may name.
    let creds = AuthStore::open(&ctx.config_dir)
        .map(|s| s.all())
        .unwrap_or_default();
    let config = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE.encode(to_json(&creds))
    };
    req = req.header("X-Registry-Config", &config);

    let body = counted_body(body_file, progress.clone(), a.quiet);
    let resp = match req.body("application/x-tar", body).send().await {
        Ok(r) => r,
        Err(e) => {
            if a.quiet {
                eprint!(
                    "{}",
                    String::from_utf8_lossy(
                        &progress.lock().map(|p| p.clone()).unwrap_or_default()
                    )
                );
            }
            return Err(e.into());
        }
    };
    let mut image_id = String::new();
    let mut out_buf: Vec<u8> = Vec::new();
    let result = {
        let sink: Box<dyn Write> = if a.quiet {
            Box::new(&mut out_buf)
        } else {
            Box::new(std::io::stdout())
        };
        // docker wraps its output stream in one that is never a terminal here.
        let mut r = Renderer::new(sink, false, 200);
        let mut aux = |v: &serde_json::Value| match v.get("ID").and_then(|i| i.as_str()) {
            Some(id) => image_id = id.to_string(),
            None => eprint!("Failed to parse aux message: {v}"),
        };
        super::progress::display_raw(resp, "/build", &mut r, &mut aux).await?
    };
    if let Err(e) = result {
        if a.quiet {
            let p = progress.lock().map(|p| p.clone()).unwrap_or_default();
            eprint!(
                "{}{}",
                String::from_utf8_lossy(&p),
                String::from_utf8_lossy(&out_buf)
            );
        }
        let code = if e.code == 0 { 1 } else { e.code };
        return Err(CliError::with_code(
            e.message,
            i32::try_from(code).unwrap_or(1),
        ));
    }
    if a.quiet {
        image_id = String::from_utf8_lossy(&out_buf).into_owned();
        out(&image_id);
    }
    if let Some(p) = &a.iidfile {
        if image_id.is_empty() {
            return Err(CliError::new(format!(
                "Server did not provide an image ID. Cannot write {p}"
            )));
        }
        std::fs::write(p, &image_id)
            .map_err(|e| CliError::new(super::outfile::path_error("open", p, &e)))?;
    }
    Ok(())
}

/// The context gzipped (`--compress`).
fn gzip(mut f: std::fs::File) -> Result<std::fs::File, CliError> {
    let mut out = temp_file()?;
    let mut enc = flate2::write::GzEncoder::new(&mut out, flate2::Compression::default());
    std::io::copy(&mut f, &mut enc)
        .and_then(|_| enc.finish().map(drop))
        .map_err(|e| CliError::new(format!("failed to compress context: {e}")))?;
    rewind(out)
}

/// A value as the JSON of a query parameter or header.
fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_and_labels_take_dockers_forms() {
        let m = build_args(&["A=1".into(), "B=".into(), "PATH".into(), "NOPE_X_Y".into()]).unwrap();
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "");
        assert!(m["PATH"].is_string(), "taken from the environment");
        assert!(m["NOPE_X_Y"].is_null());
        assert!(build_args(&["=x".into()]).is_err());
        let l = labels(&["a=b".into(), "c".into()]).unwrap();
        assert_eq!((l["a"].as_str(), l["c"].as_str()), (Some("b"), Some("")));
        assert!(labels(&["a b=c".into()]).is_err());
        assert!(labels(&["=c".into()]).is_err());
    }
}
