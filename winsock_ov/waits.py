"""Waits, alertable or not, and the delivery of completion-routine exceptions.

A completion routine runs only on the thread that issued its operation, and only
while that thread sits in an *alertable* wait: ``sleep_ex``,
``wait_for_single_object_ex``, ``wait_for_multiple_objects_ex`` or
``wait_for_multiple_events`` with ``alertable=True`` (the seed's SleepEx,
WaitForSingleObjectEx, WaitForMultipleObjectsEx and WSAWaitForMultipleEvents).
Such a wait returns ``WaitStatus.IO_COMPLETION`` once routines ran.  Waiting on
another thread never runs them.

An exception raised inside a routine is kept (never printed and swallowed) and
re-raised by the wait that ran it, after every other queued routine has run; if
several raised, ``RoutineErrors`` holds them all.  Routines run by an alertable
wait made outside these helpers raise from the next helper called on that thread.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Iterable
from typing import Any, Callable, NamedTuple

from . import _arrays as arrays
from ._checks import check_handle
from ._interrupt import check as check_interrupt
from ._interrupt import guard, sliced
from .errors import RoutineErrors
from .raw import (
    HANDLE,
    INFINITE,
    MAXIMUM_WAIT_OBJECTS,
    WAIT_ABANDONED_0,
    WAIT_IO_COMPLETION,
    WAIT_OBJECT_0,
    WAIT_TIMEOUT,
    WSA_MAXIMUM_WAIT_EVENTS,
    WSAEVENT,
    SleepEx,
    WaitForMultipleObjectsEx,
    WaitForSingleObjectEx,
    WSAWaitForMultipleEvents,
    winerror_exception,
)

__all__ = [
    "WaitResult",
    "WaitStatus",
    "check_timeout",
    "milliseconds",
    "sleep_ex",
    "wait_for_multiple_events",
    "wait_for_multiple_objects_ex",
    "wait_for_single_object_ex",
]

MAX_TIMEOUT_MS = INFINITE - 1
_LONGEST = MAX_TIMEOUT_MS / 1000  # seconds: ceil(_LONGEST * 1000) is still MAX_TIMEOUT_MS


class WaitStatus(enum.Enum):
    """How a wait ended (:attr:`WaitResult.status`), from the wait function's return code."""

    #: WAIT_OBJECT_0 + n: the object (or, with ``wait_all``, every object) is signaled.
    SIGNALED = "signaled"
    #: WAIT_ABANDONED_0 + n: a mutex whose owner thread exited without releasing it.
    ABANDONED = "abandoned"
    #: WAIT_TIMEOUT: the timeout passed first.
    TIMEOUT = "timeout"
    #: WAIT_IO_COMPLETION: an alertable wait ended because completion routines
    #: (or other APCs) ran on this thread.
    IO_COMPLETION = "io_completion"  # completion routines (or APCs) ran


class WaitResult(NamedTuple):
    """What a wait function returns: how the wait ended, and which handle ended it."""

    #: How the wait ended.
    status: WaitStatus
    #: The index of the handle in the list waited on, for SIGNALED and ABANDONED
    #: (with ``wait_all``, the lowest index: they all are); else None.
    which: int | None = None  # the index of the handle, for SIGNALED and ABANDONED

    @property
    def signaled(self) -> bool:
        """True if the status is :attr:`WaitStatus.SIGNALED`."""
        return self.status is WaitStatus.SIGNALED


def check_timeout(timeout: float | None) -> float | None:
    """A timeout in seconds, checked: None or infinity is forever (None).

    NaN and negative numbers raise ValueError, anything but a number TypeError.
    """
    if timeout is None:
        return None
    if timeout.__class__ is float and 0.0 <= timeout < math.inf:  # the common case; not NaN
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds or None, "
                        f"not {type(timeout).__name__}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds, not {timeout}")
    return None if math.isinf(timeout) else timeout


def milliseconds(timeout: float | None) -> int:
    """A timeout in seconds as a Win32 millisecond count.

    None and ``float("inf")`` wait forever (INFINITE); NaN and negative
    numbers raise ValueError, and so does a finite timeout over INFINITE - 1
    milliseconds (about 49.7 days), which Windows could not tell from forever.
    """
    if timeout.__class__ is float and 0.0 <= timeout < _LONGEST:  # the common case; not NaN
        return math.ceil(timeout * 1000)
    timeout = check_timeout(timeout)
    if timeout is None:
        return INFINITE
    ms = math.ceil(timeout * 1000)
    if ms > MAX_TIMEOUT_MS:
        raise ValueError(f"timeout {timeout} s is too long (at most {MAX_TIMEOUT_MS / 1000} s); "
                         "use None to wait forever")
    return ms


# --- routine exceptions, per thread -------------------------------------------------

_local = threading.local()


def stash_routine_error(error: BaseException) -> None:
    """Keep an exception raised by a completion routine for the wait that ran it."""
    errors = getattr(_local, "errors", None)
    if errors is None:
        errors = _local.errors = []
    errors.append(error)


def run_done_callbacks(subject: Any, callbacks: list[Callable[[Any], Any]]) -> None:
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


def routine_errors_pending() -> bool:
    """Whether routines (or done callbacks) run on this thread raised something not raised yet."""
    return bool(getattr(_local, "errors", None))


