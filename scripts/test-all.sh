#!/usr/bin/env bash
# `make test`: builds everything and runs every suite on both engines, then
# prints one summary. Each suite's own "N passed, N failed" (or cargo's
# "N passed; N failed") lines are added up; a suite that fails without
# reporting counts as one failure.
set -u
cd "$(dirname "$0")/.."
mkdir -p build/logs
total_pass=0
total_fail=0
summary=()

suite() {
  local name=$1; shift
  local log="build/logs/$(echo "$name" | tr ' /()' '____').log"
  echo "=== $name: $*"
  local start=$SECONDS
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -oE '([0-9]+) passed[,;] ([0-9]+) failed' "$log" | tail -n 1 | grep -oE '^[0-9]+' || true)
  if grep -q '^test result:' "$log"; then
    p=$(grep -oE '[0-9]+ passed; [0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(grep -oE '[0-9]+ passed; [0-9]+ failed' "$log" | awk '{s+=$3} END {print s+0}')
  else
    f=$(grep -oE '([0-9]+) passed[,;] ([0-9]+) failed' "$log" | tail -n 1 | awk '{print $3}' || true)
  fi
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  local status=ok; [ "$rc" -eq 0 ] || status=FAILED
  summary+=("$(printf '%-8s %-34s %5s passed %4s failed  %4ss' "$status" "$name" "$p" "$f" "$((SECONDS - start))")")
}

suite "build" cargo build --all-targets
suite "rust unit tests (uring)" env DAOS_RS_IO_ENGINE=uring cargo test --lib -q
suite "rust unit tests (threads)" env DAOS_RS_IO_ENGINE=threads cargo test --lib -q
suite "header is current" scripts/check-header.sh
suite "header compiles (C11, C++)" scripts/header-compiles.sh
suite "exports match header" scripts/check-exports.sh target/debug/libdaos_rs.so
suite "C tests (uring, threads)" c-tests/run.sh "$PWD/target/debug" "$PWD/include"
suite "examples (uring, threads)" examples-c/run.sh "$PWD/target/debug" "$PWD/include"
suite "daos-rs tool (uring, threads)" scripts/cli-test.sh
suite "Python tests (uring, threads)" scripts/python-tests.sh "$PWD/target/debug/libdaos_rs.so"
suite "README examples" scripts/readme-examples.sh

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
