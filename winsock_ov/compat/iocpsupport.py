"""A pure-ctypes ``twisted_iocpsupport.iocpsupport``: what Twisted's IOCP reactor runs on.

Since Twisted 24.7, ``twisted.internet.iocpreactor.iocpsupport`` only re-exports
``twisted_iocpsupport.iocpsupport``, a compiled (Cython) package of its own.
This module has its public names and behaviour (read from twisted-iocpsupport
25.10.1's ``iocpsupport.pyx`` and ``.pxi`` files, and from how Twisted's
``iocpreactor/reactor.py``, ``abstract.py``, ``tcp.py`` and ``udp.py`` call it),
built on winsock_ov's one core.  ``install()`` makes Twisted import it.

The names and their conventions (``SOCKET`` arguments are C ``long``, as in the
compiled module; a return code is 0 or a Windows error code, never raised):

* ``CompletionPort()``: a completion port.  ``addHandle(handle, key=0)`` ties a
  handle to it; ``getEvent(timeout)`` waits up to ``timeout`` ms (negative:
  as the DWORD it spells, -1 is INFINITE) for one packet and returns ``(rc,
  bytes, key, event)``: ``rc`` 0 or the I/O's error (WAIT_TIMEOUT, 258, when
  nothing came: then ``event`` is None), ``event`` the object the operation was
  started with (or posted), None for a packet posted with None.
  ``postEvent(bytes, key, event)`` queues a packet that ``getEvent`` returns.
  The keys are the caller's, passed through, but for ``core.OWN_KEY``: a
  packet carrying it is winsock_ov's own I/O on the port, ended inside
  ``getEvent`` and never returned (the key is refused as a caller's).
* ``Event(callback, owner, **attributes)``: a plain object carrying whatever
  the caller sets on it; the operations take one and ``getEvent`` hands it back.
* ``recv(s, buffers, event, flags=0)`` (WSARecv into a sequence of writable
  buffers) and ``send(s, buffer, event, flags=0)`` (WSASend of one buffer)
  return ``(rc, bytes)``: ``(0, n)`` finished within the call, ``(997, n)``
  started (ERROR_IO_PENDING), ``(error, 0)`` (``send``: ``(error, n)``) refused.
  A packet follows the first two, none the third.
* ``recvfrom(s, buffer, address_buffer, address_length_buffer, event, flags=0)``:
  WSARecvFrom; the length buffer must be ``sizeof(int)`` (4) bytes; it is set to
  the address buffer's size before the call, and Windows writes the sender's
  address and its length into them.  Returns as ``recv``.
* ``accept(listening, accepting, buffer, event)`` (AcceptEx, with half of the
  buffer for each address) and ``connect(s, address, event)`` (ConnectEx; the
  socket must be bound) return 0 once started, or the error.
  ``connect`` takes ``(host, port)`` or ``(host, port, flowinfo, scope_id)`` by
  the socket's family (numeric hosts only).
* ``get_accept_addrs(s, buffer)``: ``(family, local, remote)`` from a finished
  ``accept``'s buffer (GetAcceptExSockaddrs); ``makesockaddr(buffer)``: the
  ``(host, port)`` of a SOCKADDR in a buffer (None if it is empty);
  ``maxAddrLen(s)``: the largest address of the socket's protocol (16 for IPv4,
  28 for IPv6); ``have_connectex``: whether ConnectEx was found.
* Failures of the synchronous calls raise ``OSError(function name, code)``, as
  the compiled module does (``errno`` is the name, ``strerror`` the code), with
  ``winerror`` set to the code too.  Numbers out of their C type raise
  OverflowError, objects of the wrong type TypeError.

Every argument is converted and checked before anything is started.  From the
start of an operation until Windows is done with it (its packet dequeued by
``getEvent``; for a handle tied to no port, its end observed) winsock_ov's
registry holds everything the kernel may write: the OVERLAPPED, the exported
buffers, the address storage, the event.  The differences from the compiled
module that this brings, and the others, are in README's table.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib
import socket
import struct
import sys
import time
import types
import weakref
from ctypes import addressof, byref, c_char, sizeof
from typing import Any

from .. import raw as _raw
from .._arrays import char_buffer
from .._buffers import MAX_LENGTH, PinnedBuffers, one_wsabuf, wsabuf_in_place
from .._callbacks import raise_routine_errors
from .._interrupt import guard
from .._registry import registry
from .._unchecked import (
    POST_QUEUED_COMPLETION_STATUS,
    WSARECV,
    WSARECVFROM,
    WSASEND,
    get_queued_completion_status,
)
from ..core import OWN_KEY, OverlappedIO, Submitted, bool_call, socket_call
from ..extensions import extension_function
from ..notify import OBSERVED, PortBinding
from ..raw import (
    AF_INET,
    AF_INET6,
    DWORD,
    ERROR_INVALID_HANDLE,
    INT,
    INVALID_HANDLE_VALUE,
    LPFN_ACCEPTEX,
    LPFN_CONNECTEX,
    LPFN_GETACCEPTEXSOCKADDRS,
    LPSOCKADDR,
    SO_PROTOCOL_INFOW,
    SOCKADDR_IN,
    SOCKADDR_IN6,
    SOL_SOCKET,
    WSAID_ACCEPTEX,
    WSAID_CONNECTEX,
    WSAID_GETACCEPTEXSOCKADDRS,
    WSAPROTOCOL_INFOW,
    CloseHandle,
    WSAAddressToStringW,
    WSAStringToAddressW,
    getsockopt,
)

__all__ = [
    "CompletionPort", "Event", "accept", "connect", "get_accept_addrs", "have_connectex",
    "install", "makesockaddr", "maxAddrLen", "recv", "recvfrom", "send",
]

_POINTER_MASK = (1 << (8 * sizeof(ctypes.c_void_p))) - 1
_DWORD_MASK = 0xFFFFFFFF
_INT = struct.Struct("=i")
_ADDRESS_LENGTH = sizeof(ctypes.c_int)  # recvfrom's length buffer: sizeof(int)
_CREATE_IO_COMPLETION_PORT = _raw.unchecked(_raw.CreateIoCompletionPort)


# --- arguments, converted as the compiled module's C types convert them ------------------
# One difference, on purpose: floats and bools are refused (TypeError) where the
# compiled module truncates them (1.5 becomes 1): a truncated handle is another handle.


# Cython's messages, word for word: Twisted's tests read some of them.
_TOO_SMALL = {"long": "Python int too large to convert to C long",
              "unsigned long": "can't convert negative value to unsigned long",
              "size_t": "can't convert negative value to size_t",
              "unsigned short": "can't convert negative value to unsigned short"}
_TOO_LARGE = {"long": "Python int too large to convert to C long",
              "unsigned long": "Python int too large to convert to C unsigned long",
              "size_t": "int too big to convert",
              "unsigned short": "value too large to convert to unsigned short"}


def _integer(value: Any, low: int, high: int, c_type: str) -> int:
    if value.__class__ is int and low <= value <= high:  # the common case, first
        return value
    if isinstance(value, (bool, float)):
        raise TypeError(f"an integer is required, not {type(value).__name__} (a C {c_type} "
                        "here; the compiled module would truncate it)")
    if not isinstance(value, int):
        raise TypeError("an integer is required")
    if not low <= value <= high:
        raise OverflowError(_TOO_SMALL[c_type] if value < low else _TOO_LARGE[c_type])
    number: int = value  # an int by now (older mypy does not narrow Any)
    return number


_LONG_MAX = (1 << 31) - 1


def _c_long(value: Any) -> int:
    if value.__class__ is int and 0 <= value <= _LONG_MAX:  # the common case, first
        return value
    return _integer(value, -(1 << 31), _LONG_MAX, "long")


def _socket(value: Any) -> int:
    """A SOCKET passed as a C long: negative ones as the pointer they spell (-1 is
    INVALID_SOCKET)."""
    if value.__class__ is int and 0 <= value <= _LONG_MAX:  # the common case, first
        return value
    return _integer(value, -(1 << 31), _LONG_MAX, "long") & _POINTER_MASK


def _c_ulong(value: Any) -> int:
    if value.__class__ is int and 0 <= value <= _DWORD_MASK:  # the common case, first
        return value
    return _integer(value, 0, _DWORD_MASK, "unsigned long")


def _size_t(value: Any) -> int:
    return _integer(value, 0, _POINTER_MASK, "size_t")


def _unsigned_short(value: Any) -> int:
    return _integer(value, 0, 0xFFFF, "unsigned short")


def _callers_key(value: Any) -> int:
    """A completion key of the caller's: any ULONG_PTR but winsock_ov's own."""
    key = _size_t(value)
    if key == OWN_KEY:
        raise ValueError(f"completion key {OWN_KEY:#x} is winsock_ov's own (core.OWN_KEY): "
                         "getEvent never returns its packets")
    return key


def _windows_error(function: str, code: int) -> OSError:
    """The compiled module's ``WindowsError(function, code)``, ``winerror`` set too."""
    error = OSError(function, code)
    error.winerror = code  # writable, and absent off Windows
    return error


