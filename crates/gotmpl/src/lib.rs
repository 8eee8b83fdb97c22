//! Go's `text/template` language as the docker CLI uses it for `--format`,
//! evaluated over `serde_json::Value` data.
//!
//! A [`Template`] is parsed once and executed per object. The language,
//! the builtin functions (`and`, `index`, `printf`, `eq`, ...), docker's
//! extra functions (`json`, `split`, `join`, `title`, `lower`, `upper`,
//! `pad`, `truncate`) and the wording of parse and execution errors follow
//! Go's implementation, so a `berth ... --format` behaves and fails like
//! `docker ... --format`:
//!
//! ```
//! use berth_gotmpl::Template;
//! let t = Template::parse("{{.Name}}: {{join .Args \" \"}}").unwrap();
//! let mut out = String::new();
//! t.execute(&serde_json::json!({"Name": "web", "Args": ["a", "b"]}), &mut out).unwrap();
//! assert_eq!(out, "web: a b");
//! ```
//!
//! Data model: JSON objects behave like Go's `map[string]interface{}`
//! (a missing key prints `<no value>`, ranges go in key order), arrays like
//! `[]interface{}`, integers like Go `int` and other numbers like
//! `float64`. Arrays of strings are accepted where docker's functions take
//! `[]string` (`join`).
//!
//! The `table` directive and `\t` escapes are handled by the caller before
//! parsing; [`preformat`] does what docker's formatter does with them.

mod exec;
mod fmt;
mod funcs;
mod lex;
mod node;
mod parse;
mod strconv;
mod value;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::node::ListNode;
use crate::value::Value;

/// A function registered with [`Funcs::with`]: receives its arguments as
/// JSON (missing values as `null`) and returns a JSON value, or an error
/// message that execution reports as `error calling NAME: MESSAGE`.
pub type ExtraFn = dyn Fn(&[serde_json::Value]) -> Result<serde_json::Value, String> + Send + Sync;

/// Extra template functions. They take precedence over builtins of the
/// same name, as functions added with Go's `Template.Funcs` do.
#[derive(Clone, Default)]
pub struct Funcs {
    map: BTreeMap<String, Arc<ExtraFn>>,
}

impl Funcs {
    pub fn new() -> Funcs {
        Funcs::default()
    }

    /// Adds `f` under `name` (a Go identifier; other names are unreachable
    /// from templates).
    pub fn with(
        mut self,
        name: &str,
        f: impl Fn(&[serde_json::Value]) -> Result<serde_json::Value, String> + Send + Sync + 'static,
    ) -> Funcs {
        self.map.insert(name.to_string(), Arc::new(f));
        self
    }
}

impl std::fmt::Debug for Funcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

/// Data with Go's static types where JSON has none, for templates that must see
/// what docker's templates see when they run over a typed value (`docker inspect`
/// runs over Go structs first): struct fields in declaration order, which is the
/// order `{{json .}}` writes them in, and no fields beyond the declared ones.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// A JSON value, seen as an `interface{}` tree (objects are maps).
    Json(serde_json::Value),
    /// A Go struct: its fields in declaration order.
    Struct(Vec<Field>),
    /// A Go map with typed values; keys are sorted as Go prints and encodes them.
    Map(Vec<(String, Data)>),
    /// A Go slice with typed elements.
    List(Vec<Data>),
    /// A nil pointer, slice or map: `null` in JSON, printed as Go prints it.
    Nil(Nil),
    /// A value of a Go type with its own `String` or `MarshalJSON` method
    /// (`time.Time`, `time.Duration`, a type encoding itself through a map):
    /// templates reach `value` (its fields, its truth), `{{json}}` writes `json`
    /// and `%v`/`%s` print `text`, each where given.
    Custom {
        value: Box<Data>,
        json: Option<serde_json::Value>,
        text: Option<String>,
    },
}

/// What a [`Data::Nil`] is a nil of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nil {
    /// Printed `<nil>`; naming a field through it is an error.
    Pointer,
    /// Printed `[]`.
    Slice,
    /// Printed `map[]`.
    Map,
}

/// A field of a [`Data::Struct`].
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The Go name templates use (`ID`, `CPUShares`).
    pub name: String,
    /// The key `{{json}}` writes (`Id`, `CpuShares`); `None` leaves the field out, as
    /// an empty `omitempty` field is.
    pub json: Option<String>,
    pub value: Data,
    /// An embedded (anonymous) struct field: `{{json}}` writes its fields inline,
    /// a template reaches them directly (`.User` as well as `.ImageConfig.User`),
    /// and `%v` prints the embedded struct nested, `{…}`.
    pub embedded: bool,
}

impl Data {
    /// What Go's `json.Marshal` makes of the value (struct fields in declaration
    /// order only as far as `serde_json::Value` keeps order: its maps are sorted).
    pub fn to_json(&self) -> serde_json::Value {
        self.to_value().to_json()
    }

