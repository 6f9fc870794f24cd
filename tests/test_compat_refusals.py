"""What winsock_ov.compat.overlapped refuses, and what a refusal or a failure leaves behind.

The refusal tests run the same calls on CPython's C ``_overlapped`` and on ours,
so that passing proves we refuse as C does.  A refused call leaves nothing
behind: no registered operation, no exported buffer, and an Overlapped that can
still start an operation.  The last tests pin down how long ours holds an
Overlapped whose call failed with a warning: until its packet, when its handle
is tied to a completion port.
"""

from __future__ import annotations

import gc
import select
import socket
import sys
from typing import Any, Callable, NamedTuple

import pytest
from support import WAIT

import winsock_ov

pytestmark = pytest.mark.windows


IMPLEMENTATIONS = ["C", "ours"]


@pytest.fixture
def module(request: pytest.FixtureRequest) -> Any:
    """The C module or ours (parametrized with IMPLEMENTATIONS or both())."""
    if request.param == "C":
        import _overlapped

        return _overlapped
    from winsock_ov.compat import overlapped

    return overlapped


class Sockets(NamedTuple):
    receiver: socket.socket  # UDP
    sender: socket.socket  # UDP, connected to the receiver
    listener: socket.socket  # TCP
    unaccepted: socket.socket  # TCP, for AcceptEx
    unconnected: socket.socket  # TCP, bound, for ConnectEx
    connected: socket.socket  # TCP, connected to the listener
    port: int  # a completion port (ours) the sender is tied to


