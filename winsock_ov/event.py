"""Event objects for event-notified operations (WSACreateEvent and friends), and the
pool a socket takes its operations' own events from."""

from __future__ import annotations

import threading
from collections.abc import Collection
from ctypes import byref
from typing import Any, Protocol

from ._callbacks import raise_routine_errors
from ._closable import Closable
from ._interrupt import guard
from ._timeouts import milliseconds
from .raw import (
    LONG,
    STATUS_SUCCESS,
    WAIT_OBJECT_0,
    NtResetEvent,
    WaitForSingleObjectEx,
    WSACloseEvent,
    WSACreateEvent,
    WSAResetEvent,
    WSASetEvent,
)
from .waits import wait_for_handle

__all__ = ["Event", "EventPool"]

# One lock for every Event and pool.  Users of an event come and go on several
# threads, and each critical section is a few attribute updates, never a wait:
# one lock serves them all as well as one each would, and a lock of its own
# would cost every Event a kernel object (CPython < 3.13 makes a semaphore for
# each threading.Lock on Windows, a wineserver request to create and another to
# close under Wine).
_LOCK = threading.Lock()


class Event(Closable):
    """A manual-reset Winsock event (WSACreateEvent), nonsignaled at first.

    Pass it as ``event=`` to an operation: Windows signals it when the operation
    completes, as in the seed's first program.  Closing an event while operations
    that use it are pending (or threads wait on it for them) is deferred until
    the last of them is done with it, since Windows would otherwise signal, or a
    waiter wait on, a closed (or reused) handle.
    """

    __slots__ = ("__weakref__", "_close_requested", "_handle", "_users")

    def __init__(self) -> None:
        self._handle: Any = WSACreateEvent()
        self._users = 0
        self._close_requested = False

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
        with _LOCK:
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
        with _LOCK:
            handle = self.handle
            self._users += 1
            return handle

    def release_handle(self) -> None:
        """Stop using the handle taken by :meth:`acquire_handle`.

        The last release after :meth:`close` closes the handle.
        """
        with _LOCK:
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




class _Observable(Protocol):
    def observe(self) -> bool: ...


class EventPool:
    """The events a socket's operations use when they are given none (``sock.recv(n)``).

    The reuse rule, written here only: an event serves another operation only
    once the signal Windows gives it for the operation that used it has come,
    or certainly never will.  An operation that ended gives its event back, and
    the pool resets it at once with ``NtResetEvent``, which also tells whether
    it was signaled.  It keeps the event (reset) if

    * the signal was certain, which ``give_back`` is told (``signal_came``):
      the submitting call was refused (nothing started, nothing is signaled);
      the call finished the I/O within it (an I/O completed within its call has
      its event signaled before the call returns: NT completes a synchronous
      I/O, event included, before the system call returns; Wine's server sets
      it as it records the call's direct result); or a wait on the event saw it
      signaled (only its operation could signal it: it was nonsignaled, by this
      rule, when that operation was submitted);
    * or else the reset found it signaled: the one signal of its operation came.

    Otherwise the operation's end was read from OVERLAPPED.Internal (a reap,
    ``observe()``, an abort after ``cancel()`` or a socket close), which Windows
    writes *before* it signals the event, and the signal may still come: the
    event is closed, as a C program closes its event (Windows keeps its own
    reference to the event object, so the late signal lands on no handle of
    ours).  An event that a waiter still holds (``Event.acquire_handle``) or
    that its user closed is never kept.  So an operation's event costs one
    server request (the reset) where a C program makes two (WSACreateEvent and
    WSACloseEvent), and a pooled event is always nonsignaled: ``take`` makes
    no call.

    At most ``IDLE_LIMIT`` events wait in the pool.  When it is empty, the
    socket's operations in flight are observed first (``inflight``): a dropped
    operation that ended gives its event back, so a loop of dropped operations
    holds the events of the operations really in flight and no more (the
    registry's reap alone would leave hundreds open between reaps).  Thread-safe
    under the module's lock.
    """

    __slots__ = ("_closed", "_idle", "_inflight")
    IDLE_LIMIT = 8

    def __init__(self, inflight: Collection[_Observable] = ()) -> None:
        self._idle: list[Event] = []
        self._inflight = inflight
        self._closed = False

    def __len__(self) -> int:
        """How many events wait in the pool."""
        return len(self._idle)

    def take(self) -> Event:
        """A nonsignaled event for a new operation: a pooled one, else a new one."""
        event = self._pop()
        if event is None and self._inflight:
            for io in list(self._inflight):  # ended but dropped: their events come back
                io.observe()
            event = self._pop()
        return Event() if event is None else event

    def _pop(self) -> Event | None:
        with _LOCK:
            return self._idle.pop() if self._idle else None

    def _room_for(self, event: Event) -> bool:
        return (not self._closed and not event._close_requested and event._users == 0
                and len(self._idle) < self.IDLE_LIMIT)

    def give_back(self, event: Event, signal_came: bool) -> None:
        """The operation that took ``event`` ended; ``signal_came``: its signal is
        certain to have come or never to come (see the rule above)."""
        with _LOCK:
            keep = self._room_for(event)
        if keep:
            previous = LONG()
            reset = NtResetEvent(event._handle, byref(previous)) == STATUS_SUCCESS
            keep = reset and (signal_came or previous.value != 0)
        if keep:
            with _LOCK:
                keep = self._room_for(event)
                if keep:
                    self._idle.append(event)
        if not keep:
            event.close()

    def close(self) -> None:
        """Close the pooled events; those in use are closed when given back."""
        with _LOCK:
            self._closed = True
            idle, self._idle = self._idle, []
        for event in idle:
            event.close()
