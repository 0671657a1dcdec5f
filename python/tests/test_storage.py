"""The store, containers, shards and objects at the Python level (mirrors
c-tests/test_store.c, test_container.c, test_object.c)."""

import array
import ctypes
import errno
import mmap
import os

import pytest

import daos_rs
from daos_rs import (EPOCH_HIGHEST, TARGET_DISABLED, TARGET_HEALTHY, Container,
                     ContainerStatus, DaosError, LocKey, Location, ObjectId, Store)

# --- the store -------------------------------------------------------------------


def test_format_and_targets(tmp_path):
    root = tmp_path / "s3"
    root.mkdir()
    Store.format(root, ntargets=3)  # a PathLike is fine
    with pytest.raises(DaosError) as ei:
        Store.format(str(root), ntargets=1)
    assert ei.value.errno == errno.EEXIST and ei.value.call == "daos_sys_format"
    with Store.open(str(root)) as s:
        assert s.ntargets == 3 and s.target_ids == [0, 1, 2]
        infos = s.targets
        assert [t.target for t in infos] == [0, 1, 2]
        for t in infos:
            assert t.status == TARGET_HEALTHY and t.healthy and not t.disabled
            assert t.type in ("SSD", "HDD")
            assert t.location == Location(0, 0, 0)
            assert t.failovers == (Location(0, 0, 0),)
            assert t.space.size > 0 and 0 < t.space.free <= t.space.size
            assert t.space.nshard == 0
            assert t.affinity.net_dist == 0
            assert t.perf.read_bw == 0  # not probed
        assert s.target(1) == infos[1]._replace(space=s.target(1).space)
        with pytest.raises(DaosError) as ei:
            s.target(3)
        assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_sys_query_target"
        # the storage tree
        assert s.query() == [LocKey("cage", 0), LocKey("rack", 0), LocKey("node", 0),
                             LocKey("target", 0), LocKey("target", 1), LocKey("target", 2)]
        assert s.query(depth=1) == [LocKey("cage", 0)]
        assert s.query(cage=0, rack=0, node=0) == [LocKey("target", i) for i in range(3)]
        with pytest.raises(DaosError) as ei:
            s.query(cage=5)
        assert ei.value.errno == errno.ENOENT
    assert s.closed
    s.close()  # again: nothing


def test_format_arguments(tmp_path):
    d = tmp_path / "fa"
    d.mkdir()
    with pytest.raises(ValueError):
        Store.format(str(d), ntargets=0)
    with pytest.raises(TypeError):
        Store.format(str(d), ntargets="two")
    with pytest.raises(TypeError):
        Store.format(42)
    with pytest.raises(ValueError):
        Store.format(str(d) + "\0x")
    with pytest.raises(DaosError) as ei:
        Store.format(str(tmp_path / "missing"))
    assert ei.value.errno == errno.ENOENT
    # target directories of its own
    dirs = [str(tmp_path / "t0"), str(tmp_path / "t1")]
    with pytest.raises(ValueError):
        Store.format(str(d), ntargets=3, target_dirs=dirs)
    Store.format(str(d), target_dirs=dirs)
    assert os.path.isdir(dirs[1])
    with Store.open(str(d)) as s:
        assert s.ntargets == 2


def test_probe(tmp_path):
    d = tmp_path / "probed"
    d.mkdir()
    Store.format(str(d), probe=True)
    with Store.open(d) as s:
        p = s.target(0).perf
        assert p.read_bw > 0 and p.write_bw > 0 and p.iops > 0


def test_open_inside_and_missing(store_path, tmp_path):
    with Store.open(os.path.join(store_path, "not", "yet", "there")) as s:
        assert s.ntargets == 2
    with pytest.raises(DaosError) as ei:
        Store.open(str(tmp_path))  # not a store
    assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_sys_open"


