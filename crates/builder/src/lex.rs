//! The Dockerfile word lexer: quote removal, the escape character and
//! variable substitution, with the rules of docker's shell lexer (a
//! subset of POSIX sh word expansion).
//!
//! Vocabulary. A *word* is the raw text of one argument as the parser left
//! it (quotes and escapes still in). *Processing* a word removes the
//! quotes, applies the escape character and substitutes variables:
//! `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}`
//! (unset), `${VAR:+alt}` (set and non-empty), `${VAR+alt}` (set),
//! `${VAR:?message}` and `${VAR?message}` (an error when unset). Inside
//! single quotes nothing is special; inside double quotes only `$`, the
//! escape character before `"`, `$` or itself. `\$` outside quotes is a
//! literal dollar.
//!
//! [`Lexer::process_word`] gives one string (spaces kept);
//! [`Lexer::process_words`] also splits on unquoted whitespace, the
//! whitespace in substituted values included (as docker does for
//! `EXPOSE $PORTS` or `COPY $SRC /d/`).

/// Errors of processing a word; the messages are docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(char),
    #[error("missing ':' in substitution")]
    MissingColon,
    /// `${VAR?message}` with VAR unset (or empty, with `:?`).
    #[error("{name}: {message}")]
    Unset { name: String, message: String },
}

/// Where variables come from. The first definition of a name wins.
pub trait Lookup {
    fn lookup(&self, name: &str) -> Option<&str>;
}

/// An environment as docker keeps it: `KEY=value` strings.
impl Lookup for [String] {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.iter().find_map(|e| match e.split_once('=') {
            Some((k, v)) if k == name => Some(v),
            None if e == name => Some(""),
            _ => None,
        })
    }
}

impl Lookup for Vec<String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.as_slice().lookup(name)
    }
}

/// No variables at all (validation of quoting at parse time).
pub struct NoVars;

impl Lookup for NoVars {
    fn lookup(&self, _: &str) -> Option<&str> {
        None
    }
}

/// The lexer of one Dockerfile (its escape character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    pub escape: char,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer { escape: '\\' }
    }
}

impl Lexer {
    pub fn new(escape: char) -> Lexer {
        Lexer { escape }
    }

    /// The word with quotes removed and variables substituted.
    pub fn process_word(&self, word: &str, env: &dyn Lookup) -> Result<String, LexError> {
        let mut w = Walker::new(self.escape, word, env);
        Ok(w.process_until(None)?.0)
    }

    /// The word processed and split into words on unquoted whitespace.
    pub fn process_words(&self, word: &str, env: &dyn Lookup) -> Result<Vec<String>, LexError> {
        let mut w = Walker::new(self.escape, word, env);
        Ok(w.process_until(None)?.1)
    }
}

/// Splits into words, the way substituted text and plain characters
/// split and quoted text does not.
#[derive(Default)]
struct Words {
    words: Vec<String>,
    cur: String,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word {
                self.words.push(std::mem::take(&mut self.cur));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.cur.push(c);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.cur.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if self.in_word {
            self.words.push(self.cur);
        }
        self.words
    }
}

struct Walker<'a> {
    escape: char,
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn Lookup,
}

