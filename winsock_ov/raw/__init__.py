"""winsock_ov.raw: Winsock2 and the Win32 calls around it, with MSDN's names.

A C program using overlapped sockets translates to this module line by line::

    evObj = WSACreateEvent()
    overlapped = WSAOVERLAPPED()
    overlapped.hEvent = evObj
    if WSARecv(hRecvSock, byref(dataBuf), 1, byref(recvBytes), byref(flags),
               byref(overlapped), None) == SOCKET_ERROR:
        if WSAGetLastError() == WSA_IO_PENDING: ...

Importing works on every system; structures and constants are plain ctypes.
Calling a function anywhere but Windows raises ``WindowsOnlyError``.
"""

from . import afd, constants, kernel32, ntdll, types, ws2_32
from ._loader import (
    WindowsOnlyError,
    check_bool_pending,
    format_winerror,
    unchecked,
    winerror_exception,
)
from .afd import *  # noqa: F403
from .constants import *  # noqa: F403
from .kernel32 import *  # noqa: F403
from .ntdll import *  # noqa: F403
from .types import *  # noqa: F403
from .ws2_32 import *  # noqa: F403

__all__ = [
    *types.__all__, *constants.__all__, *ws2_32.__all__, *kernel32.__all__, *ntdll.__all__,
    *afd.__all__,
    "WindowsOnlyError", "check_bool_pending", "format_winerror", "unchecked", "winerror_exception",
]
