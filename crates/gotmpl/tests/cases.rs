//! Table of (template, data, expected output) taken from Go's text/template
//! semantics and typical docker `--format` usage. Every expectation was
//! checked against Go 1.24 through the docker CLI (see oracle.rs), except
//! the ones marked as deliberate differences.

use berth_gotmpl::{Funcs, MissingKey, Template, preformat};
use serde_json::{Value, json};

fn container() -> Value {
    json!({
        "ID": "4f2b9c1d8e7a",
        "Name": "/web",
        "Args": ["-c", "sleep 1000"],
        "Config": {"Labels": {"a.b": "x", "com.example.team": "infra"}, "Env": ["A=1", "B=2"]},
        "Labels": {"b": "2", "a": "1"},
        "State": {"Status": "running", "Pid": 4242, "Running": true, "ExitCode": 0},
        "Mounts": [
            {"Source": "/var/lib/a", "Destination": "/a", "RW": true},
            {"Source": "/var/lib/b", "Destination": "/b", "RW": false}
        ],
        "Size": 5370000,
        "Ratio": 0.25,
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
        "Null": null
    })
}

fn render(t: &str, data: &Value) -> Result<String, String> {
    Template::parse(t)
        .map_err(|e| e.to_string())?
        .render(data)
        .map_err(|e| e.to_string())
}

