"""Integer argument checks, made before anything is created.

Left to ctypes, a str or a float raises ``ctypes.ArgumentError`` and an int too
large for its C type is silently truncated (a completion key of 2**64 becomes
0, a socket type of 2**32 + 1 becomes SOCK_STREAM).  These raise TypeError for
anything but an int (bools included) and ValueError for an int out of range
(the drop-in module asks for the C module's OverflowError instead).
"""

from __future__ import annotations

from ctypes import c_void_p, sizeof
from typing import Any

_POINTER_BITS = 8 * sizeof(c_void_p)
ULONG_PTR_MAX = (1 << _POINTER_BITS) - 1  # completion keys, SOCKET handles
HANDLE_MIN = -(1 << (_POINTER_BITS - 1))  # pseudo-handles are negative: -1 is this process
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
DWORD_MAX = 0xFFFFFFFF


# ``value`` is Any below: whatever a caller passed, which these functions check.


def check_int(name: str, value: Any, low: int, high: int, *, why_high: str = "",
              too_low: type[Exception] = ValueError,
              too_high: type[Exception] = ValueError) -> int:
    """``value`` if it is an int (not a bool) in ``low..high``; else TypeError, or
    ``too_low`` / ``too_high`` (ValueError unless a caller's convention says
    otherwise: the drop-in module raises the C module's OverflowError), the
    latter saying ``why_high`` the limit is what it is."""
    if value.__class__ is int and low <= value <= high:  # the common case, first
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < low:
        raise too_low(f"{name} must be in {low}..{high}, not {value}")
    if value > high:
        raise too_high(f"{name} must be in {low}..{high}, not {value}"
                       + (f": {why_high}" if why_high else ""))
    number: int = value  # an int by now (older mypy does not narrow Any)
    return number


def check_c_int(name: str, value: Any) -> int:
    """For an INT parameter (family, type, backlog, option level, ...)."""
    return check_int(name, value, INT_MIN, INT_MAX)


def check_dword(name: str, value: Any) -> int:
    return check_int(name, value, 0, DWORD_MAX)


def check_ulong_ptr(name: str, value: Any) -> int:
    """For a pointer-sized unsigned parameter: a completion key, a SOCKET."""
    return check_int(name, value, 0, ULONG_PTR_MAX)


def check_handle(name: str, value: Any) -> int:
    """For a HANDLE parameter: pointer-sized, negative pseudo-handles included."""
    return check_int(name, value, HANDLE_MIN, ULONG_PTR_MAX)


def check_length(name: str, value: Any) -> int:
    """A byte count for one operation: WSABUF.len and the counts are 32-bit."""
    if value.__class__ is int and 0 <= value <= DWORD_MAX:  # the common case, first
        return value
    return check_int(name, value, 0, DWORD_MAX,
                     why_high="4 GiB - 1 bytes is the most Winsock transfers in one operation")


def check_flags(flags: Any) -> int:
    """MSG_* and TF_* flags: a DWORD."""
    if flags.__class__ is int and 0 <= flags <= DWORD_MAX:  # the common case, first
        return flags
    return check_dword("flags", flags)
