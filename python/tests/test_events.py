"""Event queues and events at the Python level (mirrors c-tests/test_eq.c,
test_event.c, test_parent.c, test_fd.c): noop, poll and its timeouts, query,
abort, user events, test, callbacks, parents, the descriptor."""

import errno
import select
import threading
import time

import pytest

import daos_rs
from daos_rs import DaosError, Event, EventQueue, EventType, noop

MS = 1000


@pytest.fixture
def eq():
    q = EventQueue()
    yield q
    q.destroy(force=True)


def test_create_destroy():
    with EventQueue() as q:
        assert not q.destroyed
        assert q.handle.cookie != 0
        fd = q.fileno()
        assert fd >= 0 and q.fileno() == fd
        assert q.poll(wait=False) == []
        assert q.query() == 0
    assert q.destroyed
    q.destroy()  # again: nothing
    with pytest.raises(DaosError) as ei:
        q.poll(wait=False)
    assert ei.value.errno == errno.EBADF and ei.value.call == "daos_eq_poll"
    with pytest.raises(DaosError) as ei:
        q.fileno()
    assert ei.value.errno == errno.EBADF and ei.value.call == "daos_eq_get_fd"
    with pytest.raises(DaosError):
        Event(q)


def test_noop_poll(eq):
    ev = eq.event()
    assert ev.type == EventType.NONE and ev.error == 0
    noop(ev, 1 * MS)
    assert eq.query("inflight") + eq.query("completed") == 1
    got = eq.poll(timeout=5)
    assert got == [ev] and got[0] is ev
    assert ev.error == 0 and ev.type == EventType.NOOP and ev.exception() is None
    ev.check()
    # nothing in flight: poll returns at once even when told to wait
    t0 = time.monotonic()
    assert eq.poll() == []
    assert time.monotonic() - t0 < 1
    # an event is reusable once polled
    for _ in range(5):
        noop(ev, 0)
        assert eq.poll(timeout=5) == [ev]
    ev.fini()


def test_sync_noop_sleeps():
    t0 = time.monotonic()
    noop(None, 30 * MS)
    assert time.monotonic() - t0 >= 0.025


def test_poll_timeouts(eq):
    ev = eq.event()
    ev.launch()  # in flight until completed
    t0 = time.monotonic()
    assert eq.poll(timeout=0.1) == []
    dt = time.monotonic() - t0
    assert 0.08 <= dt < 3
    t0 = time.monotonic()
    assert eq.poll(wait=False) == []
    assert time.monotonic() - t0 < 0.05
    ev.complete(0)
    assert eq.poll(timeout=0) == [ev]


def test_poll_order_and_max(eq):
    evs = [eq.event() for _ in range(5)]
    for i, ev in enumerate(evs):
        noop(ev, (5 - i) * 20 * MS)  # the last one completes first
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 5 and time.monotonic() < deadline:
        got += eq.poll(max=2, timeout=5)
    assert got == evs[::-1]
    with pytest.raises(ValueError):
        eq.poll(max=0)
    with pytest.raises(ValueError):
        eq.poll(timeout=-1)
    with pytest.raises(TypeError):
        eq.poll(timeout="soon")


def test_query(eq):
    a, b, c = eq.event(), eq.event(), eq.event()
    a.launch()
    b.launch()
    noop(c, 0)
    deadline = time.monotonic() + 5
    while eq.query("completed") < 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert eq.query("completed") == 1
    assert eq.query("inflight") == 2
    assert eq.query("all") == 3
    assert eq.query_events("completed") == [c]
    assert set(eq.query_events("inflight")) == {a, b}
    assert eq.query_events("all")[0] is c  # completed first
    with pytest.raises(ValueError):
        eq.query("finished")
    b.complete(-errno.EIO)
    a.complete()
    got = eq.poll(max=8, timeout=5)
    assert set(got) == {a, b, c}
    assert b.error == -errno.EIO
    e = b.exception()
    assert isinstance(e, DaosError) and e.errno == errno.EIO
    with pytest.raises(DaosError):
        b.check()
    assert eq.query() == 0


def test_abort(eq):
    ev = eq.event()
    noop(ev, 10_000 * MS)
    t0 = time.monotonic()
    ev.abort()
    assert eq.poll(timeout=5) == [ev]
    assert time.monotonic() - t0 < 3
    assert ev.error == -errno.EINTR
    e = ev.exception()
    assert e.errno == errno.EINTR and e.call == "daos_noop"
    ev.abort()  # not in flight: nothing
    # abort of a user event: completes with -EINTR too (destroy_force does it)


