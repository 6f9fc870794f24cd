"""The raw calls made for every operation or packet, unchecked, and the readers of
their answers.

Each is a twin of a raw layer declaration (``raw.unchecked``): the same export,
every pointer parameter taken as ``c_void_p`` (pass ``byref()`` of a structure,
an array or None), no errcheck.  Nothing is raised: the caller reads the result
and ``ctypes.get_last_error()`` itself, right after the call.  The checked
forms convert some arguments and check the result in Python; on the hot path
that work is a measurable part of an operation's cost.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Iterator
from ctypes import byref, sizeof

from .raw import (
    DWORD,
    ERROR_SUCCESS,
    OVERLAPPED_ENTRY,
    ULONG_PTR,
    DeviceIoControl,
    GetOverlappedResult,
    GetQueuedCompletionStatus,
    GetQueuedCompletionStatusEx,
    PostQueuedCompletionStatus,
    WSARecv,
    WSARecvFrom,
    WSASend,
    WSASendMsg,
    WSASendTo,
    unchecked,
)

__all__ = [
    "DEVICE_IO_CONTROL",
    "GET_OVERLAPPED_RESULT",
    "GET_QUEUED_COMPLETION_STATUS_EX",
    "POST_QUEUED_COMPLETION_STATUS",
    "WSARECV",
    "WSARECVFROM",
    "WSASEND",
    "WSASENDMSG",
    "WSASENDTO",
    "get_queued_completion_status",
    "unpack_entries",
]

# The submitting calls of the object layer's and the drop-in's operations.
WSASEND = unchecked(WSASend)
WSASENDTO = unchecked(WSASendTo)
WSASENDMSG = unchecked(WSASendMsg)
WSARECV = unchecked(WSARecv)
WSARECVFROM = unchecked(WSARecvFrom)
DEVICE_IO_CONTROL = unchecked(DeviceIoControl)  # a socket poll's IOCTL_AFD_POLL
# The drop-in's getresult().
GET_OVERLAPPED_RESULT = unchecked(GetOverlappedResult)
# A port's packets.
POST_QUEUED_COMPLETION_STATUS = unchecked(PostQueuedCompletionStatus)
GET_QUEUED_COMPLETION_STATUS_EX = unchecked(GetQueuedCompletionStatusEx)
_GET_QUEUED_COMPLETION_STATUS = unchecked(GetQueuedCompletionStatus)


class _Packet(ctypes.Structure):
    """GetQueuedCompletionStatus's three out-parameters, in one structure."""

    _fields_ = [("overlapped", ctypes.c_void_p), ("key", ULONG_PTR), ("nbytes", DWORD)]


_OVERLAPPED, _KEY, _NBYTES = (getattr(_Packet, name).offset
                              for name in ("overlapped", "key", "nbytes"))


def get_queued_completion_status(port: int, milliseconds: int) -> tuple[int, int, int, int]:
    """GetQueuedCompletionStatus: ``(error, overlapped address, key, bytes)``.

    ``error`` is 0 for a packet of an I/O that succeeded.  With an address, a
    packet was dequeued and ``error`` is its I/O's (FALSE was returned: the
    status is in its OVERLAPPED); with address 0, the call failed with
    ``error`` (WAIT_TIMEOUT: nothing came), or dequeued a packet posted
    without an OVERLAPPED (error 0).
    """
    packet = _Packet()
    dequeued = _GET_QUEUED_COMPLETION_STATUS(port, byref(packet, _NBYTES), byref(packet, _KEY),
                                             byref(packet, _OVERLAPPED), milliseconds)
    error = ERROR_SUCCESS if dequeued else ctypes.get_last_error()
    return error, packet.overlapped or 0, packet.key, packet.nbytes


# OVERLAPPED_ENTRY read without ctypes attribute access: key, overlapped, Internal, bytes.
_ENTRY = struct.Struct("@PPPI")
_ENTRY_STRIDE = sizeof(OVERLAPPED_ENTRY)
assert _ENTRY.size <= _ENTRY_STRIDE


def unpack_entries(entries: ctypes.Array[OVERLAPPED_ENTRY],
                   count: int) -> Iterator[tuple[int, int, int, int]]:
    """The first ``count`` OVERLAPPED_ENTRYs GetQueuedCompletionStatusEx filled:
    ``(key, overlapped address, Internal, bytes)`` each (Internal as Windows
    left it: ``core.status_code`` reads the NTSTATUS in it)."""
    view = memoryview(entries).cast("B")
    for index in range(count):
        key, address, internal, nbytes = _ENTRY.unpack_from(view, index * _ENTRY_STRIDE)
        yield key, address or 0, internal, nbytes
