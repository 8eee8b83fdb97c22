//! `--help` in docker's layout: the usage template docker gives cobra (usage line,
//! description, `Aliases:`, `Options:`, the command lists, the closing hints) and
//! pflag's wrapped flag table. The words come from [`super::pages`]; which flags and
//! subcommands appear comes from the clap tree, so help never offers what berth does
//! not parse.

use clap::Command;

use crate::error::CliError;

use super::pages::{self, Flag, Page};
use super::{PROG, usage_line};

/// What docker prints before the help when `-h` asks for it (its `--help` shorthand
/// is deprecated).
pub const SHORTHAND_DEPRECATED: &str = "Flag shorthand -h has been deprecated, use --help";

/// The help text of the command named by `names` (clap's names below the program).
pub fn render(names: &[String], cmd: &Command) -> String {
    let width = terminal_width();
    if names.is_empty() {
        return render_root(cmd, width);
    }
    let key = names.join(" ");
    let path = format!("{PROG} {key}");
    match pages::page(&key) {
        Some(page) => render_page(&path, cmd, page, width),
        // Every command has a page (a unit test checks); a command without one still
        // gets its usage and its list of commands.
        None => render_page(
            &path,
            cmd,
            &Page {
                paths: &[],
                about: "",
                aliases: &[],
                flags: &[],
            },
            width,
        ),
    }
}

/// `berth help [command]`: the help of the command the words name; a word that names
/// no command is an unknown topic (status 1), a flag other than `--help` a usage
/// error of `help`.
pub fn help_command(root: &Command, words: &[String]) -> Result<String, CliError> {
    let mut names = Vec::new();
    let mut cur = root;
    for w in words {
        if w == "--help" {
            return Ok(render_help_command());
        }
        if let Some(flag) = w.strip_prefix('-').filter(|f| !f.is_empty()) {
            let msg = match flag.strip_prefix('-') {
                Some(long) => format!("unknown flag: --{long}"),
                None => format!(
                    "unknown shorthand flag: '{}' in {w}",
                    flag.chars().next().unwrap_or('-')
                ),
            };
            return Err(CliError::with_code(
                format!(
                    "{msg}\n\nUsage:  {PROG} help [command]\n\nRun '{PROG} help --help' for more information"
                ),
                125,
            ));
        }
    }
    if words.first().is_some_and(|w| w == "help") {
        // The hidden command itself is a topic too.
        return match words.get(1) {
            Some(w) => Err(CliError::new(format!("unknown help topic: {w}"))),
            None => Ok(render_help_command()),
        };
    }
    for w in words {
        match cur
            .get_subcommands()
            .find(|c| c.get_name() == w || c.get_all_aliases().any(|a| a == w))
        {
            Some(c) => {
                names.push(c.get_name().to_string());
                cur = c;
            }
            None => return Err(CliError::new(format!("unknown help topic: {w}"))),
        }
    }
    Ok(render(&names, cur))
}

/// `berth help --help`.
pub fn render_help_command() -> String {
    let p = &pages::HELP_COMMAND;
    format!("Usage:  {PROG} help [command]\n\n{}\n", p.about)
}

/// docker's width for the flag table: the terminal's on standard input, else 80.
fn terminal_width() -> i64 {
    match rustix::termios::tcgetwinsize(std::io::stdin()) {
        Ok(ws) => i64::from(ws.ws_col),
        Err(_) => 80,
    }
}

/// The flags of `page` that `cmd` defines, each with its usage.
pub fn page_flags(cmd: &Command, page: &Page) -> Vec<(Flag, String)> {
    let has = |long: &str| {
        long == pages::HELP_FLAG
            || cmd
                .get_arguments()
                .any(|a| !a.is_positional() && a.get_long() == Some(long))
    };
    page.flags
        .iter()
        .flat_map(|g| g.iter())
        .filter(|f| has(f.long))
        .map(|f| (*f, f.usage.to_string()))
        .collect()
}

