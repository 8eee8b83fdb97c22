#!/usr/bin/env bash
# Captures the OCI config.json that dockerd 20.10 (Debian's docker.io) writes
# for a set of `docker run` variants; the engine's spec tests compare
# build_spec against them. A private dockerd (own socket, data root, exec
# root; no bridge, no iptables) runs containers through a spy runtime that
# copies the bundle's config.json and then execs runc. Output is normalized:
# the container id becomes a fixed id, the daemon's directories and the bind
# sources fixed placeholders, the libnetwork hook is dropped.
#   crates/engine/tests/data/oci/capture.sh      (run as root)
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)"
dockercli=/usr/bin/docker
work="$(mktemp -d /tmp/berth-oci-capture.XXXXXX)"
sock="$work/docker.sock"
export DOCKER_HOST="unix://$sock"
fixed_id=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
cleanup() {
  "$dockercli" rm -f $("$dockercli" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ -f "$work/dockerd.pid" ] && kill "$(cat "$work/dockerd.pid")" 2>/dev/null || true
  for _ in $(seq 50); do [ -f "$work/dockerd.pid" ] && kill -0 "$(cat "$work/dockerd.pid")" 2>/dev/null || break; sleep 0.2; done
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/captured" "$work/vol" "$work/vol2"
echo "1.2.3.4 x" >"$work/myhosts"
cat >"$work/spy" <<SPY
#!/bin/sh
prev=""; bundle=""; create=0
for a in "\$@"; do
  [ "\$prev" = "--bundle" ] && bundle="\$a"
  [ "\$a" = create ] && create=1
  prev="\$a"
done
[ "\$create" = 1 ] && [ -n "\$bundle" ] && cp "\$bundle/config.json" "$work/captured/\$(basename "\$bundle").json"
exec runc "\$@"
SPY
chmod +x "$work/spy"

dockerd --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
  -H "unix://$sock" --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
  --containerd-namespace "berth-oci-$$" --containerd-plugins-namespace "berth-oci-plugins-$$" \
  --add-runtime "spy=$work/spy" >"$work/dockerd.log" 2>&1 &
for _ in $(seq 100); do "$dockercli" version >/dev/null 2>&1 && break; sleep 0.2; done
"$dockercli" version >/dev/null || { cat "$work/dockerd.log"; exit 1; }

# The image: busybox plus the passwd/group files the user tests resolve against
# (the same content as the tests' rootfs).
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /usr/bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/true"
ln -s busybox "$work/rootfs/bin/sh"
cp "$out/passwd" "$work/rootfs/etc/passwd"
cp "$out/group" "$work/rootfs/etc/group"
tar -C "$work/rootfs" -c . | "$dockercli" import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - berth-oci-capture >/dev/null

capture() { # NAME [docker run args...]
  local name=$1; shift
  local id
  # Some variants fail in runc on hosts that restrict capabilities; the config
  # is copied before runc runs, so the failure does not matter here.
  id=$("$dockercli" create --runtime spy --name "berth-oci-$name" "$@")
  "$dockercli" start "berth-oci-$name" >/dev/null 2>&1 || true
  "$dockercli" rm -f "berth-oci-$name" >/dev/null
  sed -e "s|$id|$fixed_id|g" -e "s|${id:0:12}|${fixed_id:0:12}|g" \
      -e "s|$work/data|/var/lib/docker|g" -e "s|$work/exec|/var/run/docker|g" \
      -e "s|$work/vol2|/srv/vol2|g" -e "s|$work/vol|/srv/vol|g" -e "s|$work/myhosts|/srv/myhosts|g" \
      "$work/captured/$id.json" |
    jq --indent 1 --arg host "$(hostname)" 'del(.hooks) | .root.path = "<rootfs>"
      | if .hostname == $host then .hostname = "host-hostname" else . end
      | .process.env |= map(if . == "HOSTNAME=" + $host then "HOSTNAME=host-hostname" else . end)' >"$out/$name.json"
  echo "captured $name"
}
img=berth-oci-capture
n=(--network none)
capture default "${n[@]}" $img true
capture tty "${n[@]}" -t $img true
capture privileged "${n[@]}" --privileged $img true
capture readonly "${n[@]}" --read-only $img true
capture capadd "${n[@]}" --cap-add sys_admin --cap-add CAP_NET_ADMIN --cap-add chown --cap-drop chown --cap-drop CAP_KILL --cap-drop Mknod $img true
capture capall "${n[@]}" --cap-add ALL --cap-drop MKNOD $img true
capture capdropall "${n[@]}" --cap-drop ALL --cap-add chown $img true
capture username "${n[@]}" -u alice --group-add video --group-add 50 $img true
capture useruidgid "${n[@]}" -u 1001:44 $img true
capture usernum "${n[@]}" -u 2000 $img true
capture usernamegroup "${n[@]}" -u bob:staff $img true
capture tmpfs "${n[@]}" --tmpfs /run --tmpfs /data:rw,size=10m,mode=1700 --tmpfs /x:ro,noexec $img true
capture binds "${n[@]}" -v "$work/vol:/vol" -v "$work/vol2:/vol2:ro" -v "$work/myhosts:/etc/hosts:ro" -v "$work/vol:/zz/ro:ro,rprivate" $img true
capture readonlytmpfs "${n[@]}" --read-only --tmpfs /run -v "$work/vol:/vol" $img true
capture resources "${n[@]}" --memory 64m --memory-swap 128m --memory-reservation 32m --cpus 1.5 --cpu-shares 512 --cpuset-cpus 0 --cpuset-mems 0 --pids-limit 100 --oom-kill-disable --memory-swappiness 10 $img true
capture memory "${n[@]}" --memory 64m $img true
capture cpuquota "${n[@]}" --cpu-quota 50000 --cpu-period 200000 $img true
capture ulimit "${n[@]}" --ulimit nofile=1024:2048 --ulimit nproc=100 $img true
capture sysctl "${n[@]}" --sysctl net.ipv4.ip_forward=1 --sysctl kernel.msgmax=65536 $img true
capture shm "${n[@]}" --shm-size 128m $img true
capture shmbind "${n[@]}" -v "$work/vol:/dev/shm" $img true
capture init "${n[@]}" --init $img true
capture hostname "${n[@]}" -h myhost --domainname example.com $img true
capture security "${n[@]}" --security-opt no-new-privileges --security-opt seccomp=unconfined $img true
capture systempaths "${n[@]}" --security-opt systempaths=unconfined $img true
capture nethost --network host $img true
capture nsshost "${n[@]}" --ipc host --pid host --uts host $img true
capture ipcshareable "${n[@]}" --ipc shareable $img true
capture device "${n[@]}" --device /dev/null:/dev/mynull:r --device /dev/zero $img true
capture env "${n[@]}" -w /tmp -e FOO=bar -e PATH=/bin -e HOSTNAME=x $img true
capture oomscore "${n[@]}" --oom-score-adj 500 $img true
capture entrypoint "${n[@]}" --entrypoint /bin/sh $img -c 'echo hi'
