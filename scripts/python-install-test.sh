#!/usr/bin/env bash
# The Python package installed as a user installs it: a fresh virtual
# environment (build/py-install/venv, made anew each run), `pip install
# ./python` from the repository root, then, from a directory outside the
# tree with PYTHONPATH and DAOS_RS_LIB unset:
#  - the installed distribution is a platform wheel (Tag py3-none-<platform>,
#    Root-Is-Purelib false) carrying libdaos_rs.so without debug sections,
#    its licence files and py.typed;
#  - import daos_rs loads that bundled library;
#  - the README's two Python examples and every python/examples/*.py run;
#  - DAOS_RS_LIB still overrides the bundled library.
# The wheel's build runs cargo build --release in this repository, so an
# existing target/release is reused (a fresh machine builds it once).
# Ends with "N passed, N failed".
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
W="$ROOT/build/py-install"
rm -rf "$W"
mkdir -p "$W"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; [ $# -gt 0 ] && printf '     %s\n' "$@"; return 0; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

unset PYTHONPATH PYTHONHOME DAOS_RS_LIB
VENV="$W/venv"
PY="$VENV/bin/python"
if python3 -m venv "$VENV" >"$W/venv.log" 2>&1; then ok "python3 -m venv (fresh)"
else bad "python3 -m venv" "$(cat "$W/venv.log")" "(on Debian/Ubuntu: apt-get install python3-venv)"; finish; fi

# setuptools keeps a build cache in python/build/ that could carry stale files.
rm -rf python/build python/*.egg-info
start=$SECONDS
if "$PY" -m pip install --disable-pip-version-check -q ./python >"$W/pip.log" 2>&1; then
  ok "pip install ./python ($((SECONDS - start)) s)"
else
  bad "pip install ./python" "$(tail -n 30 "$W/pip.log")"; finish
fi
rm -rf python/build python/*.egg-info

SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
DIST=$(ls -d "$SITE"/daos_rs-*.dist-info 2>/dev/null | head -n 1)
PLAT=$("$PY" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')
if [ -n "$DIST" ] && grep -qx "Tag: py3-none-$PLAT" "$DIST/WHEEL" && grep -qx "Root-Is-Purelib: false" "$DIST/WHEEL"; then
  ok "installed from a platform wheel (py3-none-$PLAT)"
else
  bad "installed from a platform wheel (py3-none-$PLAT)" "$(cat "$DIST/WHEEL" 2>&1)"
fi
if [ -f "$DIST/licenses/LICENSE-MIT" ] && [ -f "$DIST/licenses/LICENSE-APACHE" ] &&
   grep -qx "License-Expression: MIT OR Apache-2.0" "$DIST/METADATA" &&
   cmp -s "$DIST/licenses/LICENSE-MIT" LICENSE-MIT && cmp -s "$DIST/licenses/LICENSE-APACHE" LICENSE-APACHE; then
  ok "the distribution carries the licence expression and both licence texts"
else
  bad "the distribution carries the licence expression and both licence texts" "$(ls "$DIST" "$DIST/licenses" 2>&1)"
fi
SO="$SITE/daos_rs/libdaos_rs.so"
if [ -f "$SO" ]; then ok "libdaos_rs.so is inside the package"; else bad "libdaos_rs.so is inside the package"; fi
ndebug=$(readelf -S -W "$SO" 2>/dev/null | grep -c ' \.debug_')
if [ -f "$SO" ] && [ "$ndebug" -eq 0 ]; then ok "the bundled library is stripped of debug sections"
else bad "the bundled library is stripped of debug sections ($ndebug left)"; fi
if [ -f "$SITE/daos_rs/py.typed" ]; then ok "py.typed is installed"; else bad "py.typed is installed"; fi

# Everything below runs from a directory outside the tree.
OUTSIDE=$(mktemp -d "${TMPDIR:-/tmp}/daos-rs-pyinstall.XXXXXX")
trap 'rm -rf "$OUTSIDE"' EXIT
cp python/examples/*.py "$OUTSIDE/"
python3 - "$OUTSIDE" <<'PY'
import re, sys
s = open("README.md").read()
py = re.findall(r"```python\n(.*?)```", s, re.S)
open(sys.argv[1] + "/readme_sync.py", "w").write(py[0])
open(sys.argv[1] + "/readme_async.py", "w").write(py[1])
PY
cd "$OUTSIDE"

loaded=$("$PY" -c 'import daos_rs._ffi as f; print(f.lib._name)' 2>&1)
if [ "$loaded" = "$SO" ]; then ok "import daos_rs loads the bundled library"
else bad "import daos_rs loads the bundled library" "loaded: $loaded"; fi

# py_run NAME EXPECTED-LAST-LINE-REGEX SCRIPT [ARGS]
py_run() {
  local name=$1 want=$2 out; shift 2
  if out=$("$PY" "$@" 2>&1) && echo "$out" | tail -n 1 | grep -Eq "$want"; then ok "$name"
  else bad "$name" "$(echo "$out" | tail -n 15)"; fi
}
py_run "README Python example (synchronous)" "^read b'hello' from .*/daos-demo-" readme_sync.py
py_run "README Python example (asyncio)" '^async: 256 blocks verified$' readme_async.py
for ex in "$ROOT"/python/examples/*.py; do
  name=$(basename "$ex")
  py_run "python/examples/$name" "^${name%.py}: ok$" "$name"
done

override=$(DAOS_RS_LIB="$ROOT/target/debug/libdaos_rs.so" "$PY" -c 'import daos_rs._ffi as f; print(f.lib._name)' 2>&1)
if [ "$override" = "$ROOT/target/debug/libdaos_rs.so" ]; then ok "DAOS_RS_LIB overrides the bundled library"
else bad "DAOS_RS_LIB overrides the bundled library" "loaded: $override"; fi
finish
