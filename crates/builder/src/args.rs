//! Build arguments (`ARG` and `--build-arg`) and their scopes, with the
//! classic builder's rules.
//!
//! - ARGs before the first FROM (*meta args*) are visible to FROM lines
//!   only; a stage sees one when it declares it again (`ARG NAME` takes
//!   the meta value).
//! - A `--build-arg` overrides the default of the ARG of that name; it has
//!   no effect where no ARG declares it, except for the predefined proxy
//!   arguments, which are always allowed and never recorded in history.
//! - In a stage, ENV wins over an ARG of the same name.
//! - Each stage starts with no declared args.
//! - Overrides that no stage declared are reported at the end ("were not
//!   consumed").

use std::collections::{BTreeMap, BTreeSet};

/// The predefined arguments: usable without an ARG, kept out of history.
pub const BUILTIN_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

fn is_builtin(key: &str) -> bool {
    BUILTIN_ARGS.contains(&key)
}

/// The build arguments of one build, as they evolve through the stages.
#[derive(Debug, Clone, Default)]
pub struct BuildArgs {
    /// `--build-arg` values (`None`: given without a value, and unset in
    /// the client's environment).
    overrides: BTreeMap<String, Option<String>>,
    /// Meta args, in order, with their effective values.
    meta: Vec<(String, Option<String>)>,
    /// The current stage's declared args, in order, with their defaults.
    allowed: Vec<(String, Option<String>)>,
    referenced: BTreeSet<String>,
}

impl BuildArgs {
    pub fn new(overrides: BTreeMap<String, Option<String>>) -> BuildArgs {
        BuildArgs {
            overrides,
            ..Default::default()
        }
    }

    fn override_of(&self, key: &str) -> Option<&str> {
        self.overrides.get(key).and_then(|v| v.as_deref())
    }

    /// A meta ARG (before the first FROM), its default already expanded.
    pub fn add_meta(&mut self, key: &str, default: Option<String>) {
        let value = self.override_of(key).map(str::to_string).or(default);
        self.meta.retain(|(k, _)| k != key);
        self.meta.push((key.to_string(), value));
    }

    /// The environment FROM lines and meta ARG defaults are expanded in.
    pub fn meta_env(&self) -> Vec<String> {
        let mut env: Vec<String> = self
            .meta
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        for k in BUILTIN_ARGS {
            if let Some(v) = self.override_of(k) {
                if !self.meta.iter().any(|(m, _)| m == k) {
                    env.push(format!("{k}={v}"));
                }
            }
        }
        env
    }

    /// A new stage: nothing declared.
    pub fn start_stage(&mut self) {
        self.allowed.clear();
    }

    /// `ARG key[=default]` in a stage (the default already expanded).
    pub fn declare(&mut self, key: &str, default: Option<String>) {
        self.referenced.insert(key.to_string());
        self.allowed.retain(|(k, _)| k != key);
        self.allowed.push((key.to_string(), default));
    }

    /// The value of a declared (or builtin) arg: the override, else the
    /// stage's default, else the meta value.
    fn value(&self, key: &str, default: Option<&String>) -> Option<String> {
        if let Some(v) = self.override_of(key) {
            return Some(v.to_string());
        }
        match default {
            Some(d) => Some(d.clone()),
            None => self
                .meta
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.clone()),
        }
    }

    /// The args with values now in scope, as `KEY=value`, in declaration
    /// order then the builtins: what RUN gets in its environment and what
    /// words are expanded with, less those `env` (the image's ENV) sets.
    pub fn in_scope(&self, env: &[String]) -> Vec<String> {
        let set = |k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
        let mut out = Vec::new();
        for (k, d) in &self.allowed {
            if set(k) {
                continue;
            }
            if let Some(v) = self.value(k, d.as_ref()) {
                out.push(format!("{k}={v}"));
            }
        }
        for k in BUILTIN_ARGS {
            if set(k) || self.allowed.iter().any(|(a, _)| a == k) {
                continue;
            }
            if let Some(v) = self.override_of(k) {
                out.push(format!("{k}={v}"));
            }
        }
        out
    }

    /// The expansion environment of a stage step: the image's ENV, then the
    /// args in scope.
    pub fn expand_env(&self, env: &[String]) -> Vec<String> {
        let mut all = env.to_vec();
        all.extend(self.in_scope(env));
        all
    }

    /// RUN's history prefix (`|2 A=1 B=2 `): the args in scope that are
    /// declared (builtins only when declared), sorted; empty when none.
    pub fn history_prefix(&self, env: &[String]) -> Vec<String> {
        let mut v: Vec<String> = self
            .in_scope(env)
            .into_iter()
            .filter(|kv| {
                let k = kv.split('=').next().unwrap_or("");
                !is_builtin(k) || self.allowed.iter().any(|(a, _)| a == k)
            })
            .collect();
        if v.is_empty() {
            return v;
        }
        v.sort();
        let mut out = vec![format!("|{}", v.len())];
        out.extend(v);
        out
    }

    /// Overrides no stage declared (builtins excepted), sorted.
    pub fn unused(&self) -> Vec<String> {
        self.overrides
            .keys()
            .filter(|k| !is_builtin(k) && !self.referenced.contains(*k))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, Option<&str>)]) -> BuildArgs {
        BuildArgs::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
        )
    }

    #[test]
    fn meta_args_need_redeclaring_in_a_stage() {
        let mut a = args(&[("V", Some("2"))]);
        a.add_meta("V", Some("1".into()));
        a.add_meta("W", Some("w".into()));
        assert_eq!(a.meta_env(), ["V=2", "W=w"]);
        a.start_stage();
        assert!(a.in_scope(&[]).is_empty(), "not visible until declared");
        a.declare("W", None);
        assert_eq!(a.in_scope(&[]), ["W=w"], "ARG W takes the meta value");
        a.declare("V", None);
        assert_eq!(a.in_scope(&[]), ["W=w", "V=2"]);
        a.start_stage();
        assert!(a.in_scope(&[]).is_empty(), "each stage starts empty");
    }

    #[test]
    fn overrides_defaults_and_env() {
        let mut a = args(&[("A", Some("over")), ("UNUSED", Some("x"))]);
        a.start_stage();
        a.declare("A", Some("def".into()));
        a.declare("B", Some("b".into()));
        a.declare("C", None);
        assert_eq!(a.in_scope(&[]), ["A=over", "B=b"], "C has no value");
        let env = vec!["B=fromenv".to_string()];
        assert_eq!(a.in_scope(&env), ["A=over"], "ENV wins");
        assert_eq!(a.expand_env(&env), ["B=fromenv", "A=over"]);
        assert_eq!(a.unused(), ["UNUSED"]);
    }

    #[test]
    fn builtins_are_allowed_but_not_recorded() {
        let mut a = args(&[("http_proxy", Some("p")), ("X", Some("1"))]);
        a.start_stage();
        a.declare("X", None);
        assert_eq!(a.in_scope(&[]), ["X=1", "http_proxy=p"]);
        assert_eq!(a.history_prefix(&[]), ["|1", "X=1"]);
        assert!(a.unused().is_empty());
        a.declare("http_proxy", None);
        assert_eq!(a.history_prefix(&[]), ["|2", "X=1", "http_proxy=p"]);
        let mut none = args(&[]);
        none.start_stage();
        assert!(none.history_prefix(&[]).is_empty());
    }
}
