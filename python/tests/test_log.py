"""The library's log in Python's logging (logger ``daos_rs``): the package
installs a daos_rs_set_log_callback callback at import."""

import logging
import os
import threading

import pytest

import daos_rs
from daos_rs import Container, DaosError, EventQueue, _ffi, _log


def records(caplog):
    return [r for r in caplog.records if r.name == "daos_rs"]


def test_the_explanation_of_an_error_reaches_logging(caplog, store_path):
    missing = os.path.join(store_path, "nope")
    with caplog.at_level(logging.WARNING, logger="daos_rs"):
        with pytest.raises(DaosError) as e:
            Container.open(missing, "r")
    assert e.value.name == "ENOENT"
    recs = records(caplog)
    assert len(recs) == 1, [r.getMessage() for r in recs]
    assert recs[0].levelno == logging.WARNING
    msg = recs[0].getMessage()
    assert msg.startswith("daos_container_open: ")
    assert missing in msg and "does not exist" in msg


def test_bad_input_is_a_warning_and_levels_map(caplog):
    with caplog.at_level(logging.DEBUG, logger="daos_rs"):
        rc = _ffi.lib.daos_eq_create(None)
    assert rc < 0
    (rec,) = records(caplog)
    assert rec.levelno == logging.WARNING
    assert "daos_eq_create" in rec.getMessage() and "NULL" in rec.getMessage()
    assert _log._LEVELS == {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}


def test_messages_from_many_threads_all_arrive(caplog):
    n, per = 6, 50
    together = threading.Barrier(n)

    def work():
        together.wait(timeout=60)  # all alive at once: distinct thread ids
        for _ in range(per):
            assert _ffi.lib.daos_eq_destroy(_ffi.daos_handle_t(0)) < 0
        together.wait(timeout=60)

    with caplog.at_level(logging.WARNING, logger="daos_rs"):
        ts = [threading.Thread(target=work) for _ in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    recs = records(caplog)
    assert len(recs) == n * per
    assert len({r.thread for r in recs}) == n
    assert all("daos_eq_destroy" in r.getMessage() for r in recs)


def test_uninstall_sends_messages_to_stderr_again(caplog, capfd):
    try:
        _log.uninstall()
        with caplog.at_level(logging.WARNING, logger="daos_rs"):
            assert _ffi.lib.daos_eq_create(None) < 0
        assert records(caplog) == []
        err = capfd.readouterr().err
        assert "] warn: daos_eq_create: invalid argument" in err
    finally:
        assert _log.install()
    with caplog.at_level(logging.WARNING, logger="daos_rs"):
        assert _ffi.lib.daos_eq_create(None) < 0
    assert len(records(caplog)) == 1
    assert "daos_eq_create" not in capfd.readouterr().err


def test_a_forked_child_keeps_logging(tmp_path):
    out = tmp_path / "child.log"
    pid = os.fork()
    if pid == 0:  # the child: its own handler, a bad call, exit
        code = 1
        try:
            h = logging.FileHandler(str(out))
            daos_rs._log.logger.addHandler(h)
            _ffi.lib.daos_eq_create(None)
            h.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert "daos_eq_create: invalid argument" in out.read_text()
