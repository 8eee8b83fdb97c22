#!/usr/bin/env bash
# berth side by side with Docker: one command that builds the release
# binaries, installs the reference (Debian's docker.io: dockerd 20.10 +
# containerd + runc, and docker-registry), starts berthd and dockerd next to
# each other, runs every workload below against both, interleaved and
# repeated, and prints a markdown table (machine, versions; per workload
# berth's median and min-max, Docker's, and the ratio berth/docker) and
# writes it with a CSV and the daemons' logs under target/bench/.
#
#   scripts/bench.sh [--quick]
#
# --quick: smaller sizes and fewer rounds (under 5 minutes on 2 cores once
# built); the full run takes under 30. BENCH_ONLY="1 5" runs only those
# workloads; BENCH_DENSITY=N sets the density target of the full run;
# BENCH_NO_BUILD=1 uses the binaries already built in target/release.
#
# Workloads (a capability berthd does not have yet is reported "not yet"):
#   1 run --rm busybox true, --network none and the default bridge, through
#     berth's CLI and the docker CLI; the runtime floor (berth-runc vs runc)
#   2 lifecycle: create+start+stop+rm, sequentially and 10 at a time
#   3 density: N sleeping containers: run -d time early vs late, daemon
#     and shim memory, ps latency at N; 200 on the default bridge
#   4 memory: daemon RSS idle, after the containers, per shim; binary sizes
#   5 images: load of a random-layer archive, push and pull of a 5-layer
#     image through a registry on 127.0.0.1, rmi + prune
#   6 build (classic builder) of three Dockerfiles: cold, no-change,
#     one-file-change
#   7 Engine API: GET /containers/json with the density containers, 16
#     keep-alive connections (bench-client: wrk cannot use unix sockets)
#   8 logs: a container writing lines; logs read-back; engine CPU
#
# Everything lives in a temp dir: each daemon has its own socket, data root,
# exec root and bridge (dockerd adds no iptables rules; berthd its own
# nftables table), containerd its own namespaces, registries listen on
# 127.0.0.1 only. The exit trap removes all of it, also after a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

mode=full
case "${1:-}" in
  --quick) mode=quick ;;
  "") ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/bench.sh [--quick]" >&2; exit 2 ;;
esac
only=" ${BENCH_ONLY:-1 2 3 4 5 6 7 8} "
want() { [[ $only == *" $1 "* ]]; }

if [ "$mode" = quick ]; then
  run_rounds=8 lc_n=20 lc_par_rounds=1 density_n=30 bridge_n=30 ps_rounds=3 api_rounds=2 api_secs=3
  load_layers=5 load_mb=10 pp_layers=5 pp_mb=10 img_rounds=1 build_rounds=2 logs_mb=20 logs_rounds=2
else
  run_rounds=20 lc_n=100 lc_par_rounds=2 density_n=100 bridge_n=200 ps_rounds=5 api_rounds=3 api_secs=5
  load_layers=4 load_mb=50 pp_layers=5 pp_mb=60 img_rounds=3 build_rounds=3 logs_mb=100 logs_rounds=3
fi
# The full run goes to 500 containers when memory allows (see density()).
density_max=${BENCH_DENSITY:-500}

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

log "installing packages (apt, when missing) and building release binaries"
scripts/deps.sh docker.io docker-registry
if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
  scripts/build-release.sh -q
  cargo build --release -q -p bench-client
fi
rel="$repo/target/release"
docker_cli="$(command -v docker)"
t_begin=$EPOCHREALTIME
load_begin=$(cut -d' ' -f1-3 /proc/loadavg)

stamp="$(date +%Y%m%d-%H%M%S)-$mode"
out="$repo/target/bench/$stamp"
mkdir -p "$out/logs"
work="$(mktemp -d -t berth-bench.XXXXXX)"
ns="berth-bench-$$"
br_berth="bbb$$" br_docker="bbd$$"
rows="$work/rows.md" csv="$out/results.csv"
: >"$rows"
echo "workload,metric,unit,better,berth_median,berth_min,berth_max,berth_n,docker_median,docker_min,docker_max,docker_n,ratio_berth_docker,note" >"$csv"

# The CLIs read no configuration of the user running the benchmark.
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH BERTH_HOST
export DOCKER_CONFIG="$work/cli-config" BERTH_CONFIG="$work/cli-config" DOCKER_CLI_HINTS=false
mkdir -p "$DOCKER_CONFIG"

