//! Instructions with their meaning: each [`Node`] checked and turned into
//! an [`Instruction`], and the file grouped into build stages.
//!
//! Arguments stay unexpanded here: variables are substituted when a step
//! runs, with the environment and build arguments of that moment. What can
//! be checked without them is checked now (flags, argument counts, JSON
//! forms, quoting, stage names, durations), so a bad Dockerfile fails
//! before anything is built, with the line number.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::args::BuildArgs;
use crate::lex::{LexError, Lexer, NoVars};
use crate::parser::{
    self, Ast, Directives, Heredoc, Node, ParseError, parse_json_array, parse_words,
};

/// A command in shell form (run by the build's shell) or exec form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdLine {
    Shell(String),
    Exec(Vec<String>),
}

/// `KEY=value` of ENV and LABEL, unexpanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One name of an ARG, with its default if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub key: String,
    pub default: Option<String>,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copy {
    /// Source words, unexpanded (heredoc names for heredoc sources).
    pub sources: Vec<String>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// ADD's `--checksum` (for URL sources).
    pub checksum: Option<String>,
    pub heredocs: Vec<Heredoc>,
}

/// RUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub cmd: CmdLine,
    pub heredocs: Vec<Heredoc>,
}

/// HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    /// `HEALTHCHECK NONE`.
    pub none: bool,
    pub test: Option<CmdLine>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    Env(Vec<KeyValue>),
    Label(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Run(Run),
    Cmd(CmdLine),
    Entrypoint(CmdLine),
    Shell(Vec<String>),
    Copy(Copy),
    Add(Copy),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Health),
    /// The trigger's text, checked to be a valid instruction.
    Onbuild(String),
    Maintainer(String),
}

/// An instruction and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub line: usize,
    /// The instruction as written (for "Step N/M : …").
    pub original: String,
    pub instruction: Instruction,
}

/// A build stage: a FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS name`, lowercased.
    pub name: Option<String>,
    /// The base: an image reference, `scratch` or a stage name
    /// (unexpanded: meta ARGs may be used in it).
    pub base: String,
    pub platform: Option<String>,
    pub line: usize,
    pub original: String,
    pub commands: Vec<Command>,
}

/// A Dockerfile with meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Directives,
    /// ARGs before the first FROM.
    pub meta_args: Vec<Command>,
    pub stages: Vec<Stage>,
    pub warnings: Vec<String>,
}

impl Dockerfile {
    /// Parses and checks the Dockerfile named `file`.
    pub fn parse(file: &str, text: &str) -> Result<Dockerfile, ParseError> {
        let ast = parser::parse(file, text)?;
        from_ast(file, ast)
    }

    pub fn lexer(&self) -> Lexer {
        Lexer::new(self.directives.escape)
    }

    /// The index of the stage named `name` (or numbered, as `--from=0`).
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| {
                name.parse::<usize>()
                    .ok()
                    .filter(|i| *i < self.stages.len())
            })
    }
}

/// Which stages the target needs: its base and `COPY --from` stages,
/// transitively. Stage references are resolved with the meta args.
pub fn needed_stages(
    df: &Dockerfile,
    target: usize,
    overrides: &BTreeMap<String, Option<String>>,
) -> Vec<bool> {
    let mut args = BuildArgs::new(overrides.clone());
    let lexer = df.lexer();
    for c in &df.meta_args {
        if let Instruction::Arg(decls) = &c.instruction {
            for d in decls {
                let env = args.meta_env();
                let v = d
                    .default
                    .as_ref()
                    .map(|v| lexer.process_word(v, &env).unwrap_or_else(|_| v.clone()));
                args.add_meta(&d.key, v);
            }
        }
    }
    let env = args.meta_env();
    let by_name = |name: &str, before: usize, numeric: bool| -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        df.stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| {
                numeric
                    .then(|| name.parse::<usize>().ok())
                    .flatten()
                    .filter(|i| *i < before)
            })
    };
    let mut needed = vec![false; df.stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if needed[i] {
            continue;
        }
        needed[i] = true;
        let s = &df.stages[i];
        let base = lexer
            .process_word(&s.base, &env)
            .unwrap_or_else(|_| s.base.clone());
        if let Some(j) = by_name(&base, i, false) {
            todo.push(j);
        }
        for c in &s.commands {
            if let Instruction::Copy(cp) = &c.instruction {
                if let Some(f) = &cp.from {
                    let f = lexer.process_word(f, &env).unwrap_or_else(|_| f.clone());
                    if let Some(j) = by_name(&f, i, true) {
                        todo.push(j);
                    }
                }
            }
        }
    }
    needed
}