    fn to_value(&self) -> Value {
        use std::rc::Rc;
        match self {
            Data::Json(j) => Value::from_json(j),
            Data::Nil(n) => Value::TypedNil(*n),
            Data::Struct(fields) => Value::Struct(Rc::new(value::MapVal::structure(
                fields
                    .iter()
                    .map(|f| value::StructField {
                        name: Rc::from(f.name.as_str()),
                        json: f.json.as_deref().map(Rc::from),
                        value: f.value.to_value(),
                        embedded: f.embedded,
                    })
                    .collect(),
            ))),
            Data::Map(m) => {
                let mut e: Vec<(Rc<str>, Value)> = m
                    .iter()
                    .map(|(k, v)| (Rc::from(k.as_str()), v.to_value()))
                    .collect();
                e.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Map(Rc::new(value::MapVal::new(e)))
            }
            Data::List(l) => {
                Value::List(l.iter().map(Data::to_value).collect(), value::ListKind::Any)
            }
            Data::Custom { value, json, text } => Value::Custom(Rc::new(value::Custom {
                value: value.to_value(),
                json: json.clone(),
                text: text.as_deref().map(Rc::from),
            })),
        }
    }
}

/// A template that failed to parse. The message is Go's, e.g.
/// `template: :1: function "foo" not defined`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    message: String,
}

/// A template that failed while executing. The message is Go's, e.g.
/// `template: :1:2: executing "" at <index .Args 5>: error calling index:
/// index out of range: 5`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    message: String,
}

/// A parsed template set: the top-level template plus every `define`d one.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    text: String,
    trees: BTreeMap<String, ListNode>,
    funcs: Funcs,
    missing_key: MissingKey,
}

/// What a field reference does when the map has no such key (Go's
/// `missingkey` template option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// Yield no value, printed as `<no value>` (Go's and docker's default).
    #[default]
    Default,
    /// Fail with `map has no entry for key "X"`, as docker's inspect does
    /// when it falls back to evaluating the raw JSON of an object.
    Error,
}

impl Template {
    /// Parses an anonymous template, as docker's `templates.Parse` does.
    pub fn parse(src: &str) -> Result<Template, ParseError> {
        Template::parse_with("", src, Funcs::default())
    }

    /// Parses a template named `name` (the name appears in error messages:
    /// docker names some, e.g. `version`) with extra functions.
    pub fn parse_with(name: &str, src: &str, funcs: Funcs) -> Result<Template, ParseError> {
        let trees = parse::parse(name, src, &|f| funcs::exists(f, &funcs))?;
        Ok(Template {
            name: name.to_string(),
            text: src.to_string(),
            trees,
            funcs,
            missing_key: MissingKey::Default,
        })
    }

    /// Sets the behaviour for missing map keys.
    pub fn with_missing_key(mut self, missing_key: MissingKey) -> Template {
        self.missing_key = missing_key;
        self
    }

    /// The template's name ("" for [`Template::parse`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends the template's output for `data` to `out`. On error `out`
    /// keeps what was written before the failure, as Go's writer would.
    pub fn execute(&self, data: &serde_json::Value, out: &mut String) -> Result<(), ExecError> {
        exec::execute(self, root_value(data), out, false)
    }

    /// Like [`Template::execute`], over typed data.
    pub fn execute_data(&self, data: &Data, out: &mut String) -> Result<(), ExecError> {
        exec::execute(self, data.to_value().unbox(), out, false)
    }

    /// Executes with docker's header functions: `json`, `split`, `join`,
    /// `title`, `lower`, `upper` and `truncate` return their first argument
    /// unchanged, so a `table` format renders its column titles from a map
    /// of header names.
    pub fn execute_header(
        &self,
        data: &serde_json::Value,
        out: &mut String,
    ) -> Result<(), ExecError> {
        exec::execute(self, root_value(data), out, true)
    }

    /// Convenience: executes into a new string.
    pub fn render(&self, data: &serde_json::Value) -> Result<String, ExecError> {
        let mut out = String::new();
        self.execute(data, &mut out)?;
        Ok(out)
    }
}

/// The data passed to Execute: a JSON null is Go's untyped nil.
fn root_value(data: &serde_json::Value) -> Value {
    Value::from_json(data).unbox()
}

/// A `--format` value after docker's preprocessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// The format started with `table`: the caller prints a header row and
    /// aligns columns (docker uses a tabwriter with min width 10, padding 3).
    pub table: bool,
    /// The template text to parse.
    pub template: String,
}

/// Docker's formatter preprocessing (`Context.preFormat`): strips a leading
/// `table` directive, turns the `json` format into `{{json .}}`, trims
/// spaces, and expands literal `\t` and `\n` into tab and newline.
pub fn preformat(format: &str) -> Format {
    let (table, rest) = strip_table(format);
    let body = if !table && format == "json" {
        "{{json .}}"
    } else {
        rest
    };
    Format {
        table,
        template: expand_escapes(body.trim_matches(' ')),
    }
}

