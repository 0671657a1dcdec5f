#!/usr/bin/env bash
# The layer check (scripts/check-layers.py) on this tree, and on copies of it
# with one fault each, which it must refuse. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

check() { # NAME EXPECTED-EXIT [PATTERN]: runs the check on $tmp/t
  local out rc
  out=$(python3 scripts/check-layers.py "$tmp/t" 2>&1); rc=$?
  if { [ "$2" -eq 0 ] && [ $rc -eq 0 ]; } || { [ "$2" -ne 0 ] && [ $rc -ne 0 ] && echo "$out" | grep -q -- "$3"; }; then
    pass=$((pass + 1)); echo "ok   $1"
  else
    fail=$((fail + 1)); echo "FAIL $1 (exit $rc)"; echo "$out" | sed 's/^/     /'
  fi
}
fresh() { rm -rf "$tmp/t"; mkdir -p "$tmp/t/docs"; cp -r src "$tmp/t/"; cp docs/ARCHITECTURE.md "$tmp/t/docs/"; }

fresh; check "this tree has no upward import" 0
fresh; echo 'use crate::ffi::daos_eq_create;' >>"$tmp/t/src/event/mod.rs"
check "an upward import (event -> ffi) fails" 1 'src/event/mod.rs:.*`event` (layer .*) uses `ffi`.*above it'
fresh; echo 'fn _f() { let _ = crate::container::handles(); }' >>"$tmp/t/src/shard/index.rs"
check "a path upward inside code (shard -> container) fails" 1 'uses `container`'
fresh; echo 'use crate::{error, object};' >>"$tmp/t/src/container/ops.rs"
check "a grouped import upward (container -> object) fails" 1 'uses `object`'
fresh; echo 'use crate::engine::Req;' >>"$tmp/t/src/handle.rs"
check "an import within one layer (handle -> engine) fails" 1 'of its own layer'
fresh; echo '// see crate::ffi for the exports' >>"$tmp/t/src/store/mod.rs"
check "a comment naming a higher layer is no import" 0
fresh; echo 'pub fn f() {}' >"$tmp/t/src/newmod.rs"
check "a module in no layer fails" 1 'src/newmod: module in no layer'
fresh; sed -i 's/^7\. `notify`$/7. `store`/; s/^8\. `store`$/8. `notify`/' "$tmp/t/docs/ARCHITECTURE.md"
check "docs/ARCHITECTURE.md listing other layers than src/lib.rs fails" 1 'docs/ARCHITECTURE.md lists the layers'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
