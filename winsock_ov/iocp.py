"""I/O completion ports: the operations of many sockets, reported through one queue.

How it fits together: ``CompletionPort.associate(sock)`` ties a socket to the
port (CreateIoCompletionPort), after which every operation started on it is a
*port* operation: Windows queues one packet per operation when it completes,
carrying the address of its OVERLAPPED, even when the operation completed
within the submitting call.  ``dequeue()`` (GetQueuedCompletionStatus) and
``dequeue_many()`` (GetQueuedCompletionStatusEx) turn packets back into the
finished operation objects.  The registry keeps each operation until its packet
is dequeued, so a stale packet can never be taken for a newer operation that
happens to reuse the same memory.

With FILE_SKIP_COMPLETION_PORT_ON_SUCCESS (``associate``'s default, opt out with
``skip_on_success=False``), operations that complete within the call queue no
packet and are finished at once; the mode is used only after a probe has shown
that this system honours it.
"""

from __future__ import annotations

import collections
import ctypes
import struct
import threading
import time
from collections.abc import Iterator
from ctypes import addressof, byref, sizeof
from typing import Any, NamedTuple, Union

from ._arrays import array_type
from ._callbacks import raise_routine_errors
from ._checks import check_dword, check_handle, check_int, check_ulong_ptr
from ._interrupt import guard, sliced
from ._registry import registry
from ._timeouts import Deadline, check_timeout, milliseconds
from .core import OverlappedIO, Relay, status_code
from .errors import error_from_code
from .notify import PortBinding
from .operations import Operation
from .poll import Poller, PollOperation
from .raw import (
    DWORD,
    ERROR_ABANDONED_WAIT_0,
    ERROR_SUCCESS,
    INVALID_HANDLE_VALUE,
    OVERLAPPED,
    OVERLAPPED_ENTRY,
    ULONG,
    ULONG_PTR,
    WAIT_IO_COMPLETION,
    WAIT_TIMEOUT,
    CloseHandle,
    CreateIoCompletionPort,
    GetQueuedCompletionStatus,
    GetQueuedCompletionStatusEx,
    PostQueuedCompletionStatus,
    unchecked,
    winerror_exception,
)
from .sockets import Socket

__all__ = [
    "CompletionPort",
    "Packet",
    "PacketBatch",
    "Posted",
    "get_queued_completion_status",
    "skip_on_success_supported",
]

_STATUS_MASK = 0xFFFFFFFF
# Called for every packet: unchecked (raw.unchecked: nothing raised, the caller
# reads the last error), GetQueuedCompletionStatus's out-parameters in one structure.
_GET_QUEUED_COMPLETION_STATUS = unchecked(GetQueuedCompletionStatus)
_POST_QUEUED_COMPLETION_STATUS = unchecked(PostQueuedCompletionStatus)
_GET_QUEUED_COMPLETION_STATUS_EX = unchecked(GetQueuedCompletionStatusEx)


class _Packet(ctypes.Structure):
    _fields_ = [("overlapped", ctypes.c_void_p), ("key", ULONG_PTR), ("nbytes", DWORD)]


_OVERLAPPED, _KEY, _NBYTES = (getattr(_Packet, name).offset
                              for name in ("overlapped", "key", "nbytes"))


def get_queued_completion_status(port: int, milliseconds: int) -> tuple[int, int, int, int]:
    """GetQueuedCompletionStatus: ``(error, overlapped address, key, bytes)``.

    ``error`` is 0 for a packet of an I/O that succeeded.  With an address, a
    packet was dequeued and ``error`` is its I/O's (FALSE was returned: the
    status is in its OVERLAPPED); with address 0, the call failed with
    ``error`` (WAIT_TIMEOUT: nothing came), or dequeued a packet posted
    without an OVERLAPPED (error 0).
    """
    packet = _Packet()
    dequeued = _GET_QUEUED_COMPLETION_STATUS(port, byref(packet, _NBYTES), byref(packet, _KEY),
                                             byref(packet, _OVERLAPPED), milliseconds)
    error = ERROR_SUCCESS if dequeued else ctypes.get_last_error()
    return error, packet.overlapped or 0, packet.key, packet.nbytes


