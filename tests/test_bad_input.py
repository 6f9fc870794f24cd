"""Bad input raises a clear exception before anything is submitted, and leaks nothing."""

from __future__ import annotations

import array
from typing import Any, Callable

import pytest
from support import WAIT

import winsock_ov
from winsock_ov.raw import WSAEAFNOSUPPORT

pytestmark = pytest.mark.windows


def rejected(start: Callable[[], Any], error: type[BaseException], match: str) -> None:
    before = winsock_ov.pending_operations()
    with pytest.raises(error, match=match):
        start()
    assert winsock_ov.pending_operations() == before, "a refused operation stayed registered"


def test_lengths_must_be_non_negative_ints_under_4_gib(tcp: Any) -> None:
    _, server = tcp
    rejected(lambda: server.recv(-1), ValueError, r"nbytes must be in 0\.\.4294967295, not -1")
    rejected(lambda: server.recv(2**32), ValueError, "4 GiB")
    rejected(lambda: server.recv(1.5), TypeError, "must be an int")  # type: ignore[arg-type]
    rejected(lambda: server.recv(True), TypeError, "must be an int")
    rejected(lambda: server.recv_into(bytearray(4), -1), ValueError, "must be in 0")
    rejected(lambda: server.recv_into(bytearray(4), 5), ValueError, "greater than the length")


def test_buffers_must_be_bytes_like_and_writable_for_receives(tcp: Any) -> None:
    client, server = tcp
    rejected(lambda: client.send("text"), TypeError, "bytes-like object is required, not 'str'")
    rejected(lambda: client.send(12), TypeError, "bytes-like")
    rejected(lambda: client.send([b"ok", None]), TypeError, "buffer 1")
    rejected(lambda: client.send([]), ValueError, "at least one buffer")
    rejected(lambda: server.recv_into(b"read-only"), TypeError, "writable")
    rejected(lambda: server.recv_into([bytearray(2), memoryview(b"ro")]), TypeError, "buffer 1")
    rejected(lambda: server.recv_into(memoryview(bytearray(8))[::2]), ValueError, "contiguous")


def test_addresses_must_be_tuples_not_host_port_strings(tcp: Any) -> None:
    client, _ = tcp  # what type checkers refuse too (tests/typecheck/usage.py)
    rejected(lambda: client.connect("127.0.0.1:80"), TypeError, "address must be a tuple")
    rejected(lambda: client.connect_ex("127.0.0.1:80"), TypeError, "address must be a tuple")
    rejected(lambda: client.sendto(b"x", "127.0.0.1:80"), TypeError, "address must be a tuple")


def test_a_refused_operation_unpins_the_buffers_it_had_pinned(tcp: Any) -> None:
    _, server = tcp
    first = bytearray(4)
    rejected(lambda: server.recv_into([first, b"read-only"]), TypeError, "writable")
    first.extend(b"resizable again")  # would raise BufferError if still exported


def test_flags_and_notification_arguments_are_checked(tcp: Any) -> None:
    client, server = tcp
    rejected(lambda: client.send(b"x", flags=-1), ValueError, "flags must be in 0..4294967295")
    rejected(lambda: client.send(b"x", flags="0"), TypeError, "flags")  # type: ignore[arg-type]
    with winsock_ov.Event() as event:
        rejected(lambda: server.recv(1, event=event, routine=print), ValueError, "not both")
    rejected(lambda: server.recv(1, routine=42), TypeError, "callable")  # type: ignore[arg-type]
    rejected(lambda: server.recv(1, event=object()), TypeError, "Event")  # type: ignore[arg-type]


def test_an_operation_cannot_be_started_twice(tcp: Any) -> None:
    client, server = tcp
    op = winsock_ov.RecvOperation(server, 4).start()
    rejected(op.start, ValueError, "already started")
    client.send(b"once").result(WAIT)
    assert op.result(WAIT) == b"once"
    rejected(op.start, ValueError, "already started")


def test_unsupported_flags_are_winsocks_error_and_nothing_stays_pending(udp: Any) -> None:
    first, second = udp
    # MSG_OOB has no meaning on a datagram socket: Winsock refuses it.
    before = winsock_ov.pending_operations()
    with pytest.raises(OSError) as exc:
        first.sendto(b"x", second.getsockname(), flags=0x1)
    assert exc.value.winerror == 10045  # WSAEOPNOTSUPP
    assert winsock_ov.pending_operations() == before


def test_a_buffer_over_4_gib_is_refused_before_submitting(tcp: Any) -> None:
    import mmap

    client, _ = tcp
    with mmap.mmap(-1, 2**32 + 1) as huge:  # reserved, never touched
        rejected(lambda: client.send(huge), ValueError, "4 GiB")
        rejected(lambda: client.send([memoryview(huge)[: 2**31], memoryview(huge)[: 2**31]]),
                 ValueError, "4 GiB")


