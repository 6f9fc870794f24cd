"""``winsock_ov.selectors.AFDSelector``: readiness as SelectSelector reports it, for any
number of sockets.

Each test makes a condition (data sent, a buffer filled, a socket closed or
duplicated, a handle value reused, another thread racing) and checks what
``select()`` reports, synchronising on the sockets themselves, never on a
sleep.  Every selector is closed at the end of its test and must leave
nothing pending (``selector`` fixture).  CPython's own generic selector cases
run against it too (tests/test_cpython_selectors.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import random
import select
import selectors
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support import WAIT, Worker, run_python, running_under_wine, said, wait_until

import winsock_ov
from winsock_ov.raw import ERROR_INVALID_HANDLE, WSAENOTSOCK
from winsock_ov.selectors import AFDSelector

pytestmark = pytest.mark.windows

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
# A handle that names no socket any more: Windows answers WSAENOTSOCK for every
# Winsock call; Wine's WSAIoctl fails with ERROR_INVALID_HANDLE (the NT status
# of its device call) instead (as tests/test_poll.py pins).
NOT_A_SOCKET = ERROR_INVALID_HANDLE if running_under_wine() else WSAENOTSOCK


@pytest.fixture
def selector() -> Iterator[AFDSelector]:
    """An AFDSelector; closed afterwards, which must leave nothing pending."""
    gc.collect()
    baseline = winsock_ov.pending_operations()
    chosen = AFDSelector()
    try:
        yield chosen
    finally:
        chosen.close()
        assert winsock_ov.pending_operations() == baseline, "the closed selector left I/O"


def socket_pairs(count: int) -> list[tuple[socket.socket, socket.socket]]:
    """``count`` connected loopback TCP pairs (client, server), non-blocking."""
    pairs = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(min(count, 4096))
        for _ in range(count):
            client = socket.socket()
            client.setblocking(False)
            try:
                client.connect(listener.getsockname())
            except BlockingIOError:  # connects once the listener accepts
                pass
            server, _ = listener.accept()
            server.setblocking(False)
            pairs.append((client, server))
    return pairs


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    (client, server), = socket_pairs(1)
    with client, server:
        yield client, server


def reported(selector: AFDSelector, timeout: float | None = WAIT) -> dict[Any, int]:
    """One select(): the events found, by file object."""
    return {key.fileobj: events for key, events in selector.select(timeout)}


def select_until(selector: AFDSelector, fileobj: Any, timeout: float = WAIT) -> int:
    """select() until ``fileobj`` is reported; its events (fails after ``timeout``)."""
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            found = reported(selector, 0.1)
            if fileobj in found:
                return found[fileobj]
    finally:
        timer.cancel()
    raise AssertionError(f"{fileobj!r} was not reported within {timeout} s")


def fill_send_buffer(sock: socket.socket) -> int:
    """Send until no more fits, the peer's receive buffer included: until the socket
    stays unwritable for half a second as select.select() sees it; bytes sent."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    chunk, sent = bytes(65536), 0
    while sent < 256 * 2**20:
        try:
            sent += sock.send(chunk)
        except BlockingIOError:
            if not select.select([], [sock], [], 0.5)[1]:
                return sent
    raise AssertionError("256 MiB went out without the buffers filling")


def drain(sock: socket.socket, nbytes: int) -> None:
    """Receive ``nbytes`` (the socket is non-blocking: wait for each part)."""
    got = 0
    while got < nbytes:
        ready = selectors.DefaultSelector()
        with ready:
            ready.register(sock, READ)
            assert ready.select(WAIT), f"{nbytes - got} bytes never came"
        got += len(sock.recv(2**20))


def pending_polls_settle(selector: AFDSelector, expected: int) -> None:
    """select() until exactly ``expected`` operations are pending (polls whose end
    was collected leave the count); fails after WAIT seconds."""
    for _ in range(int(WAIT / 0.05)):
        if winsock_ov.pending_operations() == expected:
            return
        selector.select(0.05)
    raise AssertionError(f"{winsock_ov.pending_operations()} operations pending, not {expected}")


# --- what select() reports --------------------------------------------------------------


def test_readable_is_reported_once_data_arrived_and_as_long_as_it_is_unread(
        selector: AFDSelector, pair: Any) -> None:
    client, server = pair
    key = selector.register(server, READ, "data")
    assert selector.select(0) == []
    client.send(b"abc")
    assert selector.select(WAIT) == [(key, READ)]
    assert selector.select(0) == [(key, READ)]  # level-triggered: still unread
    assert server.recv(3) == b"abc"
    assert selector.select(0) == []