kill_tree() {
  local c
  for c in $(pgrep -P "$1"); do kill_tree "$c"; done
  kill "$1" 2>/dev/null
}
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  log "cleaning up"
  # A workload cut short by ^C: its subshell and what it runs.
  for p in "$work"/bg.*.pid; do [ -f "$p" ] && kill_tree "$(cat "$p")"; done
  local ids=""
  for s in berth docker; do
    [ -S "$work/$s.sock" ] || continue
    local these
    these=$(timeout 30 "$docker_cli" -H "unix://$work/$s.sock" ps -aq --no-trunc 2>/dev/null)
    ids="$ids $these"
    # shellcheck disable=SC2086
    [ -n "$these" ] && timeout 300 "$docker_cli" -H "unix://$work/$s.sock" rm -f $these >/dev/null 2>&1
  done
  # Containers rm could not remove (a daemon gone): their shims name them.
  ids="$ids $(pgrep -af -- "$work/" | grep -o -e '-id [0-9a-f]\{64\}' | cut -d' ' -f2)"
  for p in "$work"/berthd.pid "$work"/dockerd.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
  for _ in $(seq 100); do pgrep -f -- "$work/" >/dev/null || break; sleep 0.1; done
  # Whatever is left (a shim of a container rm could not remove): its
  # container's init first (the pid namespace goes with it), then it.
  for p in $(pgrep -f -- "$work/"); do
    for c in $(pgrep -P "$p"); do kill -9 "$c" 2>/dev/null; done
    kill -9 "$p" 2>/dev/null
  done
  sleep 0.2
  grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  # shellcheck disable=SC2086
  for id in $(printf '%s\n' $ids | sort -u); do
    find /sys/fs/cgroup -maxdepth 4 -type d -name "*$id*" 2>/dev/null | sort -r | xargs -r rmdir 2>/dev/null
  done
  for f in berthd.log dockerd.log errors.log; do [ -f "$work/$f" ] && cp "$work/$f" "$out/logs/"; done
  cp "$work"/registry-*.log "$out/logs/" 2>/dev/null
  rm -rf "$work"
  ip link del "$br_berth" 2>/dev/null
  ip link del "$br_docker" 2>/dev/null
  nft delete table ip "berth_$br_berth" 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers

dk() { local s=$1; shift; "$docker_cli" -H "unix://$work/$s.sock" "$@"; }
bz() { "$rel/berth" -H "unix://$work/berth.sock" "$@"; }
# The two engines in the order of round $1: alternated, so that neither
# always runs on the caches the other just warmed.
order() { if (($1 % 2)); then echo berth docker; else echo docker berth; fi; }

# ms CMD...: runs CMD quietly and prints its wall time in milliseconds
# (EPOCHREALTIME: no fork for the clock); CMD's status is returned.
ms() {
  local t0=$EPOCHREALTIME rc=0 err="$work/stderr.$BASHPID"
  "$@" >/dev/null 2>"$err" || rc=$?
  local t1=$EPOCHREALTIME
  local us=$((${t1/./} - ${t0/./}))
  printf '%d.%03d\n' $((us / 1000)) $((us % 1000))
  # Only a failure's messages are kept (the CLI warns on success too).
  [ "$rc" = 0 ] || cat "$err" >>"$work/errors.log"
  rm -f "$err"
  return "$rc"
}
# sample FILE CMD...: appends CMD's time in ms to FILE, or FAIL.
sample() {
  local f=$1 v
  shift
  if v=$(ms "$@"); then echo "$v" >>"$f"; else
    echo FAIL >>"$f"
    echo "failed: $*" >>"$work/errors.log"
  fi
}
# stats FILE: "median min max n failures" of the numbers in FILE.
stats() {
  if [ ! -s "$1" ]; then echo "0 0 0 0 0"; return; fi
  local fails
  fails=$(grep -c '^FAIL$' "$1" || true)
  { grep -v '^FAIL$' "$1" || true; } | sort -g |
    awk -v f="$fails" '{a[NR]=$1} END {
      if (NR == 0) { print 0, 0, 0, 0, f; exit }
      m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
      print m, a[1], a[NR], NR, f }'
}
num() { awk -v v="$1" 'BEGIN { a = v < 0 ? -v : v
  if (a >= 100) printf "%.0f", v; else if (a >= 10) printf "%.1f", v; else if (a >= 1) printf "%.2f", v; else printf "%.3f", v }'; }