fn from_ast(file: &str, ast: Ast) -> Result<Dockerfile, ParseError> {
    let escape = ast.directives.escape;
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &ast.nodes {
        let at = |message: String| ParseError {
            file: file.to_string(),
            line: node.start_line,
            message,
        };
        if node.keyword == "from" {
            stages.push(parse_from(node).map_err(at)?);
            continue;
        }
        let instruction = parse_instruction(node, escape).map_err(at)?;
        let cmd = Command {
            line: node.start_line,
            original: node.original.clone(),
            instruction,
        };
        match stages.last_mut() {
            Some(s) => s.commands.push(cmd),
            None if matches!(cmd.instruction, Instruction::Arg(_)) => meta_args.push(cmd),
            None => return Err(at("no build stage in current context".into())),
        }
    }
    if stages.is_empty() {
        return Err(ParseError {
            file: file.to_string(),
            line: ast.nodes.last().map_or(1, |n| n.start_line),
            message: "file with no instructions".into(),
        });
    }
    Ok(Dockerfile {
        directives: ast.directives,
        meta_args,
        stages,
        warnings: ast.warnings,
    })
}

fn stage_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn parse_from(node: &Node) -> Result<Stage, String> {
    let mut flags = Flags::parse(&node.flags, &[("platform", Kind::Str)])?;
    let words: Vec<&str> = node.rest.split_whitespace().collect();
    let (base, name) = match words.as_slice() {
        [base] => (*base, None),
        [base, kw, name] if kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            if !stage_name_ok(&lower) {
                return Err(format!(
                    "invalid name for build stage: \"{name}\", name can't start with a number or contain symbols"
                ));
            }
            (*base, Some(lower))
        }
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    check_quoting(base)?;
    Ok(Stage {
        name,
        base: base.to_string(),
        platform: flags.take_str("platform"),
        line: node.start_line,
        original: node.original.clone(),
        commands: Vec::new(),
    })
}

/// Checks quoting and substitution syntax of a word that will be
/// expanded later (an unset `${X:?}` is not an error yet).
fn check_quoting(word: &str) -> Result<(), String> {
    match Lexer::default().process_word(word, &NoVars) {
        Ok(_) | Err(LexError::Unset { .. }) => Ok(()),
        Err(e) => Err(format!("failed to process \"{word}\": {e}")),
    }
}

fn check_quoting_with(word: &str, escape: char) -> Result<(), String> {
    match Lexer::new(escape).process_word(word, &NoVars) {
        Ok(_) | Err(LexError::Unset { .. }) => Ok(()),
        Err(e) => Err(format!("failed to process \"{word}\": {e}")),
    }
}

fn no_flags(node: &Node) -> Result<(), String> {
    Flags::parse(&node.flags, &[]).map(drop)
}

fn cmd_line(rest: &str) -> Result<CmdLine, String> {
    Ok(match parse_json_array(rest)? {
        Some(v) => CmdLine::Exec(v),
        None => CmdLine::Shell(rest.to_string()),
    })
}

