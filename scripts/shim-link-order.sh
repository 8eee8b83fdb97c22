#!/usr/bin/env bash
# Regenerates bins/berth-shim/link-order.txt, the functions a shim runs,
# which scripts/build-release.sh hands to the linker
# (--symbol-ordering-file) so that they sit together at the start of the
# shim's code.
#
#   scripts/shim-link-order.sh
#
# Why: a shim's resident memory is mostly its code, and the kernel maps
# code in 64 KiB blocks around every page a process touches (fault-around),
# so a few hundred functions scattered over 1.1 MB of code made nearly all
# of it resident (~1.2 MB RSS per shim); packed together they take a few
# blocks (~0.7 MB). The list only affects placement: names the linker does
# not find (after a compiler or dependency update) are skipped, and the
# shim's RSS drifts back up until the list is regenerated; the benchmark's
# "RSS per shim" row shows it.
#
# How: a private berthd (temp dirs, its own bridge) runs a set of container
# lifecycles (run --rm, -d, -i, -t, exec, logs, attach, pause, stop,
# restart, wait, rm) with every shim under valgrind's callgrind, which
# names every function executed; then again natively under perf sampling,
# which adds what the real CPU runs differently (the string functions glibc
# picks for it). Needs valgrind and perf (Debian: valgrind, linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=$repo/bins/berth-shim/link-order.txt
for tool in valgrind perf; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
scripts/build-release.sh -q
rel=$repo/target/release
work=$(mktemp -d /tmp/berth-shim-order.XXXXXX)
br=btorder$$
br=${br:0:15}

stop_daemon() {
  [ -f "$work/berthd.pid" ] || return 0
  local p
  p=$(cat "$work/berthd.pid")
  kill "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  rm -f "$work/berthd.pid"
}
cleanup() {
  local rc=$?
  set +e
  [ -S "$work/berth.sock" ] && b ps -aq 2>/dev/null | xargs -r "$rel/berth" -H "unix://$work/berth.sock" rm -f >/dev/null 2>&1
  stop_daemon
  for p in $(pgrep -f -- "$work/"); do kill -9 "$p" 2>/dev/null; done
  grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$work"
  ip link del "$br" 2>/dev/null
  nft delete table ip "berth_$br" 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The daemon runs from a copy of the binaries, with a berth-shim that is
# the real one under callgrind (berthd runs the shim beside itself).
mkdir -p "$work/bin" "$work/cg"
cp "$rel/berthd" "$rel/berth-runc" "$rel/berth-init" "$work/bin/"
cp "$rel/berth-shim" "$work/bin/berth-shim.real"
start_daemon() { # shim program
  if [ "$1" = callgrind ]; then
    printf '#!/bin/sh\nexec valgrind -q --tool=callgrind --demangle=no --callgrind-out-file=%s/cg/cg.%%p %s/bin/berth-shim.real "$@"\n' \
      "$work" "$work" >"$work/bin/berth-shim"
    chmod +x "$work/bin/berth-shim"
  else
    cp "$rel/berth-shim" "$work/bin/berth-shim"
  fi
  echo '{}' >"$work/berthd.json"
  setsid "$work/bin/berthd" --data-root "$work/data" --exec-root "$work/exec" -p "$work/berthd.pid" \
    -H "unix://$work/berth.sock" --config-file "$work/berthd.json" --bridge "$br" \
    >>"$work/berthd.log" 2>&1 &
  for _ in $(seq 100); do b version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "berthd did not start:" >&2
  tail "$work/berthd.log" >&2
  return 1
}
b() { "$rel/berth" -H "unix://$work/berth.sock" "$@"; }

workload() {
  b run --rm --network none bb sh -c 'echo out; echo err >&2' >/dev/null 2>&1
  echo in | b run -i --rm --network none bb cat >/dev/null
  script -qc "$rel/berth -H unix://$work/berth.sock run -t --rm --network none bb sh -c 'stty size'" /dev/null >/dev/null
  local id
  id=$(b run -d --network none bb sh -c 'while true; do echo tick; sleep 0.1; done')
  sleep 0.5
  b exec "$id" true
  b exec "$id" sh -c 'exit 3' || true
  script -qc "$rel/berth -H unix://$work/berth.sock exec -t $id true" /dev/null >/dev/null
  b logs --tail 1 "$id" >/dev/null
  b pause "$id" >/dev/null
  b unpause "$id" >/dev/null
  timeout -s KILL 2 "$rel/berth" -H "unix://$work/berth.sock" attach --no-stdin --sig-proxy=false "$id" >/dev/null || true
  b stop -t 1 "$id" >/dev/null
  b start "$id" >/dev/null
  b restart -t 1 "$id" >/dev/null
  b rm -f "$id" >/dev/null
  id=$(b run -d --network none bb sh -c 'exit 7')
  b wait "$id" >/dev/null
  b rm "$id" >/dev/null
}

# The test image: busybox-static's applets.
mkdir -p "$work/rootfs/bin"
cp /usr/bin/busybox "$work/rootfs/bin/busybox"
for a in $("$work/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .

start_daemon callgrind
b import -c 'CMD ["sh"]' "$work/rootfs.tar" bb >/dev/null
workload
b ps -aq | xargs -r "$rel/berth" -H "unix://$work/berth.sock" rm -f >/dev/null
stop_daemon
# callgrind's names; `'N` marks a recursion level.
cat "$work"/cg/cg.* | grep -oP '^fn=\(\d+\) \K.*' | sed "s/'[0-9]*$//" |
  grep -v -e '^(below main)$' -e '^0x' >"$work/names"

start_daemon native
perf record -q -o "$work/perf.data" -e cycles:u -c 3000 -a -- bash -c "
  $(declare -f b workload); rel=$rel; work=$work
  for i in \$(seq 20); do workload; done" >/dev/null 2>&1
perf report -i "$work/perf.data" --no-demangle --comm berth-shim --dso berth-shim \
  --sort symbol -F overhead,symbol --stdio 2>/dev/null |
  awk '/%/ && !/^#/ { print $3 }' | grep -v '^0x' >>"$work/names"

# Every variant of a string function glibc picks by CPU (valgrind's
# emulated CPU and the machine's pick differently), so another CPU finds
# its own pick placed too.
nm --defined-only "$rel/berth-shim" | awk '{ print $3 }' >"$work/all"
prefixes=$(grep -oP '^__[a-z0-9]+?_(?=(avx|sse|evex|ssse))' "$work/names" | sort -u)
for p in $prefixes; do
  grep "^$p" "$work/all" || true
done >>"$work/names"
awk '!seen[$0]++' "$work/names" >"$out"
echo "wrote $(wc -l <"$out") names to $out"
