#!/usr/bin/env bash
# Builds the real programs this repository configures, from the Go modules under tools/go/, into a
# cache outside git. Every version is pinned by that module's go.mod and go.sum; nothing is
# downloaded except modules from the Go module proxy.
#
#   bash tools/build.sh NAME...     build (or reuse) tools/go/NAME; print one line per NAME: its bin dir
#   bash tools/build.sh --all       every module under tools/go/
#   bash tools/build.sh --list      the module names
#
# Cache: $CODERUN_TOOLS_CACHE, default ~/.cache/coderun-tools. A module is rebuilt only when its
# inputs change (go.mod, go.sum, build.env, its own .go files and those of the folders build.env's
# SOURCES names, the Go version, or the GOTOOLCHAIN build.env pins): the cache key is their SHA-256. Build logs go to stderr, with one line per module giving its build time (with --all,
# reused modules too); stdout carries only the bin dirs, so callers can read them.
#
# CODERUN_TOOLS_NO_BUILD=1 refuses to compile: a module that is not built yet is an error. .ci/run
# sets it once its tools step has built everything, so no compilation runs during a test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CODERUN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coderun-tools}"

modules() { (cd "$here/go" && for d in */; do [ -f "$d/go.mod" ] && echo "${d%/}"; done); }

usage() {
  echo "usage: bash tools/build.sh NAME... | --all | --list   (modules: $(modules | tr '\n' ' '))" >&2
  exit 2
}

# The version that module $2 of build module $1 resolves to, e.g. modver kube-1.30 k8s.io/kubernetes.
modver() { (cd "$here/go/$1" && go list -m -f '{{.Version}}' "$2"); }

build_one() {
  local name="$1" dir="$here/go/$1" began=$SECONDS
  [ -f "$dir/go.mod" ] || { echo "tools/build.sh: no module tools/go/$name (modules: $(modules | tr '\n' ' '))" >&2; return 2; }
  command -v go >/dev/null || { echo "tools/build.sh: 'go' is not on PATH; install Go 1.26 to build $name" >&2; return 3; }
  # build.env may pin a GOTOOLCHAIN (a line `GOTOOLCHAIN=goX.Y.Z`) for a module whose go.mod needs a
  # newer Go than the machine's: the go command fetches that toolchain from the Go module proxy. It
  # applies to this module's go commands only, and its `go version` is part of the cache key.
  local toolchain
  toolchain=$( [ -f "$dir/build.env" ] && sed -n 's/^GOTOOLCHAIN=\(go[0-9.]*\)$/\1/p' "$dir/build.env" || true)
  local -x GOTOOLCHAIN="${toolchain:-${GOTOOLCHAIN:-local}}"
  # build.env may name SOURCES: other tools/go folders whose files this build compiles (a replace
  # directive), so they are part of the cache key too.
  local key sources
  sources=$( [ -f "$dir/build.env" ] && (SOURCES="" && source "$dir/build.env" && echo "${SOURCES:-}") || true)
  # shellcheck disable=SC2086
  key=$( (cd "$dir" && go version && find . $sources -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name build.env \) -print0 |
    sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
  local out="$cache/$name/$key"
  mkdir -p "$cache/$name"
  # One build per module at a time: a second caller waits, then finds the finished build.
  exec 9>"$cache/$name/.lock"
  flock 9
  if [ -f "$out/.done" ]; then
    exec 9>&-
    [ -z "$all" ] || echo "tools/build.sh: $name: reused in $((SECONDS - began)) s" >&2
    echo "$out/bin"
    return 0
  fi
  if [ "${CODERUN_TOOLS_NO_BUILD:-}" = 1 ]; then
    exec 9>&-
    echo "tools/build.sh: $name is not built and CODERUN_TOOLS_NO_BUILD=1 forbids compiling now (build it first: bash tools/build.sh $name)" >&2
    return 4
  fi
  local ldflags="-s -w" pkgs="tool"
  # build.env may set LDFLAGS (using modver) and PKGS (default: every `tool` of the module).
  LDFLAGS="" PKGS="" SOURCES=""
  # shellcheck disable=SC1091
  [ -f "$dir/build.env" ] && source "$dir/build.env"
  [ -n "$LDFLAGS" ] && ldflags="$ldflags $LDFLAGS"
  [ -n "$PKGS" ] && pkgs="$PKGS"
  local start=$SECONDS
  echo "tools/build.sh: building $name into $out (first use; later runs reuse it)" >&2
  rm -rf "$out.partial"
  mkdir -p "$out.partial/bin"
  # shellcheck disable=SC2086
  (cd "$dir" && GOBIN="$out.partial/bin" GOFLAGS=-mod=readonly go install -trimpath -ldflags "$ldflags" $pkgs) >&2
  touch "$out.partial/.done"
  rm -rf "$out"
  mv "$out.partial" "$out"
  echo "tools/build.sh: $name: built in $((SECONDS - start)) s ($((SECONDS - began)) s with waiting): $(ls "$out/bin" | tr '\n' ' ')" >&2
  echo "$out/bin"
  exec 9>&-
}

[ $# -gt 0 ] || usage
all=""
case "$1" in
  --list) modules; exit 0 ;;
  --all) all=1; set -- $(modules) ;;
  -*) usage ;;
esac
for name in "$@"; do build_one "$name"; done