def test_accepted_buffer_kinds_send_without_copying(tcp: Any) -> None:
    import mmap

    client, server = tcp
    with mmap.mmap(-1, 4) as mapped:
        mapped[:] = b"mmap"
        parts = [b"bytes", bytearray(b"bytearray"), memoryview(b"-slice-")[1:-1],
                 array.array("B", b"array"), mapped]
        total = sum(len(memoryview(p).cast("B")) for p in parts)
        assert client.send(parts).result(WAIT) == total
    received = b""
    while len(received) < total:
        received += server.recv(total).result(WAIT)
    assert received == b"bytesbytearrayslicearraymmap"


# --- integers ctypes would refuse with ArgumentError, or silently truncate ------------


def test_socket_integer_arguments_are_type_and_range_checked(tcp: Any) -> None:
    client, _ = tcp
    rejected(lambda: winsock_ov.Socket(type="stream"), TypeError, "type must be an int")
    rejected(lambda: winsock_ov.Socket(family=2.0), TypeError, "family must be an int")
    rejected(lambda: winsock_ov.Socket(proto=True), TypeError, "proto must be an int")
    # 2**32 + 1 would reach WSASocketW as 1: SOCK_STREAM.
    rejected(lambda: winsock_ov.Socket(type=2**32 + 1), ValueError, "type must be in")
    rejected(lambda: winsock_ov.Socket.from_handle(-1), ValueError, "handle must be in")
    rejected(lambda: winsock_ov.Socket.from_handle(2**64), ValueError, "handle must be in")
    rejected(lambda: client.listen("many"), TypeError, "backlog must be an int")
    rejected(lambda: client.listen(2**31), ValueError, "backlog must be in")
    rejected(lambda: client.getsockopt("sol", 1), TypeError, "level must be an int")
    rejected(lambda: client.getsockopt(0xFFFF, 1.0), TypeError, "option must be an int")
    rejected(lambda: client.setsockopt(0xFFFF, 4, 2**40), ValueError, "value must be in")
    rejected(lambda: client.shutdown("x"), TypeError, "how must be an int")
    rejected(lambda: client.shutdown(-2**31 - 1), ValueError, "how must be in")


def test_a_negative_int_in_range_is_left_for_winsock_to_refuse(tcp: Any) -> None:
    client, _ = tcp
    with pytest.raises(OSError) as exc:
        client.shutdown(-1)
    assert exc.value.winerror == 10022  # WSAEINVAL


def test_completion_port_integer_arguments_are_type_and_range_checked(tcp: Any) -> None:
    _, server = tcp
    rejected(lambda: winsock_ov.CompletionPort(concurrency="x"), TypeError, "concurrency")
    rejected(lambda: winsock_ov.CompletionPort(concurrency=-1), ValueError, "concurrency")
    rejected(lambda: winsock_ov.CompletionPort(concurrency=2**32), ValueError, "concurrency")
    with winsock_ov.CompletionPort() as port:
        rejected(lambda: port.post(key="k"), TypeError, "key must be an int")
        rejected(lambda: port.post(key=2**64), ValueError, "key must be in")
        rejected(lambda: port.post(key=-1), ValueError, "key must be in")
        rejected(lambda: port.post(nbytes=2**32), ValueError, "nbytes must be in")
        rejected(lambda: port.post(nbytes=1.5), TypeError, "nbytes must be an int")
        rejected(lambda: port.associate(server, key="k"), TypeError, "key must be an int")
        rejected(lambda: port.associate(server, key=2**64), ValueError, "key must be in")
        rejected(lambda: port.associate(server.fileno()), TypeError, "winsock_ov Socket")
        rejected(lambda: port.dequeue_many(max_entries=2.0), TypeError, "max_entries")
        rejected(lambda: port.dequeue_many(max_entries=0), ValueError, "max_entries")
        rejected(lambda: port.close(drain_seconds=float("nan")), ValueError, "timeout")
        assert server.port_binding is None, "a refused associate tied the socket anyway"
        assert port.dequeue(timeout=0) is None, "a refused post queued a packet"


@pytest.mark.parametrize("wait", [
    lambda h: winsock_ov.wait_for_single_object_ex(h, 0),
    lambda h: winsock_ov.wait_for_multiple_objects_ex([h], timeout=0),
    lambda h: winsock_ov.wait_for_multiple_events([h], timeout=0),
], ids=["single_object", "multiple_objects", "multiple_events"])
def test_wait_handles_must_fit_in_a_pointer(wait: Callable[[Any], Any]) -> None:
    rejected(lambda: wait(2**64), ValueError, "handle must be in")
    rejected(lambda: wait(-(2**63) - 1), ValueError, "handle must be in")
    rejected(lambda: wait("h"), TypeError, "Event or a handle")


