"""The process-wide registry of operations the OS may still write to.

Rule: from the moment an I/O is submitted until Windows is done with it, the
registry holds a strong reference to it (a ``core.OverlappedIO``, which holds
its owner), keyed by the address of its OVERLAPPED.  Whatever the caller drops,
the OVERLAPPED, the pinned buffers, the counters and the address storage stay
alive.  An operation leaves the registry
exactly once, claimed by whoever observes its end:

* event style: the first ``wait()``/``result()`` or reap that sees
  ``OVERLAPPED.Internal != STATUS_PENDING``;
* completion-routine style: the routine thunk, when Windows runs it (or the
  reap that finds its issuing thread gone and its I/O finished);
* completion-port style: the dequeue of its packet.

Reaping runs whenever the registry has doubled since the last reap, so dropped
operations cost amortised O(1) and memory stays bounded.  At interpreter exit,
pending operations are cancelled and drained for a bounded time; whatever
Windows still holds after that is leaked on purpose (its reference count is
raised so that not even interpreter finalisation frees it).
"""

from __future__ import annotations

import atexit
import ctypes
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import OverlappedIO

REAP_FLOOR = 64
EXIT_DRAIN_SECONDS = 2.0


class Registry:
    """Every ``core.OverlappedIO`` Windows may still write to, by OVERLAPPED address."""

    def __init__(self) -> None:
        self._ops: dict[int, OverlappedIO] = {}
        self._next_reap = REAP_FLOOR
        self.shutting_down = False
        self.leaked: list[object] = []

    def add(self, io: OverlappedIO) -> None:
        """Hold ``io`` until its end is observed.  Call before submitting it."""
        self._ops[io.address] = io
        if len(self._ops) >= self._next_reap:
            self.reap()

    def claim(self, address: int) -> OverlappedIO | None:
        """Take the I/O out; only one caller ever gets it (dict.pop is atomic)."""
        return self._ops.pop(address, None)

    def get(self, address: int) -> OverlappedIO | None:
        return self._ops.get(address)

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, address: int) -> bool:
        return address in self._ops

    def operations(self) -> list[OverlappedIO]:
        """What the registry holds: each pending I/O (a posted packet is one too)."""
        return list(self._ops.values())

    def owners(self) -> list[object]:
        """What pending I/O keeps alive: operations, Overlapped objects, posted packets."""
        return [io.owner for io in self._ops.values()]

    def reap(self) -> None:
        """Finish every operation whose end can be observed without waiting."""
        for io in self.operations():
            io.observe()
        self._next_reap = max(REAP_FLOOR, 2 * len(self._ops))

    def drain_at_exit(self, bound: float = EXIT_DRAIN_SECONDS) -> None:
        """Cancel everything, wait up to ``bound`` seconds, leak what remains."""
        if not self._ops:
            return
        from ._timeouts import Deadline
        from .raw import SleepEx

        self.shutting_down = True  # routines run now finish their operation only
        for op in self.operations():
            op.cancel_for_exit()
        deadline = Deadline(bound)
        while self._ops and not deadline.passed():
            self.reap()
            if self._ops:
                SleepEx(10, True)  # alertable: this thread's completion routines run
        for op in self.operations():
            self.leak(op)

    def leak(self, obj: object) -> None:
        """Keep ``obj`` alive for good: Windows may still write to its memory."""
        self.leaked.append(obj)
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))


registry = Registry()

if sys.platform == "win32":
    atexit.register(registry.drain_at_exit)


def pending_operations() -> int:
    """How many operations Windows may still write to (held by the registry)."""
    return len(registry)


def reap() -> None:
    """Finish the operations whose completion can be observed now (see Registry)."""
    registry.reap()
