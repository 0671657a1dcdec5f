"""The synchronous Python API: every C call is made with ``ev = NULL`` and
returns (or raises ``DaosError``) when the operation is over.

    from daos_rs import Store, Container, EPOCH_HIGHEST

    Store.format("/data/store", ntargets=2)
    with Container.open("/data/store/c1", "rw", create=True) as c:
        shard = c.add_shard(1, target=0)
        with c.object((shard, 42), "rw") as obj:
            obj.write(1, 0, b"hello")
            c.commit(1)
            assert obj.read(EPOCH_HIGHEST, 0, 5) == b"hello"

The asyncio forms, with the same names, are in ``daos_rs.aio``. Event
queues and events (``EventQueue``, ``Event``, ``noop``) are here for
programs that drive the C event machinery themselves.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import weakref
import errno as _errno
from ctypes import (POINTER, byref, c_bool, c_char, c_char_p, c_int, c_uint, c_uint64,
                    c_void_p, cast)

from . import _ffi
from . import _util as _u
from ._ffi import lib
from ._records import (LOC_TYPES, EVENT_CALL, ContainerInfo, ContainerStatus, EpochInfo,
                       EventType, HoldInfo, LocKey, ObjectId, ShardEvent, ShardInfo, TargetEvent,
                       TargetInfo, WaitResult, epoch_info, shard_info, target_info)
from ._util import Op, run_sync
from .errors import DaosError, check

from typing import (Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union)

#: An epoch argument: an int (``EPOCH_HIGHEST`` for the newest) or a ``daos_epoch_t``.
EpochArg = Union[int, _ffi.daos_epoch_t]
#: An object id argument: ``(shard, lo)`` or a ``daos_obj_id_t``.
OidArg = Union[Tuple[int, int], ObjectId, _ffi.daos_obj_id_t]
#: A path: str, bytes or an os.PathLike.
PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
#: Any object with the buffer protocol (bytes, bytearray, memoryview, array,
#: numpy array, mmap); writable where data is read into it.
Buffer = Any

__all__ = [
    "EPOCH_HIGHEST", "TARGET_DISABLED", "TARGET_HEALTHY", "TARGET_UNKNOWN",
    "EventQueue", "Event", "noop", "Store", "Container", "Object", "version",
]

#: The newest epoch: reads at it see the newest data (also this process's staged writes).
EPOCH_HIGHEST = _ffi.DAOS_EPOCH_HIGHEST
#: Target status: disabled by the administrator.
TARGET_DISABLED = _ffi.DAOS_TARGET_ST_DISABLED
#: Target status: fully healthy (statuses 0..100 are health levels).
TARGET_HEALTHY = _ffi.DAOS_TARGET_ST_HEALTHY
#: Target status: unknown (its directory is gone).
TARGET_UNKNOWN = _ffi.DAOS_TARGET_ST_UNKNOWN

_PEV = POINTER(_ffi.daos_event)
_H = _ffi.daos_handle_t


def version() -> Tuple[int, int, int]:
    """The library's version, ``(major, minor, patch)``."""
    a, b, c = c_int(), c_int(), c_int()
    check(lib.daos_rs_version(byref(a), byref(b), byref(c)), "daos_rs_version")
    return (a.value, b.value, c.value)


# =============================================================================
# Event queues and events
# =============================================================================

_QUERY = {"all": _ffi.DAOS_EVQ_ALL, "completed": _ffi.DAOS_EVQ_COMPLETED,
          "inflight": _ffi.DAOS_EVQ_INFLIGHT}


def _which(which):
    try:
        return _QUERY[which]
    except (KeyError, TypeError):
        raise ValueError("which must be 'all', 'completed' or 'inflight', not %r"
                         % (which,)) from None


class EventQueue:
    """An event queue (``daos_eq_create``). A context manager: leaving the
    ``with`` block destroys it (forcibly: what is still in flight is aborted
    and waited for). ``fileno()`` is readable while it has completed events
    (``select``, ``selectors``, an event loop).

    The queue keeps every ``Event`` in flight alive until it has been polled
    (or tested, or finalised), so a dropped ``Event`` never leaves the
    library writing into freed memory."""

    def __init__(self):
        h = _H()
        check(lib.daos_eq_create(byref(h)), "daos_eq_create")
        self._h = h
        self._live = weakref.WeakValueDictionary()  # address -> Event
        self._pinned = {}  # address -> Event in flight (top-level ones)
        self._destroyed = False

    @property
    def handle(self) -> _ffi.daos_handle_t:
        """The ``daos_handle_t`` (for the raw API in ``daos_rs._ffi``)."""
        return self._h

    @property
    def destroyed(self) -> bool:
        return self._destroyed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self._destroyed:
            self.destroy(force=True)

    def __repr__(self):
        return "<EventQueue %#x%s>" % (self._h.cookie, " destroyed" if self._destroyed else "")

    def fileno(self) -> int:
        """A descriptor readable while completed events wait to be polled
        (``daos_eq_get_fd``). The queue owns it: do not close or read it."""
        fd = c_int(-1)
        check(lib.daos_eq_get_fd(self._h, byref(fd)), "daos_eq_get_fd")
        return fd.value

    def plug(self) -> None:
        """Starts batching (``daos_eq_plug``): operations dispatched on this
        queue are held until ``unplug()`` (or the next poll, query or test)
        hands them all to the kernel in one system call. Not nested."""
        check(lib.daos_eq_plug(self._h), "daos_eq_plug")

    def unplug(self) -> None:
        """Ends batching (``daos_eq_unplug``): hands over what was held."""
        check(lib.daos_eq_unplug(self._h), "daos_eq_unplug")

    @contextlib.contextmanager
    def plugged(self) -> Iterator[EventQueue]:
        """``with eq.plugged(): ...``: plugged inside the block, unplugged
        when it ends (also on an exception)."""
        self.plug()
        try:
            yield self
        finally:
            if not self._destroyed:
                self.unplug()

    def event(self, parent: Optional[Event] = None) -> Event:
        """A new ``Event`` on this queue (or a child of ``parent``)."""
        return Event(self, parent)

    def _take(self, addr):
        ev = self._pinned.pop(addr, None)
        if ev is None:
            ev = self._live.get(addr)
        return ev

    def poll(self, wait: bool = True, timeout: Optional[float] = None,
             max: int = 64) -> List[Event]:
        """Completed events, oldest completion first, each idle again.

        ``wait=False``: return at once. ``wait=True``: if nothing has
        completed yet but something is in flight, wait up to ``timeout``
        seconds (``None``: until one completes); with nothing in flight,
        return ``[]`` at once. At most ``max`` events."""
        if not isinstance(wait, bool):
            raise TypeError("wait must be a bool")
        max = _u.to_int(max, "max")
        if max <= 0 or max > 1 << 20:
            raise ValueError("max must be 1..2**20, got %d" % max)
        t = _u.timeout_us(timeout) if wait else 0
        arr = (c_void_p * max)()
        n = check(lib.daos_eq_poll(self._h, 1, t, max, cast(arr, POINTER(_PEV))), "daos_eq_poll")
        out = []
        for i in range(n):
            ev = self._take(arr[i])
            if ev is not None:
                out.append(ev)
        return out

    def query(self, which: str = "all") -> int:
        """How many events are completed (not yet polled), in flight, or both
        (``which``: 'completed', 'inflight', 'all')."""
        return check(lib.daos_eq_query(self._h, _which(which), 0, None), "daos_eq_query")

    def query_events(self, which: str = "all", max: int = 1024) -> List[Event]:
        """The events counted by ``query`` (completed first, in poll order,
        then in flight), at most ``max``. Changes no state."""
        q = _which(which)
        max = _u.to_int(max, "max")
        if max <= 0:
            raise ValueError("max must be > 0")
        arr = (c_void_p * max)()
        n = check(lib.daos_eq_query(self._h, q, max, cast(arr, POINTER(_PEV))), "daos_eq_query")
        return [e for e in (self._live.get(arr[i]) for i in range(n)) if e is not None]

    def destroy(self, force: bool = False) -> None:
        """Destroys the queue (``daos_eq_destroy``): ``DaosError`` EBUSY if
        events are in flight, unless ``force`` (``daos_eq_destroy_force``:
        aborts them and waits for them first). Its events are forgotten by
        the library."""
        if self._destroyed:
            return
        if force:
            check(lib.daos_eq_destroy_force(self._h), "daos_eq_destroy_force")
        else:
            check(lib.daos_eq_destroy(self._h), "daos_eq_destroy")
        self._forget()

    def _forget(self):
        # The library forgot the queue's events: their wrappers see it
        # through ``eq.destroyed`` and never call daos_event_fini again.
        self._destroyed = True
        self._pinned.clear()

    def __del__(self):
        try:
            if not self._destroyed:
                # Events in flight may still be written by the library: abort
                # them and wait before their memory can go.
                lib.daos_eq_destroy_force(self._h)
                self._forget()
        except Exception:
            pass