def test_target_status_and_listen(store_path):
    with Store.open(store_path) as s, Store.open(store_path) as s2:
        s.disable_target(1)
        assert s.target(1).status == TARGET_DISABLED and s.target(1).disabled
        assert s2.target(1).disabled
        evs = s2.listen()  # a change already happened since s2 opened
        assert (1, TARGET_DISABLED) in [(e.target, e.status) for e in evs]
        s.enable_target(1)
        assert s.target(1).status == TARGET_HEALTHY
        s.set_target_status(0, 50)
        assert s.target(0).status == 50
        s.set_target_status(0, TARGET_HEALTHY)
        with pytest.raises(DaosError) as ei:
            s.set_target_status(0, 101)
        assert ei.value.errno == errno.EINVAL
        with pytest.raises(DaosError) as ei:
            s.set_target_status(9, TARGET_DISABLED)
        assert ei.value.errno == errno.ENOENT
        with pytest.raises(ValueError):
            s.listen(max_events=0)


# --- containers ------------------------------------------------------------------


def test_container_create_open_close_unlink(store_path):
    p = os.path.join(store_path, "c")
    with pytest.raises(DaosError) as ei:
        Container.open(p, "rw")
    assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_container_open"
    with Container.open(p, "rw", create=True) as c:
        assert c.status == ContainerStatus.OK and c.mode == "rw" and c.path == p
        assert c.shards == []
        info = c.query()
        assert info.nshard == 0 and info.uid == os.getuid() and info.gid == os.getgid()
        assert os.path.isfile(p)
    assert c.closed
    c.close()  # again: nothing
    with pytest.raises(DaosError) as ei:
        c.query()
    assert ei.value.errno == errno.EBADF
    with Container.open(p) as ro:
        assert ro.mode == "r"
        with pytest.raises(DaosError) as ei:
            ro.add_shard(1, 0)
        assert ei.value.errno == errno.EPERM
        with pytest.raises(DaosError) as ei:
            ro.object((0, 1), "rw")
        assert ei.value.errno in (errno.EPERM, errno.ENOENT)
    with pytest.raises(ValueError):
        Container.open(p, "w")
    Container.unlink(p)
    assert not os.path.exists(p)
    with pytest.raises(DaosError) as ei:
        Container.unlink(p)
    assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_container_unlink"


def test_unlink_while_open(containers):
    c = containers.make(1)
    with c.object((0, 1), "rw") as o:
        o.write(1, 0, b"still here")
        c.commit(1)
        Container.unlink(c.path)
        assert not os.path.exists(c.path)
        assert o.read(1, 0, 10) == b"still here"  # the handle keeps working
        o.write(2, 0, b"STILL")
        c.commit(2)
        assert o.read(EPOCH_HIGHEST, 0, 10) == b"STILL here"
    c.close()


def test_shards(containers):
    c = containers.make(0)
    assert c.add_shard(1, target=1) == 0
    assert c.add_shards(1, [0, 1, 0]) == [1, 2, 3]
    assert c.add_shards(1, [1], [10]) == [10]
    assert c.add_shard(1, 0) == 4  # the lowest free id
    with pytest.raises(DaosError) as ei:
        c.add_shards(1, [0, 0], [11, 10])  # 10 is taken
    assert ei.value.errno == errno.EEXIST and ei.value.call == "daos_shard_add"
    assert ei.value.shards[1] == -1
    with pytest.raises(DaosError) as ei:
        c.add_shard(1, target=7)
    assert ei.value.errno == errno.ENOENT
    with pytest.raises(ValueError):
        c.add_shards(1, [0], [daos_rs._ffi.DAOS_MAX_SHARDS])
    with pytest.raises(ValueError):
        c.add_shards(1, [])
    with pytest.raises(ValueError):
        c.add_shards(1, [0, 1], [5])
    all_ids = c.list_shards()
    assert 0 in all_ids and 10 in all_ids and all_ids == sorted(all_ids)
    assert c.shards == all_ids
    assert c.list_shards("disabled") == []
    assert c.list_shards("stuck") == []
    with pytest.raises(ValueError):
        c.list_shards("broken")
    info = c.query_shard(0)
    assert info.shard == 0 and info.target == 1 and info.type in ("SSD", "HDD")
    assert info.status == TARGET_HEALTHY and info.location == Location(0, 0, 0)
    assert info.nobjs == 0
    # disable
    c.disable_shard(1, 2)
    assert c.list_shards("disabled") == [2]
    assert c.query().nshard_disabled == 1
    with pytest.raises(DaosError) as ei:
        c.object((2, 1), "rw")
    assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_object_open"
    with pytest.raises(DaosError) as ei:
        c.disable_shards(1, [99])
    assert ei.value.errno == errno.ENOENT and ei.value.shards == [-1]
    with pytest.raises(DaosError) as ei:
        c.query_shard(99)
    assert ei.value.errno == errno.ENOENT
    # the layout change is recorded with its epoch
    assert c.epoch_query().layout_changed == 1
    # and counted on the targets
    with Store.open(c.path) as s:
        assert sum(t.space.nshard for t in s.targets) >= 6


