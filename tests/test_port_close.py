"""Closing a completion port: nothing it was owed stays counted, nothing new is started."""

from __future__ import annotations

import pytest
from support import WAIT, tcp_pair

import winsock_ov

pytestmark = pytest.mark.windows


def test_closing_a_port_collects_the_packets_posted_to_it_and_never_dequeued() -> None:
    before = winsock_ov.pending_operations()
    port = winsock_ov.CompletionPort()
    posted = [port.post(n) for n in range(3)]
    with winsock_ov.CompletionPort() as other:
        kept = other.post("not closed")
        port.close()
        assert winsock_ov.pending_operations() == before + 1, "only the open port's packet"
        assert other.dequeue(timeout=WAIT) is kept
    assert winsock_ov.pending_operations() == before
    assert [p.value for p in posted] == [0, 1, 2]


def test_closing_a_port_finishes_what_its_sockets_had_in_flight() -> None:
    client, server = tcp_pair()
    before = winsock_ov.pending_operations()
    port = winsock_ov.CompletionPort()
    port.associate(server)
    pending = server.recv(8)
    port.close()
    assert pending.done and isinstance(pending.exception(), winsock_ov.OperationAbortedError)
    assert winsock_ov.pending_operations() == before
    client.close()
    server.close()


def test_a_socket_whose_port_was_closed_starts_nothing_and_leaves_nothing_counted() -> None:
    client, server = tcp_pair()
    with winsock_ov.CompletionPort() as port:
        port.associate(server)
    before = winsock_ov.pending_operations()
    for start in (lambda: server.recv(8), lambda: server.send(b"x"),
                  lambda: server.disconnect_ex()):
        with pytest.raises(ValueError, match="completion port is closed"):
            start()
    assert winsock_ov.pending_operations() == before
    client.close()
    server.close()


def test_the_port_hands_out_the_binding_that_ties_a_socket_to_it() -> None:
    client, server = tcp_pair()
    with winsock_ov.CompletionPort() as port, winsock_ov.CompletionPort() as other:
        assert server.port_binding is None
        port.associate(server, key=7)
        binding = server.port_binding
        assert binding is not None
        assert (binding.port, binding.key, binding.handle) == (port, 7, server.fileno())
        assert server.recv(1).notify is winsock_ov.Notify.PORT
        with pytest.raises(ValueError, match="already associated"):
            other.associate(server)
        assert server.port_binding is binding, "a refused association changes nothing"
        server.close()
    client.close()
