#!/usr/bin/env bash
# The Python row of `make bench`: runs bench/py_aio.py with the virtual
# environment of the Python tests (VENV, default build/venv: made if missing;
# aiofiles installed into it on first use) against LIBRARY, importing the
# source tree's package (PYTHONPATH=python), so nothing is reinstalled.
#
#   scripts/bench-python.sh LIBRARY DIR SIZE DURATION_MS RUNS
#
# Prints py_aio.py's lines; a line "skip: <why>" and exit 0 when Python or the
# environment cannot be had (the bench reports the row as n/a), non-zero when
# the benchmark itself fails.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/build/venv}"
[ $# -eq 5 ] || { echo "usage: $0 LIBRARY DIR SIZE DURATION_MS RUNS" >&2; exit 2; }
LIB="$1"
shift
PY="$VENV/bin/python"
if ! "$PY" -c '' 2>/dev/null; then
  python3 -m venv --clear "$VENV" >&2 || { echo "skip: python3 -m venv $VENV failed"; exit 0; }
fi
if ! "$PY" -c 'import aiofiles' 2>/dev/null; then
  echo "bench-python: installing aiofiles into $VENV" >&2
  "$PY" -m pip --disable-pip-version-check -q install aiofiles >&2 ||
    echo "bench-python: pip install aiofiles failed; its row is n/a" >&2
fi
unset PYTHONHOME
export PYTHONPATH="$ROOT/python" DAOS_RS_LIB="$LIB"
exec "$PY" "$ROOT/bench/py_aio.py" "$@"
