"""I/O completion ports: the operations of many sockets, reported through one queue.

The port's contract: every operation of a socket tied to the port
(``associate``) comes out of ``dequeue`` or ``dequeue_many`` exactly once, as
the finished operation object, whatever Windows did with it:

* an operation that pended, or that finished within its call on a socket that
  keeps a packet for everything (``skip_on_success=False``), gets a packet
  carrying the address of its OVERLAPPED; the dequeue that takes the packet
  finishes the operation (the registry kept it until then, so a stale packet
  can never be taken for a newer operation that reuses its memory);
* one that finished within its call on a socket with
  FILE_SKIP_COMPLETION_PORT_ON_SUCCESS (``associate``'s default, used only where
  a probe found it honoured) gets no packet: the core finishes it at once
  (``op.done`` is true when the call returns) and the port puts it in its
  *ready queue*, a deque on the Python side.  The next dequeue returns it
  without a system call.

What is ready goes first, but not for ever: after ``READY_TURNS`` dequeues served
from the ready queue alone, the next one also takes what Windows queued
meanwhile (without waiting), so a stream of operations that all finish within
their call never holds back the packets of the others.  The ready queue holds
the socket polls that ended too (``winsock_ov.poll``), and is shared by every
thread that dequeues the port: a thread blocked in GetQueuedCompletionStatus
is woken (a packet with ``core.OWN_KEY`` and no OVERLAPPED) when another
thread adds to it.

Packets are told apart by their completion key: ``OWN_KEY`` is winsock_ov's
own (socket polls' requests, wake-ups), ended here and never returned; any
other key is the caller's (``associate``, ``post``, ``bind_handle``, or raw
code's), and the packet comes back as the operation, the ``Posted`` or, when
it names nothing of this process, a ``Packet``.  So ``OWN_KEY`` is refused as a
key of the caller's.
"""

from __future__ import annotations

import collections
import ctypes
import functools
import threading
import time
from ctypes import byref
from typing import Callable, NamedTuple, TypeVar, Union

from ._arrays import array_type
from ._callbacks import raise_routine_errors
from ._checks import check_dword, check_handle, check_int, check_ulong_ptr
from ._closable import Closable
from ._interrupt import guard, sliced
from ._registry import registry
from ._timeouts import Deadline, check_timeout, milliseconds
from ._unchecked import (
    GET_QUEUED_COMPLETION_STATUS_EX,
    POST_QUEUED_COMPLETION_STATUS,
    get_queued_completion_status,
    unpack_entries,
)
from .core import OWN_KEY, OverlappedIO, Submitted
from .errors import error_from_code
from .notify import PortBinding
from .operations import Operation
from .poll import Poller, PollEvents, PollOperation
from .raw import (
    ERROR_ABANDONED_WAIT_0,
    ERROR_SUCCESS,
    INVALID_HANDLE_VALUE,
    OVERLAPPED,
    OVERLAPPED_ENTRY,
    ULONG,
    WAIT_IO_COMPLETION,
    WAIT_TIMEOUT,
    CloseHandle,
    CreateIoCompletionPort,
    winerror_exception,
)
from .sockets import Socket, tie_to_port

__all__ = [
    "READY_TURNS",
    "CompletionPort",
    "Packet",
    "Posted",
    "skip_on_success_supported",
]

READY_TURNS = 64  # dequeues served from the ready queue alone before Windows' packets join it
_R = TypeVar("_R")  # what a dequeue call returns


class Packet(NamedTuple):
    """A packet that is not one of this process's operations (posted by raw code)."""

    key: int
    nbytes: int
    overlapped: int  # the address it carried (0 for none)


