//! `docker build` with the classic builder (`DOCKER_BUILDKIT=0`, the CLI's
//! `POST /build`): stages, every step kind, the layer cache, and errors;
//! each result checked by running it or inspecting it.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{Berthd, Run, started, wait_output};

/// A build context directory with `files` (`name`, content).
pub(crate) fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("context dir");
    for (name, data) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    dir
}

/// `docker build ARGS` with the classic builder.
pub(crate) fn build<S: AsRef<std::ffi::OsStr>>(d: &Berthd, args: &[S]) -> Run {
    let mut all: Vec<std::ffi::OsString> = vec!["build".into()];
    all.extend(args.iter().map(|a| a.as_ref().to_os_string()));
    let mut child = d
        .docker_cmd(&all)
        .env("DOCKER_BUILDKIT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn docker build");
    let out = wait_output(&mut child, Duration::from_secs(120), "docker build");
    Run {
        args: all
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        out,
    }
}

fn steps(out: &str) -> usize {
    out.lines().filter(|l| l.starts_with("Step ")).count()
}

pub(crate) fn cache_hits(out: &str) -> usize {
    out.matches(" ---> Using cache").count()
}

pub(crate) fn no_containers_left(d: &Berthd) {
    let ps = d.docker(["ps", "-aq"]).ok();
    assert_eq!(ps.trim(), "", "build containers left behind");
}

const MULTI: &str = "\
# syntax=docker/dockerfile:1
FROM busybox AS builder
WORKDIR /src
COPY hello.txt ./
RUN tr a-z A-Z < hello.txt > upper.txt

FROM busybox
ENV GREETING=\"hi there\" \\
    # a comment inside the continuation
    COLOR=blue