impl<'a> Walker<'a> {
    fn new(escape: char, word: &str, env: &'a dyn Lookup) -> Walker<'a> {
        Walker {
            escape,
            chars: word.chars().collect(),
            pos: 0,
            env,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Processes up to `stop` (consumed) or the end: the text and its
    /// words.
    fn process_until(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), LexError> {
        let mut out = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((out, words.finish()));
            }
            match c {
                '$' => {
                    let v = self.dollar()?;
                    words.add_string(&v);
                    out.push_str(&v);
                }
                '\'' => {
                    let v = self.single_quoted()?;
                    words.add_raw_string(&v);
                    out.push_str(&v);
                }
                '"' => {
                    let v = self.double_quoted()?;
                    words.add_raw_string(&v);
                    out.push_str(&v);
                }
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        // An escape character at the very end is dropped.
                        let Some(e) = self.next() else { break };
                        words.add_raw_char(e);
                        out.push(e);
                    } else {
                        words.add_char(c);
                        out.push(c);
                    }
                }
            }
        }
        if stop.is_some() {
            return Err(LexError::MissingBrace);
        }
        Ok((out, words.finish()))
    }

    fn single_quoted(&mut self) -> Result<String, LexError> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.next() {
                None => return Err(LexError::UnterminatedSingleQuote),
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, LexError> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return Err(LexError::UnterminatedDoubleQuote),
                Some('"') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some('$') => s.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            // A trailing escape is ignored.
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                s.push(n);
                                continue;
                            }
                            // Other escapes stay as they are.
                            Some(_) => {}
                        }
                    }
                    s.push(c);
                }
            }
        }
    }

    /// A name after `$`: letters, digits and `_`; a run of digits or one
    /// special parameter character stands alone (sh's positional and
    /// special parameters, never set in a Dockerfile).
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.pos += 1;
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!0".contains(c) {
                self.pos += 1;
                return c.to_string();
            }
            if !c.is_alphanumeric() && c != '_' {
                break;
            }
            self.pos += 1;
            name.push(c);
        }
        name
    }

    fn dollar(&mut self) -> Result<String, LexError> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.env.lookup(&name).unwrap_or("").to_string());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(LexError::MissingBrace),
            Some('{' | '}' | ':') => return Err(LexError::BadSubstitution),
            _ => {}
        }
        let name = self.name();
        let value = self.env.lookup(&name).map(str::to_string);
        match self.next() {
            Some('}') => Ok(value.unwrap_or_default()),
            Some(op @ ('-' | '+' | '?')) => {
                let (word, _) = self.process_until(Some('}'))?;
                match (op, value) {
                    ('-', None) => Ok(word),
                    ('-', Some(v)) => Ok(v),
                    ('+', None) => Ok(String::new()),
                    ('+', Some(_)) => Ok(word),
                    (_, None) => Err(unset(&name, word)),
                    (_, Some(v)) => Ok(v),
                }
            }
            Some(':') => {
                let modifier = self.next().ok_or(LexError::MissingBrace)?;
                let (word, _) = self.process_until(Some('}'))?;
                let v = value.clone().unwrap_or_default();
                match modifier {
                    '-' => Ok(if v.is_empty() { word } else { v }),
                    '+' => Ok(if v.is_empty() { v } else { word }),
                    '?' if v.is_empty() => Err(unset(&name, word)),
                    '?' => Ok(v),
                    other => Err(LexError::UnsupportedModifier(other)),
                }
            }
            None => Err(LexError::MissingBrace),
            Some(_) => Err(LexError::MissingColon),
        }
    }
}