cell() { # median min max n fails
  if [ "$4" = 0 ]; then if [ "$5" != 0 ]; then echo "failed"; else echo "n/a"; fi; return; fi
  local c
  if [ "$4" = 1 ]; then c="$(num "$1")"; else c="$(num "$1") ($(num "$2")-$(num "$3"))"; fi
  [ "$5" = 0 ] || c="$c, $5 failed"
  echo "$c"
}
# row WORKLOAD METRIC UNIT BETTER BERTH_FILE DOCKER_FILE [NOTE]: one line of
# the table and of the CSV, from the samples in the two files.
row() {
  local w=$1 metric=$2 unit=$3 better=$4 note=${7:-}
  local bm bmin bmax bn bf dm dmin dmax dn df ratio=""
  read -r bm bmin bmax bn bf < <(stats "$5")
  read -r dm dmin dmax dn df < <(stats "$6")
  if [ "$bn" != 0 ] && [ "$dn" != 0 ]; then
    ratio=$(awk -v a="$bm" -v b="$dm" 'BEGIN { if (b != 0) printf "%.2f", a / b }')
  fi
  local m="$metric"
  [ -n "$note" ] && m="$metric ($note)"
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$w" "$m" "$unit" "$better" \
    "$(cell "$bm" "$bmin" "$bmax" "$bn" "$bf")" "$(cell "$dm" "$dmin" "$dmax" "$dn" "$df")" "${ratio:--}" >>"$rows"
  printf '%s,"%s",%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"%s"\n' "$w" "${metric//\"/\'}" "$unit" "$better" \
    "$bm" "$bmin" "$bmax" "$bn" "$dm" "$dmin" "$dmax" "$dn" "$ratio" "${note//\"/\'}" >>"$csv"
}
# value FILE NUMBER: a one-sample figure (memory, size).
value() { echo "$2" >>"$1"; }
notyet() { # WORKLOAD METRIC REASON
  printf '| %s | %s | | | not yet | | |\n' "$1" "$2 ($3)" >>"$rows"
  printf '%s,"%s",,,,,,,,,,,,"not yet: %s"\n' "$1" "$2" "$3" >>"$csv"
}
# A workload runs in a subshell that stops at its first unexpected error;
# the suite goes on with the next one and the table says so. The subshell
# runs in the background and is waited for: `wait` returns at once on ^C
# (bash runs the INT trap only after a foreground child that survived the
# signal, and the docker CLI survives it), so ^C ends the run.
workload() {
  local n=$1 rc
  log "workload $n: $2"
  set +e
  (set -e; "$3") &
  echo $! >"$work/bg.workload.pid"
  wait $!
  rc=$?
  rm -f "$work/bg.workload.pid"
  set -e
  if [ "$rc" != 0 ]; then
    printf '| %s | %s | | | aborted (status %s; see logs/errors.log) | | |\n' "$n" "$2" "$rc" >>"$rows"
    printf '%s,"%s",,,,,,,,,,,,"aborted"\n' "$n" "$2" >>"$csv"
  fi
  wipe berth; wipe docker
}
wipe() { # removes every container of daemon $1
  local ids
  ids=$(dk "$1" ps -aq 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || dk "$1" rm -f $ids >/dev/null 2>&1 || true
}
rss_kb() { awk '/^VmRSS:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
sum_rss_kb() { local t=0 p; for p in "$@"; do t=$((t + $(rss_kb "$p"))); done; echo "$t"; }
cpu_ticks() { local t=0 p a; for p in "$@"; do read -ra a 2>/dev/null <"/proc/$p/stat" && t=$((t + a[13] + a[14])); done; echo "$t"; }
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
berth_shims() { pgrep -f -- "berth-shim .*$work/" || true; }
docker_shims() { pgrep -f -- "containerd-shim-runc-v2 -namespace $ns " || true; }
# The engine's long-lived processes: berthd; dockerd and its containerd.
daemon_pids() {
  # (Pid files end without a newline.)
  if [ "$1" = berth ]; then echo "$(<"$work/berthd.pid")"; else
    echo "$(<"$work/dockerd.pid")"
    pgrep -f -- "containerd --config $work/docker-exec" | head -1
  fi
}
shim_pids() { if [ "$1" = berth ]; then berth_shims; else docker_shims; fi; }
daemon_rss_kb() { local p; mapfile -t p < <(daemon_pids "$1"); sum_rss_kb "${p[@]}"; }
shims_rss_kb() { local p; mapfile -t p < <(shim_pids "$1"); sum_rss_kb "${p[@]}"; }
daemon_ticks() { local p; mapfile -t p < <(daemon_pids "$1"); cpu_ticks "${p[@]}"; }
# The container's shim, for CPU accounting: the parent of its init (a
# shim's command line alone does not tell the daemon from its short-lived
# parent while it starts).
shim_of() {
  local pid ppid
  # Right after start the init can still be the runtime's child, before
  # the runtime exits and the shim (a subreaper) adopts it.
  for _ in $(seq 20); do
    pid=$(dk "$1" inspect -f '{{.State.Pid}}' "$2" 2>/dev/null) || return 0
    [ "$pid" != 0 ] || return 0
    ppid=$(ps -o ppid= -p "$pid" | tr -d ' ')
    case "$(ps -o comm= -p "$ppid" 2>/dev/null)" in
      berth-shim | containerd-shim*) echo "$ppid"; return 0 ;;
    esac
    sleep 0.05
  done
}

# --------------------------------------------------------------- daemons

# Private /24s for the two default bridges, away from the host's routes.
pick_net() {
  local x
  for _ in $(seq 50); do
    x=$((RANDOM % 250 + 1))
    ip -4 route | grep -q -e "^10\.19[01]\.$x\." || { echo "$x"; return; }
  done
  echo "no free 10.190.x.0/24 and 10.191.x.0/24" >&2
  return 1
}
net=$(pick_net)

log "starting berthd and dockerd in $work"
echo '{}' >"$work/berthd.json"
# Both daemons in sessions of their own: a ^C of the run reaches the
# script, which stops them in order (containers first).
setsid "$rel/berthd" --data-root "$work/berth-data" --exec-root "$work/berth-exec" -p "$work/berthd.pid" \
  -H "unix://$work/berth.sock" --config-file "$work/berthd.json" \
  --bridge "$br_berth" --bip "10.190.$net.1/24" >"$work/berthd.log" 2>&1 &
# dockerd gets a bridge made here and no iptables rules, forwarding or
# masquerading (the host stays as it was); its per-container veth work is
# still done. Its containerd (started by it, in its exec root) uses
# namespaces of its own.
ip link add "$br_docker" type bridge
ip addr add "10.191.$net.1/24" dev "$br_docker"
ip link set "$br_docker" up
echo '{}' >"$work/dockerd.json"
setsid dockerd --config-file "$work/dockerd.json" --data-root "$work/docker-data" --exec-root "$work/docker-exec" \
  --pidfile "$work/dockerd.pid" -H "unix://$work/docker.sock" \
  --bridge="$br_docker" --iptables=false --ip-forward=false --ip-masq=false \
  --containerd-namespace "$ns" --containerd-plugins-namespace "$ns-plugins" \
  >"$work/dockerd.log" 2>&1 &
for s in berth docker; do
  ok=0
  for _ in $(seq 300); do dk "$s" version >/dev/null 2>&1 && { ok=1; break; }; sleep 0.1; done
  if [ "$ok" = 0 ]; then
    log "$s daemon did not start:"
    tail -20 "$work/${s}d.log" >&2
    exit 1
  fi
done
# The daemons' memory before any work (workload 4).
idle_berth_kb=$(daemon_rss_kb berth)
idle_docker_kb=$(daemon_rss_kb docker)

# The test image: busybox-static's applets as a one-layer image.
img=bench-busybox
mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp"
cp /usr/bin/busybox "$work/rootfs/bin/busybox"
for a in $("$work/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
for s in berth docker; do dk "$s" import -c 'CMD ["sh"]' "$work/rootfs.tar" "$img" >/dev/null; done

# ------------------------------------------------------------- workloads

w_run() {
  local n s i
  for n in none bridge; do
    for s in berth docker; do dk "$s" run --rm --network "$n" "$img" true || true; done
    bz run --rm --network "$n" "$img" true || true
  done
  for i in $(seq "$run_rounds"); do
    for n in none bridge; do
      for s in $(order "$i"); do
        sample "$work/run-dk-$s-$n" dk "$s" run --rm --network "$n" "$img" true
        [ "$s" = berth ] && sample "$work/run-bz-$n" bz run --rm --network "$n" "$img" true
      done
    done
  done
  for n in none bridge; do
    row 1 "run --rm --network $n busybox true: berth CLI + berthd vs docker CLI + dockerd" ms lower "$work/run-bz-$n" "$work/run-dk-docker-$n"
  done
  for n in none bridge; do
    row 1 "run --rm --network $n busybox true: docker CLI against berthd vs dockerd" ms lower "$work/run-dk-berth-$n" "$work/run-dk-docker-$n"
  done
  row 1 "CLI cost: run --rm --network none against berthd, berth CLI vs docker CLI" ms lower "$work/run-bz-none" "$work/run-dk-berth-none" \
    "docker column: docker CLI"

  # The runtime floor: `run` of the same busybox bundle, berth-runc vs runc.
  local b="$work/bundle"
  mkdir -p "$b/rootfs"
  cp -a "$work/rootfs/." "$b/rootfs/"
  mkdir -p "$b/rootfs/proc" "$b/rootfs/sys" "$b/rootfs/dev"
  (cd "$b" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' config.json)
  for i in 1 2; do
    (cd "$b" && "$rel/berth-runc" --root "$work/rt-b" run "w$i" && runc --root "$work/rt-r" run "w$i") >/dev/null
  done
  for i in $(seq "$run_rounds"); do
    sample "$work/rt-berth" bash -c "cd '$b' && exec '$rel/berth-runc' --root '$work/rt-b' run b$i"
    sample "$work/rt-runc" bash -c "cd '$b' && exec runc --root '$work/rt-r' run r$i"
  done
  row 1 "runtime floor: run of a busybox true bundle, berth-runc vs runc" ms lower "$work/rt-berth" "$work/rt-runc"
}

# One container's create+start+stop+rm. The shell exits on SIGTERM, so stop
# measures the graceful path and not the 10 s timeout; --init (docker-init,
# berth-init) because a pid 1 drops SIGTERM that comes before it set its
# handler, and a stop right after start can be that early.
cycle() {
  dk "$1" create --init --name "$2" "$img" sh -c "trap 'exit 0' TERM; sleep 600 & wait" &&
    dk "$1" start "$2" && dk "$1" stop "$2" && dk "$1" rm "$2"
}
par_cycles() { # daemon round: lc_n cycles by 10 workers; containers/s
  local s=$1 r=$2 w j pids=()
  local t0=$EPOCHREALTIME
  for w in $(seq 0 9); do
    (for j in $(seq $((lc_n / 10))); do sample "$work/lc-par-ms-$s" cycle "$s" "lp$r-$w-$j"; done) &
    pids+=($!)
  done
  wait "${pids[@]}"
  local t1=$EPOCHREALTIME
  awk -v n="$lc_n" -v us=$((${t1/./} - ${t0/./})) 'BEGIN { printf "%.2f\n", n * 1e6 / us }' >>"$work/lc-par-rate-$s"
}
w_lifecycle() {
  local i s
  for s in berth docker; do cycle "$s" warm >/dev/null || true; done
  for i in $(seq "$lc_n"); do
    for s in $(order "$i"); do sample "$work/lc-seq-$s" cycle "$s" "ls$i"; done
  done
  for i in $(seq "$lc_par_rounds"); do
    for s in $(order "$i"); do par_cycles "$s" "$i"; done
  done
  row 2 "create+start+stop+rm, sequential, per container" ms lower "$work/lc-seq-berth" "$work/lc-seq-docker" "$lc_n containers, --init, default bridge"
  row 2 "create+start+stop+rm, 10 at a time, per container" ms lower "$work/lc-par-ms-berth" "$work/lc-par-ms-docker"
  row 2 "create+start+stop+rm, 10 at a time" containers/s higher "$work/lc-par-rate-berth" "$work/lc-par-rate-docker" \
    "$lc_par_rounds round(s) of $lc_n"
}

# A snapshot of both engines at N containers: memory, ps latency, and (at
# the first checkpoint) the API benchmark.
checkpoint() {
  local n=$1 s i
  for s in berth docker; do
    local shims p
    mapfile -t shims < <(shim_pids "$s")
    value "$work/mem-$n-daemon-$s" "$(kib_to_mib "$(daemon_rss_kb "$s")")"
    value "$work/mem-$n-shims-$s" "$(kib_to_mib "$(sum_rss_kb "${shims[@]}")")"
    for p in "${shims[@]}"; do kib_to_mib "$(rss_kb "$p")"; echo; done >"$work/mem-$n-pershim-$s"
    echo "${#shims[@]}" >"$work/shimcount-$n-$s"
  done
  for i in $(seq "$ps_rounds"); do
    for s in $(order "$i"); do sample "$work/ps-$n-$s" dk "$s" ps; done
  done
  if [ "$n" = "$api_n" ] && want 7; then
    for i in $(seq "$api_rounds"); do
      for s in $(order "$i"); do
        local line
        if line=$("$rel/bench-client" --unix "$work/$s.sock" -c 16 -d "$api_secs" -w 1 /v1.41/containers/json 2>>"$work/errors.log"); then
          awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "rps") print kv[2] } }' <<<"$line" >>"$work/api-rps-$s"
          awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "p99_ms") print kv[2] } }' <<<"$line" >>"$work/api-p99-$s"
        else
          echo FAIL >>"$work/api-rps-$s"
          echo FAIL >>"$work/api-p99-$s"
        fi
      done
    done
  fi
}
w_density() {
  local target=$density_n i s
  [ "$mode" = full ] && want 3 && target=$density_max
  # The memory this many containers would take at ~25 MiB each (docker's
  # shim and daemon share; berth's is smaller): stay at density_n if the
  # machine does not have it.
  local avail_mib
  avail_mib=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
  if [ "$target" -gt "$density_n" ] && [ $((target * 25)) -gt "$avail_mib" ]; then
    log "density: $avail_mib MiB available, staying at $density_n containers"
    target=$density_n
  fi
  api_n=$((density_n < target ? density_n : target))
  local started=0 budget_end=$((${EPOCHREALTIME%.*} + 600))
  for i in $(seq "$target"); do
    for s in $(order "$i"); do
      sample "$work/den-$s" dk "$s" run -d --network none --name "d$i" "$img" sleep 1000000
    done
    started=$i
    [ "$i" = "$api_n" ] && checkpoint "$i"
    # Past density_n, go on only while the ramp fits the time budget.
    if [ "$i" -ge "$density_n" ] && [ "${EPOCHREALTIME%.*}" -gt "$budget_end" ]; then
      log "density: stopping at $i containers (time budget)"
      break
    fi
  done
  [ "$started" != "$api_n" ] && checkpoint "$started"
  local tenth=$(((started + 9) / 10))
  for s in berth docker; do
    head -n "$tenth" "$work/den-$s" >"$work/den-first-$s"
    tail -n "$tenth" "$work/den-$s" >"$work/den-last-$s"
  done
  if want 3; then
    row 3 "run -d of a sleeping container, first 10% (containers 1-$tenth)" ms lower "$work/den-first-berth" "$work/den-first-docker" "--network none"
    row 3 "run -d of a sleeping container, last 10% (up to $started)" ms lower "$work/den-last-berth" "$work/den-last-docker"
    local n
    for n in $(printf '%s\n' "$api_n" "$started" | sort -nu); do
      row 3 "ps at $n containers" ms lower "$work/ps-$n-berth" "$work/ps-$n-docker"
      row 3 "daemon RSS at $n containers (docker: dockerd+containerd)" MiB lower "$work/mem-$n-daemon-berth" "$work/mem-$n-daemon-docker"
      row 3 "total shim RSS at $n containers ($(cat "$work/shimcount-$n-berth") berth-shim, $(cat "$work/shimcount-$n-docker") containerd-shim-runc-v2)" \
        MiB lower "$work/mem-$n-shims-berth" "$work/mem-$n-shims-docker"
    done
  fi
  if want 4; then
    row 4 "daemon RSS after $api_n containers (docker: dockerd+containerd)" MiB lower "$work/mem-$api_n-daemon-berth" "$work/mem-$api_n-daemon-docker"
    row 4 "RSS per shim at $api_n containers" MiB lower "$work/mem-$api_n-pershim-berth" "$work/mem-$api_n-pershim-docker"
  fi
  if want 7; then
    row 7 "GET /containers/json, $api_n containers, 16 connections" req/s higher "$work/api-rps-berth" "$work/api-rps-docker" \
      "$api_rounds x ${api_secs}s"
    row 7 "GET /containers/json, $api_n containers, 16 connections, p99" ms lower "$work/api-p99-berth" "$work/api-p99-docker"
  fi
  for s in $(order 1); do
    local ids
    mapfile -t ids < <(dk "$s" ps -aq)
    sample "$work/den-rm-$s" dk "$s" rm -f "${ids[@]}"
  done
  if want 3; then
    row 3 "rm -f of $started sleeping containers (one command)" ms lower "$work/den-rm-berth" "$work/den-rm-docker"
  fi
  if want 4; then
    sleep 1
    value "$work/mem-after-rm-berth" "$(kib_to_mib "$(daemon_rss_kb berth)")"
    value "$work/mem-after-rm-docker" "$(kib_to_mib "$(daemon_rss_kb docker)")"
    row 4 "daemon RSS after the containers were removed" MiB lower "$work/mem-after-rm-berth" "$work/mem-after-rm-docker"
  fi
}
w_memory() {
  value "$work/mem-idle-berth" "$(kib_to_mib "$idle_berth_kb")"
  value "$work/mem-idle-docker" "$(kib_to_mib "$idle_docker_kb")"
  row 4 "daemon RSS after start (docker: dockerd+containerd)" MiB lower "$work/mem-idle-berth" "$work/mem-idle-docker"
  local b d
  b=$(stat -L -c %s "$rel/berthd" "$rel/berth-shim" "$rel/berth-runc" | awk '{ t += $1 } END { printf "%.1f", t / 1048576 }')
  d=$(stat -L -c %s "$(command -v dockerd)" "$(command -v containerd)" "$(command -v containerd-shim-runc-v2)" "$(command -v runc)" |
    awk '{ t += $1 } END { printf "%.1f", t / 1048576 }')
  value "$work/size-engine-berth" "$b"
  value "$work/size-engine-docker" "$d"
  row 4 "binary sizes: berthd+berth-shim+berth-runc vs dockerd+containerd+containerd-shim-runc-v2+runc" MiB lower \
    "$work/size-engine-berth" "$work/size-engine-docker"
  value "$work/size-cli-berth" "$(stat -L -c %s "$rel/berth" | awk '{ printf "%.1f", $1 / 1048576 }')"
  value "$work/size-cli-docker" "$(stat -L -c %s "$docker_cli" | awk '{ printf "%.1f", $1 / 1048576 }')"
  row 4 "binary size: berth CLI vs docker CLI" MiB lower "$work/size-cli-berth" "$work/size-cli-docker"
}
w_density_memory_api() {
  if want 4; then w_memory; fi
  if want 3 || want 4 || want 7; then w_density; fi
}

