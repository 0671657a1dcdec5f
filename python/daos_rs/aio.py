"""The asyncio API: the names of ``daos_rs.core``, as coroutines.

    from daos_rs import aio

    async def main(path):
        async with aio.Container.open(path, "rw", create=True) as c:
            shard = await c.add_shard(1, target=0)
            async with c.object((shard, 1), "rw") as obj:
                await obj.write(1, 0, b"hello")
                await c.commit(1)
                data = await obj.read(1, 0, 5)

How it works: each event loop gets one event queue (a *driver*) whose file
descriptor is registered with ``loop.add_reader``. An operation takes a
``daos_event`` from the driver's pool, makes the C call with it, and its
future completes when the reader callback polls the event back
(``daos_eq_poll`` without waiting): no thread per operation, no busy
polling, no executor.

- Arguments are checked when a method is called (``TypeError``,
  ``ValueError``, before anything is started); the operation starts at the
  first ``await``. An error the library finds in the arguments raises
  there, without dispatching; an error of the operation itself
  (``ev_error``) raises ``DaosError`` from the ``await``.
- Buffers, descriptors, out-structs and the event stay referenced by the
  driver until the event is polled back, even if the caller drops them or
  the task is cancelled. Cancelling aborts the operation
  (``daos_event_abort``); its memory is kept until the event comes back.
- Closing the loop (``loop.close()``, as ``asyncio.run`` does) or
  ``aio.close()`` aborts what is still in flight, waits for it and
  destroys the queue.

``Store.format``, ``Store.set_target_status`` and
``Container.local2global`` have no asynchronous C form: they are ordinary
(quick) functions here too.
"""

from __future__ import annotations

import asyncio
import errno as _errno

import time
import weakref
from ctypes import POINTER, addressof, byref, c_int, c_void_p, cast

from . import _ffi
from . import _util as _u
from ._ffi import lib
from ._util import Op
from .core import (EPOCH_HIGHEST, TARGET_DISABLED, TARGET_HEALTHY, TARGET_UNKNOWN,
                   _ContainerOps, _ObjectOps, _StoreOps)
from .errors import DaosError, check

from typing import Any, Awaitable, Generator, Generic, List, Optional, Sequence, Tuple, TypeVar

from ._records import (ContainerInfo, EpochInfo, HoldInfo, LocKey, ObjectId, ShardEvent, ShardInfo,
                       TargetEvent, TargetInfo, WaitResult)
from .core import Buffer, EpochArg, OidArg, PathArg

_T = TypeVar("_T")

__all__ = ["Store", "Container", "Object", "noop", "driver", "close", "Driver",
           "EPOCH_HIGHEST", "TARGET_DISABLED", "TARGET_HEALTHY", "TARGET_UNKNOWN"]

_PEV = POINTER(_ffi.daos_event)


class _Pending:
    __slots__ = ("op", "ev", "fut")

    def __init__(self, op, ev, fut):
        self.op = op
        self.ev = ev
        self.fut = fut


