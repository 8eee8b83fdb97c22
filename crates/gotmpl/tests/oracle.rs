//! Differential test against Go's real text/template, reached through the
//! docker CLI (v28, built with Go 1.24) without a daemon.
//!
//! `docker context inspect NAME --format T` executes T over a context
//! whose `Endpoints` map holds, for endpoint names docker does not know,
//! the raw JSON of the context's metadata file decoded as Go's
//! `map[string]interface{}`. The test stores its data there and wraps
//! each template as `{{define "x"}}T{{end}}{{template "x" .Endpoints.t}}`,
//! so T runs with the data as dot; ours runs the same source over
//! `{"Endpoints": {"t": data}}`. Output and error messages must be equal.
//!
//! Go decodes every JSON number as float64, so the data given to our
//! engine has its numbers converted to floats too. The test is skipped
//! when the docker CLI is not installed.
//!
//! Known, deliberate differences are left out here and pinned in
//! cases.rs: `join` accepting a JSON array of strings, and string escapes
//! producing invalid UTF-8 (`"\377"`), which become U+FFFD in Rust strings.

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_gotmpl::Template;
use serde_json::{Value, json};

const DOCKER: &str = "/usr/local/bin/docker";
const CONTEXT: &str = "berthgotmpl";

fn data() -> Value {
    json!({
        "Name": "web", "ID": "abc123def456", "Args": ["-c", "echo hi"],
        "Labels": {"a.b": "x", "com.example": "y<&>", "empty": ""},
        "State": {"Status": "running", "Pid": 1234, "Running": true, "ExitCode": 0},
        "Mounts": [{"Source": "/a", "Destination": "/b"}, {"Source": "/c", "Destination": "/d"}],
        "Empty": [], "EmptyMap": {}, "Null": null, "F": 1.5, "Big": 1234567, "Neg": -3,
        "Zero": 0, "Str": "hello world", "Html": "<a href='x'>&</a>", "Bool": false,
        "Nested": {"L": [1, [2, 3], {"k": null}], "M": {"z": 1, "a": [true, "s"]}},
        "U": "ünïcödé", "Ctl": "a\tb\u{1}\u{2028}", "Tiny": 0.000012, "Huge": 1.5e300
    })
}

/// Go's decoder turns every number into a float64.
fn floatify(v: &Value) -> Value {
    match v {
        Value::Number(n) => serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0))
            .map_or(Value::Null, Value::Number),
        Value::Array(a) => Value::Array(a.iter().map(floatify).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), floatify(v))).collect())
        }
        v => v.clone(),
    }
}

struct Go {
    config: tempfile::TempDir,
}

