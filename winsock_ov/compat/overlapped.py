"""A pure-ctypes ``_overlapped``: what asyncio's ProactorEventLoop runs on.

The same public names and behaviour as CPython's private C module
``_overlapped`` (3.9 to 3.13): completion-port functions, registered waits,
events, and the ``Overlapped`` type with its operations (ReadFile, WSARecv,
AcceptEx, ConnectEx, TransmitFile, ...), ``getresult()``, ``cancel()`` and the
``address``, ``error``, ``event`` and ``pending`` attributes.

One difference, on purpose: CPython's module frees an Overlapped whose I/O is
still pending when its last reference goes (it tries CancelIoEx, then warns
"still has pending operation at deallocation" and frees memory the kernel may
still write).  Here every started Overlapped is held by winsock_ov's registry
until Windows is done with it: until its packet is dequeued by
``GetQueuedCompletionStatus`` when its handle is tied to a completion port, or
until its completion is observed otherwise.  Also, receive operations refuse
read-only buffers (the C module would write into a ``bytes`` object), and
numbers that do not fit their C type are refused on every version, as CPython
3.12 and 3.13 refuse them (earlier versions silently truncate them).

``install()`` makes ``import _overlapped`` return this module; call it before
``asyncio`` loads its Windows event loop.
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import operator
import socket
import sys
import threading
from ctypes import addressof, byref, sizeof
from typing import Any

from .. import _addresses
from .. import raw as _raw
from .._arrays import array_type, char_buffer
from .._buffers import PinnedBuffers, one_wsabuf, wsabuf_in_place
from .._callbacks import raise_routine_errors
from .._checks import DWORD_MAX, HANDLE_MIN, ULONG_PTR_MAX, check_int
from .._registry import registry
from .._unchecked import (
    GET_OVERLAPPED_RESULT,
    GET_QUEUED_COMPLETION_STATUS_EX,
    WSARECV,
    WSARECVFROM,
    WSASEND,
    WSASENDTO,
    get_queued_completion_status,
    unpack_entries,
)
from ..core import OWN_KEY, OverlappedIO, State, Submitted, bool_call, socket_call, status_code
from ..extensions import extension_function
from ..iocp import skip_on_success_supported
from ..notify import OBSERVED, PortBinding
from ..raw import (
    AF_INET,
    AF_INET6,
    DWORD,
    ERROR_BROKEN_PIPE,
    ERROR_CONNECTION_ABORTED,
    ERROR_CONNECTION_REFUSED,
    ERROR_IO_INCOMPLETE,
    ERROR_IO_PENDING,
    ERROR_MORE_DATA,
    ERROR_NETNAME_DELETED,
    ERROR_OPERATION_ABORTED,
    ERROR_PIPE_BUSY,
    ERROR_PIPE_CONNECTED,
    ERROR_PORT_UNREACHABLE,
    ERROR_SEM_TIMEOUT,
    ERROR_SUCCESS,
    FILE_FLAG_OVERLAPPED,
    FILE_SKIP_COMPLETION_PORT_ON_SUCCESS,
    FORMAT_MESSAGE_FROM_SYSTEM,
    FORMAT_MESSAGE_IGNORE_INSERTS,
    GENERIC_READ,
    GENERIC_WRITE,
    HANDLE,
    INFINITE,
    INT,
    LANG_NEUTRAL,
    LPFN_ACCEPTEX,
    LPFN_CONNECTEX,
    LPFN_DISCONNECTEX,
    LPFN_TRANSMITFILE,
    LPOVERLAPPED,
    OPEN_EXISTING,
    OVERLAPPED_ENTRY,
    SO_UPDATE_ACCEPT_CONTEXT,
    SO_UPDATE_CONNECT_CONTEXT,
    SOCKADDR_IN,
    SOCKADDR_IN6,
    SUBLANG_DEFAULT,
    TF_REUSE_SOCKET,
    ULONG,
    WAIT_TIMEOUT,
    WAITORTIMERCALLBACK,
    WSAID_ACCEPTEX,
    WSAID_CONNECTEX,
    WSAID_DISCONNECTEX,
    WSAID_TRANSMITFILE,
    WT_EXECUTEINWAITTHREAD,
    WT_EXECUTEONLYONCE,
    CloseHandle,
    ConnectNamedPipe,
    CreateEventW,
    CreateFileW,
    FormatMessageW,
    ReadFile,
    RegisterWaitForSingleObject,
    WriteFile,
    WSAStringToAddressW,
    bind,
    winerror_exception,
)
from ..sockets import socket_type

INVALID_HANDLE_VALUE = ULONG_PTR_MAX  # as the C module exports it: (HANDLE)-1
NULL = 0

__all__ = [
    "ERROR_IO_PENDING", "ERROR_NETNAME_DELETED", "ERROR_OPERATION_ABORTED", "ERROR_PIPE_BUSY",
    "ERROR_PORT_UNREACHABLE", "ERROR_SEM_TIMEOUT", "INFINITE", "INVALID_HANDLE_VALUE", "NULL",
    "SO_UPDATE_ACCEPT_CONTEXT", "SO_UPDATE_CONNECT_CONTEXT", "TF_REUSE_SOCKET",
    "BatchedGetQueuedCompletionStatus", "BindLocal", "ConnectPipe", "CreateEvent",
    "CreateIoCompletionPort", "FormatMessage",
    "GetQueuedCompletionStatus", "Overlapped", "PostQueuedCompletionStatus",
    "RegisterWaitWithQueue", "ResetEvent", "SetEvent", "UnregisterWait", "UnregisterWaitEx",
    "WSAConnect", "install",
]

# Operation kinds, as the C module names them.
(TYPE_NONE, TYPE_NOT_STARTED, TYPE_READ, TYPE_READINTO, TYPE_WRITE, TYPE_ACCEPT, TYPE_CONNECT,
 TYPE_DISCONNECT, TYPE_CONNECT_NAMED_PIPE, TYPE_WAIT_NAMED_PIPE_AND_CONNECT, TYPE_TRANSMIT_FILE,
 TYPE_READ_FROM, TYPE_WRITE_TO, TYPE_READ_FROM_INTO) = range(14)



# --- arguments and errors ------------------------------------------------------------------


def _handle(value: Any) -> int:
    """A HANDLE (or ULONG_PTR) argument: an int of pointer width, negative ones as the
    pointer they spell (-1 is INVALID_HANDLE_VALUE)."""
    if value.__class__ is int and 0 <= value <= INVALID_HANDLE_VALUE:  # the common case
        return value
    return check_int("handle", value, HANDLE_MIN, ULONG_PTR_MAX, too_low=OverflowError,
                     too_high=OverflowError) & INVALID_HANDLE_VALUE


def _dword(value: Any) -> int:
    """A DWORD argument (negative: ValueError; too large: OverflowError, as in C)."""
    if value.__class__ is int and 0 <= value <= DWORD_MAX:  # the common case
        return value
    return check_int("value", value, 0, DWORD_MAX, too_high=OverflowError)


def _c_int(value: Any) -> int:
    """An int (or BOOL) argument: True and False count as 1 and 0, and any object
    with ``__index__`` counts as its index (the C module's ``i`` conversion)."""
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"an integer is required, not {type(value).__name__}") from None
    if not -(1 << 31) <= number < (1 << 31):
        raise OverflowError(f"{number} does not fit in a C int")
    return number