class Driver:
    """One event queue per event loop, polled when its descriptor is readable.

    ``inflight`` counts the operations not yet polled back (aborted ones
    included). Use ``aio.driver()`` to get the running loop's."""

    BATCH = 256
    POOL_MAX = 4096

    def __init__(self, loop):
        self._loop_ref = weakref.ref(loop)
        h = _ffi.daos_handle_t()
        check(lib.daos_eq_create(byref(h)), "daos_eq_create")
        fd = c_int(-1)
        rc = lib.daos_eq_get_fd(h, byref(fd))
        if rc < 0:
            lib.daos_eq_destroy(h)
            check(rc, "daos_eq_get_fd")
        self._eq = h
        self._fd = fd.value
        self._free = []  # idle daos_event structs of this queue
        self._inflight = {}  # event address -> _Pending
        self._arr = (c_void_p * self.BATCH)()
        self._arrp = cast(self._arr, POINTER(_PEV))
        self._closed = False
        loop.add_reader(self._fd, self._on_readable)

    @property
    def inflight(self):
        return len(self._inflight)

    @property
    def closed(self):
        return self._closed

    @property
    def handle(self):
        """The event queue's ``daos_handle_t``."""
        return self._eq

    def fileno(self):
        return self._fd

    # events

    def _new_event(self):
        if self._free:
            return self._free.pop()
        ev = _ffi.daos_event()
        check(lib.daos_event_init(byref(ev), self._eq, None), "daos_event_init")
        return ev

    def _recycle(self, ev):
        if len(self._free) < self.POOL_MAX and not self._closed:
            self._free.append(ev)
        else:
            lib.daos_event_fini(byref(ev))

    # operations

    def submit(self, op):
        """Starts ``op`` with an event; returns (future, event). Raises at
        once if the library refuses the arguments."""
        loop = self._loop_ref()
        if self._closed or loop is None:
            op.done()
            raise RuntimeError("the daos_rs.aio driver of this event loop is closed")
        try:
            ev = self._new_event()
        except BaseException:
            op.done()
            raise
        try:
            rc = op.fn(byref(ev))
        except BaseException:
            self._recycle(ev)
            op.done()
            raise
        if rc < 0:  # refused: the event stays idle
            self._recycle(ev)
            exc = op.error(rc)
            op.done()
            raise exc
        fut = loop.create_future()
        self._inflight[addressof(ev)] = _Pending(op, ev, fut)
        return fut, ev

    def abort(self, ev, fut):
        """Aborts the operation of ``ev`` if it is still the one of ``fut``."""
        p = self._inflight.get(addressof(ev))
        if p is not None and p.fut is fut:
            lib.daos_event_abort(byref(ev))

    def _on_readable(self):
        arr = self._arr
        while True:
            n = lib.daos_eq_poll(self._eq, 0, 0, self.BATCH, self._arrp)
            if n <= 0:
                return
            for i in range(n):
                p = self._inflight.pop(arr[i], None)
                if p is not None:
                    self._finish(p)
            if n < self.BATCH:
                return

    def _finish(self, p):
        ev, op, fut = p.ev, p.op, p.fut
        rc = ev.ev_error
        self._recycle(ev)
        try:
            if fut.done():  # cancelled
                return
            if rc < 0:
                fut.set_exception(op.error(rc))
            else:
                fut.set_result(op.result() if op.result is not None else None)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more
        except BaseException as e:
            try:
                if not fut.done():
                    fut.set_exception(e)
            except RuntimeError:
                pass
        finally:
            op.done()

    def close(self, timeout=30.0):
        """Aborts every operation in flight, waits for them (their futures
        get their results, ``DaosError`` EINTR for those aborted), and
        destroys the event queue. Idempotent; safe once the loop is closed."""
        if self._closed:
            return
        self._closed = True
        loop = self._loop_ref()
        if loop is not None and not loop.is_closed():
            try:
                loop.remove_reader(self._fd)
            except Exception:
                pass
        for p in list(self._inflight.values()):
            lib.daos_event_abort(byref(p.ev))
        deadline = time.monotonic() + timeout
        while self._inflight and time.monotonic() < deadline:
            n = lib.daos_eq_poll(self._eq, 1, 100000, self.BATCH, self._arrp)
            if n < 0:
                break
            for i in range(n):
                p = self._inflight.pop(self._arr[i], None)
                if p is not None:
                    self._finish(p)
        if self._inflight or lib.daos_eq_destroy(self._eq) < 0:
            # Still in flight: the forced destroy aborts and waits, so nothing
            # is written into our memory after it.
            lib.daos_eq_destroy_force(self._eq)
            for p in self._inflight.values():
                try:
                    if not p.fut.done():
                        p.fut.set_exception(DaosError(_errno.EINTR, p.op.call, "driver closed"))
                except RuntimeError:
                    pass
                p.op.done()
            self._inflight.clear()
        self._free.clear()  # forgotten with the queue


_drivers: "weakref.WeakKeyDictionary[Any, Driver]" = weakref.WeakKeyDictionary()


