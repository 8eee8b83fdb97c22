//! The Dockerfile's line structure: parser directives, comments, line
//! continuations, heredocs, and the split of each instruction into its
//! keyword, flags and argument text.
//!
//! Vocabulary (docker's): a *directive* is a `# name=value` comment at the
//! very top of the file (`syntax`, `escape`, `check`); the first line that
//! is not one ends them. An *instruction* is a keyword and its arguments,
//! possibly continued over several physical lines with the escape
//! character at the end of a line; comment lines and blank lines inside a
//! continuation are skipped. A *heredoc* (`<<EOF`, `<<-EOF`, `<<"EOF"`)
//! in a RUN, COPY or ADD line takes the physical lines after the
//! instruction up to its terminator.
//!
//! [`parse`] gives a [`Node`] per instruction with its raw argument text;
//! the `instructions` module gives them meaning.

use crate::lex::{Lexer, NoVars};

/// A parse failure at a line (1-based), worded like docker's classic
/// builder: `dockerfile parse error line 4: unknown instruction: FOO`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dockerfile parse error line {line}: {message}")]
pub struct ParseError {
    /// The Dockerfile's name in the build context (`Dockerfile`).
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// The directives found at the top of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub escape: char,
    /// `# syntax=` (recorded; the classic builder has no frontends).
    pub syntax: Option<String>,
    /// `# check=` (recorded).
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            check: None,
        }
    }
}

/// One heredoc of an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The terminator, quotes removed (also the file name COPY gives it).
    pub name: String,
    /// The lines up to the terminator, each ending in `\n`, leading tabs
    /// already removed for `<<-`.
    pub content: String,
    /// Whether variables in the content are substituted (the terminator
    /// was not quoted).
    pub expand: bool,
    /// `<<-`: leading tabs removed from the content and the terminator.
    pub chomp: bool,
    /// A file descriptor before `<<` (`3<<EOF`), 0 when none.
    pub fd: u32,
}

/// One instruction as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The keyword, lowercased (instructions are case-insensitive).
    pub keyword: String,
    /// The joined line as written (keyword in its own case), without the
    /// continuation characters: what "Step N/M : …" shows.
    pub original: String,
    /// The leading `--flag[=value]` words.
    pub flags: Vec<String>,
    /// The argument text after the flags, trimmed.
    pub rest: String,
    pub heredocs: Vec<Heredoc>,
    pub start_line: usize,
    pub end_line: usize,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    pub directives: Directives,
    pub nodes: Vec<Node>,
    /// Things docker warns about (empty continuation lines).
    pub warnings: Vec<String>,
}

fn directive_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
            .unwrap_or_else(|e| unreachable!("a constant regex: {e}"))
    })
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips a continuation character (the escape character followed only by
/// blanks) from the end of `line`; true when the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(s) => (s, false),
        None => (line, true),
    }
}

