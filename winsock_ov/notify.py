"""How the end of an overlapped I/O is learned: one small strategy per way.

The core (``winsock_ov.core``) calls every notifier through the same few
members, those of ``core.Notifier``: ``routine`` (the lpCompletionRoutine to
submit with), ``observable`` (its end can be read from OVERLAPPED.Internal by
anyone), ``skip_on_success``, and ``arm`` / ``disarm`` / ``observe`` / ``wait``
/ ``deliver`` / ``hand_out``.

* ``ObservedNotifier``: nothing is delivered to us; the end is read from the
  OVERLAPPED (the drop-in module's operations on handles tied to no port);
* ``EventNotifier``: the same, with an Event Windows signals (the seed's first
  program); safe with several waiters on several threads;
* ``RoutineNotifier``: Windows queues a completion routine to the issuing thread,
  run during an alertable wait there (the seed's second program);
* ``PortBinding``: a handle tied to a completion port (a ``Port``); each I/O
  ends when its packet is dequeued, or, when Windows queues none for it, the
  port hands it out with its next dequeue.  The port makes the binding
  (``CompletionPort.associate``).
"""

from __future__ import annotations

import ctypes
import enum
import threading
from ctypes import c_void_p
from typing import Callable, Protocol

from ._callbacks import stash_routine_error
from ._registry import registry
from ._timeouts import Deadline, milliseconds
from .core import Notifier, OverlappedIO
from .errors import error_from_code
from .event import Event, EventPool
from .raw import (
    DWORD,
    FILE_SKIP_COMPLETION_PORT_ON_SUCCESS,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    SYNCHRONIZE,
    WAIT_OBJECT_0,
    WAIT_TIMEOUT,
    WSAEINVAL,
    CloseHandle,
    CreateIoCompletionPort,
    GetCurrentThreadId,
    OpenThread,
    SetFileCompletionNotificationModes,
    WaitForSingleObjectEx,
)
from .waits import sleep_ex, sleep_until, wait_for_handle

__all__ = [
    "OBSERVED",
    "EventNotifier",
    "Notify",
    "ObservedNotifier",
    "Port",
    "PortBinding",
    "RoutineNotifier",
]


class Notify(enum.Enum):
    """How an operation learns that Windows finished it (:attr:`Operation.notify`)."""

    #: An event in the OVERLAPPED's ``hEvent`` is signaled (the seed's 6th argument).
    EVENT = "event"
    #: A completion routine runs during an alertable wait of the issuing thread
    #: (the seed's 7th argument).
    ROUTINE = "routine"
    #: A packet is queued to the completion port the socket is associated with.
    PORT = "port"


class ObservedNotifier(Notifier):
    """The end is read from OVERLAPPED.Internal, by whoever looks first."""

    __slots__ = ()
    kind = Notify.EVENT
    observable = True

    def observe(self, io: OverlappedIO) -> None:
        io.claim_finished()

    def wait(self, io: OverlappedIO, timeout: float | None) -> bool:
        return sleep_until(io.observe, timeout)


OBSERVED = ObservedNotifier()  # stateless: one for every I/O that needs no more


class EventNotifier(ObservedNotifier):
    """Windows signals ``event`` (the caller's, or one taken from ``pool``) when the
    I/O ends.

    The pool's event is taken at ``arm`` and given back at ``disarm`` under the
    pool's reuse rule (``event.EventPool``), with what this notifier knows: the
    call refused the I/O or finished it within the call, or a wait here saw the
    signal.  The handle is held (``Event.acquire_handle``) by the I/O and by
    every waiter, so no thread closes it under another; a waiter that comes once
    the I/O ended (``ended``) does not wait on it, as it may serve another I/O
    by then.
    """

    __slots__ = ("ended", "event", "pool", "signaled")

    def __init__(self, event: Event | None, pool: EventPool | None = None) -> None:
        self.event = event
        self.pool = pool if event is None else None  # None: the caller's event
        self.signaled = False  # a wait here saw the pool's event signaled
        self.ended = False

    def arm(self, io: OverlappedIO) -> None:
        event = self.event
        if event is None:
            event = self.event = self.pool.take() if self.pool is not None else Event()
        io.overlapped.hEvent = event.acquire_handle()

    def disarm(self, io: OverlappedIO) -> None:
        self.ended = True  # before the event can be given back: see wait()
        event = self.event
        if event is None:
            return
        event.release_handle()
        if self.pool is not None:
            # Refused (Internal never written), finished within the call, or seen
            # signaled: the signal is certain (the pool's rule says why).
            self.pool.give_back(event, self.signaled or io.immediate or not io.finished_by_os())

    def wait(self, io: OverlappedIO, timeout: float | None) -> bool:
        deadline = Deadline(timeout)
        event = self.event
        try:
            handle = event.acquire_handle() if event is not None else None
        except ValueError:  # closed: the I/O ended, or its owner closed the event
            handle = None
        if handle is not None and self.ended:  # the event may serve another I/O now
            event.release_handle()  # type: ignore[union-attr]
            handle = None
        if handle is None:
            return sleep_until(io.observe, timeout)
        try:
            code = wait_for_handle(handle, milliseconds(timeout))
        finally:
            event.release_handle()  # type: ignore[union-attr]
        if code == WAIT_OBJECT_0:
            self.signaled = True
        if io.observe():
            return True
        if code == WAIT_TIMEOUT:
            return False
        # Signaled by another I/O sharing the event: watch Internal instead.
        return sleep_until(io.observe, deadline.left())