def test_read_and_write_interest_are_reported_together_by_one_poll(
        selector: AFDSelector, pair: Any) -> None:
    client, server = pair
    key = selector.register(server, READ | WRITE)
    assert selector.select(WAIT) == [(key, WRITE)]
    client.send(b"x")
    assert select_until(selector, server) == READ | WRITE  # one entry, both events


def test_read_and_write_interest_in_flight_together_each_end_their_own_way(
        selector: AFDSelector, pair: Any) -> None:
    client, server = pair
    sent = fill_send_buffer(server)  # server cannot send now, and has nothing to read
    key = selector.register(server, READ | WRITE)
    assert selector.select(0) == []
    client.send(b"x")
    assert selector.select(WAIT) == [(key, READ)]  # still no room to send
    assert server.recv(1) == b"x"
    assert selector.select(0) == []
    drain(client, sent)  # the peer reads everything: room again
    assert select_until(selector, server) == WRITE


def test_a_write_only_registration_hears_nothing_of_data(selector: AFDSelector,
                                                         pair: Any) -> None:
    client, server = pair
    fill_send_buffer(server)
    selector.register(server, WRITE)
    client.send(b"x")
    assert selector.select(0.2) == []


def test_modify_replaces_the_poll_in_flight_and_data_alone_keeps_it(
        selector: AFDSelector, pair: Any) -> None:
    client, server = pair
    selector.register(server, READ, "first")
    assert selector.select(0) == []
    key = selector.modify(server, WRITE, "second")
    assert (key.events, key.data) == (WRITE, "second")
    assert selector.select(WAIT) == [(key, WRITE)]
    key = selector.modify(server, READ, "third")
    assert selector.select(0) == []  # the write poll is gone
    pending = winsock_ov.pending_operations()
    key = selector.modify(server, READ, "fourth")  # same events: nothing restarted
    assert winsock_ov.pending_operations() == pending and selector.get_key(server) is key
    client.send(b"x")
    assert selector.select(WAIT) == [(key, READ)]


def test_empty_select_waits_its_timeout_and_negative_timeouts_do_not_wait(
        selector: AFDSelector) -> None:
    assert selector.select(0.05) == []
    assert selector.select(-1) == []
    assert selector.select(0) == []


# --- bad input ---------------------------------------------------------------------------


def test_a_handle_that_is_no_socket_is_refused_and_nothing_stays_registered(
        selector: AFDSelector) -> None:
    baseline = winsock_ov.pending_operations()
    with winsock_ov.Event() as event:
        with pytest.raises(OSError) as raised:
            selector.register(event.handle, READ)
    assert raised.value.winerror == NOT_A_SOCKET
    assert len(selector.get_map()) == 0
    assert winsock_ov.pending_operations() == baseline


