"""Sockets created for overlapped I/O, whose operations are objects."""

from __future__ import annotations

import select
import socket as _pysocket
import warnings
from ctypes import byref, sizeof
from typing import TYPE_CHECKING, Callable, Optional

from . import _addresses
from ._checks import check_c_int, check_ulong_ptr
from ._closable import Closable
from ._interrupt import guard, sliced
from ._timeouts import milliseconds
from .errors import error_from_code, timeout_error
from .event import Event, EventPool
from .extensions import AcceptOperation, ConnectOperation, DisconnectOperation
from .messages import RecvMsgOperation, SendMsgOperation
from .notify import Port, PortBinding
from .operations import (
    RecvFromOperation,
    RecvOperation,
    Routine,
    SendOperation,
    SendToOperation,
)
from .raw import (
    AF_INET,
    FIONBIO,
    INFINITE,
    INT,
    MAKEWORD,
    SO_ERROR,
    SO_TYPE,
    SOCK_STREAM,
    SOL_SOCKET,
    ULONG,
    WSA_FLAG_NO_HANDLE_INHERIT,
    WSA_FLAG_OVERLAPPED,
    WSADATA,
    WSAENOTSOCK,
    CancelIoEx,
    WSASocketW,
    WSAStartup,
    accept,
    bind,
    closesocket,
    connect,
    getpeername,
    getsockname,
    getsockopt,
    ioctlsocket,
    listen,
    setsockopt,
    shutdown,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from typing_extensions import Buffer

    from ._addresses import Address, AddressArg
    from ._buffers import Buffers
    from .cmsg import ControlMessage
    from .core import OverlappedIO

    # What recvmsg / recvmsg_into give: CPython's Unix socket.recvmsg shape.
    RecvMsg = tuple[bytes, list[ControlMessage], int, Optional[Address]]
    RecvMsgInto = tuple[int, list[ControlMessage], int, Optional[Address]]

__all__ = ["Socket", "socket_type", "tie_to_port"]

_started = False


def socket_type(handle: int) -> int:
    """The SO_TYPE of a SOCKET handle; OSError (WSAENOTSOCK) for any other handle."""
    value, size = INT(), INT(sizeof(INT))
    getsockopt(handle, SOL_SOCKET, SO_TYPE, byref(value), byref(size))
    return value.value


def _nothing_selected(selected: tuple[list[int], list[int], list[int]]) -> bool:
    return not any(selected)


def _selected(readable: list[int], writable: list[int], failed: list[int],
              milliseconds: int) -> bool:
    """select() on these sockets for ``milliseconds`` (INFINITE: forever): whether
    any became ready.  select() answers Ctrl-C only once it returns: waited in
    slices (see _interrupt)."""
    def select_for(ms: int) -> tuple[list[int], list[int], list[int]]:
        return select.select(readable, writable, failed, None if ms == INFINITE else ms / 1000)

    with guard():
        selected = sliced(select_for, milliseconds, _nothing_selected)
    return not _nothing_selected(selected)


def _ensure_winsock() -> None:
    """WSAStartup once for the process (never undone: sockets may outlive anything)."""
    global _started
    if not _started:
        WSAStartup(MAKEWORD(2, 2), byref(WSADATA()))
        _started = True


class Socket(Closable):
    """A socket opened with WSA_FLAG_OVERLAPPED.

    Set-up calls (bind, listen, accept, connect) block like the seed's; the I/O
    calls (send, recv, recv_into, sendto, recvfrom, recvfrom_into) start an
    overlapped operation and return its object at once.  Each takes at most one
    of ``event=`` (an Event to be signaled) or ``routine=`` (a callable run as
    ``routine(op)`` during an alertable wait of this thread); with neither, the
    operation signals an event the socket lends it (``event_pool``: reset before
    each use, and reused only once no earlier operation can still signal it).

    Closing cancels the operations in flight; they complete as aborted
    (OperationAbortedError), and their memory stays owned until they do.
    """

    __slots__ = ("__weakref__", "_handle", "event_pool", "family", "inflight", "port_binding",
                 "proto", "type")

    def __init__(self, family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0) -> None:
        self._setup(family, type, proto, None)

    @classmethod
    def _adopt(cls, handle: int, family: int, type: int, proto: int) -> Socket:
        """A Socket owning an existing ``handle`` (from_handle's and accept's)."""
        sock = cls.__new__(cls)
        sock._setup(family, type, proto, handle)
        return sock

    def _setup(self, family: int, type: int, proto: int, handle: int | None) -> None:
        self.family, self.type, self.proto = (check_c_int("family", family),
                                              check_c_int("type", type),
                                              check_c_int("proto", proto))
        _ensure_winsock()
        # The I/O of the operations started here whose end was not yet observed
        # (the core keeps it); and the completion port's binding, once associated.
        self.inflight: set[OverlappedIO] = set()
        # The events of its operations given none (``event.EventPool``).
        self.event_pool = EventPool(self.inflight)
        self.port_binding: PortBinding | None = None
        if handle is None:
            handle = WSASocketW(family, type, proto, None, 0,
                                WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT)
        self._handle: int | None = int(handle)

    @classmethod
    def from_handle(cls, handle: int, family: int = AF_INET, type: int | None = None,
                    proto: int = 0) -> Socket:
        """Own an existing SOCKET handle (it must have been made for overlapped I/O)."""
        check_ulong_ptr("handle", handle)
        _ensure_winsock()
        # Asked even when ``type`` is given: anything but a socket raises
        # OSError (WSAENOTSOCK) here, not at its first operation.
        kind = socket_type(handle)
        return cls._adopt(handle, family, kind if type is None else type, proto)

    @classmethod
    def from_socket(cls, sock: _pysocket.socket) -> Socket:
        """Take over a ``socket.socket`` (CPython opens them overlapped); it is detached.

        A closed one raises OSError (``winerror`` WSAENOTSOCK), as a closed
        Socket does.
        """
        if not isinstance(sock, _pysocket.socket):
            raise TypeError(f"expected a socket.socket, not {type(sock).__name__}")
        if sock.fileno() == -1:
            raise error_from_code(WSAENOTSOCK)
        family, type_, proto = int(sock.family), int(sock.type), sock.proto
        return cls.from_handle(sock.detach(), family, type_, proto)

    # --- handle and lifetime -------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (the handle is then None)."""
        return self._handle is None

    def fileno(self) -> int:
        """The SOCKET handle as an integer; OSError (``winerror`` WSAENOTSOCK) once closed."""
        if self._handle is None:
            raise error_from_code(WSAENOTSOCK)
        return self._handle

    @property
    def handle(self) -> int | None:
        """The SOCKET handle, or None once closed."""
        return self._handle

    def attach_port(self, binding: PortBinding) -> None:
        """Record a binding without tying the socket (deprecated since 0.2).

        ``CompletionPort.associate`` ties the socket and records its binding in
        one step; recording alone never tied the handle.  Refused, as
        ``associate`` is, for a socket associated already or with operations in
        flight.
        """
        warnings.warn("Socket.attach_port() is deprecated: CompletionPort.associate() ties "
                      "the socket and records its binding", DeprecationWarning, stacklevel=2)
        _check_untied(self)
        self.port_binding = binding

    def close(self) -> None:
        """Cancel the operations in flight, then close the socket."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if self.inflight:
            try:
                CancelIoEx(handle, None)  # all of them, whichever thread issued them
            except OSError:
                pass  # ERROR_NOT_FOUND: they had all finished
        closesocket(handle)
        self.event_pool.close()

    def __del__(self) -> None:
        if getattr(self, "_handle", None) is not None:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=2)
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else f"handle={self._handle}"
        return f"<winsock_ov.Socket {state} family={self.family} type={self.type}>"

    # --- set-up calls (blocking) ----------------------------------------------------

    def bind(self, address: AddressArg) -> None:
        """Give the socket a local address (``bind``).

        ``(host, port)`` for AF_INET; port 0 lets Windows pick a free port.

        Raises OSError with Winsock's ``winerror`` (WSAEADDRINUSE, ...).
        """
        sockaddr, length = _addresses.to_sockaddr(self.family, address)
        bind(self.fileno(), byref(sockaddr), length)

    def listen(self, backlog: int = 128) -> None:
        """Accept connections from now on (``listen``), queueing at most ``backlog`` of them."""
        listen(self.fileno(), check_c_int("backlog", backlog))

    def accept(self, timeout: float | None = None) -> tuple[Socket, Address]:
        """Wait for a connection (at most ``timeout`` seconds); the new socket and address.

        Ctrl-C raises KeyboardInterrupt within a fraction of a second.
        """
        if not _selected([self.fileno()], [], [], milliseconds(timeout)):
            raise timeout_error(f"no connection within {timeout} s")
        storage, length = _addresses.new_storage()
        handle = accept(self.fileno(), byref(storage), byref(length))
        peer = Socket._adopt(handle, self.family, self.type, self.proto)
        return peer, _addresses.from_sockaddr(storage)

    def connect(self, address: AddressArg) -> None:
        """Connect to ``address`` (``connect``), blocking until the connection is made or refused.

        A refusal raises ConnectionRefusedError (``winerror`` WSAECONNREFUSED).
        :meth:`connect_ex` is the overlapped form.  Ctrl-C raises
        KeyboardInterrupt within a fraction of a second; the socket is then left
        connecting (close it).
        """
        sockaddr, length = _addresses.to_sockaddr(self.family, address)
        fileno = self.fileno()
        # A blocking connect() answers Ctrl-C only once it returns: the socket is
        # made non-blocking for the call, and its outcome waited for in slices.
        ioctlsocket(fileno, FIONBIO, byref(ULONG(1)))
        try:
            try:
                connect(fileno, byref(sockaddr), length)
                return
            except BlockingIOError:  # WSAEWOULDBLOCK: connecting
                pass
            _selected([], [fileno], [fileno], INFINITE)  # connected, or failed
            error = self.getsockopt(SOL_SOCKET, SO_ERROR)
            if error:
                raise error_from_code(error)
        finally:
            ioctlsocket(fileno, FIONBIO, byref(ULONG(0)))

    def getsockname(self) -> Address:
        """The local address (``getsockname``): the port chosen by a ``bind`` to port 0."""
        storage, length = _addresses.new_storage()
        getsockname(self.fileno(), byref(storage), byref(length))
        return _addresses.from_sockaddr(storage)

    def getpeername(self) -> Address:
        """The connected peer's address (``getpeername``); OSError (WSAENOTCONN) if none."""
        storage, length = _addresses.new_storage()
        getpeername(self.fileno(), byref(storage), byref(length))
        return _addresses.from_sockaddr(storage)

    def setsockopt(self, level: int, option: int, value: int | bytes) -> None:
        """Set a socket option (``setsockopt``): an int goes as a C ``int``, bytes as they are."""
        level, option = check_c_int("level", level), check_c_int("option", option)
        if isinstance(value, int):
            number = INT(check_c_int("value", int(value)))  # int(): a bool is 0 or 1
            setsockopt(self.fileno(), level, option, byref(number), sizeof(INT))
        else:
            data = bytes(value)
            setsockopt(self.fileno(), level, option, data, len(data))

    def getsockopt(self, level: int, option: int) -> int:
        """Read a socket option whose value is a C ``int`` (``getsockopt``)."""
        level, option = check_c_int("level", level), check_c_int("option", option)
        value, size = INT(), INT(sizeof(INT))
        getsockopt(self.fileno(), level, option, byref(value), byref(size))
        return int(value.value)

    def shutdown(self, how: int) -> None:
        """Stop receiving, sending or both (``shutdown`` with SD_RECEIVE, SD_SEND or SD_BOTH).

        After SD_SEND the peer reads the end of the stream; the socket stays open
        until :meth:`close`.
        """
        shutdown(self.fileno(), check_c_int("how", how))

    # --- overlapped I/O ---------------------------------------------------------------

    def send(self, data: Buffers, *, flags: int = 0, event: Event | None = None,
             routine: Routine[SendOperation] | None = None) -> SendOperation:
        """WSASend ``data``: one bytes-like object, or a list/tuple of them (gather)."""
        return SendOperation(self, data, flags=flags, event=event, routine=routine).start()

    def sendto(self, data: Buffers, address: AddressArg, *, flags: int = 0,
               event: Event | None = None,
               routine: Routine[SendToOperation] | None = None) -> SendToOperation:
        """WSASendTo ``data`` (one bytes-like object or several) to ``address``."""
        return SendToOperation(self, data, address, flags=flags, event=event,
                               routine=routine).start()

    def recv(self, nbytes: int, *, flags: int = 0, event: Event | None = None,
             routine: Routine[RecvOperation[bytes]] | None = None) -> RecvOperation[bytes]:
        """WSARecv up to ``nbytes`` into a buffer of the operation's own; result() is bytes."""
        op: RecvOperation[bytes] = RecvOperation(self, nbytes, flags=flags, event=event,
                                                 routine=routine)
        return op.start()

    def recv_into(self, buffers: Buffers, nbytes: int | None = None, *, flags: int = 0,
                  event: Event | None = None,
                  routine: Routine[RecvOperation[int]] | None = None) -> RecvOperation[int]:
        """WSARecv into writable buffers (one, or a list/tuple: scatter); result() is a count.

        The buffers are pinned until the operation is done: a bytearray cannot
        be resized meanwhile (BufferError).
        """
        op: RecvOperation[int] = RecvOperation(self, buffers=buffers, limit=nbytes, flags=flags,
                                               event=event, routine=routine)
        return op.start()

    def recvfrom(self, nbytes: int, *, flags: int = 0, event: Event | None = None,
                 routine: Routine[RecvFromOperation[tuple[bytes, Address | None]]] | None = None,
                 ) -> RecvFromOperation[tuple[bytes, Address | None]]:
        """WSARecvFrom up to ``nbytes``; result() is (bytes, address).

        The address is None when Windows reports none (a stream socket's).
        """
        op: RecvFromOperation[tuple[bytes, Address | None]] = RecvFromOperation(
            self, nbytes, flags=flags, event=event, routine=routine)
        return op.start()

    def accept_ex(self, accept_socket: Socket | None = None, *, recv_nbytes: int = 0,
                  event: Event | None = None) -> AcceptOperation:
        """AcceptEx on this listening socket; result() is (socket, remote_address).

        ``accept_socket`` defaults to a new socket of the same kind; with
        ``recv_nbytes``, the operation completes once that much data came too.
        """
        return AcceptOperation(self, accept_socket, recv_nbytes=recv_nbytes,
                               event=event).start()

    def connect_ex(self, address: AddressArg, data: Buffer = b"", *,
                   event: Event | None = None) -> ConnectOperation:
        """ConnectEx to ``address`` (binding first if unbound), sending ``data`` with it.

        Unlike socket.connect_ex, this returns an operation: result() is the
        number of bytes of ``data`` sent, or raises (ConnectionRefusedError, ...).
        """
        return ConnectOperation(self, address, data, event=event).start()

    def disconnect_ex(self, flags: int = 0, *, event: Event | None = None) -> DisconnectOperation:
        """DisconnectEx: end the connection, keeping the socket (TF_REUSE_SOCKET to reuse it)."""
        return DisconnectOperation(self, flags, event=event).start()

    def recvfrom_into(self, buffers: Buffers, nbytes: int | None = None, *, flags: int = 0,
                      event: Event | None = None,
                      routine: Routine[RecvFromOperation[tuple[int, Address | None]]] | None = None,
                      ) -> RecvFromOperation[tuple[int, Address | None]]:
        """WSARecvFrom into writable buffers; result() is (count, address)."""
        op: RecvFromOperation[tuple[int, Address | None]] = RecvFromOperation(
            self, buffers=buffers, limit=nbytes, flags=flags, event=event, routine=routine)
        return op.start()

    def sendmsg(self, buffers: Buffers, ancdata: Iterable[tuple[int, int, Buffer]] = (),
                flags: int = 0, address: AddressArg | None = None, *,
                event: Event | None = None,
                routine: Routine[SendMsgOperation] | None = None) -> SendMsgOperation:
        """WSASendMsg: one datagram from ``buffers`` (one bytes-like object or several:
        gather) with control messages ``ancdata`` (``(level, type, data)`` items,
        as CPython's Unix ``socket.sendmsg``; ``winsock_ov.cmsg`` builds them), to
        ``address`` unless the socket is connected.  result() is the count sent."""
        return SendMsgOperation(self, buffers, ancdata, flags, address, event=event,
                                routine=routine).start()

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0, *,
                event: Event | None = None,
                routine: Routine[RecvMsgOperation[RecvMsg]] | None = None,
                ) -> RecvMsgOperation[RecvMsg]:
        """WSARecvMsg of one datagram, up to ``bufsize`` bytes, with up to ``ancbufsize``
        bytes of control messages (``winsock_ov.cmsg.space`` sizes them).

        result() is ``(data, ancdata, msg_flags, address)``, as CPython's Unix
        ``socket.recvmsg``: a datagram cut to ``bufsize`` gives MSG_TRUNC in
        ``msg_flags``, control data cut to ``ancbufsize`` MSG_CTRUNC.  Datagram and
        raw sockets only: any other is refused with OSError (WSAEOPNOTSUPP).
        """
        op: RecvMsgOperation[RecvMsg] = RecvMsgOperation(
            self, bufsize, ancbufsize=ancbufsize, flags=flags, event=event, routine=routine)
        return op.start()

    def recvmsg_into(self, buffers: Buffers, ancbufsize: int = 0, flags: int = 0, *,
                     event: Event | None = None,
                     routine: Routine[RecvMsgOperation[RecvMsgInto]] | None = None,
                     ) -> RecvMsgOperation[RecvMsgInto]:
        """WSARecvMsg into writable buffers (one, or several: scatter); result() is
        ``(nbytes, ancdata, msg_flags, address)``, as ``socket.recvmsg_into``."""
        op: RecvMsgOperation[RecvMsgInto] = RecvMsgOperation(
            self, buffers=buffers, ancbufsize=ancbufsize, flags=flags, event=event,
            routine=routine)
        return op.start()


def tie_to_port(sock: object, port: Port, port_handle: int, key: int,
                skip_on_success: Callable[[], bool] | None) -> PortBinding:
    """Tie a winsock_ov Socket to a completion port (``CompletionPort.associate``,
    winsock_ov.aio's ``loop.associate``); its binding, recorded as
    ``sock.port_binding``.  Every operation started on it afterwards completes
    through the port.

    Refused before anything is tied: anything but a Socket (TypeError), a socket
    associated already or with operations in flight (ValueError: their ends
    would be learned two ways).  ``skip_on_success``, asked once the socket
    passed those checks, says whether to set FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
    (None: no).
    """
    if not isinstance(sock, Socket):
        raise TypeError(f"expected a winsock_ov Socket, not {type(sock).__name__}")
    _check_untied(sock)
    skip = skip_on_success is not None and skip_on_success()
    binding = PortBinding.tie(port, port_handle, sock.fileno(), key, skip_on_success=skip)
    sock.port_binding = binding
    return binding


def _check_untied(sock: Socket) -> None:
    if sock.port_binding is not None:
        raise ValueError("the socket is already associated with a completion port")
    if sock.inflight:
        raise ValueError("the socket has operations in flight; associate it before "
                         "starting any")