def _export(obj: Any, *, writable: bool) -> PinnedBuffers:
    """One bytes-like object exported (pinned) for the kernel; a non-contiguous one is
    a BufferError, as the buffer protocol says."""
    try:
        return PinnedBuffers([obj], writable=writable)
    except ValueError as exc:
        if isinstance(exc.__cause__, BufferError):
            raise BufferError(str(exc.__cause__)) from None
        raise


def _read_bytes(obj: Any) -> bytes:
    """A copy of a bytes-like object's contents (for reading a SOCKADDR out of it)."""
    with memoryview(obj) as view:
        if not view.c_contiguous:
            raise BufferError("a contiguous buffer is required")
        return view.tobytes()


class Event:
    """What an operation is started with and ``getEvent`` hands back: ``callback``,
    ``owner`` and any keyword given, as attributes."""

    def __init__(self, callback: Any, owner: Any, **kw: Any) -> None:
        self.callback = callback
        self.owner = owner
        for name, value in kw.items():
            setattr(self, name, value)


# --- the part that touches the core --------------------------------------------------------
# Every operation, a posted packet included, is a core.OverlappedIO whose owner,
# an ``_Operation``, holds the caller's Event and everything the kernel may
# write.  Its notifier is the port binding of its handle when
# ``CompletionPort.addHandle`` tied it (it ends when ``getEvent`` dequeues its
# packet), else the observed notifier (no packet will come: it ends when a reap
# sees Windows finished it).  A port's packets are told apart by their key
# (core.OWN_KEY: winsock_ov's own I/O, ended here; any other: Twisted's).