class Posted:
    """A user packet from ``CompletionPort.post()``; ``value`` is what was posted.

    It owns an OVERLAPPED of its own, held by the registry until dequeued: an
    I/O of the core (``winsock_ov.core``) whose submitting call is
    PostQueuedCompletionStatus and whose completion is the packet.
    """

    __slots__ = ("__weakref__", "_io", "key", "nbytes", "port", "value")

    def __init__(self, value: object, key: int, nbytes: int, port: CompletionPort,
                 binding: PortBinding) -> None:
        self.value, self.key, self.nbytes = value, key, nbytes
        self.port = port  # the port it was posted to
        self._io = OverlappedIO(self, None, binding)

    def _post(self, port: int, ov: OVERLAPPED, routine: object) -> int:
        if POST_QUEUED_COMPLETION_STATUS(port, self.nbytes, self.key, byref(ov)):
            return ERROR_SUCCESS
        return ctypes.get_last_error()

    @property
    def address(self) -> int:
        """The address of the OVERLAPPED the packet carries."""
        return self._io.address

    @property
    def overlapped(self) -> OVERLAPPED:
        """The OVERLAPPED the packet carries (its address is ``address``)."""
        return self._io.overlapped

    def __repr__(self) -> str:
        return f"<Posted value={self.value!r} key={self.key} nbytes={self.nbytes}>"


Completion = Union[Operation, PollOperation, Posted, Packet]


def _check_key(key: int) -> int:
    """A completion key of the caller's: any ULONG_PTR but ``OWN_KEY``."""
    key = check_ulong_ptr("key", key)
    if key == OWN_KEY:
        raise ValueError(f"key {OWN_KEY:#x} is reserved for winsock_ov's own I/O")
    return key


