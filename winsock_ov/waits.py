"""The waits of the seed's programs, alertable or not, on events and handles.

A completion routine runs only on the thread that issued its operation, and only
while that thread sits in an *alertable* wait: ``sleep_ex``,
``wait_for_single_object_ex``, ``wait_for_multiple_objects_ex`` or
``wait_for_multiple_events`` with ``alertable=True`` (the seed's SleepEx,
WaitForSingleObjectEx, WaitForMultipleObjectsEx and WSAWaitForMultipleEvents).
Such a wait returns ``WaitStatus.IO_COMPLETION`` once routines ran.  Waiting on
another thread never runs them.  What a routine raised is raised by the wait
that ran it (``winsock_ov._callbacks``); routines run by an alertable wait made
outside these functions raise from the next one called on that thread.

Every wait here answers Ctrl-C on the main thread within a slice
(``winsock_ov._interrupt``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Callable, NamedTuple

from . import _arrays as arrays
from ._callbacks import raise_routine_errors
from ._checks import check_handle
from ._interrupt import check as check_interrupt
from ._interrupt import guard, sliced
from ._timeouts import Deadline, milliseconds
from .raw import (
    HANDLE,
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
    "sleep_ex",
    "sleep_until",
    "wait_for_handle",
    "wait_for_multiple_events",
    "wait_for_multiple_objects_ex",
    "wait_for_single_object_ex",
]


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


def _handle_of(obj: object) -> int:
    """The handle of an Event (its ``handle``), a WSAEVENT or HANDLE, or an int."""
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


def wait_for_single_object_ex(obj: object, timeout: float | None = None,
                              alertable: bool = True) -> WaitResult:
    """WaitForSingleObjectEx on an Event (or any waitable handle)."""
    handle = _handle_of(obj)
    with guard():
        code = wait_for_handle(handle, milliseconds(timeout), bool(alertable))
    return _after(_outcome(code, 1))


def wait_for_multiple_objects_ex(objs: Iterable[object], wait_all: bool = False,
                                 timeout: float | None = None,
                                 alertable: bool = True) -> WaitResult:
    """WaitForMultipleObjectsEx on up to MAXIMUM_WAIT_OBJECTS (64) objects."""
    return _wait_for_many(WaitForMultipleObjectsEx, HANDLE, MAXIMUM_WAIT_OBJECTS, objs,
                          wait_all, timeout, alertable)


def wait_for_multiple_events(events: Iterable[object], wait_all: bool = False,
                             timeout: float | None = None,
                             alertable: bool = False) -> WaitResult:
    """WSAWaitForMultipleEvents on up to WSA_MAXIMUM_WAIT_EVENTS (64) events.

    With ``wait_all`` the result's ``which`` is some signaled event's index (the
    lowest, per MSDN); otherwise that of the event that ended the wait.
    """
    return _wait_for_many(WSAWaitForMultipleEvents, WSAEVENT, WSA_MAXIMUM_WAIT_EVENTS, events,
                          wait_all, timeout, alertable)


def _wait_for_many(function: Callable[..., int], item_type: type, limit: int,
                   objs: Iterable[object], wait_all: bool, timeout: float | None,
                   alertable: bool) -> WaitResult:
    """WaitForMultipleObjectsEx or WSAWaitForMultipleEvents (the same arguments):
    up to ``limit`` handles in an array of ``item_type``."""
    handles = [_handle_of(obj) for obj in objs]
    if not handles:
        raise ValueError("nothing to wait for")
    if len(handles) > limit:
        raise ValueError(f"at most {limit} objects can be waited on at once, not {len(handles)}")
    count = len(handles)
    array = arrays.array_type(item_type, count)(*handles)
    wait_all, alertable = bool(wait_all), bool(alertable)
    with guard():
        code = sliced(lambda ms: function(count, array, wait_all, ms, alertable),
                      milliseconds(timeout), _waited)
    return _after(_outcome(code, count))


def sleep_until(predicate: Callable[[], bool], timeout: float | None) -> bool:
    """Check ``predicate`` at growing intervals (1 ms to 50 ms) until true; False
    once ``timeout`` seconds passed (None: never).

    For the rare completions nothing can be waited on (see ``winsock_ov.notify``).
    Ctrl-C is answered between two checks (see ``_interrupt``).
    """
    deadline = Deadline(timeout)
    interval = 0.001
    while not predicate():
        check_interrupt()
        left = deadline.left()
        if left == 0.0:
            return False
        SleepEx(milliseconds(interval if left is None else min(interval, left)), False)
        interval = min(interval * 2, 0.05)
    return True
