//! `build` through both CLIs with the classic builder (`DOCKER_BUILDKIT=0`, so both
//! print docker's deprecation notice for it): the same output, step by step, modulo
//! IDs; the same exit status (a failing RUN's own); the same context sent (its size
//! is printed, and a `RUN ls` shows what `.dockerignore` left out).

use crate::harness::{DOCKER, Daemon, Seen, berth_bin, normalize, seen, started};

/// A build context directory with `files` (`name`, content).
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("context dir");
    for (name, data) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, data).expect("write a context file");
    }
    dir
}

/// `build ARGS` through berth, then docker (each with `stdin`), compared with IDs
/// normalized. `--no-cache` in `args` keeps the second build from reusing the
/// first one's steps.
pub(crate) fn same_build(d: &Daemon, args: &[&str], stdin: Option<&[u8]>) -> Seen {
    same_build_env(d, args, stdin, &[])
}

/// [`same_build`] with more environment for both CLIs.
pub(crate) fn same_build_env(
    d: &Daemon,
    args: &[&str],
    stdin: Option<&[u8]>,
    more_env: &[(&str, &str)],
) -> Seen {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let mut env = vec![("DOCKER_BUILDKIT", "0")];
    env.extend_from_slice(more_env);
    let b = seen(&d.cli_env(berth_bin(), &all, stdin, &env), true);
    let k = seen(&d.cli_env(DOCKER, &all, stdin, &env), false);
    let fix = |s: Seen| Seen {
        code: s.code,
        stdout: context_line_first(&normalize(&s.stdout, &[])),
        stderr: normalize(&s.stderr, &[]),
    };
    let (b, k) = (fix(b), fix(k));
    assert_eq!(b, k, "berth and docker differ for {all:?} (left berth)");
    b
}

/// `out` with its "Sending build context" progress line moved to the front. The
/// docker CLI prints that line from its upload goroutine, which races the
/// printing of the daemon's steps: on a busy machine a cached build's steps can
/// come out first. Where it lands says nothing about the daemon.
fn context_line_first(out: &str) -> String {
    const SENDING: &str = "Sending build context to Docker daemon";
    let Some(start) = out.find(SENDING) else {
        return out.to_string();
    };
    let end = out[start..].find('\n').map_or(out.len(), |i| start + i + 1);
    format!("{}{}{}", &out[start..end], &out[..start], &out[end..])
}

#[test]
fn the_context_line_moves_to_the_front() {
    let raced = "Step 1/1 : FROM x\nSending build context to Docker daemon  2kB\r\r\nSuccessfully built y\n";
    assert_eq!(
        context_line_first(raced),
        "Sending build context to Docker daemon  2kB\r\r\nStep 1/1 : FROM x\nSuccessfully built y\n"
    );
    assert_eq!(context_line_first("no upload\n"), "no upload\n");
}

const NOTICE: &str =
    "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\n";

const MULTI: &str = "\
FROM busybox AS builder
WORKDIR /src
COPY hello.txt ./
RUN tr a-z A-Z < hello.txt > upper.txt

FROM busybox
ARG COLOR=red
ENV GREETING=\"hi there\"
COPY --from=builder /src/upper.txt /app/
RUN echo $COLOR > /app/color
CMD [\"cat\", \"/app/upper.txt\"]
";

#[test]
fn builds_match_docker() {
    if !testkit::require_root() {
        return;
    }
    let d = started();
    let simple = context(&[(
        "Dockerfile",
        "FROM busybox\nLABEL stage=one\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n",
    )]);
    let dir = simple.path().to_str().expect("utf-8 path");
    let out = same_build(
        &d,
        &["--no-cache", "-t", "simple:1", "-t", "simple:2", dir],
        None,
    );
    assert!(out.stderr.starts_with(NOTICE), "{out:?}");
    assert!(
        out.stdout.contains("Successfully tagged simple:2\n"),
        "{out:?}"
    );
    let run = d.berth(&["run", "--rm", "simple:1"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "built\n");
    // Cached, quiet, labels.
    same_build(&d, &["-t", "simple:1", dir], None);
    let out = same_build(&d, &["-q", "--label", "a=b", dir], None);
    assert!(out.stdout.starts_with("sha256:"), "{out:?}");

    let multi = context(&[("Dockerfile", MULTI), ("hello.txt", "hello\n")]);
    let dir = multi.path().to_str().expect("utf-8 path");
    same_build(
        &d,
        &[
            "--no-cache",
            "-t",
            "multi",
            "--build-arg",
            "COLOR=blue",
            dir,
        ],
        None,
    );
    let run = d.berth(&["run", "--rm", "multi", "cat", "/app/color"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "blue\n");
    let out = same_build(&d, &["--no-cache", "--target", "builder", dir], None);
    assert!(!out.stdout.contains("Step 6/"), "{out:?}");
    same_build(&d, &["--target", "nope", dir], None);

    // A failing RUN: its status is the exit status; a syntax error.
    let failing = context(&[("Dockerfile", "FROM busybox\nRUN echo going; exit 3\n")]);
    let out = same_build(&d, &["--no-cache", failing.path().to_str().unwrap()], None);
    assert_eq!(out.code, Some(3), "{out:?}");
    let bad = context(&[("Dockerfile", "FROM busybox\nNOPE x\n")]);
    let out = same_build(&d, &[bad.path().to_str().unwrap()], None);
    assert_eq!(out.code, Some(1), "{out:?}");

    // .dockerignore: patterns, exceptions, **, and the build files sent anyway.
    let ignore = context(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY . /ctx/\nRUN cd /ctx && find . | sort\n",
        ),
        (
            ".dockerignore",
            "# comment\n*.log\n!keep.log\n**/tmp\nsecret/\nDockerfile\n.dockerignore\n",
        ),
        ("a.txt", "a"),
        ("b.log", "b"),
        ("keep.log", "k"),
        ("deep/er/tmp/x", "x"),
        ("deep/y", "y"),
        ("secret/key", "k"),
    ]);
    let dir = ignore.path().to_str().unwrap();
    let out = same_build(&d, &["--no-cache", dir], None);
    for gone in ["b.log", "tmp", "secret"] {
        assert!(!out.stdout.contains(gone), "{gone} was sent: {out:?}");
    }
    assert!(out.stdout.contains("./keep.log\n"), "{out:?}");

    // The Dockerfile from stdin (with a context dir, and as the whole context), a
    // tar on stdin, -f elsewhere, and the errors of the context.
    let df = b"FROM busybox\nRUN echo from-stdin\n";
    same_build(&d, &["--no-cache", "-f", "-", dir], Some(df));
    same_build(&d, &["--no-cache", "-"], Some(df));
    let tar = std::process::Command::new("tar")
        .args(["-C", multi.path().to_str().unwrap(), "-cf", "-", "."])
        .output()
        .expect("run tar");
    same_build(&d, &["--no-cache", "-"], Some(&tar.stdout));
    let elsewhere = simple.path().join("Dockerfile");
    same_build(
        &d,
        &["--no-cache", "-f", elsewhere.to_str().unwrap(), dir],
        None,
    );
    same_build(&d, &["-f", "-", "-"], Some(df));
    same_build(&d, &["-f", "nope", dir], None);
    same_build(&d, &["/nonexistent/context"], None);
    same_build(&d, &[], None);
    same_build(&d, &["-t", "Bad", dir], None);
}
