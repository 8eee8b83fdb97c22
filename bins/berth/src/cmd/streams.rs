//! Commands that stream a container's stdio: `attach`, `exec`, `logs`, `start -a`,
//! and the hijacked-connection streamer `run` uses too.
//!
//! The streamer copies stdin to the connection (from a plain thread, so a blocked
//! read never holds the process at exit) and the connection to stdout/stderr (raw for
//! a TTY, demultiplexed otherwise). With a TTY and a terminal on stdin, the terminal is
//! raw for the duration (restored when the guard drops) and its size follows SIGWINCH.
//! Typing the detach keys ends the stream at once (the daemon detaches too).

use berth_client::api::AttachOptions;
use berth_client::types::exec;
use berth_client::{Client, Hijacked};
use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{SignalKind, signal};

use super::tty::{self, DetachWatch, RawMode};
use super::{Ctx, outln};
use crate::cli::Arity;
use crate::error::{CliError, CliResult};

/// How a hijacked stream is wired.
#[derive(Debug, Clone, Default)]
pub struct StreamOpts {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    pub detach_keys: Vec<u8>,
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The connection closed (the process ended or the daemon detached).
    Closed,
    /// The detach keys were typed.
    Detached,
}

/// What is being attached to, for resizes.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Container(&'a str),
    Exec(&'a str),
}

/// The detach keys in effect: the flag, else the config file's, else ctrl-p,ctrl-q.
pub fn detach_keys(ctx: &Ctx, flag: Option<&str>) -> Result<(String, Vec<u8>), CliError> {
    let s = flag
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| ctx.config.detach_keys.clone());
    let keys = if s.is_empty() {
        vec![16, 17]
    } else {
        tty::parse_detach_keys(&s).map_err(CliError::new)?
    };
    Ok((s, keys))
}

/// Streams `conn` until it ends (see the module doc).
pub async fn stream(
    client: &Client,
    conn: Hijacked,
    o: &StreamOpts,
    target: Target<'_>,
) -> Result<StreamEnd, CliError> {
    let _raw = if o.tty && o.stdin && tty::stdin_is_tty() {
        Some(RawMode::enable().map_err(|e| CliError::new(format!("set terminal raw mode: {e}")))?)
    } else {
        None
    };
    let (mut rd, mut wr) = tokio::io::split(conn);
    let output = async {
        let mut out = tokio::io::stdout();
        let r = if !o.stdout && !o.stderr {
            berth_client::stream::copy_raw(&mut rd, &mut tokio::io::sink()).await
        } else if o.tty {
            berth_client::stream::copy_raw(&mut rd, &mut out).await
        } else {
            let mut err = tokio::io::stderr();
            berth_client::stream::demux(&mut rd, &mut out, &mut err).await
        };
        r.map_err(CliError::from)
    };
    let input = async {
        if !o.stdin {
            return std::future::pending::<Result<StreamEnd, CliError>>().await;
        }
        let mut rx = stdin_reader();
        let mut watch = DetachWatch::new(o.detach_keys.clone());
        while let Some(chunk) = rx.recv().await {
            let detach = watch.feed(&chunk);
            if wr.write_all(&chunk).await.is_err() {
                break;
            }
            let _ = wr.flush().await;
            if detach {
                return Ok(StreamEnd::Detached);
            }
        }
        // End of stdin: half-close, the output goes on until the process ends.
        let _ = wr.shutdown().await;
        std::future::pending::<Result<StreamEnd, CliError>>().await
    };
    let resize = async {
        if o.tty && tty::stdout_is_tty() {
            monitor_size(client, target).await;
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        r = output => r.map(|()| StreamEnd::Closed),
        r = input => r,
        () = resize => Ok(StreamEnd::Closed),
    }
}

/// Reads stdin on a thread of its own and hands the chunks over.
fn stdin_reader() -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
    rx
}

/// Sends the terminal's size now and on every SIGWINCH.
pub async fn monitor_size(client: &Client, target: Target<'_>) {
    let resize = |h: u16, w: u16| async move {
        let r = match target {
            Target::Container(id) => client.container_resize(id, h, w).await,
            Target::Exec(id) => client.exec_resize(id, h, w).await,
        };
        if let Err(e) = r {
            eprintln!("Error monitoring TTY size: {e}");
        }
    };
    if let Some((h, w)) = tty::size() {
        resize(h, w).await;
    }
    let Ok(mut winch) = signal(SignalKind::window_change()) else {
        return;
    };
    while winch.recv().await.is_some() {
        if let Some((h, w)) = tty::size() {
            resize(h, w).await;
        }
    }
}