class Event:
    """A ``struct daos_event`` on an ``EventQueue`` (``daos_event_init``),
    or the child of a parent ``Event``.

    ``error`` is ``ev_error`` (0 or a negative errno) and ``type`` the
    ``EventType`` of the operation it was last dispatched with. It is
    finalised by ``fini()`` (or when it is garbage collected while idle)."""

    __slots__ = ("_c", "eq", "parent", "_children", "_cb", "_finalized", "__weakref__")

    def __init__(self, eq, parent=None):
        self._finalized = True
        if parent is not None:
            if not isinstance(parent, Event):
                raise TypeError("parent must be an Event")
            eq = parent.eq
        if not isinstance(eq, EventQueue):
            raise TypeError("eq must be an EventQueue, not %s" % type(eq).__name__)
        self._c = _ffi.daos_event()
        self.eq = eq
        self.parent = parent
        self._children = []
        self._cb = None
        check(lib.daos_event_init(byref(self._c), eq._h if parent is None else _u.NULL_HANDLE,
                                  byref(parent._c) if parent is not None else None),
              "daos_event_init")
        self._finalized = False
        eq._live[self.address] = self
        if parent is not None:
            parent._children.append(self)

    @property
    def address(self) -> int:
        """The address of the C struct (what ``daos_eq_poll`` returns)."""
        from ctypes import addressof
        return addressof(self._c)

    @property
    def struct(self) -> _ffi.daos_event:
        """The ``daos_event`` ctypes struct (for the raw API: pass ``byref``).
        If you dispatch it yourself, keep this ``Event`` alive until it is
        polled."""
        return self._c

    @property
    def error(self) -> int:
        """``ev_error``: 0 or the negative errno of the last operation."""
        return self._c.ev_error

    @property
    def type(self) -> EventType:
        """``ev_type`` as an ``EventType`` (int if unknown)."""
        t = self._c.ev_type
        try:
            return EventType(t)
        except ValueError:
            return t

    @property
    def children(self) -> List[Event]:
        """The child events, in the order they were initialised."""
        return list(self._children)

    def exception(self) -> Optional[DaosError]:
        """A ``DaosError`` for a failed last operation, else None."""
        rc = self._c.ev_error
        if rc >= 0:
            return None
        return DaosError(-rc, EVENT_CALL.get(self.type, "daos_event"))

    def check(self) -> None:
        """Raises ``DaosError`` if the last operation failed."""
        e = self.exception()
        if e is not None:
            raise e

    def __repr__(self):
        t = self.type
        return "<Event %s error=%d>" % (t.name if isinstance(t, EventType) else t, self.error)

    def _dispatch(self, call, fn):
        """Makes ``fn()`` dispatch this event, pinned in its queue from just
        before (another thread may poll it back at once) until polled."""
        top = self.parent if self.parent is not None else self
        pinned = self.eq._pinned
        was = top.address in pinned
        pinned[top.address] = top
        rc = fn()
        if rc < 0:
            if not was:
                pinned.pop(top.address, None)
            check(rc, call)

    def _undispatched(self):
        top = self.parent if self.parent is not None else self
        self.eq._pinned.pop(top.address, None)

    def test(self, timeout: Optional[float] = 0) -> bool:
        """Waits up to ``timeout`` seconds (``None``: forever) for this
        event; True if it has completed (it is then taken out of the queue:
        idle, as if polled) or was idle."""
        done = c_bool(False)
        check(lib.daos_event_test(byref(self._c), _u.timeout_us(timeout), byref(done)),
              "daos_event_test")
        if done.value:
            self._undispatched()
        return done.value

    def abort(self) -> None:
        """Aborts the operation in flight (``daos_event_abort``): it still
        completes through the queue, with ``-EINTR`` if the cancel won."""
        check(lib.daos_event_abort(byref(self._c)), "daos_event_abort")

    def launch(self) -> None:
        """Puts this (idle) event in flight as a user event, to be finished
        by ``complete``."""
        self._dispatch("daos_event_launch", lambda: lib.daos_event_launch(byref(self._c)))

    def complete(self, rc: int = 0) -> None:
        """Completes a launched user event with ``rc`` (0 or a negative errno)."""
        rc = _u.to_int(rc, "rc")
        if rc > 0:
            raise ValueError("rc must be 0 or a negative errno, got %d" % rc)
        check(lib.daos_event_complete(byref(self._c), rc), "daos_event_complete")

    def register_callback(self, fn: Callable[[Event, int], Optional[int]]) -> None:
        """Calls ``fn(event, rc)`` once, at the next completion, before the
        event can be polled, in the thread completing it. A non-zero int
        returned replaces a zero ``rc``. An exception is printed and ignored."""
        if not callable(fn):
            raise TypeError("fn must be callable")
        me = weakref.ref(self)

        def trampoline(arg, evp, rc):
            try:
                r = fn(me(), rc)
                return int(r) if r else 0
            except BaseException:
                print("Exception in daos_rs event callback:", file=sys.stderr)
                traceback.print_exc()
                return 0

        cb = _ffi.daos_event_comp_cb_t(trampoline)
        check(lib.daos_event_register_comp_cb(byref(self._c), cb, None),
              "daos_event_register_comp_cb")
        self._cb = cb  # kept alive until it is replaced or the event goes

    def fini(self) -> None:
        """Finalises the event (``daos_event_fini``; a parent's children
        too). ``DaosError`` EBUSY while in flight."""
        if self._finalized:
            return
        if not self.eq._destroyed:
            check(lib.daos_event_fini(byref(self._c)), "daos_event_fini")
        self._finalized = True
        self._undispatched()
        for c in self._children:
            c._finalized = True
        if self.parent is not None:
            try:
                self.parent._children.remove(self)
            except ValueError:
                pass

    close = fini

    def __del__(self):
        try:
            if not self._finalized and not self.eq._destroyed:
                lib.daos_event_fini(byref(self._c))
        except Exception:
            pass


