"""One port contract: every operation of a socket tied to a CompletionPort comes out
of ``dequeue`` / ``dequeue_many`` exactly once, whether Windows queued a packet for
it or not (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS drops the packets of what finishes
within its call; the port then hands those out from its ready queue).

Code written the way the completion-port style is taught (post receives, take
what the port hands back, in order) must work on either setting of
``skip_on_success``.
"""

from __future__ import annotations

import collections
from typing import Any

import pytest
from support import WAIT, Worker, tcp_pair, wait_until

import winsock_ov
from winsock_ov import CompletionPort

pytestmark = pytest.mark.windows

PIECE = 16 * 1024  # one buffer of a gather or scatter list
PIECES = 4  # buffers per operation: 64 KiB an operation
IN_FLIGHT = 8  # sends in flight, receives posted
PATTERN = bytes(range(256)) * 4096  # 1 MiB, sent over and over
_TWICE = PATTERN * 2


def pattern_at(offset: int, nbytes: int) -> bytes:
    """The bytes of the endless PATTERN stream at ``offset`` (nbytes <= 1 MiB)."""
    start = offset % len(PATTERN)
    return _TWICE[start:start + nbytes]


@pytest.fixture
def port() -> Any:
    with CompletionPort() as completion_port:
        yield completion_port


def tied_pair(port: CompletionPort, skip_on_success: bool) -> tuple[Any, Any]:
    client, server = tcp_pair()
    for sock in (client, server):
        in_effect = port.associate(sock, skip_on_success=skip_on_success)
        if skip_on_success and not in_effect:
            pytest.fail("skip-on-success is not honoured here: the probe said so")
    return client, server


class Transfer:
    """``total`` bytes from ``sender`` to ``receiver``, driven by what the port hands
    back: a send that came back makes room for the next, a receive that came
    back is read (in the order the receives were posted: the stream's) and
    posted again."""

    def __init__(self, port: CompletionPort, sender: Any, receiver: Any, total: int) -> None:
        self.port, self.sender, self.receiver, self.total = port, sender, receiver, total
        self.sent = 0  # bytes handed to sends
        self.received = 0  # bytes read, in stream order, checked against PATTERN
        self.sends: set[Any] = set()  # in flight
        self.receives: collections.deque[tuple[Any, list[bytearray]]] = collections.deque()
        self.came_back: set[Any] = set()  # receives the port handed back, not read yet

    def post_send(self) -> None:
        view = memoryview(PATTERN)
        start = self.sent % len(PATTERN)
        self.sends.add(self.sender.send(
            [view[start + index * PIECE:start + (index + 1) * PIECE] for index in range(PIECES)]))
        self.sent += PIECE * PIECES

    def post_receive(self) -> None:
        buffers = [bytearray(PIECE) for _ in range(PIECES)]
        self.receives.append((self.receiver.recv_into(buffers), buffers))

    def run(self) -> None:
        while len(self.sends) < IN_FLIGHT and self.sent < self.total:
            self.post_send()
        for _ in range(IN_FLIGHT):
            self.post_receive()
        while self.received < self.total:
            item = self.port.dequeue(timeout=WAIT)
            assert item is not None, self.stalled()
            if item in self.sends:
                self.sends.remove(item)
                assert item.result() == PIECE * PIECES
                if self.sent < self.total:
                    self.post_send()
            else:
                self.came_back.add(item)
                self.read_in_order()
        # The last bytes can be read before the packets of the sends that carried
        # them are dequeued: those still come back, each once.
        while self.sends:
            item = self.port.dequeue(timeout=WAIT)
            assert item in self.sends, self.stalled() if item is None else f"not a send: {item!r}"
            self.sends.remove(item)
            assert item.result() == PIECE * PIECES

    def read_in_order(self) -> None:
        while self.receives and self.receives[0][0] in self.came_back:
            op, buffers = self.receives.popleft()
            self.came_back.remove(op)
            nbytes = op.result()
            assert nbytes > 0, "end of stream before the end of the transfer"
            assert b"".join(buffers)[:nbytes] == pattern_at(self.received, nbytes), \
                f"wrong bytes at offset {self.received}"
            self.received += nbytes
            self.post_receive()

    def stalled(self) -> str:
        oldest = next(iter(self.sends), None)
        return (f"nothing came back within {WAIT} s: {self.sent} bytes sent, "
                f"{self.received} received; {len(self.sends)} sends in flight "
                f"(one of them done: {oldest is not None and oldest.done})")


