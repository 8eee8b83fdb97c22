//! The bodies of the builder's fuzz targets, shared by the cargo-fuzz
//! targets (`fuzz/`, libFuzzer through cargo-fuzz) and by the stable
//! `fuzz_stable` test, which feeds them seeded pseudo-random and mutated
//! inputs with a fixed budget. Each body takes arbitrary bytes and asserts
//! the properties that must hold for *any* input; a panic or a failed
//! assertion is a finding.
//!
//! - [`dockerfile`]: the Dockerfile parser, instruction decoding, stage
//!   selection and variable substitution (walked as a build would walk the
//!   file, with ARG and ENV scoping) never panic; parsing is deterministic,
//!   errors name a line of the file, and every ONBUILD trigger the parser
//!   accepted decodes again when it fires.
//! - [`dockerignore`]: `.dockerignore` patterns, COPY globs and path
//!   matching never panic; cleaning a path is idempotent and how a path is
//!   spelled (`./`, a trailing `/`) does not change whether it is excluded.

#![allow(dead_code)]

use std::collections::BTreeMap;

use berth_builder::args::BuildArgs;
use berth_builder::dockerignore::{Ignore, clean_path, compile_glob};
use berth_builder::history::{go_list, go_quote_list};
use berth_builder::instructions::{
    CmdLine, Dockerfile, Instruction, needed_stages, parse_instruction, trigger_node,
};
use berth_builder::lex::Lexer;
use berth_builder::parser::{extract_flags, parse_json_array, parse_words};

/// Sets `key=value` in an environment list, replacing an earlier entry.
fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

/// Build arguments chosen by the input: a few names the seeds use, with
/// values that themselves look like substitutions.
fn overrides(text: &str) -> BTreeMap<String, Option<String>> {
    let mut o = BTreeMap::new();
    if text.len() % 3 == 0 {
        o.insert("BASE".to_string(), Some("${X:-scratch}".to_string()));
    }
    if text.len() % 5 == 0 {
        o.insert("V".to_string(), None);
    }
    o.insert("HTTP_PROXY".to_string(), Some("$NOPE".to_string()));
    o
}

/// Walks `df` as the executor would, without an engine: meta ARGs, then
/// each stage's instructions with ARG/ENV scoping and substitution.
/// Substitution errors are fine (a build reports them); panics are not.
fn walk(df: &Dockerfile, o: &BTreeMap<String, Option<String>>) {
    let lexer = Lexer::new(df.directives.escape);
    let mut args = BuildArgs::new(o.clone());
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
    for stage in &df.stages {
        let _ = lexer.process_word(&stage.base, &args.meta_env());
        args.start_stage();
        let mut env: Vec<String> = vec!["PATH=/bin".into()];
        for c in &stage.commands {
            let full = args.expand_env(&env);
            let word = |w: &str| {
                let _ = lexer.process_words(w, &full);
                lexer.process_word(w, &full).ok()
            };
            match &c.instruction {
                Instruction::Env(pairs) | Instruction::Label(pairs) => {
                    let is_env = matches!(c.instruction, Instruction::Env(_));
                    for p in pairs {
                        if let (Some(k), Some(v)) = (word(&p.key), word(&p.value)) {
                            if is_env {
                                set_env(&mut env, &k, &v);
                            }
                        }
                    }
                }
                Instruction::Arg(decls) => {
                    for d in decls {
                        let key = word(&d.key).unwrap_or_default();
                        let default = d.default.as_deref().and_then(word);
                        args.declare(&key, default);
                    }
                }
                Instruction::Run(r) => {
                    let _ = args.history_prefix(&env);
                    let _ = args.in_scope(&env);
                    if let CmdLine::Exec(v) = &r.cmd {
                        let _ = go_quote_list(v);
                    }
                    for h in &r.heredocs {
                        if h.expand {
                            let _ = word(&h.content);
                        }
                    }
                }
                Instruction::Cmd(cl) | Instruction::Entrypoint(cl) => match cl {
                    CmdLine::Exec(v) => drop(go_quote_list(v)),
                    CmdLine::Shell(s) => drop(go_quote_list(std::slice::from_ref(s))),
                },
                Instruction::Shell(v) => drop(go_list(v)),
                Instruction::Copy(cp) | Instruction::Add(cp) => {
                    for s in cp.sources.iter().chain([&cp.dest]) {
                        if let Some(s) = word(s) {
                            let _ = compile_glob(&s, false);
                        }
                    }
                    for f in [&cp.from, &cp.chown].into_iter().flatten() {
                        let _ = word(f);
                    }
                }
                Instruction::Workdir(w)
                | Instruction::User(w)
                | Instruction::StopSignal(w)
                | Instruction::Maintainer(w) => drop(word(w)),
                Instruction::Expose(ws) | Instruction::Volume(ws) => {
                    ws.iter().for_each(|w| drop(word(w)));
                }
                Instruction::Healthcheck(_) => {}
                Instruction::Onbuild(t) => {
                    // What the parser accepted must decode when it fires in
                    // a child build.
                    let node = trigger_node(t, df.directives.escape)
                        .unwrap_or_else(|e| panic!("ONBUILD {t:?} accepted, then: {e}"));
                    if let Err(e) = parse_instruction(&node, df.directives.escape) {
                        panic!("ONBUILD {t:?} accepted, then: {e}");
                    }
                }
            }
        }
        let _ = args.unused();
    }
}