def _text(value: Any, name: str, *, optional: bool = False) -> str | None:
    """A str argument for a wide-string parameter, which ends at its first NUL."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        kinds = "str or None" if optional else "str"
        raise TypeError(f"{name} must be {kinds}, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError("embedded null character")
    return value


def FormatMessage(error_code: int, /) -> str:
    """The system's message for a Windows error code."""
    code = _dword(error_code)
    text = ctypes.create_unicode_buffer(1024)
    length = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, None,
                            code, (SUBLANG_DEFAULT << 10) | LANG_NEUTRAL, text, len(text), None)
    if not length:
        return f"unknown error code {code}"
    return text.value[:length].rstrip()


# The C module's SetFromWindowsErr gives these two codes their subclass; CPython
# maps the rest from winerror.
_C_MODULE_CLASSES: dict[int, type[OSError]] = {
    ERROR_CONNECTION_REFUSED: ConnectionRefusedError,
    ERROR_CONNECTION_ABORTED: ConnectionAbortedError,
}


def _error(code: int) -> OSError:
    """The exception the C module raises for ``code`` (0: the thread's last error)."""
    if code == 0:
        code = ctypes.get_last_error()
    return winerror_exception(code, FormatMessage(code), _C_MODULE_CLASSES)


def _call(function: Any, *args: Any) -> Any:
    """A raw call, with its failure raised the way the C module raises it."""
    try:
        return function(*args)
    except OSError as exc:
        raise _error(exc.winerror or 0) from None


# --- completion ports ------------------------------------------------------------------------

# Handles tied to a completion port by this module, with their binding: their
# operations end only when their packet is dequeued, whatever getresult() saw
# before.  Known by handle value: see the README's differences.
_bindings: dict[int, PortBinding] = {}


class _CallersPort:
    """The ``notify.Port`` of a port this module ties handles to without a batch
    (its own CreateIoCompletionPort): the caller's, which dequeues every packet
    itself.  Such ties keep every packet (no skip-on-success), so the core never
    hands anything out here."""

    __slots__ = ()
    closed = False  # the caller closes it; the C module's rules refuse nothing here

    def hand_out(self, io: OverlappedIO, owner: object, key: int) -> None:
        raise AssertionError("a handle tied without a batch keeps every packet")


_CALLERS_PORT = _CallersPort()


def CreateIoCompletionPort(handle: int, port: int, key: int, concurrency: int, /) -> int:
    """Create a completion port or register a handle with a port."""
    return _create_io_completion_port(handle, port, key, concurrency, None)


def _create_io_completion_port(handle: int, port: int, key: int, concurrency: int,
                               batches: BatchedGetQueuedCompletionStatus | None) -> int:
    """CreateIoCompletionPort; with ``batches``, a socket tied to the port skips the
    packet of an I/O that finishes within its call, and the port's batch makes
    that packet instead (the caller still sees one per I/O)."""
    file_handle, port_handle = _handle(handle), _handle(port)
    key, concurrency = _handle(key), _dword(concurrency)
    result = _call(_raw.CreateIoCompletionPort, file_handle, port_handle or None, key, concurrency)
    if file_handle == INVALID_HANDLE_VALUE:
        if batches is not None:  # a new port: nothing of a closed one's at its handle value
            batches.start(int(result))
    else:
        if batches is not None and _is_socket(file_handle) and skip_on_success_supported():
            _raw.SetFileCompletionNotificationModes(file_handle,
                                                    FILE_SKIP_COMPLETION_PORT_ON_SUCCESS)
            binding = PortBinding(batches.batch(port_handle), port_handle, file_handle, key,
                                  skip_on_success=True)
        else:
            binding = PortBinding(_CALLERS_PORT, port_handle, file_handle, key)
        _bindings[file_handle] = binding
    return int(result)