class _Operation:
    """One started I/O's Event and the memory the kernel may write, until it is done."""

    __slots__ = ("event", "kept", "pinned", "reported")

    def __init__(self, event: Any, pinned: PinnedBuffers | None, kept: Any) -> None:
        self.event = event
        self.pinned = pinned  # the caller's buffers, exported
        self.kept = kept  # our own memory the kernel writes (or a bytes object read in place)
        # The start call's error was returned to the caller, who then expects no
        # event: a packet that still comes (a truncated datagram) ends it silently.
        self.reported = False

    def finish(self, code: int, nbytes: int, flags: int | None) -> None:
        """The core's on_done: Windows is done, the exports end."""
        if self.pinned is not None:
            self.pinned.release()
        self.pinned = self.kept = None


class _Port:
    """The ``notify.Port`` of one CompletionPort: its handle (None once closed) and the
    binding its posted packets end through.  Not the CompletionPort itself, which
    must stay collectable while its bindings live."""

    __slots__ = ("__weakref__", "handle", "posts")

    def __init__(self, handle: int) -> None:
        self.handle: int | None = handle
        self.posts = PortBinding(self, handle, handle, 0)

    @property
    def closed(self) -> bool:
        return self.handle is None

    def hand_out(self, io: OverlappedIO, owner: object, key: int) -> None:
        raise AssertionError("handles are tied without skip-on-success: every I/O's packet "
                             "is queued")


