"""Timeouts: seconds as callers give them, milliseconds as Win32 takes them, and
the deadline of a wait made of several calls.

Every timeout of the library is seconds: None or ``float("inf")`` waits forever,
NaN or a negative number raises ValueError, anything but a number TypeError.
Win32 waits take a DWORD of milliseconds where INFINITE (0xFFFFFFFF) is
forever, so a finite timeout is rounded up (a wait never ends early) and one
of INFINITE - 1 milliseconds (about 49.7 days) or more is refused: Windows
could not tell it from forever.
"""

from __future__ import annotations

import math
from time import monotonic

from .raw import INFINITE

__all__ = ["MAX_TIMEOUT_MS", "Deadline", "check_timeout", "milliseconds"]

MAX_TIMEOUT_MS = INFINITE - 1
_LONGEST = MAX_TIMEOUT_MS / 1000  # seconds: ceil(_LONGEST * 1000) is still MAX_TIMEOUT_MS


def check_timeout(timeout: float | None) -> float | None:
    """A timeout in seconds, checked: None or infinity is forever (None)."""
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
    """A timeout in seconds as a Win32 millisecond count (INFINITE for forever)."""
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


class Deadline:
    """When a wait of ``timeout`` seconds (None: forever), counted from ``start``
    (a ``time.monotonic()`` reading; now if not given), runs out.

    For waits made of several calls (a dequeue that got a packet of nothing of
    ours, a wait that ends for another operation's signal): each call waits
    for what is left.
    """

    __slots__ = ("end",)

    def __init__(self, timeout: float | None, start: float | None = None) -> None:
        self.end = None if timeout is None else (
            monotonic() if start is None else start) + timeout

    def left(self) -> float | None:
        """Seconds left (0.0 once passed), None for forever."""
        end = self.end
        return None if end is None else max(0.0, end - monotonic())

    def milliseconds(self) -> int:
        """What is left as a Win32 wait's milliseconds (INFINITE for forever)."""
        return milliseconds(self.left())

    def passed(self) -> bool:
        return self.end is not None and monotonic() >= self.end