# OVERLAPPED_ENTRY read without ctypes attribute access: key, overlapped, Internal, bytes.
_ENTRY = struct.Struct("@PPPI")
_ENTRY_STRIDE = sizeof(OVERLAPPED_ENTRY)
assert _ENTRY.size <= _ENTRY_STRIDE


def unpack_entries(entries: Any, count: int) -> Iterator[tuple[int, int, int, int]]:
    """The first ``count`` OVERLAPPED_ENTRYs GetQueuedCompletionStatusEx filled:
    ``(key, overlapped address, NTSTATUS, bytes)`` each."""
    view = memoryview(entries).cast("B")
    for index in range(count):
        key, address, internal, nbytes = _ENTRY.unpack_from(view, index * _ENTRY_STRIDE)
        yield key, address or 0, internal & _STATUS_MASK, nbytes


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

    ``make`` queues a packet Windows will not (an I/O that finished within its
    call on a handle that skips those packets): the next call returns it.
    """

    __slots__ = ("_drained", "_entries", "_max", "_pending", "_removed", "made_packets", "port")

    def __init__(self, port: int, max_entries: int = 64) -> None:
        self.port = port
        self._max = max_entries
        self._entries = array_type(OVERLAPPED_ENTRY, max_entries)()
        self._removed = ULONG()
        self._pending: collections.deque[tuple[int, int, int, int]] = collections.deque()
        self._drained = False
        self.made_packets = 0  # how many ``make`` queued

    def make(self, error: int, address: int, key: int, nbytes: int) -> None:
        self.made_packets += 1
        self._pending.append((error, address, key, nbytes))

    def next(self, milliseconds: int) -> tuple[int, int, int, int]:
        """As ``get_queued_completion_status``: ``(error, overlapped address, key, bytes)``."""
        pending = self._pending
        if pending:
            return pending.popleft()
        if milliseconds == 0 and self._drained:
            self._drained = False
            return WAIT_TIMEOUT, 0, 0, 0
        if not _GET_QUEUED_COMPLETION_STATUS_EX(self.port, self._entries, self._max,
                                                byref(self._removed), milliseconds, False):
            self._drained = False
            return ctypes.get_last_error(), 0, 0, 0
        removed = self._removed.value
        self._drained = removed < self._max
        for key, address, status, nbytes in unpack_entries(self._entries, removed):
            pending.append((status_code(status) if address else ERROR_SUCCESS, address, key,
                            nbytes))
        return pending.popleft()


class Packet(NamedTuple):
    """A packet that is not one of this process's operations (posted by raw code)."""

    key: int
    nbytes: int
    overlapped: int  # the address it carried (0 for none)


class Posted:
    """A user packet from ``CompletionPort.post()``; ``value`` is what was posted.

    It owns an OVERLAPPED of its own, held by the registry until dequeued.
    """

    __slots__ = ("__weakref__", "_ov", "address", "key", "nbytes", "port", "value")

    def __init__(self, value: Any, key: int, nbytes: int, port: CompletionPort) -> None:
        self._ov = OVERLAPPED()
        self.address = addressof(self._ov)
        self.value, self.key, self.nbytes = value, key, nbytes
        self.port = port  # the port it was posted to

    def poll(self) -> None:
        """Nothing to observe: a posted packet ends only when dequeued."""

    def cancel_for_exit(self) -> None:
        """Nothing to cancel."""

    @property
    def overlapped(self) -> Any:
        """The OVERLAPPED the packet carries (its address is ``address``)."""
        return self._ov

    def __repr__(self) -> str:
        return f"<Posted value={self.value!r} key={self.key} nbytes={self.nbytes}>"


Completion = Union[Operation, PollOperation, Posted, Packet]