def test_user_events(eq):
    ev = eq.event()
    with pytest.raises(DaosError) as ei:
        ev.complete(0)  # not launched
    assert ei.value.errno == errno.EINVAL and ei.value.call == "daos_event_complete"
    ev.launch()
    assert ev.type == EventType.USER
    with pytest.raises(DaosError) as ei:
        ev.launch()
    assert ei.value.errno == errno.EBUSY
    with pytest.raises(DaosError) as ei:
        noop(ev, 0)
    assert ei.value.errno == errno.EBUSY and ei.value.call == "daos_noop"
    with pytest.raises(ValueError):
        ev.complete(5)
    with pytest.raises(DaosError) as ei:
        ev.fini()
    assert ei.value.errno == errno.EBUSY
    ev.complete(-errno.ENOSPC)
    assert eq.poll(timeout=5) == [ev]
    assert ev.error == -errno.ENOSPC
    # a noop refuses to complete by hand
    noop(ev, 50 * MS)
    with pytest.raises(DaosError) as ei:
        ev.complete(0)
    assert ei.value.errno == errno.EPERM
    assert eq.poll(timeout=5) == [ev]


def test_complete_from_another_thread_wakes_poller(eq):
    ev = eq.event()
    ev.launch()

    def later():
        time.sleep(0.05)
        ev.complete(0)

    t = threading.Thread(target=later)
    t0 = time.monotonic()
    t.start()
    assert eq.poll(timeout=5) == [ev]  # blocks, GIL released
    t.join()
    assert time.monotonic() - t0 < 3


def test_event_test(eq):
    ev = eq.event()
    assert ev.test() is True  # idle counts as done
    noop(ev, 100 * MS)
    assert ev.test(0) is False
    assert ev.test(5) is True
    assert ev.error == 0
    assert eq.poll(wait=False) == []  # taken out of the queue by test
    noop(ev, 10_000 * MS)
    assert ev.test(0.02) is False
    ev.abort()
    assert ev.test(None) is True
    assert ev.error == -errno.EINTR
    with pytest.raises(ValueError):
        ev.test(-1)


def test_callback(eq):
    ev = eq.event()
    seen = []

    def cb(e, rc):
        seen.append((e, rc, threading.get_ident()))
        return -errno.EIO  # replaces a zero result

    ev.register_callback(cb)
    noop(ev, 0)
    assert eq.poll(timeout=5) == [ev]
    assert seen and seen[0][0] is ev and seen[0][1] == 0
    assert ev.error == -errno.EIO
    # called once: the next completion has no callback
    noop(ev, 0)
    assert eq.poll(timeout=5) == [ev]
    assert len(seen) == 1 and ev.error == 0
    # a callback returning None changes nothing; one raising is reported, not fatal
    ev.register_callback(lambda e, rc: None)
    ev.launch()
    ev.complete(-errno.ENOENT)
    assert eq.poll(timeout=5) == [ev] and ev.error == -errno.ENOENT

    def boom(e, rc):
        raise RuntimeError("callback failure")

    ev.register_callback(boom)
    noop(ev, 0)
    assert eq.poll(timeout=5) == [ev] and ev.error == 0
    # callbacks run in the thread that completes the event: here another thread
    ev.register_callback(cb)
    ev.launch()
    t = threading.Thread(target=ev.complete)
    t.start()
    t.join()
    assert eq.poll(timeout=5) == [ev]
    assert seen[-1][2] == t.ident and ev.error == -errno.EIO
    with pytest.raises(TypeError):
        ev.register_callback(42)


def test_parent_and_children(eq):
    parent = eq.event()
    c1 = eq.event(parent)
    c2 = Event(eq, parent=parent)
    assert parent.children == [c1, c2]
    assert c1.parent is parent
    noop(c1, 1 * MS)
    noop(c2, 60 * MS)
    got = eq.poll(timeout=5)
    assert got == [parent]  # only once both children completed, never a child
    assert parent.type == EventType.COMPOUND and parent.error == 0
    assert c1.error == 0 and c2.error == 0
    # the first child error is the parent's
    c1.launch()
    noop(c2, 0)
    c1.complete(-errno.EIO)
    assert eq.poll(timeout=5) == [parent]
    assert parent.error == -errno.EIO
    # a parent with children cannot carry an operation itself; a child cannot be a parent
    with pytest.raises(DaosError) as ei:
        noop(parent, 0)
    assert ei.value.errno == errno.EPERM
    with pytest.raises(DaosError) as ei:
        Event(eq, parent=c1)
    assert ei.value.errno == errno.EPERM
    with pytest.raises(DaosError) as ei:
        c1.test()
    assert ei.value.errno == errno.EPERM
    # aborting the parent aborts its children
    noop(c1, 10_000 * MS)
    noop(c2, 10_000 * MS)
    parent.abort()
    assert eq.poll(timeout=5) == [parent]
    assert parent.error == -errno.EINTR
    # finalising the parent finalises its children
    parent.fini()
    assert eq.query() == 0
    with pytest.raises(TypeError):
        Event(eq, parent="p")


