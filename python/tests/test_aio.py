"""The asyncio API: hundreds of concurrent reads and writes, open/close,
commit/wait, listens, cancellation, errors, closing a loop with operations in
flight, and how it is driven (one EQ per loop, no busy polling, no thread per
operation)."""

import asyncio
import errno
import os
import time

import pytest

from daos_rs import EPOCH_HIGHEST, TARGET_DISABLED, DaosError, ObjectId, Store, aio


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def new_container(store_path, name="c", nshards=2):
    c = await aio.Container.open(os.path.join(store_path, name), "rw", create=True)
    if nshards:
        assert await c.add_shards(1, [i % 2 for i in range(nshards)]) == list(range(nshards))
    return c


def test_500_concurrent_writes_then_reads(store_path, make_pattern):
    N = 500

    async def main():
        async with await new_container(store_path) as c:
            objs = [await c.object((s, 7), "rw") for s in (0, 1)]
            datas = [make_pattern(i) for i in range(N)]
            await asyncio.gather(*[objs[i % 2].write(1, (i // 2) * 4096, datas[i])
                                   for i in range(N)])
            await c.commit(1)
            got = await asyncio.gather(*[objs[i % 2].read(1, (i // 2) * 4096, 4096)
                                         for i in range(N)])
            assert all(type(g) is bytes for g in got)
            assert got == datas  # byte-exact, each at its place
            # concurrent reads into slices of one buffer, in place
            big = bytearray(N * 4096)
            mv = memoryview(big)
            ns = await asyncio.gather(*[objs[i % 2].read_into(1, (i // 2) * 4096,
                                                              mv[i * 4096:(i + 1) * 4096])
                                        for i in range(N)])
            assert ns == [4096] * N
            assert bytes(big) == b"".join(datas)
            for o in objs:
                await o.close()
            assert aio.driver().inflight == 0

    run(main())


def test_open_close_and_metadata(store_path):
    async def main():
        async with aio.Store.open(store_path) as s:
            assert s.ntargets == 2
            infos = await s.targets
            assert [t.target for t in infos] == [0, 1] and infos[0].type in ("SSD", "HDD")
            assert (await s.target(1)).status == 100
            assert [k.type for k in await s.query()] == ["cage", "rack", "node", "target",
                                                         "target"]
            with pytest.raises(DaosError) as ei:
                await s.target(9)
            assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_sys_query_target"
        assert s.closed
        path = os.path.join(store_path, "meta")
        async with aio.Container.open(path, "rw", create=True) as c:
            assert c.status == 0
            assert await c.add_shard(1, 1) == 0
            assert await c.shards == [0]
            assert await c.list_shards("disabled") == []
            info = await c.query()
            assert info.nshard == 1
            si = await c.query_shard(0)
            assert si.target == 1
            async with c.object((0, 3), "rw") as o:
                await o.write(1, 0, b"async!")
                await o.writev(1, [(100, b"v1"), (200, bytearray(b"v2"))])
                assert await o.readv(1, [(0, 6), (100, 2), (200, 2)]) == [b"async!", b"v1",
                                                                          b"v2"]
                await o.write_sg(1, [b"ab", b"cd"], [(300, 3), (400, 1)])
                a, b = bytearray(1), bytearray(3)
                assert await o.read_sg(1, [a, b], [(400, 1), (300, 3)]) == 4
                assert (a, b) == (b"d", b"abc")
                x = bytearray(2)
                assert await o.readv_into(1, [(100, x)]) == 2 and x == b"v1"
                await o.punch(1, 2, 4)
                assert await o.read(1, 0, 6) == b"as\0\0c!"
            assert o.closed
            await c.punch(1, (0, 3), 300, 304)
            await c.flush(1)
            await c.flush_shard(0, 1)
            await c.commit(1)
            assert await c.hce == 1
            assert (await c.epoch_info).hce == 1
            assert await c.list_objects(0) == [ObjectId(0, 3)]
            await c.snapshot(1, path + "-snap")
            await c.slip(EPOCH_HIGHEST)
            assert (await c.epoch_query()).slipped == 1
            await c.disable_shard(2, 0)
            assert await c.list_shards("disabled") == [0]
        assert c.closed
        await c.close()  # again: nothing
        async with aio.Container.open(path + "-snap") as snap:
            async with snap.object((0, 3)) as o:
                assert await o.read(EPOCH_HIGHEST, 0, 6) == b"as\0\0c!"
        await aio.Container.unlink(path + "-snap")
        await aio.Container.unlink(path)
        assert not os.path.exists(path)
        with pytest.raises(DaosError) as ei:
            await aio.Container.open(path, "rw")
        assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_container_open"
        # aio.Store.format is the synchronous call
        d = os.path.join(store_path, "..", "fmt")
        os.mkdir(d)
        aio.Store.format(d, ntargets=1)
        s = await aio.Store.open(d)
        assert s.ntargets == 1
        await s.close()

    run(main())


def test_commit_wakes_wait(store_path):
    async def main():
        c = await new_container(store_path)
        o = await c.object((0, 1), "rw")
        waiter = asyncio.ensure_future(c.wait(2))
        nxt = asyncio.ensure_future(c.wait())
        await asyncio.sleep(0.05)
        assert not waiter.done() and not nxt.done()
        await o.write(1, 0, b"one")
        await c.commit(1)
        r = await asyncio.wait_for(nxt, 10)
        assert r.hce == 1
        await asyncio.sleep(0.02)
        assert not waiter.done()
        await o.write(2, 0, b"two")
        await c.commit(2)
        r = await asyncio.wait_for(waiter, 10)
        assert r.hce == 2
        await c.abort(3)
        with pytest.raises(DaosError) as ei:
            await c.abort(2)
        assert ei.value.errno == errno.EPERM and ei.value.call == "daos_epoch_abort"
        await o.close()
        await c.close()

    run(main())


def test_listens(store_path):
    async def main():
        c = await new_container(store_path, "l", nshards=1)
        assert [e.shard for e in await c.listen()] == [0]  # its own change, since it opened
        other = await aio.Container.open(c.path, "rw")
        pending = asyncio.ensure_future(c.listen())
        await asyncio.sleep(0.05)
        assert not pending.done()
        await other.add_shard(2, 1, id=4)
        evs = await asyncio.wait_for(pending, 10)
        assert [(e.shard, e.target) for e in evs] == [(4, 1)]
        async with aio.Store.open(store_path) as s:
            pend = asyncio.ensure_future(s.listen())
            await asyncio.sleep(0.05)
            assert not pend.done()
            s.set_target_status(0, TARGET_DISABLED)  # synchronous in both forms
            evs = await asyncio.wait_for(pend, 10)
            assert (0, TARGET_DISABLED) in [(e.target, e.status) for e in evs]
            s.enable_target(0)
        await other.close()
        await c.close()

    run(main())


def test_cancellation(store_path, make_pattern):
    async def main():
        drv = aio.driver()
        c = await new_container(store_path)
        # a pending wait and a long noop, cancelled: aborted, polled back, nothing left
        w = asyncio.ensure_future(c.wait(100))
        n = asyncio.ensure_future(aio.noop(10_000_000))
        await asyncio.sleep(0.05)
        assert drv.inflight == 2
        t0 = time.monotonic()
        w.cancel()
        n.cancel()
        for t in (w, n):
            with pytest.raises(asyncio.CancelledError):
                await t
        deadline = time.monotonic() + 5
        while drv.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert drv.inflight == 0 and time.monotonic() - t0 < 3
        # many writes, half of them cancelled at once: no crash, the others land
        o = await c.object((0, 1), "rw")
        datas = [make_pattern(i, 1024) for i in range(200)]
        tasks = [asyncio.ensure_future(o.write(1, i * 1024, datas[i])) for i in range(200)]
        await asyncio.sleep(0)
        for t in tasks[::2]:
            t.cancel()
        res = await asyncio.gather(*tasks, return_exceptions=True)
        for i, r in enumerate(res):
            if i % 2:
                assert r is None
            else:
                assert r is None or isinstance(r, (asyncio.CancelledError, DaosError))
        while drv.inflight:
            await asyncio.sleep(0.005)
        got = await asyncio.gather(*[o.read(1, i * 1024, 1024) for i in range(1, 200, 2)])
        assert got == datas[1::2]
        # a cancelled wait with a timeout
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.wait(1000), 0.05)
        while drv.inflight:
            await asyncio.sleep(0.005)
        await o.close()
        await c.close()

    run(main())


def test_errors(store_path):
    async def main():
        c = await new_container(store_path)
        o = await c.object((0, 1), "rw")
        # argument checks raise at the call, before anything starts
        with pytest.raises(TypeError):
            c.commit("1")
        with pytest.raises(ValueError):
            o.write(1, -1, b"x")
        with pytest.raises(TypeError):
            o.read_into(1, 0, b"read-only")
        with pytest.raises(ValueError):
            aio.Container.open(store_path + "/x", "rwx")
        with pytest.raises(ValueError):
            aio.noop(-5)
        # what the library refuses raises from the await, nothing dispatched
        await o.write(1, 0, b"data")
        await c.commit(1)
        with pytest.raises(DaosError) as ei:
            await o.write(1, 0, b"late")
        assert ei.value.errno == errno.EPERM and ei.value.call == "daos_object_write"
        # failures of the operation itself raise from the await too
        with pytest.raises(DaosError) as ei:
            await c.add_shard(2, 9)
        assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_shard_add"
        with pytest.raises(DaosError) as ei:
            await c.object((9, 9))
        assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_object_open"
        assert aio.driver().inflight == 0
        await o.close()
        await c.close()
        with pytest.raises(DaosError) as ei:
            await c.query()
        assert ei.value.errno == errno.EBADF and ei.value.call == "daos_container_query"

    run(main())


def test_one_driver_per_loop():
    async def get():
        d = aio.driver()
        assert aio.driver() is d
        await aio.noop(0)
        return d

    loop1 = asyncio.new_event_loop()
    loop2 = asyncio.new_event_loop()
    try:
        d1 = loop1.run_until_complete(get())
        d2 = loop2.run_until_complete(get())
        assert d1 is not d2 and d1.fileno() != d2.fileno()
        assert loop1.run_until_complete(get()) is d1
    finally:
        loop1.close()
        loop2.close()
    assert d1.closed and d2.closed  # loop.close() closes the driver

    async def reopen():
        d = aio.driver()
        aio.close()
        assert d.closed
        await aio.noop(0)  # a new driver
        d2 = aio.driver()
        assert d2 is not d and not d2.closed

    run(reopen())


def test_close_driver_with_operations_in_flight(store_path):
    async def main():
        c = await new_container(store_path)
        o = await c.object((1, 1), "rw")
        long = asyncio.ensure_future(aio.noop(10_000_000))
        wait = asyncio.ensure_future(c.wait(50))
        writes = [asyncio.ensure_future(o.write(1, i * 512, os.urandom(512)))
                  for i in range(50)]
        await asyncio.sleep(0.02)
        t0 = time.monotonic()
        aio.close()  # aborts and drains
        assert time.monotonic() - t0 < 5
        for t in [long, wait]:
            with pytest.raises(DaosError) as ei:
                await t
            assert ei.value.errno == errno.EINTR
        for t in writes:
            assert t.exception() is None or isinstance(t.exception(), DaosError)
        await o.close()  # on a new driver
        await c.close()

    run(main())


def test_loop_closed_with_operations_in_flight(store_path):
    """asyncio.run cancels what is left, then closes the loop: no crash, and
    operations that no task awaits are aborted and drained."""
    state = {}

    async def main():
        c = await new_container(store_path)
        state["c"] = c
        asyncio.ensure_future(c.wait(1000))  # cancelled by asyncio.run
        asyncio.ensure_future(aio.noop(10_000_000))
        # an operation in flight that no task awaits
        coro = aio.noop(10_000_000)
        it = coro.__await__()
        state["fut"] = it.send(None)
        state["drv"] = aio.driver()
        await asyncio.sleep(0.02)
        assert state["drv"].inflight == 3

    t0 = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - t0 < 5
    assert state["drv"].closed and state["drv"].inflight == 0
    assert isinstance(state["fut"].exception(), DaosError)
    assert state["fut"].exception().errno == errno.EINTR


def test_no_busy_polling(store_path):
    async def main():
        c = await new_container(store_path, nshards=1)
        await aio.noop(0)  # the driver exists
        cpu0, t0 = time.process_time(), time.monotonic()
        await aio.noop(300_000)
        w = asyncio.ensure_future(c.wait(5))
        await asyncio.sleep(0.3)
        cpu = time.process_time() - cpu0
        assert time.monotonic() - t0 >= 0.55
        assert cpu < 0.2, "%.3f s of CPU while waiting 0.6 s" % cpu
        w.cancel()
        await c.close()

    run(main())


def _threads():
    return len(os.listdir("/proc/self/task"))


def test_no_thread_per_operation(store_path):
    async def main():
        c = await new_container(store_path, nshards=1)
        o = await c.object((0, 1), "rw")
        await o.write(1, 0, b"warm")
        await c.flush(1)
        before = _threads()
        tasks = [asyncio.ensure_future(o.write(1, i * 4096, bytes(4096))) for i in range(300)]
        tasks += [asyncio.ensure_future(c.query()) for _ in range(20)]
        await asyncio.sleep(0)
        during = _threads()
        await asyncio.gather(*tasks)
        assert during - before <= 2, (before, during)
        await o.close()
        await c.close()

    run(main())


def test_sync_and_async_handles_together(store_path):
    """A handle opened synchronously is not usable with await (and vice
    versa), but both kinds work on one container."""
    from daos_rs import Container
    p = os.path.join(store_path, "mixed")
    with Container.open(p, "rw", create=True) as c:
        c.add_shard(1, 0)
        with c.object((0, 1), "rw") as o:
            o.write(1, 0, b"sync")
        c.commit(1)

        async def main():
            async with aio.Container.open(p) as ac, ac.object((0, 1)) as ao:
                return await ao.read(EPOCH_HIGHEST, 0, 4)

        assert run(main()) == b"sync"