fn unset(name: &str, word: String) -> LexError {
    LexError::Unset {
        name: name.to_string(),
        message: if word.is_empty() {
            "is not allowed to be unset".into()
        } else {
            word
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<String> {
        ["A=apple", "E=", "SP=a b  c", "PATH_X=/p"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn w(s: &str) -> String {
        Lexer::default().process_word(s, &env()).unwrap()
    }

    fn ws(s: &str) -> Vec<String> {
        Lexer::default().process_words(s, &env()).unwrap()
    }

    fn err(s: &str) -> LexError {
        Lexer::default().process_word(s, &env()).unwrap_err()
    }

    #[test]
    fn plain_and_braced_variables() {
        assert_eq!(w("$A"), "apple");
        assert_eq!(w("${A}s"), "apples");
        assert_eq!(w("$As"), "", "the name runs to the first non-name char");
        assert_eq!(w("x$A-y"), "xapple-y");
        assert_eq!(w("$NOPE"), "");
        assert_eq!(w("$"), "$");
        assert_eq!(w("a$ b"), "a$ b");
        assert_eq!(w("$1x"), "x", "positional parameters are never set");
        assert_eq!(w("$PATH_X/bin"), "/p/bin");
    }

    #[test]
    fn modifiers() {
        assert_eq!(w("${A:-d}"), "apple");
        assert_eq!(w("${E:-d}"), "d", "empty counts as unset with ':'");
        assert_eq!(w("${E-d}"), "", "set-but-empty is kept without ':'");
        assert_eq!(w("${N-d}"), "d");
        assert_eq!(w("${N:-d}"), "d");
        assert_eq!(w("${A:+alt}"), "alt");
        assert_eq!(w("${E:+alt}"), "");
        assert_eq!(w("${E+alt}"), "alt");
        assert_eq!(w("${N+alt}"), "");
        assert_eq!(w("${N:-$A}"), "apple", "the word is processed too");
        assert_eq!(w("${N:-'a b'}"), "a b");
        assert_eq!(w("${A:?boom}"), "apple");
        assert_eq!(
            err("${N:?boom}"),
            LexError::Unset {
                name: "N".into(),
                message: "boom".into()
            }
        );
        assert_eq!(err("${E:?}").to_string(), "E: is not allowed to be unset");
        assert_eq!(w("${E?}"), "");
        assert!(matches!(err("${N?x}"), LexError::Unset { .. }));
    }

    #[test]
    fn substitution_errors_are_dockers() {
        assert_eq!(err("${A"), LexError::MissingBrace);
        assert_eq!(err("${"), LexError::MissingBrace);
        assert_eq!(err("${}"), LexError::BadSubstitution);
        assert_eq!(err("${:x}"), LexError::BadSubstitution);
        assert_eq!(err("${A:*x}"), LexError::UnsupportedModifier('*'));
        assert_eq!(err("${A:-x"), LexError::MissingBrace);
        assert_eq!(err("${A!}"), LexError::MissingColon);
        assert_eq!(err("${A:"), LexError::MissingBrace);
        assert_eq!(err("${A!}").to_string(), "missing ':' in substitution");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w("'$A'"), "$A");
        assert_eq!(w("\"$A\""), "apple");
        assert_eq!(w(r#""a\"b""#), "a\"b");
        assert_eq!(w(r#""a\$A""#), "a$A");
        assert_eq!(
            w(r#""a\nb""#),
            "a\\nb",
            "other escapes stay in double quotes"
        );
        assert_eq!(w(r"\$A"), "$A");
        assert_eq!(w(r"a\ b"), "a b");
        assert_eq!(w(r"a\\b"), r"a\b");
        assert_eq!(w(r"ab\"), "ab", "a trailing escape is dropped");
        assert_eq!(w(r#"'a\'"#), r"a\", "nothing escapes in single quotes");
        assert_eq!(err("'abc"), LexError::UnterminatedSingleQuote);
        assert_eq!(err("\"abc"), LexError::UnterminatedDoubleQuote);
        assert_eq!(
            err("\"abc").to_string(),
            "unexpected end of statement while looking for matching double-quote"
        );
    }

    #[test]
    fn backtick_escape() {
        let l = Lexer::new('`');
        let e = env();
        assert_eq!(l.process_word(r"C:\dir\$A", &e).unwrap(), r"C:\dir\apple");
        assert_eq!(l.process_word("`$A", &e).unwrap(), "$A");
        assert_eq!(l.process_word("\"`\"\"", &e).unwrap(), "\"");
    }

    #[test]
    fn word_splitting() {
        assert_eq!(ws("a b\tc"), ["a", "b", "c"]);
        assert_eq!(ws("'a b' c"), ["a b", "c"]);
        assert_eq!(ws("x$SP"), ["xa", "b", "c"], "substituted text splits");
        assert_eq!(ws("\"$SP\""), ["a b  c"], "quoted substitution does not");
        assert_eq!(ws(r"a\ b c"), ["a b", "c"]);
        assert_eq!(ws("''"), [""], "an empty quoted word is a word");
        assert_eq!(ws("   "), Vec::<String>::new());
        assert_eq!(ws("$E"), Vec::<String>::new());
    }

    #[test]
    fn no_vars_validates_quoting_only() {
        let l = Lexer::default();
        assert_eq!(l.process_word("${X:-d}", &NoVars).unwrap(), "d");
        assert!(l.process_word("\"x", &NoVars).is_err());
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let l = Lexer::default();
        let pieces = [
            "$", "{", "}", ":", "-", "+", "?", "'", "\"", "\\", "a", " ", "é",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let s = format!("{a}{b}{c}{d}");
                        let _ = l.process_word(&s, &env());
                        let _ = l.process_words(&s, &env());
                    }
                }
            }
        }
    }
}