class CompletionPort(Closable):
    """An I/O completion port (CreateIoCompletionPort).

    ``concurrency`` is the number of threads Windows lets run at once on this
    port (0: as many as processors).  Close it (or use ``with``) when done.
    """

    def __init__(self, concurrency: int = 0) -> None:
        concurrency = check_dword("concurrency", concurrency)
        handle = int(CreateIoCompletionPort(INVALID_HANDLE_VALUE, None, 0, concurrency))
        self._handle: int | None = handle
        self._local = threading.local()  # each thread's OVERLAPPED_ENTRY array
        # Finished operations and ended polls that got no packet of their own,
        # and the dequeues served from them in a row (see READY_TURNS).
        self._ready: collections.deque[Completion] = collections.deque()
        self._ready_turns = 0
        self._sleepers: list[None] = []  # one per thread blocked in a wait on this port
        # The notifier of the packets posted here, made at the first post and
        # dropped at close (it refers to the port: a cycle while both live).
        self._posts: PortBinding | None = None
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
        """Tie ``sock`` to this port; its operations then complete here, each one
        returned by one dequeue.

        Returns whether FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is in effect: by
        default whenever ``skip_on_success_supported()``; then an operation that
        completes within its call queues no packet (one system call less): it
        is done at once, and the next dequeue returns it from the port's ready
        queue.  ``skip_on_success=False`` keeps a packet for every operation.
        A socket can belong to one port only, and must have no operation in
        flight when tied.
        """
        key = _check_key(key)
        skip = skip_on_success_supported if skip_on_success else None
        return tie_to_port(sock, self, self.handle, key, skip).skip_on_success

    def bind_handle(self, handle: int, key: int = 0) -> PortBinding:
        """Tie any overlapped handle (a file, a device) to this port; its binding,
        the notifier of the I/O started on it with the core (``winsock_ov.core``)."""
        handle, key = check_handle("handle", handle), _check_key(key)
        return PortBinding.tie(self, self.handle, handle, key)

    # --- readiness ----------------------------------------------------------------------

    def poll(self, sock: object, events: PollEvents | int) -> PollOperation:
        """Wait for ``events`` (``PollEvents``) on a socket; ``dequeue`` reports the end.

        ``sock``: a winsock_ov Socket, a ``socket.socket`` or a SOCKET handle,
        tied to this port or not.  See ``winsock_ov.poll``.
        """
        if self.closing:
            raise ValueError("I/O operation on a closed CompletionPort")
        if self._poller is None:
            self._poller = Poller(self)
        return self._poller.poll(sock, events)

    # --- what gets no packet of its own -------------------------------------------------

    def report(self, completion: Completion) -> None:
        """Queue a completion that has no packet of its own (an ended socket poll)
        for the next dequeue."""
        self._ready.append(completion)
        if self._sleepers:
            self._wake()

    def hand_out(self, io: OverlappedIO, owner: object, key: int) -> None:
        """An operation of a socket tied here finished within its call and Windows
        queues no packet for it (skip-on-success): the next dequeue returns it."""
        self._ready.append(owner)  # type: ignore[arg-type]  # an Operation: sockets tie here
        if self._sleepers:
            self._wake()

    def _wake(self) -> None:
        """Make a thread blocked in a dequeue of this port look at the ready queue."""
        try:
            POST_QUEUED_COMPLETION_STATUS(self.handle, 0, OWN_KEY, None)
        except ValueError:  # closed meanwhile: nobody waits on it any more
            pass

    # --- packets ------------------------------------------------------------------------

    def post(self, value: object = None, *, key: int = 0, nbytes: int = 0) -> Posted:
        """Queue a user packet (PostQueuedCompletionStatus); dequeue returns it."""
        key, nbytes = _check_key(key), check_dword("nbytes", nbytes)
        handle = self.handle
        if self._posts is None:
            self._posts = PortBinding(self, handle, handle, 0)
        posted = Posted(value, key, nbytes, self, self._posts)
        how, code = posted._io.submit(handle, posted._post)
        if how is Submitted.REFUSED:  # a closed port, or a refusal: nothing was queued
            raise winerror_exception(code)
        return posted

    def dequeue(self, timeout: float | None = None) -> Completion | None:
        """One completion: the next of the ready queue or the next packet
        (GetQueuedCompletionStatus); None once ``timeout`` passed.

        An operation comes back finished: its ``result()`` returns or raises at once.
        Ctrl-C raises KeyboardInterrupt within a fraction of a second; a packet
        dequeued meanwhile waits here for the next call (see ``_interrupt``).
        """
        wait = milliseconds(timeout)
        ready = self._ready
        if ready:
            if self._ready_turn():
                return ready.popleft()
            wait = 0
        with guard():
            self._take_one(wait, timeout)
        return ready.popleft() if ready else None

    def _ready_turn(self) -> bool:
        """Whether a dequeue finding the ready queue non-empty is served from it
        alone; if not, Windows' packets join the queue first, without waiting
        (see READY_TURNS)."""
        self._ready_turns += 1
        return self._ready_turns < READY_TURNS

    def _take_one(self, wait: int, timeout: float | None) -> None:
        """Put the next completion in ``_ready``, unless ``timeout`` passes first."""
        ready = self._ready
        self._ready_turns = 0
        started = time.monotonic()  # read as a deadline only if a packet ends nothing of ours
        dequeue = functools.partial(get_queued_completion_status, self.handle)
        while True:
            code, address, key, nbytes = self._wait(dequeue, wait, _no_packet)
            if not address and code:
                if code == WAIT_TIMEOUT:
                    return
                raise self._dequeue_error(code)
            completion = self._completion(address, key, nbytes, None)
            if completion is not None:
                ready.append(completion)
            raise_routine_errors()  # what done callbacks raised; what we have is the next call's
            if ready:  # this packet's, or what others made ready meanwhile
                return
            wait = Deadline(timeout, started).milliseconds()  # it ended nothing of ours

    def dequeue_many(self, max_entries: int = 64, timeout: float | None = None,
                     alertable: bool = False) -> list[Completion]:
        """Up to ``max_entries`` completions: from the ready queue, then packets taken
        in one call (GetQueuedCompletionStatusEx).

        Empty once ``timeout`` passed, or (``alertable``) when completion
        routines ran instead, whose exceptions are then raised.  Ctrl-C as for
        ``dequeue``.
        """
        check_int("max_entries", max_entries, 1, 0xFFFF)
        wait = milliseconds(timeout)
        ready = self._ready
        if not ready or not self._ready_turn():
            with guard():
                self._take_many(max_entries, 0 if ready else wait, timeout, bool(alertable))
        return [ready.popleft() for _ in range(min(max_entries, len(ready)))]

    def _take_many(self, max_entries: int, wait: int, timeout: float | None,
                   alertable: bool) -> None:
        """Put up to ``max_entries`` completions in ``_ready``, unless ``timeout``
        passes (or routines run) first."""
        ready = self._ready
        entries = self._entries(max_entries)
        removed = ULONG()
        self._ready_turns = 0
        started = time.monotonic()  # read as a deadline only if packets end nothing of ours
        while True:
            if not self._wait(lambda ms: GET_QUEUED_COMPLETION_STATUS_EX(
                    self.handle, entries, max_entries, byref(removed), ms, alertable),
                    wait, _none_dequeued):
                code = ctypes.get_last_error()
                if code == WAIT_IO_COMPLETION:
                    raise_routine_errors()
                    return
                if code == WAIT_TIMEOUT:
                    return
                raise self._dequeue_error(code)
            for key, address, internal, nbytes in unpack_entries(entries, removed.value):
                completion = self._completion(address, key, nbytes, internal)
                if completion is not None:
                    ready.append(completion)
            raise_routine_errors()  # what done callbacks raised; what we have is the next call's
            if ready:
                return
            wait = Deadline(timeout, started).milliseconds()  # they ended nothing of ours

    def _wait(self, call: Callable[[int], _R], wait: int, timed_out: Callable[[_R], bool]) -> _R:
        """``call(ms)``, a dequeue of ``wait`` ms in slices (``_interrupt.sliced``).

        A thread that may block is counted as a sleeper first: then what another
        thread makes ready wakes it (``_wake``), or is seen here before it blocks.
        """
        if not wait:
            return call(0)
        sleepers = self._sleepers
        sleepers.append(None)
        try:
            if self._ready:
                return call(0)
            return sliced(call, wait, timed_out)
        finally:
            sleepers.pop()

    def _entries(self, count: int) -> ctypes.Array[OVERLAPPED_ENTRY]:
        entries: ctypes.Array[OVERLAPPED_ENTRY] | None = getattr(self._local, "entries", None)
        if entries is None or len(entries) < count:
            entries = self._local.entries = array_type(OVERLAPPED_ENTRY, count)()
        return entries

    @staticmethod
    def _completion(address: int, key: int, nbytes: int,
                    internal: int | None) -> Completion | None:
        """What a packet ends, by its key: nothing to return for ``OWN_KEY`` (its I/O,
        a socket poll's request, reports what it ended; without an OVERLAPPED, a
        wake-up); otherwise the caller's operation or Posted, or a Packet naming
        nothing of this process."""
        io = registry.claim(address) if address else None
        if key == OWN_KEY:
            if io is not None:
                io.complete_with_status(internal, nbytes)
            return None
        if io is None:
            return Packet(key, nbytes, address)
        # The owner of an I/O tied here with the caller's key: an Operation or a Posted.
        return io.complete_with_status(internal, nbytes)  # type: ignore[return-value]

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
        mine = [io for io in registry.operations() if io.ends_through(self)]
        for io in mine:
            io.cancel_for_exit()
        deadline = Deadline(drain)
        while any(io.address in registry for io in mine) and not deadline.passed():
            self.dequeue_many(timeout=deadline.left())
        for io in mine:
            if io.address in registry:
                registry.leak(io)
        if self._poller is not None:
            self._poller.close()
        self._posts = None
        handle, self._handle = self._handle, None
        CloseHandle(handle)

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
                    tie_to_port(client, port, port.handle, 0, lambda: True)
                except OSError:
                    return False
                op = client.send(b"probe")
                if not op.completed_immediately:
                    port.dequeue(timeout=10.0)
                    return False  # inconclusive: do without the mode
                # The core finished the send at once, expecting no packet, and the
                # port holds it as ready: whether Windows queued one all the same
                # is read from Windows' queue itself.  Packets of immediate
                # completions are queued at once; the margin covers an emulation
                # that queues them a little later.  (``op`` stays alive here, so a
                # packet that does come names memory still ours.)
                _, address, _, _ = get_queued_completion_status(port.handle, 100)
                port.dequeue(timeout=0)  # the send, handed out: nothing left behind
                return address == 0
