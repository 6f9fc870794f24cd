"""Caller buffers pinned for the kernel, and the WSABUF arrays that describe them.

A buffer handed to an overlapped operation is *exported* through the buffer
protocol (PyObject_GetBuffer) for as long as the kernel may read or write it:
the export keeps the object alive, and keeps a bytearray from being resized or
freed under the kernel (it raises BufferError instead).  The export is released
only once the operation is done.  No copy is made: WSABUF.buf points straight
into the caller's object, be it bytes, bytearray, memoryview slice, array or mmap.
"""

from __future__ import annotations

import ctypes
import functools
import struct
from collections.abc import Sequence
from ctypes import POINTER, Structure, c_char_p, c_int, c_ssize_t, c_void_p, py_object
from typing import TYPE_CHECKING, Any, Union

from ._checks import DWORD_MAX
from .raw import WSABUF

if TYPE_CHECKING:
    from typing_extensions import Buffer, TypeAlias

    # One bytes-like object, or several (gather/scatter: a list or tuple at run
    # time).  str is no Buffer: type checkers refuse it, as the run time does.
    Buffers: TypeAlias = Union[Buffer, Sequence[Buffer]]

MAX_LENGTH = DWORD_MAX  # WSABUF.len and the byte counts are 32-bit


class Py_buffer(Structure):
    _fields_ = [
        ("buf", c_void_p),
        ("obj", c_void_p),
        ("len", c_ssize_t),
        ("itemsize", c_ssize_t),
        ("readonly", c_int),
        ("ndim", c_int),
        ("format", c_char_p),
        ("shape", c_void_p),
        ("strides", c_void_p),
        ("suboffsets", c_void_p),
        ("internal", c_void_p),
    ]


PyBUF_SIMPLE = 0  # contiguous bytes, read access
PyBUF_WRITABLE = 1

_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [py_object, POINTER(Py_buffer), c_int]
_get_buffer.restype = c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [POINTER(Py_buffer)]
_release_buffer.restype = None

# One WSABUF: ULONG len, then the pointer at its natural alignment.
_WSABUF_LAYOUT = struct.Struct("@IP")
assert _WSABUF_LAYOUT.size == ctypes.sizeof(WSABUF)


def as_buffer_list(buffers: Any) -> list[Any]:
    """One buffer-protocol object, or a list/tuple of them, as a list."""
    if isinstance(buffers, (list, tuple)):
        if not buffers:
            raise ValueError("at least one buffer is needed")
        return list(buffers)
    return [buffers]


@functools.lru_cache(maxsize=64)
def _wsabuf_array(count: int) -> Any:
    return WSABUF * count


def wsabuf_in_place(data: Any) -> Any:
    """One WSABUF pointing straight into ``data`` if it is a bytes object, else None.

    A bytes object never moves and never changes: an I/O that only reads it
    needs a reference held for as long as the kernel may read it, not an
    export (``PinnedBuffers``).  Its bytes lie where a c_char_p made from it
    points.  None too when it is longer than a WSABUF can say: the export
    path refuses that with its own error.
    """
    if data.__class__ is not bytes or len(data) > MAX_LENGTH:
        return None
    return one_wsabuf(c_void_p.from_buffer(c_char_p(data)).value or 0, len(data))


def one_wsabuf(address: int, length: int) -> Any:
    """One WSABUF holding (address, length)."""
    wsabuf = WSABUF()
    _WSABUF_LAYOUT.pack_into(wsabuf, 0, length, address)
    return wsabuf


def build_wsabufs(spans: Sequence[tuple[int, int]]) -> Any:
    """WSABUFs holding each (address, length), in order: one WSABUF, or an array."""
    if len(spans) == 1:  # the common case: one WSABUF, no array type
        return one_wsabuf(*spans[0])
    array = _wsabuf_array(len(spans))()
    for index, (address, length) in enumerate(spans):
        _WSABUF_LAYOUT.pack_into(array, index * _WSABUF_LAYOUT.size, length, address)
    return array


class PinnedBuffers:
    """Exports of the caller's buffers, held until ``release()``.

    Valid until the operation completes; the WSABUF array (``wsabufs``) points
    into the exported memory and must not outlive it.
    """

    __slots__ = ("_views", "count", "spans", "total", "wsabufs")

    def __init__(self, buffers: Any, *, writable: bool, limit: int | None = None) -> None:
        objects = as_buffer_list(buffers)
        flags = PyBUF_WRITABLE if writable else PyBUF_SIMPLE
        self._views: list[Py_buffer] = []
        spans = []
        total = 0
        try:
            for index, obj in enumerate(objects):
                view = Py_buffer()
                try:
                    _get_buffer(obj, view, flags)
                except (BufferError, TypeError) as exc:
                    raise _refusal(obj, index, writable, exc) from exc
                self._views.append(view)
                spans.append((view.buf or 0, view.len))
                total += view.len
        except BaseException:
            self.release()
            raise
        if limit is not None:
            if limit > total:
                self.release()
                raise ValueError(f"nbytes ({limit}) is greater than the length of the buffers")
            spans, total = _truncate(spans, limit), limit
        if total > MAX_LENGTH:  # then no single buffer is over it either
            self.release()
            raise ValueError(f"buffers longer than {MAX_LENGTH} bytes (4 GiB - 1) in all "
                             "cannot be described to Winsock")
        self.spans = spans  # (address, length) of each buffer, in order
        self.total = total
        self.count = len(spans)
        self.wsabufs = build_wsabufs(spans)

    def release(self) -> None:
        """End the exports; a bytearray can be resized again afterwards."""
        views, self._views = self._views, []
        for view in views:
            _release_buffer(view)

    def __del__(self) -> None:
        # Reached only when no pending operation holds these exports: the
        # registry holds every pending operation, and the operation holds this.
        if getattr(self, "_views", None):
            self.release()


def _refusal(obj: Any, index: int, writable: bool, exc: Exception) -> Exception:
    """The error for an object PyObject_GetBuffer would not export."""
    kind = type(obj).__name__
    if isinstance(exc, TypeError):
        return TypeError(f"buffer {index}: a bytes-like object is required, not '{kind}'")
    if writable and _is_readonly(obj):
        return TypeError(f"buffer {index}: a writable bytes-like object is required, "
                         f"not read-only {kind}")
    return ValueError(f"buffer {index}: {exc}")


def _is_readonly(obj: Any) -> bool:
    try:
        with memoryview(obj) as view:
            return view.readonly
    except (TypeError, ValueError):
        return False


def _truncate(spans: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """The spans cut to ``limit`` bytes in all (recv_into's nbytes)."""
    result = []
    remaining = limit
    for address, length in spans:
        take = min(length, remaining)
        result.append((address, take))
        remaining -= take
    return result
