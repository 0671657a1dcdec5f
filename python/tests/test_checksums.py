"""Containers without data checksums (``checksums=False`` at create, the
extension DAOS_RS_COO_NOCSUM): the property, its persistence, the data path,
and bad input; in the synchronous and the asyncio API."""

import asyncio
import errno
import glob
import os

import pytest

import daos_rs
from daos_rs import Container, aio


def test_property_recorded_and_reported(store_path):
    on = os.path.join(store_path, "on")
    off = os.path.join(store_path, "off")
    with Container.open(on, "rw", create=True) as c:
        assert c.checksums is True
    with Container.open(off, "rw", create=True, checksums=False) as c:
        assert c.checksums is False
        c.add_shard(1, 0, 0)
        c.commit(1)
        assert c.checksums is False
        c.snapshot(1, os.path.join(store_path, "snap"))
    # in the metadata: a reopen (read-only, or asking for checksums) keeps it
    with Container.open(off, "r") as c:
        assert c.checksums is False
    with Container.open(off, "rw", create=True) as c:
        assert c.checksums is False
    with Container.open(os.path.join(store_path, "snap"), "r") as c:
        assert c.checksums is False
    # an existing checked container stays checked
    with Container.open(on, "rw", create=True, checksums=False) as c:
        assert c.checksums is True


def test_property_needs_create(store_path):
    with pytest.raises(ValueError, match="create"):
        Container.open(os.path.join(store_path, "x"), "rw", checksums=False)
    assert not os.path.exists(os.path.join(store_path, "x"))
    c = Container.open(os.path.join(store_path, "y"), "rw", create=True)
    c.close()
    with pytest.raises(daos_rs.DaosError) as e:
        c.checksums
    assert e.value.errno == errno.EBADF


def _flip_last_data_byte(store_path):
    dats = glob.glob(os.path.join(store_path, ".daos", "targets", "*", "c-*", "s-*", "*.dat"))
    assert len(dats) == 1, dats
    with open(dats[0], "r+b") as f:
        f.seek(-1, os.SEEK_END)
        b = f.read(1)[0] ^ 0x08
        f.seek(-1, os.SEEK_END)
        f.write(bytes([b]))
    return b


@pytest.mark.parametrize("checksums", [True, False])
def test_data_path(store_path, make_pattern, checksums):
    path = os.path.join(store_path, "c")
    data = make_pattern(5, 3 * 4096 + 11)
    with Container.open(path, "rw", create=True, checksums=checksums) as c:
        c.add_shard(1, 0, 0)
        with c.object((0, 1), "rw") as o:
            o.write(1, 0, data)
            c.commit(1)
            assert o.read(1, 0, len(data)) == data
            assert o.read(1, 4095, 2) == data[4095:4097]
            assert o.read(1, 100, 5000) == data[100:5100]
            flipped = _flip_last_data_byte(store_path)
            if checksums:
                with pytest.raises(daos_rs.DaosError) as e:
                    o.read(1, 0, len(data))
                assert e.value.errno == errno.EIO
            else:
                got = o.read(1, 0, len(data))
                assert got[:-1] == data[:-1] and got[-1] == flipped


def test_aio(store_path, make_pattern):
    async def main():
        path = os.path.join(store_path, "a")
        data = make_pattern(9, 64 * 1024)
        async with aio.Container.open(path, "rw", create=True, checksums=False) as c:
            assert c.checksums is False
            await c.add_shard(1, 0, 0)
            o = await c.object((0, 1), "rw")
            await o.write(1, 0, data)
            await c.commit(1)
            got = await asyncio.gather(*[o.read(1, i * 4096, 4096) for i in range(16)])
            assert b"".join(got) == data
            await o.close()
    asyncio.run(asyncio.wait_for(main(), 60))
