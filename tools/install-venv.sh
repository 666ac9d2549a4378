#!/usr/bin/env bash
# Installs the PyPI packages of tools/python/NAME-requirements.txt (every package pinned; installed
# with --no-deps, so nothing else is resolved) into a virtualenv in the tools cache. Only PyPI is used.
#
#   bash tools/install-venv.sh NAME PROGRAM...   install (or reuse) the venv; print its bin dir on stdout
#
# Each PROGRAM must be in the venv's bin dir and answer --version. Users: tools/install-checkov.sh
# (checkov), tools/lint-python.sh (python-lint: ruff, vermin).
# Cache: $CODERUN_TOOLS_CACHE, default ~/.cache/coderun-tools (as tools/build.sh). The venv is
# rebuilt only when its inputs change: the key is the SHA-256 of the requirements file and the
# Python version. One install per venv at a time (flock): a second caller waits, then reuses it.
# Install logs go to stderr; stdout carries only the bin dir. With CODERUN_TOOLS_NO_BUILD=1 (set by
# .ci/run after its tools step) a missing venv is an error.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CODERUN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coderun-tools}"
name="${1:-}"
[ $# -ge 2 ] || { echo "usage: bash tools/install-venv.sh NAME PROGRAM... (NAME: $(cd "$here/python" && ls -- *-requirements.txt | sed 's/-requirements.txt$//' | tr '\n' ' '))" >&2; exit 2; }
shift
req="$here/python/$name-requirements.txt"
[ -f "$req" ] || { echo "tools/install-venv.sh: no tools/python/$name-requirements.txt" >&2; exit 2; }
python="${PYTHON:-python3}"
me="tools/install-venv.sh $name"

command -v "$python" >/dev/null || { echo "$me: '$python' is not on PATH; install Python 3.11" >&2; exit 3; }
key=$( ("$python" --version && sha256sum <"$req") 2>&1 | sha256sum | cut -c1-16)
out="$cache/$name-$key"
complete() {
  [ -f "$out/.done" ] || return 1
  local p
  for p in "$@"; do [ -x "$out/bin/$p" ] || return 1; done
}
mkdir -p "$cache"
exec 9>"$cache/$name.lock"
flock 9
if complete "$@"; then
  echo "$out/bin"
  exit 0
fi
if [ "${CODERUN_TOOLS_NO_BUILD:-}" = 1 ]; then
  echo "$me: $* not installed and CODERUN_TOOLS_NO_BUILD=1 forbids installing now (run bash tools/install-venv.sh $name $* first)" >&2
  exit 4
fi
start=$SECONDS
echo "$me: installing $* into $out (first use; later runs reuse it)" >&2
# No .done marker: a missing or half-made venv; make it anew.
rm -rf "$out"
"$python" -m venv "$out" >&2
"$out/bin/pip" install --quiet --disable-pip-version-check --no-deps --requirement "$req" >&2
"$out/bin/pip" check >&2
versions=""
for p in "$@"; do versions="$versions $p $("$out/bin/$p" --version | head -1 | sed "s/^$p //")"; done
touch "$out/.done"
echo "$me: installed$versions in $((SECONDS - start)) s" >&2
echo "$out/bin"
