#!/usr/bin/env python3
"""daos-rs from Python, synchronously: make a store in a temporary directory,
a container with two shards, write an object at epoch 1, read it back before
and after the commit, write a second version, and read both versions.

    python3 python/examples/quickstart.py      (from the repository root)

Exits 0 on success. Uses the installed daos_rs package, or the source tree's
(the library is found as daos_rs._lib says: DAOS_RS_LIB, beside the package,
the cargo build output, the loader).
"""

import os
import shutil
import sys
import tempfile

try:
    import daos_rs
except ImportError:  # not installed: the source tree's package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import daos_rs

from daos_rs import EPOCH_HIGHEST, Container, DaosError, Store


def main():
    root = tempfile.mkdtemp(prefix="daos-quickstart-")
    try:
        Store.format(root, ntargets=2)
        with Store.open(root) as store:
            for t in store.targets:
                print("target %d: %s, status %d, %.1f GiB free"
                      % (t.target, t.type, t.status, t.space.free / 2**30))

        path = os.path.join(root, "demo")
        with Container.open(path, "rw", create=True) as c:
            shards = c.add_shards(1, targets=[0, 1])       # one shard per target
            print("container %s, shards %s, status %s" % (path, shards, c.status.name))

            with c.object((shards[0], 42), "rw") as obj:
                obj.write(1, 0, b"hello, ")                # epoch 1, offset 0
                obj.writev(1, [(7, b"world"), (12, bytearray(b"!"))])
                # this process sees its own uncommitted writes at their epoch
                assert obj.read(1, 0, 13) == b"hello, world!"
                c.commit(1)                                # durable and visible to all
                print("committed epoch", c.epoch_query().hce)

                obj.write(2, 7, b"DAOS!")                  # a new version in epoch 2
                obj.punch(2, 12, 13)
                c.commit(2)
                v1 = obj.read(1, 0, 13)
                v2 = bytearray(13)
                obj.read_into(EPOCH_HIGHEST, 0, v2)        # into a buffer of yours
                print("epoch 1: %r, epoch 2: %r" % (v1, bytes(v2)))
                assert v1 == b"hello, world!" and v2 == b"hello, DAOS!\0"

            try:
                with c.object((shards[0], 42), "rw") as obj:
                    obj.write(1, 0, b"too late")          # epoch 1 is committed
            except DaosError as e:
                print("as expected: %s (errno %s)" % (e, e.name))

            print("objects of shard %d: %s" % (shards[0], c.list_objects(shards[0])))
        Container.unlink(path)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("quickstart: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