def _is_socket(handle: int) -> bool:
    try:
        socket_type(handle)
    except OSError:
        return False
    return True


def GetQueuedCompletionStatus(port: int, msecs: int, /) -> tuple[int, int, int, int] | None:
    """Get a message from completion port: (error, transferred, key, address) or None."""
    return _message(*get_queued_completion_status(_handle(port), _dword(msecs)))


class PacketBatch:
    """``get_queued_completion_status`` for a port one thread dequeues, one packet
    per call, taken from Windows up to ``max_entries`` at a time
    (GetQueuedCompletionStatusEx): one system call per batch instead of one per
    packet, plus the one that finds the queue empty.

    That last call is saved too: right after handing out a batch that did not
    fill the array (the queue was empty then), a call with a 0 ms timeout
    answers WAIT_TIMEOUT without asking Windows, once; a packet queued meanwhile
    comes with the next call.  Not for a port several threads dequeue: a packet
    taken by one thread's batch waits for that thread.

    It is the ``notify.Port`` of the sockets tied to its port with
    skip-on-success: for an I/O that finished within its call, Windows queues no
    packet and ``hand_out`` makes it here, so the next call returns it.
    """

    __slots__ = ("_drained", "_entries", "_max", "_pending", "_removed", "made_packets", "port")
    closed = False  # its port's caller closes it, then forgets this batch

    def __init__(self, port: int, max_entries: int = 64) -> None:
        self.port = port
        self._max = max_entries
        self._entries = array_type(OVERLAPPED_ENTRY, max_entries)()
        self._removed = ULONG()
        self._pending: collections.deque[tuple[int, int, int, int]] = collections.deque()
        self._drained = False
        self.made_packets = 0  # how many ``hand_out`` made

    def hand_out(self, io: OverlappedIO, owner: object, key: int) -> None:
        ov = io.overlapped
        self.made_packets += 1
        self._pending.append((status_code(ov.Internal), io.address, key, ov.InternalHigh))

    def next(self, milliseconds: int) -> tuple[int, int, int, int]:
        """As ``get_queued_completion_status``: ``(error, overlapped address, key, bytes)``."""
        pending = self._pending
        if pending:
            return pending.popleft()
        if milliseconds == 0 and self._drained:
            self._drained = False
            return WAIT_TIMEOUT, 0, 0, 0
        if not GET_QUEUED_COMPLETION_STATUS_EX(self.port, self._entries, self._max,
                                               byref(self._removed), milliseconds, False):
            self._drained = False
            return ctypes.get_last_error(), 0, 0, 0
        removed = self._removed.value
        self._drained = removed < self._max
        for key, address, internal, nbytes in unpack_entries(self._entries, removed):
            pending.append((status_code(internal) if address else ERROR_SUCCESS, address, key,
                            nbytes))
        return pending.popleft()


class BatchedGetQueuedCompletionStatus:
    """A GetQueuedCompletionStatus (same arguments and answers) for ports that one
    thread each dequeues, taking their packets from Windows in batches
    (``PacketBatch``), and its CreateIoCompletionPort, which ties sockets with
    skip-on-success (the packets Windows then skips are made in the batch):
    winsock_ov.aio's loop uses one.  ``forget(port, batch)`` once the port is
    closed."""

    def __init__(self) -> None:
        self._batches: dict[int, PacketBatch] = {}

    def batch(self, port: int) -> PacketBatch:
        batch = self._batches.get(port)
        if batch is None:
            batch = self._batches[port] = PacketBatch(port)
        return batch

    def start(self, port: int) -> None:
        """A port was just created at ``port``: a fresh batch for it."""
        self._batches[port] = PacketBatch(port)

    def __call__(self, port: int, msecs: int, /) -> tuple[int, int, int, int] | None:
        port, msecs = _handle(port), _dword(msecs)
        return _message(*self.batch(port).next(msecs))

    def CreateIoCompletionPort(self, handle: int, port: int, key: int,
                               concurrency: int, /) -> int:
        """As the module's, skipping the packets of I/O finished within its call."""
        return _create_io_completion_port(handle, port, key, concurrency, self)

    def forget(self, port: int, batch: PacketBatch) -> None:
        """The port ``batch`` served is closed.  (Only that batch is dropped: a port
        created meanwhile at the same handle value has its own.)"""
        if self._batches.get(port) is batch:
            del self._batches[port]


