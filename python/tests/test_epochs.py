"""Epochs at the Python level (mirrors c-tests/test_epoch.c): query, commit,
abort, slip, wait, reads at epochs, staging visibility, ESTALE and EPERM."""

import errno
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import daos_rs
from daos_rs import EPOCH_HIGHEST, Container, DaosError, EpochInfo, WaitResult


def put(c, epoch, data, shard=0, off=0):
    with c.object((shard, 1), "rw") as o:
        o.write(epoch, off, data)


def get(c, epoch, n=4, shard=0, off=0):
    with c.object((shard, 1)) as o:
        return o.read(epoch, off, n)


def test_query_fields(containers):
    c = containers.make(0)
    ei = c.epoch_query()
    assert isinstance(ei, EpochInfo)
    assert ei == EpochInfo(hce=0, oldest=0, slipped=0, hse=0, layout_changed=0)
    assert c.epoch_info == ei and c.hce == 0
    c.add_shard(3, 0)
    assert c.epoch_query().layout_changed == 3


def test_write_needs_epoch_above_hce(containers):
    c = containers.make(1)
    put(c, 1, b"AAAA")
    c.commit(2)  # commits everything <= 2
    for e in (0, 1, 2):
        with pytest.raises(DaosError) as ei:
            put(c, e, b"BBBB")
        assert ei.value.errno == errno.EPERM and ei.value.call == "daos_object_write"
    with pytest.raises(DaosError) as ei:
        c.punch(2, (0, 1), 0, 4)
    assert ei.value.errno == errno.EPERM and ei.value.call == "daos_object_punch"
    assert get(c, 2) == b"AAAA" and get(c, 1) == b"AAAA"
    put(c, 3, b"CCCC")
    assert get(c, 3) == b"CCCC"
    with pytest.raises(DaosError) as ei:
        put(c, EPOCH_HIGHEST, b"DDDD")
    assert ei.value.errno == errno.EINVAL


def test_versions(containers):
    c = containers.make(1)
    put(c, 1, b"e1e1")
    c.commit(1)
    put(c, 2, b"e2e2")
    c.commit(2)
    c.punch(3, (0, 1), 2, 4)
    c.commit(3)
    assert [get(c, e) for e in (1, 2, 3, EPOCH_HIGHEST, 1000)] == [
        b"e1e1", b"e2e2", b"e2\0\0", b"e2\0\0", b"e2\0\0"]
    path = c.path
    c.close()
    with Container.open(path) as ro:  # durable, versions kept
        assert [get(ro, e) for e in (1, 2, 3)] == [b"e1e1", b"e2e2", b"e2\0\0"]
        assert ro.hce == 3


def test_staging_visibility(containers):
    c = containers.make(1)
    put(c, 1, b"old.")
    c.commit(1)
    put(c, 2, b"new.")  # staged
    assert get(c, 1) == b"old."
    assert get(c, 2) == b"new." and get(c, EPOCH_HIGHEST) == b"new."
    other = containers.open(c.path, "r")  # another handle of this process
    assert get(other, 1) == b"old." and get(other, 2) == b"new."
    assert other.hce == 1
    # another process does not see it until it is committed
    assert _other_process_read(c.path) == b"old."
    c.commit(2)
    assert _other_process_read(c.path) == b"new."


def _env():
    env = dict(os.environ)
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(daos_rs.__file__)))
    env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _other_process_read(path):
    code = textwrap.dedent("""
        import sys
        from daos_rs import Container, EPOCH_HIGHEST
        with Container.open(sys.argv[1]) as c, c.object((0, 1)) as o:
            sys.stdout.write(o.read(EPOCH_HIGHEST, 0, 4).decode())
        """)
    out = subprocess.run([sys.executable, "-c", code, path], env=_env(), check=True,
                         stdout=subprocess.PIPE, timeout=60)
    return out.stdout


def test_commit_noop_and_sync(containers):
    c = containers.make(1)
    put(c, 1, b"AAAA")
    c.commit(3)
    c.commit(3)
    c.commit(2)
    c.commit(0)
    assert c.epoch_query().hce == 3 and c.epoch_query().hse == 3
    c.commit(4)  # nothing written: HCE moves all the same
    assert c.hce == 4
    c.commit(5, sync=True)
    assert c.hce == 5
    with pytest.raises(TypeError):
        c.commit(6, sync=1)
    path = c.path
    c.close()
    with Container.open(path) as ro:
        assert ro.hce == 5 and get(ro, EPOCH_HIGHEST) == b"AAAA"
        with pytest.raises(DaosError) as ei:
            ro.commit(6)
        assert ei.value.errno == errno.EPERM and ei.value.call == "daos_epoch_commit"
        with pytest.raises(DaosError) as ei:
            ro.abort(6)
        assert ei.value.errno == errno.EPERM and ei.value.call == "daos_epoch_abort"


