//! Output formatting the way docker's `formatter` package does it: a `--format` value
//! is a Go template, optionally with the `table` directive (a header row from the
//! column names, then tabwriter alignment) or the `json` shorthand. Every row is a
//! "context object": a JSON object of the fields docker's per-command context exposes
//! (all strings, already formatted).

pub mod goshape;
pub mod goshape_image;
pub mod goshape_system;
pub mod tabwriter;
pub mod template;
pub mod units;

use serde_json::{Map, Value};

pub use template::Template;

/// Errors of formatting; the caller words them (`failed to parse template: ...` for
/// `ps`, `template parsing error: ...` elsewhere).
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{0}")]
    Parse(#[source] template::ParseError),
    #[error("{0}")]
    Exec(#[source] template::ExecError),
    /// A missing field of a context object, in docker's words (`template: :1:2:
    /// executing "" at <.Nope>: can't evaluate field Nope in type T`).
    #[error("{0}")]
    Field(String),
}

/// A `--format` value, after the command's defaults were applied.
#[derive(Debug, Clone)]
pub struct Format(pub String);

impl Format {
    /// Whether it has the `table` directive.
    pub fn is_table(&self) -> bool {
        self.0.starts_with("table")
    }

    /// Whether the format mentions `sub`.
    pub fn contains(&self, sub: &str) -> bool {
        self.0.contains(sub)
    }

    /// The template text: `json` becomes `{{json .}}`, the `table` directive goes, the
    /// escapes `\t` and `\n` become characters and surrounding blanks are trimmed.
    pub fn template_string(&self) -> String {
        let s = self.0.as_str();
        match s {
            "table" => return String::new(),
            "json" => return "{{json .}}".to_string(),
            _ => {}
        }
        let s = s.strip_prefix("table").unwrap_or(s);
        s.trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n")
    }

    /// Parses the template.
    pub fn parse(&self) -> Result<Compiled, FormatError> {
        let text = self.template_string();
        let whole_json = text.trim() == "{{json .}}";
        let tmpl = Template::parse(&text).map_err(FormatError::Parse)?;
        Ok(Compiled {
            tmpl,
            whole_json,
            table: self.is_table(),
            context: None,
        })
    }

    /// Parses the template for rows that are docker's context object `go_type`
    /// (`*formatter.ContainerContext`): a field the context does not have fails
    /// the way it fails in docker, naming that type.
    pub fn parse_for(&self, go_type: &'static str) -> Result<Compiled, FormatError> {
        let mut c = self.parse()?;
        c.tmpl = c.tmpl.with_missing_key(template::MissingKey::Error);
        c.context = Some(go_type);
        Ok(c)
    }

    /// Renders rows of the context object `go_type` (see [`Format::parse_for`]).
    pub fn render_for(
        &self,
        go_type: &'static str,
        header: &Value,
        rows: &[Value],
    ) -> Result<String, FormatError> {
        self.parse_for(go_type)?.render(header, rows)
    }

    /// Renders `rows` (context objects); for a table, `header` maps each field to its
    /// column title.
    pub fn render(&self, header: &Value, rows: &[Value]) -> Result<String, FormatError> {
        self.parse()?.render(header, rows)
    }
}

/// A parsed format.
pub struct Compiled {
    tmpl: Template,
    /// `{{json .}}` alone: written as Go's `json.Marshal` writes the context (HTML
    /// characters escaped, keys sorted).
    whole_json: bool,
    table: bool,
    /// The Go type of the rows, for docker's wording of a missing field.
    context: Option<&'static str>,
}

impl Compiled {
    /// One row, without its newline.
    pub fn row(&self, row: &Value) -> Result<String, FormatError> {
        let mut s = String::new();
        if self.whole_json {
            s.push_str(&go_json(row));
        } else {
            if let Err(e) = self.tmpl.execute(row, &mut s) {
                return Err(self.reword(e));
            }
        }
        Ok(s)
    }

    /// All rows, each followed by a newline; a table gets its header and alignment.
    pub fn render(&self, header: &Value, rows: &[Value]) -> Result<String, FormatError> {
        let mut body = String::new();
        for r in rows {
            body.push_str(&self.row(r)?);
            body.push('\n');
        }
        if !self.table {
            return Ok(body);
        }
        let mut text = String::new();
        if self.whole_json {
            text.push_str(&go_json(header));
        } else {
            // Docker ignores failures of the header row.
            let _ = self.tmpl.execute_header(header, &mut text);
        }
        text.push('\n');
        text.push_str(&body);
        Ok(tabwriter::table(&text))
    }
}

impl Compiled {
    /// Docker's templates run over Go structs, where a missing field is "can't
    /// evaluate field X in type T" rather than a missing map key.
    fn reword(&self, e: template::ExecError) -> FormatError {
        let Some(ty) = self.context else {
            return FormatError::Exec(e);
        };
        let msg = e.to_string();
        let Some(i) = msg.find("map has no entry for key \"") else {
            return FormatError::Exec(e);
        };
        let rest = &msg[i + "map has no entry for key \"".len()..];
        let field = rest.split('"').next().unwrap_or("");
        FormatError::Field(format!(
            "{}can't evaluate field {field} in type {ty}",
            &msg[..i]
        ))
    }
}

/// JSON names of the Engine API whose Go field names differ: docker's templates run
/// over Go structs, so `{{.ID}}` and `{{.Server.APIVersion}}` are what users write.
const GO_NAMES: &[(&str, &str)] = &[
    ("Id", "ID"),
    ("ApiVersion", "APIVersion"),
    ("NanoCpus", "NanoCPUs"),
    ("CpuShares", "CPUShares"),
    ("CpuPeriod", "CPUPeriod"),
    ("CpuQuota", "CPUQuota"),
    ("CpuRealtimePeriod", "CPURealtimePeriod"),
    ("CpuRealtimeRuntime", "CPURealtimeRuntime"),
    ("CpuCount", "CPUCount"),
    ("CpuPercent", "CPUPercent"),
    ("Dns", "DNS"),
    ("DnsOptions", "DNSOptions"),
    ("DnsSearch", "DNSSearch"),
];

/// Adds the Go field names a template uses (see [`GO_NAMES`]) next to the JSON
/// names in `v`, so the template reads API JSON as docker's reads Go structs. Only
/// names the template mentions are added, so `{{json .}}` output is untouched.
pub fn add_go_names(v: &mut Value, template: &str) {
    let wanted: Vec<(&str, &str)> = GO_NAMES
        .iter()
        .copied()
        .filter(|(_, go)| template.contains(&format!(".{go}")))
        .collect();
    if !wanted.is_empty() {
        alias(v, &wanted);
    }
}

fn alias(v: &mut Value, names: &[(&str, &str)]) {
    match v {
        Value::Object(m) => {
            for (json, go) in names {
                if let Some(x) = m.get(*json).cloned() {
                    m.entry(go.to_string()).or_insert(x);
                }
            }
            for (_, x) in m.iter_mut() {
                alias(x, names);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| alias(x, names)),
        _ => {}
    }
}

/// Go's `json.Marshal` text of a value: compact, with `<`, `>` and `&` escaped.
pub fn go_json(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    escape_html(&s)
}

/// Escapes `<`, `>`, `&` (and U+2028/2029) as Go's encoder does by default.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Builds a context object from `(field, value)` pairs.
pub fn object<I, K, V>(pairs: I) -> Value
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<Value>,
{
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.into(), v.into());
    }
    Value::Object(m)
}