def _message(error: int, address: int, key: int,
             transferred: int) -> tuple[int, int, int, int] | None:
    """What GetQueuedCompletionStatus answers for one dequeued packet (or failure).

    By its key: ``OWN_KEY`` is winsock_ov's own I/O on the caller's port (in
    winsock_ov.aio's loop, a socket poll's request or an object-layer operation
    awaited there); it ends here and acts through its done callbacks.  Nothing
    of the caller's came: it is answered as a timeout, so the caller runs them
    now.  Any other key is the caller's, passed through as the C module does.
    """
    if key == OWN_KEY and address:
        io = registry.claim(address)
        if io is not None:
            io.complete_with_status()
        raise_routine_errors()
        return None
    if not address:  # as the C module: a packet without OVERLAPPED is an error too
        if error == WAIT_TIMEOUT:
            return None
        raise _error(error)
    # A packet ends the Overlapped at its address, unless that one is still pending:
    # then the packet is a stale one, of an earlier operation at the same address.
    io = registry.get(address)
    if io is not None and io.finished_by_os() and registry.claim(address) is io:
        io.complete_with_status()  # its packet is out: Windows is done with it
    return error, transferred, key, address


def PostQueuedCompletionStatus(port: int, bytes: int, key: int, address: int, /) -> None:
    """Post a message to completion port."""
    _call(_raw.PostQueuedCompletionStatus, _handle(port), _dword(bytes), _handle(key),
          ctypes.cast(_handle(address), LPOVERLAPPED))


# --- registered waits ----------------------------------------------------------------------
# Windows runs the callback on a thread-pool thread; it posts (port, overlapped)
# to the port, as the C module's PostToQueueCallback does.  One callback object
# for the process, never freed; each wait's target is kept until it fired or
# was unregistered.

_wait_targets: dict[int, tuple[int, int]] = {}
_wait_handles: dict[int, int] = {}  # wait handle -> context key
_wait_lock = threading.Lock()
_wait_counter = 0


def _post_to_queue(context: int | None, timer_or_wait_fired: int) -> None:
    with _wait_lock:
        target = _wait_targets.pop(context or 0, None)
    if target is not None:
        port, overlapped = target
        try:  # ignore a failure, as the C module does
            _raw.PostQueuedCompletionStatus(port, timer_or_wait_fired, 0,
                                            ctypes.cast(overlapped, LPOVERLAPPED))
        except OSError:
            pass


_POST_TO_QUEUE = WAITORTIMERCALLBACK(_post_to_queue)
registry.leak(_POST_TO_QUEUE)  # Windows may call it until the process ends


def RegisterWaitWithQueue(Object: int, CompletionPort: int, Overlapped: int,
                          Timeout: int, /) -> int:
    """Register wait for Object; when complete CompletionPort is notified."""
    global _wait_counter
    handle, timeout = _handle(Object), _dword(Timeout)
    target = (_handle(CompletionPort), _handle(Overlapped))
    with _wait_lock:
        _wait_counter += 1
        context = _wait_counter
        _wait_targets[context] = target
    wait = HANDLE()
    try:
        _call(RegisterWaitForSingleObject, byref(wait), handle, _POST_TO_QUEUE, context, timeout,
              WT_EXECUTEINWAITTHREAD | WT_EXECUTEONLYONCE)
    except BaseException:
        with _wait_lock:
            _wait_targets.pop(context, None)
        raise
    handle = int(wait.value or 0)
    with _wait_lock:
        _wait_handles[handle] = context
    return handle


def _unregistered(wait_handle: int, callback_running: bool) -> None:
    """Forget a wait; a callback already running still needs its target, and drops it."""
    with _wait_lock:
        context = _wait_handles.pop(wait_handle, None)
        if context is not None and not callback_running:
            _wait_targets.pop(context, None)


def UnregisterWait(WaitHandle: int, /) -> None:
    """Unregister wait handle (OSError ERROR_IO_PENDING if its callback is running)."""
    _unregister(_handle(WaitHandle), None)


def UnregisterWaitEx(WaitHandle: int, Event: int, /) -> None:
    """Unregister wait handle; with INVALID_HANDLE_VALUE, after its callback returned."""
    _unregister(_handle(WaitHandle), _handle(Event) or None)


def _unregister(handle: int, event: int | None) -> None:
    done = _call(_raw.UnregisterWait, handle) if event is None else \
        _call(_raw.UnregisterWaitEx, handle, event)
    _unregistered(handle, callback_running=not done)
    if not done:
        raise _error(ERROR_IO_PENDING)


@atexit.register
def _unregister_waits_at_exit() -> None:
    """No callback may run Python once the interpreter is gone: wait for them."""
    for handle in list(_wait_handles):
        try:
            _raw.UnregisterWaitEx(handle, INVALID_HANDLE_VALUE)
        except OSError:
            pass
        _unregistered(handle, callback_running=False)


# --- events, binding, pipes, UDP connect -------------------------------------------------------


def CreateEvent(EventAttributes: Any, ManualReset: bool, InitialState: bool,
                Name: str | None, /) -> int:
    """Create an event.  EventAttributes must be None."""
    manual, initial = _c_int(ManualReset), _c_int(InitialState)
    name = _text(Name, "Name", optional=True)
    if EventAttributes is not None:
        raise ValueError("EventAttributes must be None")
    return int(_call(CreateEventW, None, bool(manual), bool(initial), name))


def SetEvent(Handle: int, /) -> None:
    _call(_raw.SetEvent, _handle(Handle))


def ResetEvent(Handle: int, /) -> None:
    _call(_raw.ResetEvent, _handle(Handle))