def _hook_close(loop):
    """Makes ``loop.close()`` close the loop's driver first."""
    if getattr(loop, "_daos_rs_close_hooked", False):
        return
    orig = loop.close

    def close():
        d = _drivers.pop(orig.__self__, None)
        if d is not None:
            d.close()
        return orig()

    try:
        loop.close = close
        loop._daos_rs_close_hooked = True
    except (AttributeError, TypeError):
        pass  # a loop without instance attributes: the finaliser below does it


def driver(loop=None):
    """The driver of ``loop`` (default: the running loop), made on first use."""
    if loop is None:
        loop = asyncio.get_running_loop()
    d = _drivers.get(loop)
    if d is None or d._closed:
        if loop.is_closed():
            raise RuntimeError("the event loop is closed")
        d = Driver(loop)
        _drivers[loop] = d
        _hook_close(loop)
        weakref.finalize(loop, d.close)
    return d


def close(loop=None):
    """Closes the driver of ``loop`` (default: the running loop): aborts and
    drains what is in flight, destroys its event queue. The next operation
    on the loop makes a new one."""
    if loop is None:
        loop = asyncio.get_running_loop()
    d = _drivers.pop(loop, None)
    if d is not None:
        d.close()


# --- running operations ------------------------------------------------------------


async def _run_op(op):
    drv = driver()
    fut, ev = drv.submit(op)
    try:
        return await fut
    except asyncio.CancelledError:
        drv.abort(ev, fut)
        raise


async def _run_prog(prog, op):
    while True:
        try:
            val = await _run_op(op)
        except BaseException as e:
            try:
                op = prog.throw(e)
            except StopIteration as s:
                return s.value
            continue
        try:
            op = prog.send(val)
        except StopIteration as s:
            return s.value


async def _value(v):
    return v


async def _first(aw):
    return (await aw)[0]


async def _attr(aw, name):
    return getattr(await aw, name)


def _start(prog):
    """Checks the arguments now (the first operation of a program is built
    at once); returns the coroutine that runs it."""
    if isinstance(prog, Op):
        return _run_op(prog)
    try:
        first = next(prog)
    except StopIteration as s:
        return _value(s.value)
    return _run_prog(prog, first)


class _Opening(Generic[_T]):
    """What the ``open`` calls return: awaitable (the opened object) and an
    async context manager (closed on exit)."""

    __slots__ = ("_coro", "_obj")

    def __init__(self, coro: Any):
        self._coro = coro
        self._obj: Any = None

    def __await__(self) -> Generator[Any, None, _T]:
        return self._coro.__await__()

    async def __aenter__(self) -> _T:
        self._obj = await self._coro
        return self._obj

    async def __aexit__(self, *exc):
        await self._obj.close()


def noop(delay_us: int = 0) -> Awaitable[None]:
    """Completes after ``delay_us`` microseconds (``daos_noop`` on the
    loop's event queue)."""
    d = _u.u64(delay_us, "delay_us")
    return _run_op(Op("daos_noop", lambda ev: lib.daos_noop(ev, d)))


class _AsyncHandle:
    closed: bool
    _closed: bool
    _op_close: Any

    def close(self) -> Awaitable[None]:
        """Closes the handle (again: nothing)."""
        if self.closed:
            self._closed = True
            return _value(None)
        return _start(self._op_close())

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


class Store(_AsyncHandle, _StoreOps):
    """``daos_rs.core.Store`` with coroutines. ``await store.targets``."""

    @staticmethod
    def format(path: PathArg, ntargets: Optional[int] = None,
               target_dirs: Optional[Sequence[PathArg]] = None, probe: bool = False) -> None:
        """As ``core.Store.format`` (synchronous: the C call has no event)."""
        _StoreOps._format(path, ntargets, target_dirs, probe)

    @classmethod
    def open(cls, path: PathArg) -> _Opening[Store]:
        """``await Store.open(path)`` or ``async with Store.open(path) as s``."""
        return _Opening(_start(cls._prog_open(path)))

    @property
    def targets(self) -> Awaitable[List[TargetInfo]]:
        """Awaitable: every target's ``TargetInfo``."""
        return _start(self._prog_targets())

    def target(self, target: int) -> Awaitable[TargetInfo]:
        return _start(self._op_target(target))

    def query(self, depth: int = 0, cage: Optional[int] = None, rack: Optional[int] = None,
              node: Optional[int] = None) -> Awaitable[List[LocKey]]:
        return _start(self._prog_query(depth, cage, rack, node))

    def listen(self, max_events: int = 16) -> Awaitable[List[TargetEvent]]:
        return _start(self._op_listen(max_events))


