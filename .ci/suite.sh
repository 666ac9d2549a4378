# Sourced by .ci/run (and by test/ci.test.ts on a broken fixture suite): runs vitest suites and keeps
# honest totals. `suite NAME COMMAND...` runs one suite (COMMAND ends with vitest's arguments) with
# .ci/count-reporter.ts, prints `NAME: N passed, M failed, K skipped, exit RC, S s` and the line of
# each failure, and adds to the totals; `totals` prints the closing `tests:` line.
#
# A suite that exits non-zero never counts 0 failed: if the reporter counted no failure (or wrote
# nothing, e.g. vitest itself crashed), the exit is counted as one failure, and says so.
status=0
passed=0
failed=0
skipped=0

suite() {
  local name="$1"
  shift
  local began=$SECONDS
  local file="$PWD/.build/$name-counts.json"
  mkdir -p .build
  rm -f "$file"
  echo "== $name"
  local rc=0
  CI_COUNTS_FILE="$file" "$@" --reporter=default --reporter="$PWD/.ci/count-reporter.ts" || rc=$?
  [ "$rc" -eq 0 ] || status=1
  local counts
  counts=$(node -e '
    const [file, rc] = process.argv.slice(1);
    let c;
    try {
      c = JSON.parse(require("fs").readFileSync(file, "utf8"));
    } catch {
      c = { passed: 0, failed: 0, skipped: 0, failures: [] };
      c.failures.push(`no counts from the reporter (${file}): the run ended before vitest reported`);
      c.failed = 1;
    }
    if (rc !== "0" && c.failed === 0) {
      c.failed = 1;
      c.failures.push(`exit ${rc} with no failing test reported`);
    }
    for (const f of c.failures) console.error(`  FAILED ${f}`);
    console.log(`${c.passed} ${c.failed} ${c.skipped}`);
  ' "$file" "$rc")
  local p f s
  read -r p f s <<<"$counts"
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  echo "$name: $p passed, $f failed, $s skipped, exit $rc, $((SECONDS - began)) s"
}

# `suite_start NAME COMMAND...` runs `suite` in the background, its output kept in .build/NAME.log;
# `suite_join NAME` waits for it, prints that output and adds its counts to the totals. For a suite
# that mostly waits on its programs (test:real), beside suites that keep the cores busy.
suite_start() {
  local name="$1"
  mkdir -p .build
  rm -f ".build/$name.log" ".build/$name.totals"
  (
    status=0 passed=0 failed=0 skipped=0
    suite "$@" >".build/$name.log" 2>&1
    echo "$passed $failed $skipped $status" >".build/$name.totals"
  ) &
  eval "suite_pid_${name//-/_}=$!"
}

suite_join() {
  local name="$1" pid_var="suite_pid_${1//-/_}"
  wait "${!pid_var}" || true
  cat ".build/$name.log"
  local p=0 f=1 s=0 st=1
  if [ -f ".build/$name.totals" ]; then
    read -r p f s st <".build/$name.totals"
  else
    echo "  FAILED $name: the background suite left no totals"
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  [ "$st" -eq 0 ] || status=1
}

totals() {
  echo "tests: $passed passed, $failed failed, $skipped skipped"
}