def BindLocal(handle: int, family: int, /) -> None:
    """Bind a socket handle to an arbitrary local port (AF_INET or AF_INET6)."""
    handle, family = _handle(handle), _c_int(family)
    address: Any
    if family == AF_INET:
        address = SOCKADDR_IN()  # zeroed: INADDR_ANY, port 0
        address.sin_family = AF_INET
    elif family == AF_INET6:
        address = SOCKADDR_IN6()  # zeroed: in6addr_any, port 0
        address.sin6_family = AF_INET6
    else:
        raise ValueError("Only AF_INET and AF_INET6 families are supported")
    _call(bind, handle, byref(address), sizeof(address))


def ConnectPipe(addr: str, /) -> int:
    """Connect to the pipe for asynchronous I/O (overlapped)."""
    path = _text(addr, "addr")
    return int(_call(CreateFileW, path, GENERIC_READ | GENERIC_WRITE, 0, None, OPEN_EXISTING,
                     FILE_FLAG_OVERLAPPED, None))


def _parse_address(address: Any) -> tuple[Any, int]:
    """The C module's parse_address: ``(host, port)`` for IPv4 or ``(host, port,
    flowinfo, scope_id)`` for IPv6, the host parsed by WSAStringToAddressW (which
    takes numeric spellings only, loosely: "127.1", "0x7f.0.0.1", "1.2.3.4:80"),
    the port set afterwards."""
    if not isinstance(address, tuple):
        raise TypeError(f"address_as_bytes must be a tuple, not {type(address).__name__}")
    size = len(address)
    host = address[0] if size else None
    if sys.version_info < (3, 10) and (size not in (2, 4) or (
            size == 2 and isinstance(host, str) and "\0" in host)):
        # 3.9 tries (host, port), then the 4-tuple, and raises the second failure.
        raise TypeError(f"function takes exactly 4 arguments ({size} given)")
    if size not in (2, 4):
        raise ValueError("illegal address_as_bytes argument")
    host_text = _text(host, "host")
    port, *rest = (_number(value, bits) for value, bits in zip(address[1:], (16, 32, 32)))
    family = AF_INET if size == 2 else AF_INET6
    storage: Any = SOCKADDR_IN() if family == AF_INET else SOCKADDR_IN6()
    length = INT(sizeof(storage))
    _call(WSAStringToAddressW, host_text, family, None, byref(storage), byref(length))
    if family == AF_INET:
        storage.sin_port = socket.htons(port)
    else:
        flowinfo, scope_id = rest
        storage.sin6_port = socket.htons(port)
        storage.sin6_flowinfo = socket.htonl(flowinfo)
        storage.sin6_scope_id = scope_id
    return storage, int(length.value)


def _number(value: Any, bits: int) -> int:
    """A port (16 bits), flowinfo or scope id (32): refused out of range (see the README)."""
    return check_int("address field", value, 0, (1 << bits) - 1, too_low=OverflowError,
                     too_high=OverflowError)


def _unparse_address(storage: Any) -> Any:
    try:
        return _addresses.from_sockaddr(storage)
    except ValueError:
        raise ValueError("recvfrom returned unsupported address family") from None


def WSAConnect(client_handle: int, address_as_bytes: Any, /) -> None:
    """Bind a remote address to a connectionless (UDP) socket (completes at once)."""
    address, length = _parse_address(address_as_bytes)
    _call(_raw.WSAConnect, _handle(client_handle), byref(address), length, None, None, None,
          None)


# --- extension functions, fetched once as the C module does at import ----------------------------

_extensions: dict[str, Any] = {}


def _extension(name: str) -> Any:
    if not _extensions:
        guids = {"AcceptEx": (WSAID_ACCEPTEX, LPFN_ACCEPTEX),
                 "ConnectEx": (WSAID_CONNECTEX, LPFN_CONNECTEX),
                 "DisconnectEx": (WSAID_DISCONNECTEX, LPFN_DISCONNECTEX),
                 "TransmitFile": (WSAID_TRANSMITFILE, LPFN_TRANSMITFILE)}
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
            for key, (guid, prototype) in guids.items():
                _extensions[key] = extension_function(probe, guid, prototype, key)
    return _extensions[name]


# --- the Overlapped type ------------------------------------------------------------------------


# Start errors a read takes as started: ERROR_MORE_DATA, a message larger than the
# buffer, is a warning (the I/O finished, truncated).
_READ_ACCEPTED = (ERROR_IO_PENDING, ERROR_MORE_DATA)