/// `ENV`/`LABEL` pairs: `KEY value` (one pair, old form) or
/// `KEY=value …`.
fn name_values(rest: &str, escape: char, keyword: &str) -> Result<Vec<KeyValue>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(format!("{keyword} requires at least one argument"));
    };
    if !first.contains('=') {
        let mut parts = rest.splitn(2, char::is_whitespace);
        let key = parts.next().unwrap_or("");
        let value = parts.next().map(str::trim_start).unwrap_or("");
        if value.is_empty() {
            return Err(format!("{keyword} must have two arguments"));
        }
        return Ok(vec![KeyValue {
            key: key.to_string(),
            value: value.to_string(),
        }]);
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(format!("{keyword} names can not be blank")),
            Some((k, v)) => Ok(KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            }),
            None => Err(format!(
                "Syntax error - can't find = in \"{w}\". Must be of the form: name=value"
            )),
        })
        .collect()
}

/// Whitespace-separated words or a JSON array (COPY, ADD, VOLUME).
fn json_or_words(rest: &str) -> Result<Vec<String>, String> {
    Ok(match parse_json_array(rest)? {
        Some(v) => v,
        None => rest.split_whitespace().map(str::to_string).collect(),
    })
}

/// Checks `node` and gives its instruction (FROM excepted, see
/// [`Dockerfile::parse`]).
pub fn parse_instruction(node: &Node, escape: char) -> Result<Instruction, String> {
    let rest = node.rest.as_str();
    let one_arg = |kw: &str| -> Result<String, String> {
        if rest.is_empty() {
            return Err(format!("{kw} requires exactly one argument"));
        }
        check_quoting_with(rest, escape)?;
        Ok(rest.to_string())
    };
    Ok(match node.keyword.as_str() {
        "env" | "label" => {
            no_flags(node)?;
            let kw = node.keyword.to_ascii_uppercase();
            let pairs = name_values(rest, escape, &kw)?;
            for p in &pairs {
                check_quoting_with(&p.key, escape)?;
                check_quoting_with(&p.value, escape)?;
            }
            if node.keyword == "env" {
                Instruction::Env(pairs)
            } else {
                Instruction::Label(pairs)
            }
        }
        "arg" => {
            no_flags(node)?;
            let words = parse_words(rest, escape);
            if words.is_empty() {
                return Err("ARG requires at least one argument".into());
            }
            let mut decls = Vec::new();
            for w in words {
                let (key, default) = match w.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (w.clone(), None),
                };
                if key.is_empty() {
                    return Err("ARG names can not be blank".into());
                }
                check_quoting_with(&key, escape)?;
                if let Some(d) = &default {
                    check_quoting_with(d, escape)?;
                }
                decls.push(ArgDecl { key, default });
            }
            Instruction::Arg(decls)
        }
        "run" => {
            let mut flags = Flags::parse(
                &node.flags,
                &[
                    ("mount", Kind::Strs),
                    ("network", Kind::Str),
                    ("security", Kind::Str),
                ],
            )?;
            for f in ["mount", "network", "security"] {
                if flags.used(f) {
                    return Err(format!(
                        "the --{f} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled"
                    ));
                }
            }
            flags.take_str("network");
            if rest.is_empty() {
                return Err("RUN requires at least one argument".into());
            }
            Instruction::Run(Run {
                cmd: cmd_line(rest)?,
                heredocs: node.heredocs.clone(),
            })
        }
        "cmd" => {
            no_flags(node)?;
            Instruction::Cmd(cmd_line(rest)?)
        }
        "entrypoint" => {
            no_flags(node)?;
            Instruction::Entrypoint(cmd_line(rest)?)
        }
        "shell" => {
            no_flags(node)?;
            match parse_json_array(rest)? {
                Some(v) if v.is_empty() => {
                    return Err("SHELL requires at least one argument".into());
                }
                Some(v) => Instruction::Shell(v),
                None => return Err("SHELL requires the arguments to be in JSON form".into()),
            }
        }
        "copy" | "add" => {
            let add = node.keyword == "add";
            let spec: &[(&str, Kind)] = if add {
                &[
                    ("chown", Kind::Str),
                    ("chmod", Kind::Str),
                    ("link", Kind::Bool),
                    ("checksum", Kind::Str),
                    ("keep-git-dir", Kind::Bool),
                ]
            } else {
                &[
                    ("from", Kind::Str),
                    ("chown", Kind::Str),
                    ("chmod", Kind::Str),
                    ("link", Kind::Bool),
                ]
            };
            let mut flags = Flags::parse(&node.flags, spec)?;
            let mut words = json_or_words(rest)?;
            if words.len() < 2 {
                let kw = node.keyword.to_ascii_uppercase();
                return Err(format!(
                    "{kw} requires at least two arguments, but only one was provided. Destination could not be determined."
                ));
            }
            for w in &words {
                check_quoting_with(w, escape)?;
            }
            let dest = words.pop().unwrap_or_default();
            let chmod = flags.take_str("chmod");
            if let Some(m) = &chmod {
                if u32::from_str_radix(m, 8).map_or(true, |v| v > 0o7777) {
                    return Err(format!("invalid chmod parameter: {m:?}"));
                }
            }
            let c = Copy {
                sources: words,
                dest,
                from: flags.take_str("from"),
                chown: flags.take_str("chown"),
                chmod,
                link: flags.take_bool("link"),
                checksum: flags.take_str("checksum"),
                heredocs: node.heredocs.clone(),
            };
            if add {
                Instruction::Add(c)
            } else {
                Instruction::Copy(c)
            }
        }
        "workdir" => {
            no_flags(node)?;
            Instruction::Workdir(one_arg("WORKDIR")?)
        }
        "user" => {
            no_flags(node)?;
            Instruction::User(one_arg("USER")?)
        }
        "stopsignal" => {
            no_flags(node)?;
            Instruction::StopSignal(one_arg("STOPSIGNAL")?)
        }
        "maintainer" => {
            no_flags(node)?;
            Instruction::Maintainer(one_arg("MAINTAINER")?)
        }
        "expose" => {
            no_flags(node)?;
            let ports: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
            if ports.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            for p in &ports {
                check_quoting_with(p, escape)?;
            }
            Instruction::Expose(ports)
        }
        "volume" => {
            no_flags(node)?;
            let vols = json_or_words(rest)?;
            if vols.is_empty() {
                return Err("VOLUME requires at least one argument".into());
            }
            for v in &vols {
                if v.trim().is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                check_quoting_with(v, escape)?;
            }
            Instruction::Volume(vols)
        }
        "healthcheck" => Instruction::Healthcheck(parse_health(node)?),
        "onbuild" => {
            no_flags(node)?;
            if rest.is_empty() {
                return Err("ONBUILD requires at least one argument".into());
            }
            let inner = trigger_node(rest, escape)?;
            match inner.keyword.as_str() {
                "onbuild" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
                }
                "from" | "maintainer" => {
                    return Err(format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        inner.keyword.to_ascii_uppercase()
                    ));
                }
                _ => {}
            }
            parse_instruction(&inner, escape)?;
            Instruction::Onbuild(rest.to_string())
        }
        other => {
            return Err(format!(
                "unknown instruction: {}",
                other.to_ascii_uppercase()
            ));
        }
    })
}