def test_many_shards_listed_in_pages(containers):
    c = containers.make(0)
    ids = c.add_shards(1, [i % 2 for i in range(300)])
    assert ids == list(range(300))
    assert c.list_shards() == ids  # more than one page of the C listing


def test_container_listen(containers):
    c = containers.make(1)
    assert [e.shard for e in c.listen()] == [0]  # what it added itself since it opened
    other = containers.open(c.path, "rw")
    other.add_shard(2, 1, id=5)
    evs = c.listen()
    assert [(e.shard, e.target, e.status, e.epoch) for e in evs] == [(5, 1, TARGET_HEALTHY, 2)]
    other.disable_shard(3, 5)
    assert [(e.shard, e.status) for e in c.listen()] == [(5, TARGET_DISABLED)]


def test_snapshot(containers):
    c = containers.make(1)
    with c.object((0, 1), "rw") as o:
        o.write(1, 0, b"one.")
        c.commit(1)
        o.write(2, 0, b"two.")
        c.commit(2)
        snap = containers.path("snap")
        c.snapshot(1, snap)
        with pytest.raises(DaosError) as ei:
            c.snapshot(1, snap)
        assert ei.value.errno == errno.EEXIST
        with pytest.raises(DaosError) as ei:
            c.snapshot(3, containers.path("snap3"))  # not committed
        assert ei.value.errno == errno.EINVAL and ei.value.call == "daos_container_snapshot"
    with containers.open(snap, "rw") as s:
        assert s.epoch_query().hce == 1
        with s.object((0, 1)) as so:
            assert so.read(EPOCH_HIGHEST, 0, 4) == b"one."
        # independent: writing the snapshot does not change the source
        with s.object((0, 1), "rw") as so:
            so.write(2, 0, b"SNAP")
            s.commit(2)
    with c.object((0, 1)) as o:
        assert o.read(EPOCH_HIGHEST, 0, 4) == b"two."


def test_flush(container):
    with container.object((1, 7), "rw") as o:
        o.write(1, 0, b"x" * 100)
    container.flush(1)
    container.flush()
    container.flush_shard(1, 1)
    container.flush_shard(0)
    with pytest.raises(DaosError) as ei:
        container.flush_shard(42)
    assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_shard_flush"


# --- objects ---------------------------------------------------------------------


def test_object_roundtrip(container, make_pattern):
    data = make_pattern(1, 100_000)
    with container.object((0, 42), "rw") as o:
        assert o.oid == ObjectId(0, 42) and o.mode == "rw"
        assert o.read(1, 0, 16) == bytes(16)  # never written: zeros
        o.write(1, 1000, data)
        got = o.read(1, 1000, len(data))
        assert type(got) is bytes and got == data
        assert o.read(1, 0, 1000) == bytes(1000)
        assert o.read(EPOCH_HIGHEST, 1000 + len(data) - 4, 8) == data[-4:] + bytes(4)
        assert o.read(1, 5, 0) == b""
        o.write(1, 0, b"")  # zero bytes: nothing
    # object ids as daos_obj_id_t
    oid = daos_rs._ffi.daos_obj_id_t(0, 42)
    with container.object(oid) as o:
        assert o.read(1, 1000, 10) == data[:10]
    assert container.list_objects(0) == [ObjectId(0, 42)]


