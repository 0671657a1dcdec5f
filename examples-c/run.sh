#!/usr/bin/env bash
# Build every examples-c/*.c (no sanitizers, as a user would) and run each on
# every I/O engine.
#
#   examples-c/run.sh [LIBDIR] [INCDIR]
#
# Defaults: <repo>/target/debug and <repo>/include; ENGINES="uring threads".
# The examples that take a store (STORE_EXAMPLES) each get a fresh empty
# directory from mktemp -d, which they format, removed after a successful run.
# Prints one line per run, then "N passed, N failed" counting example runs;
# exits non-zero if any example failed to build or exited non-zero.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$(cd "${1:-$ROOT/target/debug}" && pwd)" || { echo "no library dir"; exit 2; }
INC="$(cd "${2:-$ROOT/include}" && pwd)" || { echo "no include dir"; exit 2; }
ENGINES="${ENGINES:-uring threads}"
OUT="$ROOT/build/examples-c"
STORE_EXAMPLES=" object_io epochs collective "
mkdir -p "$OUT"

pass=0
fail=0
cd "$ROOT/examples-c"
progs=()
for src in *.c; do
    name="${src%.c}"
    if gcc -std=c11 -Wall -Wextra -Werror -O2 -I"$INC" -L"$LIB" -Wl,-rpath,"$LIB" \
        -o "$OUT/$name" "$src" -ldaos_rs -lpthread; then
        progs+=("$name")
    else
        echo "$name: BUILD FAILED"
        fail=$((fail + 1))
    fi
done

for engine in $ENGINES; do
    for name in "${progs[@]}"; do
        log="$OUT/$name.$engine.log"
        args=()
        store=""
        if [[ "$STORE_EXAMPLES" == *" $name "* ]]; then
            store="$(mktemp -d "${TMPDIR:-/tmp}/daos-example-$name.XXXXXX")" || { echo "mktemp failed"; exit 2; }
            args=("$store")
        fi
        DAOS_RS_IO_ENGINE="$engine" DAOS_RS_LOG=error timeout -k 5 60 "$OUT/$name" "${args[@]}" >"$log" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ]; then
            pass=$((pass + 1))
            printf '%-16s %-6s ok\n' "$name" "$engine"
        else
            fail=$((fail + 1))
            printf '%-16s %-6s FAILED (exit status %d)\n' "$name" "$engine" "$rc"
            sed 's/^/    /' "$log" | tail -n 20
        fi
        if [ -n "$store" ]; then
            # a failed run's store stays for inspection
            if [ "$rc" -eq 0 ]; then rm -rf "$store"; else echo "    store kept: $store"; fi
        fi
    done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
