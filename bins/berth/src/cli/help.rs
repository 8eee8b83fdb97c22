//! `--help` in docker's layout (cobra's template, pflag's option column).

use clap::Command;

use super::{PROG, usage_line};

/// The help text of `cmd`, named `path` as typed.
pub fn render(path: &str, cmd: &Command) -> String {
    let mut out = String::new();
    out.push_str(&format!("\nUsage:  {}\n\n", usage_line(path, cmd)));
    if let Some(about) = cmd.get_about() {
        out.push_str(&format!("{about}\n"));
    }
    let aliases: Vec<&str> = cmd.get_all_aliases().collect();
    if !aliases.is_empty() {
        let parent = path.rsplit_once(' ').map(|(p, _)| p).unwrap_or(PROG);
        let mut names = vec![format!("{parent} {}", cmd.get_name())];
        names.extend(aliases.iter().map(|a| format!("{parent} {a}")));
        out.push_str(&format!("\nAliases:\n  {}\n", names.join(", ")));
    }
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    if !subs.is_empty() {
        let pad = subs
            .iter()
            .map(|c| c.get_name().len())
            .max()
            .unwrap_or(0)
            .max(11);
        out.push_str("\nCommands:\n");
        for c in &subs {
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            out.push_str(&format!("  {:<pad$} {about}\n", c.get_name()));
        }
    }
    let opts = options(cmd);
    if !opts.is_empty() {
        let title = if path == PROG {
            "Global Options"
        } else {
            "Options"
        };
        out.push_str(&format!("\n{title}:\n{opts}"));
    }
    if !subs.is_empty() {
        out.push_str(&format!(
            "\nRun '{path} COMMAND --help' for more information on a command.\n"
        ));
    }
    out
}

/// pflag's option column: `  -a, --all           Show all…`, the help one space past
/// the longest flag.
fn options(cmd: &Command) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    for a in cmd.get_arguments() {
        if a.is_positional() || a.is_hide_set() {
            continue;
        }
        let Some(long) = a.get_long() else { continue };
        let mut left = match a.get_short() {
            Some(s) => format!("  -{s}, --{long}"),
            None => format!("      --{long}"),
        };
        if a.get_action().takes_values() {
            let ty = a
                .get_value_names()
                .and_then(|v| v.first())
                .map(|s| s.to_string())
                .unwrap_or_else(|| "string".to_string());
            left.push(' ');
            left.push_str(&ty);
        }
        let mut help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
        let defaults: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        if let Some(d) = defaults.first().filter(|d| !d.is_empty() && *d != "false") {
            help.push_str(&format!(" (default {d})"));
        }
        lines.push((left, help));
    }
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (l, h) in lines {
        out.push_str(&format!("{l:<width$}   {h}\n"));
    }
    out
}
