"""CPython's C ``_overlapped`` and winsock_ov.compat.overlapped, run through the same scenarios.

Each test runs one scenario twice, first with the C module, then with ours, and
records a trace of each run: what every call returned or raised (the exception's
class name and ``winerror``), the Overlapped objects' ``pending`` and ``error``,
and every completion packet dequeued.  The traces are normalised so that two
runs can be compared: an Overlapped's address becomes the name the scenario gave
it ("recv", "posted"), a new handle becomes "handle", an OS-assigned port number
becomes the name of its socket.  Then the two traces must be equal.

Where README's table of deliberate differences says the modules differ (numbers
out of range, True/False as numbers, read-only receive buffers, ...) the test
asserts the documented difference instead.

Every outcome recorded must not depend on timing: a scenario waits for the packet
of each operation it started (``Trace.dequeue``, WAIT seconds at most), starts a
receive only once the bytes it expects have arrived (``arrived``), and never
sleeps.  Packets that become due together are recorded sorted, because their
order in the queue is a race of the kernel's, not a property of either module.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import select
import socket
import struct
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import WAIT, run_python, said, wait_until

pytestmark = pytest.mark.windows

WAIT_MS = int(WAIT * 1000)
ERROR_IO_PENDING = 997
ERROR_MORE_DATA = 234
WAIT_OBJECT_0 = 0
MSG_PEEK = 2
FIONREAD = 0x4004667F  # _IOR('f', 127, u_long)
# 3.9 to 3.11 truncate numbers that do not fit their C type; 3.12 and 3.13 refuse
# them (README; measured on the Windows tiers' interpreters).
C_TRUNCATES = sys.version_info < (3, 12)
_pipe_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def modules() -> tuple[Any, Any]:
    import _overlapped as c_module  # type: ignore[import-not-found,unused-ignore]

    from winsock_ov.compat import overlapped as ours

    return c_module, ours


# --- the trace ------------------------------------------------------------------------------


class Trace:
    """What one module did in one scenario, normalised for comparison."""

    def __init__(self, module: Any, stack: contextlib.ExitStack) -> None:
        self.module = module
        self.stack = stack
        self.entries: list[tuple[Any, ...]] = []
        self.names: dict[int, str] = {}  # Overlapped and posted addresses
        self.ports: dict[int, str] = {}  # OS-assigned port numbers: their socket's name
        # Every Overlapped of the scenario stays alive until its end, so that no
        # address is reused by a later one while a packet may still name it.
        self.kept: list[Any] = []

    # recording

    def raised(self, label: str, exc: BaseException) -> None:
        self.entries.append((label, "raised", type(exc).__name__, getattr(exc, "winerror", None)))

    def call(self, label: str, function: Callable[..., Any], *args: Any) -> Any:
        try:
            value = function(*args)
        except Exception as exc:  # the outcome is what is compared
            self.raised(label, exc)
            return None
        self.note(label, value)
        return value

    def note(self, label: str, value: Any) -> None:
        self.entries.append((label, self.normal(value)))

    def new_handle(self, label: str, function: Callable[..., Any], *args: Any) -> Any:
        """A call that returns a new handle: recorded as "handle", its value kept apart."""
        try:
            value = function(*args)
        except Exception as exc:
            self.raised(label, exc)
            return None
        self.entries.append((label, "handle" if type(value) is int and value > 0 else value))
        return value

    def state(self, name: str, ov: Any) -> None:
        self.entries.append((name, "pending", ov.pending, "error", ov.error))

    def normal(self, value: Any) -> Any:
        """bytes with their type, bools apart from ints, addresses with their port named."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return (type(value).__name__, bytes(value))
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return ("int", value) if type(value) is int else (type(value).__name__, int(value))
        if isinstance(value, tuple):
            if len(value) in (2, 4) and isinstance(value[0], str) and isinstance(value[1], int):
                return ("address", value[0], self.port_name(value[1]), *value[2:])
            return tuple(self.normal(item) for item in value)
        return value

    def port_name(self, number: int) -> Any:
        return self.ports.get(number, "an unnamed port" if number else 0)

    def packet(self, packet: Any) -> Any:
        if packet is None:
            return None
        error, transferred, key, address = packet
        return (self.names.get(address, "NULL" if address == 0 else "unknown address"),
                error, transferred, key)

    # the objects of a scenario

    def overlapped(self, name: str, *event: int, keep: bool = True) -> Any:
        ov = self.module.Overlapped(*event)
        self.names[ov.address] = name
        if keep:
            self.kept.append(ov)
        return ov

    def named(self, name: str, sock: socket.socket) -> socket.socket:
        self.ports[sock.getsockname()[1]] = name
        return sock

    def port(self) -> int:
        import _winapi

        m = self.module
        port = int(m.CreateIoCompletionPort(m.INVALID_HANDLE_VALUE, m.NULL, 0, 0))
        self.stack.callback(_winapi.CloseHandle, port)
        return port

    def tie(self, label: str, handle: int, port: int, key: int) -> None:
        returned = self.call(f"tie {label}", self.module.CreateIoCompletionPort, handle, port,
                             key, 0)
        if returned is not None:
            self.entries[-1] = (f"tie {label}", "the port" if returned == port else returned)

    def close_later(self, handle: Any) -> Any:
        """Close ``handle`` (if it is one) when the scenario ends."""
        import _winapi

        if type(handle) is int and handle > 0:
            self.stack.callback(_winapi.CloseHandle, handle)
        return handle

    # completion packets

    def dequeue(self, port: int, *names: str) -> int:
        """Dequeue until the packets of ``names`` came (WAIT seconds at most for each);
        record every packet dequeued, sorted; return how many."""
        got: list[Any] = []
        missing = set(names)
        while missing:
            try:
                packet = self.module.GetQueuedCompletionStatus(port, WAIT_MS)
            except OSError as exc:
                got.append(("raised", type(exc).__name__, exc.winerror))
                break
            if packet is None:
                got.append(("no packet within WAIT", sorted(missing)))
                break
            entry = self.packet(packet)
            missing.discard(entry[0])
            got.append(entry)
        self.entries.append(("dequeued", *sorted(got, key=repr)))
        return len(got)

    def queue_empty(self, port: int) -> None:
        self.entries.append(("queue now", self.packet(
            self.module.GetQueuedCompletionStatus(port, 0))))


def traces(modules: tuple[Any, Any], scenario: Callable[..., None],
           *args: Any) -> tuple[list[Any], list[Any]]:
    """The scenario's trace with the C module, then with ours."""
    result = []
    for module in modules:
        with contextlib.ExitStack() as stack:
            trace = Trace(module, stack)
            scenario(trace, *args)
            result.append(trace.entries)
        del trace
        gc.collect()
    return result[0], result[1]


def assert_same(modules: tuple[Any, Any], scenario: Callable[..., None], *args: Any) -> None:
    c_trace, our_trace = traces(modules, scenario, *args)
    assert our_trace == c_trace


# --- sockets and pipes --------------------------------------------------------------------


