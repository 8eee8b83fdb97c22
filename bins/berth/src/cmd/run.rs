//! `berth run` and `berth create`.
//!
//! `run`, as docker does it: create (pulling the image on a 404 when `--pull` allows),
//! attach (hijacked) unless detached, begin the wait (`next-exit`, or `removed` with
//! `--rm`) so the daemon registers it before the start, start, resize the TTY, stream,
//! then exit with the container's status. Failures before the container runs exit 125
//! (126 when the command cannot be invoked, 127 when it is not found), worded
//! `berth: <error>` with a pointer to `--help`.

use berth_client::types::container::CreateRequest;
use clap::Args;

use super::api_socket;
use super::container_opts::{ContainerOpts, create_request};
use super::streams::{self, StreamEnd, StreamOpts, Target};
use super::{Ctx, outln, tty};
use crate::cli::{Arity, PROG};
use crate::error::{CliError, CliResult};

/// `run` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]")]
pub struct RunArgs {
    #[command(flatten)]
    opts: ContainerOpts,
    /// Run container in background and print container ID
    #[arg(short, long)]
    detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "")]
    sig_proxy: bool,
    #[arg(hide = true, trailing_var_arg = true)]
    args: Vec<String>,
}

/// `create` flags.
#[derive(Debug, Args)]
#[command(override_usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]")]
pub struct CreateArgs {
    #[command(flatten)]
    opts: ContainerOpts,
    #[arg(hide = true, trailing_var_arg = true)]
    args: Vec<String>,
}

/// `berth: <err>\n\nRun 'berth <cmd> --help' for more information`, status `code`.
fn with_help(err: &str, cmd: &str, code: i32) -> CliError {
    CliError::with_code(
        format!("{PROG}: {err}\n\nRun '{PROG} {cmd} --help' for more information"),
        code,
    )
}

/// docker's `toStatusError`: 127 for a missing command, 126 for one that cannot be run,
/// 125 for everything else.
fn status_error(err: &str, cmd: &str) -> CliError {
    let code =
        if err.contains("executable file not found") || err.contains("no such file or directory") {
            127
        } else if err.contains("permission denied") || err.contains("is a directory") {
            126
        } else {
            125
        };
    with_help(err, cmd, code)
}

/// The image reference with its default tag, as docker names it in messages
/// (`FamiliarString(TagNameOnly(ref))`).
fn tagged(image: &str) -> String {
    match super::reference::parse_normalized_named(image) {
        Ok(mut n) => {
            if n.tag.is_none() && n.digest.is_none() {
                n.tag = Some("latest".into());
            }
            super::registry::familiar_string(&n)
        }
        Err(_) => image.to_string(),
    }
}

/// A failure of `createContainer`: `run` reports it with a pointer to its help and
/// docker's status for it (125, or 126/127 for a command that cannot run); `create`
/// returns it as it is (status 1).
fn create_failed(err: &str, cmd: &str) -> CliError {
    if cmd == "run" {
        status_error(err, cmd)
    } else {
        CliError::new(err)
    }
}

/// An error of the flags: a flag's value that does not parse is a usage error (as
/// pflag reports it), anything else docker's `<prog>: <err>` with a pointer to help.
pub fn opts_error(ctx: &Ctx, err: &str, cmd: &str) -> CliError {
    if err.starts_with("invalid argument \"") && err.contains("\" flag: ") {
        ctx.usage_error(err)
    } else {
        with_help(err, cmd, 125)
    }
}

/// docker's `--cidfile`: created before the container (refused when it exists),
/// removed again if no ID was written to it.
struct CidFile {
    path: String,
    written: bool,
}

impl CidFile {
    fn create(path: &str) -> Result<Option<CidFile>, String> {
        if path.is_empty() {
            return Ok(None);
        }
        if std::path::Path::new(path).exists() {
            return Err(format!(
                "container ID file found, make sure the other container isn't running or delete {path}"
            ));
        }
        std::fs::File::create(path).map_err(|e| {
            format!(
                "failed to create the container ID file: {}",
                super::outfile::path_error("open", path, &e)
            )
        })?;
        Ok(Some(CidFile {
            path: path.to_string(),
            written: false,
        }))
    }