class Container(_AsyncHandle, _ContainerOps):
    """``daos_rs.core.Container`` with coroutines."""

    @classmethod
    def open(cls, path: PathArg, mode: str = "r", create: bool = False,
             nprocess: int = 1, checksums: bool = True) -> _Opening[Container]:
        """``await Container.open(...)`` or ``async with Container.open(...) as c``."""
        return _Opening(_start(cls._op_open(path, mode, create, nprocess, checksums)))

    @staticmethod
    def unlink(path: PathArg) -> Awaitable[None]:
        return _start(_ContainerOps._op_unlink(path))

    @classmethod
    def global2local(cls, buf: Buffer) -> _Opening[Container]:
        return _Opening(_start(cls._op_global2local(buf)))

    def refresh(self, buf: Buffer) -> Awaitable[None]:
        return _start(self._op_refresh(buf))

    def object(self, oid: OidArg, mode: str = "r", buffered: bool = False,
               hint: Optional[str] = None) -> _Opening[Object]:
        """``await c.object(oid, 'rw')`` or ``async with c.object(...) as obj``."""
        return _Opening(_start(self._op_object(oid, mode, buffered, hint)))

    def punch(self, epoch: EpochArg, oid: OidArg, begin: int = 0,
              end: Optional[int] = None) -> Awaitable[None]:
        return _start(self._op_punch(epoch, oid, begin, end))

    def query(self, epoch: EpochArg = EPOCH_HIGHEST) -> Awaitable[ContainerInfo]:
        return _start(self._op_query(epoch))

    def list_shards(self, which: str = "all",
                    epoch: EpochArg = EPOCH_HIGHEST) -> Awaitable[List[int]]:
        return _start(self._prog_list_shards(which, epoch))

    @property
    def shards(self) -> Awaitable[List[int]]:
        """Awaitable: every shard id."""
        return self.list_shards()

    def add_shards(self, epoch: EpochArg, targets: Sequence[int],
                   ids: Optional[Sequence[int]] = None) -> Awaitable[List[int]]:
        return _start(self._op_add_shards(epoch, targets, ids))

    def add_shard(self, epoch: EpochArg, target: int = 0, id: int = -1) -> Awaitable[int]:
        return _first(self.add_shards(epoch, [target], [id]))

    def disable_shards(self, epoch: EpochArg, shards: Sequence[int]) -> Awaitable[None]:
        return _start(self._op_disable_shards(epoch, shards))

    def disable_shard(self, epoch: EpochArg, shard: int) -> Awaitable[None]:
        return self.disable_shards(epoch, [shard])

    def query_shard(self, shard: int, epoch: EpochArg = EPOCH_HIGHEST) -> Awaitable[ShardInfo]:
        return _start(self._op_query_shard(shard, epoch))

    def flush_shard(self, shard: int, epoch: EpochArg = EPOCH_HIGHEST) -> Awaitable[None]:
        return _start(self._op_flush_shard(shard, epoch))

    def list_objects(self, shard: int,
                     epoch: EpochArg = EPOCH_HIGHEST) -> Awaitable[List[ObjectId]]:
        return _start(self._prog_list_objects(shard, epoch))

    def listen(self, max_events: int = 16) -> Awaitable[List[ShardEvent]]:
        return _start(self._op_listen(max_events))

    def snapshot(self, epoch: EpochArg, path: PathArg) -> Awaitable[None]:
        return _start(self._op_snapshot(epoch, path))

    def flush(self, epoch: EpochArg = EPOCH_HIGHEST) -> Awaitable[None]:
        return _start(self._op_flush(epoch))

    def commit(self, epoch: EpochArg, sync: bool = False) -> Awaitable[None]:
        return _start(self._op_commit(epoch, sync))

    def hold(self, epoch: EpochArg = 0) -> Awaitable[int]:
        """Awaitable: ``daos_rs.Container.hold()``."""
        return _start(self._op_hold(epoch))

    def release(self) -> Awaitable[None]:
        """Awaitable: ``daos_rs.Container.release()``."""
        return _start(self._op_release())

    def hold_query(self) -> Awaitable[HoldInfo]:
        """Awaitable: ``daos_rs.Container.hold_query()``."""
        return _start(self._op_hold_query())

    def abort(self, epoch: EpochArg) -> Awaitable[None]:
        return _start(self._op_abort(epoch))

    def slip(self, epoch: EpochArg) -> Awaitable[None]:
        return _start(self._op_slip(epoch))

    def wait(self, epoch: EpochArg = EPOCH_HIGHEST) -> Awaitable[WaitResult]:
        return _start(self._op_wait(epoch))

    def epoch_query(self) -> Awaitable[EpochInfo]:
        return _start(self._op_epoch_query())

    @property
    def epoch_info(self) -> Awaitable[EpochInfo]:
        """Awaitable: ``epoch_query()``."""
        return self.epoch_query()

    @property
    def hce(self) -> Awaitable[int]:
        """Awaitable: the highest committed epoch."""
        return _attr(self.epoch_query(), "hce")


