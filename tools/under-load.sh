#!/usr/bin/env bash
# Runs a vitest suite several times while every core is saturated by a CPU burner that this script
# starts and stops itself: the proof that the real suites wait for conditions, not for a fast
# machine. Counts and totals as .ci/run keeps them (.ci/suite.sh); load average before each run.
#
#   bash tools/under-load.sh [--runs N] [--burners N] NAME COMMAND...
#   e.g. bash tools/under-load.sh --runs 3 test-real npm run test:real --
#
# COMMAND ends where vitest's own arguments go (.ci/suite.sh appends its reporters). Defaults: 3
# runs, one burner per core (nproc). Build the tools first (npm run tools:build): a build during the
# runs would be measured, not the suite. Exits non-zero if any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
burners=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --burners) burners="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { echo "usage: bash tools/under-load.sh [--runs N] [--burners N] NAME COMMAND..." >&2; exit 2; }
name="$1"
shift

pids=()
stop_burners() {
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop_burners EXIT
for _ in $(seq "$burners"); do
  # A shell busy loop: one core's worth of CPU at normal priority, nothing else.
  (trap - EXIT; exec bash -c 'while :; do :; done') &
  pids+=($!)
done
echo "under-load: $burners CPU burner(s) running (pids ${pids[*]}) on $(nproc) core(s)"

# shellcheck source=../.ci/suite.sh
source .ci/suite.sh
for r in $(seq "$runs"); do
  echo "under-load: run $r of $runs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  suite "$name-load-$r" "$@" || true
done
echo "under-load: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
stop_burners
pids=()
totals
exit "$status"
