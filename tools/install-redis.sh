#!/usr/bin/env bash
# Makes sure redis-server is on PATH (Argo CD's repo-server and application controller cache in
# Redis). It comes from Debian's packages, nothing else: run this once as root (a CI setup step,
# e.g. in .ci/run) before `npm run test:argocd`. The tests never install anything themselves; they
# fail, naming this script, when redis-server is missing.
#
#   bash tools/install-redis.sh     install redis-server with apt-get if missing; print its path
set -euo pipefail
if ! command -v redis-server >/dev/null; then
  command -v apt-get >/dev/null || { echo "tools/install-redis.sh: redis-server is missing and apt-get is not available; install Redis 7 from your distribution" >&2; exit 3; }
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "tools/install-redis.sh: installing redis-server from Debian's packages" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >&2
  command -v redis-server >/dev/null || { echo "tools/install-redis.sh: apt-get finished but redis-server is not on PATH" >&2; exit 4; }
fi
redis-server --version >&2
command -v redis-server
