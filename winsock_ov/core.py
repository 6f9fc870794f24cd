"""The life of one overlapped I/O, written once for every layer.

An ``OverlappedIO`` knows a handle, a submitting call and a *notifier* (how its
end is learned: ``winsock_ov.notify``); it does not know what the handle is.
The object layer's operations, the drop-in ``_overlapped`` module and whatever
comes next are different submitting calls on this one core.

Life: NEW -> PENDING (``submit``) -> DONE (``complete``, exactly once).  From
``submit`` until Windows is done with the I/O the registry holds it, keyed by
the address of its OVERLAPPED, and it holds its *owner*: the object that keeps
the buffers, address storage and counters the kernel may write.  Whoever
claims it from the registry completes it:

* observed and event notifiers: the first observer that finds
  OVERLAPPED.Internal no longer STATUS_PENDING (a wait, ``done``, a reap);
* routine notifier: the process-wide thunk Windows calls during an alertable
  wait of the issuing thread (or a reap, once that thread has exited);
* port binding: the dequeue of its packet.

Memory the kernel may write is never released before that: an I/O Windows
still owns at interpreter exit is leaked on purpose (see ``_registry``).
"""

from __future__ import annotations

import ctypes
import enum
from ctypes import addressof, byref
from typing import Any, Callable, Optional

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
    WSARecv,
    WSARecvFrom,
    WSASend,
    WSASendTo,
    unchecked,
)

__all__ = [
    "WSARECV",
    "WSARECVFROM",
    "WSASEND",
    "WSASENDTO",
    "OverlappedIO",
    "Relay",
    "State",
    "Submitted",
    "bool_call",
    "completion_follows",
    "socket_call",
    "status_code",
    "submitted",
]

STATUS_MASK = 0xFFFFFFFF  # the NTSTATUS is the low 32 bits of Internal
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
_STARTED, _SUCCEEDED = Submitted.PENDING, Submitted.SUCCEEDED


def submitted(code: int | None, status: int = STATUS_PENDING) -> Submitted:
    """Classify a submitting call by the error it left (None or 0: it succeeded).

    ``status`` is what OVERLAPPED.Internal holds after a failed call.  An I/O
    that finished within the call with an NT *warning* (STATUS_BUFFER_OVERFLOW:
    a datagram or message larger than the buffers, reported as WSAEMSGSIZE or
    ERROR_MORE_DATA) has its status written there, as for a success; an error
    returned at once leaves it unwritten (STATUS_PENDING, as seeded before the
    call).  So the same WSAEMSGSIZE is a warning after a truncated receive and
    a refusal after an oversized send (on Windows; Wine writes the warning
    for both, and delivers both).
    """
    if not code:
        return Submitted.SUCCEEDED
    if code in _PENDING_CODES:
        return Submitted.PENDING
    if status & _NT_SEVERITY == _NT_WARNING:
        return Submitted.WARNED
    return Submitted.REFUSED


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
    if how is Submitted.REFUSED:
        return False
    return not (skip_on_success and how is not Submitted.PENDING)


def status_code(status: int) -> int:
    """The Win32 error code of an I/O's final NTSTATUS (0 if it succeeded)."""
    return int(RtlNtStatusToDosError(status)) if status & _NT_ERROR_BIT else ERROR_SUCCESS


# --- the submitting calls' answers, as one error code ----------------------------------
# The Winsock calls made for every operation are called unchecked (raw.unchecked:
# pointer parameters as c_void_p, pass byref() of structures; nothing raised);
# the raw layer's checked functions raise every error but the "pending" one,
# which they return as FALSE, leaving GetLastError() answering it.

WSASEND = unchecked(WSASend)
WSASENDTO = unchecked(WSASendTo)
WSARECV = unchecked(WSARecv)
WSARECVFROM = unchecked(WSARecvFrom)


def socket_call(function: Any, *args: Any) -> int:
    """Run an unchecked Winsock submitting call (``WSASEND``, ...): 0 if it finished,
    else the error it left (WSA_IO_PENDING included)."""
    if function(*args) != SOCKET_ERROR:
        return ERROR_SUCCESS
    return ctypes.get_last_error()


def bool_call(function: Any, *args: Any) -> int:
    """Run a checked BOOL submitting call (ReadFile, AcceptEx, ...): 0 if it finished,
    else the error it left."""
    try:
        accepted = function(*args)
    except OSError as exc:
        return exc.winerror or ctypes.get_last_error()
    return ERROR_SUCCESS if accepted else ctypes.get_last_error()


class Relay:
    """An owner that hands its completion on instead of being reported itself.

    A port's dequeue reports what the I/O's ``on_done`` completed and handed to
    the port (``CompletionPort.report``), not this owner: an AFD poll request
    ends the waits of its socket (``winsock_ov.poll``).
    """

    __slots__ = ()


# on_done(code, nbytes, flags) records the outcome; it may return a callable to
# run once the I/O is DONE (an operation's done callbacks, which may look at it).
OnDone = Callable[[int, int, Optional[int]], Optional[Callable[[], None]]]
SubmitCall = Callable[[int, Any, Any], int]