def tie_socket(port: Any, port_handle: int, sock: Socket, key: int,
               skip_on_success: bool) -> PortBinding:
    """Tie a winsock_ov Socket to a port (``CompletionPort`` or winsock_ov.aio's
    loop), which its operations then complete through; its binding."""
    if not isinstance(sock, Socket):
        raise TypeError(f"expected a winsock_ov Socket, not {type(sock).__name__}")
    if sock.port_binding is not None:
        raise ValueError("the socket is already associated with a completion port")
    if sock.inflight:
        raise ValueError("the socket has operations in flight; associate it before "
                         "starting any")
    binding = PortBinding.tie(port, port_handle, sock.fileno(), key,
                              skip_on_success=skip_on_success)
    sock.attach_port(binding)
    return binding


class CompletionPort:
    """An I/O completion port (CreateIoCompletionPort).

    ``concurrency`` is the number of threads Windows lets run at once on this
    port (0: as many as processors).  Close it (or use ``with``) when done.
    """

    def __init__(self, concurrency: int = 0) -> None:
        concurrency = check_dword("concurrency", concurrency)
        self._handle: int | None = int(CreateIoCompletionPort(INVALID_HANDLE_VALUE, None, 0,
                                                              concurrency))
        self._local = threading.local()  # each thread's OVERLAPPED_ENTRY array
        # Completions found without a packet of their own (a poll request's
        # waiters, ``report``): the next dequeue returns them first.
        self._ready: collections.deque[Completion] = collections.deque()
        self._poller: Poller | None = None
        self._closing = False

    @property
    def handle(self) -> int:
        """The port's HANDLE as an integer; ValueError once closed."""
        if self._handle is None:
            raise ValueError("I/O operation on a closed CompletionPort")
        return self._handle

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has finished."""
        return self._handle is None

    @property
    def closing(self) -> bool:
        """True from the start of ``close()``: nothing new may be started here."""
        return self._closing or self._handle is None

    # --- sockets ----------------------------------------------------------------------

    def associate(self, sock: Socket, key: int = 0, *, skip_on_success: bool = True) -> bool:
        """Tie ``sock`` to this port; its operations then complete here.

        Returns whether FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is in effect: by
        default whenever ``skip_on_success_supported()``; then an operation that
        completes within its call is finished at once and queues no packet (one
        system call less).  ``skip_on_success=False`` keeps a packet for every
        operation.  A socket can belong to one port only, and must have no
        operation in flight when tied.
        """
        if not isinstance(sock, Socket):
            raise TypeError(f"expected a winsock_ov Socket, not {type(sock).__name__}")
        key = check_ulong_ptr("key", key)
        skip = bool(skip_on_success) and skip_on_success_supported()
        return self._associate(sock, key, skip).skip_on_success

    def _associate(self, sock: Socket, key: int, skip: bool) -> PortBinding:
        return tie_socket(self, self.handle, sock, key, skip)

    def bind_handle(self, handle: int, key: int = 0) -> PortBinding:
        """Tie any overlapped handle (a file, a device) to this port; its binding,
        the notifier of the I/O started on it with the core (``winsock_ov.core``)."""
        handle, key = check_handle("handle", handle), check_ulong_ptr("key", key)
        return PortBinding.tie(self, self.handle, handle, key)

    # --- readiness ----------------------------------------------------------------------

    def poll(self, sock: Any, events: int) -> PollOperation:
        """Wait for ``events`` (``PollEvents``) on a socket; ``dequeue`` reports the end.

        ``sock``: a winsock_ov Socket, a ``socket.socket`` or a SOCKET handle,
        tied to this port or not.  See ``winsock_ov.poll``.
        """
        if self.closing:
            raise ValueError("I/O operation on a closed CompletionPort")
        if self._poller is None:
            self._poller = Poller(self)
        return self._poller.poll(sock, events)

    def report(self, completion: Completion) -> None:
        """Queue a completion that has no packet of its own for the next dequeue."""
        self._ready.append(completion)

    # --- packets ------------------------------------------------------------------------

    def post(self, value: Any = None, *, key: int = 0, nbytes: int = 0) -> Posted:
        """Queue a user packet (PostQueuedCompletionStatus); dequeue returns it."""
        posted = Posted(value, check_ulong_ptr("key", key), check_dword("nbytes", nbytes), self)
        registry.add(posted)
        try:  # a closed port, or a refusal: nothing was queued
            if not _POST_QUEUED_COMPLETION_STATUS(self.handle, posted.nbytes, posted.key,
                                                  byref(posted.overlapped)):
                raise winerror_exception(ctypes.get_last_error())
        except BaseException:
            registry.claim(posted.address)
            raise
        return posted

    def dequeue(self, timeout: float | None = None) -> Completion | None:
        """One packet (GetQueuedCompletionStatus), or None once ``timeout`` passed.

        An operation comes back finished: its ``result()`` returns or raises at once.
        Ctrl-C raises KeyboardInterrupt within a fraction of a second; a packet
        dequeued meanwhile waits here for the next call (see ``_interrupt``).
        """
        wait = milliseconds(timeout)
        ready = self._ready
        if not ready:
            with guard():
                self._take_one(wait, timeout)
        return ready.popleft() if ready else None

    def _take_one(self, wait: int, timeout: float | None) -> None:
        """Put the next completion in ``_ready``, unless ``timeout`` passes first."""
        ready = self._ready
        started = time.monotonic()  # read as a deadline only if a packet ends nothing of ours
        while True:
            code, address, key, nbytes = sliced(
                lambda ms: get_queued_completion_status(self.handle, ms), wait, _no_packet)
            if not address and code:
                if code == WAIT_TIMEOUT:
                    return
                raise self._dequeue_error(code)
            completion = self._completion(address, key, nbytes, None)
            if completion is not None:
                ready.append(completion)
            raise_routine_errors()  # what done callbacks raised; what we have is the next call's
            if ready:  # this packet's, or the waiters a poll request reported
                return
            wait = Deadline(timeout, started).milliseconds()  # it ended nothing of ours

    def dequeue_many(self, max_entries: int = 64, timeout: float | None = None,
                     alertable: bool = False) -> list[Completion]:
        """Up to ``max_entries`` packets in one call (GetQueuedCompletionStatusEx).

        Empty once ``timeout`` passed, or (``alertable``) when completion
        routines ran instead, whose exceptions are then raised.  Ctrl-C as for
        ``dequeue``.
        """
        check_int("max_entries", max_entries, 1, 0xFFFF)
        wait = milliseconds(timeout)
        ready = self._ready
        if not ready:
            with guard():
                self._take_many(max_entries, wait, timeout, bool(alertable))
        return [ready.popleft() for _ in range(min(max_entries, len(ready)))]

    def _take_many(self, max_entries: int, wait: int, timeout: float | None,
                   alertable: bool) -> None:
        """Put up to ``max_entries`` completions in ``_ready``, unless ``timeout``
        passes (or routines run) first."""
        ready = self._ready
        entries = self._entries(max_entries)
        removed = ULONG()
        started = time.monotonic()  # read as a deadline only if packets end nothing of ours
        while True:
            if not sliced(lambda ms: _GET_QUEUED_COMPLETION_STATUS_EX(
                    self.handle, entries, max_entries, byref(removed), ms, alertable),
                    wait, _none_dequeued):
                code = ctypes.get_last_error()
                if code == WAIT_IO_COMPLETION:
                    raise_routine_errors()
                    return
                if code == WAIT_TIMEOUT:
                    return
                raise self._dequeue_error(code)
            for key, address, status, nbytes in unpack_entries(entries, removed.value):
                completion = self._completion(address, key, nbytes, status)
                if completion is not None:
                    ready.append(completion)
            raise_routine_errors()  # what done callbacks raised; what we have is the next call's
            if ready:
                return
            wait = Deadline(timeout, started).milliseconds()  # they ended nothing of ours

    def _entries(self, count: int) -> Any:
        entries = getattr(self._local, "entries", None)
        if entries is None or len(entries) < count:
            entries = self._local.entries = array_type(OVERLAPPED_ENTRY, count)()
        return entries

    @staticmethod
    def _completion(address: int, key: int, nbytes: int,
                    status: int | None) -> Completion | None:
        """What a packet ends: its operation, a Posted, a foreign Packet, or None
        when its I/O hands its completion on (a ``core.Relay``: see ``report``)."""
        item = registry.claim(address) if address else None
        if item is None:
            return Packet(key, nbytes, address)
        if isinstance(item, Posted):
            return item
        # An I/O's packet: the one completion of a port operation.
        if status is None:
            owner = item.complete_from_overlapped()
        else:
            owner = item.complete_from_status(status, nbytes)
        return None if isinstance(owner, Relay) else owner

    @staticmethod
    def _dequeue_error(code: int) -> OSError:
        if code == ERROR_ABANDONED_WAIT_0:
            return error_from_code(code)  # the port was closed during the wait
        return winerror_exception(code)

    # --- closing --------------------------------------------------------------------------

    def close(self, drain_seconds: float | None = 2.0) -> None:
        """Cancel this port's pending operations, collect them and the packets
        posted here, then close.

        Operations still not reported after ``drain_seconds`` (None or infinity:
        however long it takes) stay owned by the registry for good (leaked on
        purpose): Windows may still write to them.  Sockets tied to the port stay
        tied to it: they can start no operation any more (its completion could
        never be dequeued).
        """
        drain = check_timeout(drain_seconds)
        if self._handle is None:
            return
        self._closing = True
        mine = [item for item in registry.operations() if self._owns(item)]
        for item in mine:
            if isinstance(item, OverlappedIO):
                item.cancel_for_exit()
        deadline = Deadline(drain)
        while any(item.address in registry for item in mine) and not deadline.passed():
            self.dequeue_many(timeout=deadline.left())
        for item in mine:
            if item.address in registry:
                registry.leak(item)
        if self._poller is not None:
            self._poller.close()
        handle, self._handle = self._handle, None
        CloseHandle(handle)

    def _owns(self, item: Any) -> bool:
        """Whether a registry item completes through this port."""
        if isinstance(item, Posted):
            return item.port is self
        binding = getattr(item, "notifier", None)
        return isinstance(binding, PortBinding) and binding.port is self

    def __enter__(self) -> CompletionPort:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CompletionPort {'closed' if self._handle is None else hex(self._handle)}>"


def _no_packet(result: tuple[int, int, int, int]) -> bool:
    """A get_queued_completion_status slice that ended by its timeout."""
    return result[0] == WAIT_TIMEOUT and not result[1]


def _none_dequeued(dequeued: int) -> bool:
    """A GetQueuedCompletionStatusEx slice that ended by its timeout (read at once:
    the last error is the calling thread's, and nothing ran in between)."""
    return not dequeued and ctypes.get_last_error() == WAIT_TIMEOUT


_skip_supported: bool | None = None


def skip_on_success_supported() -> bool:
    """Whether FILE_SKIP_COMPLETION_PORT_ON_SUCCESS really suppresses packets here.

    Probed once per process on a loopback pair: a send that completes within
    the call must then queue no packet.  (Wine's behaviour may differ from
    Windows'; trusting the flag blindly would finish an operation twice.)
    """
    global _skip_supported
    if _skip_supported is None:
        _skip_supported = _probe_skip_on_success()
    return _skip_supported


def _probe_skip_on_success() -> bool:
    with CompletionPort() as port, Socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with Socket() as client:
            client.connect(listener.getsockname())
            server, _ = listener.accept(timeout=10.0)
            with server:
                try:
                    port._associate(client, 0, skip=True)
                except OSError:
                    return False
                op = client.send(b"probe")
                if not op.completed_immediately:
                    port.dequeue(timeout=10.0)
                    return False  # inconclusive: do without the mode
                # The core finished the send at once, expecting no packet.  Packets
                # of immediate completions are queued at once; the margin covers an
                # emulation that queues them a little later.  (``op`` stays alive
                # here, so a packet that does come names memory still ours.)
                packet = port.dequeue(timeout=0.1)
                return packet is None
