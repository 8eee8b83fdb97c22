#!/usr/bin/env bash
# Runtime floor benchmark: `run` of a busybox `true` bundle, berth-runc vs
# runc, interleaved on the same bundle, N rounds. Prints medians, min-max and
# the ratio (berth-runc / runc; lower is better).
#   scripts/bench-runtime.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-50}"
scripts/deps.sh
cargo build --release -p berth-runc >/dev/null
berth="$PWD/target/release/berth-runc"
runc="$(command -v runc)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" "$work/rootfs/tmp"
cp /usr/bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/true"
cd "$work"
"$runc" spec
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' config.json

# One timed run in milliseconds (bash's EPOCHREALTIME: no fork for the clock).
timed() {
  local t0=$EPOCHREALTIME
  "$@" >/dev/null
  local t1=$EPOCHREALTIME
  awk -v a="${t0/./}" -v b="${t1/./}" 'BEGIN { printf "%.3f\n", (b - a) / 1000 }' 
}

stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f %.2f %.2f\n", m, a[1], a[NR]}'; }

# Warm up both (page cache, first-run costs).
for i in 1 2 3; do
  "$berth" --root "$work/b" run "w$i" >/dev/null
  "$runc" --root "$work/r" run "w$i" >/dev/null
done
: >"$work/b.txt"; : >"$work/r.txt"
for i in $(seq "$rounds"); do
  timed "$berth" --root "$work/b" run "b$i" >>"$work/b.txt"
  timed "$runc" --root "$work/r" run "r$i" >>"$work/r.txt"
done
read -r bm bmin bmax < <(stats <"$work/b.txt")
read -r rm rmin rmax < <(stats <"$work/r.txt")
printf '| runtime | median ms | min-max ms |\n|---|---|---|\n'
printf '| berth-runc | %s | %s-%s |\n' "$bm" "$bmin" "$bmax"
printf '| runc %s | %s | %s-%s |\n' "$("$runc" --version | head -1 | awk '{print $3}')" "$rm" "$rmin" "$rmax"
printf '\nratio berth-runc/runc (median): %.3f over %d interleaved rounds\n' "$(awk -v a="$bm" -v b="$rm" 'BEGIN { print a / b }')" "$rounds"
