"""AcceptEx, ConnectEx and DisconnectEx: accepting, connecting and disconnecting overlapped.

These are Microsoft extensions, not exported by ws2_32: each provider hands out
their addresses through WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER).  They are
fetched once per provider (one per family, type and protocol) and kept.  They
take no completion routine: their operations complete by event or by port.
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import byref, sizeof
from typing import TYPE_CHECKING, Any, cast

from . import _addresses
from ._arrays import char_buffer
from ._buffers import PinnedBuffers
from ._checks import check_flags, check_length
from .core import bool_call
from .operations import Operation
from .raw import (
    AF_INET,
    DWORD,
    GUID,
    INT,
    LPFN_ACCEPTEX,
    LPFN_CONNECTEX,
    LPFN_DISCONNECTEX,
    LPFN_GETACCEPTEXSOCKADDRS,
    LPSOCKADDR,
    OVERLAPPED,
    SO_UPDATE_ACCEPT_CONTEXT,
    SO_UPDATE_CONNECT_CONTEXT,
    SOCKADDR_STORAGE,
    SOCKET,
    SOL_SOCKET,
    WSAEINVAL,
    WSAENOTSOCK,
    WSAID_ACCEPTEX,
    WSAID_CONNECTEX,
    WSAID_DISCONNECTEX,
    WSAID_GETACCEPTEXSOCKADDRS,
    check_bool_pending,
    get_extension_function,
    getsockname,
    setsockopt,
)

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from ._addresses import Address, AddressArg
    from .event import Event
    from .sockets import Socket

__all__ = ["AcceptOperation", "ConnectOperation", "DisconnectOperation"]

# AcceptEx: "at least 16 bytes more than the maximum address length".
_ADDRESS_ROOM = sizeof(SOCKADDR_STORAGE) + 16


_functions: dict[tuple[int, int, int, str], Any] = {}
_functions_lock = threading.Lock()


def extension_function(sock: Any, guid: GUID, prototype: Any, name: str, *,
                       socket_error: bool = False) -> Any:
    """``name`` for the provider behind ``sock``: fetched on first use, then kept.

    ``sock`` is anything with ``family``, ``type``, ``proto`` and ``fileno()``:
    a winsock_ov Socket or a socket.socket.  ``socket_error``: an INT function
    answering SOCKET_ERROR (WSARecvMsg), fetched unchecked for
    ``core.socket_call``; the others are BOOL, or void.
    """
    key = (sock.family, sock.type, sock.proto, name)
    function = _functions.get(key)
    if function is None:
        with _functions_lock:
            function = _functions.get(key)
            if function is None:
                # BOOL ones: FALSE with ERROR_IO_PENDING means started.
                errcheck = None if socket_error or _returns_nothing(prototype) \
                    else check_bool_pending
                function = _functions[key] = get_extension_function(
                    sock.fileno(), guid, prototype, name, errcheck)
    return function


def _returns_nothing(prototype: Any) -> bool:
    """GetAcceptExSockaddrs is void; the others are BOOL."""
    return getattr(prototype, "_restype_", None) is None


def _address_at(pointer: Any, length: int) -> Address:
    storage = SOCKADDR_STORAGE()
    ctypes.memmove(byref(storage), pointer, min(length, sizeof(storage)))
    return _addresses.from_sockaddr(storage)


class AcceptOperation(Operation["tuple[Socket, Address]"]):
    """AcceptEx on a listening socket into a prepared accept socket.

    ``result()`` is ``(socket, remote_address)``; ``local_address`` and ``data``
    (bytes that arrived with the connection, if ``recv_nbytes`` asked for them)
    are set too.  On success the accept socket gets SO_UPDATE_ACCEPT_CONTEXT, so
    getpeername, shutdown and the rest work on it; on failure, an accept socket
    this operation created is closed.
    """

    __slots__ = (
        "_buffer",
        "_owns_accept_socket",
        "_received",
        "_recv_nbytes",
        "accept_socket",
        "data",
        "local_address",
        "remote_address",
    )

    def __init__(self, listener: Socket, accept_socket: Socket | None = None, *,
                 recv_nbytes: int = 0, event: Event | None = None) -> None:
        # type(listener) is winsock_ov's Socket: sockets imports this module.
        socket_class = type(listener)
        super().__init__(listener, event=event)
        self._recv_nbytes = check_length("recv_nbytes", recv_nbytes)
        if accept_socket is not None and not isinstance(accept_socket, socket_class):
            raise TypeError("accept_socket must be a winsock_ov Socket or None, "
                            f"not {type(accept_socket).__name__}")
        if accept_socket is None:
            accept_socket = socket_class(listener.family, listener.type, listener.proto)
            self._owns_accept_socket = True
        else:
            self._owns_accept_socket = False
        self.accept_socket = accept_socket
        # Written by the kernel until completion: the first data, then both addresses.
        self._buffer = char_buffer(self._recv_nbytes + 2 * _ADDRESS_ROOM)
        self._received = DWORD()
        self.local_address: Address | None = None  # set on success
        self.remote_address: Address | None = None  # set on success
        self.data = b""

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        accept_ex = extension_function(self.socket, WSAID_ACCEPTEX, LPFN_ACCEPTEX, "AcceptEx")
        accept_handle = self.accept_socket.handle
        if accept_handle is None:
            return WSAENOTSOCK
        return bool_call(accept_ex, handle, accept_handle, self._buffer, self._recv_nbytes,
                         _ADDRESS_ROOM, _ADDRESS_ROOM, byref(self._received), byref(ov))

    def _take_data(self, nbytes: int) -> None:
        if self._error is None:
            try:
                self._complete_accept(nbytes)
            except OSError as exc:
                self._error = exc
        if self._error is not None and self._owns_accept_socket:
            self.accept_socket.close()

    def _complete_accept(self, nbytes: int) -> None:
        listener = SOCKET(self.socket.fileno())
        setsockopt(self.accept_socket.fileno(), SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                   byref(listener), sizeof(listener))
        get_sockaddrs = extension_function(self.socket, WSAID_GETACCEPTEXSOCKADDRS,
                                           LPFN_GETACCEPTEXSOCKADDRS, "GetAcceptExSockaddrs")
        local, local_length = LPSOCKADDR(), INT()
        remote, remote_length = LPSOCKADDR(), INT()
        get_sockaddrs(self._buffer, self._recv_nbytes, _ADDRESS_ROOM, _ADDRESS_ROOM,
                      byref(local), byref(local_length), byref(remote), byref(remote_length))
        self.local_address = _address_at(local, local_length.value)
        self.remote_address = _address_at(remote, remote_length.value)
        self.data = ctypes.string_at(self._buffer, nbytes)

    def _value(self) -> tuple[Socket, Address]:
        # Called on success only, when _complete_accept has set remote_address.
        return self.accept_socket, cast("Address", self.remote_address)


class ConnectOperation(Operation[int]):
    """ConnectEx to ``address``, optionally sending ``data`` first.

    ConnectEx needs a bound socket: an unbound one is bound to the wildcard
    address, port 0, first.  On success the socket gets SO_UPDATE_CONNECT_CONTEXT.
    ``result()`` is the number of bytes of ``data`` sent.
    """

    __slots__ = ("_pinned", "_sent", "_to", "_tolen")

    def __init__(self, sock: Socket, address: AddressArg, data: Buffer = b"", *,
                 event: Event | None = None) -> None:
        super().__init__(sock, event=event)
        self._to, self._tolen = _addresses.to_sockaddr(sock.family, address)
        self._pinned = PinnedBuffers(data, writable=False)
        if self._pinned.count != 1:
            self._pinned.release()
            raise ValueError("ConnectEx sends one buffer")
        self._sent = DWORD()

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        try:
            _bind_if_unbound(self.socket)
            connect_ex = extension_function(self.socket, WSAID_CONNECTEX, LPFN_CONNECTEX,
                                            "ConnectEx")
        except OSError as exc:
            return exc.winerror or WSAEINVAL
        address, length = self._pinned.spans[0]
        return bool_call(connect_ex, handle, byref(self._to), self._tolen, address or None,
                         length, byref(self._sent), byref(ov))

    def _take_data(self, nbytes: int) -> None:
        if self._error is None:
            try:
                setsockopt(self.socket.fileno(), SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, None, 0)
            except OSError as exc:
                self._error = exc

    def _release(self) -> None:
        self._pinned.release()


class DisconnectOperation(Operation[None]):
    """DisconnectEx: close the connection (TF_REUSE_SOCKET lets AcceptEx/ConnectEx reuse it)."""

    __slots__ = ("_disconnect_flags",)

    def __init__(self, sock: Socket, flags: int = 0, *, event: Event | None = None) -> None:
        super().__init__(sock, event=event)
        self._disconnect_flags = check_flags(flags)

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        disconnect_ex = extension_function(self.socket, WSAID_DISCONNECTEX, LPFN_DISCONNECTEX,
                                           "DisconnectEx")
        return bool_call(disconnect_ex, handle, byref(ov), self._disconnect_flags, 0)

    def _value(self) -> None:
        return None


def _bind_if_unbound(sock: Socket) -> None:
    storage, length = _addresses.new_storage()
    try:
        getsockname(sock.fileno(), byref(storage), byref(length))
    except OSError as exc:
        if exc.winerror != WSAEINVAL:  # WSAEINVAL: not bound yet
            raise
        sock.bind(("0.0.0.0", 0) if sock.family == AF_INET else ("::", 0))
