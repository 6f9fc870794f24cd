"""Socket readiness through the AFD driver, reported by a completion port.

Each test asks ``CompletionPort.poll`` for events, makes (or withholds) the
condition, and collects the waits through ``dequeue``, which never returns a
wait before its events came.  Wine implements IOCTL_AFD_POLL on a helper
handle since 7.13; where it differs from Windows the test says so by name.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from typing import Any

import pytest
from conftest import close_and_settle
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from support import WAIT, ReportedOnceMachine, Worker, running_under_wine, tcp_pair, udp_pair

import winsock_ov
from winsock_ov import CompletionPort, OperationAbortedError, PollEvents, PollOperation
from winsock_ov.raw import ERROR_INVALID_HANDLE, SO_LINGER, SOL_SOCKET, WSAENOTSOCK

pytestmark = pytest.mark.windows

READABLE = PollEvents.RECEIVE
WRITABLE = PollEvents.SEND


@pytest.fixture
def port() -> Any:
    with CompletionPort() as completion_port:
        yield completion_port


def next_done(port: CompletionPort, timeout: float = WAIT) -> Any:
    completion = port.dequeue(timeout=timeout)
    assert completion is not None, f"nothing was reported within {timeout} s"
    return completion


def nothing_reported(port: CompletionPort) -> bool:
    return port.dequeue(timeout=0) is None


def settle(port: CompletionPort, baseline: int) -> None:
    """Dequeue until the port's retired requests are collected (fails after WAIT)."""
    for _ in range(200):
        if winsock_ov.pending_operations() <= baseline:
            return
        assert port.dequeue(timeout=WAIT / 200) is None, "an unexpected completion"
    raise AssertionError(f"{winsock_ov.pending_operations() - baseline} requests never ended")


# --- what each condition reports ----------------------------------------------------------