def test_fileno_readable_when_completed(eq):
    fd = eq.fileno()
    ev, ev2 = eq.event(), eq.event()
    assert select.select([fd], [], [], 0)[0] == []
    t0 = time.monotonic()
    noop(ev, 100 * MS)
    assert select.select([fd], [], [], 5)[0] == [fd]  # by itself, without polling
    assert time.monotonic() - t0 >= 0.09
    assert select.select([fd], [], [], 0)[0] == [fd]  # level: until drained
    assert eq.poll(wait=False) == [ev]
    assert select.select([fd], [], [], 0.05)[0] == []
    # two completions: readable until both are polled
    noop(ev, 0)
    noop(ev2, 0)
    deadline = time.monotonic() + 5
    while eq.query("completed") < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert eq.poll(wait=False, max=1) != []
    assert select.select([fd], [], [], 0)[0] == [fd]
    assert eq.poll(wait=False, max=1) != []
    assert select.select([fd], [], [], 0)[0] == []
    # a user completion
    ev.launch()
    assert select.select([fd], [], [], 0)[0] == []
    ev.complete(0)
    assert select.select([fd], [], [], 5)[0] == [fd]
    assert eq.poll(wait=False) == [ev]


def test_fini_and_reinit(eq):
    ev = eq.event()
    ev.fini()
    ev.fini()  # again: nothing
    with pytest.raises(DaosError) as ei:
        noop(ev, 0)  # finalised: unknown to the library
    assert ei.value.errno == errno.ENOENT
    # a completed event that was not polled is removed silently by fini
    ev2 = eq.event()
    noop(ev2, 0)
    assert ev2.test(5) in (True,)  # done (and taken)
    ev3 = eq.event()
    noop(ev3, 0)
    deadline = time.monotonic() + 5
    while eq.query("completed") < 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    ev3.fini()
    assert eq.query() == 0 and eq.poll(wait=False) == []


def test_destroy_busy_and_force():
    q = EventQueue()
    ev = q.event()
    ev.launch()
    with pytest.raises(DaosError) as ei:
        q.destroy()
    assert ei.value.errno == errno.EBUSY and ei.value.call == "daos_eq_destroy"
    assert not q.destroyed
    q.destroy(force=True)  # aborts the user event and waits for it
    assert q.destroyed
    assert ev.error == -errno.EINTR
    ev.fini()  # forgotten with the queue: nothing to do
    # a with block destroys forcibly on exit
    with EventQueue() as q2:
        e = q2.event()
        noop(e, 10_000 * MS)
    assert q2.destroyed and e.error == -errno.EINTR


def test_event_queue_for_several_threads(eq):
    """Several threads poll one queue: each completion goes to one of them."""
    evs = [eq.event() for _ in range(64)]
    for e in evs:
        noop(e, 2 * MS)
    got = []
    lock = threading.Lock()

    def poller():
        while True:
            r = eq.poll(timeout=0.5, max=4)
            if not r:
                return
            with lock:
                got.extend(r)

    ts = [threading.Thread(target=poller) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(map(id, got)) == sorted(map(id, evs))


def test_version():
    v = daos_rs.version()
    assert v == (daos_rs._ffi.DAOS_RS_VERSION_MAJOR, daos_rs._ffi.DAOS_RS_VERSION_MINOR,
                 daos_rs._ffi.DAOS_RS_VERSION_PATCH)


def test_callback_runs_without_a_poll(eq):
    """The operation runs, and its callback, while the caller only waits."""
    ev = eq.event()
    seen = []
    ev.register_callback(lambda e, rc: seen.append(rc))
    noop(ev, 20 * MS)
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline:
        time.sleep(0.002)  # no library call
    assert seen == [0]
    assert eq.poll(wait=False) == [ev]


def test_plugged_holds_operations_until_unplug(eq):
    fd = eq.fileno()
    evs = [eq.event() for _ in range(4)]
    seen = []
    with eq.plugged():
        eq.plug()  # not nested: the block's one unplug ends it
        for ev in evs:
            ev.register_callback(lambda e, rc: seen.append(rc))
            noop(ev, 0)
        time.sleep(0.2)
        assert seen == []
        assert select.select([fd], [], [], 0)[0] == []
    assert select.select([fd], [], [], 60)[0] == [fd]
    deadline = time.monotonic() + 60
    while len(seen) < 4 and time.monotonic() < deadline:
        time.sleep(0.002)
    assert seen == [0] * 4
    got = []
    while len(got) < 4:
        got += eq.poll(timeout=5)
    assert sorted(map(id, got)) == sorted(map(id, evs))
    # a poll of a plugged queue hands over what it holds
    eq.plug()
    noop(evs[0], 0)
    assert eq.poll(timeout=5) == [evs[0]]
    eq.unplug()
    eq.unplug()  # not plugged: nothing to do