# Containers on one network: N sleeping containers on the default bridge
# (each with its veth, address and firewall entries), the time of each
# run -d early and late in the ramp; flat is the aim (issue: networking).
w_density_bridge() {
  local i s n=$bridge_n
  for i in $(seq "$n"); do
    for s in $(order "$i"); do
      sample "$work/denbr-$s" dk "$s" run -d --network bridge --name "nb$i" "$img" sleep 1000000
    done
  done
  local tenth=$(((n + 9) / 10))
  for s in berth docker; do
    head -n "$tenth" "$work/denbr-$s" >"$work/denbr-first-$s"
    tail -n "$tenth" "$work/denbr-$s" >"$work/denbr-last-$s"
  done
  row 3 "run -d on the default bridge, first 10% (containers 1-$tenth)" ms lower "$work/denbr-first-berth" "$work/denbr-first-docker" "one network"
  row 3 "run -d on the default bridge, last 10% (up to $n)" ms lower "$work/denbr-last-berth" "$work/denbr-last-docker"
  for s in $(order 1); do
    local ids
    mapfile -t ids < <(dk "$s" ps -aq)
    [ "${#ids[@]}" = 0 ] || dk "$s" rm -f "${ids[@]}" >/dev/null
  done
}

# Workloads 5 and 6 live in files of their own.
# shellcheck source=scripts/bench/images.sh
. "$repo/scripts/bench/images.sh"
# shellcheck source=scripts/bench/build.sh
. "$repo/scripts/bench/build.sh"

