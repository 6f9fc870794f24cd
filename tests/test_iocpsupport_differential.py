"""twisted_iocpsupport's compiled module and winsock_ov.compat.iocpsupport, run through
the same scenarios.

Each test runs one scenario with the compiled module (twisted-iocpsupport 25.10.1,
pinned in tools/winenv.py's WINDOWS_WHEELS for every Windows tier), then with
ours, and records a trace of each run: what every call returned or raised (the
exception's class name; for OSError its args, the function's name and the
code), the packets ``getEvent`` returned (code, byte count, key and the event's
``owner``, which each scenario sets to a name), and what the kernel wrote into
the buffers.  Port numbers the system chose become the name of their socket.
The two traces must be equal.

Where README's table of deliberate differences says the modules differ (floats
and bools as numbers, 4 GiB+ lengths, port 0 and short buffers in
``makesockaddr``), the test asserts the documented difference instead.  One
difference cannot be run with the compiled module at all: a truncated datagram
already waiting when ``recvfrom`` starts makes it free the OVERLAPPED that the
packet Windows still queues names, and the next ``getEvent`` crashes the
process (seen under Wine); tests/test_iocpsupport.py pins what ours does.

Nothing here depends on timing: a scenario waits for every packet it expects
(WAIT seconds at most), starts a receive that must finish within its call only
once its bytes are readable (``select``), and records a send as "started"
whether it finished within the call or not (the packet says how much went).
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import select
import socket
import struct
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from support import WAIT, released_back_to, wait_until

import winsock_ov

pytestmark = pytest.mark.windows

WAIT_MS = int(WAIT * 1000)
QUIET_MS = 200  # how long a scenario waits to see that no packet comes
ERROR_IO_PENDING = 997
WAIT_TIMEOUT = 258


@pytest.fixture(autouse=True)
def leaves_nothing_pending() -> Iterator[None]:
    """Each test's operations are over once its sockets and ports are gone: reaped
    here, so that no later test sees them end (tests/test_leaks.py counts)."""
    baseline = winsock_ov.pending_operations()
    yield
    gc.collect()
    wait_until(released_back_to(baseline), "the test's operations to be seen finished")


@pytest.fixture(scope="module")
def modules() -> tuple[Any, Any]:
    from twisted_iocpsupport import iocpsupport as compiled  # type: ignore[import-not-found]

    from winsock_ov.compat import iocpsupport as ours

    return compiled, ours


class Trace:
    """What one module did in one scenario, normalised for comparison."""

    def __init__(self, module: Any, stack: contextlib.ExitStack) -> None:
        self.module = module
        self.stack = stack
        self.entries: list[tuple[Any, ...]] = []
        self.ports: dict[int, str] = {}
        self.port = module.CompletionPort()

    # recording

    def call(self, label: str, function: Callable[..., Any], *args: Any) -> Any:
        try:
            value = function(*args)
        except Exception as exc:  # the outcome is what is compared
            # Messages compared where the modules give the C conversions' own.
            details = exc.args if type(exc) in (OSError, OverflowError) else ()
            self.entries.append((label, "raised", type(exc).__name__, *details))
            return None
        self.note(label, value)
        return value

    def started(self, label: str, function: Callable[..., Any], *args: Any) -> None:
        """A send: "started" whether it finished within the call or not."""
        try:
            rc, _ = function(*args)
        except Exception as exc:
            self.entries.append((label, "raised", type(exc).__name__))
            return
        self.note(label, "started" if rc in (0, ERROR_IO_PENDING) else rc)

    def note(self, label: str, value: Any) -> None:
        self.entries.append((label, self.normal(value)))

    def normal(self, value: Any) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, tuple):
            if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int):
                return ("address", value[0], self.ports.get(value[1], value[1]))
            return tuple(self.normal(item) for item in value)
        if isinstance(value, self.module.Event):
            return ("event", value.owner)
        return value

    def packet(self, label: str, timeout: int = WAIT_MS) -> None:
        rc, nbytes, key, event = self.port.getEvent(timeout)
        if rc == WAIT_TIMEOUT and event is None:  # bytes and key mean nothing then
            self.entries.append((label, "timeout"))
        else:
            self.entries.append((label, rc, nbytes, key, self.normal(event)))

    def no_packet(self, label: str) -> None:
        self.packet(label, QUIET_MS)

    # the objects of a scenario

    def event(self, name: str, **attributes: Any) -> Any:
        return self.module.Event(None, name, **attributes)

    def sock(self, name: str, family: int = socket.AF_INET,
               kind: int = socket.SOCK_STREAM, *, tie: int | None = 0,
               bind: bool = False) -> socket.socket:
        sock = self.stack.enter_context(socket.socket(family, kind))
        if bind:
            sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
            self.ports[sock.getsockname()[1]] = name
        if tie is not None:
            self.port.addHandle(sock.fileno(), tie)
        return sock

    def listener(self, name: str, family: int = socket.AF_INET, *,
                 tie: int | None = None) -> socket.socket:
        sock = self.sock(name, family, tie=tie, bind=True)
        sock.listen(5)
        return sock

    def tcp_pair(self, key: int | None = 0) -> tuple[socket.socket, socket.socket]:
        """A connected pair: ``client`` tied to the port with ``key``, ``server`` not."""
        listener = self.listener("listener")
        client = self.sock("client", tie=key)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
        self.stack.enter_context(server)
        self.ports[client.getsockname()[1]] = "client"
        return client, server


def readable(sock: socket.socket) -> None:
    """Until bytes (or a datagram) wait to be read: a receive then finishes within its call."""
    ready, _, _ = select.select([sock], [], [], WAIT)
    assert ready, f"nothing became readable within {WAIT} s"


def run(module: Any, scenario: Callable[[Trace], None]) -> list[tuple[Any, ...]]:
    with contextlib.ExitStack() as stack:
        trace = Trace(module, stack)
        scenario(trace)
        entries = trace.entries
    gc.collect()
    return entries


def compare(modules: tuple[Any, Any], scenario: Callable[[Trace], None]) -> list[Any]:
    compiled, ours = modules
    expected = run(compiled, scenario)
    assert run(ours, scenario) == expected
    return expected


# --- TCP ------------------------------------------------------------------------------------


def test_a_receive_started_before_the_data_ends_with_its_packet_and_key(
        modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        client, server = t.tcp_pair(key=7)
        buffer = bytearray(8)
        t.call("recv", t.module.recv, client.fileno(), [buffer], t.event("recv"))
        t.no_packet("nothing yet")
        server.sendall(b"hello")
        t.packet("recv's packet")
        t.note("buffer", buffer)

    trace = compare(modules, scenario)
    assert trace[0] == ("recv", (ERROR_IO_PENDING, 0))
    assert trace[2] == ("recv's packet", 0, 5, 7, ("event", "recv"))


def test_a_receive_finished_within_the_call_still_has_a_packet(
        modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        client, server = t.tcp_pair(key=2**64 - 1)
        server.sendall(b"abcdefg")
        readable(client)
        head, tail = bytearray(2), bytearray(10)
        t.call("recv scattered", t.module.recv, client.fileno(), (head, tail), t.event("recv"))
        t.packet("its packet")
        t.note("buffers", (head, tail))
        t.no_packet("only one")

    trace = compare(modules, scenario)
    assert trace[0] == ("recv scattered", (0, 7))


def test_sends_of_each_kind_of_buffer_end_with_a_packet_each(modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        client, server = t.tcp_pair()
        for name, data in (("bytes", b"one"), ("bytearray", bytearray(b"two")),
                           ("slice", memoryview(b"--three")[2:]), ("empty", b"")):
            t.started(f"send {name}", t.module.send, client.fileno(), data, t.event(name))
            t.packet(f"{name}'s packet")
        got = b""
        while len(got) < 11:
            readable(server)
            got += server.recv(100)
        t.note("the peer got", got)

    compare(modules, scenario)


def test_a_send_larger_than_the_socket_buffers_ends_once_the_peer_read_it(
        modules: tuple[Any, Any]) -> None:
    size = 8 * 1024 * 1024

    def scenario(t: Trace) -> None:
        client, server = t.tcp_pair()
        t.started("send 8 MiB", t.module.send, client.fileno(), b"x" * size, t.event("big"))
        got = 0
        while got < size:
            readable(server)
            got += len(server.recv(1 << 20))
        t.packet("its packet: every byte")

    trace = compare(modules, scenario)
    assert trace[-1] == ("its packet: every byte", 0, size, 0, ("event", "big"))


def test_a_send_cut_by_a_reset_reports_the_error_in_its_packet(
        modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        client, server = t.tcp_pair()
        t.started("send 64 MiB", t.module.send, client.fileno(), b"x" * (64 << 20),
                  t.event("big"))
        server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("HH", 1, 0))
        server.close()  # a reset: the send cannot finish
        rc, nbytes, _, event = t.port.getEvent(WAIT_MS)
        t.note("its packet: an error, part sent at most", (rc != 0, nbytes < 64 << 20,
                                                           t.normal(event)))

    compare(modules, scenario)


def test_closing_a_socket_with_a_receive_pending_ends_it_with_an_error_packet(
        modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        client, _ = t.tcp_pair()
        t.call("recv", t.module.recv, client.fileno(), [bytearray(4)], t.event("recv"))
        client.close()
        t.packet("aborted")

    trace = compare(modules, scenario)
    assert trace[-1][1] != 0


def test_a_receive_with_no_buffer_waits_for_data(modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        client, server = t.tcp_pair()
        t.call("recv []", t.module.recv, client.fileno(), [], t.event("zero"))
        t.no_packet("nothing yet")
        server.sendall(b"z")
        t.packet("its packet")

    compare(modules, scenario)


# --- UDP ------------------------------------------------------------------------------------


def udp_pair(t: Trace) -> tuple[socket.socket, socket.socket]:
    receiver = t.sock("receiver", socket.AF_INET, socket.SOCK_DGRAM, bind=True, tie=3)
    sender = t.sock("sender", socket.AF_INET, socket.SOCK_DGRAM, bind=True, tie=None)
    return receiver, sender


def test_recvfrom_reports_the_datagram_and_its_sender(modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        receiver, sender = udp_pair(t)
        data, address, length = bytearray(32), bytearray(16), bytearray(4)
        t.call("recvfrom", t.module.recvfrom, receiver.fileno(), data, address, length,
               t.event("recvfrom"))
        t.note("the length buffer, set before", length)
        sender.sendto(b"dgram", receiver.getsockname())
        t.packet("its packet")
        t.note("data", data[:5])
        t.call("sender", t.module.makesockaddr, address)
        t.note("the length buffer", length)
        sender.sendto(b"second", receiver.getsockname())
        readable(receiver)
        t.call("recvfrom finished within the call", t.module.recvfrom, receiver.fileno(),
               data, address, length, t.event("second"))
        t.packet("its packet")

    compare(modules, scenario)


def test_a_datagram_larger_than_a_pending_recvfrom_ends_with_error_more_data(
        modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        receiver, sender = udp_pair(t)
        data = bytearray(4)
        t.call("recvfrom", t.module.recvfrom, receiver.fileno(), data, bytearray(16),
               bytearray(4), t.event("short"))
        sender.sendto(b"too long a datagram", receiver.getsockname())
        t.packet("its packet")
        t.note("data", data)

    trace = compare(modules, scenario)
    assert trace[1][1] == 234  # ERROR_MORE_DATA


def test_recvfrom_with_an_address_buffer_too_small(modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        receiver, sender = udp_pair(t)
        length = bytearray(4)
        t.call("recvfrom", t.module.recvfrom, receiver.fileno(), bytearray(8), bytearray(4),
               length, t.event("small"))
        t.note("the length buffer, set before", length)
        sender.sendto(b"dgram", receiver.getsockname())
        t.packet("its packet")
        t.note("the length buffer", length)

    compare(modules, scenario)


# --- AcceptEx, ConnectEx ---------------------------------------------------------------------


def test_accept_and_the_addresses_it_wrote(modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        listener = t.listener("listener", tie=5)
        length = t.module.maxAddrLen(listener.fileno())
        buffer = bytearray(2 * (length + 16))
        accepted = t.sock("accepted", tie=None)
        t.call("accept", t.module.accept, listener.fileno(), accepted.fileno(), buffer,
               t.event("accept"))
        client = t.sock("client", tie=None, bind=True)
        client.connect(listener.getsockname())
        t.packet("its packet")
        t.call("addresses", t.module.get_accept_addrs, accepted.fileno(), buffer)
        t.call("addresses from bytes", t.module.get_accept_addrs, accepted.fileno(),
               bytes(buffer))
        t.call("addresses of an unwritten buffer", t.module.get_accept_addrs,
               accepted.fileno(), bytearray(len(buffer)))

    compare(modules, scenario)


def test_connect_started_refused_and_unbound(modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        listener = t.listener("listener")
        client = t.sock("client", bind=True)
        t.call("connect", t.module.connect, client.fileno(), listener.getsockname(),
               t.event("connect"))
        t.packet("its packet")
        nobody = t.sock("nobody", bind=True, tie=None)  # bound, never listening
        refused = t.sock("refused", bind=True)
        t.call("connect to nobody", t.module.connect, refused.fileno(),
               nobody.getsockname(), t.event("refused"))
        t.packet("its packet")
        unbound = t.sock("unbound")
        t.call("connect unbound", t.module.connect, unbound.fileno(),
               listener.getsockname(), t.event("unbound"))
        t.no_packet("none for a refusal")

    trace = compare(modules, scenario)
    assert trace[0] == ("connect", 0)
    assert trace[1] == ("its packet", 0, 0, 0, ("event", "connect"))


def test_connect_over_ipv6_with_a_scope_in_the_host(modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        listener = t.listener("listener6", socket.AF_INET6)
        client = t.sock("client6", socket.AF_INET6, bind=True)
        port = listener.getsockname()[1]
        t.call("connect", t.module.connect, client.fileno(), ("::1%1", port, 0, 0),
               t.event("connect6"))
        t.packet("its packet")

    compare(modules, scenario)


# --- posted packets, timeouts -----------------------------------------------------------------


def test_posted_packets_come_back_in_order_with_their_keys(modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        t.no_packet("nothing yet")
        t.call("post None", t.port.postEvent, 5, 1, None)
        t.call("post an event", t.port.postEvent, 2**32 - 1, 2**64 - 1, t.event("posted"))
        t.call("post another", t.port.postEvent, 0, 0, t.event("second", extra=[1]))
        t.packet("first")
        t.packet("second")
        t.packet("third")
        t.no_packet("then nothing")

    compare(modules, scenario)


def test_a_dropped_event_with_its_receive_pending_comes_back_whole(
        modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        client, server = t.tcp_pair()
        buffer = bytearray(4)
        t.call("recv", t.module.recv, client.fileno(), [buffer],
               t.module.Event(None, "dropped", tag="still here"))
        for _ in range(3):
            gc.collect()
        server.sendall(b"late")
        rc, nbytes, _, event = t.port.getEvent(WAIT_MS)
        t.note("its packet", (rc, nbytes, event.owner, event.tag))
        t.note("buffer", buffer)

    compare(modules, scenario)


def test_a_receive_pending_when_its_port_is_dropped_still_gets_its_data(
        modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        client, server = t.tcp_pair(key=None)
        port = t.module.CompletionPort()
        port.addHandle(client.fileno())
        buffer = bytearray(4)
        t.call("recv", t.module.recv, client.fileno(), [buffer], t.event("orphan"))
        del port
        for _ in range(3):
            gc.collect()
        server.sendall(b"data")
        wait_until(lambda: buffer == b"data", "the kernel to write the data")  # nobody is told
        t.note("buffer", buffer)

    compare(modules, scenario)


# --- refused arguments --------------------------------------------------------------------


def test_refused_arguments_raise_the_same_exceptions(modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        m = t.module
        client, _ = t.tcp_pair()
        s = client.fileno()
        event = t.event("refused")
        cases: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
            ("maxAddrLen str", m.maxAddrLen, ("x",)),
            ("maxAddrLen None", m.maxAddrLen, (None,)),
            ("maxAddrLen 2**31", m.maxAddrLen, (2**31,)),
            ("maxAddrLen -2**31-1", m.maxAddrLen, (-2**31 - 1,)),
            ("getEvent str", t.port.getEvent, ("x",)),
            ("getEvent 2**31", t.port.getEvent, (2**31,)),
            ("postEvent negative bytes", t.port.postEvent, (-1, 0, None)),
            ("postEvent 2**32 bytes", t.port.postEvent, (2**32, 0, None)),
            ("postEvent negative key", t.port.postEvent, (0, -1, None)),
            ("postEvent 2**64 key", t.port.postEvent, (0, 2**64, None)),
            ("addHandle negative", t.port.addHandle, (-1,)),
            ("addHandle 2**64", t.port.addHandle, (2**64,)),
            ("addHandle key 2**64", t.port.addHandle, (s, 2**64)),
            ("addHandle str", t.port.addHandle, ("x",)),
            ("recv not a sequence", m.recv, (s, 5, event)),
            ("recv bytes", m.recv, (s, [b"xx"], event)),
            ("recv str", m.recv, (s, "ab", event)),
            ("recv negative flags", m.recv, (s, [bytearray(1)], event, -1)),
            ("recv 2**32 flags", m.recv, (s, [bytearray(1)], event, 2**32)),
            ("recv socket 2**31", m.recv, (2**31, [bytearray(1)], event)),
            ("send str", m.send, (s, "text", event)),
            ("send list", m.send, (s, [b"x"], event)),
            ("send None", m.send, (s, None, event)),
            ("send negative flags", m.send, (s, b"x", event, -1)),
            ("recvfrom 5-byte length", m.recvfrom,
             (s, bytearray(1), bytearray(16), bytearray(5), event)),
            ("recvfrom read-only data", m.recvfrom,
             (s, b"x", bytearray(16), bytearray(4), event)),
            ("recvfrom read-only address", m.recvfrom,
             (s, bytearray(1), b"x" * 16, bytearray(4), event)),
            ("accept read-only buffer", m.accept, (s, s, b"x" * 64, event)),
            ("accept socket str", m.accept, ("x", s, bytearray(64), event)),
            ("get_accept_addrs str", m.get_accept_addrs, (s, "text")),
            ("makesockaddr str", m.makesockaddr, ("text",)),
            ("makesockaddr None", m.makesockaddr, (None,)),
            ("makesockaddr family 23 short", m.makesockaddr, (struct.pack("<H", 99) + bytes(30),)),
            ("connect 1-tuple", m.connect, (s, ("127.0.0.1",), event)),
            ("connect 3-tuple", m.connect, (s, ("127.0.0.1", 1, 2), event)),
            ("connect negative port", m.connect, (s, ("127.0.0.1", -1), event)),
            ("connect port 70000", m.connect, (s, ("127.0.0.1", 70000), event)),
            ("connect str port", m.connect, (s, ("127.0.0.1", "80"), event)),
            ("connect port 65536", m.connect, (s, ("127.0.0.1", 65536), event)),
            ("connect negative flowinfo", m.connect, (s, ("::1", 1, -1, 0), event)),
            ("connect name", m.connect, (s, ("localhost", 80), event)),
            ("connect int", m.connect, (s, 5, event)),
            ("connect not a socket", m.connect, (12345, ("127.0.0.1", 80), event)),
        ]
        for label, function, args in cases:
            t.call(label, function, *args)
        t.no_packet("nothing started")

    compare(modules, scenario)


def test_operations_on_handles_that_are_no_sockets_return_the_error(
        modules: tuple[Any, Any]) -> None:
    def scenario(t: Trace) -> None:
        m = t.module
        closed = socket.socket()
        gone = closed.fileno()
        closed.close()
        for name, handle in (("12345", 12345), ("-1", -1), ("a closed socket", gone)):
            event = t.event(name)
            t.call(f"recv on {name}", m.recv, handle, [bytearray(4)], event)
            t.call(f"send on {name}", m.send, handle, b"x", event)
            t.call(f"recvfrom on {name}", m.recvfrom, handle, bytearray(4), bytearray(16),
                   bytearray(4), event)
            t.call(f"accept on {name}", m.accept, handle, handle, bytearray(64), event)
            t.call(f"maxAddrLen of {name}", m.maxAddrLen, handle)
            t.call(f"addHandle {name}", t.port.addHandle, handle & (2**64 - 1))
        t.no_packet("nothing started")

    compare(modules, scenario)


def test_addresses_read_from_buffers(modules: tuple[Any, Any]) -> None:
    def sockaddr6(host: str, port: int, flowinfo: int, scope: int) -> bytes:
        return (struct.pack("<H", socket.AF_INET6) + struct.pack(">H", port)
                + struct.pack("<I", flowinfo) + socket.inet_pton(socket.AF_INET6, host)
                + struct.pack("<I", scope))

    def scenario(t: Trace) -> None:
        v4 = (struct.pack("<H", socket.AF_INET) + struct.pack(">H", 8080)
              + socket.inet_aton("10.1.2.3") + bytes(8))
        for label, data in (("empty", b""), ("IPv4", v4), ("IPv4 bytearray", bytearray(v4)),
                            ("IPv4 in a longer buffer", v4 + bytes(12)),
                            ("IPv6", sockaddr6("2001:db8::1", 443, 0, 0)),
                            ("IPv6 with scope and flowinfo", sockaddr6("fe80::1", 80, 5, 3)),
                            ("IPv4-mapped", sockaddr6("::ffff:1.2.3.4", 1, 0, 0))):
            t.call(label, t.module.makesockaddr, data)
        for family, kind in ((socket.AF_INET, socket.SOCK_STREAM),
                             (socket.AF_INET, socket.SOCK_DGRAM),
                             (socket.AF_INET6, socket.SOCK_STREAM),
                             (socket.AF_INET6, socket.SOCK_DGRAM)):
            sock = t.sock("any", family, kind, tie=None)
            t.call(f"maxAddrLen {family} {kind}", t.module.maxAddrLen, sock.fileno())
        t.note("have_connectex", t.module.have_connectex)

    compare(modules, scenario)


def test_the_public_names_are_the_compiled_modules(modules: tuple[Any, Any]) -> None:
    compiled, ours = modules
    public = {name for name in dir(compiled)
              if not name.startswith("_") and name != "socket"}  # an import of its own
    assert public <= set(dir(ours))
    assert set(ours.__all__) == public | {"install"}


# --- the differences README's table lists ---------------------------------------------------


def test_floats_and_bools_are_refused_where_the_compiled_module_truncates_them(
        modules: tuple[Any, Any]) -> None:
    compiled, ours = modules
    with socket.socket() as sock:
        assert compiled.maxAddrLen(float(sock.fileno()) + 0.5) == 16
        with pytest.raises(TypeError):
            ours.maxAddrLen(float(sock.fileno()) + 0.5)
    port_c, port_ours = compiled.CompletionPort(), ours.CompletionPort()
    assert port_c.getEvent(1.5)[0] == WAIT_TIMEOUT
    assert port_c.postEvent(True, 0, None) is None and port_c.getEvent(0)[:3] == (0, 1, 0)
    for call in (lambda: port_ours.getEvent(1.5), lambda: port_ours.postEvent(True, 0, None)):
        with pytest.raises(TypeError):
            call()
    assert port_ours.getEvent(0)[0] == WAIT_TIMEOUT  # the refused post queued nothing


@pytest.mark.parametrize("host", [b"127.0.0.1", None, 127])
def test_a_host_that_is_no_str_is_a_value_error_where_the_compiled_module_fails_internally(
        modules: tuple[Any, Any], host: Any) -> None:
    compiled, ours = modules
    for module, error in ((compiled, SystemError), (ours, ValueError)):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            with pytest.raises(error):  # PyUnicode_AsWideChar given no str: SystemError
                module.connect(sock.fileno(), (host, 80), None)


def test_port_zero_and_short_buffers_in_makesockaddr(modules: tuple[Any, Any]) -> None:
    compiled, ours = modules
    v4 = struct.pack("<H", socket.AF_INET) + bytes(2) + socket.inet_aton("127.0.0.1") + bytes(8)
    v6 = struct.pack("<H", socket.AF_INET6) + bytes(6) + socket.inet_pton(
        socket.AF_INET6, "::1") + bytes(4)
    with pytest.raises(ValueError):  # splitting "127.0.0.1" at its last ":" fails
        compiled.makesockaddr(v4)
    with pytest.raises(AssertionError):  # "::1" split as "::" and port 1
        compiled.makesockaddr(v6)
    assert ours.makesockaddr(v4) == ("127.0.0.1", 0)
    assert ours.makesockaddr(v6) == ("::1", 0)
    with pytest.raises(ValueError, match="takes 16 bytes"):
        ours.makesockaddr(v4[:4])  # the compiled module reads 12 bytes past its end


def test_buffers_of_4_gib_or_more_are_refused_where_the_compiled_module_truncates(
        modules: tuple[Any, Any]) -> None:
    compiled, ours = modules
    with contextlib.ExitStack() as stack:
        huge = stack.enter_context(mmap.mmap(-1, 2**32 + 1))  # reserved, never touched
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = stack.enter_context(socket.create_connection(listener.getsockname()))
        server = stack.enter_context(listener.accept()[0])
        port = compiled.CompletionPort()
        port.addHandle(client.fileno())
        # The compiled module asks for 2**32 + 1 bytes modulo 2**32: one.
        assert compiled.recv(client.fileno(), [huge], compiled.Event(None, "c")) == (
            ERROR_IO_PENDING, 0)
        server.sendall(b"ab")
        assert port.getEvent(WAIT_MS)[:2] == (0, 1)
        before = winsock_ov.pending_operations()
        for call in (lambda: ours.recv(client.fileno(), [huge], None),
                     lambda: ours.send(client.fileno(), huge, None),
                     lambda: ours.recvfrom(client.fileno(), huge, bytearray(16),
                                           bytearray(4), None)):
            with pytest.raises(ValueError, match="4 GiB"):
                call()
        assert winsock_ov.pending_operations() == before
