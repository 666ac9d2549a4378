#!/usr/bin/env bash
# Installs checkov into a virtualenv in the tools cache, from tools/python/checkov-requirements.txt
# (every package pinned; installed with --no-deps, so nothing else is resolved). Only PyPI is used.
#
#   bash tools/install-checkov.sh     install (or reuse) the venv; print its bin dir on stdout
#
# The work is tools/install-venv.sh's (cache, key, flock, CODERUN_TOOLS_NO_BUILD): see there.
set -euo pipefail
exec bash "$(dirname "$0")/install-venv.sh" checkov checkov