# --- completion routines -------------------------------------------------------------------

_local = threading.local()


class IssuingThread:
    """The OS thread that issued routine I/O, and a handle to see it exit.

    One per thread (thread-local), so a reused thread id never passes for the
    thread that issued an I/O.
    """

    __slots__ = ("__weakref__", "handle", "ident", "python_thread")

    def __init__(self) -> None:
        self.ident = int(GetCurrentThreadId())
        self.handle = OpenThread(SYNCHRONIZE, False, self.ident)
        self.python_thread = threading.current_thread()

    @classmethod
    def current(cls) -> IssuingThread:
        issuer: IssuingThread | None = getattr(_local, "issuer", None)
        if issuer is None:
            issuer = _local.issuer = cls()
        return issuer

    def is_current(self) -> bool:
        return getattr(_local, "issuer", None) is self

    def exited(self) -> bool:
        return bool(WaitForSingleObjectEx(self.handle, 0, False) == WAIT_OBJECT_0)

    def exiting(self) -> bool:
        """True once the thread ran its last Python code (``join()`` returned).

        Its OS thread ends a moment later; until then ``exited()`` is still
        False, and no routine can run there any more.  A thread Python did not
        start (a ``_DummyThread``) looks alive for ever: only its exit tells.
        """
        return self.exited() or not self.python_thread.is_alive()

    def wait_exit(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds for the OS thread to end."""
        return bool(wait_for_handle(self.handle, milliseconds(timeout)) == WAIT_OBJECT_0)

    def __del__(self) -> None:
        if getattr(self, "handle", None):
            CloseHandle(self.handle)


# One thunk for the whole process, created once and never freed: Windows may call
# it for any routine I/O still queued, even while the interpreter exits.  It
# receives lpOverlapped as an address and finds the I/O in the registry.  What it
# calls is looked up once, here (default arguments), not at each completion; the
# I/O's notifier (``RoutineNotifier.deliver``) completes it and runs the routine.
_FUNCTYPE = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)
_ROUTINE_BY_ADDRESS = _FUNCTYPE(None, DWORD, DWORD, c_void_p, DWORD)


def _run_completion_routine(error: int, nbytes: int, overlapped: int | None, flags: int,
                            claim: Callable[[int], OverlappedIO | None] = registry.claim,
                            stash: Callable[[BaseException], None] = stash_routine_error,
                            ) -> None:
    try:
        io = claim(overlapped or 0)
        if io is not None:
            io.notifier.deliver(io, error, nbytes, flags)
    except BaseException as exc:
        stash(exc)


_thunk = _ROUTINE_BY_ADDRESS(_run_completion_routine)
ROUTINE_THUNK = ctypes.cast(_thunk, LPWSAOVERLAPPED_COMPLETION_ROUTINE)
registry.leak(ROUTINE_THUNK)  # on purpose: see above


class RoutineNotifier(Notifier):
    """Windows runs ``callback(owner)`` on the issuing thread, in an alertable wait."""

    __slots__ = ("callback", "thread")
    kind = Notify.ROUTINE
    routine = ROUTINE_THUNK

    def __init__(self, callback: Callable[[object], object]) -> None:
        self.callback: Callable[[object], object] | None = callback
        self.thread: IssuingThread | None = None

    def arm(self, io: OverlappedIO) -> None:
        self.thread = IssuingThread.current()

    def deliver(self, io: OverlappedIO, code: int, nbytes: int, flags: int) -> None:
        """Called by the thunk, for the I/O it claimed."""
        owner = io.complete(code, nbytes, flags)
        callback, self.callback = self.callback, None
        if callback is not None and not registry.shutting_down:
            callback(owner)

    def observe(self, io: OverlappedIO) -> None:
        # Its routine can never run once its thread exited: finish it without.
        thread = self.thread
        if thread is not None and io.finished_by_os() and thread.exited() \
                and registry.claim(io.address) is io:
            self.callback = None
            io.routine_lost = True
            io.complete_with_status()

    def wait(self, io: OverlappedIO, timeout: float | None) -> bool:
        thread = self.thread
        assert thread is not None
        deadline = Deadline(timeout)
        if thread.is_current():
            while not io.observe():  # routines run during the alertable sleep
                left = deadline.left()
                sleep_ex(left, alertable=True)
                if left == 0.0:
                    return io.observe()
            return True
        if thread.exiting():
            if not thread.wait_exit(timeout):
                return False
            return sleep_until(io.observe, deadline.left())
        raise RuntimeError(
            f"this operation's completion routine runs only on the thread that issued it "
            f"(thread id {thread.ident}), during an alertable wait there")


# --- completion ports ----------------------------------------------------------------------


class Port(Protocol):
    """What a completion port offers the handles tied to it (``CompletionPort``,
    ``winsock_ov.aio``'s loop, the drop-in's batches)."""

    @property
    def closed(self) -> bool:
        """True once no operation may start on a handle tied here (its end could
        never be dequeued)."""

    def hand_out(self, io: OverlappedIO, owner: object, key: int) -> None:
        """``io``, of a handle tied here with ``key``, finished within its call and
        Windows queues no packet for it (skip-on-success): have the port's next
        dequeue hand it out as if its packet had come."""


class PortBinding(Notifier):
    """A handle tied to a completion port, as the port hands it out.

    Every I/O on the handle ends when its packet is dequeued from ``port``
    (``port_handle``), carrying ``key``.  With ``skip_on_success``
    (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) an I/O that finished within the
    submitting call queues no packet: the core finishes it at once and the
    port hands it out (``Port.hand_out``), so the port's dequeue reports every
    I/O of the handle once either way.
    """

    __slots__ = ("handle", "key", "port", "port_handle", "skip_on_success")
    kind = Notify.PORT

    def __init__(self, port: Port, port_handle: int, handle: int, key: int,
                 skip_on_success: bool = False) -> None:
        self.port, self.port_handle = port, port_handle
        self.handle, self.key = handle, key
        self.skip_on_success = skip_on_success

    @classmethod
    def tie(cls, port: Port, port_handle: int, handle: int, key: int,
            skip_on_success: bool = False) -> PortBinding:
        """Tie ``handle`` to the port (CreateIoCompletionPort, then
        FILE_SKIP_COMPLETION_PORT_ON_SUCCESS if asked); its binding."""
        CreateIoCompletionPort(handle, port_handle, key, 0)
        if skip_on_success:
            SetFileCompletionNotificationModes(handle, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS)
        return cls(port, port_handle, handle, key, skip_on_success)

    def wait(self, io: OverlappedIO, timeout: float | None) -> bool:
        raise RuntimeError("a completion-port operation finishes when its packet is dequeued: "
                           "use CompletionPort.dequeue()")

    def hand_out(self, io: OverlappedIO, owner: object) -> None:
        self.port.hand_out(io, owner, self.key)

    def ends_through(self, port: object) -> bool:
        return self.port is port

    def refuse_notification(self, event: Event | None, routine: object) -> None:
        """Refuse what an I/O on a handle tied to a port cannot ask for."""
        if routine is not None:
            # Windows answers WSAEINVAL for a completion routine on a socket
            # associated with a completion port: refused before submitting.
            error = error_from_code(WSAEINVAL)
            error.strerror = ("a completion routine cannot be used on a socket associated "
                              "with a completion port")
            raise error
        if event is not None:
            raise ValueError("operations on a socket associated with a completion port "
                             "complete through the port; event= does not apply")