def tcp_pair(t: Trace) -> tuple[socket.socket, socket.socket]:
    """A connected (client, server) pair on loopback, both blocking, closed with the scenario."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(WAIT)
        client = socket.create_connection(listener.getsockname(), timeout=WAIT)
        server, _ = listener.accept()
    for sock in (client, server):
        sock.setblocking(True)
        t.stack.enter_context(sock)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return t.named("client", client), t.named("server", server)


def udp_socket(t: Trace, name: str) -> socket.socket:
    sock = t.stack.enter_context(socket.socket(type=socket.SOCK_DGRAM))
    sock.bind(("127.0.0.1", 0))
    return t.named(name, sock)


def listening(t: Trace) -> socket.socket:
    listener = t.stack.enter_context(socket.socket())
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    return t.named("listener", listener)


_ioctlsocket: Any = None


def unread(sock: socket.socket) -> int:
    """Bytes that arrived at ``sock`` and wait to be received (FIONREAD)."""
    global _ioctlsocket
    import ctypes

    if _ioctlsocket is None:
        _ioctlsocket = ctypes.WinDLL("ws2_32").ioctlsocket
        _ioctlsocket.argtypes = [ctypes.c_size_t, ctypes.c_int32,
                                 ctypes.POINTER(ctypes.c_uint32)]
    count = ctypes.c_uint32()
    assert _ioctlsocket(sock.fileno(), FIONREAD, ctypes.byref(count)) == 0
    return count.value


def arrived(sock: socket.socket, count: int) -> None:
    """Wait until exactly ``count`` bytes sent to ``sock`` have arrived there."""
    wait_until(lambda: unread(sock) == count, f"{count} bytes to arrive")


def read_exactly(sock: socket.socket, count: int) -> bytes:
    """``count`` bytes from a blocking socket, WAIT seconds at most for each piece."""
    data = b""
    while len(data) < count:
        readable, _, _ = select.select([sock], [], [], WAIT)
        assert readable, f"only {len(data)} of {count} bytes came"
        piece = sock.recv(count - len(data))
        assert piece, f"the peer closed after {len(data)} of {count} bytes"
        data += piece
    return data


def pipe_server(t: Trace, name: str) -> int:
    """An overlapped message-mode pipe server, one instance, closed with the scenario."""
    import _winapi

    handle = _winapi.CreateNamedPipe(
        name, _winapi.PIPE_ACCESS_DUPLEX | _winapi.FILE_FLAG_OVERLAPPED
        | _winapi.FILE_FLAG_FIRST_PIPE_INSTANCE,
        _winapi.PIPE_TYPE_MESSAGE | _winapi.PIPE_READMODE_MESSAGE | _winapi.PIPE_WAIT,
        1, 4096, 4096, _winapi.NMPWAIT_WAIT_FOREVER, _winapi.NULL)
    return int(t.close_later(handle))


def pipe_name() -> str:
    return f"\\\\.\\pipe\\winsock_ov_differential_{os.getpid()}_{next(_pipe_numbers)}"


# --- TCP send and receive -----------------------------------------------------------------------


def scenario_immediate(t: Trace) -> None:
    client, server = tcp_pair(t)
    port = t.port()
    t.tie("server", server.fileno(), port, 1)
    t.tie("client", client.fileno(), port, 2)
    client.sendall(b"already here")
    arrived(server, 12)
    peek = t.overlapped("peek")
    t.call("peek.WSARecv", peek.WSARecv, server.fileno(), 7, MSG_PEEK)
    t.state("peek", peek)
    t.call("peek.getresult", peek.getresult)
    recv = t.overlapped("recv")
    t.call("recv.WSARecv", recv.WSARecv, server.fileno(), 100)
    t.state("recv", recv)
    t.call("recv.getresult", recv.getresult)
    t.call("recv.getresult again", recv.getresult, True)
    send = t.overlapped("send")
    t.call("send.WSASend", send.WSASend, client.fileno(), b"back", 0)
    t.state("send", send)
    t.call("send.getresult", send.getresult)
    write = t.overlapped("write")
    t.call("write.WriteFile", write.WriteFile, client.fileno(), bytearray(b"by WriteFile"))
    t.call("write.getresult", write.getresult, True)
    arrived(server, 16)
    read = t.overlapped("read")
    t.call("read.ReadFile", read.ReadFile, server.fileno(), 100)
    t.call("read.getresult", read.getresult)
    t.dequeue(port, "peek", "recv", "send", "write", "read")
    t.queue_empty(port)
    for name, ov in (("peek", peek), ("recv", recv), ("send", send), ("read", read)):
        t.state(name, ov)


def test_sends_and_receives_that_complete_within_the_call_queue_one_packet_each(
        modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_immediate)


def scenario_pending(t: Trace) -> None:
    client, server = tcp_pair(t)
    port = t.port()
    t.tie("server", server.fileno(), port, 1)
    recv = t.overlapped("recv")
    t.call("recv.WSARecv", recv.WSARecv, server.fileno(), 100)
    t.state("recv", recv)
    t.call("recv.getresult while pending", recv.getresult)
    t.state("recv", recv)
    t.queue_empty(port)
    client.sendall(b"later")
    t.dequeue(port, "recv")
    t.state("recv", recv)
    t.call("recv.getresult", recv.getresult)
    buffer = bytearray(8)
    into = t.overlapped("into")
    t.call("into.WSARecvInto", into.WSARecvInto, server.fileno(), buffer, 0)
    t.state("into", into)
    client.sendall(b"0123456789")
    t.dequeue(port, "into")
    t.call("into.getresult", into.getresult)
    t.note("into's buffer", buffer)
    arrived(server, 2)
    rest = bytearray(b"......")
    read = t.overlapped("read")
    t.call("read.ReadFileInto", read.ReadFileInto, server.fileno(), rest)
    t.dequeue(port, "read")
    t.call("read.getresult", read.getresult)
    t.note("read's buffer", rest)
    t.state("read", read)


def test_a_receive_started_before_the_data_stays_pending_until_it_arrives(
        modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_pending)


def scenario_zero_length(t: Trace) -> None:
    client, server = tcp_pair(t)
    port = t.port()
    t.tie("server", server.fileno(), port, 1)
    t.tie("client", client.fileno(), port, 2)
    client.sendall(b"data")
    arrived(server, 4)
    recv = t.overlapped("zero recv")
    t.call("zero recv.WSARecv", recv.WSARecv, server.fileno(), 0)
    t.state("zero recv", recv)
    into = t.overlapped("zero into")
    t.call("zero into.WSARecvInto", into.WSARecvInto, server.fileno(), bytearray(), 0)
    send = t.overlapped("zero send")
    t.call("zero send.WSASend", send.WSASend, client.fileno(), b"", 0)
    t.dequeue(port, "zero recv", "zero into", "zero send")
    t.call("zero recv.getresult", recv.getresult)
    t.call("zero into.getresult", into.getresult)
    t.call("zero send.getresult", send.getresult)
    t.note("still unread", unread(server))
    rest = t.overlapped("rest")
    t.call("rest.WSARecv", rest.WSARecv, server.fileno(), 100)
    t.dequeue(port, "rest")
    t.call("rest.getresult", rest.getresult)
    # With nothing to read, a zero-length receive either completes at once or waits
    # for data (Windows waits); either way the byte sent next ends it.
    idle = t.overlapped("idle zero recv")
    t.call("idle zero recv.WSARecv", idle.WSARecv, server.fileno(), 0)
    t.state("idle zero recv", idle)
    client.sendall(b"x")
    t.dequeue(port, "idle zero recv")
    t.call("idle zero recv.getresult", idle.getresult)
    t.state("idle zero recv", idle)
    t.queue_empty(port)


def test_zero_length_sends_and_receives_complete_with_nothing(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_zero_length)


def scenario_peer_closed(t: Trace) -> None:
    client, server = tcp_pair(t)
    port = t.port()
    t.tie("server", server.fileno(), port, 1)
    recv = t.overlapped("recv")
    t.call("recv.WSARecv", recv.WSARecv, server.fileno(), 100)
    client.sendall(b"last words")
    t.dequeue(port, "recv")
    t.call("recv.getresult", recv.getresult)
    eof = t.overlapped("eof")
    t.call("eof.WSARecv", eof.WSARecv, server.fileno(), 100)
    t.state("eof", eof)
    client.close()
    t.dequeue(port, "eof")
    t.state("eof", eof)
    t.call("eof.getresult", eof.getresult)
    again = t.overlapped("again")
    t.call("again.WSARecv", again.WSARecv, server.fileno(), 100)
    t.dequeue(port, "again")
    t.call("again.getresult", again.getresult)
    t.state("again", again)


def test_a_receive_ends_with_no_bytes_when_the_peer_closes(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_peer_closed)


def scenario_peer_reset(t: Trace) -> None:
    client, server = tcp_pair(t)
    port = t.port()
    t.tie("server", server.fileno(), port, 1)
    recv = t.overlapped("recv")
    t.call("recv.WSARecv", recv.WSARecv, server.fileno(), 100)
    t.state("recv", recv)
    # SO_LINGER on with a zero timeout: closing sends a reset (an abortive close)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("HH", 1, 0))
    client.close()
    t.dequeue(port, "recv")
    t.state("recv", recv)
    t.call("recv.getresult", recv.getresult)
    t.state("recv", recv)
    after = t.overlapped("after")
    t.call("after.WSARecv", after.WSARecv, server.fileno(), 100)
    t.state("after", after)
    t.call("after.getresult", after.getresult)
    send = t.overlapped("send")
    t.call("send.WSASend", send.WSASend, server.fileno(), b"to nobody", 0)
    t.state("send", send)
    t.call("send.getresult", send.getresult)
    t.queue_empty(port)


def test_a_receive_fails_when_the_peer_resets_the_connection(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_peer_reset)


def scenario_cancel_pending(t: Trace) -> None:
    _, server = tcp_pair(t)
    port = t.port()
    t.tie("server", server.fileno(), port, 1)
    recv = t.overlapped("recv")
    t.call("recv.WSARecv", recv.WSARecv, server.fileno(), 100)
    t.call("recv.cancel", recv.cancel)
    t.dequeue(port, "recv")
    t.state("recv", recv)
    t.call("recv.getresult", recv.getresult)
    t.state("recv", recv)
    t.queue_empty(port)


def test_cancelling_a_pending_receive_completes_it_as_aborted(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_cancel_pending)


def scenario_cancel_after(t: Trace) -> None:
    client, server = tcp_pair(t)
    port = t.port()
    t.tie("server", server.fileno(), port, 1)
    t.tie("client", client.fileno(), port, 2)
    recv = t.overlapped("recv")
    t.call("recv.WSARecv", recv.WSARecv, server.fileno(), 100)
    client.sendall(b"won the race")
    t.dequeue(port, "recv")
    t.call("recv.cancel", recv.cancel)
    t.state("recv", recv)
    t.call("recv.getresult", recv.getresult)
    send = t.overlapped("send")
    t.call("send.WSASend", send.WSASend, client.fileno(), b"done at once", 0)
    t.call("send.cancel before its packet", send.cancel)
    t.dequeue(port, "send")
    t.call("send.getresult", send.getresult)
    t.state("send", send)
    t.queue_empty(port)


def test_cancelling_a_completed_operation_changes_nothing(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_cancel_after)


def scenario_cancel_twice(t: Trace) -> None:
    m = t.module
    _, server = tcp_pair(t)
    port = t.port()
    t.tie("server", server.fileno(), port, 1)
    fresh = t.overlapped("fresh")
    t.call("fresh.cancel", fresh.cancel)
    failed = t.overlapped("failed")
    t.call("failed.WSARecv on a port handle", failed.WSARecv, port, 10)
    t.call("failed.cancel", failed.cancel)
    t.state("failed", failed)
    recv = t.overlapped("recv", m.NULL)
    t.call("recv.WSARecv", recv.WSARecv, server.fileno(), 100)
    t.call("recv.cancel", recv.cancel)
    t.call("recv.cancel again", recv.cancel)
    t.dequeue(port, "recv")
    t.call("recv.cancel after its packet", recv.cancel)
    t.state("recv", recv)
    t.call("recv.getresult", recv.getresult)
    t.queue_empty(port)


def test_cancelling_twice_or_before_a_start_is_harmless(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_cancel_twice)


# --- UDP ---------------------------------------------------------------------------------------


def scenario_datagrams(t: Trace, with_into: bool) -> None:
    a, b = udp_socket(t, "a"), udp_socket(t, "b")
    port = t.port()
    t.tie("b", b.fileno(), port, 1)
    t.tie("a", a.fileno(), port, 2)
    recv = t.overlapped("recvfrom")
    t.call("recvfrom.WSARecvFrom", recv.WSARecvFrom, b.fileno(), 64)
    t.state("recvfrom", recv)
    send = t.overlapped("sendto")
    t.call("sendto.WSASendTo", send.WSASendTo, a.fileno(), b"datagram", 0, b.getsockname())
    t.dequeue(port, "recvfrom", "sendto")
    t.call("recvfrom.getresult", recv.getresult)
    t.call("recvfrom.getresult again", recv.getresult)
    t.call("sendto.getresult", send.getresult)
    t.state("recvfrom", recv)
    plain = t.overlapped("recv")
    t.call("recv.WSARecv", plain.WSARecv, b.fileno(), 64)
    a.sendto(b"no address", b.getsockname())
    t.dequeue(port, "recv")
    t.call("recv.getresult", plain.getresult)
    if with_into:
        buffer = bytearray(16)
        into = t.overlapped("recvfrom into")
        t.call("recvfrom into.WSARecvFromInto", into.WSARecvFromInto, b.fileno(), buffer, 16)
        t.state("recvfrom into", into)
        a.sendto(b"into", b.getsockname())
        t.dequeue(port, "recvfrom into")
        t.call("recvfrom into.getresult", into.getresult)
        t.note("recvfrom into's buffer", buffer)
    t.queue_empty(port)


def test_a_datagram_arrives_with_its_senders_address(modules: tuple[Any, Any]) -> None:
    # The C module of 3.9 and 3.10 has no WSARecvFromInto: that part runs where it has.
    assert_same(modules, scenario_datagrams, hasattr(modules[0].Overlapped, "WSARecvFromInto"))


def scenario_truncated(t: Trace, with_into: bool) -> None:
    a, b = udp_socket(t, "a"), udp_socket(t, "b")
    port = t.port()
    t.tie("b", b.fileno(), port, 1)
    recv = t.overlapped("recvfrom")
    t.call("recvfrom.WSARecvFrom", recv.WSARecvFrom, b.fileno(), 4)
    a.sendto(b"0123456789", b.getsockname())
    t.dequeue(port, "recvfrom")
    t.state("recvfrom", recv)
    t.call("recvfrom.getresult", recv.getresult)
    t.state("recvfrom", recv)
    plain = t.overlapped("recv")
    t.call("recv.WSARecv", plain.WSARecv, b.fileno(), 3)
    a.sendto(b"abcdefghij", b.getsockname())
    t.dequeue(port, "recv")
    t.call("recv.getresult", plain.getresult)
    t.state("recv", plain)
    if with_into:
        buffer = bytearray(8)
        into = t.overlapped("recvfrom into")
        t.call("recvfrom into.WSARecvFromInto", into.WSARecvFromInto, b.fileno(), buffer, 5)
        a.sendto(b"ABCDEFGHIJ", b.getsockname())
        t.dequeue(port, "recvfrom into")
        t.call("recvfrom into.getresult", into.getresult)
        t.state("recvfrom into", into)
        t.note("recvfrom into's buffer", buffer)
    t.queue_empty(port)


def test_a_datagram_longer_than_a_pending_receive_completes_with_more_data(
        modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_truncated, hasattr(modules[0].Overlapped, "WSARecvFromInto"))


# --- the extension functions ----------------------------------------------------------------------


def scenario_accept(t: Trace) -> None:
    m = t.module
    listener = listening(t)
    accepted = t.stack.enter_context(socket.socket())
    port = t.port()
    t.tie("listener", listener.fileno(), port, 1)
    accept = t.overlapped("accept")
    t.call("accept.AcceptEx", accept.AcceptEx, listener.fileno(), accepted.fileno())
    t.state("accept", accept)
    client = t.stack.enter_context(socket.create_connection(listener.getsockname(), WAIT))
    t.named("client", client)
    t.dequeue(port, "accept")
    t.state("accept", accept)
    t.call("accept.getresult", accept.getresult)
    accepted.setsockopt(socket.SOL_SOCKET, m.SO_UPDATE_ACCEPT_CONTEXT,
                        struct.pack("P", listener.fileno()))
    t.note("accepted's peer", accepted.getpeername())
    client.sendall(b"hello")
    t.note("accepted reads", read_exactly(accepted, 5))
    again = t.overlapped("again")
    t.call("again.AcceptEx into a connected socket", again.AcceptEx, listener.fileno(),
           accepted.fileno())
    t.state("again", again)
    t.call("again.getresult", again.getresult)
    t.queue_empty(port)


def test_acceptex_completes_when_a_client_connects(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_accept)


def scenario_connect(t: Trace) -> None:
    m = t.module
    listener = listening(t)
    sock = t.stack.enter_context(socket.socket())
    unbound = t.overlapped("unbound")
    t.call("unbound.ConnectEx", unbound.ConnectEx, sock.fileno(), listener.getsockname())
    t.state("unbound", unbound)
    t.call("unbound.getresult", unbound.getresult)
    t.call("BindLocal", m.BindLocal, sock.fileno(), socket.AF_INET)
    t.named("client", sock)
    port = t.port()
    t.tie("client", sock.fileno(), port, 1)
    connect = t.overlapped("connect")
    t.call("connect.ConnectEx", connect.ConnectEx, sock.fileno(), listener.getsockname())
    t.dequeue(port, "connect")
    t.state("connect", connect)
    t.call("connect.getresult", connect.getresult)
    sock.setsockopt(socket.SOL_SOCKET, m.SO_UPDATE_CONNECT_CONTEXT, 0)
    t.note("peer", sock.getpeername())
    listener.settimeout(WAIT)
    server, _ = listener.accept()
    with server:
        t.note("server's peer", server.getpeername())
    t.queue_empty(port)


def test_connectex_needs_a_bound_socket_then_connects(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_connect)


def scenario_disconnect(t: Trace) -> None:
    client, server = tcp_pair(t)
    port = t.port()
    t.tie("client", client.fileno(), port, 1)
    disconnect = t.overlapped("disconnect")
    t.call("disconnect.DisconnectEx", disconnect.DisconnectEx, client.fileno(), 0)
    t.dequeue(port, "disconnect")
    t.state("disconnect", disconnect)
    t.call("disconnect.getresult", disconnect.getresult)
    readable, _, _ = select.select([server], [], [], WAIT)
    t.note("server reads", server.recv(10) if readable else "nothing within WAIT")
    send = t.overlapped("send")
    t.call("send.WSASend after the disconnect", send.WSASend, client.fileno(), b"late", 0)
    t.state("send", send)
    if send.pending or send.error == 0:  # started: its packet comes
        t.dequeue(port, "send")
        t.call("send.getresult", send.getresult)
    t.queue_empty(port)


def test_disconnectex_ends_the_connection(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_disconnect)


def scenario_transmit(t: Trace, path: Path) -> None:
    import msvcrt

    client, server = tcp_pair(t)
    port = t.port()
    t.tie("client", client.fileno(), port, 1)
    file = t.stack.enter_context(open(path, "rb"))
    handle = msvcrt.get_osfhandle(file.fileno())
    for name, offset, count in (("whole", 0, 0), ("part", 100, 10)):
        os.lseek(file.fileno(), 0, os.SEEK_SET)
        ov = t.overlapped(name)
        t.call(f"{name}.TransmitFile", ov.TransmitFile, client.fileno(), handle, offset, 0,
               count, 0, 0)
        t.dequeue(port, name)
        t.state(name, ov)
        sent = t.call(f"{name}.getresult", ov.getresult)
        if isinstance(sent, int):
            t.note(f"server reads after {name}", read_exactly(server, sent))
    t.queue_empty(port)


def test_transmitfile_sends_a_files_bytes(modules: tuple[Any, Any], tmp_path: Path) -> None:
    path = tmp_path / "transmitted.bin"
    path.write_bytes(bytes(range(256)) * 4)
    assert_same(modules, scenario_transmit, path)


# --- named pipes ---------------------------------------------------------------------------------


def scenario_pipes(t: Trace) -> None:
    import _winapi

    m = t.module
    name = pipe_name()
    server = pipe_server(t, name)
    port = t.port()
    t.tie("pipe server", server, port, 1)
    connect = t.overlapped("connect")
    t.call("connect.ConnectNamedPipe", connect.ConnectNamedPipe, server)
    t.state("connect", connect)
    client = t.new_handle("ConnectPipe", m.ConnectPipe, name)
    still_open = [client] if client else []
    @t.stack.callback
    def close_client() -> None:
        for handle in still_open:
            _winapi.CloseHandle(handle)
    t.close_later(t.new_handle("ConnectPipe to a busy pipe", m.ConnectPipe, name))
    t.close_later(t.new_handle("ConnectPipe to no pipe", m.ConnectPipe, name + "_missing"))
    t.dequeue(port, "connect")
    t.state("connect", connect)
    t.call("connect.getresult", connect.getresult)
    t.tie("pipe client", client, port, 2)
    write = t.overlapped("write")
    t.call("write.WriteFile", write.WriteFile, client, b"a message")
    read = t.overlapped("read")
    t.call("read.ReadFile", read.ReadFile, server, 100)
    t.dequeue(port, "write", "read")
    t.call("write.getresult", write.getresult)
    t.call("read.getresult", read.getresult)
    waiting = t.overlapped("waiting read")
    t.call("waiting read.ReadFile", waiting.ReadFile, server, 100)
    t.state("waiting read", waiting)
    second = t.overlapped("second write")
    t.call("second write.WriteFile", second.WriteFile, client, bytearray(b"second"))
    t.dequeue(port, "waiting read", "second write")
    t.call("waiting read.getresult", waiting.getresult)
    long_write = t.overlapped("long write")
    t.call("long write.WriteFile", long_write.WriteFile, client, b"0123456789")
    buffer = bytearray(4)
    short = t.overlapped("short read")
    t.call("short read.ReadFileInto", short.ReadFileInto, server, buffer)
    t.state("short read", short)
    t.call("short read.getresult", short.getresult)
    t.state("short read", short)
    t.note("short read's buffer", buffer)
    rest = t.overlapped("rest")
    t.call("rest.ReadFile", rest.ReadFile, server, 100)
    t.dequeue(port, "long write", "short read", "rest")
    t.call("rest.getresult", rest.getresult)
    _winapi.CloseHandle(still_open.pop())
    broken = t.overlapped("broken")
    t.call("broken.ReadFile after the client closed", broken.ReadFile, server, 10)
    t.state("broken", broken)
    t.call("broken.getresult", broken.getresult)
    t.queue_empty(port)


def test_named_pipes_connect_read_and_write(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_pipes)


def scenario_pipe_already_connected(t: Trace) -> None:
    m = t.module
    name = pipe_name()
    server = pipe_server(t, name)
    port = t.port()
    t.tie("pipe server", server, port, 1)
    client = t.new_handle("ConnectPipe", m.ConnectPipe, name)
    t.close_later(client)
    connect = t.overlapped("connect")
    t.call("connect.ConnectNamedPipe", connect.ConnectNamedPipe, server)
    t.state("connect", connect)
    t.call("connect.getresult", connect.getresult)
    t.state("connect", connect)
    t.queue_empty(port)


def test_connectnamedpipe_returns_true_when_the_client_came_first(
        modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_pipe_already_connected)


# --- completion ports and registered waits --------------------------------------------------------


def scenario_post(t: Trace) -> None:
    m = t.module
    port = t.port()
    t.call("GetQueuedCompletionStatus 0 ms", m.GetQueuedCompletionStatus, port, 0)
    t.call("GetQueuedCompletionStatus 10 ms", m.GetQueuedCompletionStatus, port, 10)
    first, second, third = (t.overlapped(name, m.NULL) for name in ("first", "second", "third"))
    t.call("post first", m.PostQueuedCompletionStatus, port, 5, 7, first.address)
    t.call("post second", m.PostQueuedCompletionStatus, port, 0, 2**64 - 1, second.address)
    t.call("post third", m.PostQueuedCompletionStatus, port, 2**32 - 1, 0, third.address)
    for _ in range(3):  # a port hands posted packets out first in, first out
        t.entries.append(("dequeued", t.packet(m.GetQueuedCompletionStatus(port, WAIT_MS))))
    t.queue_empty(port)
    event = t.new_handle("CreateEvent", m.CreateEvent, None, True, False, None)
    t.close_later(event)
    t.call("GetQueuedCompletionStatus on an event", m.GetQueuedCompletionStatus, event, 0)
    t.call("post to an event", m.PostQueuedCompletionStatus, event, 0, 0, first.address)
    t.call("SetEvent on a port", m.SetEvent, port)
    t.call("ResetEvent on a port", m.ResetEvent, port)
    t.call("tie an event", m.CreateIoCompletionPort, event, port, 0, 0)


def test_posted_packets_come_back_in_order_and_an_empty_port_times_out(
        modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_post)


def scenario_post_null(t: Trace) -> None:
    m = t.module
    port = t.port()
    t.call("post NULL", m.PostQueuedCompletionStatus, port, 3, 4, 0)
    try:
        packet = m.GetQueuedCompletionStatus(port, WAIT_MS)
    except OSError as exc:
        # The C module raises with whatever GetLastError() held before the call
        # (GetQueuedCompletionStatus succeeded and set nothing): only the class is compared.
        t.entries.append(("dequeue NULL", "raised", type(exc).__name__))
    else:
        t.entries.append(("dequeue NULL", t.packet(packet)))
    t.queue_empty(port)


def test_a_posted_packet_without_overlapped_is_raised_as_an_error(
        modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_post_null)


def scenario_waits(t: Trace) -> None:
    import _winapi

    m = t.module

    def event() -> Any:
        handle = t.new_handle("CreateEvent", m.CreateEvent, None, True, False, None)
        return t.close_later(handle)

    port = t.port()
    signalled = event()
    fired = t.overlapped("fired", m.NULL)
    wait = t.new_handle("RegisterWaitWithQueue", m.RegisterWaitWithQueue, signalled, port,
                        fired.address, m.INFINITE)
    t.queue_empty(port)  # the event is not set: nothing can be queued yet
    t.call("SetEvent", m.SetEvent, signalled)
    t.dequeue(port, "fired")
    # After the packet its callback may still be returning: UnregisterWait could
    # fail with ERROR_IO_PENDING or not; UnregisterWaitEx(INVALID_HANDLE_VALUE)
    # waits for it, and so always succeeds.
    t.call("UnregisterWaitEx, waiting", m.UnregisterWaitEx, wait, m.INVALID_HANDLE_VALUE)
    t.call("ResetEvent", m.ResetEvent, signalled)

    quiet = event()
    timed_out = t.overlapped("timed out", m.NULL)
    wait = t.new_handle("RegisterWaitWithQueue 0 ms", m.RegisterWaitWithQueue, quiet, port,
                        timed_out.address, 0)
    t.dequeue(port, "timed out")
    t.call("UnregisterWaitEx, waiting", m.UnregisterWaitEx, wait, m.INVALID_HANDLE_VALUE)

    never = t.overlapped("never", m.NULL)
    wait = t.new_handle("RegisterWaitWithQueue", m.RegisterWaitWithQueue, quiet, port,
                        never.address, m.INFINITE)
    t.call("UnregisterWait before it fired", m.UnregisterWait, wait)
    t.call("SetEvent", m.SetEvent, quiet)
    # The wait is gone: nothing may come. 50 ms is the time allowed to prove a
    # negative (a callback still registered fires within a millisecond or two).
    t.entries.append(("queue after 50 ms", t.packet(m.GetQueuedCompletionStatus(port, 50))))

    other = event()
    done = event()
    never_either = t.overlapped("never either", m.NULL)
    wait = t.new_handle("RegisterWaitWithQueue", m.RegisterWaitWithQueue, other, port,
                        never_either.address, m.INFINITE)
    t.call("UnregisterWaitEx with an event", m.UnregisterWaitEx, wait, done)
    t.note("its event set", _winapi.WaitForSingleObject(done, WAIT_MS) == WAIT_OBJECT_0)
    t.queue_empty(port)


def test_a_registered_wait_posts_its_overlapped_to_the_port(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_waits)


# --- refused arguments ----------------------------------------------------------------------------


class Index:
    """An object that is no int but converts to one (``__index__``)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


