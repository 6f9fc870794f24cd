"""``AFDSelector``: a :class:`selectors.BaseSelector` on the AFD driver, any number of sockets.

``select.select`` on Windows takes at most 512 sockets (CPython's FD_SETSIZE),
and ``selectors.SelectSelector`` (the default selector there), asyncio's
``SelectorEventLoop`` and every select-based program inherit the limit.  This
selector asks Windows' socket driver instead, as wepoll does in C: one
``CompletionPort.poll`` (an IOCTL_AFD_POLL request) per registered socket,
asking for its read and write interest together, all reported through one
completion port.  ``select()`` costs what the sockets that became ready cost;
the idle ones cost nothing.

Level-triggered, as SelectSelector reports (its ``select.select`` under Wine is
built on the same driver request, and these are its masks): a socket is
readable for data, a connection to accept, the peer's shutdown or a reset;
writable for room to send, and (as SelectSelector passes its write list as the
exceptional list too) for a failed connect or out-of-band data.  A socket
``select()`` reported is polled again when ``select()`` is next called, and is
reported again if it still is ready; one that was not reported stays polled.

How each registration moves (one explicit state, moved by ``_feed`` when its poll
ends and ``_repoll`` when it is polled again, as wepoll's and mio's sockets)::

    POLLING --poll ended, _feed()--> events wanted: reported; IDLE, polled again
       ^                             by the next select() (level-triggered)
       |                             nothing to report (LOCAL_CLOSE): _repoll() now
       +--------- _repoll() <------ IDLE
    _repoll() refused, the handle names no socket any more --> CLOSED (never polled)

A socket closed while registered is handled as ``selectors.EpollSelector`` (the
default selector on Linux) handles a closed descriptor: it stays registered,
``select()`` never reports it again, and ``unregister`` (by the socket object or
its old handle value) removes it.  SelectSelector instead fails every
``select()`` with WSAENOTSOCK until the socket is unregistered.  When AFD
reports the close (AFD_POLL_LOCAL_CLOSE), the handle is polled once more:
closing one copy of a duplicated socket leaves the other copy, which may be the
one registered, open and watched.  Like every selector, this one only knows
handle values: if a new socket takes the value of a registered socket closed
before ``select()`` saw the close, the new one is watched in its place
(unregister before closing, as asyncio does).

``modify()`` to new events cancels the poll in flight, and the new one is asked
once the cancel is back (AFD takes one request per socket): readiness of the
new events shows from the next ``select()`` that collects it, not always the
first one after ``modify()``.

Threads: ``register``, ``modify``, ``unregister`` and ``close`` may be called
while another thread is in ``select()``; a registration made meanwhile is
polled at once and can end that ``select()``.  ``close()`` wakes a ``select()``
in progress (it returns ``[]``), then cancels every poll and closes the port:
nothing stays pending.
"""

from __future__ import annotations

import enum
import selectors
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from ._interrupt import guard
from .errors import OperationAbortedError
from .iocp import CompletionPort
from .poll import PollEvents, PollOperation
from .raw import ERROR_INVALID_HANDLE, WSAENOTSOCK

__all__ = ["AFDSelector"]

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE

# The driver's events for each interest: Wine's ws2_32 select() asks these for its
# read list, and its write list plus its exceptional list (SelectSelector passes
# its write list as both on Windows).
READ_EVENTS = (PollEvents.RECEIVE | PollEvents.ACCEPT | PollEvents.DISCONNECT
               | PollEvents.ABORT)
WRITE_EVENTS = PollEvents.SEND | PollEvents.CONNECT_FAIL | PollEvents.RECEIVE_EXPEDITED

# Errors of a poll started on a handle that names no socket any more.
_CLOSED_CODES = (WSAENOTSOCK, ERROR_INVALID_HANDLE)
_BATCH = 64  # completions taken from the port per call
_CLOSE_WAIT = 10.0  # seconds close() waits for the select() calls in progress to return