/// Forwards the signals a user sends to the CLI to the container (`--sig-proxy`).
pub async fn proxy_signals(client: &Client, id: &str) {
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ];
    let (tx, mut rx) = tokio::sync::mpsc::channel::<&'static str>(8);
    for (kind, name) in kinds {
        let Ok(mut s) = signal(kind) else { continue };
        let tx = tx.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if tx.send(name).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    while let Some(name) = rx.recv().await {
        let _ = client.container_kill(id, Some(name)).await;
    }
}

/// `attach` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER")]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "")]
    sig_proxy: bool,
    #[arg(hide = true)]
    container: Vec<String>,
}

pub async fn attach(ctx: &Ctx, a: &AttachArgs) -> CliResult {
    ctx.arity(a.container.len(), Arity::Exact(1))?;
    let id = &a.container[0];
    let c = ctx.client.container_inspect(id, false).await?;
    if !c.state.running {
        return Err(CliError::new(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if c.state.paused {
        return Err(CliError::new(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    if c.state.restarting {
        return Err(CliError::new(
            "You cannot attach to a restarting container, wait until it is running",
        ));
    }
    let stdin = !a.no_stdin && c.config.open_stdin;
    if stdin && c.config.tty && !tty::stdin_is_tty() {
        return Err(CliError::new("the input device is not a TTY"));
    }
    let (keys_s, keys) = detach_keys(ctx, a.detach_keys.as_deref())?;
    let wait = ctx.client.container_wait_begin(&c.id, "").await?;
    let conn = ctx
        .client
        .container_attach(
            &c.id,
            AttachOptions {
                stdin,
                stdout: true,
                stderr: true,
                logs: false,
            },
            Some(&keys_s),
        )
        .await?;
    let o = StreamOpts {
        stdin,
        stdout: true,
        stderr: true,
        tty: c.config.tty,
        detach_keys: keys,
    };
    // docker's redraw on re-attach: one size off, then the real size (set when the
    // stream starts), so the program in the container repaints its screen.
    if c.config.tty && tty::stdout_is_tty() {
        if let Some((h, w)) = tty::size() {
            let _ = ctx
                .client
                .container_resize(&c.id, h.saturating_add(1), w.saturating_add(1))
                .await;
        }
    }
    let proxy = async {
        if a.sig_proxy && !c.config.tty {
            proxy_signals(&ctx.client, &c.id).await;
        }
        std::future::pending::<()>().await
    };
    let end = tokio::select! {
        r = stream(&ctx.client, conn, &o, Target::Container(&c.id)) => r?,
        () = proxy => StreamEnd::Closed,
    };
    if end == StreamEnd::Detached {
        // docker's attach ends with its escape error (status 1); run and start do not.
        return Err(CliError::new("read escape sequence"));
    }
    let res = berth_client::api::wait_result(wait).await?;
    if res.status_code != 0 {
        return Err(CliError::status(res.status_code as i32));
    }
    Ok(())
}

/// `exec` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER COMMAND [ARG...]")]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short, long, value_name = "list")]
    env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "list")]
    env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long, value_name = "string", default_value = "")]
    user: String,
    /// Working directory inside the container
    #[arg(short, long, value_name = "string", default_value = "")]
    workdir: String,
    #[arg(hide = true, trailing_var_arg = true)]
    args: Vec<String>,
}

pub async fn exec(ctx: &Ctx, a: &ExecArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Min(2))?;
    let container = &a.args[0];
    if !a.detach && a.interactive && a.tty && !tty::stdin_is_tty() {
        return Err(CliError::new("the input device is not a TTY"));
    }
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(super::parse::kv_file(f, true).map_err(CliError::new)?);
    }
    env.extend(a.env.iter().map(|e| super::parse::env_value(e)));
    let (keys_s, keys) = detach_keys(ctx, a.detach_keys.as_deref())?;
    let req = exec::CreateRequest {
        user: a.user.clone(),
        privileged: a.privileged,
        tty: a.tty,
        attach_stdin: a.interactive && !a.detach,
        attach_stdout: !a.detach,
        attach_stderr: !a.detach,
        detach: a.detach,
        detach_keys: a.detach_keys.clone().map(|_| keys_s).unwrap_or_default(),
        env: (!env.is_empty()).then_some(env),
        working_dir: a.workdir.clone(),
        cmd: Some(a.args[1..].to_vec()),
        console_size: None,
    };
    let id = ctx.client.exec_create(container, &req).await?.id;
    if a.detach {
        ctx.client.exec_start_detached(&id, a.tty).await?;
        return Ok(());
    }
    let conn = ctx.client.exec_start_attached(&id, a.tty).await?;
    let o = StreamOpts {
        stdin: a.interactive,
        stdout: true,
        stderr: true,
        tty: a.tty,
        detach_keys: keys,
    };
    if stream(&ctx.client, conn, &o, Target::Exec(&id)).await? == StreamEnd::Detached {
        return Err(CliError::new("read escape sequence"));
    }
    let info = ctx.client.exec_inspect(&id).await?;
    match info.exit_code {
        Some(0) | None => Ok(()),
        Some(code) => Err(CliError::status(code as i32)),
    }
}