class Context:
    """What the refused calls are made on: fresh objects of one module."""

    def __init__(self, t: Trace) -> None:
        m = t.module
        self.port = t.port()
        self.udp = udp_socket(t, "udp").fileno()
        self.peer = udp_socket(t, "peer").getsockname()
        self.tcp = t.stack.enter_context(socket.socket()).fileno()
        self.event = t.close_later(m.CreateEvent(None, True, False, None))

    def close(self, handle: int) -> str:
        import _winapi

        _winapi.CloseHandle(handle)
        return "an event"


REFUSED: dict[str, Callable[[Any, Context], Any]] = {
    # wrong types
    "GetQueuedCompletionStatus msecs str": lambda m, c: m.GetQueuedCompletionStatus(c.port, "0"),
    "GetQueuedCompletionStatus msecs float": lambda m, c: m.GetQueuedCompletionStatus(c.port,
                                                                                        0.0),
    "GetQueuedCompletionStatus port None": lambda m, c: m.GetQueuedCompletionStatus(None, 0),
    "PostQueuedCompletionStatus key float": lambda m, c: m.PostQueuedCompletionStatus(
        c.port, 0, 1.5, 0),
    "PostQueuedCompletionStatus address None": lambda m, c: m.PostQueuedCompletionStatus(
        c.port, 0, 0, None),
    "CreateIoCompletionPort concurrency str": lambda m, c: m.CreateIoCompletionPort(
        m.INVALID_HANDLE_VALUE, m.NULL, 0, "1"),
    "Overlapped event str": lambda m, c: m.Overlapped("event"),
    "WSARecv size float": lambda m, c: m.Overlapped().WSARecv(c.udp, 1.0),
    "WSARecv handle str": lambda m, c: m.Overlapped().WSARecv(str(c.udp), 1),
    "WSARecv too many arguments": lambda m, c: m.Overlapped().WSARecv(c.udp, 1, 0, 0),
    "WSARecv too few arguments": lambda m, c: m.Overlapped().WSARecv(c.udp),
    "WSARecvInto without flags": lambda m, c: m.Overlapped().WSARecvInto(c.udp, bytearray(1)),
    "WSASend str buffer": lambda m, c: m.Overlapped().WSASend(c.udp, "text", 0),
    "WSASend int buffer": lambda m, c: m.Overlapped().WSASend(c.udp, 5, 0),
    "WSASend non-contiguous buffer": lambda m, c: m.Overlapped().WSASend(
        c.udp, memoryview(bytearray(b"abcdef"))[::2], 0),
    "WriteFile non-contiguous buffer": lambda m, c: m.Overlapped().WriteFile(
        c.udp, memoryview(bytearray(b"abcdef"))[::2]),
    "ReadFileInto non-contiguous buffer": lambda m, c: m.Overlapped().ReadFileInto(
        c.udp, memoryview(bytearray(b"abcdef"))[::2]),
    "WSASendTo empty address": lambda m, c: m.Overlapped().WSASendTo(c.udp, b"x", 0, ()),
    "WSASendTo 3-tuple address": lambda m, c: m.Overlapped().WSASendTo(
        c.udp, b"x", 0, ("127.0.0.1", 1, 2)),
    "WSASendTo 5-tuple address": lambda m, c: m.Overlapped().WSASendTo(
        c.udp, b"x", 0, ("::1", 1, 0, 0, 0)),
    "WSASendTo bytes host": lambda m, c: m.Overlapped().WSASendTo(
        c.udp, b"x", 0, (b"127.0.0.1", c.peer[1])),
    "WSASendTo str port": lambda m, c: m.Overlapped().WSASendTo(
        c.udp, b"x", 0, ("127.0.0.1", str(c.peer[1]))),
    "WSASendTo host with a NUL": lambda m, c: m.Overlapped().WSASendTo(
        c.udp, b"x", 0, ("127.0.0.1\0", c.peer[1])),
    "WSASendTo host name": lambda m, c: m.Overlapped().WSASendTo(
        c.udp, b"x", 0, ("localhost", c.peer[1])),
    "WSASendTo IPv6 host, IPv4 tuple": lambda m, c: m.Overlapped().WSASendTo(
        c.udp, b"x", 0, ("::1", c.peer[1])),
    "WSASendTo IPv4 host, IPv6 tuple": lambda m, c: m.Overlapped().WSASendTo(
        c.udp, b"x", 0, ("127.0.0.1", c.peer[1], 0, 0)),
    "WSASendTo str flowinfo": lambda m, c: m.Overlapped().WSASendTo(
        c.udp, b"x", 0, ("::1", c.peer[1], "0", 0)),
    "ConnectEx 3-tuple address": lambda m, c: m.Overlapped().ConnectEx(
        c.tcp, ("127.0.0.1", 1, 2)),
    "ConnectEx host name": lambda m, c: m.Overlapped().ConnectEx(c.tcp, ("localhost", 1)),
    "WSAConnect host name": lambda m, c: m.WSAConnect(c.udp, ("localhost", c.peer[1])),
    "WSAConnect host with a NUL": lambda m, c: m.WSAConnect(c.udp, ("127.0.0.1\0x", 1)),
    "CreateEvent attributes": lambda m, c: m.CreateEvent(1, True, False, None),
    "CreateEvent name int": lambda m, c: m.CreateEvent(None, True, False, 5),
    "BindLocal family 99": lambda m, c: m.BindLocal(c.tcp, 99),
    "BindLocal IPv6 on an IPv4 socket": lambda m, c: m.BindLocal(c.tcp, socket.AF_INET6),
    "ConnectPipe None": lambda m, c: m.ConnectPipe(None),
    "FormatMessage str": lambda m, c: m.FormatMessage("5"),
    "getresult str": lambda m, c: m.Overlapped().getresult("yes"),
    "getresult over an int": lambda m, c: m.Overlapped().getresult(2**40),
    "getresult not attempted": lambda m, c: m.Overlapped().getresult(),
    "cancel with an argument": lambda m, c: m.Overlapped().cancel(1),
    "UnregisterWait None": lambda m, c: m.UnregisterWait(None),
    "UnregisterWaitEx event str": lambda m, c: m.UnregisterWaitEx(0, "event"),
    "SetEvent str": lambda m, c: m.SetEvent("event"),
    "RegisterWaitWithQueue timeout str": lambda m, c: m.RegisterWaitWithQueue(
        c.event, c.port, 0, "1"),
    # numbers given as objects with __index__ (no ints)
    "getresult wait Index(0)": lambda m, c: m.Overlapped().getresult(Index(0)),
    "CreateEvent ManualReset Index(1)": lambda m, c: c.close(m.CreateEvent(
        None, Index(1), Index(0), None)),
    "GetQueuedCompletionStatus msecs Index(0)": lambda m, c: m.GetQueuedCompletionStatus(
        c.port, Index(0)),
    "SetEvent Index(handle)": lambda m, c: m.SetEvent(Index(c.event)),
    # keywords for positional-only parameters
    "getresult(wait=False)": lambda m, c: m.Overlapped().getresult(wait=False),
    "GetQueuedCompletionStatus(port, msecs=0)": lambda m, c: m.GetQueuedCompletionStatus(
        c.port, msecs=0),
    "FormatMessage(error_code=5)": lambda m, c: m.FormatMessage(error_code=5),
    "Overlapped(event=NULL)": lambda m, c: m.Overlapped(event=m.NULL).event,
}


