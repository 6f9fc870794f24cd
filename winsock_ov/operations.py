"""The object layer's operations: one object per operation, keeping what its call needs.

An operation keeps the exports of the caller's buffers (or a buffer of its
own), the WSABUF array, the flags and address out-parameters, and the call
that submits them; its life (the OVERLAPPED, the registry, completion exactly
once) is the core's (``winsock_ov.core``), and how its end is learned is its
notifier's (``winsock_ov.notify``), chosen when the operation is made:

* event (default): Windows signals an Event (``event=``, or one the socket's
  pool lends the operation, ``event.EventPool``) and writes the outcome into
  OVERLAPPED.Internal/InternalHigh;
* routine (``routine=callable``): Windows queues the completion routine to the
  issuing thread, which runs it during an alertable wait; it is called as
  ``routine(operation)``;
* port: the socket is associated with a CompletionPort, whose dequeue returns
  the operation.

It ends as everything of winsock_ov that ends does (``winsock_ov.outcome``):
``add_done_callback(fn)`` calls ``fn(operation)`` in the thread that ends it
(the port's dequeue, the wait or ``observe()`` that sees an event operation's
outcome, the alertable wait that runs its routine).  Inside a running
``winsock_ov.aio`` event loop an operation can be awaited (``EventLoop.outcome``).
"""

from __future__ import annotations

import warnings
from collections.abc import Generator
from ctypes import addressof, byref
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union, cast

from . import _addresses
from ._arrays import char_buffer
from ._buffers import PinnedBuffers, one_wsabuf, wsabuf_in_place
from ._checks import check_flags, check_length
from ._unchecked import WSARECV, WSARECVFROM, WSASEND, WSASENDTO
from .core import OverlappedIO, State, Submitted, socket_call
from .errors import ThreadExitedError, error_from_code
from .event import Event, EventPool
from .notify import EventNotifier, Notify, PortBinding, RoutineNotifier
from .outcome import Outcome
from .raw import DWORD, OVERLAPPED, WSAENOTSOCK, WSAGetOverlappedResult

if TYPE_CHECKING:
    from typing_extensions import Self
    from typing_extensions import TypeVar as TypingExtensionsTypeVar

    from ._addresses import Address, AddressArg
    from ._buffers import Buffers
    from .sockets import Socket

__all__ = [
    "BufferOperation",
    "Notify",
    "Operation",
    "RecvFromOperation",
    "RecvOperation",
    "SendOperation",
    "SendToOperation",
]

if TYPE_CHECKING:  # a bare ``Operation`` stays Operation[Any] (PEP 696 default)
    _T_co = TypingExtensionsTypeVar("_T_co", covariant=True, default=Any)
else:
    _T_co = TypeVar("_T_co", covariant=True)  # what result() returns
_OperationT = TypeVar("_OperationT", bound="Operation[Any]")
# A completion routine, called as ``routine(operation)``: Routine[RecvOperation[bytes]], ...
Routine = Callable[[_OperationT], object]
# Read for every operation: module constants cost less than Enum attribute lookups.
_NEW, _PENDING, _DONE = State.NEW, State.PENDING, State.DONE
_REFUSED = Submitted.REFUSED
# How an operation learns its end: what Operation._notifier picks.
ObjectNotifier = Union[EventNotifier, RoutineNotifier, PortBinding]


def _closed_socket(handle: int, ov: OVERLAPPED, routine: object) -> int:
    """The submitting call of an operation whose socket is closed: refused."""
    return WSAENOTSOCK