def test_write_from_any_bytes_like(container):
    sources = [
        b"bytes...",
        bytearray(b"bytearra"),
        memoryview(b"xxmemoryviewxx")[2:10],
        array.array("H", [0x4141, 0x4242, 0x4343, 0x4444]),
        (ctypes.c_char * 8).from_buffer_copy(b"ctypes!!"),
    ]
    m = mmap.mmap(-1, 8)
    m[:] = b"mmap...."
    sources.append(m)
    with container.object((0, 1), "rw") as o:
        for i, src in enumerate(sources):
            o.write(1, i * 8, src)
        got = o.read(1, 0, 8 * len(sources))
    assert got == (b"bytes...bytearramemoryviAABBCCDDctypes!!mmap....")
    m.close()  # the export was released when the write was over


def test_read_into_buffers(container, make_pattern):
    data = make_pattern(2, 8192)
    with container.object((1, 5), "rw") as o:
        o.write(1, 0, data)
        ba = bytearray(100)
        assert o.read_into(1, 10, ba) == 100 and ba == data[10:110]
        big = bytearray(300)
        mv = memoryview(big)[100:200]
        assert o.read_into(1, 0, mv) == 100
        assert big[100:200] == data[:100] and big[:100] == bytes(100)
        arr = array.array("I", [0] * 16)
        o.read_into(1, 64, arr)
        assert arr.tobytes() == data[64:128]
        m = mmap.mmap(-1, 4096)
        o.read_into(1, 4096, m)
        assert m[:] == data[4096:]
        m.close()
        cbuf = (ctypes.c_uint8 * 32)()
        o.read_into(1, 32, cbuf)
        assert bytes(cbuf) == data[32:64]
        # not writable, not contiguous, not a buffer
        with pytest.raises(TypeError):
            o.read_into(1, 0, b"read-only")
        with pytest.raises(TypeError):
            o.read_into(1, 0, memoryview(b"abc"))
        with pytest.raises(ValueError):
            o.read_into(1, 0, memoryview(bytearray(10))[::2])
        with pytest.raises(TypeError):
            o.read_into(1, 0, "text")


def test_read_into_numpy(container, make_pattern):
    np = pytest.importorskip("numpy")
    data = make_pattern(3, 4096)
    with container.object((0, 9), "rw") as o:
        o.write(1, 0, np.frombuffer(data, dtype=np.uint8))
        a = np.zeros(512, dtype=np.float64)
        assert o.read_into(1, 0, a) == 4096
        assert a.tobytes() == data
        m = np.zeros((4, 8), dtype=np.uint8)
        o.read_into(1, 0, m[1])  # a contiguous row
        assert m[1].tobytes() == data[:8] and not m[0].any()
        with pytest.raises(ValueError):
            o.read_into(1, 0, m[:, 1])  # a column is not contiguous


def test_scatter_gather(container, make_pattern):
    d = make_pattern(4, 1024)
    with container.object((0, 3), "rw") as o:
        o.writev(1, [(0, d[:100]), (5000, d[100:300]), (200, bytearray(d[300:400]))])
        assert o.readv(1, [(0, 100), (5000, 200), (200, 100)]) == [d[:100], d[100:300],
                                                                   d[300:400]]
        # scatter-gather: 3 buffers onto 2 extents
        o.write_sg(1, [d[:10], d[10:50], d[50:64]], [(10_000, 32), (20_000, 32)])
        assert o.read(1, 10_000, 32) + o.read(1, 20_000, 32) == d[:64]
        a, b = bytearray(20), bytearray(44)
        assert o.read_sg(1, [a, b], [(20_000, 32), (10_000, 32)]) == 64
        assert bytes(a + b) == d[32:64] + d[:32]
        x, y = bytearray(50), bytearray(60)
        assert o.readv_into(1, [(0, x), (5000, y)]) == 110
        assert x == d[:50] and y == d[100:160]
        with pytest.raises(ValueError):
            o.write_sg(1, [b"abc"], [(0, 4)])  # totals differ
        with pytest.raises(ValueError):
            o.read_sg(1, [bytearray(4)], [(0, 2), (8, 1)])
        with pytest.raises(TypeError):
            o.writev(1, [b"no offset"])
        with pytest.raises(TypeError):
            o.readv(1, [5])