def scenario_refused(t: Trace, names: list[str]) -> None:
    context = Context(t)
    for name in names:
        t.call(name, REFUSED[name], t.module, context)
    t.queue_empty(context.port)


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_refused_argument_raises_the_same_class(modules: tuple[Any, Any], name: str) -> None:
    assert_same(modules, scenario_refused, [name])


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("returned", call())
    except Exception as exc:  # compared
        return ("raised", type(exc).__name__, getattr(exc, "winerror", None))


def probe_numbers(module: Any) -> dict[str, Any]:
    import _winapi

    port = module.CreateIoCompletionPort(module.INVALID_HANDLE_VALUE, module.NULL, 0, 0)
    ov = module.Overlapped(module.NULL)

    def post(transferred: int, key: int) -> Any:
        module.PostQueuedCompletionStatus(port, transferred, key, ov.address)
        packet = module.GetQueuedCompletionStatus(port, 0)
        return (*packet[:3], "ov") if packet and packet[3] == ov.address else packet

    try:
        return {
            "timeout 2**32": outcome(lambda: module.GetQueuedCompletionStatus(port, 2**32)),
            "post 2**32 + 5 bytes": outcome(lambda: post(2**32 + 5, 3)),
            "post key 2**64 + 3": outcome(lambda: post(5, 2**64 + 3)),
            "port key 2**64 + 3": outcome(lambda: _winapi.CloseHandle(
                module.CreateIoCompletionPort(module.INVALID_HANDLE_VALUE, module.NULL,
                                              2**64 + 3, 0))),
            # (a truncated event handle is no handle: closing it fails, silently)
            "event 2**64": outcome(lambda: module.Overlapped(2**64).event),
            "event -2**63 - 1": outcome(lambda: module.Overlapped(-2**63 - 1).event),
        }
    finally:
        _winapi.CloseHandle(port)