class _State(enum.Enum):
    POLLING = "a poll is in flight"
    IDLE = "reported, or just unpolled: polled at the next select()"
    CLOSED = "its handle names no socket: never polled again"


class _Registration:
    """One registered socket: its key, its state, its poll in flight."""

    __slots__ = ("key", "poll", "state")

    def __init__(self, key: selectors.SelectorKey) -> None:
        self.key = key
        self.state = _State.IDLE
        self.poll: PollOperation | None = None

    def wanted(self) -> PollEvents:
        """The driver events its interest asks for."""
        events = PollEvents(0)
        if self.key.events & EVENT_READ:
            events |= READ_EVENTS
        if self.key.events & EVENT_WRITE:
            events |= WRITE_EVENTS
        return events


def _selector_events(found: PollEvents, interest: int) -> int:
    """The selector events (EVENT_READ, EVENT_WRITE) the driver's ``found`` means."""
    events = 0
    if found & READ_EVENTS:
        events |= EVENT_READ
    if found & WRITE_EVENTS:
        events |= EVENT_WRITE
    return events & interest


def _fileobj_to_fd(fileobj: Any) -> int:
    """The handle of a file object (its ``fileno()``) or of an int, as selectors takes them.

    A closed winsock_ov Socket's ``fileno()`` raises OSError where a closed
    ``socket.socket`` answers -1: both are an invalid file object here.
    """
    if isinstance(fileobj, int) and not isinstance(fileobj, bool):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError, OSError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


class _Keys(Mapping[Any, selectors.SelectorKey]):
    """``get_map()``: the keys by handle, looked up by file object or handle."""

    def __init__(self, selector: AFDSelector) -> None:
        self._selector = selector

    def __len__(self) -> int:
        return len(self._selector._registrations)

    def __getitem__(self, fileobj: Any) -> selectors.SelectorKey:
        fd = self._selector._fd_of(fileobj)
        registration = self._selector._registrations.get(fd)
        if registration is None:
            raise KeyError(f"{fileobj!r} is not registered")
        return registration.key

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._selector._registrations))


