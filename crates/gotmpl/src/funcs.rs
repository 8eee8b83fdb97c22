//! Template functions: Go's builtins (`and`, `index`, `printf`, `eq`, ...)
//! and the ones docker's CLI adds (`json`, `split`, `join`, `title`,
//! `lower`, `upper`, `pad`, `truncate`), plus docker's "header" variants
//! used when rendering table headers. Error texts are Go's.

use std::rc::Rc;

use crate::Funcs;
use crate::fmt::{sprint, sprint_verb, sprintf, sprintln};
use crate::value::{ListKind, UintKind, Value, to_json_text};

/// Parameter types of template functions, as far as Go's argument
/// checking distinguishes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamTy {
    /// No type: the receiver of a `(pipeline).Field` chain.
    Untyped,
    /// `reflect.Value`: any value, nil interfaces kept as they are.
    Value,
    /// `interface{}`.
    Any,
    Str,
    Int,
    /// `[]string`.
    StrList,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Html,
    Js,
    Urlquery,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Call,
    Json,
    Split,
    Join,
    Title,
    Lower,
    Upper,
    Pad,
    Truncate,
    /// docker's header functions: return their first argument unchanged.
    HeaderJson,
    HeaderSplit,
    HeaderJoin,
    HeaderCase,
    HeaderTruncate,
}

/// A resolved function.
pub(crate) enum Func<'a> {
    Builtin(Builtin),
    Extra(&'a crate::ExtraFn),
}

const BUILTINS: &[(&str, Builtin)] = &[
    ("and", Builtin::And),
    ("call", Builtin::Call),
    ("html", Builtin::Html),
    ("index", Builtin::Index),
    ("slice", Builtin::Slice),
    ("js", Builtin::Js),
    ("len", Builtin::Len),
    ("not", Builtin::Not),
    ("or", Builtin::Or),
    ("print", Builtin::Print),
    ("printf", Builtin::Printf),
    ("println", Builtin::Println),
    ("urlquery", Builtin::Urlquery),
    ("eq", Builtin::Eq),
    ("ge", Builtin::Ge),
    ("gt", Builtin::Gt),
    ("le", Builtin::Le),
    ("lt", Builtin::Lt),
    ("ne", Builtin::Ne),
];

const DOCKER: &[(&str, Builtin, Builtin)] = &[
    ("json", Builtin::Json, Builtin::HeaderJson),
    ("split", Builtin::Split, Builtin::HeaderSplit),
    ("join", Builtin::Join, Builtin::HeaderJoin),
    ("title", Builtin::Title, Builtin::HeaderCase),
    ("lower", Builtin::Lower, Builtin::HeaderCase),
    ("upper", Builtin::Upper, Builtin::HeaderCase),
    ("pad", Builtin::Pad, Builtin::Pad),
    ("truncate", Builtin::Truncate, Builtin::HeaderTruncate),
];

/// Whether `name` is callable in templates parsed with `extra`.
pub(crate) fn exists(name: &str, extra: &Funcs) -> bool {
    extra.map.contains_key(name)
        || DOCKER.iter().any(|(n, ..)| *n == name)
        || BUILTINS.iter().any(|(n, _)| *n == name)
}

/// Resolves a name: registered functions first, then docker's, then Go's.
pub(crate) fn lookup<'a>(name: &str, extra: &'a Funcs, header: bool) -> Option<Func<'a>> {
    if let Some(f) = extra.map.get(name) {
        return Some(Func::Extra(f.as_ref()));
    }
    if let Some((_, basic, head)) = DOCKER.iter().find(|(n, ..)| *n == name) {
        return Some(Func::Builtin(if header { *head } else { *basic }));
    }
    BUILTINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| Func::Builtin(*b))
}

