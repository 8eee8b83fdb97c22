#!/usr/bin/env bash
# berth's main job on a fresh machine: build, start berthd (or use the one
# already running), import a busybox image made from Debian's busybox-static,
# and run containers through the daemon with berth's own CLI (a published
# port answered from the host, then a container that prints who it is).
# berthd keeps running afterwards, like a system daemon:
#   data root /var/lib/berth, exec root /run/berth, socket /run/berth/berth.sock,
#   log /run/berth/berthd.log; stop it with: kill "$(cat /run/berthd.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build-release.sh
bin="$PWD/target/release"
sock=/run/berth/berth.sock
export DOCKER_HOST="unix://$sock"
# berth's CLI takes docker's commands and flags (the docker CLI works too).
docker_cli="$bin/berth"
if ! "$docker_cli" version >/dev/null 2>&1; then
  mkdir -p /run/berth
  nohup "$bin/berthd" >/run/berth/berthd.log 2>&1 &
  for _ in $(seq 100); do "$docker_cli" version >/dev/null 2>&1 && break; sleep 0.1; done
  "$docker_cli" version >/dev/null || { cat /run/berth/berthd.log; exit 1; }
  echo "started berthd (pid $(cat /run/berthd.pid 2>/dev/null || echo '?')), socket $sock"
fi
if ! "$docker_cli" image inspect busybox >/dev/null 2>&1; then
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root"
  cp /usr/bin/busybox "$rootfs/bin/busybox"
  for a in $("$rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | "$docker_cli" import -c 'CMD ["sh"]' - busybox
fi
"$docker_cli" rm -f berth-demo-web >/dev/null 2>&1 || true
"$docker_cli" run -d --name berth-demo-web -p 127.0.0.1::80 busybox \
  sh -c 'mkdir /www && echo "hello over the bridge from $(hostname)" >/www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
port="$("$docker_cli" port berth-demo-web 80 | sed 's/.*://')"
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done
"$docker_cli" rm -f berth-demo-web >/dev/null
"$docker_cli" run --rm busybox sh -c 'echo "hello from container $(hostname), pid $$, as $(id -un), address $(ip -4 -o addr show eth0 | awk "{print \$4}")"; ps'