class OverlappedIO:
    """One overlapped I/O: its OVERLAPPED, its owner, its notifier and its state.

    ``owner`` is kept alive from ``submit`` until ``complete``; ``on_done(code,
    nbytes, flags)`` is called once, on completion (``code`` a Win32 or Winsock
    error code, 0 for success; ``flags`` None unless a routine reported them);
    what it returns, if not None, is called once the state is DONE.
    """

    __slots__ = ("__weakref__", "address", "handle", "immediate", "notifier", "on_done",
                 "overlapped", "owner", "routine_lost", "state")

    def __init__(self, owner: Any, on_done: OnDone | None, notifier: Any) -> None:
        self.overlapped = OVERLAPPED()
        self.address = addressof(self.overlapped)
        self.owner = owner
        self.on_done = on_done
        self.notifier = notifier
        self.handle = 0
        self.state = State.NEW
        self.immediate = False  # finished within the submitting call
        self.routine_lost = False  # finished without its routine: its thread exited

    # --- submitting -----------------------------------------------------------------

    def submit(self, handle: int, call: SubmitCall) -> tuple[Submitted, int]:
        """Start the I/O: ``call(handle, overlapped, routine)`` makes the submitting call
        and returns the error it left (``socket_call``, ``bool_call``).

        Returns how the call ended and its code.  A refused I/O is complete when
        this returns (nothing was started); raising is the caller's choice.
        """
        if self.state is not _NEW:
            raise ValueError("this operation was already started (one object, one operation)")
        ov = self.overlapped
        ov.Internal = STATUS_PENDING
        notifier = self.notifier
        notifier.arm(self)
        self.handle = handle
        self.state = _PENDING
        registry.add(self)  # before the call: its completion may be observed at once
        # An exception from the call (an interrupt raised as it returned, say)
        # leaves the I/O registered: it may have started.
        code = call(handle, ov, notifier.routine)
        if code in _PENDING_CODES:
            return _STARTED, code
        how = submitted(code, ov.Internal & STATUS_MASK) if code else _SUCCEEDED
        self.immediate = how is not Submitted.REFUSED
        # The one place that decides whether a completion is still delivered
        # (completion_follows states the OS rule).  An observed I/O is finished
        # here either way: Internal/InternalHigh hold its outcome now.  A routine
        # or port I/O waits for the delivery, unless none follows.
        if how is Submitted.REFUSED:
            if registry.claim(self.address) is self:
                self.complete(code, 0, None)
        elif notifier.observable or not completion_follows(
                how, skip_on_success=notifier.skip_on_success):
            if registry.claim(self.address) is self:
                self.complete_from_overlapped()
        return how, code

    # --- completing (exactly once, by whoever claimed it from the registry) ----------

    def complete(self, code: int, nbytes: int, flags: int | None) -> Any:
        """The one completion entry point; returns the owner.

        DONE is set last: an observer on another thread that sees it finds the
        outcome recorded.
        """
        owner, on_done = self.owner, self.on_done
        self.owner = self.on_done = None  # Windows is done: nothing to keep any more
        after = None
        try:
            self.notifier.disarm(self)
            if on_done is not None:
                after = on_done(code, nbytes, flags)
        finally:
            self.state = _DONE
        if after is not None:
            after()
        return owner

    def complete_from_overlapped(self) -> Any:
        """Complete with the outcome Windows wrote into the OVERLAPPED."""
        ov = self.overlapped
        status = ov.Internal & STATUS_MASK
        return self.complete(status_code(status) if status & _NT_ERROR_BIT else ERROR_SUCCESS,
                             ov.InternalHigh, None)

    def complete_from_status(self, status: int, nbytes: int) -> Any:
        """Complete with a packet's status (an OVERLAPPED_ENTRY's Internal)."""
        return self.complete(status_code(status), nbytes, None)

    def finished_by_os(self) -> bool:
        """True once Windows wrote the final status (the I/O itself is over)."""
        return bool((self.overlapped.Internal & STATUS_MASK) != STATUS_PENDING)

    def claim_finished(self) -> bool:
        """Complete it from its OVERLAPPED if Windows finished it; True if this call did."""
        if self.state is State.PENDING and self.finished_by_os() \
                and registry.claim(self.address) is self:
            self.complete_from_overlapped()
            return True
        return False

    # --- observing, waiting, cancelling ---------------------------------------------

    def poll(self) -> None:
        """Complete it if its end can be observed without waiting (registry reaping)."""
        if self.state is State.PENDING:
            self.notifier.poll(self)

    def poll_done(self) -> bool:
        self.poll()
        return self.state is State.DONE

    def wait(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds (None: forever) the notifier's way; True once done."""
        if self.state is State.DONE:
            return True
        return bool(self.notifier.wait(self, timeout))

    def cancel(self) -> bool:
        """CancelIoEx on this I/O; True if the request found it (not ERROR_NOT_FOUND).

        A request, not an ending: it still completes, as aborted or (if it won
        the race) as it would have.
        """
        if self.state is not State.PENDING:
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

    def __repr__(self) -> str:
        return f"<OverlappedIO {self.state.value} at {self.address:#x}>"
