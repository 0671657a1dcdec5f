"""Errors: DaosError (an OSError with the errno and the C call's name) for
everything the library refuses or fails, TypeError/ValueError for what
Python can check before calling C (mirrors c-tests/test_badptr.c and the
error cases of the other C tests)."""

import asyncio
import errno
import glob
import os
import pickle

import pytest

import daos_rs
from daos_rs import (EPOCH_HIGHEST, Container, ContainerStatus, DaosError, Event, EventQueue,
                     Store, aio, check, noop)


def test_daos_error_is_an_oserror():
    e = DaosError(errno.ENOENT, "daos_container_open")
    assert isinstance(e, OSError)
    assert e.errno == errno.ENOENT and e.call == "daos_container_open"
    assert e.strerror == "daos_container_open: " + os.strerror(errno.ENOENT)
    assert e.name == "ENOENT"
    assert "daos_container_open" in str(e)
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is DaosError and e2.errno == e.errno and e2.call == e.call
    assert check(0, "x") == 0 and check(7, "x") == 7
    with pytest.raises(DaosError) as ei:
        check(-errno.EBADF, "daos_eq_poll")
    assert ei.value.errno == errno.EBADF and ei.value.call == "daos_eq_poll"
    # caught as an OSError, told apart by errno
    try:
        Container.open("/nonexistent-dir-of-daos-rs/c")
    except OSError as ex:
        assert ex.errno == errno.ENOENT
    else:
        raise AssertionError("no error")


def test_closed_handles_give_ebadf(store_path):
    s = Store.open(store_path)
    s.close()
    with pytest.raises(DaosError) as ei:
        s.target(0)
    assert ei.value.errno == errno.EBADF and ei.value.call == "daos_sys_query_target"
    c = Container.open(os.path.join(store_path, "c"), "rw", create=True)
    c.add_shard(1, 0)
    o = c.object((0, 1), "rw")
    o2 = c.object((0, 2), "rw")
    o2.close()
    with pytest.raises(DaosError) as ei:
        o2.read(1, 0, 4)
    assert ei.value.errno == errno.EBADF and ei.value.call == "daos_object_read"
    c.close()  # closes its objects too
    assert o.closed
    for f, call in [(lambda: o.write(1, 0, b"x"), "daos_object_write"),
                    (lambda: c.commit(1), "daos_epoch_commit"),
                    (lambda: c.epoch_query(), "daos_epoch_query"),
                    (lambda: c.list_shards(), "daos_container_list_shard"),
                    (lambda: c.object((0, 1)), "daos_object_open")]:
        with pytest.raises(DaosError) as ei:
            f()
        assert ei.value.errno == errno.EBADF and ei.value.call == call
    o.close()  # closed with its container: nothing to do


def test_path_arguments(store_path):
    with pytest.raises(TypeError):
        Container.open(42)
    with pytest.raises(ValueError):
        Container.open(os.path.join(store_path, "a\0b"))
    with pytest.raises(ValueError):
        Container.open("")
    with pytest.raises(ValueError):
        Container.open(os.path.join(store_path, "c"), "rw", create=True, nprocess=-1)
    with pytest.raises(TypeError):
        Store.open(None)
    with pytest.raises(TypeError):
        Store.format(store_path, target_dirs="one")
    # bytes paths work
    with Container.open(os.fsencode(os.path.join(store_path, "b")), "rw", create=True) as c:
        assert c.status == ContainerStatus.OK
    with pytest.raises(DaosError) as ei:
        Container.open(os.path.join(store_path, ".daos"), "r")  # a directory, not a container
    assert ei.value.call == "daos_container_open"


def test_object_arguments(container):
    with container.object((0, 1), "rw") as o:
        with pytest.raises(ValueError):
            o.read(1, 0, -1)
        with pytest.raises(TypeError):
            o.read(1, 0, "4")
        with pytest.raises(ValueError):
            o.read(1, 2 ** 64, 4)
        with pytest.raises(ValueError):
            o.read(-1, 0, 4)
        with pytest.raises(TypeError):
            o.write(1, 0, "text")
        with pytest.raises(TypeError):
            o.write(1, 0, 42)
        with pytest.raises(TypeError):
            o.write(1, None, b"x")
        with pytest.raises(ValueError):
            o.punch(1, 5, 4)
        with pytest.raises(DaosError) as ei:
            o.read(1, 2 ** 63, 4)  # beyond 2^63: the library says so
        assert ei.value.errno == errno.EINVAL and ei.value.call == "daos_object_read"
        with pytest.raises(DaosError) as ei:
            o.write(EPOCH_HIGHEST, 0, b"x")
        assert ei.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        container.object(None)
    with pytest.raises(TypeError):
        container.object((1, 2, 3))


