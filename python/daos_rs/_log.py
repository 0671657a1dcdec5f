"""The library's log in Python's ``logging``: logger ``daos_rs``.

At import the package installs a ``daos_rs_set_log_callback`` callback that
hands each message of the library to ``logging.getLogger("daos_rs")`` at the
matching level (``DAOS_RS_LOG_ERROR`` -> ``ERROR``, ``WARN`` -> ``WARNING``,
``INFO`` -> ``INFO``, ``DEBUG`` -> ``DEBUG``), instead of the library writing
it on stderr. Which messages the library produces is still ``DAOS_RS_LOG``'s
choice (default ``warn``: a failed call's explanation); where they go is then
the application's logging configuration (without one, Python prints
warnings and errors on stderr).

The callback may run on a library thread (reaper, I/O workers, metadata
pool, notifier): ctypes takes the GIL for it. It never raises into the
library. At interpreter exit (``atexit``) it is removed, and the library's
removal waits for calls in progress, so no library thread enters Python
while it shuts down; later messages go to stderr. A forked child keeps it.
"""

import atexit
import logging

from . import _ffi

#: The logger the library's messages go to.
logger = logging.getLogger("daos_rs")

_LEVELS = {
    _ffi.DAOS_RS_LOG_ERROR: logging.ERROR,
    _ffi.DAOS_RS_LOG_WARN: logging.WARNING,
    _ffi.DAOS_RS_LOG_INFO: logging.INFO,
    _ffi.DAOS_RS_LOG_DEBUG: logging.DEBUG,
}


def _deliver(arg, level, msg):  # type: (object, int, bytes) -> None
    try:
        logger.log(_LEVELS.get(level, logging.WARNING), "%s", msg.decode("utf-8", "replace"))
    except Exception:  # an exception cannot cross into the library
        pass


# The ctypes thunk the library calls: referenced here for as long as the
# process lives (freeing it while installed would crash the next message).
_callback = _ffi.daos_rs_log_cb_t(_deliver)
_installed = False


def install():  # type: () -> bool
    """Routes the library's messages into ``logger`` (done at import)."""
    global _installed
    if not _installed and _ffi.lib.daos_rs_set_log_callback(_callback, None) == 0:
        _installed = True
        atexit.register(uninstall)
    return _installed


def uninstall():  # type: () -> None
    """Sends the library's messages to stderr again."""
    global _installed
    if _installed and _ffi.lib.daos_rs_set_log_callback(_ffi.daos_rs_log_cb_t(), None) == 0:
        _installed = False
