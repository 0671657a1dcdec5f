#!/usr/bin/env bash
# Fails when include/daos_rs.h is not what cbindgen makes of the source now.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
scripts/cbindgen.sh --output build/daos_rs.h.fresh
if ! diff -u include/daos_rs.h build/daos_rs.h.fresh; then
  echo "include/daos_rs.h is stale: run 'make header' and commit it"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"
