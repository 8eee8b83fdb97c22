#!/usr/bin/env bash
# berth's main job on a fresh machine: build, then run a real container.
# (berthd does not exist yet; until it does, this runs a busybox container
# with berth-runc, the OCI runtime.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release -p berth-runc
bin="$PWD/target/release/berth-runc"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" "$work/rootfs/tmp" "$work/rootfs/etc"
cp /usr/bin/busybox "$work/rootfs/bin/busybox"
for a in $("$work/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
cd "$work"
"$bin" spec
# Not a terminal, and a command that shows it is inside its own namespaces.
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sh", "-c", "echo hello from $(hostname), pid $$; ps"/' config.json
"$bin" --root "$work/state" run "demo-$$"
