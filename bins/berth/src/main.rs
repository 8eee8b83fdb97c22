//! berth: the docker-compatible command line. It talks to the daemon over the Engine API
//! only (unix socket or TCP) and prints what docker prints, with docker's exit statuses.
//!
//! Flow: the arguments are normalized and parsed (see `cli`); the daemon's address and
//! the TLS settings come from the global options and the environment (see
//! `connection`); the command runs on a
//! current-thread tokio runtime; its error, if any, goes to stderr and its status
//! becomes the exit status.

mod cli;
mod cmd;
mod config;
mod connection;
mod contexts;
mod error;
mod fmt;

use std::process::ExitCode;

use crate::cli::{Cmd, ContainerCmd, ImageCmd, SystemCmd, help};
use crate::cmd::Ctx;
use crate::error::{CliError, CliResult};

fn main() -> ExitCode {
    // Like the Go CLI, a closed stdout (`berth ps | head -1`) ends the process quietly.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            if !e.message.is_empty() {
                if e.code == 0 {
                    // A help text shown for want of a command (`berth container`).
                    eprint!("{}", e.message);
                } else {
                    eprintln!("{}", e.message);
                }
            }
            e.code
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn run() -> CliResult {
    let root = cli::command();
    let resolved = cli::normalize(&root, std::env::args_os().collect());
    if let Some(words) = &resolved.help_command {
        cmd::out(&help::help_command(&root, words)?);
        return Ok(());
    }
    let path = resolved.path();
    let cmd = cli::find(&root, &resolved.names).clone();
    if resolved.names.first().is_some_and(|n| n == "builder")
        && resolved.names.get(1).is_none_or(|n| n != "build")
    {
        // docker announces the legacy builder before anything a `builder` command
        // does, its help and its errors included (`builder build` does it itself).
        eprint!("{}\n\n", cmd::build::legacy_notice()?);
    }
    if resolved.help {
        if cmd.get_name() == "build" {
            // docker announces the legacy builder before anything else `build` does.
            eprint!("{}\n\n", cmd::build::legacy_notice()?);
        }
        cli::check_flags_for_help(root, &resolved)?;
        if resolved.help_shorthand {
            // docker's notice goes to stderr for the program itself, to stdout with
            // the help of a command.
            let notice = format!("{}\n", help::SHORTHAND_DEPRECATED);
            if resolved.names.is_empty() {
                eprint!("{notice}");
            } else {
                cmd::out(&notice);
            }
        }
        cmd::out(&help::render(&resolved.names, &cmd));
        return Ok(());
    }
    let parsed = cli::parse(root, &resolved)?;
    if parsed.version {
        cmd::outln(&format!("berth version {}", env!("CARGO_PKG_VERSION")));
        return Ok(());
    }
    let Some(command) = &parsed.command else {
        // docker prints its help on stderr when no command is given.
        eprint!("{}", help::render(&resolved.names, &cmd));
        return Ok(());
    };
    let env = connection::Env::from_process();
    let config_dir = config::dir(parsed.config.as_deref());
    let config = config::load(&config_dir);
    let name = connection::context_name(&parsed, &env, &config.current_context)?;
    let default = connection::resolve(&parsed, &env, &connection::may_exist);
    let conn = if name == contexts::DEFAULT {
        default
            .as_ref()
            .map(Clone::clone)
            .map_err(|e| CliError::new(e.message.clone()))
    } else {
        let store = contexts::Store::new(&config_dir);
        connection::endpoint(&parsed, &env, &store, &name, &connection::may_exist)
    };
    // The docker CLI makes its API client on first use: the context commands, which
    // never talk to the daemon, work whatever the selected endpoint is.
    let lazy = matches!(command, Cmd::Context(_));
    let mut client = match conn.and_then(connection::client) {
        Ok(c) => c,
        Err(_) if lazy => berth_client::Client::new(berth_client::Host::default()),
        Err(e) => return Err(e),
    };
    if let Some(v) = std::env::var("DOCKER_API_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
    {
        client = client.with_version(v);
    }
    let ctx = Ctx {
        client,
        config,
        config_dir,
        path,
        cmd,
        context: cmd::context::Selected {
            name,
            default: default.map_err(|e| e.message),
            host_variable: env.host_variable(),
        },
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("start runtime: {e}")))?;
    let debug = parsed.debug;
    let result = rt.block_on(dispatch(&ctx, command, debug));
    // A thread may still be blocked reading stdin; the process does not wait for it.
    rt.shutdown_background();
    result
}

