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
  it; the union is asked again once its completion is in;
* AFD_POLL_LOCAL_CLOSE is always asked: the socket was closed, every waiter
  ends with it and the socket is forgotten;
* at most ``SOCKETS_PER_HELPER`` sockets share a helper handle (cancelling
  one request costs more the more a handle carries).

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
from typing import Callable, Protocol

from ._callbacks import raise_routine_errors, run_done_callbacks
from ._checks import check_ulong_ptr
from ._unchecked import DEVICE_IO_CONTROL
from .core import OWN_KEY, OverlappedIO, Submitted, status_code
from .errors import OperationAbortedError, error_from_code
from .notify import Port, PortBinding
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


Callback = Callable[["PollOperation"], object]


class PollOperation:
    """A wait for ``events`` on one socket, reported by its port's ``dequeue``.

    ``result()`` is the PollEvents found (always some of those asked, or
    LOCAL_CLOSE), or raises: OperationAbortedError once cancelled (or its port
    closed), or the OSError of a request Windows refused.  One object, one
    wait: poll again for more.
    """

    __slots__ = ("__weakref__", "_callbacks", "_connect_status", "_error", "_found", "_group",
                 "events", "socket")

    def __init__(self, sock: object, events: PollEvents, group: _SocketPolls) -> None:
        self.socket = sock
        self.events = events
        self._group: _SocketPolls | None = group
        self._found: PollEvents | None = None
        self._error: BaseException | None = None
        self._connect_status = 0
        self._callbacks: list[Callback] | None = []

    @property
    def done(self) -> bool:
        """True once the poll ended (events found, an error, or a cancel)."""
        return self._group is None

    @property
    def pending(self) -> bool:
        """True until the poll ended (the opposite of :attr:`done`)."""
        return self._group is not None

    def result(self) -> PollEvents:
        """The events found; raises the error it ended with, or RuntimeError if not done."""
        if self._group is not None:
            raise RuntimeError("the poll is pending: it ends when its port's dequeue() "
                               "returns it")
        if self._error is not None:
            raise self._error
        assert self._found is not None
        return self._found

    def exception(self) -> BaseException | None:
        """The error the poll ended with, or None; RuntimeError if it is pending."""
        if self._group is not None:
            raise RuntimeError("the poll is pending")
        return self._error

    @property
    def connect_error(self) -> OSError | None:
        """Why the connect failed, when CONNECT_FAIL was found (else None)."""
        if not self._connect_status:
            return None
        return error_from_code(status_code(self._connect_status & 0xFFFFFFFF))

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

    def add_done_callback(self, callback: Callback) -> None:
        """Call ``callback(self)`` once done (at once if it is)."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        callbacks = self._callbacks
        if callbacks is None:  # done
            callback(self)
        else:
            callbacks.append(callback)

    def _finish(self, found: PollEvents | None, error: BaseException | None,
                connect_status: int = 0) -> list[Callback]:
        """Record the outcome (under the poller's lock); the callbacks to run."""
        self._found, self._error, self._connect_status = found, error, connect_status
        self._group = None
        callbacks, self._callbacks = self._callbacks or [], None
        return callbacks

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

    def __init__(self, group: _SocketPolls, asked: int) -> None:
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


class _SocketPolls:
    """The waiters of one base socket and its one request (changed under the poller's lock)."""

    __slots__ = ("base", "helper", "poller", "request", "retire", "waiters")

    def __init__(self, poller: Poller, base: int, helper: _Helper) -> None:
        self.poller, self.base, self.helper = poller, base, helper
        self.waiters: list[PollOperation] = []
        self.request: _PollRequest | None = None
        self.retire = False  # the request in flight was cancelled by us: report nothing of it

    def wanted(self) -> int:
        wanted = AFD_POLL_LOCAL_CLOSE
        for waiter in self.waiters:
            wanted |= waiter.events
        return wanted

    def submit(self) -> int:
        """Start a request for every waiter's events; the error if Windows refused it.

        Under the poller's lock: a completion dequeued meanwhile on another
        thread waits for it, and finds the request in ``self.request``.
        """
        request = _PollRequest(self, self.wanted())
        how, code = request.io.submit(self.helper.handle, request.call)
        if how is Submitted.REFUSED:
            return code or ERROR_OPERATION_ABORTED
        self.request, self.retire = request, False
        return _ERROR_SUCCESS

    def refresh(self) -> int:
        """Make the request in flight ask for every waiter's events (0, or a refusal's error)."""
        request = self.request
        if request is None:
            return self.submit() if self.waiters else _ERROR_SUCCESS
        if not self.waiters or self.wanted() & ~request.asked:
            # Asked too much (nobody waits) or too little: end it; its completion
            # comes back through the port, and request_done asks again.
            if not self.retire:
                self.retire = True
                request.io.cancel()
        return _ERROR_SUCCESS


class Poller:
    """The poll requests of one completion port (``CompletionPort.poll``)."""

    def __init__(self, port: ReadinessPort) -> None:
        self.port = port
        self._lock = threading.RLock()
        self._groups: dict[int, _SocketPolls] = {}  # by base handle
        self._helpers: list[_Helper] = []
        self.in_flight: set[OverlappedIO] = set()  # requests Windows has not returned yet

    def poll(self, sock: object, events: PollEvents | int) -> PollOperation:
        handle = socket_handle(sock)
        asked = PollEvents(_check_events(events))
        base = base_handle(handle)
        with self._lock:
            if self.port.closing:
                raise ValueError("the completion port is closed")
            group = self._groups.get(base)
            if group is not None and group.request is not None and group.request.saw_close():
                # Its socket was closed and this handle value already names a new
                # one: the old request's packet ends only the old socket's waits.
                self._forget(group)
                group = None
            if group is None:
                group = self._groups[base] = _SocketPolls(self, base, self._helper())
                group.helper.sockets += 1
            waiter = PollOperation(sock, asked, group)
            group.waiters.append(waiter)
            code = group.refresh()
            if code:  # refused: nothing of this call stays
                group.waiters.remove(waiter)
                self._forget_if_idle(group)
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
            group = waiter._group
            if group is None:
                return False
            group.waiters.remove(waiter)
            finished = [(waiter, waiter._finish(None, _aborted()))]
            code = group.refresh()
            if code:
                finished += self._refused(group, code)
            self._forget_if_idle(group)
        self._report(finished)
        raise_routine_errors()
        return True

    def request_done(self, request: _PollRequest, code: int) -> None:
        """A request ended: end the waits it answers, ask again for the others."""
        group = request.group
        with self._lock:
            if group.request is not request:  # refused within submit(): its caller reports
                return
            retired = group.retire
            group.request, group.retire = None, False
            finished: list[tuple[PollOperation, list[Callback]]] = []
            found, status = request.found() if code == _ERROR_SUCCESS else (0, 0)
            cancelled_by_us = code == ERROR_OPERATION_ABORTED and retired
            if found & AFD_POLL_LOCAL_CLOSE:
                finished = self._fail(group, None, PollEvents.LOCAL_CLOSE)
            elif code and not cancelled_by_us:
                # Failed, or cancelled by someone else (the port closing): all end.
                finished = self._fail(group, error_from_code(code))
            else:
                for waiter in list(group.waiters):
                    got = found & waiter.events
                    if got:
                        group.waiters.remove(waiter)
                        connect = status if got & AFD_POLL_CONNECT_FAIL else 0
                        finished.append((waiter, waiter._finish(PollEvents(got), None,
                                                                connect)))
                if group.waiters:
                    if self.port.closing:
                        finished += self._fail(group, _aborted())
                    else:
                        refused = group.submit()
                        if refused:
                            finished += self._refused(group, refused)
            self._forget_if_idle(group)
        self._report(finished)

    def _fail(self, group: _SocketPolls, error: BaseException | None,
              found: PollEvents | None = None) -> list[tuple[PollOperation, list[Callback]]]:
        """End every waiter of ``group`` with ``error`` (or ``found``)."""
        waiters, group.waiters = group.waiters, []
        return [(waiter, waiter._finish(found, error)) for waiter in waiters]

    def _refused(self, group: _SocketPolls,
                 code: int) -> list[tuple[PollOperation, list[Callback]]]:
        """End every waiter of a socket whose new request Windows refused.

        A socket closed since its last request is no handle any more
        (ERROR_INVALID_HANDLE; WSAENOTSOCK once the value names something
        else): that is the close AFD would have reported, LOCAL_CLOSE.
        """
        if code in (ERROR_INVALID_HANDLE, WSAENOTSOCK):
            return self._fail(group, None, PollEvents.LOCAL_CLOSE)
        return self._fail(group, error_from_code(code))

    def _forget_if_idle(self, group: _SocketPolls) -> None:
        if group.request is None and not group.waiters:
            self._forget(group)

    def _forget(self, group: _SocketPolls) -> None:
        """Take the socket off the map (once): a new poll of its handle starts afresh."""
        if self._groups.get(group.base) is group:
            del self._groups[group.base]
            group.helper.sockets -= 1

    def _report(self, finished: list[tuple[PollOperation, list[Callback]]]) -> None:
        """Hand the ended waiters to the port, then run their callbacks; what those
        raise is kept for the call that ended them (``_callbacks.raise_routine_errors``)."""
        for waiter, _ in finished:
            self.port.report(waiter)
        for waiter, callbacks in finished:
            run_done_callbacks(waiter, callbacks)

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
            self._groups.clear()
        for helper in helpers:
            CloseHandle(helper.handle)


def _aborted() -> OSError:
    error = error_from_code(ERROR_OPERATION_ABORTED)
    assert isinstance(error, OperationAbortedError)
    return error