/// Parses `text` (the Dockerfile named `file`).
pub fn parse(file: &str, text: &str) -> Result<Ast, ParseError> {
    let err = |line: usize, message: String| ParseError {
        file: file.to_string(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    // `split` yields one empty piece after a final newline: not a line.
    let count = if text.ends_with('\n') {
        lines.len() - 1
    } else {
        lines.len()
    };
    let mut d = Directives::default();
    let mut seen = Vec::new();
    let mut directives_done = false;
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    let mut i = 0;
    while i < count {
        let raw = lines[i];
        i += 1;
        let lineno = i;
        if !directives_done {
            match directive_re().captures(raw) {
                Some(c) => {
                    let name = c[1].to_ascii_lowercase();
                    let value = c[2].to_string();
                    match name.as_str() {
                        "escape" | "syntax" | "check" => {
                            if seen.contains(&name) {
                                return Err(err(
                                    lineno,
                                    format!("only one {name} parser directive can be used"),
                                ));
                            }
                            seen.push(name.clone());
                            match name.as_str() {
                                "escape" => {
                                    d.escape = match value.as_str() {
                                        "\\" => '\\',
                                        "`" => '`',
                                        _ => {
                                            return Err(err(
                                                lineno,
                                                format!(
                                                    "invalid escape token '{value}' does not match ` or \\"
                                                ),
                                            ));
                                        }
                                    }
                                }
                                "syntax" => d.syntax = Some(value),
                                _ => d.check = Some(value),
                            }
                            continue;
                        }
                        _ => directives_done = true,
                    }
                }
                None => directives_done = true,
            }
        }
        let first = raw.trim_start();
        if first.starts_with('#') {
            continue;
        }
        let (mut line, mut ended) = trim_continuation(first, d.escape);
        let mut joined = line.to_string();
        if ended && line.trim().is_empty() {
            continue;
        }
        let start = lineno;
        let mut empty_continuation = false;
        while !ended && i < count {
            let next = lines[i];
            i += 1;
            if is_comment(next) {
                continue;
            }
            if next.trim().is_empty() {
                empty_continuation = true;
                continue;
            }
            (line, ended) = trim_continuation(next, d.escape);
            joined.push_str(line);
        }
        if empty_continuation {
            warnings.push(format!(
                "[WARNING]: Empty continuation line found in:\n    {joined}"
            ));
        }
        let mut node = split_node(&joined, d.escape).map_err(|m| err(start, m))?;
        node.start_line = start;
        node.end_line = i;
        if matches!(node.keyword.as_str(), "run" | "copy" | "add") {
            for mut h in heredocs_of(&node.rest, d.escape) {
                let mut terminated = false;
                while i < count {
                    let l = lines[i];
                    i += 1;
                    let candidate = if h.chomp {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if candidate == h.name {
                        terminated = true;
                        break;
                    }
                    h.content.push_str(candidate);
                    h.content.push('\n');
                }
                if !terminated {
                    return Err(err(start, "unterminated heredoc".into()));
                }
                node.heredocs.push(h);
            }
            node.end_line = i;
        }
        nodes.push(node);
    }
    Ok(Ast {
        directives: d,
        nodes,
        warnings,
    })
}

/// Splits a joined line into keyword, flags and the rest.
fn split_node(line: &str, escape: char) -> Result<Node, String> {
    let trimmed = line.trim();
    let (keyword, args) = match trimmed.find(char::is_whitespace) {
        Some(p) => (&trimmed[..p], trimmed[p..].trim_start()),
        None => (trimmed, ""),
    };
    let (flags, rest) = extract_flags(args, escape)?;
    Ok(Node {
        keyword: keyword.to_ascii_lowercase(),
        original: trimmed.to_string(),
        flags,
        rest: rest.trim().to_string(),
        heredocs: Vec::new(),
        start_line: 0,
        end_line: 0,
    })
}

/// The leading `--name[=value]` words of `args` (quotes removed from
/// them) and the text after them. `--` alone ends the flags.
pub fn extract_flags(args: &str, escape: char) -> Result<(Vec<String>, &str), String> {
    let mut flags = Vec::new();
    let mut rest = args;
    loop {
        let t = rest.trim_start();
        if !t.starts_with("--") {
            return Ok((flags, t));
        }
        // The flag word runs to unquoted whitespace.
        let mut end = t.len();
        let mut quote: Option<char> = None;
        let mut it = t.char_indices().peekable();
        while let Some((p, c)) = it.next() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == escape => {
                    it.next();
                }
                None if c.is_whitespace() => {
                    end = p;
                    break;
                }
                None => {}
            }
        }
        if quote.is_some() {
            return Err(format!("unterminated quote in flag {}", &t[..end]));
        }
        let word = &t[..end];
        rest = &t[end..];
        if word == "--" {
            return Ok((flags, rest.trim_start()));
        }
        let flag = Lexer::new(escape)
            .process_word(word, &NoVars)
            .map_err(|e| e.to_string())?;
        flags.push(flag);
    }
}

/// Splits on whitespace outside quotes, keeping quotes and escapes in the
/// words (docker's `parseWords`, used for ENV, LABEL and ARG).
pub fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut it = rest.chars().peekable();
    while let Some(c) = it.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            if c == escape && q != '\'' {
                match it.next() {
                    Some(n) => {
                        word.push(c);
                        word.push(n);
                        continue;
                    }
                    None => {
                        quote = None;
                        continue;
                    }
                }
            }
            word.push(c);
            continue;
        }
        if !in_word {
            if c.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        if c.is_whitespace() {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            blank_ok = false;
            in_word = false;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            blank_ok = true;
        }
        if c == escape {
            // An escape at the very end is skipped.
            if let Some(n) = it.next() {
                word.push(c);
                word.push(n);
            }
            continue;
        }
        word.push(c);
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// The heredocs a RUN/COPY/ADD argument text opens, in order.
fn heredocs_of(rest: &str, escape: char) -> Vec<Heredoc> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"^(\d*)<<(-?)([^<]+)$")
            .unwrap_or_else(|e| unreachable!("a constant regex: {e}"))
    });
    let mut out = Vec::new();
    for w in parse_words(rest, escape) {
        let Some(c) = re.captures(&w) else { continue };
        let raw = &c[3];
        // The terminator is one word once quotes are removed.
        let Ok(names) = Lexer::new(escape).process_words(raw, &NoVars) else {
            continue;
        };
        let [name] = names.as_slice() else { continue };
        out.push(Heredoc {
            name: name.clone(),
            content: String::new(),
            expand: !raw.contains(['\'', '"']),
            chomp: &c[2] == "-",
            fd: c[1].parse().unwrap_or(0),
        });
    }
    out
}

/// A JSON array of strings (the exec form), or `None` when the text is
/// not JSON; a JSON array holding anything but strings is an error.
pub fn parse_json_array(rest: &str) -> Result<Option<Vec<String>>, String> {
    let t = rest.trim();
    if !t.starts_with('[') {
        return Ok(None);
    }
    let Ok(v) = serde_json::from_str::<Vec<serde_json::Value>>(t) else {
        return Ok(None);
    };
    v.into_iter()
        .map(|x| match x {
            serde_json::Value::String(s) => Ok(s),
            _ => {
                Err("when using JSON array syntax, arrays must be comprised of strings only".into())
            }
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