# Handles tied by addHandle, with their binding.  Known by handle value: a socket
# that reuses a tied socket's value without being tied itself keeps the binding,
# and its operations wait for a packet that never comes (a leak, never an early free).
_bindings: dict[int, PortBinding] = {}


def _start(handle: int, call: Any, event: Any, pinned: PinnedBuffers | None = None,
           kept: Any = None, notifier: Any = None) -> int:
    """Start an I/O on the core, every argument checked by now; the start call's error
    (0, ERROR_IO_PENDING, or a refusal: then nothing is pending)."""
    operation = _Operation(event, pinned, kept)
    io = OverlappedIO(operation, operation.finish,
                      notifier or _bindings.get(handle, OBSERVED))
    how, code = io.submit(handle, call)
    # Finished within the call with a warning (WSAEMSGSIZE): the caller is told the
    # error, as for a refusal, but Windows still queues its packet (core.completion_follows).
    # (Another thread dequeuing the port during the call could hand that packet on
    # before this line; the IOCP reactor dequeues on the thread that starts its I/O.)
    if how is _WARNED:
        operation.reported = True
    return code


_WARNED = Submitted.WARNED


def _take(port: int, wait: int) -> tuple[int, int, int, Any]:
    """``getEvent``: one packet for the caller within ``wait`` ms, ending the I/O it
    carries.  Packets the caller is not to see (winsock_ov's own I/O; an I/O whose
    error the caller was told at its start) are taken on the way."""
    started = time.monotonic() if wait else 0.0
    while True:
        error, address, key, nbytes = get_queued_completion_status(port, wait)
        if not address:  # nothing came, or a packet posted with None
            return error, nbytes, key, None
        # No OVERLAPPED of this module's is ever handed out, so none can be
        # reused before its packet is dequeued: the address names the I/O.
        io = registry.claim(address)
        if key == OWN_KEY:  # winsock_ov's own I/O on this port: it acts through callbacks
            if io is not None:
                io.complete(error, nbytes, None)
            raise_routine_errors()
        elif io is None:  # posted by other code, naming nothing of this process
            return error, nbytes, key, None
        else:
            owner = io.complete(error, nbytes, None)
            if owner.__class__ is not _Operation:
                return error, nbytes, key, None
            if not owner.reported:
                return error, nbytes, key, owner.event
        if wait and wait != _DWORD_MASK:  # what is left of the wait, for the next packet
            now = time.monotonic()
            wait, started = max(0, wait - int((now - started) * 1000)), now


def _close_port(state: _Port) -> None:
    """Close the port; its handles' I/O then ends when observed finished.

    Once its only handle is closed no packet can be dequeued from the port
    again, so an I/O still pending on a handle tied to it can only be seen
    ending in its OVERLAPPED: the observed notifier's way.  Its packets posted
    and never dequeued were never written to by Windows: they end now.
    """
    handle, state.handle = state.handle, None
    if handle is None:
        return
    CloseHandle(handle)
    for tied, binding in list(_bindings.items()):
        if binding.port is state:
            del _bindings[tied]
    for io in registry.operations():
        if io.notifier is state.posts:
            if registry.claim(io.address) is io:
                io.complete(ERROR_INVALID_HANDLE, 0, None)
        elif io.ends_through(state):
            io.notifier = OBSERVED


_open_ports: weakref.WeakSet[_Port] = weakref.WeakSet()


@atexit.register
def _close_ports_at_exit() -> None:
    """Close the ports still open, before the registry's exit drain (registered
    earlier, so run later): the I/O pending on them ends when observed, not by
    packets no one will dequeue any more (which would cost the drain its whole time)."""
    for state in list(_open_ports):
        _close_port(state)


# --- the completion port ---------------------------------------------------------------------


