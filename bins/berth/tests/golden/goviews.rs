//! `--format` over the Go values docker's templates see for `image inspect`,
//! `version` and `info`: fields in Go declaration order with Go's zero values,
//! embedded structs inline in JSON and nested in `{{.}}`, `omitempty` fields left
//! out. Outputs are compared byte for byte, except values that differ between two
//! runs (the daemon's clock, file descriptors and tasks) and the client's own
//! description of itself (berth is not docker 28.2.2), whose field order is
//! checked instead.

use crate::harness::{Daemon, berth_bin, same, started};

/// Builds `tag` from `dockerfile` through berth (classic builder).
fn build(d: &Daemon, tag: &str, dockerfile: &str) {
    let dir = tempfile::tempdir().expect("context dir");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write Dockerfile");
    let ctx = dir.path().to_str().expect("utf-8 path");
    let o = d.cli_env(
        berth_bin(),
        &["build", "-q", "-t", tag, ctx],
        None,
        &[("DOCKER_BUILDKIT", "0")],
    );
    assert!(o.status.success(), "berth build {tag}: {o:?}");
}

/// The keys of the JSON object `text`, in the order written (nested objects'
/// keys left out).
fn keys(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut esc) = (0, false, false);
    let mut cur = String::new();
    let mut expect_key = false;
    for c in text.chars() {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => {
                    in_str = false;
                    if expect_key {
                        out.push(std::mem::take(&mut cur));
                        expect_key = false;
                    }
                    continue;
                }
                _ => {}
            }
            if expect_key {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => {
                depth += 1;
                expect_key = depth == 1 && c == '{';
            }
            '}' | ']' => depth -= 1,
            ',' => expect_key = depth == 1,
            _ => {}
        }
    }
    out
}

/// The JSON text of key `key` of the object `text` (up to the end of its value).
fn member<'a>(text: &'a str, key: &str) -> &'a str {
    let start = text
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {text}"));
    let rest = &text[start + key.len() + 3..];
    let mut depth = 0;
    let mut in_str = false;
    let mut esc = false;
    for (i, c) in rest.char_indices() {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' if depth == 0 => return &rest[..i],
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => return &rest[..i],
            _ => {}
        }
    }
    rest
}

/// berth's description of itself has docker's fields in docker's order; the
/// `omitempty` ones it has no value for (`GitCommit`, `GoVersion`, `BuildTime`)
/// are left out.
fn assert_client_fields(berth: &str, docker: &str, last: &str) {
    let (b, k) = (keys(berth), keys(docker));
    let mut theirs = k.iter();
    for key in &b {
        assert!(
            theirs.any(|x| x == key),
            "berth's client fields {b:?} are not docker's {k:?} in order"
        );
    }
    for key in ["Version", "DefaultAPIVersion", "Os", "Arch", "Context"] {
        assert!(b.iter().any(|x| x == key), "{key} missing in {berth}");
    }
    assert_eq!(b.last().map(String::as_str), Some(last), "{berth}");
}

fn stdout(d: &Daemon, berth: bool, args: &[&str]) -> String {
    let o = if berth { d.berth(args) } else { d.docker(args) };
    assert!(o.status.success(), "{args:?}: {o:?}");
    String::from_utf8(o.stdout).expect("utf-8 output")
}

#[test]
fn image_inspect_formats_see_the_go_struct() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    build(
        &d,
        "rich:1",
        "FROM busybox\nENV A=1 B=two\nLABEL tier=front z=last\nEXPOSE 80/tcp 53/udp\n\
         VOLUME /data\nWORKDIR /srv\nUSER 1000:1000\nSTOPSIGNAL SIGTERM\n\
         SHELL [\"/bin/sh\", \"-ec\"]\nONBUILD RUN echo hi\nENTRYPOINT [\"/bin/sh\"]\n\
         CMD [\"-c\", \"echo hi\"]\n",
    );
    // A healthcheck is a pointer inside the config: `{{.Config}}` prints its
    // address in Go, so this image is only looked at through it.
    build(
        &d,
        "health:1",
        "FROM busybox\nHEALTHCHECK --interval=90s --start-period=1500ms --retries=3 CMD true\n",
    );
    let formats = [
        "{{json .}}",
        "{{json .Config}}",
        "{{.Config}}",
        "{{.RootFS}}",
        "{{json .RootFS}}",
        "{{.Metadata}}",
        "{{.GraphDriver}}",
        "{{.ContainerConfig}}",
        "{{.ID}} {{.Os}} {{.Size}} {{.Config.User}} {{.Config.ImageConfig.Env}} {{.Config.Shell}}",
        "{{range $k, $v := .Config.ExposedPorts}}{{$k}}={{$v}} {{end}}",
    ];
    for image in ["busybox", "rich:1"] {
        for f in formats {
            same(&d, &["image", "inspect", "--format", f, image]);
            same(&d, &["inspect", "--type", "image", "--format", f, image]);
        }
    }
    for f in [
        "{{json .}}",
        "{{json .Config}}",
        "{{json .Config.Healthcheck}}",
        "{{.Config.Healthcheck}}",
        "{{.Config.Healthcheck.Interval}} {{printf \"%d\" .Config.Healthcheck.StartPeriod}}",
    ] {
        same(&d, &["image", "inspect", "--format", f, "health:1"]);
    }
    // Two images, one line each; a field the type lacks falls back to the raw JSON.
    same(
        &d,
        &[
            "image",
            "inspect",
            "--format",
            "{{.RootFS.Type}}",
            "busybox",
            "rich:1",
        ],
    );
    same(
        &d,
        &["image", "inspect", "--format", "{{.Nope}}", "busybox"],
    );
}