w_logs() {
  local bytes=$((logs_mb * 1048576)) i s id shim c0 c1 t0 t1 us
  local line="berth bench log line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789"
  local hz
  hz=$(getconf CLK_TCK)
  for i in $(seq "$logs_rounds"); do
    for s in $(order "$i"); do
      # The container waits for a file to appear in a bind mount before it
      # writes: the time and CPU below are those of the writing alone, and
      # its shim is found before the container can exit.
      rm -f "$work/go/go"
      mkdir -p "$work/go"
      id=$(dk "$s" run -d --network none -v "$work/go:/go" "$img" \
        sh -c "until [ -e /go/go ]; do sleep 0.01; done; yes '$line' | head -c $bytes")
      shim=$(shim_of "$s" "$id")
      # The shim's CPU: sampled until it exits (it may go with the
      # container), the last reading kept.
      local s0="" sampler=""
      : >"$work/shim-ticks"
      rm -f "$work/sampler.stop"
      if [ -n "$shim" ]; then
        s0=$(cpu_ticks "$shim")
        # Stopped by a file, not a signal: a kill could land between the
        # truncation and the write of the reading.
        (while [ ! -e "$work/sampler.stop" ] && read -ra a 2>/dev/null <"/proc/$shim/stat"; do
          echo $((a[13] + a[14])) >"$work/shim-ticks"
          sleep 0.05
        done) &
        sampler=$!
        echo "$sampler" >"$work/bg.sampler.pid"
      fi
      c0=$(daemon_ticks "$s")
      t0=$EPOCHREALTIME
      : >"$work/go/go"
      dk "$s" wait "$id" >/dev/null
      t1=$EPOCHREALTIME
      c1=$(daemon_ticks "$s")
      sleep 0.1
      if [ -n "$sampler" ]; then
        : >"$work/sampler.stop"
        wait "$sampler" || true
        rm -f "$work/bg.sampler.pid"
      fi
      local st
      st=$(cat "$work/shim-ticks")
      us=$((${t1/./} - ${t0/./}))
      awk -v b="$bytes" -v us="$us" 'BEGIN { printf "%.1f\n", b / 1048576 / (us / 1e6) }' >>"$work/logw-$s"
      awk -v d=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.2f\n", d / hz }' >>"$work/logcpu-$s"
      if [ -n "$st" ] && [ -n "$s0" ]; then
        awk -v d=$((c1 - c0 + st - s0)) -v hz="$hz" 'BEGIN { printf "%.2f\n", d / hz }' >>"$work/logcpu-all-$s"
      else
        echo FAIL >>"$work/logcpu-all-$s"
      fi
      # Read-back: the bytes must all be there (stdout only, no TTY).
      local got
      got=$(dk "$s" logs "$id" 2>/dev/null | wc -c)
      [ "$got" = "$bytes" ] || echo "logs of $s: $got bytes, want $bytes" >>"$work/errors.log"
      local lm
      if lm=$(ms dk "$s" logs "$id") && [ "$got" = "$bytes" ]; then
        awk -v b="$bytes" -v m="$lm" 'BEGIN { printf "%.1f\n", b / 1048576 / (m / 1000) }' >>"$work/logr-$s"
      else
        echo FAIL >>"$work/logr-$s"
      fi
      dk "$s" rm -f "$id" >/dev/null
    done
  done
  row 8 "a container writes $logs_mb MiB of 100-byte lines (json-file), until it exits" MiB/s higher "$work/logw-berth" "$work/logw-docker"
  row 8 "daemon CPU while it writes (docker: dockerd+containerd)" CPU-s lower "$work/logcpu-berth" "$work/logcpu-docker"
  row 8 "daemon + its shim CPU while it writes" CPU-s lower "$work/logcpu-all-berth" "$work/logcpu-all-docker"
  row 8 "logs read-back of the $logs_mb MiB" MiB/s higher "$work/logr-berth" "$work/logr-docker"
}