class CompletionPort:
    """An I/O completion port (CreateIoCompletionPort), closed when collected."""

    __slots__ = ("__weakref__", "_state")

    def __init__(self) -> None:
        handle = _CREATE_IO_COMPLETION_PORT(INVALID_HANDLE_VALUE, None, 0, 0)
        if not handle:
            raise _windows_error("CreateIoCompletionPort", ctypes.get_last_error())
        self._state = _Port(int(handle))
        _open_ports.add(self._state)

    def addHandle(self, handle: int, key: int = 0) -> None:
        """Tie ``handle`` to this port: its operations' packets come with ``key``."""
        handle, key = _size_t(handle), _callers_key(key)
        port = self._handle()
        try:
            binding = PortBinding.tie(self._state, port, handle, key)
        except OSError as exc:
            raise _windows_error("CreateIoCompletionPort", exc.winerror or 0) from None
        _bindings[handle] = binding

    def getEvent(self, timeout: int) -> tuple[int, int, int, Any]:
        """Wait up to ``timeout`` ms for a packet: ``(rc, bytes, key, event)``."""
        wait = _c_long(timeout) & _DWORD_MASK
        port = self._state.handle
        if port is None:
            raise self._closed()
        if not wait:  # no wait for a Ctrl-C to come during (the reactor's busy loop)
            return _take(port, 0)
        # A Ctrl-C that comes during the wait is held back while the packet is taken
        # and its operation finished (winsock_ov._interrupt): its handler runs once
        # this returns, as it would after the compiled module's call.  The wait is
        # one call, not cut short, as there.
        with guard():
            return _take(port, wait)

    def postEvent(self, bytes: int, key: int, obj: Any) -> None:
        """Queue a packet that ``getEvent`` returns as ``(0, bytes, key, obj)``."""
        nbytes, key = _c_ulong(bytes), _callers_key(key)
        port = self._handle()
        if obj is None:
            if not POST_QUEUED_COMPLETION_STATUS(port, nbytes, key, None):
                raise _windows_error("PostQueuedCompletionStatus", ctypes.get_last_error())
            return

        def call(port: int, ov: Any, routine: Any) -> int:
            return bool_call(POST_QUEUED_COMPLETION_STATUS, port, nbytes, key, byref(ov))

        # A posted packet is an I/O of the port's own binding: it ends when dequeued.
        code = _start(port, call, obj, notifier=self._state.posts)
        if code:
            raise _windows_error("PostQueuedCompletionStatus", code)

    def _handle(self) -> int:
        handle = self._state.handle
        if handle is None:
            raise self._closed()
        return handle

    @staticmethod
    def _closed() -> OSError:
        """Only once the interpreter exits: the ports still open are closed then."""
        return _windows_error("CompletionPort", _raw.ERROR_INVALID_HANDLE)

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            _close_port(state)


# --- addresses -------------------------------------------------------------------------------


def maxAddrLen(s: int) -> int:
    """The largest address of the socket's protocol, in bytes (SO_PROTOCOL_INFO)."""
    return int(_protocol_info(_socket(s)).iMaxSockAddr)


def _protocol_info(handle: int) -> Any:
    info = WSAPROTOCOL_INFOW()
    size = INT(sizeof(info))
    try:
        getsockopt(handle, SOL_SOCKET, SO_PROTOCOL_INFOW, byref(info), byref(size))
    except OSError as exc:
        raise _windows_error("getsockopt", exc.winerror or 0) from None
    return info


def makesockaddr(buff: Any) -> tuple[str, int] | None:
    """``(host, port)`` of the SOCKADDR in ``buff``; None if ``buff`` is empty."""
    return _address_from_bytes(_read_bytes(buff))