/// Go's `json.Indent(dst, src, "", indent)`: the same tokens, in the same order, one
/// element per line. Whitespace between tokens is dropped; empty arrays and objects
/// stay `[]` and `{}`.
pub fn json_indent(src: &[u8], indent: &str) -> String {
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut i = 0;
    // After an opening bracket, the newline is held until we know it is not empty.
    let mut pending_open = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(indent.as_bytes());
        }
    };
    while i < src.len() {
        let c = src[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if pending_open && c != b']' && c != b'}' {
            newline(&mut out, depth);
            pending_open = false;
        }
        match c {
            b'"' => {
                let start = i;
                i += 1;
                while i < src.len() && src[i] != b'"' {
                    if src[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(src.len());
                out.extend_from_slice(&src[start..i]);
                continue;
            }
            b'[' | b'{' => {
                out.push(c);
                depth += 1;
                pending_open = true;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if pending_open {
                    pending_open = false;
                } else {
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => {
                out.extend_from_slice(b": ");
            }
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indent_matches_go() {
        let raw = br#"[{"Id":"a","Args":[],"Env":{},"S":"x, y: {z}","N":[1,{"k":null}]}
]"#;
        assert_eq!(
            json_indent(raw, "    "),
            "[\n    {\n        \"Id\": \"a\",\n        \"Args\": [],\n        \"Env\": {},\n        \"S\": \"x, y: {z}\",\n        \"N\": [\n            1,\n            {\n                \"k\": null\n            }\n        ]\n    }\n]"
        );
    }

    #[test]
    fn table_directive_and_escapes() {
        let f = Format("table {{.ID}}\\t{{.Name}}".into());
        assert!(f.is_table());
        assert_eq!(f.template_string(), "{{.ID}}\t{{.Name}}");
        let header = json!({"ID": "CONTAINER ID", "Name": "NAME"});
        let rows = [json!({"ID": "abc", "Name": "web"})];
        assert_eq!(
            f.render(&header, &rows).unwrap(),
            "CONTAINER ID   NAME\nabc            web\n"
        );
        let f = Format("{{.ID}}".into());
        assert_eq!(f.render(&header, &rows).unwrap(), "abc\n");
    }

    #[test]
    fn whole_json_escapes_like_go() {
        let f = Format("json".into());
        let rows = [json!({"B": "<none>", "A": "x&y"})];
        assert_eq!(
            f.render(&Value::Null, &rows).unwrap(),
            "{\"A\":\"x\\u0026y\",\"B\":\"\\u003cnone\\u003e\"}\n"
        );
    }
}
