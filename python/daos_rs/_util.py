"""Shared machinery of the synchronous (``core``) and asyncio (``aio``) layers.

An operation is described once, as an ``_Op`` (the C call to make with or
without an event, the objects that must stay alive while it runs, how to turn
its out-parameters into a result) or as a *program*: a generator that yields
``_Op``s and receives their results, for calls that need several C calls
(paged listings, open-then-query). ``run_sync`` runs either with ``ev=NULL``;
``aio`` runs the same descriptions with an event on its event queue.
"""

import ctypes
import operator
import os
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_ssize_t, c_void_p

from . import _ffi
from .errors import DaosError

U32_MAX = 0xFFFFFFFF
U64_MAX = 0xFFFFFFFFFFFFFFFF

# --- argument checking -------------------------------------------------------


def to_int(v, what):
    if isinstance(v, bool):
        raise TypeError("%s must be an integer, not bool" % what)
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError("%s must be an integer, not %s" % (what, type(v).__name__)) from None


def u64(v, what):
    v = to_int(v, what)
    if v < 0:
        raise ValueError("%s must be >= 0, got %d" % (what, v))
    if v > U64_MAX:
        raise ValueError("%s must be below 2**64, got %d" % (what, v))
    return v


def u32(v, what):
    v = to_int(v, what)
    if v < 0:
        raise ValueError("%s must be >= 0, got %d" % (what, v))
    if v > U32_MAX:
        raise ValueError("%s must be below 2**32, got %d" % (what, v))
    return v


def epoch(e, what="epoch"):
    """An epoch argument: an int (``EPOCH_HIGHEST`` for the newest) or a
    ``daos_epoch_t``; returns a new ``daos_epoch_t``."""
    if isinstance(e, _ffi.daos_epoch_t):
        return _ffi.daos_epoch_t(e.seq)
    return _ffi.daos_epoch_t(u64(e, what))


def path(p, what="path"):
    """A path argument (str, bytes or os.PathLike) as NUL-free bytes."""
    try:
        b = os.fsencode(p)
    except TypeError:
        raise TypeError("%s must be str, bytes or os.PathLike, not %s"
                        % (what, type(p).__name__)) from None
    if b"\0" in b:
        raise ValueError("%s contains a NUL byte" % what)
    if not b:
        raise ValueError("%s is empty" % what)
    return b


def timeout_us(timeout, what="timeout"):
    """Seconds (int/float, or None for forever) as microseconds (-1 forever)."""
    if timeout is None:
        return -1
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("%s must be a number of seconds or None, not %s"
                        % (what, type(timeout).__name__))
    if timeout < 0:
        raise ValueError("%s must be >= 0 (or None to wait forever)" % what)
    return int(round(timeout * 1e6))


# --- buffers -------------------------------------------------------------------


class Py_buffer(Structure):
    _fields_ = [("buf", c_void_p), ("obj", c_void_p), ("len", c_ssize_t),
                ("itemsize", c_ssize_t), ("readonly", c_int), ("ndim", c_int),
                ("format", c_char_p), ("shape", c_void_p), ("strides", c_void_p),
                ("suboffsets", c_void_p), ("internal", c_void_p)]


_PyBUF_SIMPLE = 0
_PyBUF_WRITABLE = 1
_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, POINTER(Py_buffer), c_int]
_get_buffer.restype = c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [POINTER(Py_buffer)]
_release_buffer.restype = None
_bytes_new = ctypes.pythonapi.PyBytes_FromStringAndSize
_bytes_new.argtypes = [c_void_p, c_ssize_t]
_bytes_new.restype = ctypes.py_object


