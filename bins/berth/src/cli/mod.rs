//! The command tree and docker's command-line conventions on top of clap.
//!
//! Docker parses with pflag/cobra; the differences that matter for scripts are
//! handled here before and after clap:
//! - `--flag=false` / `--flag=true` on boolean flags ([`normalize`]);
//! - the usage errors' wording and exit statuses ([`usage_error`], [`arg_count`]);
//! - `--help` anywhere before the command's arguments prints docker-style help
//!   ([`help`]).

pub mod help;
pub mod pages;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::cmd;
use crate::error::CliError;

/// The binary's name in messages (`berth: 'berth ps' accepts no arguments`).
pub const PROG: &str = "berth";

/// Global options (before the command).
#[derive(Debug, Parser)]
#[command(name = PROG, about = "A self-sufficient runtime for containers")]
#[command(override_usage = "[OPTIONS] COMMAND")]
pub struct Cli {
    /// Location of client config files
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// Name of the context to use to connect to the daemon
    #[arg(short = 'c', long, value_name = "string")]
    pub context: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Daemon socket to connect to
    #[arg(short = 'H', long, value_name = "list")]
    pub host: Vec<String>,
    /// Set the logging level ("debug", "info", "warn", "error", "fatal")
    #[arg(short = 'l', long, value_name = "string")]
    pub log_level: Option<String>,
    /// Use TLS; implied by --tlsverify
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "", value_parser = cmd::parse::go_bool)]
    pub tls: Option<bool>,
    /// Trust certs signed only by this CA
    #[arg(long, value_name = "string", value_parser = any_path())]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file
    #[arg(long, value_name = "string", value_parser = any_path())]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file
    #[arg(long, value_name = "string", value_parser = any_path())]
    pub tlskey: Option<PathBuf>,
    /// Use TLS and verify the remote
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "", value_parser = cmd::parse::go_bool)]
    pub tlsverify: Option<bool>,
    /// Print version information and quit
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// A path that may be empty (clap's `PathBuf` parser refuses `""`; docker takes
/// `--tlscacert ""` as naming no file).
fn any_path() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}