def _address_from_bytes(data: bytes) -> tuple[str, int] | None:
    """The compiled module's ``_makesockaddr``: the host as WSAAddressToStringW writes
    it (an IPv6 scope as ``%scope``, no brackets, no flowinfo), the port apart.

    Refused where the compiled module would read past the buffer: a ValueError.
    """
    if not data:
        return None
    family = int.from_bytes(data[:2], sys.byteorder) if len(data) >= 2 else -1
    storage: Any
    if family == AF_INET:
        storage = SOCKADDR_IN()
    elif family == AF_INET6:
        storage = SOCKADDR_IN6()
    else:
        raise OSError(f"unsupported address family {family}", 0)
    if len(data) < sizeof(storage):
        raise ValueError(f"a SOCKADDR of family {family} takes {sizeof(storage)} bytes; "
                         f"the buffer holds {len(data)}")
    ctypes.memmove(byref(storage), data, sizeof(storage))
    if family == AF_INET:
        port, storage.sin_port = socket.ntohs(storage.sin_port), 0
    else:
        port, storage.sin6_port = socket.ntohs(storage.sin6_port), 0
    # With port 0 the text is the host alone ("1.2.3.4", "fe80::1%3"): where the
    # compiled module splits "host:port" and fails for port 0, this reads it apart.
    text = ctypes.create_unicode_buffer(256)
    length = DWORD(len(text) - 1)
    try:
        WSAAddressToStringW(byref(storage), sizeof(storage), None, text, byref(length))
    except OSError as exc:
        raise _windows_error("WSAAddressToStringW", exc.winerror or 0) from None
    return text.value, port


def get_accept_addrs(s: int, buff: Any) -> tuple[int, tuple[str, int] | None,
                                                  tuple[str, int] | None]:
    """``(remote family, local address, remote address)`` of a finished ``accept``'s
    buffer (GetAcceptExSockaddrs; half of the buffer for each address)."""
    _socket(s)  # converted as the compiled module does, and not used
    data = _read_bytes(buff)
    copy = char_buffer(max(len(data), 1))
    ctypes.memmove(copy, data, len(data))
    half = len(data) // 2
    local, remote = LPSOCKADDR(), LPSOCKADDR()
    local_length, remote_length = INT(), INT()
    _accept_functions()["GetAcceptExSockaddrs"](
        copy, 0, half, half, byref(local), byref(local_length), byref(remote),
        byref(remote_length))
    start = addressof(copy)
    parts = []
    for pointer, length in ((local, local_length.value), (remote, remote_length.value)):
        where = ctypes.cast(pointer, ctypes.c_void_p).value or 0
        # Windows reads the lengths out of the buffer: a buffer AcceptEx did not
        # fill may name memory outside it, which the compiled module reads.
        if length < 0 or where < start or where + max(length, 2) > start + len(data):
            raise ValueError("the buffer holds no addresses written by accept()")
        parts.append(data[where - start:where - start + length])
    family = int.from_bytes(parts[1][:2], sys.byteorder)
    return family, _address_from_bytes(parts[0]), _address_from_bytes(parts[1])


def _socket_address(family: int, address: Any) -> tuple[Any, int]:
    """The compiled module's fillinetaddr / fillinet6addr: a numeric host parsed by
    WSAStringToAddressW (at most 255 characters, up to a NUL; an IPv6 one less any
    ``%scope``), then the port (and flowinfo, scope id) set."""
    storage: Any
    if family == AF_INET:
        host, port = address
        port = _unsigned_short(port)
        storage = SOCKADDR_IN()
    elif family == AF_INET6:
        host, port, flowinfo, scope_id = address
        port = _unsigned_short(port)
        host = host.split("%")[0]
        storage = SOCKADDR_IN6()
    else:
        raise ValueError("unsupported address family")
    kind = "IPv6 address" if family == AF_INET6 else "IP address"
    if not isinstance(host, str):
        raise ValueError(f"invalid {kind} {host!r}")
    length = INT(sizeof(storage))
    try:
        WSAStringToAddressW(host.split("\0")[0][:255], family, None, byref(storage),
                            byref(length))
    except OSError:
        raise ValueError(f"invalid {kind} {host!r}") from None
    if family == AF_INET:
        storage.sin_port = socket.htons(port)
    else:
        storage.sin6_port = socket.htons(port)
        storage.sin6_flowinfo = socket.htonl(_c_ulong(flowinfo))
        storage.sin6_scope_id = _c_ulong(scope_id)
    return storage, sizeof(storage)


# --- the extension functions, fetched once as the compiled module does at import -------------

_extensions: dict[str, Any] = {}