@pytest.fixture(scope="module")
def sockets() -> Any:
    from winsock_ov.compat import overlapped

    receiver = socket.socket(type=socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    sender = socket.socket(type=socket.SOCK_DGRAM)
    sender.connect(receiver.getsockname())
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    unconnected = socket.socket()
    unconnected.bind(("127.0.0.1", 0))
    connected = socket.create_connection(listener.getsockname(), timeout=WAIT)
    connected.setblocking(True)
    # Tied, so that the retries' packets tell when each is done: an untied
    # socket whose handle value an earlier test tied would keep them forever
    # (compat knows ties by handle value).
    port = overlapped.CreateIoCompletionPort(overlapped.INVALID_HANDLE_VALUE, 0, 0, 0)
    overlapped.CreateIoCompletionPort(sender.fileno(), port, 0, 0)
    every = Sockets(receiver, sender, listener, socket.socket(), unconnected, connected, port)
    yield every
    for sock in every[:-1]:
        sock.close()
    overlapped.GetQueuedCompletionStatus(port, 0)  # whatever C's retries left
    winsock_ov.raw.CloseHandle(port)


def handle(name: str) -> Callable[[Sockets], int]:
    return lambda sockets: getattr(sockets, name).fileno()


def address(name: str) -> Callable[[Sockets], Any]:
    return lambda sockets: getattr(sockets, name).getsockname()


def fresh(value: bytes) -> Callable[[Sockets], bytearray]:
    return lambda sockets: bytearray(value)


# Good arguments for every operation (callables are given the sockets); a test
# swaps one of them for a bad one.  The sends take a bytearray too, so that a
# test can see whether it stayed exported.
GOOD_ARGUMENTS: dict[str, tuple[Any, ...]] = {
    "ReadFile": (handle("receiver"), 10),
    "ReadFileInto": (handle("receiver"), fresh(bytes(10))),
    "WSARecv": (handle("receiver"), 10, 0),
    "WSARecvInto": (handle("receiver"), fresh(bytes(10)), 0),
    "WSARecvFrom": (handle("receiver"), 10, 0),
    "WSARecvFromInto": (handle("receiver"), fresh(bytes(10)), 10, 0),
    "WriteFile": (handle("sender"), fresh(b"x")),
    "WSASend": (handle("sender"), fresh(b"x"), 0),
    "WSASendTo": (handle("sender"), fresh(b"x"), 0, address("receiver")),
    "AcceptEx": (handle("listener"), handle("unaccepted")),
    "ConnectEx": (handle("unconnected"), address("listener")),
    "DisconnectEx": (handle("connected"), 0),
    "TransmitFile": (handle("connected"), 0, 0, 0, 0, 0, 0),  # file NULL: nothing to send
    "ConnectNamedPipe": (handle("receiver"),),
}
EVERY_ARGUMENT = [(method, position) for method, good in GOOD_ARGUMENTS.items()
                  for position in range(len(good))]
TAKES_A_BUFFER = [("ReadFileInto", 1), ("WSARecvInto", 1), ("WSARecvFromInto", 1),
                  ("WriteFile", 1), ("WSASend", 1), ("WSASendTo", 1)]


def both(cases: list[tuple[str, int]]) -> list[tuple[str, str, int]]:
    """Each (method, position) for the C module and for ours; the C module has no
    WSARecvFromInto before 3.11, and 3.9's fails with SystemError on a WSASendTo
    address that is no tuple: there ours only."""
    def c_has(method: str, position: int) -> bool:
        if method == "WSARecvFromInto":
            return sys.version_info >= (3, 11)
        return sys.version_info >= (3, 10) or (method, position) != ("WSASendTo", 3)

    return [(implementation, method, position) for method, position in cases
            for implementation in IMPLEMENTATIONS
            if implementation == "ours" or c_has(method, position)]


def with_argument(sockets: Sockets, method: str, position: int, value: Any) -> list[Any]:
    arguments = [good(sockets) if callable(good) else good for good in GOOD_ARGUMENTS[method]]
    arguments[position] = value
    return arguments


def result_within_wait(ov: Any) -> Any:
    """getresult() once the Overlapped's event says it is done (WAIT seconds at most)."""
    import _winapi

    assert _winapi.WaitForSingleObject(ov.event, int(WAIT * 1000)) == _winapi.WAIT_OBJECT_0
    return ov.getresult()


def assert_refused_without_trace(module: Any, sockets: Sockets, method: str,
                                 arguments: list[Any], error: type[Exception]) -> None:
    """The call raises ``error``; no operation stays registered, no buffer exported, and
    the Overlapped is as new: not attempted, and able to start one."""
    ov = module.Overlapped()
    before = winsock_ov.pending_operations()
    with pytest.raises(error):
        getattr(ov, method)(*arguments)
    assert winsock_ov.pending_operations() == before, "a refused operation stayed registered"
    for argument in arguments:
        if isinstance(argument, bytearray):
            argument.extend(b"!")  # BufferError if it were still exported
    assert not ov.pending
    with pytest.raises(ValueError, match="operation not yet attempted"):
        ov.getresult()
    ov.WSASendTo(sockets.sender.fileno(), b"retry", 0, sockets.receiver.getsockname())
    assert result_within_wait(ov) == 5
    dequeue_packet_of(sockets.port, ov)


def dequeue_packet_of(port: int, ov: Any) -> None:
    """Dequeue (with ours) the packet of ``ov``, which ends ours; C's leave theirs."""
    from winsock_ov.compat import overlapped

    while True:
        packet = overlapped.GetQueuedCompletionStatus(port, int(WAIT * 1000))
        assert packet is not None, "no packet came"
        if packet[3] == ov.address:
            return


@pytest.mark.parametrize(("module", "method", "position"), both(EVERY_ARGUMENT),
                         indirect=["module"])
def test_none_for_any_argument_is_a_type_error_that_leaves_nothing_started(
        module: Any, sockets: Sockets, method: str, position: int) -> None:
    arguments = with_argument(sockets, method, position, None)
    assert_refused_without_trace(module, sockets, method, arguments, TypeError)


@pytest.mark.parametrize(("module", "method", "position"), both(TAKES_A_BUFFER),
                         indirect=["module"])
def test_a_list_of_buffers_is_not_a_buffer(module: Any, sockets: Sockets, method: str,
                                           position: int) -> None:
    pieces = [bytearray(b"ab"), bytearray(b"cd")]
    arguments = with_argument(sockets, method, position, pieces)
    assert_refused_without_trace(module, sockets, method, arguments, TypeError)
    for piece in pieces:
        piece.extend(b"!")  # none of them stayed exported


@pytest.mark.parametrize("module", IMPLEMENTATIONS, indirect=True)
def test_a_refused_wsarecv_can_be_retried_with_good_arguments(module: Any) -> None:
    with socket.socket(type=socket.SOCK_DGRAM) as receiver, \
            socket.socket(type=socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        ov = module.Overlapped()
        with pytest.raises(TypeError):
            ov.WSARecv(None, 10)
        with pytest.raises(ValueError, match="operation not yet attempted"):
            ov.getresult()
        ov.WSARecv(receiver.fileno(), 100)
        sender.sendto(b"after the refusal", receiver.getsockname())
        assert result_within_wait(ov) == b"after the refusal"


# Out of range numbers: CPython up to 3.11 silently truncates them (a size of -1
# asks for 4 GiB); 3.12 and 3.13 refuse them, and so do we, on every version.
OUT_OF_RANGE = [
    ("WSARecv", 1, -1, ValueError),
    ("WSARecv", 1, 2**32, OverflowError),
    ("WSARecv", 2, -1, ValueError),
    ("WSASend", 2, 2**32, OverflowError),
    ("ReadFile", 0, 2**64, OverflowError),
    ("TransmitFile", 1, -2**63 - 1, OverflowError),
    ("WSARecvFromInto", 2, -1, ValueError),
]


@pytest.mark.parametrize(("method", "position", "value", "error"), OUT_OF_RANGE)
def test_numbers_out_of_range_are_refused_as_python_3_13_refuses_them(
        sockets: Sockets, method: str, position: int, value: int,
        error: type[Exception]) -> None:
    import _overlapped

    from winsock_ov.compat import overlapped

    arguments = with_argument(sockets, method, position, value)
    assert_refused_without_trace(overlapped, sockets, method, arguments, error)
    if sys.version_info >= (3, 13):
        assert_refused_without_trace(_overlapped, sockets, method, arguments, error)


@pytest.mark.parametrize("module", IMPLEMENTATIONS, indirect=True)
def test_an_event_name_with_a_nul_character_is_refused(module: Any) -> None:
    with pytest.raises(ValueError, match="embedded null character"):
        module.CreateEvent(None, True, False, "winsock_ov\0test")


@pytest.mark.parametrize("module", IMPLEMENTATIONS, indirect=True)
def test_a_pipe_name_with_a_nul_character_is_refused(module: Any) -> None:
    with pytest.raises(ValueError, match="embedded null character"):
        module.ConnectPipe("\\\\.\\pipe\\winsock_ov\0test")


# Calls outside the Overlapped operations: a wrong type is a TypeError in both.
WRONG_TYPES: dict[str, Callable[[Any, socket.socket], Any]] = {
    "CreateEvent ManualReset": lambda m, s: m.CreateEvent(None, None, False, None),
    "CreateEvent Name": lambda m, s: m.CreateEvent(None, True, False, b"name"),
    "ConnectPipe addr": lambda m, s: m.ConnectPipe(b"\\\\.\\pipe\\winsock_ov"),
    "BindLocal family": lambda m, s: m.BindLocal(s.fileno(), "AF_INET"),
    "CreateIoCompletionPort key": lambda m, s: m.CreateIoCompletionPort(
        m.INVALID_HANDLE_VALUE, m.NULL, None, 0),
    "Overlapped event": lambda m, s: m.Overlapped(None),
    "getresult wait": lambda m, s: m.Overlapped().getresult(None),
}


@pytest.mark.parametrize("module", IMPLEMENTATIONS, indirect=True)
@pytest.mark.parametrize("call", WRONG_TYPES)
def test_a_wrong_type_is_a_type_error(module: Any, call: str) -> None:
    with socket.socket() as sock, pytest.raises(TypeError):
        WRONG_TYPES[call](module, sock)


# --- a warning at once: the call fails, yet Windows queues a packet -------------------------
# A datagram longer than the buffer fails WSARecvFrom at once with WSAEMSGSIZE, a
# warning (STATUS_BUFFER_OVERFLOW): Windows completes it like a success, with a
# packet when the socket is tied to a port.

ERROR_MORE_DATA, WSAEMSGSIZE = 234, 10040


class Datagrams(NamedTuple):
    receiver: socket.socket
    sender: socket.socket


@pytest.fixture
def datagrams() -> Any:
    with socket.socket(type=socket.SOCK_DGRAM) as receiver, \
            socket.socket(type=socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        sender.connect(receiver.getsockname())
        yield Datagrams(receiver, sender)


def send_and_wait(pair: Datagrams, datagram: bytes) -> None:
    pair.sender.send(datagram)
    readable, _, _ = select.select([pair.receiver], [], [], WAIT)
    assert readable, "the datagram did not arrive"


@pytest.mark.parametrize("module", IMPLEMENTATIONS, indirect=True)
def test_a_datagram_longer_than_the_buffer_fails_the_call_yet_queues_a_packet(
        module: Any, datagrams: Datagrams) -> None:
    port = module.CreateIoCompletionPort(module.INVALID_HANDLE_VALUE, module.NULL, 0, 0)
    module.CreateIoCompletionPort(datagrams.receiver.fileno(), port, 7, 0)
    send_and_wait(datagrams, bytes(100))
    ov = module.Overlapped(module.NULL)
    with pytest.raises(OSError) as raised:
        ov.WSARecvFrom(datagrams.receiver.fileno(), 10)
    assert raised.value.winerror == WSAEMSGSIZE
    assert not ov.pending
    with pytest.raises(ValueError, match="operation failed to start"):
        ov.getresult()
    packet = module.GetQueuedCompletionStatus(port, int(WAIT * 1000))
    assert packet == (ERROR_MORE_DATA, 10, 7, ov.address)


def test_the_overlapped_of_a_failed_call_is_held_until_its_packet_and_only_it_is_ended(
        datagrams: Datagrams) -> None:
    from winsock_ov._registry import registry
    from winsock_ov.compat import overlapped

    port = overlapped.CreateIoCompletionPort(overlapped.INVALID_HANDLE_VALUE, 0, 0, 0)
    overlapped.CreateIoCompletionPort(datagrams.receiver.fileno(), port, 0, 0)
    send_and_wait(datagrams, bytes(100))
    failed = overlapped.Overlapped(overlapped.NULL)
    with pytest.raises(OSError):
        failed.WSARecvFrom(datagrams.receiver.fileno(), 10)
    address = failed.address
    del failed
    for _ in range(3):
        gc.collect()
    assert address in registry  # its packet is queued: its memory stays
    later = overlapped.Overlapped(overlapped.NULL)
    later.WSARecvFrom(datagrams.receiver.fileno(), 10)
    assert later.pending and later.address != address
    assert overlapped.GetQueuedCompletionStatus(port, int(WAIT * 1000))[3] == address
    assert address not in registry
    assert later.address in registry and later.pending  # the packet was not its own
    datagrams.sender.send(b"its own")
    assert overlapped.GetQueuedCompletionStatus(port, int(WAIT * 1000)) == \
        (0, 7, 0, later.address)
    assert later.address not in registry
    assert later.getresult() == (b"its own", datagrams.sender.getsockname())

