"""Finding and loading ``libdaos_rs.so``.

Looked for, in order: the path in ``DAOS_RS_LIB``; ``libdaos_rs.so`` inside
this package (where ``pip install ./python`` puts the one it builds); the
cargo build output of the source tree this package sits in
(``target/release`` and ``target/debug``, the newer build first); then the dynamic loader's own
search (``LD_LIBRARY_PATH``, the system directories).
"""

import ctypes
import os

LIB_NAME = "libdaos_rs.so"


def candidates():
    """The paths tried, in order (the last one is a bare name for the loader)."""
    out = []
    env = os.environ.get("DAOS_RS_LIB")
    if env:
        out.append(env)
    here = os.path.dirname(os.path.abspath(__file__))
    out.append(os.path.join(here, LIB_NAME))
    tree = os.path.dirname(os.path.dirname(here))  # python/daos_rs -> repository
    built = [os.path.join(tree, "target", p, LIB_NAME) for p in ("release", "debug")]
    built.sort(key=lambda p: os.path.getmtime(p) if os.path.exists(p) else 0, reverse=True)
    out.extend(built)
    out.append(LIB_NAME)
    return out


def load():
    """Loads the library; raises OSError naming every place tried."""
    tried = []
    env = os.environ.get("DAOS_RS_LIB")
    for path in candidates():
        if path != LIB_NAME and not os.path.exists(path):
            tried.append(path + " (missing)")
            if path == env:
                # An explicit choice that does not exist is an error, not a hint.
                raise OSError("DAOS_RS_LIB=%s: no such file" % env)
            continue
        try:
            return ctypes.CDLL(path, use_errno=True)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            if path == env:
                raise OSError("DAOS_RS_LIB=%s: %s" % (env, e))
    raise OSError("libdaos_rs.so not found; tried: " + "; ".join(tried)
                  + ". Install the package with pip install ./python (it builds and ships the"
                  " library), build it in the source tree (cargo build), or set DAOS_RS_LIB.")
