#!/usr/bin/env bash
# Installs the Debian packages berth's build and tests need (idempotent).
#   busybox-static  the static busybox test rootfs are built from
#   libseccomp-dev  seccomp filters (linked by the runtime)
#   runc            the reference runtime the conformance suite also runs against
#   hyperfine       the runtime benchmark
#   nftables        nft(8): berthd installs its firewall table with it
#   openssl, curl   TLS material and raw HTTP in the registry's tests
# Extra package names on the command line are installed too (the tests add
# docker.io, the reference engine for the interop checks).
set -euo pipefail
pkgs=(busybox-static libseccomp-dev pkg-config runc hyperfine procps iproute2 util-linux nftables
  openssl curl "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
