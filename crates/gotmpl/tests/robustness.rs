//! Random templates built from the language's tokens must parse or fail
//! with an error, and execute or fail with an error, never panic. The
//! generator is a fixed-seed xorshift, so failures reproduce; the fuzz
//! target in fuzz/ explores the same property with coverage guidance.

use berth_gotmpl::Template;
use serde_json::json;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{- ",
    " -}}",
    "{{/*",
    "*/}}",
    " ",
    "\n",
    "text",
    "é",
    "(",
    ")",
    "|",
    ".",
    ".A",
    ".B.C",
    ".L",
    ".M",
    ".N",
    ".S",
    "$",
    "$x",
    "$y",
    ":=",
    "=",
    ",",
    "\"s\"",
    "\"%d %s %v %q %x %5.2f %-3s %[2]d %*d %\"",
    "`raw`",
    "'c'",
    "'\\n'",
    "1",
    "-1",
    "0",
    "2.5",
    "1e3",
    "0x1F",
    "1i",
    "3",
    "nil",
    "true",
    "false",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "\"t\"",
    "and",
    "or",
    "not",
    "len",
    "index",
    "slice",
    "print",
    "printf",
    "println",
    "html",
    "js",
    "urlquery",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "call",
    "json",
    "split",
    "join",
    "title",
    "lower",
    "upper",
    "pad",
    "truncate",
    "\"",
    "`",
    "'",
    "}",
    "{",
    "-",
    "+",
    "#",
    "\t",
    "\\",
];

#[test]
fn random_templates_never_panic() {
    let data = json!({
        "A": 1, "B": {"C": [1, "two", null, {"D": 4.5}]}, "L": ["x", "y"], "M": {"k": "v", "n": null},
        "N": null, "S": "str"
    });
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let n = 1 + rng.next() % 24;
        let src: String = (0..n).map(|_| rng.pick(PIECES)).collect();
        if let Ok(t) = Template::parse(&src) {
            parsed += 1;
            let mut out = String::new();
            let _ = t.execute(&data, &mut out);
            let _ = t.execute_header(&data, &mut out);
        }
    }
    // The generator must reach the evaluator, not only the parser.
    assert!(parsed > 500, "only {parsed} random templates parsed");
}

#[test]
fn structured_templates_never_panic() {
    let data = json!({"A": [1, 2, 3], "M": {"a": {"b": null}}, "S": "héllo", "F": 1.5});
    let operands = [
        ".A",
        ".M",
        ".M.a.b",
        ".S",
        ".F",
        ".Nope",
        "$",
        "$.A",
        "1",
        "-2",
        "2.5",
        "\"x\"",
        "nil",
        "true",
        "(index .A 1)",
        "(slice .S 1)",
        "(split .S \"l\")",
        "(len .A)",
        "1i",
        "'x'",
    ];
    let funcs = [
        "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js",
        "urlquery", "eq", "ne", "lt", "le", "gt", "ge", "call", "json", "split", "join", "title",
        "lower", "upper", "pad", "truncate",
    ];
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let f = funcs[(rng.next() % funcs.len() as u64) as usize];
        let argc = rng.next() % 4;
        let args: Vec<&str> = (0..argc)
            .map(|_| operands[(rng.next() % operands.len() as u64) as usize])
            .collect();
        let src = match rng.next() % 4 {
            0 => format!("{{{{{f} {}}}}}", args.join(" ")),
            1 => format!(
                "{{{{range $i, $e := {f} {}}}}}{{{{$i}}}}{{{{$e}}}}{{{{end}}}}",
                args.join(" ")
            ),
            2 => format!(
                "{{{{with {f} {}}}}}{{{{.}}}}{{{{else}}}}e{{{{end}}}}",
                args.join(" ")
            ),
            _ => format!("{{{{{} | {f}}}}}", args.join(" ")),
        };
        if let Ok(t) = Template::parse(&src) {
            let mut out = String::new();
            let _ = t.execute(&data, &mut out);
        }
    }
}
