"""Exceptions of the object layer, chosen from the Windows error code.

Every error carries ``winerror``.  Winsock codes give CPython's own subclasses
(WSAECONNRESET -> ConnectionResetError, ...).  The Win32 codes that a completion
reports for socket I/O (from the NTSTATUS in OVERLAPPED.Internal, through
RtlNtStatusToDosError) are first translated to the Winsock code Winsock itself
would report, as asyncio does for ERROR_NETNAME_DELETED.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .raw import constants as c
from .raw import winerror_exception

__all__ = [
    "OperationAbortedError",
    "RoutineErrors",
    "ThreadExitedError",
    "error_from_code",
    "timeout_error",
]


class OperationAbortedError(OSError):
    """The operation was cancelled before it completed.

    Raised for WSA_OPERATION_ABORTED (995): a ``cancel()`` that took effect, or
    the socket closed while the operation was pending.
    """


class ThreadExitedError(RuntimeError):
    """A completion-routine operation outlived the thread that issued it.

    Windows runs a completion routine only on its issuing thread, during an
    alertable wait.  Once that thread has exited the routine can never run; the
    operation is finished without calling it.  ``io_error`` is the I/O's own
    outcome (None if it succeeded) and ``nbytes`` the bytes it transferred.
    """

    def __init__(self, nbytes: int, io_error: OSError | None) -> None:
        super().__init__("the issuing thread exited before the completion routine could run")
        self.nbytes = nbytes
        self.io_error = io_error


if sys.version_info >= (3, 11):  # a branch type checkers follow for each target version
    _GroupBase = ExceptionGroup[Exception]  # noqa: F821 - builtin from 3.11
else:
    class _GroupBase(Exception):
        def __init__(self, message: str, exceptions: Sequence[Exception]) -> None:
            super().__init__(message, exceptions)
            self.message = message
            self.exceptions = tuple(exceptions)


class RoutineErrors(_GroupBase):
    """Several completion routines raised during one alertable wait.

    An ExceptionGroup on Python 3.11+; ``.exceptions`` holds them in the order
    the routines ran.  A single failing routine's exception is raised as is.
    """


# Win32 codes reported for socket I/O, as the Winsock code Winsock reports.
_WIN32_TO_WINSOCK = {
    c.ERROR_NETNAME_DELETED: c.WSAECONNRESET,
    c.ERROR_PORT_UNREACHABLE: c.WSAECONNRESET,
    c.ERROR_CONNECTION_REFUSED: c.WSAECONNREFUSED,
    c.ERROR_CONNECTION_ABORTED: c.WSAECONNABORTED,
    c.ERROR_SEM_TIMEOUT: c.WSAETIMEDOUT,
    c.ERROR_NETWORK_UNREACHABLE: c.WSAENETUNREACH,
    c.ERROR_HOST_UNREACHABLE: c.WSAEHOSTUNREACH,
    c.ERROR_MORE_DATA: c.WSAEMSGSIZE,
}

# The subclass for each code, on every system (CPython maps these on Windows only).
_CLASSES: dict[int, type[OSError]] = {
    c.WSA_OPERATION_ABORTED: OperationAbortedError,
    c.WSAECONNRESET: ConnectionResetError,
    c.WSAENETRESET: ConnectionResetError,
    c.WSAECONNABORTED: ConnectionAbortedError,
    c.WSAECONNREFUSED: ConnectionRefusedError,
    c.WSAETIMEDOUT: TimeoutError,
    c.WAIT_TIMEOUT: TimeoutError,
    c.WSAESHUTDOWN: BrokenPipeError,
    c.WSAEWOULDBLOCK: BlockingIOError,
    c.WSAEINTR: InterruptedError,
}


def error_from_code(code: int) -> OSError:
    """The exception for a Win32 or Winsock error code, with ``winerror`` set."""
    code = _WIN32_TO_WINSOCK.get(code, code)
    return winerror_exception(code, classes=_CLASSES)


def timeout_error(message: str) -> TimeoutError:
    """A wait of ours that ran out: TimeoutError with winerror WAIT_TIMEOUT."""
    return winerror_exception(c.WAIT_TIMEOUT, message, _CLASSES)  # type: ignore[return-value]
