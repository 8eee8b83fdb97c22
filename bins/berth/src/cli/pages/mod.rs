//! docker v28's help text for each command berth has: the description, the aliases
//! line and the usage of every flag, worded as docker words them (help pages are part
//! of the interface scripts and people read, so they are data, not prose of our own).
//!
//! A page lists docker's flags; `--help` shows those of them the command's clap
//! definition has (so a flag berth does not parse never appears), sorted by name as
//! pflag sorts them. The usage texts keep their own line breaks (`--cgroupns`) and the
//! `(default …)` suffix pflag appends; the renderer wraps them ([`super::help`]).

mod container;
mod image;
mod misc;
mod rootcmds;
mod run;
mod service;
mod swarm;

/// One flag of a help page, as pflag prints it: `  -a, --attach list   Attach to …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The one-letter form, or "".
    pub short: &'static str,
    pub long: &'static str,
    /// The value's type name pflag shows after the flag ("" for booleans).
    pub ty: &'static str,
    /// The usage text, with its default as docker appends it.
    pub usage: &'static str,
}

const fn fl(
    short: &'static str,
    long: &'static str,
    ty: &'static str,
    usage: &'static str,
) -> Flag {
    Flag {
        short,
        long,
        ty,
        usage,
    }
}

/// The help page of a command.
#[derive(Debug)]
pub struct Page {
    /// The command's paths below the program, canonical names first (`container run`,
    /// `run`): the top-level shortcuts show the same page.
    pub paths: &'static [&'static str],
    /// The description under the usage line (cobra's `Long`, else its `Short`).
    pub about: &'static str,
    /// The names the command answers to, for the `Aliases:` section (none: no section).
    pub aliases: &'static [&'static str],
    /// docker's flags, in groups that pages share.
    pub flags: &'static [&'static [Flag]],
}

/// The `--format` usage of the listing commands.
pub const FORMAT_TABLE: &str = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

/// The `--format` usage of the commands that print one object.
pub const FORMAT_JSON: &str = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

/// The page of the command at `path` (clap's names below the program, space-separated).
pub fn page(path: &str) -> Option<&'static Page> {
    [
        container::PAGES,
        image::PAGES,
        misc::PAGES,
        rootcmds::PAGES,
        service::PAGES,
        swarm::PAGES,
    ]
    .into_iter()
    .flatten()
    .find(|p| p.paths.contains(&path))
}

/// The `--help` flag docker defines on `run` and `create` (whose `-h` is `--hostname`),
/// listed on their pages; berth handles it before parsing.
pub const HELP_FLAG: &str = "help";

/// Flags berth parses that docker v28 leaves out of its help when it talks to a daemon
/// like berthd (API 1.41, Linux, no swarm, not experimental): `(command path, flag)`.
/// berth's help leaves them out as well (the tests check that every other flag berth
/// parses has its line).
#[cfg(test)]
pub const HIDDEN: &[(&str, &str)] = &[
    // Needs an experimental daemon.
    ("build", "squash"),
    ("image build", "squash"),
    ("builder build", "squash"),
    // API 1.46 and later.
    ("push", "platform"),
    ("image push", "platform"),
    // API 1.48 and later.
    ("history", "platform"),
    ("image history", "platform"),
    ("load", "platform"),
    ("image load", "platform"),
    ("save", "platform"),
    ("image save", "platform"),
    ("image inspect", "platform"),
    // API 1.42 and later.
    ("volume prune", "all"),
    // Hidden in docker: the positional VOLUME names the volume.
    ("volume create", "name"),
];

/// The `docker help` command's page.
pub const HELP_COMMAND: Page = Page {
    paths: &["help"],
    about: "Help about the command",
    aliases: &[],
    flags: &[],
};

/// The program's description (`berth --help`).
pub const ROOT_ABOUT: &str = "A self-sufficient runtime for containers";

/// The commands `berth --help` lists first, in docker's order.
pub const COMMON_COMMANDS: &[&str] = &[
    "run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "search", "version",
    "info",
];

/// The management commands `berth --help` lists apart, under "Swarm Commands".
pub const SWARM_COMMANDS: &[&str] = &["config", "node", "secret", "service", "stack", "swarm"];

/// The line that ends `berth --help`.
pub const ROOT_MORE_HELP: &str =
    "For more help on how to use Docker, head to https://docs.docker.com/go/guides/";

/// The global options, with their defaults as docker computes them: the configuration
/// directory (`config_dir`) and the TLS material's directory (`cert_dir`,
/// `DOCKER_CERT_PATH` or the configuration directory).
/// Defaults are quoted like Go's `%q` (Rust's `{:?}` of a string agrees for the
/// printable text paths hold).
pub fn global_flags(config_dir: &str, cert_dir: &str) -> Vec<(Flag, String)> {
    let join = |dir: &str, file: &str| format!("{}/{file}", dir.trim_end_matches('/'));
    let f = |short, long, ty, usage: &str| (fl(short, long, ty, ""), usage.to_string());
    vec![
        f(
            "",
            "config",
            "string",
            &format!("Location of client config files (default {config_dir:?})"),
        ),
        f(
            "c",
            "context",
            "string",
            "Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var and default context set with \"docker context use\")",
        ),
        f("D", "debug", "", "Enable debug mode"),
        f("H", "host", "list", "Daemon socket to connect to"),
        f(
            "l",
            "log-level",
            "string",
            "Set the logging level (\"debug\", \"info\", \"warn\", \"error\", \"fatal\") (default \"info\")",
        ),
        f("", "tls", "", "Use TLS; implied by --tlsverify"),
        f(
            "",
            "tlscacert",
            "string",
            &format!(
                "Trust certs signed only by this CA (default {:?})",
                join(cert_dir, "ca.pem")
            ),
        ),
        f(
            "",
            "tlscert",
            "string",
            &format!(
                "Path to TLS certificate file (default {:?})",
                join(cert_dir, "cert.pem")
            ),
        ),
        f(
            "",
            "tlskey",
            "string",
            &format!(
                "Path to TLS key file (default {:?})",
                join(cert_dir, "key.pem")
            ),
        ),
        f("", "tlsverify", "", "Use TLS and verify the remote"),
        f("v", "version", "", "Print version information and quit"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command of the tree, as `(path, command)`.
    fn walk(prefix: &str, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            let path = if prefix.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{prefix} {}", sub.get_name())
            };
            out.push((path.clone(), sub.clone()));
            walk(&path, sub, out);
        }
    }

    #[test]
    fn every_command_and_flag_has_docker_text() {
        let mut all = Vec::new();
        walk("", &crate::cli::command(), &mut all);
        for (path, cmd) in &all {
            if cmd.has_subcommands() {
                continue;
            }
            let p = page(path).unwrap_or_else(|| panic!("no help page for {path}"));
            for a in cmd.get_arguments() {
                let Some(long) = a
                    .get_long()
                    .filter(|_| !a.is_positional() && !a.is_hide_set())
                else {
                    continue;
                };
                let listed = p
                    .flags
                    .iter()
                    .flat_map(|g| g.iter())
                    .any(|f| f.long == long);
                let hidden = HIDDEN.contains(&(path.as_str(), long));
                assert!(
                    listed != hidden,
                    "{path} --{long}: listed {listed}, hidden {hidden} (exactly one expected)"
                );
                if let Some(f) = p
                    .flags
                    .iter()
                    .flat_map(|g| g.iter())
                    .find(|f| f.long == long)
                {
                    let short = a.get_short().map(String::from).unwrap_or_default();
                    assert_eq!(f.short, short, "{path} --{long}: shorthand");
                }
            }
        }
    }
}
