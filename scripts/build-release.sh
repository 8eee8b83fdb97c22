#!/usr/bin/env bash
# The release binaries the demo and the benchmarks run, in target/release.
# Extra arguments go to cargo (e.g. -q).
#   scripts/build-release.sh [cargo flags]
set -euo pipefail
cd "$(dirname "$0")/.."
# libseccomp is linked from its archive (libseccomp-dev ships it) into
# every release binary that uses it; berth-runc, below, is static.
LIBSECCOMP_LINK_TYPE=static
LIBSECCOMP_LIB_PATH=$(dirname "$(gcc -print-file-name=libseccomp.a)")
export LIBSECCOMP_LINK_TYPE LIBSECCOMP_LIB_PATH
cargo build --release "$@" -p berthd -p berth -p berth-registry
# Three binaries are linked statically (a flag Cargo.toml cannot set per
# package): berth-init runs inside images that may have no C library;
# berth-shim, one per container, starts without the dynamic loader and
# keeps ~0.25 MB less resident than with libc.so mapped; berth-runc is
# executed three times per container (create, start, delete), and without
# the loader's work (libc, libseccomp, relocations) each start takes about
# 1.1 ms instead of 2.0 (measured with `--version`). All three stay PIE.
# The shim's functions also go first in its code, in the order of
# bins/berth-shim/link-order.txt (see scripts/shim-link-order.sh): it keeps
# ~0.4 MB of code out of every shim's resident memory.
# shellcheck disable=SC2054 # the commas belong to the linker flag
shim_order=(-C "link-arg=-Wl,--symbol-ordering-file=$PWD/bins/berth-shim/link-order.txt"
  -C link-arg=-Wl,--no-warn-symbol-ordering)
for b in berth-init berth-shim berth-runc; do
  extra=()
  [ "$b" = berth-shim ] && extra=("${shim_order[@]}")
  cargo rustc --release "$@" -p "$b" --bin "$b" -- -C target-feature=+crt-static "${extra[@]}"
done