/// The node of an ONBUILD trigger's text (with the outer file's escape
/// character).
pub fn trigger_node(text: &str, escape: char) -> Result<Node, String> {
    let ast =
        parser::parse("ONBUILD", &format!("# escape={escape}\n{text}")).map_err(|e| e.message)?;
    match <[Node; 1]>::try_from(ast.nodes) {
        Ok([n]) => Ok(n),
        Err(_) => Err(format!("invalid ONBUILD trigger {text:?}")),
    }
}

fn parse_health(node: &Node) -> Result<Health, String> {
    let mut flags = Flags::parse(
        &node.flags,
        &[
            ("interval", Kind::Str),
            ("timeout", Kind::Str),
            ("start-period", Kind::Str),
            ("start-interval", Kind::Str),
            ("retries", Kind::Str),
        ],
    )?;
    let rest = node.rest.as_str();
    let (kind, args) = match rest.find(char::is_whitespace) {
        Some(p) => (&rest[..p], rest[p..].trim_start()),
        None => (rest, ""),
    };
    let mut h = Health::default();
    match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !args.is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".into());
            }
            h.none = true;
            return Ok(h);
        }
        "CMD" => {
            if args.is_empty() {
                return Err("Missing command after HEALTHCHECK CMD".into());
            }
            h.test = Some(cmd_line(args)?);
        }
        "" => return Err("HEALTHCHECK requires an argument".into()),
        other => return Err(format!("Unknown type \"{other}\" in HEALTHCHECK (try CMD)")),
    }
    let mut dur = |name: &str, label: &str| -> Result<Duration, String> {
        let Some(v) = flags.take_str(name) else {
            return Ok(Duration::ZERO);
        };
        if v.is_empty() {
            return Ok(Duration::ZERO);
        }
        let d = parse_go_duration(&v)?;
        if d < Duration::from_millis(1) {
            return Err(format!("{label} \"{name}\" cannot be less than 1ms"));
        }
        Ok(d)
    };
    h.interval = dur("interval", "Interval")?;
    h.timeout = dur("timeout", "Timeout")?;
    h.start_period = dur("start-period", "StartPeriod")?;
    h.start_interval = dur("start-interval", "StartInterval")?;
    if let Some(r) = flags.take_str("retries") {
        let n: i64 = r
            .parse()
            .map_err(|_| format!("strconv.ParseInt: parsing \"{r}\": invalid syntax"))?;
        if n < 0 {
            return Err(format!("--retries cannot be negative ({n})"));
        }
        h.retries = n;
    }
    Ok(h)
}