def _accept_functions() -> dict[str, Any]:
    """AcceptEx, GetAcceptExSockaddrs and ConnectEx, of an IPv4 TCP socket's provider."""
    if not _extensions:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            for name, guid, prototype in (
                    ("AcceptEx", WSAID_ACCEPTEX, LPFN_ACCEPTEX),
                    ("GetAcceptExSockaddrs", WSAID_GETACCEPTEXSOCKADDRS,
                     LPFN_GETACCEPTEXSOCKADDRS),
                    ("ConnectEx", WSAID_CONNECTEX, LPFN_CONNECTEX)):
                _extensions[name] = extension_function(probe, guid, prototype, name)
    return _extensions


def _connectex_found() -> bool:
    try:
        return _accept_functions()["ConnectEx"] is not None
    except OSError:
        return False


have_connectex = sys.platform == "win32" and _connectex_found()


# --- the operations ------------------------------------------------------------------------


def recv(s: int, bufflist: Any, obj: Any, flags: int = 0) -> tuple[int, int]:
    """WSARecv into the writable buffers of ``bufflist``: ``(rc, bytes)``."""
    handle, flags = _socket(s), _c_ulong(flags)
    pinned: PinnedBuffers | None = None
    exported = _one_bytearray(bufflist)
    if exported is not None:  # what the IOCP reactor passes: one bytearray
        wsabufs, count = one_wsabuf(addressof(exported), len(bufflist[0])), 1
    else:
        try:
            buffers = list(bufflist)
        except TypeError:
            raise TypeError("second argument needs to be a list") from None
        pinned = PinnedBuffers(buffers, writable=True) if buffers else None
        # No buffer at all is a receive that ends when data comes, taking none.
        wsabufs, count = (pinned.wsabufs, pinned.count) if pinned else (one_wsabuf(0, 0), 0)
    received, in_out_flags = DWORD(), DWORD(flags)

    def call(handle: int, ov: Any, routine: Any) -> int:
        return socket_call(WSARECV, handle, byref(wsabufs), count, byref(received),
                           byref(in_out_flags), byref(ov), None)

    rc = _start(handle, call, obj, pinned, (exported, wsabufs, in_out_flags))
    return (rc, received.value) if rc in (0, _raw.ERROR_IO_PENDING) else (rc, 0)


def _one_bytearray(bufflist: Any) -> Any:
    """For a list holding one non-empty bytearray (the IOCP reactor's receives), a
    ctypes object made on it with ``from_buffer``: it holds an export of the
    bytearray (which can then not be resized) until it is dropped, and its address
    is the bytearray's.  One call where ``PinnedBuffers`` makes several.  None for
    anything else."""
    if bufflist.__class__ is list and len(bufflist) == 1:
        buffer = bufflist[0]
        if buffer.__class__ is bytearray and 0 < len(buffer) <= MAX_LENGTH:
            return c_char.from_buffer(buffer)
    return None


def recvfrom(s: int, buff: Any, addr_buff: Any, addr_len_buff: Any, obj: Any,
             flags: int = 0) -> tuple[int, int]:
    """WSARecvFrom into ``buff``, the sender into ``addr_buff`` and its length into
    ``addr_len_buff`` (4 bytes): ``(rc, bytes)``."""
    handle, flags = _socket(s), _c_ulong(flags)
    pinned = PinnedBuffers([buff, addr_buff, addr_len_buff], writable=True)
    (data, size), (address, address_size), (length, length_size) = pinned.spans
    if length_size != _ADDRESS_LENGTH:
        pinned.release()
        raise ValueError("length of address length buffer needs to be sizeof(int)")
    # The kernel writes the sender's length here, as an int: the address buffer's size in.
    _INT.pack_into((ctypes.c_char * _ADDRESS_LENGTH).from_address(length), 0,
                   min(address_size, (1 << 31) - 1))
    wsabuf = one_wsabuf(data, size)
    received, in_out_flags = DWORD(), DWORD(flags)

    def call(handle: int, ov: Any, routine: Any) -> int:
        return socket_call(WSARECVFROM, handle, byref(wsabuf), 1, byref(received),
                           byref(in_out_flags), address, length, byref(ov), None)

    rc = _start(handle, call, obj, pinned, (wsabuf, in_out_flags))
    return (rc, received.value) if rc in (0, _raw.ERROR_IO_PENDING) else (rc, 0)