def test_receive_is_reported_only_once_data_arrived(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        wait = port.poll(server, READABLE)
        assert isinstance(wait, PollOperation) and wait.pending
        assert nothing_reported(port), "readable before anything was sent"
        client.send(b"x").result(WAIT)
        assert next_done(port) is wait
        assert wait.done and wait.result() == READABLE
        assert server.recv(1).result(WAIT) == b"x"
    finally:
        close_and_settle(client, server)


def test_send_room_is_reported_at_once(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        wait = port.poll(client, WRITABLE)
        assert next_done(port) is wait and wait.result() == WRITABLE
    finally:
        close_and_settle(client, server)


def test_only_the_events_asked_for_are_reported(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        client.send(b"x").result(WAIT)
        wait = port.poll(server, READABLE | WRITABLE | PollEvents.ACCEPT)
        assert next_done(port) is wait
        found = wait.result()
        assert found & ~(READABLE | WRITABLE) == 0 and found & WRITABLE
    finally:
        close_and_settle(client, server)


def test_peer_shutdown_reports_disconnect(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        wait = port.poll(server, PollEvents.DISCONNECT)
        assert nothing_reported(port)
        client.shutdown(socket.SHUT_WR)
        assert next_done(port) is wait and wait.result() == PollEvents.DISCONNECT
    finally:
        close_and_settle(client, server)


def test_reset_reports_abort(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        wait = port.poll(server, PollEvents.ABORT | PollEvents.DISCONNECT)
        client.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("HH", 1, 0))
        client.close()  # a zero linger: RST instead of FIN
        assert next_done(port) is wait
        assert wait.result() & PollEvents.ABORT
    finally:
        close_and_settle(client, server)


def test_listening_socket_reports_accept(port: CompletionPort) -> None:
    with winsock_ov.Socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        wait = port.poll(listener, PollEvents.ACCEPT)
        assert nothing_reported(port)
        with socket.create_connection(listener.getsockname(), timeout=WAIT):
            assert next_done(port) is wait and wait.result() == PollEvents.ACCEPT
            accepted, _ = listener.accept(timeout=WAIT)
            accepted.close()


def test_udp_datagram_reports_receive_and_room_reports_send(port: CompletionPort) -> None:
    first, second = udp_pair()
    try:
        readable = port.poll(second, READABLE)
        writable = port.poll(first, WRITABLE)
        assert next_done(port) is writable and writable.result() == WRITABLE
        assert nothing_reported(port)
        first.sendto(b"datagram", second.getsockname()).result(WAIT)
        assert next_done(port) is readable and readable.result() == READABLE
    finally:
        close_and_settle(first, second)


def test_refused_connect_reports_connect_fail_with_its_error(port: CompletionPort) -> None:
    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))
        address = closed_port.getsockname()  # bound, never listening: connects are refused
        with socket.socket() as client:
            client.setblocking(False)
            assert client.connect_ex(address) in (10035, 10036)  # WSAEWOULDBLOCK
            wait = port.poll(client, PollEvents.CONNECT_FAIL | WRITABLE)
            assert next_done(port) is wait
            assert wait.result() == PollEvents.CONNECT_FAIL
            assert isinstance(wait.connect_error, ConnectionRefusedError)


def test_a_python_socket_and_a_raw_handle_can_be_polled(port: CompletionPort) -> None:
    with socket.socket() as plain:
        by_object = port.poll(plain, WRITABLE | PollEvents.LOCAL_CLOSE)
        assert nothing_reported(port), "an unconnected socket has no room to send"
        by_handle = port.poll(plain.fileno(), PollEvents.LOCAL_CLOSE)
        assert by_object.socket is plain and by_handle.socket == plain.fileno()
    # Closed: both waits end with it.
    assert {next_done(port), next_done(port)} == {by_object, by_handle}
    assert by_object.result() == by_handle.result() == PollEvents.LOCAL_CLOSE


# --- one request per socket ---------------------------------------------------------------


def test_waiters_on_one_socket_share_one_request(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        baseline = winsock_ov.pending_operations()
        readers = [port.poll(server, READABLE) for _ in range(3)]
        assert winsock_ov.pending_operations() == baseline + 1
        client.send(b"x").result(WAIT)
        assert {next_done(port) for _ in readers} == set(readers)
        assert all(reader.result() == READABLE for reader in readers)
        settle(port, baseline)
    finally:
        close_and_settle(client, server)


def test_a_wider_waiter_replaces_the_request_and_the_first_keeps_waiting(
        port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        baseline = winsock_ov.pending_operations()
        reader = port.poll(server, READABLE)
        writer = port.poll(server, WRITABLE)  # not asked by the first request
        assert next_done(port) is writer and writer.result() == WRITABLE
        assert reader.pending and nothing_reported(port)
        assert winsock_ov.pending_operations() == baseline + 1, "more than one request"
        client.send(b"x").result(WAIT)
        assert next_done(port) is reader and reader.result() == READABLE
        settle(port, baseline)
    finally:
        close_and_settle(client, server)


def test_a_narrower_waiter_joins_the_request_in_flight(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        wide = port.poll(server, READABLE | PollEvents.DISCONNECT)
        narrow = port.poll(server, PollEvents.DISCONNECT)
        client.send(b"x").result(WAIT)
        assert next_done(port) is wide and wide.result() == READABLE
        assert narrow.pending and nothing_reported(port)
        client.shutdown(socket.SHUT_WR)
        assert server.recv(1).result(WAIT) == b"x"  # Wine reports no FIN while data waits
        assert next_done(port) is narrow and narrow.result() == PollEvents.DISCONNECT
    finally:
        close_and_settle(client, server)


def test_one_sockets_request_moves_between_the_states_the_module_draws(
        port: CompletionPort) -> None:
    """poll.py's drawing, step by step: IDLE -> PENDING (a waiter), -> CANCELLED (a
    wider waiter), back -> PENDING asking the union (the cancel came back), ->
    IDLE (the events came, nobody left: forgotten)."""
    from winsock_ov.poll import PollState

    client, server = tcp_pair()
    try:
        baseline = winsock_ov.pending_operations()

        def polled() -> Any:
            return port._poller._sockets.get(base) if port._poller is not None else None

        narrow = port.poll(server, PollEvents.DISCONNECT)
        base = next(iter(port._poller._sockets))
        assert polled().state is PollState.PENDING
        assert polled().request.asked == PollEvents.DISCONNECT | PollEvents.LOCAL_CLOSE
        wide = port.poll(server, READABLE)
        assert polled().state is PollState.CANCELLED, "asked too little: cancelled"
        assert nothing_reported(port)  # the cancel came back; the union is asked
        assert polled().state is PollState.PENDING
        assert polled().request.asked == (PollEvents.DISCONNECT | READABLE
                                          | PollEvents.LOCAL_CLOSE)
        client.send(b"x").result(WAIT)
        assert next_done(port) is wide and narrow.pending
        assert polled().state is PollState.PENDING, "asked again for the waiter left"
        assert narrow.cancel()
        assert polled().state is PollState.CANCELLED, "nobody waits: cancelled"
        assert next_done(port) is narrow
        settle(port, baseline)
        assert polled() is None, "IDLE and nobody waiting: forgotten"
    finally:
        close_and_settle(client, server)


# --- ending a wait otherwise --------------------------------------------------------------


def test_cancel_ends_the_wait_once_as_aborted(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        baseline = winsock_ov.pending_operations()
        wait = port.poll(server, READABLE)
        assert wait.cancel() is True
        assert wait.cancel() is False
        assert next_done(port) is wait
        with pytest.raises(OperationAbortedError) as raised:
            wait.result()
        assert raised.value.winerror == 995
        settle(port, baseline)  # the request was cancelled too: nobody waits
    finally:
        close_and_settle(client, server)


def test_cancel_racing_readiness_ends_each_wait_exactly_once(port: CompletionPort) -> None:
    client, server = tcp_pair()
    rng = random.Random(12)
    try:
        baseline = winsock_ov.pending_operations()
        client.send(b"x").result(WAIT)  # readable for the whole test: never read
        for _ in range(300):
            waits = [port.poll(server, READABLE) for _ in range(rng.randint(1, 3))]
            cancelled = {w for w in waits if rng.random() < 0.5 and w.cancel()}
            seen: list[Any] = []
            while len(seen) < len(waits):
                seen.append(next_done(port))
            assert sorted(map(id, seen)) == sorted(map(id, waits)), "a wait reported twice"
            for w in waits:
                if w in cancelled:
                    assert isinstance(w.exception(), OperationAbortedError)
                else:
                    assert w.result() == READABLE
        settle(port, baseline)
    finally:
        close_and_settle(client, server)


def test_closing_the_polled_socket_ends_its_waits_with_local_close(
        port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        baseline = winsock_ov.pending_operations()
        # The second wait widens the request: the socket is closed while the
        # first request's cancellation is queued, so the new one finds no socket
        # (ERROR_INVALID_HANDLE), which ends the waits as the close would have.
        waits = [port.poll(server, READABLE), port.poll(server, PollEvents.DISCONNECT)]
        server.close()
        assert {next_done(port), next_done(port)} == set(waits)
        assert all(w.result() == PollEvents.LOCAL_CLOSE for w in waits)
        settle(port, baseline)
        with pytest.raises(OSError) as raised:
            port.poll(server, READABLE)  # a closed winsock_ov Socket has no handle
        assert raised.value.winerror == WSAENOTSOCK
    finally:
        close_and_settle(client, server)


def test_closing_a_socket_with_its_request_in_flight_reports_local_close(
        port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        wait = port.poll(server, READABLE)
        server.close()
        assert next_done(port) is wait and wait.result() == PollEvents.LOCAL_CLOSE
    finally:
        close_and_settle(client, server)


def test_a_new_socket_at_a_closed_ones_handle_value_gets_its_own_request(
        port: CompletionPort) -> None:
    old = socket.socket()
    handle = old.fileno()
    old_wait = port.poll(old, READABLE)
    old.close()  # its request ends now; its packet is still queued
    fresh = [socket.socket() for _ in range(64)]
    try:
        reused = [sock for sock in fresh if sock.fileno() == handle]
        assert reused, "no new socket took the closed one's handle value"
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            reused[0].connect(listener.getsockname())
            new_wait = port.poll(reused[0], WRITABLE)
            assert {next_done(port), next_done(port)} == {old_wait, new_wait}
            assert old_wait.result() == PollEvents.LOCAL_CLOSE
            assert new_wait.result() == WRITABLE
    finally:
        for sock in fresh:
            sock.close()


def test_closing_the_port_ends_pending_waits_and_keeps_nothing() -> None:
    client, server = tcp_pair()
    try:
        baseline = winsock_ov.pending_operations()
        port = CompletionPort()
        waits = [port.poll(server, READABLE), port.poll(client, PollEvents.DISCONNECT)]
        port.close()
        assert all(isinstance(w.exception(), OperationAbortedError) for w in waits)
        assert winsock_ov.pending_operations() == baseline
        with pytest.raises(ValueError):
            port.poll(server, READABLE)
    finally:
        close_and_settle(client, server)


def test_a_thousand_sockets_polled_at_once(port: CompletionPort) -> None:
    count = 1024
    receivers = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            waits = {}
            for receiver in receivers:
                receiver.bind(("127.0.0.1", 0))
                waits[port.poll(receiver, READABLE)] = receiver
            assert nothing_reported(port)
            for receiver in reversed(receivers):
                sender.sendto(b"x", receiver.getsockname())
            seen: set[Any] = set()
            while len(seen) < count:
                batch = port.dequeue_many(64, timeout=WAIT)
                assert batch, f"{count - len(seen)} of {count} waits never ended"
                assert not seen.intersection(batch), "a wait reported twice"
                seen.update(batch)
            assert seen == set(waits)
            assert all(w.result() == READABLE for w in waits)
    finally:
        for receiver in receivers:
            receiver.close()


# --- exactly once, whatever the order ------------------------------------------------------

ASKABLE = [READABLE, WRITABLE, PollEvents.DISCONNECT, READABLE | PollEvents.DISCONNECT,
           READABLE | WRITABLE]


class PollMachine(ReportedOnceMachine):
    """Random polls, sends, reads, shutdowns, closes, cancels and dequeues on one port.

    Every wait is reported exactly once, never before it ended, with events it
    asked for (or LOCAL_CLOSE), or aborted exactly when its cancel() said True.
    """

    def __init__(self) -> None:
        super().__init__()
        self.port = CompletionPort()
        self.baseline = winsock_ov.pending_operations()
        self.pairs = [tcp_pair() for _ in range(2)]
        self.unread = [0, 0]
        self.waits: list[Any] = []
        self.cancelled: set[int] = set()

    def check_reported(self, item: Any) -> None:
        assert item in self.waits, f"reported but never asked: {item!r}"
        assert item.done
        if id(item) in self.cancelled:
            assert isinstance(item.exception(), OperationAbortedError)
        else:
            found = item.result()
            assert found and not found & ~(item.events | PollEvents.LOCAL_CLOSE)

    @rule(pair=st.integers(0, 1), events=st.sampled_from(ASKABLE))
    def poll(self, pair: int, events: PollEvents) -> None:
        _, server = self.pairs[pair]
        self.waits.append(self.port.poll(server, events))

    @rule(pair=st.integers(0, 1))
    def send(self, pair: int) -> None:
        client, _ = self.pairs[pair]
        if not client.closed:
            client.send(b"x").result(WAIT)
            self.unread[pair] += 1

    @precondition(lambda self: any(self.unread))
    @rule(pair=st.integers(0, 1))
    def read(self, pair: int) -> None:
        if self.unread[pair]:
            _, server = self.pairs[pair]
            received = b""
            while len(received) < self.unread[pair]:
                received += server.recv(self.unread[pair] - len(received)).result(WAIT)
            self.unread[pair] = 0

    @rule(pair=st.integers(0, 1))
    def replace_pair(self, pair: int) -> None:
        """Close both ends (the server's waits end with LOCAL_CLOSE) and start afresh."""
        for sock in self.pairs[pair]:
            sock.close()
        self.pairs[pair], self.unread[pair] = tcp_pair(), 0

    @precondition(lambda self: any(w.pending for w in self.waits))
    @rule(choice=st.randoms(use_true_random=False))
    def cancel(self, choice: random.Random) -> None:
        wait = choice.choice([w for w in self.waits if w.pending])
        if wait.cancel():
            self.cancelled.add(id(wait))

    def teardown(self) -> None:
        try:
            for wait in self.waits:
                if wait.cancel():
                    self.cancelled.add(id(wait))
            self.collect(len(self.waits), "waits")
            settle(self.port, self.baseline)
        finally:
            for pair in self.pairs:
                close_and_settle(*pair)
            self.port.close()


TestPollMachine = PollMachine.TestCase
TestPollMachine.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)


def test_threads_polling_cancelling_and_dequeuing_at_once(port: CompletionPort) -> None:
    pairs = [tcp_pair() for _ in range(4)]
    asked: list[Any] = []
    reported: list[Any] = []
    progress, stop = threading.Condition(), threading.Event()

    def poller(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(300):
            client, server = rng.choice(pairs)
            wait = port.poll(server, rng.choice(ASKABLE))
            with progress:
                asked.append(wait)
            if rng.random() < 0.4:
                wait.cancel()
            if rng.random() < 0.2:
                client.send(b"x")

    def dequeuer() -> None:
        while not stop.is_set():
            batch = port.dequeue_many(16, timeout=0.05)
            with progress:
                reported.extend(batch)
                progress.notify_all()

    dequeuers = [Worker(dequeuer, name=f"dequeuer {i}") for i in range(2)]
    pollers = [Worker(lambda seed=i: poller(seed), name=f"poller {i}") for i in range(2)]
    try:
        for worker in dequeuers + pollers:
            worker.start()
        for worker in pollers:
            worker.result(WAIT * 4)
        for wait in list(asked):
            wait.cancel()  # the rest end now
        with progress:
            assert progress.wait_for(lambda: len(reported) >= len(asked), WAIT), \
                f"{len(asked) - len(reported)} of {len(asked)} waits never reported"
        stop.set()
        for worker in dequeuers:
            worker.result()
        assert len(reported) == len(set(map(id, reported))) == len(asked) == 600
        assert set(map(id, reported)) == set(map(id, asked))
        assert all(w.done for w in asked)
    finally:
        stop.set()
        for pair in pairs:
            close_and_settle(*pair)


# --- callbacks ----------------------------------------------------------------------------


def test_done_callbacks_run_once_when_the_wait_ends(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        calls: list[Any] = []
        wait = port.poll(server, READABLE)
        wait.add_done_callback(calls.append)
        assert calls == []
        client.send(b"x").result(WAIT)
        assert next_done(port) is wait and calls == [wait]
        wait.add_done_callback(calls.append)  # already done: called at once
        assert calls == [wait, wait]
    finally:
        close_and_settle(client, server)


def test_a_raising_callback_raises_from_dequeue_and_loses_no_completion(
        port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        wait = port.poll(server, READABLE)

        def broken(_: Any) -> None:
            raise LookupError("from the callback")

        wait.add_done_callback(broken)
        client.send(b"x").result(WAIT)
        with pytest.raises(LookupError, match="from the callback"):
            next_done(port)
        assert wait.done
        assert next_done(port) is wait  # reported by the next dequeue
    finally:
        close_and_settle(client, server)


# --- refused input ------------------------------------------------------------------------


@pytest.mark.parametrize(("events", "error"), [
    (0, ValueError), (1 << 12, ValueError), (-1, ValueError), (1.0, TypeError),
    (True, TypeError), ("RECEIVE", TypeError), (None, TypeError),
])
def test_bad_events_are_refused_before_anything_starts(port: CompletionPort, events: Any,
                                                       error: type) -> None:
    client, server = tcp_pair()
    try:
        baseline = winsock_ov.pending_operations()
        with pytest.raises(error):
            port.poll(server, events)
        assert winsock_ov.pending_operations() == baseline
    finally:
        close_and_settle(client, server)


@pytest.mark.parametrize("sock", ["socket", None, 1.5, -1, 1 << 70, True])
def test_bad_sockets_are_refused_before_anything_starts(port: CompletionPort,
                                                        sock: Any) -> None:
    baseline = winsock_ov.pending_operations()
    with pytest.raises((TypeError, ValueError)):
        port.poll(sock, READABLE)
    assert winsock_ov.pending_operations() == baseline


@pytest.mark.parametrize(("handle", "key", "error"), [
    ("handle", 0, TypeError), (1 << 70, 0, ValueError), (0, -1, ValueError),
    (0, 1.5, TypeError),
])
def test_bind_handle_refuses_bad_arguments_before_the_call(port: CompletionPort, handle: Any,
                                                           key: Any, error: type) -> None:
    with pytest.raises(error):
        port.bind_handle(handle, key)


def test_bind_handle_on_no_handle_raises_the_windows_error(port: CompletionPort) -> None:
    with pytest.raises(OSError) as raised:
        port.bind_handle(0)
    assert raised.value.winerror == ERROR_INVALID_HANDLE


def test_add_done_callback_refuses_what_cannot_be_called(port: CompletionPort) -> None:
    client, server = tcp_pair()
    try:
        wait = port.poll(server, READABLE)
        with pytest.raises(TypeError):
            wait.add_done_callback("not callable")  # type: ignore[arg-type]
        assert wait.cancel() is True
        assert next_done(port) is wait
    finally:
        close_and_settle(client, server)


def test_a_handle_that_is_no_socket_raises_wsaenotsock(port: CompletionPort) -> None:
    event = winsock_ov.Event()
    try:
        baseline = winsock_ov.pending_operations()
        with pytest.raises(OSError) as raised:
            port.poll(event.handle, READABLE)
        # Wine deviation: its WSAIoctl on a handle of another kind fails with
        # ERROR_INVALID_HANDLE (the NT status of the device call), where Windows
        # answers WSAENOTSOCK as documented for every Winsock call.
        expected = ERROR_INVALID_HANDLE if running_under_wine() else WSAENOTSOCK
        assert raised.value.winerror == expected
        assert winsock_ov.pending_operations() == baseline
    finally:
        event.close()

