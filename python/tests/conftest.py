"""Fixtures of the Python API tests: each test gets a store of its own in a
temporary directory (removed afterwards), and helpers to make containers."""

import os
import random
import shutil

import pytest

import daos_rs
from daos_rs import Container, Store


@pytest.fixture
def store_path(tmp_path):
    """A freshly formatted store with 2 targets (no probe); removed at the end."""
    root = tmp_path / "store"
    root.mkdir()
    Store.format(str(root), ntargets=2)
    yield str(root)
    shutil.rmtree(str(root), ignore_errors=True)


class Maker:
    """Makes containers in a store: ``make(nshards)`` opens a new RW
    container with shards 0..n-1 (added at epoch 1, alternating targets);
    every container it opened is closed at the end of the test."""

    def __init__(self, root):
        self.root = root
        self.n = 0
        self.opened = []

    def path(self, name=None):
        if name is None:
            self.n += 1
            name = "c%d" % self.n
        return os.path.join(self.root, name)

    def open(self, path, mode="rw", **kw):
        c = Container.open(path, mode, **kw)
        self.opened.append(c)
        return c

    def make(self, nshards=1, name=None):
        c = self.open(self.path(name), "rw", create=True)
        if nshards:
            ids = c.add_shards(1, [i % 2 for i in range(nshards)], list(range(nshards)))
            assert ids == list(range(nshards))
        return c

    def close_all(self):
        for c in self.opened:
            try:
                c.close()
            except daos_rs.DaosError:
                pass


@pytest.fixture
def containers(store_path):
    m = Maker(store_path)
    yield m
    m.close_all()


@pytest.fixture
def container(containers):
    """A RW container with two shards (0 on target 0, 1 on target 1)."""
    return containers.make(2)


def pattern(i, n=4096):
    """``n`` bytes that depend on ``i`` (a different pattern per ``i``)."""
    return random.Random(i).getrandbits(8 * n).to_bytes(n, "little") if n else b""


@pytest.fixture
def make_pattern():
    return pattern
