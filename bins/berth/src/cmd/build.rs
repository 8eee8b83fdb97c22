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

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::build_context::{self, GoTar};
use super::build_remote;
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

/// What is sent: the context tar (in a temporary file) and the Dockerfile's path in it.
struct Context {
    tar: std::fs::File,
    dockerfile: String,
}

fn prepare_err(e: impl std::fmt::Display) -> CliError {
    CliError::new(format!("unable to prepare context: {e}"))
}

/// Go's `%q` of a path.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Go's `filepath.EvalSymlinks` error wording (`lstat /x/Dockerfile: no such file or
/// directory`) for the first missing component of `p`.
fn eval_symlinks(p: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(p).map_err(|e| {
        let mut cur = PathBuf::new();
        for c in p.components() {
            cur.push(c);
            if std::fs::symlink_metadata(&cur).is_err() {
                break;
            }
        }
        format!("lstat {}: {}", cur.display(), parse::io_text(&e))
    })
}

/// `-f`'s path relative to the context `dir` (docker's `getDockerfileRelPath`).
fn dockerfile_rel(dir: &Path, file: Option<&str>) -> Result<String, CliError> {
    let abs = match file {
        Some(f) => {
            let p = Path::new(f);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir()
                    .map_err(|e| prepare_err(e.to_string()))?
                    .join(p)
            }
        }
        None => {
            let d = dir.join("Dockerfile");
            let lower = dir.join("dockerfile");
            if std::fs::symlink_metadata(&d).is_err() && std::fs::symlink_metadata(&lower).is_ok() {
                lower
            } else {
                d
            }
        }
    };
    let abs = eval_symlinks(&abs).map_err(|e| {
        prepare_err(format!(
            "unable to evaluate symlinks in Dockerfile path: {e}"
        ))
    })?;
    Ok(relative(dir, &abs))
}

/// Go's `filepath.Rel` for two clean absolute paths.
fn relative(base: &Path, target: &Path) -> String {
    let b: Vec<_> = base.components().collect();
    let t: Vec<_> = target.components().collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Whether `head` starts an archive: a compressed stream, or a tar header whose
/// checksum holds (docker's `IsArchive`).
pub(super) fn is_archive(head: &[u8]) -> bool {
    const MAGICS: [&[u8]; 4] = [
        &[0x1f, 0x8b, 0x08],
        b"BZh",
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
        &[0x28, 0xb5, 0x2f, 0xfd],
    ];
    if MAGICS.iter().any(|m| head.starts_with(m)) {
        return true;
    }
    if head.len() < 512 {
        return false;
    }
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&head[..512]);
    h.cksum().is_ok_and(|c| {
        let sum: u32 = head[..512]
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(*b)
                }
            })
            .sum();
        c == sum
    })
}

fn temp_file() -> Result<std::fs::File, CliError> {
    tempfile::tempfile().map_err(|e| CliError::new(format!("create a temporary file: {e}")))
}

fn rewind(mut f: std::fs::File) -> Result<std::fs::File, CliError> {
    f.rewind()
        .map_err(|e| CliError::new(format!("read the build context: {e}")))?;
    Ok(f)
}

/// The context from stdin: a tar (maybe compressed) as it is, or a Dockerfile put in
/// a context of its own.
fn context_from_stdin(file: Option<&str>) -> Result<Context, CliError> {
    let mut data = Vec::new();
    std::io::stdin()
        .read_to_end(&mut data)
        .map_err(|e| prepare_err(format!("failed to peek context header from STDIN: {e}")))?;
    context_from_bytes(data, file)
}

