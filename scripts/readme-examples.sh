#!/usr/bin/env bash
# Runs the README's C example and its two Python examples (the synchronous one
# and the asyncio one, the first two ```python blocks) exactly as written, the
# Python ones with the source tree's package (PYTHONPATH=python).
set -u
cd "$(dirname "$0")/.."
mkdir -p build/readme
python3 - <<'PY'
import re
s = open("README.md").read()
open("build/readme/example.c", "w").write(re.search(r"```c\n(.*?)```", s, re.S).group(1))
py = re.findall(r"```python\n(.*?)```", s, re.S)
open("build/readme/example.py", "w").write(py[0])
open("build/readme/example_async.py", "w").write(py[1] if len(py) > 1 else "")
PY
pass=0; fail=0
if gcc -std=c11 -Wall -Werror -Iinclude build/readme/example.c -Ltarget/debug \
     -Wl,-rpath,"$PWD/target/debug" -ldaos_rs -o build/readme/example \
   && out=$(build/readme/example) && echo "$out" | grep -q "^read hello (rc 0) from /tmp/daos-demo-"; then
  rm -rf "${out##* from }"
  pass=$((pass + 1)); echo "ok   README C example"
else
  fail=$((fail + 1)); echo "FAIL README C example"
fi
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
if out=$(python3 build/readme/example.py) && echo "$out" | grep -q "^read b'hello' from .*/daos-demo-"; then
  pass=$((pass + 1)); echo "ok   README Python example"
else
  fail=$((fail + 1)); echo "FAIL README Python example"; echo "$out"
fi
if out=$(python3 build/readme/example_async.py) && echo "$out" | grep -q "^async: 256 blocks verified$"; then
  pass=$((pass + 1)); echo "ok   README Python asyncio example"
else
  fail=$((fail + 1)); echo "FAIL README Python asyncio example"; echo "$out"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