class Buf:
    """A held export of an object's buffer (the buffer protocol): its address
    and length stay valid, and the object cannot be resized or closed (a
    bytearray, an mmap), until ``release``. No copy is made."""

    __slots__ = ("obj", "view", "addr", "len", "_held")

    def __init__(self, obj, writable, what="buffer"):
        self._held = False
        self.obj = obj
        self.view = Py_buffer()
        try:
            _get_buffer(obj, byref(self.view), _PyBUF_WRITABLE if writable else _PyBUF_SIMPLE)
        except TypeError:
            raise TypeError("%s must be a bytes-like object (buffer protocol), not %s"
                            % (what, type(obj).__name__)) from None
        except BufferError as e:
            if writable:
                try:
                    Buf(obj, False).release()
                except (BufferError, TypeError):
                    pass
                else:
                    raise TypeError("%s must be writable (bytearray, memoryview, array, "
                                    "numpy array, mmap...), not read-only %s"
                                    % (what, type(obj).__name__)) from None
            raise ValueError("%s must be C-contiguous: %s" % (what, e)) from None
        self._held = True
        self.addr = self.view.buf or 0
        self.len = self.view.len

    def release(self):
        if self._held:
            self._held = False
            _release_buffer(byref(self.view))

    def __del__(self):
        try:
            self.release()
        except Exception:
            pass


def new_bytes(n):
    """A new ``bytes`` of ``n`` bytes not yet filled, and its address: it is
    filled by a read before anyone else can see it."""
    b = _bytes_new(None, n)
    buf = Buf(b, False)
    return b, buf


def descriptors(mm, io):
    """``daos_mmd`` and ``daos_iod`` for lists of (address, length) and
    (offset, length); zero-length pieces are left out (they move nothing)."""
    mm = [f for f in mm if f[1]]
    io = [f for f in io if f[1]]
    mmd = _ffi.mmd_type(max(len(mm), 1))()
    mmd.mmd_nfrag = len(mm)
    for i, (a, n) in enumerate(mm):
        mmd.mmd_frag[i].mf_addr = a
        mmd.mmd_frag[i].mf_nob = n
    iod = _ffi.iod_type(max(len(io), 1))()
    iod.iod_nfrag = len(io)
    for i, (o, n) in enumerate(io):
        iod.iod_frag[i].if_offset = o
        iod.iod_frag[i].if_nob = n
    return mmd, iod


# --- operations ----------------------------------------------------------------


class Op:
    """One C call. ``fn(ev)`` makes it (``ev``: None, or ``byref`` of an
    event) and returns its rc; ``keep`` holds what must stay alive until it
    completes (buffers, out-structs, descriptors, the objects used);
    ``result()`` makes the value once it succeeded; ``error(rc)`` the exception
    once it failed; ``bufs`` are buffer exports released when it is over."""

    __slots__ = ("call", "fn", "keep", "result", "error_fn", "bufs")

    def __init__(self, call, fn, keep=(), result=None, error=None, bufs=()):
        self.call = call
        self.fn = fn
        self.keep = keep
        self.result = result
        self.error_fn = error
        self.bufs = bufs

    def error(self, rc):
        if self.error_fn is not None:
            return self.error_fn(rc)
        return DaosError(-rc, self.call)

    def done(self):
        """Called once the operation is over (or was refused): releases the
        buffer exports and drops what was kept."""
        for b in self.bufs:
            b.release()
        self.bufs = ()
        self.keep = ()


def run_op_sync(op):
    try:
        rc = op.fn(None)
        if rc < 0:
            raise op.error(rc)
        return op.result() if op.result is not None else None
    finally:
        op.done()


def run_sync(prog):
    """Runs an ``Op`` or a program of them synchronously (ev = NULL)."""
    if isinstance(prog, Op):
        return run_op_sync(prog)
    try:
        op = next(prog)
    except StopIteration as s:
        return s.value
    while True:
        try:
            val = run_op_sync(op)
        except BaseException as e:
            try:
                op = prog.throw(e)
            except StopIteration as s:
                return s.value
            continue
        try:
            op = prog.send(val)
        except StopIteration as s:
            return s.value


H = _ffi.daos_handle_t
NULL_HANDLE = H(0)


def handle_copy(h):
    return H(h.cookie)
