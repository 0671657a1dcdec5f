#!/usr/bin/env bash
# The .so must export exactly the functions the header declares, each with the
# symbol version of daos_rs.map (DAOS_RS_0.1) and nothing else (no Rust or
# unversioned symbol leaks out), and carry the SONAME libdaos_rs.so.N.
#
#   scripts/check-exports.sh [LIBRARY]    (default target/debug/libdaos_rs.so)
set -euo pipefail
cd "$(dirname "$0")/.."
SO=${1:-target/debug/libdaos_rs.so}
VERSION=DAOS_RS_0.1
mkdir -p build
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# Every defined dynamic symbol but the version node itself (binutils lists it
# as an absolute symbol named after the version).
nm -D --defined-only "$SO" | awk '!($2 == "A" && $3 !~ /@/) { print $2, $3 }' | sort -u > build/exports.all
awk '$1 == "T" { print $2 }' build/exports.all | sed -E 's/@@?[A-Za-z0-9_.]+$//' | sort -u > build/exports.so
grep -oE '^[a-z_][a-z0-9_ *]*[ *](daos_[a-z0-9_]+)\(' include/daos_rs.h \
  | sed -E 's/.*[ *](daos_[a-z0-9_]+)\($/\1/' | sort -u > build/exports.h
if diff -u build/exports.h build/exports.so; then
  ok "$(wc -l < build/exports.h) functions exported as include/daos_rs.h declares them"
else
  bad "exports of $SO differ from include/daos_rs.h (- header only, + library only)"
fi

unversioned=$(awk -v v="$VERSION" '$1 != "T" || $2 !~ ("^daos_[a-z0-9_]+@@" v "$")' build/exports.all)
if [ -z "$unversioned" ]; then
  ok "every exported symbol is a daos_* function of version $VERSION"
else
  bad "symbols exported without the version $VERSION, or not daos_* functions (daos_rs.map, scripts/cargo-linker.sh):"
  echo "$unversioned" | head -n 20 | sed 's/^/     /'
fi

soname=$(readelf -d "$SO" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
want="libdaos_rs.so.$(sed -n 's/^soversion = //p' Cargo.toml)"
if [ "$soname" = "$want" ]; then ok "SONAME $soname"; else bad "SONAME is '${soname:-none}', expected $want (build.rs)"; fi

# Every macro of the header is part of the API: nothing internal leaks in.
leaked=$(grep -oE '^#define [A-Za-z_0-9]+' include/daos_rs.h | awk '{print $2}' | grep -v '^DAOS_' || true)
if [ -z "$leaked" ]; then ok "every macro of the header is DAOS_*"
else bad "include/daos_rs.h defines non-API macros (make them pub(crate)): $leaked"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