def noop(ev: Optional[Event] = None, delay_us: int = 0) -> None:
    """``daos_noop``: with an ``Event``, an operation that completes with 0
    after ``delay_us`` microseconds (poll the queue for it); without one,
    sleeps ``delay_us`` (releasing the GIL)."""
    d = _u.u64(delay_us, "delay_us")
    if ev is None:
        check(lib.daos_noop(None, d), "daos_noop")
        return
    if not isinstance(ev, Event):
        raise TypeError("ev must be an Event or None")
    ev._dispatch("daos_noop", lambda: lib.daos_noop(byref(ev._c), d))


# =============================================================================
# Descriptions of the operations, shared with daos_rs.aio
# =============================================================================


def _count(n, what, lo=1, hi=1 << 20):
    n = _u.to_int(n, what)
    if n < lo or n > hi:
        raise ValueError("%s must be %d..%d, got %d" % (what, lo, hi, n))
    return n


class _Handle:
    """A library handle with an idempotent close."""

    _close_call: str = ""

    def __init__(self, h):
        self._h = h
        self._closed = False

    @property
    def handle(self) -> _ffi.daos_handle_t:
        """The ``daos_handle_t`` (for the raw API in ``daos_rs._ffi``)."""
        return self._h

    @property
    def closed(self) -> bool:
        return self._closed

    def _op_close(self):
        h = self._h
        fn = getattr(lib, self._close_call)

        def result():
            self._closed = True

        def error(rc):
            self._closed = True
            return DaosError(-rc, self._close_call)

        return Op(self._close_call, lambda ev: fn(h, ev), keep=(self,), result=result,
                  error=error)

    def __del__(self):
        try:
            if not self._closed and self._can_close_at_gc():
                getattr(lib, self._close_call)(self._h, None)
                self._closed = True
        except Exception:
            pass

    def _can_close_at_gc(self):
        return True


# --- the store -------------------------------------------------------------------


class _StoreOps(_Handle):
    _close_call = "daos_sys_close"

    def __init__(self, h, path, targets):
        super().__init__(h)
        self.path = path
        self.target_ids = targets

    def __repr__(self):
        return "<%s %r, %d targets%s>" % (type(self).__name__, self.path, len(self.target_ids),
                                          " closed" if self._closed else "")

    @property
    def ntargets(self) -> int:
        return len(self.target_ids)

    @staticmethod
    def _format(path, ntargets=None, target_dirs=None, probe=False):
        p = _u.path(path)
        dirs = None
        keep = []
        if target_dirs is not None:
            if isinstance(target_dirs, (str, bytes)):
                raise TypeError("target_dirs must be a list of paths")
            keep = [_u.path(d, "target_dirs item") for d in target_dirs]
            if ntargets is None:
                ntargets = len(keep)
            dirs = (c_char_p * max(len(keep), 1))(*keep)
        if ntargets is None:
            ntargets = 1
        n = _count(ntargets, "ntargets", 1, 65536)
        if dirs is not None and len(keep) != n:
            raise ValueError("target_dirs has %d paths for %d targets" % (len(keep), n))
        flags = 0 if probe else _ffi.DAOS_SYS_FORMAT_NO_PROBE
        check(lib.daos_sys_format(p, n, dirs, flags), "daos_sys_format")

    @staticmethod
    def _prog_sys_query(h, cage=None, rack=None, node=None, depth=0):
        loc = _ffi.daos_location(*(-1 if v is None else _u.to_int(v, name)
                                   for v, name in ((cage, "cage"), (rack, "rack"),
                                                   (node, "node"))))
        depth = _u.u32(depth, "depth")
        n = c_uint(0)
        yield Op("daos_sys_query", lambda ev: lib.daos_sys_query(h, byref(loc), depth, byref(n),
                                                                  None, ev), keep=(loc, n))
        while True:
            cap = n.value
            arr = (_ffi.daos_loc_key * max(cap, 1))()
            n2 = c_uint(cap)
            yield Op("daos_sys_query", lambda ev: lib.daos_sys_query(h, byref(loc), depth,
                                                                      byref(n2), arr, ev),
                     keep=(loc, n2, arr))
            if n2.value <= cap:
                return [LocKey(LOC_TYPES.get(k.lk_type, k.lk_type), k.lk_id)
                        for k in arr[:n2.value]]
            n = n2

    @classmethod
    def _prog_open(cls, path):
        p = _u.path(path)
        h = _H()
        yield Op("daos_sys_open", lambda ev: lib.daos_sys_open(p, byref(h), ev), keep=(p, h))
        try:
            keys = yield from cls._prog_sys_query(h)
        except BaseException:
            lib.daos_sys_close(h, None)
            raise
        return cls(h, path, [k.id for k in keys if k.type == "target"])

    def _prog_query(self, depth=0, cage=None, rack=None, node=None):
        return self._prog_sys_query(self._h, cage, rack, node, depth)

    def _op_target(self, target):
        t = _u.u32(target, "target")
        ti = _ffi.daos_target_info()
        h = self._h
        return Op("daos_sys_query_target",
                  lambda ev: lib.daos_sys_query_target(h, t, byref(ti), ev),
                  keep=(self, ti), result=lambda: target_info(t, ti))

    def _prog_targets(self):
        out = []
        for t in self.target_ids:
            out.append((yield self._op_target(t)))
        return out

    def set_target_status(self, target: int, status: int) -> None:
        """The administrator's switch (synchronous in both forms):
        ``TARGET_DISABLED``, or a health 0..100 (``TARGET_HEALTHY``) to enable."""
        t = _u.u32(target, "target")
        s = _u.to_int(status, "status")
        check(lib.daos_sys_target_set_status(self._h, t, s), "daos_sys_target_set_status")

    def disable_target(self, target: int) -> None:
        """``set_target_status(target, TARGET_DISABLED)``."""
        self.set_target_status(target, TARGET_DISABLED)

    def enable_target(self, target: int, health: int = TARGET_HEALTHY) -> None:
        """``set_target_status(target, health)``."""
        self.set_target_status(target, health)

    def _op_listen(self, max_events=16):
        m = _count(max_events, "max_events")
        n = c_uint(m)
        arr = (_ffi.daos_target_event * m)()
        h = self._h
        return Op("daos_sys_listen", lambda ev: lib.daos_sys_listen(h, byref(n), arr, ev),
                  keep=(self, n, arr),
                  result=lambda: [TargetEvent(e.te_target, e.te_status) for e in arr[:n.value]])


