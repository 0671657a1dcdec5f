"""Independent writers (issue 15): a commit that lost its writes to another
handle's commit raises DaosError(ESTALE); epoch holds (Container.hold) give
each writer an epoch no other commit passes, synchronously, through
daos_rs.aio, and across processes (concurrent writers all read back, a
SIGKILLed holder frees its epoch)."""

import asyncio
import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import daos_rs
from daos_rs import EPOCH_HIGHEST, Container, DaosError, HoldInfo, aio


def put(c, epoch, data, lo, shard=0):
    with c.object((shard, lo), "rw") as o:
        o.write(epoch, 0, data)


def get(c, lo, n, shard=0, epoch=EPOCH_HIGHEST):
    with c.object((shard, lo)) as o:
        return o.read(epoch, 0, n)


def _env():
    env = dict(os.environ)
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(daos_rs.__file__)))
    env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_second_commit_of_one_epoch_raises_estale(containers):
    a = containers.make(1)
    b = containers.open(a.path, "rw")
    e = a.hce + 1
    put(a, e, b"AAAA", 1)
    put(b, e, b"BBBB", 2)
    a.commit(e)
    with pytest.raises(DaosError) as ei:
        b.commit(e)
    assert ei.value.errno == errno.ESTALE and ei.value.call == "daos_epoch_commit"
    assert ei.value.name == "ESTALE"
    # Reported once; the data never shows.
    b.commit(e)
    assert get(b, 1, 4) == b"AAAA" and get(b, 2, 4) == b"\0\0\0\0"


def test_holds_give_distinct_epochs_and_both_commits_show(containers):
    a = containers.make(2)
    b = containers.open(a.path, "rw")
    r = containers.open(a.path, "r")
    for first_a in (True, False):
        ea, eb = a.hold(), b.hold()
        assert ea != eb and min(ea, eb) > r.hce
        assert r.hold_query() == HoldInfo(lowest=min(ea, eb), own=None)
        assert a.hold_query().own == ea
        put(a, ea, b"a%03d" % ea, 10 + ea, shard=0)
        put(b, eb, b"b%03d" % eb, 10 + eb, shard=1)
        order = [(a, ea), (b, eb)] if first_a else [(b, eb), (a, ea)]
        order[0][0].commit(order[0][1])
        if order[0][1] > order[1][1]:
            # durable, but waiting below the other's hold
            info = r.epoch_query()
            assert info.hce == order[1][1] - 1 and info.hse == order[0][1]
        order[1][0].commit(order[1][1])
        assert r.hce == max(ea, eb)
        assert get(r, 10 + ea, 4, shard=0) == b"a%03d" % ea
        assert get(r, 10 + eb, 4, shard=1) == b"b%03d" % eb
        assert r.hold_query() == HoldInfo(None, None)


def test_release_and_close_free_a_hold(containers):
    a = containers.make(1)
    b = containers.open(a.path, "rw")
    ea, eb = a.hold(), b.hold()
    assert eb > ea
    put(b, eb, b"BBBB", 1)
    b.commit(eb)
    assert a.hce == ea - 1
    put(a, ea, b"AAAA", 2)
    a.release()
    assert a.hold_query().own is None
    assert b.hce == eb
    # its write in the epoch it gave up can no longer be committed: ESTALE
    with pytest.raises(DaosError) as ei:
        a.commit(ea)
    assert ei.value.errno == errno.ESTALE
    assert get(b, 2, 4) == b"\0\0\0\0"
    ea, eb = a.hold(), b.hold()
    put(b, eb, b"bbbb", 1)
    b.commit(eb)
    assert b.hce == ea - 1
    a.close()
    assert b.hce == eb and get(b, 1, 4) == b"bbbb"
    b.release()  # (no hold: nothing to do)
    with pytest.raises(DaosError) as ei:
        a.hold()
    assert ei.value.errno == errno.EBADF


def test_read_only_handle_cannot_hold(containers):
    c = containers.make(1)
    r = containers.open(c.path, "r")
    with pytest.raises(DaosError) as ei:
        r.hold()
    assert ei.value.errno == errno.EPERM and ei.value.call == "daos_epoch_hold"


def test_aio_hold_commit_and_estale(store_path):
    async def main():
        path = os.path.join(store_path, "c")
        a = await aio.Container.open(path, "rw", create=True)
        assert await a.add_shards(1, [0]) == [0]
        b = await aio.Container.open(path, "rw")
        ea = await a.hold()
        eb = await b.hold()
        assert ea != eb
        assert (await b.hold_query()).own == eb
        oa = await a.object((0, 1), "rw")
        ob = await b.object((0, 2), "rw")
        await asyncio.gather(oa.write(ea, 0, b"aaaa"), ob.write(eb, 0, b"bbbb"))
        await asyncio.gather(b.commit(eb), a.commit(ea))
        assert await a.hce == max(ea, eb)
        assert await oa.read(EPOCH_HIGHEST, 0, 4) == b"aaaa"
        assert await ob.read(EPOCH_HIGHEST, 0, 4) == b"bbbb"
        # without holds: the second commit of one epoch raises ESTALE
        e = await a.hce + 1
        await oa.write(e, 0, b"AAAA")
        await ob.write(e, 0, b"BBBB")
        await a.commit(e)
        with pytest.raises(DaosError) as ei:
            await b.commit(e)
        assert ei.value.errno == errno.ESTALE
        # release through aio
        await a.hold()
        assert await a.release() is None
        assert (await a.hold_query()) == HoldInfo(None, None)
        for h in (oa, ob):
            await h.close()
        await b.close()
        await a.close()

    asyncio.run(asyncio.wait_for(main(), 60))


WRITER = textwrap.dedent("""
    import sys
    from daos_rs import Container
    path, lo, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = bytes((lo * 7 + i) % 251 for i in range(n))
    with Container.open(path, "rw") as c:
        e = c.hold()
        with c.object((0, lo), "rw") as o:
            o.write(e, 0, data)
        c.commit(e)
        print(e)
    """)


def test_concurrent_writer_processes_never_lose_data(containers):
    c = containers.make(1)
    n = 1 << 20
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, c.path, str(lo), str(n)],
                              env=_env(), stdout=subprocess.PIPE) for lo in range(100, 108)]
    epochs = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        epochs.append(int(out))
    assert len(set(epochs)) == 8
    assert c.hce >= max(epochs)
    for lo in range(100, 108):
        assert get(c, lo, n) == bytes((lo * 7 + i) % 251 for i in range(n))


HOLDER = textwrap.dedent("""
    import sys
    from daos_rs import Container
    with Container.open(sys.argv[1], "rw") as c:
        e = c.hold()
        with c.object((0, 50), "rw") as o:
            o.write(e, 0, b"dead")
        print(e, flush=True)
        sys.stdin.read()
    """)


def test_sigkilled_holder_frees_its_epoch(containers):
    c = containers.make(1)
    p = subprocess.Popen([sys.executable, "-c", HOLDER, c.path], env=_env(),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        held = int(p.stdout.readline())
        mine = c.hold()
        assert mine > held
        put(c, mine, b"mine", 51)
        c.commit(mine)
        assert c.hce == held - 1
        assert c.hold_query().lowest == held
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    # the next refresh finds the holder dead: HCE moves on, its write never shows
    assert c.hce == mine
    assert c.hold_query() == HoldInfo(None, None)
    assert get(c, 50, 4) == b"\0\0\0\0" and get(c, 51, 4) == b"mine"