if want 1; then workload 1 "run --rm busybox true" w_run; fi
if want 2; then workload 2 "container lifecycle throughput" w_lifecycle; fi
# One ramp of containers serves density, memory and the API benchmark.
if want 3 || want 4 || want 7; then workload "3/4/7" "density, memory, API" w_density_memory_api; fi
if want 3; then workload 3 "containers on the default bridge" w_density_bridge; fi
if want 5; then workload 5 "images: load, push, pull, rmi" w_images; fi
if want 6; then workload 6 "build (classic builder)" w_build; fi
if want 8; then workload 8 "logs" w_logs; fi

# ------------------------------------------------------------------ table
elapsed=$(((${EPOCHREALTIME/./} - ${t_begin/./}) / 1000000))
table="$out/table.md"
{
  echo "## berth vs Docker ($mode run, $(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r), cgroup $(if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo v2; elif [ -d /sys/fs/cgroup/unified ]; then echo v1 hybrid; else echo v1; fi)"
  echo "- berth: berthd $("$rel/berthd" --version | awk '{ print $2 }'), $("$rel/berth" --version), $(v=$("$rel/berth-runc" --version) && echo "${v%%$'\n'*}"), berth-registry $("$rel/berth-registry" --version | awk '{ print $2 }')"
  echo "- docker: dockerd $(dk docker version -f '{{.Server.Version}}' 2>/dev/null), containerd $(containerd --version | awk '{ print $3 }'), runc $(runc --version | awk 'NR == 1 { print $3 }'), docker-registry $(docker-registry --version | awk '{ print $3 }')"
  echo "- CLI: docker $("$docker_cli" version -f '{{.Client.Version}}' 2>/dev/null) ($docker_cli) unless a row says berth CLI"
  echo "- medians with min-max over interleaved repetitions; ratio = berth median / docker median; $elapsed s of measuring"
  echo "- load average (1, 5, 15 min) at the start: $load_begin; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes figures noisy)"
  echo "- default bridge: berthd with its own bridge and nftables table; dockerd with a bridge made by the script and --iptables=false"
  echo "- registry rows: both engines against the same registry program, a fresh empty instance for every push"
  echo
  echo "| # | workload | unit | better | berth | docker | berth/docker |"
  echo "|---|---|---|---|---|---|---|"
  # Rows in workload order (3, 4 and 7 are measured together).
  sort -t'|' -k2,2n -s "$rows"
} >"$table"
[ -s "$work/errors.log" ] && echo -e "\nSome commands failed: $out/logs/errors.log" >>"$table"
cat "$table"
echo
echo "table: $table"
echo "csv:   $csv"
