#!/usr/bin/env bash
# Runs the pinned cbindgen, installing it under target/tools on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.29.4
BIN=target/tools/bin/cbindgen
if ! [ -x "$BIN" ] || ! "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
  echo "installing cbindgen $VERSION into target/tools (first run only)" >&2
  cargo install --quiet cbindgen --version "$VERSION" --locked --root target/tools >&2
fi
# cbindgen writes the flexible array members of daos_mmd/daos_iod as `[0]`
# (a GNU extension); C99 spells them `[]`. C++ has no flexible array members
# at all, so they are marked DAOS_RS_FLEX (`__extension__` with GCC/Clang,
# defined in cbindgen.toml) to keep -Wpedantic builds of C++ users quiet.
OUT=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --output) OUT="$2"; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
if [ -n "$OUT" ]; then
  "$BIN" --quiet --config cbindgen.toml --crate daos_rs "${ARGS[@]}" | sed -E 's/^( *)(struct daos_(mm|io)_frag (mmd|iod)_frag)\[0\];/\1DAOS_RS_FLEX \2[];/' > "$OUT.tmp"
  mv "$OUT.tmp" "$OUT"
else
  "$BIN" --quiet --config cbindgen.toml --crate daos_rs "${ARGS[@]}" | sed -E 's/^( *)(struct daos_(mm|io)_frag (mmd|iod)_frag)\[0\];/\1DAOS_RS_FLEX \2[];/'
fi
