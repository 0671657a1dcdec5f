#!/usr/bin/env python3
"""The Python row of `make bench`: 4 KiB random reads with 64 in flight on one
asyncio loop, through daos_rs.aio (an object of SIZE bytes, committed, in the
page cache), aiofiles and asyncio.to_thread(os.pread) (a plain file of the same
bytes), in the same run, each measured DURATION_MS after a warm-up, best of RUNS.

    py_aio.py DIR SIZE DURATION_MS RUNS

DIR must exist (the store and the file are made in it). Prints one line per
system: "<name> <reads per second>", or "<name> n/a <why>" if it could not be
measured (aiofiles not installed). Exits non-zero on a daos_rs error.
"""

import asyncio
import os
import random
import sys
import time

import daos_rs
from daos_rs import Store, aio

BLOCK = 4096
INFLIGHT = 64
MIB = 1 << 20


def offsets(size, seed):
    rng = random.Random(seed)
    blocks = size // BLOCK
    while True:
        yield rng.randrange(blocks) * BLOCK


async def drive(read_one, size, duration, seed):
    """Keeps INFLIGHT reads going for `duration` s; returns reads per second."""
    gen = offsets(size, seed)
    done = 0
    stop = time.perf_counter() + duration

    async def worker(w):
        nonlocal done
        while time.perf_counter() < stop:
            await read_one(next(gen), w)
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*[worker(w) for w in range(INFLIGHT)])
    return done / (time.perf_counter() - t0)


async def measure(read_one, size, duration, runs):
    await drive(read_one, size, duration / 4, 1)  # warm-up
    return max([await drive(read_one, size, duration, 2 + r) for r in range(runs)])


async def main(root, size, duration, runs):
    src = bytes(range(256)) * (MIB // 256)
    store = os.path.join(root, "store")
    os.mkdir(store)
    Store.format(store, ntargets=1)
    results = []
    async with aio.Container.open(os.path.join(store, "c"), "rw", create=True) as c:
        shard = await c.add_shard(1, target=0)
        obj = await c.object((shard, 1), "rw")
        for i in range(size // MIB):
            await obj.write(1, i * MIB, src)
        await c.commit(1)
        for i in range(size // MIB):  # into the page cache, and checked
            if await obj.read(daos_rs.EPOCH_HIGHEST, i * MIB, MIB) != src:
                raise SystemExit("daos_rs.aio: MiB %d differs from what was written" % i)
        bufs = [bytearray(BLOCK) for _ in range(INFLIGHT)]

        async def daos_read(off, w):
            n = await obj.read_into(daos_rs.EPOCH_HIGHEST, off, bufs[w])
            assert n == BLOCK

        results.append(("daos_rs.aio", await measure(daos_read, size, duration, runs)))
        await obj.close()

    path = os.path.join(root, "plain.dat")
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(src)
        f.flush()
        os.fsync(f.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        async def thread_read(off, w):
            b = await asyncio.to_thread(os.pread, fd, BLOCK, off)
            assert len(b) == BLOCK

        results.append(("asyncio.to_thread(os.pread)",
                        await measure(thread_read, size, duration, runs)))
    finally:
        os.close(fd)

    try:
        import aiofiles
    except ImportError as e:
        results.append(("aiofiles", None, "not installed (%s)" % e))
    else:
        # aiofiles has no pread: one file object per reader, seek + read, as
        # its users do.
        files = [await aiofiles.open(path, "rb", buffering=0) for _ in range(INFLIGHT)]
        try:
            async def aiofiles_read(off, w):
                await files[w].seek(off)
                b = await files[w].read(BLOCK)
                assert len(b) == BLOCK

            results.append(("aiofiles", await measure(aiofiles_read, size, duration, runs)))
        finally:
            for f in files:
                await f.close()
    for r in results:
        if r[1] is None:
            print("%s n/a %s" % (r[0], r[2]))
        else:
            print("%s %.1f" % (r[0], r[1]))


if __name__ == "__main__":
    root, size, duration_ms, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    asyncio.run(main(root, size, duration_ms / 1000.0, runs))