class Overlapped:
    """OVERLAPPED structure wrapper: one operation per object.

    ``event``: INVALID_HANDLE_VALUE (the default) makes a manual-reset event of
    its own; NULL means none; any other handle is used, and closed with the
    object, as the C module does.  The operation's life is winsock_ov's core
    (``winsock_ov.core``): this class adds the C module's argument conversions,
    error codes and ``getresult`` rules only.
    """

    __slots__ = ("__weakref__", "_buffer", "_error", "_from", "_fromlen", "_io", "_pinned",
                 "_result", "_type")

    def __init__(self, event: int = INVALID_HANDLE_VALUE) -> None:
        event = _handle(event)
        if event == INVALID_HANDLE_VALUE:
            event = int(_call(CreateEventW, None, True, False, None))
        self._io = OverlappedIO(self, None, OBSERVED)
        self._io.overlapped.hEvent = event or None
        self._error = 0
        self._type = TYPE_NONE
        # Memory the I/O uses that is not an export: a buffer of ours the kernel
        # writes (reads, AcceptEx), or a bytes object sent in place.
        self._buffer: Any = None
        self._pinned: PinnedBuffers | None = None  # the caller's buffer, exported
        self._from: Any = None
        self._fromlen: Any = None
        self._result: Any = None

    # --- attributes ----------------------------------------------------------------------

    @property
    def address(self) -> int:
        """Address of overlapped structure."""
        return self._io.address

    @property
    def error(self) -> int:
        """Error from last operation."""
        return self._error

    @property
    def event(self) -> int:
        """Overlapped event handle."""
        return int(self._io.overlapped.hEvent or 0)

    @property
    def pending(self) -> bool:
        """Whether the operation is pending."""
        return not self._io.finished_by_os() and self._type != TYPE_NOT_STARTED

    # --- starting ----------------------------------------------------------------------------

    def _start(self, kind: int, handle: int, call: Any, *, pinned: PinnedBuffers | None = None,
               buffer: Any = None, sender: tuple[Any, Any] | None = None,
               accepted: tuple[int, ...] = (ERROR_IO_PENDING,),
               broken_pipe_completes: bool = False) -> int:
        """Start the operation on the core, every argument converted and checked by now;
        then the C module's switch on the error the start call left.

        ``call(handle, overlapped, routine)`` makes the start call and returns
        that error (``core.socket_call``, ``core.bool_call``).  What the kernel
        writes later (``pinned``, our own ``buffer``, the ``sender`` address and
        its length) is kept by this object, which the core keeps while pending.
        """
        if self._type != TYPE_NONE:
            if pinned is not None:
                pinned.release()
            self._check_unattempted()
        self._type, self._pinned, self._buffer = kind, pinned, buffer
        if sender is not None:
            self._from, self._fromlen = sender
        # Tied by this module: the binding (whose port hands out what Windows
        # skips: core.OverlappedIO.submit); otherwise read from the OVERLAPPED.
        self._io.notifier = _bindings.get(handle, OBSERVED)
        how, error = self._io.submit(handle, call)
        self._error = error
        if error == ERROR_SUCCESS or error in accepted:
            return error
        if error == ERROR_BROKEN_PIPE and broken_pipe_completes:
            self._mark_as_completed()
        else:
            self._type = TYPE_NOT_STARTED  # as in C, even when Windows still reports it
            if how is Submitted.REFUSED:
                self._release_memory()
        raise _error(error)

    def _check_unattempted(self) -> None:
        if self._type != TYPE_NONE:
            raise ValueError("operation already attempted")

    def _mark_as_completed(self) -> None:
        """Completed without I/O (ERROR_BROKEN_PIPE, ERROR_PIPE_CONNECTED)."""
        ov = self._io.overlapped
        ov.Internal = 0
        if ov.hEvent:
            _raw.SetEvent(ov.hEvent)

    def _release_memory(self) -> None:
        """Refused at once: Windows never wrote to it; the buffer export ends now."""
        if self._pinned is not None:
            self._pinned.release()
            self._pinned = None
        self._buffer = self._from = self._fromlen = None

    def __del__(self) -> None:
        # Reached only once Windows is done: the core holds pending ones.
        io = getattr(self, "_io", None)
        if io is not None and io.overlapped.hEvent:
            try:
                CloseHandle(io.overlapped.hEvent)
            except OSError:
                pass
        if getattr(self, "_pinned", None) is not None:
            self._pinned.release()  # type: ignore[union-attr]

    # --- results -------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Cancel overlapped operation (CancelIoEx; ERROR_NOT_FOUND is not an error)."""
        if self._type in (TYPE_NOT_STARTED, TYPE_WAIT_NAMED_PIPE_AND_CONNECT):
            return
        if self._io.state is State.PENDING and not self._io.finished_by_os():
            try:
                self._io.cancel()
            except OSError as exc:
                raise _error(exc.winerror) from None

    def getresult(self, wait: bool = False, /) -> Any:
        """Retrieve result of operation; with ``wait``, block until it is finished."""
        block = wait is not False and bool(_c_int(wait))
        if self._type == TYPE_NONE:
            raise ValueError("operation not yet attempted")
        if self._type == TYPE_NOT_STARTED:
            raise ValueError("operation failed to start")
        transferred = DWORD()
        io = self._io
        if GET_OVERLAPPED_RESULT(io.handle, byref(io.overlapped), byref(transferred), block):
            error = ERROR_SUCCESS
        else:
            error = ctypes.get_last_error()
        self._error = error
        if error != ERROR_IO_INCOMPLETE:
            io.observe()  # finished: released now unless its packet is still due
        if error not in (ERROR_SUCCESS, ERROR_MORE_DATA) and not (
                error == ERROR_BROKEN_PIPE and self._broken_pipe_is_eof()):
            raise _error(error)
        return self._value(int(transferred.value))

    def _broken_pipe_is_eof(self) -> bool:
        return self._type in (TYPE_READ, TYPE_READINTO, TYPE_READ_FROM, TYPE_READ_FROM_INTO)

    def _value(self, transferred: int) -> Any:
        if self._type == TYPE_READ:
            return self._buffer[:transferred]
        if self._type == TYPE_READ_FROM:
            if self._result is None:
                self._result = (self._buffer[:transferred], _unparse_address(self._from))
            return self._result
        if self._type == TYPE_READ_FROM_INTO:
            if self._result is None:
                self._result = (transferred, _unparse_address(self._from))
            return self._result
        return transferred

    # --- operations ------------------------------------------------------------------------------
    # Each converts and checks all its arguments first, in the C module's order,
    # and only then exports a buffer and starts: a refused argument leaves the
    # object untouched, ready for another attempt.  The start calls read their
    # memory from the object (kept alive by the core while the I/O is pending).

    def ReadFile(self, handle: int, size: int, /) -> None:
        """Start overlapped read."""
        handle, size = _handle(handle), _dword(size)
        buffer = _own_buffer(size)
        self._read_file(TYPE_READ, handle, addressof(buffer), size, None, buffer)

    def ReadFileInto(self, handle: int, buf: Any, /) -> None:
        """Start overlapped receive into ``buf``."""
        handle = _handle(handle)
        pinned = _pin(buf, writable=True)
        self._read_file(TYPE_READINTO, handle, *pinned.spans[0], pinned, None)

    def _read_file(self, kind: int, handle: int, address: int, length: int,
                   pinned: PinnedBuffers | None, buffer: Any) -> None:
        def call(handle: int, ov: Any, routine: Any) -> int:
            return bool_call(ReadFile, handle, address, length, byref(DWORD()), byref(ov))

        self._start(kind, handle, call, pinned=pinned, buffer=buffer, accepted=_READ_ACCEPTED,
                    broken_pipe_completes=True)

    def WSARecv(self, handle: int, size: int, flags: int = 0, /) -> None:
        """Start overlapped receive."""
        handle, size, flags = _handle(handle), _dword(size), _dword(flags)
        buffer = _own_buffer(size)
        self._wsa_recv(TYPE_READ, handle, one_wsabuf(addressof(buffer), size), flags, None,
                       buffer)

    def WSARecvInto(self, handle: int, buf: Any, flags: int, /) -> None:
        """Start overlapped receive into ``buf``."""
        handle, flags = _handle(handle), _dword(flags)
        pinned = _pin(buf, writable=True)
        self._wsa_recv(TYPE_READINTO, handle, pinned.wsabufs, flags, pinned, None)

    def _wsa_recv(self, kind: int, handle: int, wsabuf: Any, flags: int,
                  pinned: PinnedBuffers | None, buffer: Any) -> None:
        def call(handle: int, ov: Any, routine: Any) -> int:
            return socket_call(WSARECV, handle, byref(wsabuf), 1, byref(DWORD()),
                               byref(DWORD(flags)), byref(ov), None)

        self._start(kind, handle, call, pinned=pinned, buffer=buffer, accepted=_READ_ACCEPTED,
                    broken_pipe_completes=True)

    def WSARecvFrom(self, handle: int, size: int, flags: int = 0, /) -> None:
        """Start overlapped receive of a datagram and its sender's address."""
        handle, size, flags = _handle(handle), _dword(size), _dword(flags)
        buffer = _own_buffer(size)
        self._wsa_recv_from(TYPE_READ_FROM, handle, one_wsabuf(addressof(buffer), size), flags,
                            None, buffer)

    def WSARecvFromInto(self, handle: int, buf: Any, size: int,
                        flags: int = 0, /) -> None:
        """Start overlapped receive of a datagram into ``buf``."""
        handle, size, flags = _handle(handle), _dword(size), _dword(flags)
        pinned = _pin(buf, writable=True, size=size)
        self._wsa_recv_from(TYPE_READ_FROM_INTO, handle, pinned.wsabufs, flags, pinned, None)

    def _wsa_recv_from(self, kind: int, handle: int, wsabuf: Any, flags: int,
                       pinned: PinnedBuffers | None, buffer: Any) -> None:
        sender, sender_length = _sender_storage()  # written when the datagram arrives

        def call(handle: int, ov: Any, routine: Any) -> int:
            return socket_call(WSARECVFROM, handle, byref(wsabuf), 1, byref(DWORD()),
                               byref(DWORD(flags)), byref(sender), byref(sender_length),
                               byref(ov), None)

        self._start(kind, handle, call, pinned=pinned, buffer=buffer,
                    sender=(sender, sender_length), accepted=_READ_ACCEPTED,
                    broken_pipe_completes=True)

    def WriteFile(self, handle: int, buf: Any, /) -> None:
        """Start overlapped write."""
        handle = _handle(handle)
        pinned = _pin(buf, writable=False)
        address, length = pinned.spans[0]

        def call(handle: int, ov: Any, routine: Any) -> int:
            return bool_call(WriteFile, handle, address, length, byref(DWORD()), byref(ov))

        self._start(TYPE_WRITE, handle, call, pinned=pinned)

    def WSASend(self, handle: int, buf: Any, flags: int, /) -> None:
        """Start overlapped send."""
        handle, flags = _handle(handle), _dword(flags)
        pinned: PinnedBuffers | None = None
        kept = buf  # sent in place: held, not exported
        wsabuf = wsabuf_in_place(buf)
        if wsabuf is None:
            pinned = _pin(buf, writable=False)
            wsabuf, kept = pinned.wsabufs, None

        def call(handle: int, ov: Any, routine: Any) -> int:
            return socket_call(WSASEND, handle, byref(wsabuf), 1, byref(DWORD()), flags,
                               byref(ov), None)

        self._start(TYPE_WRITE, handle, call, pinned=pinned, buffer=kept)

    def WSASendTo(self, handle: int, buf: Any, flags: int,
                  address_as_bytes: Any, /) -> None:
        """Start overlapped sendto over a connectionless (UDP) socket."""
        handle, flags = _handle(handle), _dword(flags)
        to, tolen = _parse_address(address_as_bytes)
        pinned = _pin(buf, writable=False)

        def call(handle: int, ov: Any, routine: Any) -> int:
            return socket_call(WSASENDTO, handle, byref(pinned.wsabufs), 1, byref(DWORD()),
                               flags, byref(to), tolen, byref(ov), None)

        self._start(TYPE_WRITE_TO, handle, call, pinned=pinned)

    def AcceptEx(self, listen_handle: int, accept_handle: int, /) -> None:
        """Start overlapped wait for client to connect."""
        listener, accepted = _handle(listen_handle), _handle(accept_handle)
        accept_ex = _extension("AcceptEx")
        room = sizeof(SOCKADDR_IN6) + 16  # each address, as AcceptEx requires
        buffer = char_buffer(2 * room)

        def call(handle: int, ov: Any, routine: Any) -> int:
            return bool_call(accept_ex, handle, accepted, buffer, 0, room, room, byref(DWORD()),
                             byref(ov))

        self._start(TYPE_ACCEPT, listener, call, buffer=buffer)

    def ConnectEx(self, client_handle: int, address_as_bytes: Any, /) -> None:
        """Start overlapped connect; client_handle should be bound, not connected."""
        handle = _handle(client_handle)
        self._check_unattempted()  # before the address, as in C (unlike WSASendTo)
        to, tolen = _parse_address(address_as_bytes)
        connect_ex = _extension("ConnectEx")

        def call(handle: int, ov: Any, routine: Any) -> int:
            return bool_call(connect_ex, handle, byref(to), tolen, None, 0, None, byref(ov))

        self._start(TYPE_CONNECT, handle, call)

    def DisconnectEx(self, handle: int, flags: int, /) -> None:
        handle, flags = _handle(handle), _dword(flags)
        disconnect_ex = _extension("DisconnectEx")

        def call(handle: int, ov: Any, routine: Any) -> int:
            return bool_call(disconnect_ex, handle, byref(ov), flags, 0)

        self._start(TYPE_DISCONNECT, handle, call)

    def TransmitFile(self, socket: int, file: int, offset: int, offset_high: int,
                     count_to_write: int, count_per_send: int, flags: int, /) -> None:
        """Transmit file data over a connected socket."""
        handle, file_handle = _handle(socket), _handle(file)
        offset, offset_high, count_to_write, count_per_send, flags = (
            _dword(value) for value in (offset, offset_high, count_to_write, count_per_send,
                                        flags))
        transmit_file = _extension("TransmitFile")

        def call(handle: int, ov: Any, routine: Any) -> int:
            ov.Offset, ov.OffsetHigh = offset, offset_high
            return bool_call(transmit_file, handle, file_handle, count_to_write, count_per_send,
                             byref(ov), None, flags)

        self._start(TYPE_TRANSMIT_FILE, handle, call)

    def ConnectNamedPipe(self, handle: int, /) -> bool:
        """Start overlapped wait for a client to connect; True if one already is."""
        handle = _handle(handle)

        def call(handle: int, ov: Any, routine: Any) -> int:
            return bool_call(ConnectNamedPipe, handle, byref(ov))

        self._start(TYPE_CONNECT_NAMED_PIPE, handle, call,
                    accepted=(ERROR_IO_PENDING, ERROR_PIPE_CONNECTED))
        if self._error == ERROR_PIPE_CONNECTED:  # a client came before the call: no I/O
            self._mark_as_completed()
            return True
        return False

    def __repr__(self) -> str:
        return f"<Overlapped address={self.address:#x} pending={self.pending}>"