def test_numbers_out_of_range_are_refused_where_3_9_to_3_11_truncate_them(
        modules: tuple[Any, Any]) -> None:
    """README: "numbers out of range ... are refused on every version, as 3.12 and 3.13
    refuse them | 3.9 to 3.11 truncate them"."""
    c_module, ours = modules
    refused = ("raised", "OverflowError", None)
    ours_got, c_got = probe_numbers(ours), probe_numbers(c_module)
    assert ours_got == dict.fromkeys(ours_got, refused)
    truncated = {  # modulo 2**32 or 2**64: 2**32 ms is 0 ms, 2**32 + 5 bytes are 5, ...
        "timeout 2**32": ("returned", None),
        "post 2**32 + 5 bytes": ("returned", (0, 5, 3, "ov")),
        "post key 2**64 + 3": ("returned", (0, 5, 3, "ov")),
        "port key 2**64 + 3": ("returned", None),
        "event 2**64": ("returned", 0),
        "event -2**63 - 1": ("returned", 2**63 - 1),
    }
    for name, got in c_got.items():
        assert got == (truncated[name] if C_TRUNCATES else refused), name


def probe_ports(module: Any) -> dict[Any, Any]:
    got: dict[Any, Any] = {}
    for port in (70000, -1):
        with socket.socket(type=socket.SOCK_DGRAM) as sock:
            got[port] = outcome(lambda: module.WSAConnect(sock.fileno(), ("127.0.0.1", port)))  # noqa: B023
            if got[port][0] == "returned":
                got[f"{port}: connected to"] = sock.getpeername()
    return got