async fn dispatch(ctx: &Ctx, c: &Cmd, debug: bool) -> CliResult {
    use cmd::*;
    match c {
        Cmd::Run(a) => run::run(ctx, a).await,
        Cmd::Create(a) => run::create_cmd(ctx, a).await,
        Cmd::Exec(a) => streams::exec(ctx, a).await,
        Cmd::Ps(a) => ps::run(ctx, a).await,
        Cmd::Images(a) => images::run(ctx, a).await,
        Cmd::Version(a) => system::version(ctx, a).await,
        Cmd::Info(a) => system::info(ctx, a, debug).await,
        Cmd::Attach(a) => streams::attach(ctx, a).await,
        Cmd::Build(a) => build::build(ctx, a).await,
        Cmd::Login(a) => registry::login(ctx, a).await,
        Cmd::Logout(a) => registry::logout(ctx, a).await,
        Cmd::Pull(a) => registry::pull(ctx, a).await,
        Cmd::Push(a) => registry::push(ctx, a).await,
        Cmd::Commit(a) => image_ops::commit(ctx, a).await,
        Cmd::Cp(a) => cp::cp(ctx, a).await,
        Cmd::Diff(a) => inspect::diff(ctx, a).await,
        Cmd::Events(a) => system::events(ctx, a).await,
        Cmd::Export(a) => export::export(ctx, a).await,
        Cmd::History(a) => images::history(ctx, a).await,
        Cmd::Import(a) => image_ops::import(ctx, a).await,
        Cmd::Inspect(a) => inspect::run(ctx, a).await,
        Cmd::Kill(a) => lifecycle::kill(ctx, a).await,
        Cmd::Load(a) => image_ops::load(ctx, a).await,
        Cmd::Logs(a) => streams::logs(ctx, a).await,
        Cmd::Pause(a) => lifecycle::pause(ctx, a, false).await,
        Cmd::Port(a) => inspect::port(ctx, a).await,
        Cmd::Rename(a) => lifecycle::rename(ctx, a).await,
        Cmd::Restart(a) => lifecycle::stop(ctx, a, true).await,
        Cmd::Rm(a) => lifecycle::rm(ctx, a).await,
        Cmd::Rmi(a) => image_ops::rmi(ctx, a).await,
        Cmd::Save(a) => image_ops::save(ctx, a).await,
        Cmd::Search(a) => search::search(ctx, a).await,
        Cmd::Start(a) => streams::start(ctx, a).await,
        Cmd::Stats(a) => stats::run(ctx, a).await,
        Cmd::Stop(a) => lifecycle::stop(ctx, a, false).await,
        Cmd::Tag(a) => image_ops::tag(ctx, a).await,
        Cmd::Top(a) => inspect::top(ctx, a).await,
        Cmd::Unpause(a) => lifecycle::pause(ctx, a, true).await,
        Cmd::Update(a) => lifecycle::update(ctx, a).await,
        Cmd::Wait(a) => lifecycle::wait(ctx, a).await,
        Cmd::Builder(c) => builder::run(ctx, c).await,
        Cmd::Container(c) => container(ctx, c).await,
        Cmd::Plugin(c) => plugin::run(ctx, c).await,
        Cmd::Config(c) => swarm::config(ctx, c).await,
        Cmd::Node(c) => swarm::node(ctx, c).await,
        Cmd::Secret(c) => swarm::secret(ctx, c).await,
        Cmd::Service(c) => swarm::service(ctx, c).await,
        Cmd::Stack(c) => swarm::stack(ctx, c).await,
        Cmd::Swarm(c) => swarm::swarm(ctx, c).await,
        Cmd::Context(c) => context::run(ctx, c).await,
        Cmd::Image(c) => image(ctx, c).await,
        Cmd::Network(c) => network::run(ctx, c).await,
        Cmd::System(c) => match c {
            SystemCmd::Df(a) => system::df(ctx, a).await,
            SystemCmd::Events(a) => system::events(ctx, a).await,
            SystemCmd::Info(a) => system::info(ctx, a, debug).await,
            SystemCmd::Prune(a) => system::system_prune(ctx, a).await,
        },
        Cmd::Volume(c) => volume::run(ctx, c).await,
    }
}

