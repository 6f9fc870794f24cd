"""Socket basics: wrapping, datagrams, flags, and interpreter exit with I/O pending."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from support import WAIT, run_python, said

import winsock_ov
from winsock_ov.raw import AF_INET6, MSG_OOB, MSG_PEEK, SOCK_DGRAM, SOCK_STREAM

pytestmark = pytest.mark.windows


def test_from_socket_takes_over_a_python_socket() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        plain = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
        with peer, winsock_ov.Socket.from_socket(plain) as wrapped:
            assert plain.fileno() == -1, "the socket.socket must be detached"
            assert (wrapped.family, wrapped.type) == (socket.AF_INET, SOCK_STREAM)
            op = wrapped.recv(16)
            peer.sendall(b"from python")
            assert op.result(WAIT) == b"from python"
            assert wrapped.send(b"back").result(WAIT) == 4
            assert peer.recv(16) == b"back"


def test_sendto_and_recvfrom_carry_datagrams_and_addresses(udp: Any) -> None:
    first, second = udp
    target = bytearray(5)
    into = second.recvfrom_into(target)
    assert first.sendto([b"da", b"ta!"], second.getsockname()).result(WAIT) == 5
    assert into.result(WAIT) == (5, first.getsockname())
    assert target == b"data!"

    whole = second.recvfrom(100)
    first.sendto(b"second datagram", second.getsockname()).result(WAIT)
    assert whole.result(WAIT) == (b"second datagram", first.getsockname())


def test_a_datagram_larger_than_the_buffer_is_wsaemsgsize(udp: Any) -> None:
    first, second = udp
    op = second.recvfrom(4)
    first.sendto(b"too long for four", second.getsockname()).result(WAIT)
    with pytest.raises(OSError) as exc:
        op.result(WAIT)
    assert exc.value.winerror == 10040  # WSAEMSGSIZE


def test_ipv6_datagrams() -> None:
    with winsock_ov.Socket(AF_INET6, SOCK_DGRAM) as a, winsock_ov.Socket(AF_INET6, SOCK_DGRAM) as b:
        a.bind(("::1", 0))
        b.bind(("::1", 0))
        op = b.recvfrom(32)
        a.sendto(b"six", b.getsockname()).result(WAIT)
        data, address = op.result(WAIT)
        assert data == b"six" and address[:2] == a.getsockname()[:2]


def test_msg_peek_leaves_the_data_for_the_next_receive(tcp: Any) -> None:
    client, server = tcp
    client.send(b"peekaboo").result(WAIT)
    assert server.recv(4, flags=MSG_PEEK).result(WAIT) == b"peek"
    assert server.recv(8).result(WAIT) == b"peekaboo"


def test_msg_oob_sends_urgent_data_read_with_msg_oob(tcp: Any) -> None:
    client, server = tcp
    client.send(b"normal").result(WAIT)
    assert client.send(b"!", flags=MSG_OOB).result(WAIT) == 1
    assert server.recv(1, flags=MSG_OOB).result(WAIT) == b"!"
    assert server.recv(16).result(WAIT) == b"normal"


@pytest.mark.parametrize("close_first", [True, False])
def test_interpreter_exit_with_operations_pending_is_quiet_and_clean(close_first: bool) -> None:
    result = run_python(f"""
        import sys
        sys.path.insert(0, "tests")
        import winsock_ov
        from support import tcp_pair
        client, server = tcp_pair()
        pending = [server.recv(64), server.recv_into([bytearray(8)], routine=print),
                   server.recv(8, event=winsock_ov.Event()),
                   server.send(bytes(32 * 1024 * 1024))]  # the client never reads
        assert not any(op.done for op in pending)
        del pending
        if {close_first}:
            client.close()
            server.close()
        print("exiting with", winsock_ov.pending_operations(), "pending")
    """)
    assert result.returncode == 0, said(result)
    assert result.stdout.splitlines() == ["exiting with 4 pending"], said(result)
    warnings = result.stderr.splitlines()
    if close_first:
        assert warnings == [], "no warnings, no tracebacks at exit"
    else:  # only the unclosed sockets' own ResourceWarnings (shown by -X dev)
        assert len(warnings) == 2 and all("ResourceWarning: unclosed <winsock_ov.Socket" in w
                                          for w in warnings), said(result)