def test_out_of_range_ports_are_refused_where_the_c_module_truncates_them(
        modules: tuple[Any, Any]) -> None:
    """README: "out-of-range ports ... are an OverflowError | truncated"."""
    c_module, ours = modules
    refused = ("raised", "OverflowError", None)  # as socket.socket.connect refuses them
    assert {"C": probe_ports(c_module), "ours": probe_ports(ours)} == {
        "C": {70000: ("returned", None), "70000: connected to": ("127.0.0.1", 70000 & 0xFFFF),
              -1: ("returned", None), "-1: connected to": ("127.0.0.1", 0xFFFF)},
        "ours": {70000: refused, -1: refused}}


def probe_booleans(module: Any) -> dict[str, Any]:
    import _winapi

    port = module.CreateIoCompletionPort(module.INVALID_HANDLE_VALUE, module.NULL, 0, 0)
    try:
        return {"msecs True": outcome(lambda: module.GetQueuedCompletionStatus(port, True)),
                "SetEvent(False)": outcome(lambda: module.SetEvent(False))}
    finally:
        _winapi.CloseHandle(port)


def test_true_and_false_are_refused_as_numbers_where_the_c_module_takes_1_and_0(
        modules: tuple[Any, Any]) -> None:
    """README: "True/False for a handle or a DWORD are a TypeError | taken as 1 and 0"."""
    c_module, ours = modules
    refused = ("raised", "TypeError", None)
    assert probe_booleans(ours) == {"msecs True": refused, "SetEvent(False)": refused}
    assert probe_booleans(c_module) == {
        "msecs True": ("returned", None),  # waited 1 ms
        "SetEvent(False)": ("raised", "OSError", 6)}  # SetEvent(NULL): ERROR_INVALID_HANDLE


