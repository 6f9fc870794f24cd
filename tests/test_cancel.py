"""cancel() is a request: the operation still ends exactly once, and no byte is lost."""

from __future__ import annotations

from typing import Any

import pytest
from support import WAIT

import winsock_ov

pytestmark = pytest.mark.windows


def test_cancel_of_an_idle_recv_reports_it_aborted(tcp: Any) -> None:
    _, server = tcp
    op = server.recv(8)
    assert op.cancel() is True
    with pytest.raises(winsock_ov.OperationAbortedError) as exc:
        op.result(WAIT)
    assert exc.value.winerror == 995
    assert op.cancel() is False, "nothing left to cancel"


def test_cancel_after_completion_finds_nothing_and_keeps_the_result(tcp: Any) -> None:
    client, server = tcp
    op = server.recv(8)
    client.send(b"first").result(WAIT)
    assert op.wait(WAIT)
    assert op.cancel() is False
    assert op.result() == b"first"


@pytest.mark.parametrize("notify", ["event", "routine"])
def test_cancel_racing_completion_ends_every_operation_once_and_loses_no_byte(
        tcp: Any, notify: str) -> None:
    client, server = tcp
    rounds = 1500
    received = bytearray()
    outcomes = {"completed": 0, "aborted": 0}
    ends: dict[int, int] = {}

    for i in range(rounds):
        routine = (lambda op: ends.__setitem__(id(op), ends.get(id(op), 0) + 1)) \
            if notify == "routine" else None
        op = server.recv(16, routine=routine)
        # Alternate which side of the race starts first, so both outcomes occur.
        if i % 2:
            client.send(b"%08d" % i)
            cancelled = op.cancel()
        else:
            cancelled = op.cancel()
            client.send(b"%08d" % i)
        assert op.wait(WAIT)
        error = op.exception()
        if error is None:
            received += op.result()
            outcomes["completed"] += 1
        else:
            assert isinstance(error, winsock_ov.OperationAbortedError)
            assert op.nbytes == 0
            assert cancelled, "an abort needs a cancel that found the I/O"
            outcomes["aborted"] += 1
        if routine is not None:
            assert ends[id(op)] == 1
            del ends[id(op)]

    expected = b"".join(b"%08d" % i for i in range(rounds))
    while len(received) < len(expected):
        chunk = server.recv(len(expected) - len(received)).result(WAIT)
        assert chunk
        received += chunk
    assert received == expected, "bytes lost or reordered by a cancelled receive"
    assert outcomes["completed"] + outcomes["aborted"] == rounds
    assert outcomes["completed"] and outcomes["aborted"], f"no race was run: {outcomes}"
