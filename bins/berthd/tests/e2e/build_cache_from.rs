//! `docker build --cache-from` with the classic builder: an image built on
//! one daemon, saved and loaded into another (so it has no local parent
//! chain there), serves as the cache of the same build, step by step, by
//! its history; dockerd 20.10's rules for which cache a build may use then.

use crate::build::{build, cache_hits, context, no_containers_left};
use crate::harness::{Berthd, started};

const DOCKERFILE: &str = "\
FROM busybox
ENV GREETING=hello
WORKDIR /app
COPY hello.txt ./
COPY --from=busybox /bin/busybox /app/bb
RUN cat /proc/sys/kernel/random/uuid > /app/ran
CMD [\"cat\", \"/app/hello.txt\", \"/app/ran\"]
";

fn image_id(d: &Berthd, name: &str) -> String {
    d.docker(["image", "inspect", "-f", "{{.Id}}", name])
        .ok()
        .trim()
        .to_string()
}

/// The "Successfully built" ID of a build's output.
fn built_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .unwrap_or_else(|| panic!("no 'Successfully built' in {out}"))
        .trim()
        .to_string()
}

#[test]
fn loaded_image_serves_as_cache_by_its_history() {
    if !testkit::require_root() {
        return;
    }
    let files = [("Dockerfile", DOCKERFILE), ("hello.txt", "hello\n")];
    let ctx = context(&files);
    let dir = ctx.path().to_str().unwrap();

    // The original, on a daemon of its own; saved with its base.
    let a = started();
    build(&a, &["-t", "cf:orig", dir]).ok();
    let orig = image_id(&a, "cf:orig");
    let orig_run = a.docker(["run", "--rm", "cf:orig"]).ok();
    let tar = tempfile::tempdir().unwrap();
    let tar = tar.path().join("images.tar");
    a.docker(["save", "-o", tar.to_str().unwrap(), "busybox", "cf:orig"])
        .ok();
    drop(a);

    // Another daemon: the image is loaded, its build steps are not there.
    let b = Berthd::start();
    b.docker(["load", "-i", tar.to_str().unwrap()]).ok();
    assert_eq!(image_id(&b, "cf:orig"), orig);

    // Without --cache-from every step runs again (a new RUN output, so a
    // new image).
    let out = build(&b, &["-t", "cf:plain", dir]).ok();
    assert_eq!(cache_hits(&out), 0, "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert_ne!(image_id(&b, "cf:plain"), orig);

    // With it, every step is the loaded image's: the result is that very
    // image, and nothing ran. The local cache the plain build just left
    // is not used (dockerd takes local entries only from the sources'
    // own chains).
    let out = build(&b, &["--cache-from", "cf:orig", "-t", "cf:again", dir]).ok();
    assert_eq!(cache_hits(&out), 6, "{out}");
    assert!(!out.contains("Running in"), "{out}");
    assert_eq!(image_id(&b, "cf:again"), orig, "{out}");
    assert!(orig.contains(&built_id(&out)), "{out}");
    assert_eq!(b.docker(["run", "--rm", "cf:again"]).ok(), orig_run);
    // What --cache-from took does not join the local cache (as in
    // dockerd): a plain rebuild takes what the plain build made.
    let out = build(&b, &["-t", "cf:local", dir]).ok();
    assert_eq!(cache_hits(&out), 6, "{out}");
    assert_eq!(image_id(&b, "cf:local"), image_id(&b, "cf:plain"), "{out}");

    // A changed last step: the steps before it come from the loaded
    // image's layers (new images made of its history entries), the
    // changed one runs; the result has the cached RUN's file.
    let changed = DOCKERFILE.replace(
        "CMD [\"cat\", \"/app/hello.txt\", \"/app/ran\"]",
        "CMD [\"sh\", \"-c\", \"echo $GREETING; cat /app/ran\"]",
    );
    std::fs::write(ctx.path().join("Dockerfile"), &changed).unwrap();
    let out = build(&b, &["--cache-from", "cf:orig", "-t", "cf:changed", dir]).ok();
    assert_eq!(cache_hits(&out), 5, "{out}");
    let after = out.split("Step 7/7").nth(1).expect("step 7");
    assert_eq!(cache_hits(after), 0, "{out}");
    let ran = orig_run.lines().nth(1).expect("the RUN's output line");
    assert_eq!(
        b.docker(["run", "--rm", "cf:changed"]).ok(),
        format!("hello\n{ran}\n")
    );
    let history = b
        .docker(["history", "--format", "{{.CreatedBy}}", "cf:changed"])
        .ok();
    assert!(
        history
            .lines()
            .nth(1)
            .unwrap()
            .contains("cat /proc/sys/kernel/random/uuid"),
        "{history}"
    );

    // Names that are not there are skipped; with none found, nothing is
    // a hit, not even the local cache.
    std::fs::write(ctx.path().join("Dockerfile"), DOCKERFILE).unwrap();
    let out = build(&b, &["--cache-from", "127.0.0.1:1/nothing:here", dir]).ok();
    assert_eq!(cache_hits(&out), 0, "{out}");
    no_containers_left(&b);

    // The classic builder's cache is images: dockerd 20.10 reports no
    // build cache records (BuildKit's) at all.
    let df = b.get_json("/system/df");
    assert_eq!(df["BuildCache"], serde_json::Value::Null, "{df}");
    assert_eq!(df["BuilderSize"], 0, "{df}");
    let rows = b
        .docker([
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Size}}",
        ])
        .ok();
    assert!(rows.lines().any(|l| l == "Build Cache 0 0B"), "{rows}");
}
