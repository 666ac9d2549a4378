#!/usr/bin/env bash
# Runs a command in a network namespace of its own, whose only interface is loopback: whatever it
# starts is reachable from nowhere else, even a server that binds 0.0.0.0 (Argo CD v3.5.1's
# application controller hard-codes 0.0.0.0 for its metrics). Needs unshare(1) and ip(8)
# (util-linux, iproute2) and user namespaces (or root). Nothing in it can reach the network: build
# the tools first (tools/build.sh).
#
#   bash tools/loopback-only.sh COMMAND [ARGS...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: bash tools/loopback-only.sh COMMAND [ARGS...]" >&2; exit 2; }
for p in unshare ip; do
  command -v "$p" >/dev/null || { echo "tools/loopback-only.sh: '$p' is not on PATH (util-linux / iproute2)" >&2; exit 3; }
done
exec unshare --net --map-root-user -- bash -c 'ip link set lo up && exec "$@"' loopback-only "$@"