class Store(_StoreOps):
    """A store: its system container handle (``daos_sys_open``). A context
    manager (closes on exit). ``targets`` lists every target's info."""

    @staticmethod
    def format(path: PathArg, ntargets: Optional[int] = None,
               target_dirs: Optional[Sequence[PathArg]] = None, probe: bool = False) -> None:
        """Makes a store in the existing directory ``path``
        (``daos_sys_format``) with ``ntargets`` targets (default 1, or one
        per ``target_dirs`` entry: directories of the targets, else inside
        ``path/.daos``). ``probe``: measure each target (about 16 MiB of I/O)."""
        _StoreOps._format(path, ntargets, target_dirs, probe)

    @classmethod
    def open(cls, path: PathArg) -> Store:
        """Opens the store holding ``path`` (its root or any path inside it)."""
        return run_sync(cls._prog_open(path))

    def close(self) -> None:
        """Closes the handle (again: nothing)."""
        if not self._closed:
            run_sync(self._op_close())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def targets(self) -> List[TargetInfo]:
        """Every target's ``TargetInfo``, by id."""
        return run_sync(self._prog_targets())

    def target(self, target: int) -> TargetInfo:
        """``TargetInfo`` of one target (``daos_sys_query_target``)."""
        return run_sync(self._op_target(target))

    def query(self, depth: int = 0, cage: Optional[int] = None, rack: Optional[int] = None,
              node: Optional[int] = None) -> List[LocKey]:
        """The storage tree below the given cage/rack/node (None: unknown),
        in pre-order, limited by ``depth`` (0: all): ``LocKey`` records."""
        return run_sync(self._prog_query(depth, cage, rack, node))

    def listen(self, max_events: int = 16) -> List[TargetEvent]:
        """Blocks until a target's status changes (relative to what this
        handle saw last); returns the ``TargetEvent``s."""
        return run_sync(self._op_listen(max_events))


# --- containers ------------------------------------------------------------------

_LIST = {"all": _ffi.DAOS_SHARD_LS_ALL, "stuck": _ffi.DAOS_SHARD_LS_STUCK,
         "disabled": _ffi.DAOS_SHARD_LS_DISABLED}


def _oid(oid):
    if isinstance(oid, _ffi.daos_obj_id_t):
        return _ffi.daos_obj_id_t(oid.o_id_hi, oid.o_id_lo)
    try:
        shard, lo = oid
    except (TypeError, ValueError):
        raise TypeError("oid must be a (shard, lo) pair or a daos_obj_id_t, not %r"
                        % (oid,)) from None
    return _ffi.daos_obj_id_t(_u.u64(shard, "oid shard"), _u.u64(lo, "oid lo"))


def _container_mode(mode, create, checksums=True):
    if mode == "r":
        m = _ffi.DAOS_COO_RO
    elif mode == "rw":
        m = _ffi.DAOS_COO_RW
    else:
        raise ValueError("mode must be 'r' or 'rw', not %r" % (mode,))
    if create:
        m |= _ffi.DAOS_COO_CREATE
    if not checksums:
        if not create:
            raise ValueError("checksums=False is a property at create: it needs create=True")
        m |= _ffi.DAOS_RS_COO_NOCSUM
    return m


def _object_mode(mode, buffered, hint):
    if mode == "r":
        m = _ffi.DAOS_OBJ_RO
    elif mode == "rw":
        m = _ffi.DAOS_OBJ_RW
    else:
        raise ValueError("mode must be 'r' or 'rw', not %r" % (mode,))
    if buffered:
        m |= _ffi.DAOS_OBJ_IO_BUFFERED
    if hint == "rand":
        m |= _ffi.DAOS_OBJ_IO_RAND
    elif hint == "seq":
        m |= _ffi.DAOS_OBJ_IO_SEQ
    elif hint is not None:
        raise ValueError("hint must be None, 'rand' or 'seq', not %r" % (hint,))
    return m


