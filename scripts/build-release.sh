#!/usr/bin/env bash
# The release binaries the demo and the benchmarks run, in target/release.
# Extra arguments go to cargo (e.g. -q).
#   scripts/build-release.sh [cargo flags]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release "$@" -p berthd -p berth-runc -p berth -p berth-registry
# Two binaries are linked statically (a flag Cargo.toml cannot set per
# package): berth-init runs inside images that may have no C library, and
# berth-shim, one per container, starts without the dynamic loader and
# keeps ~0.25 MB less resident than with libc.so mapped.
for b in berth-init berth-shim; do
  cargo rustc --release "$@" -p "$b" --bin "$b" -- -C target-feature=+crt-static
done