/// Splits off docker's `table` directive: any format starting with the
/// word "table" is a table format, and the rest is the row template.
pub fn strip_table(format: &str) -> (bool, &str) {
    match format.strip_prefix("table") {
        Some(rest) => (true, rest),
        None => (false, format),
    }
}

/// Replaces the two-character sequences `\t` and `\n` with a tab and a
/// newline, as docker does before parsing a format.
pub fn expand_escapes(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preformat_like_docker() {
        assert_eq!(
            preformat("table {{.ID}}\\t{{.Image}}"),
            Format {
                table: true,
                template: "{{.ID}}\t{{.Image}}".into()
            }
        );
        assert_eq!(
            preformat("json"),
            Format {
                table: false,
                template: "{{json .}}".into()
            }
        );
        assert_eq!(
            preformat(" {{.ID}}\\n "),
            Format {
                table: false,
                template: "{{.ID}}\n".into()
            }
        );
    }

    fn state() -> Data {
        let f = |name: &str, json: Option<&str>, value| Field {
            name: name.into(),
            json: json.map(str::to_string),
            value,
            embedded: false,
        };
        Data::Struct(vec![
            f("ID", Some("Id"), Data::Json("c1".into())),
            f("Running", Some("Running"), Data::Json(true.into())),
            f("Pid", Some("Pid"), Data::Json(42.into())),
            f("Health", None, Data::Nil(Nil::Pointer)),
            f("Cmd", Some("Cmd"), Data::Nil(Nil::Slice)),
            f(
                "Labels",
                Some("Labels"),
                Data::Map(vec![
                    ("z".into(), Data::Json("1".into())),
                    ("a".into(), Data::Json("2".into())),
                ]),
            ),
        ])
    }

    fn run(src: &str, d: &Data) -> Result<String, ExecError> {
        let t = Template::parse(src).expect("parse");
        let mut out = String::new();
        t.execute_data(d, &mut out).map(|()| out)
    }

    #[test]
    fn structs_keep_declaration_order_and_maps_sort() {
        assert_eq!(
            run("{{json .}}", &state()).unwrap(),
            r#"{"Id":"c1","Running":true,"Pid":42,"Cmd":null,"Labels":{"a":"2","z":"1"}}"#
        );
        assert_eq!(
            run("{{.}}", &state()).unwrap(),
            "{c1 true 42 <nil> [] map[a:2 z:1]}"
        );
        assert_eq!(
            run("{{.Pid}} {{.Labels.x}}", &state()).unwrap(),
            "42 <no value>"
        );
        assert_eq!(
            run("{{range .Cmd}}x{{else}}none{{end}}", &state()).unwrap(),
            "none"
        );
    }

    #[test]
    fn a_struct_has_only_its_fields() {
        let e = run("{{.Bogus}}", &state()).unwrap_err();
        assert!(
            e.to_string()
                .contains("can't evaluate field Bogus in type struct"),
            "{e}"
        );
        assert!(run("{{range .}}{{end}}", &state()).is_err());
    }

    #[test]
    fn embedded_structs_inline_in_json_and_nest_in_print() {
        let field = |name: &str, value, embedded: bool| Field {
            name: name.into(),
            json: (!embedded).then(|| name.to_string()),
            value,
            embedded,
        };
        let inner = Data::Struct(vec![
            field("User", Data::Json("app".into()), false),
            field("Env", Data::Nil(Nil::Slice), false),
        ]);
        let d = Data::Struct(vec![
            field("ImageConfig", inner, true),
            field("Shell", Data::List(vec![Data::Json("sh".into())]), false),
        ]);
        assert_eq!(
            run("{{json .}}", &d).unwrap(),
            r#"{"User":"app","Env":null,"Shell":["sh"]}"#
        );
        assert_eq!(run("{{.}}", &d).unwrap(), "{{app []} [sh]}");
        assert_eq!(
            run("{{.User}} {{.ImageConfig.User}}", &d).unwrap(),
            "app app"
        );
        assert_eq!(
            d.to_json(),
            serde_json::json!({"User": "app", "Env": null, "Shell": ["sh"]})
        );
    }

    #[test]
    fn custom_values_print_their_text_and_encode_their_json() {
        let d = Data::Struct(vec![Field {
            name: "Interval".into(),
            json: Some("Interval".into()),
            value: Data::Custom {
                value: Box::new(Data::Json(30_000_000_000i64.into())),
                json: None,
                text: Some("30s".into()),
            },
            embedded: false,
        }]);
        assert_eq!(run("{{.}} {{.Interval}}", &d).unwrap(), "{30s} 30s");
        assert_eq!(
            run("{{printf \"%d\" .Interval}}", &d).unwrap(),
            "30000000000"
        );
        assert_eq!(
            run("{{json .}}", &d).unwrap(),
            r#"{"Interval":30000000000}"#
        );
        assert_eq!(run("{{if .Interval}}y{{end}}", &d).unwrap(), "y");
    }
}