class _ContainerOps(_Handle):
    _close_call = "daos_container_close"
    _object_class: Any = None  # set by the subclasses

    def __init__(self, h, path, mode, status):
        super().__init__(h)
        self.path = path
        self.mode = mode
        self.status = status

    def __repr__(self):
        return "<%s %r mode=%s%s>" % (type(self).__name__, self.path, self.mode,
                                      " closed" if self._closed else "")

    # open / unlink / g2l

    @classmethod
    def _op_open(cls, path, mode="r", create=False, nprocess=1, checksums=True):
        p = _u.path(path)
        m = _container_mode(mode, create, checksums)
        npr = _u.u32(nprocess, "nprocess")
        st = c_uint(0)
        h = _H()

        def result():
            try:
                s = ContainerStatus(st.value)
            except ValueError:
                s = st.value
            return cls(h, path, mode, s)

        return Op("daos_container_open",
                  lambda ev: lib.daos_container_open(p, m, npr, byref(st), byref(h), ev),
                  keep=(p, st, h), result=result)

    @staticmethod
    def _op_unlink(path):
        p = _u.path(path)
        return Op("daos_container_unlink", lambda ev: lib.daos_container_unlink(p, ev), keep=(p,))

    @classmethod
    def _op_global2local(cls, buf):
        b = _u.Buf(buf, False, "buf")
        size = b.len
        if size > _u.U32_MAX:
            b.release()
            raise ValueError("buf is too large")
        h = _H()
        return Op("daos_global2local",
                  lambda ev: lib.daos_global2local(b.addr, size, byref(h), ev),
                  keep=(buf, h), bufs=(b,), result=lambda: cls(h, None, "rw", None))

    def _op_refresh(self, buf):
        b = _u.Buf(buf, False, "buf")
        size = b.len
        h = self._h
        return Op("daos_global2local",
                  lambda ev: lib.daos_global2local(b.addr, size, byref(h), ev),
                  keep=(self, buf), bufs=(b,))

    @property
    def checksums(self) -> bool:
        """Whether the container keeps and verifies data checksums: False if
        it was made with ``checksums=False`` (``daos_rs_container_props``, an
        extension; synchronous in both forms)."""
        props = c_uint(0)
        check(lib.daos_rs_container_props(self._h, byref(props)), "daos_rs_container_props")
        return not props.value & _ffi.DAOS_RS_COO_NOCSUM

    def local2global(self) -> bytes:
        """The bytes a peer process turns into a handle of its own with
        ``Container.global2local`` (master of a collective open only;
        synchronous in both forms)."""
        size = c_uint(0)
        check(lib.daos_local2global(self._h, None, byref(size)), "daos_local2global")
        while True:
            buf = (c_char * max(size.value, 1))()
            want = size.value
            rc = lib.daos_local2global(self._h, buf, byref(size))
            if rc == -_errno.ENOBUFS and size.value > want:  # it grew meanwhile
                continue
            check(rc, "daos_local2global")
            return buf.raw[:size.value]

    # objects

    def _op_object(self, oid, mode="r", buffered=False, hint=None):
        o = _oid(oid)
        m = _object_mode(mode, buffered, hint)
        h = _H()
        coh = self._h
        cls = self._object_class

        def result():
            return cls(self, h, ObjectId(o.o_id_hi, o.o_id_lo), mode)

        return Op("daos_object_open", lambda ev: lib.daos_object_open(coh, o, m, byref(h), ev),
                  keep=(self, h), result=result)

    def _op_punch(self, epoch, oid, begin=0, end=None):
        e = _u.epoch(epoch)
        o = _oid(oid)
        b = _u.u64(begin, "begin")
        en = _u.U64_MAX if end is None else _u.u64(end, "end")
        if b > en:
            raise ValueError("begin (%d) is above end (%d)" % (b, en))
        coh = self._h
        return Op("daos_object_punch",
                  lambda ev: lib.daos_object_punch(coh, e, o, b, en, ev), keep=(self,))

    # queries

    def _op_query(self, epoch=EPOCH_HIGHEST):
        e = _u.epoch(epoch)
        info = _ffi.daos_container_info()
        coh = self._h
        return Op("daos_container_query",
                  lambda ev: lib.daos_container_query(coh, byref(e), byref(info), ev),
                  keep=(self, e, info),
                  result=lambda: ContainerInfo(info.ci_uid, info.ci_gid, info.ci_nshard,
                                               info.ci_nshard_stuck, info.ci_nshard_disabled,
                                               e.seq))

    def _prog_list_shards(self, which="all", epoch=EPOCH_HIGHEST, page=256):
        try:
            opc = _LIST[which]
        except (KeyError, TypeError):
            raise ValueError("which must be 'all', 'stuck' or 'disabled', not %r"
                             % (which,)) from None
        e = _u.epoch(epoch)
        coh = self._h
        anchor = c_uint64(0)
        out = []
        while True:
            arr = (c_uint * page)()
            yield Op("daos_container_list_shard",
                     lambda ev: lib.daos_container_list_shard(coh, e, opc, byref(anchor), page,
                                                              arr, ev),
                     keep=(self, anchor, arr))
            out.extend(s for s in arr if s != _u.U32_MAX)
            if anchor.value == _ffi.DAOS_LIST_END:
                return out

    def _op_add_shards(self, epoch, targets, ids=None):
        e = _u.epoch(epoch)
        tg = [_u.u32(t, "target") for t in targets]
        if not tg:
            raise ValueError("targets is empty")
        if ids is None:
            want = [-1] * len(tg)
        else:
            want = [_u.to_int(i, "shard id") for i in ids]
            if len(want) != len(tg):
                raise ValueError("%d ids for %d targets" % (len(want), len(tg)))
            for i in want:
                if i < -1 or i >= _ffi.DAOS_MAX_SHARDS:
                    raise ValueError("shard id must be -1 or 0..2**20-1, got %d" % i)
        n = len(tg)
        targ = (c_uint * n)(*tg)
        sh = (c_int * n)(*want)
        coh = self._h

        def error(rc):
            err = DaosError(-rc, "daos_shard_add")
            err.shards = list(sh)
            return err

        return Op("daos_shard_add",
                  lambda ev: lib.daos_shard_add(coh, e, n, targ, sh, ev),
                  keep=(self, targ, sh), result=lambda: list(sh), error=error)

    def _op_disable_shards(self, epoch, shards):
        e = _u.epoch(epoch)
        ids = [_u.u32(s, "shard") for s in shards]
        if not ids:
            raise ValueError("shards is empty")
        n = len(ids)
        sh = (c_int * n)(*ids)
        coh = self._h

        def error(rc):
            err = DaosError(-rc, "daos_shard_disable")
            err.shards = list(sh)
            return err

        return Op("daos_shard_disable", lambda ev: lib.daos_shard_disable(coh, e, n, sh, ev),
                  keep=(self, sh), error=error)

    def _op_query_shard(self, shard, epoch=EPOCH_HIGHEST):
        s = _u.u32(shard, "shard")
        e = _u.epoch(epoch)
        info = _ffi.daos_shard_info()
        coh = self._h
        return Op("daos_shard_query",
                  lambda ev: lib.daos_shard_query(coh, byref(e), s, byref(info), ev),
                  keep=(self, e, info), result=lambda: shard_info(s, e.seq, info))

    def _op_flush_shard(self, shard, epoch=EPOCH_HIGHEST):
        s = _u.u32(shard, "shard")
        e = _u.epoch(epoch)
        coh = self._h
        return Op("daos_shard_flush", lambda ev: lib.daos_shard_flush(coh, e, s, ev),
                  keep=(self,))

    def _prog_list_objects(self, shard, epoch=EPOCH_HIGHEST, page=1024):
        s = _u.u32(shard, "shard")
        e = _u.epoch(epoch)
        coh = self._h
        anchor = c_uint64(0)
        out = []
        while True:
            arr = (_ffi.daos_obj_id_t * page)()
            yield Op("daos_shard_list_obj",
                     lambda ev: lib.daos_shard_list_obj(coh, e, s, byref(anchor), page, arr, ev),
                     keep=(self, anchor, arr))
            out.extend(ObjectId(o.o_id_hi, o.o_id_lo) for o in arr
                       if not (o.o_id_hi == _u.U64_MAX and o.o_id_lo == _u.U64_MAX))
            if anchor.value == _ffi.DAOS_LIST_END:
                return out

    def _op_listen(self, max_events=16):
        m = _count(max_events, "max_events")
        n = c_uint(m)
        arr = (_ffi.daos_shard_event * m)()
        coh = self._h
        return Op("daos_container_listen",
                  lambda ev: lib.daos_container_listen(coh, byref(n), arr, ev),
                  keep=(self, n, arr),
                  result=lambda: [ShardEvent(x.se_shard, x.se_target, x.se_status,
                                             x.se_epoch.seq) for x in arr[:n.value]])

    # whole container

    def _op_snapshot(self, epoch, path):
        e = _u.epoch(epoch)
        p = _u.path(path)
        coh = self._h
        return Op("daos_container_snapshot",
                  lambda ev: lib.daos_container_snapshot(coh, e, p, ev), keep=(self, p))

    def _op_flush(self, epoch=EPOCH_HIGHEST):
        e = _u.epoch(epoch)
        coh = self._h
        return Op("daos_container_flush", lambda ev: lib.daos_container_flush(coh, e, ev),
                  keep=(self,))

    # epochs

    def _op_commit(self, epoch, sync=False):
        e = _u.epoch(epoch)
        if not isinstance(sync, bool):
            raise TypeError("sync must be a bool")
        failed = c_uint(_u.U32_MAX)
        coh = self._h

        def error(rc):
            err = DaosError(-rc, "daos_epoch_commit")
            err.shard = None if failed.value == _u.U32_MAX else failed.value
            return err

        return Op("daos_epoch_commit",
                  lambda ev: lib.daos_epoch_commit(coh, e, sync, byref(failed), ev),
                  keep=(self, failed), error=error)

    def _op_abort(self, epoch):
        e = _u.epoch(epoch)
        failed = c_uint(_u.U32_MAX)
        coh = self._h

        def error(rc):
            err = DaosError(-rc, "daos_epoch_abort")
            err.shard = None if failed.value == _u.U32_MAX else failed.value
            return err

        return Op("daos_epoch_abort",
                  lambda ev: lib.daos_epoch_abort(coh, e, byref(failed), ev),
                  keep=(self, failed), error=error)

    def _op_slip(self, epoch):
        e = _u.epoch(epoch)
        coh = self._h
        return Op("daos_epoch_slip", lambda ev: lib.daos_epoch_slip(coh, e, ev), keep=(self,))

    def _op_wait(self, epoch=EPOCH_HIGHEST):
        e = _u.epoch(epoch)
        layout = _ffi.daos_epoch_t(0)
        coh = self._h
        return Op("daos_epoch_wait",
                  lambda ev: lib.daos_epoch_wait(coh, byref(e), byref(layout), ev),
                  keep=(self, e, layout), result=lambda: WaitResult(e.seq, layout.seq))

    def _op_epoch_query(self):
        info = _ffi.daos_epoch_info()
        coh = self._h
        return Op("daos_epoch_query", lambda ev: lib.daos_epoch_query(coh, byref(info), ev),
                  keep=(self, info), result=lambda: epoch_info(info))

    def _op_hold(self, epoch=0):
        e = _u.epoch(epoch)
        coh = self._h
        return Op("daos_epoch_hold", lambda ev: lib.daos_epoch_hold(coh, byref(e), ev),
                  keep=(self, e), result=lambda: e.seq)

    def _op_release(self):
        e = _u.epoch(EPOCH_HIGHEST)
        coh = self._h
        return Op("daos_epoch_hold", lambda ev: lib.daos_epoch_hold(coh, byref(e), ev),
                  keep=(self, e))

    def _op_hold_query(self):
        lo = _ffi.daos_epoch_t(0)
        own = _ffi.daos_epoch_t(0)
        coh = self._h

        def none_if_highest(x):
            return None if x == EPOCH_HIGHEST else x

        return Op("daos_epoch_hold_query",
                  lambda ev: lib.daos_epoch_hold_query(coh, byref(lo), byref(own), ev),
                  keep=(self, lo, own),
                  result=lambda: HoldInfo(none_if_highest(lo.seq), none_if_highest(own.seq)))