fn render_page(path: &str, cmd: &Command, page: &Page, width: i64) -> String {
    let mut out = format!("Usage:  {}\n\n", usage_line(path, cmd));
    let about = if page.about.is_empty() {
        cmd.get_about().map(|a| a.to_string()).unwrap_or_default()
    } else {
        page.about.to_string()
    };
    out.push_str(about.trim());
    if !page.aliases.is_empty() {
        let names: Vec<String> = page.aliases.iter().map(|a| format!("{PROG} {a}")).collect();
        out.push_str(&format!("\n\nAliases:\n  {}", names.join(", ")));
    }
    let flags = page_flags(cmd, page);
    if !flags.is_empty() {
        out.push_str("\n\nOptions:\n");
        out.push_str(&flag_table(flags, width - 1));
    }
    let subs = visible_subcommands(cmd);
    if !subs.is_empty() {
        out.push_str("\n\nCommands:");
        push_command_list(&mut out, cmd, subs.iter().copied());
        out.push_str(&format!(
            "\n\nRun '{path} COMMAND --help' for more information on a command."
        ));
    }
    out.push('\n');
    out
}

fn render_root(root: &Command, width: i64) -> String {
    let mut out = format!("Usage:  {PROG} [OPTIONS] COMMAND\n\n{}", pages::ROOT_ABOUT);
    let subs = visible_subcommands(root);
    let common: Vec<&Command> = pages::COMMON_COMMANDS
        .iter()
        .filter_map(|n| subs.iter().copied().find(|c| c.get_name() == *n))
        .collect();
    if !common.is_empty() {
        out.push_str("\n\nCommon Commands:");
        push_command_list(&mut out, root, common.iter().copied());
    }
    let swarm = |c: &&Command| pages::SWARM_COMMANDS.contains(&c.get_name());
    let management: Vec<&Command> = subs
        .iter()
        .copied()
        .filter(|c| c.has_subcommands() && !swarm(c))
        .collect();
    if !management.is_empty() {
        out.push_str("\n\nManagement Commands:");
        push_command_list(&mut out, root, management.iter().copied());
    }
    let swarm_cmds: Vec<&Command> = subs.iter().copied().filter(swarm).collect();
    if !swarm_cmds.is_empty() {
        out.push_str("\n\nSwarm Commands:");
        push_command_list(&mut out, root, swarm_cmds.iter().copied());
    }
    let rest: Vec<&Command> = subs
        .iter()
        .copied()
        .filter(|c| !c.has_subcommands() && !pages::COMMON_COMMANDS.contains(&c.get_name()))
        .collect();
    if !rest.is_empty() {
        out.push_str("\n\nCommands:");
        push_command_list(&mut out, root, rest.iter().copied());
    }
    let config_dir = crate::config::dir(None).to_string_lossy().into_owned();
    let cert_dir = std::env::var("DOCKER_CERT_PATH")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| config_dir.clone());
    out.push_str("\n\nGlobal Options:\n");
    out.push_str(&flag_table(
        pages::global_flags(&config_dir, &cert_dir),
        width - 1,
    ));
    out.push_str(&format!(
        "\n\nRun '{PROG} COMMAND --help' for more information on a command.\n\n{}\n",
        pages::ROOT_MORE_HELP
    ));
    out
}

/// The subcommands help lists, sorted by name as cobra sorts them.
fn visible_subcommands(cmd: &Command) -> Vec<&Command> {
    let mut subs: Vec<&Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    subs.sort_by(|a, b| a.get_name().cmp(b.get_name()));
    subs
}

/// `  name        Short description` lines; the name column is cobra's `NamePadding`:
/// the longest name among the parent's commands, at least 11.
fn push_command_list<'a>(
    out: &mut String,
    parent: &Command,
    cmds: impl Iterator<Item = &'a Command>,
) {
    let pad = parent
        .get_subcommands()
        .map(|c| c.get_name().len())
        .max()
        .unwrap_or(0)
        .max(11);
    for c in cmds {
        let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
        out.push_str(&format!("\n  {:<pad$} {}", c.get_name(), about.trim()));
    }
}