    fn write(&mut self, id: &str) -> Result<(), String> {
        std::fs::write(&self.path, id).map_err(|e| {
            format!(
                "failed to write the container ID to the file: {}",
                super::parse::io_text(&e)
            )
        })?;
        self.written = true;
        Ok(())
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Creates the container (docker's `createContainer`); returns its ID. With
/// `--use-api-socket`, `req` gets the socket's mount (see [`api_socket`]).
async fn create(
    ctx: &Ctx,
    o: &ContainerOpts,
    req: &mut CreateRequest,
    cmd: &str,
) -> Result<String, CliError> {
    if !matches!(o.pull.as_str(), "missing" | "always" | "never") {
        return Err(with_help(
            &format!(
                "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
                o.pull
            ),
            cmd,
            125,
        ));
    }
    let mut cid = CidFile::create(&o.cidfile).map_err(|e| create_failed(&e, cmd))?;
    super::reference::parse_any_reference(&req.config.image).map_err(|e| create_failed(&e, cmd))?;
    let creds = if o.use_api_socket {
        let store =
            crate::config::AuthStore::open(&ctx.config_dir).map_err(|e| create_failed(&e, cmd))?;
        let env_auth = std::env::var("DOCKER_AUTH_CONFIG").ok();
        api_socket::prepare(ctx.client.host(), req, env_auth.as_deref(), &store)
            .map_err(|e| create_failed(&e, cmd))?
    } else {
        api_socket::Credentials::new()
    };
    let req = &*req;
    let image = &req.config.image;
    let name = (!o.name.is_empty()).then_some(o.name.as_str());
    let platform = (!o.platform.is_empty()).then_some(o.platform.as_str());
    if o.pull == "always" {
        pull(ctx, image, platform, o.quiet)
            .await
            .map_err(|e| create_failed(&e.message, cmd))?;
    }
    let resp = match ctx.client.container_create(name, platform, req).await {
        Ok(r) => r,
        Err(e)
            if e.is_not_found()
                && o.pull == "missing"
                && e.daemon_message().is_some_and(|m| m.contains("image")) =>
        {
            if !o.quiet {
                eprintln!("Unable to find image '{}' locally", tagged(image));
            }
            pull(ctx, image, platform, o.quiet)
                .await
                .map_err(|e| create_failed(&e.message, cmd))?;
            ctx.client
                .container_create(name, platform, req)
                .await
                .map_err(|e| create_failed(&e.to_string(), cmd))?
        }
        Err(e) => return Err(create_failed(&e.to_string(), cmd)),
    };
    for w in resp.warnings.iter().flatten() {
        eprintln!("WARNING: {w}");
    }
    let written = cid.as_mut().map_or(Ok(()), |c| c.write(&resp.id));
    if !creds.is_empty() {
        // After the ID file, as docker: a failed copy is the error reported.
        api_socket::inject(ctx, &resp.id, &creds)
            .await
            .map_err(|e| create_failed(&e, cmd))?;
    }
    written.map_err(|e| create_failed(&e, cmd))?;
    Ok(resp.id)
}

/// Pulls `image` for `run`/`create` (docker's `pullImage`): the stored credentials of
/// its registry, the progress on stderr.
pub async fn pull(
    ctx: &Ctx,
    image: &str,
    platform: Option<&str>,
    quiet: bool,
) -> Result<(), CliError> {
    let n = super::reference::parse_normalized_named(image).map_err(CliError::new)?;
    let auth = super::registry::registry_auth(ctx, &n)?;
    let tag = super::registry::api_tag(&n);
    let platform = platform.map(str::to_lowercase);
    let o = berth_client::api::RegistryOptions {
        tag: Some(&tag),
        platform: platform.as_deref(),
        auth: &auth,
    };
    let resp = ctx.client.image_pull(&n.name(), &o).await?;
    let mut r = super::registry::stderr_renderer(quiet);
    super::progress::display(resp, "/images/create", &mut r, &mut |_| {}).await
}

pub async fn create_cmd(ctx: &Ctx, a: &CreateArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Min(1))?;
    let mut req = create_request(&a.opts, &a.args[0], &a.args[1..])
        .map_err(|e| opts_error(ctx, &e, "create"))?;
    let id = create(ctx, &a.opts, &mut req, "create").await?;
    outln(&id);
    Ok(())
}

pub async fn run(ctx: &Ctx, a: &RunArgs) -> CliResult {
    ctx.arity(a.args.len(), Arity::Min(1))?;
    let mut req = create_request(&a.opts, &a.args[0], &a.args[1..])
        .map_err(|e| opts_error(ctx, &e, "run"))?;
    let c = &mut req.config;
    if !a.detach {
        if c.attach_stdin && c.tty && !tty::stdin_is_tty() {
            return Err(CliError::new("the input device is not a TTY"));
        }
    } else {
        if !a.opts.attach.is_empty() {
            return Err(CliError::new(
                "conflicting options: cannot specify both --attach and --detach",
            ));
        }
        c.attach_stdin = false;
        c.attach_stdout = false;
        c.attach_stderr = false;
        c.stdin_once = false;
    }
    let (tty_on, attach_in, attach_out, attach_err) =
        (c.tty, c.attach_stdin, c.attach_stdout, c.attach_stderr);
    let id = create(ctx, &a.opts, &mut req, "run").await?;
    let attach = attach_in || attach_out || attach_err;
    if !attach {
        ctx.client
            .container_start(&id, None)
            .await
            .map_err(|e| status_error(&e.to_string(), "run"))?;
        outln(&id);
        return Ok(());
    }
    let (keys_s, keys) = streams::detach_keys(ctx, a.detach_keys.as_deref())?;
    let conn = ctx
        .client
        .container_attach(
            &id,
            berth_client::api::AttachOptions {
                stdin: attach_in,
                stdout: attach_out,
                stderr: attach_err,
                logs: false,
            },
            Some(&keys_s),
        )
        .await?;
    let condition = if a.opts.rm { "removed" } else { "next-exit" };
    let wait = ctx.client.container_wait_begin(&id, condition).await?;
    if let Err(e) = ctx.client.container_start(&id, None).await {
        if a.opts.rm {
            let _ = berth_client::api::wait_result(wait).await;
        }
        return Err(status_error(&e.to_string(), "run"));
    }
    let o = StreamOpts {
        stdin: attach_in,
        stdout: attach_out,
        stderr: attach_err,
        tty: tty_on,
        detach_keys: keys,
    };
    let proxy = async {
        if a.sig_proxy && !tty_on {
            streams::proxy_signals(&ctx.client, &id).await;
        }
        std::future::pending::<()>().await
    };
    let end = tokio::select! {
        r = streams::stream(&ctx.client, conn, &o, Target::Container(&id)) => r?,
        () = proxy => StreamEnd::Closed,
    };
    if end == StreamEnd::Detached {
        return Ok(());
    }
    let res = berth_client::api::wait_result(wait).await?;
    if let Some(e) = res.error.as_ref().filter(|e| !e.message.is_empty()) {
        eprintln!("Error waiting for container: {}", e.message);
        return Err(CliError::status(125));
    }
    if res.status_code != 0 {
        return Err(CliError::status(res.status_code as i32));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_errors_map_to_docker_statuses() {
        let e = status_error(
            "Error response from daemon: failed to create task for container: OCI runtime create failed: exec: \"/nonexist\": stat /nonexist: no such file or directory: unknown",
            "run",
        );
        assert_eq!(e.code, 127);
        assert!(e.message.starts_with("berth: Error response from daemon:"));
        assert!(
            e.message
                .ends_with("\n\nRun 'berth run --help' for more information")
        );
        assert_eq!(
            status_error("exec: \"/etc\": permission denied: unknown", "run").code,
            126
        );
        assert_eq!(status_error("No such image: x", "run").code, 125);
        assert_eq!(tagged("nope"), "nope:latest");
        assert_eq!(tagged("localhost:5000/a"), "localhost:5000/a:latest");
        assert_eq!(tagged("a:1"), "a:1");
        assert_eq!(tagged("docker.io/library/nope"), "nope:latest");
    }
}