impl Go {
    fn new() -> Option<Go> {
        if !Path::new(DOCKER).exists() {
            eprintln!("skipping: {DOCKER} not installed");
            return None;
        }
        let config = tempfile::tempdir().expect("tempdir");
        let go = Go { config };
        let st = go
            .cmd()
            .args([
                "context",
                "create",
                CONTEXT,
                "--docker",
                "host=unix:///nonexistent.sock",
            ])
            .output()
            .expect("run docker context create");
        assert!(
            st.status.success(),
            "context create: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let meta_root = go.config.path().join("contexts/meta");
        let dir: PathBuf = std::fs::read_dir(&meta_root)
            .expect("read meta dir")
            .next()
            .expect("one context")
            .expect("dir entry")
            .path();
        let meta = json!({
            "Name": CONTEXT,
            "Metadata": {},
            "Endpoints": {
                "docker": {"Host": "unix:///nonexistent.sock", "SkipTLSVerify": false},
                "t": data(),
            }
        });
        std::fs::write(dir.join("meta.json"), meta.to_string()).expect("write meta.json");
        Some(go)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(DOCKER);
        c.env("DOCKER_CONFIG", self.config.path())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT");
        c
    }

    fn run(&self, src: &str) -> Result<String, String> {
        let out = self
            .cmd()
            .args(["context", "inspect", CONTEXT, "--format", src])
            .output()
            .expect("run docker context inspect");
        if out.status.success() {
            let s = String::from_utf8_lossy(&out.stdout).into_owned();
            return Ok(s.strip_suffix('\n').unwrap_or(&s).to_string());
        }
        let e = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        Err(e
            .strip_prefix("template parsing error: ")
            .unwrap_or(&e)
            .to_string())
    }
}

fn ours(src: &str, data: &Value) -> Result<String, String> {
    let t = Template::parse(src).map_err(|e| e.to_string())?;
    t.render(data).map_err(|e| e.to_string())
}

fn wrap(t: &str) -> String {
    format!("{{{{define \"x\"}}}}{t}{{{{end}}}}{{{{template \"x\" .Endpoints.t}}}}")
}

/// Templates run with the test data as dot.
const WITH_DATA: &[&str] = &[
    "{{.ID}}",
    "{{.Name}} {{.Nope}} {{.State.Nope}} {{.Nope.Deeper}}",
    "{{json .}}",
    "{{json .Labels}}|{{json .Args}}|{{json .Null}}|{{json .Html}}|{{json .Ctl}}|{{json .Tiny}}|{{json .Huge}}",
    "{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}",
    "{{index .Labels \"a.b\"}}|{{index .Labels \"nope\"}}|{{index .Args 1}}|{{index .Nested.L 1 0}}",
    "{{index .Args 2}}",
    "{{index .Args 5}}",
    "{{index .Labels 1}}",
    "{{index .Null 1}}",
    "{{index .Str 1}}|{{index .Nested.L 2 \"k\"}}",
    "{{printf \"%-10s|\" .Name}}",
    "{{if eq .State.Status \"running\"}}up{{else}}down{{end}}",
    "{{with .Nope}}yes{{else}}no{{end}}|{{with .Name}}{{.}}{{end}}|{{with .Empty}}x{{else with .Name}}n={{.}}{{end}}",
    "{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}",
    "{{range $i, $m := .Mounts}}{{$i}}{{$m.Source}}{{end}}",
    "{{range .Empty}}x{{else}}empty{{end}}|{{range .EmptyMap}}x{{else}}emptymap{{end}}|{{range .Nope}}x{{else}}none{{end}}",
    "{{range .Nested.L}}[{{.}}]{{end}}",
    "{{range $v := .Args}}{{if eq $v \"-c\"}}{{continue}}{{end}}{{$v}}{{end}}",
    "{{range .Args}}{{.}}{{break}}{{end}}",
    "{{.State.Pid | printf \"%d\"}}|{{printf \"%v %.2f %e %g\" .State.Pid .F .F .Big}}",
    "{{.F}} {{.Big}} {{.Neg}} {{.Zero}} {{.Tiny}} {{.Huge}} {{.Bool}} {{.Null}} {{.Empty}} {{.EmptyMap}}",
    "{{.Nested}}|{{print .Nested}}|{{printf \"%v|%+v|%#v|%s|%q\" .Nested .Nested .Nested .Nested .Nested}}",
    "{{printf \"%T %T %T %T %T %T\" .Name .F .Args .Labels .Null .Nope}}",
    "{{printf \"%x %X %q %s %v\" .U .U .U .Ctl .Ctl}}|{{printf \"%+q %#q %.3s %5.1q\" .U .Name .U .Name}}",
    "{{printf \"%d %s\" .Args .Args}}",
    "{{len .Args}} {{len .Labels}} {{len .Name}} {{len .U}}",
    "{{len .Nope}}",
    "{{len .Null}}",
    "{{len .F}}",
    "{{slice .Args 1}}|{{slice .Name 1 2}}|{{slice .Nested.L 0 1 2}}",
    "{{slice .Name 2 1}}",
    "{{eq .Name \"web\" \"db\"}} {{ne .Name \"web\"}} {{lt .Name \"zz\"}} {{eq .Nope .Null}} {{eq .Null nil}}",
    "{{eq .F 1.5}} {{gt .Big 1000.0}} {{le .F 1.5}}",
    "{{eq .Labels .Labels}}",
    "{{eq .Labels .Args}}",
    "{{eq .F 1}}",
    "{{lt .Bool true}}",
    "{{and .Name .Nope}}|{{or .Nope .Empty .Name}}|{{not .Empty}}|{{and .Name .Args}}",
    "{{if and .State.Running (eq .State.ExitCode 0.0)}}ok{{end}}",
    "{{html .Html}}|{{js .Html}}|{{urlquery .Html}}|{{html .Nope}}|{{print .Nope}}",
    "{{upper .Name}} {{lower \"ABC\"}} {{title .Str}} {{title .U}}",
    "{{upper .Nope}}",
    "{{upper .Null}}",
    "{{upper .F}}",
    "{{truncate .ID 5}}|{{truncate .Name 10}}|{{pad .Name 2 3}}|{{pad .Nope2 1 1}}",
    "{{truncate .ID .F}}",
    "{{split .Str \" \"}}|{{range split .Str \"o\"}}[{{.}}]{{end}}|{{len (split .Str \"\")}}",
    "{{.Name.Foo}}",
    "{{.Null.Foo}}",
    "{{.Args.Foo}}",
    "{{range .Args}}{{.Foo}}{{end}}",
    "{{with .Name}}{{.Foo}}{{end}}",
    "{{$x := .Name}}{{$x}}{{$x = .ID}}{{$x}}{{$.Name}}",
    "{{range $i, $e := .Args}}{{$.Name}}{{$i}}{{end}}",
    "{{.Name 1}}",
    "{{.Labels.x 1}}",
    "{{1 | .Name}}",
    "{{(index .Mounts 0).Source}}|{{(.State).Status}}",
    "{{call .Name}}",
    "{{call .Nope}}",
    "{{range .F}}{{end}}",
    "{{range .Name}}{{end}}",
    "{{template \"y\" .}}",
    "{{json .Nested.M}} {{json (index .Nested.L 1)}}",
    "{{range $k, $v := .Nested.M}}{{$k}}{{$v}}{{end}}",
    "{{printf \"%s\" .Null}}|{{printf \"%v\" .Null}}|{{printf \"%d\" .Nope}}",
    "{{.Labels.empty}}|{{if .Labels.empty}}t{{else}}f{{end}}",
    "{{printf \"%05.1f|%-8v|%8v|%x\" .F .Name .Args .Args}}",
];

/// Templates that do not touch the data (run without wrapping).
const WITHOUT_DATA: &[&str] = &[
    "{{printf \"%5.2f\" 3.14159}}",
    "{{slice \"abcdef\" 1 3}}",
    "{{range $i, $e := split \"a,b,c\" \",\"}}{{$i}}{{$e}}{{end}}",
    "{{printf \"%v|%v|%v|%v\" 1234567.0 123456789012345678901.0 0.0001 0.00001}}",
    "{{printf \"%.0f %.0f %.1f %.1f %.2f\" 0.5 2.5 0.25 0.35 1.005}}",
    "{{printf \"%e %E %g %.3g %.3g %G %8.3f|%-8.2f|%+d|% d\" 1234.5678 0.000123 100000000.0 1.0 1234.0 1e-10 3.14159 2.5 5 5}}",
    "{{printf \"%q %v %c %U %#U %x %o %O %b %#o %#b\" 65 \"a\\tb\" 0x1F600 0x1F600 65 -255 8 8 5 8 5}}",
    "{{printf \"%[2]d %[1]d %d\" 1 2}}|{{printf \"%d %d\" 1}}|{{printf \"%d\" 1 2 \"x\"}}|{{printf \"%!\"}}|{{printf \"%z\" 1}}",
    "{{printf \"%*d|%-*d|%.*f\" 5 1 4 2 2 3.14159}}|{{printf \"%[3]d\" 1}}|{{printf \"%\"}}|{{printf \"%-*d|\" -4 1}}",
    "{{printf \"%#v %#v %#v %#x %#g %#.3e %+.2e % .3f %08.3f %-08.3f|%x %X %b\" 1.0 \"s\" true 3.5 2.0 1.0 1.0 1.0 -3.14159 3.1 1.5 -2.25 1.0}}",
    "{{printf \"%05s|%.2s|%-5.1s|%5q|%#q|%x|% X|%#x\" \"ab\" \"abc\" \"xyz\" \"a\" \"b`c\" \"\" \"hi\" \"\"}}",
    "{{printf \"%t %v %d %s\" true false true 1}}",
    "{{printf \"%6.2v|%.0d|%5.0d|%+.3d|%x|%X|%#o|%c|%q|%U\" 3.14159 0 0 7 -1 3000000000 0 -1 1114112 -1}}",
    "{{print 1 2 \"a\" \"b\" 3 nil true}}|{{println 1 \"a\" 2}}|{{print}}",
    "{{0x10}} {{1e3}} {{1_000}} {{0b11}} {{0o17}} {{017}} {{-0}} {{1i}} {{1+2i}} {{'a'}} {{'\\n'}} {{0x1p-2}} {{-0.0}} {{.5}} {{1.}}",
    "{{printf \"%v %T\" 'x' 'x'}} {{printf \"%T %T %T\" 1 1.5 2i}}",
    "{{99999999999999999999}}",
    "{{1e400}}",
    "{{18446744073709551615}}",
    "{{\"\\q\"}}",
    "{{'ab'}}",
    "{{''}}",
    "{{\"a\\x41\\u00e9\\101\"}}|{{`raw\\n`}}",
    "{{eq 1 1.0}}",
    "{{eq 1 2 3 1}} {{eq \"a\" \"b\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt 1.5 1.2}} {{ge \"b\" \"a\"}}",
    "{{eq}}",
    "{{eq 1}}",
    "{{lt true false}}",
    "{{lt 1 \"a\"}}",
    "{{and 1 0 2}}|{{or 0 \"\" \"x\"}}|{{and 1 2}}|{{or 0 false}}|{{not 1}}|{{1 | and 2}}|{{0 | or 3}}",
    "{{and}}",
    "{{not}}",
    "{{not 1 2}}",
    "{{index \"abc\" 3}}",
    "{{index \"abc\" -1}}",
    "{{index 1 1}}",
    "{{index nil 1}}",
    "{{slice \"abc\" 1 2 3}}",
    "{{slice \"abc\" 4}}",
    "{{slice 1 1}}",
    "{{json \"a<b>&c\"}}|{{json 1}}|{{json 1.5}}|{{json nil}}|{{json true}}|{{json (split \"a,b\" \",\")}}",
    "{{json 1i}}",
    "{{split \"a,b\" \",\"}}|{{join (split \"a,b\" \",\") \"-\"}}|{{printf \"%q\" (split \"a,b\" \",\")}}|{{printf \"%#v\" (split \"a,b\" \",\")}}",
    "{{join \"a\" \",\"}}",
    "{{join nil \",\"}}|{{split \"\" \",\"}}|{{len (split \"\" \",\")}}",
    "{{pad \"x\" 1 2}}|{{pad \"\" 1 2}}|{{truncate \"abc\" 5}}|{{truncate \"abc\" 2}}",
    "{{truncate \"abc\" -1}}",
    "{{pad \"x\" -1 0}}",
    "{{truncate \"abc\" 1.5}}",
    "{{truncate \"abc\"}}",
    "{{truncate \"abc\" 1 2}}",
    "{{upper 1}}",
    "{{upper nil}}",
    "{{title \"hello wORLD foo-bar o'neil x_y 1a\"}}",
    "{{urlquery \"a b&c/d~é\"}}|{{js \"a<b>\\\"'=\\\\é\\u2028\\x01\"}}|{{html \"<a href=\\\"x\\\">'&\"}}|{{html 1 \"a\" 2}}",
    "{{range 3}}{{.}}{{end}}|{{range $i := 2}}{{$i}}{{end}}|{{range 0}}x{{else}}none{{end}}|{{range -2}}x{{else}}neg{{end}}",
    "{{range $i, $e := 3}}{{end}}",
    "{{range \"ab\"}}{{.}}{{end}}",
    "{{range true}}{{end}}",
    "{{with 0}}x{{else with \"\"}}y{{else with 3}}{{.}}{{end}}",
    "{{if 0}}a{{else if 0}}b{{else if 1}}c{{end}}",
    "{{define \"a\"}}A{{.}}{{end}}{{template \"a\" 1}}{{template \"a\"}}{{block \"b\" 2}}B{{.}}{{end}}",
    "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
    "{{define \"a\"}}{{end}}{{define \"a\"}}y{{end}}{{template \"a\"}}",
    "{{define \"r\"}}{{if lt . 3}}{{.}}{{end}}{{end}}{{template \"r\" 1}}",
    "{{template \"nope\"}}",
    "{{define \"a\"}}{{foo}}{{end}}",
    "{{define \"a\"}}{{index \"x\" 5}}{{end}}{{template \"a\"}}",
    "{{nil}}",
    "{{1 2}}",
    "{{\"x\" 1}}",
    "{{$x := 1}}{{$x 2}}",
    "{{(1) 2}}",
    "{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}{{if true}}{{$x = 3}}{{$y := 4}}{{end}}{{$x}}",
    "{{$x := 1}}{{$x = 2}}{{$y = 3}}",
    "{{with $x := 5}}{{$x}}{{.}}{{end}}",
    "{{range $x := split \"a,b\" \",\"}}{{$x}}{{end}}",
    "{{$x := 0}}{{range $x = split \"a,b\" \",\"}}{{$x}}{{end}}{{$x}}",
    "{{$i := 9}}{{$e := 8}}{{range $i, $e = split \"a,b\" \",\"}}{{$i}}{{$e}}{{end}}{{$i}}{{$e}}",
    "{{len.x}}",
    "{{(len \"ab\").x}}",
    "{{nil.x}}",
    "{{(nil).x}}",
    "a {{- \" b \" -}} c {{- /* comment */ -}} d\n\t{{- 1}}\n{{2 -}}\n e",
    "{{/* x */}}ok{{- /* y */}} z",
    "{{",
    "{{.A",
    "{{.A}",
    "{{}}",
    "{{end}}",
    "{{else}}",
    "{{if}}{{end}}",
    "{{if 1}}",
    "{{if 1}}{{else}}{{else}}{{end}}",
    "{{range 1}}{{else if 1}}{{end}}{{end}}",
    "{{foo}}",
    "{{1 | 2}}",
    "{{$x}}",
    "{{\"abc}}",
    "{{`abc}}",
    "{{(1}}",
    "{{1)}}",
    "{{.A.}}",
    "{{3x}}",
    "{{1.2.3}}",
    "{{/* x }}",
    "{{/* x */ }}",
    "{{-3}}|{{- 3}}|{{ -3 -}}|x",
    "{{\"a\".b}}",
    "{{true.x}}",
    "{{break}}",
    "{{continue}}",
    "{{range 1}}{{break 1}}{{end}}",
    "{{template}}",
    "{{template 1}}",
    "{{define 1}}{{end}}",
    "{{define \"a\"}}",
    "{{block \"a\"}}{{end}}",
    "{{with $x, $y := 1}}{{end}}",
    "{{range $x, $y, $z := 1}}{{end}}",
    "{{range $x, 1}}{{end}}",
    "{{range $x, }}{{end}}",
    "a\n{{.A\nx}}",
    "{{if 1}}\n{{else foo}}{{end}}",
    "line1\n{{if 1}}\n{{end}}\n{{1 | 2}}",
    "{{ .A := 1}}",
    "{{$x := }}",
    "{{:}}",
    "{{=}}",
    "{{#}}",
    "{{|1}}",
    "{{1|}}",
    "{{(1}}x",
    "{{\u{e9}}}",
    "{{\u{1}}}",
    "{{$\u{e9} := 1}}{{$\u{e9}}}",
    "{{printf \"%d\" (1 | printf \"%d\")}}",
    "{{\"unterminated\n\"}}",
    "{{'\n'}}",
    "{{1\n}}{{2 \n}}",
    "x{{1}}y{{/*c*/}}z",
    "a\n  b {{index \"x\" 3}}",
    "{{if 1}}\n  {{- index \"x\" 3 -}}\n{{end}}",
    "{{with 1}}{{else}}{{end}}{{range 2}}{{else}}{{end}}{{- 3 -}}",
    "{{printf \"%s|%v|%d\" (split \"a b\" \" \") (len \"abc\") (index \"a\" 0)}}",
    "{{print \"a\" 1 2 \"b\" nil \"c\"}}|{{println}}|{{print nil nil}}",
    "{{printf \"%08.3f|%+08d|%-8q|%x|%#v\" -3.5 42 \"ab\" -1.0 'x'}}",
    "{{printf \"%.3q|%10.4v|%-10v|\" \"abcdef\" \"abcdef\" true}}",
    "{{\"\\u00e9\\U0001F600\\a\\b\\f\\v\\0\\377\"|printf \"%q\"}}",
];

fn compare(go: &Go, src: &str, data: &Value, failures: &mut Vec<String>) {
    let want = go.run(src);
    let got = ours(src, data);
    if want != got {
        failures.push(format!(
            "template {src:?}\n   go: {want:?}\n  ours: {got:?}"
        ));
    }
}

#[test]
fn matches_go_text_template() {
    let Some(go) = Go::new() else {
        return;
    };
    let mut failures = Vec::new();
    let wrapped_data = json!({"Endpoints": {"t": floatify(&data())}});
    for t in WITH_DATA {
        compare(&go, &wrap(t), &wrapped_data, &mut failures);
    }
    for t in WITHOUT_DATA {
        compare(&go, t, &json!({}), &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