/// Fuzz target: a Dockerfile from arbitrary bytes.
pub fn dockerfile(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = Dockerfile::parse("Dockerfile", &text);
    assert_eq!(
        parsed,
        Dockerfile::parse("Dockerfile", &text),
        "parsing is not deterministic"
    );
    let lines = text.lines().count();
    let df = match parsed {
        Ok(df) => df,
        Err(e) => {
            assert!(
                e.line >= 1 && e.line <= lines + 1,
                "error line {} of a {lines}-line file: {e}",
                e.line
            );
            assert_eq!(e.file, "Dockerfile");
            return;
        }
    };
    assert!(!df.stages.is_empty(), "a parsed Dockerfile has a stage");
    let o = overrides(&text);
    for t in 0..df.stages.len() {
        let needed = needed_stages(&df, t, &o);
        assert_eq!(needed.len(), df.stages.len());
        assert!(needed[t], "the target is needed");
        assert!(
            needed[t + 1..].iter().all(|n| !n),
            "a later stage is needed by stage {t}"
        );
    }
    walk(&df, &o);
    // The line-level helpers, on every line as written.
    let escape = df.directives.escape;
    for line in text.lines().take(64) {
        let _ = parse_words(line, escape);
        let _ = parse_json_array(line);
        let _ = extract_flags(line, escape);
        let _ = Lexer::new(escape).process_words(line, &Vec::<String>::new());
    }
}

/// Fuzz target: `.dockerignore` patterns (before the first NUL byte) and
/// paths to match (one per line after it).
pub fn dockerignore(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (patterns, paths) = text.split_once('\0').unwrap_or((&text, ""));
    for line in patterns.lines().take(32) {
        let c = clean_path(line);
        assert_eq!(clean_path(&c), c, "cleaning {line:?} is not idempotent");
        for double in [false, true] {
            if let Ok(re) = compile_glob(line, double) {
                let _ = re.is_match(line);
            }
        }
    }
    let Ok(ig) = Ignore::parse(patterns) else {
        return;
    };
    let _ = ig.may_include_below();
    for p in paths.lines().take(32) {
        let ex = ig.excludes(p);
        assert_eq!(
            ig.excludes(&format!("./{p}/")),
            ex,
            "{p:?} spelled ./{p}/ is excluded differently"
        );
    }
    if ig.is_empty() {
        assert!(
            paths.lines().take(8).all(|p| !ig.excludes(p)),
            "no patterns exclude something"
        );
    }
}

/// A small xorshift generator: the stable test's source of inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// `seed` with a few bytes flipped, inserted, removed or spliced from
    /// `dict` (the mutations a coverage-guided fuzzer starts with).
    pub fn mutate(&mut self, seed: &[u8], dict: &[&[u8]]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = if v.is_empty() { 0 } else { self.below(v.len()) };
            match self.below(5) {
                0 if !v.is_empty() => v[at] ^= 1 << self.below(8),
                1 => v.insert(at, self.next() as u8),
                2 if !v.is_empty() => {
                    let end = (at + 1 + self.below(8)).min(v.len());
                    v.drain(at..end);
                }
                3 if !dict.is_empty() => {
                    let w = dict[self.below(dict.len())];
                    v.splice(at..at, w.iter().copied());
                }
                _ => v.truncate(at),
            }
        }
        v
    }
}