impl Func<'_> {
    /// Fixed parameter types and the element type of a variadic tail.
    pub(crate) fn signature(&self) -> (&'static [ParamTy], Option<ParamTy>) {
        use ParamTy::*;
        let b = match self {
            Func::Extra(_) => return (&[], Some(Any)),
            Func::Builtin(b) => *b,
        };
        match b {
            Builtin::And
            | Builtin::Or
            | Builtin::Index
            | Builtin::Slice
            | Builtin::Eq
            | Builtin::Call => (&[Value], Some(Value)),
            Builtin::Not | Builtin::Len => (&[Value], None),
            Builtin::Print | Builtin::Println | Builtin::Html | Builtin::Js | Builtin::Urlquery => {
                (&[], Some(Any))
            }
            Builtin::Printf => (&[Str], Some(Any)),
            Builtin::Ne | Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge => {
                (&[Value, Value], None)
            }
            Builtin::Json => (&[Any], None),
            Builtin::Split | Builtin::HeaderSplit | Builtin::HeaderJoin => (&[Str, Str], None),
            Builtin::Join => (&[StrList, Str], None),
            Builtin::Title
            | Builtin::Lower
            | Builtin::Upper
            | Builtin::HeaderJson
            | Builtin::HeaderCase => (&[Str], None),
            Builtin::Pad => (&[Str, Int, Int], None),
            Builtin::Truncate | Builtin::HeaderTruncate => (&[Str, Int], None),
        }
    }

    /// `Some(true)` for `or`, `Some(false)` for `and`: they short-circuit.
    pub(crate) fn short_circuit(&self) -> Option<bool> {
        match self {
            Func::Builtin(Builtin::And) => Some(false),
            Func::Builtin(Builtin::Or) => Some(true),
            _ => None,
        }
    }

    pub(crate) fn is_call(&self) -> bool {
        matches!(self, Func::Builtin(Builtin::Call))
    }

    /// Runs the function on checked arguments. `callee` is the text of the
    /// first argument of `call`, for its error message.
    pub(crate) fn call(&self, args: Vec<Value>, callee: &str) -> Result<Value, String> {
        let b = match self {
            Func::Extra(f) => {
                let json: Vec<serde_json::Value> = args.iter().map(Value::to_json).collect();
                return f(&json).map(|j| Value::from_json(&j));
            }
            Func::Builtin(b) => *b,
        };
        let mut it = args.into_iter();
        let mut next = || it.next().unwrap_or(Value::Invalid);
        Ok(match b {
            Builtin::And | Builtin::Or => next(),
            Builtin::Not => Value::Bool(!next().unbox().truth()),
            Builtin::Len => length(next())?,
            Builtin::Index => {
                let item = next();
                index(item, it.collect())?
            }
            Builtin::Slice => {
                let item = next();
                slice(item, it.collect())?
            }
            Builtin::Print => Value::str(&sprint(&it.collect::<Vec<_>>())),
            Builtin::Println => Value::str(&sprintln(&it.collect::<Vec<_>>())),
            Builtin::Printf => {
                let Value::Str(f) = next() else {
                    return Err("printf format is not a string".into());
                };
                Value::str(&sprintf(&f, &it.collect::<Vec<_>>()))
            }
            Builtin::Html => Value::str(&html_escape(&eval_args(it.collect()))),
            Builtin::Js => Value::str(&js_escape(&eval_args(it.collect()))),
            Builtin::Urlquery => Value::str(&query_escape(&eval_args(it.collect()))),
            Builtin::Eq => {
                let a = next();
                Value::Bool(eq(a, it.collect())?)
            }
            Builtin::Ne => Value::Bool(!eq(next(), vec![next()])?),
            Builtin::Lt => Value::Bool(lt(&next().unbox(), &next().unbox())?),
            Builtin::Le => {
                let (a, b) = (next(), next());
                Value::Bool(le(a, b)?)
            }
            Builtin::Gt => {
                let (a, b) = (next(), next());
                Value::Bool(!le(a, b)?)
            }
            Builtin::Ge => Value::Bool(!lt(&next().unbox(), &next().unbox())?),
            Builtin::Call => match next().unbox() {
                Value::Invalid => return Err("call of nil".into()),
                v => return Err(format!("non-function {callee} of type {}", v.type_name())),
            },
            Builtin::Json => Value::str(&to_json_text(&next())?),
            Builtin::Split => {
                let (s, sep) = (str_of(next()), str_of(next()));
                let parts: Vec<Value> = if sep.is_empty() {
                    s.chars()
                        .map(|c| Value::str(c.encode_utf8(&mut [0; 4])))
                        .collect()
                } else {
                    s.split(&*sep).map(Value::str).collect()
                };
                Value::List(parts.into(), ListKind::Str)
            }
            Builtin::Join => {
                let list = next();
                let sep = str_of(next());
                let parts: Vec<Rc<str>> = match list {
                    Value::List(l, _) => l.iter().map(|v| str_of(v.clone())).collect(),
                    _ => Vec::new(),
                };
                Value::str(&parts.join(&*sep))
            }
            Builtin::Title => Value::str(&title(&str_of(next()))),
            Builtin::Lower => Value::str(&map_case(&str_of(next()), false)),
            Builtin::Upper => Value::str(&map_case(&str_of(next()), true)),
            Builtin::Pad => {
                let s = str_of(next());
                let (pre, post) = (int_of(next()), int_of(next()));
                if s.is_empty() {
                    return Ok(Value::Str(s));
                }
                Value::str(&format!("{}{s}{}", repeat_space(pre)?, repeat_space(post)?))
            }
            Builtin::Truncate => {
                let s = str_of(next());
                let n = int_of(next());
                if (s.len() as i64) < n {
                    return Ok(Value::Str(s));
                }
                if n < 0 {
                    return Err(format!("runtime error: slice bounds out of range [:{n}]"));
                }
                Value::str(&String::from_utf8_lossy(&s.as_bytes()[..n as usize]))
            }
            Builtin::HeaderJson
            | Builtin::HeaderSplit
            | Builtin::HeaderJoin
            | Builtin::HeaderCase
            | Builtin::HeaderTruncate => next(),
        })
    }
}

