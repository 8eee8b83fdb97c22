#!/usr/bin/env bash
# End-to-end daemon benchmark: `docker run --rm busybox true` with
# `--network none` and on the default bridge, through the docker CLI against
# berthd and against Debian's dockerd 20.10 (docker.io: dockerd + containerd
# + runc), interleaved, N rounds; plus idle daemon memory and per-container
# shim memory. Each daemon gets its own socket, data root, exec root and
# bridge (dockerd without iptables rules; berth with its own nftables table),
# all removed afterwards.
#   scripts/bench-daemon.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-30}"
scripts/deps.sh docker.io
scripts/build-release.sh -q
rel="$PWD/target/release"
docker_cli="$(command -v docker)"
work="$(mktemp -d /tmp/berth-bench.XXXXXX)"
cleanup() {
  local rc=$?
  set +e
  for s in berth docker; do
    DOCKER_HOST="unix://$work/$s.sock" "$docker_cli" rm -f $(DOCKER_HOST="unix://$work/$s.sock" "$docker_cli" ps -aq 2>/dev/null) >/dev/null 2>&1
  done
  for p in "$work"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
  for _ in $(seq 100); do pgrep -f "$work/" >/dev/null || break; sleep 0.1; done
  pkill -9 -f "$work/" 2>/dev/null
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$work"
  ip link del bbberth0 2>/dev/null
  ip link del bbdock0 2>/dev/null
  nft delete table ip berth_bbberth0 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT

echo '{}' >"$work/berthd.json"
"$rel/berthd" --data-root "$work/berth-data" --exec-root "$work/berth-exec" -p "$work/berthd.pid" \
  -H "unix://$work/berth.sock" --config-file "$work/berthd.json" \
  --bridge bbberth0 --bip 10.198.0.1/24 >"$work/berthd.log" 2>&1 &
# dockerd uses a bridge made here (--bridge) and adds no iptables rules, so
# the host is left as it was; its per-container veth work is still done.
ip link add bbdock0 type bridge && ip addr add 10.199.0.1/24 dev bbdock0 && ip link set bbdock0 up
dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" --pidfile "$work/dockerd.pid" \
  -H "unix://$work/docker.sock" --bridge=bbdock0 --iptables=false --ip-forward=false --ip-masq=false \
  --containerd-namespace "berth-bench-$$" --containerd-plugins-namespace "berth-bench-plugins-$$" \
  >"$work/dockerd.log" 2>&1 &
for s in berth docker; do
  for _ in $(seq 150); do DOCKER_HOST="unix://$work/$s.sock" "$docker_cli" version >/dev/null 2>&1 && break; sleep 0.2; done
done

mkdir -p "$work/rootfs/bin"
cp /usr/bin/busybox "$work/rootfs/bin/busybox"
for a in $("$work/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
for s in berth docker; do
  DOCKER_HOST="unix://$work/$s.sock" "$docker_cli" import "$work/rootfs.tar" bench-busybox >/dev/null
done

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
berthd_pid=$(cat "$work/berthd.pid")
dockerd_pid=$(cat "$work/dockerd.pid")
containerd_pid=$(pgrep -f "containerd --config $work/docker-exec" | head -1)
idle_berth=$(rss_kb "$berthd_pid")
idle_docker=$(( $(rss_kb "$dockerd_pid") + $(rss_kb "$containerd_pid") ))

timed() {
  local t0=$EPOCHREALTIME
  "$@" >/dev/null
  local t1=$EPOCHREALTIME
  awk -v a="${t0/./}" -v b="${t1/./}" 'BEGIN { printf "%.3f\n", (b - a) / 1000 }'
}
stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f %.1f %.1f\n", m, a[1], a[NR]}'; }
run_once() { DOCKER_HOST="unix://$work/$1.sock" "$docker_cli" run --rm --network "$2" bench-busybox true; }
for s in berth docker; do for n in none bridge; do run_once "$s" "$n"; run_once "$s" "$n"; done; done   # warm up
for f in berth-none docker-none berth-bridge docker-bridge; do : >"$work/$f.txt"; done
for i in $(seq "$rounds"); do
  for n in none bridge; do
    timed run_once berth "$n" >>"$work/berth-$n.txt"
    timed run_once docker "$n" >>"$work/docker-$n.txt"
  done
done
read -r bm bmin bmax < <(stats <"$work/berth-none.txt")
read -r dm dmin dmax < <(stats <"$work/docker-none.txt")
read -r bbm bbmin bbmax < <(stats <"$work/berth-bridge.txt")
read -r dbm dbmin dbmax < <(stats <"$work/docker-bridge.txt")

# Per-container memory: one sleeping container each; the shim's RSS
# (berth-shim, or containerd-shim-runc-v2).
for s in berth docker; do
  DOCKER_HOST="unix://$work/$s.sock" "$docker_cli" run -d --network none --name bench-sleeper bench-busybox sleep 600 >/dev/null
done
sleep 1
berth_shim=$(pgrep -f "berth-shim --id" | head -1)
docker_shim=$(pgrep -f "containerd-shim-runc-v2 -namespace berth-bench-$$" | head -1)

echo "| workload (docker CLI $("$docker_cli" version -f '{{.Client.Version}}' 2>/dev/null)) | berth median (min-max) | dockerd 20.10 median (min-max) | berth/docker |"
echo "|---|---|---|---|"
printf '| run --rm --network none busybox true, ms | %s (%s-%s) | %s (%s-%s) | %s |\n' "$bm" "$bmin" "$bmax" "$dm" "$dmin" "$dmax" \
  "$(awk -v a="$bm" -v b="$dm" 'BEGIN { printf "%.3f", a / b }')"
printf '| run --rm (default bridge) busybox true, ms | %s (%s-%s) | %s (%s-%s) | %s |\n' "$bbm" "$bbmin" "$bbmax" "$dbm" "$dbmin" "$dbmax" \
  "$(awk -v a="$bbm" -v b="$dbm" 'BEGIN { printf "%.3f", a / b }')"
printf '| bridge setup cost (bridge - none), ms | %s | %s | %s |\n' \
  "$(awk -v a="$bbm" -v b="$bm" 'BEGIN { printf "%.1f", a - b }')" "$(awk -v a="$dbm" -v b="$dm" 'BEGIN { printf "%.1f", a - b }')" \
  "$(awk -v a="$bbm" -v b="$bm" -v c="$dbm" -v d="$dm" 'BEGIN { if (c - d > 0) printf "%.3f", (a - b) / (c - d); else print "n/a" }')"
printf '| idle daemon RSS, KiB (dockerd+containerd) | %s | %s | %s |\n' "$idle_berth" "$idle_docker" \
  "$(awk -v a="$idle_berth" -v b="$idle_docker" 'BEGIN { printf "%.3f", a / b }')"
printf '| shim RSS per container, KiB | %s | %s | %s |\n' "$(rss_kb "$berth_shim")" "$(rss_kb "$docker_shim")" \
  "$(awk -v a="$(rss_kb "$berth_shim")" -v b="$(rss_kb "$docker_shim")" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')"
echo
echo "$rounds interleaved rounds; $(nproc) cores; kernel $(uname -r)"