class Operation(Outcome[_T_co]):
    """One overlapped operation on a Socket.  One object, one operation.

    It ends as everything of winsock_ov that ends (``winsock_ov.outcome``):
    ``done`` tells whether it finished, ``observe()`` looks for an end nobody
    delivers (an event operation's), ``result()`` waits and returns its value
    (the type parameter: ``Socket.recv`` gives a ``RecvOperation[bytes]``, ...)
    or raises its error (an OSError subclass with ``winerror``).  ``cancel()``
    asks Windows to cancel it, and the outcome (aborted, or success if it won
    the race) is still reported by ``result()``.
    """

    __slots__ = ("__weakref__", "_flags_out", "_io", "_nbytes", "socket")

    def __init__(self, sock: Socket, *, event: Event | None = None,
                 routine: Routine[Any] | None = None) -> None:
        binding = sock.port_binding
        notifier: ObjectNotifier
        if binding is None or event is not None or routine is not None or binding.port.closed:
            notifier = self._notifier(binding, event, routine, sock.event_pool)
        else:
            notifier = binding
        self.socket = sock
        self._io = OverlappedIO(self, self._completed, notifier, sock.inflight)
        self._nbytes = 0
        self._error: BaseException | None = None
        self._flags_out: int | None = None
        self._callbacks: list[Callable[[Self], object]] | None = None

    @staticmethod
    def _notifier(binding: PortBinding | None, event: Event | None,
                  routine: Routine[Any] | None, pool: EventPool) -> ObjectNotifier:
        """The notifier for what was asked, checked (a bound socket asking nothing
        else needs no check: its binding is the notifier)."""
        if event is not None and routine is not None:
            raise ValueError("choose one notification: event= or routine=, not both")
        if routine is not None and not callable(routine):
            raise TypeError(f"routine must be callable, not {type(routine).__name__}")
        if event is not None and not isinstance(event, Event):
            raise TypeError(f"event must be an Event, not {type(event).__name__}")
        if binding is not None:
            if binding.port.closed:
                raise ValueError("the socket's completion port is closed: an operation's "
                                 "completion could never be dequeued")
            binding.refuse_notification(event, routine)
            return binding
        if routine is not None:
            return RoutineNotifier(routine)
        return EventNotifier(event, pool)

    # --- submitting ---------------------------------------------------------------

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        """Subclasses: make the submitting call (``core.socket_call``); its error code."""
        raise NotImplementedError

    def start(self) -> Self:
        """Submit the operation; returns self.  Raises if Windows refuses it.

        When Windows refuses it, nothing stays pending and the error is raised
        here; when it accepts, the outcome is reported by ``result()``.  One
        object, one operation: a second ``start()`` raises ValueError.
        """
        handle = self.socket.handle
        how, _ = self._io.submit(handle or 0, self._call if handle is not None
                                 else _closed_socket)
        if how is _REFUSED:
            assert self._error is not None
            raise self._error
        return self

    @property
    def address(self) -> int:
        """The address of its OVERLAPPED (what a completion packet carries)."""
        return self._io.address

    # --- completion (the core calls this once) -------------------------------------

    def _completed(self, code: int, nbytes: int, flags: int | None) -> Callable[[], None]:
        error: BaseException | None = error_from_code(code) if code else None
        if self._io.routine_lost:
            error = ThreadExitedError(nbytes, error)  # type: ignore[arg-type]
        self._error = error
        self._nbytes = nbytes
        if flags is not None:
            self._flags_out = flags
        self._take_data(nbytes if error is None else 0)
        self._release()
        return self._run_callbacks  # once DONE: the callbacks may look at the outcome

    def _take_data(self, nbytes: int) -> None:
        """Subclasses: copy out what the operation's own buffers received."""

    def _release(self) -> None:
        """Subclasses: end buffer exports.  The OS is done with them."""

    # --- public state --------------------------------------------------------------

    @property
    def notify(self) -> Notify:
        """How the end of this operation is learned: event, routine or port (:class:`Notify`)."""
        return cast(ObjectNotifier, self._io.notifier).kind

    @property
    def event(self) -> Event | None:
        """The Event Windows signals for an event operation once started (else None).

        With no ``event=``, it is lent by the socket's pool (``Socket.event_pool``)
        until the operation ends: afterwards it may serve the socket's next operation.
        """
        notifier = self._io.notifier
        return notifier.event if isinstance(notifier, EventNotifier) else None

    @property
    def completed_immediately(self) -> bool:
        """True if Windows completed the I/O within the submitting call (it returned 0).

        False means it was pending (WSA_IO_PENDING), the seed's "Background ..."
        case.  A routine still runs, and a port still gets a packet, either way.
        """
        return self._io.immediate

    @property
    def done(self) -> bool:
        """True once the operation ended: ``result()`` and ``exception()`` return at once.

        Only answers; ``observe()`` looks for an end nobody delivers.  (0.1.0's
        ``done`` also ended an event operation whose outcome Windows had
        written: it still does, with a DeprecationWarning.)
        """
        io = self._io
        if io.state is _PENDING and io.notifier.observable and io.finished_by_os():
            warnings.warn(
                "Operation.done ended an operation whose outcome Windows had written; from "
                "0.2 it only answers: call observe() (or wait(), result()) to end it",
                DeprecationWarning, stacklevel=2)
            io.observe()
        return io.state is _DONE

    @property
    def pending(self) -> bool:
        """True while Windows may still be working on the I/O: started, and its outcome
        not written yet (or, for a port's or a routine's operation, not delivered yet)."""
        io = self._io
        return io.state is _PENDING and not (io.notifier.observable and io.finished_by_os())

    def _require_done(self) -> None:
        if self._io.state is not _DONE:
            raise RuntimeError(f"the operation is {self._io.state.value}, not done")

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
        handle = self.socket.handle
        if handle is None:
            return 0
        transferred, flags = DWORD(), DWORD()
        try:
            WSAGetOverlappedResult(handle, byref(self._io.overlapped), byref(transferred),
                                   False, byref(flags))
        except OSError:
            return 0
        return int(flags.value)

    # --- how it ends (winsock_ov.outcome) -----------------------------------------------

    def _ended(self) -> bool:
        return self._io.state is _DONE

    def _observe(self) -> None:
        self._io.observe()

    def _wait_for_end(self, timeout: float | None) -> bool:
        """The notifier's way: an event operation waits on its event, a routine one
        alertably on its issuing thread (running any routines due there; on another
        thread RuntimeError), a port's operation ends only when its packet is
        dequeued (RuntimeError: wait on the port)."""
        if self._io.state is _NEW:
            raise ValueError("the operation was not started")
        return self._io.wait(timeout)

    def _value(self) -> _T_co:
        # The byte count, for the operations that keep this default (sends, ConnectEx).
        return self._nbytes  # type: ignore[return-value]  # their _T_co is int

    def cancel(self) -> bool:
        """Ask Windows to cancel (CancelIoEx).  True if the request found the I/O.

        A request, not an ending: the operation still completes, as aborted
        (OperationAbortedError) or, if it finished first, successfully.  False
        means there was nothing left to cancel (not found).
        """
        if self.socket.closed:
            return False
        return self._io.cancel()

    def __await__(self) -> Generator[Any, None, _T_co]:
        """``await operation``: its value, inside a running winsock_ov.aio event loop
        (``EventLoop.outcome``)."""
        import asyncio

        outcome = getattr(asyncio.get_running_loop(), "outcome", None)
        if outcome is None:
            raise RuntimeError("awaiting a winsock_ov operation needs winsock_ov.aio's event "
                               "loop (asyncio.run(main(), loop_factory="
                               "winsock_ov.aio.new_event_loop))")
        value: _T_co = yield from outcome(self).__await__()
        return value

    def __repr__(self) -> str:
        state = self._io.state.value
        if self._io.state is _DONE:
            state = f"failed {type(self._error).__name__}" if self._error else \
                f"done nbytes={self._nbytes}"
        return f"<{type(self).__name__} {self.notify.value} {state}>"