def probe_buffers(module: Any, with_into: bool) -> dict[str, Any]:
    """Start receives into a read-only buffer and into one smaller than the size given,
    on a socket nothing is sent to; cancel what started and see it end aborted."""
    got: dict[str, Any] = {}
    with socket.socket(type=socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        starts: dict[str, Callable[[Any], Any]] = {
            "WSARecvInto bytes": lambda ov: ov.WSARecvInto(sock.fileno(), bytes(10), 0),
            "ReadFileInto bytes": lambda ov: ov.ReadFileInto(sock.fileno(), bytes(10)),
        }
        if with_into:
            starts["WSARecvFromInto 100 into 4"] = lambda ov: ov.WSARecvFromInto(
                sock.fileno(), bytearray(4), 100)
        for name, start in starts.items():
            ov = module.Overlapped()
            got[name] = outcome(lambda: start(ov))  # noqa: B023
            if ov.pending:
                ov.cancel()
                got[f"{name}, cancelled"] = outcome(lambda: ov.getresult(True))  # noqa: B023
    return got


def test_read_only_and_too_small_receive_buffers_are_refused_where_the_c_module_takes_them(
        modules: tuple[Any, Any]) -> None:
    """README: "receives refuse read-only buffers | writes into bytes" and
    "WSARecvFromInto with a size over the buffer's is a ValueError | accepted".
    The C module's receives get no data and are cancelled: it writes nothing."""
    c_module, ours = modules
    with_into = hasattr(c_module.Overlapped, "WSARecvFromInto")
    got = probe_buffers(ours, with_into)
    assert got.pop("WSARecvInto bytes")[:2] == ("raised", "TypeError")
    assert got.pop("ReadFileInto bytes")[:2] == ("raised", "TypeError")
    if with_into:
        assert got.pop("WSARecvFromInto 100 into 4")[:2] == ("raised", "ValueError")
    assert got == {}
    aborted = ("raised", "OSError", 995)
    expected = {"WSARecvInto bytes": ("returned", None), "WSARecvInto bytes, cancelled": aborted,
                "ReadFileInto bytes": ("returned", None), "ReadFileInto bytes, cancelled": aborted}
    if with_into:
        expected.update({"WSARecvFromInto 100 into 4": ("returned", None),
                         "WSARecvFromInto 100 into 4, cancelled": aborted})
    assert probe_buffers(c_module, with_into) == expected


# --- misuse of an Overlapped ----------------------------------------------------------------------


def scenario_second_operation(t: Trace) -> None:
    a, b = udp_socket(t, "a"), udp_socket(t, "b")
    tcp = t.stack.enter_context(socket.socket()).fileno()
    ov = t.overlapped("used")
    t.call("used.WSASendTo", ov.WSASendTo, a.fileno(), b"once", 0, b.getsockname())
    t.call("used.getresult", ov.getresult, True)
    t.call("used.WSASendTo again", ov.WSASendTo, a.fileno(), b"x", 0, b.getsockname())
    t.call("used.WSARecv", ov.WSARecv, b.fileno(), 10)
    t.call("used.WSASendTo again to a host name", ov.WSASendTo, a.fileno(), b"x", 0,
           ("localhost", 1))
    t.call("used.ConnectEx to a host name", ov.ConnectEx, tcp, ("localhost", 1))
    t.call("used.WSARecv with a bad size", ov.WSARecv, b.fileno(), "10")
    t.call("used.getresult", ov.getresult)


def test_a_second_operation_on_one_overlapped_is_refused(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_second_operation)


def scenario_attributes(t: Trace) -> None:
    m = t.module
    ov = t.overlapped("ov")
    none = t.overlapped("no event", m.NULL)
    t.note("own event", ov.event != 0)
    t.note("no event", none.event)
    t.state("ov", ov)
    for name, value in (("address", 1), ("event", 1), ("pending", True), ("error", 5)):
        t.call(f"set {name}", setattr, ov, name, value)
    t.state("ov", ov)
    t.call("del error", delattr, ov, "error")


def test_the_attributes_of_an_overlapped_are_read_only(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_attributes)


def scenario_host_spellings(t: Trace) -> None:
    m = t.module
    peer = udp_socket(t, "peer").getsockname()
    for host in ("127.0.0.1", "127.1", "0x7f.0.0.1", "127.0.0.1:80", " 127.0.0.1",
                 "::ffff:127.0.0.1"):
        with socket.socket(type=socket.SOCK_DGRAM) as sock:
            t.call(f"WSAConnect {host!r}", m.WSAConnect, sock.fileno(), (host, peer[1]))
            with contextlib.suppress(OSError):
                t.note(f"connected to, with {host!r}", sock.getpeername())


def test_hosts_are_parsed_as_wsastringtoaddress_parses_them(modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_host_spellings)


# --- lifetime -------------------------------------------------------------------------------------


def scenario_dropped_completed(t: Trace) -> None:
    client, server = tcp_pair(t)
    port = t.port()
    t.tie("client", client.fileno(), port, 3)
    send = t.overlapped("dropped send", keep=False)
    t.call("dropped send.WSASend", send.WSASend, client.fileno(), b"sent", 0)
    del send
    for _ in range(3):
        gc.collect()
    t.dequeue(port, "dropped send")
    t.note("server reads", read_exactly(server, 4))
    t.queue_empty(port)


def test_an_overlapped_dropped_after_completing_still_has_its_packet(
        modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_dropped_completed)


def test_a_dropped_pending_receive_still_receives_here_where_the_c_module_cancels_it(
        modules: tuple[Any, Any]) -> None:
    """README: "an Overlapped whose I/O may still complete is never freed | frees it".
    Ours keeps it and the data lands; the C module cancels it at deallocation (in
    a child process: if its cancel failed it would free memory the kernel writes)."""
    _, ours = modules
    with contextlib.ExitStack() as stack:
        t = Trace(ours, stack)
        client, server = tcp_pair(t)
        port = t.port()
        t.tie("server", server.fileno(), port, 5)
        recv = t.overlapped("dropped recv", keep=False)
        recv.WSARecv(server.fileno(), 100)
        del recv
        for _ in range(3):
            gc.collect()
        client.sendall(b"late data")
        t.dequeue(port, "dropped recv")
        t.queue_empty(port)
        assert t.entries[-2:] == [("dequeued", ("dropped recv", 0, 9, 5)), ("queue now", None)]
    code = f"""
        import gc, socket, _overlapped as m
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            client = socket.create_connection(listener.getsockname(), timeout={WAIT})
            server, _ = listener.accept()
        port = m.CreateIoCompletionPort(m.INVALID_HANDLE_VALUE, m.NULL, 0, 0)
        m.CreateIoCompletionPort(server.fileno(), port, 5, 0)
        recv = m.Overlapped(m.NULL)
        recv.WSARecv(server.fileno(), 100)
        address = recv.address
        del recv
        for _ in range(3):
            gc.collect()
        client.sendall(b"late data")
        packet = m.GetQueuedCompletionStatus(port, {WAIT_MS})
        print(packet[:3], packet[3] == address, m.GetQueuedCompletionStatus(port, 0))
    """
    result = run_python(code, dev=False)
    assert result.returncode == 0, said(result)
    assert result.stdout.split("\n")[0] == "(995, 0, 5) True None", said(result)


def scenario_handle_reuse(t: Trace) -> None:
    receiver = udp_socket(t, "receiver")
    first_port = t.port()
    first = socket.socket(type=socket.SOCK_DGRAM)
    first.bind(("127.0.0.1", 0))
    value = first.fileno()
    t.tie("first", value, first_port, 1)
    send = t.overlapped("first send")
    t.call("first send.WSASendTo", send.WSASendTo, value, b"one", 0, receiver.getsockname())
    t.dequeue(first_port, "first send")
    first.close()
    spares, second = [], None
    for _ in range(64):  # Windows and Wine hand out a freed value again soon
        sock = socket.socket(type=socket.SOCK_DGRAM)
        if sock.fileno() == value:
            second = t.stack.enter_context(sock)
            break
        spares.append(sock)
    for spare in spares:
        spare.close()
    assert second is not None, "no new socket got the closed socket's handle value"
    second.bind(("127.0.0.1", 0))
    t.named("second", second)
    untied = t.overlapped("untied send")
    t.call("untied send.WSASendTo", untied.WSASendTo, value, b"two", 0, receiver.getsockname())
    t.call("untied send.getresult", untied.getresult, True)
    t.state("untied send", untied)
    recv = t.overlapped("untied recv")
    t.call("untied recv.WSARecvFrom", recv.WSARecvFrom, value, 10)
    t.state("untied recv", recv)
    receiver.sendto(b"back", second.getsockname())
    t.call("untied recv.getresult", recv.getresult, True)
    t.state("untied recv", recv)
    second_port = t.port()
    t.tie("second", value, second_port, 2)
    tied = t.overlapped("tied recv")
    t.call("tied recv.WSARecvFrom", tied.WSARecvFrom, value, 10)
    receiver.sendto(b"again", second.getsockname())
    t.dequeue(second_port, "tied recv")
    t.call("tied recv.getresult", tied.getresult)
    t.queue_empty(first_port)
    t.queue_empty(second_port)
    t.note("receiver got", [receiver.recv(10) for _ in range(2)])


def test_a_socket_reusing_a_tied_sockets_handle_value_behaves_as_a_new_one(
        modules: tuple[Any, Any]) -> None:
    assert_same(modules, scenario_handle_reuse)


# --- random call sequences ------------------------------------------------------------------------

UNREAD_LIMIT = 16 * 1024  # sent and not yet received: well within loopback's buffers

ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("send"), st.integers(0, 3000)),
    st.tuples(st.just("recv"), st.integers(0, 3000)),
    st.tuples(st.just("recv into"), st.integers(0, 3000)),
    st.tuples(st.just("cancel"), st.booleans()),
    st.tuples(st.just("post"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("dequeue"), st.just(0)),
    st.tuples(st.just("getresult"), st.booleans()),
    st.tuples(st.just("pending"), st.just(0)),
), max_size=16)


