"""ctypes array types, made once per (item type, length) and kept.

``c_char * n`` makes a new class whenever no array of that type is alive (ctypes
caches them weakly): a class costs microseconds to build, and when its last
array goes it is garbage the cycle collector must find (class objects refer to
themselves).  Buffers made per operation would do that for every operation;
these stay, bounded by the cache's size.
"""

from __future__ import annotations

import functools
from ctypes import c_char
from typing import Any

__all__ = ["array_type", "char_buffer"]


@functools.lru_cache(maxsize=256)
def array_type(item_type: Any, length: int) -> Any:
    """``item_type * length``, the same class every time (while it stays cached)."""
    return item_type * length


def char_buffer(size: int) -> Any:
    """A zeroed ``c_char`` array of ``size`` bytes."""
    return array_type(c_char, size)()