def test_event_arguments():
    with EventQueue() as eq:
        with pytest.raises(TypeError):
            eq.poll(wait="yes")
        with pytest.raises(ValueError):
            eq.query_events(max=0)
        with pytest.raises(TypeError):
            noop("event", 0)
        with pytest.raises(ValueError):
            noop(None, -1)
        with pytest.raises(TypeError):
            Event("queue")
        ev = eq.event()
        with pytest.raises(TypeError):
            ev.complete("0")
        with pytest.raises(TypeError):
            ev.test("1s")


def test_store_arguments(store_path):
    with Store.open(store_path) as s:
        with pytest.raises(TypeError):
            s.target("0")
        with pytest.raises(ValueError):
            s.target(-1)
        with pytest.raises(TypeError):
            s.set_target_status(0, "off")
        with pytest.raises(ValueError):
            s.query(depth=-1)


def test_commit_failure_names_the_shard(store_path):
    path = os.path.join(store_path, "faulty")
    with Container.open(path, "rw", create=True) as c:
        assert c.add_shards(1, [0, 1]) == [0, 1]
        for shard in (0, 1):
            with c.object((shard, 1), "rw") as o:
                o.write(1, 0, b"data")
        with Store.open(store_path) as s:
            s.disable_target(1)
            with pytest.raises(DaosError) as ei:
                c.commit(1)
            assert ei.value.errno == errno.EIO and ei.value.call == "daos_epoch_commit"
            assert ei.value.shard == 1
            assert c.epoch_query().hce == 0 and c.epoch_query().hse == 1
            assert c.list_shards("stuck") == [1] and c.query().nshard_stuck == 1
            # disable the shard and commit the next epoch
            c.disable_shard(2, 1)
            c.commit(2)
            assert c.epoch_query().hce == 2
            s.enable_target(1)
    with Store.open(store_path) as s:
        s.disable_target(0)
        with Container.open(path) as ro:
            assert ro.status == ContainerStatus.FAULTY
        s.enable_target(0)


def test_checksum_mismatch_is_eio_never_wrong_bytes(store_path, make_pattern):
    path = os.path.join(store_path, "rot")
    data = make_pattern(9, 64 * 1024)
    with Container.open(path, "rw", create=True) as c:
        c.add_shard(1, 0)
        with c.object((0, 1), "rw") as o:
            o.write(1, 0, data)
        c.commit(1)
    dats = glob.glob(os.path.join(store_path, ".daos/targets/0/c-*/s-*/*.dat"))
    assert len(dats) == 1
    size = os.path.getsize(dats[0])
    with open(dats[0], "r+b") as f:  # the object's bytes end the data file
        f.seek(size - len(data) + 100)
        b = f.read(1)
        f.seek(size - len(data) + 100)
        f.write(bytes([b[0] ^ 1]))
    with Container.open(path) as c, c.object((0, 1)) as o:
        out = bytearray(b"\xcc" * 4096)
        with pytest.raises(DaosError) as ei:
            o.read_into(1, 0, out)
        assert ei.value.errno == errno.EIO and ei.value.call == "daos_object_read"
        assert out == bytes(4096)  # zeroed, not wrong

        async def main():
            async with aio.Container.open(path) as ac, ac.object((0, 1)) as ao:
                with pytest.raises(DaosError) as ei:
                    await ao.read(1, 0, 4096)
                assert ei.value.errno == errno.EIO and ei.value.call == "daos_object_read"

        asyncio.run(main())


def test_raw_layer_is_reachable(container):
    """The wrappers expose their handles and structs for the raw ctypes API."""
    from ctypes import byref
    ffi = daos_rs._ffi
    info = ffi.daos_epoch_info()
    assert ffi.lib.daos_epoch_query(container.handle, byref(info), None) == 0
    assert info.epi_layout_changed.seq == 1
    with EventQueue() as eq:
        ev = eq.event()
        assert ffi.lib.daos_noop(byref(ev.struct), 0) == 0
        # dispatched behind the wrapper's back: the queue still finds it
        assert eq.poll(timeout=5) == [ev]