class Session:
    """Runs random actions on a connected pair tied to a port, keeping every outcome
    deterministic: no receive is started while sent bytes are still on their way
    (``arrived``), and a pending receive that some action ends (a send, a cancel)
    is waited for at once by its packet, so that nothing completes later on its
    own, between or during other actions."""

    def __init__(self, t: Trace) -> None:
        self.t = t
        self.client, self.server = tcp_pair(t)
        self.port = t.port()
        t.tie("server", self.server.fileno(), self.port, 1)
        t.tie("client", self.client.fileno(), self.port, 2)
        self.count = 0
        self.unread = 0  # bytes sent and not received
        self.recv: tuple[str, Any, int] | None = None  # the last receive: name, ov, size
        self.recv_pending = False
        self.send: tuple[str, Any] | None = None
        self.due = 0  # packets that will be or are queued, not yet dequeued

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    def run(self, action: str, argument: Any) -> None:
        getattr(self, "do_" + action.replace(" ", "_"))(argument)

    def do_send(self, size: int) -> None:
        t = self.t
        if self.unread + size > UNREAD_LIMIT:
            t.note("send skipped", size)
            return
        name = self.name("send")
        ov = t.overlapped(name)
        data = bytes((self.count + i) % 256 for i in range(size))
        t.call(f"{name}.WSASend({size})", ov.WSASend, self.client.fileno(), data, 0)
        self.send = (name, ov)
        self.due += 1
        self.unread += size
        if self.recv_pending and size:
            assert self.recv is not None
            self.unread -= min(size, self.recv[2])
            # Which of the two packets is queued first is a race under Wine (the
            # receive's completion may be queued before the send's): wait for both.
            self.settle(name)

    def do_recv(self, size: int, into: bool = False) -> None:
        t = self.t
        if self.recv_pending:
            t.note("recv skipped", size)
            return
        if size == 0 and self.unread == 0:
            size = 1  # a zero-length receive with nothing to read: see test_zero_length_...
        arrived(self.server, self.unread)
        name = self.name("recv")
        ov = t.overlapped(name)
        if into:
            t.call(f"{name}.WSARecvInto({size})", ov.WSARecvInto, self.server.fileno(),
                   bytearray(size), 0)
        else:
            t.call(f"{name}.WSARecv({size})", ov.WSARecv, self.server.fileno(), size)
        self.due += 1
        t.state(name, ov)
        self.recv = (name, ov, size)
        self.recv_pending = ov.pending
        if not self.recv_pending:
            self.unread -= min(size, self.unread)

    def do_recv_into(self, size: int) -> None:
        self.do_recv(size, into=True)

    def do_cancel(self, the_send: bool) -> None:
        target = self.send if the_send else self.recv
        if target is None:
            self.t.note("cancel skipped", the_send)
            return
        self.t.call(f"{target[0]}.cancel", target[1].cancel)
        if not the_send and self.recv_pending:
            self.settle()

    def do_post(self, transferred: int) -> None:
        m = self.t.module
        name = self.name("posted")
        ov = self.t.overlapped(name, m.NULL)
        self.t.call(f"post {name}", m.PostQueuedCompletionStatus, self.port, transferred, 9,
                    ov.address)
        self.due += 1

    def do_dequeue(self, _: Any) -> None:
        packet = self.t.call("dequeue 0 ms", self.t.module.GetQueuedCompletionStatus,
                             self.port, 0)
        self.t.entries[-1] = ("dequeue 0 ms", self.t.packet(packet))
        self.due -= packet is not None

    def do_getresult(self, the_send: bool) -> None:
        target = self.send if the_send else self.recv
        if target is None:
            self.t.note("getresult skipped", the_send)
            return
        self.t.call(f"{target[0]}.getresult", target[1].getresult)
        self.t.state(target[0], target[1])

    def do_pending(self, _: Any) -> None:
        if self.recv is not None:
            self.t.state(self.recv[0], self.recv[1])

    def settle(self, *also: str) -> None:
        """Wait for the packet of the pending receive, which was just made to end (and
        for those of ``also``)."""
        assert self.recv is not None
        self.due -= self.t.dequeue(self.port, self.recv[0], *also)
        self.recv_pending = False

    def finish(self) -> None:
        if self.recv_pending:
            self.do_cancel(False)
        got: list[Any] = []
        while len(got) < self.due:
            packet = self.t.module.GetQueuedCompletionStatus(self.port, WAIT_MS)
            if packet is None:
                break
            got.append(self.t.packet(packet))
        self.t.entries.append(("drained", *sorted(got, key=repr)))
        self.t.queue_empty(self.port)


def scenario_random(t: Trace, actions: list[tuple[str, Any]]) -> None:
    session = Session(t)
    for action, argument in actions:
        session.run(action, argument)
    session.finish()


@settings(max_examples=40, deadline=None)
@given(actions=ACTIONS)
def test_random_call_sequences_on_a_tied_pair_go_the_same_way(
        modules: tuple[Any, Any], actions: list[tuple[str, Any]]) -> None:
    assert_same(modules, scenario_random, actions)
