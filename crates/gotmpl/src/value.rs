//! Runtime values: JSON data seen the way Go's reflection sees
//! `map[string]interface{}` trees, plus the extra types template functions
//! produce (`[]string` from `split`, `uint8` from indexing a string, ...).
//!
//! JSON integers become Go `int` (docker's typed structs use integer fields,
//! so `{{printf "%d" .State.Pid}}` must work); other numbers are `float64`.

use std::rc::Rc;

use serde_json::Value as Json;

use crate::strconv::format_json_float;

/// Which unsigned Go type a `Value::Uint` stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UintKind {
    /// A byte from indexing a string.
    U8,
    /// A JSON integer above `i64::MAX`.
    U64,
}

/// Element type of a list: JSON arrays are `[]interface {}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    Any,
    Str,
}

/// A value during execution.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// Go's zero `reflect.Value`: a missing map key or field ("<no value>").
    Invalid,
    /// A nil `interface{}` held in a map or list (JSON null).
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64, UintKind),
    Float(f64),
    Complex(f64, f64),
    Str(Rc<str>),
    List(Rc<[Value]>, ListKind),
    Map(Rc<MapVal>),
    /// A nil pointer, slice or map of a typed value (from [`crate::Data::Nil`]).
    TypedNil(crate::Nil),
    /// A Go struct (from [`crate::Data::Struct`]): its fields in declaration order.
    /// Naming a field it lacks is an error, and it is printed `{v1 v2 …}`.
    Struct(Rc<MapVal>),
    /// A value with its own `String`/`MarshalJSON` (from [`crate::Data::Custom`]).
    Custom(Rc<Custom>),
}

/// See [`crate::Data::Custom`].
#[derive(Debug)]
pub(crate) struct Custom {
    pub(crate) value: Value,
    pub(crate) json: Option<Json>,
    pub(crate) text: Option<Rc<str>>,
}

/// A field of a struct, for [`MapVal::structure`].
pub(crate) struct StructField {
    pub(crate) name: Rc<str>,
    pub(crate) json: Option<Rc<str>>,
    pub(crate) value: Value,
    pub(crate) embedded: bool,
}

/// A JSON object: entries in their input order, plus a key-sorted index
/// (Go prints and ranges over maps in sorted key order).
#[derive(Debug)]
pub(crate) struct MapVal {
    entries: Vec<(Rc<str>, Value)>,
    sorted: Vec<usize>,
    /// A struct's JSON keys, one per entry (`None`: not encoded); empty for a map.
    json_keys: Vec<Option<Rc<str>>>,
    /// Which of a struct's entries are embedded structs; empty for a map.
    embedded: Vec<bool>,
}

impl MapVal {
    pub(crate) fn new(entries: Vec<(Rc<str>, Value)>) -> MapVal {
        let mut sorted: Vec<usize> = (0..entries.len()).collect();
        sorted.sort_by(|&a, &b| entries[a].0.cmp(&entries[b].0));
        MapVal {
            entries,
            sorted,
            json_keys: Vec::new(),
            embedded: Vec::new(),
        }
    }

    /// A struct's fields in declaration order.
    pub(crate) fn structure(fields: Vec<StructField>) -> MapVal {
        let mut json_keys = Vec::with_capacity(fields.len());
        let mut embedded = Vec::with_capacity(fields.len());
        let entries = fields
            .into_iter()
            .map(|f| {
                json_keys.push(f.json);
                embedded.push(f.embedded);
                (f.name, f.value)
            })
            .collect();
        MapVal {
            json_keys,
            embedded,
            ..MapVal::new(entries)
        }
    }

    /// What encoding/json writes: a struct's encoded fields under their JSON keys
    /// (an embedded struct's inline, unless the outer struct has a field of the
    /// same key: the shallower one wins), a map's entries in input order.
    pub(crate) fn json_entries(&self) -> Vec<(&Rc<str>, &Value)> {
        if self.json_keys.is_empty() && self.embedded.is_empty() {
            return self.entries().collect();
        }
        let direct = |k: &str| {
            self.json_keys
                .iter()
                .zip(&self.embedded)
                .any(|(j, e)| !e && j.as_deref() == Some(k))
        };
        let mut out = Vec::new();
        for ((k, (_, v)), embedded) in self.json_keys.iter().zip(&self.entries).zip(&self.embedded)
        {
            if *embedded {
                // A nil embedded pointer adds nothing.
                if let Value::Struct(inner) = v {
                    out.extend(inner.json_entries().into_iter().filter(|(k, _)| !direct(k)));
                }
            } else if let Some(k) = k {
                out.push((k, v));
            }
        }
        out
    }