class Container(_ContainerOps):
    """A container handle (``daos_container_open``). A context manager
    (closes on exit; uncommitted writes of a handle are discarded at its
    close). ``status`` is the ``ContainerStatus`` seen at open."""

    @classmethod
    def open(cls, path: PathArg, mode: str = "r", create: bool = False,
             nprocess: int = 1, checksums: bool = True) -> Container:
        """Opens the container at ``path``: ``mode`` 'r' or 'rw';
        ``create`` makes an empty one if missing; ``nprocess > 1`` is a
        collective open (this process is the master). ``checksums=False``
        (with ``create``; an extension, ``DAOS_RS_COO_NOCSUM``): a container
        made by this call keeps no data checksums (an existing one keeps its
        property; see ``Container.checksums``)."""
        return run_sync(cls._op_open(path, mode, create, nprocess, checksums))

    @staticmethod
    def unlink(path: PathArg) -> None:
        """Removes the container at ``path`` (open handles keep working)."""
        run_sync(_ContainerOps._op_unlink(path))

    @classmethod
    def global2local(cls, buf: Buffer) -> Container:
        """A peer's handle from the bytes of the master's ``local2global``."""
        return run_sync(cls._op_global2local(buf))

    def refresh(self, buf: Buffer) -> None:
        """Refreshes this peer handle from a newer ``local2global`` buffer."""
        run_sync(self._op_refresh(buf))

    def close(self) -> None:
        """Closes the handle and every object opened through it (again: nothing)."""
        if not self._closed:
            run_sync(self._op_close())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def object(self, oid: OidArg, mode: str = "r", buffered: bool = False,
               hint: Optional[str] = None) -> Object:
        """Opens object ``oid`` ((shard, lo) or ``daos_obj_id_t``): ``mode``
        'r' or 'rw'; ``buffered``: writes copy the data during the call;
        ``hint``: None, 'rand' or 'seq'."""
        return run_sync(self._op_object(oid, mode, buffered, hint))

    def punch(self, epoch: EpochArg, oid: OidArg, begin: int = 0,
              end: Optional[int] = None) -> None:
        """Discards ``[begin, end)`` (``end`` None: to the end) of object
        ``oid`` at ``epoch``."""
        run_sync(self._op_punch(epoch, oid, begin, end))

    def query(self, epoch: EpochArg = EPOCH_HIGHEST) -> ContainerInfo:
        """``ContainerInfo``: owner, shard counts, at ``epoch``."""
        return run_sync(self._op_query(epoch))

    def list_shards(self, which: str = "all", epoch: EpochArg = EPOCH_HIGHEST) -> List[int]:
        """Shard ids, increasing: 'all', 'stuck' or 'disabled'."""
        return run_sync(self._prog_list_shards(which, epoch))

    @property
    def shards(self) -> List[int]:
        """Every shard id (``list_shards('all')``)."""
        return self.list_shards()

    def add_shards(self, epoch: EpochArg, targets: Sequence[int],
                   ids: Optional[Sequence[int]] = None) -> List[int]:
        """Adds one shard per target in ``targets`` (``ids``: the id wanted
        for each, -1 or None for the lowest free); returns the ids made. On
        failure the ``DaosError`` has ``.shards`` (-1 where it failed)."""
        return run_sync(self._op_add_shards(epoch, targets, ids))

    def add_shard(self, epoch: EpochArg, target: int = 0, id: int = -1) -> int:
        """Adds one shard on ``target``; returns its id."""
        return self.add_shards(epoch, [target], [id])[0]

    def disable_shards(self, epoch: EpochArg, shards: Sequence[int]) -> None:
        """Disables shards for good (their objects can no longer be opened)."""
        run_sync(self._op_disable_shards(epoch, shards))

    def disable_shard(self, epoch: EpochArg, shard: int) -> None:
        self.disable_shards(epoch, [shard])

    def query_shard(self, shard: int, epoch: EpochArg = EPOCH_HIGHEST) -> ShardInfo:
        """``ShardInfo`` of one shard at ``epoch``."""
        return run_sync(self._op_query_shard(shard, epoch))

    def flush_shard(self, shard: int, epoch: EpochArg = EPOCH_HIGHEST) -> None:
        """Makes this handle's writes on one shard durable."""
        run_sync(self._op_flush_shard(shard, epoch))

    def list_objects(self, shard: int, epoch: EpochArg = EPOCH_HIGHEST) -> List[ObjectId]:
        """The non-empty objects of a shard at ``epoch``, as ``ObjectId``s."""
        return run_sync(self._prog_list_objects(shard, epoch))

    def listen(self, max_events: int = 16) -> List[ShardEvent]:
        """Blocks until the layout changes (relative to what this handle saw
        last); returns the ``ShardEvent``s."""
        return run_sync(self._op_listen(max_events))

    def snapshot(self, epoch: EpochArg, path: PathArg) -> None:
        """A new container at ``path`` with this one's content at ``epoch``."""
        run_sync(self._op_snapshot(epoch, path))

    def flush(self, epoch: EpochArg = EPOCH_HIGHEST) -> None:
        """Makes this handle's writes durable on every shard."""
        run_sync(self._op_flush(epoch))

    def commit(self, epoch: EpochArg, sync: bool = False) -> None:
        """Commits every write of this handle in epochs <= ``epoch``
        (``sync``: keep ``epoch`` readable for good). On a shard's failure
        the ``DaosError`` has ``.shard``. Writes of this handle in epochs
        that another handle's commit closed first can never be committed:
        they are dropped and the commit raises ``DaosError`` with errno
        ``ESTALE`` (the rest of it is done); write them again at a new epoch,
        best one from ``hold()``."""
        run_sync(self._op_commit(epoch, sync))

    def hold(self, epoch: EpochArg = 0) -> int:
        """Holds an epoch for this handle (``daos_epoch_hold``, an extension):
        the lowest epoch >= ``epoch`` (0: any) above HCE, above every commit
        made and held by no other handle; returns it. No commit moves HCE to
        or past a held epoch until this handle commits it, releases it
        (``release()``), closes, or its process dies: concurrent writers that
        each write at the epoch they hold never lose data. Another handle's
        commit of a higher epoch is durable at once but becomes HCE only then.
        A hold replaces the handle's previous one."""
        return run_sync(self._op_hold(epoch))

    def release(self) -> None:
        """Releases this handle's epoch hold, if any (``daos_epoch_hold``
        with ``EPOCH_HIGHEST``); its writes in the epoch it gave up can no
        longer be committed once HCE passes it (a later commit raises
        ``DaosError`` with errno ``ESTALE``)."""
        run_sync(self._op_release())

    def hold_query(self) -> HoldInfo:
        """``HoldInfo(lowest, own)``: the lowest epoch any live handle holds
        and the one this handle holds (``None``: none)."""
        return run_sync(self._op_hold_query())

    def abort(self, epoch: EpochArg) -> None:
        """Drops this handle's writes and punches in epochs >= ``epoch``."""
        run_sync(self._op_abort(epoch))

    def slip(self, epoch: EpochArg) -> None:
        """Moves this handle's read reference to ``epoch``."""
        run_sync(self._op_slip(epoch))

    def wait(self, epoch: EpochArg = EPOCH_HIGHEST) -> WaitResult:
        """Blocks until HCE >= ``epoch`` (``EPOCH_HIGHEST``: the next
        commit); returns ``WaitResult(hce, layout_changed)``."""
        return run_sync(self._op_wait(epoch))

    def epoch_query(self) -> EpochInfo:
        """``EpochInfo(hce, oldest, slipped, hse, layout_changed)``."""
        return run_sync(self._op_epoch_query())

    @property
    def epoch_info(self) -> EpochInfo:
        """``epoch_query()``."""
        return self.epoch_query()

    @property
    def hce(self) -> int:
        """The highest committed epoch."""
        return self.epoch_query().hce


