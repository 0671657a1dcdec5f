#!/usr/bin/env bash
# The .so must export exactly the functions the header declares.
set -euo pipefail
cd "$(dirname "$0")/.."
SO=${1:-target/debug/libdaos_rs.so}
mkdir -p build
nm -D --defined-only "$SO" | awk '$2 == "T" { print $3 }' | sort -u > build/exports.so
grep -oE '^[a-z_][a-z0-9_ *]*[ *](daos_[a-z0-9_]+)\(' include/daos_rs.h \
  | sed -E 's/.*[ *](daos_[a-z0-9_]+)\($/\1/' | sort -u > build/exports.h
if ! diff -u build/exports.h build/exports.so; then
  echo "exports of $SO differ from include/daos_rs.h (- header only, + library only)"
  echo "0 passed, 1 failed"
  exit 1
fi
# Every macro of the header is part of the API: nothing internal leaks in.
leaked=$(grep -oE '^#define [A-Za-z_0-9]+' include/daos_rs.h | awk '{print $2}' | grep -v '^DAOS_' || true)
if [ -n "$leaked" ]; then
  echo "include/daos_rs.h defines non-API macros (make them pub(crate)): $leaked"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$(wc -l < build/exports.h) functions exported as declared"
echo "1 passed, 0 failed"
