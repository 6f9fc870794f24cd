"""Overlapped operations: one object per operation, owning all the OS may touch.

An operation object owns its OVERLAPPED, the exports of the caller's buffers
(or a buffer of its own), the WSABUF array, the flags and address out-parameters
and, through the process-wide thunk, its completion routine.  From ``start()``
until Windows is done with it, the registry (``_registry``) holds it too, so
dropping every reference to a pending operation frees nothing early.

Completion is learned one of three ways, chosen when the operation is made:

* event (default): Windows signals an Event (``event=``, or one of the
  operation's own) and writes the outcome into OVERLAPPED.Internal/InternalHigh;
* routine (``routine=callable``): Windows queues the completion routine to the
  issuing thread, which runs it during an alertable wait; it is called as
  ``routine(operation)``;
* port: the socket is associated with a CompletionPort, whose dequeue returns
  the operation.
"""

from __future__ import annotations

import ctypes
import enum
import threading
import time
from ctypes import addressof, byref, c_char, c_void_p
from typing import TYPE_CHECKING, Any, Callable

from . import _addresses
from ._buffers import MAX_LENGTH, PinnedBuffers, build_wsabufs
from ._registry import registry
from .errors import ThreadExitedError, error_from_code, error_from_ntstatus, timeout_error
from .event import Event
from .raw import (
    DWORD,
    ERROR_IO_PENDING,
    ERROR_MORE_DATA,
    ERROR_NOT_FOUND,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    OVERLAPPED,
    STATUS_PENDING,
    SYNCHRONIZE,
    WAIT_OBJECT_0,
    WAIT_TIMEOUT,
    WSA_IO_PENDING,
    WSAEMSGSIZE,
    WSAENOTSOCK,
    CancelIoEx,
    CloseHandle,
    GetCurrentThreadId,
    OpenThread,
    WaitForSingleObjectEx,
    WSAGetOverlappedResult,
    WSARecv,
    WSARecvFrom,
    WSASend,
    WSASendTo,
)
from .waits import check_timeout, milliseconds, poll_until, sleep_ex, stash_routine_error

if TYPE_CHECKING:
    from .sockets import Socket

__all__ = [
    "Notify",
    "Operation",
    "RecvFromOperation",
    "RecvOperation",
    "SendOperation",
    "SendToOperation",
]

Routine = Callable[["Operation"], Any]


class Notify(enum.Enum):
    EVENT = "event"
    ROUTINE = "routine"
    PORT = "port"


class _State(enum.Enum):
    NEW = "new"
    PENDING = "pending"
    DONE = "done"


_STATUS_MASK = 0xFFFFFFFF  # the NTSTATUS is the low 32 bits of Internal
_NT_ERROR_BIT = 0x80000000  # set in warnings and errors: NT_SUCCESS(s) is s >= 0 (signed)


def _status_error(status: int) -> OSError | None:
    """The error an I/O's final NTSTATUS reports, or None if it succeeded."""
    return error_from_ntstatus(status) if status & _NT_ERROR_BIT else None


class Submitted(enum.Enum):
    """What the submitting call (WSARecv, WSASend, ...) said about the I/O."""

    PENDING = "pending"  # WSA_IO_PENDING: started, not finished
    SUCCEEDED = "succeeded"  # 0: finished within the call
    WARNED = "warned"  # finished within the call with an NT warning status
    REFUSED = "refused"  # any other error: nothing was started


# Codes a submitting call returns for an I/O that finished within the call with
# an NT *warning* status: STATUS_BUFFER_OVERFLOW, a datagram or message larger
# than the buffers (truncated).
_WARNING_CODES = frozenset({WSAEMSGSIZE, ERROR_MORE_DATA})
_NT_SEVERITY, _NT_WARNING = 0xC0000000, 0x80000000  # the two top bits; 2 is "warning"


def submitted(code: int | None, status: int = STATUS_PENDING) -> Submitted:
    """Classify a submitting call by the error it left (None or 0: it succeeded).

    ``status`` is what OVERLAPPED.Internal holds after a failed call: Windows
    writes a warning there (the I/O finished), and leaves an error returned at
    once unwritten (STATUS_PENDING, as seeded before the call).
    """
    if not code:
        return Submitted.SUCCEEDED
    if code in (WSA_IO_PENDING, ERROR_IO_PENDING):
        return Submitted.PENDING
    if code in _WARNING_CODES or status & _NT_SEVERITY == _NT_WARNING:
        return Submitted.WARNED
    return Submitted.REFUSED


