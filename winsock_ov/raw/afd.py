"""The AFD driver's poll request: socket readiness as an overlapped I/O.

No SDK header declares these; they are the driver interface ``ws2_32``'s own
``select`` and ``WSAPoll`` sit on, as ReactOS, Wine and the Windows poll
libraries (wepoll, mio, trio) document them.  A *helper* handle opened on a
name under ``AFD_DEVICE`` (any name) accepts ``IOCTL_AFD_POLL`` through
``DeviceIoControl`` with an OVERLAPPED: the request asks for events on one or
more *base* socket handles (``SIO_BASE_HANDLE``) and completes once one of
them has one, like any overlapped I/O (an event, a port packet).  The
AFD_POLL_INFO is both the input and the output buffer: on completion
``NumberOfHandles`` says how many entries hold events, each entry's
``Events`` the events it has and ``Status`` the socket's error for
AFD_POLL_CONNECT_FAIL.  Windows writes that output until the request
completes: the structure must outlive it, like a receive buffer.

Layout (ctypes computes it from the fields, so 32-bit is right by
construction): AFD_POLL_HANDLE_INFO is 16 bytes on x64 (Handle 0, Events 8,
Status 12) and 12 on x86 (0, 4, 8); AFD_POLL_INFO with one entry is 32 bytes
on both (Timeout 0, NumberOfHandles 8, Exclusive 12, Handles 16), the
LARGE_INTEGER aligning it to 8.
"""

from __future__ import annotations

from ctypes import Structure, c_int64

from .types import HANDLE, NTSTATUS, ULONG

# \Device\Afd: CreateFileW reaches the NT name through the \\.\GLOBALROOT link.
AFD_DEVICE = "\\\\.\\GLOBALROOT\\Device\\Afd"

# AFD's own control codes are (FILE_DEVICE_NETWORK << 12) | (request << 2) | method,
# not CTL_CODE's layout: AFD_POLL is request 9, METHOD_BUFFERED is 0.
IOCTL_AFD_POLL = 0x00012024

AFD_POLL_RECEIVE = 0x0001  # data to read (or a datagram); FD_READ
AFD_POLL_RECEIVE_EXPEDITED = 0x0002  # out-of-band data; FD_OOB
AFD_POLL_SEND = 0x0004  # room to send; FD_WRITE
AFD_POLL_DISCONNECT = 0x0008  # the peer shut down its sending side (FIN); FD_CLOSE
AFD_POLL_ABORT = 0x0010  # the connection was reset or aborted; FD_CLOSE
AFD_POLL_LOCAL_CLOSE = 0x0020  # the polled socket was closed by this process
AFD_POLL_CONNECT = 0x0040  # a connect completed
AFD_POLL_ACCEPT = 0x0080  # a listening socket has a connection to accept; FD_ACCEPT
AFD_POLL_CONNECT_FAIL = 0x0100  # a connect failed: Status holds why; FD_CONNECT error
AFD_POLL_ALL = 0x01FF  # every event above

# Timeout is in 100 ns units, negative: relative, positive: absolute (system time).
# The largest one never comes: no timer is set.
AFD_NO_TIMEOUT = (1 << 63) - 1


class AFD_POLL_HANDLE_INFO(Structure):
    """One socket of a poll: its base handle, the events asked (in) or found (out),
    and (out) the NTSTATUS of a failed connect."""

    _fields_ = [
        ("Handle", HANDLE),
        ("Events", ULONG),
        ("Status", NTSTATUS),
    ]


class AFD_POLL_INFO(Structure):
    """A poll request with one socket (``Handles[0]``), the shape every user needs.

    ``Timeout``: see ``AFD_NO_TIMEOUT``; 0 answers at once.  ``Exclusive``
    nonzero ends an earlier exclusive poll of the same socket.  On output
    ``NumberOfHandles`` counts the entries with events, packed first.
    """

    _fields_ = [
        ("Timeout", c_int64),  # LARGE_INTEGER
        ("NumberOfHandles", ULONG),
        ("Exclusive", ULONG),  # BOOLEAN padded to a ULONG
        ("Handles", AFD_POLL_HANDLE_INFO * 1),
    ]


# Repeated, on purpose, in winsock_ov.raw's own __all__ (written out there for type
# checkers; tests/test_raw_all.py keeps the two equal).
__all__ = [
    "AFD_DEVICE",
    "AFD_NO_TIMEOUT",
    "AFD_POLL_ABORT",
    "AFD_POLL_ACCEPT",
    "AFD_POLL_ALL",
    "AFD_POLL_CONNECT",
    "AFD_POLL_CONNECT_FAIL",
    "AFD_POLL_DISCONNECT",
    "AFD_POLL_HANDLE_INFO",
    "AFD_POLL_INFO",
    "AFD_POLL_LOCAL_CLOSE",
    "AFD_POLL_RECEIVE",
    "AFD_POLL_RECEIVE_EXPEDITED",
    "AFD_POLL_SEND",
    "IOCTL_AFD_POLL",
]
