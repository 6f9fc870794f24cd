"""Socket readiness through a completion port: the AFD driver's poll request.

``CompletionPort.poll(sock, events)`` returns a ``PollOperation`` that ends,
once, when the socket has one of ``events`` (``PollEvents``), and is then
returned by the port's ``dequeue`` like any operation.  No thread and no
``select``: Windows' socket driver (AFD) answers an ``IOCTL_AFD_POLL`` request
made on a *helper* handle tied to the port, with an overlapped I/O of its own
(``winsock_ov.raw.afd``), the way wepoll, mio, libuv and trio watch sockets.

The rules followed here, learned by those libraries:

* the request names the socket's *base* handle (``SIO_BASE_HANDLE``; when a
  layered provider refuses that, ``SIO_BSP_HANDLE_POLL``): AFD knows no other;
* one request per socket at a time, asking for what every waiter of that
  socket wants: two requests on one socket confuse AFD (one completes for
  the other's events).  A waiter wanting more than the request asks cancels
  it; the union is asked again once its completion is in (below);
* AFD_POLL_LOCAL_CLOSE is always asked: the socket was closed, every waiter
  ends with it and the socket is forgotten;
* at most ``SOCKETS_PER_HELPER`` sockets share a helper handle (cancelling
  one request costs more the more a handle carries).

Each polled socket is in one state (``PollState``), moved by two functions of
``_SocketPoll``, one per event: ``update`` (its waiters changed: a poll came,
one was cancelled) and ``request_done`` (its request came back: the packet
was dequeued)::

                  update: a waiter and no request (submit)
          +-----------------------------------------------+
          |                                               v
        IDLE                                           PENDING
         ^ ^                                              |
         | |   request_done: events found, an error,      |
         | +------------ or LOCAL_CLOSE ------------------+
         |                                                | update: nobody waits any
         |                                                | more, or a waiter wants
         |                                                v more than was asked
         +--- request_done: our cancel took effect, --- CANCELLED   (CancelIoEx)
              or the events that beat it

Every ``request_done`` ends in IDLE and then runs ``update`` for the waiters
left: a new request for them (PENDING), or, with none, the socket forgotten.

A request Windows refuses leaves the socket IDLE: a new poll raises the
error, the waiters already there end with it (a socket closed since its last
request ends them with LOCAL_CLOSE, as AFD would have).  An IDLE socket with
no waiter is forgotten; a CANCELLED one without waiters is the "delete
pending" of wepoll and mio: it stays until its request came back.

Each request is an I/O of the shared core (``winsock_ov.core``): its
AFD_POLL_INFO (which Windows writes on completion) is held until its packet
is dequeued, whatever happens to the waiters; a port closed with requests
pending leaks them on purpose, as it does every I/O Windows may still write.

A waiter ends once: with the events found, with OperationAbortedError
(``cancel()``, or its port closed), or with the error of a request Windows
refused.  It is reported by the port's next ``dequeue``.  Its done callbacks
run in the thread that ended it (in ``dequeue``, or ``cancel``); what they
raise comes out of that call once every waiter ended, and a ``dequeue`` that
raises it keeps what it would have returned for the next one.
"""

from __future__ import annotations

import ctypes
import enum
import threading
from ctypes import byref, sizeof
from typing import TYPE_CHECKING, Callable, Protocol

