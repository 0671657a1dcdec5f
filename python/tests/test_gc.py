"""Garbage-collection safety: buffers, events and handles in flight stay
alive until the library is done with them, whatever the caller drops, and
are released afterwards; things destroyed in odd orders do not crash."""

import array
import asyncio
import ctypes
import errno
import gc
import os
import time
import weakref

import pytest

from daos_rs import DaosError, EventQueue, aio, noop


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def new_container(store_path, name="c"):
    c = await aio.Container.open(os.path.join(store_path, name), "rw", create=True)
    await c.add_shards(1, [0, 1])
    return c


async def drained():
    drv = aio.driver()
    deadline = time.monotonic() + 10
    while drv.inflight and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    assert drv.inflight == 0


def test_async_writes_from_dropped_buffers(store_path, make_pattern):
    N = 300

    def fresh(i):
        # a buffer nobody else refers to, of a different kind each time
        d = make_pattern(i, 4096)
        k = i % 4
        if k == 0:
            return bytearray(d)
        if k == 1:
            return array.array("B", d)
        if k == 2:
            return memoryview(bytes(d))[0:4096]
        return (ctypes.c_char * 4096).from_buffer_copy(d)

    async def main():
        c = await new_container(store_path)
        objs = [await c.object((s, 1), "rw") for s in (0, 1)]
        # coroutines made (buffers exported) but not started, then tasks started:
        # only the operations refer to the buffers
        coros = [objs[i % 2].write(1, (i // 2) * 4096, fresh(i)) for i in range(N // 2)]
        tasks = [asyncio.ensure_future(objs[i % 2].write(1, (i // 2) * 4096, fresh(i)))
                 for i in range(N // 2, N)]
        gc.collect()
        await asyncio.sleep(0)  # the tasks submit
        gc.collect()
        await asyncio.gather(*coros, *tasks)
        del coros, tasks
        gc.collect()
        await c.commit(1)
        got = await asyncio.gather(*[objs[i % 2].read(1, (i // 2) * 4096, 4096)
                                     for i in range(N)])
        for i, g in enumerate(got):
            assert g == make_pattern(i, 4096), i
        for o in objs:
            await o.close()
        await c.close()

    run(main())


def _start(coro):
    """Runs ``coro`` up to the point where it waits for its event (the
    operation is then in flight) without yielding to the event loop."""
    it = coro.__await__()
    fut = it.send(None)
    return it, fut


def test_driver_alone_keeps_the_buffer_alive(store_path, make_pattern):
    async def main():
        c = await new_container(store_path)
        o = await c.object((0, 1), "rw")
        await aio.noop(0)
        drv = aio.driver()
        data = array.array("B", make_pattern(5, 65536))
        wr = weakref.ref(data)
        coro = o.write(1, 0, data)
        it, fut = _start(coro)
        assert drv.inflight == 1
        del data, coro, it  # the caller forgets the buffer and the coroutine
        gc.collect()
        assert wr() is not None  # still referenced by the operation in flight
        await drained()
        gc.collect()
        assert wr() is None  # released once polled back
        assert fut.done() and fut.exception() is None
        # the same for a read into a buffer
        out = array.array("B", bytes(65536))
        wr = weakref.ref(out)
        it, fut = _start(o.read_into(1, 0, out))
        del out, it
        gc.collect()
        assert wr() is not None
        await drained()
        gc.collect()
        assert wr() is None and fut.result() == 65536
        assert await o.read(1, 0, 65536) == make_pattern(5, 65536)
        await o.close()
        await c.close()

    run(main())


def test_cancelled_operation_keeps_its_buffer_until_polled(store_path):
    async def main():
        c = await new_container(store_path)
        o = await c.object((1, 1), "rw")
        await aio.noop(0)
        drv = aio.driver()
        out = array.array("B", bytes(1 << 20))
        wr = weakref.ref(out)
        it, fut = _start(o.read_into(1, 0, out))
        with pytest.raises(asyncio.CancelledError):
            fut.cancel()
            it.throw(asyncio.CancelledError())  # the task is cancelled: abort
        del out, it
        gc.collect()
        assert wr() is not None and drv.inflight == 1
        await drained()
        gc.collect()
        assert wr() is None
        # a cancelled long wait holds its out-structs until aborted and polled
        w = asyncio.ensure_future(c.wait(1000))
        await asyncio.sleep(0.01)
        w.cancel()
        del w
        gc.collect()
        await drained()
        await o.close()
        await c.close()

    run(main())


def test_buffer_cannot_be_resized_while_in_flight(store_path):
    async def main():
        c = await new_container(store_path)
        o = await c.object((0, 1), "rw")
        ba = bytearray(4096)
        pending = o.read_into(1, 0, ba)  # exported from the call on
        with pytest.raises(BufferError):
            ba.extend(b"more")
        await pending
        ba.extend(b"more")  # released
        data = bytearray(b"x" * 100)
        pending = o.write(1, 0, data)
        with pytest.raises(BufferError):
            del data[:10]
        await pending
        del data[:10]
        await o.close()
        await c.close()

    run(main())


def test_event_dropped_in_flight():
    with EventQueue() as eq:
        ev = eq.event()
        calls = []
        ev.register_callback(lambda e, rc: calls.append(rc))
        noop(ev, 50_000)
        wr = weakref.ref(ev)
        del ev
        gc.collect()
        assert wr() is not None  # the queue keeps it until polled
        got = eq.poll(timeout=5)
        assert len(got) == 1 and got[0] is wr() and calls == [0]
        del got
        gc.collect()
        assert wr() is None  # finalised once dropped while idle
        # a child dropped in flight: its parent (and so itself) stays alive
        parent = eq.event()
        child = eq.event(parent)
        noop(child, 20_000)
        wc = weakref.ref(child)
        del parent, child
        gc.collect()
        assert wc() is not None
        got = eq.poll(timeout=5)
        assert len(got) == 1 and got[0].children == [wc()]
        del got
        gc.collect()
        assert wc() is None and eq.query() == 0


def test_event_queue_dropped_with_events_in_flight():
    eq = EventQueue()
    evs = [eq.event() for _ in range(4)]
    for e in evs:
        noop(e, 10_000_000)
    u = eq.event()
    u.launch()
    t0 = time.monotonic()
    del eq, evs, u, e
    gc.collect()  # the queue is destroyed forcibly: aborted, waited for
    assert time.monotonic() - t0 < 5


def test_odd_orders(store_path):
    from daos_rs import Container, Store
    s = Store.open(store_path)
    p = os.path.join(store_path, "odd")
    c = Container.open(p, "rw", create=True)
    c.add_shard(1, 0)
    o = c.object((0, 1), "rw")
    o.write(1, 0, b"data")
    s.close()  # the store first: the container does not care
    Container.unlink(p)  # unlinked while open
    c.commit(1)
    assert o.read(1, 0, 4) == b"data"
    c.close()  # the container before its object
    o.close()
    with pytest.raises(DaosError) as ei:
        o.read(1, 0, 4)
    assert ei.value.errno == errno.EBADF
    # the event queue destroyed before its events are finalised
    eq = EventQueue()
    ev = eq.event()
    noop(ev, 0)
    eq.poll(timeout=5)
    eq.destroy()
    ev.fini()
    del ev
    gc.collect()
    # objects and containers dropped without closing: closed by the collector
    c = Container.open(os.path.join(store_path, "dropped"), "rw", create=True)
    c.add_shard(1, 1)
    o = c.object((0, 1), "rw")
    o.write(1, 0, b"gone")
    del c, o
    gc.collect()
    with Container.open(os.path.join(store_path, "dropped")) as c2:
        assert c2.hce == 0  # the uncommitted write went with the handle


def test_async_object_dropped_and_container_closed_in_flight(store_path, make_pattern):
    async def main():
        c = await new_container(store_path)
        o = await c.object((0, 1), "rw")
        await o.write(1, 0, make_pattern(1, 1 << 16))
        await c.commit(1)
        reads = [asyncio.ensure_future(o.read(1, i * 1024, 1024)) for i in range(64)]
        del o  # the object wrapper: kept by its operations
        gc.collect()
        closing = asyncio.ensure_future(c.close())  # while reads are in flight
        res = await asyncio.gather(*reads, return_exceptions=True)
        await closing
        for i, r in enumerate(res):
            assert r == make_pattern(1, 1 << 16)[i * 1024:(i + 1) * 1024] or (
                isinstance(r, DaosError) and r.errno == errno.EBADF)
        await drained()

    run(main())


def test_loop_closed_with_dropped_buffers_in_flight(store_path):
    refs = []

    async def main():
        c = await new_container(store_path)
        o = await c.object((1, 1), "rw")
        for i in range(32):
            buf = array.array("B", os.urandom(4096))
            refs.append(weakref.ref(buf))
            asyncio.ensure_future(o.write(1, i * 4096, buf))
            del buf
        w = array.array("B", bytes(16))
        refs.append(weakref.ref(w))
        _start(o.read_into(1, 0, w))  # no task at all
        del w
        gc.collect()
        # main returns: asyncio.run cancels the tasks and closes the loop

    asyncio.run(main())
    gc.collect()
    assert all(r() is None for r in refs)