@pytest.mark.parametrize("skip_on_success", [False, True])
def test_a_200_mb_scatter_gather_transfer_driven_by_what_the_port_hands_back(
        port: CompletionPort, skip_on_success: bool) -> None:
    """Most sends finish within their call (room in the socket's buffers), most
    receives pend: with skip-on-success Windows queues packets for the second kind
    only, and the transfer stalls unless the port hands out the first kind too."""
    sender, receiver = tied_pair(port, skip_on_success)
    try:
        transfer = Transfer(port, sender, receiver, 200 * 1024 * 1024)
        transfer.run()
        assert transfer.received == transfer.total
    finally:
        sender.close()
        receiver.close()


def test_packets_windows_queued_are_not_held_back_by_operations_that_finish_at_once(
        port: CompletionPort) -> None:
    """A stream of operations that all finish within their call (handed out from the
    ready queue) lets the packet of a receive that had pended through within
    READY_TURNS dequeues: the ready queue is served first, not for ever."""
    from winsock_ov.iocp import READY_TURNS

    client, server = tied_pair(port, skip_on_success=True)
    try:
        receive = server.recv(16)
        client.send(b"data")  # done at once, handed out; the receive's packet is queued
        wait_until(receive._io.finished_by_os, "the receive to complete")
        handed_back = []
        for _ in range(2 * READY_TURNS):
            client.send(b"more")  # done at once, each: the ready queue never runs dry
            handed_back.append(port.dequeue(timeout=0))
        assert receive in handed_back[:READY_TURNS + 2]
        assert receive.result() == b"data"
    finally:
        client.close()
        server.close()


def test_a_thread_blocked_in_dequeue_gets_what_another_thread_finished_at_once(
        port: CompletionPort) -> None:
    """An operation handed out from the ready queue wakes a thread blocked in
    GetQueuedCompletionStatus on the port (no packet of Windows' would)."""
    client, server = tied_pair(port, skip_on_success=True)
    # Blocked longer than the test waits for it: only a wake-up returns it in time.
    dequeuing = Worker(lambda: port.dequeue(timeout=4 * WAIT), name="dequeue")
    try:
        dequeuing.start()
        wait_until(lambda: bool(port._sleepers), "the worker to block in the dequeue")
        op = client.send(b"at once")
        assert op.done, "finished within the call"
        assert dequeuing.result(WAIT) is op
        assert port.dequeue(timeout=0) is None, "the wake-up is no completion"
    finally:
        if dequeuing.is_alive():  # failed: let it go before the port closes
            port.post("release")
            dequeuing.join(WAIT)
        client.close()
        server.close()


def test_the_key_reserved_for_winsock_ovs_own_io_is_refused_and_ties_nothing(
        port: CompletionPort) -> None:
    from winsock_ov.core import OWN_KEY

    client, server = tcp_pair()
    before = winsock_ov.pending_operations()
    try:
        with pytest.raises(ValueError, match="reserved"):
            port.associate(client, key=OWN_KEY)
        assert client.port_binding is None
        with pytest.raises(ValueError, match="reserved"):
            port.bind_handle(client.fileno(), key=OWN_KEY)
        with pytest.raises(ValueError, match="reserved"):
            port.post("never", key=OWN_KEY)
        assert port.dequeue(timeout=0) is None
        assert winsock_ov.pending_operations() == before
        port.associate(client, key=OWN_KEY - 1, skip_on_success=False)  # nothing was tied
        op = client.send(b"x")
        assert port.dequeue(timeout=WAIT) is op
    finally:
        client.close()
        server.close()


def test_a_port_leaves_no_reference_cycle_behind_once_closed() -> None:
    """What the port holds of its own (its posts' binding, hand-outs) refers back
    to it: nothing of that may outlive close() as cycle garbage (asyncio code,
    Tornado's tests among it, checks that a request leaves none)."""
    import gc

    from winsock_ov.iocp import _probe_skip_on_success

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert _probe_skip_on_success(), "the probe (a port of its own) found skipping honoured"
        with CompletionPort() as port:
            client, server = tied_pair(port, skip_on_success=True)
            op = client.send(b"at once")
            assert port.dequeue(timeout=0) is op
            port.post("value")
            assert port.dequeue(timeout=WAIT).value == "value"
            client.close()
            server.close()
        del port, client, server, op
        gc.collect()
        kept = [item for item in gc.garbage if isinstance(item, CompletionPort)]
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()
    assert kept == [], "the closed port was part of a reference cycle"
