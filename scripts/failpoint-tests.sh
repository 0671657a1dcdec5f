#!/usr/bin/env bash
# Fault injection without root (`make test`, suite "fault injection"): builds a
# second copy of the library with the cargo feature "failpoints" into
# build/failpoints/ (the library of target/ has none: checked here too), then
# runs c-tests/failpoints/*.c against it on both engines with c-tests/run.sh
# (ASan/UBSan). Each program arms failpoints through DAOS_RS_FAILPOINTS (see
# src/base/failpoint.rs) and checks that the fault is reported, committed
# data stays intact and the store works once the fault is cleared.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build -p daos_rs --features failpoints --target-dir build/failpoints || { echo "0 passed, 1 failed"; exit 1; }
bad=0
# The library without the feature holds no failpoint (not even its name).
for lib in target/debug/libdaos_rs.so target/release/libdaos_rs.so; do
    [ -e "$lib" ] || continue
    if grep -q DAOS_RS_FAILPOINTS "$lib"; then
        echo "FAIL: $lib contains failpoints (the feature must be off by default)"
        bad=1
    fi
done
if ! grep -q DAOS_RS_FAILPOINTS build/failpoints/debug/libdaos_rs.so; then
    echo "FAIL: build/failpoints/debug/libdaos_rs.so has no failpoints"
    bad=1
fi
tests=""
for f in c-tests/failpoints/test_*.c; do tests="$tests failpoints/$(basename "${f%.c}")"; done
TESTS="$tests" c-tests/run.sh "$ROOT/build/failpoints/debug" "$ROOT/include"
rc=$?
if [ "$bad" -ne 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
exit $rc