/// Every command, with docker's top-level shortcuts.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create and run a new container from an image
    Run(cmd::run::RunArgs),
    /// Execute a command in a running container
    Exec(cmd::streams::ExecArgs),
    /// List containers
    Ps(cmd::ps::PsArgs),
    /// List images
    Images(cmd::images::ImagesArgs),
    /// Show the Docker version information
    Version(cmd::system::VersionArgs),
    /// Display system-wide information
    Info(cmd::system::InfoArgs),
    /// Build an image from a Dockerfile
    Build(cmd::build::BuildArgs),
    /// Download an image from a registry
    Pull(cmd::registry::PullArgs),
    /// Upload an image to a registry
    Push(cmd::registry::PushArgs),
    /// Authenticate to a registry
    Login(cmd::registry::LoginArgs),
    /// Log out from a registry
    Logout(cmd::registry::LogoutArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(cmd::streams::AttachArgs),
    /// Create a new image from a container's changes
    Commit(cmd::image_ops::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cmd::cp::CpArgs),
    /// Create a new container
    Create(cmd::run::CreateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(cmd::inspect::DiffArgs),
    /// Get real time events from the server
    Events(cmd::system::EventsArgs),
    /// Export a container's filesystem as a tar archive
    Export(cmd::export::ExportArgs),
    /// Show the history of an image
    History(cmd::images::HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(cmd::image_ops::ImportArgs),
    /// Return low-level information on Docker objects
    Inspect(cmd::inspect::InspectArgs),
    /// Kill one or more running containers
    Kill(cmd::lifecycle::KillArgs),
    /// Load an image from a tar archive or STDIN
    Load(cmd::image_ops::LoadArgs),
    /// Fetch the logs of a container
    Logs(cmd::streams::LogsArgs),
    /// Pause all processes within one or more containers
    Pause(cmd::lifecycle::ContainersArgs),
    /// List port mappings or a specific mapping for the container
    Port(cmd::inspect::PortArgs),
    /// Rename a container
    Rename(cmd::lifecycle::RenameArgs),
    /// Restart one or more containers
    Restart(cmd::lifecycle::StopArgs),
    /// Remove one or more containers
    Rm(cmd::lifecycle::RmArgs),
    /// Remove one or more images
    Rmi(cmd::image_ops::RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(cmd::image_ops::SaveArgs),
    /// Search Docker Hub for images
    Search(cmd::search::SearchArgs),
    /// Start one or more stopped containers
    Start(cmd::streams::StartArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(cmd::stats::StatsArgs),
    /// Stop one or more running containers
    Stop(cmd::lifecycle::StopArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(cmd::image_ops::TagArgs),
    /// Display the running processes of a container
    Top(cmd::inspect::TopArgs),
    /// Unpause all processes within one or more containers
    Unpause(cmd::lifecycle::ContainersArgs),
    /// Update configuration of one or more containers
    Update(cmd::lifecycle::UpdateArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(cmd::lifecycle::ContainersArgs),
    /// Manage builds
    #[command(subcommand)]
    Builder(cmd::builder::BuilderCmd),
    /// Manage Swarm configs
    #[command(subcommand)]
    Config(cmd::swarm::ConfigCmd),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCmd),
    /// Manage Swarm nodes
    #[command(subcommand)]
    Node(cmd::swarm::NodeCmd),
    /// Manage plugins
    #[command(subcommand)]
    Plugin(cmd::plugin::PluginCmd),
    /// Manage Swarm secrets
    #[command(subcommand)]
    Secret(cmd::swarm::SecretCmd),
    /// Manage Swarm services
    #[command(subcommand)]
    Service(cmd::swarm::ServiceCmd),
    /// Manage Swarm stacks
    #[command(subcommand)]
    Stack(cmd::swarm::StackCmd),
    /// Manage Swarm
    #[command(subcommand)]
    Swarm(cmd::swarm::SwarmCmd),
    /// Manage contexts
    #[command(subcommand)]
    Context(cmd::context::ContextCmd),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(cmd::network::NetworkCmd),
    /// Manage Docker
    #[command(subcommand)]
    System(SystemCmd),
    /// Manage volumes
    #[command(subcommand)]
    Volume(cmd::volume::VolumeCmd),
}

/// `berth container …`.
#[derive(Debug, Subcommand)]
pub enum ContainerCmd {
    /// Attach local standard input, output, and error streams to a running container
    Attach(cmd::streams::AttachArgs),
    /// Create a new image from a container's changes
    Commit(cmd::image_ops::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cmd::cp::CpArgs),
    /// Create a new container
    Create(cmd::run::CreateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(cmd::inspect::DiffArgs),
    /// Execute a command in a running container
    Exec(cmd::streams::ExecArgs),
    /// Export a container's filesystem as a tar archive
    Export(cmd::export::ExportArgs),
    /// Display detailed information on one or more containers
    Inspect(cmd::inspect::ContainerInspectArgs),
    /// Kill one or more running containers
    Kill(cmd::lifecycle::KillArgs),
    /// Fetch the logs of a container
    Logs(cmd::streams::LogsArgs),
    /// List containers
    #[command(visible_alias = "ps", alias = "list")]
    Ls(cmd::ps::PsArgs),
    /// Pause all processes within one or more containers
    Pause(cmd::lifecycle::ContainersArgs),
    /// List port mappings or a specific mapping for the container
    Port(cmd::inspect::PortArgs),
    /// Remove all stopped containers
    Prune(cmd::lifecycle::PruneArgs),
    /// Rename a container
    Rename(cmd::lifecycle::RenameArgs),
    /// Restart one or more containers
    Restart(cmd::lifecycle::StopArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(cmd::lifecycle::RmArgs),
    /// Create and run a new container from an image
    Run(cmd::run::RunArgs),
    /// Start one or more stopped containers
    Start(cmd::streams::StartArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(cmd::stats::StatsArgs),
    /// Stop one or more running containers
    Stop(cmd::lifecycle::StopArgs),
    /// Display the running processes of a container
    Top(cmd::inspect::TopArgs),
    /// Unpause all processes within one or more containers
    Unpause(cmd::lifecycle::ContainersArgs),
    /// Update configuration of one or more containers
    Update(cmd::lifecycle::UpdateArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(cmd::lifecycle::ContainersArgs),
}

/// `berth image …`.
#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// Build an image from a Dockerfile
    Build(Box<cmd::build::BuildArgs>),
    /// Show the history of an image
    History(cmd::images::HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(cmd::image_ops::ImportArgs),
    /// Display detailed information on one or more images
    Inspect(cmd::inspect::ImageInspectArgs),
    /// Load an image from a tar archive or STDIN
    Load(cmd::image_ops::LoadArgs),
    /// List images
    #[command(alias = "list")]
    Ls(cmd::images::ImagesArgs),
    /// Remove unused images
    Prune(cmd::image_ops::ImagePruneArgs),
    /// Download an image from a registry
    Pull(cmd::registry::PullArgs),
    /// Upload an image to a registry
    Push(cmd::registry::PushArgs),
    /// Remove one or more images
    #[command(alias = "remove", alias = "rmi")]
    Rm(cmd::image_ops::RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(cmd::image_ops::SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(cmd::image_ops::TagArgs),
}

/// `berth system …`.
#[derive(Debug, Subcommand)]
pub enum SystemCmd {
    /// Show docker disk usage
    Df(cmd::system::DfArgs),
    /// Get real time events from the server
    Events(cmd::system::EventsArgs),
    /// Display system-wide information
    Info(cmd::system::InfoArgs),
    /// Remove unused data
    Prune(cmd::system::SystemPruneArgs),
}

/// The clap command tree with docker's conventions applied to every command: no
/// automatic `-h`/`--help` (`-h` is `--hostname` for `run`; help is handled before
/// parsing), no `help` subcommand, repeated flags override (pflag keeps the last) and
/// negative numbers are values (`-n -1`).
pub fn command() -> clap::Command {
    fn adjust(c: clap::Command) -> clap::Command {
        c.disable_help_flag(true)
            .disable_help_subcommand(true)
            .disable_version_flag(true)
            .args_override_self(true)
            .allow_negative_numbers(true)
            .mut_subcommands(adjust)
    }
    adjust(Cli::command())
}

/// What [`normalize`] found in the command line.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The command's words as typed (`["container", "ls"]`), resolved through aliases
    /// to clap's names in `names`.
    pub words: Vec<String>,
    pub names: Vec<String>,
    /// `--help` was given before the command's arguments.
    pub help: bool,
    /// Help was asked for with docker's deprecated shorthand `-h`.
    pub help_shorthand: bool,
    /// `berth help [command]`: the words after `help` (flags included).
    pub help_command: Option<Vec<String>>,
    /// The rewritten arguments for clap.
    pub args: Vec<OsString>,
}

impl Resolved {
    /// `berth container ls`, as docker names a command in messages: by its canonical
    /// names, whichever alias was typed.
    pub fn path(&self) -> String {
        let mut p = PROG.to_string();
        for w in &self.names {
            p.push(' ');
            p.push_str(w);
        }
        p
    }
}

/// Walks the arguments along the command tree: finds the command path, notes
/// `--help`, and rewrites `--flag=true|false` of boolean flags into clap's form
/// (`--flag` or nothing).
pub fn normalize(root: &clap::Command, argv: Vec<OsString>) -> Resolved {
    let mut r = Resolved::default();
    let mut it = argv.into_iter();
    if let Some(a0) = it.next() {
        r.args.push(a0);
    }
    let mut cur = root;
    let mut positional_seen = false;
    let mut verbatim = false;
    let mut pending_value = false;
    while let Some(arg) = it.next() {
        let s = arg.to_string_lossy().into_owned();
        if verbatim || pending_value {
            pending_value = false;
            r.args.push(arg);
            continue;
        }
        if s == "--" {
            verbatim = true;
            r.args.push(arg);
            continue;
        }
        if s == "help"
            && r.words.is_empty()
            && !positional_seen
            && cur.find_subcommand("help").is_none()
        {
            // docker's hidden `help` command; what follows names the topic.
            r.help_command = Some(
                it.by_ref()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
            );
            break;
        }
        match s.as_str() {
            "--help" | "--help=true" | "--help=1" | "--help=t" | "--help=T" | "--help=TRUE"
            | "--help=True" => {
                r.help = true;
                continue;
            }
            "--help=false" | "--help=0" | "--help=f" | "--help=F" | "--help=FALSE"
            | "--help=False" => continue,
            _ => {}
        }
        if let Some(long) = s.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let a = cur
                .get_arguments()
                .find(|a| a.get_long() == Some(name) || has_long_alias(a, name));
            match (a, value) {
                (Some(a), Some(v)) if is_bool(a) => match v {
                    "true" | "1" | "t" | "T" | "TRUE" | "True" => {
                        r.args.push(format!("--{name}").into())
                    }
                    "false" | "0" | "f" | "F" | "FALSE" | "False" => {}
                    _ => r.args.push(arg),
                },
                (Some(a), None) if takes_value(a) => {
                    pending_value = true;
                    r.args.push(arg);
                }
                _ => r.args.push(arg),
            }
            continue;
        }
        if s.len() > 1 && s.starts_with('-') && !is_number(&s) {
            // A cluster of short flags: the first one taking a value takes the rest
            // of the word, or the next word. `-h`, where it is not a flag of the
            // command (`run -h` is `--hostname`), is docker's deprecated `--help`.
            let chars: Vec<char> = s[1..].chars().collect();
            let mut kept = String::from("-");
            for (i, c) in chars.iter().enumerate() {
                let a = cur.get_arguments().find(|a| a.get_short() == Some(*c));
                match a {
                    Some(a) if takes_value(a) => {
                        pending_value = i + 1 == chars.len();
                        kept.extend(&chars[i..]);
                        break;
                    }
                    None if *c == 'h' => {
                        r.help = true;
                        r.help_shorthand = true;
                    }
                    _ => kept.push(*c),
                }
            }
            if kept.len() > 1 {
                r.args.push(kept.into());
            }
            continue;
        }
        if !positional_seen {
            if let Some(sub) = cur
                .get_subcommands()
                .find(|c| c.get_name() == s || c.get_all_aliases().any(|al| al == s))
            {
                r.words.push(s.clone());
                r.names.push(sub.get_name().to_string());
                cur = sub;
                r.args.push(arg);
                continue;
            }
            if cur.has_subcommands() {
                // An unknown command: clap reports it.
                positional_seen = true;
                r.args.push(arg);
                continue;
            }
        }
        positional_seen = true;
        // After the first positional of a command with a trailing command line
        // (run IMAGE CMD…, exec CONTAINER CMD…), everything belongs to it: a `--`
        // tells clap so, and keeps flags before it (`run --foo IMAGE`) flags.
        if cur.get_positionals().any(|p| p.is_trailing_var_arg_set()) {
            verbatim = true;
            r.args.push("--".into());
        }
        r.args.push(arg);
    }
    r
}

fn has_long_alias(a: &clap::Arg, name: &str) -> bool {
    a.get_all_aliases().is_some_and(|v| v.contains(&name))
}

fn is_bool(a: &clap::Arg) -> bool {
    matches!(a.get_action(), ArgAction::SetTrue)
}

fn takes_value(a: &clap::Arg) -> bool {
    a.get_action().takes_values() && a.get_num_args().is_none_or(|n| n.min_values() > 0)
}

fn is_number(s: &str) -> bool {
    s.parse::<f64>().is_ok()
}

/// Checks the flags of a command whose help was asked for: cobra reports a flag
/// error before it prints help, but not an unknown subcommand or a positional.
pub fn check_flags_for_help(root: clap::Command, resolved: &Resolved) -> Result<(), CliError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let usage_cmd = find(&root, &resolved.names).clone();
    let Err(e) = root.try_get_matches_from(resolved.args.iter().cloned()) else {
        return Ok(());
    };
    let positional = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(a)) => !a.starts_with('-'),
        _ => false,
    };
    match e.kind() {
        ErrorKind::InvalidSubcommand
        | ErrorKind::MissingSubcommand
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Ok(()),
        ErrorKind::UnknownArgument if positional => Ok(()),
        _ => Err(clap_error(e, resolved, &usage_cmd)),
    }
}

/// Parses the rewritten arguments; a clap error becomes docker's usage error.
pub fn parse(root: clap::Command, resolved: &Resolved) -> Result<Cli, CliError> {
    let usage_cmd = find(&root, &resolved.names).clone();
    let m = root
        .try_get_matches_from(resolved.args.iter().cloned())
        .map_err(|e| clap_error(e, resolved, &usage_cmd))?;
    Cli::from_arg_matches(&m).map_err(|e| clap_error(e, resolved, &usage_cmd))
}

/// The command at `names` below `root`.
pub fn find<'a>(root: &'a clap::Command, names: &[String]) -> &'a clap::Command {
    let mut cur = root;
    for n in names {
        match cur.find_subcommand(n) {
            Some(c) => cur = c,
            None => break,
        }
    }
    cur
}

/// The usage line of a command: `berth ps [OPTIONS]`.
pub fn usage_line(path: &str, cmd: &clap::Command) -> String {
    // clap has no getter for the usage text; its rendering starts with "Usage: ".
    let rendered = cmd.clone().render_usage().to_string();
    let u = if cmd.has_subcommands() {
        "COMMAND".to_string()
    } else {
        // An empty usage (`context show`) renders as "Usage:" alone.
        rendered
            .strip_prefix("Usage:")
            .map(|u| u.strip_prefix(' ').unwrap_or(u))
            .unwrap_or(&rendered)
            .to_string()
    };
    // Further lines are other forms of the command, which docker spells with the
    // program and the command's own name (`docker cp …` under `container cp` too).
    let mut lines = u.lines();
    let first = lines.next().unwrap_or("");
    let mut text = if first.is_empty() {
        path.to_string()
    } else {
        format!("{path} {first}")
    };
    for l in lines {
        text.push_str(&format!("\n\t{PROG} {} {l}", cmd.get_name()));
    }
    text
}

/// Docker's flag error: the message, the usage, a pointer to `--help`; status 125.
pub fn usage_error(msg: &str, path: &str, cmd: &clap::Command) -> CliError {
    CliError::with_code(
        format!(
            "{msg}\n\nUsage:  {}\n\nRun '{path} --help' for more information",
            usage_line(path, cmd)
        ),
        125,
    )
}

fn clap_error(e: clap::Error, r: &Resolved, cmd: &clap::Command) -> CliError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let path = r.path();
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.first().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    match e.kind() {
        ErrorKind::InvalidSubcommand => {
            let bad = ctx(ContextKind::InvalidSubcommand);
            let msg = format!("{PROG}: unknown command: {path} {bad}");
            if r.words.is_empty() {
                CliError::new(format!("{msg}\n\nRun '{PROG} --help' for more information"))
            } else {
                // cobra prints the command's `Use`, which for docker's `volume` alone
                // names its COMMAND.
                let usage = if r.names.last().is_some_and(|n| n == "volume") {
                    format!("{path} COMMAND")
                } else {
                    path.clone()
                };
                CliError::new(format!(
                    "{msg}\n\nUsage:  {usage}\n\nRun '{path} --help' for more information"
                ))
            }
        }
        ErrorKind::UnknownArgument => {
            let bad = ctx(ContextKind::InvalidArg);
            let flag = bad.split('=').next().unwrap_or(&bad).to_string();
            if let Some(short) = flag.strip_prefix('-').filter(|f| !f.starts_with('-')) {
                let c = short.chars().next().unwrap_or('?');
                let word = r
                    .args
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .find(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(c))
                    .unwrap_or(flag.clone());
                usage_error(
                    &format!("unknown shorthand flag: '{c}' in {word}"),
                    &path,
                    cmd,
                )
            } else if !flag.starts_with('-') {
                // An argument where the command takes none.
                arg_count_error(&path, cmd, "accepts no arguments")
            } else {
                usage_error(&format!("unknown flag: {flag}"), &path, cmd)
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = ctx(ContextKind::InvalidArg);
            let value = ctx(ContextKind::InvalidValue);
            if value.is_empty() {
                let name = arg.split_whitespace().next().unwrap_or(&arg);
                return usage_error(
                    &format!("flag needs an argument: {}", as_typed(name, r, cmd)),
                    &path,
                    cmd,
                );
            }
            usage_error(
                &format!(
                    "invalid argument \"{value}\" for \"{}\" flag: {}",
                    flag_names(&arg, cmd),
                    value_error(&arg, &value, cmd, &e)
                ),
                &path,
                cmd,
            )
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // docker prints the help of a command group called alone on stderr, and
            // succeeds.
            CliError::with_code(help::render(&r.names, cmd), 0)
        }
        _ => {
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            usage_error(&first, &path, cmd)
        }
    }
}

/// pflag's name of a flag that lacks its value: `--hostname` when typed long,
/// `'h' in -h` when typed as a shorthand.
fn as_typed(long_name: &str, r: &Resolved, cmd: &clap::Command) -> String {
    let long = long_name.trim_start_matches('-');
    let typed_long = r.args.iter().any(|a| {
        let a = a.to_string_lossy();
        a == long_name || a.starts_with(&format!("{long_name}="))
    });
    let short = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_short());
    match short {
        // The shorthand needing a value ends its cluster (it would take the rest as
        // its value), and pflag names the cluster from that shorthand on.
        Some(c) if !typed_long => format!("'{c}' in -{c}"),
        _ => long_name.to_string(),
    }
}

/// `-n, --last` for an argument clap names `--last <int>`.
fn flag_names(arg: &str, cmd: &clap::Command) -> String {
    // clap names `--flag <type>`, or `--flag[=<>]` for an optional value.
    let long = arg
        .split([' ', '['])
        .next()
        .unwrap_or(arg)
        .trim_start_matches('-');
    match cmd.get_arguments().find(|a| a.get_long() == Some(long)) {
        Some(a) => match a.get_short() {
            Some(s) => format!("-{s}, --{long}"),
            None => format!("--{long}"),
        },
        None => arg.to_string(),
    }
}

/// Go's parse error for a flag's type (`strconv.ParseInt: parsing "x": invalid syntax`).
fn value_error(arg: &str, value: &str, cmd: &clap::Command, e: &clap::Error) -> String {
    // clap names `--flag <type>`, or `--flag[=<>]` for an optional value.
    let long = arg
        .split([' ', '['])
        .next()
        .unwrap_or(arg)
        .trim_start_matches('-');
    let ty = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| {
            a.get_value_names()
                .and_then(|v| v.first())
                .map(|s| s.to_string())
        })
        .unwrap_or_default();
    match ty.as_str() {
        "int" => format!("strconv.ParseInt: parsing \"{value}\": invalid syntax"),
        "uint16" => format!("strconv.ParseUint: parsing \"{value}\": invalid syntax"),
        _ => source_text(e),
    }
}

fn source_text(e: &clap::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(s) => s.to_string(),
        None => "invalid syntax".to_string(),
    }
}

/// Docker's positional-count error (status 1): `berth: 'berth rm' requires at least 1
/// argument`.
pub fn arg_count_error(path: &str, cmd: &clap::Command, what: &str) -> CliError {
    // docker v28's RequiresMaxArgs prints "SRun" (a typo of its own, kept so
    // scripts see the same text).
    // RequiresRangeArgs ("at least N and at most M") says "Run".
    let see = if what.contains(" and at most ") {
        "Run"
    } else if what.contains("at least") {
        "See"
    } else if what.contains("at most") {
        "SRun"
    } else {
        "Run"
    };
    CliError::new(format!(
        "{PROG}: '{path}' {what}\n\nUsage:  {}\n\n{see} '{path} --help' for more information",
        usage_line(path, cmd)
    ))
}

/// How many positionals a command takes (docker's `cli.RequiresMinArgs` and friends).
#[derive(Debug, Clone, Copy)]
pub enum Arity {
    None,
    Exact(usize),
    Min(usize),
    Max(usize),
    Range(usize, usize),
}

/// Checks the positional count of the command at `path`.
pub fn check_arity(
    n: usize,
    arity: Arity,
    path: &str,
    cmd: &clap::Command,
) -> Result<(), CliError> {
    let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
    let what = match arity {
        Arity::None if n > 0 => "accepts no arguments".to_string(),
        Arity::Exact(k) if n != k => format!("requires {k} {}", plural(k)),
        Arity::Min(k) if n < k => format!("requires at least {k} {}", plural(k)),
        Arity::Max(k) if n > k => format!("requires at most {k} {}", plural(k)),
        Arity::Range(lo, hi) if n < lo || n > hi => {
            format!("requires at least {lo} and at most {hi} {}", plural(hi))
        }
        _ => return Ok(()),
    };
    Err(arg_count_error(path, cmd, &what))
}

#[cfg(test)]
mod tests;