@pytest.mark.parametrize(("fileobj", "events", "error", "match"), [
    (None, READ, ValueError, "Invalid file object"),
    ("socket", READ, ValueError, "Invalid file object"),
    (-1, READ, ValueError, "Invalid file descriptor: -1"),
    (0, 0, ValueError, "Invalid events: 0"),
    (0, 4, ValueError, "Invalid events: 4"),
    (0, True, TypeError, "events must be EVENT_READ, EVENT_WRITE or both, not bool"),
    (0, "1", TypeError, "not str"),
])
def test_bad_arguments_raise_before_anything_is_registered(
        selector: AFDSelector, fileobj: Any, events: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        selector.register(fileobj, events)
    assert len(selector.get_map()) == 0


def test_registering_twice_and_unknown_sockets_are_key_errors(selector: AFDSelector,
                                                              pair: Any) -> None:
    client, server = pair
    selector.register(server, READ)
    with pytest.raises(KeyError):
        selector.register(server, WRITE)
    with pytest.raises(KeyError):
        selector.register(server.fileno(), WRITE)  # the same handle, another object
    with pytest.raises(KeyError):
        selector.unregister(client)
    with pytest.raises(KeyError):
        selector.modify(client, READ)
    with pytest.raises(KeyError):
        selector.get_key(client)


def test_a_modify_that_fails_unregisters_as_epoll_does(selector: AFDSelector) -> None:
    (client, server), = socket_pairs(1)
    with client:
        selector.register(server, READ)
        server.close()
        with pytest.raises(OSError) as raised:
            selector.modify(server, WRITE)  # its handle names no socket now
        assert raised.value.winerror == NOT_A_SOCKET
        assert len(selector.get_map()) == 0


# --- a socket closed while registered -------------------------------------------------------


def test_a_closed_socket_stays_registered_and_is_never_reported_as_epoll_does(
        selector: AFDSelector) -> None:
    (a_client, a), (b_client, b) = socket_pairs(2)
    with a_client, b_client, b:
        baseline = winsock_ov.pending_operations()
        key_a = selector.register(a, READ)
        key_b = selector.register(b, READ)
        assert winsock_ov.pending_operations() == baseline + 2  # one poll each
        handle = a.fileno()
        a.close()
        # AFD ends a's poll with LOCAL_CLOSE; select() polls it once more, which
        # Windows refuses (the handle names no socket): a's poll is gone for good.
        pending_polls_settle(selector, baseline + 1)
        a_client.send(b"to a closed socket")
        b_client.send(b"x")
        assert reported(selector) == {b: READ}
        assert selector.get_key(a) is key_a and selector.get_map()[handle] is key_a
        assert selector.unregister(a) is key_a  # by the object, whose fileno() is -1 now
        assert selector.get_key(b) is key_b


def test_a_closed_socket_unregisters_by_its_old_handle_value(selector: AFDSelector) -> None:
    (client, server), = socket_pairs(1)
    with client:
        key = selector.register(server, READ)
        handle = server.fileno()
        server.close()
        assert selector.unregister(handle) is key  # no select() in between


def test_winsock_ov_sockets_register_and_unregister_once_closed(selector: AFDSelector) -> None:
    listener = winsock_ov.Socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    key = selector.register(listener, READ)
    with socket.create_connection(listener.getsockname()[:2], timeout=WAIT):
        assert reported(selector) == {listener: READ}  # a connection to accept
    listener.close()  # its fileno() raises now: found by identity
    assert selector.unregister(listener) is key


def test_select_selector_instead_fails_every_select_while_a_closed_socket_is_registered(
        pair: Any) -> None:
    # The stdlib's default on Windows, for comparison: select.select() refuses
    # the closed handle, so every select() fails until it is unregistered.
    (client, server), = socket_pairs(1)
    with client, selectors.SelectSelector() as select_selector:
        select_selector.register(server, READ)
        server.close()
        with pytest.raises(OSError) as raised:
            select_selector.select(0)
        assert raised.value.winerror == WSAENOTSOCK


# --- duplicated sockets ---------------------------------------------------------------------


def duplicate(sock: socket.socket, how: str) -> socket.socket:
    if how == "dup":
        return sock.dup()
    # WSADuplicateSocketW into a WSAPROTOCOL_INFOW, then WSASocketW from it.
    return socket.fromshare(sock.share(ctypes.windll.kernel32.GetCurrentProcessId()))


@pytest.mark.parametrize("how", ["dup", "WSADuplicateSocket"])
@pytest.mark.parametrize("registered", ["original", "copy"])
def test_closing_one_copy_of_a_duplicated_socket_leaves_the_other_watched(
        selector: AFDSelector, pair: Any, how: str, registered: str) -> None:
    client, server = pair
    copy = duplicate(server, how)
    watched, closed = (server, copy) if registered == "original" else (copy, server)
    try:
        key = selector.register(watched, READ)
        assert selector.select(0) == []
        closed.close()
        client.send(b"x")
        assert select_until(selector, watched) == READ
        assert selector.get_key(watched) is key
        assert watched.recv(1) == b"x"
    finally:
        copy.close()


def test_both_copies_of_a_duplicated_socket_can_be_registered_and_closed_apart(
        selector: AFDSelector, pair: Any) -> None:
    client, server = pair
    with server.dup() as copy:
        selector.register(server, READ)
        selector.register(copy, READ)
        client.send(b"x")
        seen: dict[Any, int] = {}
        while len(seen) < 2:
            found = reported(selector)
            assert found, f"only {list(seen)} reported"
            seen.update(found)
        assert seen == {server: READ, copy: READ}
        selector.unregister(copy)
        copy.close()
        assert reported(selector) == {server: READ}


# --- handle values reused ---------------------------------------------------------------------


@contextlib.contextmanager
def socket_taking(handle: int) -> Iterator[socket.socket]:
    """A new socket whose handle value is ``handle`` (freed just before: Wine hands a
    freed value out again at once); closed afterwards, with those opened on the way."""
    opened: list[socket.socket] = []
    try:
        for _ in range(1000):
            opened.append(socket.socket())
            if opened[-1].fileno() == handle:
                break
        else:
            raise AssertionError(f"no new socket got handle {handle} in 1000 tries")
        yield opened[-1]
    finally:
        for sock in opened:
            sock.close()


def connected_peer(sock: socket.socket, listener: socket.socket) -> socket.socket:
    """Connect ``sock`` to ``listener``; the accepted end."""
    sock.connect(listener.getsockname())
    return listener.accept()[0]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        yield listening


@pytest.mark.parametrize("select_between", [False, True])
def test_a_handle_value_reused_right_after_a_close_reports_only_the_new_socket(
        selector: AFDSelector, listener: socket.socket, select_between: bool) -> None:
    (client, old), = socket_pairs(1)
    with client:
        baseline = winsock_ov.pending_operations()
        selector.register(old, READ)
        handle = old.fileno()
        old.close()  # its poll ends with LOCAL_CLOSE
        if select_between:
            pending_polls_settle(selector, baseline)
        selector.unregister(old)
        with socket_taking(handle) as reused, connected_peer(reused, listener) as peer:
            key = selector.register(reused, READ)
            # The old poll's end names the same handle: it must report nothing.
            assert reported(selector, 0.2) == {}
            peer.send(b"x")
            assert reported(selector) == {reused: READ}
            assert selector.get_key(handle) is key
            selector.unregister(reused)


def test_a_reused_handle_value_is_still_taken_by_an_unregistered_closed_socket(
        selector: AFDSelector) -> None:
    (client, old), = socket_pairs(1)
    with client:
        key = selector.register(old, READ)
        handle = old.fileno()
        old.close()
        with socket_taking(handle) as reused:
            with pytest.raises(KeyError):  # as every stdlib selector: unregister first
                selector.register(reused, READ)
            assert selector.unregister(handle) is key
            selector.register(reused, READ)
            selector.unregister(reused)


def test_a_socket_taking_the_handle_of_a_closed_registered_one_is_watched_in_its_place(
        selector: AFDSelector, listener: socket.socket) -> None:
    # Before select() saw the close, the handle value names a socket again: the
    # poll AFD ended with LOCAL_CLOSE is asked again, of the new socket (as
    # SelectSelector, which knows handle values only; unregister before closing).
    (client, old), = socket_pairs(1)
    with client:
        key = selector.register(old, READ)
        handle = old.fileno()
        old.close()
        with socket_taking(handle) as reused, connected_peer(reused, listener) as peer:
            peer.send(b"x")
            assert select_until(selector, old) == READ  # the old key, the new socket
            assert selector.get_key(handle) is key
            selector.unregister(handle)


# --- threads ---------------------------------------------------------------------------------


def test_unregister_racing_readiness_on_another_thread_never_reports_it_afterwards(
        selector: AFDSelector) -> None:
    pairs = socket_pairs(40)
    unregistered: set[Any] = set()
    lock = threading.Lock()
    stop = threading.Event()
    late: list[Any] = []
    selects = 0

    def select_loop() -> int:
        nonlocal selects
        while not stop.is_set():
            with lock:
                before = set(unregistered)  # unregistered before this select() began
            for key, _ in selector.select(0.05):
                if key.fileobj in before:
                    late.append(key.fileobj)
            selects += 1
        return selects

    try:
        for _, server in pairs:
            selector.register(server, READ)
        worker = Worker(select_loop, "select loop")
        worker.start()
        for client, server in pairs:
            client.send(b"x")  # readiness on its way...
            selector.unregister(server)  # ...while this thread unregisters
            with lock:
                unregistered.add(server)
        stop.set()
        assert worker.result() > 0
        assert late == [], "reported after unregister() had returned"
        assert len(selector.get_map()) == 0
    finally:
        stop.set()
        for client, server in pairs:
            client.close()
            server.close()


@pytest.mark.parametrize("registered", [True, False])
def test_close_during_a_select_of_another_thread_ends_it_and_leaves_nothing_pending(
        pair: Any, registered: bool) -> None:
    # With a poll in flight, its cancellation would wake the thread too; with none,
    # only the packet close() posts does.
    client, server = pair
    gc.collect()
    baseline = winsock_ov.pending_operations()
    selector = AFDSelector()
    if registered:
        selector.register(server, READ)
    entered = threading.Event()

    def wait_forever() -> list[Any]:
        entered.set()
        return selector.select()  # no timeout: only close() can end it

    worker = Worker(wait_forever, "select without timeout")
    worker.start()
    assert entered.wait(WAIT)
    wait_until(lambda: "1 select() in progress" in repr(selector), "the worker's select()")
    selector.close()  # a thread waiting on a port is woken by a packet, not by its close
    assert worker.result() == []
    assert winsock_ov.pending_operations() == baseline
    assert selector.get_map() is None
    with pytest.raises(RuntimeError, match="Selector is closed"):
        selector.get_key(server)
    with pytest.raises(ValueError, match="closed selector"):
        selector.select(0)
    with pytest.raises(ValueError, match="closed selector"):
        selector.register(client, READ)
    selector.close()  # twice: nothing


def test_a_registration_from_another_thread_ends_a_select_in_progress(
        selector: AFDSelector, pair: Any) -> None:
    client, _ = pair
    worker = Worker(lambda: selector.select(WAIT), "select")
    worker.start()
    key = selector.register(client, WRITE)  # writable at once
    found = worker.result()
    if not found:  # the register came before the worker's select() began
        found = selector.select(WAIT)
    assert found == [(key, WRITE)]


# --- scale -----------------------------------------------------------------------------------


@pytest.mark.scale
def test_ten_thousand_sockets_one_select_reports_exactly_the_fifty_made_readable() -> None:
    """5,000 loopback pairs, both ends registered: 10,000 sockets, 20 times what
    select.select() takes.  (Under Wine each socket is a file descriptor of the
    wineserver: this machine's limit of 20,000 allowed 19,806 sockets.)"""
    gc.collect()
    baseline = winsock_ov.pending_operations()
    pairs = socket_pairs(5000)
    sockets = [sock for pair in pairs for sock in pair]
    try:
        with AFDSelector() as selector:
            for sock in sockets:
                selector.register(sock, READ)
            assert len(selector.get_map()) == 10000
            assert selector.select(0) == []
            chosen = random.Random(23).sample(range(len(pairs)), 50)
            for index in chosen:
                pairs[index][0].send(b"x")  # the client end: its server end is readable
            expected = {pairs[index][1]: READ for index in chosen}
            assert reported(selector) == expected
            for sock in sockets:
                selector.modify(sock, READ | WRITE)
            # Each modify() cancels a poll and asks again once the cancel is back
            # (AFD takes one request per socket): the new interest comes in over a
            # few select() calls.
            found = {}
            while len(found) < len(sockets):
                batch = reported(selector)
                assert batch, f"{len(sockets) - len(found)} writable sockets not reported"
                found.update(batch)
            assert found == {sock: READ | WRITE if sock in expected else WRITE
                             for sock in sockets}
            for sock in sockets:
                selector.unregister(sock)
            assert selector.select(0) == [] and len(selector.get_map()) == 0
        assert winsock_ov.pending_operations() == baseline
    finally:
        for sock in sockets:
            sock.close()


ECHO_CONNECTIONS = 1000


async def echo_many(connections: int) -> int:
    """``connections`` clients at once against one echo server; the echoes received."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(8))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=connections)
    host, port = server.sockets[0].getsockname()[:2]

    async def client(number: int) -> bool:
        reader, writer = await asyncio.open_connection(host, port)
        message = b"%08d" % number
        writer.write(message)
        echoed = await reader.readexactly(8)
        writer.close()
        return echoed == message

    try:
        opened = await asyncio.gather(*(client(n) for n in range(connections)))
    finally:
        server.close()
        await server.wait_closed()
    return sum(opened)


@pytest.mark.scale
def test_an_asyncio_echo_with_1000_connections_runs_on_selector_event_loop_of_it() -> None:
    loop = asyncio.SelectorEventLoop(AFDSelector())
    try:
        assert loop.run_until_complete(
            asyncio.wait_for(echo_many(ECHO_CONNECTIONS), 120)) == ECHO_CONNECTIONS
    finally:
        loop.close()


def test_the_default_selector_event_loop_cannot_run_that_echo_at_all() -> None:
    # In a child: the loop the ValueError stops leaves a thousand connections behind.
    result = run_python(f"""
        import asyncio, os, selectors, sys
        sys.path.insert(0, "tests")
        from test_afd_selector import echo_many
        loop = asyncio.SelectorEventLoop()  # on selectors.DefaultSelector
        try:
            loop.run_until_complete(echo_many({ECHO_CONNECTIONS}))
        except ValueError as exc:
            print(selectors.DefaultSelector.__name__, "ValueError:", exc, flush=True)
            os._exit(0)
        print("the echo ran", flush=True)
        """, dev=False)
    assert result.stdout.strip() == (
        "SelectSelector ValueError: too many file descriptors in select()"), said(result)