#[test]
fn docker_style_formats() {
    let d = container();
    let cases: &[(&str, &str)] = &[
        ("{{.ID}}", "4f2b9c1d8e7a"),
        (
            "{{json .State}}",
            r#"{"ExitCode":0,"Pid":4242,"Running":true,"Status":"running"}"#,
        ),
        ("{{json .Args}}", r#"["-c","sleep 1000"]"#),
        (
            "{{range .Mounts}}{{.Source}} {{end}}",
            "/var/lib/a /var/lib/b ",
        ),
        ("{{index .Config.Labels \"a.b\"}}", "x"),
        ("{{index .Config.Labels \"missing\"}}", "<no value>"),
        // Deliberate difference: Go rejects a []interface{} for join's
        // []string parameter; docker's typed data has []string there.
        ("{{join .Args \" \"}}", "-c sleep 1000"),
        ("{{printf \"%-10s|\" .Name}}", "/web      |"),
        ("{{if eq .State.Status \"running\"}}up{{end}}", "up"),
        ("{{with .Nope}}yes{{else}}no{{end}}", "no"),
        ("{{with .State}}{{.Status}}{{else}}none{{end}}", "running"),
        (
            "{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}",
            "a=1;b=2;",
        ),
        ("{{.State.Pid | printf \"%d\"}}", "4242"),
        ("{{.State.Pid}} {{.Size}} {{.Ratio}}", "4242 5370000 0.25"),
        ("{{.NoSuchField}}", "<no value>"),
        ("{{.State.NoSuch.Deeper}}", "<no value>"),
        ("{{.Null}}", "<no value>"),
        (
            "{{lower .State.Status}} {{upper .State.Status}} {{title \"hello world\"}}",
            "running RUNNING Hello World",
        ),
        (
            "{{truncate .ID 4}}|{{pad .ID 1 1}}|",
            "4f2b| 4f2b9c1d8e7a |",
        ),
        (
            "{{range $i, $e := split \"a,b,c\" \",\"}}{{$i}}{{$e}}{{end}}",
            "0a1b2c",
        ),
        (
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            "172.17.0.2",
        ),
        ("{{(index .Mounts 1).Destination}}", "/b"),
        ("{{len .Config.Env}}", "2"),
        ("a  {{- .ID -}}  b", "a4f2b9c1d8e7ab"),
        ("{{- /* comment */ -}} x", "x"),
        ("{{.Labels}}", "map[a:1 b:2]"),
        ("{{.Args}}", "[-c sleep 1000]"),
        (
            "{{printf \"%5d|%-5d|%05d|%x|%q|%v|%t\" 42 42 42 255 \"q\" .Null true}}",
            "   42|42   |00042|ff|\"q\"|<nil>|true",
        ),
        (
            "{{printf \"%.2f %5.1f %e %g\" 3.14159 2.25 1234.5 0.0001}}",
            "3.14   2.2 1.234500e+03 0.0001",
        ),
        (
            "{{if and .State.Running (not .State.ExitCode)}}ok{{end}}",
            "ok",
        ),
        ("{{if or .Nope .State.Running}}y{{end}}", "y"),
        (
            "{{eq .State.Pid 4242 1}} {{ne .State.Status \"x\"}} {{lt .Size 6000000}}",
            "true true true",
        ),
        (
            "{{range .Mounts}}{{if not .RW}}{{continue}}{{end}}{{.Destination}}{{end}}",
            "/a",
        ),
        ("{{range .Config.Env}}{{.}}{{break}}{{end}}", "A=1"),
        ("{{$n := .Name}}{{range .Mounts}}{{$n}}{{end}}", "/web/web"),
        (
            "{{define \"m\"}}[{{.Source}}]{{end}}{{range .Mounts}}{{template \"m\" .}}{{end}}",
            "[/var/lib/a][/var/lib/b]",
        ),
        ("{{block \"b\" .ID}}<{{.}}>{{end}}", "<4f2b9c1d8e7a>"),
        ("{{json .Null}} {{json .Nope}}", "null null"),
        ("{{json \"<&>\"}}", "\"<&>\""),
        ("{{slice .ID 0 4}}", "4f2b"),
        ("{{range 3}}{{.}}{{end}}", "012"),
    ];
    for (t, want) in cases {
        assert_eq!(render(t, &d).as_deref(), Ok(*want), "template {t:?}");
    }
}

#[test]
fn errors_are_worded_like_go() {
    let d = container();
    let cases: &[(&str, &str)] = &[
        ("{{foo}}", "template: :1: function \"foo\" not defined"),
        ("{{.ID}", "template: :1: bad character U+007D '}'"),
        ("{{if .ID}}", "template: :1: unexpected EOF"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{\"x}}", "template: :1: unterminated quoted string"),
        ("{{$x}}", "template: :1: undefined variable \"$x\""),
        (
            "{{.ID | 1}}",
            "template: :1: non executable command in pipeline stage 2",
        ),
        (
            "x\n{{.A\n}}{{y}}",
            "template: :3: function \"y\" not defined",
        ),
        (
            "{{index .Args 5}}",
            "template: :1:2: executing \"\" at <index .Args 5>: error calling index: index out of range: 5",
        ),
        (
            "{{.ID.X}}",
            "template: :1:5: executing \"\" at <.ID.X>: can't evaluate field X in type interface {}",
        ),
        (
            "{{upper .Nope}}",
            "template: :1:8: executing \"\" at <.Nope>: invalid value; expected string",
        ),
        (
            "{{truncate .ID \"3\"}}",
            "template: :1:15: executing \"\" at <\"3\">: expected integer; found \"3\"",
        ),
        (
            "{{eq .State.Pid \"x\"}}",
            "template: :1:2: executing \"\" at <eq .State.Pid \"x\">: error calling eq: incompatible types for comparison",
        ),
        (
            "{{template \"t\"}}",
            "template: :1:11: executing \"\" at <{{template \"t\"}}>: template \"t\" not defined",
        ),
        (
            "{{call .ID}}",
            "template: :1:2: executing \"\" at <call .ID>: error calling call: non-function .ID of type string",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(render(t, &d), Err(want.to_string()), "template {t:?}");
    }
}

#[test]
fn partial_output_is_kept_on_error() {
    let t = Template::parse("a{{.X}}b{{index .L 3}}c").unwrap();
    let mut out = String::new();
    assert!(t.execute(&json!({"X": 1, "L": []}), &mut out).is_err());
    assert_eq!(out, "a1b");
}

#[test]
fn missing_key_error_option() {
    let t = Template::parse("{{.A}}{{.B}}")
        .unwrap()
        .with_missing_key(MissingKey::Error);
    assert_eq!(
        t.render(&json!({"A": 1})).unwrap_err().to_string(),
        "template: :1:8: executing \"\" at <.B>: map has no entry for key \"B\""
    );
}

#[test]
fn header_functions_pass_values_through() {
    let f = preformat("table {{.ID}}\\t{{upper .Name}}\\t{{json .Labels}}\\t{{truncate .Cmd 3}}");
    assert!(f.table);
    let t = Template::parse(&f.template).unwrap();
    let header =
        json!({"ID": "CONTAINER ID", "Name": "NAMES", "Labels": "LABELS", "Cmd": "COMMAND"});
    let mut out = String::new();
    t.execute_header(&header, &mut out).unwrap();
    assert_eq!(out, "CONTAINER ID\tNAMES\tLABELS\tCOMMAND");
}

#[test]
fn registered_functions() {
    let funcs = Funcs::new().with("double", |args| {
        let n = args.first().and_then(Value::as_i64).ok_or("not a number")?;
        Ok(json!(n * 2))
    });
    let t = Template::parse_with("", "{{double .N}} {{.N | double}}", funcs.clone()).unwrap();
    assert_eq!(t.render(&json!({"N": 21})).unwrap(), "42 42");
    let t = Template::parse_with("", "{{double .S}}", funcs).unwrap();
    assert_eq!(
        t.render(&json!({"S": "x"})).unwrap_err().to_string(),
        "template: :1:2: executing \"\" at <double .S>: error calling double: not a number"
    );
    assert!(Template::parse("{{double 1}}").is_err());
}

#[test]
fn runaway_recursion_is_an_error() {
    let t =
        Template::parse("{{define \"a\"}}{{template \"a\" .}}{{end}}{{template \"a\" .}}").unwrap();
    let err = t.render(&json!({})).unwrap_err().to_string();
    assert!(err.contains("exceeded maximum template depth"), "{err}");
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    let err = Template::parse(&format!("{{{{{deep}}}}}"))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "template: :1: max expression depth exceeded");
    let ifs = format!("{}{}", "{{if 1}}".repeat(5000), "{{end}}".repeat(5000));
    assert!(Template::parse(&ifs).is_err());
    // Just under the limit both parse and execute, in a test thread's
    // small stack, in debug builds.
    let ok = format!("{}x{}", "{{with 1}}".repeat(299), "{{end}}".repeat(299));
    assert_eq!(
        Template::parse(&ok).unwrap().render(&json!(null)).unwrap(),
        "x"
    );
    let parens = format!("{{{{{}1{}}}}}", "(".repeat(299), ")".repeat(299));
    assert_eq!(
        Template::parse(&parens)
            .unwrap()
            .render(&json!(null))
            .unwrap(),
        "1"
    );
    let mixed = format!(
        "{}{{{{{}1{}}}}}{}",
        "{{if 1}}".repeat(150),
        "(".repeat(149),
        ")".repeat(149),
        "{{end}}".repeat(150)
    );
    assert_eq!(
        Template::parse(&mixed)
            .unwrap()
            .render(&json!(null))
            .unwrap(),
        "1"
    );
    // Recursion through deeply nested bodies hits the execution bound.
    let body = format!(
        "{}{{{{template \"a\" .}}}}{}",
        "{{with 1}}".repeat(250),
        "{{end}}".repeat(250)
    );
    let rec = format!("{{{{define \"a\"}}}}{body}{{{{end}}}}{{{{template \"a\" .}}}}");
    let err = Template::parse(&rec)
        .unwrap()
        .render(&json!(null))
        .unwrap_err()
        .to_string();
    assert!(err.contains("exceeded maximum template depth"), "{err}");
}
