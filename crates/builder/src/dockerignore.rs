//! `.dockerignore`: which files of the build context a build does not
//! see, with docker's rules (its patternmatcher).
//!
//! One pattern per line; lines starting with `#` are comments; patterns
//! are cleaned like Go's `filepath.Clean` and a leading `/` is dropped
//! (paths are relative to the context root). Wildcards: `*` (any run of
//! characters but `/`), `?` (one character but `/`), `[…]` classes (`[!…]`
//! negated), `\` escapes, and `**` for any number of directories, none
//! included. A `!` pattern re-includes what earlier patterns excluded;
//! the last pattern that matches decides. A path is also excluded when a
//! pattern matches one of its parent directories.

/// Errors of reading patterns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    #[error("illegal exclusion pattern: \"!\"")]
    BareExclusion,
    #[error("syntax error in pattern {0:?}")]
    BadPattern(String),
}

#[derive(Debug, Clone)]
struct Pattern {
    exclusion: bool,
    re: regex::Regex,
}

/// The patterns of one `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

/// Go's `path.Clean` on a slash-separated path.
pub fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The regular expression of one (cleaned) `.dockerignore` pattern.
fn compile(pattern: &str) -> Result<regex::Regex, IgnoreError> {
    compile_glob(pattern, true)
}

/// The regular expression of a Go `filepath.Match` pattern (COPY
/// sources); with `double_star`, `**` spans directories as in
/// `.dockerignore`, else it is two `*`.
pub fn compile_glob(pattern: &str, double_star: bool) -> Result<regex::Regex, IgnoreError> {
    let bad = || IgnoreError::BadPattern(pattern.to_string());
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if double_star && chars.get(i) == Some(&'*') => {
                i += 1;
                // `**/` is `**`.
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    re.push_str(".*");
                } else {
                    re.push_str("(.*/)?");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => match chars.get(i) {
                Some(n) => {
                    i += 1;
                    re.push_str(&regex::escape(&n.to_string()));
                }
                None => re.push_str(r"\\"),
            },
            '[' => {
                // A class runs to its `]`; Go's `[!` and `[^` negate.
                let mut class = String::from("[");
                if matches!(chars.get(i), Some('!' | '^')) {
                    class.push('^');
                    i += 1;
                }
                let mut closed = false;
                let mut first = true;
                while i < chars.len() {
                    let k = chars[i];
                    i += 1;
                    match k {
                        ']' if !first => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            let n = chars.get(i).ok_or_else(bad)?;
                            i += 1;
                            class.push_str(&regex::escape(&n.to_string()));
                        }
                        '-' => class.push('-'),
                        '[' | ']' | '^' | '&' | '~' => {
                            class.push('\\');
                            class.push(k);
                        }
                        k => class.push(k),
                    }
                    first = false;
                }
                if !closed {
                    return Err(bad());
                }
                class.push(']');
                re.push_str(&class);
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|_| bad())
}

impl Ignore {
    /// Reads a `.dockerignore`.
    pub fn parse(text: &str) -> Result<Ignore, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
                if p.is_empty() {
                    return Err(IgnoreError::BareExclusion);
                }
            }
            let mut cleaned = clean_path(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Pattern {
                exclusion,
                re: compile(&cleaned)?,
            });
        }
        Ok(Ignore { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the context root, `/`-separated) is
    /// excluded.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean_path(path.trim_start_matches('/'));
        let parents: Vec<&str> = match path.rfind('/') {
            Some(p) => path[..p].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for pat in &self.patterns {
            // An exclusion only matters once something matched, and a
            // match only once nothing (or an exclusion) did.
            if pat.exclusion != matched {
                continue;
            }
            let mut hit = pat.re.is_match(&path);
            if !hit {
                for i in 1..=parents.len() {
                    if pat.re.is_match(&parents[..i].join("/")) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !pat.exclusion;
            }
        }
        matched
    }

    /// Whether a directory may hold something not excluded (an exclusion
    /// pattern might re-include a file below it), so a walk must enter it.
    pub fn may_include_below(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> Ignore {
        Ignore::parse(text).unwrap()
    }

    #[test]
    fn clean_is_gos() {
        assert_eq!(clean_path("a//b/./c/.."), "a/b");
        assert_eq!(clean_path("/../a"), "/a");
        assert_eq!(clean_path("../a/.."), "..");
        assert_eq!(clean_path(""), ".");
        assert_eq!(clean_path("./"), ".");
        assert_eq!(clean_path("/"), "/");
    }

    #[test]
    fn plain_names_and_parents() {
        let i = ig("# comment\n\n  node_modules  \n/build\n*.log\n");
        assert!(i.excludes("node_modules"));
        assert!(i.excludes("node_modules/x/y.js"), "a parent matches");
        assert!(i.excludes("build/out"));
        assert!(i.excludes("a.log"));
        assert!(!i.excludes("sub/a.log"), "* does not cross /");
        assert!(!i.excludes("src/main.rs"));
        assert!(
            !i.excludes("sub/node_modules"),
            "patterns are anchored at the root"
        );
    }

    #[test]
    fn double_star() {
        let i = ig("**/*.tmp\ndocs/**\n");
        assert!(i.excludes("a.tmp"), "** matches no directory too");
        assert!(i.excludes("x/y/z.tmp"));
        assert!(i.excludes("docs/a/b"));
        assert!(!i.excludes("docs"), "docs/** needs something below docs");
        let i = ig("a/**/b\n");
        assert!(i.excludes("a/b"));
        assert!(i.excludes("a/x/y/b"));
        assert!(!i.excludes("a/xb"));
        let i = ig("**\n!keep\n");
        assert!(i.excludes("x"));
        assert!(!i.excludes("keep"));
    }

    #[test]
    fn exceptions_last_match_wins() {
        let i = ig("*.md\n!README.md\nREADME*.md\n!README-keep.md\n");
        assert!(i.excludes("a.md"));
        assert!(i.excludes("README.md"), "a later pattern excludes it again");
        assert!(!i.excludes("README-keep.md"));
        let i = ig("dir\n!dir/keep\n");
        assert!(i.excludes("dir/other"));
        assert!(!i.excludes("dir/keep"));
        assert!(i.may_include_below());
    }

    #[test]
    fn wildcards_and_classes() {
        let i = ig("f?le\n[ab].txt\n[!x]y\nq\\*\n");
        assert!(i.excludes("file"));
        assert!(!i.excludes("f/le"));
        assert!(i.excludes("a.txt"));
        assert!(!i.excludes("c.txt"));
        assert!(i.excludes("zy"));
        assert!(!i.excludes("xy"));
        assert!(i.excludes("q*"));
        assert!(!i.excludes("qq"));
        let i = ig("a.b\n(x)\n");
        assert!(!i.excludes("axb"), "regex characters are literal");
        assert!(i.excludes("(x)"));
    }

    #[test]
    fn bad_patterns() {
        assert_eq!(
            Ignore::parse("!\n").unwrap_err(),
            IgnoreError::BareExclusion
        );
        assert!(matches!(
            Ignore::parse("[abc\n").unwrap_err(),
            IgnoreError::BadPattern(_)
        ));
    }
}
