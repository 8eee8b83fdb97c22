#!/usr/bin/env bash
# Bounded fuzzing of the image library: the layer applier, the manifest,
# index and config parsers, the reference parser and the archive loader.
#   scripts/fuzz.sh [seconds per target]   (default 60)
# With a nightly toolchain and cargo-fuzz, each cargo-fuzz target of
# crates/image/fuzz runs under libFuzzer for the given time (the corpus
# grows in crates/image/fuzz/corpus, which is not committed; a crash is
# saved in crates/image/fuzz/artifacts). Without them, the same target
# bodies run as the stable `fuzz_stable` test over seeded random inputs,
# with a budget scaled to the time asked for.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
targets=(apply_layer manifests references load_archive)

if cargo +nightly --version >/dev/null 2>&1 && cargo fuzz --version >/dev/null 2>&1; then
  cd crates/image/fuzz
  cargo +nightly fuzz build -O
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  for t in "${targets[@]}"; do
    echo "fuzz $t for ${secs}s"
    mkdir -p "corpus/$t"
    # -rss_limit_mb: the applier target writes files; leave the machine room.
    if ! cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
      tail -n 60 "$log"
      echo "fuzz $t: failed (the input is in crates/image/fuzz/artifacts/$t)"
      exit 1
    fi
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units)' "$log" || true
  done
else
  echo "no nightly toolchain or cargo-fuzz: running the targets as stable tests over random inputs"
  # About 40 inputs per second per target on this kind of machine.
  BERTH_FUZZ_ITERS=$((secs * 40)) BERTH_FUZZ_SEED="$(date +%s)" \
    cargo test -p berth-image --test fuzz_stable -- --test-threads 1
fi