from ._callbacks import raise_routine_errors
from ._checks import check_ulong_ptr
from ._unchecked import DEVICE_IO_CONTROL
from .core import OWN_KEY, OverlappedIO, Submitted, status_code
from .errors import OperationAbortedError, error_from_code
from .notify import Port, PortBinding
from .outcome import Outcome
from .raw import (
    AFD_DEVICE,
    AFD_NO_TIMEOUT,
    AFD_POLL_ABORT,
    AFD_POLL_ACCEPT,
    AFD_POLL_ALL,
    AFD_POLL_CONNECT,
    AFD_POLL_CONNECT_FAIL,
    AFD_POLL_DISCONNECT,
    AFD_POLL_INFO,
    AFD_POLL_LOCAL_CLOSE,
    AFD_POLL_RECEIVE,
    AFD_POLL_RECEIVE_EXPEDITED,
    AFD_POLL_SEND,
    DWORD,
    ERROR_INVALID_HANDLE,
    ERROR_OPERATION_ABORTED,
    FILE_FLAG_OVERLAPPED,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    IOCTL_AFD_POLL,
    OPEN_EXISTING,
    OVERLAPPED,
    SIO_BASE_HANDLE,
    SIO_BSP_HANDLE_POLL,
    SOCKET,
    SYNCHRONIZE,
    WSAENOTSOCK,
    CloseHandle,
    CreateFileW,
    WSAIoctl,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["SOCKETS_PER_HELPER", "PollEvents", "PollOperation", "Poller", "base_handle"]

SOCKETS_PER_HELPER = 32

_ERROR_SUCCESS = 0


class PollEvents(enum.IntFlag):
    """What a poll waits for, and what it found (``AFD_POLL_*``)."""

    RECEIVE = AFD_POLL_RECEIVE  # data (or a datagram, or end of stream) to read
    RECEIVE_EXPEDITED = AFD_POLL_RECEIVE_EXPEDITED  # out-of-band data
    SEND = AFD_POLL_SEND  # room to send
    DISCONNECT = AFD_POLL_DISCONNECT  # the peer shut down its side
    ABORT = AFD_POLL_ABORT  # the connection was reset
    LOCAL_CLOSE = AFD_POLL_LOCAL_CLOSE  # the socket was closed here (always reported)
    CONNECT = AFD_POLL_CONNECT  # a connect completed
    ACCEPT = AFD_POLL_ACCEPT  # a listening socket has a connection waiting
    CONNECT_FAIL = AFD_POLL_CONNECT_FAIL  # a connect failed (``PollOperation.connect_error``)


class ReadinessPort(Port, Protocol):
    """What a completion port offers the polls of its sockets (``CompletionPort``,
    ``winsock_ov.aio``'s loop): its handle, for the helper handles tied to it
    (with ``core.OWN_KEY``), and a queue for the polls that ended."""

    @property
    def handle(self) -> int:
        """The port's HANDLE; ValueError once closed."""

    @property
    def closing(self) -> bool:
        """True once the port is closing: no request is started any more."""

    def report(self, completion: PollOperation) -> None:
        """Hand an ended poll to the port's next dequeue (or whoever learns of it)."""


def socket_handle(sock: object) -> int:
    """The SOCKET of a winsock_ov Socket, a ``socket.socket`` or an int handle."""
    if isinstance(sock, bool):
        raise TypeError("expected a socket or a socket handle, not bool")
    if isinstance(sock, int):
        handle = sock
    elif callable(fileno := getattr(sock, "fileno", None)):
        handle = fileno()  # OSError WSAENOTSOCK from a closed winsock_ov Socket
        if not isinstance(handle, int) or isinstance(handle, bool):
            raise TypeError(f"{type(sock).__name__}.fileno() returned "
                            f"{type(handle).__name__}, not int")
    else:
        raise TypeError(f"expected a socket or a socket handle, not {type(sock).__name__}")
    if handle < 0:
        raise ValueError("the socket is closed (its handle is -1)")
    return check_ulong_ptr("handle", handle)


def _ioctl_handle(handle: int, code: int) -> int:
    out, returned = SOCKET(), DWORD()
    WSAIoctl(handle, code, None, 0, byref(out), sizeof(out), byref(returned), None, None)
    return int(out.value or 0)


def base_handle(handle: int) -> int:
    """The base provider's SOCKET under ``handle``: what AFD polls.

    SIO_BASE_HANDLE; a layered provider that refuses it is asked for
    SIO_BSP_HANDLE_POLL.  A handle that is not a socket raises WSAENOTSOCK.
    """
    try:
        return _ioctl_handle(handle, SIO_BASE_HANDLE)
    except OSError as exc:
        if exc.winerror == WSAENOTSOCK:
            raise
        try:
            return _ioctl_handle(handle, SIO_BSP_HANDLE_POLL)
        except OSError:
            raise exc from None


def _check_events(events: object) -> int:
    if isinstance(events, bool) or not isinstance(events, int):
        raise TypeError(f"events must be PollEvents (an int), not {type(events).__name__}")
    if not 0 < events <= AFD_POLL_ALL or events & ~AFD_POLL_ALL:
        raise ValueError(f"events must be a non-empty combination of PollEvents, not {events:#x}")
    return int(events)


class PollOperation(Outcome[PollEvents]):
    """A wait for ``events`` on one socket, reported by its port's ``dequeue``.

    It ends as everything of winsock_ov that ends (``winsock_ov.outcome``), through
    its port's dequeue: ``result()`` is the PollEvents found (always some of
    those asked, or LOCAL_CLOSE), or raises: OperationAbortedError once
    cancelled (or its port closed), or the OSError of a request Windows
    refused.  Until it ended, ``wait()``, ``result()`` and ``exception()``
    raise RuntimeError (dequeue the port).  One object, one wait: poll again
    for more.
    """

    __slots__ = ("__weakref__", "_connect_status", "_found", "_group", "events", "socket")

    def __init__(self, sock: object, events: PollEvents, group: _SocketPoll) -> None:
        self.socket = sock
        self.events = events
        self._group: _SocketPoll | None = group
        self._found: PollEvents | None = None
        self._error: BaseException | None = None
        self._connect_status = 0
        self._callbacks: list[Callable[[Self], object]] | None = None

    # --- how it ends (winsock_ov.outcome) -----------------------------------------------

    def _ended(self) -> bool:
        return self._group is None

    def _wait_for_end(self, timeout: float | None) -> bool:
        raise RuntimeError("the poll is pending: it ends when its port's dequeue() "
                           "returns it")

    def _value(self) -> PollEvents:
        assert self._found is not None
        return self._found

    @property
    def pending(self) -> bool:
        """True until the poll ended (the opposite of ``done``)."""
        return self._group is not None

    @property
    def connect_error(self) -> OSError | None:
        """Why the connect failed, when CONNECT_FAIL was found (else None)."""
        if not self._connect_status:
            return None
        return error_from_code(status_code(self._connect_status))

    def cancel(self) -> bool:
        """End the wait now, as OperationAbortedError; False if it had ended.

        The cancelled poll is reported by the port's next ``dequeue`` (its
        callbacks run here).  Readiness that came meanwhile stays with the
        socket, for the next poll.
        """
        group = self._group
        if group is None:
            return False
        return group.poller.cancel(self)

    def _finish(self, found: PollEvents | None, error: BaseException | None,
                connect_status: int = 0) -> PollOperation:
        """Record the outcome (under the poller's lock); its callbacks are run by
        whoever reports it (``Poller._report``), once the lock is let go."""
        self._found, self._error, self._connect_status = found, error, connect_status
        self._group = None
        return self

    def __repr__(self) -> str:
        if self._group is not None:
            state = "pending"
        elif self._error is not None:
            state = f"failed {type(self._error).__name__}"
        else:
            state = f"found {self._found!r}"
        return f"<PollOperation {self.events!r} {state}>"


class _Helper:
    """A handle on the AFD device, tied to the port, carrying some sockets' requests."""

    __slots__ = ("binding", "handle", "sockets")

    def __init__(self, port: ReadinessPort) -> None:
        self.handle = int(CreateFileW(AFD_DEVICE + "\\winsock_ov", SYNCHRONIZE,
                                      FILE_SHARE_READ | FILE_SHARE_WRITE, None, OPEN_EXISTING,
                                      FILE_FLAG_OVERLAPPED, None))
        try:
            # Its packets carry winsock_ov's own key: a port's dequeue ends the
            # request, which reports what it ended (core.OWN_KEY).
            self.binding = PortBinding.tie(port, port.handle, self.handle, OWN_KEY)
        except BaseException:
            CloseHandle(self.handle)
            raise
        self.sockets = 0


class _PollRequest:
    """One IOCTL_AFD_POLL in flight: the memory Windows writes, and what it asked."""

    __slots__ = ("asked", "group", "info", "io")

    def __init__(self, group: _SocketPoll, asked: int) -> None:
        self.group, self.asked = group, asked
        info = self.info = AFD_POLL_INFO()
        info.Timeout = AFD_NO_TIMEOUT
        info.NumberOfHandles = 1
        info.Handles[0].Handle = group.base
        info.Handles[0].Events = asked
        self.io = OverlappedIO(self, self.ended, group.helper.binding, group.poller.in_flight)

    def ended(self, code: int, nbytes: int, flags: int | None) -> None:
        """The core's on_done: dequeued, or refused within the submitting call."""
        self.group.poller.request_done(self, code)

    def call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        info = byref(self.info)
        if DEVICE_IO_CONTROL(handle, IOCTL_AFD_POLL, info, sizeof(AFD_POLL_INFO), info,
                              sizeof(AFD_POLL_INFO), None, byref(ov)):
            return _ERROR_SUCCESS
        return ctypes.get_last_error()

    def saw_close(self) -> bool:
        """True once Windows ended it because its socket was closed.

        Read before its packet is dequeued: closesocket ends the polls of the
        socket within the call, writing the output and then Internal.
        """
        return self.io.finished_by_os() and bool(self.found()[0] & AFD_POLL_LOCAL_CLOSE)

    def found(self) -> tuple[int, int]:
        """The events and connect status Windows wrote (none if it found none)."""
        info = self.info
        if info.NumberOfHandles < 1:
            return 0, 0
        entry = info.Handles[0]
        return int(entry.Events), int(entry.Status)


class PollState(enum.Enum):
    """Where one socket's driver request stands (see the module's text)."""

    IDLE = "idle"  # no request in flight (and, once update() ran, no waiter either)
    PENDING = "pending"  # a request in flight asks for at least what every waiter wants
    CANCELLED = "cancelled"  # the request in flight was cancelled by us; it comes back


# The waiters a transition ended: reported, their callbacks run, once the lock is let go.
Ended = list[PollOperation]


class _SocketPoll:
    """One base socket's waiters and its one driver request, in an explicit state.

    Two transitions move it, one per event, each called under the poller's
    lock: ``update`` (the waiters changed) and ``request_done`` (the request
    came back).
    """

    __slots__ = ("base", "helper", "poller", "request", "state", "waiters")

    def __init__(self, poller: Poller, base: int, helper: _Helper) -> None:
        self.poller, self.base, self.helper = poller, base, helper
        self.state = PollState.IDLE
        self.waiters: list[PollOperation] = []
        self.request: _PollRequest | None = None  # the one in flight (PENDING, CANCELLED)

    def wanted(self) -> int:
        wanted = AFD_POLL_LOCAL_CLOSE
        for waiter in self.waiters:
            wanted |= waiter.events
        return wanted

    def update(self) -> int:
        """The waiters changed (one came, or one was cancelled): make the request
        in flight fit what they want.

        Returns the error of a new request Windows refused (0: none), the
        waiters left to the caller: a new poll raises it, the others end with it
        (``refused``).
        """
        request = self.request
        if self.state is PollState.IDLE:
            # No request: ask for what every waiter wants, if anybody waits.
            return self._submit() if self.waiters else _ERROR_SUCCESS
        if self.state is PollState.PENDING:
            assert request is not None
            # Asked too much (nobody waits) or too little (a new waiter wants
            # more): cancel it; the union is asked once it came back.
            if not self.waiters or self.wanted() & ~request.asked:
                self.state = PollState.CANCELLED
                request.io.cancel()
            return _ERROR_SUCCESS
        # CANCELLED: it is on its way back; request_done asks again then.
        return _ERROR_SUCCESS

    def request_done(self, request: _PollRequest, code: int) -> Ended:
        """The request came back (its packet was dequeued) with ``code``: end the
        waits it answers, then ask again for the others (``update``)."""
        cancelled_by_us = self.state is PollState.CANCELLED
        self.state, self.request = PollState.IDLE, None
        found, status = request.found() if code == _ERROR_SUCCESS else (0, 0)
        if found & AFD_POLL_LOCAL_CLOSE:
            # The socket was closed: every waiter ends with it, asked or not.
            return self._end_all(None, PollEvents.LOCAL_CLOSE)
        if code and not (cancelled_by_us and code == ERROR_OPERATION_ABORTED):
            # Failed, or cancelled by someone else (its port closing): all end.
            return self._end_all(error_from_code(code))
        # Events came (PENDING; or CANCELLED, when they beat our cancel), or our
        # cancel took effect (nothing found): the answered waiters end.
        ended: Ended = []
        for waiter in list(self.waiters):
            got = found & waiter.events
            if got:
                self.waiters.remove(waiter)
                connect = status if got & AFD_POLL_CONNECT_FAIL else 0
                ended.append(waiter._finish(PollEvents(got), None, connect))
        if self.poller.port.closing:  # nothing is asked any more
            return ended + self._end_all(_aborted())
        return ended + self.refused(self.update())

    def refused(self, code: int) -> Ended:
        """End every waiter with a new request's refusal (``code``; 0: none came).

        A socket closed since its last request is no handle any more
        (ERROR_INVALID_HANDLE; WSAENOTSOCK once the value names something else):
        that is the close AFD would have reported, LOCAL_CLOSE.
        """
        if not code:
            return []
        if code in (ERROR_INVALID_HANDLE, WSAENOTSOCK):
            return self._end_all(None, PollEvents.LOCAL_CLOSE)
        return self._end_all(error_from_code(code))

    def _submit(self) -> int:
        """IDLE -> PENDING: a request for every waiter's events; or, if Windows
        refuses it (IDLE still), its error.

        Under the poller's lock: a completion dequeued meanwhile on another thread
        waits for it, and finds the request in ``self.request``.
        """
        request = _PollRequest(self, self.wanted())
        how, code = request.io.submit(self.helper.handle, request.call)
        if how is Submitted.REFUSED:
            return code or ERROR_OPERATION_ABORTED
        self.state, self.request = PollState.PENDING, request
        return _ERROR_SUCCESS

    def _end_all(self, error: BaseException | None, found: PollEvents | None = None) -> Ended:
        """End every waiter with ``error`` (or ``found``)."""
        waiters, self.waiters = self.waiters, []
        return [waiter._finish(found, error) for waiter in waiters]


class Poller:
    """The socket polls of one completion port (``CompletionPort.poll``): each base
    socket's ``_SocketPoll``, and the helper handles their requests go through."""

    def __init__(self, port: ReadinessPort) -> None:
        self.port = port
        self._lock = threading.RLock()
        self._sockets: dict[int, _SocketPoll] = {}  # by base handle
        self._helpers: list[_Helper] = []
        self.in_flight: set[OverlappedIO] = set()  # requests Windows has not returned yet

    def poll(self, sock: object, events: PollEvents | int) -> PollOperation:
        handle = socket_handle(sock)
        asked = PollEvents(_check_events(events))
        base = base_handle(handle)
        with self._lock:
            if self.port.closing:
                raise ValueError("the completion port is closed")
            polled = self._sockets.get(base)
            if polled is not None and polled.request is not None \
                    and polled.request.saw_close():
                # Its socket was closed and this handle value already names a new
                # one: the old request's packet ends only the old socket's waits.
                self._forget(polled)
                polled = None
            if polled is None:
                polled = self._sockets[base] = _SocketPoll(self, base, self._helper())
                polled.helper.sockets += 1
            waiter = PollOperation(sock, asked, polled)
            polled.waiters.append(waiter)
            code = polled.update()
            if code:  # refused (it was IDLE: the only waiter): nothing of this call stays
                polled.waiters.remove(waiter)
            self._forget_if_idle(polled)
        if code:
            raise error_from_code(code)
        return waiter

    def _helper(self) -> _Helper:
        for helper in self._helpers:
            if helper.sockets < SOCKETS_PER_HELPER:
                return helper
        helper = _Helper(self.port)
        self._helpers.append(helper)
        return helper

    def cancel(self, waiter: PollOperation) -> bool:
        with self._lock:
            polled = waiter._group
            if polled is None:
                return False
            polled.waiters.remove(waiter)
            ended = [waiter._finish(None, _aborted()), *polled.refused(polled.update())]
            self._forget_if_idle(polled)
        self._report(ended)
        raise_routine_errors()
        return True

    def request_done(self, request: _PollRequest, code: int) -> None:
        """A request ended (the core's on_done): its socket's transition."""
        polled = request.group
        with self._lock:
            if polled.request is not request:  # refused within _submit(): it reports
                return
            ended = polled.request_done(request, code)
            self._forget_if_idle(polled)
        self._report(ended)

    def _forget_if_idle(self, polled: _SocketPoll) -> None:
        if polled.state is PollState.IDLE and not polled.waiters:
            self._forget(polled)

    def _forget(self, polled: _SocketPoll) -> None:
        """Take the socket off the map (once): a new poll of its handle starts afresh."""
        if self._sockets.get(polled.base) is polled:
            del self._sockets[polled.base]
            polled.helper.sockets -= 1

    def _report(self, ended: Ended) -> None:
        """Hand the ended waiters to the port, then run their callbacks; what those
        raise is kept for the call that ended them (``_callbacks.raise_routine_errors``)."""
        for waiter in ended:
            self.port.report(waiter)
        for waiter in ended:
            waiter._run_callbacks()

    def requests_in_flight(self) -> int:
        """Requests Windows has not returned yet (each holds memory it may write)."""
        return len(self.in_flight)

    def close(self) -> None:
        """Close the helper handles, once the port collected what it could.

        A request still pending (the port's drain ran out) is owned by the
        registry for good; Windows may still write its AFD_POLL_INFO.
        """
        with self._lock:
            helpers, self._helpers = self._helpers, []
            self._sockets.clear()
        for helper in helpers:
            CloseHandle(helper.handle)


def _aborted() -> OSError:
    error = error_from_code(ERROR_OPERATION_ABORTED)
    assert isinstance(error, OperationAbortedError)
    return error