def _own_buffer(size: int) -> Any:
    """Room of ours for ``size`` bytes from the kernel (one byte at least: a valid pointer)."""
    return char_buffer(max(size, 1))


def _pin(buf: Any, *, writable: bool, size: int | None = None) -> PinnedBuffers:
    """Export ONE bytes-like object for the kernel, as the C module's y* and w*
    conversions do (a list of buffers is refused); ``size`` bytes of it if given.

    What PyObject_GetBuffer refuses (a non-contiguous view) is a BufferError there.
    """
    try:
        return PinnedBuffers([buf], writable=writable, limit=size)
    except ValueError as exc:
        if isinstance(exc.__cause__, BufferError):
            raise BufferError(str(exc.__cause__)) from None
        raise


def _sender_storage() -> tuple[Any, Any]:
    """Room for a sender's address of either family, and its length, as the C module has."""
    return SOCKADDR_IN6(), INT(sizeof(SOCKADDR_IN6))


def install() -> None:
    """Make ``import _overlapped`` (asyncio's Windows loop) use this module.

    Call it before ``asyncio.windows_events`` is imported; afterwards asyncio
    already holds the C module and nothing can be swapped under it.  Only
    ``_overlapped`` is replaced: asyncio's pipes and subprocesses also use
    ``_winapi``, which stays CPython's.
    """
    if "asyncio.windows_events" in sys.modules:
        raise RuntimeError("asyncio.windows_events is already imported with the C _overlapped; "
                           "call install() before importing asyncio's Windows event loop")
    sys.modules["_overlapped"] = sys.modules[__name__]
