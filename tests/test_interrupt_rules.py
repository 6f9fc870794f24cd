"""How the library's waits answer Ctrl-C (winsock_ov._interrupt), with fake waits.

Portable: SIGINT is raised in the process (signal.raise_signal, which runs
Python's handler at once, as a Ctrl-C reaching a blocked wait would between two
slices); the Windows tests (test_interrupt.py) send a real CTRL_C_EVENT.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

from winsock_ov import _interrupt
from winsock_ov._interrupt import SLICE_MS, check, guard, sliced
from winsock_ov.raw import INFINITE

TIMED_OUT = "timed out"


class FakeWait:
    """Answers ``TIMED_OUT`` to each slice, raising SIGINT at slice ``ctrl_c_at``
    and returning ``result`` at slice ``done_at``.  Each slice takes the time it
    was given on ``clock`` (the module's monotonic clock, replaced)."""

    clock = 1000.0

    def __init__(self, ctrl_c_at: int | None = None, done_at: int | None = None,
                 result: Any = "done") -> None:
        self.ctrl_c_at, self.done_at, self.result = ctrl_c_at, done_at, result
        self.slices: list[int] = []

    def __call__(self, milliseconds: int) -> Any:
        self.slices.append(milliseconds)
        if milliseconds != INFINITE:
            FakeWait.clock += milliseconds / 1000
        if len(self.slices) == self.ctrl_c_at:
            signal.raise_signal(signal.SIGINT)
        if len(self.slices) == self.done_at:
            return self.result
        return TIMED_OUT


def timed_out(result: Any) -> bool:
    return bool(result == TIMED_OUT)


@pytest.fixture(autouse=True)
def default_sigint_handler(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(_interrupt, "monotonic", lambda: FakeWait.clock)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)
    assert _interrupt._active is None, "a guard was left active"


def test_a_wait_forever_is_cut_into_slices_and_ctrl_c_raises_from_it() -> None:
    wait = FakeWait(ctrl_c_at=3)
    with pytest.raises(KeyboardInterrupt), guard():
        sliced(wait, INFINITE, timed_out)
    assert wait.slices == [SLICE_MS] * 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_finite_wait_ends_with_the_time_left_and_reports_the_timeout() -> None:
    wait = FakeWait()
    with guard():
        assert sliced(wait, 250, timed_out) == TIMED_OUT
    assert wait.slices == [SLICE_MS, SLICE_MS, 50]


def test_short_and_zero_waits_are_one_call() -> None:
    for milliseconds in (0, 1, SLICE_MS):
        wait = FakeWait()
        with guard():
            sliced(wait, milliseconds, timed_out)
        assert wait.slices == [milliseconds]


def test_a_wait_that_ends_returns_its_result() -> None:
    wait = FakeWait(done_at=2)
    with guard():
        assert sliced(wait, INFINITE, timed_out) == "done"
    assert len(wait.slices) == 2


def test_ctrl_c_in_the_slice_that_ended_the_wait_comes_after_the_block_recorded_it() -> None:
    recorded = []
    wait = FakeWait(ctrl_c_at=2, done_at=2)
    with pytest.raises(KeyboardInterrupt), guard():
        recorded.append(sliced(wait, INFINITE, timed_out))
        recorded.append("bookkeeping finished")
    assert recorded == ["done", "bookkeeping finished"]


def test_ctrl_c_during_the_bookkeeping_is_held_until_the_guard_ends() -> None:
    steps = []
    with pytest.raises(KeyboardInterrupt), guard():
        signal.raise_signal(signal.SIGINT)
        steps.append("still running")
    assert steps == ["still running"]


def test_without_a_guard_python_raises_ctrl_c_between_slices() -> None:
    wait = FakeWait(ctrl_c_at=2)
    with pytest.raises(KeyboardInterrupt):
        sliced(wait, INFINITE, timed_out)
    assert len(wait.slices) == 2


def test_a_handler_that_returns_lets_the_wait_go_on() -> None:
    calls = []
    signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    wait = FakeWait(ctrl_c_at=2, done_at=4)
    with guard():
        assert sliced(wait, INFINITE, timed_out) == "done"
    assert calls == [signal.SIGINT]
    assert len(wait.slices) == 4


def test_check_delivers_between_the_waits_of_a_loop() -> None:
    with pytest.raises(KeyboardInterrupt), guard():
        check()  # nothing recorded: nothing happens
        signal.raise_signal(signal.SIGINT)
        check()
        pytest.fail("check() did not deliver the recorded Ctrl-C")


def test_nested_guards_deliver_once() -> None:
    calls = []
    signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    with guard():
        with guard():
            signal.raise_signal(signal.SIGINT)
        assert calls == []  # the inner guard passes through: the outer one delivers
    assert calls == [signal.SIGINT]


def test_an_ignored_sigint_leaves_the_wait_alone() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    wait = FakeWait(ctrl_c_at=2, done_at=3)
    with guard():
        assert sliced(wait, INFINITE, timed_out) == "done"
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_other_threads_wait_in_one_call() -> None:
    wait = FakeWait(done_at=1)
    results = []

    def waiter() -> None:
        with guard():
            results.append(sliced(wait, INFINITE, timed_out))

    thread = threading.Thread(target=waiter)
    thread.start()
    thread.join(10)
    assert results == ["done"]
    assert wait.slices == [INFINITE]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
