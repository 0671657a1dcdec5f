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
exec "$BIN" --quiet --config cbindgen.toml --crate daos_rs "$@"
