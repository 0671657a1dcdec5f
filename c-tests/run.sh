#!/usr/bin/env bash
# Build and run the C tests of the public ABI on every I/O engine.
#
#   c-tests/run.sh [LIBDIR] [INCDIR]
#
# LIBDIR holds libdaos_rs.so (default: <repo>/target/debug), INCDIR holds
# daos_rs.h (default: <repo>/include). ENGINES (default "uring threads") picks the
# engines; TESTS (default: every c-tests/test_*.c) names the programs to build
# and run, e.g. TESTS="test_multiproc test_crash"; TEST_TIMEOUT (default 300 s)
# bounds each run. C_TESTS_TMPDIR and C_TESTS_PEER_MNTNS (see harness.h) are
# passed on to the tests: make test-sharedfs sets them, make test does not. Each test program, and
# each helper program in c-tests/helpers/ (other processes a test starts), is
# built with ASan/UBSan (UBSan only for a test marked "c-tests: no-asan") into
# build/c-tests/; each test runs once per engine and
# its full output goes to build/c-tests/NAME.ENGINE.log. The second last line counts
# test cases ("test cases: N passed, N failed": each RUN() of each program on
# each engine), the last line checks (every CHECK): "N passed, N failed"; the exit status is non-zero if any check failed or
# any program failed to build, crashed, hung or exited non-zero.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$(cd "${1:-$ROOT/target/debug}" && pwd)" || { echo "no library dir"; exit 2; }
INC="$(cd "${2:-$ROOT/include}" && pwd)" || { echo "no include dir"; exit 2; }
ENGINES="${ENGINES:-uring threads}"
TEST_TIMEOUT="${TEST_TIMEOUT:-300}"
OUT="$ROOT/build/c-tests"
mkdir -p "$OUT"

# leak checking stays on; abort on the first ASan/UBSan report so it cannot go unnoticed
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:halt_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

total_pass=0
total_fail=0
cases_pass=0
cases_fail=0
bad=0

cd "$ROOT/c-tests"
# Helper programs some tests fork+exec (c-tests/helpers/*.c): built first, with
# the same flags, beside the test executables (a test finds them there through
# /proc/self/exe).
for src in helpers/*.c; do
    [ -e "$src" ] || continue
    name="$(basename "${src%.c}")"
    if ! gcc -std=c11 -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-omit-frame-pointer \
        -I"$INC" -L"$LIB" -Wl,-rpath,"$LIB" -o "$OUT/$name" "$src" -ldaos_rs -lpthread; then
        echo "helpers/$name: BUILD FAILED"
        total_fail=$((total_fail + 1))
        cases_fail=$((cases_fail + 1))
        bad=1
    fi
done

progs=()
if [ -n "${TESTS:-}" ]; then
    srcs=()
    for t in $TESTS; do srcs+=("${t%.c}.c"); done
else
    srcs=(test_*.c)
fi
for src in "${srcs[@]}"; do
    name="$(basename "${src%.c}")"
    # A test marked "c-tests: no-asan" is built with UBSan only: this gcc's
    # AddressSanitizer does not lock its allocator across fork(), so a child
    # forked while another thread allocates can hang in malloc (test_forklock).
    san=address,undefined
    grep -q 'c-tests: no-asan' "$src" && san=undefined
    if gcc -std=c11 -Wall -Wextra -Werror -g -fsanitize=$san -fno-omit-frame-pointer \
        -I"$INC" -L"$LIB" -Wl,-rpath,"$LIB" -o "$OUT/$name" "$src" -ldaos_rs -lpthread; then
        progs+=("$name")
    else
        echo "$name: BUILD FAILED"
        total_fail=$((total_fail + 1))
        cases_fail=$((cases_fail + 1))
        bad=1
    fi
done

for engine in $ENGINES; do
    for name in "${progs[@]}"; do
        log="$OUT/$name.$engine.log"
        start=$(date +%s%N)
        DAOS_RS_IO_ENGINE="$engine" DAOS_RS_LOG=error \
            timeout -k 10 "$TEST_TIMEOUT" "$OUT/$name" >"$log" 2>&1
        rc=$?
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        line="$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)"
        # Test cases: RUN() prints "-- name" for each, and "   name: N failure(s)"
        # after one that failed a check.
        ncase=$(grep -acE '^-- [A-Za-z_0-9]+$' "$log")
        nbad=$(grep -acE '^   [A-Za-z_0-9]+: [0-9]+ failure\(s\)$' "$log")
        if [ -n "$line" ]; then
            p="${line%% passed*}"
            f="${line#*, }"; f="${f%% failed}"
            total_pass=$((total_pass + p))
            total_fail=$((total_fail + f))
        else
            p=0; f=0
        fi
        status=""
        if [ -z "$line" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
            # crashed, hung (124/137), sanitizer report, or exited non-zero with no failed check
            status=" (exit status $rc: crash/hang/sanitizer; counted as 1 failure)"
            total_fail=$((total_fail + 1))
            # the case it was in did not finish
            [ -z "$line" ] && [ "$ncase" -gt 0 ] && nbad=$((nbad + 1))
        fi
        [ "$ncase" -eq 0 ] && ncase=1 && { [ "$rc" -ne 0 ] && nbad=1 || true; }
        [ "$nbad" -gt "$ncase" ] && nbad=$ncase
        cases_pass=$((cases_pass + ncase - nbad))
        cases_fail=$((cases_fail + nbad))
        [ "$rc" -ne 0 ] && bad=1
        printf '%-16s %-7s %3d cases, checks: %s%s [%d ms]\n' "$name" "$engine" "$ncase" \
            "${line:-no result line}" "$status" "$ms"
        if [ "$rc" -ne 0 ]; then
            # show what went wrong (failed checks and sanitizer reports)
            grep -aE 'FAIL|ERROR|runtime error|Sanitizer|panicked|SUMMARY' "$log" | head -n 40 | sed 's/^/    /'
        fi
    done
done

# Test cases (RUN() in each program, per engine), then checks (every CHECK):
# the last line, the one make test adds up, counts checks.
echo "test cases: $cases_pass passed, $cases_fail failed"
echo "$total_pass passed, $total_fail failed"
[ "$bad" -eq 0 ] && [ "$total_fail" -eq 0 ]