class BufferOperation(Operation[_T_co]):
    """An operation over pinned caller buffers, or a buffer of its own: the base of
    the sends and receives here and of ``winsock_ov.messages``'s."""

    __slots__ = ("_count", "_data", "_kept", "_own", "_pinned", "_wsabufs")
    _pinned: PinnedBuffers | None
    _own: Any  # a c_char array while the kernel may write it, then None
    _kept: object  # a bytes object being sent in place, until done (else None)
    _wsabufs: Any
    _count: int
    _data: bytes | None

    def _use_caller_buffers(self, buffers: Any, *, writable: bool,
                            limit: int | None = None) -> None:
        self._pinned = PinnedBuffers(buffers, writable=writable, limit=limit)
        self._own = self._kept = None
        self._wsabufs = self._pinned.wsabufs
        self._count = self._pinned.count
        self._data = None

    def _use_bytes(self, data: object, wsabuf: Any) -> None:
        """Send ``data`` where it lies (``wsabuf_in_place``), holding a reference."""
        self._pinned = self._own = None
        self._kept = data
        self._wsabufs = wsabuf
        self._count = 1
        self._data = None

    def _use_own_buffer(self, nbytes: int) -> None:
        self._pinned = self._kept = None
        self._own = char_buffer(max(nbytes, 1))
        self._wsabufs = one_wsabuf(addressof(self._own), nbytes)
        self._count = 1
        self._data = None

    def _take_data(self, nbytes: int) -> None:
        if self._own is not None:
            self._data = self._own[:nbytes]
            self._own = None

    def _received(self) -> Any:
        """What a receive gives: the bytes of a buffer of its own, or the count
        received into the caller's buffers."""
        return self._data if self._pinned is None else self._nbytes

    def _release(self) -> None:
        self._kept = None
        if self._pinned is not None:
            self._pinned.release()

    def _sender(self, storage: Any, length: int) -> Address | None:
        """The address a receive wrote into ``storage`` (``length`` bytes), once done;
        None if it failed or Windows wrote none (a connected socket's receive)."""
        self._require_done()
        if self._error is not None or length == 0:
            return None
        return _addresses.from_sockaddr(storage)


