"""The example programs in python/examples run and exit 0."""

import os
import subprocess
import sys

import pytest

import daos_rs

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


@pytest.mark.parametrize("name,args,last", [
    ("quickstart.py", [], "quickstart: ok"),
    ("async_io.py", ["300"], "async_io: ok"),
])
def test_example(name, args, last):
    env = dict(os.environ)
    # the daos_rs under test (installed or the source tree's)
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(daos_rs.__file__)))
    env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + args, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    text = out.stdout.decode(errors="replace")
    assert out.returncode == 0, text
    assert text.strip().splitlines()[-1] == last, text