def test_punch(container):
    with container.object((1, 1), "rw") as o:
        o.write(1, 0, b"A" * 16)
        container.commit(1)
        o.punch(2, 4, 8)
        assert o.read(2, 0, 16) == b"AAAA" + bytes(4) + b"A" * 8
        assert o.read(1, 0, 16) == b"A" * 16
        container.punch(3, (1, 1), 12)  # to the end
        assert o.read(3, 0, 16) == b"AAAA" + bytes(4) + b"AAAA" + bytes(4)
        with pytest.raises(ValueError):
            o.punch(4, 8, 4)
        o.punch(4)  # everything: the object is empty
        container.commit(4)
        assert o.read(4, 0, 16) == bytes(16)
    assert container.list_objects(1) == []
    assert container.list_objects(1, epoch=3) == [ObjectId(1, 1)]


def test_list_objects_in_pages(container):
    for lo in range(1100):
        with container.object((0, lo), "rw") as o:
            o.write(1, 0, b"o")
    objs = container.list_objects(0)
    assert objs == [ObjectId(0, lo) for lo in range(1100)]  # more than one C page
    assert container.query_shard(0).nobjs == 0  # at the shard's committed epoch
    container.commit(1)
    info = container.query_shard(0)
    assert info.nobjs == 1100 and info.epoch == 1 and info.used >= 1100
    with pytest.raises(DaosError) as ei:
        container.list_objects(77)
    assert ei.value.errno == errno.ENOENT and ei.value.call == "daos_shard_list_obj"


def test_object_modes(container):
    with container.object((0, 1), "rw", buffered=True, hint="seq") as o:
        buf = bytearray(b"buffered")
        o.write(1, 0, buf)
        buf[:] = b"XXXXXXXX"  # copied during the call
        assert o.read(1, 0, 8) == b"buffered"
    with container.object((0, 1), "r", hint="rand") as ro:
        assert ro.read(1, 0, 8) == b"buffered"
        with pytest.raises(DaosError) as ei:
            ro.write(1, 0, b"no")
        assert ei.value.errno == errno.EPERM and ei.value.call == "daos_object_write"
    with pytest.raises(ValueError):
        container.object((0, 1), "x")
    with pytest.raises(ValueError):
        container.object((0, 1), hint="sometimes")
    with pytest.raises(TypeError):
        container.object("0.1")
    with pytest.raises(ValueError):
        container.object((0, -1))


def test_collective_open_in_one_process(containers):
    p = containers.path("coll")
    master = containers.open(p, "rw", create=True, nprocess=2)
    master.add_shard(1, 0)
    buf = master.local2global()
    assert isinstance(buf, bytes) and len(buf) > 16
    peer = Container.global2local(buf)
    containers.opened.append(peer)
    assert peer.path is None and peer.status is None
    with peer.object((0, 1), "rw") as o:
        o.write(1, 0, b"from the peer")
    peer.flush(1)
    with pytest.raises(DaosError) as ei:
        peer.commit(1)
    assert ei.value.errno == errno.EPERM and ei.value.call == "daos_epoch_commit"
    master.commit(1)
    with master.object((0, 1)) as o:
        assert o.read(1, 0, 13) == b"from the peer"
    peer.refresh(master.local2global())
    # a damaged buffer
    bad = bytearray(buf)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(DaosError) as ei:
        Container.global2local(bad)
    assert ei.value.errno == errno.EINVAL and ei.value.call == "daos_global2local"
    # only from a collective open
    c = containers.make(0)
    with pytest.raises(DaosError) as ei:
        c.local2global()
    assert ei.value.errno == errno.EINVAL and ei.value.call == "daos_local2global"
    # the master's close revokes the peer
    master.close()
    with pytest.raises(DaosError) as ei:
        peer.query()
    assert ei.value.errno == errno.EPERM
    peer.close()