# --- objects ---------------------------------------------------------------------


def _pairs(items, what):
    out = []
    for x in items:
        try:
            a, b = x
        except (TypeError, ValueError):
            raise TypeError("%s must be (offset, ...) pairs, got %r" % (what, x)) from None
        out.append((a, b))
    return out


def _release_all(bufs):
    for b in bufs:
        b.release()


class _ObjectOps(_Handle):
    _close_call = "daos_object_close"

    def __init__(self, container, h, oid, mode):
        super().__init__(h)
        self.container = container
        self.oid = oid
        self.mode = mode

    def __repr__(self):
        return "<%s %d.%d mode=%s%s>" % (type(self).__name__, self.oid.shard, self.oid.lo,
                                         self.mode, " closed" if self._closed else "")

    def _can_close_at_gc(self):
        return not self.container._closed

    @property
    def closed(self) -> bool:
        return self._closed or self.container._closed

    def _op_io(self, call, fn, epoch, bufs, extents, result, keep):
        """``bufs``: held buffer exports (released when the op is over);
        ``extents``: (offset, length) pairs; totals must match."""
        try:
            e = _u.epoch(epoch)
            io = [(_u.u64(o, "offset"), _u.u64(n, "length")) for o, n in extents]
            mtotal = sum(b.len for b in bufs)
            itotal = sum(n for _, n in io)
            if mtotal != itotal:
                raise ValueError("the buffers hold %d bytes but the extents cover %d"
                                 % (mtotal, itotal))
            mmd, iod = _u.descriptors([(b.addr, b.len) for b in bufs], io)
        except BaseException:
            _release_all(bufs)
            raise
        oh = self._h
        return Op(call, lambda ev: fn(oh, e, byref(mmd), byref(iod), ev),
                  keep=(self, mmd, iod) + tuple(keep), bufs=tuple(bufs), result=result)

    @staticmethod
    def _take(items, writable, what):
        bufs = []
        try:
            for x in items:
                bufs.append(_u.Buf(x, writable, what))
        except BaseException:
            _release_all(bufs)
            raise
        return bufs

    # writes

    def _op_write(self, epoch, offset, data):
        off = _u.u64(offset, "offset")
        bufs = self._take([data], False, "data")
        return self._op_io("daos_object_write", lib.daos_object_write, epoch, bufs,
                           [(off, bufs[0].len)], None, (data,))

    def _op_writev(self, epoch, pieces):
        pieces = _pairs(pieces, "pieces")
        offs = [_u.u64(o, "offset") for o, _ in pieces]
        bufs = self._take([d for _, d in pieces], False, "data")
        return self._op_io("daos_object_write", lib.daos_object_write, epoch, bufs,
                           [(o, b.len) for o, b in zip(offs, bufs)], None,
                           tuple(d for _, d in pieces))

    def _op_write_sg(self, epoch, buffers, extents):
        buffers = list(buffers)
        ext = _pairs(extents, "extents")
        bufs = self._take(buffers, False, "buffers item")
        return self._op_io("daos_object_write", lib.daos_object_write, epoch, bufs, ext, None,
                           tuple(buffers))

    # reads

    def _op_read(self, epoch, offset, length):
        off = _u.u64(offset, "offset")
        n = _u.to_int(length, "length")
        if n < 0:
            raise ValueError("length must be >= 0, got %d" % n)
        b, buf = _u.new_bytes(n)
        return self._op_io("daos_object_read", lib.daos_object_read, epoch, [buf], [(off, n)],
                           lambda: b, (b,))

    def _op_readv(self, epoch, extents):
        ext = _pairs(extents, "extents")
        made = []
        for o, n in ext:
            _u.u64(o, "offset")
            n = _u.to_int(n, "length")
            if n < 0:
                raise ValueError("length must be >= 0, got %d" % n)
            made.append(_u.new_bytes(n))
        return self._op_io("daos_object_read", lib.daos_object_read, epoch,
                           [buf for _, buf in made], ext, lambda: [b for b, _ in made],
                           tuple(b for b, _ in made))

    def _op_read_into(self, epoch, offset, buffer):
        off = _u.u64(offset, "offset")
        bufs = self._take([buffer], True, "buffer")
        n = bufs[0].len
        return self._op_io("daos_object_read", lib.daos_object_read, epoch, bufs, [(off, n)],
                           lambda: n, (buffer,))

    def _op_readv_into(self, epoch, pieces):
        pieces = _pairs(pieces, "pieces")
        offs = [_u.u64(o, "offset") for o, _ in pieces]
        bufs = self._take([b for _, b in pieces], True, "buffer")
        total = sum(b.len for b in bufs)
        return self._op_io("daos_object_read", lib.daos_object_read, epoch, bufs,
                           [(o, b.len) for o, b in zip(offs, bufs)], lambda: total,
                           tuple(b for _, b in pieces))

    def _op_read_sg(self, epoch, buffers, extents):
        buffers = list(buffers)
        ext = _pairs(extents, "extents")
        bufs = self._take(buffers, True, "buffers item")
        total = sum(b.len for b in bufs)
        return self._op_io("daos_object_read", lib.daos_object_read, epoch, bufs, ext,
                           lambda: total, tuple(buffers))

    def _op_punch(self, epoch, begin=0, end=None):
        return self.container._op_punch(epoch, self.oid, begin, end)

    def size(self, epoch: EpochArg = EPOCH_HIGHEST) -> int:
        """Where the object's data ends at ``epoch``: one past its last byte
        written and not punched since (0: no data), as reads at ``epoch`` see
        it. Bytes below it may be holes (zeros). Synchronous in both forms."""
        e = _u.epoch(epoch)
        s = c_uint64(0)
        check(lib.daos_object_size(self._h, e, byref(s)), "daos_object_size")
        return s.value


