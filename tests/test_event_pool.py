"""The events a socket lends its operations given none (``event.EventPool``), and its
reuse rule: an event serves another operation only once no earlier one can signal it."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import WAIT, load_tool

import winsock_ov
from winsock_ov import Event, OperationAbortedError
from winsock_ov.event import EventPool
from winsock_ov.raw import SD_SEND, WSAESHUTDOWN

windows = pytest.mark.windows


def immediate_send(sock: Any, event: Event | None = None) -> Any:
    """A 1-byte send that finished within its call (loopback sends do, as a rule)."""
    for _ in range(100):
        op = sock.send(b"x", event=event)
        if op.completed_immediately:
            return op
        op.result(WAIT)
    pytest.fail("no 1-byte loopback send finished within its call in 100 tries")


@windows
def test_an_io_finished_within_its_call_has_its_event_signaled_when_the_call_returns(
        tcp: Any) -> None:
    # What the pool's rule relies on to keep such an event without asking it.
    client, server = tcp
    with Event() as event:
        for _ in range(20):
            event.reset()
            immediate_send(client, event=event)
            assert event.is_set()
            assert server.recv(1).result(WAIT) == b"x"


@windows
def test_an_operations_event_comes_back_reset_and_serves_the_sockets_next_operation(
        tcp: Any) -> None:
    client, server = tcp
    lent = immediate_send(client).event
    assert len(client.event_pool) == 1 and not lent.is_set(), "reset as it came back"
    op = client.recv(1)  # pending: nothing was sent to the client
    assert op.event is lent, "the pooled event serves the next operation"
    assert not op.wait(0.05), "the earlier operation's signal is not this one's end"
    server.send(b"y").result(WAIT)
    assert op.result(WAIT) == b"y"
    assert server.recv(1).result(WAIT) == b"x"


@windows
def test_an_event_whose_signal_was_not_seen_is_kept_only_if_its_reset_found_it_signaled(
        ) -> None:
    pool = EventPool()
    late = Event()  # its operation's end was read from Internal; the signal is late
    pool.give_back(late, signal_came=False)
    assert late.closed and len(pool) == 0
    came = Event()
    came.set()
    pool.give_back(came, signal_came=False)
    assert not came.closed and len(pool) == 1 and not came.is_set()
    certain = Event()  # a refused operation's, say: never signaled, and never will be
    pool.give_back(certain, signal_came=True)
    assert not certain.closed and len(pool) == 2
    assert pool.take() is certain and pool.take() is came
    pool.give_back(certain, signal_came=True)
    taken = pool.take()
    assert taken is certain
    pool.close()
    assert not taken.closed, "in use: closed when given back"
    pool.give_back(taken, signal_came=True)
    assert taken.closed
    came.close()


@windows
def test_an_event_a_waiter_still_holds_is_never_pooled() -> None:
    pool = EventPool()
    event = pool.take()
    event.set()
    event.acquire_handle()  # a waiter on another thread, say
    pool.give_back(event, signal_came=True)
    assert len(pool) == 0 and event.closed
    event.release_handle()


@windows
def test_a_refused_operations_event_goes_back_at_once(tcp: Any) -> None:
    client, _ = tcp
    client.shutdown(SD_SEND)
    with pytest.raises(OSError) as refused:
        client.send(b"late")  # after SD_SEND: refused within the call
    assert refused.value.winerror == WSAESHUTDOWN
    assert len(client.event_pool) == 1, "pooled at once: a refused call signals nothing"


@windows
def test_a_cancelled_operations_event_serves_the_next_operation_only_after_its_signal(
        tcp: Any) -> None:
    client, server = tcp
    for _ in range(20):
        op = server.recv(1)
        lent = op.event
        assert op.cancel()
        with pytest.raises(OperationAbortedError):
            op.result(WAIT)
        follow = server.recv(1)
        if follow.event is lent:
            assert not follow.wait(0.01), "the abort's signal must not end the next operation"
        client.send(b"z").result(WAIT)
        assert follow.result(WAIT) == b"z"


@windows
def test_dropped_operations_hand_their_events_back_before_the_socket_makes_another(
        tcp: Any) -> None:
    client, server = tcp
    dropped = server.recv(1)
    client.send(b"d").result(WAIT)
    assert winsock_ov.wait_for_multiple_events([dropped.event], timeout=WAIT).signaled
    lent = dropped.event
    del dropped  # never waited for: only the registry (and the socket) know it
    assert winsock_ov.pending_operations() >= 1
    op = server.recv(1)  # the pool is empty: the socket's ended operations are observed
    assert op.event is lent
    client.send(b"e").result(WAIT)
    assert op.result(WAIT) == b"e"


@windows
def test_closing_the_socket_closes_its_pooled_events(tcp: Any) -> None:
    client, _ = tcp
    event = immediate_send(client).event
    client.close()
    assert event.closed


@windows
def test_ten_thousand_dropped_event_operations_hold_a_constant_number_of_handles() -> None:
    # Counted by NtQuerySystemInformation (GetProcessHandleCount answers 0 under
    # Wine 8): the process's handles, sampled every 7th iteration (a reap comes
    # every 64 or more, and the events of dropped operations piled up between them).
    measured = load_tool("dropped_events").measure(10_000, sample_every=7)
    assert measured["peak_open_handles"] <= 8, measured
    assert measured["open_handles_after_reap"] <= 4, measured


@windows
def test_an_event_costs_no_lock_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # A threading.Lock is a kernel semaphore on CPython < 3.13 under Windows:
    # a wineserver request to make and one to close, per event.
    def no_lock() -> None:
        raise AssertionError("an Event made a lock")

    monkeypatch.setattr(threading, "Lock", no_lock)
    with Event() as event:
        event.acquire_handle()
        event.release_handle()
