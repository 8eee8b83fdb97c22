#!/usr/bin/env bash
# The whole test suite, as CI runs it: lints, unit and root tests, the
# runtime conformance suite against berth-runc and against runc (the
# reference), real dockerd with berth-runc, and bounded fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
# One build from scratch gains nothing from incremental compilation, whose
# caches take gigabytes of disk.
export CARGO_INCREMENTAL=0
scripts/deps.sh docker.io docker-registry skopeo umoci
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The daemon's end-to-end tests run berthd with berth-shim and berth-runc
# from the same target directory.
cargo build --workspace --bins
# berth-init runs inside images that may have no C library: it is linked
# statically, which only this one binary needs (the flag cannot be set per
# package in Cargo.toml).
cargo rustc -p berth-init --bin berth-init -- -C target-feature=+crt-static
# Every test binary runs even after one fails, so a CI log shows all failures.
cargo test --workspace --no-fail-fast
# The same conformance suite against Debian's runc: it tests the contract.
BERTH_TEST_RUNTIME="$(command -v runc)" cargo test -p berth-runc --test conformance
# Real dockerd (Debian's docker.io) running containers with berth-runc.
scripts/interop-docker.sh
# Coverage-guided fuzzing of every cargo-fuzz target, bounded (the same
# bodies also ran above as seeded random tests).
scripts/fuzz.sh "${BERTH_FUZZ_SECS:-10}"
