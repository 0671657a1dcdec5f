#!/usr/bin/env python3
"""daos-rs with asyncio: many concurrent reads and writes on one event loop.

The loop drives one daos-rs event queue through its file descriptor (no
thread per operation): 1000 writes of 4 KiB go out at once, are committed,
read back concurrently (into new bytes, and in place into one big buffer)
and verified byte for byte. A wait for a future epoch runs beside them and
is woken by the commit.

    python3 python/examples/async_io.py [COUNT]      (from the repository root)

Exits 0 on success.
"""

import asyncio
import hashlib
import os
import shutil
import sys
import tempfile
import time

try:
    import daos_rs
except ImportError:  # not installed: the source tree's package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import daos_rs

from daos_rs import Store, aio

BLOCK = 4096


def block(i):
    """4 KiB that depend on i."""
    seed = hashlib.sha256(i.to_bytes(8, "little")).digest()
    return seed * (BLOCK // len(seed))


async def run(root, count):
    path = os.path.join(root, "async-demo")
    async with aio.Container.open(path, "rw", create=True) as c:
        shards = await c.add_shards(1, targets=[0, 1])
        objs = [await c.object((s, 1), "rw") for s in shards]

        def where(i):            # block i: alternate objects, consecutive offsets
            return objs[i % 2], (i // 2) * BLOCK

        waiter = asyncio.ensure_future(c.wait(1))        # woken by the commit below

        t0 = time.perf_counter()
        await asyncio.gather(*[where(i)[0].write(1, where(i)[1], block(i))
                               for i in range(count)])
        t1 = time.perf_counter()
        await c.commit(1)
        print("%d concurrent writes of 4 KiB: %.3f s; commit woke the wait: HCE %d"
              % (count, t1 - t0, (await waiter).hce))

        t0 = time.perf_counter()
        got = await asyncio.gather(*[where(i)[0].read(1, where(i)[1], BLOCK)
                                     for i in range(count)])
        t1 = time.perf_counter()
        bad = [i for i, g in enumerate(got) if g != block(i)]
        print("%d concurrent reads: %.3f s, %d mismatches" % (count, t1 - t0, len(bad)))

        # in place: each read fills its slice of one buffer, no copy
        big = bytearray(count * BLOCK)
        view = memoryview(big)
        await asyncio.gather(*[where(i)[0].read_into(1, where(i)[1],
                                                     view[i * BLOCK:(i + 1) * BLOCK])
                               for i in range(count)])
        same = bytes(big) == b"".join(block(i) for i in range(count))
        print("read_into slices of one buffer: %s" % ("identical" if same else "DIFFERENT"))

        for o in objs:
            await o.close()
    await aio.Container.unlink(path)
    return not bad and same


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    root = tempfile.mkdtemp(prefix="daos-async-")
    try:
        Store.format(root, ntargets=2)
        ok = asyncio.run(run(root, count))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("async_io: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