WORKDIR /app
COPY --from=builder /src/upper.txt .
COPY conf/ conf/
RUN chown -R nobody /app
USER nobody
CMD [\"sh\", \"-c\", \"echo $GREETING $COLOR; cat upper.txt conf/a.conf; id -u; pwd\"]
";

#[test]
fn multi_stage_build_history_cache_and_one_file_change() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let ctx = context(&[
        ("Dockerfile", MULTI),
        ("hello.txt", "hello\n"),
        ("conf/a.conf", "a=1\n"),
    ]);
    let out = build(&d, &["-t", "multi:1", ctx.path().to_str().unwrap()]).ok();
    assert_eq!(steps(&out), 12, "{out}");
    assert!(out.contains("Step 1/12 : FROM busybox AS builder"), "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert!(out.contains("Successfully tagged multi:1"), "{out}");
    let run = d.docker(["run", "--rm", "multi:1"]).ok();
    assert_eq!(run, "hi there blue\nHELLO\na=1\n65534\n/app\n");
    no_containers_left(&d);

    let history = d
        .docker([
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "multi:1",
        ])
        .ok();
    let lines: Vec<&str> = history.lines().collect();
    assert!(
        lines[0].contains(r#"#(nop)  CMD ["sh" "-c" "echo $GREETING $COLOR; cat upper.txt conf/a.conf; id -u; pwd"]"#),
        "{history}"
    );
    assert_eq!(lines[1], "/bin/sh -c #(nop)  USER nobody");
    assert_eq!(lines[2], "/bin/sh -c chown -R nobody /app");
    assert!(
        lines[3].starts_with("/bin/sh -c #(nop) COPY dir:"),
        "{history}"
    );
    assert!(
        lines[4].starts_with("/bin/sh -c #(nop) COPY file:"),
        "{history}"
    );
    assert_eq!(lines[5], "/bin/sh -c #(nop) WORKDIR /app");
    assert_eq!(
        lines[6],
        "/bin/sh -c #(nop)  ENV GREETING=hi there COLOR=blue"
    );

    // Nothing changed: every step after each FROM comes from the cache.
    let t = Instant::now();
    let out = build(&d, &["-t", "multi:1", ctx.path().to_str().unwrap()]).ok();
    let nochange = t.elapsed();
    assert_eq!(cache_hits(&out), 10, "{out}");
    assert!(
        nochange < Duration::from_secs(2),
        "no-change rebuild took {nochange:?}"
    );

    // One copied file changed: the steps before it are cached, it and
    // everything after run again.
    std::fs::write(ctx.path().join("conf/a.conf"), "a=2\n").unwrap();
    let out = build(&d, &["-t", "multi:2", ctx.path().to_str().unwrap()]).ok();
    let after_copy = out.split("COPY conf/ conf/").nth(1).expect("the COPY step");
    assert_eq!(cache_hits(after_copy), 0, "{out}");
    assert_eq!(cache_hits(&out), 6, "{out}");
    let run = d.docker(["run", "--rm", "multi:2"]).ok();
    assert!(run.contains("a=2"), "{run}");

    // --no-cache runs everything.
    let out = build(&d, &["--no-cache", ctx.path().to_str().unwrap()]).ok();
    assert_eq!(cache_hits(&out), 0, "{out}");
    no_containers_left(&d);
}

#[test]
fn target_build_args_and_arg_scoping() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let df = "\
ARG BASE=busybox
ARG SHARED=meta
FROM $BASE AS first
ARG SHARED
ARG LOCAL=default
ENV FROM_ENV=${LOCAL:-none}-${UNSET:-fallback}-${SHARED}
RUN echo \"run sees $LOCAL $SHARED\" > /first.txt
CMD cat /first.txt

FROM $BASE AS second
RUN echo \"second: ${LOCAL:-no-local} ${SHARED:-no-shared}\" > /second.txt
CMD cat /second.txt
";
    let ctx = context(&[("Dockerfile", df)]);
    let p = ctx.path().to_str().unwrap();
    let out = build(
        &d,
        &[
            "--target",
            "first",
            "--build-arg",
            "LOCAL=given",
            "--build-arg",
            "NOPE=1",
            "-t",
            "first",
            p,
        ],
    )
    .ok();
    assert_eq!(steps(&out), 6, "only the target's stage runs: {out}");
    assert!(!out.contains("second:"), "{out}");
    assert!(
        out.contains("[Warning] One or more build-args [NOPE] were not consumed"),
        "{out}"
    );
    assert_eq!(
        d.docker(["run", "--rm", "first"]).ok(),
        "run sees given meta\n"
    );
    let env = d
        .docker([
            "inspect",
            "-f",
            "{{range .Config.Env}}{{println .}}{{end}}",
            "first",
        ])
        .ok();
    assert!(env.contains("FROM_ENV=given-fallback-meta\n"), "{env}");
    assert!(
        !env.contains("LOCAL="),
        "ARGs are not kept in the image: {env}"
    );
    let history = d
        .docker([
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "first",
        ])
        .ok();
    assert!(
        history.contains("|2 LOCAL=given SHARED=meta /bin/sh -c echo"),
        "{history}"
    );
    // A stage sees nothing of another's ARGs; a meta ARG only once declared.
    let out = build(&d, &["-t", "second", p]).ok();
    assert_eq!(steps(&out), 3, "the first stage is not needed: {out}");
    assert_eq!(
        d.docker(["run", "--rm", "second"]).ok(),
        "second: no-local no-shared\n"
    );
    // The Dockerfile on stdin (`-f -`: the CLI adds it to the context
    // under a random name and cuts the tar short); without
    // DOCKER_BUILDKIT=0 the CLI falls back to the classic builder too.
    let out = d
        .docker_stdin(
            ["build", "-q", "-f", "-", "-t", "stdin:1", p],
            b"FROM busybox\nCMD [\"echo\", \"from stdin\"]\n",
        )
        .ok();
    assert!(out.trim().starts_with("sha256:"), "-q prints the ID: {out}");
    assert_eq!(d.docker(["run", "--rm", "stdin:1"]).ok(), "from stdin\n");
    // A target that does not exist.
    let err = build(&d, &["--target", "nope", p]).fails();
    assert!(
        err.contains("failed to reach build target nope in Dockerfile"),
        "{err}"
    );
}

#[test]
fn failing_run_and_syntax_errors_tag_nothing() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo before; echo oops >&2; exit 7\nRUN echo never\n",
    )]);
    let r = build(&d, &["-t", "broken", ctx.path().to_str().unwrap()]);
    assert_eq!(r.code(), Some(7), "the CLI exits with the step's code");
    let all = format!("{}{}", r.stdout(), r.stderr());
    assert!(all.contains("before"), "{all}");
    assert!(all.contains("oops"), "{all}");
    assert!(
        all.contains("The command '/bin/sh -c echo before; echo oops >&2; exit 7' returned a non-zero code: 7"),
        "{all}"
    );
    assert!(!all.contains("never"), "{all}");
    assert!(d.docker(["image", "inspect", "broken"]).out.status.code() != Some(0));
    no_containers_left(&d);

    for (df, want) in [
        (
            "FROM busybox\n\n# comment\nFOO bar\n",
            "dockerfile parse error line 4: unknown instruction: FOO",
        ),
        (
            "FROM busybox\nRUN <<EOF\necho\n",
            "dockerfile parse error line 2: unterminated heredoc",
        ),
        (
            "FROM busybox\nENV A=\"open\n",
            "dockerfile parse error line 2: failed to process",
        ),
        (
            "FROM busybox\nCOPY --bogus a b\n",
            "dockerfile parse error line 2: Unknown flag: bogus",
        ),
        (
            "FROM busybox\nCOPY only\n",
            "COPY requires at least two arguments",
        ),
    ] {
        let ctx = context(&[("Dockerfile", df)]);
        let err = build(&d, &["-t", "bad", ctx.path().to_str().unwrap()]).fails();
        assert!(err.contains(want), "{df:?}: {err}");
    }
    // A source outside the context and a missing stage.
    let ctx = context(&[("Dockerfile", "FROM busybox\nCOPY ../x /x\n")]);
    let err = build(&d, &[ctx.path()]).fails();
    assert!(
        err.contains("forbidden path outside the build context: ../x"),
        "{err}"
    );
    let ctx = context(&[("Dockerfile", "FROM busybox\nCOPY --from=nowhere /a /a\n")]);
    let err = build(&d, &[ctx.path()]).fails();
    assert!(err.contains("No such image: nowhere"), "{err}");
    assert!(d.docker(["image", "inspect", "bad"]).out.status.code() != Some(0));
    no_containers_left(&d);
}