def test_abort(containers):
    c = containers.make(2)
    put(c, 1, b"AAAA")
    c.commit(1)
    put(c, 2, b"BBBB")
    put(c, 2, b"bbbb", shard=1)
    c.abort(2)
    assert get(c, 2) == b"AAAA" and get(c, EPOCH_HIGHEST, shard=1) == bytes(4)
    # abort e drops e and above, keeps below
    put(c, 2, b"XXXX")
    put(c, 3, b"YYYY")
    put(c, 4, b"ZZZZ", shard=1)
    c.abort(3)
    assert get(c, EPOCH_HIGHEST) == b"XXXX" and get(c, EPOCH_HIGHEST, shard=1) == bytes(4)
    for e in (1, 0):
        with pytest.raises(DaosError) as ei:
            c.abort(e)
        assert ei.value.errno == errno.EPERM
    # writes after the abort are kept and commit
    put(c, 3, b"CCCC")
    c.commit(3)
    assert get(c, 3) == b"CCCC" and get(c, 2) == b"XXXX"


def test_close_discards(containers):
    c = containers.make(1)
    put(c, 1, b"keep")
    c.commit(1)
    put(c, 2, b"lose")
    c.flush(2)  # even flushed
    path = c.path
    c.close()
    c = containers.open(path, "rw")
    assert c.hce == 1 and get(c, EPOCH_HIGHEST) == b"keep"
    put(c, 2, b"two.")
    c.commit(2)
    assert get(c, EPOCH_HIGHEST) == b"two."


def test_slip_and_stale(containers):
    c = containers.make(1)
    put(c, 1, b"e1..")
    c.commit(1)
    put(c, 2, b"e2..")
    c.commit(2, sync=True)  # kept for good
    put(c, 3, b"e3..")
    c.commit(3)
    put(c, 4, b"e4..")
    c.commit(4)
    assert get(c, 1) == b"e1.." and get(c, 3) == b"e3.."
    assert c.epoch_query().oldest <= 1
    c.slip(EPOCH_HIGHEST)
    ei = c.epoch_query()
    assert ei.slipped == 4 and ei.oldest > 1
    with pytest.raises(DaosError) as e:
        get(c, 1)
    assert e.value.errno == errno.ESTALE and e.value.call == "daos_object_read"
    assert get(c, 2) == b"e2.." and get(c, 4) == b"e4.."
    with pytest.raises(DaosError) as e:
        c.list_objects(0, epoch=1)
    assert e.value.errno == errno.ESTALE and e.value.call == "daos_shard_list_obj"
    with pytest.raises(DaosError) as e:
        c.query_shard(0, epoch=1)
    assert e.value.errno == errno.ESTALE
    with pytest.raises(DaosError) as e:
        c.snapshot(1, containers.path("snap"))
    assert e.value.errno == errno.ESTALE
    c.slip(1)  # backwards: nothing
    assert c.epoch_query().slipped == 4


def test_reader_reference_holds_epochs(containers):
    w = containers.make(1)
    put(w, 1, b"v1..")
    w.commit(1)
    r = containers.open(w.path, "r")  # reads at HCE 1 until slipped
    put(w, 2, b"v2..")
    w.commit(2)
    w.slip(EPOCH_HIGHEST)
    assert get(r, 1) == b"v1.."  # the reader's reference keeps epoch 1
    r.slip(EPOCH_HIGHEST)
    assert r.epoch_query().slipped == 2


def test_wait(containers):
    c = containers.make(1)
    put(c, 1, b"AAAA")
    c.commit(1)
    r = c.wait(1)  # already: at once
    assert isinstance(r, WaitResult) and r.hce == 1 and r.layout_changed == 1
    assert c.wait(0).hce == 1
    # a wait for a later epoch is woken by a commit made in another thread
    got = []
    t = threading.Thread(target=lambda: got.append(c.wait(3)))
    t.start()
    time.sleep(0.05)
    assert t.is_alive()
    put(c, 2, b"BBBB")
    c.commit(2)
    time.sleep(0.05)
    assert t.is_alive()  # 2 < 3
    put(c, 3, b"CCCC")
    c.commit(3)
    t.join(10)
    assert not t.is_alive() and got[0].hce == 3
    # the next commit, whichever it is
    t = threading.Thread(target=lambda: got.append(c.wait()))
    t.start()
    time.sleep(0.05)
    c.commit(7)
    t.join(10)
    assert got[1].hce == 7


def test_wait_woken_by_another_process(containers):
    c = containers.make(1)
    c.commit(1)
    code = textwrap.dedent("""
        import sys, time
        from daos_rs import Container
        time.sleep(0.1)
        with Container.open(sys.argv[1], "rw") as c:
            with c.object((0, 1), "rw") as o:
                o.write(5, 0, b"peer")
            c.commit(5)
        """)
    proc = subprocess.Popen([sys.executable, "-c", code, c.path], env=_env())
    try:
        t0 = time.monotonic()
        assert c.wait(5).hce == 5
        assert time.monotonic() - t0 < 30
    finally:
        assert proc.wait(60) == 0
    assert get(c, EPOCH_HIGHEST) == b"peer"


def test_epoch_arguments(containers):
    c = containers.make(1)
    with pytest.raises(ValueError):
        c.commit(-1)
    with pytest.raises(ValueError):
        c.commit(2 ** 64)
    with pytest.raises(TypeError):
        c.commit("1")
    with pytest.raises(TypeError):
        c.commit(1.0)
    with pytest.raises(TypeError):
        c.slip(None)
    put(c, daos_rs._ffi.daos_epoch_t(1), b"ctyp")  # the C struct is accepted
    c.commit(daos_rs._ffi.daos_epoch_t(1))
    assert c.hce == 1
