"""Errors: every failed call raises ``DaosError``, an ``OSError`` carrying the
errno and the name of the C function that failed."""

import errno as _errno
import os


class DaosError(OSError):
    """A daos-rs call failed: ``errno`` is the positive errno, ``call`` the C
    function's name (``daos_object_read``...)."""

    def __init__(self, err, call, detail=None):
        msg = "%s: %s" % (call, os.strerror(err))
        if detail:
            msg += " (%s)" % detail
        super().__init__(err, msg)
        self.call = call

    def __reduce__(self):
        return (type(self), (self.errno, self.call))

    @property
    def name(self):
        """The errno's symbolic name (``EINVAL``...)."""
        return _errno.errorcode.get(self.errno, str(self.errno))


def check(rc, call, detail=None):
    """Returns ``rc`` if it is not negative; raises ``DaosError`` otherwise."""
    if rc < 0:
        raise DaosError(-rc, call, detail)
    return rc
