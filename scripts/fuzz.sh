#!/usr/bin/env bash
# Bounded coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every target in
# fuzz/: the image library (layer applier, manifest/index/config parsers,
# references, archive loader), the builder (Dockerfile parser and
# expansion, .dockerignore patterns) and berthd (request routing and query
# decoding, request bodies).
#   scripts/fuzz.sh [seconds per target] [target...]   (default 60, all)
# CI runs it with a short budget. The target bodies live next to the code
# they exercise (crates/*/tests/fuzzing, bins/berthd/tests/fuzzing) and also
# run as ordinary `cargo test` tests over seeded random inputs. The corpus
# grows in fuzz/corpus (not committed); a crash is saved in
# fuzz/artifacts/<target> and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  # The version these machines were checked with (a newer one may want a
  # newer toolchain than the machine's).
  cargo install cargo-fuzz --version 0.13.2 --locked --quiet
fi
# cargo-fuzz hands rustc the coverage instrumentation flags of libFuzzer,
# some of them unstable: the machine's one (stable) toolchain takes them
# with RUSTC_BOOTSTRAP. No sanitizer by default (it needs more unstable
# flags and doubles the build); FUZZ_SANITIZER=address asks for one.
export RUSTC_BOOTSTRAP=1
san="${FUZZ_SANITIZER:-none}"
# Optimized targets run faster but take twice as long to build; a short run
# (CI's) is better off with a debug build (debug assertions on either way).
# FUZZ_PROFILE=--release for long runs.
profile="${FUZZ_PROFILE:---dev}"
cargo fuzz build -s "$san" "$profile"

targets=("$@")
[ "${#targets[@]}" -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
  echo "fuzz $t for ${secs}s"
  mkdir -p "fuzz/corpus/$t"
  # -rss_limit_mb: the layer applier writes files; leave the machine room.
  if ! cargo fuzz run -s "$san" "$profile" "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz $t: failed (the input is in fuzz/artifacts/$t)"
    exit 1
  fi
  grep -E '^stat::number_of_executed_units' "$log" | sed "s/^/  /" || true
done
