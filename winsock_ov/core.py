"""The life of one overlapped I/O, written once for every layer.

An ``OverlappedIO`` knows a handle, a submitting call and a *notifier* (how its
end is learned: a ``Notifier``, see ``winsock_ov.notify``); it does not know
what the handle is.  The object layer's operations, the drop-in ``_overlapped``
module and the AFD driver's socket polls are different submitting calls on this
one core.

Life: NEW -> PENDING (``submit``) -> DONE (``complete``, exactly once).  From
``submit`` until Windows is done with the I/O the registry holds it, keyed by
the address of its OVERLAPPED, and it holds its *owner*: the object that keeps
the buffers, address storage and counters the kernel may write.  Whoever
claims it from the registry completes it:

* observed and event notifiers: the first observer that finds
  OVERLAPPED.Internal no longer STATUS_PENDING (a wait, ``observe``, a reap);
* routine notifier: the process-wide thunk Windows calls during an alertable
  wait of the issuing thread (or a reap, once that thread has exited);
* port binding: the dequeue of its packet, or ``submit`` itself when Windows
  queues no packet (skip-on-success); the binding's port then hands the I/O
  out with its next dequeue all the same (``Notifier.hand_out``).

A port's packets are told apart by their completion key: ``OWN_KEY`` marks
winsock_ov's own I/O (a socket poll's request; an object-layer operation on a
port that a drop-in caller dequeues), which is ended where it is dequeued and
acts through its done callbacks; every other key is the caller's, and its
packets are the caller's to see.

Memory the kernel may write is never released before that: an I/O Windows
still owns at interpreter exit is leaked on purpose (see ``_registry``).
"""

from __future__ import annotations

import ctypes
import enum
from ctypes import addressof, byref
from typing import Callable, Optional, Protocol

from ._registry import registry
from .raw import (
    ERROR_IO_PENDING,
    ERROR_NOT_FOUND,
    ERROR_SUCCESS,
    OVERLAPPED,
    SOCKET_ERROR,
    STATUS_PENDING,
    WSA_IO_PENDING,
    CancelIoEx,
    RtlNtStatusToDosError,
)

__all__ = [
    "OWN_KEY",
    "Notifier",
    "OverlappedIO",
    "State",
    "Submitted",
    "bool_call",
    "completion_follows",
    "socket_call",
    "status_code",
    "submitted",
]

# The completion key of winsock_ov's own I/O on a port.  Not a handle value (those
# are multiples of 4, or small negative pseudo-handles), which is what callers
# such as asyncio's proactor use as keys; 32 bits, for 32-bit Windows too.
OWN_KEY = 0x574F5F03  # "WO_" and 3

_STATUS_MASK = 0xFFFFFFFF  # the NTSTATUS is the low 32 bits of Internal (a ULONG_PTR)
_NT_ERROR_BIT = 0x80000000  # set in warnings and errors: NT_SUCCESS(s) is s >= 0 (signed)
_NT_SEVERITY, _NT_WARNING = 0xC0000000, 0x80000000  # the two top bits; 2 is "warning"


class State(enum.Enum):
    NEW = "new"
    PENDING = "pending"
    DONE = "done"


class Submitted(enum.Enum):
    """What the submitting call (WSARecv, WSASend, ...) said about the I/O."""

    PENDING = "pending"  # WSA_IO_PENDING: started, not finished
    SUCCEEDED = "succeeded"  # 0: finished within the call
    WARNED = "warned"  # finished within the call with an NT warning status
    REFUSED = "refused"  # any other error: nothing was started


_PENDING_CODES = frozenset({WSA_IO_PENDING, ERROR_IO_PENDING})
# Read for every operation: module constants cost less than Enum attribute lookups.
_NEW, _PENDING, _DONE = State.NEW, State.PENDING, State.DONE
_STARTED, _SUCCEEDED, _REFUSED = Submitted.PENDING, Submitted.SUCCEEDED, Submitted.REFUSED


def submitted(code: int | None, internal: int = STATUS_PENDING) -> Submitted:
    """Classify a submitting call by the error it left (None or 0: it succeeded).

    ``internal`` is what OVERLAPPED.Internal holds after a failed call.  An I/O
    that finished within the call with an NT *warning* (STATUS_BUFFER_OVERFLOW:
    a datagram or message larger than the buffers, reported as WSAEMSGSIZE or
    ERROR_MORE_DATA) has its status written there, as for a success; an error
    returned at once leaves it unwritten (STATUS_PENDING, as seeded before the
    call).  So the same WSAEMSGSIZE is a warning after a truncated receive and
    a refusal after an oversized send (on Windows; Wine writes the warning
    for both, and delivers both).
    """
    if not code:
        return _SUCCEEDED
    if code in _PENDING_CODES:
        return _STARTED
    if internal & _NT_SEVERITY == _NT_WARNING:
        return Submitted.WARNED
    return _REFUSED


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
    if how is _REFUSED:
        return False
    return not (skip_on_success and how is not _STARTED)