fn str_of(v: Value) -> Rc<str> {
    match v {
        Value::Str(s) => s,
        _ => Rc::from(""),
    }
}

fn int_of(v: Value) -> i64 {
    match v {
        Value::Int(i) => i,
        _ => 0,
    }
}

/// `strings.Repeat(" ", n)`, refusing counts Go would panic on.
fn repeat_space(n: i64) -> Result<String, String> {
    if n < 0 {
        return Err("strings: negative Repeat count".into());
    }
    // Go would try to allocate; a bound keeps a typo from exhausting memory.
    if n > 1 << 24 {
        return Err("strings: Repeat output length overflow".into());
    }
    Ok(" ".repeat(n as usize))
}

fn length(v: Value) -> Result<Value, String> {
    let n = match &v {
        Value::Invalid => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Value::Nil | Value::TypedNil(crate::Nil::Pointer) => {
            return Err("len of nil pointer".into());
        }
        Value::TypedNil(_) => 0,
        Value::Str(s) => s.len(),
        Value::List(l, _) => l.len(),
        Value::Map(m) => m.len(),
        v => return Err(format!("len of type {}", v.type_name())),
    };
    Ok(Value::Int(n as i64))
}

/// Go's `indexArg`: an integer index no larger than `cap`.
fn index_arg(i: &Value, cap: usize) -> Result<usize, String> {
    let x = match i {
        Value::Int(x) => *x,
        Value::Uint(u, _) => *u as i64,
        Value::Invalid | Value::Nil => return Err("cannot index slice/array with nil".into()),
        v => {
            return Err(format!(
                "cannot index slice/array with type {}",
                v.type_name()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: Value, indexes: Vec<Value>) -> Result<Value, String> {
    let mut item = item.unbox();
    if matches!(item, Value::Invalid) {
        return Err("index of untyped nil".into());
    }
    for idx in indexes {
        let idx = idx.unbox();
        item = match &item {
            Value::Nil => return Err("index of nil pointer".into()),
            Value::List(l, _) => {
                let x = index_arg(&idx, l.len())?;
                l.get(x)
                    .cloned()
                    .ok_or("reflect: slice index out of range")?
            }
            Value::Str(s) => {
                let x = index_arg(&idx, s.len())?;
                let b = s
                    .as_bytes()
                    .get(x)
                    .ok_or("reflect: string index out of range")?;
                Value::Uint(u64::from(*b), UintKind::U8)
            }
            Value::Map(m) => match &idx {
                Value::Str(k) => m.get(k).cloned().unwrap_or(Value::Nil),
                Value::Invalid => return Err("value is nil; should be of type string".into()),
                v => {
                    return Err(format!(
                        "value has type {}; should be string",
                        v.type_name()
                    ));
                }
            },
            v => return Err(format!("can't index item of type {}", v.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: Value, indexes: Vec<Value>) -> Result<Value, String> {
    let item = item.unbox();
    if matches!(item, Value::Invalid) {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match &item {
        Value::Str(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l, _) => l.len(),
        v => return Err(format!("can't slice item of type {}", v.type_name())),
    };
    let mut idx = [0, len, 0];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = index_arg(&index.clone().unbox(), len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::Str(s) => Value::str(&String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]])),
        Value::List(l, k) => Value::List(l[idx[0]..idx[1]].to_vec().into(), k),
        v => v,
    })
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Complex,
    Int,
    Float,
    Str,
    Uint,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Uint(..) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::Complex(..) => Kind::Complex,
        Value::Str(_) => Kind::Str,
        _ => Kind::Invalid,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";

/// `eq a b c ...`: a == b || a == c || ...
fn eq(a: Value, others: Vec<Value>) -> Result<bool, String> {
    let a = a.unbox();
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(&a);
    for b in others {
        let b = b.unbox();
        let k2 = basic_kind(&b);
        let truth = if k1 != k2 {
            match (&a, &b) {
                (Value::Int(x), Value::Uint(y, _)) => *x >= 0 && *x as u64 == *y,
                (Value::Uint(x, _), Value::Int(y)) => *y >= 0 && *x == *y as u64,
                _ if !a.is_nil() && !b.is_nil() => return Err(BAD_COMPARISON.into()),
                _ => false,
            }
        } else {
            match (&a, &b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Complex(r1, i1), Value::Complex(r2, i2)) => r1 == r2 && i1 == i2,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                (Value::Uint(x, _), Value::Uint(y, _)) => x == y,
                _ => {
                    let same_kind = std::mem::discriminant(&a) == std::mem::discriminant(&b);
                    if !same_kind && !a.is_nil() && !b.is_nil() {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            sprint_verb(&a, 's'),
                            a.type_name(),
                            b.type_name(),
                            sprint_verb(&b, 'v')
                        ));
                    }
                    if a.is_nil() || b.is_nil() {
                        a.is_nil() == b.is_nil()
                    } else {
                        // Maps and slices are not comparable in Go.
                        return Err(format!(
                            "non-comparable type {}: {}",
                            sprint_verb(&b, 's'),
                            b.type_name()
                        ));
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return match (a, b) {
            (Value::Int(x), Value::Uint(y, _)) => Ok(*x < 0 || (*x as u64) < *y),
            (Value::Uint(x, _), Value::Int(y)) => Ok(*y >= 0 && *x < *y as u64),
            _ => Err(BAD_COMPARISON.into()),
        };
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x < y),
        (Value::Uint(x, _), Value::Uint(y, _)) => Ok(x < y),
        _ => Err("invalid type for comparison".into()),
    }
}

fn le(a: Value, b: Value) -> Result<bool, String> {
    if lt(&a.clone().unbox(), &b.clone().unbox())? {
        return Ok(true);
    }
    eq(a, vec![b])
}

/// Go's `evalArgs`: Sprint of the arguments, with no value as "<no value>".
fn eval_args(args: Vec<Value>) -> String {
    if let [Value::Str(s)] = args.as_slice() {
        return s.to_string();
    }
    let args: Vec<Value> = args
        .into_iter()
        .map(|a| {
            if a.is_nil() {
                Value::str("<no value>")
            } else {
                a
            }
        })
        .collect();
    sprint(&args)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{fffd}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || crate::strconv::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's per-character case mapping (no context rules, one-to-one).
fn map_case(s: &str, upper: bool) -> String {
    s.chars().map(|c| case_char(c, upper)).collect()
}

fn case_char(c: char, upper: bool) -> char {
    if upper {
        let mut m = c.to_uppercase();
        match (m.next(), m.next()) {
            (Some(u), None) => u,
            _ => c,
        }
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let is_separator = |r: char| -> bool {
        if r.is_ascii() {
            return !(r.is_ascii_alphanumeric() || r == '_');
        }
        if r.is_alphabetic() || r.is_numeric() {
            return false;
        }
        r.is_whitespace()
    };
    let mut prev = ' ';
    s.chars()
        .map(|r| {
            let out = if is_separator(prev) {
                case_char(r, true)
            } else {
                r
            };
            prev = r;
            out
        })
        .collect()
}
