# Sourced by scripts/bench.sh (its helpers and variables in scope): workload 5, images: load, push and pull through a registry on
# 127.0.0.1, rmi + prune.
# shellcheck shell=bash disable=SC2154

# make_archive OUT TAG LAYERS MIB: a docker-archive (`docker save` format)
# of LAYERS layers of MIB MiB of random content each (4 MiB files), made
# here with tar and sha256sum.
make_archive() {
  local outf=$1 tag=$2 layers=$3 mib=$4 d l f h diff_ids="" layer_list="" hist=""
  d=$(mktemp -d "$work/archive.XXXXXX")
  mkdir -p "$d/out"
  for l in $(seq "$layers"); do
    mkdir -p "$d/src/l$l/data$l"
    local left=$((mib * 1048576)) chunk
    f=0
    while [ "$left" -gt 0 ]; do
      chunk=$((left < 4194304 ? left : 4194304))
      f=$((f + 1))
      head -c "$chunk" /dev/urandom >"$d/src/l$l/data$l/f$f.bin"
      left=$((left - chunk))
    done
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$d/src/l$l" -cf "$d/layer.tar" .
    h=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
    mkdir -p "$d/out/$h"
    mv "$d/layer.tar" "$d/out/$h/layer.tar"
    rm -rf "$d/src/l$l"
    diff_ids="$diff_ids${diff_ids:+,}\"sha256:$h\""
    layer_list="$layer_list${layer_list:+,}\"$h/layer.tar\""
    hist="$hist${hist:+,}{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"bench layer $l\"}"
  done
  printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
    "$(dpkg --print-architecture)" "$diff_ids" "$hist" >"$d/config.json"
  h=$(sha256sum "$d/config.json" | cut -d' ' -f1)
  mv "$d/config.json" "$d/out/$h.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$h" "$tag" "$layer_list" >"$d/out/manifest.json"
  (cd "$d/out" && tar -cf "$outf" manifest.json "$h.json" ./*/layer.tar --transform 's,^\./,,')
  rm -rf "$d"
}
rmi_prune() { dk "$1" rmi "$2" && dk "$1" image prune -f; }

reg_pid="" reg_port="" reg_dir=""
# start_registry KIND: a fresh registry (docker-registry or berth-registry)
# with an empty store on a free port of 127.0.0.1.
start_registry() {
  local kind=$1 p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    [ -z "$(ss -Hltn "sport = :$p")" ] && break
  done
  reg_port=$p
  reg_dir=$(mktemp -d "$work/registry.XXXXXX")
  if [ "$kind" = docker-registry ]; then
    cat >"$reg_dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $reg_dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$p
EOF
    docker-registry serve "$reg_dir/config.yml" >>"$work/registry-$kind.log" 2>&1 &
  else
    "$rel/berth-registry" --root "$reg_dir/data" serve --addr "127.0.0.1:$p" >>"$work/registry-$kind.log" 2>&1 &
  fi
  reg_pid=$!
  echo "$reg_pid" >"$work/bg.registry.pid"
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$p/v2/" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "registry $kind did not start on 127.0.0.1:$p" >&2
  return 1
}
stop_registry() {
  kill "$reg_pid" 2>/dev/null || true
  wait "$reg_pid" 2>/dev/null || true
  rm -f "$work/bg.registry.pid"
  rm -rf "$reg_dir"
}

w_images() {
  local i s kind ref
  local total=$((load_layers * load_mb))
  make_archive "$work/load.tar" bench/load:latest "$load_layers" "$load_mb"
  for i in $(seq "$img_rounds"); do
    for s in $(order "$i"); do
      sample "$work/load-$s" dk "$s" load -i "$work/load.tar"
      sample "$work/rmi-$s" rmi_prune "$s" bench/load:latest
    done
  done
  row 5 "load of a $load_layers-layer ${total} MiB docker-archive" ms lower "$work/load-berth" "$work/load-docker"
  row 5 "rmi + image prune -f of that image" ms lower "$work/rmi-berth" "$work/rmi-docker"
  rm -f "$work/load.tar"

  # Push and pull: each engine against a fresh, empty registry per
  # measurement (so every push uploads every layer), with both engines
  # against the same registry program, in turn docker-registry and
  # berth-registry. Every push starts from the image as `load` made it (no
  # compressed layers from an earlier pull to reuse); every pull starts
  # with none of its layers present.
  local pp_total=$((pp_layers * pp_mb))
  make_archive "$work/pp.tar" bench/pp:latest "$pp_layers" "$pp_mb"
  # Probes with the small image: does berthd push, does it pull?
  local can_push=0 can_pull=0
  start_registry docker-registry
  dk berth tag "$img" "127.0.0.1:$reg_port/probe/berth" &&
    dk berth push "127.0.0.1:$reg_port/probe/berth" >/dev/null 2>>"$work/errors.log" && can_push=1
  dk docker tag "$img" "127.0.0.1:$reg_port/probe/docker"
  dk docker push "127.0.0.1:$reg_port/probe/docker" >/dev/null
  dk berth pull "127.0.0.1:$reg_port/probe/docker" >/dev/null 2>>"$work/errors.log" && can_pull=1
  for s in berth docker; do
    dk "$s" rmi "127.0.0.1:$reg_port/probe/$s" "127.0.0.1:$reg_port/probe/docker" >/dev/null 2>&1 || true
  done
  stop_registry
  log "berthd push: $([ $can_push = 1 ] && echo works || echo not yet); pull: $([ $can_pull = 1 ] && echo works || echo not yet)"
  for kind in docker-registry berth-registry; do
    for i in $(seq "$img_rounds"); do
      for s in $(order "$i"); do
        # Nothing to measure for berthd without push or pull.
        if [ "$s" = berth ] && [ "$can_push" = 0 ] && [ "$can_pull" = 0 ]; then continue; fi
        start_registry "$kind"
        ref="127.0.0.1:$reg_port/bench/pp:latest"
        local pusher=$s
        # Without push in berthd, dockerd fills the registry for the pull.
        [ "$s" = berth ] && [ "$can_push" = 0 ] && pusher=docker
        dk "$pusher" load -i "$work/pp.tar" >/dev/null
        dk "$pusher" tag bench/pp:latest "$ref"
        if [ "$pusher" = "$s" ]; then
          sample "$work/push-$kind-$s" dk "$s" push "$ref"
        else
          dk "$pusher" push "$ref" >/dev/null
        fi
        dk "$pusher" rmi "$ref" bench/pp:latest >/dev/null
        if [ "$s" = docker ] || [ "$can_pull" = 1 ]; then
          sample "$work/pull-$kind-$s" dk "$s" pull "$ref"
          dk "$s" rmi "$ref" >/dev/null 2>&1 || true
        fi
        stop_registry
      done
    done
    if [ "$can_push" = 1 ]; then
      row 5 "push of a $pp_layers-layer ${pp_total} MiB image (as loaded) to $kind on 127.0.0.1" ms lower "$work/push-$kind-berth" "$work/push-$kind-docker"
    else
      notyet 5 "push of a $pp_layers-layer ${pp_total} MiB image to $kind on 127.0.0.1" "berthd does not push yet"
    fi
    if [ "$can_pull" = 1 ]; then
      row 5 "pull of that image from $kind on 127.0.0.1" ms lower "$work/pull-$kind-berth" "$work/pull-$kind-docker"
    else
      notyet 5 "pull of that image from $kind on 127.0.0.1" "berthd does not pull yet"
    fi
  done
  rm -f "$work/pp.tar"
}
