"""One future-like contract for everything that ends (winsock_ov.outcome): operations of
each style and socket polls answer ``done``, ``observe()``, ``wait()``, ``result()``,
``exception()`` and ``add_done_callback()`` by the same rules.

The first tests run the contract on a kind of outcome made here (portable); the
others pin it on the real kinds under Windows, and the 0.1.0 behaviour of
``Operation.done`` that stays, deprecated.
"""

from __future__ import annotations

import gc
import warnings
from typing import Any

import pytest
from support import WAIT, tcp_pair, wait_until

import winsock_ov
from winsock_ov.outcome import Outcome

windows = pytest.mark.windows


class Manual(Outcome[str]):
    """An outcome ended by ``end()``: seen by ``observe()`` once ``visible``, and
    waited for by a wait that ends it (``waits``) or times out."""

    __slots__ = ("ended", "observed", "visible", "waited", "waits")

    def __init__(self, *, waits: bool = False) -> None:
        super().__init__()
        self.ended = self.visible = False
        self.waits = waits
        self.observed = 0
        self.waited: list[float | None] = []

    def end(self, error: BaseException | None = None) -> None:
        self._error, self.ended = error, True
        self._run_callbacks()

    def _ended(self) -> bool:
        return self.ended

    def _observe(self) -> None:
        self.observed += 1
        if self.visible:
            self.end()

    def _wait_for_end(self, timeout: float | None) -> bool:
        self.waited.append(timeout)
        if self.waits:
            self.end()
        return self.ended

    def _value(self) -> str:
        return "value"


def test_done_only_answers() -> None:
    outcome = Manual()
    outcome.visible = True
    assert outcome.done is False and outcome.observed == 0 and not outcome.ended
    assert outcome.observe() is True and outcome.observed == 1
    assert outcome.done is True


def test_result_and_exception_wait_as_wait_does_and_time_out_with_wait_timeout() -> None:
    pending = Manual()
    with pytest.raises(TimeoutError) as raised:
        pending.result(0.25)
    assert raised.value.winerror == 258  # WAIT_TIMEOUT
    with pytest.raises(TimeoutError):
        pending.exception(0)
    assert pending.wait(float("inf")) is False
    assert pending.waited == [0.25, 0.0, None], "every wait observed first, then waited"
    waiting = Manual(waits=True)
    assert waiting.result() == "value" and waiting.exception() is None
    failing = Manual()
    failing.end(ConnectionResetError(0, "reset", None, 10054))
    assert isinstance(failing.exception(), ConnectionResetError)
    with pytest.raises(ConnectionResetError):
        failing.result()
    for bad in (float("nan"), -1):
        with pytest.raises(ValueError):
            failing.result(bad)  # checked even once done


def test_callbacks_run_once_where_it_ends_and_their_errors_come_out_of_that_call() -> None:
    outcome = Manual()
    seen: list[str] = []
    outcome.add_done_callback(lambda o: seen.append("first"))
    outcome.add_done_callback(lambda o: 1 / 0)
    outcome.add_done_callback(lambda o: seen.append("third"))
    outcome.visible = True
    with pytest.raises(ZeroDivisionError):
        outcome.wait(0)  # observe() ended it there: its callbacks ran there
    assert seen == ["first", "third"]
    outcome.add_done_callback(lambda o: seen.append("late"))  # done: at once
    assert seen == ["first", "third", "late"]
    with pytest.raises(TypeError, match="callable"):
        outcome.add_done_callback("not callable")  # type: ignore[arg-type]


# --- the real kinds ------------------------------------------------------------------------


class WrittenReceive:
    """An event receive whose outcome Windows wrote, and nobody observed yet."""

    def __init__(self, client: Any, server: Any) -> None:
        self.buffer = bytearray(8)
        self.op = server.recv_into(self.buffer)
        self.called: list[Any] = []
        self.op.add_done_callback(self.called.append)
        client.send(b"data").result(WAIT)
        wait_until(self.op._io.finished_by_os, "Windows to write the outcome")

    def assert_ended(self) -> None:
        """Its callbacks ran once and its buffer is no longer exported."""
        assert self.called == [self.op]
        self.buffer.extend(b"!")
        assert self.op.result() == 4


@windows
def test_observe_ends_an_event_operation_whose_outcome_windows_wrote() -> None:
    client, server = tcp_pair()
    with client, server:
        written = WrittenReceive(client, server)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing here may warn
            assert not written.op.pending, "Windows is done with it"
            assert written.op.observe() is True
            assert written.op.done
        written.assert_ended()


@windows
def test_done_of_0_1_0_still_ends_an_event_operation_and_warns() -> None:
    """0.1.0 documented ``done`` as a way to see an event operation end (it
    ended it: callbacks run, buffers released); deprecated, not broken."""
    client, server = tcp_pair()
    with client, server:
        written = WrittenReceive(client, server)
        before = winsock_ov.pending_operations()
        with pytest.warns(DeprecationWarning, match="observe"):
            assert written.op.done is True
        assert winsock_ov.pending_operations() == before - 1
        written.assert_ended()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert written.op.done, "done and ended: it only answers"


@windows
def test_a_port_operation_and_a_poll_follow_the_same_waiting_rules() -> None:
    """Both end only through the port's dequeue: until then done and observe() say
    False, and wait, result and exception raise RuntimeError (dequeue the port);
    afterwards all answer at once."""
    client, server = tcp_pair()
    polled_client, polled = tcp_pair()  # apart: a pending receive takes the data it polls
    with client, server, polled_client, polled, winsock_ov.CompletionPort() as port:
        port.associate(server, skip_on_success=False)
        receive = server.recv(8)
        poll = port.poll(polled, winsock_ov.PollEvents.RECEIVE)
        called: list[Any] = []
        for pending in (receive, poll):
            pending.add_done_callback(called.append)
            assert not pending.done and not pending.observe() and pending.pending
            for ask in (pending.wait, pending.result, pending.exception):
                with pytest.raises(RuntimeError, match="dequeue"):
                    ask(0)
        client.send(b"data").result(WAIT)
        polled_client.send(b"data").result(WAIT)
        ended = set()
        while len(ended) < 2:
            item = port.dequeue(timeout=WAIT)
            assert item is not None, "nothing came back"
            ended.add(item)
        assert ended == {receive, poll} and sorted(map(id, called)) == sorted(
            map(id, ended)), "each callback once, in the dequeue"
        assert receive.wait(0) and receive.observe() and receive.result(0) == b"data"
        assert poll.wait(0) and poll.observe() and poll.result(0) & winsock_ov.PollEvents.RECEIVE
        assert receive.exception() is None and poll.exception() is None
    del receive, poll
    gc.collect()
