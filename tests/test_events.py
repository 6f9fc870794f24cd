"""Event objects and the waits of the seed: WSAWaitForMultipleEvents and friends."""

from __future__ import annotations

from typing import Any

import pytest
from support import WAIT, Worker

import winsock_ov
from winsock_ov import Event, WaitStatus, wait_for_multiple_events
from winsock_ov._timeouts import milliseconds
from winsock_ov.waits import sleep_until

windows = pytest.mark.windows


def test_timeouts_convert_to_milliseconds_rounding_up() -> None:
    assert milliseconds(None) == 0xFFFFFFFF
    assert milliseconds(0) == 0
    assert milliseconds(0.0001) == 1
    assert milliseconds(2.5) == 2500
    for bad, error in ((-1, ValueError), (float("nan"), ValueError), (5e6, ValueError),
                       ("1", TypeError), (True, TypeError)):
        with pytest.raises(error):
            milliseconds(bad)  # type: ignore[arg-type]


@windows
def test_event_set_reset_and_wait() -> None:
    with Event() as event:
        assert not event.is_set()
        assert event.wait(0) is False
        event.set()
        assert event.is_set() and event.wait(WAIT)
        event.reset()
        assert not event.is_set()
    assert event.closed
    with pytest.raises(ValueError, match="closed"):
        event.set()


@windows
def test_wait_any_reports_the_signaled_index_and_wait_all_needs_all() -> None:
    events = [Event() for _ in range(3)]
    try:
        assert wait_for_multiple_events(events, timeout=0).status is WaitStatus.TIMEOUT
        events[2].set()
        assert wait_for_multiple_events(events, timeout=WAIT) == (WaitStatus.SIGNALED, 2)
        assert wait_for_multiple_events(events, wait_all=True, timeout=0).status \
            is WaitStatus.TIMEOUT
        events[0].set()
        events[1].set()
        result = wait_for_multiple_events(events, wait_all=True, timeout=WAIT)
        assert result.status is WaitStatus.SIGNALED
    finally:
        for event in events:
            event.close()


@windows
def test_more_than_64_events_is_a_clean_error() -> None:
    events = [Event() for _ in range(65)]
    try:
        with pytest.raises(ValueError, match="at most 64"):
            wait_for_multiple_events(events, timeout=0)
        assert wait_for_multiple_events(events[:64], timeout=0).status is WaitStatus.TIMEOUT
        with pytest.raises(ValueError, match="nothing to wait for"):
            wait_for_multiple_events([], timeout=0)
        with pytest.raises(TypeError):
            wait_for_multiple_events(["not an event"], timeout=0)
    finally:
        for event in events:
            event.close()


@windows
def test_alertable_wait_reports_io_completion_when_a_routine_ran(tcp: Any) -> None:
    client, server = tcp
    server.recv(4, routine=lambda op: None)
    client.send(b"ping").result(WAIT)
    with Event() as never:
        result = wait_for_multiple_events([never], timeout=WAIT, alertable=True)
        assert result.status is WaitStatus.IO_COMPLETION
        assert winsock_ov.wait_for_multiple_objects_ex([never], timeout=0).status \
            is WaitStatus.TIMEOUT


@windows
def test_the_seed_event_pattern_on_the_object_layer(tcp: Any) -> None:
    client, server = tcp
    with Event() as event:
        op = server.recv(1024, event=event)
        assert not op.completed_immediately
        client.send(b"Network is Computer\0").result(WAIT)
        assert wait_for_multiple_events([event], wait_all=True, timeout=WAIT).signaled
        assert op.result(0) == b"Network is Computer\0"


@windows
def test_closing_an_event_in_use_is_deferred_until_its_operation_ends(tcp: Any) -> None:
    client, server = tcp
    event = Event()
    handle = event.handle
    op = server.recv(4, event=event)
    event.close()
    assert event.closed
    assert winsock_ov.wait_for_single_object_ex(handle, 0, alertable=False).status \
        is WaitStatus.TIMEOUT, "the handle must still be open"
    client.send(b"done").result(WAIT)
    assert op.result(WAIT) == b"done"
    with pytest.raises(OSError):  # now really closed
        winsock_ov.wait_for_single_object_ex(handle, 0, alertable=False)


@windows
def test_an_event_shared_by_two_operations_still_tells_each_apart(tcp: Any) -> None:
    client, server = tcp
    with Event() as shared:
        first = server.recv(2, event=shared)
        second = client.recv(2, event=shared)
        server.send(b"to").result(WAIT)
        assert second.result(WAIT) == b"to"
        assert not first.wait(0.05), "the other operation's signal is not this one's end"
        client.send(b"hi").result(WAIT)
        assert first.result(WAIT) == b"hi"


def observers_of(op: Any) -> list[Worker]:
    """Threads that each watch ``op`` end their own way."""
    return [Worker(lambda: op.result(WAIT), name="result"),
            Worker(lambda: op.wait(WAIT), name="wait"),
            Worker(lambda: op.exception(WAIT), name="exception"),
            Worker(lambda: sleep_until(op.observe, WAIT), name="observe")]


@windows
def test_many_threads_observing_one_operation_all_see_its_one_end(tcp: Any) -> None:
    # Whoever sees the operation end closes its own event: never under a waiter.
    client, server = tcp
    for round_number in range(20):
        observers = observers_of(server.recv(8))
        for observer in observers:
            observer.start()
        message = b"%07d" % round_number
        client.send(message).result(WAIT)
        assert [o.result() for o in observers] == [message, True, None, True]
