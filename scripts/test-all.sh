#!/usr/bin/env bash
# `make test`: builds everything and runs every suite (on both engines where
# the engine matters), printing one line per suite as it finishes:
#
#   ok     C tests (uring, threads)        48211 passed      0 failed    0 skipped   95 s  (checks; test cases: 420 passed, 0 failed)
#
# A suite's whole output (including the library's log lines that tests
# provoke on purpose) goes to build/logs/<suite>.log, never to the terminal;
# when a suite fails, the lines that say why (failed checks, errors, panics,
# sanitizer reports; else its last lines) are shown under its line. The C
# tests also keep each program's log in build/c-tests/NAME.ENGINE.log.
# Counts come from each suite's own summary: "N passed, N failed[, N
# skipped]" lines, cargo's "test result:" lines, pytest's; a suite that fails
# without reporting a failure counts as one. The last line is the total,
# "N passed, N failed" (CI and the README rely on it).
set -u
cd "$(dirname "$0")/.."
mkdir -p build/logs
total_pass=0
total_fail=0
total_skip=0
failed_suites=()
start_all=$SECONDS

# The lines of a failed suite's log worth showing.
relevant() {
  local log=$1 hits
  hits=$(grep -aE 'FAIL|FAILED|[Ee]rror|panicked|Sanitizer|SUMMARY|BUILD FAILED|Traceback|assert' "$log" |
         grep -avE '^(ok|test .* \.\.\. ok)' | head -n 40)
  if [ -n "$hits" ]; then echo "$hits"; else tail -n 25 "$log"; fi
}

suite() {
  local name=$1; shift
  local log
  log="build/logs/$(echo "$name" | tr ' /(),' '_____' | tr -s '_' | sed 's/_$//').log"
  local start=$SECONDS
  "$@" >"$log" 2>&1 </dev/null
  local rc=$?
  local p f s extra=""
  if grep -q '^test result:' "$log"; then
    p=$(grep -oE '[0-9]+ passed; [0-9]+ failed; [0-9]+ ignored' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(grep -oE '[0-9]+ passed; [0-9]+ failed; [0-9]+ ignored' "$log" | awk '{s+=$3} END {print s+0}')
    s=$(grep -oE '[0-9]+ passed; [0-9]+ failed; [0-9]+ ignored' "$log" | awk '{s+=$5} END {print s+0}')
  else
    local line
    line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
    p=$(echo "$line" | grep -oE '^[0-9]+' || true)
    f=$(echo "$line" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p')
    s=$(echo "$line" | sed -n 's/.*, \([0-9]*\) skipped$/\1/p')
    # A step without counts of its own (the build) is one check.
    if [ -z "$line" ] && [ "$rc" -eq 0 ]; then p=1; fi
  fi
  local cases
  cases=$(grep -aE '^test cases: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  [ -n "$cases" ] && extra="  (checks; $cases)"
  p=${p:-0}; f=${f:-0}; s=${s:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; extra="$extra  (exit status $rc: counted as 1 failure)"; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + s))
  local status=ok
  if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then status=FAILED; failed_suites+=("$name"); fi
  printf '%-6s %-34s %6s passed %4s failed %4s skipped %5ss%s\n' \
    "$status" "$name" "$p" "$f" "$s" "$((SECONDS - start))" "$extra"
  if [ "$status" = FAILED ]; then
    relevant "$log" | sed 's/^/         | /'
    echo "         full log: $log"
  fi
}

echo "make test: each suite's output goes to build/logs/ (C test programs: build/c-tests/)"
suite "build" cargo build --all-targets
suite "rust unit tests (uring)" env DAOS_RS_IO_ENGINE=uring cargo test -p daos_rs --lib -q
suite "rust unit tests (threads)" env DAOS_RS_IO_ENGINE=threads cargo test -p daos_rs --lib -q
suite "daos-rs tool unit tests" cargo test -p daos-rs-tool -q
suite "layers (no import upward)" scripts/check-layers-test.sh
suite "cargo doc (no warnings)" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p daos_rs
suite "header is current" scripts/check-header.sh
suite "header compiles (C11, C++)" scripts/header-compiles.sh
suite "exports, versions, SONAME" scripts/check-exports.sh target/debug/libdaos_rs.so
suite "make install, pkg-config" scripts/install-test.sh
suite "C tests (uring, threads)" c-tests/run.sh "$PWD/target/debug" "$PWD/include"
suite "fault injection" scripts/failpoint-tests.sh
suite "examples (uring, threads)" examples-c/run.sh "$PWD/target/debug" "$PWD/include"
suite "daos-rs tool (uring, threads)" scripts/cli-test.sh
suite "Python tests (uring, threads)" scripts/python-tests.sh "$PWD/target/debug/libdaos_rs.so"
suite "pip install ./python (fresh venv)" scripts/python-install-test.sh
suite "README examples" scripts/readme-examples.sh

echo
if [ ${#failed_suites[@]} -gt 0 ]; then
  echo "failed: ${failed_suites[*]}"
fi
echo "total: $total_pass passed, $total_fail failed, $total_skip skipped in $((SECONDS - start_all)) s"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