/// Serves `body` once per connection on 127.0.0.1 until the test ends.
fn serve(body: &'static [u8]) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        // Two downloads at most: the build and its rebuild.
        for s in l.incoming().take(2).flatten() {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Tue, 15 Nov 1994 08:12:31 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    (addr, h)
}

fn tar_bytes(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn dockerignore_add_tar_url_heredocs_and_chown() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let (addr, server) = serve(b"downloaded\n");
    let df = format!(
        "\
FROM busybox
COPY . /ctx/
ADD bundle.tar /unpacked/
ADD http://{addr}/files/remote.txt /dl/
COPY --chown=nobody:nobody --chmod=640 <<EOF /etc/generated.conf
value=${{VALUE:-default}}
EOF
RUN <<SCRIPT
set -e
echo script ran > /script.txt
SCRIPT
RUN cat <<-'TXT' > /quoted.txt
\tkeep $HOME literal
\tTXT
CMD find /ctx /unpacked /dl -type f | sort
"
    );
    let ctx = context(&[
        ("Dockerfile", &df),
        (".dockerignore", "*.log\nsecret/\n!keep.log\n**/*.tmp\n"),
        ("a.log", "x"),
        ("keep.log", "k"),
        ("secret/key", "s"),
        ("sub/b.tmp", "t"),
        ("sub/c.txt", "c"),
    ]);
    std::fs::write(
        ctx.path().join("bundle.tar"),
        tar_bytes(&[("inner/one.txt", "1"), ("two.txt", "2")]),
    )
    .unwrap();
    let out = build(&d, &["-t", "misc", ctx.path().to_str().unwrap()]).ok();
    let files = d.docker(["run", "--rm", "misc"]).ok();
    assert_eq!(
        files,
        "/ctx/.dockerignore\n/ctx/Dockerfile\n/ctx/bundle.tar\n/ctx/keep.log\n/ctx/sub/c.txt\n\
         /dl/remote.txt\n/unpacked/inner/one.txt\n/unpacked/two.txt\n",
        "{out}"
    );
    let check = d
        .docker([
            "run",
            "--rm",
            "misc",
            "sh",
            "-c",
            "cat /etc/generated.conf /script.txt /quoted.txt /dl/remote.txt; \
             stat -c '%U %a' /etc/generated.conf /dl/remote.txt; date -r /dl/remote.txt -u +%Y",
        ])
        .ok();
    assert_eq!(
        check,
        "value=default\nscript ran\nkeep $HOME literal\ndownloaded\nnobody 640\nroot 600\n1994\n"
    );
    drop(server);
}

#[test]
fn onbuild_triggers_run_in_the_child_and_cache_survives_restart() {
    if !testkit::require_root() {
        return;
    }
    let mut d = started();
    let base = context(&[(
        "Dockerfile",
        "FROM busybox\nONBUILD COPY app.txt /app/\nONBUILD RUN echo built-by-trigger > /app/trigger.txt\n",
    )]);
    build(&d, &["-t", "base:onbuild", base.path().to_str().unwrap()]).ok();
    let triggers = d
        .docker(["inspect", "-f", "{{json .Config.OnBuild}}", "base:onbuild"])
        .ok();
    assert_eq!(
        triggers.trim(),
        r#"["COPY app.txt /app/","RUN echo built-by-trigger > /app/trigger.txt"]"#
    );
    let child = context(&[
        (
            "Dockerfile",
            "FROM base:onbuild\nCMD cat /app/app.txt /app/trigger.txt\n",
        ),
        ("app.txt", "from the child\n"),
    ]);
    let out = build(&d, &["-t", "child", child.path().to_str().unwrap()]).ok();
    assert!(out.contains("# Executing 2 build triggers"), "{out}");
    assert_eq!(
        d.docker(["run", "--rm", "child"]).ok(),
        "from the child\nbuilt-by-trigger\n"
    );
    let on = d
        .docker(["inspect", "-f", "{{json .Config.OnBuild}}", "child"])
        .ok();
    assert_eq!(on.trim(), "null", "triggers do not pass on");

    // The cache index is on disk: a restarted daemon still hits.
    d.kill9();
    d.restart();
    let out = build(&d, &["-t", "child", child.path().to_str().unwrap()]).ok();
    assert_eq!(cache_hits(&out), 3, "{out}");
    no_containers_left(&d);
}

#[test]
fn raw_api_stream_matches_dockerd() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let t = tar_bytes(&[("Dockerfile", "FROM busybox\nLABEL a=b\n")]);
    let r = d.request(
        "POST",
        "/v1.41/build?t=raw:1&labels=%7B%22z%22%3A%221%22%7D&version=1",
        &[("Content-Type", "application/x-tar")],
        Some(&t),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let msgs: Vec<serde_json::Value> = r
        .text()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let streams: Vec<&str> = msgs.iter().filter_map(|m| m["stream"].as_str()).collect();
    assert_eq!(streams[0], "Step 1/3 : FROM busybox");
    assert_eq!(streams[1], "\n");
    assert!(streams.contains(&"Step 3/3 : LABEL z=1"), "{streams:?}");
    let aux = msgs
        .iter()
        .find_map(|m| m["aux"]["ID"].as_str())
        .expect("aux ID");
    assert!(aux.starts_with("sha256:"));
    assert_eq!(streams[streams.len() - 1], "Successfully tagged raw:1\n");
    let labels = d
        .docker(["inspect", "-f", "{{json .Config.Labels}}", "raw:1"])
        .ok();
    assert_eq!(labels.trim(), r#"{"a":"b","z":"1"}"#);
    // A syntax error is a 400 before any output.
    let t = tar_bytes(&[("Dockerfile", "FROM busybox\nNOPE x\n")]);
    let r = d.request("POST", "/v1.41/build", &[], Some(&t));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "dockerfile parse error line 2: unknown instruction: NOPE"
    );
    // Prune forgets the cache.
    let r = d.request("POST", "/v1.41/build/prune?all=1", &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    let t = tar_bytes(&[("Dockerfile", "FROM busybox\nLABEL a=b\n")]);
    let r = d.request("POST", "/v1.41/build", &[], Some(&t));
    assert!(!r.text().contains("Using cache"), "{}", r.text());
}
