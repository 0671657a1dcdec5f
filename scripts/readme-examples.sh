#!/usr/bin/env bash
# Runs the README's C and Python examples exactly as written.
set -u
cd "$(dirname "$0")/.."
mkdir -p build/readme
python3 - <<'PY'
import re
s = open("README.md").read()
open("build/readme/example.c", "w").write(re.search(r"```c\n(.*?)```", s, re.S).group(1))
open("build/readme/example.py", "w").write(re.search(r"```python\n(.*?)```", s, re.S).group(1))
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
if python3 build/readme/example.py | grep -q "1 event, ev_error 0"; then
  pass=$((pass + 1)); echo "ok   README Python example"
else
  fail=$((fail + 1)); echo "FAIL README Python example"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