class Object(_ObjectOps):
    """An object handle (``Container.object``). A context manager (closes on
    exit). Epochs are ints (``EPOCH_HIGHEST`` for the newest); data is any
    bytes-like object, used in place (no copy)."""

    def close(self) -> None:
        """Closes the handle (again, or after its container's close: nothing)."""
        if not self.closed:
            run_sync(self._op_close())
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def write(self, epoch: EpochArg, offset: int, data: Buffer) -> None:
        """Writes ``data`` (any bytes-like object) at ``offset`` in ``epoch``."""
        run_sync(self._op_write(epoch, offset, data))

    def writev(self, epoch: EpochArg, pieces: Sequence[Tuple[int, Buffer]]) -> None:
        """Writes ``[(offset, data), ...]`` in one call."""
        run_sync(self._op_writev(epoch, pieces))

    def write_sg(self, epoch: EpochArg, buffers: Sequence[Buffer],
                 extents: Sequence[Tuple[int, int]]) -> None:
        """Scatter-gather write: the bytes of ``buffers`` (in order) go to the
        ``extents`` ``[(offset, length), ...]`` (in order); totals must match."""
        run_sync(self._op_write_sg(epoch, buffers, extents))

    def read(self, epoch: EpochArg, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` as seen at ``epoch``, as new ``bytes``
        (never written or punched bytes read as zeros)."""
        return run_sync(self._op_read(epoch, offset, length))

    def readv(self, epoch: EpochArg, extents: Sequence[Tuple[int, int]]) -> List[bytes]:
        """``[(offset, length), ...]`` read in one call: a list of ``bytes``."""
        return run_sync(self._op_readv(epoch, extents))

    def read_into(self, epoch: EpochArg, offset: int, buffer: Buffer) -> int:
        """Fills ``buffer`` (any writable, C-contiguous buffer: bytearray,
        memoryview, array, numpy array, mmap) from ``offset``, in place;
        returns the number of bytes read."""
        return run_sync(self._op_read_into(epoch, offset, buffer))

    def readv_into(self, epoch: EpochArg, pieces: Sequence[Tuple[int, Buffer]]) -> int:
        """Fills each buffer of ``[(offset, buffer), ...]`` in one call;
        returns the total bytes."""
        return run_sync(self._op_readv_into(epoch, pieces))

    def read_sg(self, epoch: EpochArg, buffers: Sequence[Buffer],
                extents: Sequence[Tuple[int, int]]) -> int:
        """Scatter-gather read: the ``extents`` (in order) fill the
        ``buffers`` (in order); totals must match. Returns the total bytes."""
        return run_sync(self._op_read_sg(epoch, buffers, extents))

    def punch(self, epoch: EpochArg, begin: int = 0, end: Optional[int] = None) -> None:
        """Discards ``[begin, end)`` (``end`` None: to the end) at ``epoch``."""
        run_sync(self._op_punch(epoch, begin, end))


Container._object_class = Object
