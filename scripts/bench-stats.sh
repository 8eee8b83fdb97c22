#!/usr/bin/env bash
# Stats streaming cost: N sleeping containers in berthd and in Debian's
# dockerd 20.10, one `GET /containers/{id}/stats?stream=1` client per
# container for a fixed time, and the CPU the engine spent meanwhile
# (berthd + berth-shims; dockerd + containerd + containerd-shims), read
# from /proc/<pid>/stat. Private sockets, data roots and bridges; all
# removed at exit.
#   scripts/bench-stats.sh [containers] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100}"; secs="${2:-20}"
scripts/deps.sh docker.io curl
scripts/build-release.sh -q
rel="$PWD/target/release"
docker_cli="$(command -v docker)"
work="$(mktemp -d /tmp/berth-bstats.XXXXXX)"
cleanup() {
  local rc=$?
  set +e
  pkill -f "curl --unix-socket $work" 2>/dev/null
  for s in berth docker; do
    ids=$(DOCKER_HOST="unix://$work/$s.sock" "$docker_cli" ps -aq 2>/dev/null)
    [ -n "$ids" ] && DOCKER_HOST="unix://$work/$s.sock" "$docker_cli" rm -f $ids >/dev/null 2>&1
  done
  for p in "$work"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
  for _ in $(seq 100); do pgrep -f "$work/" >/dev/null || break; sleep 0.1; done
  pkill -9 -f "$work/" 2>/dev/null
  # Containers a stopped daemon could not delete leave their cgroups.
  for id in $(ls "$work/berth-exec/containers" 2>/dev/null); do
    find /sys/fs/cgroup -maxdepth 4 -type d -name "$id" 2>/dev/null | sort -r | xargs -r rmdir 2>/dev/null
  done
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$work"
  ip link del bsberth0 2>/dev/null; ip link del bsdock0 2>/dev/null
  nft delete table ip berth_bsberth0 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT
echo '{}' >"$work/berthd.json"
"$rel/berthd" --data-root "$work/berth-data" --exec-root "$work/berth-exec" -p "$work/berthd.pid" \
  -H "unix://$work/berth.sock" --config-file "$work/berthd.json" \
  --bridge bsberth0 --bip 10.193.0.1/24 >"$work/berthd.log" 2>&1 &
ip link add bsdock0 type bridge && ip addr add 10.194.0.1/24 dev bsdock0 && ip link set bsdock0 up
dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" --pidfile "$work/dockerd.pid" \
  -H "unix://$work/docker.sock" --bridge=bsdock0 --iptables=false --ip-forward=false --ip-masq=false \
  --containerd-namespace "berth-bstats-$$" --containerd-plugins-namespace "berth-bstats-plugins-$$" \
  >"$work/dockerd.log" 2>&1 &
for s in berth docker; do
  for _ in $(seq 150); do DOCKER_HOST="unix://$work/$s.sock" "$docker_cli" version >/dev/null 2>&1 && break; sleep 0.2; done
done
mkdir -p "$work/rootfs/bin"
cp /usr/bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sleep"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
cpu_ticks() { # total utime+stime of the processes whose command line matches $1
  local t=0
  for p in $(pgrep -f "$1"); do
    t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
  done
  echo "$t"
}
for s in berth docker; do
  export DOCKER_HOST="unix://$work/$s.sock"
  "$docker_cli" import "$work/rootfs.tar" bstats >/dev/null
  for i in $(seq "$n"); do "$docker_cli" run -d --network none bstats sleep 3600 >/dev/null; done
done
hz=$(getconf CLK_TCK)
for s in berth docker; do
  export DOCKER_HOST="unix://$work/$s.sock"
  if [ "$s" = berth ]; then pat="$work/berth-(data|exec)"; else pat="$work/docker-(data|exec)|berth-bstats-$$"; fi
  for id in $("$docker_cli" ps -q); do
    curl --unix-socket "$work/$s.sock" -sN "http://x/v1.41/containers/$id/stats?stream=1" >/dev/null &
  done
  sleep 3
  a=$(cpu_ticks "$pat")
  sleep "$secs"
  b=$(cpu_ticks "$pat")
  pkill -f "curl --unix-socket $work/$s.sock" || true
  echo "$s $(( b - a ))" >>"$work/cpu.txt"
done
read -r _ bt < <(grep '^berth' "$work/cpu.txt")
read -r _ dt < <(grep '^docker' "$work/cpu.txt")
echo "| stats: $n containers streamed for ${secs}s | berth | dockerd 20.10 | berth/docker |"
echo "|---|---|---|---|"
printf '| engine CPU, %% of one core | %s | %s | %s |\n' \
  "$(awk -v t="$bt" -v h="$hz" -v s="$secs" 'BEGIN { printf "%.1f", 100 * t / h / s }')" \
  "$(awk -v t="$dt" -v h="$hz" -v s="$secs" 'BEGIN { printf "%.1f", 100 * t / h / s }')" \
  "$(awk -v a="$bt" -v b="$dt" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')"
