"""daos-rs for Python: the DAOS-style object store of ``libdaos_rs.so``.

Synchronous API (this package, from ``daos_rs.core``)::

    from daos_rs import Store, Container, EPOCH_HIGHEST

asyncio API, same names as coroutines: ``daos_rs.aio``. The raw C API is in
``daos_rs._ffi`` (ctypes). Every failure raises ``daos_rs.DaosError``, an
``OSError`` carrying the errno and the name of the C function that failed;
the library's own explanation goes to the ``logging`` logger ``daos_rs``
(see ``daos_rs._log``).
"""

from . import _log

from ._records import (ContainerInfo, ContainerStatus, EpochInfo, EventType, HoldInfo, Location, LocKey,
                       ObjectId, ShardEvent, ShardInfo, TargetAffinity, TargetEvent, TargetInfo,
                       TargetPerf, TargetSpace, WaitResult)
from .core import (EPOCH_HIGHEST, TARGET_DISABLED, TARGET_HEALTHY, TARGET_UNKNOWN, Container,
                   Event, EventQueue, Object, Store, noop, version)
from .errors import DaosError, check

__version__ = "0.1.0"

_log.install()

__all__ = [
    "DaosError", "check", "version", "EPOCH_HIGHEST", "TARGET_DISABLED", "TARGET_HEALTHY",
    "TARGET_UNKNOWN", "EventQueue", "Event", "noop", "Store", "Container", "Object",
    "ContainerInfo", "ContainerStatus", "EpochInfo", "EventType", "HoldInfo", "Location", "LocKey",
    "ObjectId", "ShardEvent", "ShardInfo", "TargetAffinity", "TargetEvent", "TargetInfo",
    "TargetPerf", "TargetSpace", "WaitResult", "aio",
]


def __getattr__(name):
    # ``daos_rs.aio`` without importing asyncio for programs that do not use it.
    if name == "aio":
        import importlib
        return importlib.import_module(".aio", __name__)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