/// pflag's `FlagUsagesWrapped(cols)`: flags sorted by name, the usage column three
/// places past the longest flag, usages wrapped to `cols` columns; trailing white
/// space trimmed as docker's template does.
pub fn flag_table(mut rows: Vec<(Flag, String)>, cols: i64) -> String {
    rows.sort_by(|a, b| a.0.long.cmp(b.0.long));
    let lefts: Vec<String> = rows
        .iter()
        .map(|(f, _)| {
            let mut l = if f.short.is_empty() {
                format!("      --{}", f.long)
            } else {
                format!("  -{}, --{}", f.short, f.long)
            };
            if !f.ty.is_empty() {
                l.push(' ');
                l.push_str(f.ty);
            }
            l
        })
        .collect();
    // pflag counts a separator byte into the width, then prints two spaces around
    // the padding.
    let maxlen = lefts.iter().map(|l| l.len() + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (left, (_, usage)) in lefts.iter().zip(&rows) {
        out.push_str(left);
        out.push(' ');
        out.push_str(&" ".repeat(maxlen - left.len()));
        out.push(' ');
        out.push_str(&wrap(maxlen + 2, cols, usage));
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// pflag's `wrap`: `s` wrapped to `w` columns with continuation lines indented by
/// `i` (the first line is placed by the caller); a usage's own line breaks are kept
/// and indented. Too narrow a column puts the text on the next line at indent 16,
/// or leaves it unwrapped.
fn wrap(i: usize, w: i64, s: &str) -> String {
    if w == 0 {
        return s.replace('\n', &format!("\n{}", " ".repeat(i)));
    }
    let mut i = i;
    let mut width = w - i as i64;
    let mut r = String::new();
    if width < 24 {
        i = 16;
        width = w - 16;
        r.push('\n');
        r.push_str(&" ".repeat(i));
    }
    if width < 24 {
        return s.replace('\n', &r);
    }
    let indent = format!("\n{}", " ".repeat(i));
    // Short orphan words on the last line are avoided by letting it run a little over.
    let slop = 5;
    let width = (width - slop) as usize;
    let (first, mut rest) = wrap_n(width, slop as usize, s);
    r.push_str(&first.replace('\n', &indent));
    while !rest.is_empty() {
        let (line, more) = wrap_n(width, slop as usize, rest);
        r.push_str(&indent);
        r.push_str(&line.replace('\n', &indent));
        rest = more;
    }
    r
}

/// pflag's `wrapN`: the longest prefix of `s` up to `i` bytes ending at white space
/// (or at an earlier line break), and the rest; all of `s` when it fits with `slop`.
fn wrap_n(i: usize, slop: usize, s: &str) -> (&str, &str) {
    if i + slop > s.len() {
        return (s, "");
    }
    let head = &s.as_bytes()[..i];
    let Some(w) = head.iter().rposition(|b| matches!(b, b' ' | b'\t' | b'\n')) else {
        return (s, "");
    };
    if w == 0 {
        return (s, "");
    }
    if let Some(nl) = head.iter().rposition(|b| *b == b'\n') {
        if nl > 0 && nl < w {
            return (&s[..nl], &s[nl + 1..]);
        }
    }
    // The split points are ASCII white space, so both halves are valid UTF-8.
    (&s[..w], &s[w + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_docker_ps_options() {
        let page = pages::page("ps").expect("ps page");
        let rows = page.flags[0]
            .iter()
            .map(|f| (*f, f.usage.to_string()))
            .collect();
        let docker = "  -a, --all             Show all containers (default shows just running)
  -f, --filter filter   Filter output based on conditions provided
      --format string   Format output using a custom template:
                        'table':            Print output in table format
                        with column headers (default)
                        'table TEMPLATE':   Print output in table format
                        using the given Go template
                        'json':             Print in JSON format
                        'TEMPLATE':         Print output using the given
                        Go template.
                        Refer to https://docs.docker.com/go/formatting/
                        for more information about formatting output with
                        templates
  -n, --last int        Show n last created containers (includes all
                        states) (default -1)
  -l, --latest          Show the latest created container (includes all
                        states)
      --no-trunc        Don't truncate output
  -q, --quiet           Only display container IDs
  -s, --size            Display total file sizes";
        assert_eq!(flag_table(rows, 79), docker);
    }

    #[test]
    fn narrow_terminals_move_the_usage_or_give_up() {
        // Less than 24 columns past the flag, even at indent 16: no wrapping, the
        // usage's own line breaks indented by 16.
        assert_eq!(
            wrap(16, 30, "short\ntext"),
            format!("short\n{}text", " ".repeat(16))
        );
        // No terminal width at all (0 columns): pflag's "no wrapping".
        assert_eq!(wrap(5, 0, "a\nb"), "a\n     b");
        // Wide enough: the text wraps at white space, with slop for the last word.
        assert_eq!(
            wrap(4, 34, "aaaa bbbb cccc dddd eeee ffff gggg"),
            "aaaa bbbb cccc dddd eeee\n    ffff gggg"
        );
    }
}
