#!/usr/bin/env bash
# Installs checkov into a virtualenv in the tools cache, from tools/python/checkov-requirements.txt
# (every package pinned; installed with --no-deps, so nothing else is resolved). Only PyPI is used.
#
#   bash tools/install-checkov.sh     install (or reuse) the venv; print its bin dir on stdout
#
# Cache: $CODERUN_TOOLS_CACHE, default ~/.cache/coderun-tools (as tools/build.sh). The venv is
# rebuilt only when its inputs change: the key is the SHA-256 of the requirements file and the
# Python version. Install logs go to stderr; stdout carries only the bin dir. With
# CODERUN_TOOLS_NO_BUILD=1 (set by .ci/run after its tools step) a missing venv is an error.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CODERUN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coderun-tools}"
req="$here/python/checkov-requirements.txt"
python="${PYTHON:-python3}"

command -v "$python" >/dev/null || { echo "tools/install-checkov.sh: '$python' is not on PATH; install Python 3.11" >&2; exit 3; }
key=$( ("$python" --version && sha256sum <"$req") 2>&1 | sha256sum | cut -c1-16)
out="$cache/checkov-$key"
if [ -f "$out/.done" ] && [ -x "$out/bin/checkov" ]; then
  echo "$out/bin"
  exit 0
fi
if [ "${CODERUN_TOOLS_NO_BUILD:-}" = 1 ]; then
  echo "tools/install-checkov.sh: checkov is not installed and CODERUN_TOOLS_NO_BUILD=1 forbids installing now (run bash tools/install-checkov.sh first)" >&2
  exit 4
fi
start=$SECONDS
echo "tools/install-checkov.sh: installing checkov into $out (first use; later runs reuse it)" >&2
# No .done marker: a missing or half-made venv; make it anew.
rm -rf "$out"
"$python" -m venv "$out" >&2
"$out/bin/pip" install --quiet --disable-pip-version-check --no-deps --requirement "$req" >&2
"$out/bin/pip" check >&2
"$out/bin/checkov" --version >/dev/null
touch "$out/.done"
echo "tools/install-checkov.sh: installed checkov $("$out/bin/checkov" --version) in $((SECONDS - start)) s" >&2
echo "$out/bin"