def send(s: int, buff: Any, obj: Any, flags: int = 0) -> tuple[int, int]:
    """WSASend of one bytes-like object: ``(rc, bytes)``."""
    handle, flags = _socket(s), _c_ulong(flags)
    pinned: PinnedBuffers | None = None
    kept = buff  # a bytes object is sent where it lies: held, not exported
    wsabuf = wsabuf_in_place(buff)
    if wsabuf is None:
        pinned = _export(buff, writable=False)
        wsabuf, kept = pinned.wsabufs, None
    sent = DWORD()

    def call(handle: int, ov: Any, routine: Any) -> int:
        return socket_call(WSASEND, handle, byref(wsabuf), 1, byref(sent), flags, byref(ov),
                           None)

    rc = _start(handle, call, obj, pinned, (kept, wsabuf))
    return rc, sent.value


def accept(listening: int, accepting: int, buff: Any, obj: Any) -> int:
    """AcceptEx into ``buff`` (half of it for each address): 0 once started, or the error."""
    listener, accepted = _socket(listening), _socket(accepting)
    pinned = _export(buff, writable=True)
    address, size = pinned.spans[0]
    half = size // 2
    accept_ex = _accept_functions()["AcceptEx"]

    def call(handle: int, ov: Any, routine: Any) -> int:
        return bool_call(accept_ex, handle, accepted, address, 0, half, half, byref(DWORD()),
                         byref(ov))

    rc = _start(listener, call, obj, pinned)
    return 0 if rc == _raw.ERROR_IO_PENDING else rc


def connect(s: int, addr: Any, obj: Any) -> int:
    """ConnectEx to ``addr`` (the socket must be bound): 0 once started, or the error."""
    handle = _socket(s)
    if not have_connectex:
        raise ValueError("ConnectEx is not available on this system")
    family = int(_protocol_info(handle).iAddressFamily)
    name, length = _socket_address(family, addr)
    connect_ex = _accept_functions()["ConnectEx"]

    def call(handle: int, ov: Any, routine: Any) -> int:
        return bool_call(connect_ex, handle, byref(name), length, None, 0, None, byref(ov))

    rc = _start(handle, call, obj, None, name)
    return 0 if rc == _raw.ERROR_IO_PENDING else rc


# --- installing ----------------------------------------------------------------------------

COMPILED = "twisted_iocpsupport.iocpsupport"
TWISTED_SHIM = "twisted.internet.iocpreactor.iocpsupport"


def install(*, prefer_compiled: bool = False) -> types.ModuleType:
    """Make Twisted's IOCP reactor (``twisted.internet.iocpreactor``) import this module
    as ``twisted_iocpsupport.iocpsupport``; returns the module it will use.

    With ``prefer_compiled``, the compiled package is used when it can be imported,
    and this module only when it cannot.  Call it before the reactor module is
    imported (RuntimeError otherwise).  Only ``twisted_iocpsupport`` is replaced:
    the reactor module still needs pywin32 to import.
    """
    this = sys.modules[__name__]
    if prefer_compiled and sys.modules.get(COMPILED) is not this:
        try:
            return importlib.import_module(COMPILED)
        except ImportError:
            pass
    shim = sys.modules.get(TWISTED_SHIM)
    if shim is not None and getattr(shim, "CompletionPort", None) is not CompletionPort:
        raise RuntimeError(f"{TWISTED_SHIM} is already imported with another "
                           "twisted_iocpsupport; call install() before importing "
                           "twisted.internet.iocpreactor")
    try:
        package = importlib.import_module("twisted_iocpsupport")
    except ImportError:  # not installed: a package of ours stands in
        package = types.ModuleType("twisted_iocpsupport",
                                   "winsock_ov.compat.iocpsupport, standing in")
        package.__path__ = []
        sys.modules["twisted_iocpsupport"] = package
    setattr(package, "iocpsupport", this)  # noqa: B010  (unknown to type checkers)
    sys.modules[COMPILED] = this
    return this
