//! berth-runc: an OCI runtime with runc's command-line contract.
//!
//! Thin: arguments → a `berth_runtime` call → runc's output and exit codes.
//! Runtime errors exit 1 (255 for `exec`, as runc), after one log line.

mod commands;
mod foreground;
mod logging;
mod selfexe;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `--version`, in runc's layout (`NAME version X`, then `key: value` lines).
fn print_version() {
    let seccomp = berth_runtime::seccomp::library_version().unwrap_or_else(|| "unknown".into());
    println!(
        "berth-runc version {v}\ncommit: berth-{v}\nspec: {spec}\nlibseccomp: {seccomp}",
        v = env!("CARGO_PKG_VERSION"),
        spec = berth_runtime::state::OCI_VERSION,
    );
}

#[derive(Parser, Debug)]
#[command(
    name = "berth-runc",
    disable_version_flag = true,
    about = "Open Container Initiative runtime (runc-compatible)",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Root directory for storage of container state
    #[arg(long, global = true, default_value = "/run/berth-runc")]
    pub root: PathBuf,
    /// Set the log file to write runtime logs to (default is stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Set the log format
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: logging::Format,
    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Enable systemd cgroup support (not supported by berth-runc)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Ignore cgroup permission errors (accepted for compatibility; only
    /// before the command, as `--rootless=true`, since `spec --rootless` is
    /// the command's own flag)
    #[arg(
        long = "rootless",
        id = "global_rootless",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub rootless: Option<String>,
    /// Path to the criu binary (checkpointing is not supported)
    #[arg(long, hide = true)]
    pub criu: Option<String>,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    /// Path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's init pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (MS_MOVE + chroot instead)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors (from 3) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a container
    Create(CreateArgs),
    /// Execute the user-defined process in a created container
    Start { id: String },
    /// Create and run a container
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Detach from the container's process
        #[arg(short, long)]
        detach: bool,
        /// Do not make the runtime a subreaper (accepted for compatibility)
        #[arg(long = "no-subreaper")]
        no_subreaper: bool,
        /// Keep the container's state after it exits
        #[arg(long)]
        keep: bool,
    },
    /// Output the state of a container
    State { id: String },
    /// Send a signal to the container's init process (default SIGTERM)
    Kill {
        id: String,
        signal: Option<String>,
        /// Send the signal to all processes in the container
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container and its resources
    Delete {
        id: String,
        /// Kill the container first if it is still running
        #[arg(short, long)]
        force: bool,
    },
    /// List containers started with the given root
    #[command(alias = "ls")]
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Display only container ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Display the processes running inside a container
    Ps {
        id: String,
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Options passed to ps(1) (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Execute a new process inside the container
    Exec(commands::ExecArgs),
    /// Suspend all processes in the container
    Pause { id: String },
    /// Resume all processes that were paused
    Resume { id: String },
    /// Display container events such as OOM notifications and resource usage
    Events {
        id: String,
        /// Display the container's stats then exit
        #[arg(long)]
        stats: bool,
        /// Stats collection interval
        #[arg(long, default_value = "5s")]
        interval: String,
    },
    /// Update container resource constraints
    Update(commands::UpdateArgs),
    /// Create a new specification file
    Spec {
        /// Path to the root of the bundle directory
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Generate a configuration for a rootless container
        #[arg(long)]
        rootless: bool,
    },
    /// Show the enabled features
    Features,
}

fn main() {
    let mut cli = Cli::parse();
    if cli.version {
        print_version();
        return;
    }
    let Some(cmd) = cli.cmd.take() else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        std::process::exit(1);
    };
    logging::init(cli.log.as_deref(), cli.log_format, cli.debug);
    // CVE-2019-5736: never expose the on-disk binary to a container (see
    // selfexe.rs for when that can happen).
    let exposed = match &cmd {
        Cmd::Exec(_) => true,
        Cmd::Create(a) | Cmd::Run { create: a, .. } => !selfexe::gets_new_pid_namespace(&a.bundle),
        _ => false,
    };
    if exposed {
        if let Err(e) = selfexe::ensure_cloned() {
            logging::fatal(&e.to_string());
            std::process::exit(1);
        }
    }
    let is_exec = matches!(cmd, Cmd::Exec(_));
    match commands::dispatch(&cli, cmd) {
        Ok(code) => std::process::exit(code),
        Err(msg) => {
            logging::fatal(&msg);
            std::process::exit(if is_exec { 255 } else { 1 });
        }
    }
}