    /// A struct's field `name`: its own, or one promoted from an embedded struct
    /// (the shallowest, as Go's selector rules find it).
    pub(crate) fn field(&self, name: &str) -> Option<&Value> {
        if let Some(v) = self.get(name) {
            return Some(v);
        }
        self.entries
            .iter()
            .zip(&self.embedded)
            .filter(|(_, e)| **e)
            .find_map(|((_, v), _)| match v {
                Value::Struct(inner) => inner.field(name),
                _ => None,
            })
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.sorted
            .binary_search_by(|&i| (*self.entries[i].0).cmp(key))
            .ok()
            .map(|i| &self.entries[self.sorted[i]].1)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries in sorted key order.
    pub(crate) fn sorted(&self) -> impl Iterator<Item = (&Rc<str>, &Value)> {
        self.sorted
            .iter()
            .map(|&i| (&self.entries[i].0, &self.entries[i].1))
    }

    /// Entries in input order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&Rc<str>, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl Value {
    pub(crate) fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    /// Converts JSON; `null` becomes a nil interface (as inside a Go map).
    pub(crate) fn from_json(j: &Json) -> Value {
        match j {
            Json::Null => Value::Nil,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::Uint(u, UintKind::U64)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Json::String(s) => Value::str(s),
            Json::Array(a) => Value::List(a.iter().map(Value::from_json).collect(), ListKind::Any),
            Json::Object(m) => Value::Map(Rc::new(MapVal::new(
                m.iter()
                    .map(|(k, v)| (Rc::from(k.as_str()), Value::from_json(v)))
                    .collect(),
            ))),
        }
    }

    /// Converts back to JSON for registered functions; values JSON cannot
    /// hold (complex numbers, NaN) become null.
    pub(crate) fn to_json(&self) -> Json {
        match self {
            Value::Invalid | Value::Nil | Value::TypedNil(_) | Value::Complex(..) => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Uint(u, _) => Json::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Str(s) => Json::String(s.to_string()),
            Value::List(l, _) => Json::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) | Value::Struct(m) => Json::Object(
                m.json_entries()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Value::Custom(c) => match &c.json {
                Some(j) => j.clone(),
                None => c.value.to_json(),
            },
        }
    }

    /// Go's `reflect.Type.String()` of the value's dynamic type.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Invalid => "<nil>",
            Value::Nil => "interface {}",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint(_, UintKind::U8) => "uint8",
            Value::Uint(_, UintKind::U64) => "uint64",
            Value::Float(_) => "float64",
            Value::Complex(..) => "complex128",
            Value::Str(_) => "string",
            Value::List(_, ListKind::Any) => "[]interface {}",
            Value::List(_, ListKind::Str) => "[]string",
            Value::Map(_) => "map[string]interface {}",
            Value::Struct(_) => "struct",
            Value::TypedNil(crate::Nil::Pointer) => "ptr",
            Value::TypedNil(crate::Nil::Slice) => "slice",
            Value::TypedNil(crate::Nil::Map) => "map",
            Value::Custom(c) => c.value.type_name(),
        }
    }

    /// Go's `indirectInterface`: a nil interface is no value at all.
    pub(crate) fn unbox(self) -> Value {
        match self {
            Value::Nil => Value::Invalid,
            v => v,
        }
    }

    pub(crate) fn is_nil(&self) -> bool {
        matches!(self, Value::Invalid | Value::Nil)
    }

    /// Go's truth: non-zero numbers, non-empty strings and containers.
    pub(crate) fn truth(&self) -> bool {
        match self {
            Value::Invalid | Value::Nil | Value::TypedNil(_) => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Uint(u, _) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::Complex(r, i) => *r != 0.0 || *i != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l, _) => !l.is_empty(),
            Value::Map(m) => m.len() > 0,
            // Go's truth of a struct value.
            Value::Struct(_) => true,
            Value::Custom(c) => c.value.truth(),
        }
    }
}

/// encoding/json's rendering (HTML escaping off, as docker's `json` does),
/// or the encoder's error for values JSON cannot represent.
pub(crate) fn to_json_text(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(v, &mut out)?;
    Ok(out)
}

fn write_json(v: &Value, out: &mut String) -> Result<(), String> {
    match v {
        Value::Invalid | Value::Nil | Value::TypedNil(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u, _) => out.push_str(&u.to_string()),
        Value::Float(f) if f.is_finite() => out.push_str(&format_json_float(*f)),
        Value::Float(f) => {
            let shown = if f.is_nan() {
                "NaN"
            } else if *f > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            return Err(format!("json: unsupported value: {shown}"));
        }
        Value::Complex(..) => return Err("json: unsupported type: complex128".into()),
        Value::Str(s) => write_json_str(s, out),
        Value::List(l, _) => {
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(e, out)?;
            }
            out.push(']');
        }
        Value::Map(m) | Value::Struct(m) => {
            out.push('{');
            // Input order: the order the caller's JSON had (sorted unless
            // serde_json preserves order), mirroring struct field order.
            for (i, (k, e)) in m.json_entries().into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(k, out);
                out.push(':');
                write_json(e, out)?;
            }
            out.push('}');
        }
        Value::Custom(c) => match &c.json {
            Some(j) => write_json(&Value::from_json(j), out)?,
            None => write_json(&c.value, out)?,
        },
    }
    Ok(())
}

fn write_json_str(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let b = c as usize;
                out.push_str("\\u00");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 0xf] as char);
            }
            // JSONP-safety escapes Go applies unconditionally.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}