class AFDSelector(selectors.BaseSelector):
    """A selector for any number of sockets: one AFD poll per socket, one completion port.

    Use it as ``selectors.DefaultSelector`` (``register``, ``modify``,
    ``unregister``, ``select``, ``get_key``, ``get_map``, ``close``, ``with``),
    or as ``asyncio.SelectorEventLoop(AFDSelector())``.  Sockets only: a file
    object whose ``fileno()`` (or an int) is no socket handle is refused by
    ``register`` with the OSError Windows gives (WSAENOTSOCK).
    """

    def __init__(self) -> None:
        self._port = CompletionPort()
        self._lock = threading.RLock()
        self._left_select = threading.Condition(self._lock)
        self._registrations: dict[int, _Registration] = {}
        self._by_poll: dict[PollOperation, _Registration] = {}  # the polls in flight
        self._to_poll: dict[int, _Registration] = {}  # IDLE: polled at the next select()
        self._selecting: dict[int, int] = {}  # thread ident -> its select() calls in progress
        self._closed = False
        self._map: _Keys | None = _Keys(self)

    # --- registrations ---------------------------------------------------------------

    def _fd_of(self, fileobj: Any) -> int:
        """The handle of ``fileobj``; for a closed socket (fileno() -1), the handle it
        was registered with, found by identity (as the stdlib's selectors do)."""
        try:
            return _fileobj_to_fd(fileobj)
        except ValueError:
            for registration in list(self._registrations.values()):
                if registration.key.fileobj is fileobj:
                    return registration.key.fd
            raise

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        """Start watching ``fileobj`` for ``events`` (EVENT_READ, EVENT_WRITE or both).

        ValueError for other events or a bad file object, KeyError if it is
        registered already, OSError (WSAENOTSOCK) if it is no socket.
        """
        _check_events(events)
        with self._lock:
            if self._closed:
                raise ValueError("I/O operation on a closed selector")
            fd = self._fd_of(fileobj)
            if fd in self._registrations:
                raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
            registration = _Registration(selectors.SelectorKey(fileobj, fd, events, data))
            self._poll(registration)  # refused: raised, and nothing is kept
            self._registrations[fd] = registration
            return registration.key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        """Stop watching ``fileobj`` (also once closed); its key.  KeyError if unknown."""
        with self._lock:
            fd = self._fd_of(fileobj)
            registration = self._registrations.pop(fd, None)
            if registration is None:
                raise KeyError(f"{fileobj!r} is not registered")
            self._disarm(registration)
            return registration.key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        """Change the events or the data of a registration; its new key.

        New events take effect at once (the poll in flight is replaced).  If the
        socket turns out closed, it is unregistered and the OSError raised, as
        ``selectors.EpollSelector`` does.
        """
        _check_events(events)
        with self._lock:
            fd = self._fd_of(fileobj)
            registration = self._registrations.get(fd)
            if registration is None:
                raise KeyError(f"{fileobj!r} is not registered")
            old = registration.key
            registration.key = selectors.SelectorKey(old.fileobj, fd, events, data)
            if events != old.events:
                self._disarm(registration)
                try:
                    self._poll(registration)
                except BaseException:
                    del self._registrations[fd]
                    raise
            return registration.key

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        """The registered keys by handle (looked up by file object or handle); None once
        closed, as the stdlib's selectors answer (typeshed leaves None out)."""
        return self._map  # type: ignore[return-value]

    # --- one socket's poll ---------------------------------------------------------------

    def _poll(self, registration: _Registration) -> None:
        """Start its poll (under the lock); POLLING, or the OSError Windows gave."""
        poll = self._port.poll(registration.key.fd, registration.wanted())
        registration.poll, registration.state = poll, _State.POLLING
        self._by_poll[poll] = registration

    def _repoll(self, registration: _Registration) -> OSError | None:
        """Poll an IDLE registration again (under the lock).

        A handle that names no socket any more makes it CLOSED; any other
        refusal leaves it queued for the next select(), and is returned.
        """
        fd = registration.key.fd
        self._to_poll.pop(fd, None)
        try:
            self._poll(registration)
        except OSError as exc:
            if exc.winerror in _CLOSED_CODES:
                registration.state = _State.CLOSED
                return None
            self._to_poll[fd] = registration
            return exc
        return None

    def _disarm(self, registration: _Registration) -> None:
        """Cancel its poll, if one is in flight; it is IDLE, and not queued (under the lock)."""
        self._to_poll.pop(registration.key.fd, None)
        poll, registration.poll = registration.poll, None
        if poll is not None:
            del self._by_poll[poll]
            poll.cancel()  # the cancelled poll comes back from the port: no longer ours
        if registration.state is _State.POLLING:
            registration.state = _State.IDLE

    def _feed(self, poll: PollOperation) -> tuple[selectors.SelectorKey, int] | None:
        """A poll ended (under the lock): what to report of it, if anything."""
        registration = self._by_poll.pop(poll, None)
        if registration is None:  # cancelled, replaced or unregistered meanwhile
            return None
        registration.poll, registration.state = None, _State.IDLE
        error = poll.exception()
        events = 0 if error is not None else _selector_events(poll.result(),
                                                              registration.key.events)
        if events:  # reported: polled again at the next select(), level-triggered
            self._to_poll[registration.key.fd] = registration
            return registration.key, events
        if error is not None and not isinstance(error, OperationAbortedError):
            self._to_poll[registration.key.fd] = registration  # asked again next select()
        else:
            # Its socket was closed (LOCAL_CLOSE), or someone else cancelled the
            # poll: poll again now.  A duplicate's close leaves the handle a
            # socket; a closed handle makes it CLOSED.  Another refusal waits for
            # the next select(), which raises it.
            self._repoll(registration)
        return None

    # --- select ----------------------------------------------------------------------------

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait for registered sockets to be ready; ``(key, events)`` for each.

        ``timeout``: None waits until one is; 0 or less does not wait.  Returns
        ``[]`` once the timeout passed, or when ``close()`` ended the wait.
        Ctrl-C (KeyboardInterrupt) is answered as by every wait of winsock_ov;
        what it cut short is reported by the next ``select()``.
        """
        wait = None if timeout is None else max(0.0, timeout)
        me = threading.get_ident()
        with guard(), self._lock:
            if self._closed:
                raise ValueError("I/O operation on a closed selector")
            for registration in list(self._to_poll.values()):  # reported last time
                error = self._repoll(registration)
                if error is not None:
                    raise error
            self._selecting[me] = self._selecting.get(me, 0) + 1
        try:
            return self._collect(wait)
        finally:
            with self._lock:
                self._selecting[me] -= 1
                if not self._selecting[me]:
                    del self._selecting[me]
                self._left_select.notify_all()

    def _collect(self, wait: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: dict[int, tuple[selectors.SelectorKey, int]] = {}
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            # Guarded: Ctrl-C never lands between taking polls and recording them.
            with guard():
                try:
                    batch = self._port.dequeue_many(_BATCH, wait)
                except ValueError:  # the port closed under us: close() ran in a signal handler
                    if self._closed:
                        return []
                    raise
                with self._lock:
                    if self._closed:
                        return []
                    for item in batch:
                        if isinstance(item, PollOperation):
                            reported = self._feed(item)
                            if reported is not None:
                                key, events = reported
                                previous = ready.get(key.fd)
                                ready[key.fd] = (key, events | (previous[1] if previous else 0))
            if len(batch) == _BATCH:  # maybe more queued: take them too, without waiting
                wait = 0.0
            elif ready or (deadline is not None and time.monotonic() >= deadline):
                return list(ready.values())
            elif deadline is not None:
                wait = max(0.0, deadline - time.monotonic())

    # --- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Cancel every poll, end the ``select()`` calls in progress (they return
        ``[]``), close the port.

        The keys are forgotten (``get_map()`` answers None, ``get_key`` raises
        RuntimeError); nothing stays pending.  Closing twice does nothing.  If a
        ``select()`` of another thread has not returned within 10 seconds, the
        port is left open (leaked on purpose): that thread may still be waiting
        on it, and the cancelled polls are collected at interpreter exit.
        """
        me = threading.get_ident()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            # The polls in flight stay for the port's close() to cancel: each then
            # ends aborted and is reported, so its collection returns at once.
            self._registrations.clear()
            self._by_poll.clear()
            self._to_poll.clear()
            self._map = None
            # Wine does not wake a thread waiting on a port that is closed: a packet does.
            others = sum(count for ident, count in self._selecting.items() if ident != me)
            for _ in range(others):
                self._port.post()
            deadline = time.monotonic() + _CLOSE_WAIT
            while any(ident != me for ident in self._selecting) \
                    and time.monotonic() < deadline:
                self._left_select.wait(max(0.0, deadline - time.monotonic()))
            if any(ident != me for ident in self._selecting):
                return
        self._port.close()  # cancels and collects every poll; leaks what Windows keeps

    def __repr__(self) -> str:
        if self._closed:
            return "<AFDSelector closed>"
        selecting = sum(self._selecting.values())
        return (f"<AFDSelector {len(self._registrations)} registered, "
                f"{selecting} select() in progress>")


def _check_events(events: Any) -> None:
    if isinstance(events, bool) or not isinstance(events, int):
        raise TypeError(f"events must be EVENT_READ, EVENT_WRITE or both, "
                        f"not {type(events).__name__}")
    if not events or events & ~(EVENT_READ | EVENT_WRITE):
        raise ValueError(f"Invalid events: {events!r}")

