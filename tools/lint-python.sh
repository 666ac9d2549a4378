#!/usr/bin/env bash
# npm run lint:py: checks the Python that synth renders, charts/executor-reaper/reap.py (the executor
# reaper's script, embedded byte for byte in its ConfigMap):
#   - ruff (lint, and syntax at target-version) with charts/executor-reaper/ruff.toml;
#   - vermin: the minimum Python version the script needs must not be above target-version, the
#     Python of the image it runs in (test/charts/executor-reaper/reap-py.test.ts ties the two);
#   - python3 -m py_compile with the machine's python3 (bytecode to a temporary folder, not the tree).
# ruff and vermin come from PyPI, pinned in tools/python/python-lint-requirements.txt, installed once
# into ~/.cache/coderun-tools by tools/install-venv.sh (its log on stderr). Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
config=charts/executor-reaper/ruff.toml
files=(charts/executor-reaper/reap.py)

bin=$(bash tools/install-venv.sh python-lint ruff vermin)
target=$(sed -n 's/^target-version = "py3\([0-9][0-9]*\)"$/3.\1/p' "$config")
[ -n "$target" ] || { echo "tools/lint-python.sh: $config has no line 'target-version = \"py3NN\"'" >&2; exit 2; }

echo "ruff $("$bin/ruff" --version | sed 's/^ruff //') (target Python $target, $config)"
"$bin/ruff" check --no-cache --config "$config" "${files[@]}"

echo "vermin $("$bin/vermin" --version) (minimum Python version, at most $target)"
"$bin/vermin" --no-tips --target="$target-" "${files[@]}"

echo "py_compile ($(python3 --version))"
pycache=$(mktemp -d)
trap 'rm -rf "$pycache"' EXIT
PYTHONPYCACHEPREFIX="$pycache" python3 -m py_compile "${files[@]}"
echo "lint:py: ${#files[@]} file(s) clean"
