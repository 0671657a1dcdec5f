"""daos-rs for Python: the DAOS-style object store of ``libdaos_rs.so``.

The raw C API is in ``daos_rs._ffi`` (ctypes); errors are ``daos_rs.DaosError``.
"""

from .errors import DaosError, check

__all__ = ["DaosError", "check"]
