#!/usr/bin/env bash
# Interop: Debian's docker.io engine (dockerd 20.10 + containerd + its runc
# shim) uses berth-runc as a runtime (--add-runtime berth=...). A private
# dockerd on its own socket, data root and exec root; no bridge, no iptables,
# containers with --network none; everything removed at the end.
#   scripts/interop-docker.sh            (installs docker.io with apt if absent)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh docker.io
cargo build --release -p berth-runc >/dev/null
berth="$PWD/target/release/berth-runc"
dockercli=/usr/bin/docker   # Debian's client matches its daemon
work="$(mktemp -d /tmp/berth-interop.XXXXXX)"
sock="$work/docker.sock"
export DOCKER_HOST="unix://$sock"
cleanup() {
  local rc=$?
  set +e
  "$dockercli" rm -f $("$dockercli" ps -aq 2>/dev/null) >/dev/null 2>&1
  [ -f "$work/dockerd.pid" ] && kill "$(cat "$work/dockerd.pid")" 2>/dev/null
  # dockerd stops the containerd it started; wait for both to be gone
  # before removing their directories.
  for _ in $(seq 100); do
    pgrep -f "$work/" >/dev/null || break
    sleep 0.1
  done
  pkill -9 -f "$work/" 2>/dev/null
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
dockerd --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
  -H "unix://$sock" --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
  --containerd-namespace "berth-interop-$$" --containerd-plugins-namespace "berth-interop-plugins-$$" \
  --add-runtime "berth=$berth" >"$work/dockerd.log" 2>&1 &
for _ in $(seq 100); do "$dockercli" version >/dev/null 2>&1 && break; sleep 0.2; done
"$dockercli" version >/dev/null || { cat "$work/dockerd.log"; exit 1; }

# An image from busybox-static, no registry.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /usr/bin/busybox "$work/rootfs/bin/busybox"
for a in $("$work/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -c . | "$dockercli" import - berth-interop-busybox >/dev/null

passed=0 failed=0
check() { # name expected actual
  if [ "$2" = "$3" ]; then
    echo "ok   $1"; passed=$((passed + 1))
  else
    echo "FAIL $1: expected [$2] got [$3]"; failed=$((failed + 1))
  fi
}
runtime="${INTEROP_RUNTIME:-berth}"   # INTEROP_RUNTIME=runc: the same checks against runc
run=("$dockercli" run --runtime "$runtime" --network none)
check "run --rm echo" ok "$("${run[@]}" --rm berth-interop-busybox echo ok)"
check "exit code" 7 "$("${run[@]}" --rm berth-interop-busybox sh -c 'exit 7' >/dev/null 2>&1; echo $?)"
check "-it with a pty" "/dev/pts/0" "$(script -qec "${run[*]} --rm -it berth-interop-busybox tty" /dev/null | grep -o '/dev/pts/[0-9]*')"
cid=$("${run[@]}" -d --name berth-interop-c1 berth-interop-busybox sleep 300)
check "exec" "hi from $(echo "$cid" | cut -c1-12)" "$("$dockercli" exec berth-interop-c1 sh -c 'echo hi from $(hostname)')"
check "exec -it" "/dev/pts/0" "$(script -qec "$dockercli exec -it berth-interop-c1 tty" /dev/null | grep -o '/dev/pts/[0-9]*')"
"$dockercli" stop -t 2 berth-interop-c1 >/dev/null
check "stop" exited "$("$dockercli" inspect -f '{{.State.Status}}' berth-interop-c1)"
check "--memory limit" 67108864 "$("${run[@]}" --rm -m 64m berth-interop-busybox cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