/// Go's `time.ParseDuration` for the non-negative durations flags take:
/// decimal numbers with units ns, us (µs), ms, s, m, h, concatenated.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("time: invalid duration \"{s}\"");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() || rest.starts_with('-') {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(|| format!("time: missing unit in duration \"{s}\""))?;
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{s}\""
                ));
            }
        };
        total += num * unit;
        rest = &rest[u..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// The value kinds of instruction flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Strs,
    Bool,
}

/// An instruction's flags, checked against what it takes (docker's
/// BFlags: `--name=value`, bool flags also bare, no repeats except for
/// list flags).
struct Flags {
    values: Vec<(String, String)>,
}

impl Flags {
    fn parse(raw: &[String], spec: &[(&str, Kind)]) -> Result<Flags, String> {
        let mut values: Vec<(String, String)> = Vec::new();
        for f in raw {
            let Some(body) = f.strip_prefix("--") else {
                return Err(format!("Arg should start with -- : {f}"));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some((_, kind)) = spec.iter().find(|(n, _)| *n == name) else {
                return Err(format!("Unknown flag: {name}"));
            };
            if *kind != Kind::Strs && values.iter().any(|(n, _)| n == name) {
                return Err(format!("Duplicate flag specified: {name}"));
            }
            let value = match (kind, value) {
                (Kind::Bool, None) => "true".to_string(),
                (Kind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                    "true" | "" => "true".into(),
                    "false" => "false".into(),
                    _ => {
                        return Err(format!("expecting boolean value for flag {name}, not: {v}"));
                    }
                },
                (_, None) => return Err(format!("Missing a value on flag: {name}")),
                (_, Some(v)) => v.to_string(),
            };
            values.push((name.to_string(), value));
        }
        Ok(Flags { values })
    }

    fn used(&self, name: &str) -> bool {
        self.values.iter().any(|(n, _)| n == name)
    }

    fn take_str(&mut self, name: &str) -> Option<String> {
        let i = self.values.iter().position(|(n, _)| n == name)?;
        Some(self.values.remove(i).1)
    }

    fn take_bool(&mut self, name: &str) -> bool {
        self.take_str(name).is_some_and(|v| v == "true")
    }
}

#[cfg(test)]
#[path = "instructions_tests.rs"]
mod tests;
