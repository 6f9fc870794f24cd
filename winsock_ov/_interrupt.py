"""Ctrl-C during the library's blocking waits.

Windows hands Ctrl-C (CTRL_C_EVENT) to Python as SIGINT, on a thread of its
own; Python runs the SIGINT handler (raising KeyboardInterrupt by default) on
the main thread, between two bytecodes.  A main thread blocked in
WaitForSingleObjectEx, SleepEx or GetQueuedCompletionStatus reaches no
bytecode until the wait ends, which may be never.  So on the main thread every
blocking wait runs in slices of at most ``SLICE_MS``, and Ctrl-C is looked for
between them: it is answered within one slice.

Ctrl-C must not land in the middle of the library's own bookkeeping either:
between dequeuing a packet and finishing its operation, a KeyboardInterrupt
would lose the completion for good.  So a public wait runs inside ``guard()``:
while it lasts, SIGINT's Python handler is replaced by one that only records
the signal, and the handler the program had is called at a safe point instead:
between two slices (the wait raises KeyboardInterrupt at once; nothing was
taken from Windows) or when the guarded block ends (what the wait took is
recorded first: an operation it finished is done with its outcome, a packet
it dequeued waits in the port for the next dequeue).  A handler that returns
(one that sets a flag) lets the wait go on, as PEP 475 has Python's own
waits do.

Nothing changes off the main thread (no signal is handled there), for a wait
with a 0 ms timeout, or where SIGINT is ignored or left to the C runtime
(SIG_IGN, SIG_DFL).
"""

from __future__ import annotations

import importlib
import signal
import threading
from time import monotonic
from types import FrameType
from typing import Any, Callable, TypeVar

from .raw import INFINITE

__all__ = ["SLICE_MS", "check", "guard", "sliced"]

SLICE_MS = 100  # the longest a main-thread wait goes without looking for Ctrl-C

T = TypeVar("T")

# signal.signal and signal.getsignal without their enum conversions, which cost
# microseconds per call (an exception each time a handler is a function): the
# C functions they wrap (in CPython's _signal).  A guarded wait makes three such calls.
_c_signal = importlib.import_module("_signal")
_get_handler: Callable[[int], Any] = _c_signal.getsignal
_set_handler: Callable[[int, Any], Any] = _c_signal.signal
_SIGINT = int(signal.SIGINT)

_MAIN_THREAD = threading.main_thread().ident
_active: _Guard | None = None  # the main thread's outermost guard


class _Guard:
    """SIGINT's handler replaced, for the main thread's guarded wait."""

    __slots__ = ("frame", "previous", "signalled")

    def __init__(self, previous: Callable[[int, FrameType | None], Any]) -> None:
        self.previous = previous
        self.signalled = False
        self.frame: FrameType | None = None

    def record(self, signum: int, frame: FrameType | None) -> None:
        self.signalled, self.frame = True, frame

    def deliver(self) -> None:
        """Call the program's handler for the Ctrl-C recorded (KeyboardInterrupt
        by default); if it returns, the wait goes on under this guard."""
        self.signalled = False
        _set_handler(_SIGINT, self.previous)
        self.previous(_SIGINT, self.frame)
        _set_handler(_SIGINT, self.record)


class guard:  # lower case: used as ``with guard():``, like contextlib's helpers
    """Protect a blocking wait and its bookkeeping from Ctrl-C (see the module's text).

    Nested guards, other threads and non-Python SIGINT handlers pass through.
    """

    __slots__ = ("_own",)

    def __enter__(self) -> None:
        global _active
        self._own: _Guard | None = None
        if _active is not None or threading.get_ident() != _MAIN_THREAD:
            return
        previous = _get_handler(_SIGINT)
        if not callable(previous):  # SIG_IGN, SIG_DFL, or set outside Python
            return
        own = _Guard(previous)
        # From here on Ctrl-C is recorded, never raised: nothing below can be cut short.
        _set_handler(_SIGINT, own.record)
        self._own = _active = own

    def __exit__(self, *exc_info: object) -> None:
        global _active
        own = self._own
        if own is None:
            return
        _active = None
        _set_handler(_SIGINT, own.previous)
        if own.signalled:  # came during the last slice, or while its result was recorded
            own.previous(_SIGINT, own.frame)


def sliced(wait: Callable[[int], T], milliseconds: int, timed_out: Callable[[T], bool]) -> T:
    """``wait(ms)`` for ``milliseconds`` in all (INFINITE: forever), in slices of
    at most SLICE_MS on the main thread, looking for Ctrl-C between them.

    ``timed_out(result)`` tells a slice that ended by its timeout alone; any
    other result ends the wait and is returned.  Outside a guard, Ctrl-C is
    left to Python between slices.
    """
    if milliseconds <= SLICE_MS or threading.get_ident() != _MAIN_THREAD:
        return wait(milliseconds)
    deadline = None if milliseconds == INFINITE else monotonic() + milliseconds / 1000
    while True:
        left = SLICE_MS if deadline is None else max(0, round((deadline - monotonic()) * 1000))
        result = wait(min(left, SLICE_MS))
        if not timed_out(result) or (deadline is not None and left <= SLICE_MS):
            return result
        check()


def check() -> None:
    """Between two waits of a guarded loop (nothing taken from Windows and not
    recorded): call the program's handler for a Ctrl-C the guard recorded."""
    active = _active
    if active is not None and active.signalled:
        active.deliver()