/// `logs` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER")]
pub struct LogsArgs {
    /// Show extra details provided to logs
    #[arg(long)]
    details: bool,
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, value_name = "string", default_value = "all")]
    tail: String,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    until: Option<String>,
    #[arg(hide = true)]
    container: Vec<String>,
}

pub async fn logs(ctx: &Ctx, a: &LogsArgs) -> CliResult {
    ctx.arity(a.container.len(), Arity::Exact(1))?;
    let c = ctx.client.container_inspect(&a.container[0], false).await?;
    // As docker's client: the times are read here, against one "now".
    let now = jiff::ZonedDateTime::now();
    let time = |name: &str, v: Option<&str>| -> Result<Option<String>, CliError> {
        v.map(|v| {
            super::timestamp::get_timestamp(v, &now)
                .map_err(|e| CliError::new(format!("invalid value for \"{name}\": {e}")))
        })
        .transpose()
    };
    let since = time("since", a.since.as_deref())?;
    let until = time("until", a.until.as_deref())?;
    let resp = ctx
        .client
        .get(format!(
            "/containers/{}/logs",
            berth_client::api::seg(&a.container[0])
        ))
        .flag("stdout", true)
        .flag("stderr", true)
        .flag("follow", a.follow)
        .flag("timestamps", a.timestamps)
        .flag("details", a.details)
        .query_opt("since", since)
        .query_opt("until", until)
        .query("tail", &a.tail)
        .send()
        .await?;
    let mut body = berth_client::stream::BodyStream::new(resp, "/containers/logs");
    if c.config.tty {
        body.copy_to(&mut tokio::io::stdout()).await?;
        return Ok(());
    }
    berth_client::stream::demux(
        &mut body,
        &mut tokio::io::stdout(),
        &mut tokio::io::stderr(),
    )
    .await?;
    Ok(())
}

/// `start` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] CONTAINER [CONTAINER...]")]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    attach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    detach_keys: Option<String>,
    /// Attach container's STDIN
    #[arg(short, long)]
    interactive: bool,
    #[arg(hide = true)]
    containers: Vec<String>,
}

pub async fn start(ctx: &Ctx, a: &StartArgs) -> CliResult {
    ctx.arity(a.containers.len(), Arity::Min(1))?;
    if !a.attach && !a.interactive {
        let mut errs = Vec::new();
        let mut failed = Vec::new();
        for n in &a.containers {
            match ctx
                .client
                .container_start(n, a.detach_keys.as_deref())
                .await
            {
                Ok(()) => outln(n),
                Err(e) => {
                    errs.push(e.to_string());
                    failed.push(n.clone());
                }
            }
        }
        if errs.is_empty() {
            return Ok(());
        }
        return Err(CliError::new(format!(
            "{}\nError: failed to start containers: {}",
            errs.join("\n"),
            failed.join(", ")
        )));
    }
    if a.containers.len() > 1 {
        return Err(CliError::new(
            "you cannot start and attach multiple containers at once",
        ));
    }
    let c = ctx
        .client
        .container_inspect(&a.containers[0], false)
        .await?;
    let stdin = a.interactive && c.config.open_stdin;
    if stdin && c.config.tty && !tty::stdin_is_tty() {
        return Err(CliError::new("the input device is not a TTY"));
    }
    let (keys_s, keys) = detach_keys(ctx, a.detach_keys.as_deref())?;
    let conn = ctx
        .client
        .container_attach(
            &c.id,
            AttachOptions {
                stdin,
                stdout: true,
                stderr: true,
                logs: false,
            },
            Some(&keys_s),
        )
        .await?;
    let wait = ctx.client.container_wait_begin(&c.id, "next-exit").await?;
    ctx.client.container_start(&c.id, None).await?;
    let o = StreamOpts {
        stdin,
        stdout: true,
        stderr: true,
        tty: c.config.tty,
        detach_keys: keys,
    };
    let proxy = async {
        if !c.config.tty {
            proxy_signals(&ctx.client, &c.id).await;
        }
        std::future::pending::<()>().await
    };
    let end = tokio::select! {
        r = stream(&ctx.client, conn, &o, Target::Container(&c.id)) => r?,
        () = proxy => StreamEnd::Closed,
    };
    if end == StreamEnd::Detached {
        return Ok(());
    }
    let res = berth_client::api::wait_result(wait).await?;
    if res.status_code != 0 {
        return Err(CliError::status(res.status_code as i32));
    }
    Ok(())
}