class Object(_AsyncHandle, _ObjectOps):
    """``daos_rs.core.Object`` with coroutines; buffers stay referenced until
    the operation is over."""

    def write(self, epoch: EpochArg, offset: int, data: Buffer) -> Awaitable[None]:
        return _start(self._op_write(epoch, offset, data))

    def writev(self, epoch: EpochArg, pieces: Sequence[Tuple[int, Buffer]]) -> Awaitable[None]:
        return _start(self._op_writev(epoch, pieces))

    def write_sg(self, epoch: EpochArg, buffers: Sequence[Buffer],
                 extents: Sequence[Tuple[int, int]]) -> Awaitable[None]:
        return _start(self._op_write_sg(epoch, buffers, extents))

    def read(self, epoch: EpochArg, offset: int, length: int) -> Awaitable[bytes]:
        return _start(self._op_read(epoch, offset, length))

    def readv(self, epoch: EpochArg, extents: Sequence[Tuple[int, int]]) -> Awaitable[List[bytes]]:
        return _start(self._op_readv(epoch, extents))

    def read_into(self, epoch: EpochArg, offset: int, buffer: Buffer) -> Awaitable[int]:
        return _start(self._op_read_into(epoch, offset, buffer))

    def readv_into(self, epoch: EpochArg, pieces: Sequence[Tuple[int, Buffer]]) -> Awaitable[int]:
        return _start(self._op_readv_into(epoch, pieces))

    def read_sg(self, epoch: EpochArg, buffers: Sequence[Buffer],
                extents: Sequence[Tuple[int, int]]) -> Awaitable[int]:
        return _start(self._op_read_sg(epoch, buffers, extents))

    def punch(self, epoch: EpochArg, begin: int = 0, end: Optional[int] = None) -> Awaitable[None]:
        return _start(self._op_punch(epoch, begin, end))


Container._object_class = Object


def _docs():
    # Each coroutine method says what its synchronous twin says.
    from . import core
    for cls, twin in ((Store, core.Store), (Container, core.Container), (Object, core.Object)):
        for name, member in list(vars(cls).items()):
            if name.startswith("_"):
                continue
            tw = getattr(twin, name, None)
            doc = getattr(tw, "__doc__", None)
            if not doc:
                continue
            if isinstance(member, property):
                if not member.__doc__:
                    setattr(cls, name, property(member.fget, doc="Awaitable: " + doc))
            elif isinstance(member, (staticmethod, classmethod)):
                if not member.__func__.__doc__:
                    member.__func__.__doc__ = doc
            elif callable(member) and not member.__doc__:
                member.__doc__ = "Awaitable. " + doc


_docs()
del _docs
