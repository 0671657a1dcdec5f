#!/usr/bin/env bash
# The Python suite: installs the package into a virtual environment of its own
# and runs every test in python/tests/ with pytest, once per I/O engine.
#
#   scripts/python-tests.sh [LIBRARY]
#
# LIBRARY is the libdaos_rs.so to test (default: $DAOS_RS_LIB, else
# target/debug/libdaos_rs.so, built first with cargo build); the tests get it
# as DAOS_RS_LIB. VENV (default build/venv) is created with `python3 -m venv`
# if missing; pytest is installed into it once, and the package (pip install
# ./python) whenever python/pyproject.toml or python/daos_rs/ changed. pytest
# runs from python/tests/ with --import-mode=importlib, so the tests import the
# INSTALLED daos_rs, as users do, not the source tree (DAOS_RS_TEST_INSTALLED=1
# makes test_ffi.py check that). ENGINES (default "uring threads") picks the
# engines; TEST_TIMEOUT (default 300 s) bounds each run. Full output goes to
# stdout; the last line is the total "N passed, N failed, N skipped" (errors count as
# failures; a run that fails without reporting counts as one failure). Exits
# non-zero if anything failed, including making the environment.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/build/venv}"
ENGINES="${ENGINES:-uring threads}"
TEST_TIMEOUT="${TEST_TIMEOUT:-300}"

# die MESSAGE: the environment could not be made; the suite fails (never skipped).
die() {
  echo "python-tests: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

LIB="${1:-${DAOS_RS_LIB:-}}"
if [ -z "$LIB" ]; then
  cargo build --quiet || die "cargo build failed"
  LIB="$ROOT/target/debug/libdaos_rs.so"
fi
[ -f "$LIB" ] || die "no library at $LIB (run cargo build)"
LIB="$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")"

PY="$VENV/bin/python"
if ! "$PY" -c '' 2>/dev/null; then
  echo "python-tests: creating the virtual environment $VENV"
  python3 -m venv --clear "$VENV" ||
    die "python3 -m venv $VENV failed (on Debian/Ubuntu: apt-get install python3-venv)"
  "$PY" -c '' || die "$VENV was made but its python does not run"
fi
unset PYTHONPATH PYTHONHOME
PIP=("$PY" -m pip --disable-pip-version-check -q)

if ! "$PY" -c 'import pytest' 2>/dev/null; then
  echo "python-tests: installing pytest into $VENV"
  "${PIP[@]}" install pytest || die "pip install pytest failed (network to PyPI?)"
fi

# Reinstalls the package when its sources changed (or it is missing).
stamp="$( (cd python && find pyproject.toml setup.py daos_rs -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
            -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1)"
stampfile="$VENV/.daos_rs-installed"
if [ "$(cat "$stampfile" 2>/dev/null)" != "$stamp" ] ||
   ! "$PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("daos_rs") is None)'; then
  echo "python-tests: installing ./python into $VENV"
  # setuptools' build cache (python/build/) would carry files removed since into the install.
  rm -rf python/build
  "${PIP[@]}" install --force-reinstall --no-deps ./python || die "pip install ./python failed"
  rm -rf python/build python/*.egg-info
  echo "$stamp" >"$stampfile"
fi

total_pass=0
total_fail=0
total_skip=0
lines=()
OUT="$(mktemp "${TMPDIR:-/tmp}/daos-rs-pytest.XXXXXX")"
trap 'rm -f "$OUT"' EXIT
# pytest's temporary directories (each test's store) go under build/, not
# /tmp, and are removed at the end.
BASETEMP="$PWD/build/pytest-tmp"
trap 'rm -f "$OUT"; rm -rf "$BASETEMP"' EXIT
mkdir -p "$BASETEMP"
for engine in $ENGINES; do
  echo "=== pytest, engine $engine"
  (cd python/tests &&
     DAOS_RS_IO_ENGINE="$engine" DAOS_RS_LIB="$LIB" DAOS_RS_TEST_INSTALLED=1 \
     timeout -k 10 "$TEST_TIMEOUT" "$PY" -m pytest -q -rfEs -p no:cacheprovider \
       --import-mode=importlib --rootdir . --basetemp "$BASETEMP/$engine" .) 2>&1 | tee "$OUT"
  rc=${PIPESTATUS[0]}
  # pytest's last line: "1 failed, 254 passed, 2 skipped in 0.75s", "3 errors in 0.1s"...
  summary="$(grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected)|no tests ran' "$OUT" |
             grep -E ' in [0-9.]+s' | tail -n 1)"
  count() { echo "$summary" | grep -oE "[0-9]+ $1" | awk '{s+=$1} END {print s+0}'; }
  p=$(count passed)
  f=$(( $(count failed) + $(count 'errors?') ))
  note=""
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1  # crashed, hung, interrupted, no tests collected, usage error
    note=" (pytest exit status $rc without a failed test: counted as 1 failure)"
  fi
  sk=$(count skipped)
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  total_skip=$((total_skip + sk))
  lines+=("engine $engine: $p passed / $f failed / $sk skipped$note")
done

echo
printf '%s\n' "${lines[@]}"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