def status_code(internal: int) -> int:
    """The Win32 error code of an I/O's final status, read from its Internal (or
    an OVERLAPPED_ENTRY's): 0 if it succeeded (warnings are errors here)."""
    status = internal & _STATUS_MASK
    return int(RtlNtStatusToDosError(status)) if status & _NT_ERROR_BIT else ERROR_SUCCESS


# --- the submitting calls' answers, as one error code ----------------------------------


def socket_call(function: Callable[..., int], *args: object) -> int:
    """Run an unchecked Winsock submitting call (``_unchecked.WSASEND``, ...): 0 if it
    finished, else the error it left (WSA_IO_PENDING included)."""
    if function(*args) != SOCKET_ERROR:
        return ERROR_SUCCESS
    return ctypes.get_last_error()


def bool_call(function: Callable[..., int], *args: object) -> int:
    """Run a checked BOOL submitting call (ReadFile, AcceptEx, ...): 0 if it finished,
    else the error it left."""
    try:
        accepted = function(*args)
    except OSError as exc:
        return exc.winerror or ctypes.get_last_error()
    return ERROR_SUCCESS if accepted else ctypes.get_last_error()


# --- what the core asks of its collaborators ------------------------------------------


class Notifier(Protocol):
    """How the end of an I/O is learned: what the core asks of each way.

    The notifiers of ``winsock_ov.notify`` subclass it and keep the defaults
    that fit them.  (The defaults say ``return None``: a protocol method whose
    body is only a docstring is abstract to type checkers.)
    """

    __slots__ = ()
    # The lpCompletionRoutine to submit with (a ctypes function pointer), or None.
    routine: object = None
    # Its end can be read from OVERLAPPED.Internal by anyone: it is completed by
    # whoever sees it first, and at once when it finished within its call.
    observable: bool = False
    # FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set on the handle.
    skip_on_success: bool = False

    def arm(self, io: OverlappedIO) -> None:
        """Before the submitting call."""
        return None

    def disarm(self, io: OverlappedIO) -> None:
        """Once the I/O is done (in ``complete``)."""
        return None

    def observe(self, io: OverlappedIO) -> None:
        """Complete ``io`` if its end can be seen now, without waiting."""
        return None

    def wait(self, io: OverlappedIO, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds (None: forever) for ``io`` to be done."""
        raise NotImplementedError

    def deliver(self, io: OverlappedIO, code: int, nbytes: int, flags: int) -> None:
        """Windows delivered the outcome to the routine thunk, which claimed ``io``."""
        io.complete(code, nbytes, flags)

    def hand_out(self, io: OverlappedIO, owner: object) -> None:
        """``io`` finished within its call and Windows delivers nothing for it
        (skip-on-success): have it reported all the same (a port binding's)."""
        return None

    def ends_through(self, port: object) -> bool:
        """Whether this I/O's end is dequeued from ``port``."""
        return False


# on_done(code, nbytes, flags) records the outcome; it may return a callable to
# run once the I/O is DONE (an operation's done callbacks, which may look at it).
OnDone = Callable[[int, int, Optional[int]], Optional[Callable[[], None]]]
# call(handle, overlapped, routine): the submitting call; the error it left (0: none).
SubmitCall = Callable[[int, OVERLAPPED, object], int]


class OverlappedIO:
    """One overlapped I/O: its OVERLAPPED, its owner, its notifier and its state.

    ``owner`` is kept alive from ``submit`` until ``complete``; ``on_done(code,
    nbytes, flags)`` is called once, on completion (``code`` a Win32 or Winsock
    error code, 0 for success; ``flags`` None unless a routine reported them);
    what it returns, if not None, is called once the state is DONE.  While
    PENDING the I/O is in ``inflight``, if given (a socket's operations, a
    poller's requests).
    """

    __slots__ = ("__weakref__", "address", "handle", "immediate", "inflight", "notifier",
                 "on_done", "overlapped", "owner", "routine_lost", "state")

    def __init__(self, owner: object, on_done: OnDone | None, notifier: Notifier,
                 inflight: set[OverlappedIO] | None = None) -> None:
        self.overlapped = OVERLAPPED()
        self.address = addressof(self.overlapped)
        self.owner: object = owner
        self.on_done = on_done
        self.notifier = notifier
        self.inflight = inflight
        self.handle = 0
        self.state = _NEW
        self.immediate = False  # finished within the submitting call
        self.routine_lost = False  # finished without its routine: its thread exited

    # --- submitting -----------------------------------------------------------------

    def submit(self, handle: int, call: SubmitCall) -> tuple[Submitted, int]:
        """Start the I/O: ``call(handle, overlapped, routine)`` makes the submitting call
        and returns the error it left (``socket_call``, ``bool_call``).

        Returns how the call ended and its code.  A refused I/O is complete when
        this returns (nothing was started); raising is the caller's choice.  One
        object, one I/O: a second ``submit`` raises ValueError.
        """
        if self.state is not _NEW:
            raise ValueError("this operation was already started (one object, one operation)")
        ov = self.overlapped
        ov.Internal = STATUS_PENDING
        notifier = self.notifier
        notifier.arm(self)
        self.handle = handle
        self.state = _PENDING
        if self.inflight is not None:
            self.inflight.add(self)
        registry.add(self)  # before the call: its completion may be observed at once
        # An exception from the call (an interrupt raised as it returned, say)
        # leaves the I/O registered: it may have started.
        code = call(handle, ov, notifier.routine)
        if code in _PENDING_CODES:
            return _STARTED, code
        how = submitted(code, ov.Internal) if code else _SUCCEEDED
        self.immediate = how is not _REFUSED
        # The one place that decides whether a completion is still delivered
        # (completion_follows states the OS rule).
        if how is _REFUSED:
            if registry.claim(self.address) is self:
                self.complete(code, 0, None)
        elif notifier.observable:
            # Internal/InternalHigh hold its outcome now: finished here.
            if registry.claim(self.address) is self:
                self.complete_with_status()
        elif not completion_follows(how, skip_on_success=notifier.skip_on_success):
            # A port's handle that skips the packets of what finishes within the
            # call: finished here, and handed out by the port as if dequeued.
            if registry.claim(self.address) is self:
                notifier.hand_out(self, self.complete_with_status())
        return how, code

    # --- completing (exactly once, by whoever claimed it from the registry) ----------

    def complete(self, code: int, nbytes: int, flags: int | None) -> object:
        """The one completion entry point; returns the owner.

        DONE is set last: an observer on another thread that sees it finds the
        outcome recorded.
        """
        owner, on_done = self.owner, self.on_done
        self.owner = self.on_done = None  # Windows is done: nothing to keep any more
        after = None
        try:
            self.notifier.disarm(self)
            if self.inflight is not None:
                self.inflight.discard(self)
            if on_done is not None:
                after = on_done(code, nbytes, flags)
        finally:
            self.state = _DONE
        if after is not None:
            after()
        return owner

    def complete_with_status(self, internal: int | None = None, nbytes: int = 0) -> object:
        """Complete with the final status Windows wrote: a packet's (an
        OVERLAPPED_ENTRY's Internal, and its count) or, with none given, the
        OVERLAPPED's own (Internal, InternalHigh).  Returns the owner."""
        if internal is None:
            ov = self.overlapped
            internal, nbytes = ov.Internal, ov.InternalHigh
        # Bit 31 of Internal is the NTSTATUS's error-or-warning bit, whatever the
        # upper half holds: the translation is only looked up for those.
        return self.complete(status_code(internal) if internal & _NT_ERROR_BIT else ERROR_SUCCESS,
                             nbytes, None)

    def finished_by_os(self) -> bool:
        """True once Windows wrote the final status (the I/O itself is over)."""
        return bool((self.overlapped.Internal & _STATUS_MASK) != STATUS_PENDING)

    def claim_finished(self) -> bool:
        """Complete it from its OVERLAPPED if Windows finished it; True if this call did."""
        if self.state is _PENDING and self.finished_by_os() \
                and registry.claim(self.address) is self:
            self.complete_with_status()
            return True
        return False

    # --- observing, waiting, cancelling ---------------------------------------------

    def observe(self) -> bool:
        """Complete it if its end can be seen without waiting (its notifier's way);
        True once done."""
        if self.state is _PENDING:
            self.notifier.observe(self)
        return self.state is _DONE

    def wait(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds (None: forever) the notifier's way; True once done."""
        if self.state is _DONE:
            return True
        return self.notifier.wait(self, timeout)

    def cancel(self) -> bool:
        """CancelIoEx on this I/O; True if the request found it (not ERROR_NOT_FOUND).

        A request, not an ending: it still completes, as aborted or (if it won
        the race) as it would have.
        """
        if self.state is not _PENDING:
            return False
        try:
            CancelIoEx(self.handle, byref(self.overlapped))
        except OSError as exc:
            if exc.winerror == ERROR_NOT_FOUND:
                return False
            raise
        return True

    def cancel_for_exit(self) -> None:
        """Best effort at interpreter exit (the handle may be closed by now)."""
        try:
            self.cancel()
        except OSError:
            pass

    def ends_through(self, port: object) -> bool:
        """Whether its end is dequeued from ``port`` (``CompletionPort.close``)."""
        return self.notifier.ends_through(port)

    def __repr__(self) -> str:
        return f"<OverlappedIO {self.state.value} at {self.address:#x}>"
