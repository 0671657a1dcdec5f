"""Object.size: where an object's data ends at an epoch (daos_object_size)."""

import pytest

from daos_rs import EPOCH_HIGHEST, DaosError, aio


def test_size_follows_writes_and_punches(container):
    with container.object((0, 9), "rw") as o:
        assert o.size() == 0
        o.write(2, 0, b"hello")
        assert o.size(2) == 5 and o.size(EPOCH_HIGHEST) == 5 and o.size(1) == 0
        o.write(2, 1 << 20, b"x" * 10)
        container.commit(2)
        assert o.size() == (1 << 20) + 10
        o.punch(3, 4096)
        container.commit(3)
        assert o.size() == 5
        assert o.size(2) == (1 << 20) + 10
        # what a reader needs to read everything
        assert o.read(EPOCH_HIGHEST, 0, o.size()) == b"hello"
        with pytest.raises(TypeError):
            o.size("soon")
    with pytest.raises(DaosError) as e:
        o.size()
    assert e.value.name == "EBADF"


def test_size_in_aio(store_path):
    import asyncio
    import os

    async def main():
        async with aio.Container.open(os.path.join(store_path, "a"), "rw", create=True) as c:
            shard = await c.add_shard(1)
            async with c.object((shard, 1), "rw") as o:
                await o.write(1, 100, b"abc")
                return o.size()

    assert asyncio.run(main()) == 103
