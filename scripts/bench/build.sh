# Sourced by scripts/bench.sh (its helpers and variables in scope): workload 6, the build (classic builder).
# shellcheck shell=bash disable=SC2154

build() { DOCKER_BUILDKIT=0 dk "$@"; }

# Three Dockerfiles, each in a context of its own under $work/ctx-NAME:
#   app        FROM, ENV, RUN, COPY of a directory, RUN over it, WORKDIR,
#              LABEL, CMD: the common shape of an application image;
#   multistage a build stage that works on the copied files and a final
#              stage that takes its output with COPY --from;
#   many       twenty small steps (ENV, LABEL, RUN, COPY of single files,
#              USER, EXPOSE...): per-step cost dominates.
# Each writes the file its one-file-change rebuild touches to stdout.
make_contexts() {
  local c f
  c="$work/ctx-app"
  mkdir -p "$c/data"
  for f in $(seq 20); do seq "$f" 1000 >"$c/data/f$f.txt"; done
  head -c 1048576 /dev/urandom >"$c/data/blob.bin"
  cat >"$c/Dockerfile" <<EOF
FROM $img
ENV APP=/app
RUN mkdir -p /app/data && echo built >/app/stamp
COPY data/ /app/data/
RUN find /app -type f | wc -l >/app/count && cat /app/data/*.txt | wc -l >/app/lines
WORKDIR /app
LABEL bench=build
CMD ["cat", "/app/count"]
EOF

  c="$work/ctx-multistage"
  mkdir -p "$c/src"
  for f in $(seq 50); do seq "$f" 2000 >"$c/src/part$f.txt"; done
  cat >"$c/Dockerfile" <<EOF
FROM $img AS build
WORKDIR /src
COPY src/ ./
RUN cat part*.txt | sort -n >/all.txt && wc -l </all.txt >/count
FROM $img AS test
COPY --from=build /count /count
RUN test -s /count
FROM $img
COPY --from=build /all.txt /count /out/
CMD ["cat", "/out/count"]
EOF

  c="$work/ctx-many"
  mkdir -p "$c"
  for f in a b c d; do echo "config $f" >"$c/$f.conf"; done
  cat >"$c/Dockerfile" <<EOF
FROM $img
ENV A=1
ENV B=2 C=3
ARG VERSION=1.0
LABEL version=\$VERSION
LABEL maintainer=bench
WORKDIR /etc/app
COPY a.conf ./
COPY b.conf ./
RUN echo one >/one
RUN echo two >/two && cat /one /two >/both
COPY c.conf ./
RUN ls /etc/app >/listing
COPY d.conf ./
RUN adduser -D -H app 2>/dev/null || echo 'app:x:1000:1000::/:/bin/sh' >>/etc/passwd
USER app
EXPOSE 8080
VOLUME /data
STOPSIGNAL SIGINT
ENTRYPOINT ["sh", "-c"]
CMD ["cat /etc/app/*.conf"]
EOF
}

w_build() {
  local i s name change
  make_contexts
  local probe
  if ! probe=$(build berth build -t bench/build:probe "$work/ctx-app" 2>&1); then
    echo "$probe" >>"$work/errors.log"
    notyet 6 "builds of three Dockerfiles" "the build through berthd failed"
    return 0
  fi
  for s in berth docker; do
    for name in app multistage many; do
      local o
      o=$(build "$s" build -t "bench/build-$name:probe" "$work/ctx-$name" 2>&1) || echo "$o" >>"$work/errors.log"
    done
  done
  for i in $(seq "$build_rounds"); do
    for name in app multistage many; do
      case $name in
        app) change="data/f3.txt" ;;
        multistage) change="src/part7.txt" ;;
        many) change="c.conf" ;;
      esac
      for s in $(order "$i"); do
        sample "$work/b-$name-cold-$s" build "$s" build --no-cache -t "bench/build-$name" "$work/ctx-$name"
        sample "$work/b-$name-same-$s" build "$s" build -t "bench/build-$name" "$work/ctx-$name"
        # The same through berth's own CLI: a rebuild that finds everything
        # cached is mostly the client's own start-up and context upload.
        [ "$s" = berth ] && sample "$work/b-$name-same-bz" bz build -t "bench/build-$name" "$work/ctx-$name"
        echo "change $i $s" >>"$work/ctx-$name/$change"
        sample "$work/b-$name-change-$s" build "$s" build -t "bench/build-$name" "$work/ctx-$name"
      done
    done
  done
  local what
  for name in app multistage many; do
    case $name in
      app) what="a 7-instruction application Dockerfile" ;;
      multistage) what="a 3-stage Dockerfile (COPY --from)" ;;
      many) what="a 21-instruction Dockerfile of small steps" ;;
    esac
    row 6 "cold build (--no-cache) of $what" ms lower "$work/b-$name-cold-berth" "$work/b-$name-cold-docker" "classic builder"
    row 6 "no-change rebuild of $what" ms lower "$work/b-$name-same-berth" "$work/b-$name-same-docker"
    row 6 "no-change rebuild of $what: berth CLI + berthd vs docker CLI + dockerd" ms lower "$work/b-$name-same-bz" "$work/b-$name-same-docker"
    row 6 "one-file-change rebuild of $what" ms lower "$work/b-$name-change-berth" "$work/b-$name-change-docker"
  done
  for s in berth docker; do
    for name in app multistage many; do
      dk "$s" rmi "bench/build-$name" "bench/build-$name:probe" >/dev/null 2>&1 || true
    done
    dk "$s" rmi bench/build:probe >/dev/null 2>&1 || true
    dk "$s" image prune -f >/dev/null 2>&1 || true
  done
}
