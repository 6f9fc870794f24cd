"""User code run on Windows' schedule, and what it raises.

Two kinds of user code run inside a call of the library rather than where the
user called it: completion routines (run by Windows during an alertable wait
of the issuing thread, through the thunk of ``winsock_ov.notify``) and done
callbacks (run by whichever call ended an operation or a poll wait: a dequeue,
a wait, ``cancel()``).  What they raise is never printed and swallowed: it is
kept, per thread, and raised by the library call that ran them, once every
other due routine or callback has run too.  If several raised, the ordinary
exceptions come as one ``RoutineErrors`` (an ExceptionGroup on 3.11+); a
KeyboardInterrupt, SystemExit or the like is raised as it is, the others as
its ``__context__``.
"""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

from .errors import RoutineErrors

__all__ = ["raise_routine_errors", "run_done_callbacks", "stash_routine_error"]

_local = threading.local()
_T = TypeVar("_T")


def stash_routine_error(error: BaseException) -> None:
    """Keep an exception raised by a completion routine for the wait that ran it."""
    errors = getattr(_local, "errors", None)
    if errors is None:
        errors = _local.errors = []
    errors.append(error)


def run_done_callbacks(subject: _T, callbacks: list[Callable[[_T], object]]) -> None:
    """Call each of ``callbacks`` (taken off the list one at a time: a callback added
    by another thread meanwhile runs once, here or there) with ``subject``; what
    one raises is kept for the call that ended ``subject`` (raise_routine_errors)."""
    while callbacks:
        try:
            callback = callbacks.pop(0)
        except IndexError:  # taken by the other thread
            return
        try:
            callback(subject)
        except BaseException as exc:  # raised by the caller
            stash_routine_error(exc)


def raise_routine_errors() -> None:
    """Raise what routines run on this thread raised, if anything."""
    errors = getattr(_local, "errors", None)
    if not errors:
        return
    _local.errors = []
    # An exception group of RoutineErrors' kind may hold Exceptions only.
    interrupt = next((e for e in errors if not isinstance(e, Exception)), None)
    exceptions = [e for e in errors if isinstance(e, Exception)]
    group: BaseException | None = None
    if exceptions:
        group = exceptions[0] if len(exceptions) == 1 else RoutineErrors(
            f"{len(exceptions)} completion routines raised", exceptions)
    if interrupt is None:
        assert group is not None
        raise group
    interrupt.__context__ = group
    raise interrupt