#[test]
fn version_formats_see_the_go_struct() {
    if !testkit::require_root() {
        return;
    }
    let d = Daemon::start();
    for f in [
        "{{json .Server}}",
        "{{.Server}}",
        "{{.Server.Platform}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}",
        "{{range .Server.Components}}{{.Name}} {{getDetailsOrder .}}\n{{end}}",
        "{{.Client.APIVersion}} {{.Client.Os}} {{.Client.Context}} {{.Client.Platform}}",
        "a\\tb{{\"\\t\"}}c",
        "{{.Nope}}",
        "{{.Server.Nope",
    ] {
        same(&d, &["version", "--format", f]);
    }
    for f in ["{{json .}}", "json"] {
        let (b, k) = (
            stdout(&d, true, &["version", "--format", f]),
            stdout(&d, false, &["version", "--format", f]),
        );
        assert_eq!(keys(&b), ["Client", "Server"], "{b}");
        assert_eq!(
            member(&b, "Server"),
            member(&k, "Server"),
            "berth {b}\ndocker {k}"
        );
        assert_client_fields(member(&b, "Client"), member(&k, "Client"), "Context");
    }
}

/// `info`'s JSON with what changes from one run to the next written `<v>`.
fn steady(info: &str) -> String {
    let re = regex::Regex::new(r#""(SystemTime|NFd|NGoroutines)":("[^"]*"|\d+)"#).expect("regex");
    re.replace_all(info, "\"$1\":<v>").into_owned()
}

#[test]
fn info_formats_see_the_go_struct() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    for f in [
        "{{.Plugins}}",
        "{{json .RegistryConfig}}",
        "{{json .Plugins}}",
        "{{.Runtimes}}",
        "{{json .Runtimes}}",
        "{{.Swarm}}",
        "{{json .Swarm}}",
        "{{.ContainerdCommit}} {{.RuncCommit.ID}} {{.DriverStatus}}",
        "{{.CPUCfsPeriod}} {{.HTTPProxy}} {{.Images}} {{.ServerErrors}}",
        "{{.ClientInfo.Context}} {{.ClientInfo.Debug}} {{.ClientInfo.Plugins}}",
        "a\\tb{{\"\\t\"}}c",
        "{{.Nope}}",
        "{{.Client.Version}}",
        "{{.Nope",
    ] {
        same(&d, &["info", "--format", f]);
        same(&d, &["system", "info", "--format", f]);
    }
    for f in ["{{json .}}", "json"] {
        let (b, k) = (
            stdout(&d, true, &["info", "--format", f]),
            stdout(&d, false, &["info", "--format", f]),
        );
        let cut = |s: &str| steady(&s[..s.find(",\"ClientInfo\":").unwrap_or(s.len())]);
        assert_eq!(cut(&b), cut(&k), "berth {b}\ndocker {k}");
        assert_eq!(
            keys(&b).last().map(String::as_str),
            Some("ClientInfo"),
            "{b}"
        );
        let client = |s: &str| {
            let c = member(s, "ClientInfo");
            // Debug, the embedded client version, then Plugins and Warnings.
            assert!(
                c.starts_with("{\"Debug\":false,")
                    && c.ends_with(",\"Plugins\":[],\"Warnings\":null}"),
                "{c}"
            );
            c.to_string()
        };
        assert_client_fields(&client(&b), &client(&k), "Warnings");
    }
}
