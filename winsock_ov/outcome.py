"""What everything that ends shares: one future-like contract.

An operation (``winsock_ov.operations``, ``winsock_ov.extensions``) and a
socket poll (``winsock_ov.poll``) each end once, with a value or an error, and
are asked the same way, as an asyncio or concurrent.futures Future is:

* ``done``: whether it ended.  It only answers: reading it changes nothing.
* ``observe()``: look for an end nobody delivers.  Windows writes an event
  operation's outcome into its OVERLAPPED and signals its event; someone must
  read it there.  ``observe()`` does (finishing the operation: its buffers
  released, its done callbacks run) and returns ``done``.  The other kinds are
  ended by their delivery (a routine run, a packet dequeued): ``observe()``
  then only answers.
* ``wait(timeout)``: wait for the end the way its kind allows and return
  ``done``: an event operation waits on its event; a routine operation sleeps
  alertably on its issuing thread (RuntimeError on any other); an operation
  of a port's socket, and a poll, end only through the port's ``dequeue``
  (RuntimeError: wait on the port).
* ``result(timeout)`` and ``exception(timeout)``: the value, or the error,
  once done, waiting as ``wait`` does first (TimeoutError once ``timeout``
  passed); ``result()`` raises the error.
* ``add_done_callback(fn)``: ``fn(self)`` once done: at once if it is, else in
  the thread that ends it (a dequeue, a wait, ``observe()``, ``cancel()`` of a
  poll).  What ``fn`` raises comes out of the call that ended it, once every
  other callback ran (``winsock_ov._callbacks``).

Timeouts are seconds, None waiting for ever, as everywhere in winsock_ov.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Generic, TypeVar

from ._callbacks import raise_routine_errors, run_done_callbacks
from ._interrupt import guard
from ._timeouts import check_timeout
from .errors import timeout_error

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Outcome"]

_T_co = TypeVar("_T_co", covariant=True)  # what result() returns
_CALLBACK_LISTS = threading.Lock()  # the first callback of an outcome makes its list, once


class Outcome(Generic[_T_co]):
    """Something that ends once, with a value or an error (see the module's text).

    Subclasses say how its end is seen (``_ended``, ``_observe``), waited for
    (``_wait_for_end``) and read (``_value``, ``_error``), and call
    ``_run_callbacks`` once it ended.
    """

    __slots__ = ("_callbacks", "_error")

    def __init__(self) -> None:
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Self], object]] | None = None

    # --- what each kind says ------------------------------------------------------------

    def _ended(self) -> bool:
        """Whether its outcome is recorded (read only: no side effect)."""
        raise NotImplementedError

    def _observe(self) -> None:
        """End it if its end can be seen now, without waiting (nothing, by default:
        its end is delivered)."""

    def _wait_for_end(self, timeout: float | None) -> bool:
        """Wait its kind's way, up to ``timeout`` seconds (None: for ever); True once
        ended.  Called in a Ctrl-C guard, when ``_observe`` did not end it."""
        raise NotImplementedError

    def _value(self) -> _T_co:
        """Its value, once it ended without an error."""
        raise NotImplementedError

    # --- the contract -------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once it ended: ``result()`` and ``exception()`` return at once.

        Only answers; ``observe()`` looks for an end nobody delivers.
        """
        return self._ended()

    def observe(self) -> bool:
        """End it if its end can be seen now, without waiting; True once done."""
        if not self._ended():
            self._observe()
            raise_routine_errors()  # what its done callbacks, run here, raised
        return self._ended()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: for ever) for it to end, its kind's
        way (see the module's text); True once done.

        Ctrl-C raises KeyboardInterrupt here within a fraction of a second; what
        is pending stays owned and pending, and a later wait still ends it.
        """
        return self._wait(check_timeout(timeout))

    def _wait(self, timeout: float | None) -> bool:
        if self._ended():
            return True
        with guard():  # Ctrl-C: KeyboardInterrupt, nothing lost (see _interrupt)
            self._observe()
            ended = self._ended() or self._wait_for_end(timeout)
        raise_routine_errors()  # what its done callbacks, run here, raised
        return ended

    def result(self, timeout: float | None = None) -> _T_co:
        """Its value once done (waiting as ``wait`` does), or its error raised."""
        timeout = check_timeout(timeout)  # checked even when done: NaN is never valid
        if not self._ended() and not self._wait(timeout):
            raise timeout_error(f"still pending after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Its error once done (None if it succeeded), waiting as ``result`` does."""
        timeout = check_timeout(timeout)
        if not self._ended() and not self._wait(timeout):
            raise timeout_error(f"still pending after {timeout} s")
        return self._error

    def add_done_callback(self, callback: Callable[[Self], object]) -> None:
        """Call ``callback(self)`` once done: at once if it is, else in the thread
        that ends it, where what it raises comes out of the call that ended it."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        callbacks = self._callbacks
        if callbacks is None:
            with _CALLBACK_LISTS:
                if self._callbacks is None:
                    self._callbacks = []
                callbacks = self._callbacks
        callbacks.append(callback)
        # Ended meanwhile (it is recorded as ended before the ending thread takes
        # the list): whichever thread takes a callback off the list runs it.
        if self._ended():
            run_done_callbacks(self, callbacks)
            raise_routine_errors()

    def _run_callbacks(self: Self) -> None:
        """Run the done callbacks; by whoever ended it, once that is recorded."""
        callbacks = self._callbacks
        if callbacks:
            run_done_callbacks(self, callbacks)
