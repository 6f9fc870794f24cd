"""WSASendMsg and WSARecvMsg: datagrams with their control messages, as operations.

They are operations like every other (``winsock_ov.operations``): event,
routine or port, awaitable in ``winsock_ov.aio``, one core lifecycle.  Each
keeps a WSAMSG and everything it points at (the WSABUF array and the buffers
behind it, the control buffer, the address) until its completion is certain:
Windows reads them (send) or writes them (receive) at completion, not at the
call.

Results have the shape of CPython's Unix ``socket.recvmsg``:
``(data, ancdata, msg_flags, address)``, ``ancdata`` a list of
``(level, type, bytes)`` (``winsock_ov.cmsg`` builds and reads them).  A
datagram longer than the buffers is no error there: Windows ends the receive
with WSAEMSGSIZE (a warning status, its bytes delivered), and the result is
the part that fitted with MSG_TRUNC in ``msg_flags``, as on Unix.  A cut
datagram fills the buffers: a receive ending with WSAEMSGSIZE that filled
less was cut in its control data only (MSG_CTRUNC; Wine ends that one with
WSAEMSGSIZE too), and gets no MSG_TRUNC from us.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, addressof, byref, sizeof
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from . import _addresses, cmsg
from ._arrays import char_buffer
from ._checks import check_flags, check_length
from ._unchecked import WSASENDMSG
from .core import socket_call
from .errors import error_from_code
from .extensions import extension_function
from .operations import BufferOperation, Routine
from .raw import (
    CHAR,
    ERROR_MORE_DATA,
    LPFN_WSARECVMSG,
    LPSOCKADDR,
    LPWSABUF,
    MSG_BCAST,
    MSG_CTRUNC,
    MSG_MCAST,
    MSG_TRUNC,
    OVERLAPPED,
    SOCK_DGRAM,
    SOCK_RAW,
    WSAEMSGSIZE,
    WSAEOPNOTSUPP,
    WSAID_WSARECVMSG,
    WSAMSG,
)

if TYPE_CHECKING:
    from ._addresses import Address, AddressArg
    from ._buffers import Buffers
    from .cmsg import ControlMessage
    from .event import Event
    from .sockets import Socket

__all__ = ["RecvMsgOperation", "SendMsgOperation"]

_T_co = TypeVar("_T_co", covariant=True)  # what a receive's result() returns

# What WSARecvMsg reports in WSAMSG.dwFlags on output (MSDN); the input flags
# (MSG_PEEK, ...) share the field, and Wine leaves them there.
_OUTPUT_FLAGS = MSG_BCAST | MSG_CTRUNC | MSG_MCAST | MSG_TRUNC
# How a receive cut to its buffers ends: WSAEMSGSIZE (a routine's dwError), or
# STATUS_BUFFER_OVERFLOW read from the OVERLAPPED (ERROR_MORE_DATA).
_CUT = frozenset({WSAEMSGSIZE, ERROR_MORE_DATA})


def _message(wsabufs: Any, count: int) -> WSAMSG:
    """A WSAMSG over ``count`` WSABUFs (one WSABUF or an array of them)."""
    msg = WSAMSG()
    msg.lpBuffers = ctypes.cast(addressof(wsabufs), LPWSABUF)
    msg.dwBufferCount = count
    return msg


def _point_at(msg: WSAMSG, address: Any, length: int) -> None:
    msg.name = ctypes.cast(byref(address), LPSOCKADDR)
    msg.namelen = length


def _control(msg: WSAMSG, buffer: Any, length: int) -> None:
    # MSDN: Control.buf NULL needs Control.len 0 (else WSAEFAULT).
    msg.Control.len = length
    msg.Control.buf = ctypes.cast(buffer, POINTER(CHAR)) if length else None


class SendMsgOperation(BufferOperation[int]):
    """WSASendMsg: one datagram from one buffer or several (gather), with control
    messages (``ancdata``: IP_PKTINFO to choose the source address, IP_TOS, ...)
    and, for an unconnected socket, its destination.

    ``result()`` is the number of bytes sent.
    """

    __slots__ = ("_control_buffer", "_msg", "_send_flags", "_to")

    def __init__(self, sock: Socket, buffers: Buffers, ancdata: Any = (), flags: int = 0,
                 address: AddressArg | None = None, *, event: Event | None = None,
                 routine: Routine[Any] | None = None) -> None:
        super().__init__(sock, event=event, routine=routine)
        self._send_flags = check_flags(flags)
        control = cmsg.pack(ancdata)  # TypeError / ValueError before anything is pinned
        to = None if address is None else _addresses.to_sockaddr(sock.family, address)
        self._use_caller_buffers(buffers, writable=False)
        # Read by Windows until the send completes: owned by the operation until then.
        self._msg = msg = _message(self._wsabufs, self._count)
        self._control_buffer = ctypes.create_string_buffer(control, max(len(control), 1))
        _control(msg, self._control_buffer, len(control))
        self._to = None
        if to is not None:
            self._to = to[0]
            _point_at(msg, self._to, to[1])

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        return socket_call(WSASENDMSG, handle, byref(self._msg), self._send_flags, None,
                           byref(ov), routine)


class RecvMsgOperation(BufferOperation[_T_co]):
    """WSARecvMsg: one datagram, its control messages and its sender's address.

    ``result()`` is ``(data, ancdata, msg_flags, address)`` for
    ``Socket.recvmsg``, ``(nbytes, ancdata, msg_flags, address)`` for
    ``Socket.recvmsg_into``.  Windows offers WSARecvMsg on datagram and raw
    sockets only ("can only be used with datagrams and raw sockets", MSDN): any
    other socket is refused here, before anything starts, with OSError
    (``winerror`` WSAEOPNOTSUPP).
    """

    __slots__ = ("_ancdata", "_capacity", "_control_buffer", "_cut", "_from", "_msg",
                 "_msg_flags")

    def __init__(self, sock: Socket, nbytes: int | None = None, buffers: Buffers | None = None,
                 *, ancbufsize: int = 0, flags: int = 0, event: Event | None = None,
                 routine: Routine[Any] | None = None) -> None:
        super().__init__(sock, event=event, routine=routine)
        if sock.type not in (SOCK_DGRAM, SOCK_RAW):
            raise error_from_code(WSAEOPNOTSUPP)
        flags = check_flags(flags)
        ancbufsize = check_length("ancbufsize", ancbufsize)
        if buffers is None:
            self._capacity = check_length("bufsize", nbytes)
            self._use_own_buffer(self._capacity)
        else:
            self._use_caller_buffers(buffers, writable=True)
            self._capacity = self._pinned.total if self._pinned is not None else 0
        # Written by Windows until the receive completes: the message (Control.len,
        # namelen, dwFlags), the control buffer and the address.
        self._msg = msg = _message(self._wsabufs, self._count)
        self._control_buffer = char_buffer(max(ancbufsize, 1))
        _control(msg, self._control_buffer, ancbufsize)
        self._from, _ = _addresses.new_storage()
        _point_at(msg, self._from, sizeof(self._from))
        msg.dwFlags = flags
        self._cut = False
        self._ancdata: list[ControlMessage] = []
        self._msg_flags = 0

    def _call(self, handle: int, ov: OVERLAPPED, routine: object) -> int:
        try:
            wsa_recv_msg = extension_function(self.socket, WSAID_WSARECVMSG, LPFN_WSARECVMSG,
                                              "WSARecvMsg", socket_error=True)
        except OSError as exc:
            return exc.winerror or WSAEOPNOTSUPP
        return socket_call(wsa_recv_msg, handle, byref(self._msg), None, byref(ov), routine)

    def _completed(self, code: int, nbytes: int, flags: int | None) -> Callable[[], None]:
        if code in _CUT:  # the datagram or its control data was cut: flags, as on Unix
            self._cut, code = True, 0
        return super()._completed(code, nbytes, flags)

    def _take_data(self, nbytes: int) -> None:
        super()._take_data(nbytes)
        if self._error is None:
            self._ancdata = cmsg.messages(self._msg)
            reported = self._flags_out if self._flags_out is not None else self._query_flags()
            cut_data = self._cut and nbytes == self._capacity
            self._msg_flags = ((self._msg.dwFlags | reported) & _OUTPUT_FLAGS) | \
                (MSG_TRUNC if cut_data else 0)

    @property
    def ancdata(self) -> list[ControlMessage]:
        """The control messages received, as ``(level, type, bytes)``."""
        self._require_done()
        return self._ancdata

    @property
    def msg_flags(self) -> int:
        """MSG_TRUNC, MSG_CTRUNC, MSG_BCAST, MSG_MCAST: what Windows said of the datagram."""
        self._require_done()
        return self._msg_flags

    @property
    def peer(self) -> Address | None:
        """The sender's address, or None if Windows reported none."""
        return self._sender(self._from, self._msg.namelen)

    def _value(self) -> _T_co:
        # bytes (a buffer of its own: recvmsg) or the count (recvmsg_into), as its _T_co says.
        return (self._received(), self._ancdata, self._msg_flags,  # type: ignore[return-value]
                self.peer)