def completion_follows(how: Submitted, *, skip_on_success: bool = False) -> bool:
    """Whether Windows still delivers a completion (routine run, port packet, event
    signaled) for an I/O whose submitting call returned ``how``.

    The OS rule, the same for every overlapped call: a completion is delivered
    for every I/O the call started, whether it is pending or finished within
    the call, with a success or with a warning status (NT completes warnings
    like successes).  An error returned at once means nothing was started:
    nothing is delivered, ever.  FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
    (``skip_on_success``) drops the port packet of an I/O that finished within
    the call, a warning's too: "success" there means "not an NT error" (so does
    Wine's server, async_set_result; not checked on Windows itself).
    """
    if how is Submitted.REFUSED:
        return False
    return not (skip_on_success and how is not Submitted.PENDING)


def _time_left(timeout: float | None, started: float) -> float | None:
    """What remains of ``timeout`` seconds counted from ``started`` (None: forever)."""
    return None if timeout is None else max(0.0, timeout - (time.monotonic() - started))


# --- the issuing thread of routine operations ---------------------------------------

_local = threading.local()


class _IssuingThread:
    """The OS thread that issued routine operations, and a handle to see it exit.

    One per thread (thread-local), so a reused thread id never passes for the
    thread that issued an operation.
    """

    __slots__ = ("__weakref__", "_handle", "_python_thread", "ident")

    def __init__(self) -> None:
        self.ident = int(GetCurrentThreadId())
        self._handle = OpenThread(SYNCHRONIZE, False, self.ident)
        self._python_thread = threading.current_thread()

    def is_current(self) -> bool:
        return getattr(_local, "issuer", None) is self

    def exited(self) -> bool:
        return bool(WaitForSingleObjectEx(self._handle, 0, False) == WAIT_OBJECT_0)

    def exiting(self) -> bool:
        """True once the thread ran its last Python code (``join()`` returned).

        Its OS thread ends a moment later; until then ``exited()`` is still
        False, and no routine can run there any more.  A thread Python did not
        start (a ``_DummyThread``) looks alive for ever: only its exit tells.
        """
        return self.exited() or not self._python_thread.is_alive()

    def wait_exit(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds for the OS thread to end."""
        code = WaitForSingleObjectEx(self._handle, milliseconds(timeout), False)
        return bool(code == WAIT_OBJECT_0)

    def __del__(self) -> None:
        if getattr(self, "_handle", None):
            CloseHandle(self._handle)


def _issuing_thread() -> _IssuingThread:
    issuer = getattr(_local, "issuer", None)
    if issuer is None:
        issuer = _local.issuer = _IssuingThread()
    return issuer


# --- the completion-routine thunk -----------------------------------------------------
# One thunk for the whole process, created once and never freed: Windows may call
# it for any routine operation still queued, even while the interpreter exits.
# It receives lpOverlapped as an address and finds the operation in the registry.

_FUNCTYPE = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)
_ROUTINE_BY_ADDRESS = _FUNCTYPE(None, DWORD, DWORD, c_void_p, DWORD)


def _run_completion_routine(error: int, nbytes: int, overlapped: int | None, flags: int) -> None:
    try:
        op = registry.claim(overlapped or 0)
        if op is not None:
            op._finish_from_routine(error, nbytes, flags)
    except BaseException as exc:
        stash_routine_error(exc)


_thunk = _ROUTINE_BY_ADDRESS(_run_completion_routine)
ROUTINE_THUNK = ctypes.cast(_thunk, LPWSAOVERLAPPED_COMPLETION_ROUTINE)
registry.leak(ROUTINE_THUNK)  # on purpose: see above


# --- argument checks --------------------------------------------------------------------


def check_length(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, not {value}")
    if value > MAX_LENGTH:
        raise ValueError(f"{name} {value} is over {MAX_LENGTH} bytes (4 GiB - 1), "
                         "the most Winsock transfers in one operation")
    return value


def check_flags(flags: Any) -> int:
    if isinstance(flags, bool) or not isinstance(flags, int):
        raise TypeError(f"flags must be an int, not {type(flags).__name__}")
    if not 0 <= flags <= 0xFFFFFFFF:
        raise ValueError(f"flags must fit in a DWORD, not {flags}")
    return flags


# --- operations ---------------------------------------------------------------------------


class Operation:
    """One overlapped operation on a Socket.  One object, one operation.

    ``done`` tells whether it finished; ``result()`` waits and returns its value
    or raises its error (an OSError subclass with ``winerror``); ``cancel()``
    asks Windows to cancel it, and the outcome (aborted, or success if it won
    the race) is still reported by ``result()``.
    """

    __slots__ = (
        "__weakref__",
        "_error",
        "_event",
        "_flags_out",
        "_immediate",
        "_nbytes",
        "_notify",
        "_ov",
        "_owns_event",
        "_routine",
        "_state",
        "_thread",
        "address",
        "socket",
    )

    def __init__(self, sock: Socket, *, event: Event | None = None,
                 routine: Routine | None = None) -> None:
        if event is not None and routine is not None:
            raise ValueError("choose one notification: event= or routine=, not both")
        if routine is not None and not callable(routine):
            raise TypeError(f"routine must be callable, not {type(routine).__name__}")
        if event is not None and not isinstance(event, Event):
            raise TypeError(f"event must be an Event, not {type(event).__name__}")
        if sock._port is not None:
            sock._check_port_notification(event, routine)
        self.socket = sock
        self._ov = OVERLAPPED()
        self.address = addressof(self._ov)
        self._routine = routine
        self._thread: _IssuingThread | None = None
        self._event = event
        self._owns_event = False
        if routine is not None:
            self._notify = Notify.ROUTINE
        elif sock._port is not None:
            self._notify = Notify.PORT
        else:
            self._notify = Notify.EVENT
        self._state = _State.NEW
        self._nbytes = 0
        self._error: BaseException | None = None
        self._flags_out: int | None = None
        self._immediate = False

    # --- submitting ---------------------------------------------------------------

    def _submit(self, handle: int, routine: Any) -> int:
        """Call WSASend/WSARecv/...; return its result (0, or SOCKET_ERROR if pending)."""
        raise NotImplementedError

    def start(self) -> Operation:
        """Submit the operation; returns self.  Raises if Windows refuses it.

        When Windows refuses it, nothing stays pending and the error is raised
        here; when it accepts, the outcome is reported by ``result()``.
        """
        if self._state is not _State.NEW:
            raise ValueError("this operation was already started (one object, one operation)")
        handle = self.socket._handle
        if handle is None:
            raise error_from_code(WSAENOTSOCK)  # closed
        ov = self._ov
        ov.Internal = STATUS_PENDING
        if self._notify is Notify.EVENT:
            if self._event is None:
                # An event of its own, closed when done: a pooled one could still
                # get the late signal of its previous operation.
                self._event, self._owns_event = Event(), True
            ov.hEvent = self._event._acquire()
        elif self._notify is Notify.ROUTINE:
            self._thread = _issuing_thread()
        self._state = _State.PENDING
        self.socket._inflight.add(self)
        registry.add(self)  # before the call: a completion may be observed at once
        try:
            code = self._submit(handle, ROUTINE_THUNK if self._notify is Notify.ROUTINE else None)
        except OSError as exc:
            # (Any other exception, an interrupt raised as the call returned
            # say, leaves the operation registered: the I/O may have started.)
            how = submitted(exc.winerror, self._ov.Internal & _STATUS_MASK)
            if how is Submitted.REFUSED:
                registry.claim(self.address)
                error = error_from_code(exc.winerror) if exc.winerror else exc
                self._finish(error, 0, None)
                raise error from exc
        else:
            # The raw calls raise every error but WSA_IO_PENDING, which they
            # leave for WSAGetLastError() and return as SOCKET_ERROR.
            how = Submitted.SUCCEEDED if code == 0 else Submitted.PENDING
        if how is not Submitted.PENDING:
            self._immediate = True
            self._completed_at_once(how)
        return self

    def _completed_at_once(self, how: Submitted) -> None:
        # Internal/InternalHigh hold the outcome now (a warning's too: a
        # truncated datagram is reported by result() as WSAEMSGSIZE).  An event
        # operation can finish here; a routine or port one waits for the
        # delivery, unless none follows (completion_follows states the rule).
        skip = self._notify is Notify.PORT and self.socket._skip_on_success
        at_once = self._notify is Notify.EVENT or not completion_follows(
            how, skip_on_success=skip)
        if at_once and registry.claim(self.address) is self:
            self._finish_from_overlapped()

    # --- finishing (exactly once, by whoever claimed the operation) --------------

    def _os_finished(self) -> bool:
        return bool((self._ov.Internal & _STATUS_MASK) != STATUS_PENDING)

    def _overlapped_outcome(self) -> tuple[OSError | None, int]:
        status = self._ov.Internal & _STATUS_MASK
        error = _status_error(status)
        return error, int(self._ov.InternalHigh)

    def _finish_from_overlapped(self) -> None:
        error, nbytes = self._overlapped_outcome()
        self._finish(error, nbytes, None)

    def _finish_from_routine(self, code: int, nbytes: int, flags: int) -> None:
        self._finish(error_from_code(code) if code else None, nbytes, flags)
        routine, self._routine = self._routine, None
        if routine is not None and not registry.shutting_down:
            routine(self)

    def _finish_from_packet(self, status: int, nbytes: int) -> None:
        error = _status_error(status)
        self._finish(error, nbytes, None)

    def _finish(self, error: BaseException | None, nbytes: int, flags: int | None) -> None:
        self._error = error
        self._nbytes = nbytes
        if flags is not None:
            self._flags_out = flags
        self._take_data(nbytes if error is None else 0)
        self._release()
        self._state = _State.DONE

    def _take_data(self, nbytes: int) -> None:
        """Subclasses: copy out what the operation's own buffers received."""

    def _release(self) -> None:
        """Subclasses extend: end buffer exports.  The OS is done with them."""
        self.socket._inflight.discard(self)
        if self._notify is Notify.EVENT and self._event is not None:
            self._event._release()
            if self._owns_event:
                self._event.close()

    def _poll(self) -> None:
        """Finish if the end can be observed without waiting (registry reaping)."""
        if self._state is not _State.PENDING or not self._os_finished():
            return
        if self._notify is Notify.EVENT:
            if registry.claim(self.address) is self:
                self._finish_from_overlapped()
        elif self._notify is Notify.ROUTINE and self._thread is not None \
                and self._thread.exited():
            # Its routine can never run: finish it without calling the routine.
            if registry.claim(self.address) is self:
                io_error, nbytes = self._overlapped_outcome()
                self._routine = None
                self._finish(ThreadExitedError(nbytes, io_error), nbytes, None)

    def _is_done(self) -> bool:
        return self._state is _State.DONE

    def _poll_done(self) -> bool:
        self._poll()
        return self._is_done()

    def _cancel_for_exit(self) -> None:
        if self._state is _State.PENDING and not self.socket.closed:
            try:
                self.cancel()
            except OSError:
                pass

    # --- public state --------------------------------------------------------------

    @property
    def notify(self) -> Notify:
        return self._notify

    @property
    def completed_immediately(self) -> bool:
        """True if Windows completed the I/O within the submitting call (it returned 0).

        False means it was pending (WSA_IO_PENDING), the seed's "Background ..."
        case.  A routine still runs, and a port still gets a packet, either way.
        """
        return self._immediate

    @property
    def done(self) -> bool:
        """True once the outcome is known (result() will not block)."""
        if self._state is _State.PENDING and self._notify is Notify.EVENT:
            self._poll()
        return self._state is _State.DONE

    @property
    def pending(self) -> bool:
        return self._state is _State.PENDING and not self.done

    def _require_done(self) -> None:
        if self._state is not _State.DONE:
            raise RuntimeError(f"the operation is {self._state.value}, not done")

    @property
    def nbytes(self) -> int:
        """Bytes transferred (0 for a failed operation that moved nothing)."""
        self._require_done()
        return self._nbytes

    @property
    def flags(self) -> int:
        """The flags Winsock reported on completion (MSG_PARTIAL, ...), never those passed in.

        A routine's dwFlags, or else WSAGetOverlappedResult's lpdwFlags (0 if
        the socket is closed by then).
        """
        self._require_done()
        if self._flags_out is None:
            self._flags_out = self._query_flags()
        return self._flags_out

    def _query_flags(self) -> int:
        if self.socket.closed:
            return 0
        transferred, flags = DWORD(), DWORD()
        try:
            WSAGetOverlappedResult(self.socket.fileno(), byref(self._ov), byref(transferred),
                                   False, byref(flags))
        except OSError:
            return 0
        return int(flags.value)

    # --- waiting -----------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: forever); True once done.

        Routine operations wait alertably on their issuing thread (running any
        routines due there); on another thread they raise RuntimeError.
        Port operations finish when their packet is dequeued: wait on the port.
        """
        if self._state is _State.NEW:
            raise ValueError("the operation was not started")
        timeout = check_timeout(timeout)  # inf: None; NaN, negative: ValueError
        if self.done:
            return True
        if self._notify is Notify.EVENT:
            return self._wait_event(timeout)
        if self._notify is Notify.ROUTINE:
            return self._wait_routine(timeout)
        raise RuntimeError("a completion-port operation finishes when its packet is dequeued: "
                           "use CompletionPort.dequeue()")

    def _wait_event(self, timeout: float | None) -> bool:
        assert self._event is not None
        started = time.monotonic()
        try:
            # Held for the wait: another thread that sees the operation end may
            # otherwise close the event under this one.
            handle = self._event._acquire()
        except ValueError:  # closed: the operation ended, or its owner closed it
            return poll_until(lambda: self.done, timeout)
        try:
            code = WaitForSingleObjectEx(handle, milliseconds(timeout), False)
        finally:
            self._event._release()
        if self.done:
            return True
        if code == WAIT_TIMEOUT:
            return False
        # Signaled by another operation sharing the event: watch Internal instead.
        return poll_until(lambda: self.done, _time_left(timeout, started))

    def _wait_routine(self, timeout: float | None) -> bool:
        assert self._thread is not None
        if self._thread.is_current():
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._is_done():
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                sleep_ex(remaining, alertable=True)
                if remaining == 0.0:
                    return self._is_done()
            return True
        if self._thread.exiting():
            started = time.monotonic()
            if not self._thread.wait_exit(timeout):
                return False
            return poll_until(self._poll_done, _time_left(timeout, started))
        raise RuntimeError(
            f"this operation's completion routine runs only on the thread that issued it "
            f"(thread id {self._thread.ident}), during an alertable wait there")

    def result(self, timeout: float | None = None) -> Any:
        """The operation's value once done, or its exception raised."""
        if self._state is not _State.DONE and not self.wait(timeout):
            raise timeout_error(f"the operation is still pending after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The operation's exception (None if it succeeded), waiting like result()."""
        if not self.wait(timeout):
            raise timeout_error(f"the operation is still pending after {timeout} s")
        return self._error

    def _value(self) -> Any:
        return self._nbytes

    def cancel(self) -> bool:
        """Ask Windows to cancel (CancelIoEx).  True if the request found the I/O.

        A request, not an ending: the operation still completes, as aborted
        (OperationAbortedError) or, if it finished first, successfully.  False
        means there was nothing left to cancel (not found).
        """
        if self._state is not _State.PENDING or self.socket.closed:
            return False
        try:
            CancelIoEx(self.socket.fileno(), byref(self._ov))
        except OSError as exc:
            if exc.winerror == ERROR_NOT_FOUND:
                return False
            raise
        return True

    def __repr__(self) -> str:
        state = self._state.value
        if self._state is _State.DONE:
            state = f"failed {type(self._error).__name__}" if self._error else \
                f"done nbytes={self._nbytes}"
        return f"<{type(self).__name__} {self._notify.value} {state}>"


class _BufferOperation(Operation):
    """An operation over pinned caller buffers, or a buffer of its own."""

    __slots__ = ("_count", "_data", "_own", "_pinned", "_wsabufs")
    _pinned: PinnedBuffers | None
    _own: Any  # a c_char array while the kernel may write it, then None
    _wsabufs: Any
    _count: int
    _data: bytes | None

    def _use_caller_buffers(self, buffers: Any, *, writable: bool,
                            limit: int | None = None) -> None:
        self._pinned = PinnedBuffers(buffers, writable=writable, limit=limit)
        self._own = None
        self._wsabufs = self._pinned.wsabufs
        self._count = self._pinned.count
        self._data = None

    def _use_own_buffer(self, nbytes: int) -> None:
        self._pinned = None
        self._own = (c_char * max(nbytes, 1))()
        self._wsabufs = build_wsabufs([(addressof(self._own), nbytes)])
        self._count = 1
        self._data = None

    def _take_data(self, nbytes: int) -> None:
        if self._own is not None:
            self._data = self._own[:nbytes]
            self._own = None

    def _release(self) -> None:
        if self._pinned is not None:
            self._pinned.release()
        super()._release()


class SendOperation(_BufferOperation):
    """WSASend of one buffer or several (gather), without copying them.

    ``result()`` is the number of bytes sent.
    """

    __slots__ = ("_send_flags",)

    def __init__(self, sock: Socket, data: Any, *, flags: int = 0, event: Event | None = None,
                 routine: Routine | None = None) -> None:
        super().__init__(sock, event=event, routine=routine)
        self._send_flags = check_flags(flags)
        self._use_caller_buffers(data, writable=False)

    def _submit(self, handle: int, routine: Any) -> int:
        return int(WSASend(handle, self._wsabufs, self._count, None, self._send_flags,
                           byref(self._ov), routine))


class SendToOperation(SendOperation):
    """WSASendTo: a datagram to ``address``."""

    __slots__ = ("_to", "_tolen")

    def __init__(self, sock: Socket, data: Any, address: Any, *, flags: int = 0,
                 event: Event | None = None, routine: Routine | None = None) -> None:
        self._to, self._tolen = _addresses.to_sockaddr(sock.family, address)
        super().__init__(sock, data, flags=flags, event=event, routine=routine)

    def _submit(self, handle: int, routine: Any) -> int:
        return int(WSASendTo(handle, self._wsabufs, self._count, None, self._send_flags,
                             byref(self._to), self._tolen, byref(self._ov), routine))


class RecvOperation(_BufferOperation):
    """WSARecv into a buffer of its own (``recv``) or into caller buffers (scatter).

    ``result()`` is the bytes received for ``Socket.recv``, the count received
    for ``Socket.recv_into``; b"" / 0 means the peer closed the connection.
    """

    __slots__ = ("_flags_in",)

    def __init__(self, sock: Socket, nbytes: int | None = None, buffers: Any = None, *,
                 limit: int | None = None, flags: int = 0, event: Event | None = None,
                 routine: Routine | None = None) -> None:
        super().__init__(sock, event=event, routine=routine)
        self._flags_in = DWORD(check_flags(flags))  # in and out: lives as long as the I/O
        if buffers is None:
            self._use_own_buffer(check_length("nbytes", nbytes))
        else:
            if limit is not None:
                limit = check_length("nbytes", limit)
            self._use_caller_buffers(buffers, writable=True, limit=limit)

    def _submit(self, handle: int, routine: Any) -> int:
        return int(WSARecv(handle, self._wsabufs, self._count, None, byref(self._flags_in),
                           byref(self._ov), routine))

    def _value(self) -> Any:
        return self._data if self._pinned is None else self._nbytes


class RecvFromOperation(RecvOperation):
    """WSARecvFrom: a datagram and its sender's address.

    ``result()`` is ``(data, address)`` for ``recvfrom``, ``(nbytes, address)``
    for ``recvfrom_into``.
    """

    __slots__ = ("_from", "_fromlen")

    def __init__(self, sock: Socket, nbytes: int | None = None, buffers: Any = None, *,
                 limit: int | None = None, flags: int = 0, event: Event | None = None,
                 routine: Routine | None = None) -> None:
        super().__init__(sock, nbytes, buffers, limit=limit, flags=flags, event=event,
                         routine=routine)
        # lpFrom and lpFromlen are written at completion: owned until then.
        self._from, self._fromlen = _addresses.new_storage()

    def _submit(self, handle: int, routine: Any) -> int:
        return int(WSARecvFrom(handle, self._wsabufs, self._count, None, byref(self._flags_in),
                               byref(self._from), byref(self._fromlen), byref(self._ov),
                               routine))

    @property
    def peer(self) -> Any:
        """The sender's address, or None if Windows reported none."""
        self._require_done()
        if self._error is not None or self._fromlen.value == 0:
            return None
        return _addresses.from_sockaddr(self._from)

    def _value(self) -> Any:
        return super()._value(), self.peer