async fn container(ctx: &Ctx, c: &ContainerCmd) -> CliResult {
    use cmd::*;
    match c {
        ContainerCmd::Attach(a) => streams::attach(ctx, a).await,
        ContainerCmd::Commit(a) => image_ops::commit(ctx, a).await,
        ContainerCmd::Cp(a) => cp::cp(ctx, a).await,
        ContainerCmd::Create(a) => run::create_cmd(ctx, a).await,
        ContainerCmd::Diff(a) => inspect::diff(ctx, a).await,
        ContainerCmd::Exec(a) => streams::exec(ctx, a).await,
        ContainerCmd::Export(a) => export::export(ctx, a).await,
        ContainerCmd::Inspect(a) => inspect::container(ctx, a).await,
        ContainerCmd::Kill(a) => lifecycle::kill(ctx, a).await,
        ContainerCmd::Logs(a) => streams::logs(ctx, a).await,
        ContainerCmd::Ls(a) => ps::run(ctx, a).await,
        ContainerCmd::Pause(a) => lifecycle::pause(ctx, a, false).await,
        ContainerCmd::Port(a) => inspect::port(ctx, a).await,
        ContainerCmd::Prune(a) => lifecycle::prune(ctx, a).await,
        ContainerCmd::Rename(a) => lifecycle::rename(ctx, a).await,
        ContainerCmd::Restart(a) => lifecycle::stop(ctx, a, true).await,
        ContainerCmd::Rm(a) => lifecycle::rm(ctx, a).await,
        ContainerCmd::Run(a) => run::run(ctx, a).await,
        ContainerCmd::Start(a) => streams::start(ctx, a).await,
        ContainerCmd::Stats(a) => stats::run(ctx, a).await,
        ContainerCmd::Stop(a) => lifecycle::stop(ctx, a, false).await,
        ContainerCmd::Top(a) => inspect::top(ctx, a).await,
        ContainerCmd::Unpause(a) => lifecycle::pause(ctx, a, true).await,
        ContainerCmd::Update(a) => lifecycle::update(ctx, a).await,
        ContainerCmd::Wait(a) => lifecycle::wait(ctx, a).await,
    }
}

async fn image(ctx: &Ctx, c: &ImageCmd) -> CliResult {
    use cmd::*;
    match c {
        ImageCmd::Build(a) => build::build(ctx, a).await,
        ImageCmd::History(a) => images::history(ctx, a).await,
        ImageCmd::Import(a) => image_ops::import(ctx, a).await,
        ImageCmd::Inspect(a) => inspect::image(ctx, a).await,
        ImageCmd::Load(a) => image_ops::load(ctx, a).await,
        ImageCmd::Ls(a) => images::run(ctx, a).await,
        ImageCmd::Prune(a) => image_ops::image_prune(ctx, a).await,
        ImageCmd::Pull(a) => registry::pull(ctx, a).await,
        ImageCmd::Push(a) => registry::push(ctx, a).await,
        ImageCmd::Rm(a) => image_ops::rmi(ctx, a).await,
        ImageCmd::Save(a) => image_ops::save(ctx, a).await,
        ImageCmd::Tag(a) => image_ops::tag(ctx, a).await,
    }
}