def test_a_refused_accept_ex_or_post_leaves_nothing_pending() -> None:
    with winsock_ov.Socket() as listener, winsock_ov.CompletionPort() as port:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        rejected(lambda: listener.accept_ex(accept_socket="str"), TypeError, "accept_socket")
        rejected(lambda: port.post(nbytes=2**32), ValueError, "nbytes")
        assert port.dequeue(timeout=0) is None


def test_echo_server_arguments_are_checked_before_it_starts() -> None:
    from winsock_ov.echo import EchoServer

    rejected(lambda: EchoServer(bufsize=0), ValueError, "bufsize must be in")
    rejected(lambda: EchoServer(bufsize="big"), TypeError, "bufsize must be an int")
    rejected(lambda: EchoServer(accepts=0), ValueError, "accepts must be in")
    # Refused once the port and listener exist: both are closed again.
    rejected(lambda: EchoServer(("127.0.0.1", 70000)), ValueError, "port must be in")
    rejected(lambda: EchoServer(backlog="many"), TypeError, "backlog must be an int")


def test_echo_servers_family_is_refused_before_its_port_exists(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from winsock_ov import echo

    ports: list[Any] = []

    class CountedPort(echo.CompletionPort):
        def __init__(self) -> None:
            super().__init__()
            ports.append(self)

    monkeypatch.setattr(echo, "CompletionPort", CountedPort)
    rejected(lambda: echo.EchoServer(family="inet"), TypeError,  # type: ignore[arg-type]
             "family must be an int")
    with pytest.raises(OSError) as raised:
        echo.EchoServer(family=12345)
    assert raised.value.winerror == WSAEAFNOSUPPORT
    assert ports == []


def test_from_socket_of_a_closed_socket_raises_wsaenotsock() -> None:
    import socket

    closed = socket.socket()
    closed.close()
    with pytest.raises(OSError) as exc:
        winsock_ov.Socket.from_socket(closed)
    assert exc.value.winerror == 10038  # WSAENOTSOCK, as for a closed winsock_ov Socket


def test_addresses_out_of_range_are_value_errors_in_every_address_call(udp: Any) -> None:
    from winsock_ov.raw import AF_INET6, SOCK_DGRAM

    first, _ = udp
    rejected(lambda: first.sendto(b"x", ("127.0.0.1", 70000)), ValueError, "port must be in")
    rejected(lambda: first.sendto(b"x", ("127.0.0.1", -1)), ValueError, "port must be in")
    with winsock_ov.Socket() as sock:
        rejected(lambda: sock.bind(("127.0.0.1", 70000)), ValueError, "port must be in")
        rejected(lambda: sock.connect(("127.0.0.1", 70000)), ValueError, "port must be in")
        rejected(lambda: sock.connect_ex(("127.0.0.1", 70000)), ValueError, "port must be in")
    with winsock_ov.Socket(AF_INET6, SOCK_DGRAM) as six:
        rejected(lambda: six.sendto(b"x", ("::1", 1, 2**20)), ValueError, "flowinfo must be in")
        rejected(lambda: six.sendto(b"x", ("::1", 1, -1)), ValueError, "flowinfo must be in")
        rejected(lambda: six.sendto(b"x", ("::1", 1, 0, 2**32)), ValueError, "scope_id must be in")
        rejected(lambda: six.bind(("::1", 2**16)), ValueError, "port must be in")


# --- timeouts: infinity waits forever, NaN and negatives are refused -------------------

INF, NAN = float("inf"), float("nan")


def finished_things(tcp: Any) -> dict[str, Any]:
    """A wait per public waiting call, on something already finished: none can block."""
    client, _ = tcp
    event_op = client.send(b"e")
    event_op.result(WAIT)
    routine_op = client.send(b"r", routine=lambda op: None)
    signaled = winsock_ov.Event()
    signaled.set()
    return {
        "Operation.result": lambda t: event_op.result(t),
        "Operation.wait": lambda t: event_op.wait(t),
        "Operation.exception": lambda t: event_op.exception(t),
        "routine Operation.wait": lambda t: routine_op.wait(t),
        "Event.wait": lambda t: signaled.wait(t),
        "wait_for_single_object_ex": lambda t: winsock_ov.wait_for_single_object_ex(signaled, t),
        "wait_for_multiple_objects_ex":
            lambda t: winsock_ov.wait_for_multiple_objects_ex([signaled], timeout=t),
        "wait_for_multiple_events":
            lambda t: winsock_ov.wait_for_multiple_events([signaled], timeout=t),
    }


def test_an_infinite_timeout_waits_like_none(tcp: Any) -> None:
    for name, wait in finished_things(tcp).items():
        assert wait(INF) is not False, name  # returned: nothing was left to wait for
    # sleep_ex returns once a completion routine ran: give it one that is due.
    client, server = tcp
    ran = []
    client.send(b"due").result(WAIT)
    server.recv(3, routine=ran.append)
    assert winsock_ov.sleep_ex(INF).status is winsock_ov.WaitStatus.IO_COMPLETION
    assert ran


def test_an_infinite_timeout_waits_like_none_on_ports_and_accepts() -> None:
    with winsock_ov.CompletionPort() as port:
        posted = port.post("one")
        assert port.dequeue(INF) is posted
        posted = port.post("two")
        assert port.dequeue_many(timeout=INF) == [posted]
        port.close(drain_seconds=INF)  # nothing pending: returns at once
    with winsock_ov.Socket() as listener, winsock_ov.Socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client.connect(listener.getsockname())
        accepted, _ = listener.accept(timeout=INF)
        accepted.close()


def test_nan_and_negative_timeouts_are_value_errors(tcp: Any) -> None:
    for wait in finished_things(tcp).values():  # Operation.result too, finished or not
        for bad in (NAN, -1):
            with pytest.raises(ValueError, match="timeout must be >= 0"):
                wait(bad)
    for bad in (NAN, -1):
        with pytest.raises(ValueError, match="timeout must be >= 0"):
            winsock_ov.sleep_ex(bad)


def test_nan_and_negative_timeouts_are_refused_while_an_operation_is_pending(tcp: Any) -> None:
    client, server = tcp
    by_event = server.recv(1)
    by_routine = server.recv(1, routine=lambda op: None)
    for op in (by_event, by_routine):
        for bad in (NAN, -1):
            with pytest.raises(ValueError, match="timeout must be >= 0"):
                op.result(bad)
            with pytest.raises(ValueError, match="timeout must be >= 0"):
                op.wait(bad)
        assert op.pending
    client.send(b"ab").result(WAIT)
    assert by_event.result(WAIT) + by_routine.result(WAIT) in (b"ab", b"ba")


@pytest.mark.parametrize("bad", [NAN, -1])
def test_nan_and_negative_timeouts_are_value_errors_on_ports_and_accepts(bad: float) -> None:
    with winsock_ov.CompletionPort() as port, winsock_ov.Socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        rejected(lambda: port.dequeue(bad), ValueError, "timeout must be >= 0")
        rejected(lambda: port.dequeue_many(timeout=bad), ValueError, "timeout must be >= 0")
        rejected(lambda: listener.accept(timeout=bad), ValueError, "timeout must be >= 0")
        rejected(lambda: port.close(drain_seconds=bad), ValueError, "timeout must be >= 0")
        assert not port.closed


# --- result flags ------------------------------------------------------------------------


def test_flags_of_a_peek_are_winsocks_result_flags_not_the_flags_passed_in(tcp: Any) -> None:
    from winsock_ov.raw import MSG_PEEK

    client, server = tcp
    peek = server.recv(4, flags=MSG_PEEK)  # pending: WSAGetOverlappedResult reports its flags
    client.send(b"peek").result(WAIT)
    assert peek.result(WAIT) == b"peek"
    assert not peek.flags & MSG_PEEK
    assert server.recv(4).result(WAIT) == b"peek"  # peeked, so still there


def test_flags_of_a_peek_with_a_routine_are_the_routines_dwflags(tcp: Any) -> None:
    from winsock_ov.raw import MSG_PEEK

    client, server = tcp
    peek = server.recv(4, flags=MSG_PEEK, routine=lambda op: None)
    client.send(b"peek").result(WAIT)
    assert peek.result(WAIT) == b"peek"
    assert not peek.flags & MSG_PEEK


def test_from_handle_of_something_not_a_socket_is_wsaenotsock_even_with_a_type() -> None:
    with winsock_ov.Event() as event:
        for kwargs in ({}, {"type": 1}):
            with pytest.raises(OSError) as raised:
                winsock_ov.Socket.from_handle(event.handle, **kwargs)
            assert raised.value.winerror == 10038  # WSAENOTSOCK


def test_accept_ex_on_a_closed_listener_closes_the_accept_socket_it_made() -> None:
    listener = winsock_ov.Socket()
    listener.close()
    op = winsock_ov.AcceptOperation(listener)
    with pytest.raises(OSError) as raised:
        op.start()
    assert raised.value.winerror == 10038  # WSAENOTSOCK
    assert op.accept_socket.closed and op.done and not op.pending
