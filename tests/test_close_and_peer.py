"""Closing with operations in flight, and what a peer's reset or close looks like."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from support import WAIT

import winsock_ov
from winsock_ov.raw import SO_LINGER, SOL_SOCKET, WSA_OPERATION_ABORTED

pytestmark = pytest.mark.windows

BIG = 32 * 1024 * 1024  # more than loopback buffers hold, so a send stays pending


def test_closing_aborts_pending_recv_and_send_each_exactly_once(tcp: Any) -> None:
    client, _ = tcp
    finished: list[tuple[str, type]] = []

    def routine(name: str) -> Any:
        return lambda op: finished.append((name, type(op.exception())))

    recv = client.recv(64, routine=routine("recv"))
    send = client.send(bytes(BIG), routine=routine("send"))
    assert not recv.completed_immediately and not send.completed_immediately
    client.close()
    while len(finished) < 2:
        assert winsock_ov.sleep_ex(WAIT).status is winsock_ov.WaitStatus.IO_COMPLETION
    assert sorted(finished) == [("recv", winsock_ov.OperationAbortedError),
                                ("send", winsock_ov.OperationAbortedError)]
    assert winsock_ov.sleep_ex(0).status is winsock_ov.WaitStatus.TIMEOUT  # nothing twice
    for op in (recv, send):
        with pytest.raises(winsock_ov.OperationAbortedError) as exc:
            op.result()
        assert exc.value.winerror == WSA_OPERATION_ABORTED


def test_closing_aborts_event_operations_and_keeps_them_owned_until_observed(tcp: Any) -> None:
    client, _ = tcp
    recv = client.recv(64)
    send = client.send(bytes(BIG))
    before = winsock_ov.pending_operations()
    client.close()
    assert winsock_ov.pending_operations() == before, "close must not release early"
    for op in (recv, send):
        assert op.wait(WAIT)
        assert isinstance(op.exception(), winsock_ov.OperationAbortedError)
    assert winsock_ov.pending_operations() == before - 2


def test_peer_reset_gives_connection_reset_with_zero_bytes(tcp: Any) -> None:
    client, server = tcp
    op = server.recv(64)
    client.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("HH", 1, 0))  # close sends RST
    client.close()
    with pytest.raises(ConnectionResetError) as exc:
        op.result(WAIT)
    assert exc.value.winerror == 10054  # WSAECONNRESET
    assert op.nbytes == 0


def test_peer_graceful_close_is_end_of_file_not_an_error(tcp: Any) -> None:
    client, server = tcp
    op = server.recv(64)
    into = server  # a second receive after EOF reads EOF again
    client.close()
    assert op.result(WAIT) == b""
    assert op.nbytes == 0
    assert into.recv_into(bytearray(8)).result(WAIT) == 0


def test_operations_on_a_closed_socket_fail_before_submitting(tcp: Any) -> None:
    client, _ = tcp
    client.close()
    before = winsock_ov.pending_operations()
    for start in (lambda: client.recv(1), lambda: client.send(b"x"),
                  lambda: client.recv_into(bytearray(1))):
        with pytest.raises(OSError) as exc:
            start()
        assert exc.value.winerror == 10038  # WSAENOTSOCK
    assert winsock_ov.pending_operations() == before