/// A context read whole (stdin, a download): a tar as it is, or a Dockerfile put in
/// a context of its own (docker's `GetContextFromReader`).
fn context_from_bytes(data: Vec<u8>, file: Option<&str>) -> Result<Context, CliError> {
    let mut f = temp_file()?;
    if is_archive(&data[..data.len().min(1024)]) {
        f.write_all(&data)
            .map_err(|e| CliError::new(format!("write the build context: {e}")))?;
        return Ok(Context {
            tar: rewind(f)?,
            dockerfile: file.unwrap_or_default().to_string(),
        });
    }
    if file == Some("-") {
        return Err(prepare_err("build context is not an archive"));
    }
    if file.is_some() {
        return Err(prepare_err(
            "ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles",
        ));
    }
    let now = jiff::Timestamp::now().as_second().max(0) as u64;
    let mut t = GoTar::new(&mut f);
    let mode = 0o666 & !current_umask();
    t.add_bytes_mode("Dockerfile", &data, now, mode)
        .and_then(|_| t.finish().map(drop))
        .map_err(|e| CliError::new(format!("write the build context: {e}")))?;
    Ok(Context {
        tar: rewind(f)?,
        dockerfile: "Dockerfile".into(),
    })
}

fn current_umask() -> u32 {
    // umask(2) can only be read by setting it; it is put back at once.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    rustix::process::umask(old);
    old.bits()
}

/// A random name for a Dockerfile added to the context (docker's
/// `.dockerfile.<20 hex digits>`).
fn random_dockerfile_name() -> String {
    let mut b = [0u8; 10];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let n = jiff::Timestamp::now().as_nanosecond();
        b.copy_from_slice(&n.to_le_bytes()[..10]);
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(".dockerfile.{hex}")
}

/// The context from directory `dir`; `stdin_dockerfile` is a Dockerfile read from
/// stdin or from outside the context, added under a random name.
fn context_from_dir(
    dir: &str,
    file: Option<&str>,
    outside: Option<Vec<u8>>,
) -> Result<Context, CliError> {
    let abs = Path::new(&super::outfile::go_abs(dir)).to_path_buf();
    let abs = eval_symlinks(&abs)
        .map_err(|e| prepare_err(format!("unable to evaluate symlinks in context path: {e}")))?;
    if !abs.is_dir() {
        return Err(prepare_err(format!(
            "context must be a directory: {}",
            abs.display()
        )));
    }
    let from_stdin = file == Some("-");
    let mut rel = if from_stdin {
        "-".to_string()
    } else {
        dockerfile_rel(&abs, file)?
    };
    let outside = if from_stdin {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| CliError::new(format!("read the Dockerfile from stdin: {e}")))?;
        Some(data)
    } else if rel.starts_with("../") {
        let f = file.unwrap_or_default();
        Some(std::fs::read(f).map_err(|e| {
            CliError::new(format!("unable to open Dockerfile: {}", parse::io_text(&e)))
        })?)
    } else {
        outside
    };
    let excludes = build_context::read_dockerignore(&abs).map_err(CliError::new)?;
    let excludes = build_context::keep_build_files(excludes, &rel, from_stdin);
    let extra = outside.map(|data| {
        let name = random_dockerfile_name();
        rel = name.clone();
        (name, data)
    });
    let mut f = temp_file()?;
    let (_, unsent) = build_context::write_context_with(&abs, &excludes, extra.as_ref(), &mut f)
        .map_err(|e| CliError::new(format!("error checking context: {e}")))?;
    if unsent > 0 {
        let len = f
            .metadata()
            .map_err(|e| CliError::new(format!("write the build context: {e}")))?
            .len();
        f.set_len(len.saturating_sub(unsent))
            .map_err(|e| CliError::new(format!("write the build context: {e}")))?;
    }
    Ok(Context {
        tar: rewind(f)?,
        dockerfile: rel,
    })
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

    #[test]
    fn archives_are_told_from_dockerfiles() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_path("Dockerfile").unwrap();
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
        let t = b.into_inner().unwrap();
        assert!(is_archive(&t));
        assert!(is_archive(&[0x1f, 0x8b, 0x08, 0]));
        assert!(!is_archive(b"FROM busybox\nRUN true\n"));
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b/c/D")), "c/D");
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/x")), "../x");
    }
}