def raise_routine_errors() -> None:
    """Raise what routines run on this thread raised, if anything."""
    errors = getattr(_local, "errors", None)
    if not errors:
        return
    _local.errors = []
    # A KeyboardInterrupt, SystemExit or the like is raised as it is (the first
    # one), the routines' ordinary exceptions as its context: an exception group
    # of RoutineErrors' kind may hold Exceptions only.
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


# --- the waits ------------------------------------------------------------------------


def _handle_of(obj: Any) -> int:
    handle = getattr(obj, "handle", obj)
    if isinstance(handle, (WSAEVENT, HANDLE)):
        handle = handle.value
    if isinstance(handle, bool) or not isinstance(handle, int):
        raise TypeError(f"expected an Event or a handle, not {type(obj).__name__}")
    return check_handle("handle", handle)


def _outcome(code: int, count: int) -> WaitResult:
    if code == WAIT_TIMEOUT:
        return WaitResult(WaitStatus.TIMEOUT)
    if code == WAIT_IO_COMPLETION:
        return WaitResult(WaitStatus.IO_COMPLETION)
    if WAIT_OBJECT_0 <= code < WAIT_OBJECT_0 + count:
        return WaitResult(WaitStatus.SIGNALED, code - WAIT_OBJECT_0)
    if WAIT_ABANDONED_0 <= code < WAIT_ABANDONED_0 + count:
        return WaitResult(WaitStatus.ABANDONED, code - WAIT_ABANDONED_0)
    raise winerror_exception(code, f"unexpected wait result {code:#x}")


def _slept(code: int) -> bool:
    return code == 0  # SleepEx: the time passed (WAIT_IO_COMPLETION: routines ran)


def _waited(code: int) -> bool:
    return code == WAIT_TIMEOUT


def wait_for_handle(handle: int, milliseconds: int, alertable: bool = False) -> int:
    """WaitForSingleObjectEx's code, waited in slices on the main thread (Ctrl-C
    between them: see ``_interrupt``; call it within ``guard()``)."""
    return int(sliced(lambda ms: WaitForSingleObjectEx(handle, ms, alertable), milliseconds,
                      _waited))


def _after(result: WaitResult) -> WaitResult:
    raise_routine_errors()
    return result


def sleep_ex(timeout: float | None, alertable: bool = True) -> WaitResult:
    """SleepEx: TIMEOUT once ``timeout`` passed, IO_COMPLETION if routines ran first."""
    alertable = bool(alertable)
    with guard():
        code = sliced(lambda ms: SleepEx(ms, alertable), milliseconds(timeout), _slept)
    return _after(WaitResult(WaitStatus.IO_COMPLETION if code == WAIT_IO_COMPLETION
                             else WaitStatus.TIMEOUT))


def wait_for_single_object_ex(obj: Any, timeout: float | None = None,
                              alertable: bool = True) -> WaitResult:
    """WaitForSingleObjectEx on an Event (or any waitable handle)."""
    handle = _handle_of(obj)
    with guard():
        code = wait_for_handle(handle, milliseconds(timeout), bool(alertable))
    return _after(_outcome(code, 1))


def _handle_array(objs: Iterable[Any], limit: int, array_type: Any) -> Any:
    handles = [_handle_of(obj) for obj in objs]
    if not handles:
        raise ValueError("nothing to wait for")
    if len(handles) > limit:
        raise ValueError(f"at most {limit} objects can be waited on at once, not {len(handles)}")
    return arrays.array_type(array_type, len(handles))(*handles)


def wait_for_multiple_objects_ex(objs: Iterable[Any], wait_all: bool = False,
                                 timeout: float | None = None,
                                 alertable: bool = True) -> WaitResult:
    """WaitForMultipleObjectsEx on up to MAXIMUM_WAIT_OBJECTS (64) objects."""
    array = _handle_array(objs, MAXIMUM_WAIT_OBJECTS, HANDLE)
    wait_all, alertable = bool(wait_all), bool(alertable)
    with guard():
        code = sliced(lambda ms: WaitForMultipleObjectsEx(len(array), array, wait_all, ms,
                                                          alertable),
                      milliseconds(timeout), _waited)
    return _after(_outcome(code, len(array)))


def wait_for_multiple_events(events: Iterable[Any], wait_all: bool = False,
                             timeout: float | None = None,
                             alertable: bool = False) -> WaitResult:
    """WSAWaitForMultipleEvents on up to WSA_MAXIMUM_WAIT_EVENTS (64) events.

    With ``wait_all`` the result's ``which`` is some signaled event's index (the
    lowest, per MSDN); otherwise that of the event that ended the wait.
    """
    array = _handle_array(events, WSA_MAXIMUM_WAIT_EVENTS, WSAEVENT)
    wait_all, alertable = bool(wait_all), bool(alertable)
    with guard():
        code = sliced(lambda ms: WSAWaitForMultipleEvents(len(array), array, wait_all, ms,
                                                          alertable),
                      milliseconds(timeout), _waited)
    return _after(_outcome(code, len(array)))


def poll_until(predicate: Any, timeout: float | None) -> bool:
    """Check ``predicate`` at growing intervals (1 ms to 50 ms) until true or timed out.

    For the rare completions nothing can be waited on (see Operation.wait).
    Ctrl-C is answered between two checks (see ``_interrupt``).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    interval = 0.001
    while not predicate():
        check_interrupt()
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return False
        SleepEx(milliseconds(interval if remaining is None else min(interval, remaining)), False)
        interval = min(interval * 2, 0.05)
    return True