class SendOperation(BufferOperation[int]):
    """WSASend of one buffer or several (gather), without copying them.

    ``result()`` is the number of bytes sent.
    """

    __slots__ = ("_send_flags",)

    def __init__(self, sock: Socket, data: Buffers, *, flags: int = 0, event: Event | None = None,
                 routine: Routine[Any] | None = None) -> None:
        super().__init__(sock, event=event, routine=routine)
        self._send_flags = check_flags(flags)
        wsabuf = wsabuf_in_place(data)
        if wsabuf is not None:
            self._use_bytes(data, wsabuf)
        else:
            self._use_caller_buffers(data, writable=False)

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        return socket_call(WSASEND, handle, byref(self._wsabufs), self._count, None,
                           self._send_flags, byref(ov), routine)


class SendToOperation(SendOperation):
    """WSASendTo: a datagram to ``address``."""

    __slots__ = ("_to", "_tolen")

    def __init__(self, sock: Socket, data: Buffers, address: AddressArg, *, flags: int = 0,
                 event: Event | None = None, routine: Routine[Any] | None = None) -> None:
        self._to, self._tolen = _addresses.to_sockaddr(sock.family, address)
        super().__init__(sock, data, flags=flags, event=event, routine=routine)

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        return socket_call(WSASENDTO, handle, byref(self._wsabufs), self._count, None,
                           self._send_flags, byref(self._to), self._tolen, byref(ov), routine)


class RecvOperation(BufferOperation[_T_co]):
    """WSARecv into a buffer of its own (``recv``) or into caller buffers (scatter).

    ``result()`` is the bytes received for ``Socket.recv``, the count received
    for ``Socket.recv_into``; b"" / 0 means the peer closed the connection.
    """

    __slots__ = ("_flags_in",)

    def __init__(self, sock: Socket, nbytes: int | None = None, buffers: Buffers | None = None, *,
                 limit: int | None = None, flags: int = 0, event: Event | None = None,
                 routine: Routine[Any] | None = None) -> None:
        super().__init__(sock, event=event, routine=routine)
        self._flags_in = DWORD(check_flags(flags))  # in and out: lives as long as the I/O
        if buffers is None:
            self._use_own_buffer(check_length("nbytes", nbytes))
        else:
            if limit is not None:
                limit = check_length("nbytes", limit)
            self._use_caller_buffers(buffers, writable=True, limit=limit)

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        return socket_call(WSARECV, handle, byref(self._wsabufs), self._count, None,
                           byref(self._flags_in), byref(ov), routine)

    def _value(self) -> _T_co:
        # bytes (a buffer of its own: Socket.recv) or the count (Socket.recv_into):
        # what its _T_co says, by how it was made.
        return self._received()  # type: ignore[no-any-return]


class RecvFromOperation(RecvOperation[_T_co]):
    """WSARecvFrom: a datagram and its sender's address.

    ``result()`` is ``(data, address)`` for ``recvfrom``, ``(nbytes, address)``
    for ``recvfrom_into``.
    """

    __slots__ = ("_from", "_fromlen")

    def __init__(self, sock: Socket, nbytes: int | None = None, buffers: Buffers | None = None, *,
                 limit: int | None = None, flags: int = 0, event: Event | None = None,
                 routine: Routine[Any] | None = None) -> None:
        super().__init__(sock, nbytes, buffers, limit=limit, flags=flags, event=event,
                         routine=routine)
        # lpFrom and lpFromlen are written at completion: owned until then.
        self._from, self._fromlen = _addresses.new_storage()

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        return socket_call(WSARECVFROM, handle, byref(self._wsabufs), self._count, None,
                           byref(self._flags_in), byref(self._from), byref(self._fromlen),
                           byref(ov), routine)

    @property
    def peer(self) -> Address | None:
        """The sender's address, or None if Windows reported none."""
        return self._sender(self._from, self._fromlen.value)

    def _value(self) -> _T_co:
        # (bytes or count, as RecvOperation's, and the sender's address or None)
        return (super()._value(), self.peer)  # type: ignore[return-value]
