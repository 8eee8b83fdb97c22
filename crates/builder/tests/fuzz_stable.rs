//! The fuzz targets of `fuzz/` (the builder's) as ordinary tests: each
//! body (tests/fuzzing) runs over seeded pseudo-random inputs and over
//! mutations of valid seeds, a fixed number of times, so `cargo test`
//! exercises them everywhere; `scripts/fuzz.sh` (in CI too) runs the
//! coverage-guided versions.
//!
//! `BERTH_FUZZ_ITERS` scales the budget (default 500 inputs per target);
//! `BERTH_FUZZ_SEED` picks another sequence. A failure prints the input.

mod fuzzing;

fn iters() -> u64 {
    std::env::var("BERTH_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

fn seed() -> u64 {
    std::env::var("BERTH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x00be_7f00)
}

/// Runs `body` over random bytes and mutations of `seeds`; a panic names
/// the input.
fn run(name: &str, seeds: &[&str], dict: &[&[u8]], max: usize, body: fn(&[u8])) {
    let mut rng = fuzzing::Rng::new(seed() ^ name.len() as u64);
    let check = |input: &[u8]| {
        let r = std::panic::catch_unwind(|| body(input));
        if let Err(e) = r {
            eprintln!("{name}: failing input {:?}", String::from_utf8_lossy(input));
            std::panic::resume_unwind(e);
        }
    };
    for s in seeds {
        check(s.as_bytes());
    }
    for i in 0..iters() {
        let input = if i % 4 == 0 {
            rng.bytes(max)
        } else {
            let s = seeds[rng.below(seeds.len())].as_bytes();
            rng.mutate(s, dict)
        };
        check(&input);
    }
}

const DOCKERFILES: &[&str] = &[
    "# syntax=docker/dockerfile:1\n# escape=`\nARG BASE=busybox\nFROM ${BASE:-scratch} AS one\nENV A=1 \\\n    B=\"two words\"\nRUN echo $A `\n  && echo ${B:+set}\n",
    "ARG V\nFROM busybox AS build\nARG V=1\nWORKDIR /src\nCOPY --chown=1:1 --from=0 a* b/ /dst/\nRUN <<EOF\necho $V\nEOF\nFROM scratch\nCOPY --from=build /src/x /\nCMD [\"/x\", \"--flag\"]\n",
    "FROM a\nRUN <<-'ONE' cat && cat <<TWO\n\tfirst $X\n\tONE\nsecond ${X:-d}\nTWO\nCOPY <<EOF /f\n${Y-none}\nEOF\n",
    "from busybox\nonbuild run echo \\$HOME\nONBUILD COPY . /app\nhealthcheck --interval=5s --retries=2 CMD true\nEXPOSE 80/udp 90-92\nVOLUME [\"/data\"]\nSHELL [\"/bin/bash\", \"-c\"]\nSTOPSIGNAL SIGKILL\nUSER ${U:-nobody}\nLABEL a=b c=\"d e\"\nENTRYPOINT exec x\nMAINTAINER me\nADD --checksum=sha256:00 http://h/f /\n",
    "FROM x AS y\nRUN [\"sh\", \"-c\", \"echo \\\"$Z\\\"\"]\n# comment\n\nRUN a \\\n# inside\n\n  b\n",
];

#[test]
fn fuzz_dockerfile() {
    let dict: &[&[u8]] = &[
        b"FROM ",
        b"RUN ",
        b"COPY ",
        b"ARG ",
        b"ENV ",
        b"ONBUILD ",
        b"\\\n",
        b"`\n",
        b"<<EOF\n",
        b"\nEOF\n",
        b"<<-\"E\"",
        b"${",
        b"${A:-",
        b"${A:+",
        b"$",
        b"}",
        b"\"",
        b"'",
        b"[\"",
        b"\"]",
        b"--from=",
        b"--mount=",
        b" AS ",
        b"# escape=`\n",
        b"\n",
    ];
    run("dockerfile", DOCKERFILES, dict, 512, fuzzing::dockerfile);
}

#[test]
fn fuzz_dockerignore() {
    let seeds: &[&str] = &[
        "# comment\n*.md\n!README.md\n**/target\n/abs/../x\n[a-c]?.txt\n\0README.md\ndocs/x.md\na/b/target/c\nb1.txt\n",
        "**\n!keep/**\n\0keep/a\nother\n./keep/\n",
        "a\\*b\n[!x]\n\0a*b\ny\n",
    ];
    let dict: &[&[u8]] = &[
        b"**", b"*", b"?", b"[", b"]", b"[!", b"\\", b"!", b"/", b"..", b"./", b"\n", b"\0",
    ];
    run("dockerignore", seeds, dict, 256, fuzzing::dockerignore);
}
