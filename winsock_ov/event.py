"""Event objects for event-notified operations (WSACreateEvent and friends)."""

from __future__ import annotations

import threading
from typing import Any

from ._callbacks import raise_routine_errors
from ._closable import Closable
from ._interrupt import guard
from ._timeouts import milliseconds
from .raw import (
    WAIT_OBJECT_0,
    WaitForSingleObjectEx,
    WSACloseEvent,
    WSACreateEvent,
    WSAResetEvent,
    WSASetEvent,
)
from .waits import wait_for_handle

__all__ = ["Event"]


class Event(Closable):
    """A manual-reset Winsock event (WSACreateEvent), nonsignaled at first.

    Pass it as ``event=`` to an operation: Windows signals it when the operation
    completes, as in the seed's first program.  Closing an event while operations
    that use it are pending (or threads wait on it for them) is deferred until
    the last of them is done with it, since Windows would otherwise signal, or a
    waiter wait on, a closed (or reused) handle.
    """

    __slots__ = ("__weakref__", "_close_requested", "_handle", "_lock", "_users")

    def __init__(self) -> None:
        self._handle: Any = WSACreateEvent()
        self._users = 0
        self._close_requested = False
        self._lock = threading.Lock()  # users come and go on several threads

    @property
    def handle(self) -> int:
        """The WSAEVENT handle as an integer; ValueError once :meth:`close` was called."""
        if self._close_requested:
            raise ValueError("I/O operation on a closed Event")
        return int(self._handle.value)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (the handle itself may close later)."""
        return self._close_requested

    def set(self) -> None:
        """Signal the event (``WSASetEvent``): it stays signaled until :meth:`reset`."""
        WSASetEvent(self.handle)

    def reset(self) -> None:
        """Make the event nonsignaled (``WSAResetEvent``).

        Windows never resets it itself: reset it before reusing it for another
        operation, or a wait on it returns at once.
        """
        WSAResetEvent(self.handle)

    def is_set(self) -> bool:
        """True if the event is signaled now (a wait of 0 ms; it does not change the state)."""
        return bool(WaitForSingleObjectEx(self.handle, 0, False) == WAIT_OBJECT_0)

    def wait(self, timeout: float | None = None, alertable: bool = False) -> bool:
        """True once signaled, False on timeout or when routines ended an alertable wait."""
        with guard():  # Ctrl-C: KeyboardInterrupt within a slice (see _interrupt)
            code = wait_for_handle(self.handle, milliseconds(timeout), bool(alertable))
        raise_routine_errors()
        return bool(code == WAIT_OBJECT_0)

    def close(self) -> None:
        """Close now, or once the pending operations using this event are done."""
        with self._lock:
            if self._close_requested:
                return
            self._close_requested = True
            if self._users == 0:
                self._close_handle()

    def acquire_handle(self) -> int:
        """Start using the handle (an operation's hEvent, or a wait on it).

        It stays open until the matching ``release_handle()``; a closed event raises
        ValueError.
        """
        with self._lock:
            handle = self.handle
            self._users += 1
            return handle

    def release_handle(self) -> None:
        """Stop using the handle taken by :meth:`acquire_handle`.

        The last release after :meth:`close` closes the handle.
        """
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._close_requested:
                self._close_handle()

    def _close_handle(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            WSACloseEvent(handle)

    def __del__(self) -> None:
        if getattr(self, "_handle", None) is not None and self._users == 0:
            self._close_handle()

    def __repr__(self) -> str:
        state = "closed" if self._close_requested else f"handle={self._handle.value:#x}"
        return f"<Event {state}>"


